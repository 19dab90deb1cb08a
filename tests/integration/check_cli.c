// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The command-line tools as a user meets them (issue 16, CLI rough edges):
 * xenreadyctl against the real daemon on the real xenstored, as root and as
 * other uids (setpriv), and xenready-wait as the unprivileged frontend.
 *   - every refusal the daemon makes reaches the client with its message
 *     and exit status 1, also when the daemon never reads the request;
 *   - a daemon that goes away during "wait" is reported as such (status 3);
 *   - one timeout status, 124, in both tools, and the old ones (4, 3) with
 *     XENREADY_TIMEOUT_STATUS=legacy;
 *   - --version in every program;
 *   - options anywhere on the command line, "--" ending them;
 *   - a standard output that cannot be written fails the command;
 *   - every JSON member of every answer is documented in xenreadyctl(1).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "guest-runner.h"
#include "harness.h"
#include "xenready-control.h"

enum {
    DOMD = 1,
    FRONTEND = 5,
    TIMEOUT_MS = 10000,
    NOBODY = 65534,
    CONTROL_GID = 4242,
    OWNER_UID = 4343,
    MEMBER_UID = 5000,           /* and up: members of the control group */
};

static const char config[] =
    TEST_CONFIG_FRONTEND
    "[backend ann]\nprobe = announce\nowner = uid:4343\n\n"
    TEST_CONFIG_BACKEND_DISK
    "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = ann\n\n"
    "[bridge domu1/virtio0]\ndevice-tree-path = /virtio@0\nbackends = disk\n";

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd;
static struct guest guest;

static void setup(void)
{
    runner = (struct daemon_runner){.notify_fd = -1};
    guest = (struct guest){.in_fd = -1, .out_fd = -1, .err_fd = -1, .status = -1};
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    ck_assert_ptr_nonnull(domd = harness_open(harness, DOMD));
    /* Others may reach the control socket in it, not list it. */
    ck_assert_int_eq(chmod(harness_directory(harness), 0711), 0);
}

static void teardown(void)
{
    guest_finish(&guest);
    daemon_runner_finish(&runner);
    if (domd)
        xs_close(domd);
    domd = NULL;
    harness_stop(harness);
    harness = NULL;
}

/* Starts the daemon with the test's configuration and the control group. */
static void start_daemon(const char *text)
{
    char group[16];
    snprintf(group, sizeof(group), "%d", CONTROL_GID);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, text), 0);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, (const char *[]){"--control-group", group,
                                                                    NULL}), 0);
}

/* ---- running the programs ---- */

struct child {
    pid_t pid;
    int out, err;                /* its stdout (-1 when redirected) and stderr */
};

struct outcome {
    int status;                  /* exit status, or 128 + signal */
    char *out, *err;
};

/* Starts argv with env ("NAME=VALUE" to set, "NAME" to unset; may be NULL)
 * and its standard output to stdout_path (NULL: a pipe). */
static void child_start(struct child *child, const char *const *argv, const char *const *env,
                        const char *stdout_path)
{
    int out[2] = {-1, -1}, err[2];
    ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
    if (!stdout_path)
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    child->pid = fork();
    ck_assert_int_ge(child->pid, 0);
    if (child->pid == 0) {
        for (size_t i = 0; env && env[i]; i++) {
            const char *equals = strchr(env[i], '=');
            if (equals) {
                char *name = strndup(env[i], (size_t)(equals - env[i]));
                setenv(name, equals + 1, 1);
            } else {
                unsetenv(env[i]);
            }
        }
        int fd = stdout_path ? open(stdout_path, O_WRONLY | O_CLOEXEC) : out[1];
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(err[1]);
    child->err = err[0];
    child->out = -1;
    if (!stdout_path) {
        close(out[1]);
        child->out = out[0];
    }
}

/* Reads its output to the end and reaps it (bounded: a check failure). */
static struct outcome child_finish(struct child *child)
{
    char *texts[2] = {NULL, NULL};
    size_t sizes[2];
    FILE *streams[2] = {open_memstream(&texts[0], &sizes[0]),
                        open_memstream(&texts[1], &sizes[1])};
    int fds[2] = {child->out, child->err};
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd polls[2] = {{.fd = fds[0], .events = POLLIN},
                                  {.fd = fds[1], .events = POLLIN}};
        int n = poll(polls, 2, TIMEOUT_MS);
        if (n == 0)
            kill(child->pid, SIGKILL);
        ck_assert_msg(n > 0, "%d did not end", (int)child->pid);
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !polls[i].revents)
                continue;
            char buffer[4096];
            ssize_t length = read(fds[i], buffer, sizeof(buffer));
            if (length > 0) {
                fwrite(buffer, 1, (size_t)length, streams[i]);
            } else {
                close(fds[i]);
                fds[i] = -1;
            }
        }
    }
    fclose(streams[0]);
    fclose(streams[1]);
    int status;
    ck_assert_int_eq(waitpid(child->pid, &status, 0), child->pid);
    child->pid = 0;
    return (struct outcome){
        .status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
        .out = texts[0],
        .err = texts[1],
    };
}

static void outcome_free(struct outcome *outcome)
{
    free(outcome->out);
    free(outcome->err);
}

/* xenreadyctl ARGS as uid (0: the test's own, root) with the control group
 * (or without it: member false), --socket first unless socket is false. */
struct ctl {
    uid_t uid;
    bool outsider;               /* not in the control group */
    bool no_socket;              /* no "--socket PATH" first: the caller places it */
    const char *const *env;
    const char *stdout_path;
};

static void ctl_start(struct child *child, const struct ctl *how, const char *const *args)
{
    const char *argv[16384];
    size_t argc = 0;
    char as[32], groups[32];
    if (how->uid != 0) {
        snprintf(as, sizeof(as), "--reuid=%u", (unsigned int)how->uid);
        snprintf(groups, sizeof(groups), "--groups=%d", CONTROL_GID);
        argv[argc++] = "/usr/bin/setpriv";
        argv[argc++] = as;
        argv[argc++] = "--regid=65534";
        argv[argc++] = how->outsider ? "--clear-groups" : groups;
    }
    argv[argc++] = XENREADYCTL_PATH;
    if (!how->no_socket) {
        argv[argc++] = "--socket";
        argv[argc++] = runner.control_path;
    }
    for (size_t i = 0; args[i]; i++) {
        ck_assert_uint_lt(argc, sizeof(argv) / sizeof(argv[0]) - 1);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    child_start(child, argv, how->env, how->stdout_path);
}

static struct outcome ctl(const struct ctl *how, const char *const *args)
{
    struct child child;
    ctl_start(&child, how, args);
    return child_finish(&child);
}

/* Checks an outcome's status and that its stderr has text. */
#define assert_outcome(outcome, expected_status, text)                                        \
    do {                                                                                      \
        ck_assert_msg((outcome).status == (expected_status) && strstr((outcome).err, text),   \
                      "exit %d, expected %d with \"%s\" on stderr; stderr:\n%s", (outcome).status, \
                      expected_status, text, (outcome).err);                                  \
    } while (0)

/* ---- refusals ---- */

/* Whether pid sleeps in one of two system calls, from /proc/PID/syscall
 * ("running" while it runs). */
static bool sleeping_in(pid_t pid, long call, long other_call)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
    FILE *file = fopen(path, "re");
    if (!file)
        return false;
    long number;
    bool sleeping = fscanf(file, "%ld", &number) == 1 && (number == call || number == other_call);
    fclose(file);
    return sleeping;
}

static void await_sleeping_in(pid_t pid, long call, long other_call)
{
    for (int tries = 0; !sleeping_in(pid, call, other_call); tries++) {
        ck_assert_msg(tries < TIMEOUT_MS / 10, "%d never slept in system call %ld", (int)pid,
                      call);
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
}

#define PERMISSION_DENIED "xenreadyctl: xenreadyd: permission denied: root or the control group only\n"

/* A client neither root nor in the control group is refused by the daemon
 * (the socket's mode opened up) when it connects: told why, status 1 (not
 * "Connection reset by peer", status 3), however its request and the
 * refusal cross; also when its request is far larger than the daemon ever
 * reads, so that sending it fails once the daemon has closed. */
START_TEST(refused_outsider_is_told_why)
{
    start_daemon(config);
    ck_assert_int_eq(chmod(runner.control_path, 0666), 0);
    struct ctl outsider = {.uid = NOBODY, .outsider = true};
    for (int i = 0; i < 20; i++) {
        struct outcome outcome = ctl(&outsider, (const char *[]){"status", NULL});
        assert_outcome(outcome, 1, PERMISSION_DENIED);
        ck_assert_str_eq(outcome.out, "");
        outcome_free(&outcome);
    }
    /* About 400 KB of bridge names: more than the socket buffers hold. */
    enum { NAMES = 6000 };
    const char **args = calloc(NAMES + 2, sizeof(*args));
    static char names[NAMES][80];
    args[0] = "wait";
    for (int i = 0; i < NAMES; i++) {
        snprintf(names[i], sizeof(names[i]), "domu1/bridge-%060d", i);
        args[i + 1] = names[i];
    }
    struct outcome outcome = ctl(&outsider, args);
    assert_outcome(outcome, 1, PERMISSION_DENIED);
    outcome_free(&outcome);
    /* The same with the refusal in the middle of the request: the client
     * sleeps in send(2) on a full socket before the (stopped) daemon
     * accepts it, and its send ends short when the daemon closes. */
    ck_assert_int_eq(kill(runner.pid, SIGSTOP), 0);
    struct child child;
    ctl_start(&child, &outsider, args);
    await_sleeping_in(child.pid, SYS_sendto, SYS_sendmsg);
    ck_assert_int_eq(kill(runner.pid, SIGCONT), 0);
    outcome = child_finish(&child);
    assert_outcome(outcome, 1, PERMISSION_DENIED);
    outcome_free(&outcome);
    free(args);
    /* The socket's own mode keeps them out before the daemon sees them. */
    ck_assert_int_eq(chmod(runner.control_path, 0600), 0);
    outcome = ctl(&outsider, (const char *[]){"status", NULL});
    assert_outcome(outcome, 3, "cannot connect to xenreadyd");
    outcome_free(&outcome);
}
END_TEST


/* Root is always served, in turn: once its answer is there, the daemon has
 * accepted every connection made before it. */
static void daemon_has_accepted_everything(void)
{
    struct outcome outcome = ctl(&(struct ctl){0}, (const char *[]){"status", NULL});
    ck_assert_msg(outcome.status == 0, "root's status: %d; stderr:\n%s", outcome.status,
                  outcome.err);
    outcome_free(&outcome);
}

/* Members refused for the daemon's limits are told which, with status 1:
 * one uid holding all its connections, then members together holding every
 * place not kept for root and the backends' owners. The idle connections
 * are dropped after XENREADY_CONTROL_TIMEOUT_SECONDS: all of this is done
 * well within that. */
START_TEST(clients_refused_for_limits_are_told_why)
{
    start_daemon(config);
    pid_t holders[8];
    size_t holder_count = 0;
    holders[holder_count++] = daemon_runner_idle_connections(&runner, MEMBER_UID, CONTROL_GID,
                                                                   XENREADY_CONTROL_PER_UID_MAX);
    daemon_has_accepted_everything();
    struct outcome outcome = ctl(&(struct ctl){.uid = MEMBER_UID}, (const char *[]){"status",
                                                                                     NULL});
    assert_outcome(outcome, 1, "xenreadyctl: xenreadyd: too many clients of this uid\n");
    outcome_free(&outcome);

    int left = XENREADY_CONTROL_CLIENTS_MAX - XENREADY_CONTROL_RESERVED
               - XENREADY_CONTROL_PER_UID_MAX;
    for (uid_t uid = MEMBER_UID + 1; left > 0; uid++) {
        int count = left < XENREADY_CONTROL_PER_UID_MAX ? left : XENREADY_CONTROL_PER_UID_MAX;
        ck_assert_uint_lt(holder_count, sizeof(holders) / sizeof(holders[0]));
        holders[holder_count++] = daemon_runner_idle_connections(&runner, uid, CONTROL_GID, count);
        left -= count;
    }
    daemon_has_accepted_everything();
    outcome = ctl(&(struct ctl){.uid = MEMBER_UID + 100}, (const char *[]){"wait", "domu1/pcie0",
                                                                            NULL});
    assert_outcome(outcome, 1, "xenreadyctl: xenreadyd: too many clients\n");
    outcome_free(&outcome);
    /* The owner of a backend still gets in. */
    outcome = ctl(&(struct ctl){.uid = OWNER_UID}, (const char *[]){"ready", "ann", NULL});
    ck_assert_msg(outcome.status == 0, "owner: %d; stderr:\n%s", outcome.status, outcome.err);
    outcome_free(&outcome);
    for (size_t i = 0; i < holder_count; i++) {
        kill(holders[i], SIGKILL);
        ck_assert_int_eq(waitpid(holders[i], NULL, 0), holders[i]);
    }
}
END_TEST

/* ---- a daemon that goes away ---- */

/* Waits until a connection to the control socket exists (in the daemon's
 * backlog or accepted): /proc/net/unix lists the socket's path for both,
 * connected (state 03). */
static void await_connection(void)
{
    for (int tries = 0; tries < TIMEOUT_MS / 10; tries++) {
        FILE *file = fopen("/proc/net/unix", "re");
        ck_assert_ptr_nonnull(file);
        char line[1024];
        bool found = false;
        while (!found && fgets(line, sizeof(line), file)) {
            char path[600] = "";
            unsigned int state;
            if (sscanf(line, "%*s %*s %*s %*s %*s %x %*s %599s", &state, path) == 2)
                found = state == 3 && strcmp(path, runner.control_path) == 0;
        }
        fclose(file);
        if (found)
            return;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    ck_abort_msg("no connection to %s", runner.control_path);
}

/* The daemon is stopped (SIGTERM) or killed (SIGKILL) while it holds a
 * wait: xenreadyctl says it went away, with status 3, not that it sent an
 * unreadable answer. */
static void daemon_goes_away_during_wait(int sig)
{
    start_daemon(config);
    struct child child;
    ctl_start(&child, &(struct ctl){0}, (const char *[]){"wait", "domu1/pcie0", NULL});
    await_connection();
    daemon_runner_stop(&runner, sig);
    struct outcome outcome = child_finish(&child);
    ck_assert_msg(outcome.status == 3
                      && strcmp(outcome.err, "xenreadyctl: xenreadyd went away before "
                                             "answering\n") == 0,
                  "exit %d; stderr:\n%s", outcome.status, outcome.err);
    outcome_free(&outcome);
}

START_TEST(daemon_stopped_during_wait)
{
    daemon_goes_away_during_wait(SIGTERM);
}
END_TEST

START_TEST(daemon_killed_during_wait)
{
    daemon_goes_away_during_wait(SIGKILL);
}
END_TEST

/* Killed before it even read the request (stopped, the client waiting for
 * its answer): the client's connection is reset, which is the daemon going
 * away too. */
START_TEST(daemon_killed_before_reading)
{
    start_daemon(config);
    ck_assert_int_eq(kill(runner.pid, SIGSTOP), 0);
    struct child child;
    ctl_start(&child, &(struct ctl){0}, (const char *[]){"wait", "domu1/pcie0", NULL});
    await_sleeping_in(child.pid, SYS_recvfrom, SYS_recvmsg);
    daemon_runner_stop(&runner, SIGKILL);
    struct outcome outcome = child_finish(&child);
    ck_assert_msg(outcome.status == 3
                      && strcmp(outcome.err, "xenreadyctl: xenreadyd went away before "
                                             "answering\n") == 0,
                  "exit %d; stderr:\n%s", outcome.status, outcome.err);
    outcome_free(&outcome);
}
END_TEST

/* ---- one timeout status ---- */

/* xenready-wait as the frontend, with --timeout 0 in extra: it times out at
 * once. Its stderr stays in guest.err_text. */
static void xenready_wait_times_out(const char *const *extra, int expected)
{
    guest_finish(&guest);
    const char *argv[16] = {XENREADY_WAIT_PATH};
    size_t argc = 1;
    for (size_t i = 0; extra[i]; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    ck_assert_int_eq(guest_start(&guest, harness, FRONTEND, NULL, argv), 0);
    int status = guest_wait_exit(&guest, TIMEOUT_MS);
    ck_assert_msg(status == expected && strstr(guest.err_text, "timed out after 0 s; not ready: "),
                  "xenready-wait %s %s %s ...: exit %d, expected %d; stderr:\n%s", argv[1],
                  argv[2], argv[3], status, expected, guest.err_text);
}

/* Both tools exit 124 on a timeout, as timeout(1) does; with
 * XENREADY_TIMEOUT_STATUS=legacy each keeps its old status (xenreadyctl 4,
 * xenready-wait 3); any other value is refused before waiting. */
START_TEST(one_timeout_status)
{
    start_daemon(config);
    const char *const wait[] = {"wait", "domu1/pcie0", "--timeout", "0", NULL};
    struct outcome outcome = ctl(&(struct ctl){0}, wait);
    assert_outcome(outcome, 124, "xenreadyctl: wait: timed out; still waiting: domu1/pcie0\n");
    outcome_free(&outcome);
    outcome = ctl(&(struct ctl){.env = (const char *[]){"XENREADY_TIMEOUT_STATUS=legacy", NULL}},
                  wait);
    assert_outcome(outcome, 4, "timed out");
    outcome_free(&outcome);
    outcome = ctl(&(struct ctl){.env = (const char *[]){"XENREADY_TIMEOUT_STATUS=3", NULL}}, wait);
    assert_outcome(outcome, 2, "XENREADY_TIMEOUT_STATUS");
    outcome_free(&outcome);

    /* However long its setup took past the deadline (1 ms was once taken
     * for "no deadline"), it gives up. */
    for (int i = 0; i < 100; i++)
        xenready_wait_times_out((const char *[]){"--timeout", "0", "pcie0", NULL}, 124);
    setenv("XENREADY_TIMEOUT_STATUS", "legacy", 1);
    xenready_wait_times_out((const char *[]){"--timeout", "0", "pcie0", NULL}, 3);
    setenv("XENREADY_TIMEOUT_STATUS", "124", 1);
    const char *argv[] = {XENREADY_WAIT_PATH, "--timeout", "0", "pcie0", NULL};
    guest_finish(&guest);
    ck_assert_int_eq(guest_start(&guest, harness, FRONTEND, NULL, argv), 0);
    ck_assert_int_eq(guest_wait_exit(&guest, TIMEOUT_MS), 2);
    ck_assert_ptr_nonnull(strstr(guest.err_text, "XENREADY_TIMEOUT_STATUS"));
    unsetenv("XENREADY_TIMEOUT_STATUS");
}
END_TEST

/* ---- --version ---- */

START_TEST(every_program_has_version)
{
    const char *const programs[][2] = {
        {XENREADYCTL_PATH, "xenreadyctl"},
        {XENREADY_WAIT_PATH, "xenready-wait"},
        {NULL, "xenreadyd"},
    };
    for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
        const char *path = programs[i][0] ? programs[i][0] : daemon_runner_program();
        struct child child;
        child_start(&child, (const char *[]){path, "--version", NULL}, NULL, NULL);
        struct outcome outcome = child_finish(&child);
        char expected[64];
        snprintf(expected, sizeof(expected), "%s %s\n", programs[i][1], XENREADY_VERSION);
        ck_assert_msg(outcome.status == 0 && strcmp(outcome.out, expected) == 0,
                      "%s --version: exit %d, \"%s\"", programs[i][1], outcome.status,
                      outcome.out);
        outcome_free(&outcome);
    }
}
END_TEST

/* ---- options anywhere ---- */

START_TEST(options_anywhere)
{
    start_daemon(config);
    ck_assert_int_eq(xs_write_string(domd, "backend/virtio_disk/5/0/state", "4"), 0);
    const char *socket = runner.control_path;
    struct ctl placed = {.no_socket = true};
    struct ctl posix = {.no_socket = true, .env = (const char *[]){"POSIXLY_CORRECT=1", NULL}};
    struct {
        const struct ctl *how;
        const char *args[8];
        int status;
        const char *out, *err;
    } cases[] = {
        {&placed, {"status", "--socket", socket}, 0, "domu1/pcie0", ""},
        {&placed, {"status", "-s", socket, "--json"}, 0, "\"bridges\":[", ""},
        {&placed, {"--json", "status", "--socket", socket}, 0, "\"bridges\":[", ""},
        {&posix, {"status", "--json", "--socket", socket}, 0, "\"bridges\":[", ""},
        {&placed, {"wait", "--timeout", "5", "domu1/virtio0", "--socket", socket}, 0, "", ""},
        {&placed, {"wait", "domu1/pcie0", "--socket", socket, "--timeout=0"}, 124, "",
         "still waiting: domu1/pcie0"},
        {&placed, {"--socket", socket, "gone", "--", "-x"}, 1, "", "no backend named \"-x\""},
        {&placed, {"--", "status", "--socket", socket}, 2, "", "unexpected argument"},
        {&placed, {"reload", "--json", "--socket", socket}, 2, "",
         "reload: --json is not an option of this command"},
        {&placed, {"status", "--timeout", "1", "--socket", socket}, 2, "",
         "status: --timeout is not an option of this command"},
        {&placed, {"status", "--help"}, 0, "Usage: xenreadyctl", ""},
        {&placed, {"ready", "--version"}, 0, "xenreadyctl " XENREADY_VERSION, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct outcome outcome = ctl(cases[i].how, cases[i].args);
        ck_assert_msg(outcome.status == cases[i].status && strstr(outcome.out, cases[i].out)
                          && strstr(outcome.err, cases[i].err),
                      "case %zu (%s %s ...): exit %d, expected %d; stdout:\n%s\nstderr:\n%s", i,
                      cases[i].args[0], cases[i].args[1], outcome.status, cases[i].status,
                      outcome.out, outcome.err);
        outcome_free(&outcome);
    }

    /* xenready-wait: options after the bridges, and "--" before a bridge
     * id that looks like an option (ids may start with "-"). */
    setenv("POSIXLY_CORRECT", "1", 1);
    xenready_wait_times_out((const char *[]){"pcie0", "--timeout", "0", NULL}, 124);
    unsetenv("POSIXLY_CORRECT");
    xenready_wait_times_out((const char *[]){"--timeout", "0", "--", "-x", NULL}, 124);
    ck_assert_ptr_nonnull(strstr(guest.err_text, "not ready: -x (no node)"));
}
END_TEST

/* ---- write errors on standard output ---- */

START_TEST(stdout_write_errors_fail)
{
    start_daemon(config);
    struct ctl full = {.stdout_path = "/dev/full"};
    const char *const *commands[] = {
        (const char *[]){"status", NULL},
        (const char *[]){"status", "--json", NULL},
        (const char *[]){"--version", NULL},
        (const char *[]){"--help", NULL},
    };
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        struct outcome outcome = ctl(&full, commands[i]);
        assert_outcome(outcome, 1,
                       "xenreadyctl: cannot write to standard output: No space left on device\n");
        outcome_free(&outcome);
        /* The same to a writable standard output succeeds. */
        outcome = ctl(&(struct ctl){0}, commands[i]);
        ck_assert_msg(outcome.status == 0, "%s: exit %d; stderr:\n%s", commands[i][0],
                      outcome.status, outcome.err);
        outcome_free(&outcome);
    }
    /* Nothing written, nothing to fail: a wait prints nothing. */
    struct outcome outcome = ctl(&full, (const char *[]){"wait", "domu1/pcie0", "--timeout", "0",
                                                         NULL});
    assert_outcome(outcome, 124, "still waiting");
    ck_assert_ptr_null(strstr(outcome.err, "standard output"));
    outcome_free(&outcome);
    const char *const options[] = {"--help", "--version"};
    for (size_t i = 0; i < 2; i++) {
        struct child child;
        child_start(&child, (const char *[]){XENREADY_WAIT_PATH, options[i], NULL}, NULL,
                    "/dev/full");
        outcome = child_finish(&child);
        assert_outcome(outcome, 1,
                       "xenready-wait: cannot write to standard output: No space left on device\n");
        outcome_free(&outcome);
    }
}
END_TEST

/* ---- every JSON member documented ---- */

/* The .B lines (.B, .BR, .BI: where members are named) of xenreadyctl(1)'s
 * JSON OUTPUT section, malloc'd. */
static char *json_output_section(void)
{
    FILE *file = fopen(XENREADY_SOURCE_DIR "/man/xenreadyctl.1", "re");
    ck_assert_ptr_nonnull(file);
    size_t size = 65536, used = 0;
    char *section = malloc(size), line[4096];
    ck_assert_ptr_nonnull(section);
    section[0] = '\0';
    bool inside = false;
    while (fgets(line, sizeof(line), file)) {
        if (strncmp(line, ".SH", 3) == 0) {
            inside = strcmp(line, ".SH JSON OUTPUT\n") == 0;
        } else if (inside && line[0] == '.' && line[1] == 'B') {
            size_t length = strlen(line);
            ck_assert_uint_lt(used + length, size);
            memcpy(section + used, line, length + 1);
            used += length;
        }
    }
    fclose(file);
    ck_assert_uint_gt(used, 0);
    return section;
}

/* Whether member is named in bold in the section: as a word of a .B line. */
static bool documented(const char *section, const char *member)
{
    size_t length = strlen(member);
    for (const char *at = strstr(section, member); at; at = strstr(at + 1, member)) {
        char before = at == section ? '\n' : at[-1], after = at[length];
        bool word_before = before == ' ' || before == '"' || before == '\n';
        bool word_after = after == ' ' || after == '"' || after == '\n' || after == ',';
        if (word_before && word_after)
            return true;
    }
    return false;
}

/* Every member, at any depth, of answer, in out (one per line). */
static void collect_members(struct json_object *value, FILE *out)
{
    if (json_object_is_type(value, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(value); i++)
            collect_members(json_object_array_get_idx(value, i), out);
    } else if (json_object_is_type(value, json_type_object)) {
        json_object_object_foreach(value, key, member) {
            fprintf(out, "%s\n", key);
            collect_members(member, out);
        }
    }
}

/* Sends request as root on a raw connection; the parsed answer. */
static struct json_object *ask(const char *request)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", runner.control_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    ck_assert_int_eq(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
    char buffer[65536];
    size_t used = 0;
    ssize_t n;
    while (used < sizeof(buffer) - 1 && (n = read(fd, buffer + used, sizeof(buffer) - 1 - used)) > 0)
        used += (size_t)n;
    close(fd);
    buffer[used] = '\0';
    struct json_object *answer = json_tokener_parse(buffer);
    ck_assert_msg(answer, "not JSON: %s", buffer);
    return answer;
}

/* The same as the owner of backend "ann" (uid OWNER_UID, in the control
 * group), from a child that becomes it. */
static struct json_object *ask_as_owner(const char *request)
{
    int pipe_fds[2];
    ck_assert_int_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        gid_t groups[] = {CONTROL_GID};
        if (setgroups(1, groups) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0
            || setresuid(OWNER_UID, OWNER_UID, OWNER_UID) < 0)
            _exit(1);
        struct json_object *answer = ask(request);
        const char *plain = json_object_to_json_string(answer);
        bool written = write(pipe_fds[1], plain, strlen(plain)) == (ssize_t)strlen(plain);
        json_object_put(answer);
        _exit(written ? 0 : 1);
    }
    close(pipe_fds[1]);
    char buffer[4096];
    size_t used = 0;
    ssize_t n;
    while (used < sizeof(buffer) - 1
           && (n = read(pipe_fds[0], buffer + used, sizeof(buffer) - 1 - used)) > 0)
        used += (size_t)n;
    close(pipe_fds[0]);
    buffer[used] = '\0';
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the owner's %s: %#x", request,
                  status);
    struct json_object *answer = json_tokener_parse(buffer);
    ck_assert_msg(answer, "the owner's %s: %s", request, buffer);
    return answer;
}

/* The answers of every command, successful and not, with every optional
 * part present (a degraded bridge, a refused announcement, a reload's
 * messages): each member in them is named in xenreadyctl(1). */
START_TEST(every_json_member_is_documented)
{
    /* A bridge degraded after a second, and a refused announcement. */
    static const char degrading[] =
        TEST_CONFIG_FRONTEND
        "[backend ann]\nprobe = announce\nowner = uid:4343\n\n"
        TEST_CONFIG_BACKEND_DISK
        "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = ann\ntimeout = 1\n\n"
        "[bridge domu1/virtio0]\ndevice-tree-path = /virtio@0\nbackends = disk\n";
    start_daemon(degrading);
    struct outcome outcome = ctl(&(struct ctl){.uid = NOBODY}, (const char *[]){"ready", "ann",
                                                                                NULL});
    assert_outcome(outcome, 1, "ready refused");
    outcome_free(&outcome);
    char message[1024];
    while (!strstr(runner.last_status, "degraded"))
        ck_assert_msg(daemon_runner_next_message(&runner, message, sizeof(message), TIMEOUT_MS)
                          >= 0, "never degraded; STATUS=%s", runner.last_status);

    /* The status first, while the bridge is degraded. */
    struct json_object *status = ask("{\"version\": 1, \"command\": \"status\"}\n");
    /* The backend's owner announces it, and gone: the answers. */
    struct json_object *owners[2] = {
        ask_as_owner("{\"version\": 1, \"command\": \"ready\", \"backend\": \"ann\"}\n"),
        ask_as_owner("{\"version\": 1, \"command\": \"gone\", \"backend\": \"ann\"}\n"),
    };

    char *text = NULL;
    size_t size = 0;
    FILE *members = open_memstream(&text, &size);
    collect_members(status, members);
    json_object_put(status);
    const char *const requests[] = {
        "{\"version\": 1, \"command\": \"wait\", \"bridges\": [\"domu1/pcie0\"], \"timeout\": 0}\n",
        "{\"version\": 1, \"command\": \"wait\", \"bridges\": [\"domu1/nope\"]}\n",
        "{\"version\": 1, \"command\": \"reload\"}\n",
        "{\"version\": 1, \"command\": \"gone\", \"backend\": \"disk\"}\n",
        "{\"version\": 1, \"command\": \"nonsense\"}\n",
    };
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        struct json_object *answer = ask(requests[i]);
        collect_members(answer, members);
        json_object_put(answer);
    }
    for (size_t i = 0; i < 2; i++) {
        collect_members(owners[i], members);
        json_object_put(owners[i]);
    }
    /* A reload that fails, with the configuration's problems. */
    FILE *file = fopen(runner.config_path, "w");
    fputs("[bridge]\n", file);
    fclose(file);
    struct json_object *answer = ask("{\"version\": 1, \"command\": \"reload\"}\n");
    collect_members(answer, members);
    json_object_put(answer);
    fclose(members);

    char *section = json_output_section();
    char *undocumented = NULL;
    size_t undocumented_size = 0;
    FILE *missing = open_memstream(&undocumented, &undocumented_size);
    size_t count = 0;
    for (char *member = strtok(text, "\n"); member; member = strtok(NULL, "\n")) {
        count++;
        if (!documented(section, member))
            fprintf(missing, " %s", member);
    }
    fclose(missing);
    ck_assert_uint_gt(count, 20);
    ck_assert_msg(undocumented_size == 0, "not in xenreadyctl(1), JSON OUTPUT:%s", undocumented);
    free(undocumented);
    free(section);
    free(text);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *suite = suite_create("cli");
    const struct integration_case cases[] = {
        {"refused outsider", refused_outsider_is_told_why},
        {"refused for limits", clients_refused_for_limits_are_told_why},
        {"daemon stopped during wait", daemon_stopped_during_wait},
        {"daemon killed during wait", daemon_killed_during_wait},
        {"daemon killed before reading", daemon_killed_before_reading},
        {"one timeout status", one_timeout_status},
        {"--version", every_program_has_version},
        {"options anywhere", options_anywhere},
        {"stdout write errors", stdout_write_errors_fail},
        {"JSON members documented", every_json_member_is_documented},
    };
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), setup, teardown);
    return suite;
}

int main(void)
{
    return integration_main(cli_suite(),
                            geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0
                                ? "the tests run xenreadyctl as other uids: run as root, with "
                                  "setpriv (util-linux)"
                                : NULL);
}
