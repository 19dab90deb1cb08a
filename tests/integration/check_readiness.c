// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The readiness path end to end against the real xenstored: xenreadyd runs as
 * unprivileged DomD (domain 1), backends write as DomD the way device models
 * do, and the frontend (domain 5) observes its node as itself. Domain 9 is a
 * bystander. The daemon's STATUS= messages on a NOTIFY_SOCKET the test owns
 * tell when it has seen a backend change, so "not signalled yet" is checked
 * after the daemon provably processed the write, without sleeping.
 */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "harness.h"

enum { DOMD = 1, FRONTEND = 5, BYSTANDER = 9, TIMEOUT_MS = 10000 };

#define NODE "/local/domain/5/xenready/pcie0"

static const char three_backends[] =
    TEST_CONFIG_FRONTEND TEST_CONFIG_BACKEND_DM TEST_CONFIG_BACKEND_DISK TEST_CONFIG_BACKEND_NET
    "[bridge domu1/pcie0]\n"
    "device-tree-path = /pcie@10000000\n"
    "backends = dm disk net\n";

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd, *frontend;

/* What a toolstack sets up: the domains, the directories DomD's backends
 * write, and the frontend's xenready directory owned by DomD. */
static void setup_domains(void)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    ck_assert_int_eq(harness_introduce(harness, BYSTANDER, "other"), 0);
    domd = harness_open(harness, DOMD);
    frontend = harness_open(harness, FRONTEND);
    ck_assert_ptr_nonnull(domd);
    ck_assert_ptr_nonnull(frontend);
}

static void start_daemon(const char *config)
{
    setup_domains();
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
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

static void assert_frontend_sees(const char *state, const char *generation)
{
    char *value = xs_read_string(frontend, NODE "/state");
    ck_assert_ptr_nonnull(value);
    ck_assert_str_eq(value, state);
    free(value);
    value = xs_read_string(frontend, NODE "/generation");
    ck_assert_ptr_nonnull(value);
    ck_assert_str_eq(value, generation);
    free(value);
}

static void domd_writes(const char *path, const char *value)
{
    ck_assert_int_eq(xs_write_string(domd, path, value), 0);
}

#define wait_status(expected) daemon_runner_assert_status(&runner, expected, TIMEOUT_MS)

static void wait_frontend_state(const char *state)
{
    ck_assert_int_eq(xs_wait_settled(frontend, NODE, state, TIMEOUT_MS), 0);
}

static void bring_all_up(void)
{
    domd_writes("device-model/5/state", "running");
    domd_writes("backend/virtio_disk/5/0/state", "4");
    domd_writes("backend/virtio_net/5/0/state", "4");
    wait_frontend_state("ready");
}

START_TEST(node_exists_from_first_scan)
{
    start_daemon(three_backends);
    assert_frontend_sees("waiting", "1");
    char *value = xs_read_string(frontend, NODE "/device-tree-path");
    ck_assert_str_eq(value, "/pcie@10000000");
    free(value);
    value = xs_read_string(frontend, NODE "/backend-id");
    ck_assert_str_eq(value, "1");
    free(value);
    value = xs_read_string(frontend, NODE "/version");
    ck_assert_str_eq(value, "1");
    free(value);
    ck_assert_str_eq(runner.last_status, "0/1 bridges ready; waiting: domu1/pcie0 (dm disk net)");
}
END_TEST

START_TEST(signalled_only_after_the_third_backend)
{
    start_daemon(three_backends);
    domd_writes("device-model/5/state", "running");
    wait_status("0/1 bridges ready; waiting: domu1/pcie0 (disk net)");
    assert_frontend_sees("waiting", "1");

    domd_writes("backend/virtio_disk/5/0/state", "4");
    wait_status("0/1 bridges ready; waiting: domu1/pcie0 (net)");
    assert_frontend_sees("waiting", "1");

    domd_writes("backend/virtio_net/5/0/state", "4");
    wait_frontend_state("ready");
    assert_frontend_sees("ready", "2");
    wait_status("1/1 bridges ready");
}
END_TEST

START_TEST(backend_going_away_withdraws)
{
    start_daemon(three_backends);
    bring_all_up();
    ck_assert(xs_rm(domd, XBT_NULL, "backend/virtio_disk/5/0/state"));
    wait_frontend_state("waiting");
    assert_frontend_sees("waiting", "3");
    wait_status("0/1 bridges ready; waiting: domu1/pcie0 (disk)");

    domd_writes("backend/virtio_disk/5/0/state", "4");
    wait_frontend_state("ready");
    assert_frontend_sees("ready", "4");
}
END_TEST

START_TEST(wrong_value_does_not_count)
{
    start_daemon(three_backends);
    domd_writes("device-model/5/state", "running");
    domd_writes("backend/virtio_net/5/0/state", "4");
    wait_status("0/1 bridges ready; waiting: domu1/pcie0 (disk)");
    /* XenbusStateInitWait: written before the device model is really there. */
    domd_writes("backend/virtio_disk/5/0/state", "2");
    /* The daemon handles events in order: once it reports the next change,
     * it has also seen the wrong value. */
    domd_writes("backend/virtio_net/5/0/state", "5");
    wait_status("0/1 bridges ready; waiting: domu1/pcie0 (disk net)");
    assert_frontend_sees("waiting", "1");

    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output, (const char *[]){"status", "--json", NULL}), 0);
    struct json_object *status = json_tokener_parse(output);
    ck_assert_ptr_nonnull(status);
    struct json_object *backends, *disk = NULL, *detail;
    ck_assert(json_object_object_get_ex(status, "backends", &backends));
    for (size_t i = 0; i < json_object_array_length(backends); i++) {
        struct json_object *backend = json_object_array_get_idx(backends, i), *name;
        json_object_object_get_ex(backend, "name", &name);
        if (strcmp(json_object_get_string(name), "disk") == 0)
            disk = backend;
    }
    ck_assert_ptr_nonnull(disk);
    ck_assert(json_object_object_get_ex(disk, "detail", &detail));
    ck_assert_str_eq(json_object_get_string(detail),
                     "/local/domain/1/backend/virtio_disk/5/0/state is \"2\", expected \"4\"");
    json_object_put(status);
    free(output);
}
END_TEST

/* The first scan lists directories to skip reading keys that cannot exist:
 * keys present, with the wrong value, missing below an existing directory or
 * below a missing one, a key that is also a directory, and siblings all
 * present must each come out as a read one by one would have it. */
START_TEST(first_scan_by_listing_matches_reading)
{
    static const char config[] =
        "[frontend domu1]\ndomid = 5\n"
        "[backend top]\nprobe = xenstore\npath = backend/t\nvalue = up\n"
        "[backend one]\nprobe = xenstore\npath = backend/t/1/state\nvalue = up\n"
        "[backend other]\nprobe = xenstore\npath = backend/t/1/other\nvalue = up\n"
        "[backend two]\nprobe = xenstore\npath = backend/t/2/state\nvalue = up\n"
        "[backend three]\nprobe = xenstore\npath = backend/t/3/state\nvalue = up\n"
        "[backend gone]\nprobe = xenstore\npath = backend/u/v/state\nvalue = up\n"
        "[backend gone2]\nprobe = xenstore\npath = backend/u/w/state\nvalue = up\n"
        "[backend dma]\nprobe = xenstore\npath = device-model/5/a/state\nvalue = up\n"
        "[backend dmb]\nprobe = xenstore\npath = device-model/5/b/state\nvalue = up\n"
        "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\n"
        "backends = top one other two three gone gone2 dma dmb\n";
    setup_domains();
    domd_writes("backend/t/1/state", "up");
    domd_writes("backend/t", "up");
    domd_writes("backend/t/1/other", "no");
    domd_writes("backend/t/2/unrelated", "x");
    domd_writes("device-model/5/a/state", "up");
    domd_writes("device-model/5/b/state", "up");
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ck_assert_str_eq(runner.last_status,
                     "0/1 bridges ready; waiting: domu1/pcie0 (other two three gone gone2)");

    domd_writes("backend/t/1/other", "up");
    domd_writes("backend/t/2/state", "up");
    domd_writes("backend/t/3/state", "up");
    domd_writes("backend/u/v/state", "up");
    domd_writes("backend/u/w/state", "up");
    wait_frontend_state("ready");
    assert_frontend_sees("ready", "2");
}
END_TEST

/* A node made in a directory whose permissions are not exactly its own
 * (here the bystander may read it too) gets its own set, not the
 * directory's; so does one made again after the directory's permissions
 * changed under the running daemon. */
START_TEST(node_permissions_never_taken_from_a_wider_directory)
{
    setup_domains();
    ck_assert_int_eq(harness_set_permissions(harness, "/local/domain/5/xenready", "n1 r5 r9"), 0);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, three_backends), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    assert_frontend_sees("waiting", "1");
    xs_assert_node_protected(frontend, NODE, DOMD, FRONTEND);
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);

    ck_assert(xs_rm(domd, XBT_NULL, NODE));
    ck_assert_int_eq(harness_set_permissions(harness, "/local/domain/5/xenready", "n1 r5"), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    xs_assert_node_protected(frontend, NODE, DOMD, FRONTEND);
    ck_assert_int_eq(harness_set_permissions(harness, "/local/domain/5/xenready", "n1 r5 r9"), 0);
    ck_assert(xs_rm(domd, XBT_NULL, NODE));
    wait_frontend_state("waiting");
    xs_assert_node_protected(frontend, NODE, DOMD, FRONTEND);
}
END_TEST

START_TEST(only_the_frontend_reads_and_nobody_else_writes)
{
    start_daemon(three_backends);
    struct xs_handle *bystander = harness_open(harness, BYSTANDER);
    ck_assert_ptr_nonnull(bystander);

    errno = 0;
    ck_assert_ptr_null(xs_read_string(bystander, NODE "/state"));
    ck_assert_int_eq(errno, EACCES);
    ck_assert_int_eq(xs_write_string(bystander, NODE "/state", "ready"), -EACCES);
    ck_assert_int_eq(xs_write_string(frontend, NODE "/state", "ready"), -EACCES);
    ck_assert_int_eq(xs_write_string(frontend, NODE "/generation", "99"), -EACCES);
    assert_frontend_sees("waiting", "1");
    xs_assert_node_protected(frontend, NODE, DOMD, FRONTEND);
    xs_close(bystander);
}
END_TEST

START_TEST(restart_with_all_backends_up_changes_nothing)
{
    start_daemon(three_backends);
    bring_all_up();
    assert_frontend_sees("ready", "2");

    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    /* While the daemon is stopped the guest keeps what was published. */
    assert_frontend_sees("ready", "2");

    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ck_assert_str_eq(runner.last_status, "1/1 bridges ready");
    assert_frontend_sees("ready", "2");
}
END_TEST

START_TEST(restart_publishes_what_changed_while_stopped)
{
    start_daemon(three_backends);
    bring_all_up();
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    ck_assert(xs_rm(domd, XBT_NULL, "backend/virtio_net/5/0/state"));
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    assert_frontend_sees("waiting", "3");
}
END_TEST

START_TEST(status_command_shows_the_table)
{
    start_daemon(three_backends);
    domd_writes("device-model/5/state", "running");
    domd_writes("backend/virtio_disk/5/0/state", "4");
    wait_status("0/1 bridges ready; waiting: domu1/pcie0 (net)");

    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output, (const char *[]){"status", NULL}), 0);
    ck_assert_ptr_nonnull(strstr(output, "FRONTEND"));
    ck_assert_msg(strstr(output, "domu1     domu1/pcie0  waiting  2/3"), "table was:\n%s", output);
    ck_assert_msg(strstr(output, "net: /local/domain/1/backend/virtio_net/5/0/state does not exist"),
                  "table was:\n%s", output);
    free(output);
}
END_TEST

/* 200 backends under one subtree: a watch per key would need 200 watches,
 * beyond xenstored's default of 128 for an unprivileged domain. */
START_TEST(two_hundred_backends_within_the_default_watch_quota)
{
    enum { BACKENDS = 200 };
    char *config = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&config, &size);
    fprintf(stream, "[frontend domu1]\ndomid = 5\n\n[bridge domu1/pcie0]\n"
                    "device-tree-path = /pcie@10000000\nbackends =");
    for (int i = 0; i < BACKENDS; i++)
        fprintf(stream, " b%d", i);
    fprintf(stream, "\n");
    for (int i = 0; i < BACKENDS; i++)
        fprintf(stream, "\n[backend b%d]\nprobe = xenstore\npath = device-model/5/dev%d/state\n"
                        "value = running\n", i, i);
    fclose(stream);
    start_daemon(config);
    free(config);

    for (int i = 0; i < BACKENDS; i++) {
        char path[64];
        snprintf(path, sizeof(path), "device-model/5/dev%d/state", i);
        if (i == BACKENDS - 1)
            wait_status("0/1 bridges ready; waiting: domu1/pcie0 (b199)");
        domd_writes(path, "running");
    }
    wait_frontend_state("ready");
    assert_frontend_sees("ready", "2");
}
END_TEST

static Suite *readiness_suite(void)
{
    Suite *suite = suite_create("readiness");
    const struct integration_case cases[] = {
        {"first scan", node_exists_from_first_scan},
        {"aggregation", signalled_only_after_the_third_backend},
        {"withdrawal", backend_going_away_withdraws},
        {"wrong value", wrong_value_does_not_count},
        {"permissions", only_the_frontend_reads_and_nobody_else_writes},
        {"first scan by listing", first_scan_by_listing_matches_reading},
        {"permissions of a wider directory", node_permissions_never_taken_from_a_wider_directory},
        {"restart", restart_with_all_backends_up_changes_nothing},
        {"restart after change", restart_publishes_what_changed_while_stopped},
        {"status", status_command_shows_the_table},
        {"watch quota", two_hundred_backends_within_the_default_watch_quota},
    };
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), NULL, teardown);
    return suite;
}

int main(void)
{
    return integration_main(readiness_suite(), NULL);
}
