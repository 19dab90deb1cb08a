// SPDX-License-Identifier: GPL-2.0-or-later
#include "model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

struct model *model_new(void)
{
    return calloc(1, sizeof(struct model));
}

static void frontend_free(struct frontend *frontend)
{
    if (!frontend)
        return;
    free(frontend->name);
    free(frontend);
}

static void bridge_free(struct bridge *bridge)
{
    if (!bridge)
        return;
    free(bridge->name);
    free(bridge->device_tree_path);
    free(bridge->backends);
    free(bridge);
}

static void backend_free(struct backend *backend)
{
    if (!backend)
        return;
    free(backend->name);
    free(backend->xenstore_path);
    free(backend->expected_value);
    free(backend->bridges);
    free(backend->detail);
    free(backend);
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
    free(model->frontends);
    free(model->bridges);
    free(model->backends);
    free(model->files);
    free(model);
}

/* Appends item to a growing pointer array. */
static int array_append(void *array_ptr, size_t *count, void *item)
{
    void ***array = array_ptr;
    void **grown = realloc(*array, (*count + 1) * sizeof(void *));
    if (!grown)
        return -ENOMEM;
    grown[(*count)++] = item;
    *array = grown;
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
static void *find_by_name(void *const *items, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(*(char *const *)items[i], name) == 0)
            return items[i];
    return NULL;
}

struct frontend *model_find_frontend(const struct model *model, const char *name)
{
    return find_by_name((void *const *)model->frontends, model->frontend_count, name);
}

struct bridge *model_find_bridge(const struct model *model, const char *name)
{
    return find_by_name((void *const *)model->bridges, model->bridge_count, name);
}

struct backend *model_find_backend(const struct model *model, const char *name)
{
    return find_by_name((void *const *)model->backends, model->backend_count, name);
}

int model_add_frontend(struct model *model, const char *name, struct frontend **out)
{
    struct frontend *frontend = calloc(1, sizeof(*frontend));
    if (!frontend || !(frontend->name = strdup(name)))
        goto fail;
    if (array_append(&model->frontends, &model->frontend_count, frontend) < 0)
        goto fail;
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
    if (!bridge || !(bridge->name = strdup(name)))
        goto fail;
    bridge->id = bridge->name + (slash - name) + 1;
    bridge->signal_methods = SIGNAL_XENSTORE;
    bridge->index = model->bridge_count;
    if (array_append(&model->bridges, &model->bridge_count, bridge) < 0)
        goto fail;
    *out = bridge;
    return 0;
fail:
    bridge_free(bridge);
    return -ENOMEM;
}

int model_add_backend(struct model *model, const char *name, struct backend **out)
{
    struct backend *backend = calloc(1, sizeof(*backend));
    if (!backend || !(backend->name = strdup(name)))
        goto fail;
    if (array_append(&model->backends, &model->backend_count, backend) < 0)
        goto fail;
    *out = backend;
    return 0;
fail:
    backend_free(backend);
    return -ENOMEM;
}

int model_link(struct bridge *bridge, struct backend *backend)
{
    for (size_t i = 0; i < bridge->backend_count; i++)
        if (bridge->backends[i] == backend)
            return 0;
    int r = array_append(&bridge->backends, &bridge->backend_count, backend);
    if (r < 0)
        return r;
    r = array_append(&backend->bridges, &backend->bridge_count, bridge);
    if (r < 0) {
        bridge->backend_count--;
        return r;
    }
    if (backend->ready)
        bridge->ready_count++;
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

/* The one place a bridge changes state: logs the transition once, then tells
 * the observer (the signallers). */
static void bridge_transition(struct model *model, struct bridge *bridge,
                              enum bridge_state new_state, const struct backend *cause)
{
    enum bridge_state old_state = bridge->state;
    if (old_state == new_state)
        return;
    bridge->state = new_state;
    bridge->state_since_usec = now_usec();
    if (new_state == BRIDGE_READY)
        log_bridge(LOG_NOTICE, bridge, cause,
                   "bridge %s (frontend %s, domid %u) ready: last backend %s is up",
                   bridge->name, bridge->frontend->name, bridge->frontend->domid, cause->name);
    else
        log_bridge(LOG_WARNING, bridge, cause,
                   "bridge %s (frontend %s, domid %u) waiting: backend %s went away%s%s",
                   bridge->name, bridge->frontend->name, bridge->frontend->domid, cause->name,
                   cause->detail ? ": " : "", cause->detail ? cause->detail : "");
    if (model->observer.on_transition)
        model->observer.on_transition(bridge, old_state, cause, model->observer.userdata);
}

static int set_detail(struct backend *backend, const char *detail)
{
    if (detail && backend->detail && strcmp(detail, backend->detail) == 0)
        return 0;
    free(backend->detail);
    backend->detail = NULL;
    if (detail && !(backend->detail = strdup(detail)))
        return -ENOMEM;
    return 0;
}

void model_set_backend_ready(struct model *model, struct backend *backend, bool ready,
                             const char *detail)
{
    set_detail(backend, ready ? NULL : detail);
    if (backend->ready == ready)
        return;
    backend->ready = ready;
    log_backend(LOG_INFO, backend, "backend %s %s%s%s", backend->name, ready ? "up" : "down",
                !ready && detail ? ": " : "", !ready && detail ? detail : "");
    for (size_t i = 0; i < backend->bridge_count; i++) {
        struct bridge *bridge = backend->bridges[i];
        if (ready)
            bridge->ready_count++;
        else
            bridge->ready_count--;
        bridge_transition(model, bridge,
                          bridge->ready_count == bridge->backend_count ? BRIDGE_READY
                                                                        : BRIDGE_WAITING,
                          backend);
    }
    if (model->observer.on_backend)
        model->observer.on_backend(backend, model->observer.userdata);
}

size_t model_ready_bridge_count(const struct model *model)
{
    size_t ready = 0;
    for (size_t i = 0; i < model->bridge_count; i++)
        ready += model->bridges[i]->state == BRIDGE_READY;
    return ready;
}
