// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the readiness model (daemon/core/model.c): aggregation of a
 * bridge's backends, the bridge state machine driven only by observations
 * (up, down, or not observed), the observer that hears each transition
 * once, and what a reload or a restart carries into a new model.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/model.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fixture: a model with one frontend and a recording observer ---- */

struct transition {
    struct bridge *bridge;
    enum bridge_state old_state;
    enum bridge_state new_state;   /* bridge->state while the observer ran */
    const struct backend *cause;
};

static struct {
    struct transition list[512];
    size_t count;
    /* on_backend calls: the backend, how many transitions preceded it, and
     * what was last known of it before */
    struct backend *backends[512];
    size_t transitions_before[512];
    enum backend_readiness last_known[512];
    size_t backend_count;
} seen;

static struct model *model;
static struct frontend *frontend;

static void record_transition(struct bridge *bridge, enum bridge_state old_state,
                              const struct backend *cause, void *userdata)
{
    ck_assert_ptr_eq(userdata, &seen);
    ck_assert_uint_lt(seen.count, ARRAY_SIZE(seen.list));
    seen.list[seen.count++] = (struct transition){bridge, old_state, bridge->state, cause};
}

static void record_backend(struct backend *backend, enum backend_readiness last_known,
                           void *userdata)
{
    ck_assert_ptr_eq(userdata, &seen);
    ck_assert_uint_lt(seen.backend_count, ARRAY_SIZE(seen.backends));
    seen.transitions_before[seen.backend_count] = seen.count;
    seen.last_known[seen.backend_count] = last_known;
    seen.backends[seen.backend_count++] = backend;
}

static const struct model_observer recorder = {
    .on_transition = record_transition,
    .on_backend = record_backend,
    .userdata = &seen,
};

static void setup(void)
{
    model = model_new();
    ck_assert_ptr_nonnull(model);
    ck_assert_int_eq(model_add_frontend(model, "domu1", &frontend), 0);
    frontend->domid = 7;
    memset(&seen, 0, sizeof(seen));
    model_set_observer(model, &recorder);
}

static void teardown(void)
{
    model_free(model);
    model = NULL;
    frontend = NULL;
}

static struct backend *add_backend(const char *name)
{
    struct backend *backend = NULL;
    ck_assert_int_eq(model_add_backend(model, name, &backend), 0);
    ck_assert_ptr_nonnull(backend);
    return backend;
}

/* Adds count backends named PREFIX0, PREFIX1, … into out. */
static void add_backends(const char *prefix, size_t count, struct backend **out)
{
    for (size_t i = 0; i < count; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s%zu", prefix, i);
        out[i] = add_backend(name);
    }
}

/* A bridge of the fixture's frontend that needs the given backends. */
static struct bridge *add_bridge(const char *name, size_t count, struct backend *const *backends)
{
    struct bridge *bridge = NULL;
    ck_assert_int_eq(model_add_bridge(model, name, &bridge), 0);
    ck_assert_ptr_nonnull(bridge);
    bridge->frontend = frontend;
    for (size_t i = 0; i < count; i++)
        ck_assert_int_eq(model_link(bridge, backends[i]), 0);
    ck_assert_uint_eq(bridge->backend_count, count);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
    return bridge;
}

static void set_ready(struct backend *backend, bool ready)
{
    model_set_backend_ready(model, backend, ready, ready ? NULL : "test says down");
}

static void assert_transition(size_t index, const struct bridge *bridge,
                              enum bridge_state old_state, const struct backend *cause)
{
    ck_assert_uint_lt(index, seen.count);
    const struct transition *t = &seen.list[index];
    ck_assert_msg(t->bridge == bridge, "transition %zu: bridge %s, expected %s", index,
                  t->bridge->name, bridge->name);
    ck_assert_int_eq(t->old_state, old_state);
    ck_assert_int_eq(t->new_state, old_state == BRIDGE_READY ? BRIDGE_WAITING : BRIDGE_READY);
    ck_assert_msg(t->cause == cause, "transition %zu of %s: caused by %s, expected %s", index,
                  bridge->name, t->cause ? t->cause->name : "(null)",
                  cause ? cause->name : "(null)");
}

/* Index in seen.list of the one transition of bridge among [from, seen.count). */
static size_t find_transition(size_t from, const struct bridge *bridge)
{
    size_t found = SIZE_MAX;
    for (size_t i = from; i < seen.count; i++) {
        if (seen.list[i].bridge != bridge)
            continue;
        ck_assert_msg(found == SIZE_MAX, "bridge %s transitioned twice", bridge->name);
        found = i;
    }
    ck_assert_msg(found != SIZE_MAX, "bridge %s did not transition", bridge->name);
    return found;
}

/* ---- aggregation ---- */

static const size_t aggregation_sizes[] = {1, 3, 10};

/* A bridge of N backends is ready exactly when the last of the N is. */
START_TEST(test_aggregation)
{
    size_t n = aggregation_sizes[_i];
    struct backend *backends[10] = {0};
    add_backends("be", n, backends);
    struct bridge *bridge = add_bridge("domu1/pcie0", n, backends);

    for (size_t i = 0; i + 1 < n; i++) {
        set_ready(backends[i], true);
        ck_assert_msg(bridge->state == BRIDGE_WAITING, "ready with %zu of %zu backends", i + 1, n);
        ck_assert_uint_eq(seen.count, 0);
    }
    set_ready(backends[n - 1], true);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert_uint_eq(seen.count, 1);
    assert_transition(0, bridge, BRIDGE_WAITING, backends[n - 1]);
}
END_TEST

/* Starting from all ready, the first withdrawal of any one of N makes it wait. */
START_TEST(test_aggregation_any_withdrawal)
{
    size_t n = aggregation_sizes[_i];
    struct backend *backends[10] = {0};
    add_backends("be", n, backends);
    struct bridge *bridge = add_bridge("domu1/pcie0", n, backends);

    for (size_t down = 0; down < n; down++) {
        for (size_t i = 0; i < n; i++)
            set_ready(backends[i], true);
        ck_assert_int_eq(bridge->state, BRIDGE_READY);
        size_t before = seen.count;
        set_ready(backends[down], false);
        ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
        ck_assert_uint_eq(seen.count, before + 1);
        assert_transition(before, bridge, BRIDGE_READY, backends[down]);
    }
}
END_TEST

/* ---- every transition ---- */

static uint64_t realtime_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

START_TEST(test_transitions)
{
    struct backend *backends[2] = {0};
    add_backends("be", 2, backends);
    struct bridge *bridge = add_bridge("domu1/pcie0", 2, backends);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);

    /* waiting → ready */
    uint64_t before = realtime_usec();
    set_ready(backends[0], true);
    set_ready(backends[1], true);
    uint64_t after = realtime_usec();
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert_uint_eq(seen.count, 1);
    assert_transition(0, bridge, BRIDGE_WAITING, backends[1]);
    ck_assert_uint_ge(bridge->state_since_usec, before);
    ck_assert_uint_le(bridge->state_since_usec, after);

    /* ready → waiting when a backend is withdrawn, with its reason kept */
    uint64_t ready_since = bridge->state_since_usec;
    set_ready(backends[0], false);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
    ck_assert_uint_eq(seen.count, 2);
    assert_transition(1, bridge, BRIDGE_READY, backends[0]);
    ck_assert_uint_ge(bridge->state_since_usec, ready_since);
    ck_assert_ptr_nonnull(backends[0]->detail);
    ck_assert_str_eq(backends[0]->detail, "test says down");

    /* a second withdrawal while waiting is no transition */
    set_ready(backends[1], false);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
    ck_assert_uint_eq(seen.count, 2);

    /* back to ready when both return; the last one is the cause */
    set_ready(backends[1], true);
    ck_assert_uint_eq(seen.count, 2);
    set_ready(backends[0], true);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert_uint_eq(seen.count, 3);
    assert_transition(2, bridge, BRIDGE_WAITING, backends[0]);
    ck_assert_ptr_null(backends[0]->detail);
}
END_TEST

/* ---- repeated and out-of-order observations ---- */

START_TEST(test_repeated_observations)
{
    struct backend *backend = add_backend("disk");
    struct bridge *bridge = add_bridge("domu1/pcie0", 1, &backend);

    /* "not ready" at start repeats the initial state */
    set_ready(backend, false);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
    ck_assert_uint_eq(seen.count, 0);

    set_ready(backend, true);
    ck_assert_uint_eq(seen.count, 1);
    for (int i = 0; i < 3; i++)
        set_ready(backend, true);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert_uint_eq(seen.count, 1);

    set_ready(backend, false);
    ck_assert_uint_eq(seen.count, 2);
    for (int i = 0; i < 3; i++)
        set_ready(backend, false);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
    ck_assert_uint_eq(seen.count, 2);
}
END_TEST

/* A repeated "not ready" may carry a new reason: it is kept, silently. */
START_TEST(test_repeated_observation_updates_detail)
{
    struct backend *backend = add_backend("disk");
    struct bridge *bridge = add_bridge("domu1/pcie0", 1, &backend);

    model_set_backend_ready(model, backend, false, "no node");
    ck_assert_str_eq(backend->detail, "no node");
    model_set_backend_ready(model, backend, false, "state is 3, expected 4");
    ck_assert_str_eq(backend->detail, "state is 3, expected 4");
    model_set_backend_ready(model, backend, false, NULL);
    ck_assert_ptr_null(backend->detail);
    ck_assert_uint_eq(seen.count, 0);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);

    model_set_backend_ready(model, backend, true, "ignored when ready");
    ck_assert_ptr_null(backend->detail);
    ck_assert_uint_eq(seen.count, 1);
}
END_TEST

static const unsigned int permutations[6][3] = {
    {0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0},
};

/* Whatever the order of arrival, the bridge becomes ready once, on the last. */
START_TEST(test_any_order)
{
    const unsigned int *order = permutations[_i];
    struct backend *backends[3] = {0};
    add_backends("be", 3, backends);
    struct bridge *bridge = add_bridge("domu1/pcie0", 3, backends);

    for (size_t k = 0; k < 3; k++) {
        ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
        set_ready(backends[order[k]], true);
        set_ready(backends[order[k]], true);   /* and a duplicate of each */
    }
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert_uint_eq(seen.count, 1);
    assert_transition(0, bridge, BRIDGE_WAITING, backends[order[2]]);
}
END_TEST

static uint32_t xorshift(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/*
 * A long pseudo-random stream of observations (ups, downs, repeats) over two
 * bridges sharing backends: after every event each bridge's state is exactly
 * "all its backends' last observation was ready", and the observer heard
 * exactly the state changes, each caused by the backend just observed.
 */
START_TEST(test_random_observations)
{
    enum { BACKENDS = 4, EVENTS = 2000 };
    struct backend *backends[BACKENDS] = {0};
    add_backends("be", BACKENDS, backends);
    struct bridge *all = add_bridge("domu1/all", BACKENDS, backends);
    struct bridge *some = add_bridge("domu1/some", 2, &backends[1]);
    struct bridge *bridges[] = {all, some};
    static const bool needs[2][BACKENDS] = {{true, true, true, true}, {false, true, true, false}};
    bool truth[BACKENDS] = {false};
    bool observed[BACKENDS] = {false};   /* "test says down" is their detail yet */
    uint32_t rng = 0x12345678u + (uint32_t)_i;

    for (int event = 0; event < EVENTS; event++) {
        size_t which = xorshift(&rng) % BACKENDS;
        bool ready = xorshift(&rng) % 3 != 0;
        enum bridge_state old_states[2] = {all->state, some->state};
        size_t before = seen.count = 0;   /* one event at a time */
        seen.backend_count = 0;
        /* The observer hears a change of readiness, or of why it is not
         * ready: here only the first "down", the detail before being none. */
        bool changed = truth[which] != ready || (!ready && !observed[which]);

        truth[which] = ready;
        observed[which] |= !ready;
        set_ready(backends[which], ready);

        size_t expected_transitions = 0;
        for (size_t b = 0; b < ARRAY_SIZE(bridges); b++) {
            /* From our own record of observations, not the model's fields. */
            bool want = true;
            for (size_t i = 0; i < BACKENDS; i++)
                if (needs[b][i])
                    want &= truth[i];
            enum bridge_state expected = want ? BRIDGE_READY : BRIDGE_WAITING;
            ck_assert_msg(bridges[b]->state == expected, "event %d: %s is %s, expected %s",
                          event, bridges[b]->name, bridge_state_name(bridges[b]->state),
                          bridge_state_name(expected));
            if (expected != old_states[b]) {
                expected_transitions++;
                assert_transition(find_transition(before, bridges[b]), bridges[b],
                                  old_states[b], backends[which]);
            }
        }
        ck_assert_uint_eq(seen.count - before, expected_transitions);
        ck_assert_uint_eq(seen.backend_count, changed);
        if (changed)
            ck_assert_ptr_eq(seen.backends[0], backends[which]);
    }
}
END_TEST

/* ---- a backend shared by bridges ---- */

START_TEST(test_shared_backend)
{
    struct backend *shared = add_backend("shared");
    struct backend *own = add_backend("own");
    struct backend *extra = add_backend("extra");
    struct bridge *alone = add_bridge("domu1/alone", 1, &shared);
    struct bridge *with_own = add_bridge("domu1/with-own", 2, (struct backend *[]){own, shared});
    struct bridge *with_extra = add_bridge("domu1/with-extra", 2,
                                           (struct backend *[]){shared, extra});
    ck_assert_uint_eq(shared->bridge_count, 3);

    set_ready(own, true);
    ck_assert_uint_eq(seen.count, 0);

    set_ready(shared, true);
    ck_assert_int_eq(alone->state, BRIDGE_READY);
    ck_assert_int_eq(with_own->state, BRIDGE_READY);
    ck_assert_int_eq(with_extra->state, BRIDGE_WAITING);
    ck_assert_uint_eq(seen.count, 2);
    assert_transition(find_transition(0, alone), alone, BRIDGE_WAITING, shared);
    assert_transition(find_transition(0, with_own), with_own, BRIDGE_WAITING, shared);

    set_ready(shared, false);
    ck_assert_int_eq(alone->state, BRIDGE_WAITING);
    ck_assert_int_eq(with_own->state, BRIDGE_WAITING);
    ck_assert_int_eq(with_extra->state, BRIDGE_WAITING);
    ck_assert_uint_eq(seen.count, 4);
    assert_transition(find_transition(2, alone), alone, BRIDGE_READY, shared);
    assert_transition(find_transition(2, with_own), with_own, BRIDGE_READY, shared);

    /* extra alone does not make with_extra ready while shared is down */
    set_ready(extra, true);
    ck_assert_int_eq(with_extra->state, BRIDGE_WAITING);
    ck_assert_uint_eq(seen.count, 4);
    set_ready(shared, true);
    ck_assert_uint_eq(seen.count, 7);
    ck_assert_uint_eq(model_ready_bridge_count(model), 3);
    assert_transition(find_transition(4, with_extra), with_extra, BRIDGE_WAITING, shared);
}
END_TEST

/* ---- the observer ---- */

static int other_calls;

static void count_other(struct bridge *bridge, enum bridge_state old_state,
                        const struct backend *cause, void *userdata)
{
    ck_assert_ptr_eq(userdata, &other_calls);
    other_calls++;
}

START_TEST(test_observer_once_per_transition)
{
    struct backend *backends[2] = {0};
    add_backends("be", 2, backends);
    struct bridge *bridge = add_bridge("domu1/pcie0", 2, backends);

    set_ready(backends[0], true);
    set_ready(backends[1], true);   /* 1: waiting → ready, by be1 */
    set_ready(backends[1], true);
    set_ready(backends[0], false);  /* 2: ready → waiting, by be0 */
    set_ready(backends[1], false);
    set_ready(backends[0], true);
    set_ready(backends[1], true);   /* 3: waiting → ready, by be1 */
    ck_assert_uint_eq(seen.count, 3);
    assert_transition(0, bridge, BRIDGE_WAITING, backends[1]);
    assert_transition(1, bridge, BRIDGE_READY, backends[0]);
    assert_transition(2, bridge, BRIDGE_WAITING, backends[1]);

    /* A replaced observer is no longer called; the new one is. */
    model_set_observer(model, &(struct model_observer){.on_transition = count_other,
                                                       .userdata = &other_calls});
    set_ready(backends[0], false);
    ck_assert_uint_eq(seen.count, 3);
    ck_assert_int_eq(other_calls, 1);

    /* No observer at all: the state machine still runs. */
    model_set_observer(model, &(struct model_observer){0});
    set_ready(backends[0], true);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert_int_eq(other_calls, 1);
}
END_TEST

/* on_backend hears each change of a backend's readiness once, after the
 * bridge transitions it caused, and each new reason for a backend not being
 * ready (status shows it), and nothing of repeats. */
START_TEST(test_backend_observer)
{
    struct backend *backends[2] = {0};
    add_backends("be", 2, backends);
    struct bridge *bridge = add_bridge("domu1/pcie0", 2, backends);

    set_ready(backends[0], true);
    ck_assert_uint_eq(seen.backend_count, 1);
    ck_assert_ptr_eq(seen.backends[0], backends[0]);
    ck_assert_uint_eq(seen.transitions_before[0], 0);

    set_ready(backends[0], true);
    ck_assert_uint_eq(seen.backend_count, 1);
    model_set_backend_ready(model, backends[1], false, "a new reason, same state");
    ck_assert_uint_eq(seen.backend_count, 2);
    ck_assert_ptr_eq(seen.backends[1], backends[1]);
    model_set_backend_ready(model, backends[1], false, "a new reason, same state");
    ck_assert_uint_eq(seen.backend_count, 2);

    set_ready(backends[1], true);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert_uint_eq(seen.backend_count, 3);
    ck_assert_ptr_eq(seen.backends[2], backends[1]);
    ck_assert_uint_eq(seen.transitions_before[2], 1);   /* the transition came first */

    set_ready(backends[0], false);
    ck_assert_uint_eq(seen.backend_count, 4);
    ck_assert_ptr_eq(seen.backends[3], backends[0]);
    ck_assert_uint_eq(seen.transitions_before[3], 2);
    ck_assert(!backends[0]->ready);
}
END_TEST

/* ---- queries ---- */

START_TEST(test_ready_bridge_count)
{
    struct backend *backends[3] = {0};
    add_backends("be", 3, backends);
    add_bridge("domu1/a", 1, &backends[0]);
    add_bridge("domu1/b", 2, &backends[0]);
    add_bridge("domu1/c", 1, &backends[2]);

    ck_assert_uint_eq(model_ready_bridge_count(model), 0);
    set_ready(backends[0], true);
    ck_assert_uint_eq(model_ready_bridge_count(model), 1);
    set_ready(backends[1], true);
    ck_assert_uint_eq(model_ready_bridge_count(model), 2);
    set_ready(backends[2], true);
    ck_assert_uint_eq(model_ready_bridge_count(model), 3);
    set_ready(backends[0], false);
    ck_assert_uint_eq(model_ready_bridge_count(model), 1);

    struct model *empty = model_new();
    ck_assert_uint_eq(model_ready_bridge_count(empty), 0);
    model_free(empty);
}
END_TEST

START_TEST(test_find)
{
    struct model *empty = model_new();
    ck_assert_ptr_null(model_find_frontend(empty, "domu1"));
    ck_assert_ptr_null(model_find_bridge(empty, "domu1/pcie0"));
    ck_assert_ptr_null(model_find_backend(empty, "disk"));
    model_free(empty);

    struct frontend *domu2;
    ck_assert_int_eq(model_add_frontend(model, "domu2", &domu2), 0);
    struct backend *disk = add_backend("disk");
    struct backend *disk1 = add_backend("disk1");
    struct bridge *pcie0 = add_bridge("domu1/pcie0", 1, &disk);
    struct bridge *pcie01 = add_bridge("domu1/pcie01", 1, &disk1);

    ck_assert_ptr_eq(model_find_frontend(model, "domu1"), frontend);
    ck_assert_ptr_eq(model_find_frontend(model, "domu2"), domu2);
    ck_assert_ptr_eq(model_find_backend(model, "disk"), disk);
    ck_assert_ptr_eq(model_find_backend(model, "disk1"), disk1);
    ck_assert_ptr_eq(model_find_bridge(model, "domu1/pcie0"), pcie0);
    ck_assert_ptr_eq(model_find_bridge(model, "domu1/pcie01"), pcie01);

    ck_assert_ptr_null(model_find_frontend(model, "domu"));
    ck_assert_ptr_null(model_find_frontend(model, "domu3"));
    ck_assert_ptr_null(model_find_backend(model, "dis"));
    ck_assert_ptr_null(model_find_backend(model, ""));
    ck_assert_ptr_null(model_find_bridge(model, "pcie0"));
    ck_assert_ptr_null(model_find_bridge(model, "domu2/pcie0"));
    /* Each kind has its own namespace. */
    ck_assert_ptr_null(model_find_backend(model, "domu1"));
    ck_assert_ptr_null(model_find_frontend(model, "disk"));
    ck_assert_ptr_null(model_find_bridge(model, "disk"));
}
END_TEST

START_TEST(test_bridge_id)
{
    struct bridge *bridge = NULL;
    ck_assert_int_eq(model_add_bridge(model, "domu1/pcie0", &bridge), 0);
    ck_assert_str_eq(bridge->name, "domu1/pcie0");
    ck_assert_str_eq(bridge->id, "pcie0");
    ck_assert_ptr_eq(bridge->id, bridge->name + strlen("domu1/"));
    ck_assert_uint_eq(bridge->index, 0);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);

    struct bridge *second = NULL;
    ck_assert_int_eq(model_add_bridge(model, "x/y", &second), 0);
    ck_assert_str_eq(second->id, "y");
    ck_assert_uint_eq(second->index, 1);
    ck_assert_ptr_eq(model->bridges[1], second);

    struct bridge *untouched = NULL;
    ck_assert_int_eq(model_add_bridge(model, "noslash", &untouched), -EINVAL);
    ck_assert_ptr_null(untouched);
    ck_assert_uint_eq(model->bridge_count, 2);
}
END_TEST

START_TEST(test_link_duplicate_ignored)
{
    struct backend *backend = add_backend("disk");
    struct bridge *bridge = add_bridge("domu1/pcie0", 1, &backend);
    ck_assert_int_eq(model_link(bridge, backend), 0);
    ck_assert_uint_eq(bridge->backend_count, 1);
    ck_assert_uint_eq(backend->bridge_count, 1);
    ck_assert_ptr_eq(bridge->backends[0], backend);
    ck_assert_ptr_eq(backend->bridges[0], bridge);

    set_ready(backend, true);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert_uint_eq(seen.count, 1);
}
END_TEST

/* The first bridge is kept inline; more move the list to an array that
 * grows: every link keeps its place, in link order. */
START_TEST(test_backend_bridges_grow)
{
    struct backend *backend = add_backend("shared");
    struct bridge *bridges[9];
    for (size_t i = 0; i < ARRAY_SIZE(bridges); i++) {
        char name[32];
        snprintf(name, sizeof(name), "domu1/pcie%zu", i);
        bridges[i] = add_bridge(name, 1, &backend);
        ck_assert_uint_eq(backend->bridge_count, i + 1);
        for (size_t j = 0; j <= i; j++)
            ck_assert_ptr_eq(backend->bridges[j], bridges[j]);
    }
    ck_assert_int_eq(model_link(bridges[3], backend), 0);
    ck_assert_uint_eq(backend->bridge_count, ARRAY_SIZE(bridges));
    set_ready(backend, true);
    ck_assert_uint_eq(model_ready_bridge_count(model), ARRAY_SIZE(bridges));
}
END_TEST

/* Stored texts stay where they were put while more are added (across blocks,
 * and past a block's size); shared ones are stored once. */
START_TEST(test_store_text)
{
    const char *stored[3000];
    char text[64];
    for (size_t i = 0; i < ARRAY_SIZE(stored); i++) {
        snprintf(text, sizeof(text), "backend/vbench/%zu/state", i);
        stored[i] = model_store_text(model, text);
        ck_assert_ptr_nonnull(stored[i]);
    }
    char *big = malloc(40000);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', 39999);
    big[39999] = '\0';
    const char *big_copy = model_store_text(model, big);
    ck_assert_ptr_nonnull(big_copy);
    const char *after = model_store_text(model, "after");
    ck_assert_str_eq(big_copy, big);
    ck_assert_str_eq(after, "after");
    free(big);
    for (size_t i = 0; i < ARRAY_SIZE(stored); i++) {
        snprintf(text, sizeof(text), "backend/vbench/%zu/state", i);
        ck_assert_str_eq(stored[i], text);
    }

    const char *four = model_share_text(model, "4");
    ck_assert_str_eq(four, "4");
    ck_assert_ptr_eq(model_share_text(model, "4"), four);
    ck_assert_str_eq(model_share_text(model, "running"), "running");
    ck_assert_ptr_ne(model_share_text(model, "running"), four);
    ck_assert_ptr_ne(model_store_text(model, "4"), four);
}
END_TEST

START_TEST(test_state_names)
{
    ck_assert_str_eq(bridge_state_name(BRIDGE_WAITING), "waiting");
    ck_assert_str_eq(bridge_state_name(BRIDGE_READY), "ready");
}
END_TEST

/* ---- what is not observed ---- */

/* A bridge keeps its state while a backend is not observed: it becomes
 * ready only once every backend is observed up, and waits as soon as one
 * is observed down. */
START_TEST(test_unobserved_holds)
{
    struct backend *backends[2] = {0};
    add_backends("be", 2, backends);
    struct bridge *bridge = add_bridge("domu1/pcie0", 2, backends);
    set_ready(backends[0], true);
    set_ready(backends[1], true);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert_uint_eq(seen.count, 1);

    /* Its source lost sight of be0: the bridge holds, no transition. */
    model_forget_backend(model, backends[0], "source gone");
    ck_assert_int_eq(backend_readiness(backends[0]), BACKEND_UNOBSERVED);
    ck_assert(!backends[0]->ready && !backends[0]->down);
    ck_assert_str_eq(backends[0]->detail, "source gone");
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert_uint_eq(seen.count, 1);

    /* be1 seen down meanwhile: waiting at once, caused by be1. */
    set_ready(backends[1], false);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
    ck_assert_uint_eq(seen.count, 2);
    assert_transition(1, bridge, BRIDGE_READY, backends[1]);

    /* be1 up again with be0 still not observed: no guess, still waiting. */
    set_ready(backends[1], true);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
    ck_assert_uint_eq(seen.count, 2);

    /* be0 observed again: ready. */
    set_ready(backends[0], true);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert_uint_eq(seen.count, 3);
    assert_transition(2, bridge, BRIDGE_WAITING, backends[0]);
}
END_TEST

/* The same for a liveness source: a backend whose liveness is not observed
 * is not up, and not down either. */
START_TEST(test_forgotten_liveness_holds)
{
    struct backend *backend = add_backend("dm");
    backend->liveness_unit = "qemu.service";
    struct bridge *bridge = add_bridge("domu1/pcie0", 1, &backend);
    set_ready(backend, true);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);   /* liveness not observed yet */
    ck_assert_uint_eq(seen.count, 0);
    model_set_backend_alive(model, backend, true, NULL);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    model_forget_backend_alive(model, backend, "asking systemd");
    ck_assert_int_eq(backend_readiness(backend), BACKEND_UNOBSERVED);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    model_set_backend_alive(model, backend, false, "unit is failed");
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
    ck_assert_str_eq(backend->detail, "unit is failed");
    ck_assert_uint_eq(seen.count, 2);
}
END_TEST

/* on_backend says what was last observed, so that a backend looked at
 * again and found as it was can be told from a change. */
START_TEST(test_last_known)
{
    struct backend *backend = add_backend("disk");
    add_bridge("domu1/pcie0", 1, &backend);
    set_ready(backend, true);
    ck_assert_uint_eq(seen.backend_count, 1);
    ck_assert_int_eq(seen.last_known[0], BACKEND_UNOBSERVED);
    model_forget_backend(model, backend, "lost");
    ck_assert_uint_eq(seen.backend_count, 2);
    ck_assert_int_eq(seen.last_known[1], BACKEND_UP);
    set_ready(backend, true);
    ck_assert_uint_eq(seen.backend_count, 3);
    ck_assert_int_eq(seen.last_known[2], BACKEND_UP);   /* found as it was */
    set_ready(backend, false);
    ck_assert_int_eq(seen.last_known[3], BACKEND_UP);
    ck_assert_int_eq(backend->last_known, BACKEND_DOWN);
}
END_TEST

/* A bridge seeded with what an earlier instance showed its frontend keeps
 * it through the first observations, and a change found is a transition. */
START_TEST(test_seeded_bridge)
{
    struct backend *backends[2] = {0};
    add_backends("be", 2, backends);
    struct bridge *ready = add_bridge("domu1/pcie0", 1, &backends[0]);
    struct bridge *gone = add_bridge("domu1/pcie1", 2, backends);
    model_seed_bridge(model, ready, BRIDGE_READY);
    model_seed_bridge(model, gone, BRIDGE_READY);
    ck_assert(ready->been_ready);
    ck_assert_uint_eq(seen.count, 0);

    set_ready(backends[0], true);
    ck_assert_int_eq(ready->state, BRIDGE_READY);
    ck_assert_int_eq(gone->state, BRIDGE_READY);   /* be1 not observed yet */
    ck_assert_uint_eq(seen.count, 0);
    set_ready(backends[1], false);
    ck_assert_int_eq(gone->state, BRIDGE_WAITING);
    ck_assert_uint_eq(seen.count, 1);
    assert_transition(0, gone, BRIDGE_READY, backends[1]);
}
END_TEST

/* A second model as a reload loads it: frontend domu1 (domid 7), with
 * backends and bridges added by the caller. */
static struct model *reload_model(struct frontend **out)
{
    struct model *next = model_new();
    ck_assert_ptr_nonnull(next);
    struct frontend *fe = NULL;
    ck_assert_int_eq(model_add_frontend(next, "domu1", &fe), 0);
    fe->domid = 7;
    *out = fe;
    return next;
}

static struct backend *next_backend(struct model *next, const char *name, const char *path)
{
    struct backend *backend = NULL;
    ck_assert_int_eq(model_add_backend(next, name, &backend), 0);
    backend->xenstore_path = model_store_text(next, path);
    backend->expected_value = model_store_text(next, "4");
    return backend;
}

static struct bridge *next_bridge(struct model *next, struct frontend *fe, const char *name,
                                  size_t count, struct backend *const *backends)
{
    struct bridge *bridge = NULL;
    ck_assert_int_eq(model_add_bridge(next, name, &bridge), 0);
    bridge->frontend = fe;
    for (size_t i = 0; i < count; i++)
        ck_assert_int_eq(model_link(bridge, backends[i]), 0);
    return bridge;
}

/* Backends defined as before keep their observations (detail included),
 * bridges of the same node their state and since; settling the new model
 * changes nothing and tells no one. */
START_TEST(test_carry_unchanged)
{
    struct backend *backends[2] = {0};
    backends[0] = add_backend("a");
    backends[0]->xenstore_path = "backend/a";
    backends[0]->expected_value = "4";
    backends[1] = add_backend("b");
    backends[1]->xenstore_path = "backend/b";
    backends[1]->expected_value = "4";
    struct bridge *bridge = add_bridge("domu1/pcie0", 2, backends);
    struct bridge *other = add_bridge("domu1/pcie1", 1, &backends[1]);
    set_ready(backends[0], true);
    model_set_backend_ready(model, backends[1], false, "state is 2");
    frontend->known = true;
    frontend->absent = true;
    uint64_t since = other->state_since_usec = 123456;
    bridge->state_since_usec = 42;

    struct frontend *fe;
    struct model *next = reload_model(&fe);
    struct backend *a = next_backend(next, "a", "backend/a");
    struct backend *b = next_backend(next, "b", "backend/b");
    struct backend *both[2] = {a, b};
    struct bridge *next_first = next_bridge(next, fe, "domu1/pcie0", 2, both);
    struct bridge *next_other = next_bridge(next, fe, "domu1/pcie1", 1, &b);
    ck_assert_int_eq(model_carry(next, model), 0);
    ck_assert(a->ready && !a->down);
    ck_assert(b->down);
    ck_assert_str_eq(b->detail, "state is 2");
    ck_assert_int_eq(b->last_known, BACKEND_DOWN);
    ck_assert(fe->known && fe->absent);
    ck_assert_uint_eq(next_first->ready_count, 1);
    ck_assert_uint_eq(next_first->down_count, 1);
    ck_assert_int_eq(next_first->state, BRIDGE_WAITING);
    ck_assert_uint_eq(next_other->state_since_usec, since);
    ck_assert_uint_eq(next_first->state_since_usec, 42);

    memset(&seen, 0, sizeof(seen));
    model_set_observer(next, &recorder);
    model_settle(next);
    ck_assert_uint_eq(seen.count, 0);
    model_free(next);
}
END_TEST

/* A backend defined otherwise starts unobserved, and the bridges that need
 * it hold; a bridge whose backends changed settles on what is known, with
 * no backend as the cause. */
START_TEST(test_carry_changed)
{
    struct backend *backends[2] = {0};
    backends[0] = add_backend("a");
    backends[0]->xenstore_path = "backend/a";
    backends[0]->expected_value = "4";
    backends[1] = add_backend("b");
    backends[1]->xenstore_path = "backend/b";
    backends[1]->expected_value = "4";
    struct bridge *first = add_bridge("domu1/pcie0", 1, &backends[0]);
    struct bridge *second = add_bridge("domu1/pcie1", 1, &backends[0]);
    set_ready(backends[0], true);
    model_set_backend_ready(model, backends[1], false, "state is 2");
    ck_assert_int_eq(first->state, BRIDGE_READY);

    struct frontend *fe;
    struct model *next = reload_model(&fe);
    struct backend *a = next_backend(next, "a", "backend/a-moved");
    struct backend *b = next_backend(next, "b", "backend/b");
    struct bridge *next_first = next_bridge(next, fe, "domu1/pcie0", 1, &a);
    struct backend *both[2] = {a, b};
    struct bridge *next_second = next_bridge(next, fe, "domu1/pcie1", 2, both);
    ck_assert_int_eq(model_carry(next, model), 0);
    ck_assert_int_eq(backend_readiness(a), BACKEND_UNOBSERVED);
    ck_assert(!fe->known);   /* the old frontend's presence was never read */
    ck_assert_int_eq(next_first->state, BRIDGE_READY);

    memset(&seen, 0, sizeof(seen));
    model_set_observer(next, &recorder);
    model_settle(next);
    /* pcie0 holds (a is looked at again); pcie1 now needs b, which is down. */
    ck_assert_int_eq(next_first->state, BRIDGE_READY);
    ck_assert_int_eq(next_second->state, BRIDGE_WAITING);
    ck_assert_uint_eq(seen.count, 1);
    assert_transition(0, next_second, BRIDGE_READY, NULL);
    model_set_backend_ready(next, a, false, "moved and gone");
    ck_assert_int_eq(next_first->state, BRIDGE_WAITING);
    model_free(next);
    (void)second;
}
END_TEST

/* Carrying copies: the running model stays whole (a reload that fails goes
 * on with it). */
START_TEST(test_carry_leaves_old)
{
    struct backend *backend = add_backend("a");
    backend->xenstore_path = "backend/a";
    backend->expected_value = "4";
    add_bridge("domu1/pcie0", 1, &backend);
    model_set_backend_ready(model, backend, false, "state is 2");
    struct frontend *fe;
    struct model *next = reload_model(&fe);
    struct backend *a = next_backend(next, "a", "backend/a");
    next_bridge(next, fe, "domu1/pcie0", 1, &a);
    ck_assert_int_eq(model_carry(next, model), 0);
    model_free(next);
    ck_assert_str_eq(backend->detail, "state is 2");
    ck_assert_str_eq(backend->probe_detail, "state is 2");
}
END_TEST

/* Settled: ready, or degraded (past its start-up timeout). */
START_TEST(test_settled_count)
{
    struct backend *backends[2] = {0};
    add_backends("be", 2, backends);
    struct bridge *a = add_bridge("domu1/a", 1, &backends[0]);
    struct bridge *b = add_bridge("domu1/b", 1, &backends[1]);
    ck_assert_uint_eq(model_settled_bridge_count(model), 0);
    set_ready(backends[0], true);
    ck_assert_uint_eq(model_settled_bridge_count(model), 1);
    model_set_bridge_degraded(model, b, true);
    ck_assert_uint_eq(model_settled_bridge_count(model), 2);
    model_set_bridge_degraded(model, a, true);   /* a ready bridge is never degraded */
    ck_assert(!a->degraded);
}
END_TEST

/* ---- runner ---- */

static void add_case(Suite *suite, const char *name, const TTest *test, int loops)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    if (loops)
        tcase_add_loop_test(tc, test, 0, loops);
    else
        tcase_add_test(tc, test);
    suite_add_tcase(suite, tc);
}

static Suite *model_suite(void)
{
    Suite *suite = suite_create("model");
    add_case(suite, "aggregation", test_aggregation, ARRAY_SIZE(aggregation_sizes));
    add_case(suite, "aggregation_any_withdrawal", test_aggregation_any_withdrawal,
             ARRAY_SIZE(aggregation_sizes));
    add_case(suite, "transitions", test_transitions, 0);
    add_case(suite, "repeated_observations", test_repeated_observations, 0);
    add_case(suite, "repeated_observation_updates_detail",
             test_repeated_observation_updates_detail, 0);
    add_case(suite, "any_order", test_any_order, ARRAY_SIZE(permutations));
    add_case(suite, "random_observations", test_random_observations, 4);
    add_case(suite, "shared_backend", test_shared_backend, 0);
    add_case(suite, "observer_once_per_transition", test_observer_once_per_transition, 0);
    add_case(suite, "backend_observer", test_backend_observer, 0);
    add_case(suite, "unobserved_holds", test_unobserved_holds, 0);
    add_case(suite, "forgotten_liveness_holds", test_forgotten_liveness_holds, 0);
    add_case(suite, "last_known", test_last_known, 0);
    add_case(suite, "seeded_bridge", test_seeded_bridge, 0);
    add_case(suite, "carry_unchanged", test_carry_unchanged, 0);
    add_case(suite, "carry_changed", test_carry_changed, 0);
    add_case(suite, "carry_leaves_old", test_carry_leaves_old, 0);
    add_case(suite, "settled_count", test_settled_count, 0);
    add_case(suite, "ready_bridge_count", test_ready_bridge_count, 0);
    add_case(suite, "find", test_find, 0);
    add_case(suite, "bridge_id", test_bridge_id, 0);
    add_case(suite, "link_duplicate_ignored", test_link_duplicate_ignored, 0);
    add_case(suite, "backend_bridges_grow", test_backend_bridges_grow, 0);
    add_case(suite, "store_text", test_store_text, 0);
    add_case(suite, "state_names", test_state_names, 0);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(model_suite());
    if (!getenv("CK_FORK"))
        srunner_set_fork_status(runner, CK_FORK);   /* CK_FORK=no for valgrind */
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
