// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * e2e-follow — the end-to-end test's guest-side check that a bridge's
 * withdrawal and its return arrive on the bridge's event channel: binds the
 * port published in xenready/BRIDGE/event-channel (to domain backend-id),
 * and after each event (and only then: no xenstore watch) reads the state
 * and generation. Exits 0 once it has read each STATE in order, each after
 * an event; 124 after SECONDS without that; 1 on an error.
 *
 *   e2e-follow [--timeout SECONDS] BRIDGE STATE...
 *
 * Prints "bound PORT", then "event STATE/GENERATION" per event. A daemon that
 * changed the node without notifying the port leaves it waiting: the test
 * (tests/e2e/run-systemd) then fails at the step's timeout.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenevtchn.h>
#include <xenstore.h>

#include "xenready-guest.h"

static char *read_key(struct xs_handle *xs, const char *bridge, const char *key)
{
    char path[128];
    unsigned int length;
    snprintf(path, sizeof(path), "%s/%s/%s", XENREADY_DIRECTORY, bridge, key);
    return xs_read(xs, XBT_NULL, path, &length);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double timeout = 90;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--timeout") == 0) {
        timeout = atof(argv[2]);
        first = 3;
    }
    if (argc - first < 2) {
        fprintf(stderr, "usage: e2e-follow [--timeout SECONDS] BRIDGE STATE...\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *bridge = argv[first];
    char **wanted = argv + first + 1;
    int wanted_count = argc - first - 1, seen = 0;

    struct xs_handle *xs = xs_open(0);
    xenevtchn_handle *evtchn = xenevtchn_open(NULL, 0);
    if (!xs || !evtchn) {
        fprintf(stderr, "e2e-follow: cannot open xenstore or the event channel device: %s\n",
                strerror(errno));
        return 1;
    }
    char *port_text = read_key(xs, bridge, XENREADY_KEY_EVENT_CHANNEL);
    char *backend_text = read_key(xs, bridge, XENREADY_KEY_BACKEND_ID);
    if (!port_text || !backend_text) {
        fprintf(stderr, "e2e-follow: %s has no event channel published\n", bridge);
        return 1;
    }
    xenevtchn_port_or_error_t local = xenevtchn_bind_interdomain(
        evtchn, (uint32_t)strtoul(backend_text, NULL, 10), (evtchn_port_t)strtoul(port_text, NULL, 10));
    if (local < 0) {
        fprintf(stderr, "e2e-follow: cannot bind port %s of domain %s: %s\n", port_text,
                backend_text, strerror(errno));
        return 1;
    }
    printf("bound %s of domain %s as %d\n", port_text, backend_text, local);
    free(port_text);
    free(backend_text);

    /* Xen raises an event right after the bind: the first event and the
     * first read mean nothing about a change, and are skipped for what
     * follows (the state is read at each event, so none is missed). */
    struct pollfd poll_fd = {.fd = xenevtchn_fd(evtchn), .events = POLLIN};
    double deadline = now() + timeout;
    int events = 0;
    while (seen < wanted_count) {
        double left = deadline - now();
        if (left <= 0) {
            printf("timeout: read %d of %d states\n", seen, wanted_count);
            return 124;
        }
        int r = poll(&poll_fd, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno != EINTR)
            return 1;
        if (r <= 0)
            continue;
        xenevtchn_port_or_error_t port = xenevtchn_pending(evtchn);
        if (port < 0)
            continue;
        xenevtchn_unmask(evtchn, (evtchn_port_t)port);
        char *state = read_key(xs, bridge, XENREADY_KEY_STATE);
        char *generation = read_key(xs, bridge, XENREADY_KEY_GENERATION);
        printf("event %s/%s%s\n", state ? state : "-", generation ? generation : "-",
               events++ == 0 ? " (the bind's own)" : "");
        if (events > 1 && state && strcmp(state, wanted[seen]) == 0)
            seen++;
        free(state);
        free(generation);
    }
    printf("followed:");
    for (int i = 0; i < wanted_count; i++)
        printf(" %s", wanted[i]);
    printf("\n");
    return 0;
}
