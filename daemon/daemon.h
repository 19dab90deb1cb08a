// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon: one event loop wiring the xenstore connection, the probes, the
 * model, the signallers and the control server.
 */
#pragma once

#include <ev.h>
#include <stdbool.h>

struct control_server;
struct model;
struct probe;
struct signaller;
struct xenstore;

struct daemon_options {
    const char *config_file;
    const char *config_dir;
    const char *control_socket;
};

struct daemon {
    struct daemon_options options;
    struct ev_loop *loop;
    struct model *model;
    struct xenstore *xenstore;
    struct probe *xenstore_probe;
    struct signaller *xenstore_signaller;
    struct control_server *control;
    ev_signal on_sigterm;
    ev_signal on_sigint;
    char *status_line;       /* last STATUS= sent to systemd */
};

/* Loads the configuration, connects, arms every watch, does the first full
 * scan and publication, opens the control socket. model is taken over. */
int daemon_start(struct daemon *daemon, const struct daemon_options *options,
                 struct model *model);
/* Runs until SIGTERM/SIGINT or a fatal error; returns 0 or a negative errno. */
int daemon_run(struct daemon *daemon);
void daemon_finish(struct daemon *daemon);

/* The daemon's signallers, for status; returns how many were stored. */
size_t daemon_signallers(const struct daemon *daemon, struct signaller **out, size_t max);
