// SPDX-License-Identifier: GPL-2.0-or-later
#include "status.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/model.h"
#include "probes/announce-probe.h"
#include "signallers/signaller.h"

static struct json_object *json_string_or_null(const char *text)
{
    return text ? json_object_new_string(text) : NULL;
}

static struct json_object *status_time(uint64_t usec)
{
    if (!usec)
        return NULL;
    char text[32];
    time_t seconds = (time_t)(usec / 1000000u);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_object_new_string(text);
}

static struct json_object *status_bridge(const struct bridge *bridge,
                                         struct signaller *const *signallers, size_t count)
{
    struct json_object *object = json_object_new_object();
    json_object_object_add(object, "name", json_object_new_string(bridge->name));
    json_object_object_add(object, "frontend", json_object_new_string(bridge->frontend->name));
    json_object_object_add(object, "frontend_domid", json_object_new_int((int)bridge->frontend->domid));
    json_object_object_add(object, "id", json_object_new_string(bridge->id));
    /* null for a bridge that only holds its guest paused (signal = unpause
     * alone needs no path): json-c cannot make a string of NULL. */
    json_object_object_add(object, "device_tree_path",
                           bridge->device_tree_path
                               ? json_object_new_string(bridge->device_tree_path) : NULL);
    json_object_object_add(object, "state",
                           json_object_new_string(bridge_state_name(bridge->state)));
    json_object_object_add(object, "since", status_time(bridge->state_since_usec));
    json_object_object_add(object, "backends_ready", json_object_new_int64((int64_t)bridge->ready_count));
    json_object_object_add(object, "backends_total",
                           json_object_new_int64((int64_t)bridge->backend_count));
    struct json_object *missing = json_object_new_array();
    for (size_t i = 0; i < bridge->backend_count; i++)
        if (!bridge->backends[i]->ready)
            json_object_array_add(missing, json_object_new_string(bridge->backends[i]->name));
    json_object_object_add(object, "missing", missing);
    json_object_object_add(object, "degraded", json_object_new_boolean(bridge->degraded));

    struct json_object *signals = json_object_new_array();
    for (size_t i = 0; i < count; i++) {
        struct signal_report report;
        if (signallers[i]->ops->report(signallers[i], bridge, &report) < 0)
            continue;
        struct json_object *signal = json_object_new_object();
        json_object_object_add(signal, "method", json_object_new_string(report.method));
        json_object_object_add(signal, "target", json_string_or_null(report.target));
        json_object_object_add(signal, "generation", json_object_new_int64((int64_t)report.generation));
        json_object_object_add(signal, "error", json_string_or_null(report.error));
        json_object_array_add(signals, signal);
    }
    json_object_object_add(object, "signals", signals);
    return object;
}

static struct json_object *status_backend(const struct backend *backend)
{
    struct json_object *object = json_object_new_object();
    json_object_object_add(object, "name", json_object_new_string(backend->name));
    json_object_object_add(object, "ready", json_object_new_boolean(backend->ready));
    json_object_object_add(object, "detail", json_string_or_null(backend->detail));
    struct json_object *bridges = json_object_new_array();
    for (size_t i = 0; i < backend->bridge_count; i++)
        json_object_array_add(bridges, json_object_new_string(backend->bridges[i]->name));
    json_object_object_add(object, "bridges", bridges);
    return object;
}

static struct json_object *status_refusals(const struct probe *announce)
{
    struct json_object *array = json_object_new_array();
    struct announce_refusal refusals[ANNOUNCE_REFUSALS_KEPT];
    size_t count = announce_probe_refusals(announce, refusals);
    for (size_t i = 0; i < count; i++) {
        const struct announce_refusal *refusal = &refusals[i];
        struct json_object *object = json_object_new_object();
        json_object_object_add(object, "time", status_time((uint64_t)refusal->time * 1000000u));
        json_object_object_add(object, "backend", json_object_new_string(refusal->backend));
        json_object_object_add(object, "pid", json_object_new_int(refusal->pid));
        json_object_object_add(object, "uid", json_object_new_int64(refusal->uid));
        json_object_object_add(object, "reason", json_object_new_string(refusal->reason));
        json_object_array_add(array, object);
    }
    return array;
}

struct json_object *status_build(const struct model *model, struct signaller *const *signallers,
                                 size_t signaller_count, const struct probe *announce)
{
    struct json_object *status = json_object_new_object();
    struct json_object *bridges = json_object_new_array();
    for (size_t i = 0; i < model->bridge_count; i++)
        json_object_array_add(bridges,
                              status_bridge(model->bridges[i], signallers, signaller_count));
    json_object_object_add(status, "bridges", bridges);
    struct json_object *backends = json_object_new_array();
    for (size_t i = 0; i < model->backend_count; i++)
        json_object_array_add(backends, status_backend(model->backends[i]));
    json_object_object_add(status, "backends", backends);
    json_object_object_add(status, "refused_announcements", status_refusals(announce));
    return status;
}
