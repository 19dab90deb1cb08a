/* SPDX-License-Identifier: MIT */
/*
 * xenready-guest.h — the xenready readiness protocol, version 1, as a frontend
 * guest sees it. This header is all a guest-side implementer needs; it does
 * not depend on anything else of the xenready project. The full description,
 * with examples for patched and stock guest kernels, is xenready(7).
 *
 * Copyright (c) 2026 The xenreadyd authors. MIT licence (LICENSES/MIT.txt).
 *
 * Overview
 * --------
 * A frontend guest (DomU) has one or more "bridges": an emulated PCI host
 * bridge or a virtio-mmio node in its device tree, each served by one or more
 * backends in a backend domain (DomD). xenreadyd in DomD publishes, per
 * bridge, whether all of that bridge's backends are up.
 *
 * Where (xenstore)
 * ----------------
 * Per bridge, a directory in the FRONTEND's home:
 *
 *   /local/domain/<frontend-domid>/xenready/<bridge-id>/
 *       state             "waiting" or "ready"            (XENREADY_STATE_*)
 *       generation        decimal, >= 1, see below
 *       device-tree-path  the bridge's node in the guest device tree,
 *                         e.g. "/pcie@10000000"
 *       backend-id        decimal domid of the domain running xenreadyd
 *       version           protocol version, "1"
 *
 * Relative to the guest's own home this is "xenready/<bridge-id>/state", so a
 * guest needs to know nothing but the bridge id ([A-Za-z0-9_-], at most 64).
 *
 * Who creates what, with which permissions
 * ----------------------------------------
 * - The toolstack (or init-dom0less) creates /local/domain/<fe>/xenready
 *   owned by DomD with read access for the frontend (xenstore-chmod syntax:
 *   "n<DomD> r<fe>"). A DomD that is dom0 may create it itself.
 * - xenreadyd creates each <bridge-id> directory and its keys at its first
 *   scan, owned by DomD with read access for the frontend only ("n<DomD>
 *   r<fe>"): the frontend can read but never write them, other domains can
 *   do neither. The nodes exist from the first scan on, in state "waiting"
 *   until the bridge is complete.
 * - xenreadyd never uses a bridge directory it does not own (one created by
 *   another domain is reported and left alone). A guest that can read
 *   permissions may likewise check that the owner is backend-id.
 *
 * States
 * ------
 * Version 1 knows "waiting" and "ready". A guest treats any other value, a
 * missing node, or a read error as not ready. New states require a new
 * protocol version. Daemon-side conditions (e.g. a backend that timed out)
 * appear only in xenreadyctl status and logs, never here.
 *
 * Generation
 * ----------
 * "generation" starts at 1 when the node is created and grows by exactly one
 * each time "state" changes. xenreadyd writes generation first, then state,
 * so a guest that sees a new state also finds a generation at least as new.
 * A guest that remembers the generation it acted on can tell that it missed
 * a ready→waiting→ready round trip. Restarting xenreadyd does not change
 * either key when the state it computes equals the one already published.
 *
 * How a guest waits
 * -----------------
 * Watch "xenready/<bridge-id>" (or its "state"). Watch events carry no value
 * and may be spurious or merged: after every event, read "state" (and
 * "generation") and act on what was read, never on the event itself.
 *
 * While xenreadyd is stopped
 * --------------------------
 * The nodes stay as last written: a guest keeps its devices while the daemon
 * restarts. The published state is the last state xenreadyd established;
 * changes of backends while it is stopped are published when it starts
 * again. Nodes are removed only by the toolstack (e.g. with the domain).
 *
 * Versioning
 * ----------
 * "version" holds XENREADY_PROTOCOL_VERSION. Additions that old guests can
 * ignore (new keys) keep the version; anything that changes the meaning of
 * an existing key or adds a state bumps it.
 */
#ifndef XENREADY_GUEST_H
#define XENREADY_GUEST_H

#define XENREADY_PROTOCOL_VERSION 1

/* Directory in the frontend's home holding one directory per bridge. */
#define XENREADY_DIRECTORY "xenready"

/* Keys inside a bridge's directory. */
#define XENREADY_KEY_STATE "state"
#define XENREADY_KEY_GENERATION "generation"
#define XENREADY_KEY_DEVICE_TREE_PATH "device-tree-path"
#define XENREADY_KEY_BACKEND_ID "backend-id"
#define XENREADY_KEY_VERSION "version"

/* Values of "state" in protocol version 1. */
#define XENREADY_STATE_WAITING "waiting"
#define XENREADY_STATE_READY "ready"

/* Limits a guest may rely on. */
#define XENREADY_BRIDGE_ID_MAX 64

#endif /* XENREADY_GUEST_H */
