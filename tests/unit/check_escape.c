// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Escaping of untrusted text (daemon/util/escape.c), and the places that
 * must use it: the log on stderr and in the journal (daemon/util/log.c), and
 * what xenreadyctl prints for a person from a daemon's answer. A hostile
 * string ("x\n<0>FAKE", an ESC sequence) must come out as one line of
 * visible escapes.
 *
 * The journal test sends to a socket of its own, bind-mounted where
 * libsystemd sends, in a private mount namespace of a child: it needs
 * CAP_SYS_ADMIN and says it was skipped without (and without systemd). The
 * syslog test does the same with /dev/log (tests/harness/private-syslog.h).
 * The xenreadyctl tests
 * answer it from a socket of their own, as a forged daemon would.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "private-syslog.h"
#include "util/escape.h"
#include "util/log.h"
#include "without-systemd.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum { TIMEOUT_MS = 10000 };

/* in (length bytes) escaped with room to spare, checked against expected. */
static void assert_escaped_bytes(const char *in, size_t length, const char *expected)
{
    char out[256];
    size_t needed = escape_bytes(out, sizeof(out), in, length);
    ck_assert_str_eq(out, expected);
    ck_assert_uint_eq(needed, strlen(expected));
    ck_assert_uint_eq(escape_bytes(NULL, 0, in, length), needed);
}

static void assert_escaped(const char *in, const char *expected)
{
    assert_escaped_bytes(in, strlen(in), expected);
    char out[256];
    ck_assert_uint_eq(escape_text(out, sizeof(out), in), strlen(expected));
    ck_assert_str_eq(out, expected);
}

START_TEST(printable_text_is_unchanged)
{
    static const char *const texts[] = {
        "",
        "bridge domu1/pcie0 (frontend domu1, domid 5) ready",
        " !\"#$%&'()*+,-./0123456789:;<=>?@AZ[]^_`az{|}~",
        "caf\xc3\xa9",                      /* é */
        "a \xe2\x86\x92 b",                 /* → */
        "\xe6\x97\xa5\xe6\x9c\xac",         /* 日本 */
        "\xf0\x9f\x98\x80",                 /* U+1F600, four bytes */
        "\xf4\x8f\xbf\xbf",                 /* U+10FFFF, the last */
        "\xc2\xa0",                         /* U+00A0, right after the C1 block */
        "\xee\x80\x80",                     /* U+E000, right after the surrogates */
    };
    for (size_t i = 0; i < ARRAY_SIZE(texts); i++)
        assert_escaped(texts[i], texts[i]);
}
END_TEST

START_TEST(control_characters_and_backslash_are_escaped)
{
    assert_escaped("x\n<0>FAKE", "x\\n<0>FAKE");
    assert_escaped("a\tb\rc", "a\\tb\\rc");
    assert_escaped("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07");
    assert_escaped("\x01\x1f\x7f", "\\x01\\x1f\\x7f");
    assert_escaped("C:\\path", "C:\\\\path");
    /* The result is unambiguous: four characters sent as such stay apart
     * from an escaped ESC. */
    assert_escaped("\\x1b", "\\\\x1b");
    /* C1 controls, well-formed UTF-8 but commands to some terminals: CSI. */
    assert_escaped("\xc2\x9b" "2J", "\\xc2\\x9b" "2J");
    assert_escaped("\xc2\x80", "\\xc2\\x80");
}
END_TEST

START_TEST(invalid_utf8_is_escaped_byte_by_byte)
{
    assert_escaped("\x80", "\\x80");                         /* lone continuation */
    assert_escaped("a\x80z", "a\\x80z");
    assert_escaped("ok\xc3", "ok\\xc3");                     /* cut short at the end */
    assert_escaped("\xe2\x86", "\\xe2\\x86");
    assert_escaped("\xf0\x9f\x98", "\\xf0\\x9f\\x98");
    assert_escaped("\xc3" "A", "\\xc3" "A");                 /* cut short by ASCII */
    assert_escaped("\xc0\xaf", "\\xc0\\xaf");                /* overlong "/" */
    assert_escaped("\xc1\xbf", "\\xc1\\xbf");
    assert_escaped("\xe0\x80\xaf", "\\xe0\\x80\\xaf");       /* overlong, three bytes */
    assert_escaped("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf");
    assert_escaped("\xed\xa0\x80", "\\xed\\xa0\\x80");       /* a surrogate */
    assert_escaped("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
    assert_escaped("\xf5\xfe\xff", "\\xf5\\xfe\\xff");
    /* A bad byte does not take the good character after it along. */
    assert_escaped("\xe2\xc3\xa9", "\\xe2\xc3\xa9");
}
END_TEST

START_TEST(bytes_are_escaped_by_length)
{
    assert_escaped_bytes("a\0b", 3, "a\\x00b");
    assert_escaped_bytes("abc", 2, "ab");
    /* A character cut by the length is not well-formed. */
    assert_escaped_bytes("\xc3\xa9", 1, "\\xc3");
    assert_escaped_bytes("\xc3\xa9", 2, "\xc3\xa9");
    assert_escaped_bytes("", 0, "");
}
END_TEST

/* in escaped into size bytes, with a canary beyond them. */
static void escape_into(char *buffer, size_t size, const char *in)
{
    memset(buffer, 'Z', size + 8);
    escape_text(size ? buffer : NULL, size, in);
    for (size_t i = size; i < size + 8; i++)
        ck_assert_msg(buffer[i] == 'Z', "size %zu: byte %zu written", size, i);
}

START_TEST(truncation_keeps_escapes_whole)
{
    static const struct {
        const char *in;
        size_t size;
        const char *expected;
    } cases[] = {
        {"a\nb", 1, ""},
        {"a\nb", 2, "a"},
        {"a\nb", 3, "a"},          /* "a\" would end in half an escape */
        {"a\nb", 4, "a\\n"},
        {"a\nb", 5, "a\\nb"},
        {"\x1b" "x", 4, ""},       /* "\x1" is no escape */
        {"\x1b" "x", 5, "\\x1b"},
        {"\x1b" "x", 6, "\\x1bx"},
        {"\xc3\xa9!", 2, ""},      /* nor is half an "é" a character */
        {"\xc3\xa9!", 3, "\xc3\xa9"},
        {"a\\", 2, "a"},
        {"a\\", 3, "a"},
        {"a\\", 4, "a\\\\"},
    };
    char buffer[64];
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        escape_into(buffer, cases[i].size, cases[i].in);
        ck_assert_msg(strcmp(buffer, cases[i].expected) == 0, "case %zu: \"%s\"", i, buffer);
    }
    /* Nothing at all is written into no room. */
    escape_into(buffer, 0, "abc");
    ck_assert_int_eq(buffer[0], 'Z');
}
END_TEST

/* At every size, the output is the longest prefix of the whole escaped text
 * that ends where the escaped text of a prefix of the input ends (so on a
 * whole escape or character), that fits; and it is terminated. */
START_TEST(truncation_at_every_size)
{
    static const char in[] = "x\n<0>\x1b[2J\\\xc3\xa9\x80\xe2\x86\x92"
                             "\xc2\x9b\xf0\x9f\x98\x80\x7f!";
    size_t in_length = strlen(in);
    char full[256], prefix[256], buffer[256 + 8];
    size_t full_length = escape_text(full, sizeof(full), in);
    ck_assert_uint_lt(full_length, sizeof(full));
    for (size_t size = 1; size <= full_length + 1; size++) {
        size_t expected = 0;
        for (size_t k = 0; k <= in_length; k++) {
            size_t length = escape_bytes(prefix, sizeof(prefix), in, k);
            if (length < size && strncmp(prefix, full, length) == 0 && length > expected)
                expected = length;
        }
        escape_into(buffer, size, in);
        ck_assert_msg(memchr(buffer, '\0', size), "size %zu: not terminated", size);
        ck_assert_msg(strlen(buffer) == expected && strncmp(buffer, full, expected) == 0,
                      "size %zu: \"%s\", expected %zu bytes of \"%s\"", size, buffer, expected,
                      full);
        ck_assert_uint_eq(escape_text(buffer, size, in), full_length);
    }
}
END_TEST

/* ---- the log ------------------------------------------------------------ */

static char dir[] = "/tmp/check_escape.XXXXXX";   /* made by main() */

/* Only whole lines of visible text: nothing a terminal acts on. */
static void assert_no_control_characters(const char *text)
{
    for (const char *c = text; *c; c++)
        ck_assert_msg(*c == '\n' || ((unsigned char)*c >= 0x20 && *c != 0x7f),
                      "byte 0x%02x at %zu in:\n%s", (unsigned char)*c, (size_t)(c - text), text);
}

/* Everything in path, NUL-terminated; the caller frees it. */
static char *read_all(const char *path)
{
    FILE *file = fopen(path, "re");
    ck_assert_msg(file, "%s: %s", path, strerror(errno));
    char *text = calloc(1, 65536);
    ck_assert_ptr_nonnull(text);
    size_t length = fread(text, 1, 65535, file);
    text[length] = '\0';
    fclose(file);
    return text;
}

static size_t count_lines(const char *text)
{
    size_t lines = 0;
    for (; *text; text++)
        lines += *text == '\n';
    return lines;
}

/* The file at path, fresh, as this process's stderr. */
static void stderr_to(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
        _exit(125);
    close(fd);
}

/* Runs body in a child process, whose log state (stderr or journal, decided
 * once) is its own; returns its exit status. */
static int in_child(void (*body)(void *), void *data)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        body(data);
        fflush(NULL);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static const char hostile_command[] = "x\n<0>FAKE";

static void log_hostile_to_stderr(void *path)
{
    unsetenv("JOURNAL_STREAM");   /* as if run by hand: stderr, "<N>" lines */
    stderr_to(path);
    log_message(LOG_INFO, "control: unknown command \"%s\"", hostile_command);
    struct log_field field = {"BACKEND", "a\nb"};
    log_fields(LOG_WARNING, &field, 1, "backend %s: %s", "a\nb", "\x1b[2J\xc0\xaf");
    /* The formatted message fits in log.c's 1024 bytes; escaped, it does not. */
    char escapes[901];
    memset(escapes, '\x1b', 900);
    escapes[900] = '\0';
    log_message(LOG_ERR, "detail %s: the daemon's own words", escapes);
}

START_TEST(log_on_stderr_is_one_line_per_message)
{
    char path[64];
    snprintf(path, sizeof(path), "%s/stderr", dir);
    ck_assert_int_eq(in_child(log_hostile_to_stderr, path), 0);
    char *text = read_all(path);
    /* Three calls, three lines, none with anything a terminal acts on. */
    ck_assert_uint_eq(count_lines(text), 3);
    assert_no_control_characters(text);
    char *first_end = strchr(text, '\n');
    ck_assert_ptr_nonnull(first_end);
    *first_end = '\0';
    ck_assert_str_eq(text, "<6>control: unknown command \"x\\n<0>FAKE\"");
    char *second = first_end + 1, *second_end = strchr(second, '\n');
    ck_assert_ptr_nonnull(second_end);
    *second_end = '\0';
    ck_assert_str_eq(second, "<4>backend a\\nb: \\x1b[2J\\xc0\\xaf");
    /* Escapes four times as long as a hostile argument do not cut off what
     * the daemon says after it. */
    char *third = second_end + 1;
    ck_assert_uint_eq(count_lines(third), 1);
    ck_assert_msg(strncmp(third, "<3>detail \\x1b\\x1b", 18) == 0, "%.40s", third);
    ck_assert_uint_eq(strlen(third), strlen("<3>detail : the daemon's own words\n") + 3600);
    ck_assert_str_eq(third + strlen(third) - 25, ": the daemon's own words\n");
    free(text);
}
END_TEST

/* The journal test's child: libsystemd's journal socket is ours. */
struct journal_child {
    char socket[96];     /* the test's datagram socket (fits sun_path) */
    char stderr_path[128];
};

/* libsystemd sends to this path only. A tmpfs over /run keeps the mounts and
 * directories out of the host's /run, and any journald there out of sight. */
static void log_hostile_to_journal(void *data)
{
    const struct journal_child *child = data;
    if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0
        || mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
        _exit(77);
    int fd;
    if (mkdir("/run/systemd", 0755) < 0 || mkdir("/run/systemd/journal", 0755) < 0
        || (fd = open("/run/systemd/journal/socket", O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
        _exit(124);
    close(fd);
    if (mount(child->socket, "/run/systemd/journal/socket", "none", MS_BIND, NULL) < 0)
        _exit(124);
    /* JOURNAL_STREAM names our stderr: log.c sends to the journal. */
    stderr_to(child->stderr_path);
    struct stat st;
    char stream[64];
    if (fstat(STDERR_FILENO, &st) < 0)
        _exit(124);
    snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", stream, 1);
    struct log_field fields[] = {{"BRIDGE", "domu1/pcie0\n<0>FAKE"}, {"BACKEND", "\x1b[2J"}};
    log_fields(LOG_WARNING, fields, ARRAY_SIZE(fields), "control: unknown command \"%s\"",
               hostile_command);
}

START_TEST(journal_fields_are_escaped)
{
    SKIP_WITHOUT_SYSTEMD("journal_fields_are_escaped");
    struct journal_child child;
    snprintf(child.socket, sizeof(child.socket), "%s/journal", dir);
    snprintf(child.stderr_path, sizeof(child.stderr_path), "%s/journal-stderr", dir);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", child.socket);
    unlink(child.socket);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    int status = in_child(log_hostile_to_journal, &child);
    if (status == 77) {
        printf("journal_fields_are_escaped: skipped: no private mount namespace "
               "(needs CAP_SYS_ADMIN)\n");
        close(fd);
        return;
    }
    ck_assert_int_eq(status, 0);
    /* The datagram was queued when sendmsg() returned, before the exit. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, TIMEOUT_MS), 1);
    char entry[8192];
    ssize_t n = recv(fd, entry, sizeof(entry) - 1, MSG_DONTWAIT);
    ck_assert_int_gt(n, 0);
    entry[n] = '\0';
    close(fd);
    /* journald's native protocol: "NAME=value\n" for a value of one line; a
     * value with a newline would be "NAME\n" and a binary length instead.
     * libsystemd adds SYSLOG_IDENTIFIER= after ours. */
    static const char expected[] = "MESSAGE=control: unknown command \"x\\n<0>FAKE\"\n"
                                   "PRIORITY=4\n"
                                   "BRIDGE=domu1/pcie0\\n<0>FAKE\n"
                                   "BACKEND=\\x1b[2J\n";
    ck_assert_msg(strncmp(entry, expected, strlen(expected)) == 0, "entry:\n%s", entry);
    assert_no_control_characters(entry + strlen(expected));
    char *text = read_all(child.stderr_path);
    ck_assert_msg(text[0] == '\0', "the journal took it, not stderr: %s", text);
    free(text);
}
END_TEST

/* The syslog test's child: /dev/log is the test's socket. */
struct syslog_child {
    char socket[96];     /* the test's datagram socket (fits sun_path) */
    char scratch[96];    /* an empty directory for the overlay of /dev */
    char stderr_path[128];
};

static void log_hostile_to_syslog(void *data)
{
    const struct syslog_child *child = data;
    if (private_syslog_enter(child->socket, child->scratch) < 0)
        _exit(77);
    stderr_to(child->stderr_path);
    log_set_target(LOG_TARGET_SYSLOG);
    log_message(LOG_INFO, "control: unknown command \"%s\"", hostile_command);
    struct log_field field = {"BACKEND", "a\nb"};
    log_fields(LOG_WARNING, &field, 1, "backend %s: %s", "a\nb", "\x1b[2J\xc0\xaf");
}

/* The next datagram on fd, NUL-terminated, without the NUL a stream
 * socket's framing would add. */
static void receive_syslog(int fd, char *text, size_t size)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, TIMEOUT_MS), 1);
    ssize_t n = recv(fd, text, size - 1, MSG_DONTWAIT);
    ck_assert_int_gt(n, 0);
    text[n] = '\0';
}

/* "<PRI>Mmm dd hh:mm:ss xenreadyd[PID]: MESSAGE", facility daemon (3 << 3):
 * the message escaped as on stderr, one line. */
static void assert_syslog_line(const char *text, int priority, const char *message)
{
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "<%d>", (3 << 3) | priority);
    ck_assert_msg(strncmp(text, prefix, strlen(prefix)) == 0, "not %s: %s", prefix, text);
    const char *tag = strstr(text, " xenreadyd[");
    ck_assert_msg(tag, "no \"xenreadyd[PID]\" tag: %s", text);
    const char *colon = strstr(tag, "]: ");
    ck_assert_msg(colon, "no \"]: \": %s", text);
    ck_assert_str_eq(colon + 3, message);
    ck_assert_msg(!strchr(text, '\n'), "more than one line: %s", text);
    assert_no_control_characters(text);
}

START_TEST(syslog_messages_are_escaped)
{
    struct syslog_child child;
    snprintf(child.socket, sizeof(child.socket), "%s/syslog", dir);
    snprintf(child.scratch, sizeof(child.scratch), "%s/syslog-scratch", dir);
    snprintf(child.stderr_path, sizeof(child.stderr_path), "%s/syslog-stderr", dir);
    ck_assert(mkdir(child.scratch, 0700) == 0 || errno == EEXIST);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", child.socket);
    unlink(child.socket);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    int status = in_child(log_hostile_to_syslog, &child);
    if (status == 77) {
        printf("syslog_messages_are_escaped: skipped: %s\n",
               private_syslog_missing(child.socket, child.scratch));
        close(fd);
        return;
    }
    ck_assert_int_eq(status, 0);
    /* Both datagrams were queued when sendmsg() returned, before the exit. */
    char text[8192];
    receive_syslog(fd, text, sizeof(text));
    assert_syslog_line(text, LOG_INFO, "control: unknown command \"x\\n<0>FAKE\"");
    receive_syslog(fd, text, sizeof(text));
    assert_syslog_line(text, LOG_WARNING, "backend a\\nb: \\x1b[2J\\xc0\\xaf");
    ck_assert_int_eq(recv(fd, text, sizeof(text), MSG_DONTWAIT), -1);
    close(fd);
    char *err = read_all(child.stderr_path);
    ck_assert_msg(err[0] == '\0', "syslog took them, not stderr: %s", err);
    free(err);
}
END_TEST

/* ---- xenreadyctl -------------------------------------------------------- */

struct ctl_run {
    int status;       /* xenreadyctl's exit status */
    char *out;        /* its stdout and stderr; the caller frees them */
    char *err;
};

/* Runs xenreadyctl with args against a forged daemon on a socket of the
 * test's, which reads one request and answers it with answer. */
static struct ctl_run run_ctl(const char *answer, const char *const *args)
{
    char socket_path[96], out_path[96], err_path[96];   /* socket_path fits sun_path */
    snprintf(socket_path, sizeof(socket_path), "%s/control", dir);
    snprintf(out_path, sizeof(out_path), "%s/ctl-out", dir);
    snprintf(err_path, sizeof(err_path), "%s/ctl-err", dir);
    unlink(socket_path);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket_path);
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(listener, 0);
    ck_assert_int_eq(bind(listener, (struct sockaddr *)&address, sizeof(address)), 0);
    ck_assert_int_eq(listen(listener, 1), 0);

    const char *argv[16] = {XENREADYCTL, "--socket", socket_path};
    size_t argc = 3;
    for (; *args && argc + 1 < ARRAY_SIZE(argv); args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out < 0 || err < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
            _exit(125);
        unsetenv("NO_COLOR");
        execv(XENREADYCTL, (char *const *)argv);
        _exit(126);
    }
    struct pollfd pfd = {.fd = listener, .events = POLLIN};
    ck_assert_msg(poll(&pfd, 1, TIMEOUT_MS) == 1, "xenreadyctl did not connect");
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    /* The whole request first, so that closing does not reset the connection. */
    char request[4096];
    size_t used = 0;
    while (used + 1 < sizeof(request) && !memchr(request, '\n', used)) {
        ssize_t n = recv(fd, request + used, sizeof(request) - 1 - used, 0);
        ck_assert_int_gt(n, 0);
        used += (size_t)n;
    }
    ck_assert_int_eq(send(fd, answer, strlen(answer), MSG_NOSIGNAL), (ssize_t)strlen(answer));
    close(fd);
    close(listener);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return (struct ctl_run){WEXITSTATUS(status), read_all(out_path), read_all(err_path)};
}

/* A status answer as a daemon fed by hostile parties could send it: a
 * detail from a xenstore value, a refusal's reason, a signalling error, a
 * name; an ESC sequence, a newline, a NUL, a C1 CSI, invalid UTF-8. */
static const char forged_status[] =
    "{\"version\": 1, \"ok\": true,"
    " \"bridges\": [{\"frontend\": \"domu1\", \"name\": \"domu1/pcie0\", \"state\": \"waiting\","
    "   \"backends_ready\": 0, \"backends_total\": 1, \"since\": \"2024-01-01T00:00:00Z\","
    "   \"missing\": [\"disk\\u001b[2J\"],"
    "   \"signals\": [{\"method\": \"xenstore\", \"error\": \"denied\\nfake: line\"}]}],"
    " \"backends\": [{\"name\": \"disk\\u001b[2J\", \"ready\": false,"
    "   \"detail\": \"is \\\"\\u001b]0;owned\\u0007\\u0000\\u009b\\\", expected \\\"4\\\"\"}],"
    " \"refused_announcements\": [{\"time\": \"2024-01-01T00:00:01Z\", \"pid\": 42,"
    "   \"uid\": 1000, \"reason\": \"not the owner\\r\\u001b[1A\"}]}\n";

START_TEST(ctl_status_table_is_escaped)
{
    struct ctl_run run = run_ctl(forged_status, (const char *const[]){"status", NULL});
    ck_assert_msg(run.status == 0, "exit %d: %s", run.status, run.err);
    assert_no_control_characters(run.out);
    ck_assert_str_eq(run.out,
        "FRONTEND  BRIDGE       STATE    BACKENDS  SINCE                 MISSING\n"
        "domu1     domu1/pcie0  waiting  0/1       2024-01-01T00:00:00Z  disk\\x1b[2J\n"
        "\n"
        "disk\\x1b[2J: is \"\\x1b]0;owned\\x07\\x00\\xc2\\x9b\", expected \"4\"\n"
        "refused announcement at 2024-01-01T00:00:01Z from pid 42 (uid 1000): "
        "not the owner\\r\\x1b[1A\n"
        "domu1/pcie0: signal xenstore: denied\\nfake: line\n");
    ck_assert_str_eq(run.err, "");
    free(run.out);
    free(run.err);
}
END_TEST

START_TEST(ctl_status_json_is_unchanged)
{
    struct ctl_run run = run_ctl(forged_status, (const char *const[]){"status", "--json", NULL});
    ck_assert_msg(run.status == 0, "exit %d: %s", run.status, run.err);
    /* JSON escapes on its own, as JSON: no "\x1b" of ours in it. */
    assert_no_control_characters(run.out);
    ck_assert_msg(strstr(run.out, "\"disk\\u001b[2J\""), "%s", run.out);
    ck_assert_msg(!strstr(run.out, "\\\\x1b") && !strstr(run.out, "\\x1b"), "%s", run.out);
    free(run.out);
    free(run.err);
}
END_TEST

START_TEST(ctl_daemon_errors_and_messages_are_escaped)
{
    static const char refused[] =
        "{\"version\": 1, \"ok\": false, \"error\": \"reload failed\\n<0>FAKE\\u001b[31m\","
        " \"messages\": [\"main.conf:3: error: \\u001b[2Jbad\"]}\n";
    struct ctl_run run = run_ctl(refused, (const char *const[]){"reload", NULL});
    ck_assert_int_eq(run.status, 1);
    ck_assert_str_eq(run.err, "xenreadyctl: xenreadyd: reload failed\\n<0>FAKE\\x1b[31m\n"
                              "main.conf:3: error: \\x1b[2Jbad\n");
    free(run.out);
    free(run.err);

    run = run_ctl(refused, (const char *const[]){"status", NULL});
    ck_assert_int_eq(run.status, 1);
    ck_assert_str_eq(run.err, "xenreadyctl: xenreadyd: reload failed\\n<0>FAKE\\x1b[31m\n");
    free(run.out);
    free(run.err);

    /* A successful reload's warnings. */
    static const char warned[] =
        "{\"version\": 1, \"ok\": true, \"messages\": [\"warning: \\u001b[2J\\nx\"]}\n";
    run = run_ctl(warned, (const char *const[]){"reload", NULL});
    ck_assert_int_eq(run.status, 0);
    ck_assert_str_eq(run.err, "warning: \\x1b[2J\\nx\n");
    free(run.out);
    free(run.err);

    static const char timed_out[] =
        "{\"version\": 1, \"ok\": true, \"ready\": false, \"waiting\": [\"domu1/\\u001b[2J\"]}\n";
    run = run_ctl(timed_out, (const char *const[]){"wait", "domu1/pcie0", NULL});
    ck_assert_int_eq(run.status, 124);
    ck_assert_str_eq(run.err, "xenreadyctl: wait: timed out; still waiting: domu1/\\x1b[2J\n");
    free(run.out);
    free(run.err);
}
END_TEST

static Suite *escape_suite(void)
{
    Suite *suite = suite_create("escape");
    const struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"printable", printable_text_is_unchanged},
        {"controls", control_characters_and_backslash_are_escaped},
        {"invalid utf-8", invalid_utf8_is_escaped_byte_by_byte},
        {"by length", bytes_are_escaped_by_length},
        {"truncation", truncation_keeps_escapes_whole},
        {"every size", truncation_at_every_size},
        {"log stderr", log_on_stderr_is_one_line_per_message},
        {"log journal", journal_fields_are_escaped},
        {"log syslog", syslog_messages_are_escaped},
        {"ctl table", ctl_status_table_is_escaped},
        {"ctl json", ctl_status_json_is_unchanged},
        {"ctl errors", ctl_daemon_errors_and_messages_are_escaped},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        TCase *tcase = tcase_create(cases[i].name);
        tcase_add_test(tcase, cases[i].test);
        suite_add_tcase(suite, tcase);
    }
    return suite;
}

/* Removes what the tests left in dir, and dir. */
static void remove_dir(void)
{
    static const char *const names[] = {"stderr", "journal", "journal-stderr", "control",
                                        "ctl-out", "ctl-err", "syslog", "syslog-stderr"};
    char path[64];
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/syslog-scratch", dir);
    rmdir(path);
    rmdir(dir);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    SRunner *runner = srunner_create(escape_suite());
    if (!getenv("CK_FORK"))
        srunner_set_fork_status(runner, CK_FORK);   /* CK_FORK=no for valgrind */
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    remove_dir();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
