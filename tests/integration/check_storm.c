// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A xenstore write storm (the security issue: one domain's writers rewriting
 * a watched key as fast as they can delayed every other guest's signal
 * without bound, and the daemon's memory with it).
 *
 * The daemon as DomD, against the real xenstored: while two writers of
 * domain 7 rewrite the key of backend A (the same value, thousands of
 * times), a change of backend B still reaches B's frontend, and A's bridge
 * ends in the true state once the storm's last write changed A's value.
 *
 * The connection itself (daemon/xen/xenstore.c), in this process: a batch
 * of queued events dispatches each registration and path once, in the order
 * of its first event, except the echoes of the connection's own changes,
 * which owners count (the xenstore signaller); and a batch is bounded, the
 * rest coming in a later loop iteration, after the other watchers.
 *
 * Every wait is on a watch or the event loop, bounded; nothing sleeps.
 */
#include <check.h>
#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "harness.h"
#include "xen/xenstore.h"

enum {
    DOMD = 1,
    FRONTEND_B = 5,            /* A's frontend is domain 6, never introduced */
    STORM_DOMAIN = 7,
    WRITERS = 2,
    STORM_BEFORE_B = 5000,     /* writes made before B's change */
    TIMEOUT_MS = 20000,
    STORM_MAX_SECONDS = 30,    /* the writers give up then, whatever happens */
};

#define STORM_KEY "/local/domain/7/data/storm"
#define NODE_A "/local/domain/6/xenready/pcie0"
#define NODE_B "/local/domain/5/xenready/pcie0"

static const char config[] =
    TEST_CONFIG_FRONTEND
    TEST_CONFIG_BACKEND_DISK
    "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = disk\n\n"
    "[frontend stormy]\ndomid = 6\n\n"
    "[backend storm]\nprobe = xenstore\npath = " STORM_KEY "\nvalue = 4\n\n"
    "[bridge stormy/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = storm\n";

static struct harness *harness;

/* ---- the daemon through a storm ------------------------------------------- */

static struct daemon_runner runner;
static struct xs_handle *domd, *frontend_b, *dom0;

struct storm {
    struct xs_handle *handles[WRITERS];
    pthread_t threads[WRITERS];
    bool started;
    atomic_bool stop;
    atomic_ulong writes;
    atomic_ulong failures;
    atomic_bool expired;       /* a writer reached STORM_MAX_SECONDS */
    pthread_mutex_t lock;
    pthread_cond_t reached;    /* writes reached STORM_BEFORE_B, or the storm expired */
};
static struct storm storm = {.lock = PTHREAD_MUTEX_INITIALIZER,
                             .reached = PTHREAD_COND_INITIALIZER};

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void *storm_write(void *data)
{
    struct xs_handle *handle = data;
    double deadline = now_seconds() + STORM_MAX_SECONDS;
    while (!atomic_load(&storm.stop)) {
        if (now_seconds() > deadline) {
            pthread_mutex_lock(&storm.lock);
            atomic_store(&storm.expired, true);
            pthread_cond_broadcast(&storm.reached);
            pthread_mutex_unlock(&storm.lock);
            break;
        }
        if (!xs_write(handle, XBT_NULL, STORM_KEY, "4", 1)) {
            atomic_fetch_add(&storm.failures, 1);
            continue;
        }
        if (atomic_fetch_add(&storm.writes, 1) + 1 == STORM_BEFORE_B) {
            pthread_mutex_lock(&storm.lock);
            pthread_cond_broadcast(&storm.reached);
            pthread_mutex_unlock(&storm.lock);
        }
    }
    return NULL;
}

static void storm_stop(void)
{
    if (!storm.started)
        return;
    atomic_store(&storm.stop, true);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(storm.threads[i], NULL);
    storm.started = false;
}

static void daemon_setup(void)
{
    atomic_store(&storm.stop, false);
    atomic_store(&storm.writes, 0);
    atomic_store(&storm.failures, 0);
    atomic_store(&storm.expired, false);
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND_B), 0);
    ck_assert_int_eq(harness_introduce(harness, STORM_DOMAIN, "stormer"), 0);
    ck_assert_int_eq(harness_set_permissions(harness, "/local/domain/6/xenready", "n1 r6"), 0);
    /* Domain 7's own key, which DomD may read. */
    ck_assert_int_eq(harness_set_permissions(harness, STORM_KEY, "n7 r1"), 0);
    domd = harness_open(harness, DOMD);
    frontend_b = harness_open(harness, FRONTEND_B);
    dom0 = harness_open(harness, 0);
    ck_assert_ptr_nonnull(domd);
    ck_assert_ptr_nonnull(frontend_b);
    ck_assert_ptr_nonnull(dom0);
    for (int i = 0; i < WRITERS; i++) {
        storm.handles[i] = harness_open(harness, STORM_DOMAIN);
        ck_assert_ptr_nonnull(storm.handles[i]);
    }
    ck_assert_int_eq(xs_write_string(storm.handles[0], STORM_KEY, "4"), 0);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
}

static void daemon_teardown(void)
{
    storm_stop();
    daemon_runner_finish(&runner);
    for (int i = 0; i < WRITERS; i++) {
        if (storm.handles[i])
            xs_close(storm.handles[i]);
        storm.handles[i] = NULL;
    }
    struct xs_handle **handles[] = {&domd, &frontend_b, &dom0};
    for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++) {
        if (*handles[i])
            xs_close(*handles[i]);
        *handles[i] = NULL;
    }
    harness_stop(harness);
    harness = NULL;
}

START_TEST(a_signal_goes_through_a_write_storm)
{
    daemon_runner_assert_status(&runner, "1/2 bridges ready; waiting: domu1/pcie0 (disk)",
                                TIMEOUT_MS);
    ck_assert_int_eq(xs_wait_settled(dom0, NODE_A, "ready", TIMEOUT_MS), 0);
    ck_assert_int_eq(xs_wait_settled(frontend_b, NODE_B, "waiting", TIMEOUT_MS), 0);

    storm.started = true;
    for (int i = 0; i < WRITERS; i++)
        ck_assert_int_eq(pthread_create(&storm.threads[i], NULL, storm_write,
                                        storm.handles[i]), 0);
    pthread_mutex_lock(&storm.lock);
    while (atomic_load(&storm.writes) < STORM_BEFORE_B && !atomic_load(&storm.expired))
        pthread_cond_wait(&storm.reached, &storm.lock);
    pthread_mutex_unlock(&storm.lock);
    ck_assert_msg(!atomic_load(&storm.expired), "the storm made only %lu writes in %d s",
                  atomic_load(&storm.writes), STORM_MAX_SECONDS);

    /* B's backend comes up in the middle of the storm: its frontend is told
     * while the storm goes on. */
    ck_assert_int_eq(xs_write_string(domd, "backend/virtio_disk/5/0/state", "4"), 0);
    int r = xs_wait_settled(frontend_b, NODE_B, "ready", TIMEOUT_MS);
    bool storm_on = !atomic_load(&storm.expired);
    unsigned long writes = atomic_load(&storm.writes);
    ck_assert_msg(r == 0, "B's frontend was not signalled within %d ms of a storm of %lu "
                  "writes", TIMEOUT_MS, writes);
    ck_assert_msg(storm_on, "B's frontend was signalled only after the storm gave up");

    /* The storm's last write changes A's value: A's bridge ends waiting. */
    storm_stop();
    ck_assert_int_eq(atomic_load(&storm.failures), 0);
    ck_assert_int_eq(xs_write_string(storm.handles[0], STORM_KEY, "3"), 0);
    ck_assert_int_eq(xs_wait_settled(dom0, NODE_A, "waiting", TIMEOUT_MS), 0);
    daemon_runner_assert_status(&runner, "1/2 bridges ready; waiting: stormy/pcie0 (storm)",
                                TIMEOUT_MS);
    /* And back: the daemon follows every change after the storm. */
    ck_assert_int_eq(xs_write_string(storm.handles[0], STORM_KEY, "4"), 0);
    ck_assert_int_eq(xs_wait_settled(dom0, NODE_A, "ready", TIMEOUT_MS), 0);
    daemon_runner_assert_status(&runner, "2/2 bridges ready", TIMEOUT_MS);
    printf("check_storm: B signalled after %lu storm writes (%lu when B changed)\n", writes,
           (unsigned long)STORM_BEFORE_B);
}
END_TEST

/* ---- the connection's batches, in this process ---------------------------- */

/* More than two batches' dispatches (256 each), in one directory: its
 * children's names need a larger entry size limit than xenstored's 2048. */
enum { DISTINCT_KEYS = 600 };

static struct ev_loop *loop;
static struct xenstore *connection;
static struct xs_handle *other;    /* another client of DomD's: someone else's changes */

struct dispatched {
    char paths[2 * DISTINCT_KEYS][64];
    size_t count;
    size_t batches;
    int wake_fd;                   /* written at the first dispatch, when >= 0 */
    size_t at_other_watcher;       /* count when the other watcher ran; -1: never */
};
static struct dispatched seen;

static void on_event(const char *path, void *userdata)
{
    if (seen.count < sizeof(seen.paths) / sizeof(seen.paths[0]))
        snprintf(seen.paths[seen.count], sizeof(seen.paths[0]), "%s", path);
    if (seen.count++ == 0 && seen.wake_fd >= 0)
        ck_assert_int_eq(write(seen.wake_fd, "x", 1), 1);
}

static void on_batch(void *userdata)
{
    seen.batches++;
}

static void connection_setup(void)
{
    struct harness_options options = {.xenstored_args = (const char *const[]){"-S", "8192",
                                                                             NULL}};
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
    xenstore_set_batch_callback(connection, on_batch, NULL);
    memset(&seen, 0, sizeof(seen));
    seen.wake_fd = -1;
    seen.at_other_watcher = (size_t)-1;
}

static void connection_teardown(void)
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

/* A round trip on the connection: xenstored sends a watch event before it
 * answers the request that caused it, and answers in order, so every event
 * of a change made before this is in libxenstore's queue after it. */
static void queued(void)
{
    char *value = NULL;
    unsigned int length;
    ck_assert_int_eq(xenstore_read(connection, "domid", &value, &length), 0);
    free(value);
}

/* Watches ~/data and drops its first event; nothing else is queued then. */
static struct xenstore_watch *watch_data(void)
{
    struct xenstore_watch *watch = NULL;
    ck_assert_int_eq(xenstore_watch_add(connection, "/local/domain/1/data", on_event, NULL,
                                        false, &watch), 0);
    queued();
    xenstore_discard_events(connection);
    return watch;
}

static void other_write(const char *key, const char *value)
{
    char path[64];
    snprintf(path, sizeof(path), "/local/domain/1/data/%s", key);
    ck_assert_int_eq(xs_write_string(other, path, value), 0);
}

static void assert_seen(const char *const *expected, size_t count)
{
    ck_assert_uint_eq(seen.count, count);
    for (size_t i = 0; i < count; i++)
        ck_assert_str_eq(seen.paths[i], expected[i]);
}

START_TEST(a_batch_dispatches_each_path_once_in_order)
{
    struct xenstore_watch *watch = watch_data();
    /* Same values too: a rewrite is an event like any other. */
    other_write("b", "1");
    other_write("a", "1");
    other_write("b", "1");
    other_write("b", "1");
    other_write("a", "2");
    other_write("c", "1");
    queued();
    xenstore_start(connection);
    ev_run(loop, EVRUN_NOWAIT);
    const char *const expected[] = {"/local/domain/1/data/b", "/local/domain/1/data/a",
                                    "/local/domain/1/data/c"};
    assert_seen(expected, 3);
    ck_assert_uint_eq(seen.batches, 1);
    xenstore_watch_remove(connection, watch);
}
END_TEST

START_TEST(echoes_of_own_changes_are_each_dispatched)
{
    struct xenstore_watch *watch = watch_data();
    /* Two changes of ours to the same key: an owner that counts their
     * echoes (the xenstore signaller) must see both, and then someone
     * else's change, which it checks by reading. Others' repeats merge. */
    ck_assert_int_eq(xenstore_write(connection, "/local/domain/1/data/state", "ready"), 0);
    ck_assert_int_eq(xenstore_write(connection, "data/state", "waiting"), 0);
    other_write("state", "forged");
    other_write("state", "forged");
    other_write("other", "1");
    queued();
    xenstore_start(connection);
    ev_run(loop, EVRUN_NOWAIT);
    const char *const expected[] = {"/local/domain/1/data/state", "/local/domain/1/data/state",
                                    "/local/domain/1/data/state", "/local/domain/1/data/other"};
    assert_seen(expected, 4);
    xenstore_watch_remove(connection, watch);
}
END_TEST

static void on_deadline(struct ev_loop *timer_loop, ev_timer *timer, int revents)
{
    ev_timer_stop(timer_loop, timer);
    ev_break(timer_loop, EVBREAK_ALL);
}

START_TEST(echoes_of_many_own_changes_are_each_dispatched)
{
    /* As at start-up: thousands of changes of ours before the loop takes
     * their echoes, each key changed twice (a node made, then its
     * permissions set). */
    struct xenstore_watch *watch = watch_data();
    char path[64];
    for (int i = 0; i < DISTINCT_KEYS; i++) {
        snprintf(path, sizeof(path), "/local/domain/1/data/k%d", i);
        ck_assert_int_eq(xenstore_write(connection, path, "1"), 0);
        ck_assert_int_eq(xenstore_write(connection, path, "2"), 0);
    }
    queued();
    ev_timer deadline;
    ev_timer_init(&deadline, on_deadline, TIMEOUT_MS / 1000.0, 0);
    ev_timer_start(loop, &deadline);
    xenstore_start(connection);
    while (seen.count < 2 * DISTINCT_KEYS && ev_is_active(&deadline))
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &deadline);
    ck_assert_uint_eq(seen.count, 2 * DISTINCT_KEYS);
    for (int i = 0; i < 2 * DISTINCT_KEYS; i++) {
        snprintf(path, sizeof(path), "/local/domain/1/data/k%d", i / 2);
        ck_assert_str_eq(seen.paths[i], path);
    }
    xenstore_watch_remove(connection, watch);
}
END_TEST

static void on_other_watcher(struct ev_loop *watcher_loop, ev_io *io, int revents)
{
    seen.at_other_watcher = seen.count;
    ev_io_stop(watcher_loop, io);
}

START_TEST(a_long_batch_lets_other_watchers_run)
{
    struct xenstore_watch *watch = watch_data();
    char key[16];
    for (int i = 0; i < DISTINCT_KEYS; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        other_write(key, "1");
    }
    queued();
    /* Another source, at the same priority as xenstore (an event channel,
     * inotify), has something to say once the first event is dispatched: it
     * gets its turn before the xenstore events are all dispatched. */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    seen.wake_fd = fds[1];
    ev_io other_watcher;
    ev_io_init(&other_watcher, on_other_watcher, fds[0], EV_READ);
    ev_io_start(loop, &other_watcher);
    ev_timer deadline;
    ev_timer_init(&deadline, on_deadline, TIMEOUT_MS / 1000.0, 0);
    ev_timer_start(loop, &deadline);
    xenstore_start(connection);
    while (seen.count < DISTINCT_KEYS && ev_is_active(&deadline))
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &deadline);
    ev_io_stop(loop, &other_watcher);
    seen.wake_fd = -1;
    close(fds[0]);
    close(fds[1]);

    ck_assert_uint_eq(seen.count, DISTINCT_KEYS);
    for (int i = 0; i < DISTINCT_KEYS; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/local/domain/1/data/k%d", i);
        ck_assert_str_eq(seen.paths[i], path);
    }
    ck_assert_msg(seen.batches > 2, "%d events dispatched in %zu batch(es)", DISTINCT_KEYS,
                  seen.batches);
    ck_assert_msg(seen.at_other_watcher < DISTINCT_KEYS,
                  "the other watcher waited for all %d events (it ran at %zu)", DISTINCT_KEYS,
                  seen.at_other_watcher);
    xenstore_watch_remove(connection, watch);
}
END_TEST

static Suite *storm_suite(void)
{
    Suite *suite = suite_create("storm");
    const struct integration_case daemon_cases[] = {
        {"signal through a storm", a_signal_goes_through_a_write_storm},
    };
    const struct integration_case connection_cases[] = {
        {"each path once", a_batch_dispatches_each_path_once_in_order},
        {"own echoes", echoes_of_own_changes_are_each_dispatched},
        {"many own echoes", echoes_of_many_own_changes_are_each_dispatched},
        {"bounded batch", a_long_batch_lets_other_watchers_run},
    };
    integration_add_cases(suite, daemon_cases, sizeof(daemon_cases) / sizeof(daemon_cases[0]),
                          daemon_setup, daemon_teardown);
    integration_add_cases(suite, connection_cases,
                          sizeof(connection_cases) / sizeof(connection_cases[0]),
                          connection_setup, connection_teardown);
    return suite;
}

int main(void)
{
    return integration_main(storm_suite(), NULL);
}
