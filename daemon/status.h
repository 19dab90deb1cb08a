// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <stddef.h>

struct json_object;
struct model;
struct probe;
struct signaller;

/* The "status" answer of protocol/xenready-control.h (without "ok"), built
 * from the model, what each signaller reports, and the announce probe's
 * refusals (announce may be NULL). */
struct json_object *status_build(const struct model *model, struct signaller *const *signallers,
                                 size_t signaller_count, const struct probe *announce);
