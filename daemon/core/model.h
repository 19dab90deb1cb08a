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

enum probe_kind {
    PROBE_XENSTORE,      /* a xenstore node holding an expected value */
    PROBE_SOCKET,        /* a UNIX socket file listening or attached (vhost-user) */
    PROBE_UNIT,          /* a systemd unit whose ActiveState is active */
    PROBE_ANNOUNCE,      /* announced with xenreadyctl ready/gone by its owner */
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
    bool absent;             /* its xenstore home was gone at the last domain event */
    /* Its xenready directory, when last read, was the daemon's and readable
     * by this frontend alone: a node made in it inherits exactly the
     * permissions a signal node needs (xen/domains.h). */
    bool directory_private;
};

/* Ordered so that 10,000 of them pack without holes (120 bytes each). */
struct backend {
    const char *name;
    struct source_location where;
    enum probe_kind probe;
    enum backend_owner owner;    /* probe = announce */
    unsigned int owner_uid;      /* owner = OWNER_UID */
    /* Last observation reported by the probe. */
    bool ready;
    /* ready is probe_ready && (no liveness || alive). */
    bool probe_ready;
    bool alive;
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
    };
    /* Bridges that need this backend. Nearly every backend serves one
     * bridge: then bridges points at first_bridge, and a 10,000-backend
     * model does not hold 10,000 arrays (each a separate allocation). */
    struct bridge **bridges;
    struct bridge *first_bridge;
    size_t bridge_count;
    const char *detail;          /* why it is not ready, for status; may be NULL;
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
    size_t ready_count;
    enum bridge_state state;
    uint64_t state_since_usec;   /* CLOCK_REALTIME of the last transition */
    unsigned int timeout_seconds;  /* start-up timeout, 0: none */
    bool degraded;           /* timed out at start-up; daemon-side only */
    bool been_ready;         /* has been READY since the model was built */
};

/* Told about every bridge transition, once, after it is logged. */
typedef void (*model_transition_fn)(struct bridge *bridge, enum bridge_state old_state,
                                    const struct backend *cause, void *userdata);

/* Told after every change of a backend's readiness (and the bridge
 * transitions it caused), and of why a backend that is not ready is not. */
typedef void (*model_backend_fn)(struct backend *backend, void *userdata);

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
 * The state machine's only input: a probe's latest observation of a backend.
 * Repeated observations are harmless; a bridge changes state exactly when the
 * last of its backends becomes ready or the first one stops being ready.
 * detail (may be NULL) says why a backend is not ready.
 */
void model_set_backend_ready(struct model *model, struct backend *backend, bool ready,
                             const char *detail);

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

const char *bridge_state_name(enum bridge_state state);
/* Counts bridges in state READY. */
size_t model_ready_bridge_count(const struct model *model);
/* Whether anything in the model goes through xenstore: a backend some bridge
 * needs that is read there, or a bridge signalled there (xenstore, evtchn,
 * whose port is published there, or sysrq). A model that needs none (static
 * event channels; socket, unit and announced backends) runs on a system
 * without xenstore. */
bool model_needs_xenstore(const struct model *model);
