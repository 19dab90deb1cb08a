// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The scene shared by the signal tests: DomD (domain 1) runs xenreadyd with
 * the fake event channel preloaded, the frontend is domain 5 with
 * /local/domain/5/xenready owned by DomD, and one bridge, domu1/pcie0, needs
 * backends "a" and "b" (xenstore nodes DomD writes). Header-only: each test
 * program includes it once.
 */
#pragma once

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "fake-evtchn-control.h"
#include "harness.h"

enum { DOMD = 1, FRONTEND = 5, TIMEOUT_MS = 10000 };

#define NODE "/local/domain/5/xenready/pcie0"
#define PORT_KEY NODE "/event-channel"

#define SCENE_CONFIG(signal_lines)                  \
    "[frontend domu1]\ndomid = 5\n"                 \
    "[backend a]\nprobe = xenstore\npath = backend/a\nvalue = up\n" \
    "[backend b]\nprobe = xenstore\npath = backend/b\nvalue = up\n" \
    "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = a b\n" signal_lines

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd, *frontend, *dom0;
static char *evtchn_dir;

/* Like a toolstack that creates the xenready directory before introducing
 * the domain (see xenreadyd(8)). */
static inline void scene_introduce_frontend(void)
{
    ck_assert_int_eq(harness_set_permissions(harness, "/local/domain/5/xenready", "n1 r5"), 0);
    ck_assert_int_eq(harness_introduce(harness, FRONTEND, "domu1"), 0);
}

/* Like libxl: the home goes first, then the domain (@releaseDomain). */
static inline void scene_release_frontend(void)
{
    ck_assert(xs_rm(dom0, XBT_NULL, "/local/domain/5"));
    ck_assert_int_eq(harness_release(harness, FRONTEND), 0);
}

static inline void scene_setup(void)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    dom0 = harness_open(harness, 0);
    ck_assert_ptr_nonnull(dom0);
    ck_assert_int_eq(harness_introduce(harness, DOMD, "domd"), 0);
    ck_assert_int_eq(harness_set_permissions(harness, "/local/domain/1/backend", "n1"), 0);
    /* The grant xenreadyd(8) asks of the toolstack. */
    struct xs_permissions grant[2] = {{.id = 0, .perms = XS_PERM_NONE},
                                      {.id = DOMD, .perms = XS_PERM_READ}};
    ck_assert(xs_set_permissions(dom0, XBT_NULL, "@releaseDomain", grant, 2));
    ck_assert(xs_set_permissions(dom0, XBT_NULL, "@introduceDomain", grant, 2));
    scene_introduce_frontend();
    domd = harness_open(harness, DOMD);
    frontend = harness_open(harness, FRONTEND);
    ck_assert_ptr_nonnull(domd);
    ck_assert_ptr_nonnull(frontend);
    evtchn_dir = fake_evtchn_dir_new(harness_directory(harness));
    ck_assert_ptr_nonnull(evtchn_dir);
}

/* Starts xenreadyd as DomD with the fake event channel as domain 1. */
static inline void scene_start_daemon(const char *config)
{
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    ck_assert_int_eq(fake_evtchn_use(evtchn_dir, DOMD), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
}

/* A test program's own clean-up, run first (e.g. guest programs). */
static void (*scene_on_teardown)(void);

static inline void scene_teardown(void)
{
    if (scene_on_teardown)
        scene_on_teardown();
    daemon_runner_finish(&runner);
    if (domd)
        xs_close(domd);
    if (frontend)
        xs_close(frontend);
    if (dom0)
        xs_close(dom0);
    domd = frontend = dom0 = NULL;
    harness_stop(harness);
    harness = NULL;
    free(evtchn_dir);
    evtchn_dir = NULL;
}

static inline void scene_backend(const char *name, const char *value)
{
    char path[64];
    snprintf(path, sizeof(path), "backend/%s", name);
    ck_assert_int_eq(xs_write_string(domd, path, value), 0);
}

static inline void scene_wait_status(const char *expected)
{
    int r = daemon_runner_wait_status(&runner, expected, TIMEOUT_MS);
    ck_assert_msg(r == 0, "no STATUS=\"%s\"; last was \"%s\"", expected, runner.last_status);
}

#define STATUS_WAITING_AB "0/1 bridges ready; waiting: domu1/pcie0 (a b)"
#define STATUS_WAITING_B "0/1 bridges ready; waiting: domu1/pcie0 (b)"
#define STATUS_READY "1/1 bridges ready"

/* Adds one TCase per test, each with a fresh scene. */
static inline Suite *scene_suite(const char *name, const struct integration_case *cases, size_t count)
{
    Suite *suite = suite_create(name);
    integration_add_cases(suite, cases, count, scene_setup, scene_teardown);
    return suite;
}

/* Skips (77) only when the real xenstored cannot run here at all. */
static inline int scene_run(Suite *suite)
{
    return integration_main(suite, NULL);
}
