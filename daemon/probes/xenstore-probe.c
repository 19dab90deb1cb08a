// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One watch per subtree, not per key: an unprivileged DomD has 128 watches by
 * default (xenstored -W), and a DomD serves hundreds of backends. The subtree
 * is the first component under a domain's home (e.g. ~/device-model) or the
 * first component of any other path. An event names the node that changed;
 * every backend whose key is that node or lies below it is re-read, and the
 * model ignores observations that change nothing. Those backends are found
 * through an index sorted by path, not by a scan of the subtree: a DomD with
 * 10,000 backends under ~/backend takes one event per backend in a burst.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xs_wire.h>   /* XENSTORE_ABS_PATH_MAX */

#include "core/model.h"
#include "probe.h"
#include "util/log.h"
#include "xen/xenstore.h"

/* Its absolute path is the subtree's root followed by rest, which points
 * into the backend's own configured path: no copy per backend. */
struct watched_backend {
    struct backend *backend;
    const char *rest;        /* "" or "/…" */
    bool fresh;              /* new or changed at the last stage: read at commit */
};

struct subtree {
    char *root;
    struct watched_backend *backends;   /* configuration order, the scan's */
    size_t backend_count;
    size_t backend_capacity;
    struct watched_backend **by_path;   /* sorted with path_compare() */
    struct xenstore_probe *probe;
    struct xenstore_watch *watch;
    bool watch_taken;        /* by the subtree of the same root being staged */
    bool watch_fresh;        /* added by the stage under way */
    /* Why xenstored does not watch it (no room), NULL once it does: its
     * backends are not ready, since nothing would tell of their changes. */
    char *watch_error;
};

struct xenstore_probe {
    struct probe probe;
    struct xenstore *xenstore;
    struct subtree **subtrees;
    size_t subtree_count;
    struct subtree **staged;
    size_t staged_count;
    struct model *staged_model;
};

static struct xenstore_probe *to_xenstore_probe(struct probe *probe)
{
    return (struct xenstore_probe *)probe;
}

/* "/local/domain/1/device-model/5/state" -> "/local/domain/1/device-model";
 * "/vm/x/y" -> "/vm"; never longer than path itself. */
static char *subtree_root(const char *path)
{
    unsigned int components = strncmp(path, "/local/domain/", 14) == 0 ? 4 : 1;
    const char *end = path;
    for (unsigned int i = 0; i < components; i++) {
        end = strchr(end + 1, '/');
        if (!end)
            return strdup(path);
    }
    return strndup(path, (size_t)(end - path));
}

/* Describes a value for a log line or status without passing on what a
 * hostile writer may have put there. */
static void describe_value(char *out, size_t size, const char *value, unsigned int length)
{
    size_t used = 0;
    unsigned int i;
    /* Room is kept for one escape, "..." and the terminator. */
    for (i = 0; i < length && used + 8 < size; i++) {
        unsigned char c = (unsigned char)value[i];
        if (isprint(c) && c != '\\' && c != '"')
            out[used++] = (char)c;
        else
            used += (size_t)snprintf(out + used, size - used, "\\x%02x", c);
    }
    strcpy(out + used, i < length ? "..." : "");
}

/* Turns what reading a backend's key gave (r, value) into an observation. */
static void probe_observe(struct xenstore_probe *probe, const struct subtree *subtree,
                          struct watched_backend *watched, int r, const char *value,
                          unsigned int length)
{
    struct backend *backend = watched->backend;
    const char *root = subtree->root, *rest = watched->rest;
    char detail[256];
    bool ready = false;
    if (r < 0 && xenstore_error_is_room(r)) {
        /* Says nothing about the backend: the last observation stands (the
         * daemon reads every backend again after the next batch of events). */
        if (backend->probe_ready)
            return;
        snprintf(detail, sizeof(detail), "cannot read %s%s: %s%s; read again after the next "
                 "xenstore event", root, rest, strerror(-r), xenstore_error_hint(r));
    } else if (r == -ENOENT) {
        snprintf(detail, sizeof(detail), "%s%s does not exist", root, rest);
    } else if (r < 0) {
        snprintf(detail, sizeof(detail), "cannot read %s%s: %s", root, rest, strerror(-r));
    } else if (length == strlen(backend->expected_value)
               && memcmp(value, backend->expected_value, length) == 0) {
        ready = true;
        detail[0] = '\0';
    } else {
        char shown[64];
        describe_value(shown, sizeof(shown), value, length);
        snprintf(detail, sizeof(detail), "%s%s is \"%s\", expected \"%s\"", root, rest, shown,
                 backend->expected_value);
    }
    model_set_backend_ready(probe->probe.model, backend, ready, ready ? NULL : detail);
}

static void probe_read_backend(struct xenstore_probe *probe, const struct subtree *subtree,
                               struct watched_backend *watched)
{
    char path[XENSTORE_ABS_PATH_MAX + 1], *value = NULL;
    unsigned int length = 0;
    snprintf(path, sizeof(path), "%s%s", subtree->root, watched->rest);
    int r = xenstore_read(probe->xenstore, path, &value, &length);
    probe_observe(probe, subtree, watched, r, value, length);
    free(value);
}

static bool path_is_at_or_below(const char *path, const char *ancestor)
{
    size_t length = strlen(ancestor);
    return strncmp(path, ancestor, length) == 0 && (path[length] == '\0' || path[length] == '/');
}

/* Orders paths so that a node and everything below it are adjacent and
 * start at the node itself: '/' sorts right after the end of the string,
 * before every other character ("/a", "/a/b", "/a-b"). */
static int path_compare(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned int x = *a == '/' ? 1u : *a ? (unsigned char)*a + 1u : 0u;
        unsigned int y = *b == '/' ? 1u : *b ? (unsigned char)*b + 1u : 0u;
        if (x != y)
            return x < y ? -1 : 1;
        if (!x)
            return 0;
    }
}

static int compare_by_path(const void *a, const void *b)
{
    const struct watched_backend *x = *(struct watched_backend *const *)a;
    const struct watched_backend *y = *(struct watched_backend *const *)b;
    int order = path_compare(x->rest, y->rest);
    /* Equal paths keep configuration order. */
    return order ? order : (x > y) - (x < y);
}

static int compare_by_position(const void *a, const void *b)
{
    const struct watched_backend *x = *(struct watched_backend *const *)a;
    const struct watched_backend *y = *(struct watched_backend *const *)b;
    return (x > y) - (x < y);
}

static void subtree_on_event(const char *path, void *userdata)
{
    struct subtree *subtree = userdata;
    if (subtree->watch_error) {
        /* Armed at last; this is the event xenstored fires on every new watch,
         * on the root itself, so every backend below is read now. */
        log_message(LOG_NOTICE, "watching %s now for %zu backend(s)", subtree->root,
                    subtree->backend_count);
        free(subtree->watch_error);
        subtree->watch_error = NULL;
    }
    /* Events are on the root or below it, as the watch is. */
    size_t root_length = strlen(subtree->root);
    if (strncmp(path, subtree->root, root_length) != 0)
        return;
    path += root_length;
    /* The first backend whose key does not sort before path. */
    size_t low = 0, high = subtree->backend_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (path_compare(subtree->by_path[middle]->rest, path) < 0)
            low = middle + 1;
        else
            high = middle;
    }
    size_t end = low;
    while (end < subtree->backend_count && path_is_at_or_below(subtree->by_path[end]->rest, path))
        end++;
    if (end - low <= 1) {
        if (end > low)
            probe_read_backend(subtree->probe, subtree, subtree->by_path[low]);
        return;
    }
    /* Several (an event on a directory): re-read them in configuration
     * order, as a scan would, so the same backend is named as the cause. */
    struct watched_backend **matches = malloc((end - low) * sizeof(*matches));
    if (!matches) {
        for (size_t i = 0; i < subtree->backend_count; i++)
            if (path_is_at_or_below(subtree->backends[i].rest, path))
                probe_read_backend(subtree->probe, subtree, &subtree->backends[i]);
        return;
    }
    memcpy(matches, &subtree->by_path[low], (end - low) * sizeof(*matches));
    qsort(matches, end - low, sizeof(*matches), compare_by_position);
    for (size_t i = 0; i < end - low; i++)
        probe_read_backend(subtree->probe, subtree, matches[i]);
    free(matches);
}

/* The staged subtree of root, made when missing. */
static struct subtree *staged_subtree(struct xenstore_probe *probe, const char *root)
{
    for (size_t i = 0; i < probe->staged_count; i++)
        if (strcmp(probe->staged[i]->root, root) == 0)
            return probe->staged[i];
    struct subtree **grown = realloc(probe->staged, (probe->staged_count + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    probe->staged = grown;
    struct subtree *subtree = calloc(1, sizeof(*subtree));
    if (!subtree || !(subtree->root = strdup(root))) {
        free(subtree);
        return NULL;
    }
    subtree->probe = probe;
    grown[probe->staged_count++] = subtree;
    return subtree;
}

/* Stages backend in the subtree of its path; fresh unless the running
 * model had it, defined alike. */
static int stage_backend(struct xenstore_probe *probe, struct backend *backend)
{
    char *path = NULL;
    if (backend->xenstore_path[0] == '/')
        path = strdup(backend->xenstore_path);
    else if (asprintf(&path, "/local/domain/%u/%s", xenstore_domid(probe->xenstore),
                      backend->xenstore_path) < 0)
        path = NULL;
    char *root = path ? subtree_root(path) : NULL;
    struct subtree *subtree = root ? staged_subtree(probe, root) : NULL;
    free(root);
    if (!subtree) {
        free(path);
        return -ENOMEM;
    }
    if (subtree->backend_count == subtree->backend_capacity) {
        size_t capacity = subtree->backend_capacity ? 2 * subtree->backend_capacity : 8;
        struct watched_backend *backends = realloc(subtree->backends,
                                                   capacity * sizeof(*backends));
        if (!backends) {
            free(path);
            return -ENOMEM;
        }
        subtree->backends = backends;
        subtree->backend_capacity = capacity;
    }
    /* The configured path ends like the absolute one. */
    const char *rest = backend->xenstore_path + strlen(backend->xenstore_path)
                       - (strlen(path) - strlen(subtree->root));
    free(path);
    const struct backend *before = probe->probe.model
                                       ? model_find_backend(probe->probe.model, backend->name)
                                       : NULL;
    bool fresh = !before || !before->bridge_count || !backend_same_definition(before, backend);
    subtree->backends[subtree->backend_count++] =
        (struct watched_backend){.backend = backend, .rest = rest, .fresh = fresh};
    return 0;
}

static void subtree_free(struct subtree *subtree)
{
    free(subtree->backends);
    free(subtree->by_path);
    free(subtree->root);
    free(subtree->watch_error);
    free(subtree);
}

static struct subtree *running_subtree(struct xenstore_probe *probe, const char *root)
{
    for (size_t i = 0; i < probe->subtree_count; i++)
        if (strcmp(probe->subtrees[i]->root, root) == 0)
            return probe->subtrees[i];
    return NULL;
}

static void xenstore_probe_abort(struct probe *base)
{
    struct xenstore_probe *probe = to_xenstore_probe(base);
    for (size_t i = 0; i < probe->staged_count; i++) {
        struct subtree *subtree = probe->staged[i];
        if (subtree->watch_fresh)
            xenstore_watch_remove(probe->xenstore, subtree->watch);
        subtree_free(subtree);
    }
    for (size_t i = 0; i < probe->subtree_count; i++)
        probe->subtrees[i]->watch_taken = false;
    free(probe->staged);
    probe->staged = NULL;
    probe->staged_count = 0;
}

/* The running subtree's watch if there is one; otherwise a new one, which
 * xenstored may refuse for lack of room: strict (a reload) fails then, and
 * otherwise the subtree waits for room with its backends not ready. */
static int subtree_watch(struct xenstore_probe *probe, struct subtree *subtree, bool strict)
{
    struct subtree *running = running_subtree(probe, subtree->root);
    if (running && running->watch) {
        running->watch_taken = true;
        subtree->watch = running->watch;
        if (running->watch_error)
            subtree->watch_error = strdup(running->watch_error);
        return 0;
    }
    int r = xenstore_watch_add(probe->xenstore, subtree->root, subtree_on_event, subtree, !strict,
                               &subtree->watch);
    subtree->watch_fresh = subtree->watch != NULL;
    if (r == 0 || r == -ENOTCONN) {
        log_message(LOG_DEBUG, "watching %s for %zu backend(s)", subtree->root,
                    subtree->backend_count);
        return 0;
    }
    if (!strict && xenstore_error_is_room(r)) {
        /* The other subtrees still work; this one waits for room. */
        if (asprintf(&subtree->watch_error, "not watched: xenstored refused a watch on %s: "
                     "%s%s; tried again after the next xenstore event", subtree->root,
                     strerror(-r), xenstore_error_hint(r)) < 0)
            subtree->watch_error = NULL;
        log_message(LOG_ERR, "cannot watch %s in xenstore: %s%s; its %zu backend(s) count "
                    "as not ready until it is watched (tried again after each batch of "
                    "xenstore events)", subtree->root, strerror(-r), xenstore_error_hint(r),
                    subtree->backend_count);
        return 0;
    }
    log_message(LOG_ERR, "cannot watch %s in xenstore: %s%s", subtree->root, strerror(-r),
                xenstore_error_hint(r));
    return r;
}

static int xenstore_probe_stage(struct probe *base, struct model *model, bool strict)
{
    struct xenstore_probe *probe = to_xenstore_probe(base);
    xenstore_probe_abort(base);
    probe->staged_model = model;
    int r = 0;
    for (size_t i = 0; r == 0 && i < model->backend_count; i++)
        if (model->backends[i]->bridge_count && model->backends[i]->probe == PROBE_XENSTORE)
            r = stage_backend(probe, model->backends[i]);
    for (size_t i = 0; r == 0 && i < probe->staged_count; i++) {
        struct subtree *subtree = probe->staged[i];
        subtree->by_path = malloc(subtree->backend_count * sizeof(*subtree->by_path));
        if (!subtree->by_path) {
            r = -ENOMEM;
            break;
        }
        for (size_t j = 0; j < subtree->backend_count; j++)
            subtree->by_path[j] = &subtree->backends[j];
        qsort(subtree->by_path, subtree->backend_count, sizeof(*subtree->by_path),
              compare_by_path);
        r = subtree_watch(probe, subtree, strict);
    }
    if (r < 0)
        xenstore_probe_abort(base);
    return r;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The end of the group of by_path[start, high) that shares start's path
 * component right after the first length characters; *name and *name_length
 * give that component. */
static size_t group_end(const struct subtree *subtree, size_t start, size_t high, size_t length,
                        const char **name, size_t *name_length)
{
    const char *path = subtree->by_path[start]->rest;
    *name = path + length + 1;
    *name_length = strcspn(*name, "/");
    size_t end = start + 1;
    while (end < high) {
        const char *other = subtree->by_path[end]->rest + length + 1;
        if (strncmp(other, *name, *name_length) != 0
            || (other[*name_length] != '/' && other[*name_length] != '\0'))
            break;
        end++;
    }
    return end;
}

/*
 * Marks absent (indexed by configuration position) the backends of
 * by_path[low, high), all at or below the directory made of the first length
 * characters of their paths, whose key cannot exist because that directory,
 * or one below it on the way, is missing. One listing spares the reads of
 * every backend below a missing directory: at a first boot most keys are not
 * written yet. Listing goes deeper while it finds something missing, or
 * while a directory has a single child on the way; a listing of several
 * children that are all there means a running system (a restart), where
 * more listings would only add round trips. Errors other than ENOENT leave
 * the backends to be read one by one.
 */
static void subtree_find_absent(struct xenstore_probe *probe, const struct subtree *subtree,
                                size_t low, size_t high, size_t length, bool *absent)
{
    char directory[XENSTORE_ABS_PATH_MAX + 1];
    snprintf(directory, sizeof(directory), "%s%.*s", subtree->root, (int)length,
             subtree->by_path[low]->rest);
    char **children = NULL;
    unsigned int count = 0;
    int r = xenstore_directory(probe->xenstore, directory, &children, &count);
    if (r == -ENOENT)
        for (size_t i = low; i < high; i++)
            absent[subtree->by_path[i] - subtree->backends] = true;
    if (r < 0)
        return;
    qsort(children, count, sizeof(*children), compare_strings);
    /* The directory's own key, if a backend's, sorts first and is read. */
    size_t first = low;
    while (first < high && subtree->by_path[first]->rest[length] == '\0')
        first++;
    size_t groups = 0, missing = 0;
    for (size_t i = first, end; i < high; i = end) {
        const char *name;
        size_t name_length;
        end = group_end(subtree, i, high, length, &name, &name_length);
        char *key = strndup(name, name_length);
        bool listed = key && bsearch(&key, children, count, sizeof(*children), compare_strings);
        groups++;
        if (key && !listed) {
            missing++;
            for (size_t j = i; j < end; j++)
                absent[subtree->by_path[j] - subtree->backends] = true;
        }
        free(key);
    }
    free(children);
    if (groups > 1 && !missing)
        return;
    for (size_t i = first, end; i < high; i = end) {
        const char *name;
        size_t name_length;
        end = group_end(subtree, i, high, length, &name, &name_length);
        /* Several keys below the child (not all the child itself). */
        if (end - i > 1 && !absent[subtree->by_path[i] - subtree->backends]
            && subtree->by_path[end - 1]->rest[length + 1 + name_length] != '\0')
            subtree_find_absent(probe, subtree, i, end, length + 1 + name_length, absent);
    }
}

/* Reads the backends of a subtree: all of them, or only the fresh ones. */
static void subtree_scan(struct xenstore_probe *probe, struct subtree *subtree, bool all)
{
    bool *absent = NULL;
    bool every = true;
    for (size_t j = 0; !all && every && j < subtree->backend_count; j++)
        every = subtree->backends[j].fresh;
    /* A listing spares reads when every backend of the subtree is read. */
    if (every && !subtree->watch_error && subtree->backend_count > 1) {
        absent = calloc(subtree->backend_count, sizeof(*absent));
        if (absent)
            subtree_find_absent(probe, subtree, 0, subtree->backend_count, 0, absent);
    }
    /* In configuration order, whatever the listings found. */
    for (size_t j = 0; j < subtree->backend_count; j++) {
        struct watched_backend *watched = &subtree->backends[j];
        if (!all && !watched->fresh)
            continue;
        watched->fresh = false;
        /* Read now, it could change unseen: not ready until watched. */
        if (subtree->watch_error)
            model_set_backend_ready(probe->probe.model, watched->backend, false,
                                    subtree->watch_error);
        else if (absent && absent[j])
            probe_observe(probe, subtree, watched, -ENOENT, NULL, 0);
        else
            probe_read_backend(probe, subtree, watched);
    }
    free(absent);
}

static void xenstore_probe_commit(struct probe *base)
{
    struct xenstore_probe *probe = to_xenstore_probe(base);
    for (size_t i = 0; i < probe->subtree_count; i++) {
        struct subtree *subtree = probe->subtrees[i];
        if (!subtree->watch_taken)
            xenstore_watch_remove(probe->xenstore, subtree->watch);
        subtree_free(subtree);
    }
    free(probe->subtrees);
    probe->subtrees = probe->staged;
    probe->subtree_count = probe->staged_count;
    probe->staged = NULL;
    probe->staged_count = 0;
    base->model = probe->staged_model;
    for (size_t i = 0; i < probe->subtree_count; i++) {
        struct subtree *subtree = probe->subtrees[i];
        subtree->watch_fresh = false;
        if (subtree->watch)
            xenstore_watch_retarget(subtree->watch, subtree_on_event, subtree);
    }
    /* Without a connection the fresh backends are read once it is back. */
    if (!xenstore_connected(probe->xenstore))
        return;
    for (size_t i = 0; i < probe->subtree_count; i++)
        subtree_scan(probe, probe->subtrees[i], false);
}

/* Nothing read from xenstore is current any more: the backends' bridges
 * keep their state until each is read again. */
static void xenstore_probe_lost(struct probe *base)
{
    struct xenstore_probe *probe = to_xenstore_probe(base);
    for (size_t i = 0; i < probe->subtree_count; i++)
        for (size_t j = 0; j < probe->subtrees[i]->backend_count; j++)
            model_forget_backend(base->model, probe->subtrees[i]->backends[j].backend,
                                 "xenstore connection lost: read again once it is back");
}

/* Connected again (the watches armed again, or waiting for room), or
 * xenstored may have dropped our events: every backend is read again. */
static void xenstore_probe_back(struct probe *base)
{
    struct xenstore_probe *probe = to_xenstore_probe(base);
    for (size_t i = 0; i < probe->subtree_count; i++) {
        struct subtree *subtree = probe->subtrees[i];
        bool armed = subtree->watch && xenstore_watch_armed(subtree->watch);
        if (armed) {
            free(subtree->watch_error);
            subtree->watch_error = NULL;
        } else if (!subtree->watch_error
                   && asprintf(&subtree->watch_error, "not watched: xenstored refused a watch "
                               "on %s for lack of room; tried again after the next xenstore "
                               "event", subtree->root) < 0) {
            subtree->watch_error = NULL;
        }
        subtree_scan(probe, subtree, true);
    }
}

static void xenstore_probe_free(struct probe *base)
{
    struct xenstore_probe *probe = to_xenstore_probe(base);
    xenstore_probe_abort(base);
    for (size_t i = 0; i < probe->subtree_count; i++) {
        xenstore_watch_remove(probe->xenstore, probe->subtrees[i]->watch);
        subtree_free(probe->subtrees[i]);
    }
    free(probe->subtrees);
    free(probe);
}

static const struct probe_ops xenstore_probe_ops = {
    .name = "xenstore",
    .stage = xenstore_probe_stage,
    .commit = xenstore_probe_commit,
    .abort = xenstore_probe_abort,
    .free = xenstore_probe_free,
    .xenstore_lost = xenstore_probe_lost,
    .xenstore_back = xenstore_probe_back,
};

static bool xenstore_probe_follows(const struct backend *backend)
{
    return backend->probe == PROBE_XENSTORE;
}

static int xenstore_probe_new(struct probe **out, const struct probe_context *context)
{
    struct xenstore_probe *probe = calloc(1, sizeof(*probe));
    if (!probe)
        return -ENOMEM;
    probe->probe = (struct probe){.ops = &xenstore_probe_ops};
    probe->xenstore = context->xenstore;
    *out = &probe->probe;
    return 0;
}

/* Backends that are ready when a xenstore node holds an expected value
 * (probe = xenstore, probe = device-model). */
const struct probe_type xenstore_probe_type = {
    .name = "xenstore",
    .needs_xenstore = true,
    .follows = xenstore_probe_follows,
    .create = xenstore_probe_new,
};
