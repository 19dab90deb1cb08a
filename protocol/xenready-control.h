/* SPDX-License-Identifier: MIT */
/*
 * xenready-control.h — the control protocol between xenreadyd and its
 * clients (xenreadyctl), version 1. Documented in xenreadyctl(1).
 *
 * Copyright (c) 2026 The xenreadyd authors. MIT licence (LICENSES/MIT.txt).
 *
 * Transport: a SOCK_STREAM UNIX socket, XENREADY_CONTROL_SOCKET by default.
 * One request per connection: the client sends one JSON object followed by a
 * newline, at most XENREADY_CONTROL_REQUEST_MAX bytes including the newline;
 * the daemon answers with one JSON object followed by a newline and closes.
 *
 * Request:  {"version": 1, "command": "status"}
 * Response: {"version": 1, "ok": true, ...command-specific members...}
 *       or: {"version": 1, "ok": false, "error": "human-readable reason"}
 *
 * A request that is too long, not JSON, not an object, of another version,
 * or names an unknown command gets an error response; a client that sends
 * nothing complete within XENREADY_CONTROL_TIMEOUT_SECONDS, or does not read
 * its answer within that time, is disconnected. Only root, the daemon's user
 * and members of its control group (xenreadyd --control-group; primary or
 * supplementary, from SO_PEERCRED/SO_PEERGROUPS) are served; others get
 * {"ok": false, "error": "permission denied: ..."}. At most
 * XENREADY_CONTROL_CLIENTS_MAX clients are connected at once, of which the
 * last XENREADY_CONTROL_RESERVED only for root and the owners of announced
 * backends; a uid other than root has at most XENREADY_CONTROL_PER_UID_MAX
 * connections, of which at most XENREADY_CONTROL_WAITS_PER_UID_MAX are held
 * "wait"s (so its waits leave room for its other requests).
 * A client refused for its credentials or a limit is told why ("permission
 * denied: ...", "too many clients ..."); the daemon may answer it before
 * reading its request, so a client reads the answer up to its newline even
 * when sending failed (EPIPE, ECONNRESET, or a short send), and does not
 * need the connection to end cleanly after it (ECONNRESET).
 * A daemon that stops or is killed closes connections it has not answered
 * (a held "wait", say) without an answer: an end of the connection, or a
 * reset, before a complete line means the daemon went away, not that it
 * answered (xenreadyctl: "xenreadyd went away before answering", status 3).
 *
 * "status" answers with:
 *   "bridges": [ { "name": "domu1/pcie0", "frontend": "domu1",
 *                  "frontend_domid": 5, "id": "pcie0",
 *                  "device_tree_path": "/pcie@10000000",
 *                  "state": "waiting" | "ready",
 *                  "since": "2026-11-26T03:10:00Z"   (last transition, UTC),
 *                  "backends_ready": 2, "backends_total": 3,
 *                  "missing": ["qemu-domu1"],
 *                  "degraded": false   (true: waiting past its start-up timeout),
 *                  "signals": [ { "method": "xenstore",
 *                                 "target": "/local/domain/5/xenready/pcie0",
 *                                 "generation": 3, "error": null } ] } ],
 *                  (method: "xenstore", "evtchn", "static-evtchn" or "sysrq";
 *                   target may be null; generation is 0 but for xenstore)
 *   "backends": [ { "name": "qemu-domu1", "ready": false,
 *                   "detail": "… is \"initialising\", expected \"running\"",
 *                   "bridges": ["domu1/pcie0"] } ],
 *   "refused_announcements": [ { "time": "2026-11-26T03:10:00Z",
 *                   "backend": "i2c", "pid": 812, "uid": 0,
 *                   "reason": "ready refused: backend i2c may only be ..." } ]
 *                   (the last 8 "ready"/"gone" requests refused)
 *
 * "wait" holds the connection until every named bridge is ready, or until
 * "timeout" seconds (a number >= 0; absent or null: no limit) have passed:
 *   {"version": 1, "command": "wait", "bridges": ["domu1/pcie0"], "timeout": 5}
 *   -> {"version": 1, "ok": true, "ready": true | false, "waiting": [names]}
 * 1 to 64 bridges; an unknown bridge (also one removed by a reload while
 * waiting) is an error.
 *
 * "reload" (root only) reloads the configuration as SIGHUP does; the running
 * configuration stays when the new one is refused:
 *   {"version": 1, "command": "reload"}
 *   -> {"version": 1, "ok": true | false, "error": "...",
 *       "messages": ["file:line: error: ..."]}
 *
 * "ready" and "gone" announce a probe = announce backend; only its configured
 * owner (a uid, or the systemd unit the peer process runs in) may:
 *   {"version": 1, "command": "ready", "backend": "scmi"}
 *   -> {"version": 1, "ok": true, "backend": "scmi", "ready": true}
 *   ("ready": whether the backend is up now: false after "gone")
 * An unknown backend, one with another probe, or another peer is an error.
 *
 * Members may be added within a version; clients ignore what they do not know.
 */
#ifndef XENREADY_CONTROL_H
#define XENREADY_CONTROL_H

#define XENREADY_CONTROL_VERSION 1
#define XENREADY_CONTROL_SOCKET "/run/xenready/control"
#define XENREADY_CONTROL_REQUEST_MAX 4096
#define XENREADY_CONTROL_TIMEOUT_SECONDS 5
#define XENREADY_CONTROL_CLIENTS_MAX 128
#define XENREADY_CONTROL_RESERVED 16
#define XENREADY_CONTROL_PER_UID_MAX 24
#define XENREADY_CONTROL_WAITS_PER_UID_MAX 16

#endif /* XENREADY_CONTROL_H */
