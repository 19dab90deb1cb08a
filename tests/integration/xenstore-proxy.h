// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A man in the middle between one xenstore client (the daemon, pointed at it
 * with XENSTORED_PATH) and xenstored's socket for its domain. Everything
 * passes through unchanged, except that the next write to a chosen path can
 * be held back: the client then waits for its reply while the test does
 * something else in xenstore, which lands between that client's writes.
 */
#pragma once

struct xenstore_proxy;

/* Listens on listen_path and connects each client to upstream_path. */
int xenstore_proxy_start(struct xenstore_proxy **out, const char *listen_path,
                         const char *upstream_path);
void xenstore_proxy_stop(struct xenstore_proxy *proxy);   /* NULL-safe */

/* Holds back the next XS_WRITE to path (absolute, as the client sends it),
 * and what the client sends after it, until released. */
void xenstore_proxy_hold_write(struct xenstore_proxy *proxy, const char *path);
/* Waits until a write is held; 0, or -ETIMEDOUT. */
int xenstore_proxy_wait_held(struct xenstore_proxy *proxy, int timeout_ms);
/* Sends what was held, in order. */
void xenstore_proxy_release(struct xenstore_proxy *proxy);
