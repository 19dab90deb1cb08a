// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Every signal method. A new method is a file in this directory defining its
 * struct signaller_type, and a row here.
 */
#include "signaller.h"

extern const struct signaller_type xenstore_signaller_type;
extern const struct signaller_type evtchn_signaller_type;
extern const struct signaller_type static_evtchn_signaller_type;
extern const struct signaller_type sysrq_signaller_type;
extern const struct signaller_type unpause_signaller_type;

/* Publication order: the xenstore node first, the others publish into it
 * (the event channel's port) or after it. */
const struct signaller_type *const signaller_types[] = {
    &xenstore_signaller_type,
    &evtchn_signaller_type,
    &static_evtchn_signaller_type,
    &sysrq_signaller_type,
    &unpause_signaller_type,   /* last: the guest runs once the others have told it */
};

const unsigned int signaller_type_count = sizeof(signaller_types) / sizeof(signaller_types[0]);
