// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The event-channel signallers against the real xenstored, with xenreadyd as
 * unprivileged DomD and the fake event channel (tests/fake-evtchn, preloaded
 * into the daemon) standing in for the hypervisor. The fake's log tells what
 * the daemon did at the event-channel boundary; STATUS= messages tell when
 * the daemon has handled a backend change, so counts are read after the fact
 * without sleeping.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#include "signal-fixture.h"

static const char evtchn_config[] = SCENE_CONFIG("signal = evtchn\n");

static size_t notifications(void)
{
    return fake_evtchn_count(evtchn_dir, "1 notify ");
}

/* The port the frontend reads from the bridge's node. */
static unsigned int published_port(struct xs_handle *handle)
{
    char *value = xs_read_string(handle, PORT_KEY);
    ck_assert_msg(value != NULL, "%s is not readable", PORT_KEY);
    char *end;
    unsigned long port = strtoul(value, &end, 10);
    ck_assert_msg(value[0] && !*end && port > 0, "%s = \"%s\"", PORT_KEY, value);
    free(value);
    return (unsigned int)port;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits (watch, bounded) until handle can read path. */
static void wait_readable(struct xs_handle *handle, const char *path)
{
    ck_assert(xs_watch(handle, path, "readable"));
    long long deadline = now_ms() + TIMEOUT_MS;
    for (;;) {
        char *value = xs_read_string(handle, path);
        free(value);
        if (value)
            break;
        struct pollfd pollfd = {.fd = xs_fileno(handle), .events = POLLIN};
        long long left = deadline - now_ms();
        ck_assert_msg(left > 0 && poll(&pollfd, 1, (int)left) > 0, "%s never appeared", path);
        char **event;
        while ((event = xs_check_watch(handle)))
            free(event);
    }
    xs_unwatch(handle, path, "readable");
    char **event;
    while ((event = xs_check_watch(handle)))
        free(event);
}

START_TEST(port_published_before_first_notification)
{
    scene_start_daemon(evtchn_config);
    /* READY=1 comes after the first publication. */
    unsigned int port = published_port(frontend);
    ck_assert_uint_eq(notifications(), 0);
    ck_assert_uint_eq(fake_evtchn_ports(evtchn_dir, DOMD), 1);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "1 bind-unbound %u 5", port);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, prefix), 1);
}
END_TEST

START_TEST(one_notification_per_transition)
{
    scene_start_daemon(evtchn_config);
    /* The port key is written once: each write would make guests re-bind. */
    ck_assert(xs_watch(frontend, PORT_KEY, "port"));
    unsigned int count;
    free(xs_read_watch(frontend, &count));      /* the registration event */
    scene_backend("a", "up");
    scene_wait_status(STATUS_WAITING_B);
    ck_assert_uint_eq(notifications(), 0);      /* no transition, no event */

    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    ck_assert_uint_eq(notifications(), 1);

    scene_backend("b", "gone");
    scene_wait_status(STATUS_WAITING_B);
    ck_assert_uint_eq(notifications(), 2);      /* the withdrawal too */

    scene_backend("a", "gone");
    scene_wait_status(STATUS_WAITING_AB);
    ck_assert_uint_eq(notifications(), 2);

    scene_backend("a", "up");
    scene_wait_status(STATUS_WAITING_B);
    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    ck_assert_uint_eq(notifications(), 3);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "1 notify %u ", published_port(frontend));
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, prefix), 3);
    struct pollfd pollfd = {.fd = xs_fileno(frontend), .events = POLLIN};
    ck_assert_int_eq(poll(&pollfd, 1, 0), 0);
}
END_TEST

START_TEST(republished_after_daemon_restart)
{
    scene_start_daemon(evtchn_config);
    unsigned int first = published_port(frontend);
    ck_assert(xs_watch(frontend, PORT_KEY, "port"));
    char **event;
    unsigned int count;
    free(xs_read_watch(frontend, &count));      /* the registration event */

    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    /* Closing the handle unbound the port: nothing leaks across restarts. */
    ck_assert_uint_eq(fake_evtchn_ports(evtchn_dir, DOMD), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);

    /* The key was written again, even if Xen handed out the same number:
     * that write is what makes a guest re-bind. */
    struct pollfd pollfd = {.fd = xs_fileno(frontend), .events = POLLIN};
    ck_assert_int_eq(poll(&pollfd, 1, TIMEOUT_MS), 1);
    event = xs_check_watch(frontend);
    ck_assert_ptr_nonnull(event);
    ck_assert_str_eq(event[XS_WATCH_PATH], PORT_KEY);
    free(event);
    unsigned int second = published_port(frontend);
    ck_assert_uint_eq(fake_evtchn_ports(evtchn_dir, DOMD), 1);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "1 bind-unbound %u 5", second);
    ck_assert_uint_ge(fake_evtchn_count(evtchn_dir, prefix), 1);
    snprintf(prefix, sizeof(prefix), "1 unbind %u", first);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, prefix), 1);
}
END_TEST

START_TEST(recreated_after_release_and_introduce)
{
    scene_start_daemon(evtchn_config);
    scene_backend("a", "up");
    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    unsigned int port = published_port(frontend);

    scene_release_frontend();
    ck_assert_int_eq(fake_evtchn_wait_port(evtchn_dir, DOMD, port, 1, TIMEOUT_MS), 0);
    ck_assert_uint_eq(fake_evtchn_ports(evtchn_dir, DOMD), 0);

    scene_introduce_frontend();
    wait_readable(dom0, PORT_KEY);
    /* The new domain finds a complete node and a channel bound for it. */
    xs_close(frontend);
    frontend = harness_open(harness, FRONTEND);
    ck_assert_ptr_nonnull(frontend);
    char *state = xs_read_string(frontend, NODE "/state");
    ck_assert_str_eq(state, "ready");
    free(state);
    port = published_port(frontend);
    ck_assert_uint_eq(fake_evtchn_ports(evtchn_dir, DOMD), 1);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "1 bind-unbound %u 5", port);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, prefix), 2);

    /* And it is notified on the new channel. */
    size_t before = notifications();
    scene_backend("a", "gone");
    scene_wait_status("0/1 bridges ready; waiting: domu1/pcie0 (a)");
    ck_assert_uint_eq(notifications(), before + 1);
}
END_TEST

/* The node removed while the daemon runs comes back with the port key: the
 * same port (still bound for the frontend, no new binding), written again so
 * that a guest that saw the key go binds again. */
START_TEST(port_key_back_with_a_removed_node)
{
    scene_start_daemon(evtchn_config);
    scene_backend("a", "up");
    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    unsigned int port = published_port(frontend);
    size_t before = notifications();

    ck_assert(xs_rm(dom0, XBT_NULL, NODE));
    wait_readable(frontend, PORT_KEY);
    ck_assert_int_eq(xs_wait_settled(frontend, NODE, "ready", TIMEOUT_MS), 0);
    ck_assert_uint_eq(published_port(frontend), port);
    ck_assert_uint_eq(fake_evtchn_ports(evtchn_dir, DOMD), 1);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 bind-unbound "), 1);
    /* Nothing changed in the backends: nothing to notify. */
    ck_assert_uint_eq(notifications(), before);

    /* Only the key removed: written again too. */
    ck_assert(xs_rm(dom0, XBT_NULL, PORT_KEY));
    wait_readable(frontend, PORT_KEY);
    ck_assert_uint_eq(published_port(frontend), port);
}
END_TEST

/* A frontend restart with the fewest requests a toolstack can make (the
 * home away, XS_RELEASE; the xenready directory, XS_INTRODUCE), to keep
 * 1,000 rounds fast; a watch on the port key stays armed throughout. */
static unsigned int frontend_restart_quick(unsigned int port)
{
    ck_assert(xs_rm(dom0, XBT_NULL, "/local/domain/5"));
    ck_assert(xs_release_domain(dom0, FRONTEND));
    ck_assert_int_eq(fake_evtchn_wait_port(evtchn_dir, DOMD, port, 1, TIMEOUT_MS), 0);
    struct xs_permissions permissions[2] = {{.id = DOMD, .perms = XS_PERM_NONE},
                                            {.id = FRONTEND, .perms = XS_PERM_READ}};
    ck_assert(xs_mkdir(dom0, XBT_NULL, "/local/domain/5/xenready"));
    ck_assert(xs_set_permissions(dom0, XBT_NULL, "/local/domain/5/xenready", permissions, 2));
    ck_assert(xs_introduce_domain(dom0, FRONTEND, 0, 1));
    for (;;) {
        char *value = xs_read_string(dom0, PORT_KEY);
        if (value) {
            port = (unsigned int)strtoul(value, NULL, 10);
            free(value);
            return port;
        }
        struct pollfd pollfd = {.fd = xs_fileno(dom0), .events = POLLIN};
        ck_assert_msg(poll(&pollfd, 1, TIMEOUT_MS) > 0, "%s never appeared", PORT_KEY);
        char **event;
        while ((event = xs_check_watch(dom0)))
            free(event);
    }
}

START_TEST(no_leak_after_1000_frontend_restarts)
{
    scene_start_daemon(evtchn_config);
    unsigned int port = published_port(frontend);
    xs_close(frontend);
    frontend = NULL;
    ck_assert(xs_watch(dom0, PORT_KEY, "port"));
    for (int i = 0; i < 1000; i++)
        port = frontend_restart_quick(port);
    ck_assert_uint_eq(fake_evtchn_ports(evtchn_dir, DOMD), 1);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 bind-unbound "), 1001);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 unbind "), 1000);
}
END_TEST

static const char static_config[] =
    SCENE_CONFIG("signal = static-evtchn\nstatic-evtchn-port = 7\n");

START_TEST(static_channel_notified_when_ready_only)
{
    /* The host device tree: DomD's port 7 <-> the frontend's port 9. */
    ck_assert_int_eq(fake_evtchn_provision_static(evtchn_dir, DOMD, 7, FRONTEND, 9), 0);
    ck_assert_int_eq(fake_evtchn_provision_static(evtchn_dir, FRONTEND, 9, DOMD, 7), 0);
    scene_start_daemon(static_config);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 bind-static 7 5:9"), 1);
    ck_assert_uint_eq(notifications(), 0);

    scene_backend("a", "up");
    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    /* The frontend has not bound yet: the event waits for it. */
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 notify 7 pending"), 1);

    /* A withdrawal cannot be said on a static channel: nothing is sent. */
    scene_backend("b", "gone");
    scene_wait_status(STATUS_WAITING_B);
    ck_assert_uint_eq(notifications(), 1);

    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    ck_assert_uint_eq(notifications(), 2);
}
END_TEST

START_TEST(static_channel_ready_at_start_is_sent)
{
    ck_assert_int_eq(fake_evtchn_provision_static(evtchn_dir, DOMD, 7, FRONTEND, 9), 0);
    scene_backend("a", "up");
    scene_backend("b", "up");
    scene_start_daemon(static_config);
    /* A frontend waiting since before the daemon started learns it now. */
    ck_assert_uint_eq(notifications(), 1);
}
END_TEST

START_TEST(methods_combined)
{
    ck_assert_int_eq(fake_evtchn_provision_static(evtchn_dir, DOMD, 7, FRONTEND, 9), 0);
    scene_start_daemon(SCENE_CONFIG("signal = xenstore evtchn static-evtchn\n"
                                    "static-evtchn-port = 7\n"));
    unsigned int port = published_port(frontend);
    scene_backend("a", "up");
    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "1 notify %u ", port);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, prefix), 1);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 notify 7 "), 1);
    char *state = xs_read_string(frontend, NODE "/state");
    ck_assert_str_eq(state, "ready");
    free(state);
}
END_TEST

/* In the daemon's child: XENSTORED_PATH names a socket that does not exist,
 * so any attempt to reach xenstore fails, as on a system without it. */
static void without_xenstore(void *data)
{
    setenv("XENSTORED_PATH", data, 1);
}

/* Nothing here goes through xenstore: an announced backend, a static channel. */
static const char xenstore_free_config[] =
    "[frontend domu1]\ndomid = 5\n"
    "[backend gpu]\nprobe = announce\nowner = uid:0\n"
    "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = gpu\n"
    "signal = static-evtchn\nstatic-evtchn-port = 7\n";

/* A dom0less DomD without xenstore: a configuration that uses none runs
 * without a connection, and its static channel is notified when the bridge
 * is complete. A reload to one that needs xenstore fails and keeps the
 * running configuration, which goes on working. */
START_TEST(runs_without_xenstore_when_nothing_uses_it)
{
    ck_assert_int_eq(fake_evtchn_provision_static(evtchn_dir, DOMD, 7, FRONTEND, 9), 0);
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/no-xenstored", harness_directory(harness));
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, xenstore_free_config), 0);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(fake_evtchn_use(evtchn_dir, DOMD), 0);
    runner.child_setup = without_xenstore;
    runner.child_data = missing;
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 bind-static 7 5:9"), 1);
    ck_assert_uint_eq(notifications(), 0);

    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "gpu", NULL}), 0);
    scene_wait_status(STATUS_READY);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 notify 7 "), 1);
    char *node = xs_read_string(frontend, NODE "/state");
    ck_assert_msg(!node, "a xenstore node was written: state = %s", node);
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output, (const char *[]){"status", NULL}), 0);
    ck_assert_msg(strstr(output, "domu1/pcie0  ready"), "status:\n%s", output);
    free(output);

    ck_assert_int_ne(daemon_runner_reload(&runner, SCENE_CONFIG("")), 0);
    char *errors = NULL;
    ck_assert_int_ge(daemon_runner_log_errors(&runner, &errors), 1);
    ck_assert_msg(strstr(errors, "reload failed: the new configuration uses xenstore, which "
                                 "cannot be reached"), "errors logged:\n%s", errors);
    free(errors);
    scene_wait_status("reload failed, kept the running configuration; " STATUS_READY);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"gone", "gpu", NULL}), 0);
    scene_wait_status("0/1 bridges ready; waiting: domu1/pcie0 (gpu)");
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "gpu", NULL}), 0);
    scene_wait_status(STATUS_READY);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 notify 7 "), 2);
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
}
END_TEST

/* How many lines of the daemon's captured log contain text. */
static size_t log_count(const char *text)
{
    FILE *file = fopen(runner.log_path, "re");
    ck_assert_ptr_nonnull(file);
    size_t count = 0, size = 0;
    char *line = NULL;
    while (getline(&line, &size, file) > 0)
        count += strstr(line, text) != NULL;
    free(line);
    fclose(file);
    return count;
}

/* Reloads between a configuration that uses xenstore and one that does not
 * close the connection and open it again; each works in turn. */
START_TEST(reloads_drop_and_take_xenstore)
{
    ck_assert_int_eq(fake_evtchn_provision_static(evtchn_dir, DOMD, 7, FRONTEND, 9), 0);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, static_config), 0);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(fake_evtchn_use(evtchn_dir, DOMD), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    scene_backend("a", "up");
    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 notify 7 "), 1);

    ck_assert_int_eq(daemon_runner_reload(&runner, xenstore_free_config), 0);
    scene_wait_status("0/1 bridges ready; waiting: domu1/pcie0 (gpu)");
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "gpu", NULL}), 0);
    scene_wait_status(STATUS_READY);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 notify 7 "), 2);

    /* Back to xenstore backends: the new connection's first scan finds b gone. */
    scene_backend("b", "gone");
    ck_assert_int_eq(daemon_runner_reload(&runner, static_config), 0);
    scene_wait_status(STATUS_WAITING_B);
    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 notify 7 "), 3);
    ck_assert_uint_eq(log_count("connected to xenstore as domain 1"), 2);
    ck_assert_uint_eq(log_count("running without a xenstore connection"), 1);
    char *errors = NULL;
    ck_assert_int_eq(daemon_runner_log_errors(&runner, &errors), 0);
    free(errors);
}
END_TEST

START_TEST(no_event_channel_device_is_reported)
{
    scene_start_daemon(evtchn_config);
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    /* The stand-in without its directory behaves like a system without
     * /dev/xen/evtchn. */
    unsetenv("XENREADY_FAKE_EVTCHN_DIR");
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output, (const char *[]){"status", NULL}), 0);
    ck_assert_msg(strstr(output, "signal evtchn: cannot open the event channel device"),
                  "status:\n%s", output);
    free(output);
    /* The xenstore node still works. */
    scene_backend("a", "up");
    scene_backend("b", "up");
    ck_assert_int_eq(xs_wait_settled(frontend, NODE, "ready", TIMEOUT_MS), 0);
}
END_TEST

int main(void)
{
    const struct integration_case cases[] = {
        {"port_published_before_first_notification", port_published_before_first_notification},
        {"one_notification_per_transition", one_notification_per_transition},
        {"republished_after_daemon_restart", republished_after_daemon_restart},
        {"recreated_after_release_and_introduce", recreated_after_release_and_introduce},
        {"port_key_back_with_a_removed_node", port_key_back_with_a_removed_node},
        {"no_leak_after_1000_frontend_restarts", no_leak_after_1000_frontend_restarts},
        {"static_channel_notified_when_ready_only", static_channel_notified_when_ready_only},
        {"static_channel_ready_at_start_is_sent", static_channel_ready_at_start_is_sent},
        {"methods_combined", methods_combined},
        {"runs_without_xenstore_when_nothing_uses_it", runs_without_xenstore_when_nothing_uses_it},
        {"reloads_drop_and_take_xenstore", reloads_drop_and_take_xenstore},
        {"no_event_channel_device_is_reported", no_event_channel_device_is_reported},
    };
    return scene_run(scene_suite("evtchn", cases, sizeof(cases) / sizeof(cases[0])));
}
