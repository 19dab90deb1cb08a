// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The event channel device as the evtchn and static-evtchn signallers hold
 * it: opened at start only when a bridge uses the method, its events from
 * frontends read and ignored, and an open failure survived and reported on
 * each bridge that needs the device.
 */
#pragma once

#include <ev.h>

struct signal_slot;

struct evtchn_device {
    struct ev_loop *loop;
    struct evtchn *evtchn;   /* NULL until opened, or when it cannot be */
    int open_error;
    ev_io io;
    const char *what;        /* how the log names its ports: "port", "static port" */
};

/* Opens the device and listens on it. A failure is kept, not returned: the
 * daemon goes on, and evtchn_device_get() reports it per bridge. */
void evtchn_device_open(struct evtchn_device *device, struct ev_loop *loop, const char *what);
/* The open handle, or NULL after recording on slot why there is none. */
struct evtchn *evtchn_device_get(struct evtchn_device *device, struct signal_slot *slot);
/* Unbinds every port bound through the device. Safe on a device never opened. */
void evtchn_device_close(struct evtchn_device *device);
