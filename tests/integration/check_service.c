// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xenreadyd as a systemd service, against the real xenstored: every sd_notify
 * message goes to a NOTIFY_SOCKET this test owns, so READY=1, STATUS=,
 * RELOADING=1, WATCHDOG=1 and EXTEND_TIMEOUT_USEC= are observed exactly as
 * systemd would receive them. The daemon is unprivileged DomD (domain 1).
 * Logging: standard error with "<N>" prefixes and the --log-level filter.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "harness.h"

enum { DOMD = 1, FRONTEND = 5, TIMEOUT_MS = 10000 };

#define NODE0 "/local/domain/5/xenready/pcie0"
#define NODE1 "/local/domain/5/xenready/pcie1"

static const char one_bridge[] =
    TEST_CONFIG_FRONTEND TEST_CONFIG_BACKEND_DM TEST_CONFIG_BACKEND_DISK
    "[bridge domu1/pcie0]\n"
    "device-tree-path = /pcie@10000000\n"
    "backends = dm\n";

/* one_bridge plus a second bridge that needs disk. */
static const char two_bridges_tail[] =
    "\n"
    "[bridge domu1/pcie1]\n"
    "device-tree-path = /pcie@20000000\n"
    "backends = disk\n";

/* A bridge that needs a backend nobody declared: an error at line 17. */
static const char broken_tail[] =
    "\n"
    "[bridge domu1/pcie1]\n"
    "device-tree-path = /pcie@20000000\n"
    "backends = nosuch\n";

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd, *frontend;

static void setup(void)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    domd = harness_open(harness, DOMD);
    frontend = harness_open(harness, FRONTEND);
    ck_assert_ptr_nonnull(domd);
    ck_assert_ptr_nonnull(frontend);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, one_bridge), 0);
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

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static bool has_line(const char *message, const char *line)
{
    size_t length = strlen(line);
    for (const char *p = message; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, line, length) == 0 && (p[length] == '\n' || p[length] == '\0'))
            return true;
    return false;
}

/* Next message that has a line starting with prefix; fails the test on timeout.
 * Returns the whole message in a static buffer. */
static const char *expect_message(const char *prefix)
{
    static char message[4096];
    long long deadline = now_ms() + TIMEOUT_MS;
    for (;;) {
        long long left = deadline - now_ms();
        int r = daemon_runner_next_message(&runner, message, sizeof(message),
                                           left > 0 ? (int)left : 0);
        ck_assert_msg(r == 0, "no sd_notify message starting with \"%s\"", prefix);
        for (const char *p = message; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
            if (strncmp(p, prefix, strlen(prefix)) == 0)
                return message;
    }
}

static void write_config(const char *text, const char *tail)
{
    FILE *file = fopen(runner.config_path, "w");
    ck_assert_ptr_nonnull(file);
    fputs(text, file);
    fputs(tail, file);
    fclose(file);
}

static void assert_node(const char *node, const char *state, const char *generation)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/state", node);
    char *value = xs_read_string(frontend, path);
    ck_assert_msg(value && strcmp(value, state) == 0, "%s is %s, not %s", path, value, state);
    free(value);
    snprintf(path, sizeof(path), "%s/generation", node);
    value = xs_read_string(frontend, path);
    ck_assert_msg(value && strcmp(value, generation) == 0, "%s is %s, not %s", path, value,
                  generation);
    free(value);
}

static void bring_dm_up(void)
{
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "1/1 bridges ready", TIMEOUT_MS), 0);
}

/* READY=1 comes after a STATUS= that already reflects the first scan, when
 * the node is published and the control socket answers. */
START_TEST(ready_only_after_the_first_scan)
{
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    ck_assert_int_eq(daemon_runner_spawn(&runner, NULL), 0);
    bool status_seen = false;
    for (;;) {
        const char *message = expect_message("");
        if (has_line(message, "STATUS=1/1 bridges ready"))
            status_seen = true;
        ck_assert_msg(!has_line(message, "STATUS=0/1 bridges ready; waiting: domu1/pcie0 (dm)"),
                      "a STATUS= from before the scan was sent");
        if (has_line(message, "READY=1"))
            break;
    }
    ck_assert_msg(status_seen, "READY=1 came before the scan's STATUS=");
    /* Created ready: the first generation with the parity of "ready". */
    assert_node(NODE0, "ready", "2");
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"status", NULL}), 0);
}
END_TEST

START_TEST(status_follows_each_change)
{
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ck_assert_str_eq(runner.last_status, "0/1 bridges ready; waiting: domu1/pcie0 (dm)");
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    ck_assert(has_line(expect_message("STATUS="), "STATUS=1/1 bridges ready"));
    ck_assert(xs_rm(domd, XBT_NULL, "device-model/5/state"));
    ck_assert(has_line(expect_message("STATUS="),
                       "STATUS=0/1 bridges ready; waiting: domu1/pcie0 (dm)"));
    /* STOPPING=1 on SIGTERM, and a clean exit. */
    kill(runner.pid, SIGTERM);
    expect_message("STOPPING=1");
    ck_assert_int_eq(daemon_runner_stop(&runner, 0), 0);   /* only reaps it */
}
END_TEST

START_TEST(reload_applies_a_new_configuration)
{
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    bring_dm_up();
    assert_node(NODE0, "ready", "2");

    write_config(one_bridge, two_bridges_tail);
    kill(runner.pid, SIGHUP);
    expect_message("RELOADING=1");
    const char *message = expect_message("READY=1");
    ck_assert_msg(strcmp(runner.last_status, "1/2 bridges ready; waiting: domu1/pcie1 (disk)") == 0,
                  "STATUS after reload: %s (last message %s)", runner.last_status, message);
    /* Unchanged bridge: adopted, not republished. New bridge: published. */
    assert_node(NODE0, "ready", "2");
    assert_node(NODE1, "waiting", "1");
    /* The new model's watches work... */
    ck_assert_int_eq(xs_write_string(domd, "backend/virtio_disk/5/0/state", "4"), 0);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "2/2 bridges ready", TIMEOUT_MS), 0);
    assert_node(NODE1, "ready", "2");
    /* ... and the old ones are gone: one change, one transition. */
    ck_assert(xs_rm(domd, XBT_NULL, "device-model/5/state"));
    ck_assert_int_eq(
        daemon_runner_wait_status(&runner, "1/2 bridges ready; waiting: domu1/pcie0 (dm)",
                                  TIMEOUT_MS), 0);
    assert_node(NODE0, "waiting", "3");
}
END_TEST

START_TEST(broken_reload_keeps_the_running_configuration)
{
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    bring_dm_up();
    write_config(one_bridge, broken_tail);
    kill(runner.pid, SIGHUP);
    expect_message("RELOADING=1");
    expect_message("READY=1");
    ck_assert_str_eq(runner.last_status,
                     "reload failed, kept the running configuration; 1/1 bridges ready");
    assert_node(NODE0, "ready", "2");
    ck_assert_ptr_null(xs_read_string(frontend, NODE1 "/state"));

    /* The same through xenreadyctl reload: exit status 1. */
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"reload", NULL}), 1);
    assert_node(NODE0, "ready", "2");

    /* Still observing with the old configuration and watches. */
    ck_assert(xs_rm(domd, XBT_NULL, "device-model/5/state"));
    ck_assert_int_eq(daemon_runner_wait_status(
                         &runner, "0/1 bridges ready; waiting: domu1/pcie0 (dm)", TIMEOUT_MS),
                     0);
    assert_node(NODE0, "waiting", "3");
}
END_TEST

START_TEST(watchdog_at_half_the_interval)
{
    /* 200 ms: WATCHDOG=1 about every 100 ms. */
    setenv("WATCHDOG_USEC", "200000", 1);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    unsetenv("WATCHDOG_USEC");
    int count = 0;
    long long end = now_ms() + 1000;
    char message[4096];
    for (long long left; (left = end - now_ms()) > 0;)
        if (daemon_runner_next_message(&runner, message, sizeof(message), (int)left) == 0
            && has_line(message, "WATCHDOG=1"))
            count++;
    /* Nominally 10; loose bounds, the machine may be busy. */
    ck_assert_msg(count >= 4 && count <= 20, "%d WATCHDOG=1 in one second", count);
}
END_TEST

START_TEST(no_watchdog_unless_asked)
{
    unsetenv("WATCHDOG_USEC");
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    char message[4096];
    ck_assert_int_eq(daemon_runner_next_message(&runner, message, sizeof(message), 300),
                     -ETIMEDOUT);
}
END_TEST

/* Until READY=1 (it must come), no message may say EXTEND_TIMEOUT_USEC=
 * other than allowed (NULL: none); returns the message with READY=1. */
static const char *expect_ready_extending_only(const char *allowed)
{
    for (;;) {
        const char *message = expect_message("");
        for (const char *p = message; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
            if (strncmp(p, "EXTEND_TIMEOUT_USEC=", 20) == 0)
                ck_assert_msg(allowed && has_line(p, allowed), "unexpected extension: %s", p);
        if (has_line(message, "READY=1"))
            return message;
    }
}

/* --ready-when=all: READY=1 waits for every bridge to be ready or degraded,
 * and the start timeout is extended once, to the longest bridge timeout and
 * a margin of 5 s, never further. The degraded bridge ends the wait after
 * its timeout (1 s here), though it still waits. */
START_TEST(wait_for_all_ends_at_the_bridge_timeouts)
{
    write_config(one_bridge, "timeout = 1\n");
    ck_assert_int_eq(daemon_runner_spawn(&runner, (const char *[]){"--ready-when=all", NULL}), 0);
    const char *message = expect_message("EXTEND_TIMEOUT_USEC=");
    ck_assert_msg(!has_line(message, "READY=1"), "READY=1 before all bridges are ready");
    ck_assert_msg(has_line(message, "EXTEND_TIMEOUT_USEC=6000000"), "got %s", message);
    expect_ready_extending_only(NULL);
    ck_assert_str_eq(runner.last_status,
                     "0/1 bridges ready; waiting: domu1/pcie0 (dm); degraded: domu1/pcie0");
}
END_TEST

/* Without a bridge timeout nothing extends the start timeout: the unit's own
 * TimeoutStartSec= bounds the wait; READY=1 once every bridge is ready. */
START_TEST(wait_for_all_without_timeouts_extends_nothing)
{
    ck_assert_int_eq(daemon_runner_spawn(&runner, (const char *[]){"--ready-when=all", NULL}), 0);
    const char *message = expect_message("STATUS=");
    ck_assert_msg(!has_line(message, "READY=1"), "READY=1 before all bridges are ready");
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    expect_ready_extending_only(NULL);
    ck_assert_str_eq(runner.last_status, "1/1 bridges ready");
}
END_TEST

/* Standard error of the daemon goes to a file in the harness directory. */
static void redirect_stderr(void *data)
{
    int fd = open(data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0)
        dup2(fd, STDERR_FILENO);
}

static char *run_and_collect_stderr(const char *const *args)
{
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, "%s/stderr", harness_directory(harness)), 0);
    runner.child_setup = redirect_stderr;
    runner.child_data = path;
    ck_assert_int_eq(daemon_runner_start(&runner, args), 0);
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    FILE *file = fopen(path, "r");
    ck_assert_ptr_nonnull(file);
    char *text = NULL;
    size_t size = 0;
    ck_assert_int_ge(getdelim(&text, &size, '\0', file), 0);
    fclose(file);
    free(path);
    return text;
}

START_TEST(stderr_lines_carry_priority_prefixes)
{
    char *text = run_and_collect_stderr(NULL);
    ck_assert_msg(strstr(text, "<6>connected to xenstore as domain 1\n"), "stderr:\n%s", text);
    ck_assert_msg(strstr(text, "<5>started: 1 frontend(s), 1 bridge(s), 2 backend(s)"),
                  "stderr:\n%s", text);
    ck_assert_msg(strstr(text, "<6>received signal 15, stopping\n"), "stderr:\n%s", text);
    ck_assert_msg(!strstr(text, "<7>"), "debug messages at the default level:\n%s", text);
    for (const char *line = text; *line; line = strchr(line, '\n') + 1)
        ck_assert_msg(line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>',
                      "line without a prefix: %s", line);
    free(text);
}
END_TEST

START_TEST(log_level_filters)
{
    char *text = run_and_collect_stderr((const char *[]){"--log-level=notice", NULL});
    ck_assert_msg(strstr(text, "<5>started:"), "stderr:\n%s", text);
    ck_assert_msg(!strstr(text, "<6>") && !strstr(text, "<7>"), "stderr:\n%s", text);
    free(text);
    text = run_and_collect_stderr((const char *[]){"-v", NULL});
    ck_assert_msg(strstr(text, "<7>watching "), "no debug message with -v:\n%s", text);
    free(text);
}
END_TEST

/* ---- first boot, and one daemon per runtime directory ---- */

/* In the daemon's child: xenstored's socket is data, which does not exist
 * yet, as before xenstored has started. */
static void xenstored_later(void *data)
{
    setenv("XENSTORED_PATH", data, 1);
}

/* Waits for a STATUS= beginning with prefix. */
static void wait_status_prefix(const char *prefix)
{
    char message[4096];
    while (strncmp(runner.last_status, prefix, strlen(prefix)) != 0)
        ck_assert_msg(daemon_runner_next_message(&runner, message, sizeof(message), TIMEOUT_MS)
                          == 0, "no STATUS=%s...; last: %s", prefix, runner.last_status);
}

/* Issue 16: started before xenstored (first boot, the unit ordered wrong),
 * the daemon waits, says so in STATUS= and sends no READY=1; once the
 * socket appears (an inotify event, not the backoff) it connects, scans
 * and is ready. */
START_TEST(waits_for_xenstored_at_start)
{
    char later[512], socket[600];
    snprintf(later, sizeof(later), "%s/later", harness_directory(harness));
    snprintf(socket, sizeof(socket), "%s/socket", later);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    runner.child_setup = xenstored_later;
    runner.child_data = socket;
    ck_assert_int_eq(daemon_runner_spawn(&runner, (const char *[]){"-v", NULL}), 0);
    wait_status_prefix("waiting for xenstored: cannot connect yet (No such file or directory)");
    /* Some retries go by: the backoff grows past what the test waits. */
    wait_status_prefix("waiting for xenstored: cannot connect yet (No such file or directory); "
                       "again when");
    char *log = daemon_runner_log_text(&runner);
    ck_assert_msg(!strstr(log, "started:"), "started without xenstore:\n%s", log);
    free(log);
    char *real = harness_socket_path(harness, DOMD);
    ck_assert_int_eq(mkdir(later, 0755), 0);
    ck_assert_int_eq(symlink(real, socket), 0);
    free(real);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, NULL, TIMEOUT_MS), 0);
    ck_assert_str_eq(runner.last_status, "0/1 bridges ready; waiting: domu1/pcie0 (dm)");
    ck_assert_int_eq(xs_wait_settled(frontend, NODE0, "waiting", TIMEOUT_MS), 0);
    log = daemon_runner_log_text(&runner);
    ck_assert_msg(strstr(log, "<5>waiting for xenstored: cannot connect yet"), "log:\n%s", log);
    char appeared[700];
    snprintf(appeared, sizeof(appeared), "something changed at %s: connecting", socket);
    ck_assert_msg(strstr(log, appeared), "not woken by the socket:\n%s", log);
    free(log);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    ck_assert_int_eq(xs_wait_settled(frontend, NODE0, "ready", TIMEOUT_MS), 0);
}
END_TEST

/* A stop while waiting for xenstored is a clean stop. */
START_TEST(stops_cleanly_while_waiting)
{
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/never/socket", harness_directory(harness));
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    runner.child_setup = xenstored_later;
    runner.child_data = missing;
    ck_assert_int_eq(daemon_runner_spawn(&runner, NULL), 0);
    wait_status_prefix("waiting for xenstored:");
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    char *errors = NULL;
    ck_assert_int_eq(daemon_runner_log_errors(&runner, &errors), 0);
    free(errors);
}
END_TEST

/* Issue 16: a second daemon on the same runtime directory refuses to
 * start, saying who runs, and leaves the first one's socket alone. */
START_TEST(second_instance_refuses)
{
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    char *output = NULL;
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, "%s/second.log", harness_directory(harness)), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        char *socket_path = harness_socket_path(harness, DOMD);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || !socket_path)
            _exit(126);
        setenv("XENSTORED_PATH", socket_path, 1);
        unsetenv("NOTIFY_SOCKET");
        execl(daemon_runner_program(), "xenreadyd", "--config", runner.config_path,
              "--control-socket", runner.control_path, (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "second daemon: status %#x",
                  status);
    FILE *file = fopen(path, "r");
    ck_assert_ptr_nonnull(file);
    size_t size = 0;
    ck_assert_int_ge(getdelim(&output, &size, '\0', file), 0);
    fclose(file);
    char expected[128];
    snprintf(expected, sizeof(expected), "another xenreadyd (pid %d) runs with ", (int)runner.pid);
    ck_assert_msg(strstr(output, expected), "second daemon said:\n%s", output);
    free(output);
    free(path);
    /* The first goes on, on its socket. */
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"status", NULL}), 0);
}
END_TEST

static Suite *service_suite(void)
{
    Suite *suite = suite_create("service");
    const struct integration_case cases[] = {
        {"ready after scan", ready_only_after_the_first_scan},
        {"status", status_follows_each_change},
        {"reload", reload_applies_a_new_configuration},
        {"broken reload", broken_reload_keeps_the_running_configuration},
        {"watchdog", watchdog_at_half_the_interval},
        {"no watchdog", no_watchdog_unless_asked},
        {"wait for all, bridge timeouts", wait_for_all_ends_at_the_bridge_timeouts},
        {"wait for all, no timeouts", wait_for_all_without_timeouts_extends_nothing},
        {"stderr prefixes", stderr_lines_carry_priority_prefixes},
        {"log level", log_level_filters},
        {"waits for xenstored", waits_for_xenstored_at_start},
        {"stop while waiting", stops_cleanly_while_waiting},
        {"second instance", second_instance_refuses},
    };
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), setup, teardown);
    return suite;
}

int main(void)
{
    return integration_main(service_suite(), NULL);
}
