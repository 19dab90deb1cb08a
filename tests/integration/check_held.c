// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A guest held paused until its backends in other domains are up (issue 18),
 * against the real xenstored: xenreadyd in dom0 follows the bridges that
 * other xenreadyds publish (probe = xenready) and unpauses the frontend
 * (signal = unpause) through the libxenctrl stand-in (tests/fake-domctl,
 * preloaded into the dom0 daemon only). The publishers are the test itself
 * (writing a node as domain 1 or 2, for exact control of each key) or real
 * xenreadyds running as DomD 1 ("storage") and DomD 2 ("network"), each with
 * a runtime directory of its own. STATUS= of the dom0 daemon says when it has
 * handled a change; the stand-in's log says what reached the hypervisor.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "fake-domctl-control.h"
#include "harness.h"

enum { DOMD1 = 1, DOMD2 = 2, FRONTEND = 5, TIMEOUT_MS = 10000 };

#define XENREADY_DIR "/local/domain/5/xenready"
#define STORAGE_NODE XENREADY_DIR "/pcie0"
#define NETWORK_NODE XENREADY_DIR "/net0"

/* dom0's configuration: the storage bridge of DomD 1 and the network bridge
 * of DomD 2, each behind a bridge of its own that holds domu1 paused. Line
 * numbers: the network bridge is line 14, the storage bridge line 18, and
 * storage_lines are appended to the latter (from line 21 on). */
#define HELD_CONFIG(storage_lines)                                                     \
    "[frontend domu1]\ndomid = 5\n\n"                                    /* 1-3 */    \
    "[backend storage]\nprobe = xenready\nbridge = domu1/pcie0\npublisher = 1\n\n" /* 4-8 */ \
    "[backend network]\nprobe = xenready\nbridge = domu1/net0\npublisher = 2\n\n" /* 9-13 */ \
    "[bridge domu1/hold-network]\nbackends = network\nsignal = unpause\n\n" /* 14-17 */ \
    "[bridge domu1/hold-storage]\nbackends = storage\nsignal = unpause\n" storage_lines

/* What a DomD's own xenreadyd serves: bridge domu1/ID with one backend,
 * its xenstore key backend/a. */
#define PUBLISHER_CONFIG(id)                                                    \
    "[frontend domu1]\ndomid = 5\n"                                             \
    "[backend a]\nprobe = xenstore\npath = backend/a\nvalue = up\n"             \
    "[bridge domu1/" id "]\ndevice-tree-path = /pcie@10000000\nbackends = a\n"

#define WAITING_BOTH \
    "0/2 bridges ready; waiting: domu1/hold-network (network), domu1/hold-storage (storage)"
#define WAITING_STORAGE "1/2 bridges ready; waiting: domu1/hold-storage (storage)"
#define WAITING_NETWORK "1/2 bridges ready; waiting: domu1/hold-network (network)"
#define ALL_READY "2/2 bridges ready"

static struct harness *harness;
static struct daemon_runner held;              /* xenreadyd in dom0 */
static struct daemon_runner publisher[3];      /* xenreadyd in DomD 1 and 2 */
static struct xs_handle *dom0, *domd[3];
static char *domctl_dir;
/* xenstored started with --keep-orphans for the cases that ask for it. */
static bool keep_orphans;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Polls condition (a check every 10 ms) until it holds; false after the
 * deadline. For what no event announces: the stand-in's files. */
static bool poll_until(bool (*condition)(const void *), const void *data)
{
    long long deadline = now_ms() + TIMEOUT_MS;
    while (!condition(data)) {
        if (now_ms() > deadline)
            return false;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    return true;
}

static void setup_with(bool keep)
{
    static const char *const args[] = {"--keep-orphans", NULL};
    const struct harness_options options = {.xenstored_args = args};
    keep_orphans = keep;
    ck_assert_int_eq(harness_start(&harness, keep ? &options : NULL), 0);
    ck_assert_ptr_nonnull(dom0 = harness_open(harness, 0));
    /* Two driver domains, each with its backends' directory and the grant
     * of @introduceDomain and @releaseDomain that xenreadyd(8) asks for. */
    ck_assert_int_eq(harness_introduce(harness, DOMD1, "domd"), 0);
    ck_assert_int_eq(harness_introduce(harness, DOMD2, "domd2"), 0);
    ck_assert_int_eq(harness_set_permissions(harness, "/local/domain/1/backend", "n1"), 0);
    ck_assert_int_eq(harness_set_permissions(harness, "/local/domain/2/backend", "n2"), 0);
    struct xs_permissions grant[3] = {{.id = 0, .perms = XS_PERM_NONE},
                                      {.id = DOMD1, .perms = XS_PERM_READ},
                                      {.id = DOMD2, .perms = XS_PERM_READ}};
    ck_assert(xs_set_permissions(dom0, XBT_NULL, "@releaseDomain", grant, 3));
    ck_assert(xs_set_permissions(dom0, XBT_NULL, "@introduceDomain", grant, 3));
    ck_assert_ptr_nonnull(domd[DOMD1] = harness_open(harness, DOMD1));
    ck_assert_ptr_nonnull(domd[DOMD2] = harness_open(harness, DOMD2));
    ck_assert_ptr_nonnull(domctl_dir = fake_domctl_dir_new(harness_directory(harness)));
}

static void setup(void)
{
    setup_with(false);
}

static void setup_keep_orphans(void)
{
    setup_with(true);
}

static void teardown(void)
{
    daemon_runner_finish(&held);
    daemon_runner_finish(&publisher[DOMD1]);
    daemon_runner_finish(&publisher[DOMD2]);
    for (int i = 0; i < 3; i++)
        if (domd[i])
            xs_close(domd[i]);
    if (dom0)
        xs_close(dom0);
    dom0 = domd[1] = domd[2] = NULL;
    /* The harness removes its directory's files, not a subdirectory's. */
    if (domctl_dir) {
        const char *const names[] = {"log", "domain-5", "domain-5.new", "no-privilege",
                                     "no-control"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", domctl_dir, names[i]);
            unlink(path);
        }
        rmdir(domctl_dir);
    }
    harness_stop(harness);
    harness = NULL;
    free(domctl_dir);
    domctl_dir = NULL;
}

/* Like xl create (-p when paused): the domain in the hypervisor first, then
 * in xenstore. Two backend domains publish in one frontend's home, so the
 * toolstack keeps the xenready directory and gives each DomD its bridge's
 * node (with give_nodes; the probe cases let the test make them). Both
 * DomDs read the directory: a publishing xenreadyd tells whether its
 * frontend exists by reading it (daemon/xen/domains.c) and re-makes its
 * node for a frontend it saw come back. instance: the bytes of the
 * domain's handle. */
static void frontend_create(bool paused, unsigned char instance, bool give_nodes)
{
    ck_assert_int_eq(fake_domctl_create(domctl_dir, FRONTEND, paused, instance), 0);
    ck_assert_int_eq(harness_set_permissions(harness, XENREADY_DIR, "n0 r5 r1 r2"), 0);
    if (give_nodes) {
        ck_assert_int_eq(harness_set_permissions(harness, STORAGE_NODE, "n1 r5"), 0);
        ck_assert_int_eq(harness_set_permissions(harness, NETWORK_NODE, "n2 r5"), 0);
    }
    ck_assert_int_eq(harness_introduce(harness, FRONTEND, "domu1"), 0);
}

/* Like xl destroy: the domain dies, @releaseDomain, libxl removes its home. */
static void frontend_destroy(void)
{
    ck_assert_int_eq(fake_domctl_destroy(domctl_dir, FRONTEND), 0);
    ck_assert(xs_rm(dom0, XBT_NULL, "/local/domain/5"));
    ck_assert_int_eq(harness_release(harness, FRONTEND), 0);
}

static void held_child_setup(void *dir)
{
    if (fake_domctl_use(dir) < 0)
        _exit(125);
}

/* Starts xenreadyd in dom0 with the stand-in, its log captured. */
static void held_start(const char *config)
{
    ck_assert_int_eq(daemon_runner_init_in(&held, harness, 0, config, "dom0"), 0);
    held.child_setup = held_child_setup;
    held.child_data = domctl_dir;
    ck_assert_int_eq(daemon_runner_capture_log(&held), 0);
    ck_assert_int_eq(daemon_runner_start(&held, NULL), 0);
}

/* Waits for the dom0 daemon's STATUS=expected; a failure names the
 * caller's line and shows the daemon's log. */
#define held_wait_status(expected) held_wait_status_at(expected, __LINE__)
static void held_wait_status_at(const char *expected, int line)
{
    int r = daemon_runner_wait_status(&held, expected, TIMEOUT_MS);
    char *log = r ? daemon_runner_log_text(&held) : NULL;
    ck_assert_msg(r == 0, "line %d: no STATUS=\"%s\" from dom0; last was \"%s\"; its log:\n%s",
                  line, expected, held.last_status, log);
    free(log);
}

/* Stops the dom0 daemon, runs between() (may be NULL), starts it again. */
static void held_restart_around(void (*between)(const void *), const void *data)
{
    ck_assert_int_eq(daemon_runner_stop(&held, SIGTERM), 0);
    daemon_runner_drain(&held);
    held.last_status[0] = '\0';
    if (between)
        between(data);
    ck_assert_int_eq(daemon_runner_start(&held, NULL), 0);
}

/* xl destroy and xl create -p of the frontend: instance *data. */
static void frontend_replace(const void *instance)
{
    frontend_destroy();
    frontend_create(true, *(const unsigned char *)instance, true);
}

/* Starts xenreadyd in DomD domid with config, in a runtime directory of
 * its own. */
static void publisher_start(unsigned int domid, const char *config)
{
    char subdir[16];
    snprintf(subdir, sizeof(subdir), "domd%u", domid);
    ck_assert_int_eq(daemon_runner_init_in(&publisher[domid], harness, domid, config, subdir), 0);
    ck_assert_int_eq(daemon_runner_capture_log(&publisher[domid]), 0);
    ck_assert_int_eq(daemon_runner_start(&publisher[domid], NULL), 0);
}

/* The backend of DomD domid's own daemon comes up ("up") or goes. */
static void publisher_backend(unsigned int domid, const char *value)
{
    ck_assert_int_eq(xs_write_string(domd[domid], "backend/a", value), 0);
}

/* Both DomDs' daemons, their backends down: storage in DomD 1 (bridge
 * domu1/pcie0), network in DomD 2 (domu1/net0). */
static void publishers_start(void)
{
    publisher_start(DOMD1, PUBLISHER_CONFIG("pcie0"));
    publisher_start(DOMD2, PUBLISHER_CONFIG("net0"));
}

/* A key of a node written by the test as domain domid. */
static void node_write(unsigned int domid, const char *node, const char *key, const char *value)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", node, key);
    ck_assert_int_eq(xs_write_string(domd[domid], path, value), 0);
}

/* A settled pair as a publishing daemon writes it: state, then generation. */
static void node_publish(unsigned int domid, const char *node, const char *state,
                         unsigned int generation)
{
    char text[16];
    snprintf(text, sizeof(text), "%u", generation);
    node_write(domid, node, "state", state);
    node_write(domid, node, "generation", text);
}

/* A complete node made by the test as domain owner (the toolstack gives
 * the node to that domain), naming backend_id. */
static void node_make(unsigned int owner, const char *node, const char *backend_id,
                      const char *state, unsigned int generation)
{
    char perms[32];
    snprintf(perms, sizeof(perms), "n%u r5", owner);
    ck_assert_int_eq(harness_set_permissions(harness, node, perms), 0);
    node_write(owner, node, "backend-id", backend_id);
    node_write(owner, node, "version", "1");
    node_publish(owner, node, state, generation);
}

/* ---- what the dom0 daemon says (xenreadyctl status --json) ---- */

static struct json_object *held_status(void)
{
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&held, &output,
                                       (const char *[]){"status", "--json", NULL}), 0);
    struct json_object *status = json_tokener_parse(output);
    ck_assert_msg(status != NULL, "status is not JSON:\n%s", output);
    free(output);
    return status;
}

/* The named entry of the status's array member. */
static struct json_object *status_entry(struct json_object *status, const char *member,
                                        const char *name)
{
    struct json_object *array, *entry_name;
    ck_assert(json_object_object_get_ex(status, member, &array));
    for (size_t i = 0; i < json_object_array_length(array); i++) {
        struct json_object *entry = json_object_array_get_idx(array, i);
        if (json_object_object_get_ex(entry, "name", &entry_name)
            && strcmp(json_object_get_string(entry_name), name) == 0)
            return entry;
    }
    ck_abort_msg("no %s \"%s\" in status:\n%s", member, name, json_object_to_json_string(status));
    return NULL;
}

/* A backend's detail (malloc'd, NULL when there is none), checking ready. */
static char *backend_detail(const char *name, bool ready)
{
    struct json_object *status = held_status(), *member;
    struct json_object *backend = status_entry(status, "backends", name);
    ck_assert(json_object_object_get_ex(backend, "ready", &member));
    ck_assert_msg(json_object_get_boolean(member) == ready, "backend %s is%s ready:\n%s", name,
                  ready ? " not" : "", json_object_to_json_string(status));
    char *detail = NULL;
    if (json_object_object_get_ex(backend, "detail", &member) && member)
        detail = strdup(json_object_get_string(member));
    json_object_put(status);
    return detail;
}

static void assert_backend_detail(const char *name, const char *expected)
{
    char *detail = backend_detail(name, false);
    ck_assert_msg(detail && strcmp(detail, expected) == 0, "backend %s: detail \"%s\", expected "
                  "\"%s\"", name, detail ? detail : "(none)", expected);
    free(detail);
}

/* The unpause signal's error for bridge (malloc'd; NULL: none). */
static char *unpause_error(const char *bridge)
{
    struct json_object *status = held_status(), *signals, *member;
    struct json_object *entry = status_entry(status, "bridges", bridge);
    ck_assert(json_object_object_get_ex(entry, "signals", &signals));
    char *error = NULL;
    bool found = false;
    for (size_t i = 0; i < json_object_array_length(signals); i++) {
        struct json_object *signal = json_object_array_get_idx(signals, i);
        ck_assert(json_object_object_get_ex(signal, "method", &member));
        if (strcmp(json_object_get_string(member), "unpause") != 0)
            continue;
        found = true;
        if (json_object_object_get_ex(signal, "error", &member) && member)
            error = strdup(json_object_get_string(member));
    }
    ck_assert_msg(found, "no unpause signal for %s:\n%s", bridge,
                  json_object_to_json_string(status));
    json_object_put(status);
    return error;
}

/* ---- what reached the hypervisor ---- */

static size_t unpauses(const char *prefix)
{
    return fake_domctl_count(domctl_dir, prefix);
}

static bool unpaused_times(const void *count)
{
    return unpauses("unpause 5 ok") == *(const size_t *)count;
}

static bool log_has(const void *text)
{
    char *log = daemon_runner_log_text(&held);
    bool found = log && strstr(log, text);
    free(log);
    return found;
}

static void wait_log(const char *text)
{
    ck_assert_msg(poll_until(log_has, text), "dom0's log never said \"%s\"", text);
}

/* Whether the frontend is paused now, in the stand-in hypervisor (a macro:
 * a failure names the caller's line). */
#define assert_paused(paused) ck_assert_int_eq(fake_domctl_paused(domctl_dir, FRONTEND), paused)

/* ---- the probe: another daemon's bridge, read as a guest reads it ---- */

/* dom0's daemon on config and both publishers, no backend up yet. */
static void start_waiting(const char *config)
{
    held_start(config);
    publishers_start();
    held_wait_status(WAITING_BOTH);
}

/* The network backend goes and comes back, each step seen by dom0's
 * daemon. */
static void flap_network(void)
{
    publisher_backend(DOMD2, "gone");
    held_wait_status(WAITING_NETWORK);
    publisher_backend(DOMD2, "up");
    held_wait_status(ALL_READY);
}

/* dom0's daemon on config and both publishers, every backend up: both
 * bridges ready. */
static void start_all_ready(const char *config)
{
    held_start(config);
    publishers_start();
    publisher_backend(DOMD1, "up");
    publisher_backend(DOMD2, "up");
    held_wait_status(ALL_READY);
}

/* The test is the publisher (domain 1 for storage, 2 for network), so that
 * it can leave a pair half written. An unsettled pair must change nothing;
 * proving a non-event needs a later event: the other bridge's change, which
 * the daemon handles after it (xenstored sends a connection its watch
 * events in order), gives a STATUS= that says what the daemon made of both. */
START_TEST(probe_follows_settled_pairs_only)
{
    frontend_create(false, 1, false);
    held_start(HELD_CONFIG(""));
    held_wait_status(WAITING_BOTH);
    assert_backend_detail("storage", STORAGE_NODE " is not published (yet)");

    node_make(DOMD1, STORAGE_NODE, "1", "waiting", 1);
    node_make(DOMD2, NETWORK_NODE, "2", "waiting", 1);
    /* Waiting, settled: down, and said so. */
    node_publish(DOMD2, NETWORK_NODE, "ready", 2);
    held_wait_status(WAITING_STORAGE);
    assert_backend_detail("storage", STORAGE_NODE " is waiting (generation 1)");

    node_publish(DOMD1, STORAGE_NODE, "ready", 2);
    held_wait_status(ALL_READY);

    /* ready→waiting with only state written: unsettled, storage stays up. */
    node_write(DOMD1, STORAGE_NODE, "state", "waiting");
    node_publish(DOMD2, NETWORK_NODE, "waiting", 3);
    held_wait_status(WAITING_NETWORK);
    /* The pair completed: down. */
    node_write(DOMD1, STORAGE_NODE, "generation", "3");
    held_wait_status(WAITING_BOTH);
    assert_backend_detail("storage", STORAGE_NODE " is waiting (generation 3)");

    /* waiting→ready with an odd generation: unsettled, storage stays down. */
    node_write(DOMD1, STORAGE_NODE, "state", "ready");
    node_publish(DOMD2, NETWORK_NODE, "ready", 4);
    held_wait_status(WAITING_STORAGE);
    node_write(DOMD1, STORAGE_NODE, "generation", "4");
    held_wait_status(ALL_READY);

    /* A node being made again (no generation yet) that says "waiting":
     * ignored until the pair is there, so storage stays up; once it is,
     * it counts. */
    ck_assert(xs_rm(domd[DOMD1], XBT_NULL, STORAGE_NODE "/generation"));
    node_write(DOMD1, STORAGE_NODE, "state", "waiting");
    node_publish(DOMD2, NETWORK_NODE, "waiting", 5);
    held_wait_status(WAITING_NETWORK);
    node_write(DOMD1, STORAGE_NODE, "generation", "1");
    held_wait_status(WAITING_BOTH);

    /* A missing node is down. */
    node_publish(DOMD1, STORAGE_NODE, "ready", 2);
    node_publish(DOMD2, NETWORK_NODE, "ready", 6);
    held_wait_status(ALL_READY);
    ck_assert(xs_rm(domd[DOMD1], XBT_NULL, STORAGE_NODE));
    held_wait_status(WAITING_STORAGE);
    assert_backend_detail("storage", STORAGE_NODE " is not published (yet)");
}
END_TEST

/* Only the publisher's own node counts: one made by another domain, or one
 * that names another backend-id, says nothing about the publisher's bridge. */
START_TEST(probe_refuses_foreign_nodes)
{
    frontend_create(false, 1, false);
    held_start(HELD_CONFIG(""));
    node_make(DOMD2, NETWORK_NODE, "2", "ready", 2);
    held_wait_status(WAITING_STORAGE);

    /* Domain 2 made the storage node (the toolstack gave it to 2). */
    node_make(DOMD2, STORAGE_NODE, "1", "ready", 2);
    /* Events up to now: a change of network after it. */
    node_publish(DOMD2, NETWORK_NODE, "waiting", 3);
    held_wait_status(WAITING_BOTH);
    assert_backend_detail("storage", STORAGE_NODE " was made by domain 2, not by the publisher "
                                     "(domain 1): not used");

    /* Domain 1's node, naming domain 2 as its backend. */
    ck_assert(xs_rm(dom0, XBT_NULL, STORAGE_NODE));
    node_make(DOMD1, STORAGE_NODE, "2", "ready", 2);
    node_publish(DOMD2, NETWORK_NODE, "ready", 4);
    held_wait_status(WAITING_STORAGE);
    assert_backend_detail("storage", STORAGE_NODE " names backend-id 2, not the publisher "
                                     "(domain 1): not used");

    /* The same node, once right, counts: the refusals were about the node. */
    node_write(DOMD1, STORAGE_NODE, "backend-id", "1");
    held_wait_status(ALL_READY);
}
END_TEST

/* A publishing daemon that restarts (stopped or killed) leaves its node as
 * it was, and the dom0 daemon sees no change at all. */
START_TEST(probe_publisher_restarting)
{
    frontend_create(false, 1, true);
    start_all_ready(HELD_CONFIG(""));
    char *log = daemon_runner_log_text(&held);
    size_t up_at = strlen(log);
    free(log);

    /* DomD 1's daemon restarts, by SIGTERM and by SIGKILL. */
    char *before = xs_read_string(dom0, STORAGE_NODE "/generation");
    ck_assert_ptr_nonnull(before);
    const int signals[] = {SIGTERM, SIGKILL};
    for (size_t i = 0; i < 2; i++) {
        daemon_runner_stop(&publisher[DOMD1], signals[i]);
        daemon_runner_drain(&publisher[DOMD1]);
        ck_assert_int_eq(daemon_runner_start(&publisher[DOMD1], NULL), 0);
        /* Events up to now (its first scan is done: READY=1). */
        publisher_backend(DOMD2, "gone");
        held_wait_status(WAITING_NETWORK);
        publisher_backend(DOMD2, "up");
        held_wait_status(ALL_READY);
    }
    char *after = xs_read_string(dom0, STORAGE_NODE "/generation");
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    /* Not a single transition of storage in dom0's log since it was up. */
    log = daemon_runner_log_text(&held);
    ck_assert_msg(!strstr(log + up_at, "backend storage down"), "storage went down:\n%s",
                  log + up_at);
    free(log);
}
END_TEST

/* DomD 1 is destroyed (its daemon dies with it): what it published no
 * longer counts. xenstored deletes the nodes a released domain owned, or
 * with --keep-orphans gives them to dom0: then the node still says
 * "ready", from an owner that is not the publisher. */
START_TEST(probe_publisher_gone)
{
    frontend_create(false, 1, true);
    start_all_ready(HELD_CONFIG(""));

    daemon_runner_stop(&publisher[DOMD1], SIGKILL);
    ck_assert_int_eq(harness_release(harness, DOMD1), 0);
    held_wait_status(WAITING_STORAGE);
    if (!keep_orphans) {
        assert_backend_detail("storage", STORAGE_NODE " is not published (yet)");
        return;
    }
    assert_backend_detail("storage", STORAGE_NODE " was made by domain 0, not by the publisher "
                                     "(domain 1): not used");
    char *state = xs_read_string(dom0, STORAGE_NODE "/state");
    ck_assert_str_eq(state, "ready");
    free(state);
}
END_TEST

/* ---- the unpause ---- */

/* Storage in one DomD, network in another: the guest is unpaused once both
 * are ready, once. */
START_TEST(unpaused_once_when_every_bridge_is_ready)
{
    frontend_create(true, 1, true);
    start_waiting(HELD_CONFIG(""));

    publisher_backend(DOMD1, "up");
    held_wait_status(WAITING_NETWORK);
    assert_paused(true);
    ck_assert_uint_eq(unpauses("unpause "), 0);

    publisher_backend(DOMD2, "up");
    held_wait_status(ALL_READY);
    /* The unpause is done before the status that follows it. */
    assert_paused(false);
    ck_assert_uint_eq(unpauses("unpause 5 ok"), 1);
    char *error = unpause_error("domu1/hold-storage");
    ck_assert_ptr_null(error);

    /* A backend going and coming back asks nothing more of Xen; the
     * withdrawal the guest cannot be told of is said. */
    publisher_backend(DOMD2, "gone");
    held_wait_status(WAITING_NETWORK);
    wait_log("bridge domu1/hold-network: not ready any more; domain 5 runs (unpaused once) "
             "and signal = unpause cannot say so");
    publisher_backend(DOMD2, "up");
    held_wait_status(ALL_READY);
    ck_assert_uint_eq(unpauses("unpause "), 1);
    assert_paused(false);
}
END_TEST

/* A guest created running is not the daemon's to unpause, ever. */
START_TEST(not_created_paused_left_alone)
{
    frontend_create(false, 1, true);
    start_all_ready(HELD_CONFIG(""));
    wait_log("domain 5 (frontend domu1) is running: signal = unpause leaves it alone");
    /* An operator pauses it later: still not ours. */
    ck_assert_int_eq(fake_domctl_set_paused(domctl_dir, FRONTEND, true), 0);
    flap_network();
    ck_assert_uint_eq(unpauses("unpause "), 0);
    assert_paused(true);

    /* Nor after a restart of the dom0 daemon, which finds it paused: its
     * runtime directory says that it saw this instance running. */
    held_restart_around(NULL, NULL);
    held_wait_status(ALL_READY);
    flap_network();
    ck_assert_uint_eq(unpauses("unpause "), 0);
    assert_paused(true);
}
END_TEST

/* Created paused, but unpaused by someone else while its bridges waited:
 * the daemon sees it running at the next change and lets it be, also when
 * it is paused again before its bridges are ready. */
START_TEST(unpaused_by_someone_else_left_alone)
{
    frontend_create(true, 1, true);
    start_waiting(HELD_CONFIG(""));
    ck_assert_int_eq(fake_domctl_set_paused(domctl_dir, FRONTEND, false), 0);
    publisher_backend(DOMD1, "up");
    held_wait_status(WAITING_NETWORK);
    wait_log("domain 5 (frontend domu1) was unpaused by someone else: left alone from now on");
    ck_assert_int_eq(fake_domctl_set_paused(domctl_dir, FRONTEND, true), 0);
    publisher_backend(DOMD2, "up");
    held_wait_status(ALL_READY);
    ck_assert_uint_eq(unpauses("unpause "), 0);
    assert_paused(true);
}
END_TEST

/* Unpaused once, then paused by an operator (xl pause): theirs, across a
 * flapping backend and across a restart of the dom0 daemon (the record in
 * its runtime directory). */
START_TEST(operator_pause_is_not_undone)
{
    frontend_create(true, 1, true);
    start_all_ready(HELD_CONFIG(""));
    ck_assert_uint_eq(unpauses("unpause 5 ok"), 1);

    ck_assert_int_eq(fake_domctl_set_paused(domctl_dir, FRONTEND, true), 0);
    publisher_backend(DOMD1, "gone");
    held_wait_status(WAITING_STORAGE);
    publisher_backend(DOMD1, "up");
    held_wait_status(ALL_READY);
    assert_paused(true);
    ck_assert_uint_eq(unpauses("unpause "), 1);

    /* A restarted daemon finds the guest paused with every bridge ready:
     * the record says it unpaused this instance already. */
    char record[4096];
    snprintf(record, sizeof(record), "%s/unpaused", held.directory);
    ck_assert_int_eq(access(record, F_OK), 0);
    held_restart_around(NULL, NULL);
    held_wait_status(ALL_READY);
    flap_network();
    assert_paused(true);
    ck_assert_uint_eq(unpauses("unpause "), 1);
}
END_TEST

/* The domid reused: a new instance created paused is held and unpaused
 * again; one created running is left alone. */
START_TEST(new_instance_same_domid)
{
    frontend_create(true, 1, true);
    start_all_ready(HELD_CONFIG(""));
    ck_assert_uint_eq(unpauses("unpause 5 ok"), 1);

    /* xl destroy, xl create -p: a new handle. Its nodes are gone with its
     * home, so it waits until both DomDs published them again. */
    frontend_destroy();
    held_wait_status(WAITING_BOTH);
    frontend_create(true, 2, true);
    ck_assert_msg(poll_until(unpaused_times, &(size_t){2}), "the new instance was not unpaused");
    held_wait_status(ALL_READY);
    assert_paused(false);
    ck_assert_uint_eq(unpauses("unpause "), 2);

    /* Once more, created running this time. */
    frontend_destroy();
    held_wait_status(WAITING_BOTH);
    frontend_create(false, 3, true);
    held_wait_status(ALL_READY);
    /* And paused by an operator before anything else: not ours either. */
    ck_assert_int_eq(fake_domctl_set_paused(domctl_dir, FRONTEND, true), 0);
    flap_network();
    ck_assert_uint_eq(unpauses("unpause "), 2);
    assert_paused(true);

    /* Replaced while the dom0 daemon was stopped: its record names the
     * first instance it unpaused under this domid, but the handle tells
     * that this paused one is another. */
    held_restart_around(frontend_replace, &(unsigned char){4});
    ck_assert_msg(poll_until(unpaused_times, &(size_t){3}), "the new instance was not unpaused");
    assert_paused(false);
    ck_assert_uint_eq(unpauses("unpause "), 3);
}
END_TEST

/* The guest is created after both bridges are ready (its nodes made by the
 * toolstack ahead of it, as for the xenready directory): nothing changes
 * in the bridges, @introduceDomain alone brings it to the daemon's notice. */
START_TEST(created_after_its_bridges_were_ready)
{
    ck_assert_int_eq(harness_set_permissions(harness, XENREADY_DIR, "n0 r5 r1 r2"), 0);
    node_make(DOMD1, STORAGE_NODE, "1", "ready", 2);
    node_make(DOMD2, NETWORK_NODE, "2", "ready", 2);
    held_start(HELD_CONFIG(""));
    held_wait_status(ALL_READY);
    ck_assert_uint_eq(unpauses("unpause "), 0);

    ck_assert_int_eq(fake_domctl_create(domctl_dir, FRONTEND, true, 1), 0);
    ck_assert_int_eq(harness_introduce(harness, FRONTEND, "domu1"), 0);
    ck_assert_msg(poll_until(unpaused_times, &(size_t){1}), "the new domain was not unpaused");
    assert_paused(false);
}
END_TEST

/* ---- the start-up timeout ---- */

/* DomD 1 never publishes: with unpause-on-timeout = yes the guest is let go
 * when the storage bridge's timeout passes, reported degraded. */
START_TEST(unpaused_on_timeout_when_asked)
{
    frontend_create(true, 1, true);
    held_start(HELD_CONFIG("timeout = 1\nunpause-on-timeout = yes\n"));
    publisher_start(DOMD2, PUBLISHER_CONFIG("net0"));
    publisher_backend(DOMD2, "up");
    held_wait_status(WAITING_STORAGE "; degraded: domu1/hold-storage");
    assert_paused(false);
    ck_assert_uint_eq(unpauses("unpause "), 1);
    wait_log("domain 5 (frontend domu1) unpaused: every bridge is ready or past its start-up "
             "timeout (unpause-on-timeout = yes)");
}
END_TEST

/* The same without it (the default): the guest keeps waiting, paused, and
 * is unpaused once storage is there after all. */
START_TEST(kept_paused_past_timeout_by_default)
{
    frontend_create(true, 1, true);
    held_start(HELD_CONFIG("timeout = 1\n"));
    publishers_start();
    publisher_backend(DOMD2, "up");
    held_wait_status(WAITING_STORAGE "; degraded: domu1/hold-storage");
    assert_paused(true);
    ck_assert_uint_eq(unpauses("unpause "), 0);
    publisher_backend(DOMD1, "up");
    held_wait_status(ALL_READY);
    assert_paused(false);
    ck_assert_uint_eq(unpauses("unpause "), 1);
}
END_TEST

/* ---- privilege ---- */

/* Without access to the hypervisor the daemon keeps running, says why in
 * status, and unpauses nothing. */
START_TEST(unprivileged_reports_and_keeps_running)
{
    frontend_create(true, 1, true);
    ck_assert_int_eq(fake_domctl_privileged(domctl_dir, false), 0);
    start_all_ready(HELD_CONFIG(""));
    const char *const bridges[] = {"domu1/hold-storage", "domu1/hold-network"};
    for (size_t i = 0; i < 2; i++) {
        char *error = unpause_error(bridges[i]);
        ck_assert_ptr_nonnull(error);
        ck_assert_str_eq(error, "cannot reach the hypervisor to unpause domain 5: Permission "
                                "denied; signal = unpause runs in dom0");
        free(error);
    }
    assert_paused(true);
    ck_assert_uint_eq(unpauses("unpause "), 0);
    ck_assert_int_eq(kill(held.pid, 0), 0);
}
END_TEST

/* Runs xenreadyd --check-config on dom0's configuration, with the stand-in
 * (dir NULL: without its directory); returns the exit status, its standard
 * error in *err. */
static int check_config(const char *config, bool preload, const char *dir, char **err)
{
    char path[4096], err_path[4096];
    snprintf(path, sizeof(path), "%s/check.conf", harness_directory(harness));
    snprintf(err_path, sizeof(err_path), "%s/check.err", harness_directory(harness));
    FILE *file = fopen(path, "w");
    ck_assert_ptr_nonnull(file);
    fputs(config, file);
    fclose(file);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_WRONLY);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || null < 0 || dup2(null, STDOUT_FILENO) < 0)
            _exit(126);
        unsetenv("XENREADY_FAKE_DOMCTL_DIR");
        if (preload && fake_domctl_use(dir ? dir : "/nonexistent") < 0)
            _exit(125);
        if (preload && !dir)
            unsetenv("XENREADY_FAKE_DOMCTL_DIR");
        execl(daemon_runner_program(), daemon_runner_program(), "--check-config", path,
              (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    file = fopen(err_path, "r");
    ck_assert_ptr_nonnull(file);
    *err = NULL;
    size_t size = 0;
    if (getdelim(err, &size, '\0', file) < 0) {
        free(*err);
        *err = strdup("");
    }
    fclose(file);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* --check-config tells a refusal by the hypervisor at the bridge's line, and
 * only warns where there is no hypervisor to ask. */
START_TEST(check_config_knows_the_privilege)
{
    char path[4096], *err = NULL, expected[8192];
    snprintf(path, sizeof(path), "%s/check.conf", harness_directory(harness));
    ck_assert_int_eq(fake_domctl_create(domctl_dir, FRONTEND, true, 1), 0);

    /* Privileged: nothing to say. */
    ck_assert_int_eq(check_config(HELD_CONFIG(""), true, domctl_dir, &err), 0);
    ck_assert_str_eq(err, "");
    free(err);

    /* No access to privcmd at all. */
    ck_assert_int_eq(fake_domctl_privileged(domctl_dir, false), 0);
    ck_assert_int_eq(check_config(HELD_CONFIG(""), true, domctl_dir, &err), 1);
    snprintf(expected, sizeof(expected), "%s:14: error: bridge domu1/hold-network: signal = "
             "unpause: cannot open the hypervisor interface: Permission denied", path);
    ck_assert_msg(strstr(err, expected), "expected \"%s\" in:\n%s", expected, err);
    free(err);
    ck_assert_int_eq(fake_domctl_privileged(domctl_dir, true), 0);

    /* privcmd, but Xen refuses this domain control of the guest (a DomD). */
    ck_assert_int_eq(fake_domctl_may_control(domctl_dir, false), 0);
    ck_assert_int_eq(check_config(HELD_CONFIG(""), true, domctl_dir, &err), 1);
    snprintf(expected, sizeof(expected), "%s:14: error: bridge domu1/hold-network: signal = "
             "unpause: this domain may not control domain 5 (Operation not permitted)", path);
    ck_assert_msg(strstr(err, expected), "expected \"%s\" in:\n%s", expected, err);
    free(err);

    /* No hypervisor interface here (a build host): a warning, and OK. */
    ck_assert_int_eq(check_config(HELD_CONFIG(""), true, NULL, &err), 0);
    snprintf(expected, sizeof(expected), "%s:14: warning: bridge domu1/hold-network: signal = "
             "unpause: no hypervisor interface here", path);
    ck_assert_msg(strstr(err, expected), "expected \"%s\" in:\n%s", expected, err);
    ck_assert_msg(!strstr(err, "error"), "an error in:\n%s", err);
    free(err);

    /* The real libxenctrl where there is no Xen: the same warning. */
    if (access("/dev/xen/privcmd", F_OK) < 0 && access("/proc/xen/privcmd", F_OK) < 0) {
        ck_assert_int_eq(check_config(HELD_CONFIG(""), false, NULL, &err), 0);
        ck_assert_msg(strstr(err, expected), "expected \"%s\" in:\n%s", expected, err);
        free(err);
    }
    ck_assert_uint_eq(unpauses("unpause "), 0);
}
END_TEST

/* A DomD with privcmd that Xen does not let control the guest: the
 * refusal is shown, nothing is unpaused, the daemon keeps running. */
START_TEST(refused_by_the_hypervisor_reports)
{
    frontend_create(true, 1, true);
    ck_assert_int_eq(fake_domctl_may_control(domctl_dir, false), 0);
    start_all_ready(HELD_CONFIG(""));
    char *error = unpause_error("domu1/hold-storage");
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(error, "cannot ask the hypervisor about domain 5: Operation not permitted");
    free(error);
    assert_paused(true);
    ck_assert_uint_eq(unpauses("unpause 5 ok"), 0);
    ck_assert_int_eq(kill(held.pid, 0), 0);
}
END_TEST

int main(void)
{
    const struct integration_case cases[] = {
        {"probe_follows_settled_pairs_only", probe_follows_settled_pairs_only},
        {"probe_refuses_foreign_nodes", probe_refuses_foreign_nodes},
        {"probe_publisher_restarting", probe_publisher_restarting},
        {"probe_publisher_gone", probe_publisher_gone},
        {"unpaused_once_when_every_bridge_is_ready", unpaused_once_when_every_bridge_is_ready},
        {"not_created_paused_left_alone", not_created_paused_left_alone},
        {"unpaused_by_someone_else_left_alone", unpaused_by_someone_else_left_alone},
        {"operator_pause_is_not_undone", operator_pause_is_not_undone},
        {"new_instance_same_domid", new_instance_same_domid},
        {"created_after_its_bridges_were_ready", created_after_its_bridges_were_ready},
        {"unpaused_on_timeout_when_asked", unpaused_on_timeout_when_asked},
        {"kept_paused_past_timeout_by_default", kept_paused_past_timeout_by_default},
        {"unprivileged_reports_and_keeps_running", unprivileged_reports_and_keeps_running},
        {"check_config_knows_the_privilege", check_config_knows_the_privilege},
        {"refused_by_the_hypervisor_reports", refused_by_the_hypervisor_reports},
    };
    Suite *suite = suite_create("held");
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), setup, teardown);
    const struct integration_case orphan_cases[] = {
        {"probe_publisher_gone_orphans_kept", probe_publisher_gone},
    };
    integration_add_cases(suite, orphan_cases, 1, setup_keep_orphans, teardown);
    return integration_main(suite, NULL);
}
