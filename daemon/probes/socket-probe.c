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

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model.h"
#include "followed.h"
#include "path-watch.h"
#include "probe.h"
#include "process-watch.h"
#include "socket-diag.h"
#include "util/log.h"
#include "util/model-log.h"

/* Re-checks after an event: 10 ms doubling, 8 times (2.55 s in all). */
#define RECHECK_FIRST_SECONDS 0.01
#define RECHECK_COUNT 8

enum check_cause { CAUSE_SCAN, CAUSE_FILE_EVENT, CAUSE_RECHECK, CAUSE_HOLDER_EXIT };

struct socket_backend {
    struct followed followed;    /* first: the backend */
    struct socket_probe *probe;
    struct path_watch *watch;
    ev_timer recheck;
    unsigned int rechecks_left;
    struct process_watch holder;   /* the process holding the socket */
    unsigned long holder_sock_ino;
    bool hidden_said;        /* warned that its holder cannot be looked at */
    char *problem;           /* the last configuration-like problem logged */
};

struct socket_probe {
    struct probe probe;
    struct ev_loop *loop;
    struct path_watcher *watcher;
    struct followed_set backends;
    struct model *staged_model;
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
    log_backend(LOG_DEBUG, entry->followed.backend, "backend %s: process %d holding %s exited",
                entry->followed.backend->name, (int)pid, entry->followed.backend->socket_path);
    entry->holder_sock_ino = 0;
    socket_check(entry, CAUSE_HOLDER_EXIT);
}

/* Follows the process holding the socket, so its death is an event. */
static void holder_follow(struct socket_backend *entry, unsigned long sock_ino)
{
    if (entry->holder.pid > 0 && entry->holder_sock_ino == sock_ino)
        return;
    holder_release(entry);
    bool hidden;
    pid_t pid = socket_diag_find_holder("/proc", sock_ino, &hidden);
    int r = pid > 0 ? process_watch_follow(&entry->holder, pid) : -ESRCH;
    const struct backend *backend = entry->followed.backend;
    if (r == -ESRCH && hidden && !backend_has_liveness(backend) && !entry->hidden_said) {
        /* Another user's process, whose descriptors xenreadyd may not read:
         * said once, with what to do about it (xenreadyd(8)). */
        entry->hidden_said = true;
        log_backend(LOG_WARNING, backend, "backend %s: the process holding %s cannot be looked "
                    "at (another user's, whose descriptors xenreadyd may not read): its death "
                    "is not seen; give the backend pidfile = or liveness-unit =", backend->name,
                    backend->socket_path);
    }
    if (r == -ESRCH) {
        log_backend(LOG_DEBUG, backend,
                    "backend %s: no process found holding %s; its death will not be seen",
                    backend->name, backend->socket_path);
        return;
    }
    if (r < 0) {
        /* Out of descriptors, say: said as it is. */
        log_backend(LOG_WARNING, entry->followed.backend,
                    "backend %s: cannot follow process %d holding %s: %s; its death will not "
                    "be seen", entry->followed.backend->name, (int)pid,
                    entry->followed.backend->socket_path, strerror(-r));
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
    const struct backend *backend = entry->followed.backend;
    const char *path = backend->socket_path;
    struct stat st;
    *problem = false;
    *is_socket = false;
    /* Whoever may write in the socket's directory could put a link there to
     * any listening socket (xenstored's): a link is followed only when the
     * configuration says so. */
    int r = lstat(path, &st);
    if (r == 0 && S_ISLNK(st.st_mode)) {
        if (!backend->follow_symlink) {
            snprintf(detail, size, "%s is a symbolic link: not followed (follow-symlink = yes "
                     "accepts it)", path);
            *problem = true;
            return false;
        }
        r = stat(path, &st);
    }
    if (r < 0) {
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
    /* Made by whoever bound it: one who could write in its directory and
     * listens there in the backend's place would be found out here. */
    if (backend->owner == OWNER_UID && st.st_uid != backend->owner_uid) {
        snprintf(detail, size, "%s belongs to uid %u, not uid %u (owner =)", path,
                 (unsigned int)st.st_uid, backend->owner_uid);
        *problem = true;
        return false;
    }
    *is_socket = true;
    struct unix_socket_info *sockets = NULL;
    size_t count = 0;
    r = socket_dump(entry->probe, &sockets, &count);
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
        log_backend_problem(&entry->problem, entry->followed.backend, NULL);
        recheck_stop(entry);
        model_set_backend_ready(model, entry->followed.backend, true, NULL);
        return;
    }
    log_backend_problem(&entry->problem, entry->followed.backend, problem ? detail : NULL);
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
    if (ev_is_active(&entry->recheck) && entry->followed.backend->probe_ready &&
        cause != CAUSE_HOLDER_EXIT)
        return;
    holder_release(entry);
    model_set_backend_ready(model, entry->followed.backend, false, detail);
}

static void socket_on_file_event(struct path_watch *watch, void *userdata)
{
    socket_check(userdata, CAUSE_FILE_EVENT);
}

static int socket_entry_create(void *probe_pointer, struct backend *backend,
                               struct followed **out)
{
    struct socket_probe *probe = probe_pointer;
    struct socket_backend *entry = calloc(1, sizeof(*entry));
    if (!entry)
        return -ENOMEM;
    entry->followed.backend = backend;
    entry->probe = probe;
    ev_timer_init(&entry->recheck, recheck_on_timer, 0, 0);
    entry->recheck.data = entry;
    process_watch_init(&entry->holder, probe->loop, holder_on_exit, entry);
    int r = path_watch_add(probe->watcher, backend->socket_path, socket_on_file_event, entry,
                           &entry->watch);
    if (r < 0) {
        log_backend(LOG_ERR, backend, "backend %s: cannot watch %s: %s", backend->name,
                    backend->socket_path, strerror(-r));
        free(entry);
        return r;
    }
    *out = &entry->followed;
    return 0;
}

static void socket_entry_scan(void *probe, struct followed *followed)
{
    socket_check((struct socket_backend *)followed, CAUSE_SCAN);
}

static void socket_entry_destroy(void *probe_pointer, struct followed *followed)
{
    struct socket_probe *probe = probe_pointer;
    struct socket_backend *entry = (struct socket_backend *)followed;
    ev_timer_stop(probe->loop, &entry->recheck);
    holder_release(entry);
    path_watch_remove(entry->watch);
    free(entry->problem);
    free(entry);
}

static const struct followed_ops socket_entry_ops = {
    .create = socket_entry_create,
    .scan = socket_entry_scan,
    .destroy = socket_entry_destroy,
};

static int socket_probe_stage(struct probe *base, struct model *model, bool strict)
{
    struct socket_probe *probe = to_socket_probe(base);
    probe->staged_model = model;
    return followed_stage(&probe->backends, model);
}

static void socket_probe_commit(struct probe *base)
{
    struct socket_probe *probe = to_socket_probe(base);
    base->model = probe->staged_model;
    followed_commit(&probe->backends);
}

static void socket_probe_abort(struct probe *base)
{
    followed_abort(&to_socket_probe(base)->backends);
}

static void socket_probe_free(struct probe *base)
{
    struct socket_probe *probe = to_socket_probe(base);
    followed_clear(&probe->backends);
    path_watcher_free(probe->watcher);
    free(probe);
}

static const struct probe_ops socket_probe_ops = {
    .name = "socket",
    .stage = socket_probe_stage,
    .commit = socket_probe_commit,
    .abort = socket_probe_abort,
    .free = socket_probe_free,
};

static bool socket_probe_follows(const struct backend *backend)
{
    return backend->probe == PROBE_SOCKET;
}

static int socket_probe_new(struct probe **out, const struct probe_context *context)
{
    struct socket_probe *probe = calloc(1, sizeof(*probe));
    if (!probe)
        return -ENOMEM;
    probe->probe = (struct probe){.ops = &socket_probe_ops};
    probe->loop = context->loop;
    followed_init(&probe->backends, &socket_entry_ops, probe, socket_probe_follows);
    const char *diag = getenv("XENREADY_SOCKET_DIAG");
    probe->proc_only = diag && strcmp(diag, "proc") == 0;
    int r = path_watcher_new(&probe->watcher, context->loop);
    if (r < 0) {
        free(probe);
        return r;
    }
    *out = &probe->probe;
    return 0;
}

/* Backends that are ready while a UNIX socket at their path is listening or
 * has an accepted connection (probe = socket: vhost-user backends). Setting
 * XENREADY_SOCKET_DIAG=proc in the environment skips sock_diag and reads
 * /proc/net/unix only (xenreadyd(8)). */
const struct probe_type socket_probe_type = {
    .name = "socket",
    .follows = socket_probe_follows,
    .create = socket_probe_new,
};
