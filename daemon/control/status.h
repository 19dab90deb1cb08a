// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

struct daemon;
struct json_object;

/* The "status" answer of protocol/xenready-control.h, built from the model. */
struct json_object *status_build(const struct daemon *daemon);
