// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket of protocol/xenready-control.h: one JSON request per
 * connection, answered from the daemon's state. Clients are served from the
 * event loop with non-blocking I/O, so a slow or stuck client delays no one.
 */
#pragma once

struct control_server;
struct daemon;

int control_server_new(struct control_server **out, struct daemon *daemon, const char *path);
void control_server_free(struct control_server *server);   /* NULL-safe */
