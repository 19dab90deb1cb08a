// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test harness: runs the real xenstored (Debian's, under the
 * xenstored-shim LD_PRELOAD object) in a private directory and hands out
 * libxenstore handles that are dom0 or an unprivileged domain N.
 *
 * Functions return 0 or a negative errno unless documented otherwise.
 * Every instance is independent (parallel tests are fine) and is torn down
 * by a keeper process even when the test process crashes.
 */
#ifndef XENREADY_TESTS_HARNESS_H
#define XENREADY_TESTS_HARNESS_H

#include <sys/types.h>

struct xs_handle;

/* One running xenstored. */
struct harness;

struct harness_options {
	/* Extra xenstored arguments, e.g. {"-W", "10", NULL}; NULL: none. */
	const char *const *xenstored_args;
};

/*
 * The xenstored the harness runs: $XENREADY_XENSTORED, else the newest
 * /usr/lib/xen-VERSION/bin/xenstored installed, else Debian 12's path.
 */
const char *harness_xenstored_program(void);

/*
 * Starts xenstored and waits until it answers; /local/domain/0/{domid,name}
 * are written as xen-init-dom0 does. options may be NULL. -ENOENT when the
 * shim ($XENREADY_SHIM) or the xenstored binary (harness_xenstored_program())
 * is missing: tests then skip (exit 77).
 */
int harness_start(struct harness **out, const struct harness_options *options);

/* Kills xenstored, waits for it and removes the directory. NULL-safe. */
void harness_stop(struct harness *h);

/* The instance's private directory (sockets live there). */
const char *harness_directory(const struct harness *h);

/* malloc'd path of the socket that is domain domid (0: the privileged one). */
char *harness_socket_path(const struct harness *h, unsigned int domid);

/*
 * A libxenstore handle that is domain domid (0: dom0); domid must have been
 * introduced. NULL with errno set on failure. Close it with xs_close().
 */
struct xs_handle *harness_open(const struct harness *h, unsigned int domid);

/*
 * Like a toolstack: XS_INTRODUCE domid, then /local/domain/<domid> owned by
 * dom0 and readable by domid ("n0 r<domid>") holding domid and name, and
 * subdirectories device, control, data, drivers, feature, attr, error owned by
 * domid ("n<domid>"). After it, harness_open(h, domid) works.
 */
int harness_introduce(struct harness *h, unsigned int domid, const char *name);

/* XS_RELEASE domid (fires @releaseDomain) and removes /local/domain/<domid>. */
int harness_release(struct harness *h, unsigned int domid);

/*
 * As dom0, sets path's permissions from xenstore-chmod syntax, e.g.
 * "n5 r7 w9 b3" (first entry: owner and everybody's access). Creates the
 * node when missing.
 */
int harness_set_permissions(struct harness *h, const char *path, const char *perms);

/* xenstored's process id (for tests that check the teardown). */
pid_t harness_xenstored_pid(const struct harness *h);

/* The keeper's process id; 0 for harness_attach() instances. */
pid_t harness_keeper_pid(const struct harness *h);

/*
 * For xenstore-harness (the CLI). harness_start_detached() starts an
 * instance that outlives the caller: its keeper ignores the caller's exit and
 * stops on SIGTERM (harness_stop_detached). dir: the directory to use
 * (created; must not exist or be empty), NULL: a fresh one under $TMPDIR.
 * *dir_out: malloc'd directory. keeper.pid and xenstored.pid are written in
 * it, xenstored's output goes to xenstored.log there.
 */
int harness_start_detached(const struct harness_options *options, const char *dir,
			   char **dir_out);

/* Stops a detached instance and waits (bounded) until its directory is gone. */
int harness_stop_detached(const char *dir);

/*
 * A struct harness for an instance started elsewhere (e.g. by the CLI), for
 * introduce/release/set_permissions/open. harness_stop() on it only frees it.
 */
int harness_attach(struct harness **out, const char *dir);

#endif /* XENREADY_TESTS_HARNESS_H */
