// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The entries of a probe that follows each backend on its own (socket,
 * pidfile, announce), carried across reloads by backend name: a backend
 * defined as before keeps its entry, with everything the entry holds (a
 * watch, a pidfd, timers); the others get a new one. See probe.h for the
 * stage, commit and abort steps this implements for such probes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct backend;
struct model;

/* The first member of a probe's entry. */
struct followed {
    struct backend *backend;     /* re-pointed to the new model's at commit */
    bool staged;                 /* kept by the stage under way */
};

struct followed_ops {
    /* A new entry for backend, its event sources acquired; nothing reported. */
    int (*create)(void *probe, struct backend *backend, struct followed **out);
    /* The first look at an entry created by the last stage. */
    void (*scan)(void *probe, struct followed *entry);
    /* Stops following and frees the entry. */
    void (*destroy)(void *probe, struct followed *entry);
};

struct followed_set {
    const struct followed_ops *ops;
    void *probe;
    bool (*follows)(const struct backend *backend);
    struct followed **entries;   /* running, sorted by backend name */
    size_t count;
    struct followed **staged;    /* the next entries, in configuration order */
    struct backend **targets;    /* per staged entry: the backend it follows next */
    bool *fresh;                 /* per staged entry: made by this stage */
    size_t staged_count;
};

void followed_init(struct followed_set *set, const struct followed_ops *ops, void *probe,
                   bool (*follows)(const struct backend *backend));
/* Stages an entry for each backend of model that follows() and some bridge
 * needs. On failure, what was made is destroyed again. */
int followed_stage(struct followed_set *set, struct model *model);
/* Kept entries follow the new backends, dropped ones are destroyed, then
 * new ones are scanned. */
void followed_commit(struct followed_set *set);
void followed_abort(struct followed_set *set);
/* The running entry of the backend named name, or NULL. */
struct followed *followed_lookup(const struct followed_set *set, const char *name);
/* Destroys every entry (running and staged). */
void followed_clear(struct followed_set *set);
