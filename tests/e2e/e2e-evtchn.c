// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * e2e-evtchn — the arm64 dom0less test's only way to pace the scenario
 * between dom0 and a guest that has no xenstore: two more static event
 * channels of the host device tree, one per direction, used for nothing else.
 *
 *   e2e-evtchn ask ASK ANSWER SECONDS    binds static ports ASK and ANSWER,
 *                                        notifies ASK, waits for one event on
 *                                        ANSWER; exit 0, or 1 on timeout
 *   e2e-evtchn serve ASK ANSWER COMMAND  binds both; at each event on ASK
 *                                        runs "sh -c COMMAND e2e-evtchn N"
 *                                        (N counts from 1), then notifies
 *                                        ANSWER
 *
 * dom0 asks, the guest serves: the answer leaves the guest only after
 * COMMAND ran, so what COMMAND printed is ordered between dom0's question and
 * dom0's next step, without comparing clocks.
 *
 * One channel per direction because Xen 4.17 leaves an event pending on one
 * end of every static channel at boot (xenready(7)): the host device tree
 * puts it on the end that only sends, where no one waits for it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xen/sys/evtchn.h>     /* after xenevtchn.h, which defines domid_t */

/* Linux 6.5 include/uapi/xen/evtchn.h; Debian 12's headers predate it. */
#ifndef IOCTL_EVTCHN_BIND_STATIC
struct ioctl_evtchn_bind {
    unsigned int port;
};
#define IOCTL_EVTCHN_BIND_STATIC _IOC(_IOC_NONE, 'E', 7, sizeof(struct ioctl_evtchn_bind))
#endif

static xenevtchn_handle *bind_static(unsigned int port)
{
    xenevtchn_handle *handle = xenevtchn_open(NULL, 0);
    if (!handle) {
        fprintf(stderr, "e2e-evtchn: cannot open the event channel device: %s\n",
                strerror(errno));
        return NULL;
    }
    struct ioctl_evtchn_bind bind = {.port = port};
    if (ioctl(xenevtchn_fd(handle), IOCTL_EVTCHN_BIND_STATIC, &bind) < 0) {
        fprintf(stderr, "e2e-evtchn: cannot bind static port %u: %s\n", port, strerror(errno));
        xenevtchn_close(handle);
        return NULL;
    }
    return handle;
}

/* Waits for one event; 0, or -ETIMEDOUT / -errno. */
static int await_event(xenevtchn_handle *handle, int timeout_ms)
{
    struct pollfd pollfd = {.fd = xenevtchn_fd(handle), .events = POLLIN};
    int r;
    do
        r = poll(&pollfd, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (r == 0)
        return -ETIMEDOUT;
    xenevtchn_port_or_error_t port = xenevtchn_pending(handle);
    if (port < 0)
        return -errno;
    return xenevtchn_unmask(handle, (evtchn_port_t)port) < 0 ? -errno : 0;
}

static int ask(unsigned int ask_port, unsigned int answer_port, int seconds)
{
    int r = -1;
    xenevtchn_handle *answer = bind_static(answer_port);
    xenevtchn_handle *question = answer ? bind_static(ask_port) : NULL;
    if (question) {
        r = xenevtchn_notify(question, ask_port) < 0 ? -errno
                                                     : await_event(answer, seconds * 1000);
        if (r < 0)
            fprintf(stderr, "e2e-evtchn: no answer on static port %u: %s\n", answer_port,
                    strerror(-r));
        xenevtchn_close(question);
    }
    if (answer)
        xenevtchn_close(answer);
    return r < 0 ? 1 : 0;
}

static int serve(unsigned int ask_port, unsigned int answer_port, const char *command)
{
    xenevtchn_handle *question = bind_static(ask_port);
    xenevtchn_handle *answer = question ? bind_static(answer_port) : NULL;
    for (unsigned long round = 1; answer; round++) {
        int r = await_event(question, -1);
        if (r < 0) {
            fprintf(stderr, "e2e-evtchn: waiting on static port %u: %s\n", ask_port,
                    strerror(-r));
            break;
        }
        char number[24];
        snprintf(number, sizeof(number), "%lu", round);
        pid_t child = fork();
        if (child == 0) {
            execl("/bin/sh", "sh", "-c", command, "e2e-evtchn", number, (char *)NULL);
            _exit(127);
        }
        if (child > 0)
            waitpid(child, NULL, 0);
        if (xenevtchn_notify(answer, answer_port) < 0) {
            fprintf(stderr, "e2e-evtchn: cannot notify static port %u: %s\n", answer_port,
                    strerror(errno));
            break;
        }
    }
    if (answer)
        xenevtchn_close(answer);
    if (question)
        xenevtchn_close(question);
    return 1;
}

static unsigned int parse_port(const char *text)
{
    char *end;
    unsigned long port = strtoul(text, &end, 10);
    return *end == '\0' && port > 0 && port < (1UL << 17) ? (unsigned int)port : 0;
}

int main(int argc, char **argv)
{
    unsigned int ask_port = argc == 5 ? parse_port(argv[2]) : 0;
    unsigned int answer_port = argc == 5 ? parse_port(argv[3]) : 0;
    if (!ask_port || !answer_port) {
        fprintf(stderr, "usage: e2e-evtchn ask ASK ANSWER SECONDS | "
                        "e2e-evtchn serve ASK ANSWER COMMAND\n");
        return 2;
    }
    if (strcmp(argv[1], "ask") == 0)
        return ask(ask_port, answer_port, atoi(argv[4]));
    if (strcmp(argv[1], "serve") == 0)
        return serve(ask_port, answer_port, argv[4]);
    fprintf(stderr, "e2e-evtchn: unknown command \"%s\"\n", argv[1]);
    return 2;
}
