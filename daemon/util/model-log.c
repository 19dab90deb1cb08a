// SPDX-License-Identifier: GPL-2.0-or-later
#include "model-log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "log.h"

__attribute__((format(printf, 4, 0)))
static void log_object(int priority, const struct bridge *bridge, const struct backend *backend,
                       const char *format, va_list args)
{
    char text[1024], domid[16];
    vsnprintf(text, sizeof(text), format, args);
    struct log_field fields[LOG_FIELDS_MAX];
    size_t count = 0;
    if (bridge) {
        snprintf(domid, sizeof(domid), "%u", bridge->frontend->domid);
        fields[count++] = (struct log_field){"FRONTEND", bridge->frontend->name};
        fields[count++] = (struct log_field){"FRONTEND_DOMID", domid};
        fields[count++] = (struct log_field){"BRIDGE", bridge->name};
        fields[count++] = (struct log_field){"STATE", bridge_state_name(bridge->state)};
    }
    if (backend)
        fields[count++] = (struct log_field){"BACKEND", backend->name};
    log_fields(priority, fields, count, "%s", text);
}

void log_bridge(int priority, const struct bridge *bridge, const struct backend *backend,
                const char *format, ...)
{
    va_list args;
    va_start(args, format);
    log_object(priority, bridge, backend, format, args);
    va_end(args);
}

void log_backend(int priority, const struct backend *backend, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    log_object(priority, NULL, backend, format, args);
    va_end(args);
}

void log_backend_problem(char **last, const struct backend *backend, const char *problem)
{
    if (problem && *last && strcmp(problem, *last) == 0)
        return;
    free(*last);
    *last = problem ? strdup(problem) : NULL;
    if (problem)
        log_backend(LOG_WARNING, backend, "backend %s: %s", backend->name, problem);
}
