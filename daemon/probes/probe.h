// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A probe follows backends of one kind (or one liveness source) and reports
 * what it sees into the model with model_set_backend_ready() and
 * model_set_backend_alive(). Each kind is an adapter behind this interface,
 * created when a backend needs it and kept while one does (probes/table.c).
 *
 * A change of configuration is made in two steps so that a reload is all or
 * nothing. stage() prepares the probe for a new model: the entries of
 * backends defined as before are kept (matched by name) and everything new
 * acquires its event sources now (watches, inotify, a bus connection), with
 * nothing reported. Then either commit() switches to what was staged (kept
 * entries follow the new model's backends, whose observations the model
 * carried; dropped ones are released; new ones are looked at once and
 * reported), or abort() releases what stage() acquired and the running
 * entries go on untouched. The event loop does not run in between.
 */
#pragma once

#include <stdbool.h>

struct backend;
struct ev_loop;
struct model;
struct probe;
struct xenstore;

/* What probes may use; the same for the daemon's life. */
struct probe_context {
    struct ev_loop *loop;
    struct xenstore *xenstore;   /* the connection (xen/xenstore.h); may be down */
    /* Where what must survive a restart of the daemon is kept (/run/xenready);
     * NULL: nothing is kept. */
    const char *state_directory;
};

struct probe_ops {
    const char *name;
    /* strict (a reload): anything that cannot be acquired fails the stage;
     * otherwise (start, xenstore back) what xenstored refuses for lack of
     * room is kept, reported per backend and tried again. */
    int (*stage)(struct probe *probe, struct model *model, bool strict);
    void (*commit)(struct probe *probe);
    void (*abort)(struct probe *probe);
    void (*free)(struct probe *probe);
    /* Optional, for probes that read xenstore: the connection was lost (its
     * backends are no longer observed), or is back with its watches armed
     * again (every backend is read again). */
    void (*xenstore_lost)(struct probe *probe);
    void (*xenstore_back)(struct probe *probe);
};

struct probe {
    const struct probe_ops *ops;
    struct model *model;         /* the running model; the staged one after commit */
};

static inline void probe_free(struct probe *probe)
{
    if (probe)
        probe->ops->free(probe);
}

/* One kind of probe: which backends need it, and how it is made. */
struct probe_type {
    const char *name;
    bool needs_xenstore;
    bool (*follows)(const struct backend *backend);
    int (*create)(struct probe **out, const struct probe_context *context);
};

/* Every kind (probes/table.c), in the order their first scans run. */
extern const struct probe_type *const probe_types[];
extern const unsigned int probe_type_count;
