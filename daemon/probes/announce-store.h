// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What was announced, kept in the runtime directory (/run/xenready/announced,
 * a tmpfs) so that announcements survive a restart of the daemon but not a
 * reboot. One record per backend announced ready: its owner as configured
 * then, and for an announcement made from a systemd unit the control group
 * it came from. At start a record counts only when it still holds: the
 * backend's owner is unchanged and, for a unit owner, that control group
 * still has processes (the unit runs). The file is rewritten whole (a new
 * file renamed over the old) after every change.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct backend;

struct announce_record {
    char *backend;
    char *owner;             /* "uid:N" or "unit:NAME" */
    char *cgroup;            /* unit owners: the announcer's control group; may be NULL */
    long long pid;
    long long uid;
    long long time;          /* seconds since the epoch */
};

struct announce_records {
    struct announce_record *records;
    size_t count;
};

/* "uid:N" / "unit:NAME" for backend's owner, into text. */
void announce_owner_text(const struct backend *backend, char *text, size_t size);

/* Reads path. A missing file is no records (0). Anything else that is not
 * a regular file of ours, not writable by others, of at most 1 MiB, holding
 * records of this version: -EINVAL (or the errno), and no records. */
int announce_records_load(const char *path, struct announce_records *out);
/* Writes records to path (atomically). */
int announce_records_save(const char *path, const struct announce_records *records);
void announce_records_clear(struct announce_records *records);
/* The record of the backend named name, or NULL. */
struct announce_record *announce_records_find(struct announce_records *records,
                                              const char *name);

/* Whether the control group (a path as in /proc/PID/cgroup) has processes,
 * below cgroup_root (normally /sys/fs/cgroup: its unified hierarchy, on a
 * hybrid layout its "unified" and "systemd" ones). 1, 0, or a negative errno
 * when it cannot be told (then it does not count). */
int announce_cgroup_populated(const char *cgroup_root, const char *cgroup);
