// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Runs the real xenreadyd against a harness instance, as the domain it would
 * be in production, and lets a test wait for what it announces: sd_notify
 * messages through a NOTIFY_SOCKET the test owns, and xenstore nodes through
 * watches of the domain that reads them. Nothing here sleeps to synchronise.
 */
#pragma once

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "without-systemd.h"

struct harness;
struct xs_handle;

struct daemon_runner {
    struct harness *harness;
    unsigned int domid;          /* the daemon's domain */
    char *config_path;
    char *control_path;
    char *notify_path;
    int notify_fd;
    pid_t pid;
    char last_status[1024];      /* the latest STATUS= seen */
    /* Optional: called in the child right before it executes xenreadyd. */
    void (*child_setup)(void *data);
    void *child_data;
    /* Optional: the daemon's DBUS_SYSTEM_BUS_ADDRESS (a fake_systemd's). */
    const char *system_bus;
    /* Its standard error, when daemon_runner_capture_log() asked for it. */
    char *log_path;
    /* daemon_runner_init_in()'s subdirectory; NULL: the harness directory. */
    char *directory;
};

/* What a toolstack sets up for a driver domain and one frontend, as
 * xenreadyd(8) documents: both introduced ("domd", "domu1"), DomD's
 * device-model and backend directories owned by DomD, and the frontend's
 * xenready directory owned by DomD and readable by the frontend. */
int toolstack_setup(struct harness *harness, unsigned int domd, unsigned int frontend);

/* Writes config text to a file in the harness directory; the runner keeps
 * its path for daemon_runner_start(). */
int daemon_runner_init(struct daemon_runner *runner, struct harness *harness, unsigned int domid,
                       const char *config);
/* The same with the runner's files (configuration, control socket, notify
 * socket, captured log) in the subdirectory subdir of the harness directory
 * (made when missing): the runtime directory is the control socket's, and
 * one daemon holds it, so every daemon of a test needs its own. */
int daemon_runner_init_in(struct daemon_runner *runner, struct harness *harness,
                          unsigned int domid, const char *config, const char *subdir);
/* The xenreadyd this build made. */
const char *daemon_runner_program(void);
/* Starts xenreadyd and waits (bounded) for READY=1. extra_args may be NULL. */
int daemon_runner_start(struct daemon_runner *runner, const char *const *extra_args);
/* Starts xenreadyd without waiting for anything. */
int daemon_runner_spawn(struct daemon_runner *runner, const char *const *extra_args);
/* Receives the next sd_notify datagram (all its lines, NUL-terminated) into
 * message; -ETIMEDOUT after timeout_ms. Keeps last_status up to date. */
int daemon_runner_next_message(struct daemon_runner *runner, char *message, size_t size,
                               int timeout_ms);
/* Waits for a STATUS= equal to expected; -ETIMEDOUT after timeout_ms. */
int daemon_runner_wait_status(struct daemon_runner *runner, const char *expected, int timeout_ms);
/* The same as a check assertion: fails the test with the last STATUS= seen. */
void daemon_runner_assert_status(struct daemon_runner *runner, const char *expected,
                                 int timeout_ms);
/* Takes every queued notify message without waiting. sd_notify() blocks
 * once a few datagrams are queued (net.unix.max_dgram_qlen), so a test that
 * makes many changes without waiting for STATUS= drains as it goes, as
 * systemd would. */
void daemon_runner_drain(struct daemon_runner *runner);
/* From the next start on, the daemon's standard error (its log: one line
 * each, "<priority>text") is appended to a file in the harness directory
 * instead of the test's, so that a test can judge what it logged. Call after
 * daemon_runner_init(). */
int daemon_runner_capture_log(struct daemon_runner *runner);
/* The captured log's lines at priority "err" or more urgent (<0> to <3>),
 * joined in *lines (malloc'd, "" when none); returns how many, or a negative
 * errno. */
int daemon_runner_log_errors(struct daemon_runner *runner, char **lines);
/* The whole captured log (malloc'd; "" before anything was logged), NULL
 * without daemon_runner_capture_log(). */
char *daemon_runner_log_text(struct daemon_runner *runner);
/* SIGTERM (or sig) and reap; returns the exit status or a negative errno. */
int daemon_runner_stop(struct daemon_runner *runner, int sig);
void daemon_runner_finish(struct daemon_runner *runner);

/* Replaces the configuration file with config and asks the daemon to
 * reload it ("xenreadyctl reload", answered once done); returns its exit
 * status. */
int daemon_runner_reload(struct daemon_runner *runner, const char *config);

/* Runs "xenreadyctl --socket <control> ARGS…" and returns its exit status;
 * its standard output is stored in *output (malloc'd) when output != NULL. */
int daemon_runner_ctl(struct daemon_runner *runner, char **output, const char *const *args);

/* A child process of uid (group nobody, supplementary group gid) holding
 * count connections to the daemon's control socket that never ask anything;
 * returns its pid once they are all made. The caller kills and reaps it. */
pid_t daemon_runner_idle_connections(struct daemon_runner *runner, uid_t uid, gid_t gid,
                                     int count);

/* Registers watches through client on prefix0, prefix1, … (token "taken")
 * until xenstored refuses one for the domain's watch quota (asserted: E2BIG);
 * returns how many were taken. */
int xs_take_every_watch(struct xs_handle *client, const char *prefix);

/* A daemon on dom0's socket that outlives its xenstored: it connects
 * through a link (XENSTORED_PATH) that a test points at another harness's
 * socket once the first xenstored is gone. */
struct xenstored_link {
    char dir[32];
    char path[64];
    char staging[64];
};

/* Makes the link, to harness's dom0 socket, and has runner's daemon use it. */
void xenstored_link_begin(struct xenstored_link *link, struct harness *harness,
                          struct daemon_runner *runner);
/* Points the link at another xenstored, atomically. */
void xenstored_link_switch(struct xenstored_link *link, struct harness *harness);
void xenstored_link_end(struct xenstored_link *link);

/* The seed of a randomised test: 20261126, or XENREADY_SEED; printed so
 * that a failure can be replayed. */
unsigned int test_seed(void);

/* Reads path through handle; NULL when it cannot be read. */
char *xs_read_string(struct xs_handle *handle, const char *path);
/* Events up to now: writes /marker/N (N = ++*sequence) through handle,
 * which watches "/marker" with the token "marker", and reads its events
 * until that write's own, calling each() (may be NULL) for every other
 * event but the markers'. xenstored sends a connection its events in order,
 * but drops an event identical (path and token) to one not yet sent: a
 * marker of its own path is never dropped so. */
void xs_events_until_marker(struct xs_handle *handle, unsigned long *sequence,
                            void (*each)(const char *path, const char *token, void *data),
                            void *data);
/* Watches path through handle (token "runner") and waits until reading
 * value_path gives expected; -ETIMEDOUT after timeout_ms. The watch is
 * removed again before returning. */
int xs_wait_value(struct xs_handle *handle, const char *watch_path, const char *value_path,
                  const char *expected, int timeout_ms);
/* Watches a bridge node and waits until it is settled in state: "state" is
 * state and "generation" has the parity that goes with it (the daemon writes
 * state first, then generation). -ETIMEDOUT after timeout_ms. */
int xs_wait_settled(struct xs_handle *handle, const char *node, const char *state,
                    int timeout_ms);
/* Writes value as the domain behind handle. */
int xs_write_string(struct xs_handle *handle, const char *path, const char *value);
/* Check assertions, through the frontend's own handle: node and its keys are
 * owned by domd with read access for frontend and nobody else, and the
 * frontend reads them but can neither write nor remove them. */
void xs_assert_node_protected(struct xs_handle *frontend_handle, const char *node,
                              unsigned int domd, unsigned int frontend);

/* A helper process driven line by line (tests/peers/test-backend): commands
 * on its standard input, one answer line each on its standard output. */
struct peer {
    pid_t pid;
    int in;                  /* we write commands */
    FILE *out;               /* we read answer lines */
};

void peer_start(struct peer *peer, const char *const *argv);
/* Reads the peer's next line (waits at most 10 s: a check failure). */
char *peer_line(struct peer *peer, char *line, size_t size);
/* Sends command and checks that the answer is expected. */
void peer_do(struct peer *peer, const char *command, const char *expected);
/* SIGKILL and reap; nothing when the peer is not running. */
void peer_kill(struct peer *peer);

/* A private system bus (Debian's dbus-daemon, no service activation) with
 * tests/peers/fake-systemd1 on it: what the unit probe talks to, since no
 * systemd runs as PID 1 where the tests run. */
struct fake_systemd {
    struct peer bus;
    struct peer systemd1;
    char address[320];       /* for DBUS_SYSTEM_BUS_ADDRESS */
    /* Set before starting: the bus enforces Debian's system bus policy
     * (/usr/share/dbus-1/system.conf and system.d, as shipped) instead of
     * allowing everything; fake-systemd1 runs as root like systemd. */
    bool system_policy;
};

/* Whether dbus-daemon is installed; NULL if so, else why not. NULL in a
 * build without systemd, where the cases that need it skip themselves
 * (SKIP_WITHOUT_SYSTEMD) and fake_systemd_start() is a test failure. */
const char *fake_systemd_missing(void);
/* Starts the bus in dir and the fake with units ("NAME=STATE[,unloaded]",
 * NULL-terminated) on it; returns once the fake owns its name. */
void fake_systemd_start(struct fake_systemd *fake, const char *dir, const char *const *units);
/* Sets a unit's ActiveState; returns once PropertiesChanged is sent. */
void fake_systemd_set(struct fake_systemd *fake, const char *unit, const char *state);
/* The same, with a PropertiesChanged that only names the properties as
 * invalidated (no values): the daemon has to ask for them. */
void fake_systemd_invalidate(struct fake_systemd *fake, const char *unit, const char *state);
/* Kills both; nothing for what is not running. */
void fake_systemd_stop(struct fake_systemd *fake);

/* Configuration pieces several tests build on: frontend domu1 (domid 5), its
 * device model, and virtio disk and net backends that count when their
 * state is XenbusStateConnected (4). Each piece is one section and its
 * blank line: line numbers in a configuration stay easy to count. */
#define TEST_CONFIG_FRONTEND "[frontend domu1]\ndomid = 5\n\n"
#define TEST_CONFIG_BACKEND_DM "[backend dm]\nprobe = device-model\nfrontend = domu1\n\n"
#define TEST_CONFIG_BACKEND_DISK \
    "[backend disk]\nprobe = xenstore\npath = backend/virtio_disk/5/0/state\nvalue = 4\n\n"
#define TEST_CONFIG_BACKEND_NET \
    "[backend net]\nprobe = xenstore\npath = backend/virtio_net/5/0/state\nvalue = 4\n\n"

struct integration_case {
    const char *name;
    const TTest *test;
};

/* Adds one TCase per case to suite, each with the fixture (setup may be NULL)
 * checked around it, in the forked test process. */
void integration_add_cases(Suite *suite, const struct integration_case *cases, size_t count,
                           void (*setup)(void), void (*teardown)(void));

/*
 * main() of an integration test: runs suite (taken over) and returns the exit
 * status for CTest. Exits 77 (skipped, reason printed) when the real
 * xenstored cannot run here, or when skip_reason (may be NULL) says another
 * requirement is missing; with CI=true a skip is a failure, since CI has
 * everything installed.
 */
int integration_main(Suite *suite, const char *skip_reason);
