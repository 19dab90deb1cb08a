// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A device-model key or a socket file outlives the process that made it
 * (QEMU never deletes its device-model/<domid>/state), so a backend with a
 * pidfile counts only while that process runs. The process is followed with a
 * pidfd in the loop (its death is an event), the pidfile with inotify (a
 * restarted backend writes a new one).
 *
 * Whoever may write in the pidfile's directory is not trusted further than
 * systemd trusts PIDFile=: the file is opened without blocking and without
 * following a link, and must be a small regular file; PID 1 and the daemon
 * itself never count; a pidfile not owned by root must name a process of
 * its owner; and the process must have started before the pidfile was last
 * written, or the pid was reused since (a stale pidfile). That last check
 * is made once per process: a process already followed, or believed before
 * a restart (pidfile-records.h), is not judged again by a wall clock that
 * may have been stepped since.
 */
#include <ctype.h>
#include <errno.h>
#include <ev.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "core/model.h"
#include "followed.h"
#include "path-watch.h"
#include "pidfile-records.h"
#include "probe.h"
#include "process-info.h"
#include "process-watch.h"
#include "util/log.h"
#include "util/model-log.h"

struct pidfile_backend {
    struct followed followed;    /* first: the backend */
    struct pidfile_liveness *liveness;
    struct path_watch *watch;
    struct process_watch process;
    unsigned long long start;    /* of the process followed, in ticks since boot */
    char *problem;           /* last problem logged, to log each once */
};

struct pidfile_liveness {
    struct probe probe;
    struct ev_loop *loop;
    struct path_watcher *watcher;
    struct followed_set backends;
    struct model *staged_model;
    char *records_path;          /* NULL: nothing is kept for a restart */
    struct pidfile_records previous;   /* believed before a restart */
    bool committing;             /* records are saved once, at the end */
};

static struct pidfile_liveness *to_liveness(struct probe *probe)
{
    return (struct pidfile_liveness *)probe;
}

/* In the state directory: the processes followed, for a restart. */
#define RECORDS_NAME "pidfiles"
/* A pid is a few digits; anything longer is not a pidfile. */
#define PIDFILE_SIZE_MAX 64

/* Reads a decimal pid, surrounded by white space at most, from a regular
 * file (a FIFO would block the loop, a device could be anything, a link
 * could point anywhere: -ELOOP, -EINVAL), with its owner and time in *st. */
static int read_pidfile(const char *path, pid_t *pid, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char text[PIDFILE_SIZE_MAX + 1] = "";
    ssize_t length = -1;
    int r = fstat(fd, st) < 0 ? -errno : 0;
    if (r == 0 && !S_ISREG(st->st_mode))
        r = -EINVAL;
    else if (r == 0 && st->st_size > PIDFILE_SIZE_MAX)
        r = -EFBIG;
    if (r == 0 && (length = read(fd, text, PIDFILE_SIZE_MAX)) < 0)
        r = -errno;
    close(fd);
    if (r < 0)
        return r;
    text[length] = '\0';
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (!isdigit((unsigned char)text[0]) || *end || errno || value <= 0 || value > 0x3FFFFFFF)
        return -EBADMSG;
    *pid = (pid_t)value;
    return 0;
}

/* The processes followed now, written for a restarted daemon. A failure
 * is logged: liveness still works, but a restart judges anew. */
static void records_save(struct pidfile_liveness *liveness)
{
    if (!liveness->records_path || liveness->committing)
        return;
    struct pidfile_records records = {0};
    int r = 0;
    for (size_t i = 0; i < liveness->backends.count && r == 0; i++) {
        const struct pidfile_backend *entry =
            (const struct pidfile_backend *)liveness->backends.entries[i];
        if (entry->process.pid > 0 && entry->start)
            r = pidfile_records_add(&records, entry->followed.backend->pidfile,
                                    entry->process.pid, entry->start);
    }
    if (r == 0)
        r = pidfile_records_save(liveness->records_path, &records);
    pidfile_records_clear(&records);
    if (r < 0)
        log_message(LOG_WARNING, "cannot keep the followed processes in %s: %s; a restarted "
                    "xenreadyd checks their pidfiles' age again", liveness->records_path,
                    strerror(-r));
}

static void entry_release(struct pidfile_backend *entry)
{
    bool followed = entry->process.pid > 0;
    process_watch_release(&entry->process);
    entry->start = 0;
    if (followed)
        records_save(entry->liveness);
}

static void process_on_exit(struct process_watch *watch, pid_t pid, void *userdata)
{
    struct pidfile_backend *entry = userdata;
    entry->start = 0;
    records_save(entry->liveness);
    char detail[PATH_MAX + 64];
    snprintf(detail, sizeof(detail), "process %d (pidfile %s) exited", (int)pid,
             entry->followed.backend->pidfile);
    model_set_backend_alive(entry->liveness->probe.model, entry->followed.backend, false, detail);
}

/* Whether pid, read from entry's pidfile with *st, may stand for the
 * backend; why not in why. Called with pid followed (a pidfd open): if it
 * died and the pid was reused meanwhile, the start time says so. known: it
 * was followed already, so its age was judged when it was first seen. */
static bool pidfile_trusted(struct pidfile_backend *entry, pid_t pid, const struct stat *st,
                            bool known, char *why, size_t size)
{
    if (pid == 1 || pid == getpid()) {
        snprintf(why, size, "names %s, which never counts", pid == 1 ? "PID 1" : "xenreadyd");
        return false;
    }
    uid_t uid;
    struct timespec start;
    unsigned long long ticks = 0;
    int r = process_uid("/proc", pid, &uid);
    if (r == 0)
        r = process_start_ticks("/proc", pid, &ticks);
    if (r == 0)
        r = process_start("/proc", pid, &start);
    if (r < 0 && st->st_uid != 0) {
        snprintf(why, size, "is uid %u's, and process %d cannot be looked at (%s) to check it "
                 "is too", (unsigned int)st->st_uid, (int)pid, strerror(-r));
        return false;
    }
    if (r < 0)
        return true;   /* root's word, where /proc hides the process */
    if (st->st_uid != 0 && uid != st->st_uid) {
        snprintf(why, size, "is uid %u's but names process %d of uid %u", (unsigned int)st->st_uid,
                 (int)pid, (unsigned int)uid);
        return false;
    }
    const char *pidfile = entry->followed.backend->pidfile;
    known = known || pidfile_records_hold(&entry->liveness->previous, pidfile, pid, ticks);
    /* Started after the pidfile was written: not the process that wrote
     * it, but one that got its pid since (10 ms of clock ticks, and the
     * time the writer took to start, are allowed for). */
    long long started = (long long)start.tv_sec * 1000 + start.tv_nsec / 1000000;
    long long written = (long long)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
    if (!known && started > written + 1000) {
        snprintf(why, size, "is older than process %d (written %.1f s before it started): the "
                 "pid was reused", (int)pid, (double)(started - written) / 1000.0);
        return false;
    }
    entry->start = ticks;
    return true;
}

static void pidfile_check(struct pidfile_backend *entry)
{
    const char *path = entry->followed.backend->pidfile;
    char detail[PATH_MAX + 256], why[192];
    pid_t pid = 0;
    struct stat st;
    int r = read_pidfile(path, &pid, &st);
    bool problem = false;
    /* The same process still followed, and the file still vouches for it. */
    if (r == 0 && process_watch_following(&entry->process, pid)
        && pidfile_trusted(entry, pid, &st, true, why, sizeof(why)))
        return;
    entry_release(entry);
    if (r == -ENOENT) {
        snprintf(detail, sizeof(detail), "pidfile %s does not exist", path);
        problem = !path_watch_parent_exists(entry->watch);
        if (problem)
            snprintf(detail, sizeof(detail), "pidfile %s: its directory does not exist yet "
                     "(watching %s)", path, path_watch_directory(entry->watch));
    } else if (r == -EBADMSG) {
        snprintf(detail, sizeof(detail), "pidfile %s does not hold a process id", path);
    } else if (r == -ELOOP || r == -EINVAL || r == -EFBIG) {
        snprintf(detail, sizeof(detail), "pidfile %s is %s: not used", path,
                 r == -ELOOP ? "a symbolic link" : r == -EFBIG ? "too large for a pidfile"
                                                             : "not a regular file");
        problem = true;
    } else if (r < 0) {
        snprintf(detail, sizeof(detail), "cannot read pidfile %s: %s", path, strerror(-r));
        problem = true;
    } else if ((r = process_watch_follow(&entry->process, pid)) < 0) {
        /* Out of descriptors is not "dead": said as it is, and loudly. */
        if (r == -ESRCH)
            snprintf(detail, sizeof(detail), "process %d (pidfile %s) is not running", (int)pid,
                     path);
        else
            snprintf(detail, sizeof(detail), "cannot follow process %d (pidfile %s): %s",
                     (int)pid, path, strerror(-r));
        problem = r != -ESRCH;
    } else if (!pidfile_trusted(entry, pid, &st, false, why, sizeof(why))) {
        entry_release(entry);
        snprintf(detail, sizeof(detail), "pidfile %s %s", path, why);
        problem = true;
    } else {
        records_save(entry->liveness);
        log_backend_problem(&entry->problem, entry->followed.backend, NULL);
        model_set_backend_alive(entry->liveness->probe.model, entry->followed.backend, true,
                                NULL);
        return;
    }
    log_backend_problem(&entry->problem, entry->followed.backend, problem ? detail : NULL);
    model_set_backend_alive(entry->liveness->probe.model, entry->followed.backend, false, detail);
}

static void pidfile_on_file_event(struct path_watch *watch, void *userdata)
{
    pidfile_check(userdata);
}

static int pidfile_entry_create(void *probe, struct backend *backend, struct followed **out)
{
    struct pidfile_liveness *liveness = probe;
    struct pidfile_backend *entry = calloc(1, sizeof(*entry));
    if (!entry)
        return -ENOMEM;
    entry->followed.backend = backend;
    entry->liveness = liveness;
    process_watch_init(&entry->process, liveness->loop, process_on_exit, entry);
    int r = path_watch_add(liveness->watcher, backend->pidfile, pidfile_on_file_event, entry,
                           &entry->watch);
    if (r < 0) {
        log_backend(LOG_ERR, backend, "backend %s: cannot watch pidfile %s: %s", backend->name,
                    backend->pidfile, strerror(-r));
        free(entry);
        return r;
    }
    *out = &entry->followed;
    return 0;
}

static void pidfile_entry_scan(void *probe, struct followed *followed)
{
    pidfile_check((struct pidfile_backend *)followed);
}

static void pidfile_entry_destroy(void *probe, struct followed *followed)
{
    struct pidfile_backend *entry = (struct pidfile_backend *)followed;
    /* Not saved here: a commit saves once at its end, and at exit the
     * records stay for the next start. */
    process_watch_release(&entry->process);
    path_watch_remove(entry->watch);
    free(entry->problem);
    free(entry);
}

static const struct followed_ops pidfile_entry_ops = {
    .create = pidfile_entry_create,
    .scan = pidfile_entry_scan,
    .destroy = pidfile_entry_destroy,
};

static int pidfile_liveness_stage(struct probe *base, struct model *model, bool strict)
{
    struct pidfile_liveness *liveness = to_liveness(base);
    liveness->staged_model = model;
    return followed_stage(&liveness->backends, model);
}

static void pidfile_liveness_commit(struct probe *base)
{
    struct pidfile_liveness *liveness = to_liveness(base);
    base->model = liveness->staged_model;
    liveness->committing = true;
    followed_commit(&liveness->backends);
    liveness->committing = false;
    records_save(liveness);
}

static void pidfile_liveness_abort(struct probe *base)
{
    followed_abort(&to_liveness(base)->backends);
}

static void pidfile_liveness_free(struct probe *base)
{
    struct pidfile_liveness *liveness = to_liveness(base);
    followed_clear(&liveness->backends);
    path_watcher_free(liveness->watcher);
    pidfile_records_clear(&liveness->previous);
    free(liveness->records_path);
    free(liveness);
}

static const struct probe_ops pidfile_liveness_ops = {
    .name = "pidfile",
    .stage = pidfile_liveness_stage,
    .commit = pidfile_liveness_commit,
    .abort = pidfile_liveness_abort,
    .free = pidfile_liveness_free,
};

static bool pidfile_liveness_follows(const struct backend *backend)
{
    return backend->pidfile != NULL;
}

static int pidfile_liveness_new(struct probe **out, const struct probe_context *context)
{
    struct pidfile_liveness *liveness = calloc(1, sizeof(*liveness));
    if (!liveness)
        return -ENOMEM;
    liveness->probe = (struct probe){.ops = &pidfile_liveness_ops};
    liveness->loop = context->loop;
    followed_init(&liveness->backends, &pidfile_entry_ops, liveness, pidfile_liveness_follows);
    int r = path_watcher_new(&liveness->watcher, context->loop);
    if (r < 0) {
        free(liveness);
        return r;
    }
    if (context->state_directory
        && asprintf(&liveness->records_path, "%s/%s", context->state_directory, RECORDS_NAME)
               < 0) {
        path_watcher_free(liveness->watcher);
        free(liveness);
        return -ENOMEM;
    }
    if (liveness->records_path
        && (r = pidfile_records_load(liveness->records_path, &liveness->previous)) < 0)
        log_message(LOG_WARNING, "ignoring %s: %s (not a regular file of ours, or not what "
                    "xenreadyd writes)", liveness->records_path, strerror(-r));
    *out = &liveness->probe;
    return 0;
}

/* Liveness from a pidfile (pidfile = PATH, with any probe): the backend is
 * alive while the process the file names runs; model_set_backend_alive(). */
const struct probe_type pidfile_liveness_type = {
    .name = "pidfile",
    .follows = pidfile_liveness_follows,
    .create = pidfile_liveness_new,
};
