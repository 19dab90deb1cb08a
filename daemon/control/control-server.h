// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket of protocol/xenready-control.h, as transport only: one
 * JSON request per connection, framed, checked against who sent it, and
 * handed to the command of that name in the table its owner gives; answers
 * are sent back with non-blocking I/O from the event loop, so a slow or
 * stuck client delays no one. Only root, the daemon's own user and members
 * of the control group (primary or supplementary, from SO_PEERCRED and
 * SO_PEERGROUPS) are served. What the commands mean is the owner's.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct control_answer;
struct control_client;
struct control_server;
struct ev_loop;
struct json_object;

/*
 * A command handler, with the context given to control_server_new().
 * request is the parsed request (borrowed), peer the client's credentials.
 * Returns the response (taken over; the server adds "version" and sends
 * it), or NULL when the handler has answered (control_client_send()) or
 * holds the client (control_client_hold()).
 */
typedef struct json_object *(*control_command_fn)(void *context, struct control_client *client,
                                                  struct json_object *request,
                                                  const struct ucred *peer);

struct control_command {
    const char *name;
    control_command_fn handle;
    bool root_only;              /* not for the control group */
};

struct control_server_options {
    const char *path;
    bool has_group;              /* members of group may connect too */
    gid_t group;
    /* Whether uid may use the slots kept for root (backend owners); may be
     * NULL: root only. */
    bool (*reserved)(void *context, uid_t uid);
};

/* Listens on options->path, or adopts the socket systemd passed
 * (sd_listen_fds(3), a .socket unit listening on the same path). Built
 * without systemd, a socket passed is refused (-EINVAL, logged). */
int control_server_new(struct control_server **out, struct ev_loop *loop,
                       const struct control_server_options *options,
                       const struct control_command *commands, size_t command_count,
                       void *context);
/* Drops every client (held ones are told, see control_client_hold()) and
 * stops listening. NULL-safe. */
void control_server_free(struct control_server *server);

/* An answer framed once ("version" first, then response's members, a
 * newline) and shared by every client it is sent to. NULL when out of
 * memory. response is borrowed. */
struct control_answer *control_answer_new(struct json_object *response);
struct control_answer *control_answer_ref(struct control_answer *answer);
void control_answer_unref(struct control_answer *answer);   /* NULL-safe */

/* Sends answer to the client, taking over one reference (NULL: out of
 * memory, the client is dropped). */
void control_client_send(struct control_client *client, struct control_answer *answer);
/* Sends response (taken over); an "error" in it is logged with the peer. */
void control_client_respond(struct control_client *client, struct json_object *response);

typedef void (*control_hold_fn)(struct control_client *client, void *data);
/* The handler keeps client and answers later. After timeout seconds (< 0:
 * never) on_timeout is called, which answers. on_close is called when the
 * client hangs up first, or the server stops: the client is gone then.
 * -EBUSY: its uid holds XENREADY_CONTROL_WAITS_PER_UID_MAX already; the
 * handler answers now. */
int control_client_hold(struct control_client *client, double timeout,
                        control_hold_fn on_timeout, control_hold_fn on_close, void *data);

/* {"ok": false, "error": message}; {"ok": true}. */
struct json_object *control_error(const char *message);
struct json_object *control_ok(void);
