// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A /dev/log of the test's own, where syslog(3) sends: the C library has
 * that path built in, and the host's /dev may not be touched. In a private
 * mount namespace of the calling process (a child about to log, or to
 * execute xenreadyd), /dev becomes an overlay of the real one, so every
 * device node is still there, and its log is the test's datagram socket,
 * bind-mounted. The overlay's changes live on a tmpfs mounted on scratch,
 * an empty directory, in that namespace only: nothing reaches the host.
 * Needs CAP_SYS_ADMIN (and overlayfs); the caller skips when it fails.
 * /dev's own submounts (pts, shm) are not in the overlay.
 */
#pragma once

/* 0, or a negative errno (the step that failed is not said). */
int private_syslog_enter(const char *socket_path, const char *scratch);

/* Whether it can work here: tried in a child process. NULL if so, else
 * why not (a static string). */
const char *private_syslog_missing(const char *socket_path, const char *scratch);
