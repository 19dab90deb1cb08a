// SPDX-License-Identifier: GPL-2.0-or-later
#include "signal-slot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "signaller.h"
#include "util/log.h"
#include "util/model-log.h"

void signal_slots_init(struct signal_slots *slots, const struct signal_slot_ops *ops,
                       void *signaller)
{
    *slots = (struct signal_slots){.ops = ops, .signaller = signaller};
}

static void slot_free(struct signal_slots *slots, struct signal_slot *slot)
{
    if (!slot->bridge)
        return;
    if (slots->ops->release)
        slots->ops->release(slots->signaller, slot);
    free(slot->target);
    free(slot->error);
    *slot = (struct signal_slot){.port = -1, .shown = -1};
}

void signal_slots_abort(struct signal_slots *slots)
{
    for (size_t i = 0; i < slots->staged_count; i++)
        if (slots->staged[i].fresh)
            slot_free(slots, &slots->staged[i]);
    free(slots->staged);
    free(slots->taken);
    slots->staged = NULL;
    slots->taken = NULL;
    slots->staged_count = 0;
}

/* The running slot that serves the bridge called bridge->name as it is. */
static struct signal_slot *running_slot(struct signal_slots *slots, const struct bridge *bridge)
{
    const struct bridge *old = slots->model ? model_find_bridge(slots->model, bridge->name) : NULL;
    if (!old || old->index >= slots->count || !slots->slots[old->index].bridge
        || slots->taken[old->index] || !slots->ops->same(old, bridge))
        return NULL;
    return &slots->slots[old->index];
}

int signal_slots_stage(struct signal_slots *slots, struct model *model, bool strict)
{
    signal_slots_abort(slots);
    slots->staged_model = model;
    if (model->bridge_count && !(slots->staged = calloc(model->bridge_count,
                                                        sizeof(*slots->staged))))
        return -ENOMEM;
    slots->staged_count = model->bridge_count;
    if (slots->count && !(slots->taken = calloc(slots->count, sizeof(*slots->taken)))) {
        signal_slots_abort(slots);
        return -ENOMEM;
    }
    for (size_t i = 0; i < model->bridge_count; i++)
        slots->staged[i] = (struct signal_slot){.port = -1, .shown = -1};
    for (size_t i = 0; i < model->bridge_count; i++) {
        struct bridge *bridge = model->bridges[i];
        if (!(bridge->signal_methods & slots->ops->method))
            continue;
        struct signal_slot *slot = &slots->staged[bridge->index];
        struct signal_slot *kept = running_slot(slots, bridge);
        if (kept) {
            slots->taken[kept - slots->slots] = true;
            *slot = *kept;
            slot->bridge = bridge;
            continue;
        }
        *slot = (struct signal_slot){.bridge = bridge, .port = -1, .shown = -1, .fresh = true,
                                     .target = slots->ops->target(bridge)};
        int r = slot->target ? 0 : -ENOMEM;
        if (r == 0 && slots->ops->acquire)
            r = slots->ops->acquire(slots->signaller, slot, strict);
        if (r < 0) {
            signal_slots_abort(slots);
            return r;
        }
    }
    return 0;
}

void signal_slots_commit(struct signal_slots *slots)
{
    for (size_t i = 0; i < slots->count; i++)
        if (!slots->taken || !slots->taken[i])
            slot_free(slots, &slots->slots[i]);
    free(slots->slots);
    free(slots->taken);
    slots->slots = slots->staged;
    slots->count = slots->staged_count;
    slots->model = slots->staged_model;
    slots->staged = NULL;
    slots->taken = NULL;
    slots->staged_count = 0;
}

void signal_slots_clear(struct signal_slots *slots)
{
    signal_slots_abort(slots);
    for (size_t i = 0; i < slots->count; i++)
        slot_free(slots, &slots->slots[i]);
    free(slots->slots);
    slots->slots = NULL;
    slots->count = 0;
}

struct signal_slot *signal_slots_find(struct signal_slots *slots, const struct bridge *bridge)
{
    if (bridge->index >= slots->count || slots->slots[bridge->index].bridge != bridge)
        return NULL;
    return &slots->slots[bridge->index];
}

bool signal_slots_used(const struct signal_slots *slots)
{
    for (size_t i = 0; i < slots->count; i++)
        if (slots->slots[i].bridge)
            return true;
    for (size_t i = 0; i < slots->staged_count; i++)
        if (slots->staged[i].bridge)
            return true;
    return false;
}

int signal_slots_report(struct signal_slots *slots, const struct bridge *bridge,
                        const char *method, struct signal_report *out)
{
    struct signal_slot *slot = signal_slots_find(slots, bridge);
    if (!slot)
        return -ENOENT;
    *out = (struct signal_report){.method = method, .target = slot->target, .error = slot->error};
    return 0;
}

void signal_slot_fail(struct signal_slot *slot, int priority, const char *format, ...)
{
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    if (slot->error && strcmp(slot->error, text) == 0)
        return;
    free(slot->error);
    slot->error = strdup(text);
    log_bridge(priority, slot->bridge, NULL, "bridge %s: %s", slot->bridge->name, text);
}

void signal_slot_succeed(struct signal_slot *slot, const char *method)
{
    if (!slot->error)
        return;
    log_bridge(LOG_NOTICE, slot->bridge, NULL, "bridge %s: signal %s works again",
               slot->bridge->name, method);
    free(slot->error);
    slot->error = NULL;
}
