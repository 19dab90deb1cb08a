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
#include <errno.h>
#include <ev.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "evtchn-device.h"
#include "signal-slot.h"
#include "signaller.h"
#include "util/log.h"
#include "util/model-log.h"
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
    if (!signaller->device.evtchn)
        evtchn_device_open(&signaller->device, signaller->loop, "static port");
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

/* Once per change of the bridge's state: a notification for "ready". */
static void slot_signal(struct static_evtchn_signaller *signaller, struct signal_slot *slot)
{
    if (slot_bind(signaller, slot) < 0 || slot->shown == (int)slot->bridge->state)
        return;
    if (slot->bridge->state != BRIDGE_READY) {
        if (slot->shown >= 0)
            log_bridge(LOG_NOTICE, slot->bridge, NULL,
                       "bridge %s: not ready any more; static event channel %d cannot say so, "
                       "nothing sent", slot->bridge->name, slot->port);
        slot->shown = BRIDGE_WAITING;
        return;
    }
    int r = evtchn_notify(signaller->device.evtchn, (unsigned int)slot->port);
    if (r < 0) {
        signal_slot_fail(slot, LOG_ERR, "cannot notify static event channel %d: %s", slot->port,
                         strerror(-r));
        return;
    }
    slot->shown = BRIDGE_READY;
    signal_slot_succeed(slot, "static-evtchn");
}

static bool slot_same(const struct bridge *old, const struct bridge *bridge)
{
    return old->static_evtchn_port == bridge->static_evtchn_port;
}

static char *slot_target(const struct bridge *bridge)
{
    char *target = NULL;
    if (asprintf(&target, "static event channel %u", bridge->static_evtchn_port) < 0)
        return NULL;
    return target;
}

/* A new bridge's channel is bound now: a reload fails without it. */
static int slot_acquire(void *pointer, struct signal_slot *slot, bool strict)
{
    int r = slot_bind(pointer, slot);
    return strict ? r : 0;
}

static void slot_release(void *pointer, struct signal_slot *slot)
{
    struct static_evtchn_signaller *signaller = pointer;
    if (slot->port < 0 || !signaller->device.evtchn)
        return;
    int r = evtchn_unbind(signaller->device.evtchn, (unsigned int)slot->port);
    log_bridge(r < 0 ? LOG_WARNING : LOG_INFO, slot->bridge, NULL,
               "bridge %s: static event channel %d unbound%s%s", slot->bridge->name, slot->port,
               r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
    slot->port = -1;
}

static const struct signal_slot_ops static_slot_ops = {
    .method = SIGNAL_STATIC_EVTCHN,
    .same = slot_same,
    .target = slot_target,
    .acquire = slot_acquire,
    .release = slot_release,
};

static int static_evtchn_stage(struct signaller *base, struct model *model, bool strict)
{
    return signal_slots_stage(&to_static(base)->slots, model, strict);
}

static void static_evtchn_commit(struct signaller *base)
{
    signal_slots_commit(&to_static(base)->slots);
}

static void static_evtchn_abort(struct signaller *base)
{
    signal_slots_abort(&to_static(base)->slots);
}

/* A frontend waiting since before the bridge was configured (or the daemon
 * started) learns it here: a new slot of a ready bridge is notified. */
static void static_evtchn_start(struct signaller *base)
{
    struct static_evtchn_signaller *signaller = to_static(base);
    for (size_t i = 0; i < signaller->slots.count; i++) {
        struct signal_slot *slot = &signaller->slots.slots[i];
        if (!slot->bridge || !slot->fresh)
            continue;
        slot->fresh = false;
        slot_signal(signaller, slot);
    }
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
    .stage = static_evtchn_stage,
    .commit = static_evtchn_commit,
    .abort = static_evtchn_abort,
    .start = static_evtchn_start,
    .publish = static_evtchn_publish,
    .report = static_evtchn_report,
    .free = static_evtchn_free,
};

static int static_evtchn_signaller_new(struct signaller **out,
                                       const struct signaller_context *context)
{
    struct static_evtchn_signaller *signaller = calloc(1, sizeof(*signaller));
    if (!signaller)
        return -ENOMEM;
    signaller->signaller.ops = &static_evtchn_signaller_ops;
    signaller->loop = context->loop;
    signal_slots_init(&signaller->slots, &static_slot_ops, signaller);
    *out = &signaller->signaller;
    return 0;
}

/* signal = static-evtchn: the bridge's configured static event channel is
 * notified when the bridge becomes ready (no state carrier, no withdrawal).
 * Needs no xenstore: it signals through an outage too. */
const struct signaller_type static_evtchn_signaller_type = {
    .name = "static-evtchn",
    .bit = SIGNAL_STATIC_EVTCHN,
    .create = static_evtchn_signaller_new,
};
