// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <stddef.h>

struct json_object;

/*
 * Parses one control request (protocol/xenready-control.h): exactly one JSON
 * object, of our version, naming a command. On success returns 0 with
 * *request (the caller puts it) and *command (points into it). Otherwise
 * returns -EINVAL (or -ENOMEM) with *error, a static message for the client.
 * Kept apart from the socket code so it can be fuzzed on its own.
 */
int control_request_parse(const char *text, size_t length, struct json_object **request,
                          const char **command, const char **error);
