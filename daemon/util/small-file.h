// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading a small file the kernel makes (/proc/PID/status, a control
 * group's cgroup.events) in one read: never through a link, never blocking.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads at most size - 1 bytes of path into text, NUL-terminated; the
 * length, or a negative errno. */
ssize_t small_file_read(const char *path, char *text, size_t size);
