// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Publishes each bridge's state as protocol/xenready-guest.h describes:
 * state first, then the generation whose parity goes with it.
 */
#include "xenstore-signaller.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "core/model.h"
#include "signaller.h"
#include "util/log.h"
#include "xen/xenstore.h"
#include "xenready-guest.h"

enum published { PUBLISHED_NOTHING = -1 };

struct bridge_node {
    struct bridge *bridge;
    char *path;                  /* /local/domain/<fe>/xenready/<id> */
    int published;               /* enum bridge_state, or PUBLISHED_NOTHING */
    uint64_t generation;
    bool usable;                 /* exists and is ours */
    char *error;
};

struct xenstore_signaller {
    struct signaller signaller;
    struct xenstore *xenstore;
    struct bridge_node *nodes;   /* indexed by bridge->index */
    size_t node_count;
};

static struct xenstore_signaller *to_xenstore_signaller(struct signaller *signaller)
{
    return (struct xenstore_signaller *)signaller;
}

static struct bridge_node *node_for(struct xenstore_signaller *signaller,
                                    const struct bridge *bridge)
{
    if (bridge->index >= signaller->node_count || !signaller->nodes[bridge->index].bridge)
        return NULL;
    return &signaller->nodes[bridge->index];
}

/* Records (and logs once) why a node cannot be used or written. */
__attribute__((format(printf, 3, 4)))
static void node_fail(struct xenstore_signaller *signaller, struct bridge_node *node,
                      const char *format, ...)
{
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    if (node->error && strcmp(node->error, text) == 0)
        return;
    free(node->error);
    node->error = strdup(text);
    log_bridge(LOG_ERR, node->bridge, NULL, "bridge %s: %s", node->bridge->name, text);
}

static void node_succeed(struct bridge_node *node)
{
    if (node->error)
        log_bridge(LOG_NOTICE, node->bridge, NULL, "bridge %s: signal node %s usable again",
                   node->bridge->name, node->path);
    free(node->error);
    node->error = NULL;
}

static int node_write(struct xenstore_signaller *signaller, struct bridge_node *node,
                      const char *key, const char *value)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", node->path, key);
    int r = xenstore_write(signaller->xenstore, path, value);
    if (r < 0)
        node_fail(signaller, node, "cannot write %s: %s", path, strerror(-r));
    return r;
}

/* At rest a generation's parity names the state: odd while waiting, even
 * while ready. A pair that breaks the rule was being written when its writer
 * stopped, which the next publication can see and complete. */
static bool generation_fits(uint64_t generation, enum bridge_state state)
{
    return generation && generation % 2 == (state == BRIDGE_READY ? 0u : 1u);
}

/* State first, so the frontend's watch fires on the one write that matters,
 * then the generation that goes with it. Two plain writes, no transaction: a
 * transaction costs two more round trips and, measured, held up the other
 * writers of the same domain (the device models) by a factor of 14 during a
 * burst. Whatever a stop between the two writes leaves, the parity rule lets
 * the next publication finish with exactly one bump per change. Failures are
 * kept for status and retried on the next publication. */
static int node_publish(struct xenstore_signaller *signaller, struct bridge_node *node)
{
    enum bridge_state state = node->bridge->state;
    bool state_current = node->published == (int)state;
    if (state_current && generation_fits(node->generation, state))
        return 0;
    if (!state_current) {
        int r = node_write(signaller, node, XENREADY_KEY_STATE, bridge_state_name(state));
        if (r < 0)
            return r;
        node->published = (int)state;
    }
    uint64_t next = node->generation + 1;
    if (!generation_fits(next, state))
        next++;
    char generation[24];
    snprintf(generation, sizeof(generation), "%llu", (unsigned long long)next);
    int r = node_write(signaller, node, XENREADY_KEY_GENERATION, generation);
    if (r < 0)
        return r;
    node->generation = next;
    node_succeed(node);
    return 0;
}

/* The keys that describe the bridge (version, backend-id, device-tree-path).
 * When adopting a node, only what is missing or different is written: an
 * earlier instance may have been stopped half-way, or the configuration may
 * have changed the path. */
static int node_write_description(struct xenstore_signaller *signaller, struct bridge_node *node,
                                  bool only_changes)
{
    char version[24], backend_id[24];
    snprintf(version, sizeof(version), "%d", XENREADY_PROTOCOL_VERSION);
    snprintf(backend_id, sizeof(backend_id), "%u", xenstore_domid(signaller->xenstore));
    const char *const keys[][2] = {
        {XENREADY_KEY_VERSION, version},
        {XENREADY_KEY_BACKEND_ID, backend_id},
        {XENREADY_KEY_DEVICE_TREE_PATH, node->bridge->device_tree_path},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (only_changes) {
            char path[512], *value = NULL;
            unsigned int length;
            snprintf(path, sizeof(path), "%s/%s", node->path, keys[i][0]);
            bool same = xenstore_read(signaller->xenstore, path, &value, &length) == 0
                        && strcmp(value, keys[i][1]) == 0;
            free(value);
            if (same)
                continue;
        }
        int r = node_write(signaller, node, keys[i][0], keys[i][1]);
        if (r < 0)
            return r;
    }
    return 0;
}

static int node_create(struct xenstore_signaller *signaller, struct bridge_node *node)
{
    struct xs_handle *handle = xenstore_handle(signaller->xenstore);
    unsigned int self = xenstore_domid(signaller->xenstore);
    unsigned int frontend = node->bridge->frontend->domid;

    if (!xs_mkdir(handle, XBT_NULL, node->path)) {
        int r = -errno;
        if (r == -EACCES)
            node_fail(signaller, node,
                      "cannot create %s: %s; the toolstack must create /local/domain/%u/%s "
                      "owned by domain %u with read access for domain %u (see xenreadyd(8))",
                      node->path, strerror(-r), frontend, XENREADY_DIRECTORY, self, frontend);
        else
            node_fail(signaller, node, "cannot create %s: %s", node->path, strerror(-r));
        return r;
    }
    /* Owner DomD, nothing for others, read for the frontend; the keys written
     * below inherit this. */
    struct xs_permissions permissions[2] = {
        {.id = self, .perms = XS_PERM_NONE},
        {.id = frontend, .perms = XS_PERM_READ},
    };
    if (!xs_set_permissions(handle, XBT_NULL, node->path, permissions, 2)) {
        int r = -errno;
        node_fail(signaller, node, "cannot set permissions of %s: %s", node->path, strerror(-r));
        return r;
    }
    int r = node_write_description(signaller, node, false);
    if (r < 0)
        return r;
    node->published = PUBLISHED_NOTHING;
    node->usable = true;
    return 0;
}

/* Parses what an earlier instance published; anything odd counts as nothing
 * published, so the node is rewritten with a fresh generation. */
static int node_adopt(struct xenstore_signaller *signaller, struct bridge_node *node)
{
    int r = node_write_description(signaller, node, true);
    if (r < 0)
        return r;
    char path[512], *value = NULL;
    unsigned int length;
    node->published = PUBLISHED_NOTHING;
    snprintf(path, sizeof(path), "%s/%s", node->path, XENREADY_KEY_GENERATION);
    if (xenstore_read(signaller->xenstore, path, &value, &length) == 0) {
        char *end;
        errno = 0;
        unsigned long long generation = strtoull(value, &end, 10);
        if (value[0] >= '0' && value[0] <= '9' && !*end && !errno)
            node->generation = generation;
        free(value);
    }
    snprintf(path, sizeof(path), "%s/%s", node->path, XENREADY_KEY_STATE);
    if (node->generation && xenstore_read(signaller->xenstore, path, &value, &length) == 0) {
        if (strcmp(value, XENREADY_STATE_READY) == 0)
            node->published = BRIDGE_READY;
        else if (strcmp(value, XENREADY_STATE_WAITING) == 0)
            node->published = BRIDGE_WAITING;
        free(value);
    }
    node->usable = true;
    return 0;
}

/* Makes the node exist, be ours, and show the bridge's state. */
static int node_reconcile(struct xenstore_signaller *signaller, struct bridge_node *node)
{
    struct xs_handle *handle = xenstore_handle(signaller->xenstore);
    unsigned int count = 0;
    struct xs_permissions *permissions = xs_get_permissions(handle, XBT_NULL, node->path, &count);
    int r = 0;
    if (!permissions && errno == ENOENT) {
        r = node_create(signaller, node);
    } else if (!permissions && errno == EACCES) {
        /* It exists (else ENOENT) yet we may not read it: not ours. */
        r = -EPERM;
        node_fail(signaller, node,
                  "%s exists but I (domain %u) may not read it: made by another domain, "
                  "not using it", node->path, xenstore_domid(signaller->xenstore));
    } else if (!permissions) {
        r = -errno;
        node_fail(signaller, node, "cannot read permissions of %s: %s", node->path,
                  strerror(-r));
    } else if (count == 0 || permissions[0].id != xenstore_domid(signaller->xenstore)) {
        /* Someone else made it: whatever it says was not said by us. */
        r = -EPERM;
        node_fail(signaller, node,
                  "%s exists but is owned by domain %u, not by me (domain %u): not using it",
                  node->path, count ? permissions[0].id : 0u,
                  xenstore_domid(signaller->xenstore));
    } else {
        r = node_adopt(signaller, node);
    }
    free(permissions);
    if (r < 0) {
        node->usable = false;
        return r;
    }
    return node_publish(signaller, node);
}

static int xenstore_signaller_add_bridge(struct signaller *base, struct bridge *bridge)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    if (bridge->index >= signaller->node_count) {
        size_t count = bridge->index + 1;
        struct bridge_node *grown = realloc(signaller->nodes, count * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        memset(grown + signaller->node_count, 0,
               (count - signaller->node_count) * sizeof(*grown));
        signaller->nodes = grown;
        signaller->node_count = count;
    }
    struct bridge_node *node = &signaller->nodes[bridge->index];
    *node = (struct bridge_node){.bridge = bridge, .published = PUBLISHED_NOTHING};
    if (asprintf(&node->path, "/local/domain/%u/%s/%s", bridge->frontend->domid,
                 XENREADY_DIRECTORY, bridge->id) < 0) {
        node->path = NULL;
        node->bridge = NULL;
        return -ENOMEM;
    }
    return 0;
}

static int xenstore_signaller_start(struct signaller *base)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    for (size_t i = 0; i < signaller->node_count; i++)
        if (signaller->nodes[i].bridge)
            node_reconcile(signaller, &signaller->nodes[i]);
    return 0;
}

static void xenstore_signaller_publish(struct signaller *base, struct bridge *bridge)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    struct bridge_node *node = node_for(signaller, bridge);
    if (!node)
        return;
    if (node->usable)
        node_publish(signaller, node);
    else
        node_reconcile(signaller, node);
}

static int xenstore_signaller_report(struct signaller *base, const struct bridge *bridge,
                                     struct signal_report *out)
{
    struct bridge_node *node = node_for(to_xenstore_signaller(base), bridge);
    if (!node)
        return -ENOENT;
    *out = (struct signal_report){
        .method = "xenstore",
        .target = node->path,
        .generation = node->generation,
        .error = node->error,
    };
    return 0;
}

static void xenstore_signaller_free(struct signaller *base)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    for (size_t i = 0; i < signaller->node_count; i++) {
        free(signaller->nodes[i].path);
        free(signaller->nodes[i].error);
    }
    free(signaller->nodes);
    free(signaller);
}

/* The toolstack removes a domain's home with it and, for a domain that comes
 * back, makes a fresh xenready directory: the nodes are created again. */
static void xenstore_signaller_frontend_changed(struct signaller *base, struct frontend *frontend,
                                                bool present)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    for (size_t i = 0; i < signaller->node_count; i++) {
        struct bridge_node *node = &signaller->nodes[i];
        if (!node->bridge || node->bridge->frontend != frontend)
            continue;
        node->usable = false;
        if (present)
            node_reconcile(signaller, node);
    }
}

static const struct signaller_ops xenstore_signaller_ops = {
    .name = "xenstore",
    .add_bridge = xenstore_signaller_add_bridge,
    .start = xenstore_signaller_start,
    .publish = xenstore_signaller_publish,
    .report = xenstore_signaller_report,
    .free = xenstore_signaller_free,
    .frontend_changed = xenstore_signaller_frontend_changed,
};

int xenstore_signaller_new(struct signaller **out, struct xenstore *xenstore)
{
    struct xenstore_signaller *signaller = calloc(1, sizeof(*signaller));
    if (!signaller)
        return -ENOMEM;
    signaller->signaller.ops = &xenstore_signaller_ops;
    signaller->xenstore = xenstore;
    *out = &signaller->signaller;
    return 0;
}
