// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A device-model key or a socket file outlives the process that made it
 * (QEMU never deletes its device-model/<domid>/state), so a backend with a
 * pidfile counts only while that process runs. The process is followed with a
 * pidfd in the loop (its death is an event), the pidfile with inotify (a
 * restarted backend writes a new one).
 */
#include "pidfile-liveness.h"

#include <ctype.h>
#include <errno.h>
#include <ev.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/model.h"
#include "path-watch.h"
#include "probe.h"
#include "process-watch.h"
#include "util/log.h"

struct pidfile_backend {
    struct pidfile_liveness *liveness;
    struct backend *backend;
    struct path_watch *watch;
    struct process_watch process;
    char *problem;           /* last problem logged, to log each once */
};

struct pidfile_liveness {
    struct probe probe;
    struct ev_loop *loop;
    struct path_watcher *watcher;
    struct pidfile_backend **backends;
    size_t count;
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
             entry->backend->pidfile);
    model_set_backend_alive(entry->liveness->probe.model, entry->backend, false, detail);
}

static void pidfile_check(struct pidfile_backend *entry)
{
    const char *path = entry->backend->pidfile;
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
            log_backend_problem(&entry->problem, entry->backend, NULL);
            model_set_backend_alive(entry->liveness->probe.model, entry->backend, true, NULL);
            return;
        }
        snprintf(detail, sizeof(detail), "process %d (pidfile %s) is not running", (int)pid, path);
    }
    log_backend_problem(&entry->problem, entry->backend, problem ? detail : NULL);
    model_set_backend_alive(entry->liveness->probe.model, entry->backend, false, detail);
}

static void pidfile_on_file_event(struct path_watch *watch, void *userdata)
{
    pidfile_check(userdata);
}

static int pidfile_liveness_add_backend(struct probe *base, struct backend *backend)
{
    struct pidfile_liveness *liveness = to_liveness(base);
    struct pidfile_backend *entry = calloc(1, sizeof(*entry));
    struct pidfile_backend **grown = realloc(liveness->backends,
                                             (liveness->count + 1) * sizeof(*grown));
    if (grown)
        liveness->backends = grown;
    if (!entry || !grown) {
        free(entry);
        return -ENOMEM;
    }
    entry->liveness = liveness;
    entry->backend = backend;
    process_watch_init(&entry->process, liveness->loop, process_on_exit, entry);
    liveness->backends[liveness->count++] = entry;
    return 0;
}

static int pidfile_liveness_arm(struct probe *base)
{
    struct pidfile_liveness *liveness = to_liveness(base);
    for (size_t i = 0; i < liveness->count; i++) {
        struct pidfile_backend *entry = liveness->backends[i];
        int r = path_watch_add(liveness->watcher, entry->backend->pidfile, pidfile_on_file_event,
                               entry, &entry->watch);
        if (r < 0) {
            log_backend(LOG_ERR, entry->backend, "backend %s: cannot watch pidfile %s: %s",
                        entry->backend->name, entry->backend->pidfile, strerror(-r));
            return r;
        }
    }
    return 0;
}

static int pidfile_liveness_scan(struct probe *base)
{
    struct pidfile_liveness *liveness = to_liveness(base);
    for (size_t i = 0; i < liveness->count; i++)
        pidfile_check(liveness->backends[i]);
    return 0;
}

static void pidfile_liveness_free(struct probe *base)
{
    struct pidfile_liveness *liveness = to_liveness(base);
    for (size_t i = 0; i < liveness->count; i++) {
        process_watch_release(&liveness->backends[i]->process);
        free(liveness->backends[i]->problem);
        free(liveness->backends[i]);
    }
    path_watcher_free(liveness->watcher);
    free(liveness->backends);
    free(liveness);
}

static const struct probe_ops pidfile_liveness_ops = {
    .name = "pidfile",
    .add_backend = pidfile_liveness_add_backend,
    .arm = pidfile_liveness_arm,
    .scan = pidfile_liveness_scan,
    .free = pidfile_liveness_free,
};

int pidfile_liveness_new(struct probe **out, struct model *model, struct ev_loop *loop)
{
    struct pidfile_liveness *liveness = calloc(1, sizeof(*liveness));
    if (!liveness)
        return -ENOMEM;
    liveness->probe = (struct probe){.ops = &pidfile_liveness_ops, .model = model};
    liveness->loop = loop;
    int r = path_watcher_new(&liveness->watcher, loop);
    if (r < 0) {
        free(liveness);
        return r;
    }
    *out = &liveness->probe;
    return 0;
}
