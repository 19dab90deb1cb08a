// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Publishes each bridge's state as protocol/xenready-guest.h describes:
 * state first, then the generation whose parity goes with it.
 */
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
#include "util/model-log.h"
#include "xen/xenstore.h"
#include "xenready-guest.h"

enum published { PUBLISHED_NOTHING = -1 };

/* What a watch event on a node names: the node itself or one of its keys. */
enum node_part {
    PART_NODE,
    PART_STATE,
    PART_GENERATION,
    PART_VERSION,
    PART_BACKEND_ID,
    PART_DEVICE_TREE_PATH,
    PART_OTHER,
};

/* The watch reports our own writes back like anyone else's, in the order
 * they were made. Each successful change of ours is noted here, and an event
 * that is first in line is taken as its echo, without a read: the watch costs
 * no round trip on the signal path. Anything else is checked by reading.
 * xenstored drops an event identical (path and token) to one it has not
 * sent yet, so two changes of one key may come back as one event: a part is
 * noted once until its echo comes. Expecting an echo that never comes would
 * leave it first in line, to be mistaken for someone else's change later;
 * one echo more than noted only costs a read. */
enum { ECHOES_MAX = 16 };

struct echoes {
    unsigned char parts[ECHOES_MAX];
    unsigned char first, count;
};

struct frontend_watch;

struct bridge_node {
    struct bridge *bridge;
    struct frontend_watch *watch;  /* its frontend's directory */
    char *path;                  /* /local/domain/<fe>/xenready/<id> */
    int published;               /* enum bridge_state, or PUBLISHED_NOTHING */
    uint64_t generation;         /* the last one written */
    bool usable;                 /* exists and is ours */
    bool stale;                  /* state and generation to be written even if unchanged */
    bool retry;                  /* refused for lack of room: tried after the next batch */
    char *error;
    struct echoes echoes;
    /* What a stage found of a new node (node_inspect()), used by its first
     * publication instead of asking again: the result of reading its
     * permissions and, when that worked, its owner. */
    bool inspected;
    int inspect_result;
    unsigned int inspect_owner;
    /* The stage under way: kept for next_bridge, or new (fresh), and
     * whether its description must be looked at (its device-tree path
     * changed). */
    struct bridge *next_bridge;
    bool taken;
    bool fresh;
    bool describe;
};

/* One watch per frontend, on its xenready directory: it reports a node
 * removed (the event names the node), a key changed or removed, permissions
 * changed, and the directory itself going or coming. */
struct frontend_watch {
    struct xenstore_signaller *signaller;
    struct frontend *frontend;
    char *path;                  /* /local/domain/<fe>/xenready */
    struct bridge_node **nodes;
    size_t node_count;
    struct xenstore_watch *registration;
    bool armed;
    char *error;                 /* why it is not armed */
    /* The stage under way: what it watches for next. */
    struct frontend *next_frontend;
    struct bridge_node **next_nodes;
    size_t next_node_count;
    bool taken;
    bool fresh;
};

struct xenstore_signaller {
    struct signaller signaller;
    struct xenstore *xenstore;
    struct model *model;         /* the running one */
    struct bridge_node **nodes;  /* indexed by bridge->index of model */
    size_t node_count;
    struct frontend_watch **watches;
    size_t watch_count;
    struct model *staged_model;
    struct bridge_node **staged_nodes;
    size_t staged_node_count;
    struct frontend_watch **staged_watches;
    size_t staged_watch_count;
    signaller_refresh_fn on_refresh;
    void *refresh_userdata;
    size_t retry_from;           /* where the next retry starts */
};

static struct xenstore_signaller *to_xenstore_signaller(struct signaller *signaller)
{
    return (struct xenstore_signaller *)signaller;
}

static struct bridge_node *node_for(struct xenstore_signaller *signaller,
                                    const struct bridge *bridge)
{
    if (bridge->index >= signaller->node_count || !signaller->nodes[bridge->index]
        || signaller->nodes[bridge->index]->bridge != bridge)
        return NULL;
    return signaller->nodes[bridge->index];
}

/* Records (and logs once) why a node cannot be used or written; r names the
 * errno, so that what ran out of room is said and tried again. */
__attribute__((format(printf, 4, 5)))
static void node_fail(struct xenstore_signaller *signaller, struct bridge_node *node, int r,
                      const char *format, ...)
{
    char text[512];
    va_list args;
    va_start(args, format);
    int used = vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    node->retry = xenstore_error_is_room(r);
    if (node->retry && used >= 0 && (size_t)used < sizeof(text))
        snprintf(text + used, sizeof(text) - (size_t)used,
                 "%s; tried again after the next xenstore event", xenstore_error_hint(r));
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
    node->retry = false;
}

static enum node_part node_part_of(const char *key)
{
    static const char *const keys[] = {
        [PART_STATE] = XENREADY_KEY_STATE,
        [PART_GENERATION] = XENREADY_KEY_GENERATION,
        [PART_VERSION] = XENREADY_KEY_VERSION,
        [PART_BACKEND_ID] = XENREADY_KEY_BACKEND_ID,
        [PART_DEVICE_TREE_PATH] = XENREADY_KEY_DEVICE_TREE_PATH,
    };
    if (!key)
        return PART_NODE;
    for (size_t i = PART_STATE; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(key, keys[i]) == 0)
            return (enum node_part)i;
    return PART_OTHER;
}

/* A change of ours succeeded: its event is on its way (if the watch is). */
static void node_expect_echo(struct bridge_node *node, enum node_part part)
{
    struct echoes *echoes = &node->echoes;
    if (!node->watch || !node->watch->armed)
        return;
    for (unsigned int i = 0; i < echoes->count; i++)
        if (echoes->parts[(echoes->first + i) % ECHOES_MAX] == part)
            return;
    if (echoes->count == ECHOES_MAX)
        *echoes = (struct echoes){0};
    echoes->parts[(echoes->first + echoes->count++) % ECHOES_MAX] = (unsigned char)part;
}

static bool node_take_echo(struct bridge_node *node, enum node_part part)
{
    struct echoes *echoes = &node->echoes;
    if (!echoes->count || echoes->parts[echoes->first] != part)
        return false;
    echoes->first = (unsigned char)((echoes->first + 1) % ECHOES_MAX);
    echoes->count--;
    return true;
}

/* Why a node could not be made, with what the toolstack must provide when
 * xenstored said no. */
static void node_fail_create(struct xenstore_signaller *signaller, struct bridge_node *node,
                             int r)
{
    if (r == -EACCES)
        node_fail(signaller, node, r,
                  "cannot create %s: %s; the toolstack must create /local/domain/%u/%s "
                  "owned by domain %u with read access for domain %u (see xenreadyd(8))",
                  node->path, strerror(-r), node->bridge->frontend->domid, XENREADY_DIRECTORY,
                  xenstore_domid(signaller->xenstore), node->bridge->frontend->domid);
    else
        node_fail(signaller, node, r, "cannot create %s: %s", node->path, strerror(-r));
}

/* creates: this write makes the node itself (its failure says so). */
static int node_write_key(struct xenstore_signaller *signaller, struct bridge_node *node,
                          const char *key, const char *value, bool creates)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", node->path, key);
    int r = xenstore_write(signaller->xenstore, path, value);
    if (r < 0 && creates)
        node_fail_create(signaller, node, r);
    else if (r < 0)
        node_fail(signaller, node, r, "cannot write %s: %s", path, strerror(-r));
    else
        node_expect_echo(node, node_part_of(key));
    return r;
}

static int node_write(struct xenstore_signaller *signaller, struct bridge_node *node,
                      const char *key, const char *value)
{
    return node_write_key(signaller, node, key, value, false);
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
 * the next publication finish with exactly one bump per change. A stale node
 * (made again, or found changed under us) gets both keys written even when
 * the state is the one last published, with the same generation: nothing
 * changed in the backends, and the generation never goes back. Failures
 * are kept for status and retried on the next publication. */
static int node_publish(struct xenstore_signaller *signaller, struct bridge_node *node)
{
    enum bridge_state state = node->bridge->state;
    bool state_current = node->published == (int)state;
    bool fits = generation_fits(node->generation, state);
    if (state_current && fits && !node->stale)
        return 0;
    if (!state_current || node->stale) {
        int r = node_write(signaller, node, XENREADY_KEY_STATE, bridge_state_name(state));
        if (r < 0)
            return r;
        node->published = (int)state;
    }
    uint64_t next = node->generation;
    if (!state_current || !fits) {
        next = node->generation + 1;
        if (!generation_fits(next, state))
            next++;
    }
    char generation[24];
    snprintf(generation, sizeof(generation), "%llu", (unsigned long long)next);
    int r = node_write(signaller, node, XENREADY_KEY_GENERATION, generation);
    if (r < 0)
        return r;
    node->generation = next;
    node->stale = false;
    node_succeed(node);
    return 0;
}

/* What a key that describes the bridge (version, backend-id,
 * device-tree-path) must hold; NULL for any other key. */
static const char *node_description(struct xenstore_signaller *signaller,
                                    const struct bridge_node *node, const char *key,
                                    char scratch[24])
{
    if (strcmp(key, XENREADY_KEY_VERSION) == 0) {
        snprintf(scratch, 24, "%d", XENREADY_PROTOCOL_VERSION);
        return scratch;
    }
    if (strcmp(key, XENREADY_KEY_BACKEND_ID) == 0) {
        snprintf(scratch, 24, "%u", xenstore_domid(signaller->xenstore));
        return scratch;
    }
    if (strcmp(key, XENREADY_KEY_DEVICE_TREE_PATH) == 0)
        return node->bridge->device_tree_path;
    return NULL;
}

/* Whether the node's key holds expected; a read refused for lack of room
 * counts as holding it (nothing is known; the node is looked at again after
 * the next batch of events). */
static bool node_key_holds(struct xenstore_signaller *signaller, struct bridge_node *node,
                           const char *key, const char *expected)
{
    char path[512], *value = NULL;
    unsigned int length;
    snprintf(path, sizeof(path), "%s/%s", node->path, key);
    int r = xenstore_read(signaller->xenstore, path, &value, &length);
    bool holds = r == 0 && length == strlen(expected) && memcmp(value, expected, length) == 0;
    free(value);
    if (r < 0 && xenstore_error_is_room(r)) {
        node->retry = true;
        return true;
    }
    return holds;
}

/* The keys that describe the bridge. When adopting a node, only what is
 * missing or different is written: an earlier instance may have been stopped
 * half-way, or the configuration may have changed the path. creating: the
 * node does not exist yet, and the first write makes it. */
static int node_write_description(struct xenstore_signaller *signaller, struct bridge_node *node,
                                  bool only_changes, bool creating)
{
    static const char *const keys[] = {XENREADY_KEY_VERSION, XENREADY_KEY_BACKEND_ID,
                                       XENREADY_KEY_DEVICE_TREE_PATH};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char scratch[24];
        const char *value = node_description(signaller, node, keys[i], scratch);
        if (only_changes && node_key_holds(signaller, node, keys[i], value))
            continue;
        int r = node_write_key(signaller, node, keys[i], value, creating && i == 0);
        if (r < 0)
            return r;
    }
    return 0;
}

static int node_create(struct xenstore_signaller *signaller, struct bridge_node *node)
{
    unsigned int self = xenstore_domid(signaller->xenstore);
    unsigned int frontend = node->bridge->frontend->domid;

    /* xenstored gives a node it creates its parent's permissions (owner: the
     * creator, here the directory's own): in a directory with exactly those
     * a node needs, the first write makes the node, two round trips fewer
     * per node at start. Otherwise (or when unsure since an event on the
     * directory) the node is made and its permissions set first. */
    bool inherits = node->bridge->frontend->directory_private;
    if (!inherits) {
        int r = xenstore_mkdir(signaller->xenstore, node->path);
        if (r < 0) {
            node_fail_create(signaller, node, r);
            return r;
        }
        node_expect_echo(node, PART_NODE);
        /* Owner DomD, nothing for others, read for the frontend; the keys
         * written below inherit this. */
        struct xs_permissions permissions[2] = {
            {.id = self, .perms = XS_PERM_NONE},
            {.id = frontend, .perms = XS_PERM_READ},
        };
        r = xenstore_set_permissions(signaller->xenstore, node->path, permissions, 2);
        if (r < 0) {
            node_fail(signaller, node, r, "cannot set permissions of %s: %s", node->path,
                      strerror(-r));
            return r;
        }
        node_expect_echo(node, PART_NODE);
    }
    int r = node_write_description(signaller, node, false, inherits);
    if (r < 0)
        return r;
    /* A node made again shows what was published before it went. */
    node->stale = true;
    node->usable = true;
    return 0;
}

/* A generation read from the node, 0 when it is missing or not a number. */
static uint64_t node_read_generation(struct xenstore_signaller *signaller,
                                     const struct bridge_node *node)
{
    char path[512], *value = NULL;
    unsigned int length;
    uint64_t generation = 0;
    snprintf(path, sizeof(path), "%s/%s", node->path, XENREADY_KEY_GENERATION);
    if (xenstore_read(signaller->xenstore, path, &value, &length) == 0) {
        char *end;
        errno = 0;
        unsigned long long parsed = strtoull(value, &end, 10);
        if (value[0] >= '0' && value[0] <= '9' && !*end && !errno)
            generation = parsed;
        free(value);
    }
    return generation;
}

/* Parses what an earlier instance published; anything odd counts as nothing
 * published, so the node is rewritten with a fresh generation. */
static void node_read_published(struct xenstore_signaller *signaller, struct bridge_node *node)
{
    char path[512], *value = NULL;
    unsigned int length;
    node->published = PUBLISHED_NOTHING;
    node->generation = node_read_generation(signaller, node);
    snprintf(path, sizeof(path), "%s/%s", node->path, XENREADY_KEY_STATE);
    if (node->generation && xenstore_read(signaller->xenstore, path, &value, &length) == 0) {
        if (strcmp(value, XENREADY_STATE_READY) == 0)
            node->published = BRIDGE_READY;
        else if (strcmp(value, XENREADY_STATE_WAITING) == 0)
            node->published = BRIDGE_WAITING;
    }
    free(value);
}

/* Takes over a node an earlier instance made: its description is completed
 * and what it published read (unless node_inspect() did). */
static int node_adopt(struct xenstore_signaller *signaller, struct bridge_node *node,
                      bool read_published)
{
    int r = node_write_description(signaller, node, true, false);
    if (r < 0)
        return r;
    if (read_published)
        node_read_published(signaller, node);
    node->usable = true;
    return 0;
}

/* Who owns the node: the result of reading its permissions, and the owner
 * in *owner when that worked. */
static int node_owner(struct xenstore_signaller *signaller, const struct bridge_node *node,
                      unsigned int *owner)
{
    unsigned int count = 0;
    struct xs_permissions *permissions = NULL;
    int r = xenstore_get_permissions(signaller->xenstore, node->path, &permissions, &count);
    if (r == 0 && count == 0)
        r = -EPERM;
    if (r == 0)
        *owner = permissions[0].id;
    free(permissions);
    return r;
}

/* A stage's look at a new node, writing nothing: whether it exists and is
 * ours, and then what it shows (the frontend's last state, before a
 * restart). Its first publication goes on from what was found. */
static void node_inspect(struct xenstore_signaller *signaller, struct bridge_node *node)
{
    node->inspect_result = node_owner(signaller, node, &node->inspect_owner);
    node->inspected = node->inspect_result != -ENOTCONN;
    if (node->inspect_result == 0 && node->inspect_owner == xenstore_domid(signaller->xenstore))
        node_read_published(signaller, node);
}

/* A node this instance published to, found changed under it: the
 * description is completed, and state and generation are written again
 * unless they still say what was published. The generation continues from
 * the larger of ours and the one found, so a frontend never sees it go back. */
static int node_check(struct xenstore_signaller *signaller, struct bridge_node *node)
{
    int r = node_write_description(signaller, node, true, false);
    if (r < 0)
        return r;
    uint64_t found = node_read_generation(signaller, node);
    bool changed = found != node->generation;
    if (found > node->generation)
        node->generation = found;
    if (changed || !node_key_holds(signaller, node, XENREADY_KEY_STATE,
                                   bridge_state_name((enum bridge_state)node->published)))
        node->stale = true;
    node->usable = true;
    return 0;
}

/* Whether the frontend's xenready directory is there: when it is not, the
 * frontend is going away (the toolstack removes its home, then releases it)
 * and nothing is made again until the domain events say it is back. */
static bool node_directory_present(struct xenstore_signaller *signaller,
                                   const struct bridge_node *node)
{
    char path[64], *value = NULL;
    unsigned int length;
    snprintf(path, sizeof(path), "/local/domain/%u/%s", node->bridge->frontend->domid,
             XENREADY_DIRECTORY);
    int r = xenstore_read(signaller->xenstore, path, &value, &length);
    free(value);
    return r != -ENOENT && r != -EACCES;
}

/* Makes the node exist, be ours, and show the bridge's state. thorough: an
 * event said something changed under us (or a retry): a missing node is made
 * again only while its directory exists, and an existing one is checked key
 * by key. */
static int node_reconcile(struct xenstore_signaller *signaller, struct bridge_node *node,
                          bool thorough)
{
    unsigned int self = xenstore_domid(signaller->xenstore), owner = 0;
    bool inspected = node->inspected;
    node->inspected = false;
    int r = inspected ? node->inspect_result : node_owner(signaller, node, &owner);
    if (inspected)
        owner = node->inspect_owner;
    if (r == -ENOTCONN) {
        /* Put right once xenstore is back (xenstore_back). */
        node->usable = false;
        return r;
    }
    bool remade = false, checked = false;
    if (r == -ENOENT) {
        if (thorough && !node_directory_present(signaller, node)) {
            node->usable = false;
            return r;
        }
        remade = node->published != PUBLISHED_NOTHING;
        r = node_create(signaller, node);
    } else if (r == -EACCES) {
        /* It exists (else ENOENT) yet we may not read it: not ours. */
        r = -EPERM;
        node_fail(signaller, node, r,
                  "%s exists but I (domain %u) may not read it: made by another domain, "
                  "not using it", node->path, self);
    } else if (r < 0) {
        node_fail(signaller, node, r, "cannot read permissions of %s: %s", node->path,
                  strerror(-r));
    } else if (owner != self) {
        /* Someone else made it: whatever it says was not said by us. */
        r = -EPERM;
        node_fail(signaller, node, r,
                  "%s exists but is owned by domain %u, not by me (domain %u): not using it",
                  node->path, owner, self);
    } else if (inspected) {
        r = node_adopt(signaller, node, false);
    } else if (node->published == PUBLISHED_NOTHING) {
        r = node_adopt(signaller, node, true);
    } else if (thorough || !node->usable) {
        r = node_check(signaller, node);
        checked = true;
    }
    if (r < 0) {
        node->usable = false;
        return r;
    }
    r = node_publish(signaller, node);
    if (r == 0 && remade)
        log_bridge(LOG_NOTICE, node->bridge, NULL,
                   "bridge %s: signal node %s was removed while I ran; made it again with "
                   "state %s, generation %llu", node->bridge->name, node->path,
                   bridge_state_name(node->bridge->state),
                   (unsigned long long)node->generation);
    /* What other signallers keep in the node (event-channel) may be gone
     * with it, even when our own writes made the node again first. */
    if (r == 0 && (remade || checked) && signaller->on_refresh)
        signaller->on_refresh(node->bridge, signaller->refresh_userdata);
    return r;
}

/* An event on one key of a node: our own writes come back here too, so the
 * key is read and only a difference leads to a repair. */
static void node_on_key_event(struct xenstore_signaller *signaller, struct bridge_node *node,
                              const char *key)
{
    if (!node->usable) {
        node_reconcile(signaller, node, true);
        return;
    }
    if (strcmp(key, XENREADY_KEY_EVENT_CHANNEL) == 0) {
        if (signaller->on_refresh)
            signaller->on_refresh(node->bridge, signaller->refresh_userdata);
        return;
    }
    char scratch[24];
    const char *expected = node_description(signaller, node, key, scratch);
    if (node->published != PUBLISHED_NOTHING) {
        if (strcmp(key, XENREADY_KEY_STATE) == 0)
            expected = bridge_state_name((enum bridge_state)node->published);
        else if (strcmp(key, XENREADY_KEY_GENERATION) == 0) {
            snprintf(scratch, sizeof(scratch), "%llu", (unsigned long long)node->generation);
            expected = scratch;
        }
    }
    if (!expected || node_key_holds(signaller, node, key, expected))
        return;
    log_bridge(LOG_NOTICE, node->bridge, NULL,
               "bridge %s: %s/%s was changed or removed by someone else; putting the node right",
               node->bridge->name, node->path, key);
    node_reconcile(signaller, node, true);
}

/* An event on the directory itself (its first event, or the directory made,
 * removed or changed): every node of the frontend that is missing or not in
 * use is looked at, with one listing. */
static void frontend_check_directory(struct frontend_watch *watch)
{
    struct xenstore_signaller *signaller = watch->signaller;
    char **children = NULL;
    unsigned int count = 0;
    int r = xenstore_directory(signaller->xenstore, watch->path, &children, &count);
    if (r == -ENOENT || r == -EACCES) {
        /* Going away with its domain; made again when it is back. */
        for (size_t i = 0; i < watch->node_count; i++)
            watch->nodes[i]->usable = false;
        return;
    }
    for (size_t i = 0; r == 0 && i < watch->node_count; i++) {
        struct bridge_node *node = watch->nodes[i];
        bool listed = false;
        for (unsigned int j = 0; j < count && !listed; j++)
            listed = strcmp(children[j], node->bridge->id) == 0;
        if (!listed || !node->usable)
            node_reconcile(signaller, node, true);
    }
    free(children);
}

static void frontend_on_event(const char *path, void *userdata)
{
    struct frontend_watch *watch = userdata;
    struct xenstore_signaller *signaller = watch->signaller;
    watch->armed = true;
    if (watch->error) {
        log_message(LOG_NOTICE, "watching %s again: removed signal nodes are noticed at once",
                    watch->path);
        free(watch->error);
        watch->error = NULL;
    }
    /* The directory's permissions may have changed: until the domain events
     * read them again, nodes are made with their own. */
    if (strcmp(path, watch->path) == 0)
        watch->frontend->directory_private = false;
    /* Whether the frontend exists is the domain events' call (xen/domains.h):
     * they make its nodes again when it is back. */
    if (watch->frontend->absent)
        return;
    size_t length = strlen(watch->path);
    if (strcmp(path, watch->path) == 0) {
        frontend_check_directory(watch);
        return;
    }
    if (strncmp(path, watch->path, length) != 0 || path[length] != '/')
        return;
    const char *id = path + length + 1, *slash = strchr(id, '/');
    size_t id_length = slash ? (size_t)(slash - id) : strlen(id);
    for (size_t i = 0; i < watch->node_count; i++) {
        struct bridge_node *node = watch->nodes[i];
        if (strlen(node->bridge->id) != id_length || memcmp(node->bridge->id, id, id_length))
            continue;
        const char *key = slash ? slash + 1 : NULL;
        if (key && strchr(key, '/'))
            return;
        if (node_take_echo(node, node_part_of(key)))
            return;
        if (!key)
            node_reconcile(signaller, node, true);   /* removed, or permissions changed */
        else
            node_on_key_event(signaller, node, key);
        return;
    }
}

/* Appends item to a pointer array grown one at a time; false when out of
 * memory. */
static bool append(void *array_pointer, size_t *count, void *item)
{
    void ***array = array_pointer;
    void **grown = realloc(*array, (*count + 1) * sizeof(void *));
    if (!grown)
        return false;
    grown[(*count)++] = item;
    *array = grown;
    return true;
}

static void node_free(struct bridge_node *node)
{
    free(node->path);
    free(node->error);
    free(node);
}

static void watch_free(struct xenstore_signaller *signaller, struct frontend_watch *watch)
{
    xenstore_watch_remove(signaller->xenstore, watch->registration);
    free(watch->path);
    free(watch->nodes);
    free(watch->next_nodes);
    free(watch->error);
    free(watch);
}

static void xenstore_signaller_abort(struct signaller *base)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    for (size_t i = 0; i < signaller->staged_node_count; i++) {
        struct bridge_node *node = signaller->staged_nodes[i];
        if (node && node->fresh)
            node_free(node);
    }
    for (size_t i = 0; i < signaller->staged_watch_count; i++)
        if (signaller->staged_watches[i]->fresh)
            watch_free(signaller, signaller->staged_watches[i]);
    for (size_t i = 0; i < signaller->node_count; i++)
        if (signaller->nodes[i]) {
            signaller->nodes[i]->taken = false;
            signaller->nodes[i]->describe = false;
        }
    for (size_t i = 0; i < signaller->watch_count; i++) {
        struct frontend_watch *watch = signaller->watches[i];
        watch->taken = false;
        free(watch->next_nodes);
        watch->next_nodes = NULL;
        watch->next_node_count = 0;
    }
    free(signaller->staged_nodes);
    free(signaller->staged_watches);
    signaller->staged_nodes = NULL;
    signaller->staged_watches = NULL;
    signaller->staged_node_count = signaller->staged_watch_count = 0;
}

/* The running node that signals bridge at path, unless taken already. */
static struct bridge_node *running_node(struct xenstore_signaller *signaller,
                                        const struct bridge *bridge, const char *path)
{
    const struct bridge *old = signaller->model ? model_find_bridge(signaller->model, bridge->name)
                                                : NULL;
    if (!old || old->index >= signaller->node_count)
        return NULL;
    struct bridge_node *node = signaller->nodes[old->index];
    return node && !node->taken && strcmp(node->path, path) == 0 ? node : NULL;
}

static int stage_node(struct xenstore_signaller *signaller, struct bridge *bridge)
{
    char *path = NULL;
    if (asprintf(&path, "/local/domain/%u/%s/%s", bridge->frontend->domid, XENREADY_DIRECTORY,
                 bridge->id) < 0)
        return -ENOMEM;
    struct bridge_node *node = running_node(signaller, bridge, path);
    if (node) {
        free(path);
        node->taken = true;
        node->next_bridge = bridge;
        node->describe = strcmp(node->bridge->device_tree_path, bridge->device_tree_path) != 0;
    } else {
        node = calloc(1, sizeof(*node));
        if (!node) {
            free(path);
            return -ENOMEM;
        }
        *node = (struct bridge_node){.bridge = bridge, .next_bridge = bridge, .path = path,
                                     .published = PUBLISHED_NOTHING, .fresh = true};
        node_inspect(signaller, node);
    }
    signaller->staged_nodes[bridge->index] = node;
    return 0;
}

/* The frontend's directory watch, kept from the running configuration or
 * made; xenstored may refuse a new one for lack of room: a reload (strict)
 * fails then, a start goes on without it (see frontend_on_event()). */
static int stage_watch(struct xenstore_signaller *signaller, struct frontend *frontend,
                       bool strict, struct frontend_watch **out)
{
    char *path = NULL;
    if (asprintf(&path, "/local/domain/%u/%s", frontend->domid, XENREADY_DIRECTORY) < 0)
        return -ENOMEM;
    struct frontend_watch *watch = NULL;
    for (size_t i = 0; i < signaller->staged_watch_count && !watch; i++)
        if (strcmp(signaller->staged_watches[i]->path, path) == 0)
            watch = signaller->staged_watches[i];
    for (size_t i = 0; i < signaller->watch_count && !watch; i++)
        if (!signaller->watches[i]->taken && strcmp(signaller->watches[i]->path, path) == 0) {
            watch = signaller->watches[i];
            watch->taken = true;
            watch->next_frontend = frontend;
            if (!append(&signaller->staged_watches, &signaller->staged_watch_count, watch)) {
                watch->taken = false;
                free(path);
                return -ENOMEM;
            }
        }
    if (watch) {
        free(path);
        *out = watch;
        return 0;
    }
    watch = calloc(1, sizeof(*watch));
    if (!watch) {
        free(path);
        return -ENOMEM;
    }
    *watch = (struct frontend_watch){.signaller = signaller, .frontend = frontend,
                                     .next_frontend = frontend, .path = path, .fresh = true};
    if (!append(&signaller->staged_watches, &signaller->staged_watch_count, watch)) {
        watch_free(signaller, watch);
        return -ENOMEM;
    }
    int r = xenstore_watch_add(signaller->xenstore, path, frontend_on_event, watch, !strict,
                               &watch->registration);
    watch->armed = r == 0;
    if (r < 0 && r != -ENOTCONN && !(xenstore_error_is_room(r) && !strict)) {
        log_message(LOG_ERR, "cannot watch %s: %s%s", path, strerror(-r),
                    xenstore_error_hint(r));
        return r;
    }
    if (r < 0 && r != -ENOTCONN
        && asprintf(&watch->error, "not watching %s: %s%s; a removed node comes back at the "
                    "bridge's next change; tried again after the next xenstore event", path,
                    strerror(-r), xenstore_error_hint(r)) < 0)
        watch->error = NULL;
    if (r < 0 && r != -ENOTCONN)
        log_message(LOG_WARNING, "cannot watch the xenready directory %s: %s%s; its removed "
                    "signal nodes come back at their bridge's next change; tried again after "
                    "each batch of xenstore events", path, strerror(-r), xenstore_error_hint(r));
    *out = watch;
    return 0;
}

/* After the probes' watches (daemon.c), so that when room is short the
 * backends are watched first: these only repair. */
static int xenstore_signaller_stage(struct signaller *base, struct model *model, bool strict)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    xenstore_signaller_abort(base);
    signaller->staged_model = model;
    int r = 0;
    if (model->bridge_count
        && !(signaller->staged_nodes = calloc(model->bridge_count, sizeof(struct bridge_node *))))
        r = -ENOMEM;
    signaller->staged_node_count = r == 0 ? model->bridge_count : 0;
    for (size_t i = 0; r == 0 && i < model->bridge_count; i++)
        if (model->bridges[i]->signal_methods & SIGNAL_XENSTORE)
            r = stage_node(signaller, model->bridges[i]);
    for (size_t i = 0; r == 0 && i < signaller->staged_node_count; i++) {
        struct bridge_node *node = signaller->staged_nodes[i];
        struct frontend_watch *watch = NULL;
        if (node)
            r = stage_watch(signaller, node->next_bridge->frontend, strict, &watch);
        if (r == 0 && node && !append(&watch->next_nodes, &watch->next_node_count, node))
            r = -ENOMEM;
    }
    if (r < 0)
        xenstore_signaller_abort(base);
    return r;
}

static void xenstore_signaller_commit(struct signaller *base)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    for (size_t i = 0; i < signaller->node_count; i++)
        if (signaller->nodes[i] && !signaller->nodes[i]->taken)
            node_free(signaller->nodes[i]);
    for (size_t i = 0; i < signaller->watch_count; i++)
        if (!signaller->watches[i]->taken)
            watch_free(signaller, signaller->watches[i]);
    free(signaller->nodes);
    free(signaller->watches);
    signaller->nodes = signaller->staged_nodes;
    signaller->node_count = signaller->staged_node_count;
    signaller->watches = signaller->staged_watches;
    signaller->watch_count = signaller->staged_watch_count;
    signaller->model = signaller->staged_model;
    signaller->staged_nodes = NULL;
    signaller->staged_watches = NULL;
    signaller->staged_node_count = signaller->staged_watch_count = 0;
    for (size_t i = 0; i < signaller->watch_count; i++) {
        struct frontend_watch *watch = signaller->watches[i];
        watch->frontend = watch->next_frontend;
        watch->taken = false;
        watch->fresh = false;
        free(watch->nodes);
        watch->nodes = watch->next_nodes;
        watch->node_count = watch->next_node_count;
        watch->next_nodes = NULL;
        watch->next_node_count = 0;
        for (size_t j = 0; j < watch->node_count; j++)
            watch->nodes[j]->watch = watch;
    }
    for (size_t i = 0; i < signaller->node_count; i++) {
        struct bridge_node *node = signaller->nodes[i];
        if (node) {
            node->bridge = node->next_bridge;
            node->taken = false;
        }
    }
}

/* The first publication of new nodes, and the description of kept ones
 * whose device-tree path changed. */
static void xenstore_signaller_start(struct signaller *base)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    for (size_t i = 0; i < signaller->node_count; i++) {
        struct bridge_node *node = signaller->nodes[i];
        if (!node)
            continue;
        if (node->fresh) {
            /* Made even for a frontend whose directory is missing: a DomD
             * that may not make it says so, naming what the toolstack owes. */
            node->fresh = false;
            node_reconcile(signaller, node, false);
        } else if (node->describe) {
            /* Only its device-tree path changed: that one key, one write. */
            node->describe = false;
            if (node->usable && node_write(signaller, node, XENREADY_KEY_DEVICE_TREE_PATH,
                                           node->bridge->device_tree_path) == 0)
                node_succeed(node);
        }
    }
}

static int xenstore_signaller_shown(struct signaller *base, const struct bridge *bridge)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    if (bridge->index >= signaller->staged_node_count)
        return -1;
    const struct bridge_node *node = signaller->staged_nodes[bridge->index];
    return node && node->fresh ? node->published : -1;
}

static void xenstore_signaller_publish(struct signaller *base, struct bridge *bridge)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    struct bridge_node *node = node_for(signaller, bridge);
    if (!node)
        return;
    /* Unwatched, a removed node would be half made again by the writes
     * below (xenstore creates missing parents): look first. */
    if (node->usable && (!node->watch || node->watch->armed))
        node_publish(signaller, node);
    else
        node_reconcile(signaller, node, false);
}

/* Round robin from where the last batch stopped, so that one node that
 * needs more room than the others does not keep them waiting. */
static int xenstore_signaller_retry(struct signaller *base)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    for (size_t n = 0; n < signaller->node_count; n++) {
        size_t i = (signaller->retry_from + n) % signaller->node_count;
        struct bridge_node *node = signaller->nodes[i];
        if (!node || !node->retry || node->bridge->frontend->absent)
            continue;
        node->retry = false;
        int r = node_reconcile(signaller, node, true);
        if (r < 0 && node->retry) {
            signaller->retry_from = i;
            return r;
        }
    }
    return 0;
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
        .error = node->error ? node->error : node->watch ? node->watch->error : NULL,
    };
    return 0;
}

static void xenstore_signaller_free(struct signaller *base)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    xenstore_signaller_abort(base);
    for (size_t i = 0; i < signaller->node_count; i++)
        if (signaller->nodes[i])
            node_free(signaller->nodes[i]);
    for (size_t i = 0; i < signaller->watch_count; i++)
        watch_free(signaller, signaller->watches[i]);
    free(signaller->watches);
    free(signaller->nodes);
    free(signaller);
}

/* xenstore is back: each node is looked at as if changed under us (a
 * restarted xenstored may have none of them) and shows the bridge's state,
 * with the generation going on from ours. */
static void xenstore_signaller_back(struct signaller *base)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    for (size_t i = 0; i < signaller->watch_count; i++) {
        struct frontend_watch *watch = signaller->watches[i];
        watch->armed = watch->registration && xenstore_watch_armed(watch->registration);
    }
    for (size_t i = 0; i < signaller->node_count; i++) {
        struct bridge_node *node = signaller->nodes[i];
        if (!node || node->bridge->frontend->absent)
            continue;
        node->usable = false;
        node->echoes = (struct echoes){0};
        node_reconcile(signaller, node, true);
    }
}

/* The toolstack removes a domain's home with it and, for a domain that comes
 * back, makes a fresh xenready directory: the nodes are created again. */
static void xenstore_signaller_frontend_changed(struct signaller *base, struct frontend *frontend,
                                                bool present)
{
    struct xenstore_signaller *signaller = to_xenstore_signaller(base);
    for (size_t i = 0; i < signaller->node_count; i++) {
        struct bridge_node *node = signaller->nodes[i];
        if (!node || node->bridge->frontend != frontend)
            continue;
        /* A new domain: its node is a new one, not one removed under us. */
        node->usable = false;
        node->published = PUBLISHED_NOTHING;
        if (present)
            node_reconcile(signaller, node, false);
    }
}

static const struct signaller_ops xenstore_signaller_ops = {
    .name = "xenstore",
    .stage = xenstore_signaller_stage,
    .commit = xenstore_signaller_commit,
    .abort = xenstore_signaller_abort,
    .start = xenstore_signaller_start,
    .shown = xenstore_signaller_shown,
    .publish = xenstore_signaller_publish,
    .report = xenstore_signaller_report,
    .free = xenstore_signaller_free,
    .frontend_changed = xenstore_signaller_frontend_changed,
    .retry = xenstore_signaller_retry,
    .xenstore_back = xenstore_signaller_back,
};

static int xenstore_signaller_new(struct signaller **out, const struct signaller_context *context)
{
    struct xenstore_signaller *signaller = calloc(1, sizeof(*signaller));
    if (!signaller)
        return -ENOMEM;
    signaller->signaller.ops = &xenstore_signaller_ops;
    signaller->xenstore = context->xenstore;
    signaller->on_refresh = context->on_refresh;
    signaller->refresh_userdata = context->userdata;
    *out = &signaller->signaller;
    return 0;
}

/* The xenstore node per bridge of protocol/xenready-guest.h, and a watch on
 * each frontend's xenready directory (one per frontend, not per node or key)
 * so that a node removed, changed or taken over while the daemon runs is
 * noticed at once. A directory watch xenstored refuses for lack of room is
 * reported for the frontend's bridges and tried again after later batches
 * of events; meanwhile a publication first checks that the node exists. */
const struct signaller_type xenstore_signaller_type = {
    .name = "xenstore",
    .bit = SIGNAL_XENSTORE,
    .needs_xenstore = true,
    .create = xenstore_signaller_new,
};
