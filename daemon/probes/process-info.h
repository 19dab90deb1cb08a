// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What /proc says of a process, for deciding whether a pid may stand for a
 * backend: its real uid and when it started. Both are world-readable in
 * /proc/PID/status and /proc/PID/stat, unless /proc hides other users'
 * processes (hidepid, ProtectProc=invisible): then -ENOENT, as for a pid
 * that does not exist.
 */
#pragma once

#include <sys/types.h>
#include <time.h>

/* The real uid of pid, from proc_root/PID/status (proc_root: "/proc"). */
int process_uid(const char *proc_root, pid_t pid, uid_t *uid);
/* When pid started, in clock ticks since boot (proc_root/PID/stat): with
 * the pid, it names one process for as long as the system runs. */
int process_start_ticks(const char *proc_root, pid_t pid, unsigned long long *ticks);
/* When pid started, on CLOCK_REALTIME (from its start in clock ticks since
 * boot, proc_root/PID/stat, and the boot time now), to 10 ms or so. */
int process_start(const char *proc_root, pid_t pid, struct timespec *start);
