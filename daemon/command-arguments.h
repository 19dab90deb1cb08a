// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The arguments of the control commands (protocol/xenready-control.h),
 * checked before a command acts on them. Pure functions of the request, so
 * that what a control client sends is fuzzed down to here
 * (tests/fuzz/fuzz_control_request.c). Each returns 0, or -EINVAL with
 * *error, a message for the client.
 */
#pragma once

#include <stddef.h>

struct json_object;

enum { WAIT_BRIDGES_MAX = 64 };

struct wait_arguments {
    const char *bridges[WAIT_BRIDGES_MAX];   /* point into the request */
    size_t count;
    double timeout;              /* seconds; < 0: none */
};

/* "wait": "bridges", 1 to WAIT_BRIDGES_MAX strings; "timeout", absent, null
 * or a finite number >= 0. */
int wait_arguments_parse(struct json_object *request, struct wait_arguments *out,
                         const char **error);
/* "ready" and "gone": "backend", a string (points into the request). */
int announce_arguments_parse(struct json_object *request, const char *command,
                             const char **backend, const char **error);
