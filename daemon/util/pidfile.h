// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pidfile of --pidfile: readiness for an init script. It appears only
 * once the daemon is ready (when READY=1 goes to systemd), whole: written
 * beside, mode 0644 whatever the umask, then renamed into place, so that a
 * reader never sees it empty or half written. It holds the pid and a
 * newline, as start-stop-daemon(8) and OpenRC read them.
 */
#pragma once

/* Writes our pid to path; 0 or a negative errno. */
int pidfile_write(const char *path);
/* Removes path if it still holds our pid (a daemon started after us may
 * have written its own there). */
void pidfile_remove(const char *path);
