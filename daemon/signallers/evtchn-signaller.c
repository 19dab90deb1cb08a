// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * signal = evtchn. Per bridge, an unbound port for the frontend
 * (xenevtchn_bind_unbound_port), its number written to the bridge's node as
 * "event-channel", and a notification after every published state change.
 * The port is written before anything is notified on it, and written again
 * (even when the number is the same) every time a port is bound, so a guest
 * watching the key re-binds after a daemon restart or a domain re-creation.
 */
#include "evtchn-signaller.h"

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

static struct evtchn_signaller *to_evtchn_signaller(struct signaller *signaller)
{
    return (struct evtchn_signaller *)signaller;
}

/* Binds a port for the slot's frontend unless one is bound, and publishes
 * it unless that was done: each write of the key tells the guest to bind
 * again. Returns 0 when the frontend can now be notified. */
static int slot_establish(struct evtchn_signaller *signaller, struct signal_slot *slot)
{
    unsigned int frontend = slot->bridge->frontend->domid;
    struct evtchn *evtchn = evtchn_device_get(&signaller->device, slot);
    if (!evtchn)
        return signaller->device.open_error;
    bool fresh = false;
    if (slot->port < 0) {
        int port = evtchn_bind_unbound_port(evtchn, frontend);
        if (port < 0) {
            signal_slot_fail(slot, LOG_ERR, "cannot bind an event channel for domain %u: %s",
                             frontend, strerror(-port));
            return port;
        }
        slot->port = port;
        slot->published = false;
        fresh = true;
    }
    if (slot->published)
        return 0;
    char value[16];
    snprintf(value, sizeof(value), "%d", slot->port);
    int r = xenstore_write(signaller->xenstore, slot->target, value);
    if (r < 0) {
        signal_slot_fail(slot, LOG_ERR, "cannot publish event channel %d at %s: %s", slot->port,
                         slot->target, strerror(-r));
        return r;
    }
    slot->published = true;
    if (fresh)
        log_bridge(LOG_INFO, slot->bridge, NULL, "bridge %s: event channel port %d for domain %u "
                   "published at %s", slot->bridge->name, slot->port, frontend, slot->target);
    signal_slot_succeed(slot, "evtchn");
    return 0;
}

static void slot_drop(struct evtchn_signaller *signaller, struct signal_slot *slot)
{
    if (slot->port < 0)
        return;
    int r = evtchn_unbind(signaller->device.evtchn, (unsigned int)slot->port);
    log_bridge(r < 0 ? LOG_WARNING : LOG_INFO, slot->bridge, NULL,
               "bridge %s: domain %u is gone; event channel port %d unbound%s%s",
               slot->bridge->name, slot->bridge->frontend->domid, slot->port,
               r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
    slot->port = -1;
}

static int evtchn_signaller_add_bridge(struct signaller *base, struct bridge *bridge)
{
    return signal_slots_add(&to_evtchn_signaller(base)->slots, bridge, "/local/domain/%u/%s/%s/%s",
                            bridge->frontend->domid, XENREADY_DIRECTORY, bridge->id,
                            XENREADY_KEY_EVENT_CHANNEL);
}

static int evtchn_signaller_start(struct signaller *base)
{
    struct evtchn_signaller *signaller = to_evtchn_signaller(base);
    if (!signal_slots_used(&signaller->slots))
        return 0;
    /* Without the device the xenstore node still works; status says why. */
    evtchn_device_open(&signaller->device, signaller->loop, "port");
    for (size_t i = 0; i < signaller->slots.count; i++) {
        struct signal_slot *slot = &signaller->slots.slots[i];
        if (slot->bridge && !slot->bridge->frontend->absent)
            slot_establish(signaller, slot);
    }
    return 0;
}

static void evtchn_signaller_publish(struct signaller *base, struct bridge *bridge)
{
    struct evtchn_signaller *signaller = to_evtchn_signaller(base);
    struct signal_slot *slot = signal_slots_find(&signaller->slots, bridge);
    /* A frontend without a home gets its channel when it comes back. */
    if (!slot || slot->bridge->frontend->absent || slot_establish(signaller, slot) < 0)
        return;
    int r = evtchn_notify(signaller->device.evtchn, (unsigned int)slot->port);
    if (r < 0)
        signal_slot_fail(slot, LOG_ERR, "cannot notify event channel port %d: %s", slot->port,
                         strerror(-r));
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
        if (present)
            slot_establish(signaller, slot);
        else
            slot_drop(signaller, slot);
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
    evtchn_device_close(&signaller->device);
    signal_slots_clear(&signaller->slots);
    free(signaller);
}

static const struct signaller_ops evtchn_signaller_ops = {
    .name = "evtchn",
    .add_bridge = evtchn_signaller_add_bridge,
    .start = evtchn_signaller_start,
    .publish = evtchn_signaller_publish,
    .report = evtchn_signaller_report,
    .free = evtchn_signaller_free,
    .frontend_changed = evtchn_signaller_frontend_changed,
    .refresh = evtchn_signaller_refresh,
    .retry = evtchn_signaller_retry,
};

int evtchn_signaller_new(struct signaller **out, struct ev_loop *loop, struct xenstore *xenstore)
{
    struct evtchn_signaller *signaller = calloc(1, sizeof(*signaller));
    if (!signaller)
        return -ENOMEM;
    signaller->signaller.ops = &evtchn_signaller_ops;
    signaller->loop = loop;
    signaller->xenstore = xenstore;
    *out = &signaller->signaller;
    return 0;
}
