// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One daemon per runtime directory (/run/xenready): a second one started by
 * mistake would take over the control socket and write the same xenstore
 * nodes as the first. The lock is an flock(2) on xenreadyd.lock there,
 * which holds the pid of its holder; the kernel lets it go with the
 * process, however it ends.
 */
#pragma once

/* Takes the lock of directory into *fd; -EBUSY (logged, with the holder's
 * pid) when another process has it. */
int instance_lock(const char *directory, int *fd);
/* NULL-safe: fd < 0 is no lock. */
void instance_unlock(int fd);
