// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The first connection to xenstore, when xenstored may not be up yet: a
 * unit started before xenstored on first boot, a dom0less driver domain
 * whose xenstore comes late. The daemon waits for it instead of exiting.
 */
#pragma once

struct ev_loop;
struct xenstore;

/* Called while waiting, with why (for STATUS= and the log). */
typedef void (*xenstore_waiting_fn)(const char *why, void *data);

/*
 * Connects (xenstore_open()), running loop meanwhile so that signals and
 * the watchdog are served. An attempt may block (through /dev/xen/xenbus a
 * request waits until xenstored answers), so each runs on a thread of its
 * own; one that fails at once is tried again when xenstored's socket
 * appears, or after a backoff of 0.1 s doubling up to 5 s. Returns 0 with
 * *out, -ECANCELED when the loop was broken meanwhile (a stop signal), or
 * the error of an attempt that waiting cannot mend (EACCES, ENOMEM, ...).
 */
int xenstore_start_wait(struct ev_loop *loop, struct xenstore **out, xenstore_waiting_fn waiting,
                        void *data);
