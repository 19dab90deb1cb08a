// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket of protocol/xenready-control.h: one JSON request per
 * connection, answered from the daemon's state. Clients are served from the
 * event loop with non-blocking I/O, so a slow or stuck client delays no one.
 * Only root, the daemon's own user and members of the control group (primary
 * or supplementary, from SO_PEERCRED and SO_PEERGROUPS) are served.
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

struct control_client;
struct control_server;
struct daemon;
struct json_object;

/* Listens on path, or adopts the socket systemd passed (sd_listen_fds(3),
 * a .socket unit listening on the same path). */
int control_server_new(struct control_server **out, struct daemon *daemon, const char *path);
void control_server_free(struct control_server *server);   /* NULL-safe */

/* The model changed (or was replaced by a reload): answers "wait" requests
 * whose bridges are now all ready. NULL-safe. */
void control_server_update(struct control_server *server);

/* Something a "status" answer shows may have changed: the cached answer is
 * dropped (the next one is built afresh). Called on every such change; the
 * daemon's entry points for them are listed in daemon.c. NULL-safe. */
void control_server_invalidate(struct control_server *server);

/*
 * A command handler. request is the parsed request object (borrowed), peer
 * the client's credentials. Returns the response object (ownership passes to
 * the server, which adds "version" and sends it), or NULL when the handler
 * answers later with control_client_respond().
 */
typedef struct json_object *(*control_command_fn)(struct control_client *client,
                                                  struct json_object *request,
                                                  const struct ucred *peer);

struct daemon *control_client_daemon(const struct control_client *client);
/* Sends response (taken over) to a client whose handler returned NULL. */
void control_client_respond(struct control_client *client, struct json_object *response);

/* {"ok": false, "error": message}; {"ok": true}. */
struct json_object *control_error(const char *message);
struct json_object *control_ok(void);
