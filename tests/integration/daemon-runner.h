// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Runs the real xenreadyd against a harness instance, as the domain it would
 * be in production, and lets a test wait for what it announces: sd_notify
 * messages through a NOTIFY_SOCKET the test owns, and xenstore nodes through
 * watches of the domain that reads them. Nothing here sleeps to synchronise.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct harness;
struct xs_handle;

struct daemon_runner {
    struct harness *harness;
    unsigned int domid;          /* the daemon's domain */
    char *config_path;
    char *control_path;
    char *notify_path;
    int notify_fd;
    pid_t pid;
    char last_status[1024];      /* the latest STATUS= seen */
};

/* Writes config text to a file in the harness directory; the runner keeps
 * its path for daemon_runner_start(). */
int daemon_runner_init(struct daemon_runner *runner, struct harness *harness, unsigned int domid,
                       const char *config);
/* Starts xenreadyd and waits (bounded) for READY=1. extra_args may be NULL. */
int daemon_runner_start(struct daemon_runner *runner, const char *const *extra_args);
/* Waits for a STATUS= equal to expected; -ETIMEDOUT after timeout_ms. */
int daemon_runner_wait_status(struct daemon_runner *runner, const char *expected, int timeout_ms);
/* SIGTERM (or sig) and reap; returns the exit status or a negative errno. */
int daemon_runner_stop(struct daemon_runner *runner, int sig);
void daemon_runner_finish(struct daemon_runner *runner);

/* Runs "xenreadyctl --socket <control> ARGS…" and returns its exit status;
 * its standard output is stored in *output (malloc'd) when output != NULL. */
int daemon_runner_ctl(struct daemon_runner *runner, char **output, const char *const *args);

/* Reads path through handle; NULL when it cannot be read. */
char *xs_read_string(struct xs_handle *handle, const char *path);
/* Watches path through handle (token "runner") and waits until reading
 * value_path gives expected; -ETIMEDOUT after timeout_ms. The watch is
 * removed again before returning. */
int xs_wait_value(struct xs_handle *handle, const char *watch_path, const char *value_path,
                  const char *expected, int timeout_ms);
/* Writes value as the domain behind handle. */
int xs_write_string(struct xs_handle *handle, const char *path, const char *value);
