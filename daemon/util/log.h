// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging. Under journald (JOURNAL_STREAM matches our stderr) messages go
 * through sd_journal_send() with structured fields; elsewhere, and for a
 * message the journal refuses, to stderr with sd-daemon "<N>" priority
 * prefixes, which journald and systemd also parse. A build without systemd
 * (XENREADY_WITH_SYSTEMD 0) has no journal: stderr. log_set_target() can
 * choose stderr, or syslog(3) (facility daemon) for an init script.
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

enum log_target {
    LOG_TARGET_AUTO,     /* the journal when it is our stderr, else stderr (the default) */
    LOG_TARGET_STDERR,   /* stderr, "<N>" prefixes, even under journald */
    LOG_TARGET_SYSLOG,   /* syslog(3): /dev/log, facility daemon, ident xenreadyd[pid] */
};
/* Parses "auto", "stderr", "syslog"; -EINVAL for anything else. */
int log_parse_target(const char *text);
/* Opens the syslog connection at once for LOG_TARGET_SYSLOG. */
void log_set_target(enum log_target target);

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
