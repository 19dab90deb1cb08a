// SPDX-License-Identifier: GPL-2.0-or-later
#include "model.h"

#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct model *model_new(void)
{
    return calloc(1, sizeof(struct model));
}

/* Strings are packed into blocks of this many bytes; a longer one (a path
 * of up to 3 KiB) gets a block of its own. */
#define TEXT_BLOCK_SIZE 16384

struct model_text_block {
    struct model_text_block *next;
    size_t used;
    size_t size;
    char text[];
};

const char *model_store_text(struct model *model, const char *text)
{
    size_t length = strlen(text) + 1;
    struct model_text_block *block = model->text_blocks;
    if (!block || block->size - block->used < length) {
        size_t size = length > TEXT_BLOCK_SIZE / 4 ? length : TEXT_BLOCK_SIZE;
        struct model_text_block *fresh = malloc(sizeof(*fresh) + size);
        if (!fresh)
            return NULL;
        *fresh = (struct model_text_block){.size = size};
        if (block && size != TEXT_BLOCK_SIZE) {
            /* Behind the current block, which keeps its room. */
            fresh->next = block->next;
            block->next = fresh;
        } else {
            fresh->next = block;
            model->text_blocks = fresh;
        }
        block = fresh;
    }
    char *copy = block->text + block->used;
    memcpy(copy, text, length);
    block->used += length;
    return copy;
}

static int compare_texts(const void *a, const void *b)
{
    return strcmp(a, b);
}

const char *model_share_text(struct model *model, const char *text)
{
    const char *const *found = tfind(text, &model->shared_texts, compare_texts);
    if (found)
        return *found;
    const char *copy = model_store_text(model, text);
    /* Unshared if the tree has no room: still a correct copy. */
    if (copy)
        tsearch(copy, &model->shared_texts, compare_texts);
    return copy;
}

static void frontend_free(struct frontend *frontend)
{
    free(frontend);
}

static void bridge_free(struct bridge *bridge)
{
    if (!bridge)
        return;
    free(bridge->backends);
    free(bridge);
}

static void backend_free(struct backend *backend)
{
    if (!backend)
        return;
    if (backend->bridges != &backend->first_bridge)
        free(backend->bridges);
    free(backend->probe_detail);
    free(backend->liveness_detail);
    free(backend);
}

static void index_entry_keep(void *entry)
{
    (void)entry;
}

void model_free(struct model *model)
{
    if (!model)
        return;
    for (size_t i = 0; i < model->frontend_count; i++)
        frontend_free(model->frontends[i]);
    for (size_t i = 0; i < model->bridge_count; i++)
        bridge_free(model->bridges[i]);
    for (size_t i = 0; i < model->backend_count; i++)
        backend_free(model->backends[i]);
    for (size_t i = 0; i < model->file_count; i++)
        free(model->files[i]);
    free(model->frontend_index.slots);
    free(model->bridge_index.slots);
    free(model->backend_index.slots);
    /* The tree only points at texts freed below. */
    tdestroy(model->shared_texts, index_entry_keep);
    while (model->text_blocks) {
        struct model_text_block *next = model->text_blocks->next;
        free(model->text_blocks);
        model->text_blocks = next;
    }
    free(model->frontends);
    free(model->bridges);
    free(model->backends);
    free(model->files);
    free(model);
}

/* Appends item to a pointer array that only ever grows through here: its
 * capacity is 4, then the next power of two, so appending is amortised O(1). */
static int array_append(void *array_ptr, size_t *count, void *item)
{
    void ***array = array_ptr;
    size_t used = *count;
    if (used == 0 || (used >= 4 && (used & (used - 1)) == 0)) {
        void **grown = realloc(*array, (used == 0 ? 4 : used * 2) * sizeof(void *));
        if (!grown)
            return -ENOMEM;
        *array = grown;
    }
    (*array)[(*count)++] = item;
    return 0;
}

int model_add_file(struct model *model, const char *path, const char **stored)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    int r = array_append(&model->files, &model->file_count, copy);
    if (r < 0) {
        free(copy);
        return r;
    }
    *stored = copy;
    return 0;
}

/* Frontends, bridges and backends all start with their name, and a pointer to
 * a struct may be converted to a pointer to its first member. */
static const char *object_name(const void *object)
{
    return *(const char *const *)object;
}

/* FNV-1a: short names, no adversary (the configuration is root's). */
static size_t name_hash(const char *name)
{
    uint64_t hash = 14695981039346656037u;
    for (; *name; name++)
        hash = (hash ^ (unsigned char)*name) * 1099511628211u;
    return (size_t)hash;
}

/* The slot holding name, or the empty one where it would go. */
static void **index_slot(void **slots, size_t capacity, const char *name)
{
    size_t mask = capacity - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask)
        if (!slots[i] || strcmp(object_name(slots[i]), name) == 0)
            return &slots[i];
}

static void *find_by_name(const struct model_name_index *index, const char *name)
{
    return index->capacity ? *index_slot(index->slots, index->capacity, name) : NULL;
}

/* Makes room for one more object, so that index_add() cannot fail. */
static int index_reserve(struct model_name_index *index)
{
    if ((index->count + 1) * 4 <= index->capacity * 3)
        return 0;
    size_t capacity = index->capacity ? 2 * index->capacity : 16;
    void **slots = calloc(capacity, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < index->capacity; i++)
        if (index->slots[i])
            *index_slot(slots, capacity, object_name(index->slots[i])) = index->slots[i];
    free(index->slots);
    index->slots = slots;
    index->capacity = capacity;
    return 0;
}

/* Indexes a new object by name after index_reserve(); names are unique (the
 * loader checks), and a repeated one keeps finding the first. */
static void index_add(struct model_name_index *index, void *object)
{
    void **slot = index_slot(index->slots, index->capacity, object_name(object));
    if (!*slot) {
        *slot = object;
        index->count++;
    }
}

struct frontend *model_find_frontend(const struct model *model, const char *name)
{
    return find_by_name(&model->frontend_index, name);
}

struct bridge *model_find_bridge(const struct model *model, const char *name)
{
    return find_by_name(&model->bridge_index, name);
}

struct backend *model_find_backend(const struct model *model, const char *name)
{
    return find_by_name(&model->backend_index, name);
}

int model_add_frontend(struct model *model, const char *name, struct frontend **out)
{
    struct frontend *frontend = calloc(1, sizeof(*frontend));
    if (!frontend || !(frontend->name = model_store_text(model, name)))
        goto fail;
    if (index_reserve(&model->frontend_index) < 0
        || array_append(&model->frontends, &model->frontend_count, frontend) < 0)
        goto fail;
    index_add(&model->frontend_index, frontend);
    *out = frontend;
    return 0;
fail:
    frontend_free(frontend);
    return -ENOMEM;
}

int model_add_bridge(struct model *model, const char *name, struct bridge **out)
{
    const char *slash = strchr(name, '/');
    if (!slash)
        return -EINVAL;
    struct bridge *bridge = calloc(1, sizeof(*bridge));
    if (!bridge || !(bridge->name = model_store_text(model, name)))
        goto fail;
    bridge->id = bridge->name + (slash - name) + 1;
    bridge->signal_methods = SIGNAL_XENSTORE;
    bridge->index = model->bridge_count;
    if (index_reserve(&model->bridge_index) < 0
        || array_append(&model->bridges, &model->bridge_count, bridge) < 0)
        goto fail;
    index_add(&model->bridge_index, bridge);
    *out = bridge;
    return 0;
fail:
    bridge_free(bridge);
    return -ENOMEM;
}

int model_add_backend(struct model *model, const char *name, struct backend **out)
{
    struct backend *backend = calloc(1, sizeof(*backend));
    if (!backend || !(backend->name = model_store_text(model, name)))
        goto fail;
    if (index_reserve(&model->backend_index) < 0
        || array_append(&model->backends, &model->backend_count, backend) < 0)
        goto fail;
    index_add(&model->backend_index, backend);
    *out = backend;
    return 0;
fail:
    backend_free(backend);
    return -ENOMEM;
}

/* The first bridge is kept inline (see struct backend); a second one moves
 * the list to an array that grows like the others. */
static int backend_add_bridge(struct backend *backend, struct bridge *bridge)
{
    if (backend->bridge_count == 0) {
        backend->first_bridge = bridge;
        backend->bridges = &backend->first_bridge;
        backend->bridge_count = 1;
        return 0;
    }
    if (backend->bridges == &backend->first_bridge) {
        struct bridge **array = NULL;
        size_t count = 0;
        if (array_append(&array, &count, backend->first_bridge) < 0)
            return -ENOMEM;
        backend->bridges = array;
    }
    return array_append(&backend->bridges, &backend->bridge_count, bridge);
}

int model_link(struct bridge *bridge, struct backend *backend)
{
    for (size_t i = 0; i < bridge->backend_count; i++)
        if (bridge->backends[i] == backend)
            return 0;
    int r = array_append(&bridge->backends, &bridge->backend_count, backend);
    if (r < 0)
        return r;
    r = backend_add_bridge(backend, bridge);
    if (r < 0) {
        bridge->backend_count--;
        return r;
    }
    bridge->ready_count += backend->ready;
    bridge->down_count += backend->down;
    return 0;
}

void model_set_observer(struct model *model, const struct model_observer *observer)
{
    model->observer = *observer;
}

const char *bridge_state_name(enum bridge_state state)
{
    switch (state) {
    case BRIDGE_WAITING:
        return "waiting";
    case BRIDGE_READY:
        return "ready";
    }
    return "unknown";
}

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The one place a bridge changes state: the observer (the daemon) is told
 * once, and logs and publishes it. */
static void bridge_transition(struct model *model, struct bridge *bridge,
                              enum bridge_state new_state, const struct backend *cause)
{
    enum bridge_state old_state = bridge->state;
    if (old_state == new_state)
        return;
    bridge->state = new_state;
    bridge->state_since_usec = now_usec();
    if (new_state == BRIDGE_READY) {
        bridge->degraded = false;
        bridge->been_ready = true;
    }
    if (model->observer.on_transition)
        model->observer.on_transition(bridge, old_state, cause, model->observer.userdata);
}

/* Ready once every backend is observed up, waiting once one is observed
 * down; otherwise what it was (a backend is still being looked at). */
static void bridge_evaluate(struct model *model, struct bridge *bridge,
                            const struct backend *cause)
{
    if (bridge->down_count)
        bridge_transition(model, bridge, BRIDGE_WAITING, cause);
    else if (bridge->ready_count == bridge->backend_count)
        bridge_transition(model, bridge, BRIDGE_READY, cause);
}

bool backend_has_liveness(const struct backend *backend)
{
    return backend->pidfile || backend->liveness_unit;
}

enum backend_readiness backend_readiness(const struct backend *backend)
{
    return backend->ready ? BACKEND_UP : backend->down ? BACKEND_DOWN : BACKEND_UNOBSERVED;
}

/* Whether the text changed: a probe that observes the same thing again keeps
 * its string, and nobody is told. */
static bool replace_detail(char **slot, const char *detail)
{
    if (*slot == detail || (*slot && detail && strcmp(*slot, detail) == 0))
        return false;
    char *copy = detail ? strdup(detail) : NULL;
    free(*slot);
    *slot = copy;
    return true;
}

/* up/down from the probe's and the liveness source's observations. */
static void backend_derive(struct backend *backend)
{
    bool liveness = backend_has_liveness(backend);
    bool dead = liveness && backend->alive_observed && !backend->alive;
    bool probe_down = backend->probe_observed && !backend->probe_ready;
    backend->down = probe_down || dead;
    backend->ready = backend->probe_observed && backend->probe_ready
                     && (!liveness || (backend->alive_observed && backend->alive));
    /* Borrowed, not copied: one string per observation, not two (10,000
     * backends at a first boot each have one). */
    if (backend->ready)
        backend->detail = NULL;
    else if (dead || (!probe_down && backend->probe_observed))
        backend->detail = backend->liveness_detail;
    else
        backend->detail = backend->probe_detail;
}

/* Counts a backend's readiness in (sign 1) or out of (-1) its bridges. */
static void backend_count(struct backend *backend, int sign)
{
    for (size_t i = 0; i < backend->bridge_count; i++) {
        struct bridge *bridge = backend->bridges[i];
        bridge->ready_count += (size_t)(backend->ready ? sign : 0);
        bridge->down_count += (size_t)(backend->down ? sign : 0);
    }
}

/* Combines the probe's and the liveness source's observations; the rest of
 * the state machine sees one readiness per backend. */
static void backend_update(struct model *model, struct backend *backend, bool detail_changed)
{
    enum backend_readiness before = backend_readiness(backend);
    enum backend_readiness last_known = backend->last_known;
    backend_count(backend, -1);
    backend_derive(backend);
    backend_count(backend, 1);
    enum backend_readiness now = backend_readiness(backend);
    if (now != BACKEND_UNOBSERVED)
        backend->last_known = now;
    if (now == before) {
        /* Only why it is not up changed: status shows that too. */
        if (detail_changed && before != BACKEND_UP && model->observer.on_backend)
            model->observer.on_backend(backend, last_known, model->observer.userdata);
        return;
    }
    for (size_t i = 0; i < backend->bridge_count; i++)
        bridge_evaluate(model, backend->bridges[i], backend);
    /* After the transitions it caused were published: the frontend first. */
    if (model->observer.on_backend)
        model->observer.on_backend(backend, last_known, model->observer.userdata);
}

void model_set_backend_ready(struct model *model, struct backend *backend, bool ready,
                             const char *detail)
{
    bool changed = replace_detail(&backend->probe_detail, ready ? NULL : detail);
    changed |= !backend->probe_observed;
    backend->probe_ready = ready;
    backend->probe_observed = true;
    backend_update(model, backend, changed);
}

void model_forget_backend(struct model *model, struct backend *backend, const char *detail)
{
    bool changed = replace_detail(&backend->probe_detail, detail);
    changed |= backend->probe_observed;
    backend->probe_observed = false;
    backend_update(model, backend, changed);
}

void model_forget_backend_alive(struct model *model, struct backend *backend,
                                const char *detail)
{
    bool changed = replace_detail(&backend->liveness_detail, detail);
    changed |= backend->alive_observed;
    backend->alive_observed = false;
    backend_update(model, backend, changed);
}

void model_set_backend_alive(struct model *model, struct backend *backend, bool alive,
                             const char *detail)
{
    bool changed = replace_detail(&backend->liveness_detail, alive ? NULL : detail);
    changed |= !backend->alive_observed;
    backend->alive = alive;
    backend->alive_observed = true;
    backend_update(model, backend, changed);
}

void model_set_bridge_degraded(struct model *model, struct bridge *bridge, bool degraded)
{
    bridge->degraded = degraded && bridge->state != BRIDGE_READY;
}

bool model_needs_xenstore(const struct model *model)
{
    for (size_t i = 0; i < model->backend_count; i++)
        if (model->backends[i]->bridge_count && (model->backends[i]->probe == PROBE_XENSTORE
                                                 || model->backends[i]->probe == PROBE_XENREADY))
            return true;
    /* The static event channel needs none. (Unpause does: it hears of
     * guests created after their bridges were ready through xenstore.) */
    for (size_t i = 0; i < model->bridge_count; i++)
        if (model->bridges[i]->signal_methods & ~(unsigned int)SIGNAL_STATIC_EVTCHN)
            return true;
    return false;
}

size_t model_ready_bridge_count(const struct model *model)
{
    size_t ready = 0;
    for (size_t i = 0; i < model->bridge_count; i++)
        ready += model->bridges[i]->state == BRIDGE_READY;
    return ready;
}

size_t model_settled_bridge_count(const struct model *model)
{
    size_t settled = 0;
    for (size_t i = 0; i < model->bridge_count; i++)
        settled += model->bridges[i]->state == BRIDGE_READY || model->bridges[i]->degraded;
    return settled;
}

static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

bool backend_same_definition(const struct backend *a, const struct backend *b)
{
    if (a->probe != b->probe || !same_text(a->pidfile, b->pidfile)
        || !same_text(a->liveness_unit, b->liveness_unit))
        return false;
    switch (a->probe) {
    case PROBE_XENSTORE:
        return same_text(a->xenstore_path, b->xenstore_path)
               && same_text(a->expected_value, b->expected_value);
    case PROBE_SOCKET:
        return same_text(a->socket_path, b->socket_path)
               && a->follow_symlink == b->follow_symlink && a->owner == b->owner
               && a->owner_uid == b->owner_uid;
    case PROBE_UNIT:
        return same_text(a->unit, b->unit);
    case PROBE_ANNOUNCE:
        return a->owner == b->owner
               && (a->owner != OWNER_UID || a->owner_uid == b->owner_uid)
               && (a->owner != OWNER_UNIT || same_text(a->owner_unit, b->owner_unit));
    case PROBE_XENREADY:
        return same_text(a->xenready_node, b->xenready_node)
               && a->publisher_domid == b->publisher_domid;
    }
    return false;
}

static int copy_detail(char **slot, const char *detail)
{
    free(*slot);
    *slot = detail ? strdup(detail) : NULL;
    return detail && !*slot ? -ENOMEM : 0;
}

/* Copies the observations of old into backend (defined alike). */
static int backend_copy_observations(struct backend *backend, const struct backend *old)
{
    backend->probe_ready = old->probe_ready;
    backend->probe_observed = old->probe_observed;
    backend->alive = old->alive;
    backend->alive_observed = old->alive_observed;
    backend->last_known = old->last_known;
    int r = copy_detail(&backend->probe_detail, old->probe_detail);
    if (r == 0)
        r = copy_detail(&backend->liveness_detail, old->liveness_detail);
    backend_derive(backend);
    return r;
}

int model_carry(struct model *model, const struct model *old)
{
    for (size_t i = 0; i < model->frontend_count; i++) {
        struct frontend *frontend = model->frontends[i];
        const struct frontend *before = model_find_frontend(old, frontend->name);
        if (before && before->domid == frontend->domid && before->known) {
            frontend->absent = before->absent;
            frontend->directory_private = before->directory_private;
            frontend->known = true;
        }
    }
    for (size_t i = 0; i < model->backend_count; i++) {
        struct backend *backend = model->backends[i];
        const struct backend *before = model_find_backend(old, backend->name);
        if (before && backend_same_definition(backend, before)
            && backend_copy_observations(backend, before) < 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < model->bridge_count; i++) {
        struct bridge *bridge = model->bridges[i];
        bridge->ready_count = bridge->down_count = 0;
        for (size_t j = 0; j < bridge->backend_count; j++) {
            bridge->ready_count += bridge->backends[j]->ready;
            bridge->down_count += bridge->backends[j]->down;
        }
        const struct bridge *before = model_find_bridge(old, bridge->name);
        if (!before || before->frontend->domid != bridge->frontend->domid)
            continue;
        bridge->state = before->state;
        bridge->state_since_usec = before->state_since_usec;
        bridge->degraded = before->degraded;
        bridge->been_ready = before->been_ready;
        if (before->timeout_seconds == bridge->timeout_seconds)
            bridge->timeout_deadline_usec = before->timeout_deadline_usec;
    }
    return 0;
}

void model_seed_bridge(struct model *model, struct bridge *bridge, enum bridge_state state)
{
    bridge->state = state;
    if (state == BRIDGE_READY)
        bridge->been_ready = true;
}

void model_settle(struct model *model)
{
    for (size_t i = 0; i < model->bridge_count; i++)
        bridge_evaluate(model, model->bridges[i], NULL);
}
