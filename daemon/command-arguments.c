// SPDX-License-Identifier: GPL-2.0-or-later
#include "command-arguments.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>

int wait_arguments_parse(struct json_object *request, struct wait_arguments *out,
                         const char **error)
{
    static const char *const usage = "wait: \"bridges\" must be an array of 1 to 64 bridge names";
    *out = (struct wait_arguments){.timeout = -1};
    struct json_object *bridges, *timeout;
    if (!json_object_object_get_ex(request, "bridges", &bridges)
        || !json_object_is_type(bridges, json_type_array) || json_object_array_length(bridges) == 0
        || json_object_array_length(bridges) > WAIT_BRIDGES_MAX) {
        *error = usage;
        return -EINVAL;
    }
    for (size_t i = 0; i < json_object_array_length(bridges); i++) {
        struct json_object *name = json_object_array_get_idx(bridges, i);
        if (!json_object_is_type(name, json_type_string)) {
            *error = usage;
            return -EINVAL;
        }
        out->bridges[out->count++] = json_object_get_string(name);
    }
    if (json_object_object_get_ex(request, "timeout", &timeout)
        && !json_object_is_type(timeout, json_type_null)) {
        double seconds = json_object_is_type(timeout, json_type_int)
                                 || json_object_is_type(timeout, json_type_double)
                             ? json_object_get_double(timeout)
                             : NAN;
        if (!isfinite(seconds) || seconds < 0) {
            *error = "wait: \"timeout\" must be a number of seconds";
            return -EINVAL;
        }
        out->timeout = seconds;
    }
    return 0;
}

int announce_arguments_parse(struct json_object *request, const char *command,
                             const char **backend, const char **error)
{
    struct json_object *member;
    if (!json_object_object_get_ex(request, "backend", &member)
        || !json_object_is_type(member, json_type_string)) {
        *error = strcmp(command, "gone") == 0 ? "gone: request has no backend"
                                              : "ready: request has no backend";
        return -EINVAL;
    }
    *backend = json_object_get_string(member);
    return 0;
}
