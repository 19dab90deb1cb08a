// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Publishes each bridge's state as protocol/xenready-guest.h describes. No
 * transaction: generation is written before state, so a frontend that sees a
 * new state sees a generation at least as new, and a crash between the two
 * writes only makes the next instance bump the generation once more.
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

/* Writes generation then state; on failure the next publication retries. */
static int node_publish(struct xenstore_signaller *signaller, struct bridge_node *node)
{
    enum bridge_state state = node->bridge->state;
    if (node->published == (int)state)
        return 0;
    char generation[24];
    snprintf(generation, sizeof(generation), "%llu", (unsigned long long)node->generation + 1);
    int r = node_write(signaller, node, XENREADY_KEY_GENERATION, generation);
    if (r == 0)
        r = node_write(signaller, node, XENREADY_KEY_STATE, bridge_state_name(state));
    if (r < 0)
        return r;
    node->generation++;
    node->published = (int)state;
    node_succeed(node);
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
    char number[24];
    snprintf(number, sizeof(number), "%d", XENREADY_PROTOCOL_VERSION);
    int r = node_write(signaller, node, XENREADY_KEY_VERSION, number);
    snprintf(number, sizeof(number), "%u", self);
    if (r == 0)
        r = node_write(signaller, node, XENREADY_KEY_BACKEND_ID, number);
    if (r == 0)
        r = node_write(signaller, node, XENREADY_KEY_DEVICE_TREE_PATH,
                       node->bridge->device_tree_path);
    if (r < 0)
        return r;
    node->published = PUBLISHED_NOTHING;
    node->usable = true;
    return 0;
}

/* Parses what an earlier instance published; anything odd counts as nothing
 * published, so the node is rewritten with a fresh generation. */
static void node_adopt(struct xenstore_signaller *signaller, struct bridge_node *node)
{
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
        node_adopt(signaller, node);
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

static const struct signaller_ops xenstore_signaller_ops = {
    .name = "xenstore",
    .add_bridge = xenstore_signaller_add_bridge,
    .start = xenstore_signaller_start,
    .publish = xenstore_signaller_publish,
    .report = xenstore_signaller_report,
    .free = xenstore_signaller_free,
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
