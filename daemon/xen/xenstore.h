// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's one xenstore connection, driven by the event loop. Watches are
 * registered with a callback; their tokens carry the registration's identity.
 * A watch event carries no value: callbacks re-read what they care about.
 */
#pragma once

#include <stdbool.h>

struct ev_loop;
struct xs_handle;
struct xenstore;

typedef void (*xenstore_watch_fn)(const char *path, void *userdata);
typedef void (*xenstore_lost_fn)(void *userdata);

/* Connects the way libxenstore chooses (XENSTORED_PATH, the dom0 socket, or
 * /dev/xen/xenbus) and learns the daemon's own domid from "domid" in its home. */
int xenstore_open(struct xenstore **out, struct ev_loop *loop);
void xenstore_close(struct xenstore *xenstore);   /* NULL-safe */

struct xs_handle *xenstore_handle(struct xenstore *xenstore);
unsigned int xenstore_domid(const struct xenstore *xenstore);

int xenstore_watch(struct xenstore *xenstore, const char *path, xenstore_watch_fn fn,
                   void *userdata);
/* Drops events already queued: used once, right before a full scan that reads
 * everything those events could have announced (the initial event every watch
 * fires on registration among them). */
void xenstore_discard_events(struct xenstore *xenstore);
/* True once the connection was lost. */
bool xenstore_failed(const struct xenstore *xenstore);
/* Called once when the connection is lost (xenstored closed its socket, or
 * reading events failed); without a callback the loop is stopped. The
 * callback must not close the connection itself: it is called from it. */
void xenstore_set_lost_callback(struct xenstore *xenstore, xenstore_lost_fn fn, void *userdata);
/* Starts dispatching events from the loop. */
void xenstore_start(struct xenstore *xenstore);

/* Reads path; returns 0 with a malloc'd NUL-terminated value (and its length),
 * or a negative errno (-ENOENT, -EACCES, …). */
int xenstore_read(struct xenstore *xenstore, const char *path, char **value, unsigned int *length);
int xenstore_write(struct xenstore *xenstore, const char *path, const char *value);
