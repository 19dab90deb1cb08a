// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * probe = xenready: a backend is the bridge another xenreadyd publishes
 * (protocol/xenready-guest.h), read through xenstore as a guest would, so
 * that one daemon waits on bridges served by several backend domains
 * (storage in one DomD, network in another); typically a daemon in dom0
 * holding a guest paused (signal = unpause) until they are all ready.
 *
 * The backend is up while the node says "ready" with an even generation,
 * down while it says anything else with a settled pair, or is missing. A
 * pair whose parity does not match is the publisher between its two writes
 * (and a node without both keys, one being made): it is not taken, the last
 * observation stands. Only the configured
 * publisher's node counts: its owner and its backend-id must be that domain
 * (a node made by anyone else is reported and not used), and when that
 * domain is gone (@releaseDomain) what it left behind no longer counts. A
 * publishing daemon that merely restarts leaves its nodes as they were, and
 * so does this probe.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "core/model.h"
#include "followed.h"
#include "probe.h"
#include "util/log.h"
#include "xen/xenstore.h"

struct xenready_entry {
    struct followed followed;    /* first: the backend */
    struct xenready_probe *probe;
    struct xenstore_watch *watch;
};

struct xenready_probe {
    struct probe probe;
    struct xenstore *xenstore;
    struct followed_set backends;
    struct model *staged_model;
    struct xenstore_watch *released;     /* @releaseDomain: a publisher may be gone */
};

static struct xenready_probe *to_xenready(struct probe *probe)
{
    return (struct xenready_probe *)probe;
}

/* A decimal number that is all of text; -1 otherwise. */
static long long parse_number(const char *text)
{
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (!text[0] || *end || errno || value < 0)
        return -1;
    return value;
}

/* Reads key of node into value (at most size - 1 bytes, NUL-terminated);
 * 0 or a negative errno. */
static int read_key(struct xenstore *xenstore, const char *node, const char *key, char *value,
                    size_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", node, key);
    char *text = NULL;
    unsigned int length;
    int r = xenstore_read(xenstore, path, &text, &length);
    if (r < 0)
        return r;
    snprintf(value, size, "%.*s", (int)(length < size ? length : size - 1), text);
    free(text);
    return 0;
}

/* Whether domid's home is there (the publisher's domain exists). */
static bool domain_present(struct xenstore *xenstore, unsigned int domid)
{
    char path[64], *text = NULL;
    unsigned int length;
    snprintf(path, sizeof(path), "/local/domain/%u/domid", domid);
    int r = xenstore_read(xenstore, path, &text, &length);
    free(text);
    return r != -ENOENT;
}

static void entry_check(struct xenready_entry *entry)
{
    struct backend *backend = entry->followed.backend;
    struct model *model = entry->probe->probe.model;
    struct xenstore *xenstore = entry->probe->xenstore;
    const char *node = backend->xenready_node;
    unsigned int publisher = backend->publisher_domid;
    char detail[512], state[32] = "", generation[32] = "", backend_id[32] = "";
    if (!xenstore_connected(xenstore))
        return;
    struct xs_permissions *permissions = NULL;
    unsigned int count = 0;
    int r = xenstore_get_permissions(xenstore, node, &permissions, &count);
    unsigned int owner = r == 0 && count ? permissions[0].id : 0;
    free(permissions);
    if (r == -ENOENT) {
        snprintf(detail, sizeof(detail), "%s is not published (yet)", node);
    } else if (r < 0) {
        snprintf(detail, sizeof(detail), "cannot read %s: %s%s", node, strerror(-r),
                 r == -EACCES ? " (probe = xenready reads another domain's bridge: dom0 may)"
                              : "");
    } else if (owner != publisher) {
        snprintf(detail, sizeof(detail), "%s was made by domain %u, not by the publisher "
                 "(domain %u): not used", node, owner, publisher);
    } else if (!domain_present(xenstore, publisher)) {
        snprintf(detail, sizeof(detail), "the publisher of %s, domain %u, is gone", node,
                 publisher);
    } else if (((r = read_key(xenstore, node, "state", state, sizeof(state))) < 0
                || (r = read_key(xenstore, node, "generation", generation, sizeof(generation)))
                       < 0)
               && r == -ENOENT) {
        return;   /* being made: its keys come with events of their own */
    } else if (r < 0) {
        snprintf(detail, sizeof(detail), "cannot read %s's state and generation: %s", node,
                 strerror(-r));
    } else if (read_key(xenstore, node, "backend-id", backend_id, sizeof(backend_id)) == 0
               && parse_number(backend_id) != (long long)publisher) {
        snprintf(detail, sizeof(detail), "%s names backend-id %.16s, not the publisher "
                 "(domain %u): not used", node, backend_id, publisher);
    } else {
        long long number = parse_number(generation);
        bool ready = strcmp(state, "ready") == 0;
        if (number < 1 || (ready ? number % 2 != 0 : (strcmp(state, "waiting") == 0
                                                        && number % 2 == 0)))
            return;   /* unsettled: the publisher is between its two writes */
        if (ready) {
            model_set_backend_ready(model, backend, true, NULL);
            return;
        }
        snprintf(detail, sizeof(detail), "%s is %s (generation %lld)", node,
                 strcmp(state, "waiting") == 0 ? "waiting" : "not ready", number);
    }
    model_set_backend_ready(model, backend, false, detail);
}

static void on_node_event(const char *path, void *userdata)
{
    entry_check(userdata);
}

/* A domain went: every backend whose publisher it may have been is looked
 * at again. */
static void on_domain_released(const char *path, void *userdata)
{
    struct xenready_probe *probe = userdata;
    for (size_t i = 0; i < probe->backends.count; i++)
        entry_check((struct xenready_entry *)probe->backends.entries[i]);
}

static int entry_create(void *probe_pointer, struct backend *backend, struct followed **out)
{
    struct xenready_probe *probe = probe_pointer;
    struct xenready_entry *entry = calloc(1, sizeof(*entry));
    if (!entry)
        return -ENOMEM;
    entry->followed.backend = backend;
    entry->probe = probe;
    int r = xenstore_watch_add(probe->xenstore, backend->xenready_node, on_node_event, entry,
                               true, &entry->watch);
    if (r < 0 && r != -ENOTCONN && !(xenstore_error_is_room(r) && entry->watch)) {
        free(entry);
        return r;
    }
    if (r < 0 && r != -ENOTCONN)
        log_message(LOG_ERR, "cannot watch %s in xenstore: %s%s; backend %s counts as not ready "
                    "until it is watched (tried again after each batch of xenstore events)",
                    backend->xenready_node, strerror(-r), xenstore_error_hint(r), backend->name);
    *out = &entry->followed;
    return 0;
}

static void entry_scan(void *probe, struct followed *followed)
{
    entry_check((struct xenready_entry *)followed);
}

static void entry_destroy(void *probe_pointer, struct followed *followed)
{
    struct xenready_probe *probe = probe_pointer;
    struct xenready_entry *entry = (struct xenready_entry *)followed;
    xenstore_watch_remove(probe->xenstore, entry->watch);
    free(entry);
}

static const struct followed_ops entry_ops = {
    .create = entry_create,
    .scan = entry_scan,
    .destroy = entry_destroy,
};

static int xenready_stage(struct probe *base, struct model *model, bool strict)
{
    struct xenready_probe *probe = to_xenready(base);
    probe->staged_model = model;
    if (!probe->released) {
        int r = xenstore_watch_add(probe->xenstore, "@releaseDomain", on_domain_released, probe,
                                   !strict, &probe->released);
        if (r < 0 && r != -ENOTCONN && !probe->released)
            return r;
    }
    return followed_stage(&probe->backends, model);
}

static void xenready_commit(struct probe *base)
{
    struct xenready_probe *probe = to_xenready(base);
    base->model = probe->staged_model;
    followed_commit(&probe->backends);
}

static void xenready_abort(struct probe *base)
{
    followed_abort(&to_xenready(base)->backends);
}

static void xenready_lost(struct probe *base)
{
    struct xenready_probe *probe = to_xenready(base);
    for (size_t i = 0; i < probe->backends.count; i++)
        model_forget_backend(base->model, probe->backends.entries[i]->backend,
                             "xenstore connection lost: read again once it is back");
}

static void xenready_back(struct probe *base)
{
    on_domain_released(NULL, to_xenready(base));
}

static void xenready_free(struct probe *base)
{
    struct xenready_probe *probe = to_xenready(base);
    followed_clear(&probe->backends);
    xenstore_watch_remove(probe->xenstore, probe->released);
    free(probe);
}

static const struct probe_ops xenready_ops = {
    .name = "xenready",
    .stage = xenready_stage,
    .commit = xenready_commit,
    .abort = xenready_abort,
    .free = xenready_free,
    .xenstore_lost = xenready_lost,
    .xenstore_back = xenready_back,
};

static bool xenready_follows(const struct backend *backend)
{
    return backend->probe == PROBE_XENREADY;
}

static int xenready_new(struct probe **out, const struct probe_context *context)
{
    struct xenready_probe *probe = calloc(1, sizeof(*probe));
    if (!probe)
        return -ENOMEM;
    probe->probe = (struct probe){.ops = &xenready_ops};
    probe->xenstore = context->xenstore;
    followed_init(&probe->backends, &entry_ops, probe, xenready_follows);
    *out = &probe->probe;
    return 0;
}

/* Backends that are bridges another xenreadyd publishes (probe = xenready). */
const struct probe_type xenready_probe_type = {
    .name = "xenready",
    .needs_xenstore = true,
    .follows = xenready_follows,
    .create = xenready_new,
};
