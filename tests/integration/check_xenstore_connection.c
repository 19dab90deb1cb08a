// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's xenstore connection (daemon/xen/xenstore.c), in this process,
 * against the real xenstored with a small watch quota: what becomes of a
 * watch refused for lack of room. xenstored never says when room returns,
 * so the connection tries again after each batch of events. After, not
 * before: room that returns while a batch is handled must be seen by that
 * batch's try, or the event that came after it leaves the watch unarmed for
 * good. Here an event's own callback gives room back, which makes that
 * interleaving certain rather than a matter of timing.
 */
#include <check.h>
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "harness.h"
#include "xen/xenstore.h"

enum { DOMD = 1 };
static const double TIMEOUT_SECONDS = 10;

static struct harness *harness;
static struct xs_handle *other;    /* another client of DomD's, taking its watches */
static struct ev_loop *loop;
static struct xenstore *connection;

struct observed {
    int gave_room;             /* times the first watch's callback gave room back */
    int refused_watch_events;  /* events of the refused watch, once armed */
};
static struct observed observed;

static void setup(void)
{
    struct harness_options options = {.xenstored_args = (const char *const[]){"-W", "4", NULL}};
    ck_assert_int_eq(harness_start(&harness, &options), 0);
    ck_assert_int_eq(harness_introduce(harness, DOMD, "domd"), 0);
    char *socket_path = harness_socket_path(harness, DOMD);
    ck_assert_ptr_nonnull(socket_path);
    /* libxenstore's xs_open(0) connects where XENSTORED_PATH says. */
    setenv("XENSTORED_PATH", socket_path, 1);
    free(socket_path);
    other = harness_open(harness, DOMD);
    ck_assert_ptr_nonnull(other);
    loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(loop);
    ck_assert_int_eq(xenstore_open(&connection, loop), 0);
    observed = (struct observed){0};
}

static void teardown(void)
{
    xenstore_close(connection);
    connection = NULL;
    if (loop)
        ev_loop_destroy(loop);
    loop = NULL;
    if (other)
        xs_close(other);
    other = NULL;
    harness_stop(harness);
    harness = NULL;
}

/* The armed watch: its event for "go" gives one watch back, in the middle
 * of the batch that event belongs to. */
static void on_armed_watch(const char *path, void *userdata)
{
    if (strcmp(path, "/local/domain/1/data/armed/go") != 0)
        return;
    ck_assert(xs_unwatch(other, "/local/domain/1/data/taken0", "taken"));
    observed.gave_room++;
}

/* The refused watch: xenstored fires one event on every new watch, so an
 * event here means it is armed. */
static void on_refused_watch(const char *path, void *userdata)
{
    observed.refused_watch_events++;
    ev_break(loop, EVBREAK_ALL);
}

static void on_deadline(struct ev_loop *timer_loop, ev_timer *timer, int revents)
{
    ev_break(timer_loop, EVBREAK_ALL);
}

START_TEST(room_returned_during_a_batch_is_used_after_it)
{
    struct xenstore_watch *armed = NULL, *refused = NULL;
    ck_assert_int_eq(xenstore_watch_add(connection, "/local/domain/1/data/armed", on_armed_watch,
                                        NULL, true, &armed), 0);
    ck_assert_int_gt(xs_take_every_watch(other, "/local/domain/1/data/taken"), 0);
    int r = xenstore_watch_add(connection, "/local/domain/1/data/refused", on_refused_watch, NULL,
                               true, &refused);
    ck_assert_msg(r == -E2BIG, "the watch beyond the quota: %s", strerror(-r));
    ck_assert_ptr_nonnull(refused);   /* kept, to be tried again */
    ck_assert(!xenstore_watch_armed(refused));
    /* The registration event of the first watch is not the one that matters. */
    xenstore_discard_events(connection);
    xenstore_start(connection);

    /* Nothing else happens in xenstore after this write: the try after its
     * batch is the only chance the refused watch gets. */
    ck_assert_int_eq(xs_write(other, XBT_NULL, "/local/domain/1/data/armed/go", "1", 1), true);
    ev_timer deadline;
    ev_timer_init(&deadline, on_deadline, TIMEOUT_SECONDS, 0);
    ev_timer_start(loop, &deadline);
    ev_run(loop, 0);
    ev_timer_stop(loop, &deadline);

    ck_assert_int_eq(observed.gave_room, 1);
    ck_assert_msg(observed.refused_watch_events > 0,
                  "room came back during a batch, yet the refused watch was not armed after "
                  "it (no event in %.0f s)", TIMEOUT_SECONDS);
    ck_assert(xenstore_watch_armed(refused));
    xenstore_watch_remove(connection, armed);
    xenstore_watch_remove(connection, refused);
}
END_TEST

static Suite *connection_suite(void)
{
    Suite *suite = suite_create("xenstore connection");
    const struct integration_case cases[] = {
        {"room during a batch", room_returned_during_a_batch_is_used_after_it},
    };
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), setup, teardown);
    return suite;
}

int main(void)
{
    return integration_main(connection_suite(), NULL);
}
