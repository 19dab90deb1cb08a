// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A signaller tells frontends about their bridges' state by one method
 * (xenstore node, event channel, …). Each method is an adapter behind this
 * interface (signallers/table.c); a bridge may use several.
 *
 * A configuration is taken in the steps probes take (probe.h): stage() keeps
 * the entries of bridges that are signalled as before (same frontend, same
 * channel) with everything they hold (a bound port, what the frontend was
 * shown, the generation) and acquires what new ones need (an event channel),
 * learning what an earlier instance showed the frontend, but writes nothing;
 * commit() switches to what was staged and releases dropped entries, or
 * abort() releases what stage() acquired. Once the model has settled,
 * start() makes the first publication of the entries new at the commit.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct bridge;
struct ev_loop;
struct frontend;
struct model;
struct signaller;
struct xenstore;

/* What a signaller last did for one bridge, for status output. */
struct signal_report {
    const char *method;      /* "xenstore", … */
    const char *target;      /* where the frontend looks, e.g. a xenstore path */
    uint64_t generation;     /* 0 when the method has none */
    const char *error;       /* NULL when the last publication succeeded */
};

/* The bridge's xenstore node was made again, or a key another signaller
 * keeps in it changed (the xenstore signaller tells the daemon). */
typedef void (*signaller_refresh_fn)(struct bridge *bridge, void *userdata);

/* What signallers may use; the same for the daemon's life. */
struct signaller_context {
    struct ev_loop *loop;
    struct xenstore *xenstore;   /* may be down; NULL without xenstore */
    signaller_refresh_fn on_refresh;
    void *userdata;
    /* Where what must survive a restart of the daemon is kept (/run/xenready);
     * NULL: nothing is kept. */
    const char *state_directory;
};

struct signaller_ops {
    const char *name;
    /* strict (a reload): what cannot be acquired fails the stage; otherwise
     * (start) it is kept for status and tried again at the next publication. */
    int (*stage)(struct signaller *signaller, struct model *model, bool strict);
    void (*commit)(struct signaller *signaller);
    void (*abort)(struct signaller *signaller);
    /* The first publication of the entries new at the last commit: adopts
     * what an earlier instance published when it still matches, creates
     * what is missing. */
    void (*start)(struct signaller *signaller);
    /* The bridge changed state; publish it. Failures are kept for status
     * and retried on the next publication. */
    void (*publish)(struct signaller *signaller, struct bridge *bridge);
    /* Returns -ENOENT when this signaller does not serve bridge. */
    int (*report)(struct signaller *signaller, const struct bridge *bridge,
                  struct signal_report *out);
    void (*free)(struct signaller *signaller);
    /* Optional (may be NULL): the state an earlier instance of the daemon
     * showed bridge's frontend, found by the last stage (-1: none). */
    int (*shown)(struct signaller *signaller, const struct bridge *bridge);
    /* Optional: a frontend's domain went away (present false: its xenstore
     * home is gone) or came back; channels and nodes of its bridges are
     * dropped or made again. */
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
    /* Optional: xenstore is back after an outage (the daemon published
     * nothing through xenstore meanwhile): what the frontends see is read
     * and put right; bridges that changed meanwhile are then published. */
    void (*xenstore_back)(struct signaller *signaller);
};

struct signaller {
    const struct signaller_ops *ops;
};

static inline void signaller_free(struct signaller *signaller)
{
    if (signaller)
        signaller->ops->free(signaller);
}

/* One method: the bridges that use it, and how its signaller is made. */
struct signaller_type {
    const char *name;
    unsigned int bit;            /* enum signal_method */
    bool needs_xenstore;         /* publishes nothing while xenstore is away */
    int (*create)(struct signaller **out, const struct signaller_context *context);
};

/* Every method (signallers/table.c), in publication order: the xenstore node
 * first, the others publish into it or after it. */
extern const struct signaller_type *const signaller_types[];
extern const unsigned int signaller_type_count;
