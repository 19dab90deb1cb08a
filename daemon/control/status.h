// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <stdbool.h>

struct daemon;
struct json_object;

/* The "status" answer of protocol/xenready-control.h, built from the model. */
struct json_object *status_build(const struct daemon *daemon);

/*
 * The one thing a status answer shows that changes without the daemon being
 * told: a backend's detail while it stays not ready (the model's observer
 * hears of readiness changes only, core/model.h; a socket, unit or pidfile
 * probe, or a "gone" from another pid, may replace the text). A cached answer
 * keeps the details it was built from and is used only while they still
 * hold. Everything else is announced (control_server_invalidate()).
 */
struct status_details;

/* Records every backend's detail now; 0 or -ENOMEM. */
int status_details_save(const struct daemon *daemon, struct status_details **out);
/* Whether every backend's detail is still what details recorded. */
bool status_details_unchanged(const struct status_details *details, const struct daemon *daemon);
void status_details_free(struct status_details *details);   /* NULL-safe */
