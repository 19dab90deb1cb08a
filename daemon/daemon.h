// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon: one event loop wiring the xenstore connection, the probes, the
 * model, the signallers and the control server.
 */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <sys/types.h>

struct bridge_timeouts;
struct config_report;
struct control_server;
struct domains;
struct model;
struct probe;
struct signaller;
struct xenstore;

struct daemon_options {
    const char *config_file;
    const char *config_dir;
    const char *control_socket;
    /* Members of this group may use the control socket too (besides root). */
    bool has_control_group;
    gid_t control_group;
    /* READY=1 only once every bridge is ready (--ready-when=all). */
    bool ready_when_all;
};

struct daemon {
    struct daemon_options options;
    struct ev_loop *loop;
    struct model *model;
    struct xenstore *xenstore;
    struct probe *xenstore_probe;
    struct signaller *xenstore_signaller;
    struct signaller *evtchn_signaller;
    struct signaller *static_evtchn_signaller;
    struct signaller *sysrq_signaller;
    struct domains *domains;     /* @introduceDomain/@releaseDomain */
    /* Backend probes besides xenstore, liveness and start-up timeouts
     * (daemon_backend_probes_start()); NULL when no backend needs them. */
    struct probe *socket_probe;
    struct probe *unit_probe;
    struct probe *pidfile_liveness;
    struct probe *announce_probe;
    struct bridge_timeouts *bridge_timeouts;
    struct control_server *control;
    ev_signal on_sigterm;
    ev_signal on_sigint;
    ev_signal on_sighup;
    ev_timer watchdog;       /* started only when systemd wants WATCHDOG=1 */
    ev_timer extend_start;   /* EXTEND_TIMEOUT_USEC=, only while waiting for READY=1 */
    ev_timer reconnect;      /* only while the xenstore connection is lost */
    ev_prepare status_pending; /* STATUS= to refresh before the loop blocks */
    double reconnect_delay;  /* seconds before the next attempt */
    bool ready_sent;
    int result;              /* 0, or why the loop was stopped (negative errno) */
    char *status_line;       /* last STATUS= sent to systemd */
};

/* Connects to xenstore (when the model uses it), arms every watch, does the
 * first full scan and publication, opens the control socket. model is taken
 * over. */
int daemon_start(struct daemon *daemon, const struct daemon_options *options,
                 struct model *model);
/* Runs until SIGTERM/SIGINT or a fatal error; returns 0 or a negative errno. */
int daemon_run(struct daemon *daemon);
void daemon_finish(struct daemon *daemon);

/* Loads the configuration again and, when it has no errors, rebuilds the
 * probes, signallers and xenstore watches from it; bridge nodes are adopted,
 * so unchanged bridges are not republished. With errors the running
 * configuration stays. report (may be NULL) receives the file:line lines.
 * Returns 0, -EINVAL (errors: nothing changed), -ENOTCONN (the new
 * configuration uses xenstore, the running one did not, and xenstore cannot
 * be reached: nothing changed), or another negative errno (fatal: the loop
 * is stopped). */
int daemon_reload(struct daemon *daemon, struct config_report *report);

/* Re-derives STATUS=, READY=1 (wait-for-all mode) and pending "wait" answers;
 * called after every change of the model. */
void daemon_update_status(struct daemon *daemon);

/* The daemon's signallers, for status; returns how many were stored. */
size_t daemon_signallers(const struct daemon *daemon, struct signaller **out, size_t max);
