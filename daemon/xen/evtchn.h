// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The event-channel boundary: one libxenevtchn handle (the /dev/xen/evtchn
 * fd) and the few operations the signallers need. Nothing above this file
 * includes a Xen event-channel header.
 *
 * Tests run the daemon with a libxenevtchn stand-in preloaded (LD_PRELOAD,
 * tests/fake-evtchn/): it replaces the library's functions and the one ioctl
 * issued here, so everything in this file and above runs unchanged in tests.
 *
 * Functions return 0 (or a port) on success and a negative errno on failure.
 */
#pragma once

struct evtchn;

int evtchn_open(struct evtchn **out);
/* Closing the handle unbinds every port bound through it (the kernel does
 * that for the real device). NULL-safe. */
void evtchn_close(struct evtchn *evtchn);
/* Readable when a port bound through the handle has an event pending. */
int evtchn_fd(const struct evtchn *evtchn);

/* A new local port that domain remote_domid may bind to: the port, or < 0. */
int evtchn_bind_unbound_port(struct evtchn *evtchn, unsigned int remote_domid);
/* Binds a static event channel (host device tree "xen,evtchn-v1", Xen 4.17+)
 * with IOCTL_EVTCHN_BIND_STATIC (Linux 6.5+). */
int evtchn_bind_static(struct evtchn *evtchn, unsigned int port);
int evtchn_notify(struct evtchn *evtchn, unsigned int port);
int evtchn_unbind(struct evtchn *evtchn, unsigned int port);
/* The next pending port (the kernel has masked it), or < 0. Call only when
 * the fd is readable. */
int evtchn_pending(struct evtchn *evtchn);
int evtchn_unmask(struct evtchn *evtchn, unsigned int port);
