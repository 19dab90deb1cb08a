// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * signal = static-evtchn. Dom0less systems without xenstore connect DomD and
 * the frontend with a static event channel from the host device tree
 * ("xen,evtchn-v1", Xen 4.17+); DomD binds its configured local port with
 * IOCTL_EVTCHN_BIND_STATIC. A notification carries no data, so it can only
 * mean "ready": it is sent when the bridge is ready at the first scan and at
 * every transition to ready. A withdrawal cannot be expressed: it is logged
 * and nothing is sent.
 */
#include "evtchn-signaller.h"

#include <errno.h>
#include <ev.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "evtchn-device.h"
#include "signal-slot.h"
#include "signaller.h"
#include "util/log.h"
#include "xen/evtchn.h"

struct static_evtchn_signaller {
    struct signaller signaller;
    struct ev_loop *loop;
    struct evtchn_device device;
    struct signal_slots slots;
};

static struct static_evtchn_signaller *to_static(struct signaller *signaller)
{
    return (struct static_evtchn_signaller *)signaller;
}

/* Binds the configured port once; returns 0 when it is bound. */
static int slot_bind(struct static_evtchn_signaller *signaller, struct signal_slot *slot)
{
    if (slot->port >= 0)
        return 0;
    unsigned int port = slot->bridge->static_evtchn_port;
    struct evtchn *evtchn = evtchn_device_get(&signaller->device, slot);
    if (!evtchn)
        return signaller->device.open_error;
    int r = evtchn_bind_static(evtchn, port);
    if (r < 0) {
        signal_slot_fail(slot, LOG_ERR,
                         "cannot bind static event channel %u: %s (the host device tree must "
                         "provide it as xen,evtchn-v1; the kernel needs Linux 6.5 or later)",
                         port, strerror(-r));
        return r;
    }
    slot->port = (int)port;
    log_bridge(LOG_INFO, slot->bridge, NULL, "bridge %s: static event channel %u bound",
               slot->bridge->name, port);
    signal_slot_succeed(slot, "static-evtchn");
    return 0;
}

static void slot_signal(struct static_evtchn_signaller *signaller, struct signal_slot *slot)
{
    if (slot_bind(signaller, slot) < 0)
        return;
    if (slot->bridge->state != BRIDGE_READY) {
        log_bridge(LOG_NOTICE, slot->bridge, NULL,
                   "bridge %s: not ready any more; static event channel %d cannot say so, "
                   "nothing sent", slot->bridge->name, slot->port);
        return;
    }
    int r = evtchn_notify(signaller->device.evtchn, (unsigned int)slot->port);
    if (r < 0) {
        signal_slot_fail(slot, LOG_ERR, "cannot notify static event channel %d: %s", slot->port,
                         strerror(-r));
        return;
    }
    signal_slot_succeed(slot, "static-evtchn");
}

static int static_evtchn_add_bridge(struct signaller *base, struct bridge *bridge)
{
    return signal_slots_add(&to_static(base)->slots, bridge, "static event channel %u",
                            bridge->static_evtchn_port);
}

static int static_evtchn_start(struct signaller *base)
{
    struct static_evtchn_signaller *signaller = to_static(base);
    if (!signal_slots_used(&signaller->slots))
        return 0;
    evtchn_device_open(&signaller->device, signaller->loop, "static port");
    for (size_t i = 0; i < signaller->slots.count; i++) {
        struct signal_slot *slot = &signaller->slots.slots[i];
        if (!slot->bridge || slot_bind(signaller, slot) < 0)
            continue;
        /* A frontend waiting since before we started learns it here. */
        if (slot->bridge->state == BRIDGE_READY)
            slot_signal(signaller, slot);
    }
    return 0;
}

static void static_evtchn_publish(struct signaller *base, struct bridge *bridge)
{
    struct static_evtchn_signaller *signaller = to_static(base);
    struct signal_slot *slot = signal_slots_find(&signaller->slots, bridge);
    if (slot)
        slot_signal(signaller, slot);
}

static int static_evtchn_report(struct signaller *base, const struct bridge *bridge,
                                struct signal_report *out)
{
    return signal_slots_report(&to_static(base)->slots, bridge, "static-evtchn", out);
}

static void static_evtchn_free(struct signaller *base)
{
    struct static_evtchn_signaller *signaller = to_static(base);
    evtchn_device_close(&signaller->device);
    signal_slots_clear(&signaller->slots);
    free(signaller);
}

static const struct signaller_ops static_evtchn_signaller_ops = {
    .name = "static-evtchn",
    .add_bridge = static_evtchn_add_bridge,
    .start = static_evtchn_start,
    .publish = static_evtchn_publish,
    .report = static_evtchn_report,
    .free = static_evtchn_free,
};

int static_evtchn_signaller_new(struct signaller **out, struct ev_loop *loop)
{
    struct static_evtchn_signaller *signaller = calloc(1, sizeof(*signaller));
    if (!signaller)
        return -ENOMEM;
    signaller->signaller.ops = &static_evtchn_signaller_ops;
    signaller->loop = loop;
    *out = &signaller->signaller;
    return 0;
}
