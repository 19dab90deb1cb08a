// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * signal = sysrq, for guests patched like the origin prototype (which
 * reacted to "xl sysrq <domU> <key>"): the bridge's sysrq-key is written to
 * /local/domain/<frontend>/control/sysrq when the bridge is ready at the
 * first scan and at every transition to ready. The toolstack owns that node's
 * parent and gives it to the guest, so normally only dom0 may write it; an
 * unprivileged DomD is refused, and says so in the log and in status.
 */
#include "evtchn-signaller.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "signal-slot.h"
#include "signaller.h"
#include "util/log.h"
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

static void slot_signal(struct sysrq_signaller *signaller, struct signal_slot *slot)
{
    if (slot->bridge->state != BRIDGE_READY) {
        log_bridge(LOG_INFO, slot->bridge, NULL,
                   "bridge %s: not ready any more; sysrq cannot say so, nothing written",
                   slot->bridge->name);
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
        signal_slot_succeed(slot, "sysrq");
    }
}

static int sysrq_add_bridge(struct signaller *base, struct bridge *bridge)
{
    return signal_slots_add(&to_sysrq(base)->slots, bridge, "/local/domain/%u/control/sysrq",
                            bridge->frontend->domid);
}

static int sysrq_start(struct signaller *base)
{
    struct sysrq_signaller *signaller = to_sysrq(base);
    for (size_t i = 0; i < signaller->slots.count; i++) {
        struct signal_slot *slot = &signaller->slots.slots[i];
        if (slot->bridge && slot->bridge->state == BRIDGE_READY)
            slot_signal(signaller, slot);
    }
    return 0;
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
    .add_bridge = sysrq_add_bridge,
    .start = sysrq_start,
    .publish = sysrq_publish,
    .report = sysrq_report,
    .free = sysrq_free,
};

int sysrq_signaller_new(struct signaller **out, struct xenstore *xenstore)
{
    struct sysrq_signaller *signaller = calloc(1, sizeof(*signaller));
    if (!signaller)
        return -ENOMEM;
    signaller->signaller.ops = &sysrq_signaller_ops;
    signaller->xenstore = xenstore;
    *out = &signaller->signaller;
    return 0;
}
