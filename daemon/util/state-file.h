// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Small files the daemon keeps for itself in its runtime directory
 * (/run/xenready, a tmpfs), so that what it knew survives a restart but not
 * a reboot. Whoever else can write in that directory must not make it
 * believe anything: a file is only read when it is a regular file of the
 * daemon's user that nobody else may write, never through a link or by
 * opening a FIFO or a device. Files are replaced whole (written beside,
 * then renamed), so a stop in the middle leaves the old one.
 */
#pragma once

#include <stddef.h>

/* Reads path whole into *text (malloc'd, NUL-terminated). -ENOENT when it
 * does not exist; -EINVAL when it is not ours to believe or larger than
 * size_max; else a negative errno. */
int state_file_read(const char *path, size_t size_max, char **text);
/* Replaces path by a file holding text (mode 0600). */
int state_file_write(const char *path, const char *text);
/* Writes text to fd, a new file opened at temporary beside path, closes it
 * and renames it over path: readers see the old file or the new one, whole.
 * On failure temporary is removed. */
int state_file_commit(int fd, const char *temporary, const char *path, const char *text);
