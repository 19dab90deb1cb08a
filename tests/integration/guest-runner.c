// SPDX-License-Identifier: GPL-2.0-or-later
#include "guest-runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake-evtchn-control.h"
#include "harness.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int guest_start(struct guest *guest, struct harness *harness, unsigned int domid,
                const char *evtchn_dir, const char *const *argv)
{
    *guest = (struct guest){.in_fd = -1, .out_fd = -1, .err_fd = -1, .status = -1};
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
        return -errno;
    char *socket_path = harness_socket_path(harness, domid);
    if (!socket_path)
        return -ENOMEM;
    pid_t pid = fork();
    if (pid < 0) {
        free(socket_path);
        return -errno;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        setenv("XENSTORED_PATH", socket_path, 1);
        if (evtchn_dir)
            fake_evtchn_use(evtchn_dir, domid);
        else
            unsetenv("LD_PRELOAD");
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    free(socket_path);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    guest->pid = pid;
    guest->in_fd = in[1];
    guest->out_fd = out[0];
    guest->err_fd = err[0];
    return 0;
}

/* Reads what stderr has (after poll said so); false at EOF. */
static bool read_stderr(struct guest *guest)
{
    size_t room = sizeof(guest->err_text) - 1 - guest->err_length;
    char scratch[512];
    ssize_t n = room ? read(guest->err_fd, guest->err_text + guest->err_length, room)
                     : read(guest->err_fd, scratch, sizeof(scratch));
    if (n <= 0) {
        guest->err_closed = true;
        return false;
    }
    if (room) {
        guest->err_length += (size_t)n;
        guest->err_text[guest->err_length] = '\0';
    }
    return true;
}

static size_t occurrences(const char *haystack, const char *text)
{
    size_t count = 0;
    for (const char *at = strstr(haystack, text); at; at = strstr(at + 1, text))
        count++;
    return count;
}

int guest_wait_stderr(struct guest *guest, const char *text, int timeout_ms)
{
    return guest_wait_stderr_count(guest, text, 1, timeout_ms);
}

int guest_wait_stderr_count(struct guest *guest, const char *text, size_t count, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        if (occurrences(guest->err_text, text) >= count)
            return 0;
        if (guest->err_closed)
            return -EPIPE;
        long long left = deadline - now_ms();
        struct pollfd pollfd = {.fd = guest->err_fd, .events = POLLIN};
        if (left <= 0 || poll(&pollfd, 1, (int)left) <= 0)
            return -ETIMEDOUT;
        read_stderr(guest);
    }
}

int guest_command(struct guest *guest, const char *command, char *reply, size_t size,
                  int timeout_ms)
{
    size_t length = strlen(command);
    if (write(guest->in_fd, command, length) != (ssize_t)length || write(guest->in_fd, "\n", 1) != 1)
        return -EPIPE;
    long long deadline = now_ms() + timeout_ms;
    size_t used = 0;
    while (used + 1 < size) {
        long long left = deadline - now_ms();
        struct pollfd pollfd = {.fd = guest->out_fd, .events = POLLIN};
        if (left <= 0 || poll(&pollfd, 1, (int)left) <= 0)
            return -ETIMEDOUT;
        ssize_t n = read(guest->out_fd, reply + used, 1);
        if (n <= 0)
            return -EPIPE;
        if (reply[used] == '\n')
            break;
        used++;
    }
    reply[used] = '\0';
    return 0;
}

int guest_wait_exit(struct guest *guest, int timeout_ms)
{
    if (guest->status >= 0)
        return guest->status;
    long long deadline = now_ms() + timeout_ms;
    while (!guest->err_closed) {
        long long left = deadline - now_ms();
        struct pollfd pollfd = {.fd = guest->err_fd, .events = POLLIN};
        if (left <= 0 || poll(&pollfd, 1, (int)left) <= 0)
            return -ETIMEDOUT;
        read_stderr(guest);
    }
    int status;
    if (waitpid(guest->pid, &status, 0) < 0)
        return -errno;
    guest->pid = 0;
    guest->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return guest->status;
}

bool guest_running(struct guest *guest)
{
    if (guest->pid <= 0)
        return false;
    int status;
    pid_t pid = waitpid(guest->pid, &status, WNOHANG);
    if (pid == 0)
        return true;
    guest->pid = 0;
    guest->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
}

void guest_finish(struct guest *guest)
{
    if (guest->pid > 0) {
        kill(guest->pid, SIGKILL);
        waitpid(guest->pid, NULL, 0);
    }
    if (guest->in_fd >= 0)
        close(guest->in_fd);
    if (guest->out_fd >= 0)
        close(guest->out_fd);
    if (guest->err_fd >= 0)
        close(guest->err_fd);
    *guest = (struct guest){.in_fd = -1, .out_fd = -1, .err_fd = -1, .status = -1};
}
