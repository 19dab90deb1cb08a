// SPDX-License-Identifier: GPL-2.0-or-later
#include "announce-probe.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if XENREADY_WITH_SYSTEMD
#include <systemd/sd-login.h>
#endif
#include <time.h>

#include "announce-store.h"
#include "config/config.h"
#include "core/model.h"
#include "followed.h"
#include "probe.h"
#include "util/log.h"
#include "util/model-log.h"

#define STORE_NAME "announced"
#define CGROUP_ROOT "/sys/fs/cgroup"

struct announce_probe {
    struct probe probe;
    struct followed_set backends;
    struct model *staged_model;
    char *store_path;            /* NULL: announcements are not kept */
    /* The records found at start, until the first commit has looked at
     * them; then what is announced now, as written to the store. */
    struct announce_records restored;
    bool restoring;
    struct announce_records records;
    struct announce_refusal refusals[ANNOUNCE_REFUSALS_KEPT];
    size_t refusal_count;        /* total; the last ANNOUNCE_REFUSALS_KEPT are kept */
};

static struct announce_probe *to_announce(struct probe *probe)
{
    return (struct announce_probe *)probe;
}

/* The unit and the control group a peer runs in (malloc'd), for owner =
 * unit:NAME; NULL when unknown. Built without systemd, the configuration
 * refuses such owners (config/config.c): nothing asks. */
#if XENREADY_WITH_SYSTEMD
static char *peer_unit(pid_t pid)
{
    char *unit = NULL;
    return sd_pid_get_unit(pid, &unit) < 0 ? NULL : unit;
}

static char *peer_cgroup(pid_t pid)
{
    char *cgroup = NULL;
    return sd_pid_get_cgroup(pid, &cgroup) < 0 ? NULL : cgroup;
}
#else
static char *peer_unit(pid_t pid)
{
    return NULL;
}

static char *peer_cgroup(pid_t pid)
{
    return NULL;
}
#endif

int announce_authorise(const struct backend *backend, uid_t uid, const char *peer_unit,
                       char *reason, size_t size)
{
    switch (backend->owner) {
    case OWNER_UID:
        if (uid == backend->owner_uid)
            return 0;
        snprintf(reason, size, "backend %s may only be announced by uid %u; the peer has uid %u",
                 backend->name, backend->owner_uid, (unsigned int)uid);
        return -EPERM;
    case OWNER_UNIT:
        if (peer_unit && strcmp(peer_unit, backend->owner_unit) == 0)
            return 0;
        snprintf(reason, size, "backend %s may only be announced from unit %s; the peer runs %s%s",
                 backend->name, backend->owner_unit, peer_unit ? "in " : "in no systemd unit",
                 peer_unit ? peer_unit : "");
        return -EPERM;
    case OWNER_NONE:
        break;
    }
    snprintf(reason, size, "backend %s has no owner", backend->name);
    return -EPERM;
}

static void refusal_add(struct announce_probe *announce, const char *backend,
                        const struct announce_peer *peer, const char *reason)
{
    if (!announce)
        return;
    struct announce_refusal *refusal =
        &announce->refusals[announce->refusal_count++ % ANNOUNCE_REFUSALS_KEPT];
    *refusal = (struct announce_refusal){.time = (long long)time(NULL), .pid = peer->pid,
                                         .uid = peer->uid};
    snprintf(refusal->backend, sizeof(refusal->backend), "%s", backend);
    snprintf(refusal->reason, sizeof(refusal->reason), "%s", reason);
}

size_t announce_probe_refusals(const struct probe *base,
                               struct announce_refusal out[ANNOUNCE_REFUSALS_KEPT])
{
    if (!base)
        return 0;
    const struct announce_probe *announce = (const struct announce_probe *)base;
    size_t kept = announce->refusal_count < ANNOUNCE_REFUSALS_KEPT ? announce->refusal_count
                                                                   : ANNOUNCE_REFUSALS_KEPT;
    for (size_t i = 0; i < kept; i++)
        out[i] = announce->refusals[(announce->refusal_count - kept + i)
                                    % ANNOUNCE_REFUSALS_KEPT];
    return kept;
}

/* The record of what is announced now, written to the store. A failure to
 * write is logged: the announcements still count, but only until a restart. */
static void store_save(struct announce_probe *announce)
{
    if (!announce->store_path)
        return;
    int r = announce_records_save(announce->store_path, &announce->records);
    if (r < 0)
        log_message(LOG_WARNING, "cannot keep the announcements in %s: %s; they are lost if "
                    "xenreadyd restarts", announce->store_path, strerror(-r));
}

/* Takes backend's record out of records; true when there was one. */
static bool records_remove(struct announce_records *records, const char *name)
{
    struct announce_record *record = announce_records_find(records, name);
    if (!record)
        return false;
    free(record->backend);
    free(record->owner);
    free(record->cgroup);
    *record = records->records[--records->count];
    return true;
}

static int records_add(struct announce_records *records, const struct backend *backend,
                       const struct announce_peer *peer)
{
    records_remove(records, backend->name);
    struct announce_record *grown = realloc(records->records,
                                            (records->count + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    records->records = grown;
    char owner[160];
    announce_owner_text(backend, owner, sizeof(owner));
    char *cgroup = backend->owner == OWNER_UNIT ? peer_cgroup(peer->pid) : NULL;
    struct announce_record *record = &grown[records->count];
    *record = (struct announce_record){.backend = strdup(backend->name), .owner = strdup(owner),
                                       .cgroup = cgroup, .pid = peer->pid, .uid = peer->uid,
                                       .time = (long long)time(NULL)};
    if (!record->backend || !record->owner) {
        free(record->backend);
        free(record->owner);
        free(record->cgroup);
        return -ENOMEM;
    }
    records->count++;
    return 0;
}

int announce_probe_announce(struct probe *base, struct model *model, const char *name, bool ready,
                            const struct announce_peer *peer, bool *now_ready, char *reason,
                            size_t size)
{
    struct announce_probe *announce = base ? to_announce(base) : NULL;
    const char *command = ready ? "ready" : "gone";
    /* Never echo what is not a valid name into logs and status. */
    if (config_check_name(name) < 0) {
        snprintf(reason, size, "%s: the backend name is not valid (letters, digits, '-' and '_')",
                 command);
        refusal_add(announce, "?", peer, reason);
        return -EINVAL;
    }
    struct backend *backend = model_find_backend(model, name);
    if (!backend) {
        snprintf(reason, size, "%s: no backend named \"%s\"", command, name);
        refusal_add(announce, name, peer, reason);
        return -ENOENT;
    }
    struct followed *entry = announce ? followed_lookup(&announce->backends, name) : NULL;
    if (!entry || entry->backend != backend) {
        snprintf(reason, size, "%s: backend %s is not announced (only probe = announce backends "
                 "that a bridge needs take ready/gone)", command, name);
        refusal_add(announce, name, peer, reason);
        return -EINVAL;
    }
    char *unit = backend->owner == OWNER_UNIT ? peer_unit(peer->pid) : NULL;
    char why[384];
    int r = announce_authorise(backend, peer->uid, unit, why, sizeof(why));
    free(unit);
    if (r < 0) {
        snprintf(reason, size, "%s refused: %s", command, why);
        refusal_add(announce, name, peer, reason);
        return r;
    }
    bool changed = ready ? records_add(&announce->records, backend, peer) == 0
                         : records_remove(&announce->records, backend->name);
    if (changed || !ready)
        store_save(announce);
    char detail[128];
    snprintf(detail, sizeof(detail), "announced gone by pid %d (uid %u)", (int)peer->pid,
             (unsigned int)peer->uid);
    model_set_backend_ready(model, backend, ready, ready ? NULL : detail);
    *now_ready = backend->ready;
    return 0;
}

/* Whether a record found at start still holds for backend; why not in
 * reason. */
static bool record_holds(const struct announce_record *record, const struct backend *backend,
                         char *reason, size_t size)
{
    char owner[160];
    announce_owner_text(backend, owner, sizeof(owner));
    if (strcmp(owner, record->owner) != 0) {
        snprintf(reason, size, "it was made for owner %s, the backend's owner is now %s",
                 record->owner, owner);
        return false;
    }
    if (backend->owner != OWNER_UNIT)
        return true;
    if (!record->cgroup) {
        snprintf(reason, size, "the control group it came from is not known");
        return false;
    }
    int populated = announce_cgroup_populated(CGROUP_ROOT, record->cgroup);
    if (populated == 1)
        return true;
    snprintf(reason, size, "%s no longer runs (control group %s %s)", backend->owner_unit,
             record->cgroup, populated == 0 ? "is empty" : "is gone");
    return false;
}

/* The first look at a backend: announced before a restart, or not yet. */
static void announce_entry_scan(void *probe, struct followed *entry)
{
    struct announce_probe *announce = probe;
    struct backend *backend = entry->backend;
    struct announce_record *record = announce->restoring
                                         ? announce_records_find(&announce->restored,
                                                                 backend->name)
                                         : NULL;
    char reason[512];
    if (record && record_holds(record, backend, reason, sizeof(reason))) {
        log_backend(LOG_INFO, backend, "backend %s: announced ready by pid %lld (uid %lld) "
                    "before the restart; still counts", backend->name, record->pid, record->uid);
        struct announce_peer peer = {.pid = (pid_t)record->pid, .uid = (uid_t)record->uid};
        records_add(&announce->records, backend, &peer);
        /* The control group recorded then, not the one of a pid long gone. */
        struct announce_record *kept = announce_records_find(&announce->records, backend->name);
        if (kept && record->cgroup && !kept->cgroup)
            kept->cgroup = strdup(record->cgroup);
        model_set_backend_ready(announce->probe.model, backend, true, NULL);
        return;
    }
    if (record)
        log_backend(LOG_NOTICE, backend, "backend %s: its announcement from before the restart "
                    "no longer counts: %s", backend->name, reason);
    char detail[160];
    snprintf(detail, sizeof(detail), "not announced yet (xenreadyctl ready %s)", backend->name);
    model_set_backend_ready(announce->probe.model, backend, false, detail);
}

static int announce_entry_create(void *probe, struct backend *backend, struct followed **out)
{
    struct followed *entry = calloc(1, sizeof(*entry));
    if (!entry)
        return -ENOMEM;
    entry->backend = backend;
    *out = entry;
    return 0;
}

static void announce_entry_destroy(void *probe, struct followed *entry)
{
    struct announce_probe *announce = probe;
    records_remove(&announce->records, entry->backend->name);
    free(entry);
}

static const struct followed_ops announce_entry_ops = {
    .create = announce_entry_create,
    .scan = announce_entry_scan,
    .destroy = announce_entry_destroy,
};

static int announce_stage(struct probe *base, struct model *model, bool strict)
{
    struct announce_probe *announce = to_announce(base);
    announce->staged_model = model;
    return followed_stage(&announce->backends, model);
}

static void announce_commit(struct probe *base)
{
    struct announce_probe *announce = to_announce(base);
    size_t before = announce->records.count;
    base->model = announce->staged_model;
    followed_commit(&announce->backends);
    if (announce->restoring || announce->records.count != before)
        store_save(announce);
    announce->restoring = false;
    announce_records_clear(&announce->restored);
}

static void announce_abort(struct probe *base)
{
    followed_abort(&to_announce(base)->backends);
}

static void announce_free(struct probe *base)
{
    struct announce_probe *announce = to_announce(base);
    followed_clear(&announce->backends);
    announce_records_clear(&announce->records);
    announce_records_clear(&announce->restored);
    free(announce->store_path);
    free(announce);
}

static const struct probe_ops announce_ops = {
    .name = "announce",
    .stage = announce_stage,
    .commit = announce_commit,
    .abort = announce_abort,
    .free = announce_free,
};

static bool announce_follows(const struct backend *backend)
{
    return backend->probe == PROBE_ANNOUNCE;
}

static int announce_probe_new(struct probe **out, const struct probe_context *context)
{
    struct announce_probe *announce = calloc(1, sizeof(*announce));
    if (!announce)
        return -ENOMEM;
    announce->probe = (struct probe){.ops = &announce_ops};
    followed_init(&announce->backends, &announce_entry_ops, announce, announce_follows);
    if (context->state_directory
        && asprintf(&announce->store_path, "%s/%s", context->state_directory, STORE_NAME) < 0) {
        free(announce);
        return -ENOMEM;
    }
    /* What was announced before a restart is looked at by the first scan
     * of each backend, then forgotten. */
    if (announce->store_path) {
        int r = announce_records_load(announce->store_path, &announce->restored);
        if (r < 0)
            log_message(LOG_WARNING, "ignoring %s: %s (not a regular file of ours, or not "
                        "what xenreadyd writes)", announce->store_path, strerror(-r));
        announce->restoring = true;
    }
    *out = &announce->probe;
    return 0;
}

const struct probe_type announce_probe_type = {
    .name = "announce",
    .follows = announce_follows,
    .create = announce_probe_new,
};
