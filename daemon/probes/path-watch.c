// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * inotify returns the same watch descriptor for the same directory, so
 * several paths in one directory share it: a descriptor is removed only when
 * no path uses it any more, and every event is offered to each path whose
 * directory it concerns.
 */
#include "path-watch.h"

#include <errno.h>
#include <ev.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "util/log.h"

#define PATH_WATCH_MASK                                                                     \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB      \
     | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct path_watch {
    struct path_watcher *watcher;
    char *path;
    char *parent;            /* dirname(path) */
    char *directory;         /* what is watched: parent or an ancestor */
    int wd;
    path_watch_fn fn;
    void *userdata;
};

struct path_watcher {
    struct ev_loop *loop;
    int fd;
    ev_io io;
    struct path_watch **watches;
    size_t count;
};

static bool wd_in_use(const struct path_watcher *watcher, int wd)
{
    for (size_t i = 0; i < watcher->count; i++)
        if (watcher->watches[i]->wd == wd)
            return true;
    return false;
}

/* Watches the deepest existing directory on the way to path's parent. */
static int watch_resolve(struct path_watch *watch)
{
    struct path_watcher *watcher = watch->watcher;
    char candidate[PATH_MAX];
    strcpy(candidate, watch->parent);
    int wd;
    while ((wd = inotify_add_watch(watcher->fd, candidate, PATH_WATCH_MASK)) < 0) {
        if ((errno != ENOENT && errno != ENOTDIR && errno != EACCES) || strcmp(candidate, "/") == 0)
            return -errno;
        char *slash = strrchr(candidate, '/');
        if (slash == candidate)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    int old = watch->wd;
    watch->wd = wd;
    if (old >= 0 && old != wd && !wd_in_use(watcher, old))
        inotify_rm_watch(watcher->fd, old);
    if (!watch->directory || strcmp(watch->directory, candidate) != 0) {
        char *copy = strdup(candidate);
        if (!copy)
            return -ENOMEM;
        free(watch->directory);
        watch->directory = copy;
    }
    return 0;
}

/* Whether an event named name in the watched directory concerns watch: its
 * own file, or the next missing directory on the way to it. */
static bool event_concerns(const struct path_watch *watch, const char *name)
{
    if (!name || !name[0])
        return true;
    size_t length = strlen(watch->directory);
    const char *rest = strcmp(watch->directory, "/") == 0 ? watch->path + 1
                                                          : watch->path + length + 1;
    size_t component = strcspn(rest, "/");
    return strlen(name) == component && strncmp(rest, name, component) == 0;
}

static void watcher_on_events(struct ev_loop *loop, ev_io *io, int revents)
{
    struct path_watcher *watcher = io->data;
    char buffer[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t length;
    while ((length = read(watcher->fd, buffer, sizeof(buffer))) > 0) {
        for (char *at = buffer; at < buffer + length;) {
            const struct inotify_event *event = (const struct inotify_event *)at;
            at += sizeof(*event) + event->len;
            bool everyone = event->mask & IN_Q_OVERFLOW;
            for (size_t i = 0; i < watcher->count; i++) {
                struct path_watch *watch = watcher->watches[i];
                if (!everyone && watch->wd != event->wd)
                    continue;
                if (!everyone && !event_concerns(watch, event->len ? event->name : NULL))
                    continue;
                /* A directory appeared or went: watch the new deepest one. */
                if (everyone || strcmp(watch->directory, watch->parent) != 0
                    || event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
                    watch_resolve(watch);
                watch->fn(watch, watch->userdata);
            }
        }
    }
}

int path_watcher_new(struct path_watcher **out, struct ev_loop *loop)
{
    struct path_watcher *watcher = calloc(1, sizeof(*watcher));
    if (!watcher)
        return -ENOMEM;
    watcher->loop = loop;
    watcher->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (watcher->fd < 0) {
        int r = -errno;
        free(watcher);
        return r;
    }
    ev_io_init(&watcher->io, watcher_on_events, watcher->fd, EV_READ);
    watcher->io.data = watcher;
    ev_io_start(loop, &watcher->io);
    *out = watcher;
    return 0;
}

static void watch_free(struct path_watch *watch)
{
    free(watch->path);
    free(watch->parent);
    free(watch->directory);
    free(watch);
}

void path_watcher_free(struct path_watcher *watcher)
{
    if (!watcher)
        return;
    ev_io_stop(watcher->loop, &watcher->io);
    close(watcher->fd);
    for (size_t i = 0; i < watcher->count; i++)
        watch_free(watcher->watches[i]);
    free(watcher->watches);
    free(watcher);
}

void path_watch_remove(struct path_watch *watch)
{
    if (!watch)
        return;
    struct path_watcher *watcher = watch->watcher;
    for (size_t i = 0; i < watcher->count; i++)
        if (watcher->watches[i] == watch) {
            watcher->watches[i] = watcher->watches[--watcher->count];
            break;
        }
    if (watch->wd >= 0 && !wd_in_use(watcher, watch->wd))
        inotify_rm_watch(watcher->fd, watch->wd);
    watch_free(watch);
}

int path_watch_add(struct path_watcher *watcher, const char *path, path_watch_fn fn,
                   void *userdata, struct path_watch **out)
{
    if (path[0] != '/' || strlen(path) >= PATH_MAX)
        return -EINVAL;
    struct path_watch *watch = calloc(1, sizeof(*watch));
    struct path_watch **grown = realloc(watcher->watches,
                                        (watcher->count + 1) * sizeof(*grown));
    if (grown)
        watcher->watches = grown;
    if (!watch || !grown || !(watch->path = strdup(path)) || !(watch->parent = strdup(path))) {
        if (watch)
            free(watch->path);
        free(watch);
        return -ENOMEM;
    }
    char *slash = strrchr(watch->parent, '/');
    slash[slash == watch->parent ? 1 : 0] = '\0';
    watch->watcher = watcher;
    watch->wd = -1;
    watch->fn = fn;
    watch->userdata = userdata;
    watcher->watches[watcher->count++] = watch;
    int r = watch_resolve(watch);
    if (r < 0) {
        path_watch_remove(watch);
        return r;
    }
    *out = watch;
    return 0;
}

const char *path_watch_directory(const struct path_watch *watch)
{
    return watch->directory ? watch->directory : "/";
}

bool path_watch_parent_exists(const struct path_watch *watch)
{
    return watch->directory && strcmp(watch->directory, watch->parent) == 0;
}
