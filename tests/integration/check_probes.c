// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Backend readiness for real deployments, end to end: xenreadyd runs as DomD
 * against the real xenstored (tests/harness) and observes real peers:
 *  - tests/peers/test-backend, a process with a UNIX socket that listens,
 *    accepts ONE connection and closes its listener, dies, unlinks and
 *    re-binds on command, and counts the connections it accepted (the probe
 *    must cause none); with sock_diag and with /proc/net/unix
 *    (XENREADY_SOCKET_DIAG=proc);
 *  - tests/peers/fake-systemd1 on a private dbus-daemon (Debian's dbus
 *    package), serving the part of org.freedesktop.systemd1 the unit probe
 *    uses. No systemd runs as PID 1 on these machines, so the real
 *    org.freedesktop.systemd1 cannot be used; the fake sends PropertiesChanged
 *    only to subscribed clients, as systemd does;
 *  - xenreadyctl ready/gone, from the right and the wrong peer.
 * Every wait is on an event: the daemon's STATUS= messages, a peer's answer
 * line, a xenstore watch. The grace series of the socket probe (2.55 s) is
 * waited out only where withdrawal after an unlink is the point.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "harness.h"

enum { DOMD = 1, FRONTEND = 5, TIMEOUT_MS = 10000 };

#define NODE "/local/domain/5/xenready/pcie0"

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd, *frontend;
static struct peer peers[8];
static struct fake_systemd fake;
static char dir[256];

static void backend_start(struct peer *peer, const char *path)
{
    peer_start(peer, (const char *[]){XENREADY_PEERS "/test-backend", path, NULL});
}

static void setup(void)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    domd = harness_open(harness, DOMD);
    frontend = harness_open(harness, FRONTEND);
    ck_assert_ptr_nonnull(domd);
    ck_assert_ptr_nonnull(frontend);
    snprintf(dir, sizeof(dir), "%s", harness_directory(harness));
}

static void teardown(void)
{
    daemon_runner_finish(&runner);
    for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++)
        peer_kill(&peers[i]);
    fake_systemd_stop(&fake);
    if (domd)
        xs_close(domd);
    if (frontend)
        xs_close(frontend);
    domd = frontend = NULL;
    harness_stop(harness);
    harness = NULL;
    unsetenv("XENREADY_SOCKET_DIAG");
    unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

/* Config text with @ replaced by the test directory. */
static void start_daemon(const char *config)
{
    char text[8192];
    size_t used = 0;
    for (const char *c = config; *c && used < sizeof(text) - 300; c++)
        used += (size_t)(*c == '@' ? snprintf(text + used, sizeof(text) - used, "%s", dir)
                                   : snprintf(text + used, sizeof(text) - used, "%c", *c));
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, text), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
}

#define wait_status(expected) daemon_runner_assert_status(&runner, expected, TIMEOUT_MS)

static char *frontend_reads(const char *leaf)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", NODE, leaf);
    char *value = xs_read_string(frontend, path);
    ck_assert_ptr_nonnull(value);
    return value;
}

/* The backend's "detail" in xenreadyctl status --json ("" when null). */
static char *status_detail(const char *name)
{
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output, (const char *[]){"status", "--json", NULL}),
                     0);
    struct json_object *status = json_tokener_parse(output), *backends, *member;
    ck_assert_ptr_nonnull(status);
    ck_assert(json_object_object_get_ex(status, "backends", &backends));
    char *detail = NULL;
    for (size_t i = 0; i < json_object_array_length(backends); i++) {
        struct json_object *backend = json_object_array_get_idx(backends, i);
        json_object_object_get_ex(backend, "name", &member);
        if (strcmp(json_object_get_string(member), name) != 0)
            continue;
        json_object_object_get_ex(backend, "detail", &member);
        detail = strdup(member ? json_object_get_string(member) : "");
    }
    json_object_put(status);
    free(output);
    ck_assert_ptr_nonnull(detail);
    return detail;
}

static void assert_detail_contains(const char *backend, const char *text)
{
    char *detail = status_detail(backend);
    ck_assert_msg(strstr(detail, text), "detail of %s is \"%s\", expected \"%s\" in it", backend,
                  detail, text);
    free(detail);
}

/* Connects as the IOREQ-side front end would (the one connection). */
static int ioreq_connect(const char *path)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    return fd;
}

static const char socket_config[] =
    "[frontend domu1]\ndomid = 5\n\n"
    "[backend i2c]\nprobe = socket\npath = @/vhost/i2c.sock\n\n"
    "[backend file]\nprobe = socket\npath = @/not-a-socket\n\n"
    "[backend ann]\nprobe = announce\nowner = uid:0\n\n"
    "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = i2c\n\n"
    "[bridge domu1/virtio0]\ndevice-tree-path = /virtio@2000000\nbackends = file\n\n"
    "[bridge domu1/virtio1]\ndevice-tree-path = /virtio@2001000\nbackends = ann\n";

#define WAITING_I2C "domu1/pcie0 (i2c)"
#define WAITING_FILE "domu1/virtio0 (file)"
#define WAITING_ANN "domu1/virtio1 (ann)"

/* _i: 0 = sock_diag, 1 = /proc/net/unix. */
START_TEST(socket_readiness_follows_the_backend)
{
    if (_i == 1)
        setenv("XENREADY_SOCKET_DIAG", "proc", 1);
    setup();
    char path[300], file[300];
    snprintf(path, sizeof(path), "%s/vhost/i2c.sock", dir);
    snprintf(file, sizeof(file), "%s/not-a-socket", dir);
    FILE *regular = fopen(file, "w");
    ck_assert_ptr_nonnull(regular);
    fclose(regular);

    /* Bad input: a directory that does not exist yet, a regular file. */
    start_daemon(socket_config);
    ck_assert_str_eq(runner.last_status, "0/3 bridges ready; waiting: " WAITING_I2C ", "
                                         WAITING_FILE ", " WAITING_ANN);
    assert_detail_contains("i2c", "its directory does not exist yet (watching ");
    assert_detail_contains("file", "is a regular file, not a socket");

    /* The directory appears, the backend binds, then listens: listen()
     * raises no event, the bounded re-checks after bind's event see it. */
    snprintf(file, sizeof(file), "%s/vhost", dir);
    ck_assert_int_eq(mkdir(file, 0755), 0);
    backend_start(&peers[0], path);
    peer_do(&peers[0], "bind", "ok");
    peer_do(&peers[0], "start", "ok");
    wait_status("1/3 bridges ready; waiting: " WAITING_FILE ", " WAITING_ANN);
    char *value = frontend_reads("state");
    ck_assert_str_eq(value, "ready");
    free(value);
    char *generation = frontend_reads("generation");

    /* The IOREQ side attaches; the backend closes its listener. */
    peer_do(&peers[0], "serve-one", "ok");
    int front_end = ioreq_connect(path);
    char line[64];
    ck_assert_str_eq(peer_line(&peers[0], line, sizeof(line)), "accepted 1");

    /* Unlink and re-bind between connections: no flap. The inotify events
     * are read before the control request that follows them. */
    peer_do(&peers[0], "drop", "ok");
    peer_do(&peers[0], "listen", "ok");
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    wait_status("2/3 bridges ready; waiting: " WAITING_FILE);
    value = frontend_reads("generation");
    ck_assert_str_eq(value, generation);
    free(value);

    /* Only the test's own connection was ever accepted. */
    peer_do(&peers[0], "count", "ok 1");

    /* The process dies: its pidfd tells, though the file stays. */
    peer_kill(&peers[0]);
    close(front_end);
    wait_status("1/3 bridges ready; waiting: " WAITING_I2C ", " WAITING_FILE);
    assert_detail_contains("i2c", "exists but nothing listens on it");

    /* Restarted; then removed for good: withdrawn after the grace series. */
    backend_start(&peers[1], path);
    peer_do(&peers[1], "listen", "ok");
    wait_status("2/3 bridges ready; waiting: " WAITING_FILE);
    peer_do(&peers[1], "unlink", "ok");
    wait_status("1/3 bridges ready; waiting: " WAITING_I2C ", " WAITING_FILE);
    peer_do(&peers[1], "count", "ok 0");
    /* (Its socket, still listening under the same name, would be the one
     * /proc/net/unix matches by name.) */
    peer_kill(&peers[1]);

    /* The grace lasts only while the process lives: unlinked (a control
     * request after it orders the inotify event first), then killed; by the
     * answer to the next request the pidfd's event was handled too (it is
     * of higher priority), and the bridge is withdrawn at once, not at the
     * end of the series. */
    backend_start(&peers[2], path);
    peer_do(&peers[2], "listen", "ok");
    wait_status("2/3 bridges ready; waiting: " WAITING_FILE);
    peer_do(&peers[2], "unlink", "ok");
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"gone", "ann", NULL}), 0);
    value = frontend_reads("state");
    ck_assert_str_eq(value, "ready");
    free(value);
    peer_kill(&peers[2]);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    value = frontend_reads("state");
    ck_assert_msg(strcmp(value, "waiting") == 0,
                  "a socket backend killed during the grace series still counts: pcie0 is %s",
                  value);
    free(value);
    free(generation);
}
END_TEST

/* Started while the IOREQ side is attached and the listener is closed: the
 * ESTABLISHED socket on the same file counts. */
START_TEST(attached_backend_without_listener_is_ready)
{
    if (_i == 1)
        setenv("XENREADY_SOCKET_DIAG", "proc", 1);
    setup();
    char path[300], sub[300];
    snprintf(sub, sizeof(sub), "%s/vhost", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    snprintf(path, sizeof(path), "%s/vhost/i2c.sock", dir);
    backend_start(&peers[0], path);
    peer_do(&peers[0], "listen", "ok");
    peer_do(&peers[0], "serve-one", "ok");
    int front_end = ioreq_connect(path);
    char line[64];
    ck_assert_str_eq(peer_line(&peers[0], line, sizeof(line)), "accepted 1");
    start_daemon("[frontend domu1]\ndomid = 5\n\n"
                 "[backend i2c]\nprobe = socket\npath = @/vhost/i2c.sock\n\n"
                 "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = i2c\n");
    ck_assert_str_eq(runner.last_status, "1/1 bridges ready");
    peer_do(&peers[0], "count", "ok 1");
    peer_kill(&peers[0]);
    wait_status("0/1 bridges ready; waiting: domu1/pcie0 (i2c)");
    close(front_end);
}
END_TEST

/* The daemon looks for the system bus where fake_systemd_start() puts it,
 * whether the bus runs yet or not. */
static void point_daemon_at_bus(void)
{
    char address[320];
    snprintf(address, sizeof(address), "unix:path=%s/system_bus_socket", dir);
    setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1);
}

static const char unit_config[] =
    "[frontend domu1]\ndomid = 5\n\n"
    "[backend i2c]\nprobe = unit\nunit = vhost-device-i2c.service\n\n"
    "[backend gpio]\nprobe = unit\nunit = vhost-device-gpio.service\n\n"
    "[backend ghost]\nprobe = unit\nunit = no-such.service\n\n"
    "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = i2c gpio\n\n"
    "[bridge domu1/virtio0]\ndevice-tree-path = /virtio@2000000\nbackends = ghost\n";

START_TEST(unit_probe_follows_active_state)
{
    SKIP_WITHOUT_SYSTEMD("unit");
    setup();
    point_daemon_at_bus();
    /* gpio is not loaded: GetUnit fails, LoadUnit finds it. */
    fake_systemd_start(&fake, dir, (const char *[]){"vhost-device-i2c.service=activating",
                                                     "vhost-device-gpio.service=active,unloaded",
                                                     NULL});
    start_daemon(unit_config);
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (i2c), domu1/virtio0 (ghost)");
    assert_detail_contains("i2c", "unit vhost-device-i2c.service is activating");
    assert_detail_contains("ghost", "unit no-such.service does not exist");
    /* Subscribed: real systemd sends unit changes only then. */
    peer_do(&fake.systemd1, "subscribers", "ok 1");

    /* Type=notify: active after READY=1. */
    peer_do(&fake.systemd1, "set vhost-device-i2c.service active", "ok");
    wait_status("1/2 bridges ready; waiting: domu1/virtio0 (ghost)");
    peer_do(&fake.systemd1, "set vhost-device-gpio.service failed", "ok");
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (gpio), domu1/virtio0 (ghost)");
    assert_detail_contains("gpio", "unit vhost-device-gpio.service is failed");

    /* A signal that names the properties without their values (systemd's
     * EMITS_INVALIDATION): the probe asks for them. */
    fake_systemd_invalidate(&fake, "vhost-device-gpio.service", "active");
    wait_status("1/2 bridges ready; waiting: domu1/virtio0 (ghost)");
    fake_systemd_invalidate(&fake, "vhost-device-i2c.service", "deactivating");
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (i2c), domu1/virtio0 (ghost)");
    assert_detail_contains("i2c", "unit vhost-device-i2c.service is deactivating");
}
END_TEST

START_TEST(unavailable_bus_waits_and_reconnects)
{
    SKIP_WITHOUT_SYSTEMD("bus unavailable");
    setup();
    point_daemon_at_bus();
    start_daemon("[frontend domu1]\ndomid = 5\n\n"
                 "[backend i2c]\nprobe = unit\nunit = vhost-device-i2c.service\n\n"
                 "[backend ann]\nprobe = announce\nowner = uid:0\n\n"
                 "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = i2c\n\n"
                 "[bridge domu1/virtio0]\ndevice-tree-path = /virtio@2000000\nbackends = ann\n");
    assert_detail_contains("i2c", "system bus unavailable");
    /* Other bridges are unaffected. */
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    wait_status("1/2 bridges ready; waiting: domu1/pcie0 (i2c)");
    /* The bus comes up: the socket's creation wakes the probe. */
    fake_systemd_start(&fake, dir, (const char *[]){"vhost-device-i2c.service=active", NULL});
    wait_status("2/2 bridges ready");
}
END_TEST

static const char mixed_config[] =
    "[frontend domu1]\ndomid = 5\n\n"
    "[backend qemu]\nprobe = device-model\nfrontend = domu1\npidfile = @/qemu.pid\n\n"
    "[backend s1]\nprobe = socket\npath = @/s1.sock\n\n"
    "[backend s2]\nprobe = socket\npath = @/s2.sock\n\n"
    "[backend unit]\nprobe = unit\nunit = vhost-device-gpio.service\n\n"
    "[backend ann]\nprobe = announce\nowner = uid:0\n\n"
    "[backend theirs]\nprobe = announce\nowner = uid:4242\n\n"
    "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\n"
    "backends = qemu s1 s2 unit ann\ntimeout = 1\n\n"
    "[bridge domu1/virtio0]\ndevice-tree-path = /virtio@2000000\nbackends = theirs\n";

#define THEIRS "domu1/virtio0 (theirs)"

START_TEST(mixed_bridge_needs_every_backend)
{
    SKIP_WITHOUT_SYSTEMD("mixed bridge");
    setup();
    char address[320], path[300];
    snprintf(address, sizeof(address), "unix:path=%s/system_bus_socket", dir);
    setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1);
    fake_systemd_start(&fake, dir, (const char *[]){"vhost-device-gpio.service=activating",
                                                     NULL});
    start_daemon(mixed_config);
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (qemu s1 s2 unit ann), " THEIRS);

    /* The start-up timeout passes: degraded on the daemon's side only. */
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (qemu s1 s2 unit ann), " THEIRS
                "; degraded: domu1/pcie0");
    char *value = frontend_reads("state");
    ck_assert_str_eq(value, "waiting");
    free(value);

    /* QEMU stand-in: a process with a pidfile that writes its key. */
    snprintf(path, sizeof(path), "pidfile %s/qemu.pid", dir);
    backend_start(&peers[2], "/nonexistent/qemu");
    peer_do(&peers[2], path, "ok");
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (s1 s2 unit ann), " THEIRS
                "; degraded: domu1/pcie0");
    snprintf(path, sizeof(path), "%s/s1.sock", dir);
    backend_start(&peers[3], path);
    peer_do(&peers[3], "listen", "ok");
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (s2 unit ann), " THEIRS
                "; degraded: domu1/pcie0");
    snprintf(path, sizeof(path), "%s/s2.sock", dir);
    backend_start(&peers[4], path);
    peer_do(&peers[4], "listen", "ok");
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (unit ann), " THEIRS
                "; degraded: domu1/pcie0");
    peer_do(&fake.systemd1, "set vhost-device-gpio.service active", "ok");
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (ann), " THEIRS
                "; degraded: domu1/pcie0");

    /* Announcements: unknown backend, wrong peer, not an announced one. */
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "nosuch", NULL}), 1);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "theirs", NULL}), 1);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"gone", "s1", NULL}), 1);
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output, (const char *[]){"status", NULL}), 0);
    ck_assert_msg(strstr(output, "may only be announced by uid 4242; the peer has uid 0"),
                  "status:\n%s", output);
    ck_assert_msg(strstr(output, "no backend named \"nosuch\""), "status:\n%s", output);
    ck_assert_msg(strstr(output, "domu1/pcie0: degraded"), "status:\n%s", output);
    free(output);

    /* The last one: ready, and no longer degraded. */
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    wait_status("1/2 bridges ready; waiting: " THEIRS);
    value = frontend_reads("state");
    ck_assert_str_eq(value, "ready");
    free(value);

    /* Withdrawn when any goes, back when it returns. */
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"gone", "ann", NULL}), 0);
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (ann), " THEIRS);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    wait_status("1/2 bridges ready; waiting: " THEIRS);
    peer_do(&fake.systemd1, "set vhost-device-gpio.service deactivating", "ok");
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (unit), " THEIRS);
    peer_do(&fake.systemd1, "set vhost-device-gpio.service active", "ok");
    wait_status("1/2 bridges ready; waiting: " THEIRS);
    peer_kill(&peers[4]);
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (s2), " THEIRS);
    backend_start(&peers[4], path);
    peer_do(&peers[4], "listen", "ok");
    wait_status("1/2 bridges ready; waiting: " THEIRS);

    /* QEMU is SIGKILLed: its key stays "running", liveness withdraws it. */
    peer_kill(&peers[2]);
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (qemu), " THEIRS);
    value = xs_read_string(domd, "device-model/5/state");
    ck_assert_str_eq(value, "running");
    free(value);
    assert_detail_contains("qemu", "qemu.pid) exited");
    value = frontend_reads("state");
    ck_assert_str_eq(value, "waiting");
    free(value);

    /* A new QEMU writes its pidfile: alive again. */
    snprintf(path, sizeof(path), "pidfile %s/qemu.pid", dir);
    backend_start(&peers[2], "/nonexistent/qemu");
    peer_do(&peers[2], path, "ok");
    wait_status("1/2 bridges ready; waiting: " THEIRS);
    peer_do(&peers[3], "count", "ok 0");
    peer_do(&peers[4], "count", "ok 0");
}
END_TEST

static Suite *probes_suite(void)
{
    Suite *suite = suite_create("probes");
    TCase *tcase = tcase_create("socket");
    tcase_add_checked_fixture(tcase, NULL, teardown);
    tcase_set_timeout(tcase, 60);
    tcase_add_loop_test(tcase, socket_readiness_follows_the_backend, 0, 2);
    tcase_add_loop_test(tcase, attached_backend_without_listener_is_ready, 0, 2);
    suite_add_tcase(suite, tcase);
    const struct integration_case cases[] = {
        {"unit", unit_probe_follows_active_state},
        {"bus unavailable", unavailable_bus_waits_and_reconnects},
        {"mixed bridge", mixed_bridge_needs_every_backend},
    };
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), NULL, teardown);
    return suite;
}

int main(void)
{
    return integration_main(probes_suite(), fake_systemd_missing());
}
