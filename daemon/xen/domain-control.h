// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The hypervisor boundary for holding a guest paused (signal = unpause):
 * one libxenctrl handle (/dev/xen/privcmd), a domain's state and the
 * unpause. Nothing above this file includes a Xen control header.
 *
 * Only a privileged domain (dom0, or one the toolstack gave control of the
 * guest) may do this; without the privilege domain_control_open() fails.
 *
 * Tests run the daemon with a libxenctrl stand-in preloaded (LD_PRELOAD,
 * tests/fake-domctl/), so everything in this file and above runs unchanged.
 *
 * Functions return 0 on success and a negative errno on failure.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct domain_control;

/* What the hypervisor says of one domain. */
struct domain_state {
    bool exists;
    bool paused;             /* by the toolstack or an operator (xl pause) */
    bool dying;              /* being destroyed, or shut down */
    uint8_t handle[16];      /* its handle (the toolstack's UUID): one per instance */
};

int domain_control_open(struct domain_control **out);
void domain_control_close(struct domain_control *control);   /* NULL-safe */
/* The state of domid (exists false when there is no such domain). */
int domain_control_state(struct domain_control *control, unsigned int domid,
                         struct domain_state *out);
int domain_control_unpause(struct domain_control *control, unsigned int domid);
