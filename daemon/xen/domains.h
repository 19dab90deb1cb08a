// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Which configured frontends exist. xenstored fires @introduceDomain and
 * @releaseDomain without saying which domain changed, and an unprivileged
 * DomD receives them only when the toolstack gave it read permission on
 * those special nodes (XSA-115). On each event every frontend is looked at:
 * it is present while DomD can read its /local/domain/<domid>/xenready
 * directory, which the toolstack creates (owned by DomD) before it introduces
 * the domain and removes with the domain's home before it releases it.
 */
#pragma once

#include <stdbool.h>

struct domains;
struct frontend;
struct model;
struct xenstore;

typedef void (*domains_changed_fn)(struct frontend *frontend, bool present, void *userdata);

/* Arms both watches. Failing to arm is logged, not fatal: without the
 * events, channels are not re-created for domains that come back. */
int domains_new(struct domains **out, struct xenstore *xenstore, domains_changed_fn fn,
                void *userdata);
void domains_free(struct domains *domains);   /* NULL-safe */
/* Records the presence (frontend->absent) of model's frontends not known
 * yet (new ones: the others were carried), and whether their xenready
 * directory's permissions are exactly a signal node's
 * (frontend->directory_private; read again on every event), without
 * calling fn. */
void domains_stage(struct domains *domains, struct model *model);
/* Follows model's frontends from now on. */
void domains_commit(struct domains *domains, struct model *model);
/* xenstore is back: every frontend is looked at again, and fn told of
 * those that came or went meanwhile. */
void domains_back(struct domains *domains);
