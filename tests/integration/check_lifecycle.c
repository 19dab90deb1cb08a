// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Truth under change, against the real xenstored: a reload, xenstored going
 * away, a restart. What is known is carried across each: an identical
 * reload is invisible to frontends (no event on their nodes, no generation
 * bump, no transition logged, no `since` reset), a reload is all or nothing,
 * an outage blinds only what goes through xenstore, and a restart keeps what
 * was announced. The daemon is unprivileged DomD (1) unless said otherwise,
 * the frontend domain 5.
 */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "fake-evtchn-control.h"
#include "harness.h"
#include "mixed-backends.h"

enum { DOMD = 1, FRONTEND = 5, TIMEOUT_MS = 10000 };

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd, *frontend, *dom0;
static struct mixed mixed;
static struct peer backend;          /* a socket backend of the outage test */
static char *evtchn_dir;

static void setup(void)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    ck_assert_ptr_nonnull(domd = harness_open(harness, DOMD));
    ck_assert_ptr_nonnull(frontend = harness_open(harness, FRONTEND));
    ck_assert_ptr_nonnull(dom0 = harness_open(harness, 0));
}

static void teardown(void)
{
    daemon_runner_finish(&runner);
    mixed_stop(&mixed);
    peer_kill(&backend);
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

static long long now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000LL + now.tv_nsec / 1000000;
}

static void bridge_node(char *path, size_t size, const char *id, const char *key)
{
    snprintf(path, size, "/local/domain/5/xenready/%s%s%s", id, key ? "/" : "", key ? key : "");
}

static unsigned long generation_of(const char *id)
{
    char path[96];
    bridge_node(path, sizeof(path), id, "generation");
    char *value = xs_read_string(frontend, path);
    ck_assert_msg(value, "%s cannot be read", path);
    unsigned long generation = strtoul(value, NULL, 10);
    free(value);
    return generation;
}

static void assert_settled(const char *id, const char *state)
{
    char path[96];
    bridge_node(path, sizeof(path), id, NULL);
    ck_assert_msg(xs_wait_settled(frontend, path, state, TIMEOUT_MS) == 0, "%s never showed %s",
                  id, state);
}

/* ---- what the frontends see: every event on their nodes ---- */

/* A dom0 connection watching nodes; a marker written last tells that every
 * event before it has arrived (xs_events_until_marker()). */
struct node_events {
    struct xs_handle *handle;
    unsigned long marker;
};

static void node_events_begin(struct node_events *events, const char *const *ids)
{
    *events = (struct node_events){.handle = harness_open(harness, 0)};
    ck_assert_ptr_nonnull(events->handle);
    for (size_t i = 0; ids[i]; i++) {
        char path[96];
        bridge_node(path, sizeof(path), ids[i], NULL);
        ck_assert(xs_watch(events->handle, path, ids[i]));
    }
    ck_assert(xs_watch(events->handle, "/marker", "marker"));
    /* Every new watch fires once: those go first. */
    xs_events_until_marker(events->handle, &events->marker, NULL, NULL);
}

struct event_list {
    FILE *stream;
    int count;
};

static void event_list_add(const char *path, const char *token, void *data)
{
    struct event_list *list = data;
    fprintf(list->stream, "%s\n", path);
    list->count++;
}

/* The events on the watched nodes since the last call (their paths, one per
 * line, in *what when not NULL), up to a marker written now. */
static int node_events_take(struct node_events *events, char **what)
{
    size_t size = 0;
    char *text = NULL;
    struct event_list list = {.stream = open_memstream(&text, &size)};
    xs_events_until_marker(events->handle, &events->marker, event_list_add, &list);
    fclose(list.stream);
    if (what)
        *what = text;
    else
        free(text);
    return list.count;
}

static void node_events_end(struct node_events *events)
{
    xs_close(events->handle);
}

/* ---- the log ---- */

/* The captured log from offset on; *offset moves to its end. */
static char *log_since(size_t *offset)
{
    char *text = daemon_runner_log_text(&runner);
    ck_assert_ptr_nonnull(text);
    size_t length = strlen(text);
    char *rest = strdup(*offset <= length ? text + *offset : "");
    *offset = length;
    free(text);
    return rest;
}

/* Waits (inotify on the captured log, no polling) until the log has needle. */
static void wait_log(const char *needle)
{
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(inotify_add_watch(fd, runner.log_path, IN_MODIFY), 0);
    long long deadline = now_ms() + TIMEOUT_MS;
    for (;;) {
        char *text = daemon_runner_log_text(&runner);
        bool found = text && strstr(text, needle);
        free(text);
        if (found)
            break;
        long long left = deadline - now_ms();
        ck_assert_msg(left > 0, "never logged: %s", needle);
        struct pollfd pollfd = {.fd = fd, .events = POLLIN};
        if (poll(&pollfd, 1, (int)left) > 0) {
            char events[4096];
            while (read(fd, events, sizeof(events)) > 0)
                ;
        }
    }
    close(fd);
}

static int count_lines_with(const char *text, const char *needle)
{
    int count = 0;
    for (const char *at = text; (at = strstr(at, needle)); at += strlen(needle))
        count++;
    return count;
}

/* ---- status --json ---- */

/* The member name of bridge id in status --json, as a string (malloc'd). */
static char *status_member(const char *id, const char *name)
{
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output,
                                       (const char *[]){"status", "--json", NULL}), 0);
    struct json_object *status = json_tokener_parse(output), *bridges;
    free(output);
    ck_assert_ptr_nonnull(status);
    ck_assert(json_object_object_get_ex(status, "bridges", &bridges));
    char wanted[64];
    snprintf(wanted, sizeof(wanted), "domu1/%s", id);
    char *value = NULL;
    for (size_t i = 0; i < json_object_array_length(bridges); i++) {
        struct json_object *bridge = json_object_array_get_idx(bridges, i), *member;
        if (json_object_object_get_ex(bridge, "name", &member)
            && strcmp(json_object_get_string(member), wanted) == 0
            && json_object_object_get_ex(bridge, name, &member))
            value = strdup(json_object_get_string(member));
    }
    json_object_put(status);
    return value;
}

/* `since` has a resolution of one second: so that a reload that reset it
 * would show, the clock is let pass into the next second first (this makes
 * time pass; it synchronises nothing). */
static void let_a_second_begin(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct timespec until = {.tv_sec = now.tv_sec + 1, .tv_nsec = 1000000};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
}

/* valgrind 3.19 has no pidfd_open(): under it the daemon cannot follow a
 * process, so a pidfile's process counts as not running and the death of a
 * socket's holder is no event (check_faults says the same). */
static bool under_valgrind(void)
{
    return getenv("XENREADY_VALGRIND") != NULL;
}

/* ---- every probe kind live ---- */

static const char *const mixed_ids[] = {"br0", "br1", "br2", "br3", "br4", "br5", "br6", NULL};

/* The daemon with backends of every kind (mixed-backends.h), all up (but
 * the pidfile's under valgrind) and every bridge settled on the frontend. */
static void start_mixed(bool up[MIXED_BACKENDS])
{
    mixed_init(&mixed, harness, &runner, domd);
    /* The pidfile backend's key stays, as QEMU's does: its process decides. */
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/p0/state", "running"), 0);
    char *config = mixed_config(&mixed);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    free(config);
    runner.system_bus = mixed.fake_systemd.address;
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    unsigned int seed = 1;
    for (int k = 0; k < MIXED_BACKENDS; k++) {
        mixed_set(&mixed, k, true, &seed);
        up[k] = !(under_valgrind() && mixed_backends[k].kind == KIND_PIDFILE);
    }
    char status[1024];
    mixed_status(up, status, sizeof(status));
    ck_assert_msg(daemon_runner_wait_status(&runner, status, TIMEOUT_MS) == 0,
                  "STATUS never became \"%s\"; last \"%s\"", status, runner.last_status);
    for (int i = 0; mixed_ids[i]; i++)
        assert_settled(mixed_ids[i], mixed_truth(up, i) ? "ready" : "waiting");
}

/* Issue 1: a reload with the configuration unchanged, by xenreadyctl and
 * by SIGHUP, changes nothing a frontend sees, logs no transition, bumps no
 * generation and keeps every bridge's `since`: announced backends stay
 * announced, units known, sockets and processes followed. */
START_TEST(identical_reload_is_invisible)
{
    bool up[MIXED_BACKENDS];
    start_mixed(up);
    unsigned long generations[MIXED_BRIDGES];
    for (int i = 0; i < MIXED_BRIDGES; i++)
        generations[i] = generation_of(mixed_ids[i]);
    char *since = status_member("br4", "since");
    ck_assert_ptr_nonnull(since);
    struct node_events events;
    node_events_begin(&events, mixed_ids);
    size_t offset = 0;
    free(log_since(&offset));
    let_a_second_begin();

    for (int round = 0; round < 3; round++)
        ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"reload", NULL}), 0);
    ck_assert_int_eq(kill(runner.pid, SIGHUP), 0);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"reload", NULL}), 0);

    char *what = NULL;
    int count = node_events_take(&events, &what);
    ck_assert_msg(count == 0, "%d event(s) on the frontend's nodes:\n%s", count, what);
    free(what);
    node_events_end(&events);
    for (int i = 0; i < MIXED_BRIDGES; i++)
        ck_assert_uint_eq(generation_of(mixed_ids[i]), generations[i]);
    char *log = log_since(&offset);
    ck_assert_int_eq(count_lines_with(log, "reloaded:"), 5);
    ck_assert_msg(!strstr(log, ") ready:") && !strstr(log, ") waiting:")
                      && !strstr(log, ">backend "),
                  "a reload logged transitions or backend changes:\n%s", log);
    free(log);
    char *since_after = status_member("br4", "since");
    ck_assert_str_eq(since_after, since);
    free(since);
    free(since_after);
    char status[1024];
    mixed_status(up, status, sizeof(status));
    ck_assert_str_eq(runner.last_status, status);
}
END_TEST

/* The mixed configuration with a bridge br7 added, which needs a backend
 * of every kind of its own (another socket, unit, announcement, xenstore
 * key, pidfile) and one of br0's: written alternately with the plain one. */
static char *changed_config(void)
{
    char *base = mixed_config(&mixed), *config = NULL, unit[128];
    const char *dir = harness_directory(harness);
    ck_assert_int_ge(asprintf(&config, "%s\n[backend x9]\nprobe = xenstore\n"
                              "path = device-model/5/x9/state\nvalue = running\n"
                              "\n[backend s9]\nprobe = socket\npath = %s/s9.sock\n"
                              "\n[backend u9]\n%s"
                              "\n[backend a9]\nprobe = announce\nowner = uid:%u\n"
                              "\n[backend p9]\nprobe = xenstore\npath = device-model/5/p9/state\n"
                              "value = running\npidfile = %s/p9.pid\n"
                              "\n[bridge domu1/br7]\ndevice-tree-path = /pcie@7\n"
                              "backends = x9 s9 u9 a9 p9 x0\n", base, dir,
                              mixed_unit_backend("u9", unit, sizeof(unit)),
                              (unsigned int)geteuid(), dir), 0);
    free(base);
    return config;
}

/* Issue 1, soaked: 200 reloads alternating an identical and a changed
 * configuration (a bridge with backends of every kind added and removed)
 * with every probe kind live: the frontends of the unchanged bridges see
 * no event and no bump, and nothing is logged as a transition of theirs. */
START_TEST(reload_soak_leaves_unchanged_bridges_alone)
{
    enum { RELOADS = 200 };
    bool up[MIXED_BACKENDS];
    start_mixed(up);
    unsigned long generations[MIXED_BRIDGES];
    for (int i = 0; i < MIXED_BRIDGES; i++)
        generations[i] = generation_of(mixed_ids[i]);
    struct node_events events;
    node_events_begin(&events, mixed_ids);
    size_t offset = 0;
    free(log_since(&offset));
    char *plain = mixed_config(&mixed), *changed = changed_config();
    long long start = now_ms();
    for (int round = 0; round < RELOADS; round++) {
        /* plain, changed, changed, plain, …: identical and changing ones. */
        ck_assert_msg(daemon_runner_reload(&runner, (round + 1) % 4 < 2 ? plain : changed) == 0,
                      "reload %d failed", round);
        daemon_runner_drain(&runner);
    }
    printf("%d reloads in %lld ms\n", RELOADS, now_ms() - start);
    char *what = NULL;
    int count = node_events_take(&events, &what);
    ck_assert_msg(count == 0, "%d event(s) on unchanged bridges' nodes:\n%s", count, what);
    free(what);
    node_events_end(&events);
    for (int i = 0; i < MIXED_BRIDGES; i++)
        ck_assert_uint_eq(generation_of(mixed_ids[i]), generations[i]);
    char *log = log_since(&offset);
    for (int i = 0; mixed_ids[i]; i++) {
        char needle[48];
        snprintf(needle, sizeof(needle), "bridge domu1/%s ", mixed_ids[i]);
        ck_assert_msg(!strstr(log, needle), "%s logged during the soak:\n%.2000s", needle,
                      strstr(log, needle));
    }
    ck_assert_int_eq(count_lines_with(log, "reloaded:"), RELOADS);
    free(log);
    free(plain);
    free(changed);
    char status[1024];
    mixed_status(up, status, sizeof(status));
    ck_assert_str_eq(runner.last_status, status);
}
END_TEST

/* A changed reload is not a rebuild either: br7 added with backends of
 * every kind is observed (and shows the one that is up), and when the same
 * backends come up it becomes ready; removed again, it is let go of. */
START_TEST(changed_reload_observes_what_is_new)
{
    bool up[MIXED_BACKENDS];
    start_mixed(up);
    char *changed = changed_config();
    ck_assert_int_eq(daemon_runner_reload(&runner, changed), 0);
    free(changed);
    assert_settled("br7", "waiting");
    char *missing = status_member("br7", "backends_ready");
    ck_assert_str_eq(missing, "1");   /* x0, shared with br0, carried as up */
    free(missing);
    const char *dir = harness_directory(harness);
    char path[300];
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/x9/state", "running"), 0);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/p9/state", "running"), 0);
    struct peer s9, p9;
    snprintf(path, sizeof(path), "%s/s9.sock", dir);
    peer_start(&s9, (const char *[]){XENREADY_PEERS "/test-backend", path, NULL});
    peer_do(&s9, "listen", "ok");
    snprintf(path, sizeof(path), "pidfile %s/p9.pid", dir);
    peer_start(&p9, (const char *[]){XENREADY_PEERS "/test-backend", "/nonexistent/p9", NULL});
    peer_do(&p9, path, "ok");
    if (XENREADY_WITH_SYSTEMD)
        fake_systemd_set(&mixed.fake_systemd, "u9.service", "active");
    else
        mixed_unit_set(&mixed, "u9", true, NULL);   /* the announced stand-in */
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "a9", NULL}), 0);
    if (under_valgrind()) {
        /* p0 and p9 cannot be followed there. */
        ck_assert_int_eq(daemon_runner_wait_status(&runner, "5/8 bridges ready; waiting: "
                                                   "domu1/br5 (p0), domu1/br6 (p0), "
                                                   "domu1/br7 (p9)", TIMEOUT_MS), 0);
    } else {
        assert_settled("br7", "ready");
        ck_assert_uint_eq(generation_of("br7"), 2);
    }
    peer_kill(&s9);
    peer_kill(&p9);
}
END_TEST

/* Issue 4: a reload that cannot acquire what it needs (here a static event
 * channel the host never provided) fails, says why, and leaves the running
 * configuration wholly in force: no port bound or unbound, nothing
 * published, the daemon running. An identical reload binds nothing again
 * either. */
START_TEST(failed_reload_changes_nothing)
{
    evtchn_dir = fake_evtchn_dir_new(harness_directory(harness));
    ck_assert_ptr_nonnull(evtchn_dir);
    ck_assert_int_eq(fake_evtchn_provision_static(evtchn_dir, DOMD, 7, FRONTEND, 9), 0);
    const char *config =
        "[frontend domu1]\ndomid = 5\n"
        "[backend dm]\nprobe = device-model\nfrontend = domu1\n"
        "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = dm\n"
        "signal = xenstore evtchn static-evtchn\nstatic-evtchn-port = 7\n";
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(fake_evtchn_use(evtchn_dir, DOMD), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    assert_settled("pcie0", "ready");
    /* STATUS= follows every signaller's publication of the change (the
     * node is written first, the channels notified after it). */
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "1/1 bridges ready", TIMEOUT_MS), 0);
    size_t binds = fake_evtchn_count(evtchn_dir, "1 bind");
    size_t unbinds = fake_evtchn_count(evtchn_dir, "1 unbind");
    size_t notifies = fake_evtchn_count(evtchn_dir, "1 notify");
    ck_assert_uint_eq(binds, 2);
    ck_assert_uint_eq(notifies, 2);   /* the dynamic channel and the static one */

    char *broken = NULL;
    ck_assert_int_ge(asprintf(&broken, "%s[bridge domu1/pcie1]\ndevice-tree-path = /pcie@1\n"
                              "backends = dm\nsignal = static-evtchn\nstatic-evtchn-port = 8\n",
                              config), 0);
    ck_assert_int_eq(daemon_runner_reload(&runner, broken), 1);
    free(broken);
    char *errors = NULL;
    ck_assert_int_ge(daemon_runner_log_errors(&runner, &errors), 1);
    ck_assert_msg(strstr(errors, "cannot bind static event channel 8"), "errors:\n%s", errors);
    ck_assert_msg(strstr(errors, "reload failed: "), "errors:\n%s", errors);
    free(errors);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "reload failed, kept the running "
                                               "configuration; 1/1 bridges ready", TIMEOUT_MS),
                     0);
    ck_assert_ptr_null(xs_read_string(frontend, "/local/domain/5/xenready/pcie1/state"));
    /* Only the refused attempt; nothing of the running one moved. */
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 bind-static 8 refused"), 1);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 bind"), binds + 1);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 unbind"), unbinds);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 notify"), notifies);

    /* Identical: no bind, unbind or notification at all. */
    ck_assert_int_eq(daemon_runner_reload(&runner, config), 0);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 bind"), binds + 1);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 unbind"), unbinds);
    ck_assert_uint_eq(fake_evtchn_count(evtchn_dir, "1 notify"), notifies);
    ck_assert_uint_eq(generation_of("pcie0"), 2);

    /* Still following the running configuration. */
    ck_assert(xs_rm(domd, XBT_NULL, "device-model/5/state"));
    assert_settled("pcie0", "waiting");
    ck_assert_uint_eq(generation_of("pcie0"), 3);
}
END_TEST

/* Issue 4: sysrq keys are written when a bridge becomes ready, not again at
 * every reload (dom0 runs the daemon here: only it may write them). */
START_TEST(identical_reload_rewrites_no_sysrq_key)
{
    const char *config =
        "[frontend domu1]\ndomid = 5\n"
        "[backend dm]\nprobe = xenstore\npath = /local/domain/0/device-model/5/state\n"
        "value = running\n"
        "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = dm\n"
        "signal = xenstore sysrq\nsysrq-key = r\n";
    ck_assert_int_eq(daemon_runner_init(&runner, harness, 0, config), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    struct xs_handle *watcher = harness_open(harness, 0);
    ck_assert_ptr_nonnull(watcher);
    ck_assert_int_eq(xs_write_string(dom0, "/local/domain/0/device-model/5/state", "running"),
                     0);
    ck_assert_int_eq(xs_wait_value(watcher, "/local/domain/5/control/sysrq",
                                   "/local/domain/5/control/sysrq", "r", TIMEOUT_MS), 0);
    ck_assert(xs_watch(watcher, "/local/domain/5/control/sysrq", "sysrq"));
    ck_assert(xs_watch(watcher, "/marker", "marker"));
    for (int round = 0; round < 3; round++)
        ck_assert_int_eq(daemon_runner_reload(&runner, config), 0);
    /* The first event of the watch is its registration; nothing after. */
    unsigned long marker = 0;
    struct event_list sysrq_events = {.stream = fopen("/dev/null", "we")};
    xs_events_until_marker(watcher, &marker, event_list_add, &sysrq_events);
    fclose(sysrq_events.stream);
    ck_assert_int_eq(sysrq_events.count, 1);
    xs_close(watcher);
}
END_TEST

/* A listening socket that accepts connections (the kernel's backlog) and
 * never reads or answers: a system bus whose broker is not up yet. */
static int silent_bus(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(path), sizeof(address.sun_path));
    memcpy(address.sun_path, path, strlen(path) + 1);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    return fd;
}

/* Issue 3: a bus that never answers delays neither a reload nor a stop (no
 * flushing close); its unit counts as down once the answer deadline (5 s)
 * has passed. The bound checked is far from what a blocking close takes
 * (sd-bus's authentication timeout, 90 s), wide enough for valgrind. */
START_TEST(silent_bus_delays_nothing)
{
    SKIP_WITHOUT_SYSTEMD("silent bus");
    char path[256], address[300];
    snprintf(path, sizeof(path), "%s/silent-bus", harness_directory(harness));
    snprintf(address, sizeof(address), "unix:path=%s", path);
    int bus = silent_bus(path);
    const char *config = TEST_CONFIG_FRONTEND TEST_CONFIG_BACKEND_DM
        "[backend svc]\nprobe = unit\nunit = svc.service\n\n"
        "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = dm\n\n"
        "[bridge domu1/pcie1]\ndevice-tree-path = /pcie@1\nbackends = svc\n";
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    runner.system_bus = address;
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    long long bound = getenv("XENREADY_VALGRIND") ? 10000 : 1000;

    long long start = now_ms();
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"reload", NULL}), 0);
    long long reload_ms = now_ms() - start;
    /* A changed configuration drops the unit probe and its connection. */
    start = now_ms();
    ck_assert_int_eq(daemon_runner_reload(&runner, TEST_CONFIG_FRONTEND TEST_CONFIG_BACKEND_DM
                                          "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\n"
                                          "backends = dm\n"), 0);
    long long drop_ms = now_ms() - start;
    ck_assert_int_eq(daemon_runner_reload(&runner, config), 0);
    /* Signals still flow meanwhile. */
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    assert_settled("pcie0", "ready");
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "1/2 bridges ready; waiting: "
                                               "domu1/pcie1 (svc)", TIMEOUT_MS), 0);
    wait_log("unit svc.service: systemd did not answer within 5 s; it counts as down");
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output, (const char *[]){"status", NULL}), 0);
    ck_assert_msg(strstr(output, "systemd did not answer within 5 s"), "status:\n%s", output);
    free(output);
    start = now_ms();
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    long long stop_ms = now_ms() - start;
    printf("silent bus: reload %lld ms, reload dropping it %lld ms, stop %lld ms\n", reload_ms,
           drop_ms, stop_ms);
    ck_assert_int_lt(reload_ms, bound);
    ck_assert_int_lt(drop_ms, bound);
    ck_assert_int_lt(stop_ms, bound);
    close(bus);
}
END_TEST

/* Events per bridge node, by watch token (the bridge's id). */
struct bridge_writes {
    const char *const *ids;
    int count[3];
};

static void count_bridge_write(const char *path, const char *token, void *data)
{
    struct bridge_writes *writes = data;
    for (int i = 0; i < 3; i++)
        writes->count[i] += strcmp(token, writes->ids[i]) == 0;
}

/* Issue 2: xenstored goes away under a daemon on dom0's socket. Meanwhile a
 * socket backend dies and an announced one is announced gone: both are
 * seen at once (the sources that need no xenstore go on; `gone` is taken).
 * A xenstore backend that was up is not in the new xenstored. There the
 * frontend is first shown the truth for each bridge: one write of its
 * state, "waiting", never a stale "ready" first. */
START_TEST(outage_blinds_only_what_needs_xenstore)
{
    struct xenstored_link link;
    char socket_path[300];
    snprintf(socket_path, sizeof(socket_path), "%s/vhost.sock", harness_directory(harness));
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config, "[frontend domu1]\ndomid = 5\n"
                              "[backend dm]\nprobe = device-model\nfrontend = domu1\n"
                              "[backend disk]\nprobe = xenstore\n"
                              "path = /local/domain/0/backend/vdisk/5/0/state\nvalue = 4\n"
                              "[backend vhost]\nprobe = socket\npath = %s\n"
                              "[backend ann]\nprobe = announce\nowner = uid:%u\n"
                              "[bridge domu1/br0]\ndevice-tree-path = /pcie@0\n"
                              "backends = dm vhost\n"
                              "[bridge domu1/br1]\ndevice-tree-path = /pcie@1\nbackends = ann\n"
                              "[bridge domu1/br2]\ndevice-tree-path = /pcie@2\nbackends = disk\n",
                              socket_path, (unsigned int)geteuid()), 0);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, 0, config), 0);
    free(config);
    xenstored_link_begin(&link, harness, &runner);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    peer_start(&backend, (const char *[]){XENREADY_PEERS "/test-backend", socket_path, NULL});
    peer_do(&backend, "listen", "ok");
    ck_assert_int_eq(xs_write_string(dom0, "/local/domain/0/device-model/5/state", "running"),
                     0);
    ck_assert_int_eq(xs_write_string(dom0, "/local/domain/0/backend/vdisk/5/0/state", "4"), 0);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    const char *ids[] = {"br0", "br1", "br2"};
    for (int i = 0; i < 3; i++)
        assert_settled(ids[i], "ready");

    ck_assert_int_eq(kill(harness_xenstored_pid(harness), SIGKILL), 0);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "xenstore connection lost; "
                                               "reconnecting; 3/3 bridges ready", TIMEOUT_MS), 0);
    /* Under valgrind its holder's death is no event: it goes with its file. */
    if (under_valgrind())
        peer_do(&backend, "unlink", "ok");
    else
        peer_kill(&backend);
    /* dm is not observed (xenstore is away), vhost is seen gone. */
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "xenstore connection lost; "
                                               "reconnecting; 2/3 bridges ready; waiting: "
                                               "domu1/br0 (dm vhost)", TIMEOUT_MS), 0);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"gone", "ann", NULL}), 0);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "xenstore connection lost; "
                                               "reconnecting; 1/3 bridges ready; waiting: "
                                               "domu1/br0 (dm vhost), domu1/br1 (ann)",
                                               TIMEOUT_MS), 0);

    /* A new xenstored, set up by the toolstack as xenreadyd(8) asks; the
     * disk backend's key is not there (yet). */
    struct harness *second = NULL;
    ck_assert_int_eq(harness_start(&second, NULL), 0);
    ck_assert_int_eq(harness_set_permissions(second, "/local/domain/5/xenready", "n0 r5"), 0);
    ck_assert_int_eq(harness_introduce(second, FRONTEND, "domu1"), 0);
    struct xs_handle *second_dom0 = harness_open(second, 0);
    struct xs_handle *second_frontend = harness_open(second, FRONTEND);
    ck_assert_ptr_nonnull(second_dom0);
    ck_assert_ptr_nonnull(second_frontend);
    ck_assert_int_eq(xs_write_string(second_dom0, "/local/domain/0/device-model/5/state",
                                     "running"), 0);
    /* Every write of each bridge's state in the new xenstored, from the
     * start: each watch fires once when made, then once per write. */
    for (int i = 0; i < 3; i++) {
        char key[96];
        bridge_node(key, sizeof(key), ids[i], "state");
        ck_assert(xs_watch(second_dom0, key, ids[i]));
    }
    xenstored_link_switch(&link, second);

    ck_assert_int_eq(daemon_runner_wait_status(&runner, "0/3 bridges ready; waiting: "
                                               "domu1/br0 (vhost), domu1/br1 (ann), "
                                               "domu1/br2 (disk)", TIMEOUT_MS), 0);
    for (int i = 0; i < 3; i++) {
        char node[96];
        bridge_node(node, sizeof(node), ids[i], NULL);
        ck_assert_int_eq(xs_wait_settled(second_frontend, node, "waiting", TIMEOUT_MS), 0);
        /* The generation after ours (2, ready). */
        bridge_node(node, sizeof(node), ids[i], "generation");
        char *generation = xs_read_string(second_frontend, node);
        ck_assert_str_eq(generation, "3");
        free(generation);
    }
    ck_assert(xs_watch(second_dom0, "/marker", "marker"));
    unsigned long marker = 0;
    struct bridge_writes writes = {.ids = ids};
    xs_events_until_marker(second_dom0, &marker, count_bridge_write, &writes);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(writes.count[i] - 1 == 1, "%s: its state was written %d times in the new "
                      "xenstored, expected once (waiting)", ids[i], writes.count[i] - 1);

    /* And the announcement goes on from there. */
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    ck_assert_int_eq(xs_wait_settled(second_frontend, "/local/domain/5/xenready/br1", "ready",
                                     TIMEOUT_MS), 0);

    daemon_runner_finish(&runner);
    xs_close(second_frontend);
    xs_close(second_dom0);
    harness_stop(second);
    xenstored_link_end(&link);
}
END_TEST

/* A macro: asprintf() checks its format when it is a literal. */
#define ANNOUNCED_CONFIG                                                           \
    TEST_CONFIG_FRONTEND TEST_CONFIG_BACKEND_DM                                    \
    "[backend ann]\nprobe = announce\nowner = uid:%u\n\n"                         \
    "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = ann\n\n"        \
    "[bridge domu1/pcie1]\ndevice-tree-path = /pcie@1\nbackends = dm\n"

/* Issue 8: announcements survive a restart of the daemon, by SIGTERM or
 * SIGKILL: the bridge stays ready with no bump and no transition logged.
 * One announced gone stays gone; one whose owner changed in between no
 * longer counts, and says why. */
START_TEST(restart_keeps_announcements)
{
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config, ANNOUNCED_CONFIG, (unsigned int)geteuid()), 0);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    assert_settled("pcie0", "ready");
    ck_assert_uint_eq(generation_of("pcie0"), 2);
    const char *ids[] = {"pcie0", NULL};
    struct node_events events;
    node_events_begin(&events, ids);
    size_t offset = 0;

    const int signals[] = {SIGTERM, SIGKILL};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(daemon_runner_stop(&runner, signals[i]),
                         signals[i] == SIGKILL ? 128 + SIGKILL : 0);
        daemon_runner_drain(&runner);
        free(log_since(&offset));
        ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
        ck_assert_str_eq(runner.last_status, "1/2 bridges ready; waiting: domu1/pcie1 (dm)");
        char *log = log_since(&offset);
        ck_assert_msg(strstr(log, "backend ann: announced ready by pid "),
                      "not restored:\n%s", log);
        ck_assert_msg(!strstr(log, "bridge domu1/pcie0 "), "a transition of pcie0:\n%s", log);
        free(log);
    }
    ck_assert_int_eq(node_events_take(&events, NULL), 0);
    ck_assert_uint_eq(generation_of("pcie0"), 2);

    /* Gone, then restarted: still gone. */
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"gone", "ann", NULL}), 0);
    assert_settled("pcie0", "waiting");
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ck_assert_str_eq(runner.last_status,
                     "0/2 bridges ready; waiting: domu1/pcie0 (ann), domu1/pcie1 (dm)");
    ck_assert_uint_eq(generation_of("pcie0"), 3);

    /* Announced again, then the owner changes while the daemon is down. */
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    assert_settled("pcie0", "ready");
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    free(config);
    ck_assert_int_ge(asprintf(&config, ANNOUNCED_CONFIG, (unsigned int)geteuid() + 1), 0);
    FILE *file = fopen(runner.config_path, "w");
    fputs(config, file);
    fclose(file);
    free(log_since(&offset));
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    assert_settled("pcie0", "waiting");
    char *log = log_since(&offset);
    ck_assert_msg(strstr(log, "backend ann: its announcement from before the restart no longer "
                              "counts: it was made for owner uid:"), "log:\n%s", log);
    /* A change found at start is a transition, logged with its cause. */
    ck_assert_msg(strstr(log, "bridge domu1/pcie0 (frontend domu1, domid 5) waiting: backend "
                              "ann went away: not announced yet"), "log:\n%s", log);
    free(log);
    free(config);
    node_events_end(&events);
}
END_TEST

/* Issue 7: what changed while the daemon was stopped is found at start and
 * logged as the transition it is (the frontend was shown "ready"). */
START_TEST(change_found_at_start_is_a_transition)
{
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, TEST_CONFIG_FRONTEND
                                        TEST_CONFIG_BACKEND_DM
                                        "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\n"
                                        "backends = dm\n"), 0);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    assert_settled("pcie0", "ready");
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    ck_assert(xs_rm(domd, XBT_NULL, "device-model/5/state"));
    size_t offset = 0;
    free(log_since(&offset));
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    assert_settled("pcie0", "waiting");
    ck_assert_uint_eq(generation_of("pcie0"), 3);
    char *log = log_since(&offset);
    ck_assert_msg(strstr(log, "<4>bridge domu1/pcie0 (frontend domu1, domid 5) waiting: backend "
                              "dm went away: /local/domain/1/device-model/5/state does not "
                              "exist"), "log:\n%s", log);
    free(log);
    /* And unchanged while stopped: nothing logged as a transition. */
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    free(log_since(&offset));
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    log = log_since(&offset);
    ck_assert_msg(!strstr(log, "bridge domu1/pcie0 "), "log:\n%s", log);
    free(log);
}
END_TEST

/* A pair the daemon was stopped in the middle of writing (state written,
 * generation not yet: their parities disagree) is completed at start with
 * one bump for the one change, in both directions. Made here by hand, so
 * that it does not depend on where a SIGKILL lands. */
START_TEST(half_written_pair_is_completed_with_a_bump)
{
    struct {
        const char *id, *state, *generation, *truth, *expected;
    } nodes[] = {
        {"pcie0", "ready", "3", "ready", "4"},      /* waiting (3) -> ready, half done */
        {"pcie1", "waiting", "4", "waiting", "5"},  /* ready (4) -> waiting, half done */
    };
    for (int i = 0; i < 2; i++) {
        char path[96], perms[16];
        bridge_node(path, sizeof(path), nodes[i].id, NULL);
        snprintf(perms, sizeof(perms), "n%d r%d", DOMD, FRONTEND);
        ck_assert_int_eq(harness_set_permissions(harness, path, perms), 0);
        const char *keys[][2] = {{"state", nodes[i].state}, {"generation", nodes[i].generation},
                                 {"version", "1"}, {"backend-id", "1"}};
        for (int k = 0; k < 4; k++) {
            bridge_node(path, sizeof(path), nodes[i].id, keys[k][0]);
            ck_assert_int_eq(xs_write_string(domd, path, keys[k][1]), 0);
        }
        bridge_node(path, sizeof(path), nodes[i].id, "device-tree-path");
        ck_assert_int_eq(xs_write_string(domd, path, i ? "/pcie@1" : "/pcie@0"), 0);
    }
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, TEST_CONFIG_FRONTEND
                                        TEST_CONFIG_BACKEND_DM TEST_CONFIG_BACKEND_DISK
                                        "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\n"
                                        "backends = dm\n\n"
                                        "[bridge domu1/pcie1]\ndevice-tree-path = /pcie@1\n"
                                        "backends = disk\n"), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_settled(nodes[i].id, nodes[i].truth);
        char path[96];
        bridge_node(path, sizeof(path), nodes[i].id, "generation");
        char *generation = xs_read_string(frontend, path);
        ck_assert_msg(generation && strcmp(generation, nodes[i].expected) == 0,
                      "%s: generation %s, expected %s", nodes[i].id, generation,
                      nodes[i].expected);
        free(generation);
    }
}
END_TEST

/* A reload keeps `since` of a bridge whose state did not change, whatever
 * else the reload changed (xenreadyctl(1) promises it). */
START_TEST(reload_keeps_since)
{
    const char *config = TEST_CONFIG_FRONTEND TEST_CONFIG_BACKEND_DM TEST_CONFIG_BACKEND_DISK
                         "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = dm\n";
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    assert_settled("pcie0", "ready");
    char *since = status_member("pcie0", "since");
    let_a_second_begin();
    ck_assert_int_eq(daemon_runner_reload(&runner, config), 0);
    char *after = status_member("pcie0", "since");
    ck_assert_str_eq(after, since);
    free(after);
    char *changed = NULL;
    ck_assert_int_ge(asprintf(&changed, "%s\n[bridge domu1/pcie1]\ndevice-tree-path = /pcie@1\n"
                              "backends = disk\n", config), 0);
    ck_assert_int_eq(daemon_runner_reload(&runner, changed), 0);
    free(changed);
    after = status_member("pcie0", "since");
    ck_assert_str_eq(after, since);
    free(after);
    free(since);
}
END_TEST

static Suite *lifecycle_suite(void)
{
    Suite *suite = suite_create("lifecycle");
    const struct integration_case cases[] = {
        {"identical reload", identical_reload_is_invisible},
        {"reload soak", reload_soak_leaves_unchanged_bridges_alone},
        {"changed reload", changed_reload_observes_what_is_new},
        {"failed reload", failed_reload_changes_nothing},
        {"sysrq not rewritten", identical_reload_rewrites_no_sysrq_key},
        {"silent bus", silent_bus_delays_nothing},
        {"xenstored outage", outage_blinds_only_what_needs_xenstore},
        {"restart keeps announcements", restart_keeps_announcements},
        {"change found at start", change_found_at_start_is_a_transition},
        {"half-written pair", half_written_pair_is_completed_with_a_bump},
        {"reload keeps since", reload_keeps_since},
    };
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), setup, teardown);
    return suite;
}

int main(void)
{
    return integration_main(lifecycle_suite(), fake_systemd_missing());
}
