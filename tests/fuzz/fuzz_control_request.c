// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for control requests: any bytes give either a request
 * naming a command or an error message for the client, never a crash, a leak
 * or undefined behaviour.
 */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "control/control-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *request = NULL;
    const char *command = NULL, *error = NULL;
    int r = control_request_parse((const char *)data, size, &request, &command, &error);
    if (r == 0 ? !request || !command : request || !error || !error[0])
        __builtin_trap();
    if (command)
        (void)strlen(command);
    json_object_put(request);
    return 0;
}
