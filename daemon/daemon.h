// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon: one event loop wiring the xenstore connection, the sources
 * (probes, signallers, domain events), the model and the control server.
 * The control commands are in commands.c.
 */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sources.h"

struct bridge_timeouts;
struct config_report;
struct control_answer;
struct control_command;
struct control_server;
struct model;
struct wait_request;
struct xenstore;

struct daemon_options {
    const char *config_file;
    const char *config_dir;
    const char *control_socket;
    /* Members of this group may use the control socket too (besides root). */
    bool has_control_group;
    gid_t control_group;
    /* READY=1 only once every bridge is ready or degraded (--ready-when=all). */
    bool ready_when_all;
    /* Readiness for an init script, at the moment of READY=1: the pidfile
     * then written (NULL: none; --pidfile), the descriptor then sent a
     * newline and closed (0: none, as it is never below 3; --ready-fd). */
    const char *pidfile;
    int ready_fd;
};

struct daemon {
    struct daemon_options options;
    struct ev_loop *loop;
    struct model *model;
    struct xenstore *xenstore;   /* NULL when the configuration uses none */
    struct sources sources;
    char *state_directory;       /* the control socket's directory: /run/xenready */
    struct bridge_timeouts *bridge_timeouts;
    struct control_server *control;
    /* The last "status" answer, dropped on every change it could show. */
    struct control_answer *status_answer;
    struct wait_request *waits;  /* held "wait" requests (commands.c) */
    ev_signal on_sigterm;
    ev_signal on_sigint;
    ev_signal on_sighup;
    ev_timer watchdog;       /* started only when systemd wants WATCHDOG=1 */
    ev_timer reconnect;      /* only while the xenstore connection is lost */
    ev_prepare status_pending; /* STATUS= to refresh before the loop blocks */
    double reconnect_delay;  /* seconds before the next attempt */
    bool ready_sent;
    bool pidfile_written;        /* removed again at exit */
    bool waited_for_xenstore;    /* at start: logged once */
    int lock_fd;                 /* instance-lock.h; -1: none */
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

/*
 * Loads the configuration again and reconciles it with the running one:
 * what is defined as before keeps everything known of it, what changed is
 * observed again, what is gone is let go of. All or nothing: when anything
 * the new configuration needs cannot be had, the running one stays wholly
 * in force. report (may be NULL) receives the file:line lines, reason why
 * a reload failed. Returns 0, or -EINVAL (the configuration has errors),
 * -ENOTCONN (xenstore is needed and cannot be reached, or is away), or
 * another negative errno (something could not be acquired); the daemon
 * goes on either way.
 */
int daemon_reload(struct daemon *daemon, struct config_report *report, char *reason,
                  size_t size);

/* Something a "status" answer or STATUS= shows may have changed: the cached
 * answer is dropped at once, STATUS= and held "wait"s are brought up to date
 * before the loop blocks. */
void daemon_schedule_status(struct daemon *daemon);

/* commands.c: the control commands (status, wait, reload, ready, gone). */
const struct control_command *daemon_commands(size_t *count);
/* Answers the held "wait"s whose bridges are now all ready. */
void daemon_answer_waits(struct daemon *daemon);
