// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xenready-wait as the unprivileged frontend (domain 5) against the real
 * xenstored, with xenreadyd as DomD and the fake event channel preloaded into
 * both. Its --verbose lines on stderr say what it has read, so a test knows
 * it is waiting before it changes anything.
 */
#include <signal.h>
#include <sys/stat.h>

#include "guest-runner.h"
#include "signal-fixture.h"

static struct guest guest;
static char action_file[512];

static void start_waiter(const char *const *options)
{
    const char *argv[16] = {XENREADY_WAIT_PATH, "--verbose", "--timeout", "20"};
    size_t argc = 4;
    for (size_t i = 0; options[i]; i++)
        argv[argc++] = options[i];
    argv[argc] = NULL;
    ck_assert_int_eq(guest_start(&guest, harness, FRONTEND, evtchn_dir, argv), 0);
}

static char *exec_action(void)
{
    snprintf(action_file, sizeof(action_file), "%s/action-ran", harness_directory(harness));
    char *command = NULL;
    ck_assert_int_ge(asprintf(&command, "echo ran >> %s", action_file), 0);
    return command;
}

static void assert_action_ran_once(void)
{
    FILE *file = fopen(action_file, "r");
    ck_assert_msg(file != NULL, "the action did not run");
    char text[64] = "";
    size_t length = fread(text, 1, sizeof(text) - 1, file);
    fclose(file);
    text[length] = '\0';
    ck_assert_str_eq(text, "ran\n");
}

static void assert_action_not_run(void)
{
    ck_assert_int_ne(access(action_file, F_OK), 0);
}

static void wait_exit(int expected)
{
    int status = guest_wait_exit(&guest, TIMEOUT_MS);
    ck_assert_msg(status == expected, "exit %d, expected %d; stderr:\n%s", status, expected,
                  guest.err_text);
}

static void bring_ready(void)
{
    scene_backend("a", "up");
    scene_backend("b", "up");
}

static void finish_waiter(void)
{
    guest_finish(&guest);
}

START_TEST(exits_0_when_ready_and_runs_the_action_once)
{
    scene_start_daemon(SCENE_CONFIG(""));
    char *command = exec_action();
    start_waiter((const char *[]){"--exec", command, "pcie0", NULL});
    ck_assert_int_eq(guest_wait_stderr(&guest, "pcie0: state waiting", TIMEOUT_MS), 0);
    scene_backend("a", "up");
    scene_wait_status(STATUS_WAITING_B);
    ck_assert(guest_running(&guest));
    scene_backend("b", "up");
    wait_exit(0);
    assert_action_ran_once();
    free(command);
}
END_TEST

START_TEST(already_ready)
{
    bring_ready();
    scene_start_daemon(SCENE_CONFIG(""));
    char *command = exec_action();
    start_waiter((const char *[]){"--exec", command, "pcie0", NULL});
    wait_exit(0);
    assert_action_ran_once();
    free(command);
}
END_TEST

START_TEST(timeout_is_reported)
{
    scene_start_daemon(SCENE_CONFIG(""));
    char *command = exec_action();
    const char *argv[] = {XENREADY_WAIT_PATH, "--timeout", "1", "--exec", command, "pcie0", NULL};
    ck_assert_int_eq(guest_start(&guest, harness, FRONTEND, evtchn_dir, argv), 0);
    wait_exit(124);
    ck_assert_msg(strstr(guest.err_text, "xenready-wait: timed out after 1 s; not ready: "
                                         "pcie0 (waiting)"), "stderr:\n%s", guest.err_text);
    assert_action_not_run();
    free(command);
}
END_TEST

START_TEST(missing_node_times_out_as_not_ready)
{
    scene_start_daemon(SCENE_CONFIG(""));
    const char *argv[] = {XENREADY_WAIT_PATH, "--timeout", "1", "nosuchbridge", NULL};
    ck_assert_int_eq(guest_start(&guest, harness, FRONTEND, evtchn_dir, argv), 0);
    wait_exit(124);
    ck_assert_ptr_nonnull(strstr(guest.err_text, "nosuchbridge (no node)"));
}
END_TEST

START_TEST(usage_errors)
{
    const char *argv[] = {XENREADY_WAIT_PATH, "bad/id", NULL};
    ck_assert_int_eq(guest_start(&guest, harness, FRONTEND, NULL, argv), 0);
    wait_exit(2);
    ck_assert_ptr_nonnull(strstr(guest.err_text, "bad bridge id \"bad/id\""));
}
END_TEST

START_TEST(post_bind_event_is_not_readiness)
{
    scene_start_daemon(SCENE_CONFIG("signal = evtchn\n"));
    char *command = exec_action();
    start_waiter((const char *[]){"--evtchn", "--exec", command, "pcie0", NULL});
    /* Xen raises an event right after the bind: the waiter reads state
     * instead of believing it. */
    ck_assert_int_eq(guest_wait_stderr(&guest, "pcie0: event on port 1; state waiting",
                                       TIMEOUT_MS), 0);
    ck_assert(guest_running(&guest));
    assert_action_not_run();
    bring_ready();
    wait_exit(0);
    assert_action_ran_once();
    ck_assert_ptr_nonnull(strstr(guest.err_text, "state ready"));
    free(command);
}
END_TEST

START_TEST(rebinds_after_daemon_restart)
{
    scene_start_daemon(SCENE_CONFIG("signal = evtchn\n"));
    start_waiter((const char *[]){"--evtchn", "pcie0", NULL});
    ck_assert_int_eq(guest_wait_stderr(&guest, "pcie0: event on port", TIMEOUT_MS), 0);
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    /* The new port's key is written: the waiter binds again, and only the
     * new channel can wake it (it does not watch state with --evtchn). */
    ck_assert_int_eq(guest_wait_stderr_count(&guest, "pcie0: bound local port", 2, TIMEOUT_MS),
                     0);
    bring_ready();
    wait_exit(0);
}
END_TEST

START_TEST(static_channel)
{
    ck_assert_int_eq(fake_evtchn_provision_static(evtchn_dir, DOMD, 7, FRONTEND, 9), 0);
    ck_assert_int_eq(fake_evtchn_provision_static(evtchn_dir, FRONTEND, 9, DOMD, 7), 0);
    scene_start_daemon(SCENE_CONFIG("signal = static-evtchn\nstatic-evtchn-port = 7\n"));
    char *command = exec_action();
    /* No bridge name: no xenstore at all, as in a dom0less system without it. */
    start_waiter((const char *[]){"--static-evtchn", "9", "--exec", command, NULL});
    ck_assert_int_eq(guest_wait_stderr(&guest, "static event channel 9 bound", TIMEOUT_MS), 0);
    scene_backend("a", "up");
    scene_wait_status(STATUS_WAITING_B);
    ck_assert(guest_running(&guest));
    scene_backend("b", "up");
    wait_exit(0);
    assert_action_ran_once();
    free(command);
}
END_TEST

START_TEST(static_channel_signalled_before_the_waiter_started)
{
    ck_assert_int_eq(fake_evtchn_provision_static(evtchn_dir, DOMD, 7, FRONTEND, 9), 0);
    ck_assert_int_eq(fake_evtchn_provision_static(evtchn_dir, FRONTEND, 9, DOMD, 7), 0);
    bring_ready();
    scene_start_daemon(SCENE_CONFIG("signal = static-evtchn\nstatic-evtchn-port = 7\n"));
    start_waiter((const char *[]){"--static-evtchn", "9", NULL});
    wait_exit(0);
}
END_TEST

START_TEST(pci_rescan)
{
    char sysfs[512], rescan[600];
    snprintf(sysfs, sizeof(sysfs), "%s/sys", harness_directory(harness));
    snprintf(rescan, sizeof(rescan), "%s/bus/pci/rescan", sysfs);
    char *command = NULL;
    ck_assert_int_ge(asprintf(&command, "mkdir -p %s/bus/pci && : > %s", sysfs, rescan), 0);
    ck_assert_int_eq(system(command), 0);
    free(command);
    setenv("SYSFS_PATH", sysfs, 1);
    bring_ready();
    scene_start_daemon(SCENE_CONFIG(""));
    start_waiter((const char *[]){"--pci-rescan", "pcie0", NULL});
    wait_exit(0);
    FILE *file = fopen(rescan, "r");
    char text[8] = "";
    ck_assert_ptr_nonnull(fgets(text, sizeof(text), file));
    fclose(file);
    ck_assert_str_eq(text, "1");
}
END_TEST

int main(void)
{
    const struct integration_case cases[] = {
        {"exits_0_when_ready_and_runs_the_action_once", exits_0_when_ready_and_runs_the_action_once},
        {"already_ready", already_ready},
        {"timeout_is_reported", timeout_is_reported},
        {"missing_node_times_out_as_not_ready", missing_node_times_out_as_not_ready},
        {"usage_errors", usage_errors},
        {"post_bind_event_is_not_readiness", post_bind_event_is_not_readiness},
        {"rebinds_after_daemon_restart", rebinds_after_daemon_restart},
        {"static_channel", static_channel},
        {"static_channel_signalled_before_the_waiter_started",
         static_channel_signalled_before_the_waiter_started},
        {"pci_rescan", pci_rescan},
    };
    scene_on_teardown = finish_waiter;
    Suite *suite = scene_suite("xenready_wait", cases, sizeof(cases) / sizeof(cases[0]));
    return scene_run(suite);
}
