// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xenreadyd's log under journald, against the real xenstored. systemd
 * connects a service's standard error to a journald stream and names it in
 * JOURNAL_STREAM ("dev:inode"); when that still is its standard error, the
 * daemon sends each message with sd_journal_sendv() and structured fields
 * (daemon/util/log.c), otherwise it writes "<N>text" lines.
 *
 * sd_journal_sendv() sends to /run/systemd/journal/socket, a path libsystemd
 * 252 offers no way to change. The daemon therefore runs in a private mount
 * namespace where that path is a datagram socket the test reads: what
 * arrives there is exactly what journald would receive. Its standard error is a stream socket, like journald's. The test
 * needs CAP_SYS_ADMIN for the namespace (it skips without, and CI runs it as
 * root).
 *
 * Nothing sleeps to synchronise: present entries are waited for with a
 * deadline; absent ones are checked after the daemon provably did what would
 * have sent them (a later STATUS=, or its exit: a datagram is queued at the
 * receiver when sendmsg() returns).
 */
#include <check.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "harness.h"

enum { DOMD = 1, FRONTEND = 5, TIMEOUT_MS = 10000, FIELDS_MAX = 32 };

/* Backend disk is used by no bridge: a configuration warning, line 8. */
static const char config[] =
    TEST_CONFIG_FRONTEND TEST_CONFIG_BACKEND_DM TEST_CONFIG_BACKEND_DISK
    "[bridge domu1/pcie0]\n"
    "device-tree-path = /pcie@10000000\n"
    "backends = dm\n";

/* The same texts are expected in the journal and, without it, on stderr. */
#define CONFIG_WARNING ":8: warning: backend disk is not used by any bridge"
#define BRIDGE_READY "bridge domu1/pcie0 (frontend domu1, domid 5) ready: last backend dm is up"
#define DM_GONE "/local/domain/1/device-model/5/state does not exist"
#define BRIDGE_WAITING \
    "bridge domu1/pcie0 (frontend domu1, domid 5) waiting: backend dm went away: " DM_GONE
#define BACKEND_UP "backend dm up"
#define BACKEND_DOWN "backend dm down: " DM_GONE
#define STARTED \
    "started: 1 frontend(s), 1 bridge(s), 2 backend(s); 0/1 bridges ready; waiting: domu1/pcie0 (dm)"
#define STOPPING "received signal 15, stopping"

/* What JOURNAL_STREAM names: the daemon's stderr, or something else. */
enum stream {
    STREAM_STDERR,
    STREAM_OTHER_SOCKET,     /* the same device (sockfs), another inode */
    STREAM_OTHER_DEVICE,     /* stderr's inode, another device */
};

/* What the daemon's child process gets (daemon_runner's child_setup). */
struct child_journal {
    int stderr_fd;
    char journal_stream[64];
    char journal_socket[256];    /* the test's socket, <harness>/journal */
};

struct journal_entry {
    char data[16384];
    size_t count;
    const char *names[FIELDS_MAX];
    const char *values[FIELDS_MAX];
};

/* A field an entry must carry, with exactly this value. */
struct field {
    const char *name;
    const char *value;
};

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd;
static int journal_fd = -1;       /* the journal socket: we receive */
static int stderr_fd = -1;        /* our end of the daemon's standard error */
static struct child_journal child = {.stderr_fd = -1};
static const char *const *daemon_args;   /* xenreadyd's options; NULL: none */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A mount namespace of our own, whose mounts do not propagate to the
 * host's. The file system type is ignored for these calls; "none" rather
 * than NULL, which valgrind takes for an error. */
static int make_mount_namespace(void)
{
    if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
        return -errno;
    return 0;
}

/* libsystemd's journal socket, and the directories above it that this
 * machine may lack (no journald runs where the tests do). */
static const char *const journal_path[] = {"/run", "/run/systemd", "/run/systemd/journal",
                                           "/run/systemd/journal/socket"};
enum { JOURNAL_DEPTH = sizeof(journal_path) / sizeof(journal_path[0]) };

/* Makes journal_path[last] the test's socket in the daemon's namespace: a
 * tmpfs covers the deepest of the directories that exists (so nothing is
 * created on the host, and the host's journald sockets, if any, are out of
 * sight), the rest is made in it, and the socket is bind-mounted onto an
 * empty file there. */
static int cover_journal_socket(const char *socket_path)
{
    size_t exists = 0;
    struct stat st;
    while (exists + 2 < JOURNAL_DEPTH && stat(journal_path[exists + 1], &st) == 0
           && S_ISDIR(st.st_mode))
        exists++;
    if (mount("tmpfs", journal_path[exists], "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
        return -errno;
    for (size_t i = exists + 1; i + 1 < JOURNAL_DEPTH; i++)
        if (mkdir(journal_path[i], 0755) < 0)
            return -errno;
    int fd = open(journal_path[JOURNAL_DEPTH - 1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    close(fd);
    if (mount(socket_path, journal_path[JOURNAL_DEPTH - 1], "none", MS_BIND, NULL) < 0)
        return -errno;
    return 0;
}

/* In the daemon's child, before it executes xenreadyd. */
static void enter_private_journal(void *data)
{
    const struct child_journal *setup = data;
    if (dup2(setup->stderr_fd, STDERR_FILENO) < 0)
        _exit(125);
    setenv("JOURNAL_STREAM", setup->journal_stream, 1);
    /* Private propagation first: these mounts must not reach the host. */
    int r = make_mount_namespace();
    if (r == 0)
        r = cover_journal_socket(setup->journal_socket);
    if (r < 0) {
        dprintf(STDERR_FILENO, "cannot give xenreadyd a private journal socket: %s\n",
                strerror(-r));
        _exit(125);
    }
}

/* The socket journald would have, flat in the harness directory: the
 * harness removes it with the rest, even after a failed test. */
static void journal_socket_create(const char *dir)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    ck_assert_int_lt(snprintf(address.sun_path, sizeof(address.sun_path), "%s/journal", dir),
                     (int)sizeof(address.sun_path));
    snprintf(child.journal_socket, sizeof(child.journal_socket), "%s", address.sun_path);
    journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(journal_fd, 0);
    ck_assert_int_eq(bind(journal_fd, (struct sockaddr *)&address, sizeof(address)), 0);
}

static void setup(void)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    domd = harness_open(harness, DOMD);
    ck_assert_ptr_nonnull(domd);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    journal_socket_create(harness_directory(harness));
    /* A stream socket, as journald connects a service's stderr to. */
    int ends[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
    stderr_fd = ends[0];
    child.stderr_fd = ends[1];
    runner.child_setup = enter_private_journal;
    runner.child_data = &child;
}

static void teardown(void)
{
    daemon_runner_finish(&runner);
    if (journal_fd >= 0)
        close(journal_fd);
    if (stderr_fd >= 0)
        close(stderr_fd);
    if (child.stderr_fd >= 0)
        close(child.stderr_fd);
    journal_fd = stderr_fd = -1;
    child = (struct child_journal){.stderr_fd = -1};
    if (domd)
        xs_close(domd);
    domd = NULL;
    harness_stop(harness);
    harness = NULL;
}

/* Everything the daemon wrote to standard error until it exited (malloc'd). */
static char *read_stderr(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(stream);
    char buffer[4096];
    ssize_t n;
    while ((n = read(stderr_fd, buffer, sizeof(buffer))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            fwrite(buffer, 1, (size_t)n, stream);
    ck_assert_int_eq(fclose(stream), 0);
    return text;
}

/* check ends the test process on a failure message longer than a few KiB,
 * which a sanitizer report is: the daemon's stderr goes to ours instead. */
static void show_stderr(const char *text)
{
    fprintf(stderr, "xenreadyd's stderr:\n%s", text);
}

/* Reaps the daemon (after sig, unless 0: signalled already) and returns its
 * standard error. It must have exited 0: sanitizer and valgrind findings
 * make it exit 98 or 99, with their report in the text shown. */
static char *reap_daemon(int sig)
{
    int status = daemon_runner_stop(&runner, sig);
    char *text = read_stderr();
    if (status != 0)
        show_stderr(text);
    ck_assert_msg(status == 0, "xenreadyd exited with status %d (stderr above)", status);
    return text;
}

/* Starts xenreadyd with JOURNAL_STREAM naming what stream says and waits
 * for READY=1. The entries it logs until then stay queued: fewer than
 * net.unix.max_dgram_qlen (10 by default), or it would block in sendmsg(). */
static void start_daemon(enum stream stream)
{
    struct stat st;
    ck_assert_int_eq(fstat(stream == STREAM_OTHER_SOCKET ? stderr_fd : child.stderr_fd, &st), 0);
    unsigned long long dev = st.st_dev + (stream == STREAM_OTHER_DEVICE ? 1 : 0);
    snprintf(child.journal_stream, sizeof(child.journal_stream), "%llu:%llu", dev,
             (unsigned long long)st.st_ino);
    ck_assert_int_eq(daemon_runner_spawn(&runner, daemon_args), 0);
    /* The daemon holds the other end now: its exit is our end of file. */
    close(child.stderr_fd);
    child.stderr_fd = -1;
    int r = daemon_runner_wait_status(&runner, NULL, TIMEOUT_MS);
    if (r < 0) {
        int status = daemon_runner_stop(&runner, SIGKILL);
        show_stderr(read_stderr());
        ck_abort_msg("no READY=1 (%s); exit status %d (stderr above)", strerror(-r), status);
    }
}

/* journald's rule: capitals, digits and "_", not first a digit; a leading
 * "_" is a trusted field, which journald drops from clients. */
static bool valid_field_name(const char *name, size_t length)
{
    if (length == 0 || length > 64 || name[0] == '_' || isdigit((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < length; i++)
        if (!(name[i] >= 'A' && name[i] <= 'Z') && !isdigit((unsigned char)name[i])
            && name[i] != '_')
            return false;
    return true;
}

/* The native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL): "NAME=value\n"
 * per field, or, for a value with a newline, "NAME\n", its length as a
 * 64-bit little-endian number, the value and "\n". Parsed in place into
 * strings; the daemon's values are text, so a NUL in one is malformed. */
static int journal_parse(struct journal_entry *entry, size_t length)
{
    char *p = entry->data, *end = entry->data + length;
    *end = '\0';
    entry->count = 0;
    while (p < end) {
        if (entry->count == FIELDS_MAX)
            return -E2BIG;
        size_t name_length = strcspn(p, "=\n");
        if (p + name_length >= end || !valid_field_name(p, name_length))
            return -EBADMSG;
        char *value = p + name_length + 1;
        size_t value_length;
        if (p[name_length] == '=') {
            value_length = strcspn(value, "\n");
        } else {
            uint64_t size;
            if ((size_t)(end - value) < sizeof(size))
                return -EBADMSG;
            memcpy(&size, value, sizeof(size));
            value += sizeof(size);
            if (le64toh(size) >= (uint64_t)(end - value))
                return -EBADMSG;
            value_length = (size_t)le64toh(size);
            if (memchr(value, '\0', value_length))
                return -EBADMSG;
        }
        if (value + value_length >= end || value[value_length] != '\n')
            return -EBADMSG;
        p[name_length] = '\0';
        value[value_length] = '\0';
        entry->names[entry->count] = p;
        entry->values[entry->count++] = value;
        p = value + value_length + 1;
    }
    return entry->count ? 0 : -EBADMSG;
}

/* The next journal entry; -ETIMEDOUT after timeout_ms. */
static int journal_receive(struct journal_entry *entry, int timeout_ms)
{
    struct pollfd pollfd = {.fd = journal_fd, .events = POLLIN};
    int n;
    while ((n = poll(&pollfd, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (n <= 0)
        return n < 0 ? -errno : -ETIMEDOUT;
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int) * 8)];
    } control;
    struct iovec iov = {.iov_base = entry->data, .iov_len = sizeof(entry->data) - 1};
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = &control, .msg_controllen = sizeof(control)};
    ssize_t length = recvmsg(journal_fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (length < 0)
        return -errno;
    /* libsystemd passes an entry as a memfd (SCM_RIGHTS) only when it is too
     * large for a datagram. The daemon's are small: one passed that way is a
     * failure, not something to read. */
    bool passed_fds = false;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header;
         header = CMSG_NXTHDR(&message, header))
        if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
            size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
                close(fd);
            }
            passed_fds = true;
        }
    if (passed_fds || (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
        return -EMSGSIZE;
    return journal_parse(entry, (size_t)length);
}

/* For messages: a field's value, or that it is absent. */
static const char *shown(const char *value)
{
    return value ? value : "(absent)";
}

/* The value of name in entry, NULL when absent. A field twice fails the
 * test: journalctl would show both values. */
static const char *entry_field(const struct journal_entry *entry, const char *name)
{
    const char *value = NULL;
    for (size_t i = 0; i < entry->count; i++)
        if (strcmp(entry->names[i], name) == 0) {
            ck_assert_msg(!value, "%s= twice in an entry", name);
            value = entry->values[i];
        }
    return value;
}

/* Reads entries until one whose MESSAGE is message, skipping others; fails
 * the test when none comes within TIMEOUT_MS. */
static const struct journal_entry *expect_entry(const char *message)
{
    static struct journal_entry entry;
    char skipped[2048] = "";
    long long deadline = now_ms() + TIMEOUT_MS;
    for (;;) {
        long long left = deadline - now_ms();
        int r = journal_receive(&entry, left > 0 ? (int)left : 0);
        ck_assert_msg(r == 0, "no journal entry \"%s\" (%s); skipped:%s", message, strerror(-r),
                      skipped);
        const char *text = entry_field(&entry, "MESSAGE");
        ck_assert_msg(text, "a journal entry without MESSAGE=");
        if (strcmp(text, message) == 0)
            return &entry;
        size_t used = strlen(skipped);
        snprintf(skipped + used, sizeof(skipped) - used, "\n  %s", text);
    }
}

/* The entry carries MESSAGE=, PRIORITY=priority, the SYSLOG_IDENTIFIER=
 * journalctl -t selects and exactly the given fields besides: no bridge or
 * backend fields where none are expected, and no CODE_*= (which would name
 * log_emit() for every message). */
static void assert_fields(const struct journal_entry *entry, int priority,
                          const struct field *fields, size_t count)
{
    const char *message = entry_field(entry, "MESSAGE");
    char text[8];
    snprintf(text, sizeof(text), "%d", priority);
    const char *value = entry_field(entry, "PRIORITY");
    ck_assert_msg(value && strcmp(value, text) == 0, "\"%s\": PRIORITY=%s, not %s", message,
                  shown(value), text);
    value = entry_field(entry, "SYSLOG_IDENTIFIER");
    ck_assert_msg(value && strcmp(value, "xenreadyd") == 0, "\"%s\": SYSLOG_IDENTIFIER=%s",
                  message, shown(value));
    for (size_t i = 0; i < count; i++) {
        value = entry_field(entry, fields[i].name);
        ck_assert_msg(value && strcmp(value, fields[i].value) == 0, "\"%s\": %s=%s, not %s",
                      message, fields[i].name, shown(value), fields[i].value);
    }
    static const char *const always[] = {"MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER"};
    for (size_t i = 0; i < entry->count; i++) {
        bool known = false;
        for (size_t j = 0; j < sizeof(always) / sizeof(always[0]); j++)
            known = known || strcmp(entry->names[i], always[j]) == 0;
        for (size_t j = 0; j < count; j++)
            known = known || strcmp(entry->names[i], fields[j].name) == 0;
        ck_assert_msg(known, "\"%s\": unexpected field %s=%s", message, entry->names[i],
                      entry->values[i]);
    }
}

#define ASSERT_FIELDS(entry, priority, ...)                                                      \
    assert_fields((entry), (priority), (const struct field[]){__VA_ARGS__},                      \
                  sizeof((const struct field[]){__VA_ARGS__}) / sizeof(struct field))

/* Nothing reached the journal socket so far. */
static void assert_journal_empty(const char *when)
{
    struct journal_entry entry;
    int r = journal_receive(&entry, 0);
    ck_assert_msg(r != 0, "%s: a journal entry \"%s\"", when,
                  shown(entry_field(&entry, "MESSAGE")));
    ck_assert_msg(r == -ETIMEDOUT, "%s: %s", when, strerror(-r));
}

/* SIGTERM: an entry says so, the daemon exits 0 and it wrote nothing to
 * stderr, all its messages having gone to the journal. */
static void stop_logging_to_journal(void)
{
    ck_assert_int_eq(kill(runner.pid, SIGTERM), 0);
    assert_fields(expect_entry(STOPPING), LOG_INFO, NULL, 0);
    char *text = reap_daemon(0);
    if (text[0])
        show_stderr(text);
    ck_assert_msg(text[0] == '\0', "xenreadyd wrote to stderr under journald (above)");
    free(text);
}

/* The transition's entry names the bridge, its frontend, its new state and
 * the backend that caused it; the backend's own entry names only it. */
START_TEST(backend_changes_carry_bridge_and_backend_fields)
{
    start_daemon(STREAM_STDERR);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    ASSERT_FIELDS(expect_entry(BRIDGE_READY), LOG_NOTICE, {"FRONTEND", "domu1"},
                  {"FRONTEND_DOMID", "5"}, {"BRIDGE", "domu1/pcie0"}, {"STATE", "ready"},
                  {"BACKEND", "dm"});
    /* After the transition it caused (expect_entry reads in order). */
    ASSERT_FIELDS(expect_entry(BACKEND_UP), LOG_INFO, {"BACKEND", "dm"});

    ck_assert(xs_rm(domd, XBT_NULL, "device-model/5/state"));
    ASSERT_FIELDS(expect_entry(BRIDGE_WAITING), LOG_WARNING, {"FRONTEND", "domu1"},
                  {"FRONTEND_DOMID", "5"}, {"BRIDGE", "domu1/pcie0"}, {"STATE", "waiting"},
                  {"BACKEND", "dm"});
    ASSERT_FIELDS(expect_entry(BACKEND_DOWN), LOG_INFO, {"BACKEND", "dm"});
    stop_logging_to_journal();
}
END_TEST

/* Messages about no bridge or backend: a configuration warning, start-up. */
START_TEST(plain_messages_carry_no_object_fields)
{
    start_daemon(STREAM_STDERR);
    char *warning = NULL;
    ck_assert_int_ge(asprintf(&warning, "%s" CONFIG_WARNING, runner.config_path), 0);
    assert_fields(expect_entry(warning), LOG_WARNING, NULL, 0);
    free(warning);
    assert_fields(expect_entry("connected to xenstore as domain 1"), LOG_INFO, NULL, 0);
    assert_fields(expect_entry(STARTED), LOG_NOTICE, NULL, 0);
    stop_logging_to_journal();
}
END_TEST

/* Every message as a "<N>" line on stderr, and, when the journal socket is
 * there (journal_fd), nothing in the journal. */
static void assert_stderr_only(enum stream stream)
{
    start_daemon(stream);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    /* STATUS= is sent after the loop iteration that logged the transition. */
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "1/1 bridges ready", TIMEOUT_MS), 0);
    if (journal_fd >= 0)
        assert_journal_empty("after the transition");
    char *text = reap_daemon(SIGTERM);
    if (journal_fd >= 0)
        assert_journal_empty("after the daemon exited");

    char *warning = NULL;
    ck_assert_int_ge(asprintf(&warning, "<4>%s" CONFIG_WARNING "\n", runner.config_path), 0);
    const char *const lines[] = {warning, "<5>" STARTED "\n", "<5>" BRIDGE_READY "\n",
                                 "<6>" BACKEND_UP "\n", "<6>" STOPPING "\n"};
    const char *missing = NULL, *unprefixed = NULL;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        if (!missing && !strstr(text, lines[i]))
            missing = lines[i];
    for (const char *line = text, *end; *line; line = end + 1) {
        end = strchr(line, '\n');
        if (!end || line[0] != '<' || line[1] < '0' || line[1] > '7' || line[2] != '>') {
            unprefixed = line;
            break;
        }
    }
    if (missing || unprefixed)
        show_stderr(text);
    ck_assert_msg(!missing, "no line %s in stderr (above)", missing);
    ck_assert_msg(!unprefixed, "a line without \"<N>\" in stderr (above)");
    free(warning);
    free(text);
}

/* JOURNAL_STREAM that does not name stderr (inherited, stderr redirected
 * since): stderr only, though the journal socket is there. */
START_TEST(stream_of_another_socket_means_stderr)
{
    assert_stderr_only(STREAM_OTHER_SOCKET);
}
END_TEST

START_TEST(stream_on_another_device_means_stderr)
{
    assert_stderr_only(STREAM_OTHER_DEVICE);
}
END_TEST

/* JOURNAL_STREAM names stderr, but journald is gone (stopped, or between a
 * crash and its restart): its socket file is there and refuses. Each message
 * the journal refuses goes to stderr instead of vanishing. */
START_TEST(journal_gone_means_stderr)
{
    close(journal_fd);
    journal_fd = -1;
    assert_stderr_only(STREAM_STDERR);
}
END_TEST

/* --log-target=stderr: "<N>" lines on stderr though JOURNAL_STREAM names it
 * and journald listens (for those who would rather have the stream). */
START_TEST(stderr_target_under_journald)
{
    daemon_args = (const char *const[]){"--log-target=stderr", NULL};
    assert_stderr_only(STREAM_STDERR);
}
END_TEST

/* Whether a private mount namespace can be made here; NULL if so. */
static const char *namespace_missing(void)
{
    static char reason[160];
    pid_t pid = fork();
    if (pid == 0)
        _exit(-make_mount_namespace());
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return "cannot fork";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return NULL;
    snprintf(reason, sizeof(reason), "cannot make a private mount namespace for the journal "
             "socket (%s); needs CAP_SYS_ADMIN",
             WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "killed");
    return reason;
}

static Suite *journal_suite(void)
{
    Suite *suite = suite_create("journal");
    const struct integration_case cases[] = {
        {"bridge and backend fields", backend_changes_carry_bridge_and_backend_fields},
        {"plain messages", plain_messages_carry_no_object_fields},
        {"stream of another socket", stream_of_another_socket_means_stderr},
        {"stream on another device", stream_on_another_device_means_stderr},
        {"journal gone", journal_gone_means_stderr},
        {"stderr target", stderr_target_under_journald},
    };
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), setup, teardown);
    return suite;
}

int main(void)
{
    /* Skipped by the build, not for something missing: even with CI=true. */
    if (!XENREADY_WITH_SYSTEMD) {
        printf("SKIP: no journal: " WITHOUT_SYSTEMD_REASON "\n");
        return 77;
    }
    return integration_main(journal_suite(), namespace_missing());
}
