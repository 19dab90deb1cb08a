// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * signal = sysrq, for guests patched like the origin prototype (which
 * reacted to "xl sysrq <domU> <key>"): the bridge's sysrq-key is written to
 * /local/domain/<frontend>/control/sysrq when the bridge is ready at the
 * first scan and at every transition to ready. The toolstack owns that node's
 * parent and gives it to the guest, so normally only dom0 may write it; an
 * unprivileged DomD is refused, and says so in the log and in status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "signal-slot.h"
#include "signaller.h"
#include "util/log.h"
#include "util/model-log.h"
#include "xen/xenstore.h"

struct sysrq_signaller {
    struct signaller signaller;
    struct xenstore *xenstore;
    struct signal_slots slots;
};

static struct sysrq_signaller *to_sysrq(struct signaller *signaller)
{
    return (struct sysrq_signaller *)signaller;
}

/* Once per change of the bridge's state: the key for "ready". */
static void slot_signal(struct sysrq_signaller *signaller, struct signal_slot *slot)
{
    if (slot->shown == (int)slot->bridge->state)
        return;
    if (slot->bridge->state != BRIDGE_READY) {
        if (slot->shown >= 0)
            log_bridge(LOG_INFO, slot->bridge, NULL,
                       "bridge %s: not ready any more; sysrq cannot say so, nothing written",
                       slot->bridge->name);
        slot->shown = BRIDGE_WAITING;
        return;
    }
    char key[2] = {slot->bridge->sysrq_key, '\0'};
    int r = xenstore_write(signaller->xenstore, slot->target, key);
    if (r == -EACCES)
        signal_slot_fail(slot, LOG_ERR,
                         "cannot write sysrq key '%c' to %s: permission denied; only dom0 may "
                         "write a guest's control/sysrq (domain %u is not dom0): use signal = "
                         "xenstore or evtchn", key[0], slot->target,
                         xenstore_domid(signaller->xenstore));
    else if (r < 0)
        signal_slot_fail(slot, LOG_ERR, "cannot write sysrq key '%c' to %s: %s", key[0],
                         slot->target, strerror(-r));
    else {
        log_bridge(LOG_INFO, slot->bridge, NULL, "bridge %s: sysrq key '%c' written to %s",
                   slot->bridge->name, key[0], slot->target);
        slot->shown = BRIDGE_READY;
        signal_slot_succeed(slot, "sysrq");
    }
}

static bool slot_same(const struct bridge *old, const struct bridge *bridge)
{
    return old->frontend->domid == bridge->frontend->domid && old->sysrq_key == bridge->sysrq_key;
}

static char *slot_target(const struct bridge *bridge)
{
    char *target = NULL;
    if (asprintf(&target, "/local/domain/%u/control/sysrq", bridge->frontend->domid) < 0)
        return NULL;
    return target;
}

static const struct signal_slot_ops sysrq_slot_ops = {
    .method = SIGNAL_SYSRQ,
    .same = slot_same,
    .target = slot_target,
};

static int sysrq_stage(struct signaller *base, struct model *model, bool strict)
{
    return signal_slots_stage(&to_sysrq(base)->slots, model, strict);
}

static void sysrq_commit(struct signaller *base)
{
    signal_slots_commit(&to_sysrq(base)->slots);
}

static void sysrq_abort(struct signaller *base)
{
    signal_slots_abort(&to_sysrq(base)->slots);
}

/* A new slot of a ready bridge writes its key once; kept slots wrote it
 * when their bridge became ready. */
static void sysrq_start(struct signaller *base)
{
    struct sysrq_signaller *signaller = to_sysrq(base);
    for (size_t i = 0; i < signaller->slots.count; i++) {
        struct signal_slot *slot = &signaller->slots.slots[i];
        if (!slot->bridge || !slot->fresh)
            continue;
        slot->fresh = false;
        slot_signal(signaller, slot);
    }
}

static void sysrq_publish(struct signaller *base, struct bridge *bridge)
{
    struct sysrq_signaller *signaller = to_sysrq(base);
    struct signal_slot *slot = signal_slots_find(&signaller->slots, bridge);
    if (slot)
        slot_signal(signaller, slot);
}

static int sysrq_report(struct signaller *base, const struct bridge *bridge,
                        struct signal_report *out)
{
    return signal_slots_report(&to_sysrq(base)->slots, bridge, "sysrq", out);
}

static void sysrq_free(struct signaller *base)
{
    struct sysrq_signaller *signaller = to_sysrq(base);
    signal_slots_clear(&signaller->slots);
    free(signaller);
}

static const struct signaller_ops sysrq_signaller_ops = {
    .name = "sysrq",
    .stage = sysrq_stage,
    .commit = sysrq_commit,
    .abort = sysrq_abort,
    .start = sysrq_start,
    .publish = sysrq_publish,
    .report = sysrq_report,
    .free = sysrq_free,
};

static int sysrq_signaller_new(struct signaller **out, const struct signaller_context *context)
{
    struct sysrq_signaller *signaller = calloc(1, sizeof(*signaller));
    if (!signaller)
        return -ENOMEM;
    signaller->signaller.ops = &sysrq_signaller_ops;
    signaller->xenstore = context->xenstore;
    signal_slots_init(&signaller->slots, &sysrq_slot_ops, signaller);
    *out = &signaller->signaller;
    return 0;
}

/* signal = sysrq: the bridge's sysrq-key is written to the frontend's
 * control/sysrq when the bridge becomes ready (compatibility). */
const struct signaller_type sysrq_signaller_type = {
    .name = "sysrq",
    .bit = SIGNAL_SYSRQ,
    .needs_xenstore = true,
    .create = sysrq_signaller_new,
};
