// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control commands of protocol/xenready-control.h, served by the
 * transport in control/control-server.c: status, wait, reload, and the
 * announcements ready and gone.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command-arguments.h"
#include "config/config.h"
#include "control/control-server.h"
#include "core/model.h"
#include "daemon.h"
#include "probes/announce-probe.h"
#include "signallers/signaller.h"
#include "status.h"
#include "util/log.h"
#include "xenready-control.h"

/* A "wait" held until its bridges are all ready or it times out. */
struct wait_request {
    struct daemon *daemon;
    struct control_client *client;
    struct wait_request *next;
    size_t count;
    char *bridges[];
};

/* Answers at once, from the cached answer when nothing changed since it was
 * built: building 290 KB of JSON takes ~2.5 ms of the loop at 600 bridges,
 * and busy clients asking again and again would otherwise delay signals. */
static struct json_object *command_status(void *context, struct control_client *client,
                                          struct json_object *request, const struct ucred *peer)
{
    struct daemon *daemon = context;
    if (!daemon->status_answer) {
        struct signaller *signallers[SOURCES_KINDS_MAX];
        size_t count = sources_signallers(&daemon->sources, signallers, SOURCES_KINDS_MAX);
        struct json_object *response = status_build(daemon->model, signallers, count,
                                                    sources_probe(&daemon->sources, "announce"));
        json_object_object_add(response, "ok", json_object_new_boolean(true));
        daemon->status_answer = control_answer_new(response);
        json_object_put(response);
    }
    control_client_send(client, daemon->status_answer
                                    ? control_answer_ref(daemon->status_answer)
                                    : NULL);
    return NULL;
}

/* The answer to a wait, or NULL while some bridge is still waiting and time
 * is left. */
static struct json_object *wait_evaluate(const struct wait_request *wait, bool timed_out)
{
    const struct model *model = wait->daemon->model;
    struct json_object *waiting = json_object_new_array();
    for (size_t i = 0; i < wait->count; i++) {
        const struct bridge *bridge = model_find_bridge(model, wait->bridges[i]);
        if (!bridge) {
            char message[128];
            snprintf(message, sizeof(message), "unknown bridge \"%.64s\"", wait->bridges[i]);
            json_object_put(waiting);
            return control_error(message);
        }
        if (bridge->state != BRIDGE_READY)
            json_object_array_add(waiting, json_object_new_string(bridge->name));
    }
    bool ready = json_object_array_length(waiting) == 0;
    if (!ready && !timed_out) {
        json_object_put(waiting);
        return NULL;
    }
    struct json_object *response = control_ok();
    json_object_object_add(response, "ready", json_object_new_boolean(ready));
    json_object_object_add(response, "waiting", waiting);
    return response;
}

static void wait_free(struct wait_request *wait)
{
    for (struct wait_request **link = &wait->daemon->waits; *link; link = &(*link)->next)
        if (*link == wait) {
            *link = wait->next;
            break;
        }
    for (size_t i = 0; i < wait->count; i++)
        free(wait->bridges[i]);
    free(wait);
}

static void wait_on_timeout(struct control_client *client, void *data)
{
    struct wait_request *wait = data;
    struct json_object *response = wait_evaluate(wait, true);
    wait_free(wait);
    control_client_respond(client, response);
}

static void wait_on_close(struct control_client *client, void *data)
{
    wait_free(data);
}

void daemon_answer_waits(struct daemon *daemon)
{
    struct wait_request *next;
    for (struct wait_request *wait = daemon->waits; wait; wait = next) {
        next = wait->next;
        struct json_object *response = wait_evaluate(wait, false);
        if (!response)
            continue;
        struct control_client *client = wait->client;
        wait_free(wait);
        control_client_respond(client, response);
    }
}

static struct json_object *command_wait(void *context, struct control_client *client,
                                        struct json_object *request, const struct ucred *peer)
{
    struct daemon *daemon = context;
    struct wait_arguments arguments;
    const char *error;
    if (wait_arguments_parse(request, &arguments, &error) < 0)
        return control_error(error);
    double seconds = arguments.timeout;
    struct wait_request *wait = calloc(1, sizeof(*wait) + arguments.count * sizeof(char *));
    if (!wait)
        return control_error("out of memory");
    *wait = (struct wait_request){.daemon = daemon, .client = client};
    for (size_t i = 0; i < arguments.count; i++) {
        char *copy = strdup(arguments.bridges[i]);
        if (!copy) {
            wait_free(wait);
            return control_error("out of memory");
        }
        wait->bridges[wait->count++] = copy;
    }
    struct json_object *response = wait_evaluate(wait, seconds == 0);
    if (response) {
        wait_free(wait);
        return response;
    }
    /* Held: daemon_answer_waits() or the timeout answers. */
    wait->next = daemon->waits;
    daemon->waits = wait;
    if (control_client_hold(client, seconds, wait_on_timeout, wait_on_close, wait) < 0) {
        wait_free(wait);
        char message[96];
        snprintf(message, sizeof(message), "wait: uid %u holds %d waits already",
                 (unsigned int)peer->uid, XENREADY_CONTROL_WAITS_PER_UID_MAX);
        return control_error(message);
    }
    return NULL;
}

static struct json_object *command_reload(void *context, struct control_client *client,
                                          struct json_object *request, const struct ucred *peer)
{
    log_message(LOG_INFO, "control client (pid %d, uid %u) asked for a reload", (int)peer->pid,
                (unsigned int)peer->uid);
    struct config_report report = {0};
    char reason[512] = "";
    int r = daemon_reload(context, &report, reason, sizeof(reason));
    struct json_object *response = r == 0 ? control_ok() : control_error(reason);
    struct json_object *messages = json_object_new_array();
    for (size_t i = 0; i < report.line_count; i++)
        json_object_array_add(messages, json_object_new_string(report.lines[i]));
    json_object_object_add(response, "messages", messages);
    config_report_clear(&report);
    return response;
}

/* ready and gone: {"backend": NAME}. A refusal is kept for status (so the
 * cached answer goes); what an accepted one changes reaches it through the
 * model. */
static struct json_object *announce(struct daemon *daemon, const char *command, bool ready,
                                    struct json_object *request, const struct ucred *peer)
{
    const char *name, *error;
    if (announce_arguments_parse(request, command, &name, &error) < 0)
        return control_error(error);
    struct announce_peer who = {.pid = peer->pid, .uid = peer->uid};
    char reason[512];
    bool now_ready = false;
    int r = announce_probe_announce(sources_probe(&daemon->sources, "announce"), daemon->model,
                                    name, ready, &who, &now_ready, reason, sizeof(reason));
    if (r < 0) {
        daemon_schedule_status(daemon);
        return control_error(reason);
    }
    struct json_object *response = control_ok();
    json_object_object_add(response, "backend", json_object_new_string(name));
    json_object_object_add(response, "ready", json_object_new_boolean(now_ready));
    return response;
}

static struct json_object *command_ready(void *context, struct control_client *client,
                                         struct json_object *request, const struct ucred *peer)
{
    return announce(context, "ready", true, request, peer);
}

static struct json_object *command_gone(void *context, struct control_client *client,
                                        struct json_object *request, const struct ucred *peer)
{
    return announce(context, "gone", false, request, peer);
}

/* Commands of protocol/xenready-control.h; one line per command. */
static const struct control_command commands[] = {
    {"status", command_status, false},
    {"wait", command_wait, false},
    {"reload", command_reload, true},
    {"ready", command_ready, false},
    {"gone", command_gone, false},
};

const struct control_command *daemon_commands(size_t *count)
{
    *count = sizeof(commands) / sizeof(commands[0]);
    return commands;
}
