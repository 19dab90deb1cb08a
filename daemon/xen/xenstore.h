// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's one xenstore connection, driven by the event loop. Watches are
 * registered with a callback; their tokens carry the registration's identity.
 * A watch event carries no value: callbacks re-read what they care about.
 *
 * Events are handled in batches, each bounded (at most 256 dispatches of at
 * most 1024 events), one per loop iteration, so that a writer rewriting a
 * watched key as fast as it can delays neither other guests nor the loop's
 * other watchers. Within a batch a registration gets each path once, in the
 * order of its first event, however often it changed; except that the
 * echoes of changes made through this object (xenstore_write(), _mkdir(),
 * _set_permissions()) come one per change, for owners that count them.
 *
 * xenstored refuses requests of a domain that has used up a quota, and never
 * says when room returns: a refused watch is kept and tried again after each
 * later batch of events, and owners retry what they could not write from the
 * batch callback. Nothing here runs on a timer.
 *
 * The object outlives its connection: when xenstored goes away the
 * registrations stay, and xenstore_reconnect() arms them again on a new
 * connection, so that their owners keep them across an outage.
 */
#pragma once

#include <stdbool.h>

struct ev_loop;
struct xs_permissions;
struct xenstore;

typedef void (*xenstore_watch_fn)(const char *path, void *userdata);
typedef void (*xenstore_event_fn)(void *userdata);

/* One registration, owned by whoever added it. */
struct xenstore_watch;

/* Connects the way libxenstore chooses (XENSTORED_PATH, the dom0 socket, or
 * /dev/xen/xenbus) and learns the daemon's own domid from "domid" in its home. */
int xenstore_open(struct xenstore **out, struct ev_loop *loop);
/* Closes the connection; every watch must have been removed. NULL-safe. */
void xenstore_close(struct xenstore *xenstore);

unsigned int xenstore_domid(const struct xenstore *xenstore);
/* Whether the connection is up. While it is down every request fails with
 * -ENOTCONN at once and the watches wait to be armed again. */
bool xenstore_connected(const struct xenstore *xenstore);

/*
 * Watches path; *out is the registration, removed with xenstore_watch_remove().
 * 0 once xenstored has it. A watch refused for lack of room
 * (xenstore_error_is_room()) is kept with keep_refused (then *out is set and
 * the error returned): it is tried again after each later batch of events,
 * and its first event (xenstored fires one on every new watch, on path
 * itself) tells the owner it is armed. Otherwise nothing is kept.
 */
int xenstore_watch_add(struct xenstore *xenstore, const char *path, xenstore_watch_fn fn,
                       void *userdata, bool keep_refused, struct xenstore_watch **out);
/* Removes a registration (NULL-safe); an event still queued for it is dropped. */
void xenstore_watch_remove(struct xenstore *xenstore, struct xenstore_watch *watch);
/* The owner of a registration moved (a reload carried it): events go to fn
 * and userdata from now on. */
void xenstore_watch_retarget(struct xenstore_watch *watch, xenstore_watch_fn fn, void *userdata);
/* Whether xenstored has the registration now. */
bool xenstore_watch_armed(const struct xenstore_watch *watch);

/* Drops events already queued: used right before a full scan that reads
 * everything those events could have announced (the initial event every watch
 * fires on registration among them). */
void xenstore_discard_events(struct xenstore *xenstore);
/* Called once each time the connection is lost (xenstored closed its socket,
 * or reading events failed). The callback may not close the connection. */
void xenstore_set_lost_callback(struct xenstore *xenstore, xenstore_event_fn fn, void *userdata);
/* Called after each batch of watch events, including one that stopped at its
 * bound with more queued (may be NULL). */
void xenstore_set_batch_callback(struct xenstore *xenstore, xenstore_event_fn fn, void *userdata);
/*
 * After a loss: connects again, checks that this is still the same domain,
 * and arms every registration again (what is refused for lack of room is
 * kept and tried again). 0, or a negative errno with the connection still
 * down. Events are dispatched again once the caller returns to the loop.
 */
int xenstore_reconnect(struct xenstore *xenstore);
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
