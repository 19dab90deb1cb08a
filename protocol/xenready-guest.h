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
 *       event-channel     decimal port in backend-id's domain; only for
 *                         bridges configured with an event channel
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
 * "generation" grows by exactly one each time "state" changes, and its
 * parity names the state: odd while "waiting", even while "ready" (so a node
 * created waiting starts at 1, one created ready at 2). xenreadyd writes
 * "state" first, so that the guest's watch fires on the write that matters,
 * then "generation". A guest may therefore read a pair whose parity does not
 * match: the daemon is between its two writes, and the generation write
 * brings another watch event. A pair is settled when the parity matches.
 * If xenreadyd stops between the two writes, its next start completes the
 * pair: still exactly one bump per change.
 * A guest that remembers the (settled) generation it acted on can tell that
 * it missed a ready→waiting→ready round trip. Restarting xenreadyd does not
 * change either key when the state it computes equals the one published.
 *
 * How a guest waits
 * -----------------
 * Watch "xenready/<bridge-id>" (or its "state"). Watch events carry no value
 * and may be spurious or merged: after every event, read "state" (and
 * "generation") and act on what was read, never on the event itself. A
 * guest that only waits for "ready" needs nothing but "state".
 *
 * Event channel (optional, per bridge)
 * ------------------------------------
 * For a bridge configured with "signal = evtchn", DomD allocates an unbound
 * event-channel port for the frontend (EVTCHNOP_alloc_unbound) and writes its
 * number to "event-channel" before it ever notifies it. The guest binds with
 * EVTCHNOP_bind_interdomain(backend-id, port) and from then on gets one
 * notification after each change of "state" (both to "ready" and back to
 * "waiting"), sent after "generation" and "state" are written.
 * - Notifications carry no data and merge: after every wake, read "state"
 *   (and "generation"), as after a watch event.
 * - Xen raises an event on the guest's new port right after the interdomain
 *   bind (xen/common/event_channel.c), whatever DomD did: it means "read
 *   now", never "ready". Reading "state" after binding also closes the race
 *   with a change that happened before the bind.
 * - Every write of "event-channel" means a new port, even when the number is
 *   the same (a restarted daemon may get the same number again): watch
 *   "xenready/<bridge-id>/event-channel" and, after every event on it,
 *   unbind the old port, read the key, bind again and read "state". A
 *   failed bind (a stale port while DomD is stopped) is retried at the next
 *   write. The key exists from the daemon's first scan on, so a guest that
 *   needs xenstore only for the port watches just this key.
 * - DomD writes the key when it starts, when the domain is created again
 *   with the same domid (after @introduceDomain), and never removes it.
 * - Events the guest sends on the channel are ignored.
 *
 * Static event channel (dom0less, no xenstore)
 * --------------------------------------------
 * With "signal = static-evtchn" there is no xenstore at all: the host device
 * tree connects a DomD port with a guest port at build time (Xen 4.17+, a
 * node compatible "xen,evtchn-v1" under each domain's node, with
 * "xen,evtchn = <local-port &peer-node>", docs/misc/arm/device-tree/
 * booting.txt). Both sides bind their local port (Linux 6.5+:
 * IOCTL_EVTCHN_BIND_STATIC on /dev/xen/evtchn, or the kernel's
 * bind_evtchn_to_irq for a static port). DomD notifies the port when the
 * bridge is ready at its first scan and at every transition to "ready".
 * A notification can only mean "ready": there is no way to say "withdrawn",
 * so DomD sends nothing then (it logs it). An event raised before the guest
 * bound stays pending in Xen and is delivered when the guest binds. A
 * restarted daemon whose bridge is ready notifies again; a guest acts once.
 * The guest's domain node needs xen,enhanced = "no-xenstore" (event
 * channels, no xenstore) or "enabled".
 *
 * Node order: Xen 4.17 creates a static channel when it meets the first of
 * its two nodes in /chosen, binds the other end to it, and leaves an event
 * pending on that other end, which a guest would take for "ready" at boot.
 * So the frontend's node (its xen,domain node, with the xen,evtchn-v1
 * child) must come before DomD's node (or, with dom0 as DomD, before dom0's
 * xen,evtchn-v1 nodes directly under /chosen): DomD gets the stray event and
 * ignores it.
 *
 * sysrq (compatibility only)
 * --------------------------
 * With "signal = sysrq" DomD writes one configured character to the
 * frontend's "control/sysrq" when the bridge becomes ready, as the 2022
 * prototype's "xl sysrq <domU> <key>" did. Only dom0 may normally write it;
 * a stock Linux guest runs that magic sysrq command. New guests use "state".
 *
 * While xenreadyd is stopped
 * --------------------------
 * The nodes stay as last written: a guest keeps its devices while the daemon
 * restarts. The published state is the last state xenreadyd established;
 * changes of backends while it is stopped are published when it starts
 * again. Nodes are removed only by the toolstack (e.g. with the domain).
 * A dynamic event channel's port dies with the daemon and nothing is
 * notified while it is stopped; the new instance writes a new
 * "event-channel".
 *
 * Nodes removed or changed under xenreadyd
 * ----------------------------------------
 * A node removed while xenreadyd runs is made again at once, complete, with
 * the state and generation last published ("event-channel" with the same
 * port). A generation raised by another writer is continued from, never
 * taken back. A node removed while xenreadyd is stopped starts again at
 * generation 1 (waiting) or 2 (ready): a guest that saw the node go must
 * read it afresh rather than compare generations across its removal.
 *
 * Versioning
 * ----------
 * "version" holds XENREADY_PROTOCOL_VERSION. Additions that old guests can
 * ignore (new keys, such as "event-channel") keep the version; anything that
 * changes the meaning of an existing key or adds a state bumps it. The
 * event-channel rules above are part of version 1.
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
/* Only with an event channel (see "Event channel" above): DomD's port. */
#define XENREADY_KEY_EVENT_CHANNEL "event-channel"

/* Values of "state" in protocol version 1. */
#define XENREADY_STATE_WAITING "waiting"
#define XENREADY_STATE_READY "ready"

/* Limits a guest may rely on. */
#define XENREADY_BRIDGE_ID_MAX 64

#endif /* XENREADY_GUEST_H */
