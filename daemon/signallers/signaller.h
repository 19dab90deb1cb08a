// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A signaller tells frontends about their bridges' state by one method
 * (xenstore node, event channel, …). Each method is an adapter behind this
 * interface; a bridge may use several.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct bridge;
struct frontend;
struct signaller;

/* What a signaller last did for one bridge, for status output. */
struct signal_report {
    const char *method;      /* "xenstore", … */
    const char *target;      /* where the frontend looks, e.g. a xenstore path */
    uint64_t generation;     /* 0 when the method has none */
    const char *error;       /* NULL when the last publication succeeded */
};

struct signaller_ops {
    const char *name;
    int (*add_bridge)(struct signaller *signaller, struct bridge *bridge);
    /* First publication: adopts what an earlier instance published when it
     * still matches, creates what is missing. */
    int (*start)(struct signaller *signaller);
    /* The bridge changed state; publish it. Failures are kept for status
     * and retried on the next publication. */
    void (*publish)(struct signaller *signaller, struct bridge *bridge);
    /* Returns -ENOENT when this signaller does not serve bridge. */
    int (*report)(struct signaller *signaller, const struct bridge *bridge,
                  struct signal_report *out);
    void (*free)(struct signaller *signaller);
    /* Optional (may be NULL): a frontend's domain went away (present false:
     * its xenstore home is gone) or came back; channels and nodes of its
     * bridges are dropped or made again. */
    void (*frontend_changed)(struct signaller *signaller, struct frontend *frontend,
                             bool present);
    /* Optional: the bridge's xenstore node was made again, or a key this
     * signaller keeps in it changed under it; write again what is missing
     * or different (and nothing else: its own writes come back here). */
    void (*refresh)(struct signaller *signaller, struct bridge *bridge);
    /* Optional: after each batch of xenstore events, try again what
     * xenstored refused for lack of room (it never says room returned).
     * Stops at the first refusal, returning it (a negative errno): the rest
     * would be refused too, and a batch must stay cheap. 0: nothing left. */
    int (*retry)(struct signaller *signaller);
};

struct signaller {
    const struct signaller_ops *ops;
};

static inline void signaller_free(struct signaller *signaller)
{
    if (signaller)
        signaller->ops->free(signaller);
}
