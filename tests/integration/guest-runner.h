// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Runs a guest-side program (xenready-wait, the conformance frontend) as an
 * unprivileged domain of a harness instance: XENSTORED_PATH is that domain's
 * socket, and the fake event channel (tests/fake-evtchn) is preloaded as that
 * domain. Its stdin and stdout are pipes for a line dialogue, its stderr is
 * read line by line. Waiting is on the pipes; nothing sleeps.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct harness;

struct guest {
    pid_t pid;
    int in_fd;               /* its stdin */
    int out_fd;              /* its stdout */
    int err_fd;              /* its stderr */
    char err_text[16384];    /* everything read from stderr so far */
    size_t err_length;
    bool err_closed;
    int status;              /* exit status once reaped, else -1 */
};

/* argv[0] is the program's path. evtchn_dir may be NULL (no fake). */
int guest_start(struct guest *guest, struct harness *harness, unsigned int domid,
                const char *evtchn_dir, const char *const *argv);
/* Waits until stderr contains text; -ETIMEDOUT, or -EPIPE if it exited first. */
int guest_wait_stderr(struct guest *guest, const char *text, int timeout_ms);
/* Waits until stderr contains text at least count times. */
int guest_wait_stderr_count(struct guest *guest, const char *text, size_t count, int timeout_ms);
/* Sends "command\n" and reads one line of answer into reply. */
int guest_command(struct guest *guest, const char *command, char *reply, size_t size,
                  int timeout_ms);
/* Waits for the exit (stderr reaches EOF, then reaps); returns the exit
 * status, 128+signal, or -ETIMEDOUT. */
int guest_wait_exit(struct guest *guest, int timeout_ms);
/* True while it has not exited (checked without blocking). */
bool guest_running(struct guest *guest);
/* Kills if still running, closes the pipes. */
void guest_finish(struct guest *guest);
