// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The processes pidfiles were believed for, kept in the runtime directory
 * (/run/xenready/pidfiles) so that a restarted daemon recognises them. A
 * pidfile older than the process it names is stale (the pid was reused),
 * but "older" is read on the wall clock, which a time sync may have stepped
 * since the file was written: a process recorded with the same pid and the
 * same start (in ticks since boot, which no clock step moves) is the one
 * believed before, whatever the clock says now.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pidfile_record {
    char *pidfile;
    pid_t pid;
    unsigned long long start;    /* process_start_ticks() */
};

struct pidfile_records {
    struct pidfile_record *records;
    size_t count;
};

/* Reads path (util/state-file.h): a missing file is no records (0); one
 * not to be believed is -EINVAL (or the errno), and no records. */
int pidfile_records_load(const char *path, struct pidfile_records *out);
int pidfile_records_save(const char *path, const struct pidfile_records *records);
/* Adds a record (pidfile is copied). */
int pidfile_records_add(struct pidfile_records *records, const char *pidfile, pid_t pid,
                        unsigned long long start);
void pidfile_records_clear(struct pidfile_records *records);
/* Whether records hold pidfile naming pid, started at start. */
bool pidfile_records_hold(const struct pidfile_records *records, const char *pidfile, pid_t pid,
                          unsigned long long start);
