// SPDX-License-Identifier: GPL-2.0-or-later
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <unistd.h>
#if XENREADY_WITH_SYSTEMD
/* Without this, sd_journal_sendv() adds CODE_FILE=, CODE_LINE= and
 * CODE_FUNC= of its call site: log_emit() in this file, by its build-time
 * absolute path, in every entry; journalctl -o verbose would show that
 * instead of nothing. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#endif

#include "escape.h"

static int max_priority = LOG_INFO;
static enum log_target target = LOG_TARGET_AUTO;
static int journal_state = -1;   /* -1 unknown, 0 stderr, 1 journal */

void log_set_max_priority(int priority)
{
    max_priority = priority;
}

int log_get_max_priority(void)
{
    return max_priority;
}

/* The prefix is the priority as journald and syslog read it on a stream. */
static void log_to_stderr(int priority, const char *text)
{
    fprintf(stderr, "<%d>%s\n", priority, text);
}

int log_parse_target(const char *text)
{
    static const char *const names[] = {
        [LOG_TARGET_AUTO] = "auto", [LOG_TARGET_STDERR] = "stderr",
        [LOG_TARGET_SYSLOG] = "syslog",
    };
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
        if (strcmp(text, names[i]) == 0)
            return i;
    return -EINVAL;
}

void log_set_target(enum log_target chosen)
{
    target = chosen;
    /* Connected now (LOG_NDELAY), not at the first message: with every
     * descriptor taken by then, that would have none. Facility daemon,
     * identified as xenreadyd with its pid. */
    if (target != LOG_TARGET_SYSLOG)
        return;
    openlog("xenreadyd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    /* syslog(3) says nothing of messages it cannot deliver: say once, on
     * stderr, that nothing listens yet (it tries again at every message). */
    struct sockaddr_un address = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0
        && errno != EPROTOTYPE)   /* a stream socket listens: syslog(3) takes it too */
        log_to_stderr(LOG_WARNING, "no syslog daemon listens on /dev/log yet: messages are lost "
                                   "until one does");
    if (fd >= 0)
        close(fd);
}

int log_parse_priority(const char *text)
{
    static const char *const names[] = {
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    };
    for (int i = 0; i < 8; i++)
        if (strcmp(text, names[i]) == 0)
            return i;
    if (text[0] >= '0' && text[0] <= '7' && text[1] == '\0')
        return text[0] - '0';
    return -EINVAL;
}

/* systemd sets JOURNAL_STREAM to "dev:inode" of the stream it connected to our
 * stderr; only when that still is our stderr do structured fields make sense.
 * Built without systemd, never: the stream takes "<N>" lines all the same. */
static bool log_to_journal(void)
{
    if (journal_state >= 0)
        return journal_state;
    journal_state = 0;
    if (!XENREADY_WITH_SYSTEMD)
        return false;
    const char *stream = getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long long dev, ino;
    if (stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0
        && (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
        journal_state = 1;
    return journal_state;
}

/* Room for a message as formatted, and for a field's "NAME=value" escaped. */
enum { LOG_TEXT_MAX = 1024, LOG_FIELD_MAX = 1100 };

/* "NAME=value" into field (size bytes), the value escaped. */
static void log_field(char *field, size_t size, const char *name, const char *value)
{
    int n = snprintf(field, size, "%s=", name);
    if (n >= 0 && (size_t)n < size)
        escape_text(field + n, size - (size_t)n, value);
}

/* The whole formatted message, and every field value, is escaped
 * (util/escape.h): what a message embeds may come from anyone less trusted
 * than root (a control request's command, a xenstore value, a D-Bus
 * property), and "x\n<0>FAKE" must not become a second line, read on stderr
 * as a message of its own with the priority it chose, nor an ESC sequence
 * reach journalctl's terminal. The format strings are all the daemon's own,
 * so escaping the result is escaping each argument, and no call site can
 * forget it: one call, one line. */
__attribute__((format(printf, 4, 0)))
static void log_emit(int priority, const struct log_field *extra, size_t extra_count,
                     const char *format, va_list args)
{
    if (priority > max_priority)
        return;
    char text[LOG_TEXT_MAX];
    vsnprintf(text, sizeof(text), format, args);
    /* Escaped right after "MESSAGE=", with room for it never to be cut: the
     * escapes of a hostile argument cannot push the daemon's own words out. */
    enum { PREFIX = sizeof("MESSAGE=") - 1 };
    char message[PREFIX + ESCAPE_SIZE(LOG_TEXT_MAX - 1)];
    log_field(message, sizeof(message), "MESSAGE", text);
    const char *escaped = message + PREFIX;

    if (target == LOG_TARGET_SYSLOG) {
        syslog(priority, "%s", escaped);
        return;
    }
    if (target == LOG_TARGET_STDERR || !log_to_journal()) {
        log_to_stderr(priority, escaped);
        return;
    }
#if XENREADY_WITH_SYSTEMD
    /* Each field is "NAME=value"; sd_journal_sendv() takes them as iovecs. */
    char fields[1 + LOG_FIELDS_MAX][LOG_FIELD_MAX];
    size_t count = 0;
    snprintf(fields[count++], sizeof(fields[0]), "PRIORITY=%d", priority);
    for (size_t i = 0; i < extra_count && i < LOG_FIELDS_MAX; i++)
        log_field(fields[count++], sizeof(fields[0]), extra[i].name, extra[i].value);
    struct iovec iov[2 + LOG_FIELDS_MAX];
    iov[0] = (struct iovec){.iov_base = message, .iov_len = strlen(message)};
    for (size_t i = 0; i < count; i++)
        iov[i + 1] = (struct iovec){.iov_base = fields[i], .iov_len = strlen(fields[i])};
    /* journald gone or restarting: the message is not lost, and its stream
     * (or whoever holds stderr now) still takes the "<N>" prefix. The next
     * message tries the journal again. */
    if (sd_journal_sendv(iov, (int)count + 1) < 0)
        log_to_stderr(priority, escaped);
#endif
}

void log_message(int priority, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    log_emit(priority, NULL, 0, format, args);
    va_end(args);
}

void log_fields(int priority, const struct log_field *fields, size_t count, const char *format,
                ...)
{
    va_list args;
    va_start(args, format);
    log_emit(priority, fields, count, format, args);
    va_end(args);
}
