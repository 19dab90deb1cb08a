// SPDX-License-Identifier: GPL-2.0-or-later
#include "bridge-timeout.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/model.h"
#include "util/log.h"
#include "util/model-log.h"

struct bridge_timer {
    struct bridge_timeouts *owner;
    struct bridge *bridge;
    ev_timer timer;
};

struct bridge_timeouts {
    struct ev_loop *loop;
    struct model *model;
    bridge_timeouts_fn on_change;
    void *userdata;
    struct bridge_timer *timers;
    size_t count;
};

static void bridge_on_timeout(struct ev_loop *loop, ev_timer *timer, int revents)
{
    struct bridge_timer *entry = timer->data;
    struct bridge *bridge = entry->bridge;
    /* Only a bridge that has never been ready since start-up: one that was
     * ready and lost a backend is a withdrawal, logged as such. */
    if (bridge->state != BRIDGE_WAITING || bridge->been_ready || bridge->degraded)
        return;
    char missing[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < bridge->backend_count && used < sizeof(missing); i++)
        if (!bridge->backends[i]->ready)
            used += (size_t)snprintf(missing + used, sizeof(missing) - used, "%s%s",
                                     used ? " " : "", bridge->backends[i]->name);
    model_set_bridge_degraded(entry->owner->model, bridge, true);
    bool let_go = (bridge->signal_methods & SIGNAL_UNPAUSE) && bridge->unpause_on_timeout;
    log_bridge(LOG_WARNING, bridge, NULL,
               "bridge %s (frontend %s, domid %u) degraded: still waiting after %u s for %s; %s",
               bridge->name, bridge->frontend->name, bridge->frontend->domid,
               bridge->timeout_seconds, missing,
               let_go ? "it no longer holds the guest paused (unpause-on-timeout = yes)"
                      : "the guest keeps waiting");
    if (entry->owner->on_change)
        entry->owner->on_change(bridge, entry->owner->userdata);
}

int bridge_timeouts_new(struct bridge_timeouts **out, struct ev_loop *loop, struct model *model,
                        bridge_timeouts_fn on_change, void *userdata)
{
    struct bridge_timeouts *timeouts = calloc(1, sizeof(*timeouts));
    if (!timeouts)
        return -ENOMEM;
    *timeouts = (struct bridge_timeouts){.loop = loop, .model = model, .on_change = on_change,
                                         .userdata = userdata};
    if (model->bridge_count
        && !(timeouts->timers = calloc(model->bridge_count, sizeof(*timeouts->timers)))) {
        free(timeouts);
        return -ENOMEM;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t now_usec = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
    for (size_t i = 0; i < model->bridge_count; i++) {
        struct bridge *bridge = model->bridges[i];
        if (!bridge->timeout_seconds)
            continue;
        /* From the first time the bridge was configured with this timeout:
         * a reload does not start it again. */
        if (!bridge->timeout_deadline_usec)
            bridge->timeout_deadline_usec = now_usec + (uint64_t)bridge->timeout_seconds * 1000000u;
        if (bridge->state == BRIDGE_READY || bridge->been_ready || bridge->degraded)
            continue;
        uint64_t left = bridge->timeout_deadline_usec > now_usec
                            ? bridge->timeout_deadline_usec - now_usec
                            : 0;
        struct bridge_timer *entry = &timeouts->timers[timeouts->count++];
        *entry = (struct bridge_timer){.owner = timeouts, .bridge = bridge};
        ev_timer_init(&entry->timer, bridge_on_timeout, (double)left / 1e6, 0.);
        entry->timer.data = entry;
        ev_timer_start(loop, &entry->timer);
    }
    *out = timeouts;
    return 0;
}

void bridge_timeouts_free(struct bridge_timeouts *timeouts)
{
    if (!timeouts)
        return;
    for (size_t i = 0; i < timeouts->count; i++)
        ev_timer_stop(timeouts->loop, &timeouts->timers[i].timer);
    free(timeouts->timers);
    free(timeouts);
}
