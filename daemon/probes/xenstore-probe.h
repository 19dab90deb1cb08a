// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

struct model;
struct probe;
struct xenstore;

/* Backends that are ready when a xenstore node holds an expected value
 * (probe = xenstore, probe = device-model). */
int xenstore_probe_new(struct probe **out, struct model *model, struct xenstore *xenstore);
