// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Faults and hostile input against the real xenstored, with everyone in the
 * domain they are in production: xenreadyd as unprivileged DomD (1), backends
 * writing as DomD, the frontend (5) reading as itself, a bystander (9).
 * Randomised tests use a fixed seed, printed; XENREADY_SEED=N picks another.
 */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "harness.h"
#include "mixed-backends.h"
#include "xenstore-proxy.h"

enum { DOMD = 1, FRONTEND = 5, BYSTANDER = 9, TIMEOUT_MS = 10000 };
enum { BRIDGES = 4, BACKENDS_PER_BRIDGE = 3 };

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd, *frontend, *dom0;

/* Backends of every probe kind, for the flapping of every kind. */
static struct mixed mixed;

static void setup_with(const char *const *xenstored_args)
{
    struct harness_options options = {.xenstored_args = xenstored_args};
    ck_assert_int_eq(harness_start(&harness, &options), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    ck_assert_int_eq(harness_introduce(harness, BYSTANDER, "other"), 0);
    ck_assert_ptr_nonnull(domd = harness_open(harness, DOMD));
    ck_assert_ptr_nonnull(frontend = harness_open(harness, FRONTEND));
    ck_assert_ptr_nonnull(dom0 = harness_open(harness, 0));
}

static void setup(void)
{
    setup_with(NULL);
}

/* A DomD node quota (xenstored -E) with room for the home's own nodes, one
 * backend key and one bridge's node, not two. */
static void setup_small_quota(void)
{
    setup_with((const char *const[]){"-E", "24", NULL});
}

/* DomD may hold 8 watches (xenstored allows one past -W). */
static void setup_small_watch_quota(void)
{
    setup_with((const char *const[]){"-W", "8", NULL});
}

/* A memory quota small enough for another DomD client to use up quickly. */
static void setup_memory_quota(void)
{
    setup_with((const char *const[]){"-Q", "memory=32768", NULL});
}

static struct xenstore_proxy *proxy;   /* between the daemon and xenstored, when used */

static void teardown(void)
{
    daemon_runner_finish(&runner);
    xenstore_proxy_stop(proxy);
    proxy = NULL;
    mixed_stop(&mixed);
    if (domd)
        xs_close(domd);
    if (frontend)
        xs_close(frontend);
    if (dom0)
        xs_close(dom0);
    domd = frontend = dom0 = NULL;
    harness_stop(harness);
    harness = NULL;
}

/* BRIDGES bridges of BACKENDS_PER_BRIDGE backends each; backend b<i>-<j> is
 * ready when device-model/5/b<i>-<j>/state is "running". Bridge 0 and 1
 * share backend b0-0. Bridge "barrier" lets a test know the daemon has
 * handled everything written before it toggled it (events are handled in
 * order; its generation only grows). */
static char *grid_config(void)
{
    char *config = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&config, &size);
    fprintf(stream, "[frontend domu1]\ndomid = 5\n\n[backend barrier]\nprobe = xenstore\n"
                    "path = device-model/5/barrier\nvalue = up\n\n[bridge domu1/barrier]\n"
                    "device-tree-path = /barrier\nbackends = barrier\n");
    for (int i = 0; i < BRIDGES; i++) {
        fprintf(stream, "\n[bridge domu1/br%d]\ndevice-tree-path = /pcie@%d\nbackends =", i, i);
        for (int j = 0; j < BACKENDS_PER_BRIDGE; j++)
            fprintf(stream, " b%d-%d", i, j);
        if (i == 1)
            fprintf(stream, " b0-0");
        fprintf(stream, "\n");
        for (int j = 0; j < BACKENDS_PER_BRIDGE; j++)
            fprintf(stream, "\n[backend b%d-%d]\nprobe = xenstore\n"
                            "path = device-model/5/b%d-%d/state\nvalue = running\n", i, j, i, j);
    }
    fclose(stream);
    return config;
}

/* Toggles the barrier and waits until the frontend sees its next generation. */
static void barrier_pass(unsigned long *barrier_generation)
{
    daemon_runner_drain(&runner);
    (*barrier_generation)++;
    if (*barrier_generation % 2 == 0)
        ck_assert_int_eq(xs_write_string(domd, "device-model/5/barrier", "up"), 0);
    else
        ck_assert(xs_rm(domd, XBT_NULL, "device-model/5/barrier"));
    char generation[24];
    snprintf(generation, sizeof(generation), "%lu", *barrier_generation);
    ck_assert_int_eq(xs_wait_value(frontend, "/local/domain/5/xenready/barrier",
                                   "/local/domain/5/xenready/barrier/generation", generation,
                                   TIMEOUT_MS), 0);
}

static void start_daemon(const char *config)
{
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
}

static void node_path(char *path, size_t size, int bridge, const char *key)
{
    snprintf(path, size, "/local/domain/5/xenready/br%d%s%s", bridge, key ? "/" : "",
             key ? key : "");
}

static char *read_node(struct xs_handle *handle, int bridge, const char *key)
{
    char path[128];
    snprintf(path, sizeof(path), "/local/domain/5/xenready/br%d/%s", bridge, key);
    return xs_read_string(handle, path);
}

static unsigned long read_generation(int bridge)
{
    char *value = read_node(frontend, bridge, "generation");
    ck_assert_ptr_nonnull(value);
    unsigned long generation = strtoul(value, NULL, 10);
    free(value);
    return generation;
}

static bool read_ready(int bridge)
{
    char *value = read_node(frontend, bridge, "state");
    ck_assert_ptr_nonnull(value);
    bool ready = strcmp(value, "ready") == 0;
    free(value);
    return ready;
}

static void set_backend(int bridge, int backend, bool up)
{
    char path[128];
    snprintf(path, sizeof(path), "device-model/5/b%d-%d/state", bridge, backend);
    if (up)
        ck_assert_int_eq(xs_write_string(domd, path, "running"), 0);
    else
        ck_assert(xs_rm(domd, XBT_NULL, path) || errno == ENOENT);
}

static bool bridge_truth(bool up[BRIDGES][BACKENDS_PER_BRIDGE], int bridge)
{
    for (int j = 0; j < BACKENDS_PER_BRIDGE; j++)
        if (!up[bridge][j])
            return false;
    return bridge != 1 || up[0][0];
}

/* What the frontend showed of each bridge of grid_config() at the last
 * look: its state and its generation. */
struct grid_view {
    bool published[BRIDGES];
    unsigned long generation[BRIDGES];
};

/* The first look, right after start: every backend is down. */
static void grid_view_begin(struct grid_view *view)
{
    *view = (struct grid_view){0};
    for (int i = 0; i < BRIDGES; i++)
        view->generation[i] = read_generation(i);
}

/* Once the daemon has handled everything (a barrier passed): every bridge
 * of grid_config() shows its true state, its generation has the parity
 * that names it, and the generation moved on by the parity of the change
 * since the last look (each change of the published state is exactly one
 * bump; a burst may hide changes that went back and forth, never add one,
 * and a generation never goes back). Updates view; where names the moment
 * in failure messages. */
static void grid_assert_truth(bool up[BRIDGES][BACKENDS_PER_BRIDGE], struct grid_view *view,
                              const char *where)
{
    for (int i = 0; i < BRIDGES; i++) {
        bool truth = bridge_truth(up, i);
        ck_assert_msg(read_ready(i) == truth, "%s: br%d shows %s, truth is %s", where, i,
                      truth ? "waiting" : "ready", truth ? "ready" : "waiting");
        unsigned long before = view->generation[i], now = read_generation(i);
        ck_assert_msg(now % 2 == !truth && now >= before
                      && (now - before) % 2 == (truth != view->published[i]),
                      "%s: br%d generation %lu -> %lu for %s to %s", where, i, before, now,
                      truth != view->published[i] ? "a change" : "no change",
                      truth ? "ready" : "waiting");
        view->generation[i] = now;
        view->published[i] = truth;
    }
}

static long daemon_rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)runner.pid);
    FILE *file = fopen(path, "r");
    ck_assert_ptr_nonnull(file);
    long rss = -1;
    while (fgets(line, sizeof(line), file))
        if (sscanf(line, "VmRSS: %ld", &rss) == 1)
            break;
    fclose(file);
    return rss;
}

/* 1,000 random up/down events over several bridges (one backend shared):
 * after each burst the frontend's view equals the truth, generations grow
 * by exactly the number of state changes, and the daemon's memory stays
 * flat. */
START_TEST(flapping_converges_to_the_truth)
{
    unsigned int seed = test_seed();
    char *config = grid_config();
    start_daemon(config);
    free(config);

    bool up[BRIDGES][BACKENDS_PER_BRIDGE] = {{false}};
    struct grid_view seen;
    grid_view_begin(&seen);

    long rss_start = 0;
    unsigned long barrier_generation = 1;
    for (int event = 0; event < 1000; event++) {
        int bridge = rand_r(&seed) % BRIDGES, backend = rand_r(&seed) % BACKENDS_PER_BRIDGE;
        up[bridge][backend] = !up[bridge][backend];
        set_backend(bridge, backend, up[bridge][backend]);
        daemon_runner_drain(&runner);
        if (event % 50 != 49)
            continue;
        barrier_pass(&barrier_generation);
        char where[32];
        snprintf(where, sizeof(where), "event %d", event);
        grid_assert_truth(up, &seen, where);
        if (event == 99)
            rss_start = daemon_rss_kib();
    }
    long rss_end = daemon_rss_kib();
    printf("daemon RSS after 100 events: %ld KiB, after 1000: %ld KiB\n", rss_start, rss_end);
#ifndef XENREADY_SANITIZED
    /* Under ASan (quarantine) or valgrind RSS says nothing; their leak
     * checkers speak for memory there. */
    if (!getenv("XENREADY_VALGRIND"))
        ck_assert_int_le(rss_end - rss_start, 64);
#endif
}
END_TEST

static long long elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000LL + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* No line of the daemon's captured log at priority err or worse. */
static void assert_no_error_logged(void)
{
    char *errors = NULL;
    int count = daemon_runner_log_errors(&runner, &errors);
    /* The first few only: check passes messages through a bounded pipe. */
    ck_assert_msg(count == 0, "the daemon logged %d error(s), the first:\n%.1500s", count,
                  errors ? errors : "");
    free(errors);
}

/* The same with every kind of backend the flapping can come from:
 *  - xenstore keys (written and removed by DomD);
 *  - vhost-user-like sockets: a real test-backend process started to listen,
 *    or SIGKILLed (the socket probe follows inotify and the holder's pidfd);
 *  - announcements: xenreadyctl ready/gone through the control socket;
 *  - units: the fake org.freedesktop.systemd1 on a private bus changes
 *    their ActiveState (up: active, reloading; down: inactive, activating,
 *    deactivating, failed) and sends PropertiesChanged;
 *  - the frontend's device model: device-model/5/state written "running",
 *    or removed or "paused";
 *  - pidfile liveness: a backend whose xenstore key says "running" for good
 *    (as QEMU's does) and whose pidfile names a real process, started (it
 *    writes the pidfile) or SIGKILLed.
 * Events from different sources have no common order, so after each burst
 * the test waits for the daemon's STATUS= to name exactly the backends
 * missing in truth, then for every bridge to settle in its true state on
 * the frontend's watch, and checks generations moved by the parity of the
 * changes. The daemon must log no error meanwhile. */
START_TEST(flapping_of_every_kind_converges)
{
    enum { EVENTS = 1000, BURST = 50 };
    unsigned int seed = test_seed();
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    mixed_init(&mixed, harness, &runner, domd);
    /* The pidfile backend's key stays, as QEMU's does: its process decides. */
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/p0/state", "running"), 0);
    char *config = mixed_config(&mixed);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    free(config);
    runner.system_bus = mixed.fake_systemd.address;
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);

    bool up[MIXED_BACKENDS] = {false};
    /* valgrind 3.19 has no pidfd_open(), with which the socket probe sees a
     * holder die and pidfile liveness follows a process at all: under it the
     * sockets come up once and stay, and the pidfile's process is started
     * once and stays, but counts as not running (the daemon cannot follow
     * it), so p0 stays down. */
    bool pidfds = !getenv("XENREADY_VALGRIND");
    enum kind flapping[KINDS];
    int flapping_count = 0;
    for (int kind = 0; kind < KINDS; kind++)
        if (pidfds || (kind != KIND_SOCKET && kind != KIND_PIDFILE))
            flapping[flapping_count++] = (enum kind)kind;
    if (!pidfds) {
        printf("under valgrind (no pidfd_open): socket backends stay up, the pidfile's "
               "process runs but cannot be followed\n");
        for (int k = 0; k < MIXED_BACKENDS; k++)
            if (mixed_backends[k].kind == KIND_SOCKET || mixed_backends[k].kind == KIND_PIDFILE)
                mixed_set(&mixed, k, up[k] = mixed_backends[k].kind == KIND_SOCKET, &seed);
    }
    int of_kind[KINDS][MIXED_BACKENDS], kind_count[KINDS] = {0};
    for (int k = 0; k < MIXED_BACKENDS; k++) {
        enum kind kind = mixed_backends[k].kind;
        of_kind[kind][kind_count[kind]++] = k;
    }

    bool published[MIXED_BRIDGES] = {false};
    unsigned long generation[MIXED_BRIDGES];
    char status[1024];
    mixed_status(up, status, sizeof(status));
    ck_assert_msg(daemon_runner_wait_status(&runner, status, TIMEOUT_MS) == 0,
                  "STATUS never became \"%s\"; last \"%s\"", status, runner.last_status);
    for (int i = 0; i < MIXED_BRIDGES; i++) {
        char node[64];
        node_path(node, sizeof(node), i, NULL);
        published[i] = mixed_truth(up, i);
        ck_assert_int_eq(xs_wait_settled(frontend, node, published[i] ? "ready" : "waiting",
                                         TIMEOUT_MS), 0);
        generation[i] = read_generation(i);
    }
    long rss_start = 0;
    int per_kind[KINDS] = {0};
    for (int event = 0; event < EVENTS; event++) {
        enum kind kind = flapping[rand_r(&seed) % (unsigned int)flapping_count];
        int k = of_kind[kind][rand_r(&seed) % (unsigned int)kind_count[kind]];
        up[k] = !up[k];
        per_kind[kind]++;
        mixed_set(&mixed, k, up[k], &seed);
        daemon_runner_drain(&runner);
        if (event % BURST != BURST - 1)
            continue;
        /* The sources have no common order: a bridge may show its true state
         * while events that change it and back are still on their way. The
         * daemon's STATUS= names every missing backend: once it matches the
         * truth, every event of the burst has been taken. */
        mixed_status(up, status, sizeof(status));
        ck_assert_msg(daemon_runner_wait_status(&runner, status, TIMEOUT_MS) == 0,
                      "event %d: STATUS never became \"%s\"; last \"%s\"", event, status,
                      runner.last_status);
        for (int i = 0; i < MIXED_BRIDGES; i++) {
            bool truth = mixed_truth(up, i);
            char node[64];
            node_path(node, sizeof(node), i, NULL);
            ck_assert_msg(xs_wait_settled(frontend, node, truth ? "ready" : "waiting",
                                          TIMEOUT_MS) == 0,
                          "event %d: br%d never showed %s", event, i,
                          truth ? "ready" : "waiting");
            unsigned long now = read_generation(i);
            ck_assert_msg((now - generation[i]) % 2 == (truth != published[i]),
                          "event %d: br%d generation %lu -> %lu for %s", event, i,
                          generation[i], now, truth != published[i] ? "a change" : "no change");
            generation[i] = now;
            published[i] = truth;
        }
        if (event == 2 * BURST - 1)
            rss_start = daemon_rss_kib();
    }
    long rss_end = daemon_rss_kib();
    printf("%d events in %lld ms:", EVENTS, elapsed_ms(&start));
    for (int kind = 0; kind < KINDS; kind++)
        printf(" %s %d", mixed_kind_names[kind], per_kind[kind]);
    printf("; daemon RSS after %d: %ld KiB, after %d: %ld KiB\n", 2 * BURST, rss_start, EVENTS,
           rss_end);
    assert_no_error_logged();
#ifndef XENREADY_SANITIZED
    if (!getenv("XENREADY_VALGRIND"))
        ck_assert_int_le(rss_end - rss_start, 64);
#endif
}
END_TEST

/* Many rounds of random backend changes with the daemon stopped by SIGTERM
 * or SIGKILL at random points, changes made while it is down, then a
 * restart: the frontend always ends up seeing the truth, and each change of
 * what it sees is exactly one generation bump — no missed signal, no false
 * one, no duplicate. */
START_TEST(restarts_keep_the_truth)
{
    unsigned int seed = test_seed();
    char *config = grid_config();
    start_daemon(config);
    free(config);

    bool up[BRIDGES][BACKENDS_PER_BRIDGE] = {{false}};
    struct grid_view seen;
    grid_view_begin(&seen);
    unsigned long barrier_generation = 1;

    for (int round = 0; round < 40; round++) {
        int before = rand_r(&seed) % 6, during = rand_r(&seed) % 4;
        for (int k = 0; k < before; k++) {
            int bridge = rand_r(&seed) % BRIDGES, backend = rand_r(&seed) % BACKENDS_PER_BRIDGE;
            up[bridge][backend] = !up[bridge][backend];
            set_backend(bridge, backend, up[bridge][backend]);
        }
        /* Stop at once: a SIGKILL may land in the middle of a publication. */
        int sig = rand_r(&seed) % 2 ? SIGKILL : SIGTERM;
        int status = daemon_runner_stop(&runner, sig);
        ck_assert_int_eq(status, sig == SIGKILL ? 128 + SIGKILL : 0);
        for (int k = 0; k < during; k++) {
            int bridge = rand_r(&seed) % BRIDGES, backend = rand_r(&seed) % BACKENDS_PER_BRIDGE;
            up[bridge][backend] = !up[bridge][backend];
            set_backend(bridge, backend, up[bridge][backend]);
        }
        daemon_runner_drain(&runner);
        ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
        /* The barrier's own published state survives restarts too. */
        char *barrier = xs_read_string(frontend, "/local/domain/5/xenready/barrier/generation");
        ck_assert_ptr_nonnull(barrier);
        barrier_generation = strtoul(barrier, NULL, 10);
        free(barrier);
        barrier_pass(&barrier_generation);
        char where[32];
        snprintf(where, sizeof(where), "round %d", round);
        grid_assert_truth(up, &seen, where);
    }
}
END_TEST

/* A daemon on the dom0 socket outlives xenstored: it notices the hang-up at
 * once (no polling), reconnects with backoff to the new instance, re-arms its
 * watches and re-creates its nodes there. */
START_TEST(reconnects_when_xenstored_comes_back)
{
    struct xenstored_link link;
    ck_assert_int_eq(daemon_runner_init(&runner, harness, 0,
                                        "[frontend domu1]\ndomid = 5\n[backend dm]\n"
                                        "probe = device-model\nfrontend = domu1\n"
                                        "[bridge domu1/br0]\ndevice-tree-path = /pcie@0\n"
                                        "backends = dm\n"), 0);
    xenstored_link_begin(&link, harness, &runner);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);

    ck_assert_int_eq(kill(harness_xenstored_pid(harness), SIGKILL), 0);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "xenstore connection lost; "
                                               "reconnecting; 0/1 bridges ready; waiting: "
                                               "domu1/br0 (dm)", TIMEOUT_MS), 0);

    struct harness *second = NULL;
    ck_assert_int_eq(harness_start(&second, NULL), 0);
    ck_assert_int_eq(harness_introduce(second, FRONTEND, "domu1"), 0);
    struct xs_handle *second_dom0 = harness_open(second, 0);
    ck_assert_ptr_nonnull(second_dom0);
    ck_assert_int_eq(xs_write_string(second_dom0, "/local/domain/0/device-model/5/state",
                                     "running"), 0);
    xenstored_link_switch(&link, second);

    ck_assert_int_eq(daemon_runner_wait_status(&runner, "1/1 bridges ready", TIMEOUT_MS), 0);
    struct xs_handle *second_frontend = harness_open(second, FRONTEND);
    ck_assert_ptr_nonnull(second_frontend);
    char *state = xs_read_string(second_frontend, "/local/domain/5/xenready/br0/state");
    ck_assert_str_eq(state, "ready");
    free(state);

    daemon_runner_finish(&runner);
    xs_close(second_frontend);
    xs_close(second_dom0);
    harness_stop(second);
    xenstored_link_end(&link);
}
END_TEST

/* DomD's node quota runs out (xenstored -E): the bridge that has no room is
 * reported with the reason in status, the others work; once room returns,
 * the next publication creates it. */
START_TEST(node_quota_is_reported_and_recovered)
{
    /* DomD's own filler takes the room of one bridge's node. */
    char path[64];
    int filler = 0;
    for (; filler < 6; filler++) {
        snprintf(path, sizeof(path), "data/filler%d", filler);
        ck_assert_int_eq(xs_write_string(domd, path, "x"), 0);
    }

    start_daemon("[frontend domu1]\ndomid = 5\n[backend dm]\nprobe = device-model\n"
                 "frontend = domu1\n[bridge domu1/br0]\ndevice-tree-path = /pcie@0\n"
                 "backends = dm\n[bridge domu1/br1]\ndevice-tree-path = /pcie@1\n"
                 "backends = dm\n");
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output, (const char *[]){"status", NULL}), 0);
    bool quota_reported = strstr(output, "quota") || strstr(output, "No space left")
                          || strstr(output, "Disk quota exceeded");
    ck_assert_msg(quota_reported, "status was:\n%s", output);
    free(output);

    /* Room returns: DomD drops its filler; the next change publishes all. */
    for (int i = 0; i < filler; i++) {
        snprintf(path, sizeof(path), "data/filler%d", i);
        ck_assert(xs_rm(domd, XBT_NULL, path));
    }
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "2/2 bridges ready", TIMEOUT_MS), 0);
    for (int i = 0; i < 2; i++)
        ck_assert(read_ready(i));
    /* What the half-made node missed was completed. */
    char *described = read_node(frontend, 1, "device-tree-path");
    ck_assert_ptr_nonnull(described);
    ck_assert_str_eq(described, "/pcie@1");
    free(described);
}
END_TEST

START_TEST(hostile_backend_values_do_not_count)
{
    /* br1's backend is a barrier: the daemon handles events in order, so once
     * it reports the barrier's change it has judged the hostile value too. */
    start_daemon("[frontend domu1]\ndomid = 5\n[backend dm]\nprobe = device-model\n"
                 "frontend = domu1\n[bridge domu1/br0]\ndevice-tree-path = /pcie@0\n"
                 "backends = dm\n[backend barrier]\nprobe = xenstore\n"
                 "path = device-model/5/barrier\nvalue = up\n[bridge domu1/br1]\n"
                 "device-tree-path = /pcie@1\nbackends = barrier\n");
    static char huge[4000];
    memset(huge, 'r', sizeof(huge) - 1);
    const struct {
        const char *value;
        unsigned int length;
    } hostile[] = {
        {huge, sizeof(huge) - 1},
        {"running\0trailer", 15},
        {"run\033[2Jning\n", 13},
        {"", 0},
        {"runnin", 6},
        {"Running", 7},
        {"running ", 8},
    };
    bool barrier = false;
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        /* Written by dom0: DomD's own entries are capped at 2048 bytes by quota. */
        ck_assert(xs_write(dom0, XBT_NULL, "/local/domain/1/device-model/5/state",
                           hostile[i].value, hostile[i].length));
        barrier = !barrier;
        if (barrier)
            ck_assert_int_eq(xs_write_string(domd, "device-model/5/barrier", "up"), 0);
        else
            ck_assert(xs_rm(domd, XBT_NULL, "device-model/5/barrier"));
        const char *expected = barrier ? "1/2 bridges ready; waiting: domu1/br0 (dm)"
                                       : "0/2 bridges ready; waiting: domu1/br0 (dm), domu1/br1 (barrier)";
        ck_assert_msg(daemon_runner_wait_status(&runner, expected, TIMEOUT_MS) == 0,
                      "hostile value %zu: expected STATUS=%s, last %s", i, expected,
                      runner.last_status);
        ck_assert(!read_ready(0));

        char *output = NULL;
        ck_assert_int_eq(daemon_runner_ctl(&runner, &output,
                                           (const char *[]){"status", "--json", NULL}), 0);
        /* Status stays valid JSON and bounded, whatever the value was. */
        struct json_object *status = json_tokener_parse(output);
        ck_assert_msg(status != NULL, "status is not JSON: %s", output);
        ck_assert_uint_lt(strlen(output), 4096);
        json_object_put(status);
        free(output);
    }
}
END_TEST

START_TEST(signal_node_made_by_another_domain_is_not_used)
{
    /* Someone other than DomD made the nodes and says "ready": br0 hidden
     * from DomD, br1 readable by it. */
    const char *perms[2] = {"n9 r5", "n9 r5 r1"};
    for (int i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof(path), "/local/domain/5/xenready/br%d", i);
        ck_assert_int_eq(harness_set_permissions(harness, path, perms[i]), 0);
        strcat(path, "/state");
        ck_assert_int_eq(xs_write_string(dom0, path, "ready"), 0);
        ck_assert_int_eq(harness_set_permissions(harness, path, perms[i]), 0);
    }
    start_daemon("[frontend domu1]\ndomid = 5\n[backend dm]\nprobe = device-model\n"
                 "frontend = domu1\n[bridge domu1/br0]\ndevice-tree-path = /pcie@0\n"
                 "backends = dm\n[bridge domu1/br1]\ndevice-tree-path = /pcie@1\n"
                 "backends = dm\n");
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output, (const char *[]){"status", NULL}), 0);
    ck_assert_msg(strstr(output, "br0 exists but I (domain 1) may not read it: made by another "
                                 "domain, not using it"), "status was:\n%s", output);
    ck_assert_msg(strstr(output, "br1 exists but is owned by domain 9, not by me (domain 1): "
                                 "not using it"), "status was:\n%s", output);
    free(output);
    /* Nothing was written into them: no generation appeared. */
    for (int i = 0; i < 2; i++) {
        char *generation = read_node(dom0, i, "generation");
        ck_assert_ptr_null(generation);
    }
}
END_TEST

START_TEST(tampered_generation_is_replaced)
{
    const char *config = "[frontend domu1]\ndomid = 5\n[backend dm]\nprobe = device-model\n"
                         "frontend = domu1\n[bridge domu1/br0]\ndevice-tree-path = /pcie@0\n"
                         "backends = dm\n";
    start_daemon(config);
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    ck_assert_int_eq(xs_write_string(dom0, "/local/domain/5/xenready/br0/generation", "x\001y"), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    char *generation = read_node(frontend, 0, "generation");
    ck_assert_ptr_nonnull(generation);
    ck_assert_str_eq(generation, "1");
    free(generation);
}
END_TEST

START_TEST(third_domain_can_neither_read_nor_write)
{
    char *config = grid_config();
    start_daemon(config);
    free(config);
    struct xs_handle *bystander = harness_open(harness, BYSTANDER);
    ck_assert_ptr_nonnull(bystander);
    for (int i = 0; i < BRIDGES; i++) {
        errno = 0;
        ck_assert_ptr_null(read_node(bystander, i, "state"));
        ck_assert_int_eq(errno, EACCES);
        char path[128];
        snprintf(path, sizeof(path), "/local/domain/5/xenready/br%d/state", i);
        ck_assert_int_eq(xs_write_string(bystander, path, "ready"), -EACCES);
        ck_assert_int_eq(xs_write_string(frontend, path, "ready"), -EACCES);
        ck_assert(!xs_rm(frontend, XBT_NULL, path));
    }
    xs_close(bystander);
}
END_TEST

/* Two bridges of one xenstore backend each, and the barrier of grid_config(). */
static const char two_bridges[] =
    "[frontend domu1]\ndomid = 5\n\n"
    "[backend barrier]\nprobe = xenstore\npath = device-model/5/barrier\nvalue = up\n\n"
    "[bridge domu1/barrier]\ndevice-tree-path = /barrier\nbackends = barrier\n\n"
    "[backend b0-0]\nprobe = xenstore\npath = device-model/5/b0-0/state\nvalue = running\n\n"
    "[backend b1-0]\nprobe = xenstore\npath = device-model/5/b1-0/state\nvalue = running\n\n"
    "[bridge domu1/br0]\ndevice-tree-path = /pcie@0\nbackends = b0-0\n\n"
    "[bridge domu1/br1]\ndevice-tree-path = /pcie@1\nbackends = b1-0\n";

static const char *const node_keys[] = {"state", "generation", "device-tree-path", "backend-id",
                                        "version"};
enum { NODE_KEYS = sizeof(node_keys) / sizeof(node_keys[0]) };

/* Every key of br<bridge> as the frontend reads it. */
static void node_snapshot(int bridge, char *values[NODE_KEYS])
{
    for (int k = 0; k < NODE_KEYS; k++) {
        values[k] = read_node(frontend, bridge, node_keys[k]);
        ck_assert_msg(values[k], "br%d/%s cannot be read by the frontend", bridge, node_keys[k]);
    }
}

static void assert_node_is(int bridge, char *const expected[NODE_KEYS])
{
    for (int k = 0; k < NODE_KEYS; k++) {
        char *value = read_node(frontend, bridge, node_keys[k]);
        ck_assert_msg(value && strcmp(value, expected[k]) == 0, "br%d/%s is %s, expected %s",
                      bridge, node_keys[k], value ? value : "(none)", expected[k]);
        free(value);
    }
    char node[64];
    node_path(node, sizeof(node), bridge, NULL);
    xs_assert_node_protected(frontend, node, DOMD, FRONTEND);
}

static void free_snapshot(char *values[NODE_KEYS])
{
    for (int k = 0; k < NODE_KEYS; k++)
        free(values[k]);
}

/* Waits until br<bridge>'s key reads expected (watching the whole node). */
static void wait_node_key(int bridge, const char *key, const char *expected)
{
    char node[64], path[96];
    node_path(node, sizeof(node), bridge, NULL);
    node_path(path, sizeof(path), bridge, key);
    ck_assert_msg(xs_wait_value(frontend, node, path, expected, TIMEOUT_MS) == 0,
                  "%s never read %s", path, expected);
}

static char *status_text(void)
{
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output, (const char *[]){"status", NULL}), 0);
    return output;
}

/* A signal node removed while the daemon runs (by another process of DomD,
 * or by dom0) is noticed through the watch on the frontend's xenready
 * directory and made again at once, complete: the state and generation it
 * had (nothing changed in the backends; the generation never goes back), its
 * description, DomD's ownership with read access for the frontend only. */
START_TEST(removed_node_is_made_again)
{
    start_daemon(two_bridges);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/b0-0/state", "running"), 0);
    char node[64];
    node_path(node, sizeof(node), 0, NULL);
    ck_assert_int_eq(xs_wait_settled(frontend, node, "ready", TIMEOUT_MS), 0);

    /* br0 ready (generation 2), br1 waiting (generation 1). */
    struct xs_handle *removers[2] = {domd, dom0};
    for (int bridge = 0; bridge < 2; bridge++) {
        char *before[NODE_KEYS];
        node_snapshot(bridge, before);
        ck_assert_str_eq(before[0], bridge == 0 ? "ready" : "waiting");
        node_path(node, sizeof(node), bridge, NULL);
        ck_assert(xs_rm(removers[bridge], XBT_NULL, node));
        /* The generation is written last. */
        wait_node_key(bridge, "generation", before[1]);
        assert_node_is(bridge, before);
        free_snapshot(before);
    }

    /* Removed, and its backend goes away right after: the node comes back
     * and shows the change, one generation further. */
    node_path(node, sizeof(node), 0, NULL);
    ck_assert(xs_rm(domd, XBT_NULL, node));
    set_backend(0, 0, false);
    ck_assert_int_eq(xs_wait_settled(frontend, node, "waiting", TIMEOUT_MS), 0);
    wait_node_key(0, "device-tree-path", "/pcie@0");
    ck_assert_uint_eq(read_generation(0), 3);

    char *output = status_text();
    ck_assert_msg(!strstr(output, "signal xenstore"), "status was:\n%s", output);
    free(output);
}
END_TEST

/* Keys changed or removed under the daemon are written again; a generation
 * someone raised is kept rather than taken back, one that is not a number
 * is replaced. */
START_TEST(changed_keys_are_written_again)
{
    start_daemon(two_bridges);
    char *before[NODE_KEYS];
    node_snapshot(1, before);
    char path[96];
    node_path(path, sizeof(path), 1, "state");
    ck_assert_int_eq(xs_write_string(dom0, path, "ready"), 0);
    wait_node_key(1, "state", "waiting");
    node_path(path, sizeof(path), 1, "device-tree-path");
    ck_assert(xs_rm(dom0, XBT_NULL, path));
    wait_node_key(1, "device-tree-path", "/pcie@1");
    assert_node_is(1, before);
    free_snapshot(before);

    node_path(path, sizeof(path), 1, "generation");
    ck_assert_int_eq(xs_write_string(dom0, path, "7"), 0);
    unsigned long barrier_generation = 1;
    barrier_pass(&barrier_generation);
    ck_assert_uint_eq(read_generation(1), 7);
    ck_assert_int_eq(xs_write_string(dom0, path, "x"), 0);
    wait_node_key(1, "generation", "7");
    /* And the next change goes on from there. */
    set_backend(1, 0, true);
    wait_node_key(1, "generation", "8");
    ck_assert(read_ready(1));
}
END_TEST

/* In the daemon's child: its xenstore connection goes through the proxy. */
static void through_proxy(void *listen_path)
{
    setenv("XENSTORED_PATH", listen_path, 1);
}

/* A foreign write that lands between the daemon's two writes of a change,
 * state then generation. The daemon's watch reports its own writes back in
 * order, and an event first in line is taken as their echo without a read:
 * the foreign state write, whose event comes between the daemon's state and
 * generation echoes, must not be taken for one of them. A proxy between the
 * daemon and xenstored holds the generation write back, which makes that
 * interleaving certain. */
START_TEST(foreign_write_between_state_and_generation)
{
    char *upstream = harness_socket_path(harness, DOMD);
    ck_assert_ptr_nonnull(upstream);
    char listen_path[256];
    snprintf(listen_path, sizeof(listen_path), "%s/proxy.sock", harness_directory(harness));
    ck_assert_int_eq(xenstore_proxy_start(&proxy, listen_path, upstream), 0);
    free(upstream);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, two_bridges), 0);
    runner.child_setup = through_proxy;
    runner.child_data = listen_path;
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ck_assert_uint_eq(read_generation(0), 1);

    char state[96], generation[96];
    node_path(state, sizeof(state), 0, "state");
    node_path(generation, sizeof(generation), 0, "generation");
    xenstore_proxy_hold_write(proxy, generation);
    set_backend(0, 0, true);
    ck_assert_int_eq(xenstore_proxy_wait_held(proxy, TIMEOUT_MS), 0);
    /* The daemon's state write went through; its generation write waits. */
    ck_assert(read_ready(0));
    ck_assert_int_eq(xs_write_string(dom0, state, "waiting"), 0);
    xenstore_proxy_release(proxy);

    /* The foreign state is put right, and the change has its one bump. */
    wait_node_key(0, "state", "ready");
    unsigned long barrier_generation = 1;
    barrier_pass(&barrier_generation);
    ck_assert(read_ready(0));
    ck_assert_uint_eq(read_generation(0), 2);
}
END_TEST

/* How a round of transactions_of_others_never_reach_the_daemon touches
 * what the daemon reads and writes. */
enum transaction_mode {
    /* Reads a frontend's node and writes its state (what it read, or the
     * opposite); the daemon publishes a change of that node before the
     * commit: xenstored must refuse it with EAGAIN. */
    TRANSACTION_NODE_CONFLICT,
    /* Writes the wrong state into a node while the daemon is idle: the
     * commit must go through, and the daemon must put the node right
     * without a new generation (nothing changed in the backends). */
    TRANSACTION_NODE_OVERWRITE,
    /* As the first, but the backends change in between without waiting
     * for the daemon: commit or conflict, whatever comes first. */
    TRANSACTION_NODE_RACE,
    /* Reads and toggles a backend key while DomD's backend writes it too:
     * EAGAIN, and the backend's own write is the truth. */
    TRANSACTION_BACKEND_CONFLICT,
    /* Toggles a backend key alone: committed, the daemon must follow. */
    TRANSACTION_BACKEND,
    TRANSACTION_MODES
};

static const char *const transaction_mode_names[TRANSACTION_MODES] = {
    "node conflict", "node overwrite", "node race", "backend conflict", "backend",
};

/* Commits t: 0, or -EAGAIN when xenstored found a conflict (any other
 * failure fails the test). */
static int transaction_commit(struct xs_handle *client, xs_transaction_t t)
{
    if (xs_transaction_end(client, t, false))
        return 0;
    ck_assert_msg(errno == EAGAIN, "commit failed: %s", strerror(errno));
    return -EAGAIN;
}

/* In t: reads br<bridge>'s state and generation, and writes state: the
 * opposite of what it read when wrong, else what it read. */
static void transaction_touch_node(struct xs_handle *client, xs_transaction_t t, int bridge,
                                   bool wrong)
{
    char path[96];
    unsigned int length;
    node_path(path, sizeof(path), bridge, "generation");
    char *generation = xs_read(client, t, path, &length);
    ck_assert_ptr_nonnull(generation);
    free(generation);
    node_path(path, sizeof(path), bridge, "state");
    char *state = xs_read(client, t, path, &length);
    ck_assert_ptr_nonnull(state);
    const char *value = !wrong ? state : strcmp(state, "ready") == 0 ? "waiting" : "ready";
    ck_assert(xs_write(client, t, path, value, (unsigned int)strlen(value)));
    free(state);
}

/* In t: reads b<bridge>-<backend>'s key (absolute: the client may be dom0)
 * and writes the opposite: removed when it is up, "running" when not. */
static void transaction_toggle_backend(struct xs_handle *client, xs_transaction_t t, int bridge,
                                       int backend, bool up)
{
    char path[96];
    snprintf(path, sizeof(path), "/local/domain/1/device-model/5/b%d-%d/state", bridge, backend);
    unsigned int length;
    char *value = xs_read(client, t, path, &length);
    ck_assert((value != NULL) == up);
    free(value);
    if (up)
        ck_assert(xs_rm(client, t, path));
    else
        ck_assert(xs_write(client, t, path, "running", 7));
}

/* Changes backends so that br<bridge>'s truth flips: one of its backends
 * goes when it is ready, all it misses come when not. */
static void grid_flip_bridge(bool up[BRIDGES][BACKENDS_PER_BRIDGE], int bridge,
                             unsigned int *seed)
{
    if (bridge_truth(up, bridge)) {
        int backend = rand_r(seed) % BACKENDS_PER_BRIDGE;
        set_backend(bridge, backend, up[bridge][backend] = false);
        return;
    }
    for (int backend = 0; backend < BACKENDS_PER_BRIDGE; backend++)
        if (!up[bridge][backend])
            set_backend(bridge, backend, up[bridge][backend] = true);
    if (bridge == 1 && !up[0][0])
        set_backend(0, 0, up[0][0] = true);
}

/* The daemon uses no transactions, so xenstored's EAGAIN (answered only to
 * a transaction's end, when something it read or wrote changed under it)
 * cannot reach it. What matters is the other side: while another client of
 * DomD (_i = 0) or dom0, the toolstack (_i = 1), runs transactions over the
 * frontend's nodes and the backend keys, interleaved with backends that
 * flap: (a) their commits really conflict, with EAGAIN, whenever the daemon
 * published under them or a backend wrote its key; (b) after every round
 * the daemon's nodes show the truth, with generations of the right parity,
 * one bump per change, never going back; (c) a wrong state that such a
 * transaction commits is put right by the daemon (it watches the
 * frontend's directory), without a generation; and the daemon logs no
 * error and reports none in status. */
START_TEST(transactions_of_others_never_reach_the_daemon)
{
    enum { ROUNDS = 400 };
    unsigned int seed = test_seed();
    struct xs_handle *client = harness_open(harness, _i == 0 ? DOMD : 0);
    ck_assert_ptr_nonnull(client);
    char *config = grid_config();
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    free(config);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);

    bool up[BRIDGES][BACKENDS_PER_BRIDGE] = {{false}};
    struct grid_view seen;
    grid_view_begin(&seen);
    unsigned long barrier_generation = 1;
    int rounds[TRANSACTION_MODES] = {0}, conflicts[TRANSACTION_MODES] = {0}, overwritten = 0;
    for (int round = 0; round < ROUNDS; round++) {
        enum transaction_mode mode = (enum transaction_mode)(rand_r(&seed) % TRANSACTION_MODES);
        int bridge = rand_r(&seed) % BRIDGES, backend = rand_r(&seed) % BACKENDS_PER_BRIDGE;
        char node[64];
        node_path(node, sizeof(node), bridge, NULL);
        unsigned long before = read_generation(bridge);
        xs_transaction_t t = xs_transaction_start(client);
        ck_assert(t != XBT_NULL);
        int r = 0;
        bool wrong = rand_r(&seed) % 2;
        switch (mode) {
        case TRANSACTION_NODE_CONFLICT:
            transaction_touch_node(client, t, bridge, wrong);
            grid_flip_bridge(up, bridge, &seed);
            /* The frontend sees the other state: the daemon wrote both keys
             * the transaction read. */
            ck_assert_int_eq(xs_wait_settled(frontend, node, bridge_truth(up, bridge)
                                             ? "ready" : "waiting", TIMEOUT_MS), 0);
            r = transaction_commit(client, t);
            ck_assert_msg(r == -EAGAIN, "round %d: a transaction over br%d committed although "
                          "the daemon published under it", round, bridge);
            break;
        case TRANSACTION_NODE_OVERWRITE:
            transaction_touch_node(client, t, bridge, wrong = true);
            r = transaction_commit(client, t);
            ck_assert_msg(r == 0, "round %d: nothing changed br%d, yet its transaction "
                          "conflicted", round, bridge);
            barrier_pass(&barrier_generation);
            ck_assert_msg(read_ready(bridge) == bridge_truth(up, bridge), "round %d: br%d's "
                          "state, overwritten in a transaction, was not put right", round,
                          bridge);
            ck_assert_uint_eq(read_generation(bridge), before);
            break;
        case TRANSACTION_NODE_RACE:
            transaction_touch_node(client, t, bridge, wrong);
            for (int n = rand_r(&seed) % 4; n > 0; n--) {
                int i = rand_r(&seed) % BRIDGES, j = rand_r(&seed) % BACKENDS_PER_BRIDGE;
                set_backend(i, j, up[i][j] = !up[i][j]);
            }
            r = transaction_commit(client, t);
            break;
        case TRANSACTION_BACKEND_CONFLICT:
            transaction_toggle_backend(client, t, bridge, backend, up[bridge][backend]);
            set_backend(bridge, backend, up[bridge][backend] = !up[bridge][backend]);
            r = transaction_commit(client, t);
            ck_assert_msg(r == -EAGAIN, "round %d: a transaction over b%d-%d committed although "
                          "the backend wrote it meanwhile", round, bridge, backend);
            break;
        case TRANSACTION_BACKEND:
            transaction_toggle_backend(client, t, bridge, backend, up[bridge][backend]);
            r = transaction_commit(client, t);
            ck_assert_msg(r == 0, "round %d: nothing else wrote b%d-%d, yet its transaction "
                          "conflicted", round, bridge, backend);
            up[bridge][backend] = !up[bridge][backend];
            break;
        default:
            ck_abort();
        }
        rounds[mode]++;
        conflicts[mode] += r == -EAGAIN;
        overwritten += r == 0 && wrong && mode <= TRANSACTION_NODE_RACE;
        daemon_runner_drain(&runner);
        barrier_pass(&barrier_generation);
        char where[32];
        snprintf(where, sizeof(where), "round %d", round);
        grid_assert_truth(up, &seen, where);
    }
    int total = 0;
    printf("transactions by %s, %d rounds:", _i == 0 ? "another client of DomD" : "dom0",
           ROUNDS);
    for (int mode = 0; mode < TRANSACTION_MODES; mode++) {
        printf(" %s %d (EAGAIN %d)%s", transaction_mode_names[mode], rounds[mode],
               conflicts[mode], mode + 1 < TRANSACTION_MODES ? "," : "");
        total += conflicts[mode];
    }
    printf("; %d wrong states committed, all put right\n", overwritten);
    ck_assert_int_gt(total, 0);
    char *output = status_text();
    ck_assert_msg(!strstr(output, "signal xenstore"), "status was:\n%s", output);
    free(output);
    assert_no_error_logged();
    xs_close(client);
}
END_TEST

/* Another domain takes a node over (its permissions changed under the
 * daemon): it is not trusted or written any more, status says why; given
 * back, it shows the truth again. */
START_TEST(node_taken_over_is_not_used)
{
    start_daemon(two_bridges);
    unsigned long barrier_generation = 1;
    char node[64];
    node_path(node, sizeof(node), 1, NULL);
    ck_assert_int_eq(harness_set_permissions(harness, node, "n9 r5 r1"), 0);
    barrier_pass(&barrier_generation);
    char *output = status_text();
    ck_assert_msg(strstr(output, "br1 exists but is owned by domain 9, not by me (domain 1): "
                                 "not using it"), "status was:\n%s", output);
    free(output);

    /* Its bridge becomes ready: nothing is written into the foreign node. */
    set_backend(1, 0, true);
    barrier_pass(&barrier_generation);
    ck_assert(!read_ready(1));
    ck_assert_uint_eq(read_generation(1), 1);

    /* Given back to DomD: the truth, one generation further. */
    ck_assert_int_eq(harness_set_permissions(harness, node, "n1 r5"), 0);
    ck_assert_int_eq(xs_wait_settled(frontend, node, "ready", TIMEOUT_MS), 0);
    ck_assert_uint_eq(read_generation(1), 2);

    /* Taken so that DomD may not even read it; then removed by its new
     * owner: made again by DomD, with what changed meanwhile. */
    node_path(node, sizeof(node), 0, NULL);
    ck_assert_int_eq(harness_set_permissions(harness, node, "n9 r5"), 0);
    set_backend(0, 0, true);
    barrier_pass(&barrier_generation);
    output = status_text();
    ck_assert_msg(strstr(output, "br0 exists but I (domain 1) may not read it"),
                  "status was:\n%s", output);
    free(output);
    char *state = read_node(dom0, 0, "state");
    ck_assert_str_eq(state, "waiting");
    free(state);
    ck_assert(xs_rm(dom0, XBT_NULL, node));
    ck_assert_int_eq(xs_wait_settled(frontend, node, "ready", TIMEOUT_MS), 0);
    wait_node_key(0, "device-tree-path", "/pcie@0");
    ck_assert_uint_eq(read_generation(0), 2);
    xs_assert_node_protected(frontend, node, DOMD, FRONTEND);
    output = status_text();
    ck_assert_msg(!strstr(output, "signal xenstore"), "status was:\n%s", output);
    free(output);
}
END_TEST

/* two_bridges and a bridge whose backend lies in another subtree of DomD's
 * home, so that it needs one more watch. */
static char *config_with_new_subtree(void)
{
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config, "%s\n[backend disk]\nprobe = xenstore\n"
                              "path = backend/vdisk/5/0/state\nvalue = 4\n\n"
                              "[bridge domu1/br2]\ndevice-tree-path = /pcie@2\n"
                              "backends = disk\n", two_bridges), 0);
    return config;
}

/* A reload adds a subtree, so the daemon needs one more watch, when other
 * clients of DomD have used up its watch quota (xenstored -W). A reload is
 * all or nothing: it fails, says why (the quota), and the running
 * configuration stays wholly in force; once room returns the same reload
 * goes through and the new bridge follows its backend. */
START_TEST(watch_quota_exhausted_at_run_time)
{
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, two_bridges), 0);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    struct xs_handle *client = harness_open(harness, DOMD);
    ck_assert_ptr_nonnull(client);
    ck_assert_int_gt(xs_take_every_watch(client, "/local/domain/1/data/taken"), 0);

    char *config = config_with_new_subtree();
    ck_assert_int_eq(xs_write_string(domd, "backend/vdisk/5/0/state", "4"), 0);
    ck_assert_int_eq(daemon_runner_reload(&runner, config), 1);
    char *errors = NULL;
    ck_assert_int_ge(daemon_runner_log_errors(&runner, &errors), 1);
    ck_assert_msg(strstr(errors, "cannot watch /local/domain/1/backend in xenstore: Argument list "
                                 "too long (xenstored's watch quota of this domain, -W, is used "
                                 "up)"), "errors logged:\n%s", errors);
    ck_assert_msg(strstr(errors, "reload failed: Argument list too long"),
                  "errors logged:\n%s", errors);
    free(errors);
    daemon_runner_drain(&runner);
    char *output = status_text();
    ck_assert_msg(!strstr(output, "domu1/br2") && !strstr(output, "disk"), "status was:\n%s",
                  output);
    free(output);
    char node[64];
    node_path(node, sizeof(node), 2, "state");
    ck_assert_ptr_null(xs_read_string(frontend, node));
    /* The running configuration goes on. */
    set_backend(0, 0, true);
    node_path(node, sizeof(node), 0, NULL);
    ck_assert_int_eq(xs_wait_settled(frontend, node, "ready", TIMEOUT_MS), 0);

    /* Room returns: the same reload goes through. */
    ck_assert(xs_unwatch(client, "/local/domain/1/data/taken0", "taken"));
    ck_assert_int_eq(daemon_runner_reload(&runner, config), 0);
    node_path(node, sizeof(node), 2, NULL);
    ck_assert_int_eq(xs_wait_settled(frontend, node, "ready", TIMEOUT_MS), 0);
    ck_assert_uint_eq(read_generation(2), 2);
    ck_assert_uint_eq(read_generation(0), 2);   /* br0 not touched by the reloads */
    free(config);
    xs_close(client);
}
END_TEST

/* At start there is no running configuration to keep: a watch xenstored
 * refuses for lack of room leaves its backends not ready, with the reason
 * in status, the other bridges work, and the watch is armed at the next
 * xenstore event once room returns (xenstored does not announce room). */
START_TEST(watch_quota_exhausted_at_start)
{
    struct xs_handle *client = harness_open(harness, DOMD);
    ck_assert_ptr_nonnull(client);
    /* Room for the first subtree's watch (device-model), not for more. */
    int taken = xs_take_every_watch(client, "/local/domain/1/data/taken");
    ck_assert(xs_unwatch(client, "/local/domain/1/data/taken0", "taken"));
    char *config = config_with_new_subtree();
    ck_assert_int_eq(xs_write_string(domd, "backend/vdisk/5/0/state", "4"), 0);
    start_daemon(config);
    free(config);
    daemon_runner_drain(&runner);
    char *output = status_text();
    ck_assert_msg(strstr(output, "not watched: xenstored refused a watch on "), "status was:\n%s",
                  output);
    free(output);
    char node[64];
    node_path(node, sizeof(node), 0, NULL);
    set_backend(0, 0, true);
    ck_assert_int_eq(xs_wait_settled(frontend, node, "ready", TIMEOUT_MS), 0);

    /* Room returns; the next event the daemon gets arms what was refused. */
    for (int i = 1; i < taken; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/local/domain/1/data/taken%d", i);
        ck_assert(xs_unwatch(client, path, "taken"));
    }
    set_backend(1, 0, true);
    node_path(node, sizeof(node), 2, NULL);
    ck_assert_int_eq(xs_wait_settled(frontend, node, "ready", TIMEOUT_MS), 0);
    output = status_text();
    ck_assert_msg(!strstr(output, "not watched"), "status was:\n%s", output);
    free(output);
    xs_close(client);
}
END_TEST

/* Writes DomD nodes through client until xenstored refuses for lack of
 * memory, big ones first, then ever smaller: the quota is used up to the
 * last few bytes. */
static void use_up_memory(struct xs_handle *client)
{
    static char value[1025];
    int count = 0;
    for (unsigned int size = 1024; size >= 1; size /= 4) {
        memset(value, 'm', size);
        value[size] = '\0';
        for (;; count++) {
            char path[64];
            snprintf(path, sizeof(path), "data/fill/%d", count);
            int r = xs_write_string(client, path, value);
            if (r == 0)
                continue;
            ck_assert_msg(r == -EIO || r == -ENOMEM, "filling: %s", strerror(-r));
            break;
        }
    }
}

/* DomD's memory quota (xenstored -Q memory) used up by another client of
 * DomD. xenstored then refuses DomD's new nodes (EIO), its longer replies
 * (ENOMEM), and silently drops its watch events. A bridge added by a reload
 * cannot get its node: status says so, with the quota. Bridges whose
 * publication needs no new memory keep working (an announced backend). A
 * backend change xenstored did not tell the daemon about, and the missing
 * node, are both made good at the first xenstore event after room returns:
 * after a refusal for memory the daemon reads every backend again. */
START_TEST(memory_quota_exhausted_at_run_time)
{
    static const char config_a[] =
        "[frontend domu1]\ndomid = 5\n\n"
        "[backend barrier]\nprobe = xenstore\npath = device-model/5/barrier\nvalue = up\n\n"
        "[bridge domu1/barrier]\ndevice-tree-path = /barrier\nbackends = barrier\n\n"
        "[backend ann]\nprobe = announce\nowner = uid:0\n\n"
        "[backend b1-0]\nprobe = xenstore\npath = device-model/5/b1-0/state\nvalue = running\n\n"
        "[bridge domu1/br0]\ndevice-tree-path = /pcie@0\nbackends = ann\n\n"
        "[bridge domu1/br1]\ndevice-tree-path = /pcie@1\nbackends = b1-0\n";
    /* Same size as "running": rewriting it needs no memory. */
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/b1-0/state", "stopped"), 0);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/b2-0/state", "stopped"), 0);
    start_daemon(config_a);
    struct xs_handle *client = harness_open(harness, DOMD);
    ck_assert_ptr_nonnull(client);
    use_up_memory(client);

    char *config = NULL;
    ck_assert_int_ge(asprintf(&config, "%s\n[backend b2-0]\nprobe = xenstore\n"
                              "path = device-model/5/b2-0/state\nvalue = running\n\n"
                              "[bridge domu1/br2]\ndevice-tree-path = /pcie@2\n"
                              "backends = b2-0\n", config_a), 0);
    ck_assert_int_eq(daemon_runner_reload(&runner, config), 0);
    free(config);
    daemon_runner_drain(&runner);
    char *output = status_text();
    ck_assert_msg(strstr(output, "domu1/br2: signal xenstore: cannot create "
                                 "/local/domain/5/xenready/br2: Input/output error") &&
                  strstr(output, "-Q memory") && strstr(output, "tried again"),
                  "status was:\n%s", output);
    free(output);

    /* An announced backend: its bridge is signalled all the same. */
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    char node[64];
    node_path(node, sizeof(node), 0, NULL);
    ck_assert_int_eq(xs_wait_settled(frontend, node, "ready", TIMEOUT_MS), 0);

    /* A change whose event xenstored drops: DomD is at its quota. */
    ck_assert_int_eq(xs_write_string(client, "device-model/5/b1-0/state", "running"), 0);

    /* Room returns (xenstored tells nobody); the next event the daemon gets
     * (the barrier) makes it read everything again and make br2's node. */
    ck_assert(xs_rm(client, XBT_NULL, "data/fill"));
    unsigned long barrier_generation = 1;
    barrier_pass(&barrier_generation);
    node_path(node, sizeof(node), 1, NULL);
    ck_assert_int_eq(xs_wait_settled(frontend, node, "ready", TIMEOUT_MS), 0);
    node_path(node, sizeof(node), 2, NULL);
    ck_assert_int_eq(xs_wait_settled(frontend, node, "waiting", TIMEOUT_MS), 0);
    wait_node_key(2, "device-tree-path", "/pcie@2");
    xs_assert_node_protected(frontend, node, DOMD, FRONTEND);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/b2-0/state", "running"), 0);
    ck_assert_int_eq(xs_wait_settled(frontend, node, "ready", TIMEOUT_MS), 0);
    output = status_text();
    ck_assert_msg(!strstr(output, "signal xenstore"), "status was:\n%s", output);
    free(output);
    xs_close(client);
}
END_TEST

static Suite *faults_suite(void)
{
    Suite *suite = suite_create("faults");
    struct {
        const char *name;
        const TTest *test;
        void (*setup)(void);
    } cases[] = {
        {"foreign write between state and generation",
         foreign_write_between_state_and_generation, setup},
        {"flapping", flapping_converges_to_the_truth, setup},
        {"flapping, every probe", flapping_of_every_kind_converges, setup},
        {"restarts", restarts_keep_the_truth, setup},
        {"xenstored restart", reconnects_when_xenstored_comes_back, setup},
        {"node quota", node_quota_is_reported_and_recovered, setup_small_quota},
        {"hostile values", hostile_backend_values_do_not_count, setup},
        {"foreign node", signal_node_made_by_another_domain_is_not_used, setup},
        {"tampered generation", tampered_generation_is_replaced, setup},
        {"permissions", third_domain_can_neither_read_nor_write, setup},
        {"node removed", removed_node_is_made_again, setup},
        {"keys changed", changed_keys_are_written_again, setup},
        {"node taken over", node_taken_over_is_not_used, setup},
        {"watch quota", watch_quota_exhausted_at_run_time, setup_small_watch_quota},
        {"watch quota at start", watch_quota_exhausted_at_start, setup_small_watch_quota},
        {"memory quota", memory_quota_exhausted_at_run_time, setup_memory_quota},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tcase = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tcase, cases[i].setup, teardown);
        tcase_set_timeout(tcase, 120);
        tcase_add_test(tcase, cases[i].test);
        suite_add_tcase(suite, tcase);
    }
    /* By another client of DomD (_i = 0), and by dom0 (_i = 1). */
    TCase *tcase = tcase_create("transactions");
    tcase_add_checked_fixture(tcase, setup, teardown);
    tcase_set_timeout(tcase, 120);
    tcase_add_loop_test(tcase, transactions_of_others_never_reach_the_daemon, 0, 2);
    suite_add_tcase(suite, tcase);
    return suite;
}

int main(void)
{
    /* The unit backends of the every-probe flapping need a bus. */
    return integration_main(faults_suite(), fake_systemd_missing());
}
