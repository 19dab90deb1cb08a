// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A protocol conformance frontend written from protocol/xenready-guest.h
 * alone (the build gives it no other project header). It runs as the
 * unprivileged frontend domain and checks what the document promises, step
 * by step as a driver asks on stdin; each answer is one line on stdout,
 * "ok …" or "fail …".
 *
 *   node                 the bridge node's keys, values and permissions
 *   expect STATE         watch until state is STATE; generation checks
 *   bind                 bind the event channel; Xen's post-bind event must come
 *   event                wait for one notification, then read state
 *   no-event             no notification is pending now
 *   quit
 *
 * Usage: xenready-conformance BRIDGE-ID
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenevtchn.h>
#include <xenstore.h>

#include "xenready-guest.h"

enum { TIMEOUT_MS = 10000 };

static struct xs_handle *xs;
static xenevtchn_handle *evtchn;
static const char *bridge;
static unsigned long long last_generation;
static char last_state[32];
static int local_port = -1;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* "xenready/<bridge>/<key>", relative to our home as the document says. */
static char *key_read(const char *key)
{
    char path[256];
    unsigned int length;
    snprintf(path, sizeof(path), "%s/%s/%s", XENREADY_DIRECTORY, bridge, key);
    return xs_read(xs, XBT_NULL, path, &length);
}

static bool decimal(const char *text, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (!text[0] || text[0] < '0' || text[0] > '9' || *end || errno)
        return false;
    *out = value;
    return true;
}

/* Reads state and generation. Returns 1 for a settled pair, checked against
 * what was seen before; 0 while the daemon is between its two writes (state is
 * written first; the generation whose parity matches it, odd for waiting and
 * even for ready, follows with its own watch event); -1 with reason filled in
 * on a violation of the document. */
static int read_state(char *reason, size_t size)
{
    char *state = key_read(XENREADY_KEY_STATE);
    char *generation_text = key_read(XENREADY_KEY_GENERATION);
    unsigned long long generation = 0;
    int result = 1;
    bool ready = state && strcmp(state, XENREADY_STATE_READY) == 0;
    if (!state || !generation_text || !decimal(generation_text, &generation) || generation < 1) {
        snprintf(reason, size, "state \"%s\" generation \"%s\" unreadable or invalid",
                 state ? state : "(none)", generation_text ? generation_text : "(none)");
        result = -1;
    } else if (!ready && strcmp(state, XENREADY_STATE_WAITING) != 0) {
        snprintf(reason, size, "state \"%s\" is not a version 1 state", state);
        result = -1;
    } else if (generation < last_generation) {
        snprintf(reason, size, "generation went back from %llu to %llu", last_generation,
                 generation);
        result = -1;
    } else if (generation % 2 != (ready ? 0u : 1u)) {
        result = 0;
    } else if (last_generation && strcmp(state, last_state) != 0
               && generation == last_generation) {
        snprintf(reason, size, "state changed to %s but generation stayed %llu", state,
                 generation);
        result = -1;
    } else {
        last_generation = generation;
        snprintf(last_state, sizeof(last_state), "%s", state);
    }
    free(state);
    free(generation_text);
    return result;
}

static void command_node(void)
{
    static const char *const keys[] = {XENREADY_KEY_VERSION, XENREADY_KEY_BACKEND_ID,
                                       XENREADY_KEY_DEVICE_TREE_PATH};
    char *values[3];
    for (size_t i = 0; i < 3; i++)
        values[i] = key_read(keys[i]);
    char version[16], reason[256] = "";
    snprintf(version, sizeof(version), "%d", XENREADY_PROTOCOL_VERSION);
    unsigned long long backend;
    if (!values[0] || strcmp(values[0], version) != 0)
        printf("fail version is \"%s\", not %s\n", values[0] ? values[0] : "(none)", version);
    else if (!values[1] || !decimal(values[1], &backend))
        printf("fail backend-id \"%s\"\n", values[1] ? values[1] : "(none)");
    else if (!values[2] || values[2][0] != '/')
        printf("fail device-tree-path \"%s\"\n", values[2] ? values[2] : "(none)");
    else if (read_state(reason, sizeof(reason)) <= 0)
        printf("fail %s\n", reason[0] ? reason : "state and generation do not match (mid-update)");
    else {
        /* The frontend may read but never write its node. */
        char path[256];
        snprintf(path, sizeof(path), "%s/%s/%s", XENREADY_DIRECTORY, bridge, XENREADY_KEY_STATE);
        if (xs_write(xs, XBT_NULL, path, XENREADY_STATE_READY, strlen(XENREADY_STATE_READY)))
            printf("fail the frontend could write %s\n", path);
        else if (errno != EACCES)
            printf("fail writing %s: %s, expected EACCES\n", path, strerror(errno));
        else
            printf("ok state=%s generation=%llu backend-id=%s device-tree-path=%s\n", last_state,
                   last_generation, values[1], values[2]);
    }
    for (size_t i = 0; i < 3; i++)
        free(values[i]);
}

static void command_expect(const char *wanted)
{
    char path[256], reason[256] = "";
    snprintf(path, sizeof(path), "%s/%s", XENREADY_DIRECTORY, bridge);
    if (!xs_watch(xs, path, "expect")) {
        printf("fail cannot watch %s: %s\n", path, strerror(errno));
        return;
    }
    long long deadline = now_ms() + TIMEOUT_MS;
    bool done = false;
    while (!done) {
        /* Events carry nothing: read after every one; a pair caught between
         * the daemon's two writes is settled by the next event. */
        int settled = read_state(reason, sizeof(reason));
        if (settled < 0) {
            printf("fail %s\n", reason);
            break;
        }
        if (settled && strcmp(last_state, wanted) == 0) {
            printf("ok state=%s generation=%llu\n", last_state, last_generation);
            break;
        }
        struct pollfd pollfd = {.fd = xs_fileno(xs), .events = POLLIN};
        long long left = deadline - now_ms();
        if (left <= 0 || poll(&pollfd, 1, (int)left) <= 0) {
            printf("fail state is %s, not %s\n", last_state, wanted);
            break;
        }
        char **event;
        while ((event = xs_check_watch(xs)))
            free(event);
    }
    xs_unwatch(xs, path, "expect");
    char **event;
    while ((event = xs_check_watch(xs)))
        free(event);
}

/* One pending event within timeout_ms; the port, or -1. */
static int wait_event(int timeout_ms)
{
    struct pollfd pollfd = {.fd = xenevtchn_fd(evtchn), .events = POLLIN};
    if (poll(&pollfd, 1, timeout_ms) <= 0)
        return -1;
    xenevtchn_port_or_error_t port = xenevtchn_pending(evtchn);
    if (port >= 0)
        xenevtchn_unmask(evtchn, (evtchn_port_t)port);
    return port;
}

static void command_bind(void)
{
    char *port_text = key_read(XENREADY_KEY_EVENT_CHANNEL);
    char *backend_text = key_read(XENREADY_KEY_BACKEND_ID);
    unsigned long long port, backend;
    if (!port_text || !backend_text || !decimal(port_text, &port)
        || !decimal(backend_text, &backend)) {
        printf("fail event-channel \"%s\" backend-id \"%s\"\n", port_text ? port_text : "(none)",
               backend_text ? backend_text : "(none)");
    } else if (!evtchn && !(evtchn = xenevtchn_open(NULL, 0))) {
        printf("fail cannot open the event channel device: %s\n", strerror(errno));
    } else {
        if (local_port >= 0)
            xenevtchn_unbind(evtchn, (evtchn_port_t)local_port);
        local_port = xenevtchn_bind_interdomain(evtchn, (uint32_t)backend, (evtchn_port_t)port);
        if (local_port < 0)
            printf("fail cannot bind to port %llu of domain %llu: %s\n", port, backend,
                   strerror(errno));
        else if (wait_event(TIMEOUT_MS) != local_port)
            printf("fail no event right after binding (the document says Xen raises one)\n");
        else
            printf("ok local-port=%d remote-port=%llu\n", local_port, port);
    }
    free(port_text);
    free(backend_text);
}

static void command_event(void)
{
    char reason[256] = "";
    int port = evtchn ? wait_event(TIMEOUT_MS) : -1;
    if (port < 0)
        printf("fail no notification\n");
    else if (port != local_port)
        printf("fail notification on port %d, bound %d\n", port, local_port);
    else if (read_state(reason, sizeof(reason)) <= 0)
        /* The channel is notified after both writes: the pair is settled. */
        printf("fail %s\n", reason[0] ? reason : "state and generation do not match (mid-update)");
    else
        printf("ok state=%s generation=%llu\n", last_state, last_generation);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: xenready-conformance BRIDGE-ID\n");
        return 2;
    }
    bridge = argv[1];
    xs = xs_open(0);
    if (!xs) {
        fprintf(stderr, "cannot connect to xenstore: %s\n", strerror(errno));
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, "node") == 0)
            command_node();
        else if (strncmp(line, "expect ", 7) == 0)
            command_expect(line + 7);
        else if (strcmp(line, "bind") == 0)
            command_bind();
        else if (strcmp(line, "event") == 0)
            command_event();
        else if (strcmp(line, "no-event") == 0)
            printf(evtchn && wait_event(0) >= 0 ? "fail a notification is pending\n" : "ok\n");
        else if (strcmp(line, "quit") == 0)
            break;
        else
            printf("fail unknown command \"%s\"\n", line);
    }
    if (evtchn)
        xenevtchn_close(evtchn);
    xs_close(xs);
    return 0;
}
