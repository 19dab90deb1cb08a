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
 * nothing complete within XENREADY_CONTROL_TIMEOUT_SECONDS is disconnected.
 *
 * "status" answers with:
 *   "bridges": [ { "name": "domu1/pcie0", "frontend": "domu1",
 *                  "frontend_domid": 5, "id": "pcie0",
 *                  "device_tree_path": "/pcie@10000000",
 *                  "state": "waiting" | "ready",
 *                  "since": "2026-11-26T03:10:00Z"   (last transition, UTC),
 *                  "backends_ready": 2, "backends_total": 3,
 *                  "missing": ["qemu-domu1"],
 *                  "signals": [ { "method": "xenstore",
 *                                 "target": "/local/domain/5/xenready/pcie0",
 *                                 "generation": 3, "error": null } ] } ],
 *   "backends": [ { "name": "qemu-domu1", "ready": false,
 *                   "detail": "… is \"initialising\", expected \"running\"",
 *                   "bridges": ["domu1/pcie0"] } ]
 * Members may be added within a version; clients ignore what they do not know.
 */
#ifndef XENREADY_CONTROL_H
#define XENREADY_CONTROL_H

#define XENREADY_CONTROL_VERSION 1
#define XENREADY_CONTROL_SOCKET "/run/xenready/control"
#define XENREADY_CONTROL_REQUEST_MAX 4096
#define XENREADY_CONTROL_TIMEOUT_SECONDS 5

#endif /* XENREADY_CONTROL_H */
