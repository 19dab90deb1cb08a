// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Protocol conformance: tests/conformance/xenready-conformance, a frontend
 * written from protocol/xenready-guest.h alone (CMake gives it nothing else),
 * runs as the unprivileged frontend (domain 5) against the real xenstored,
 * with xenreadyd as unprivileged DomD. This driver only moves the backends
 * and asks the frontend, step by step, whether what it sees matches the
 * document.
 */
#include "guest-runner.h"
#include "signal-fixture.h"

static struct guest guest;

static void finish_frontend(void)
{
    guest_finish(&guest);
}

/* Sends command and expects an answer starting with "ok" and containing
 * every fragment given. */
static void ask(const char *command, const char *fragment)
{
    char reply[512];
    ck_assert_int_eq(guest_command(&guest, command, reply, sizeof(reply), 2 * TIMEOUT_MS), 0);
    ck_assert_msg(strncmp(reply, "ok", 2) == 0, "%s: %s", command, reply);
    if (fragment)
        ck_assert_msg(strstr(reply, fragment), "%s: \"%s\" lacks \"%s\"", command, reply,
                      fragment);
}

static void start_frontend(void)
{
    const char *argv[] = {XENREADY_CONFORMANCE_PATH, "pcie0", NULL};
    ck_assert_int_eq(guest_start(&guest, harness, FRONTEND, evtchn_dir, argv), 0);
}

START_TEST(xenstore_node)
{
    scene_start_daemon(SCENE_CONFIG(""));
    start_frontend();
    ask("node", "state=waiting generation=1 backend-id=1 device-tree-path=/pcie@10000000");
    scene_backend("a", "up");
    scene_backend("b", "up");
    ask("expect ready", "generation=2");
    scene_backend("a", "down");
    ask("expect waiting", "generation=3");
    scene_backend("a", "up");
    ask("expect ready", "generation=4");
    ask("node", "state=ready generation=4");
}
END_TEST

START_TEST(event_channel)
{
    scene_start_daemon(SCENE_CONFIG("signal = evtchn\n"));
    start_frontend();
    ask("node", "state=waiting generation=1");
    ask("bind", NULL);               /* and receive the post-bind event */
    ask("no-event", NULL);

    /* No transition, no notification. */
    scene_backend("a", "up");
    scene_wait_status(STATUS_WAITING_B);
    ask("no-event", NULL);

    /* One notification per transition, the state readable after it. */
    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    ask("event", "state=ready generation=2");
    ask("no-event", NULL);
    scene_backend("b", "down");
    scene_wait_status(STATUS_WAITING_B);
    ask("event", "state=waiting generation=3");
    ask("no-event", NULL);

    /* After a daemon restart the published port is bound again. */
    ck_assert_int_eq(daemon_runner_stop(&runner, 15), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ask("bind", NULL);
    scene_backend("b", "up");
    scene_wait_status(STATUS_READY);
    ask("event", "state=ready generation=4");
}
END_TEST

int main(void)
{
    const struct integration_case cases[] = {
        {"xenstore_node", xenstore_node},
        {"event_channel", event_channel},
    };
    scene_on_teardown = finish_frontend;
    return scene_run(scene_suite("conformance", cases, sizeof(cases) / sizeof(cases[0])));
}
