// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xenreadyd under an init script (issue 16): readiness without systemd's
 * READY=1, a log without the journal, and what a build without systemd
 * refuses. Against the real xenstored; the daemon is DomD (domain 1).
 *  - --pidfile appears once the daemon is ready (the moment of READY=1):
 *    not while it waits for xenstored, nor, with --ready-when=all, before
 *    every bridge is ready; whole, mode 0644 whatever the umask, holding
 *    the pid; removed at exit. One that cannot be written stops the daemon.
 *  - --ready-fd gets a newline and is closed at the same moment; a daemon
 *    that never gets ready closes it without one.
 *  - --log-target=syslog: every message on /dev/log (a private one, see
 *    tests/harness/private-syslog.h; skipped without CAP_SYS_ADMIN),
 *    nothing on stderr.
 *  - examples/init.d/xenreadyd: start returns once ready, then status,
 *    reload and stop.
 *  - In a build without systemd: --check-config refuses the unit probe,
 *    unit liveness and unit owners at their lines, a socket passed by
 *    systemd is refused, and the log is stderr even under journald.
 * Waits are for events (STATUS=, inotify, poll, a pipe's end), never sleeps.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
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
#include "private-syslog.h"

enum { DOMD = 1, FRONTEND = 5, TIMEOUT_MS = 10000, READY_FD = 7 };

#define NODE0 "/local/domain/5/xenready/pcie0"
#define PIDFILE_NAME "xenreadyd.pid"

static const char config[] =
    TEST_CONFIG_FRONTEND TEST_CONFIG_BACKEND_DM
    "[bridge domu1/pcie0]\n"
    "device-tree-path = /pcie@10000000\n"
    "backends = dm\n";

/* What the daemon's child process is given before it executes xenreadyd. */
struct child {
    char xenstored_path[600];   /* "": the harness's socket */
    int ready_fd;               /* -1: none; else given as READY_FD */
    bool private_syslog;        /* /dev/log is syslog_socket */
    bool journal_stream;        /* JOURNAL_STREAM names its stderr */
    bool listen_fds;            /* LISTEN_PID, LISTEN_FDS=1 and a descriptor 3 */
};

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd, *frontend;
static struct child child;
static char run_dir[512], pidfile[600], syslog_scratch[600];
static char syslog_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void setup(void)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    domd = harness_open(harness, DOMD);
    frontend = harness_open(harness, FRONTEND);
    ck_assert_ptr_nonnull(domd);
    ck_assert_ptr_nonnull(frontend);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    const char *dir = harness_directory(harness);
    snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
    snprintf(pidfile, sizeof(pidfile), "%s/" PIDFILE_NAME, run_dir);
    ck_assert_int_lt(snprintf(syslog_socket, sizeof(syslog_socket), "%s/syslog", dir),
                     (int)sizeof(syslog_socket));
    snprintf(syslog_scratch, sizeof(syslog_scratch), "%s/syslog-scratch", dir);
    ck_assert_int_eq(mkdir(run_dir, 0755), 0);
    child = (struct child){.ready_fd = -1};
}

static void teardown(void)
{
    daemon_runner_finish(&runner);
    if (domd)
        xs_close(domd);
    if (frontend)
        xs_close(frontend);
    domd = frontend = NULL;
    harness_stop(harness);
    harness = NULL;
}

/* In the daemon's child process. A umask that would make the pidfile
 * private: it is 0644 all the same. */
static void child_setup(void *data)
{
    const struct child *setup = data;
    umask(077);
    if (setup->xenstored_path[0])
        setenv("XENSTORED_PATH", setup->xenstored_path, 1);
    if (setup->ready_fd >= 0 && dup2(setup->ready_fd, READY_FD) < 0)
        _exit(125);
    if (setup->private_syslog && private_syslog_enter(syslog_socket, syslog_scratch) < 0)
        _exit(125);
    if (setup->journal_stream) {
        struct stat st;
        char stream[64];
        if (fstat(STDERR_FILENO, &st) < 0)
            _exit(125);
        snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        setenv("JOURNAL_STREAM", stream, 1);
    }
    if (setup->listen_fds) {
        /* As systemd passes xenreadyd.socket; here descriptor 3 is no
         * socket, which a build with systemd refuses too. */
        char pid[16];
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        int fd = open("/dev/null", O_RDWR);
        if (fd < 0 || dup2(fd, 3) < 0)
            _exit(125);
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "1", 1);
    }
}

static int spawn(const char *const *args)
{
    runner.child_setup = child_setup;
    runner.child_data = &child;
    return daemon_runner_spawn(&runner, args);
}

/* xenstored's socket does not exist yet: as at first boot, before it runs. */
static void xenstored_later(void)
{
    snprintf(child.xenstored_path, sizeof(child.xenstored_path), "%s/later/socket",
             harness_directory(harness));
}

/* ...and now it does. */
static void xenstored_appears(void)
{
    char later[512];
    snprintf(later, sizeof(later), "%s/later", harness_directory(harness));
    char *real = harness_socket_path(harness, DOMD);
    ck_assert_ptr_nonnull(real);
    ck_assert_int_eq(mkdir(later, 0755), 0);
    ck_assert_int_eq(symlink(real, child.xenstored_path), 0);
    free(real);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits for a STATUS= beginning with prefix. */
static void wait_status_prefix(const char *prefix)
{
    char message[4096];
    while (strncmp(runner.last_status, prefix, strlen(prefix)) != 0)
        ck_assert_msg(daemon_runner_next_message(&runner, message, sizeof(message), TIMEOUT_MS)
                          == 0, "no STATUS=%s...; last: %s", prefix, runner.last_status);
}

/* Waits until dir/name exists, as a script polling for it would see it:
 * an inotify watch on dir, armed before the first look. */
static void wait_for_file(const char *dir, const char *name)
{
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO), 0);
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    long long deadline = now_ms() + TIMEOUT_MS;
    while (access(path, F_OK) != 0) {
        long long left = deadline - now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ck_assert_msg(left > 0 && poll(&pfd, 1, (int)left) == 1, "%s never appeared", path);
        char events[4096];
        while (read(fd, events, sizeof(events)) > 0)
            ;
    }
    close(fd);
}

static void assert_absent(const char *path)
{
    struct stat st;
    ck_assert_msg(lstat(path, &st) < 0 && errno == ENOENT, "%s exists", path);
}

/* The pidfile as an init script reads it: a regular file, 0644, "PID\n". */
static void assert_pidfile(const char *path, pid_t pid)
{
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_msg((st.st_mode & 07777) == 0644, "mode %o", (unsigned int)(st.st_mode & 07777));
    char text[32] = "", expected[32];
    FILE *file = fopen(path, "re");
    ck_assert_ptr_nonnull(file);
    ck_assert_ptr_nonnull(fgets(text, sizeof(text), file));
    ck_assert_int_eq(fgetc(file), EOF);
    fclose(file);
    snprintf(expected, sizeof(expected), "%d\n", (int)pid);
    ck_assert_str_eq(text, expected);
}

/* Nothing but the pidfile in run_dir: its temporary was renamed, not left. */
static void assert_only_the_pidfile(void)
{
    char command[700];
    snprintf(command, sizeof(command), "test \"$(ls -A '%s')\" = " PIDFILE_NAME, run_dir);
    ck_assert_msg(system(command) == 0, "more than %s in %s", PIDFILE_NAME, run_dir);
}

static void assert_node_state(const char *state)
{
    char *value = xs_read_string(frontend, NODE0 "/state");
    ck_assert_msg(value && strcmp(value, state) == 0, "%s/state is %s, not %s", NODE0,
                  value ? value : "(none)", state);
    free(value);
}

/* Whether any sd_notify message queued now has the line READY=1. */
static bool ready_was_sent(void)
{
    char message[4096];
    bool ready = false;
    while (daemon_runner_next_message(&runner, message, sizeof(message), 0) == 0)
        for (char *line = message; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
            ready |= strncmp(line, "READY=1", 7) == 0 && (line[7] == '\n' || line[7] == '\0');
    return ready;
}

/* ---- the pidfile ---- */

/* Started before xenstored (first boot): no pidfile while the daemon waits
 * for it; once connected and scanned, the pidfile is there with the node
 * published, and READY=1 comes too. Gone after a clean stop. */
START_TEST(pidfile_only_once_ready)
{
    xenstored_later();
    ck_assert_int_eq(spawn((const char *[]){"--pidfile", pidfile, NULL}), 0);
    wait_status_prefix("waiting for xenstored:");
    assert_absent(pidfile);
    assert_absent(NODE0);
    xenstored_appears();
    wait_for_file(run_dir, PIDFILE_NAME);
    /* Ready means published. */
    assert_node_state("waiting");
    assert_pidfile(pidfile, runner.pid);
    assert_only_the_pidfile();
    ck_assert_int_eq(daemon_runner_wait_status(&runner, NULL, TIMEOUT_MS), 0);
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    assert_absent(pidfile);
}
END_TEST

/* --ready-when=all: scanned and published is not ready yet; the pidfile
 * comes with READY=1, once the bridge is ready. */
START_TEST(pidfile_waits_for_every_bridge)
{
    ck_assert_int_eq(spawn((const char *[]){"--ready-when=all", "--pidfile", pidfile, NULL}), 0);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "0/1 bridges ready; waiting: "
                                               "domu1/pcie0 (dm)", TIMEOUT_MS), 0);
    ck_assert_int_eq(xs_wait_settled(frontend, NODE0, "waiting", TIMEOUT_MS), 0);
    assert_absent(pidfile);
    ck_assert(!ready_was_sent());
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    wait_for_file(run_dir, PIDFILE_NAME);
    assert_pidfile(pidfile, runner.pid);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, NULL, TIMEOUT_MS), 0);
    ck_assert_int_eq(xs_wait_settled(frontend, NODE0, "ready", TIMEOUT_MS), 0);
}
END_TEST

/* A pidfile that cannot be written: a script would wait for it in vain,
 * so the daemon stops, says why, and never says READY=1; its readiness
 * descriptor is closed without a newline. */
START_TEST(unwritable_pidfile_stops_the_daemon)
{
    int ends[2];
    ck_assert_int_eq(pipe2(ends, O_CLOEXEC), 0);
    child.ready_fd = ends[1];
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(spawn((const char *[]){"--pidfile", "/nonexistent/xenreadyd.pid",
                                            "--ready-fd", "7", NULL}), 0);
    close(ends[1]);
    ck_assert_int_eq(daemon_runner_stop(&runner, 0), 1);   /* only reaps it */
    char *log = daemon_runner_log_text(&runner);
    ck_assert_msg(strstr(log, "<3>cannot write the pidfile /nonexistent/xenreadyd.pid: No such "
                              "file or directory; stopping\n"), "log:\n%s", log);
    free(log);
    ck_assert(!ready_was_sent());
    char byte;
    ck_assert_int_eq(read(ends[0], &byte, 1), 0);
    close(ends[0]);
}
END_TEST

/* ---- the readiness descriptor ---- */

/* Nothing on it while the daemon waits for xenstored; a newline and the
 * end of it once ready, with the node published. */
START_TEST(ready_fd_gets_a_newline_once_ready)
{
    int ends[2];
    ck_assert_int_eq(pipe2(ends, O_CLOEXEC), 0);
    child.ready_fd = ends[1];
    xenstored_later();
    ck_assert_int_eq(spawn((const char *[]){"--ready-fd", "7", NULL}), 0);
    close(ends[1]);
    wait_status_prefix("waiting for xenstored:");
    struct pollfd pfd = {.fd = ends[0], .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);
    xenstored_appears();
    ck_assert_int_eq(poll(&pfd, 1, TIMEOUT_MS), 1);
    char text[8];
    ck_assert_int_eq(read(ends[0], text, sizeof(text)), 1);
    ck_assert_int_eq(text[0], '\n');
    assert_node_state("waiting");
    ck_assert_int_eq(read(ends[0], text, sizeof(text)), 0);   /* closed */
    close(ends[0]);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, NULL, TIMEOUT_MS), 0);
}
END_TEST

/* Waits for the child pid, whose output went to path, and returns its exit
 * status; that output in *output (malloc'd). */
static int reap_with_output(pid_t pid, const char *path, char **output)
{
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    FILE *file = fopen(path, "re");
    ck_assert_ptr_nonnull(file);
    size_t size = 0;
    *output = NULL;
    if (getdelim(output, &size, '\0', file) < 0) {
        free(*output);
        *output = strdup("");
    }
    fclose(file);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Runs xenreadyd with args (not the harness's daemon: options only) and
 * returns its exit status; its stderr in *err (malloc'd). */
static int run_daemon(const char *const *args, char **err)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/run-daemon.err", harness_directory(harness));
    const char *argv[16] = {daemon_runner_program()};
    size_t argc = 1;
    for (; *args && argc < 15; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return reap_with_output(pid, path, err);
}

/* Options an init script could get wrong are refused at once, exit 1. */
START_TEST(bad_options_are_refused)
{
    static const struct {
        const char *args[4];
        const char *said;
    } cases[] = {
        {{"--ready-fd", "2"}, "--ready-fd takes a descriptor number, 3 or more, not \"2\""},
        {{"--ready-fd", "9x"}, "--ready-fd takes a descriptor number, 3 or more, not \"9x\""},
        {{"--ready-fd", "42"}, "--ready-fd 42: Bad file descriptor"},
        {{"--pidfile", "run/x.pid"}, "--pidfile takes an absolute path, not \"run/x.pid\""},
        {{"--log-target", "journal"},
         "--log-target takes \"auto\", \"stderr\" or \"syslog\", not \"journal\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *err = NULL;
        ck_assert_int_eq(run_daemon(cases[i].args, &err), 1);
        ck_assert_msg(strstr(err, cases[i].said), "case %zu said:\n%s", i, err);
        free(err);
    }
}
END_TEST

/* ---- syslog ---- */

/* The datagrams queued on fd, each "<PRI>Mmm dd hh:mm:ss TAG: MESSAGE",
 * one a line (malloc'd). */
static char *take_syslog(int fd)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    char datagram[8192];
    ssize_t n;
    while ((n = recv(fd, datagram, sizeof(datagram) - 1, MSG_DONTWAIT)) > 0) {
        datagram[n] = '\0';
        ck_assert_msg(!strchr(datagram, '\n'), "a datagram of more than one line: %s", datagram);
        fprintf(stream, "%s\n", datagram);
    }
    fclose(stream);
    return text;
}

/* Some line of text is "<PRI>…xenreadyd[PID]: MESSAGE" (facility daemon). */
static void assert_syslog_line(const char *text, pid_t pid, int priority, const char *message)
{
    char prefix[16], tag[48];
    snprintf(prefix, sizeof(prefix), "<%d>", LOG_DAEMON | priority);
    snprintf(tag, sizeof(tag), " xenreadyd[%d]: ", (int)pid);
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        const char *end = strchr(line, '\n'), *at = strstr(line, tag);
        if (strncmp(line, prefix, strlen(prefix)) == 0 && at && at < end
            && strncmp(at + strlen(tag), message, strlen(message)) == 0)
            return;
    }
    ck_abort_msg("no %s…%s%s in syslog:\n%s", prefix, tag, message, text);
}

/* --log-target=syslog: each message one datagram to /dev/log, facility
 * daemon, tagged with the pid, nothing on stderr. */
START_TEST(syslog_takes_every_message)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    memcpy(address.sun_path, syslog_socket, sizeof(syslog_socket));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    ck_assert_int_eq(mkdir(syslog_scratch, 0700), 0);
    const char *missing = private_syslog_missing(syslog_socket, syslog_scratch);
    if (missing) {
        printf("syslog: skipped: %s\n", missing);
        close(fd);
        return;
    }
    child.private_syslog = true;
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(spawn((const char *[]){"--log-target=syslog", NULL}), 0);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, NULL, TIMEOUT_MS), 0);
    pid_t pid = runner.pid;
    char *before = take_syslog(fd);   /* fewer than net.unix.max_dgram_qlen so far */
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    char *after = take_syslog(fd), *all = NULL;
    ck_assert_int_ge(asprintf(&all, "%s%s", before, after), 0);
    assert_syslog_line(all, pid, LOG_INFO, "connected to xenstore as domain 1");
    assert_syslog_line(all, pid, LOG_NOTICE, "started: 1 frontend(s), 1 bridge(s), 1 backend(s);"
                                             " 0/1 bridges ready; waiting: domu1/pcie0 (dm)");
    assert_syslog_line(all, pid, LOG_INFO, "received signal 15, stopping");
    char *log = daemon_runner_log_text(&runner);
    ck_assert_msg(log[0] == '\0', "stderr besides syslog:\n%s", log);
    free(log);
    free(before);
    free(after);
    free(all);
    close(fd);
}
END_TEST

/* ---- the example init script ---- */

/* Runs examples/init.d/xenreadyd verb with the build's programs, in the
 * harness directory; returns its exit status, its output in *out. */
static int init_script(const char *verb, char **out)
{
    char path[600], args[700], socket_env[700];
    const char *dir = harness_directory(harness);
    snprintf(path, sizeof(path), "%s/init-script.out", dir);
    snprintf(args, sizeof(args), "-c %s", runner.config_path);
    char *socket = harness_socket_path(harness, DOMD);
    ck_assert_ptr_nonnull(socket);
    snprintf(socket_env, sizeof(socket_env), "%s", socket);
    free(socket);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(126);
        setenv("XENREADYD", daemon_runner_program(), 1);
        setenv("XENREADYCTL", XENREADYCTL_PATH, 1);
        setenv("XENREADYD_ARGS", args, 1);
        setenv("XENREADYD_DEFAULTS", "/nonexistent", 1);
        setenv("RUNTIME_DIR", run_dir, 1);
        setenv("PIDFILE", pidfile, 1);
        setenv("XENSTORED_PATH", socket_env, 1);
        unsetenv("NOTIFY_SOCKET");
        execl("/bin/sh", "sh", XENREADY_SOURCE_DIR "/examples/init.d/xenreadyd", verb,
              (char *)NULL);
        _exit(127);
    }
    return reap_with_output(pid, path, out);
}

/* start returns once the daemon is ready (the node is published by then),
 * status says so, reload goes through, stop returns once it is gone. The
 * daemon outlives the script's shell: this process is made its subreaper,
 * to reap it and check that it stopped cleanly. */
START_TEST(example_init_script)
{
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    char *out = NULL;
    int status = init_script("status", &out);
    ck_assert_msg(status == 3, "status before start: %d\n%s", status, out);
    free(out);
    status = init_script("start", &out);
    ck_assert_msg(status == 0, "start: %d\n%s", status, out);
    int pid = 0;
    ck_assert_msg(sscanf(out, "xenreadyd is ready (pid %d)", &pid) == 1, "start said:\n%s", out);
    free(out);
    assert_node_state("waiting");
    assert_pidfile(pidfile, pid);
    status = init_script("status", &out);
    ck_assert_msg(status == 0 && strstr(out, "is running"), "status: %d\n%s", status, out);
    free(out);
    status = init_script("reload", &out);
    ck_assert_msg(status == 0, "reload: %d\n%s", status, out);
    free(out);
    status = init_script("stop", &out);
    ck_assert_msg(status == 0, "stop: %d\n%s", status, out);
    free(out);
    int wstatus;
    ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
    ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "daemon: status %#x",
                  wstatus);
    assert_absent(pidfile);
    status = init_script("status", &out);
    ck_assert_msg(status == 3, "status after stop: %d\n%s", status, out);
    free(out);
}
END_TEST

/* ---- what a build without systemd refuses ---- */

/* --check-config: each use of a unit, at its line; the build with systemd
 * takes the same file. */
START_TEST(check_config_refuses_units_without_systemd)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/units.conf", harness_directory(harness));
    FILE *file = fopen(path, "w");
    ck_assert_ptr_nonnull(file);
    fputs(TEST_CONFIG_FRONTEND                                   /* 1-3 */
          "[backend i2c]\nprobe = unit\nunit = i2c.service\n\n"  /* 4-7: probe at 5 */
          "[backend ann]\nprobe = announce\nowner = unit:ann.service\n\n"   /* 8-11: 10 */
          "[backend s]\nprobe = socket\npath = /run/s.sock\nliveness-unit = s.service\n\n"
          "[bridge domu1/pcie0]\ndevice-tree-path = /p\nbackends = i2c ann s\n", file);
    fclose(file);
    char *err = NULL;
    int status = run_daemon((const char *[]){"--check-config", path, NULL}, &err);
    if (XENREADY_WITH_SYSTEMD) {
        ck_assert_msg(status == 0 && strstr(err, "configuration OK"), "%d:\n%s", status, err);
        free(err);
        return;
    }
    ck_assert_int_eq(status, 1);
    static const char *const lines[] = {
        (":5: error: backend i2c: probe = unit needs a xenreadyd built with systemd "
         "(-DXENREADY_SYSTEMD=ON); this one was built without it"),
        ":10: error: backend ann: owner = unit:NAME needs a xenreadyd built with systemd",
        ":15: error: backend s: liveness-unit = needs a xenreadyd built with systemd",
        "units.conf: configuration has 3 error(s)",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        ck_assert_msg(strstr(err, lines[i]), "no \"%s\" in:\n%s", lines[i], err);
    free(err);
}
END_TEST

/* A socket passed as xenreadyd.socket would pass it: without systemd it
 * cannot be taken over, and the daemon says so rather than fighting over
 * the path; with systemd, this one (no socket) is refused as well. */
START_TEST(socket_activation_refused_without_systemd)
{
    child.listen_fds = true;
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(spawn(NULL), 0);
    ck_assert_int_eq(daemon_runner_stop(&runner, 0), 1);   /* only reaps it */
    char *log = daemon_runner_log_text(&runner);
    const char *expected = XENREADY_WITH_SYSTEMD
        ? "systemd passed 1 socket(s); expected one listening UNIX stream socket"
        : "but this xenreadyd was built without systemd (-DXENREADY_SYSTEMD=OFF) and cannot "
          "take them over: disable xenreadyd.socket";
    ck_assert_msg(strstr(log, expected), "log:\n%s", log);
    free(log);
}
END_TEST

/* Under journald (JOURNAL_STREAM names stderr) the log is still "<N>"
 * lines on stderr: there is no journal without systemd. With systemd,
 * check_journal covers what goes to the journal. */
START_TEST(no_journal_without_systemd)
{
    if (XENREADY_WITH_SYSTEMD) {
        printf("no journal: skipped: built with systemd (check_journal)\n");
        return;
    }
    child.journal_stream = true;
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(spawn(NULL), 0);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, NULL, TIMEOUT_MS), 0);
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    char *log = daemon_runner_log_text(&runner);
    ck_assert_msg(strstr(log, "<6>connected to xenstore as domain 1\n"), "log:\n%s", log);
    ck_assert_msg(strstr(log, "<6>received signal 15, stopping\n"), "log:\n%s", log);
    free(log);
}
END_TEST

static Suite *init_suite(void)
{
    Suite *suite = suite_create("init");
    const struct integration_case cases[] = {
        {"pidfile once ready", pidfile_only_once_ready},
        {"pidfile, ready when all", pidfile_waits_for_every_bridge},
        {"pidfile unwritable", unwritable_pidfile_stops_the_daemon},
        {"ready fd", ready_fd_gets_a_newline_once_ready},
        {"bad options", bad_options_are_refused},
        {"syslog", syslog_takes_every_message},
        {"init script", example_init_script},
        {"check-config without systemd", check_config_refuses_units_without_systemd},
        {"socket activation without systemd", socket_activation_refused_without_systemd},
        {"no journal without systemd", no_journal_without_systemd},
    };
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), setup, teardown);
    return suite;
}

int main(void)
{
    return integration_main(init_suite(), NULL);
}
