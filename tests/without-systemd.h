// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The test tree in a build without systemd (-DXENREADY_SYSTEMD=OFF, the
 * compile definition XENREADY_WITH_SYSTEMD 0): the daemon has no journal,
 * no socket activation, no unit probe, unit liveness or unit owner there,
 * and refuses configurations that use them. The tests of those skip
 * themselves, saying so on standard output; everything else runs as in the
 * build with systemd.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define WITHOUT_SYSTEMD_REASON "built without systemd (-DXENREADY_SYSTEMD=OFF)"

/* In a test function (void): prints "WHAT: skipped: built without systemd
 * (...)" and returns, in a build without systemd. */
#define SKIP_WITHOUT_SYSTEMD(what)                                                      \
    do {                                                                                \
        if (!XENREADY_WITH_SYSTEMD) {                                                   \
            printf("%s: skipped: " WITHOUT_SYSTEMD_REASON "\n", (what));                \
            fflush(stdout);                                                             \
            return;                                                                     \
        }                                                                               \
    } while (0)

/* Whether configuration text uses what a build without systemd refuses. */
static inline bool config_needs_systemd(const char *text)
{
    return strstr(text, "probe = unit") || strstr(text, "liveness-unit")
           || strstr(text, "owner = unit:");
}
