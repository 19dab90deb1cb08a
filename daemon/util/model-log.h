// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Log lines about the model's objects, with the journal fields a reader
 * filters on (journalctl BRIDGE=…): the one place that turns bridges and
 * backends into fields for util/log.h, which knows neither.
 */
#pragma once

struct bridge;
struct backend;

/* A message about a bridge (and the backend concerned, may be NULL), carrying
 * FRONTEND=, FRONTEND_DOMID=, BRIDGE=, BACKEND= and STATE= fields. */
__attribute__((format(printf, 4, 5)))
void log_bridge(int priority, const struct bridge *bridge, const struct backend *backend,
                const char *format, ...);

/* A message about a backend alone, carrying BACKEND=. */
__attribute__((format(printf, 3, 4)))
void log_backend(int priority, const struct backend *backend, const char *format, ...);

/* A problem with a backend that lasts (a missing directory, a file of the
 * wrong kind), logged as a warning only when it differs from *last, the one
 * logged before; NULL means it is solved. *last is the caller's to free. */
void log_backend_problem(char **last, const struct backend *backend, const char *problem);
