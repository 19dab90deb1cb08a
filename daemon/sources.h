// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The event sources built from a configuration: a probe per kind of backend
 * in use (probes/table.c), a signaller per method of signalling in use
 * (signallers/table.c) and the domain events, each created when the
 * configuration first needs it and kept while it does.
 *
 * A configuration is taken in steps (probe.h, signaller.h), so that a reload
 * carries what is known and is all or nothing: sources_stage() prepares
 * every source for the new model and acquires what is new;
 * sources_commit() switches to it (new backends are looked at once), or
 * sources_abort() gives back what the stage acquired; once the model has
 * settled, sources_start() makes the first publication of what is new and
 * publishes what changed meanwhile.
 *
 * While a commit is under way, and while xenstore is away for the methods
 * that go through it, publications are held: each signaller notes the
 * bridges that changed, and is told of them once it may publish again.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct bridge;
struct domains;
struct ev_loop;
struct frontend;
struct model;
struct probe;
struct signaller;
struct xenstore;

enum { SOURCES_KINDS_MAX = 8 };

struct sources {
    struct ev_loop *loop;
    struct xenstore *xenstore;           /* NULL without xenstore */
    const char *state_directory;
    struct model *model;                 /* the running model */
    struct model *staged_model;
    struct probe *probes[SOURCES_KINDS_MAX];          /* by probe_types[] */
    bool probe_fresh[SOURCES_KINDS_MAX];             /* made by the stage under way */
    bool probe_staged[SOURCES_KINDS_MAX];
    struct signaller *signallers[SOURCES_KINDS_MAX]; /* by signaller_types[] */
    bool signaller_fresh[SOURCES_KINDS_MAX];
    bool signaller_staged[SOURCES_KINDS_MAX];
    /* Per signaller, by bridge->index: changed while its publication was held. */
    bool *held[SOURCES_KINDS_MAX];
    bool *staged_held[SOURCES_KINDS_MAX];
    struct domains *domains;
    bool domains_fresh;
    bool committing;
    bool xenstore_away;
};

void sources_init(struct sources *sources, struct ev_loop *loop, const char *state_directory);
/* Frees every source. */
void sources_finish(struct sources *sources);
/* The xenstore connection sources use from the next stage on (NULL: none);
 * the caller closes the one it replaces once no source holds it. */
void sources_set_xenstore(struct sources *sources, struct xenstore *xenstore);

/* strict: a reload (anything that cannot be acquired fails the stage);
 * otherwise start-up. On failure nothing of the stage is left. */
int sources_stage(struct sources *sources, struct model *model, bool strict);
void sources_abort(struct sources *sources);
/* What an earlier instance of the daemon showed bridge's frontend (found by
 * the stage), or -1: for model_seed_bridge(). */
int sources_shown(struct sources *sources, const struct bridge *bridge);
void sources_commit(struct sources *sources);
void sources_start(struct sources *sources);

/* A bridge changed state: every signaller of it is told, or notes it. */
void sources_publish(struct sources *sources, struct bridge *bridge);
/* xenstore went away: what was read there is no longer observed, and the
 * methods that go through it hold their publications. */
void sources_xenstore_lost(struct sources *sources);
/* xenstore is back (its watches armed again): everything read there is
 * read again, then the frontends' nodes are put right and what changed
 * meanwhile is published. */
void sources_xenstore_back(struct sources *sources);
/* xenstored may have dropped our watch events (its memory quota): every
 * backend read there is read again. */
void sources_xenstore_reread(struct sources *sources);
/* After each batch of xenstore events: what xenstored refused for lack of
 * room is tried again (stopping at the first refusal, returned). */
int sources_retry(struct sources *sources);
/* A frontend's domain came or went (xen/domains.h). */
void sources_frontend_changed(struct sources *sources, struct frontend *frontend, bool present);
/* A bridge's node was made again, or a key in it changed under us. */
void sources_refresh(struct sources *sources, struct bridge *bridge);

/* The signallers in use, in publication order; returns how many. */
size_t sources_signallers(const struct sources *sources, struct signaller **out, size_t max);
/* The probe of the kind called name, NULL when none is in use. */
struct probe *sources_probe(const struct sources *sources, const char *name);
