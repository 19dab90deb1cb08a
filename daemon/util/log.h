// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging. Under journald (JOURNAL_STREAM matches our stderr) messages go
 * through sd_journal_send() with structured fields; elsewhere, and for a
 * message the journal refuses, to stderr with sd-daemon "<N>" priority
 * prefixes, which journald and systemd also parse.
 */
#pragma once

#include <syslog.h>

struct bridge;
struct backend;

void log_set_max_priority(int priority);   /* LOG_ERR … LOG_DEBUG; default LOG_INFO */
int log_get_max_priority(void);
/* Parses "err", "warning", "notice", "info", "debug" (or 0-7). */
int log_parse_priority(const char *text);

__attribute__((format(printf, 2, 3)))
void log_message(int priority, const char *format, ...);

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
