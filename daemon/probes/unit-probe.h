// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

struct ev_loop;
struct model;
struct probe;

/* Backends with probe = unit (ready while the unit's ActiveState is active)
 * and backends with liveness-unit = (alive while it is): both follow
 * org.freedesktop.systemd1 on the system bus, DBUS_SYSTEM_BUS_ADDRESS or
 * /run/dbus/system_bus_socket. add_backend() takes either kind. */
int unit_probe_new(struct probe **out, struct model *model, struct ev_loop *loop);
