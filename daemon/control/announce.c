// SPDX-License-Identifier: GPL-2.0-or-later
#include "announce.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-login.h>
#include <time.h>

#include "config/config.h"
#include "control-server.h"
#include "core/model.h"
#include "daemon.h"
#include "probes/probe.h"

#define REFUSALS_KEPT 8

struct refusal {
    time_t when;
    pid_t pid;
    uid_t uid;
    char backend[72];
    char reason[256];
};

struct announce {
    struct probe probe;
    struct backend **backends;
    size_t count;
    struct refusal refusals[REFUSALS_KEPT];
    size_t refusal_count;    /* total; the last REFUSALS_KEPT are kept */
};

static struct announce *to_announce(struct probe *probe)
{
    return (struct announce *)probe;
}


int announce_authorise(const struct backend *backend, uid_t uid, const char *peer_unit,
                       char *reason, size_t size)
{
    switch (backend->owner) {
    case OWNER_UID:
        if (uid == backend->owner_uid)
            return 0;
        snprintf(reason, size, "backend %s may only be announced by uid %u; the peer has uid %u",
                 backend->name, backend->owner_uid, (unsigned int)uid);
        return -EPERM;
    case OWNER_UNIT:
        if (peer_unit && strcmp(peer_unit, backend->owner_unit) == 0)
            return 0;
        snprintf(reason, size, "backend %s may only be announced from unit %s; the peer runs %s%s",
                 backend->name, backend->owner_unit, peer_unit ? "in " : "in no systemd unit",
                 peer_unit ? peer_unit : "");
        return -EPERM;
    case OWNER_NONE:
        break;
    }
    snprintf(reason, size, "backend %s has no owner", backend->name);
    return -EPERM;
}


static void refusal_add(struct announce *announce, const char *backend, pid_t pid, uid_t uid,
                        const char *reason)
{
    if (!announce)
        return;
    struct refusal *refusal = &announce->refusals[announce->refusal_count++ % REFUSALS_KEPT];
    *refusal = (struct refusal){.when = time(NULL), .pid = pid, .uid = uid};
    snprintf(refusal->backend, sizeof(refusal->backend), "%s", backend);
    snprintf(refusal->reason, sizeof(refusal->reason), "%s", reason);
}

struct json_object *announce_handle(struct probe *base, struct model *model, const char *command,
                                    struct json_object *request, pid_t pid, uid_t uid)
{
    struct announce *announce = base ? to_announce(base) : NULL;
    bool ready = strcmp(command, "ready") == 0;
    struct json_object *member;
    char reason[512];
    const char *name = NULL;
    if (!json_object_object_get_ex(request, "backend", &member)
        || !json_object_is_type(member, json_type_string)) {
        snprintf(reason, sizeof(reason), "%s: request has no backend", command);
        refusal_add(announce, "", pid, uid, reason);
        return control_error(reason);
    }
    name = json_object_get_string(member);
    /* Never echo what is not a valid name into logs and status. */
    if (config_check_name(name) < 0) {
        snprintf(reason, sizeof(reason),
                 "%s: the backend name is not valid (letters, digits, '-' and '_')", command);
        refusal_add(announce, "?", pid, uid, reason);
        return control_error(reason);
    }
    struct backend *backend = model_find_backend(model, name);
    if (!backend) {
        snprintf(reason, sizeof(reason), "%s: no backend named \"%s\"", command, name);
        refusal_add(announce, name, pid, uid, reason);
        return control_error(reason);
    }
    if (backend->probe != PROBE_ANNOUNCE || !announce) {
        snprintf(reason, sizeof(reason),
                 "%s: backend %s is not announced (only probe = announce backends take "
                 "ready/gone)", command, name);
        refusal_add(announce, name, pid, uid, reason);
        return control_error(reason);
    }
    char *unit = NULL;
    if (backend->owner == OWNER_UNIT && sd_pid_get_unit(pid, &unit) < 0)
        unit = NULL;
    char why[384];
    int r = announce_authorise(backend, uid, unit, why, sizeof(why));
    free(unit);
    if (r < 0) {
        snprintf(reason, sizeof(reason), "%s refused: %s", command, why);
        refusal_add(announce, name, pid, uid, reason);
        return control_error(reason);
    }
    char detail[128];
    snprintf(detail, sizeof(detail), "announced gone by pid %d (uid %u)", (int)pid,
             (unsigned int)uid);
    model_set_backend_ready(model, backend, ready, ready ? NULL : detail);
    struct json_object *response = control_ok();
    json_object_object_add(response, "backend", json_object_new_string(name));
    json_object_object_add(response, "ready", json_object_new_boolean(backend->ready));
    return response;
}

struct json_object *announce_status_refusals(const struct probe *base)
{
    struct json_object *array = json_object_new_array();
    if (!base)
        return array;
    const struct announce *announce = (const struct announce *)base;
    size_t kept = announce->refusal_count < REFUSALS_KEPT ? announce->refusal_count
                                                          : REFUSALS_KEPT;
    for (size_t i = announce->refusal_count - kept; i < announce->refusal_count; i++) {
        const struct refusal *refusal = &announce->refusals[i % REFUSALS_KEPT];
        struct json_object *object = json_object_new_object();
        char when[32];
        struct tm tm;
        gmtime_r(&refusal->when, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_object_add(object, "time", json_object_new_string(when));
        json_object_object_add(object, "backend", json_object_new_string(refusal->backend));
        json_object_object_add(object, "pid", json_object_new_int(refusal->pid));
        json_object_object_add(object, "uid", json_object_new_int64(refusal->uid));
        json_object_object_add(object, "reason", json_object_new_string(refusal->reason));
        json_object_array_add(array, object);
    }
    return array;
}

static int announce_add_backend(struct probe *base, struct backend *backend)
{
    struct announce *announce = to_announce(base);
    struct backend **grown = realloc(announce->backends, (announce->count + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    announce->backends = grown;
    grown[announce->count++] = backend;
    return 0;
}

static int announce_arm(struct probe *base)
{
    return 0;
}

static int announce_scan(struct probe *base)
{
    struct announce *announce = to_announce(base);
    for (size_t i = 0; i < announce->count; i++) {
        struct backend *backend = announce->backends[i];
        char detail[160];
        snprintf(detail, sizeof(detail), "not announced yet (xenreadyctl ready %s)", backend->name);
        if (!backend->probe_ready)
            model_set_backend_ready(base->model, backend, false, detail);
    }
    return 0;
}

static void announce_free(struct probe *base)
{
    struct announce *announce = to_announce(base);
    free(announce->backends);
    free(announce);
}

static const struct probe_ops announce_ops = {
    .name = "announce",
    .add_backend = announce_add_backend,
    .arm = announce_arm,
    .scan = announce_scan,
    .free = announce_free,
};

int announce_probe_new(struct probe **out, struct model *model)
{
    struct announce *announce = calloc(1, sizeof(*announce));
    if (!announce)
        return -ENOMEM;
    announce->probe = (struct probe){.ops = &announce_ops, .model = model};
    *out = &announce->probe;
    return 0;
}

/* Both commands. Every refusal is kept for status (refusal_add()): the
 * cached status answer is dropped with it; what an accepted announcement
 * changes reaches it through the model. */
static struct json_object *announce_command(struct control_client *client, const char *command,
                                            struct json_object *request, const struct ucred *peer)
{
    struct daemon *daemon = control_client_daemon(client);
    struct json_object *response = announce_handle(daemon->announce_probe, daemon->model, command,
                                                   request, peer->pid, peer->uid);
    struct json_object *ok;
    if (!json_object_object_get_ex(response, "ok", &ok) || !json_object_get_boolean(ok))
        control_server_invalidate(daemon->control);
    return response;
}

struct json_object *announce_command_ready(struct control_client *client,
                                           struct json_object *request, const struct ucred *peer)
{
    return announce_command(client, "ready", request, peer);
}

struct json_object *announce_command_gone(struct control_client *client,
                                          struct json_object *request, const struct ucred *peer)
{
    return announce_command(client, "gone", request, peer);
}
