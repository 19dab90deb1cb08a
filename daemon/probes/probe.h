// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A probe observes backends of one kind and reports what it sees into the
 * model with model_set_backend_ready(). Each kind is an adapter behind this
 * interface; the daemon creates one probe per kind in use.
 */
#pragma once

struct backend;
struct model;

struct probe;

struct probe_ops {
    const char *name;
    /* Takes a backend of this probe's kind; called for each before start. */
    int (*add_backend)(struct probe *probe, struct backend *backend);
    /* Arms the event sources (watches, …). Must not report yet. */
    int (*arm)(struct probe *probe);
    /* Reads every backend once and reports it: the first full scan. */
    int (*scan)(struct probe *probe);
    void (*free)(struct probe *probe);
};

struct probe {
    const struct probe_ops *ops;
    struct model *model;
};

static inline void probe_free(struct probe *probe)
{
    if (probe)
        probe->ops->free(probe);
}
