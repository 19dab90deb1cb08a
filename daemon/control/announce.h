// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * probe = announce: a backend is ready once its owner runs `xenreadyctl ready
 * NAME` (e.g. ExecStartPost=) and stops being ready on `xenreadyctl gone
 * NAME` (ExecStopPost=). Only the configured owner may announce: a uid
 * (SO_PEERCRED) or a systemd unit (the one the peer process runs in).
 */
#pragma once

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct backend;
struct control_client;
struct json_object;
struct model;
struct probe;

int announce_probe_new(struct probe **out, struct model *model);

/* The "ready" and "gone" commands (control_command_fn): {"backend": NAME}.
 * Refusals are kept for status; the server logs them. */
struct json_object *announce_command_ready(struct control_client *client,
                                           struct json_object *request, const struct ucred *peer);
struct json_object *announce_command_gone(struct control_client *client,
                                          struct json_object *request, const struct ucred *peer);

/* The work of both, for a daemon's announce probe (NULL when no backend uses
 * it) and model. */
struct json_object *announce_handle(struct probe *announce, struct model *model,
                                    const char *command, struct json_object *request, pid_t pid,
                                    uid_t uid);

/* 0 when a peer with uid, in systemd unit peer_unit (NULL: in none), owns
 * backend; otherwise -EPERM and why in reason. */
int announce_authorise(const struct backend *backend, uid_t uid, const char *peer_unit,
                       char *reason, size_t size);

/* The last refused announcements, for status (a new JSON array). */
struct json_object *announce_status_refusals(const struct probe *announce);
