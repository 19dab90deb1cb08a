// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Wakes a probe when something may have changed at a filesystem path: the
 * file was created, removed, renamed or rewritten. The path's directory may
 * not exist yet; then the nearest existing ancestor is watched and the watch
 * moves down as directories appear (and up again when they go). One inotify
 * fd per watcher, in the event loop; callbacks re-check, they are not told
 * what happened.
 */
#pragma once

#include <stdbool.h>

struct ev_loop;
struct path_watch;
struct path_watcher;

typedef void (*path_watch_fn)(struct path_watch *watch, void *userdata);

int path_watcher_new(struct path_watcher **out, struct ev_loop *loop);
/* Removes every watch; NULL-safe. */
void path_watcher_free(struct path_watcher *watcher);

/* Adds a watch for an absolute path; the watcher owns it. fn is called from
 * the loop, never from path_watch_add(). */
int path_watch_add(struct path_watcher *watcher, const char *path, path_watch_fn fn,
                   void *userdata, struct path_watch **out);
/* Removes a watch (NULL-safe); the directory's inotify watch goes with the
 * last path that used it. Not from the watch's own callback. */
void path_watch_remove(struct path_watch *watch);
/* The directory being watched now: path's parent, or its nearest existing
 * ancestor when the parent does not exist (yet). */
const char *path_watch_directory(const struct path_watch *watch);
bool path_watch_parent_exists(const struct path_watch *watch);
