// SPDX-License-Identifier: GPL-2.0-or-later
#include "process-info.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/small-file.h"

/* A /proc file of pid, whole (they are small), NUL-terminated. */
static int proc_read(const char *proc_root, pid_t pid, const char *name, char *text, size_t size)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%d/%s", proc_root, (int)pid, name);
    ssize_t length = small_file_read(path, text, size);
    return length < 0 ? (int)length : 0;
}

int process_uid(const char *proc_root, pid_t pid, uid_t *uid)
{
    char text[4096];
    int r = proc_read(proc_root, pid, "status", text, sizeof(text));
    if (r < 0)
        return r;
    const char *line = strstr(text, "\nUid:");
    unsigned long value;
    if (!line || sscanf(line + 5, "%lu", &value) != 1)
        return -EBADMSG;
    *uid = (uid_t)value;
    return 0;
}

int process_start_ticks(const char *proc_root, pid_t pid, unsigned long long *ticks)
{
    char text[1024];
    int r = proc_read(proc_root, pid, "stat", text, sizeof(text));
    if (r < 0)
        return r;
    /* The command name (field 2) may hold anything, ')' included: the
     * fields are counted from the last ')'. starttime is field 22. */
    const char *after = strrchr(text, ')');
    if (!after)
        return -EBADMSG;
    const char *field = after + 1;
    for (int number = 3; number < 22 && field; number++)
        field = strchr(field + 1, ' ');
    if (!field || sscanf(field, " %llu", ticks) != 1)
        return -EBADMSG;
    return 0;
}

int process_start(const char *proc_root, pid_t pid, struct timespec *start)
{
    unsigned long long ticks;
    int r = process_start_ticks(proc_root, pid, &ticks);
    if (r < 0)
        return r;
    long per_second = sysconf(_SC_CLK_TCK);
    if (per_second <= 0)
        return -EINVAL;
    /* Boot time on CLOCK_REALTIME: now minus the time since boot. */
    struct timespec real, boot;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    long long since_boot_ns = (long long)(ticks / (unsigned long long)per_second) * 1000000000LL
                              + (long long)(ticks % (unsigned long long)per_second)
                                    * (1000000000LL / per_second);
    long long real_ns = (long long)real.tv_sec * 1000000000LL + real.tv_nsec;
    long long boot_ns = (long long)boot.tv_sec * 1000000000LL + boot.tv_nsec;
    long long start_ns = real_ns - boot_ns + since_boot_ns;
    start->tv_sec = (time_t)(start_ns / 1000000000LL);
    start->tv_nsec = (long)(start_ns % 1000000000LL);
    return 0;
}
