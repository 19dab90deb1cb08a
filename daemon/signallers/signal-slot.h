// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-bridge bookkeeping shared by the event-channel and sysrq signallers:
 * a slot per bridge, indexed by bridge->index, with the last error kept for
 * status and logged once when it first appears or changes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct bridge;
struct signal_report;

struct signal_slot {
    struct bridge *bridge;   /* NULL: this signaller does not serve the bridge */
    char *target;            /* where the frontend looks, for status */
    int port;                /* event channel port, -1 when none is bound */
    bool published;          /* port written where the frontend looks */
    char *error;             /* NULL when the last attempt succeeded */
};

struct signal_slots {
    struct signal_slot *slots;
    size_t count;
};

/* Adds a slot for bridge; target is formatted like printf. */
__attribute__((format(printf, 3, 4)))
int signal_slots_add(struct signal_slots *slots, struct bridge *bridge, const char *target, ...);
struct signal_slot *signal_slots_find(struct signal_slots *slots, const struct bridge *bridge);
void signal_slots_clear(struct signal_slots *slots);
/* Whether any bridge has a slot: a signaller no bridge uses opens nothing. */
bool signal_slots_used(const struct signal_slots *slots);
/* The signaller's report (signaller.h) for bridge: -ENOENT without a slot. */
int signal_slots_report(struct signal_slots *slots, const struct bridge *bridge,
                        const char *method, struct signal_report *out);

/* Records why the last attempt failed, logging it at priority when new. */
__attribute__((format(printf, 3, 4)))
void signal_slot_fail(struct signal_slot *slot, int priority, const char *format, ...);
/* The last attempt succeeded; logs the recovery when there was an error. */
void signal_slot_succeed(struct signal_slot *slot, const char *method);
