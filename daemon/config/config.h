// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The configuration: /etc/xen/xenready.conf, then the *.conf files of /etc/xen/xenready.d
 * in lexical order, systemd-style INI with [frontend NAME], [backend NAME]
 * and [bridge FRONTEND/ID] sections (xenready.conf(5)). Loading builds a
 * fresh model; every problem is reported as "file:line: message".
 */
#pragma once

#include <stddef.h>

struct model;

struct config_report {
    char **lines;            /* "file:line: error: …" / "file:line: warning: …" */
    size_t line_count;
    size_t error_count;
};

/*
 * Reads main_file (may be absent if dropin_dir has files) and the *.conf
 * files of dropin_dir (NULL: none). Each file must be a regular file (symbolic
 * links are followed), at most 1 MiB, owned by root or by the effective uid
 * and not writable by group or others; so must dropin_dir, if it exists. On
 * success returns 0 and a new model in *out (the caller frees it with
 * model_free()). Returns -EINVAL when the configuration has errors or a file
 * is refused, -ENOMEM, or another negative errno when a file cannot be
 * opened or read; report then says why. Warnings never fail a load.
 */
int config_load(const char *main_file, const char *dropin_dir, struct model **out,
                struct config_report *report);

void config_report_clear(struct config_report *report);

/* Validity of names that end up in xenstore paths and status output. */
int config_check_name(const char *name);
