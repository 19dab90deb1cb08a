// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's one xenstore connection, driven by the event loop. Watches are
 * registered with a callback; their tokens carry the registration's identity.
 * A watch event carries no value: callbacks re-read what they care about.
 *
 * xenstored refuses requests of a domain that has used up a quota, and never
 * says when room returns: a refused watch is kept and tried again after each
 * later batch of events, and owners retry what they could not write from the
 * batch callback. Nothing here runs on a timer.
 */
#pragma once

#include <stdbool.h>

struct ev_loop;
struct xs_handle;
struct xs_permissions;
struct xenstore;

typedef void (*xenstore_watch_fn)(const char *path, void *userdata);
typedef void (*xenstore_lost_fn)(void *userdata);
typedef void (*xenstore_batch_fn)(void *userdata);

/* Connects the way libxenstore chooses (XENSTORED_PATH, the dom0 socket, or
 * /dev/xen/xenbus) and learns the daemon's own domid from "domid" in its home. */
int xenstore_open(struct xenstore **out, struct ev_loop *loop);
void xenstore_close(struct xenstore *xenstore);   /* NULL-safe */

struct xs_handle *xenstore_handle(struct xenstore *xenstore);
unsigned int xenstore_domid(const struct xenstore *xenstore);

/* Watches path. 0 once xenstored has the watch. A watch refused for lack of
 * room (xenstore_error_is_room()) is kept and tried again after each later
 * batch of events; its first event (xenstored fires one on every new watch,
 * on path itself) tells the owner it is armed. Any other error: not kept. */
int xenstore_watch(struct xenstore *xenstore, const char *path, xenstore_watch_fn fn,
                   void *userdata);
/* A reload keeps the connection and, for the paths the new owners watch
 * again, the watches themselves: no round trip, no moment without the watch,
 * and no need for room xenstored may not have. Before the new owners register,
 * xenstore_watches_release() detaches every watch from its owner; after,
 * xenstore_watches_drop_released() removes those nobody took back. */
void xenstore_watches_release(struct xenstore *xenstore);
void xenstore_watches_drop_released(struct xenstore *xenstore);
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
/* Called after each batch of watch events (may be NULL). */
void xenstore_set_batch_callback(struct xenstore *xenstore, xenstore_batch_fn fn, void *userdata);
/* Whether a request was refused for lack of memory (-ENOMEM, or -EIO for a
 * write) since xenstore_memory_recovered() was last called. xenstored drops
 * watch events for a domain at its memory quota without telling it: after
 * such a refusal, events may have been lost. */
bool xenstore_memory_short(const struct xenstore *xenstore);
void xenstore_memory_recovered(struct xenstore *xenstore);
/* Starts dispatching events from the loop. */
void xenstore_start(struct xenstore *xenstore);

/* Reads path; returns 0 with a malloc'd NUL-terminated value (and its length),
 * or a negative errno (-ENOENT, -EACCES, …). */
int xenstore_read(struct xenstore *xenstore, const char *path, char **value, unsigned int *length);
int xenstore_write(struct xenstore *xenstore, const char *path, const char *value);
int xenstore_mkdir(struct xenstore *xenstore, const char *path);
/* *children (malloc'd, one block) and *count as xs_directory() gives them. */
int xenstore_directory(struct xenstore *xenstore, const char *path, char ***children,
                       unsigned int *count);
/* *permissions (malloc'd) and *count as xs_get_permissions() gives them. */
int xenstore_get_permissions(struct xenstore *xenstore, const char *path,
                             struct xs_permissions **permissions, unsigned int *count);
int xenstore_set_permissions(struct xenstore *xenstore, const char *path,
                             struct xs_permissions *permissions, unsigned int count);

/* Whether xenstored refused r for lack of room: a quota of the domain
 * (-W watches: -E2BIG; -E nodes, -S entry size: -ENOSPC; -Q memory: -ENOMEM,
 * and -EIO for node writes in Xen 4.17). Worth trying again later. */
bool xenstore_error_is_room(int r);
/* " (…)": which quota r points at, for a log line or status; "" otherwise. */
const char *xenstore_error_hint(int r);
