// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * signal = evtchn. Per bridge, an unbound port for the frontend
 * (xenevtchn_bind_unbound_port), its number written to the bridge's node as
 * "event-channel", and a notification after every published state change.
 * The port is written before anything is notified on it, and written again
 * (even when the number is the same) every time a port is bound, so a guest
 * watching the key re-binds after a daemon restart or a domain re-creation.
 */
#include <errno.h>
#include <ev.h>
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
#include "xen/xenstore.h"
#include "xenready-guest.h"

struct evtchn_signaller {
    struct signaller signaller;
    struct ev_loop *loop;
    struct xenstore *xenstore;
    struct evtchn_device device;
    struct signal_slots slots;
};

/* Binds a port for the slot's frontend unless one is bound; returns 0 or
 * why not (kept on the slot for status). */
static int slot_bind(struct evtchn_signaller *signaller, struct signal_slot *slot)
{
    if (slot->port >= 0)
        return 0;
    unsigned int frontend = slot->bridge->frontend->domid;
    if (!signaller->device.evtchn)
        evtchn_device_open(&signaller->device, signaller->loop, "port");
    struct evtchn *evtchn = evtchn_device_get(&signaller->device, slot);
    if (!evtchn)
        return signaller->device.open_error;
    int port = evtchn_bind_unbound_port(evtchn, frontend);
    if (port < 0) {
        signal_slot_fail(slot, LOG_ERR, "cannot bind an event channel for domain %u: %s",
                         frontend, strerror(-port));
        return port;
    }
    slot->port = port;
    slot->published = false;
    log_bridge(LOG_INFO, slot->bridge, NULL, "bridge %s: event channel port %d bound for domain %u",
               slot->bridge->name, port, frontend);
    return 0;
}

static struct evtchn_signaller *to_evtchn_signaller(struct signaller *signaller)
{
    return (struct evtchn_signaller *)signaller;
}

/* Binds a port for the slot's frontend unless one is bound, and publishes
 * it unless that was done: each write of the key tells the guest to bind
 * again. Returns 0 when the frontend can now be notified. */
static int slot_establish(struct evtchn_signaller *signaller, struct signal_slot *slot)
{
    int r = slot_bind(signaller, slot);
    if (r < 0)
        return r;
    if (slot->published)
        return 0;
    char value[16];
    snprintf(value, sizeof(value), "%d", slot->port);
    r = xenstore_write(signaller->xenstore, slot->target, value);
    if (r < 0) {
        signal_slot_fail(slot, LOG_ERR, "cannot publish event channel %d at %s: %s", slot->port,
                         slot->target, strerror(-r));
        return r;
    }
    slot->published = true;
    signal_slot_succeed(slot, "evtchn");
    return 0;
}

static bool slot_same(const struct bridge *old, const struct bridge *bridge)
{
    return old->frontend->domid == bridge->frontend->domid && strcmp(old->id, bridge->id) == 0;
}

static char *slot_target(const struct bridge *bridge)
{
    char *target = NULL;
    if (asprintf(&target, "/local/domain/%u/%s/%s/%s", bridge->frontend->domid,
                 XENREADY_DIRECTORY, bridge->id, XENREADY_KEY_EVENT_CHANNEL) < 0)
        return NULL;
    return target;
}

/* A new bridge's port is bound now (a reload fails without it); written to
 * its node by start(). A frontend without a home gets one when it is back. */
static int slot_acquire(void *pointer, struct signal_slot *slot, bool strict)
{
    struct evtchn_signaller *signaller = pointer;
    if (slot->bridge->frontend->absent)
        return 0;
    int r = slot_bind(signaller, slot);
    return strict ? r : 0;
}

static void slot_release(void *pointer, struct signal_slot *slot)
{
    struct evtchn_signaller *signaller = pointer;
    if (slot->port < 0 || !signaller->device.evtchn)
        return;
    int r = evtchn_unbind(signaller->device.evtchn, (unsigned int)slot->port);
    log_bridge(r < 0 ? LOG_WARNING : LOG_INFO, slot->bridge, NULL,
               "bridge %s: event channel port %d unbound%s%s", slot->bridge->name, slot->port,
               r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
    slot->port = -1;
}

static const struct signal_slot_ops evtchn_slot_ops = {
    .method = SIGNAL_EVTCHN,
    .same = slot_same,
    .target = slot_target,
    .acquire = slot_acquire,
    .release = slot_release,
};

static int evtchn_signaller_stage(struct signaller *base, struct model *model, bool strict)
{
    return signal_slots_stage(&to_evtchn_signaller(base)->slots, model, strict);
}

static void evtchn_signaller_commit(struct signaller *base)
{
    signal_slots_commit(&to_evtchn_signaller(base)->slots);
}

static void evtchn_signaller_abort(struct signaller *base)
{
    signal_slots_abort(&to_evtchn_signaller(base)->slots);
}

/* New bridges' ports are written to their nodes (the xenstore signaller
 * made them first); nothing is notified: the guest binds when it reads the
 * key, and Xen raises an event on its end then. */
static void evtchn_signaller_start(struct signaller *base)
{
    struct evtchn_signaller *signaller = to_evtchn_signaller(base);
    for (size_t i = 0; i < signaller->slots.count; i++) {
        struct signal_slot *slot = &signaller->slots.slots[i];
        if (!slot->bridge || !slot->fresh)
            continue;
        slot->fresh = false;
        slot->shown = (int)slot->bridge->state;
        if (!slot->bridge->frontend->absent)
            slot_establish(signaller, slot);
    }
}

static void evtchn_signaller_publish(struct signaller *base, struct bridge *bridge)
{
    struct evtchn_signaller *signaller = to_evtchn_signaller(base);
    struct signal_slot *slot = signal_slots_find(&signaller->slots, bridge);
    /* A frontend without a home gets its channel when it comes back. */
    if (!slot || slot->bridge->frontend->absent || slot_establish(signaller, slot) < 0
        || slot->shown == (int)bridge->state)
        return;
    int r = evtchn_notify(signaller->device.evtchn, (unsigned int)slot->port);
    if (r < 0) {
        signal_slot_fail(slot, LOG_ERR, "cannot notify event channel port %d: %s", slot->port,
                         strerror(-r));
        return;
    }
    slot->shown = (int)bridge->state;
}

static int evtchn_signaller_report(struct signaller *base, const struct bridge *bridge,
                                   struct signal_report *out)
{
    return signal_slots_report(&to_evtchn_signaller(base)->slots, bridge, "evtchn", out);
}

static void evtchn_signaller_frontend_changed(struct signaller *base, struct frontend *frontend,
                                              bool present)
{
    struct evtchn_signaller *signaller = to_evtchn_signaller(base);
    for (size_t i = 0; i < signaller->slots.count; i++) {
        struct signal_slot *slot = &signaller->slots.slots[i];
        if (!slot->bridge || slot->bridge->frontend != frontend)
            continue;
        /* A new domain has a new node: the port is written again. */
        slot->published = false;
        if (present) {
            slot->shown = (int)slot->bridge->state;
            slot_establish(signaller, slot);
        } else if (slot->port >= 0) {
            log_bridge(LOG_INFO, slot->bridge, NULL, "bridge %s: domain %u is gone",
                       slot->bridge->name, frontend->domid);
            slot_release(signaller, slot);
        }
    }
}

/* The node was made again, or its event-channel key changed: the key is
 * written again (a new binding for the guest) only when it no longer holds
 * our port; our own writes come back here and change nothing. */
static void evtchn_signaller_refresh(struct signaller *base, struct bridge *bridge)
{
    struct evtchn_signaller *signaller = to_evtchn_signaller(base);
    struct signal_slot *slot = signal_slots_find(&signaller->slots, bridge);
    if (!slot || slot->bridge->frontend->absent || slot->port < 0)
        return;
    if (slot->published) {
        char port[16], *value = NULL;
        unsigned int length;
        snprintf(port, sizeof(port), "%d", slot->port);
        int r = xenstore_read(signaller->xenstore, slot->target, &value, &length);
        bool holds = r == 0 && strcmp(value, port) == 0;
        free(value);
        if (holds || (r < 0 && r != -ENOENT))
            return;
        log_bridge(LOG_NOTICE, slot->bridge, NULL, "bridge %s: %s no longer holds port %d; "
                   "writing it again", slot->bridge->name, slot->target, slot->port);
    }
    slot->published = false;
    slot_establish(signaller, slot);
}

/* A port whose number could not be written (xenstored had no room). */
static int evtchn_signaller_retry(struct signaller *base)
{
    struct evtchn_signaller *signaller = to_evtchn_signaller(base);
    for (size_t i = 0; i < signaller->slots.count; i++) {
        struct signal_slot *slot = &signaller->slots.slots[i];
        if (!slot->bridge || slot->bridge->frontend->absent || slot->port < 0 || slot->published)
            continue;
        int r = slot_establish(signaller, slot);
        if (r < 0 && xenstore_error_is_room(r))
            return r;
    }
    return 0;
}

static void evtchn_signaller_free(struct signaller *base)
{
    struct evtchn_signaller *signaller = to_evtchn_signaller(base);
    /* Closing the device unbinds every port at once. */
    evtchn_device_close(&signaller->device);
    signal_slots_clear(&signaller->slots);
    free(signaller);
}

static const struct signaller_ops evtchn_signaller_ops = {
    .name = "evtchn",
    .stage = evtchn_signaller_stage,
    .commit = evtchn_signaller_commit,
    .abort = evtchn_signaller_abort,
    .start = evtchn_signaller_start,
    .publish = evtchn_signaller_publish,
    .report = evtchn_signaller_report,
    .free = evtchn_signaller_free,
    .frontend_changed = evtchn_signaller_frontend_changed,
    .refresh = evtchn_signaller_refresh,
    .retry = evtchn_signaller_retry,
};

static int evtchn_signaller_new(struct signaller **out, const struct signaller_context *context)
{
    struct evtchn_signaller *signaller = calloc(1, sizeof(*signaller));
    if (!signaller)
        return -ENOMEM;
    signaller->signaller.ops = &evtchn_signaller_ops;
    signaller->loop = context->loop;
    signaller->xenstore = context->xenstore;
    signal_slots_init(&signaller->slots, &evtchn_slot_ops, signaller);
    *out = &signaller->signaller;
    return 0;
}

/* signal = evtchn: a dynamic event channel per bridge, its port published as
 * XENREADY_KEY_EVENT_CHANNEL in the bridge's xenstore node (which the
 * xenstore signaller, started first, creates). */
const struct signaller_type evtchn_signaller_type = {
    .name = "evtchn",
    .bit = SIGNAL_EVTCHN,
    .needs_xenstore = true,
    .create = evtchn_signaller_new,
};
