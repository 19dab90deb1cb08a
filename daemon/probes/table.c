// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Every kind of probe. A new kind is a file in this directory defining its
 * struct probe_type, and a row here.
 */
#include "probe.h"

extern const struct probe_type xenstore_probe_type;
extern const struct probe_type socket_probe_type;
extern const struct probe_type unit_probe_type;
extern const struct probe_type pidfile_liveness_type;
extern const struct probe_type announce_probe_type;
extern const struct probe_type xenready_probe_type;

/* The order of the first scans: xenstore's watches first, where xenstored's
 * watch quota is shortest. */
const struct probe_type *const probe_types[] = {
    &xenstore_probe_type,
    &xenready_probe_type,
    &socket_probe_type,
#if XENREADY_WITH_SYSTEMD
    /* Also liveness-unit =. Without systemd, left out of the build, and
     * refused by the configuration. */
    &unit_probe_type,
#endif
    &pidfile_liveness_type,
    &announce_probe_type,
};

const unsigned int probe_type_count = sizeof(probe_types) / sizeof(probe_types[0]);
