// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

struct bridge;
struct signaller;
struct xenstore;

/* Called when a node was made again while the daemon ran, or when a key
 * another signaller keeps in it (event-channel) changed under us. */
typedef void (*xenstore_signaller_refresh_fn)(struct bridge *bridge, void *userdata);

/* The xenstore node per bridge of protocol/xenready-guest.h. on_refresh may
 * be NULL. */
int xenstore_signaller_new(struct signaller **out, struct xenstore *xenstore,
                           xenstore_signaller_refresh_fn on_refresh, void *userdata);

/* Watches each frontend's xenready directory (one watch per frontend, not
 * per node or key), so that a node removed, changed or taken over while the
 * daemon runs is noticed at once. Called after every add_bridge and before
 * start. A watch xenstored refuses for lack of room is reported for the
 * frontend's bridges and tried again after later batches of events;
 * meanwhile a publication first checks that the node still exists. */
int xenstore_signaller_arm(struct signaller *signaller);
