// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

struct ev_loop;
struct model;
struct probe;

/* Liveness from a pidfile (pidfile = PATH, with any probe): the backend is
 * alive while the process the file names runs. Takes backends with a
 * pidfile through the probe interface and reports model_set_backend_alive(). */
int pidfile_liveness_new(struct probe **out, struct model *model, struct ev_loop *loop);
