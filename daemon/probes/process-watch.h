// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Follows one process with a pidfd in the event loop, so that its death is
 * an event rather than something found by looking again. The socket probe
 * follows the process holding a socket; pidfile liveness the process a
 * pidfile names.
 */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <sys/types.h>

struct process_watch;

/* Called from the loop once the followed process has exited; the watch has
 * already been released. */
typedef void (*process_watch_fn)(struct process_watch *watch, pid_t pid, void *userdata);

struct process_watch {
    struct ev_loop *loop;
    ev_io io;                /* on the pidfd; active while a process is followed */
    pid_t pid;               /* 0 when none is followed */
    process_watch_fn on_exit;
    void *userdata;
};

void process_watch_init(struct process_watch *watch, struct ev_loop *loop,
                        process_watch_fn on_exit, void *userdata);
/* Follows pid instead of any process followed so far. Returns 0, or a
 * negative errno (-ESRCH: it is not running). */
int process_watch_follow(struct process_watch *watch, pid_t pid);
/* Stops following; safe when nothing is followed. */
void process_watch_release(struct process_watch *watch);

static inline bool process_watch_following(const struct process_watch *watch, pid_t pid)
{
    return watch->pid > 0 && watch->pid == pid;
}
