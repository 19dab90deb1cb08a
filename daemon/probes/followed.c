// SPDX-License-Identifier: GPL-2.0-or-later
#include "followed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"

void followed_init(struct followed_set *set, const struct followed_ops *ops, void *probe,
                   bool (*follows)(const struct backend *backend))
{
    *set = (struct followed_set){.ops = ops, .probe = probe, .follows = follows};
}

static int compare_names(const void *a, const void *b)
{
    const struct followed *x = *(struct followed *const *)a;
    const struct followed *y = *(struct followed *const *)b;
    return strcmp(x->backend->name, y->backend->name);
}

struct followed *followed_lookup(const struct followed_set *set, const char *name)
{
    size_t low = 0, high = set->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = strcmp(set->entries[middle]->backend->name, name);
        if (order == 0)
            return set->entries[middle];
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return NULL;
}

int followed_stage(struct followed_set *set, struct model *model)
{
    followed_abort(set);
    size_t wanted = 0;
    for (size_t i = 0; i < model->backend_count; i++)
        wanted += model->backends[i]->bridge_count && set->follows(model->backends[i]);
    if (wanted) {
        set->staged = calloc(wanted, sizeof(*set->staged));
        set->targets = calloc(wanted, sizeof(*set->targets));
        set->fresh = calloc(wanted, sizeof(*set->fresh));
        if (!set->staged || !set->targets || !set->fresh) {
            followed_abort(set);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < model->backend_count; i++) {
        struct backend *backend = model->backends[i];
        if (!backend->bridge_count || !set->follows(backend))
            continue;
        struct followed *kept = followed_lookup(set, backend->name);
        size_t slot = set->staged_count;
        if (kept && backend_same_definition(kept->backend, backend)) {
            kept->staged = true;
            set->staged[slot] = kept;
        } else {
            int r = set->ops->create(set->probe, backend, &set->staged[slot]);
            if (r < 0) {
                followed_abort(set);
                return r;
            }
            set->fresh[slot] = true;
        }
        set->targets[slot] = backend;
        set->staged_count++;
    }
    return 0;
}

void followed_commit(struct followed_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        struct followed *entry = set->entries[i];
        if (entry->staged)
            entry->staged = false;
        else
            set->ops->destroy(set->probe, entry);
    }
    free(set->entries);
    set->entries = set->staged;
    set->count = set->staged_count;
    for (size_t i = 0; i < set->count; i++)
        set->entries[i]->backend = set->targets[i];
    bool *fresh = set->fresh;
    free(set->targets);
    set->staged = NULL;
    set->targets = NULL;
    set->fresh = NULL;
    set->staged_count = 0;
    /* In configuration order, as a first scan, so the same backend is named
     * as the cause of a transition. */
    for (size_t i = 0; i < set->count; i++)
        if (fresh[i])
            set->ops->scan(set->probe, set->entries[i]);
    free(fresh);
    qsort(set->entries, set->count, sizeof(*set->entries), compare_names);
}

void followed_abort(struct followed_set *set)
{
    for (size_t i = 0; i < set->staged_count; i++) {
        if (set->fresh[i])
            set->ops->destroy(set->probe, set->staged[i]);
        else
            set->staged[i]->staged = false;
    }
    free(set->staged);
    free(set->targets);
    free(set->fresh);
    set->staged = NULL;
    set->targets = NULL;
    set->fresh = NULL;
    set->staged_count = 0;
}

void followed_clear(struct followed_set *set)
{
    followed_abort(set);
    for (size_t i = 0; i < set->count; i++)
        set->ops->destroy(set->probe, set->entries[i]);
    free(set->entries);
    set->entries = NULL;
    set->count = 0;
}
