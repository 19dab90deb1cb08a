// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * probe = announce: a backend is ready once its owner runs `xenreadyctl ready
 * NAME` (e.g. ExecStartPost=) and stops being ready on `xenreadyctl gone
 * NAME` (ExecStopPost=). Only the configured owner may announce: a uid
 * (SO_PEERCRED) or a systemd unit (the one the peer process runs in).
 * Announcements are kept across reloads (with the model's observations) and
 * across restarts (announce-store.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct backend;
struct model;
struct probe;

/* Who asks, as the control socket saw it. */
struct announce_peer {
    pid_t pid;
    uid_t uid;
};

/*
 * An announcement of the backend named name in model (ready or gone) by
 * peer, through probe (NULL when no backend is announced). 0 when taken, with the
 * backend's readiness now in *now_ready; otherwise a negative errno and why,
 * for the peer and the log, in reason (-ENOENT no such backend, -EINVAL not
 * a valid name or not announced, -EPERM not its owner). Every refusal is
 * kept for status.
 */
int announce_probe_announce(struct probe *probe, struct model *model, const char *name, bool ready,
                            const struct announce_peer *peer, bool *now_ready, char *reason,
                            size_t size);

/* 0 when a peer with uid, in systemd unit peer_unit (NULL: in none), owns
 * backend; otherwise -EPERM and why in reason. */
int announce_authorise(const struct backend *backend, uid_t uid, const char *peer_unit,
                       char *reason, size_t size);

/* The last refused announcements, oldest first, for status. */
struct announce_refusal {
    long long time;          /* seconds since the epoch */
    pid_t pid;
    uid_t uid;
    char backend[72];
    char reason[256];
};
enum { ANNOUNCE_REFUSALS_KEPT = 8 };
/* Copies at most ANNOUNCE_REFUSALS_KEPT into out; returns how many. */
size_t announce_probe_refusals(const struct probe *probe,
                               struct announce_refusal out[ANNOUNCE_REFUSALS_KEPT]);
