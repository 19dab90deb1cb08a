// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A device-model key or a socket file outlives the process that made it
 * (QEMU never deletes its device-model/<domid>/state), so a backend with a
 * pidfile counts only while that process runs. The process is followed with a
 * pidfd in the loop (its death is an event), the pidfile with inotify (a
 * restarted backend writes a new one).
 */
#include <ctype.h>
#include <errno.h>
#include <ev.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/model.h"
#include "followed.h"
#include "path-watch.h"
#include "probe.h"
#include "process-watch.h"
#include "util/log.h"
#include "util/model-log.h"

struct pidfile_backend {
    struct followed followed;    /* first: the backend */
    struct pidfile_liveness *liveness;
    struct path_watch *watch;
    struct process_watch process;
    char *problem;           /* last problem logged, to log each once */
};

struct pidfile_liveness {
    struct probe probe;
    struct ev_loop *loop;
    struct path_watcher *watcher;
    struct followed_set backends;
    struct model *staged_model;
};

static struct pidfile_liveness *to_liveness(struct probe *probe)
{
    return (struct pidfile_liveness *)probe;
}

/* Reads a decimal pid, surrounded by white space at most. */
static int read_pidfile(const char *path, pid_t *pid)
{
    FILE *file = fopen(path, "re");
    if (!file)
        return -errno;
    char text[32] = "";
    size_t length = fread(text, 1, sizeof(text) - 1, file);
    fclose(file);
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

static void process_on_exit(struct process_watch *watch, pid_t pid, void *userdata)
{
    struct pidfile_backend *entry = userdata;
    char detail[PATH_MAX + 64];
    snprintf(detail, sizeof(detail), "process %d (pidfile %s) exited", (int)pid,
             entry->followed.backend->pidfile);
    model_set_backend_alive(entry->liveness->probe.model, entry->followed.backend, false, detail);
}

static void pidfile_check(struct pidfile_backend *entry)
{
    const char *path = entry->followed.backend->pidfile;
    char detail[PATH_MAX + 128];
    pid_t pid = 0;
    int r = read_pidfile(path, &pid);
    bool problem = false;
    if (r == 0 && process_watch_following(&entry->process, pid))
        return;
    process_watch_release(&entry->process);
    if (r == -ENOENT) {
        snprintf(detail, sizeof(detail), "pidfile %s does not exist", path);
        problem = !path_watch_parent_exists(entry->watch);
        if (problem)
            snprintf(detail, sizeof(detail), "pidfile %s: its directory does not exist yet "
                     "(watching %s)", path, path_watch_directory(entry->watch));
    } else if (r == -EBADMSG) {
        snprintf(detail, sizeof(detail), "pidfile %s does not hold a process id", path);
    } else if (r < 0) {
        snprintf(detail, sizeof(detail), "cannot read pidfile %s: %s", path, strerror(-r));
        problem = true;
    } else {
        if (process_watch_follow(&entry->process, pid) == 0) {
            log_backend_problem(&entry->problem, entry->followed.backend, NULL);
            model_set_backend_alive(entry->liveness->probe.model, entry->followed.backend, true, NULL);
            return;
        }
        snprintf(detail, sizeof(detail), "process %d (pidfile %s) is not running", (int)pid, path);
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
    followed_commit(&liveness->backends);
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
