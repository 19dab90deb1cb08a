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

int signal_slots_add(struct signal_slots *slots, struct bridge *bridge, const char *target, ...)
{
    if (bridge->index >= slots->count) {
        size_t count = bridge->index + 1;
        struct signal_slot *grown = realloc(slots->slots, count * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        memset(grown + slots->count, 0, (count - slots->count) * sizeof(*grown));
        slots->slots = grown;
        slots->count = count;
    }
    struct signal_slot *slot = &slots->slots[bridge->index];
    *slot = (struct signal_slot){.bridge = bridge, .port = -1};
    va_list args;
    va_start(args, target);
    int r = vasprintf(&slot->target, target, args);
    va_end(args);
    if (r < 0) {
        *slot = (struct signal_slot){.port = -1};
        return -ENOMEM;
    }
    return 0;
}

struct signal_slot *signal_slots_find(struct signal_slots *slots, const struct bridge *bridge)
{
    if (bridge->index >= slots->count || !slots->slots[bridge->index].bridge)
        return NULL;
    return &slots->slots[bridge->index];
}

void signal_slots_clear(struct signal_slots *slots)
{
    for (size_t i = 0; i < slots->count; i++) {
        free(slots->slots[i].target);
        free(slots->slots[i].error);
    }
    free(slots->slots);
    *slots = (struct signal_slots){0};
}

bool signal_slots_used(const struct signal_slots *slots)
{
    for (size_t i = 0; i < slots->count; i++)
        if (slots->slots[i].bridge)
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
