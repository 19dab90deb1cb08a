// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

struct ev_loop;
struct model;
struct probe;

/* Backends that are ready while a UNIX socket at their path is listening or
 * has an accepted connection (probe = socket: vhost-user backends). Setting
 * XENREADY_SOCKET_DIAG=proc in the environment skips sock_diag and reads
 * /proc/net/unix only (xenreadyd(8)). */
int socket_probe_new(struct probe **out, struct model *model, struct ev_loop *loop);
