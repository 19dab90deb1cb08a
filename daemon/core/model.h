// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The readiness model: frontends, their bridges, and the backends each bridge
 * needs. Pure data plus the per-bridge state machine; it knows nothing about
 * Xen, event loops or sockets, so it is tested on its own.
 *
 * Ownership: a struct model owns every frontend, bridge and backend in it;
 * model_free() releases all of them. Pointers between objects are borrowed.
 * The text the configuration sets once (names, paths, values) is stored by
 * the model too (model_store_text()) and lives as long as it.
 *
 * A model is what one configuration defines plus what has been observed of
 * it. A reload loads a fresh model and carries what is known into it from the
 * running one (model_carry()): nothing is observed again that did not change.
 * Each observation is three-valued, up, down or not observed (yet, or no
 * longer: its source lost sight of it), and a bridge changes state only on
 * what is known: it is ready once every backend is observed up, waiting as
 * soon as one is observed down, and otherwise keeps the state it has. So a
 * bridge never becomes ready on a guess, and never flaps while a source is
 * looked at again (a reload, a restart, xenstore coming back).
 *
 * The model logs nothing and knows no event loop: its observer hears each
 * change (the daemon logs and publishes it).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frontend domids are below DOMID_FIRST_RESERVED (0x7FF0) in Xen. */
#define MODEL_DOMID_MAX 0x7FEFu

enum bridge_state {
    BRIDGE_WAITING,
    BRIDGE_READY,
};

/* What is known of one backend now. */
enum backend_readiness {
    BACKEND_UNOBSERVED,      /* a source has not reported (since it began, or lost sight) */
    BACKEND_UP,
    BACKEND_DOWN,
};

enum probe_kind {
    PROBE_XENSTORE,      /* a xenstore node holding an expected value */
    PROBE_SOCKET,        /* a UNIX socket file listening or attached (vhost-user) */
    PROBE_UNIT,          /* a systemd unit whose ActiveState is active */
    PROBE_ANNOUNCE,      /* announced with xenreadyctl ready/gone by its owner */
    PROBE_XENREADY,      /* a bridge another xenreadyd publishes (protocol/xenready-guest.h) */
};

/* Who may announce a probe = announce backend. */
enum backend_owner {
    OWNER_NONE,
    OWNER_UID,           /* the peer's uid (SO_PEERCRED) */
    OWNER_UNIT,          /* the systemd unit the peer process runs in */
};

/* How a bridge tells its frontend; a bridge may use several. */
enum signal_method {
    SIGNAL_XENSTORE = 1u << 0,
    SIGNAL_EVTCHN = 1u << 1,         /* implies SIGNAL_XENSTORE (the port is published there) */
    SIGNAL_STATIC_EVTCHN = 1u << 2,
    SIGNAL_SYSRQ = 1u << 3,
    SIGNAL_UNPAUSE = 1u << 4,        /* the frontend's domain, created paused, is unpaused */
};

struct source_location {
    const char *file;    /* owned by the model's file list */
    unsigned int line;
};

/* frontend, backend and bridge keep name as their first member (see model.c). */
struct frontend {
    const char *name;
    unsigned int domid;
    struct source_location where;
    bool known;              /* absent and directory_private were read (or carried) */
    bool absent;             /* its xenstore home was gone at the last domain event */
    /* Its xenready directory, when last read, was the daemon's and readable
     * by this frontend alone: a node made in it inherits exactly the
     * permissions a signal node needs (xen/domains.h). */
    bool directory_private;
};

/* Ordered so that 10,000 of them pack without holes (128 bytes each). */
struct backend {
    const char *name;
    struct source_location where;
    enum probe_kind probe;
    enum backend_owner owner;    /* probe = announce; probe = socket: uid only */
    unsigned int owner_uid;      /* owner = OWNER_UID */
    /* What the probe and the liveness source last reported, and whether
     * they have reported since they began following the backend (or since
     * they lost sight of it). */
    bool probe_ready;
    bool probe_observed;
    bool alive;
    bool alive_observed;
    /* Derived (backend_update()): up when the probe and the liveness source
     * are observed and hold, down when either is observed not to. */
    bool ready;
    bool down;
    bool follow_symlink;         /* probe = socket: its path may be a link */
    enum backend_readiness last_known;   /* up or down as last observed; unobserved: never */
    /* The keys of the backend's own probe kind: one kind per backend, so
     * they share room (read only those of backend->probe). */
    union {
        struct {                             /* probe = xenstore, device-model */
            const char *xenstore_path;       /* absolute, or relative to the daemon's home */
            const char *expected_value;
        };
        const char *socket_path;             /* probe = socket */
        const char *unit;                    /* probe = unit */
        const char *owner_unit;              /* probe = announce, owner = OWNER_UNIT */
        struct {                             /* probe = xenready */
            const char *xenready_node;       /* /local/domain/<fe>/xenready/<bridge-id> */
            unsigned int publisher_domid;    /* the domain whose xenreadyd publishes it */
        };
    };
    /* Bridges that need this backend. Nearly every backend serves one
     * bridge: then bridges points at first_bridge, and a 10,000-backend
     * model does not hold 10,000 arrays (each a separate allocation). */
    struct bridge **bridges;
    struct bridge *first_bridge;
    size_t bridge_count;
    const char *detail;          /* why it is not up, for status; may be NULL;
                                  * probe_detail or liveness_detail */
    /* Liveness, combinable with any probe: at most one of the two is set. */
    const char *pidfile;
    const char *liveness_unit;
    char *probe_detail;
    char *liveness_detail;
};

struct bridge {
    const char *name;        /* "FRONTEND/ID", unique */
    size_t index;            /* position in model->bridges */
    const char *id;          /* the part after the slash, points into name */
    struct frontend *frontend;
    const char *device_tree_path;
    unsigned int signal_methods;
    unsigned int static_evtchn_port;   /* signal = static-evtchn: DomD's local port */
    char sysrq_key;                    /* signal = sysrq: the character written */
    struct source_location where;
    struct backend **backends;
    size_t backend_count;
    size_t ready_count;      /* backends observed up */
    size_t down_count;       /* backends observed down */
    enum bridge_state state;
    uint64_t state_since_usec;   /* CLOCK_REALTIME of the last transition */
    unsigned int timeout_seconds;  /* start-up timeout, 0: none */
    /* CLOCK_MONOTONIC when the start-up timeout passes; 0: not set yet
     * (bridge-timeout.c sets it). Carried across reloads with the timeout. */
    uint64_t timeout_deadline_usec;
    bool degraded;           /* timed out at start-up; daemon-side only */
    bool unpause_on_timeout; /* signal = unpause: a degraded bridge lets the domain go */
    bool been_ready;         /* has been READY since the daemon started */
};

/* Told about every bridge transition, once. cause is the backend whose
 * observation made it, NULL when a reload changed the bridge itself. */
typedef void (*model_transition_fn)(struct bridge *bridge, enum bridge_state old_state,
                                    const struct backend *cause, void *userdata);

/* Told after every change of what is known of a backend (and after the
 * bridge transitions it caused), and of why a backend that is not up is not;
 * last_known is what was last observed of it before (up or down;
 * unobserved: nothing yet), so that a backend looked at again and found as
 * it was is no news. */
typedef void (*model_backend_fn)(struct backend *backend, enum backend_readiness last_known,
                                 void *userdata);

struct model_observer {
    model_transition_fn on_transition;
    model_backend_fn on_backend;
    void *userdata;
};

/* A hash table (open addressing) of objects that start with their name: one
 * allocation per table, where a tree would take one per object. */
struct model_name_index {
    void **slots;
    size_t capacity;         /* 0 or a power of two, at most 3/4 used */
    size_t count;
};

struct model {
    struct frontend **frontends;
    size_t frontend_count;
    struct bridge **bridges;
    size_t bridge_count;
    struct backend **backends;
    size_t backend_count;
    char **files;            /* configuration files read, for source locations */
    size_t file_count;
    /* Name indexes for the finds: configurations with thousands of bridges
     * are loaded in linear time. */
    struct model_name_index frontend_index;
    struct model_name_index bridge_index;
    struct model_name_index backend_index;
    /* Storage of model_store_text(): blocks of packed strings, so that
     * 10,000 backends' names and paths are not 20,000 allocations (each
     * with malloc's header and rounding). */
    struct model_text_block *text_blocks;
    void *shared_texts;      /* tsearch(3) tree of model_share_text()'s */
    struct model_observer observer;
};

struct model *model_new(void);
void model_free(struct model *model);

struct frontend *model_find_frontend(const struct model *model, const char *name);
struct bridge *model_find_bridge(const struct model *model, const char *name);
struct backend *model_find_backend(const struct model *model, const char *name);

/*
 * Copies text into storage the model owns: it lives until model_free() and is
 * never freed on its own (it is for what the configuration sets once).
 * Returns NULL when out of memory.
 */
const char *model_store_text(struct model *model, const char *text);
/* The same, with identical texts stored once: for values that repeat across
 * thousands of backends or bridges (an expected value, a device-tree path). */
const char *model_share_text(struct model *model, const char *text);

/* Adding objects; the model takes ownership of what it returns. */
int model_add_file(struct model *model, const char *path, const char **stored);
int model_add_frontend(struct model *model, const char *name, struct frontend **out);
int model_add_bridge(struct model *model, const char *name, struct bridge **out);
int model_add_backend(struct model *model, const char *name, struct backend **out);
/* Records that bridge needs backend (both directions); duplicates are ignored. */
int model_link(struct bridge *bridge, struct backend *backend);

void model_set_observer(struct model *model, const struct model_observer *observer);

/*
 * The state machine's input: a probe's latest observation of a backend.
 * Repeated observations are harmless; a bridge becomes ready when the last
 * of its backends is observed up, and waits as soon as one is observed down.
 * detail (may be NULL) says why a backend is not up.
 */
void model_set_backend_ready(struct model *model, struct backend *backend, bool ready,
                             const char *detail);
/* The probe lost sight of the backend (its source went away: xenstore):
 * the backend is not observed until the probe reports again, and its
 * bridges keep their state meanwhile. detail says why. */
void model_forget_backend(struct model *model, struct backend *backend, const char *detail);
/* The same for its liveness source. */
void model_forget_backend_alive(struct model *model, struct backend *backend,
                                const char *detail);
enum backend_readiness backend_readiness(const struct backend *backend);

/* Whether a backend has a liveness source (pidfile or liveness-unit). */
bool backend_has_liveness(const struct backend *backend);

/*
 * The liveness source's latest observation: a backend with liveness is ready
 * only while its probe and its liveness both hold (a device-model key or a
 * socket file left behind by a dead process does not count). detail (may be
 * NULL) says why it is not alive.
 */
void model_set_backend_alive(struct model *model, struct backend *backend, bool alive,
                             const char *detail);

/* Marks a waiting bridge degraded (its start-up timeout passed) or clears it;
 * a bridge that becomes ready is no longer degraded. Logging is the caller's. */
void model_set_bridge_degraded(struct model *model, struct bridge *bridge, bool degraded);

/* Whether two backends are defined alike: same probe and keys, same
 * liveness, same owner. Where they are is not part of it. */
bool backend_same_definition(const struct backend *a, const struct backend *b);

/*
 * Copies what is known from old (the running model, left as it is) into
 * model (freshly loaded, not observed yet): each backend defined as before
 * keeps its observations; each frontend with the same name and domid keeps
 * what the domain events found; each bridge of the same name and frontend
 * domid (so with the same node) keeps its state, since, degraded state and
 * start-up deadline (the deadline only with the same timeout). No observer
 * is told: model_settle() then re-evaluates the bridges. 0 or -ENOMEM.
 */
int model_carry(struct model *model, const struct model *old);
/* The state a new bridge's frontend was last shown (by an earlier instance):
 * the bridge starts from it, so that what changed since is a transition
 * like any other. No observer is told. */
void model_seed_bridge(struct model *model, struct bridge *bridge, enum bridge_state state);
/* Re-evaluates every bridge against what is known of its backends; each
 * change is a transition, told to the observer with no cause when no backend
 * observation made it (a reload changed which backends the bridge needs). */
void model_settle(struct model *model);

const char *bridge_state_name(enum bridge_state state);
/* Counts bridges in state READY; and those READY or degraded. */
size_t model_ready_bridge_count(const struct model *model);
size_t model_settled_bridge_count(const struct model *model);
/* Whether anything in the model goes through xenstore: a backend some bridge
 * needs that is read there, or a bridge signalled there (xenstore, evtchn,
 * whose port is published there, or sysrq). A model that needs none (static
 * event channels; socket, unit and announced backends) runs on a system
 * without xenstore. */
bool model_needs_xenstore(const struct model *model);
