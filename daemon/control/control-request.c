// SPDX-License-Identifier: GPL-2.0-or-later
#include "control-request.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>

#include "xenready-control.h"

int control_request_parse(const char *text, size_t length, struct json_object **request,
                          const char **command, const char **error)
{
    *request = NULL;
    *command = NULL;
    if (length > INT_MAX) {
        *error = "request too long";
        return -EINVAL;
    }
    struct json_tokener *tokener = json_tokener_new();
    if (!tokener) {
        *error = "out of memory";
        return -ENOMEM;
    }
    struct json_object *parsed = json_tokener_parse_ex(tokener, text, (int)length);
    /* One value and nothing after it: "{}{}" or "{} x" is not a request. */
    bool complete = json_tokener_get_error(tokener) == json_tokener_success
                    && (size_t)json_tokener_get_parse_end(tokener) == length;
    json_tokener_free(tokener);

    struct json_object *member;
    if (!parsed || !complete)
        *error = "request is not a JSON value";
    else if (!json_object_is_type(parsed, json_type_object))
        *error = "request is not a JSON object";
    else if (!json_object_object_get_ex(parsed, "version", &member)
             || !json_object_is_type(member, json_type_int)
             || json_object_get_int64(member) != XENREADY_CONTROL_VERSION)
        *error = "unsupported protocol version (this daemon speaks version 1)";
    else if (!json_object_object_get_ex(parsed, "command", &member)
             || !json_object_is_type(member, json_type_string))
        *error = "request has no command";
    else {
        *request = parsed;
        *command = json_object_get_string(member);
        return 0;
    }
    json_object_put(parsed);
    return -EINVAL;
}
