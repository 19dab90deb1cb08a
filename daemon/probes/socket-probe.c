// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user backends have no "ready" message; a listening socket is the de
 * facto one. rust-vmm's vhost-user-backend serves a single connection and may
 * drop its listener after accept(), so the accepted (ESTABLISHED) socket on
 * the same file counts too — and the probe never connect()s: it would take
 * the one connection.
 *
 * Nothing announces listen() or close(), and sock_diag has no destroy
 * notification for UNIX sockets. What wakes the probe instead:
 *  - inotify on the socket's directory (bind creates the file, the backend
 *    or its unit removes it); after such an event the file is re-checked a
 *    few times with growing delays, because listen() follows bind() silently
 *    and a backend that unlinks and re-binds between connections is briefly
 *    absent: a socket that was ready stays ready through that window, so the
 *    bridge does not flap;
 *  - the death of the process holding the socket (a pidfd in the loop; the
 *    holder is found through /proc/PID/fd).
 */
#include "socket-probe.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model.h"
#include "path-watch.h"
#include "probe.h"
#include "process-watch.h"
#include "socket-diag.h"
#include "util/log.h"

/* Re-checks after an event: 10 ms doubling, 8 times (2.55 s in all). */
#define RECHECK_FIRST_SECONDS 0.01
#define RECHECK_COUNT 8

enum check_cause { CAUSE_SCAN, CAUSE_FILE_EVENT, CAUSE_RECHECK, CAUSE_HOLDER_EXIT };

struct socket_backend {
    struct socket_probe *probe;
    struct backend *backend;
    struct path_watch *watch;
    ev_timer recheck;
    unsigned int rechecks_left;
    struct process_watch holder;   /* the process holding the socket */
    unsigned long holder_sock_ino;
    char *problem;           /* the last configuration-like problem logged */
};

struct socket_probe {
    struct probe probe;
    struct ev_loop *loop;
    struct path_watcher *watcher;
    struct socket_backend **backends;
    size_t count;
    bool proc_only;          /* sock_diag unavailable or disabled */
};

static struct socket_probe *to_socket_probe(struct probe *probe)
{
    return (struct socket_probe *)probe;
}

static void holder_release(struct socket_backend *entry)
{
    process_watch_release(&entry->holder);
    entry->holder_sock_ino = 0;
}

static void socket_check(struct socket_backend *entry, enum check_cause cause);

static void holder_on_exit(struct process_watch *watch, pid_t pid, void *userdata)
{
    struct socket_backend *entry = userdata;
    log_backend(LOG_DEBUG, entry->backend, "backend %s: process %d holding %s exited",
                entry->backend->name, (int)pid, entry->backend->socket_path);
    entry->holder_sock_ino = 0;
    socket_check(entry, CAUSE_HOLDER_EXIT);
}

/* Follows the process holding the socket, so its death is an event. */
static void holder_follow(struct socket_backend *entry, unsigned long sock_ino)
{
    if (entry->holder.pid > 0 && entry->holder_sock_ino == sock_ino)
        return;
    holder_release(entry);
    pid_t pid = socket_diag_find_holder("/proc", sock_ino);
    if (pid <= 0 || process_watch_follow(&entry->holder, pid) < 0) {
        log_backend(LOG_DEBUG, entry->backend,
                    "backend %s: no process found holding %s; its death will not be seen",
                    entry->backend->name, entry->backend->socket_path);
        return;
    }
    entry->holder_sock_ino = sock_ino;
}

static int socket_dump(struct socket_probe *probe, struct unix_socket_info **sockets,
                       size_t *count)
{
    if (!probe->proc_only) {
        int r = socket_diag_dump_netlink(sockets, count);
        if (r == 0)
            return 0;
        log_message(LOG_WARNING, "sock_diag is not available (%s); reading /proc/net/unix, "
                    "which matches socket files by name only", strerror(-r));
        probe->proc_only = true;
    }
    return socket_diag_dump_proc("/proc/net/unix", sockets, count);
}

/* Observes the socket file: ready, or why not (in detail). problem is set for
 * what the administrator has to fix rather than wait for. */
static bool socket_observe(struct socket_backend *entry, char *detail, size_t size,
                           bool *problem, bool *is_socket, unsigned long *sock_ino)
{
    const char *path = entry->backend->socket_path;
    struct stat st;
    *problem = false;
    *is_socket = false;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT && !path_watch_parent_exists(entry->watch)) {
            snprintf(detail, size, "%s: its directory does not exist yet (watching %s)", path,
                     path_watch_directory(entry->watch));
            *problem = true;
        } else if (errno == ENOENT) {
            snprintf(detail, size, "%s does not exist", path);
        } else {
            snprintf(detail, size, "cannot stat %s: %s", path, strerror(errno));
            *problem = true;
        }
        return false;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(detail, size, "%s is a %s, not a socket", path,
                 S_ISREG(st.st_mode) ? "regular file" : S_ISDIR(st.st_mode) ? "directory"
                                                                           : "non-socket file");
        *problem = true;
        return false;
    }
    *is_socket = true;
    struct unix_socket_info *sockets = NULL;
    size_t count = 0;
    int r = socket_dump(entry->probe, &sockets, &count);
    if (r < 0) {
        snprintf(detail, size, "cannot list UNIX sockets: %s", strerror(-r));
        *problem = true;
        return false;
    }
    struct socket_match match;
    socket_diag_match(sockets, count, st.st_dev, st.st_ino, path, &match);
    free(sockets);
    if (!match.listening && !match.attached) {
        snprintf(detail, size, "%s exists but nothing listens on it or is attached to it", path);
        return false;
    }
    *sock_ino = match.sock_ino;
    return true;
}

static void recheck_on_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
    socket_check(timer->data, CAUSE_RECHECK);
}

/* The next re-check of a series; restart begins a new series. */
static void recheck_arm(struct socket_backend *entry, bool restart)
{
    if (restart)
        entry->rechecks_left = RECHECK_COUNT;
    ev_timer_stop(entry->probe->loop, &entry->recheck);
    if (entry->rechecks_left == 0)
        return;
    unsigned int step = RECHECK_COUNT - entry->rechecks_left;
    entry->rechecks_left--;
    ev_timer_set(&entry->recheck, RECHECK_FIRST_SECONDS * (double)(1u << step), 0);
    ev_timer_start(entry->probe->loop, &entry->recheck);
}

static void recheck_stop(struct socket_backend *entry)
{
    ev_timer_stop(entry->probe->loop, &entry->recheck);
    entry->rechecks_left = 0;
}

static void socket_check(struct socket_backend *entry, enum check_cause cause)
{
    char detail[512];
    bool problem, is_socket;
    unsigned long sock_ino = 0;
    bool ready = socket_observe(entry, detail, sizeof(detail), &problem, &is_socket, &sock_ino);
    /* The holder may die between the look and the pidfd, and nothing would
     * then tell of its death (found by the flapping test: a backend killed
     * right after it bound stayed ready). So the socket is looked at again
     * once its holder's pidfd exists: a death after that is an event. */
    for (int look = 0; ready && look < 3; look++) {
        unsigned long followed = sock_ino;
        holder_follow(entry, followed);
        ready = socket_observe(entry, detail, sizeof(detail), &problem, &is_socket, &sock_ino);
        if (ready && sock_ino == followed)
            break;
    }
    struct model *model = entry->probe->probe.model;
    if (ready) {
        log_backend_problem(&entry->problem, entry->backend, NULL);
        recheck_stop(entry);
        model_set_backend_ready(model, entry->backend, true, NULL);
        return;
    }
    log_backend_problem(&entry->problem, entry->backend, problem ? detail : NULL);
    if (problem)
        recheck_stop(entry);   /* nothing to wait for */
    else if (cause == CAUSE_FILE_EVENT || (cause == CAUSE_SCAN && is_socket))
        recheck_arm(entry, true);
    else if (cause == CAUSE_RECHECK)
        recheck_arm(entry, false);
    /* A holder's death starts no series, but one under way goes on: the file
     * may already be a new backend's, between its bind and its listen. */
    /* Through a series of re-checks a socket that was ready stays ready, as
     * long as the process that held it lives: its pidfd is kept meanwhile,
     * so that its death ends the grace at once (found by the flapping test:
     * a backend unlinked, re-bound and killed within a series stayed ready
     * for the whole series, 2.55 s). */
    if (ev_is_active(&entry->recheck) && entry->backend->probe_ready &&
        cause != CAUSE_HOLDER_EXIT)
        return;
    holder_release(entry);
    model_set_backend_ready(model, entry->backend, false, detail);
}

static void socket_on_file_event(struct path_watch *watch, void *userdata)
{
    socket_check(userdata, CAUSE_FILE_EVENT);
}

static int socket_probe_add_backend(struct probe *base, struct backend *backend)
{
    struct socket_probe *probe = to_socket_probe(base);
    struct socket_backend *entry = calloc(1, sizeof(*entry));
    struct socket_backend **grown = realloc(probe->backends, (probe->count + 1) * sizeof(*grown));
    if (grown)
        probe->backends = grown;
    if (!entry || !grown) {
        free(entry);
        return -ENOMEM;
    }
    entry->probe = probe;
    entry->backend = backend;
    ev_timer_init(&entry->recheck, recheck_on_timer, 0, 0);
    entry->recheck.data = entry;
    process_watch_init(&entry->holder, probe->loop, holder_on_exit, entry);
    probe->backends[probe->count++] = entry;
    return 0;
}

static int socket_probe_arm(struct probe *base)
{
    struct socket_probe *probe = to_socket_probe(base);
    for (size_t i = 0; i < probe->count; i++) {
        struct socket_backend *entry = probe->backends[i];
        int r = path_watch_add(probe->watcher, entry->backend->socket_path, socket_on_file_event,
                               entry, &entry->watch);
        if (r < 0) {
            log_backend(LOG_ERR, entry->backend, "backend %s: cannot watch %s: %s",
                        entry->backend->name, entry->backend->socket_path, strerror(-r));
            return r;
        }
    }
    return 0;
}

static int socket_probe_scan(struct probe *base)
{
    struct socket_probe *probe = to_socket_probe(base);
    for (size_t i = 0; i < probe->count; i++)
        socket_check(probe->backends[i], CAUSE_SCAN);
    return 0;
}

static void socket_probe_free(struct probe *base)
{
    struct socket_probe *probe = to_socket_probe(base);
    for (size_t i = 0; i < probe->count; i++) {
        struct socket_backend *entry = probe->backends[i];
        ev_timer_stop(probe->loop, &entry->recheck);
        holder_release(entry);
        free(entry->problem);
        free(entry);
    }
    path_watcher_free(probe->watcher);
    free(probe->backends);
    free(probe);
}

static const struct probe_ops socket_probe_ops = {
    .name = "socket",
    .add_backend = socket_probe_add_backend,
    .arm = socket_probe_arm,
    .scan = socket_probe_scan,
    .free = socket_probe_free,
};

int socket_probe_new(struct probe **out, struct model *model, struct ev_loop *loop)
{
    struct socket_probe *probe = calloc(1, sizeof(*probe));
    if (!probe)
        return -ENOMEM;
    probe->probe = (struct probe){.ops = &socket_probe_ops, .model = model};
    probe->loop = loop;
    const char *diag = getenv("XENREADY_SOCKET_DIAG");
    probe->proc_only = diag && strcmp(diag, "proc") == 0;
    int r = path_watcher_new(&probe->watcher, loop);
    if (r < 0) {
        free(probe);
        return r;
    }
    *out = &probe->probe;
    return 0;
}
