// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Start-up timeouts (timeout = SECONDS in a bridge section): a bridge still
 * waiting that long after the daemon started (or after a reload first
 * configured it with that timeout; bridge->timeout_deadline_usec) is
 * reported degraded — one log line naming the missing backends, and status
 * — while the guest keeps seeing "waiting". It goes on waiting and becomes
 * ready normally.
 */
#pragma once

struct bridge;
struct bridge_timeouts;
struct ev_loop;
struct model;

typedef void (*bridge_timeouts_fn)(struct bridge *bridge, void *userdata);

/* Arms one timer per bridge with a timeout; on_change is called after a
 * bridge became degraded (to refresh STATUS=, and for signal = unpause with
 * unpause-on-timeout = yes, which lets the guest go then). */
int bridge_timeouts_new(struct bridge_timeouts **out, struct ev_loop *loop, struct model *model,
                        bridge_timeouts_fn on_change, void *userdata);
void bridge_timeouts_free(struct bridge_timeouts *timeouts);   /* NULL-safe */
