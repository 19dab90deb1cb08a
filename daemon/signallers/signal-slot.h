// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-bridge bookkeeping shared by the event-channel and sysrq signallers:
 * a slot per bridge, indexed by bridge->index, with the last error kept for
 * status and logged once when it first appears or changes. Slots are carried
 * across reloads (signaller.h): a bridge of the same name that its signaller
 * finds signalled the same way keeps its slot, bound port included.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct bridge;
struct model;
struct signal_report;

struct signal_slot {
    struct bridge *bridge;   /* NULL: this signaller does not serve the bridge */
    char *target;            /* where the frontend looks, for status */
    int port;                /* event channel port, -1 when none is bound */
    bool published;          /* port written where the frontend looks */
    int shown;               /* the state last told to the frontend (-1: none) */
    bool fresh;              /* made by the last stage, not started yet */
    char *error;             /* NULL when the last attempt succeeded */
};

struct signal_slot_ops {
    unsigned int method;     /* the bridges with this bit in signal_methods */
    /* Whether a running slot of old serves bridge as it is (same frontend,
     * same channel). */
    bool (*same)(const struct bridge *old, const struct bridge *bridge);
    /* Formats the slot's target (malloc'd). */
    char *(*target)(const struct bridge *bridge);
    /* Optional: a new slot acquires what it needs (a port); with strict, a
     * failure is returned (the stage fails), otherwise kept on the slot. */
    int (*acquire)(void *signaller, struct signal_slot *slot, bool strict);
    /* Optional: a slot dropped, or a new one given up: releases it. */
    void (*release)(void *signaller, struct signal_slot *slot);
};

struct signal_slots {
    const struct signal_slot_ops *ops;
    void *signaller;
    struct model *model;         /* the running model */
    struct signal_slot *slots;   /* by bridge->index of model */
    size_t count;
    struct signal_slot *staged;  /* by bridge->index of the staged model */
    size_t staged_count;
    bool *taken;                 /* per running slot: carried by the stage */
    struct model *staged_model;
};

void signal_slots_init(struct signal_slots *slots, const struct signal_slot_ops *ops,
                       void *signaller);
int signal_slots_stage(struct signal_slots *slots, struct model *model, bool strict);
void signal_slots_commit(struct signal_slots *slots);
void signal_slots_abort(struct signal_slots *slots);
/* Releases and frees every slot. */
void signal_slots_clear(struct signal_slots *slots);
struct signal_slot *signal_slots_find(struct signal_slots *slots, const struct bridge *bridge);
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
