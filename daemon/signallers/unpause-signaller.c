// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * signal = unpause: the guest needs nothing at all. The toolstack creates
 * it paused (xl create -p), and once every bridge of that frontend with
 * this signal is ready (or past its start-up timeout, with
 * unpause-on-timeout = yes) the domain is unpaused, once per domain
 * instance. There is no withdrawal: a paused guest cannot be told that a
 * backend went away after it booted.
 *
 * Whose pause it is matters: the daemon unpauses only an instance it first
 * saw paused (the toolstack's -p), and never again once it has, or once it
 * has seen it running (someone unpaused it): an operator's later
 * "xl pause" is theirs. Instances are told apart by the domain's handle
 * (the toolstack's UUID), so a new domain with the same domid starts over.
 * Domains coming and going are heard through @introduceDomain and
 * @releaseDomain when xenstore is there; the hypervisor is asked at each.
 * The instances seen, and what was decided for each, are kept in the runtime
 * directory (/run/xenready/unpaused), so that a restarted daemon does not
 * take an operator's pause of one of them for the toolstack's: neither of
 * one it unpaused nor of one it found running.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "signal-slot.h"
#include "signaller.h"
#include "util/log.h"
#include "util/model-log.h"
#include "util/state-file.h"
#include "xen/domain-control.h"
#include "xen/xenstore.h"

/* What the daemon did, or may do, with one domain instance. */
enum hold {
    HOLD_PAUSED,             /* first seen paused: unpaused once its bridges are ready */
    HOLD_UNPAUSED,           /* unpaused by us: done */
    HOLD_LEFT_ALONE,         /* seen running (not created paused, or unpaused by another) */
};

struct held_domain {
    unsigned int domid;
    uint8_t handle[16];
    enum hold hold;
};

struct unpause_signaller {
    struct signaller signaller;
    struct xenstore *xenstore;
    struct signal_slots slots;
    struct domain_control *control;      /* opened when a bridge first needs it */
    struct held_domain *held;            /* instances seen, kept across reloads */
    size_t held_count;
    struct xenstore_watch *introduced, *released;
    char *record_path;                   /* NULL: nothing kept for a restart */
};

#define RECORD_NAME "unpaused"
#define RECORD_VERSION 1
#define RECORD_SIZE_MAX (64 * 1024)

static struct unpause_signaller *to_unpause(struct signaller *signaller)
{
    return (struct unpause_signaller *)signaller;
}

static struct held_domain *held_find(struct unpause_signaller *signaller, unsigned int domid)
{
    for (size_t i = 0; i < signaller->held_count; i++)
        if (signaller->held[i].domid == domid)
            return &signaller->held[i];
    return NULL;
}

static void held_forget(struct unpause_signaller *signaller, unsigned int domid)
{
    struct held_domain *held = held_find(signaller, domid);
    if (held)
        *held = signaller->held[--signaller->held_count];
}

/* The record of domid, made for the instance of handle when new. */
static struct held_domain *held_track(struct unpause_signaller *signaller, unsigned int domid)
{
    struct held_domain *held = held_find(signaller, domid);
    if (held)
        return held;
    struct held_domain *grown =
        realloc(signaller->held, (signaller->held_count + 1) * sizeof(*signaller->held));
    if (!grown)
        return NULL;
    signaller->held = grown;
    held = &signaller->held[signaller->held_count++];
    *held = (struct held_domain){.domid = domid, .hold = HOLD_LEFT_ALONE};
    return held;
}

static const char *const hold_names[] = {
    [HOLD_PAUSED] = "paused",
    [HOLD_UNPAUSED] = "unpaused",
    [HOLD_LEFT_ALONE] = "left-alone",
};

/* The instances seen, for a restarted daemon. A failure is logged: it would
 * then take such an instance, paused again by an operator, for one to
 * unpause. */
static void records_save(struct unpause_signaller *signaller)
{
    if (!signaller->record_path)
        return;
    struct json_object *root = json_object_new_object(), *list = json_object_new_array();
    json_object_object_add(root, "version", json_object_new_int(RECORD_VERSION));
    json_object_object_add(root, "domains", list);
    for (size_t i = 0; i < signaller->held_count; i++) {
        const struct held_domain *held = &signaller->held[i];
        char handle[33];
        for (int b = 0; b < 16; b++)
            snprintf(handle + 2 * b, 3, "%02x", held->handle[b]);
        struct json_object *item = json_object_new_object();
        json_object_object_add(item, "domid", json_object_new_int((int)held->domid));
        json_object_object_add(item, "handle", json_object_new_string(handle));
        json_object_object_add(item, "hold", json_object_new_string(hold_names[held->hold]));
        json_object_array_add(list, item);
    }
    int r = state_file_write(signaller->record_path,
                             json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    if (r < 0)
        log_message(LOG_WARNING, "cannot keep the domains unpaused in %s: %s",
                    signaller->record_path, strerror(-r));
}

static void records_load(struct unpause_signaller *signaller)
{
    char *text = NULL;
    int r = state_file_read(signaller->record_path, RECORD_SIZE_MAX, &text);
    if (r == -ENOENT)
        return;
    struct json_object *root = r == 0 ? json_tokener_parse(text) : NULL, *version, *list;
    free(text);
    if (!root || !json_object_object_get_ex(root, "version", &version)
        || json_object_get_int(version) != RECORD_VERSION
        || !json_object_object_get_ex(root, "domains", &list)
        || !json_object_is_type(list, json_type_array)) {
        log_message(LOG_WARNING, "ignoring %s: not a regular file of ours, or not what "
                    "xenreadyd writes", signaller->record_path);
        json_object_put(root);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *item = json_object_array_get_idx(list, i), *domid, *handle, *hold;
        const char *hex, *hold_name;
        int hold_index = -1;
        if (!json_object_object_get_ex(item, "domid", &domid)
            || !json_object_object_get_ex(item, "handle", &handle)
            || !json_object_object_get_ex(item, "hold", &hold)
            || !(hex = json_object_get_string(handle)) || strlen(hex) != 32
            || strspn(hex, "0123456789abcdef") != 32 || !(hold_name = json_object_get_string(hold)))
            continue;
        for (int h = 0; h < (int)(sizeof(hold_names) / sizeof(hold_names[0])); h++)
            if (strcmp(hold_name, hold_names[h]) == 0)
                hold_index = h;
        if (hold_index < 0 || json_object_get_int(domid) < 0
            || json_object_get_int(domid) > (int)MODEL_DOMID_MAX)
            continue;
        struct held_domain *held = held_track(signaller, (unsigned int)json_object_get_int(domid));
        if (!held)
            break;
        for (int b = 0; b < 16; b++) {
            unsigned int byte = 0;
            sscanf(hex + 2 * b, "%2x", &byte);
            held->handle[b] = (uint8_t)byte;
        }
        held->hold = (enum hold)hold_index;
    }
    json_object_put(root);
}

/* Every slot of frontend domid: fails them all, or says they succeeded. */
static void slots_fail(struct unpause_signaller *signaller, unsigned int domid, int priority,
                       const char *message)
{
    for (size_t i = 0; i < signaller->slots.count; i++) {
        struct signal_slot *slot = &signaller->slots.slots[i];
        if (slot->bridge && slot->bridge->frontend->domid == domid)
            signal_slot_fail(slot, priority, "%s", message);
    }
}

static void slots_succeed(struct unpause_signaller *signaller, unsigned int domid, int shown)
{
    for (size_t i = 0; i < signaller->slots.count; i++) {
        struct signal_slot *slot = &signaller->slots.slots[i];
        if (slot->bridge && slot->bridge->frontend->domid == domid) {
            slot->shown = shown;
            signal_slot_succeed(slot, "unpause");
        }
    }
}

/* Whether every bridge of frontend domid that this signal serves lets it
 * go: ready, or past its start-up timeout when allowed to (*on_timeout). */
static bool frontend_released(struct unpause_signaller *signaller, unsigned int domid,
                              bool *on_timeout)
{
    *on_timeout = false;
    for (size_t i = 0; i < signaller->slots.count; i++) {
        const struct bridge *bridge = signaller->slots.slots[i].bridge;
        if (!bridge || bridge->frontend->domid != domid || bridge->state == BRIDGE_READY)
            continue;
        if (bridge->degraded && bridge->unpause_on_timeout) {
            *on_timeout = true;
            continue;
        }
        return false;
    }
    return true;
}

static int control_get(struct unpause_signaller *signaller)
{
    if (signaller->control)
        return 0;
    /* Tried again at each evaluation: the privilege may come later. */
    return domain_control_open(&signaller->control);
}

/* Looks at frontend domid's domain and unpauses it when its time came. */
static void domain_evaluate(struct unpause_signaller *signaller, unsigned int domid)
{
    const struct bridge *first = NULL;
    for (size_t i = 0; i < signaller->slots.count && !first; i++)
        if (signaller->slots.slots[i].bridge
            && signaller->slots.slots[i].bridge->frontend->domid == domid)
            first = signaller->slots.slots[i].bridge;
    if (!first)
        return;
    const char *name = first->frontend->name;
    char message[256];
    int r = control_get(signaller);
    if (r < 0) {
        snprintf(message, sizeof(message), "cannot reach the hypervisor to unpause domain %u: "
                 "%s; signal = unpause runs in dom0",
                 domid, strerror(-r));
        slots_fail(signaller, domid, LOG_ERR, message);
        return;
    }
    struct domain_state state;
    r = domain_control_state(signaller->control, domid, &state);
    if (r < 0) {
        snprintf(message, sizeof(message), "cannot ask the hypervisor about domain %u: %s",
                 domid, strerror(-r));
        slots_fail(signaller, domid, LOG_ERR, message);
        return;
    }
    if (!state.exists || state.dying) {
        bool recorded = held_find(signaller, domid) != NULL;
        held_forget(signaller, domid);
        if (recorded)
            records_save(signaller);
        slots_succeed(signaller, domid, -1);
        return;
    }
    struct held_domain *held = held_find(signaller, domid);
    if (!held || memcmp(held->handle, state.handle, sizeof(state.handle)) != 0) {
        /* A new instance: held only if it is paused now, as created. */
        held = held_track(signaller, domid);
        if (!held)
            return;
        memcpy(held->handle, state.handle, sizeof(state.handle));
        held->hold = state.paused ? HOLD_PAUSED : HOLD_LEFT_ALONE;
        if (held->hold == HOLD_LEFT_ALONE)
            log_message(LOG_NOTICE, "domain %u (frontend %s) is running: signal = unpause "
                        "leaves it alone (it was not created paused, or is unpaused already)",
                        domid, name);
        else
            log_message(LOG_INFO, "domain %u (frontend %s) is paused: unpaused once its "
                        "bridges are ready", domid, name);
        records_save(signaller);
    }
    if (held->hold == HOLD_PAUSED && !state.paused) {
        held->hold = HOLD_LEFT_ALONE;
        records_save(signaller);
        log_message(LOG_NOTICE, "domain %u (frontend %s) was unpaused by someone else: "
                    "left alone from now on", domid, name);
    }
    if (held->hold != HOLD_PAUSED) {
        slots_succeed(signaller, domid, held->hold == HOLD_UNPAUSED ? BRIDGE_READY : -1);
        return;
    }
    bool on_timeout;
    if (!frontend_released(signaller, domid, &on_timeout)) {
        slots_succeed(signaller, domid, BRIDGE_WAITING);
        return;
    }
    r = domain_control_unpause(signaller->control, domid);
    if (r == -EINVAL) {
        /* Not paused by the toolstack any more: someone unpaused it. */
        held->hold = HOLD_LEFT_ALONE;
        records_save(signaller);
        slots_succeed(signaller, domid, -1);
        return;
    }
    if (r < 0) {
        snprintf(message, sizeof(message), "cannot unpause domain %u: %s", domid, strerror(-r));
        slots_fail(signaller, domid, LOG_ERR, message);
        return;
    }
    held->hold = HOLD_UNPAUSED;
    records_save(signaller);
    log_message(LOG_NOTICE, "domain %u (frontend %s) unpaused: %s", domid, name,
                on_timeout ? "every bridge is ready or past its start-up timeout "
                             "(unpause-on-timeout = yes)"
                           : "every bridge is ready");
    slots_succeed(signaller, domid, BRIDGE_READY);
}

/* Every frontend served, each once. */
static void evaluate_all(struct unpause_signaller *signaller)
{
    for (size_t i = 0; i < signaller->slots.count; i++) {
        const struct bridge *bridge = signaller->slots.slots[i].bridge;
        if (!bridge)
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = signaller->slots.slots[j].bridge
                   && signaller->slots.slots[j].bridge->frontend->domid
                          == bridge->frontend->domid;
        if (!seen)
            domain_evaluate(signaller, bridge->frontend->domid);
    }
}

/* A domain came or went: instances are looked at again. */
static void on_domains_changed(const char *path, void *userdata)
{
    evaluate_all(userdata);
}

static bool slot_same(const struct bridge *old, const struct bridge *bridge)
{
    return old->frontend->domid == bridge->frontend->domid;
}

static char *slot_target(const struct bridge *bridge)
{
    char *target = NULL;
    if (asprintf(&target, "domain %u", bridge->frontend->domid) < 0)
        return NULL;
    return target;
}

static const struct signal_slot_ops unpause_slot_ops = {
    .method = SIGNAL_UNPAUSE,
    .same = slot_same,
    .target = slot_target,
};

static int unpause_stage(struct signaller *base, struct model *model, bool strict)
{
    return signal_slots_stage(&to_unpause(base)->slots, model, strict);
}

static void unpause_commit(struct signaller *base)
{
    struct unpause_signaller *signaller = to_unpause(base);
    signal_slots_commit(&signaller->slots);
    if (!signaller->xenstore || signaller->introduced || !signal_slots_used(&signaller->slots))
        return;
    /* Failing to watch is said, not fatal: bridges becoming ready still
     * unpause a domain that exists then. */
    if (xenstore_watch_add(signaller->xenstore, "@introduceDomain", on_domains_changed, signaller,
                           true, &signaller->introduced) < 0
        || xenstore_watch_add(signaller->xenstore, "@releaseDomain", on_domains_changed,
                              signaller, true, &signaller->released) < 0)
        log_message(LOG_WARNING, "cannot watch @introduceDomain and @releaseDomain: a domain "
                    "created after its bridges were ready is unpaused only at their next "
                    "change");
}

static void unpause_abort(struct signaller *base)
{
    signal_slots_abort(&to_unpause(base)->slots);
}

static void unpause_start(struct signaller *base)
{
    struct unpause_signaller *signaller = to_unpause(base);
    for (size_t i = 0; i < signaller->slots.count; i++)
        signaller->slots.slots[i].fresh = false;
    evaluate_all(signaller);
}

static void unpause_publish(struct signaller *base, struct bridge *bridge)
{
    struct unpause_signaller *signaller = to_unpause(base);
    struct signal_slot *slot = signal_slots_find(&signaller->slots, bridge);
    if (!slot)
        return;
    /* Said once per withdrawal: the guest it let go cannot be told. */
    const struct held_domain *held = held_find(signaller, bridge->frontend->domid);
    if (held && held->hold == HOLD_UNPAUSED && slot->shown == BRIDGE_READY
        && bridge->state != BRIDGE_READY)
        log_bridge(LOG_NOTICE, bridge, NULL, "bridge %s: not ready any more; domain %u runs "
                   "(unpaused once) and signal = unpause cannot say so", bridge->name,
                   bridge->frontend->domid);
    domain_evaluate(signaller, bridge->frontend->domid);
}

static int unpause_report(struct signaller *base, const struct bridge *bridge,
                          struct signal_report *out)
{
    return signal_slots_report(&to_unpause(base)->slots, bridge, "unpause", out);
}

static void unpause_frontend_changed(struct signaller *base, struct frontend *frontend,
                                     bool present)
{
    domain_evaluate(to_unpause(base), frontend->domid);
}

static void unpause_free(struct signaller *base)
{
    struct unpause_signaller *signaller = to_unpause(base);
    if (signaller->introduced)
        xenstore_watch_remove(signaller->xenstore, signaller->introduced);
    if (signaller->released)
        xenstore_watch_remove(signaller->xenstore, signaller->released);
    signal_slots_clear(&signaller->slots);
    domain_control_close(signaller->control);
    free(signaller->held);
    free(signaller->record_path);
    free(signaller);
}

static const struct signaller_ops unpause_signaller_ops = {
    .name = "unpause",
    .stage = unpause_stage,
    .commit = unpause_commit,
    .abort = unpause_abort,
    .start = unpause_start,
    .publish = unpause_publish,
    .report = unpause_report,
    .frontend_changed = unpause_frontend_changed,
    .free = unpause_free,
};

static int unpause_signaller_new(struct signaller **out, const struct signaller_context *context)
{
    struct unpause_signaller *signaller = calloc(1, sizeof(*signaller));
    if (!signaller)
        return -ENOMEM;
    signaller->signaller.ops = &unpause_signaller_ops;
    signaller->xenstore = context->xenstore;
    signal_slots_init(&signaller->slots, &unpause_slot_ops, signaller);
    if (context->state_directory
        && asprintf(&signaller->record_path, "%s/%s", context->state_directory, RECORD_NAME)
               < 0) {
        free(signaller);
        return -ENOMEM;
    }
    if (signaller->record_path)
        records_load(signaller);
    *out = &signaller->signaller;
    return 0;
}

/* signal = unpause: the frontend's domain, created paused, is unpaused once
 * every bridge of it with this signal is ready. */
const struct signaller_type unpause_signaller_type = {
    .name = "unpause",
    .bit = SIGNAL_UNPAUSE,
    .needs_xenstore = false,
    .create = unpause_signaller_new,
};
