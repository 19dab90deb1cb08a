// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging. Under journald (JOURNAL_STREAM matches our stderr) messages go
 * through sd_journal_send() with structured fields; elsewhere, and for a
 * message the journal refuses, to stderr with sd-daemon "<N>" priority
 * prefixes, which journald and systemd also parse.
 *
 * The message, once formatted, and every field value are escaped as
 * util/escape.h says, so a call logs exactly one line whatever its arguments
 * hold: pass untrusted text as it is, never escaped already (its backslashes
 * would be doubled).
 */
#pragma once

#include <stddef.h>
#include <syslog.h>

/* A journal field beside MESSAGE= and PRIORITY=: NAME and its value. */
struct log_field {
    const char *name;
    const char *value;
};

void log_set_max_priority(int priority);   /* LOG_ERR … LOG_DEBUG; default LOG_INFO */
int log_get_max_priority(void);
/* Parses "err", "warning", "notice", "info", "debug" (or 0-7). */
int log_parse_priority(const char *text);

__attribute__((format(printf, 2, 3)))
void log_message(int priority, const char *format, ...);

/* A message with journal fields (at most LOG_FIELDS_MAX; on stderr only
 * the message is written). */
enum { LOG_FIELDS_MAX = 6 };
__attribute__((format(printf, 4, 5)))
void log_fields(int priority, const struct log_field *fields, size_t count, const char *format,
                ...);
