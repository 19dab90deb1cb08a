// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Backends of every probe kind, driven the way their kind is, for tests that
 * need them all live at once (the flapping of every kind in check_faults, the
 * reload soak in check_lifecycle):
 *  - xenstore keys (written and removed by DomD);
 *  - vhost-user-like sockets: a real test-backend process started to listen,
 *    or SIGKILLed (the socket probe follows inotify and the holder's pidfd);
 *  - announcements: xenreadyctl ready/gone through the control socket;
 *  - units: the fake org.freedesktop.systemd1 on a private bus changes
 *    their ActiveState (up: active, reloading; down: inactive, activating,
 *    deactivating, failed) and sends PropertiesChanged; in a build without
 *    systemd, which has no unit probe, announced backends of the same names
 *    stand in for them;
 *  - the frontend's device model: device-model/5/state written "running",
 *    or removed or "paused";
 *  - pidfile liveness: a backend whose xenstore key says "running" for good
 *    (as QEMU's does) and whose pidfile names a real process, started (it
 *    writes the pidfile) or SIGKILLed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "daemon-runner.h"

enum kind { KIND_XENSTORE, KIND_SOCKET, KIND_ANNOUNCE, KIND_UNIT, KIND_DEVICE_MODEL,
            KIND_PIDFILE, KINDS };

extern const char *const mixed_kind_names[KINDS];

struct mixed_backend {
    const char *name;
    enum kind kind;
};

enum { MIXED_BACKENDS = 10, MIXED_BRIDGES = 7 };

extern const struct mixed_backend mixed_backends[MIXED_BACKENDS];
/* Which backends each bridge domu1/br<i> needs; every backend but u0 is
 * shared, and br6 needs four kinds at once. */
extern const char *const mixed_bridges[MIXED_BRIDGES];

/* The processes behind socket and pidfile backends, by backend, and the
 * fake systemd1 (u0.service and u1.service, inactive at first, and
 * u9.service for a configuration that adds one). */
struct mixed {
    struct harness *harness;
    struct daemon_runner *runner;
    struct xs_handle *domd;      /* writes DomD's keys */
    struct peer peers[MIXED_BACKENDS];
    struct fake_systemd fake_systemd;
    unsigned int unit_changes;   /* how many were made, to vary their signal */
};

/* Starts the fake systemd1; the caller gives runner->system_bus its address. */
void mixed_init(struct mixed *mixed, struct harness *harness, struct daemon_runner *runner,
                struct xs_handle *domd);
/* The configuration lines of unit backend name after its section header
 * (name.service on the fake systemd1, or the announced stand-in), in text. */
const char *mixed_unit_backend(const char *name, char *text, size_t size);
/* Brings unit backend name up or down (seed picks among the states that
 * mean the same, and so does the signal). */
void mixed_unit_set(struct mixed *mixed, const char *name, bool up, unsigned int *seed);
/* Ends the processes and the fake systemd1 (what runs of them). */
void mixed_stop(struct mixed *mixed);
/* Frontend domu1 (domid 5), every backend, and the bridges domu1/br0..br6
 * (malloc'd). */
char *mixed_config(const struct mixed *mixed);
/* Whether bridge br<bridge> is ready when up[k] says which backends are. */
bool mixed_truth(const bool up[MIXED_BACKENDS], int bridge);
/* The STATUS= the daemon sends when its view equals up: every waiting bridge
 * with the backends it misses, in configuration order. */
void mixed_status(const bool up[MIXED_BACKENDS], char *status, size_t size);
/* Brings backend k up or down the way its kind is; seed picks among the
 * values that mean the same. */
void mixed_set(struct mixed *mixed, int k, bool up, unsigned int *seed);
