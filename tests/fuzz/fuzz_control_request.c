// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for control requests: any bytes give either a request
 * naming a command or an error message for the client, never a crash, a leak
 * or undefined behaviour; a request for wait, ready or gone then has its
 * arguments checked as the daemon checks them (command-arguments.h), with
 * the same promise.
 */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "command-arguments.h"
#include "control/control-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_arguments(struct json_object *request, const char *command)
{
    const char *error = NULL;
    if (strcmp(command, "wait") == 0) {
        struct wait_arguments arguments;
        int r = wait_arguments_parse(request, &arguments, &error);
        if (r == 0 ? arguments.count == 0 || arguments.count > WAIT_BRIDGES_MAX
                         || !(arguments.timeout >= 0 || arguments.timeout == -1)
                   : !error || !error[0])
            __builtin_trap();
        for (size_t i = 0; r == 0 && i < arguments.count; i++)
            (void)strlen(arguments.bridges[i]);
    } else if (strcmp(command, "ready") == 0 || strcmp(command, "gone") == 0) {
        const char *backend = NULL;
        int r = announce_arguments_parse(request, command, &backend, &error);
        if (r == 0 ? !backend : !error || !error[0])
            __builtin_trap();
        if (backend)
            (void)strlen(backend);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *request = NULL;
    const char *command = NULL, *error = NULL;
    int r = control_request_parse((const char *)data, size, &request, &command, &error);
    if (r == 0 ? !request || !command : request || !error || !error[0])
        __builtin_trap();
    if (command)
        check_arguments(request, command);
    json_object_put(request);
    return 0;
}
