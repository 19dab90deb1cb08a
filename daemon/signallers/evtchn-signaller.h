// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

struct ev_loop;
struct signaller;
struct xenstore;

/* signal = evtchn: a dynamic event channel per bridge, its port published as
 * XENREADY_KEY_EVENT_CHANNEL in the bridge's xenstore node (which the
 * xenstore signaller, started first, creates). */
int evtchn_signaller_new(struct signaller **out, struct ev_loop *loop, struct xenstore *xenstore);

/* signal = static-evtchn: the bridge's configured static event channel is
 * notified when the bridge becomes ready (no state carrier, no withdrawal). */
int static_evtchn_signaller_new(struct signaller **out, struct ev_loop *loop);

/* signal = sysrq: the bridge's sysrq-key is written to the frontend's
 * control/sysrq when the bridge becomes ready (compatibility). */
int sysrq_signaller_new(struct signaller **out, struct xenstore *xenstore);
