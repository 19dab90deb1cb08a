// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The xenstore probe finds the backends an event concerns through an index
 * sorted by path. An event names a node; every backend at or below it, and no
 * other, must be re-read — including when a sibling's name starts the same
 * ("0" and "0-1") and when the event is for a directory (a recursive rm).
 * Run against the real xenstored with xenreadyd as DomD; its STATUS= lines
 * say which backends it considers down.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "harness.h"

enum { DOMD = 1, FRONTEND = 5, TIMEOUT_MS = 10000 };

static const char config[] =
    "[frontend domu]\n"
    "domid = 5\n"
    "\n"
    "[backend disk]\n"
    "probe = xenstore\n"
    "path = backend/vbd/5/0/state\n"
    "value = 4\n"
    "\n"
    "[backend disk2]\n"
    "probe = xenstore\n"
    "path = backend/vbd/5/0-1/state\n"
    "value = 4\n"
    "\n"
    "[backend net]\n"
    "probe = xenstore\n"
    "path = backend/vif/5/0/state\n"
    "value = 4\n"
    "\n"
    "[bridge domu/pcie0]\n"
    "device-tree-path = /pcie@10000000\n"
    "backends = disk disk2 net\n";

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd;

static void setup(void)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(harness_introduce(harness, DOMD, "domd"), 0);
    ck_assert_int_eq(harness_introduce(harness, FRONTEND, "domu"), 0);
    ck_assert_int_eq(harness_set_permissions(harness, "/local/domain/1/backend", "n1"), 0);
    ck_assert_int_eq(harness_set_permissions(harness, "/local/domain/5/xenready", "n1 r5"), 0);
    domd = harness_open(harness, DOMD);
    ck_assert_ptr_nonnull(domd);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
}

static void teardown(void)
{
    daemon_runner_finish(&runner);
    if (domd)
        xs_close(domd);
    domd = NULL;
    harness_stop(harness);
    harness = NULL;
}

#define wait_status(expected) daemon_runner_assert_status(&runner, expected, TIMEOUT_MS)

static void all_up(void)
{
    ck_assert_int_eq(xs_write_string(domd, "backend/vbd/5/0/state", "4"), 0);
    ck_assert_int_eq(xs_write_string(domd, "backend/vbd/5/0-1/state", "4"), 0);
    ck_assert_int_eq(xs_write_string(domd, "backend/vif/5/0/state", "4"), 0);
    wait_status("1/1 bridges ready");
}

START_TEST(directory_event_reaches_only_what_lies_below)
{
    all_up();
    /* One event for /local/domain/1/backend/vbd/5/0: disk, not disk2. */
    ck_assert(xs_rm(domd, XBT_NULL, "backend/vbd/5/0"));
    wait_status("0/1 bridges ready; waiting: domu/pcie0 (disk)");
    ck_assert_int_eq(xs_write_string(domd, "backend/vbd/5/0/state", "4"), 0);
    wait_status("1/1 bridges ready");
}
END_TEST

START_TEST(sibling_with_longer_name_is_its_own)
{
    all_up();
    ck_assert_int_eq(xs_write_string(domd, "backend/vbd/5/0-1/state", "3"), 0);
    wait_status("0/1 bridges ready; waiting: domu/pcie0 (disk2)");
}
END_TEST

START_TEST(event_above_every_backend_reaches_all_below_it)
{
    all_up();
    /* Both vbd backends at once, in configuration order; net stays up. */
    ck_assert(xs_rm(domd, XBT_NULL, "backend/vbd"));
    wait_status("0/1 bridges ready; waiting: domu/pcie0 (disk disk2)");
    ck_assert_int_eq(xs_write_string(domd, "backend/vif/5/0/state", "1"), 0);
    wait_status("0/1 bridges ready; waiting: domu/pcie0 (disk disk2 net)");
}
END_TEST

static Suite *xenstore_probe_suite(void)
{
    Suite *suite = suite_create("xenstore_probe");
    TCase *tcase = tcase_create("index");
    tcase_add_checked_fixture(tcase, setup, teardown);
    tcase_set_timeout(tcase, 30);
    tcase_add_test(tcase, directory_event_reaches_only_what_lies_below);
    tcase_add_test(tcase, sibling_with_longer_name_is_its_own);
    tcase_add_test(tcase, event_above_every_backend_reaches_all_below_it);
    suite_add_tcase(suite, tcase);
    return suite;
}

int main(void)
{
    struct harness *probe = NULL;
    int r = harness_start(&probe, NULL);
    if (r == -ENOENT) {
        printf("SKIP: the real xenstored or the harness shim is missing\n");
        const char *ci = getenv("CI");
        return ci && strcmp(ci, "true") == 0 ? EXIT_FAILURE : 77;
    }
    harness_stop(probe);
    SRunner *runner_ = srunner_create(xenstore_probe_suite());
    srunner_run_all(runner_, CK_NORMAL);
    int failures = srunner_ntests_failed(runner_);
    srunner_free(runner_);
    return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
