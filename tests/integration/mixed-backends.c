// SPDX-License-Identifier: GPL-2.0-or-later
#include "mixed-backends.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenstore.h>

#include "harness.h"

const char *const mixed_kind_names[KINDS] = {"xenstore", "socket", "announce", "unit",
                                             "device-model", "pidfile"};

const struct mixed_backend mixed_backends[MIXED_BACKENDS] = {
    {"x0", KIND_XENSTORE}, {"x1", KIND_XENSTORE}, {"s0", KIND_SOCKET}, {"s1", KIND_SOCKET},
    {"a0", KIND_ANNOUNCE}, {"a1", KIND_ANNOUNCE}, {"u0", KIND_UNIT},   {"u1", KIND_UNIT},
    {"dm", KIND_DEVICE_MODEL}, {"p0", KIND_PIDFILE},
};

const char *const mixed_bridges[MIXED_BRIDGES] = {
    "x0 s0 a0", "x1 s1 a1", "s0 a1", "x0 x1 s1 a0", "u0 dm", "u1 p0", "dm p0 u1 s1",
};

void mixed_init(struct mixed *mixed, struct harness *harness, struct daemon_runner *runner,
                struct xs_handle *domd)
{
    *mixed = (struct mixed){.harness = harness, .runner = runner, .domd = domd};
    if (!XENREADY_WITH_SYSTEMD) {
        printf("unit backends: announced ones stand in for them: " WITHOUT_SYSTEMD_REASON "\n");
        return;
    }
    fake_systemd_start(&mixed->fake_systemd, harness_directory(harness),
                       (const char *[]){"u0.service=inactive", "u1.service=inactive",
                                        "u9.service=inactive", NULL});
}

const char *mixed_unit_backend(const char *name, char *text, size_t size)
{
    if (XENREADY_WITH_SYSTEMD)
        snprintf(text, size, "probe = unit\nunit = %s.service\n", name);
    else
        snprintf(text, size, "probe = announce\nowner = uid:%u\n", (unsigned int)geteuid());
    return text;
}

void mixed_unit_set(struct mixed *mixed, const char *name, bool up, unsigned int *seed)
{
    static const char *const unit_up[] = {"active", "reloading"};
    static const char *const unit_down[] = {"inactive", "activating", "deactivating", "failed"};
    if (!XENREADY_WITH_SYSTEMD) {
        ck_assert_int_eq(daemon_runner_ctl(mixed->runner, NULL,
                                           (const char *[]){up ? "ready" : "gone", name, NULL}),
                         0);
        return;
    }
    char unit[128];
    snprintf(unit, sizeof(unit), "%s.service", name);
    /* Every other change only names the properties as invalidated, as
     * systemd does for some: the probe has to ask for the values. */
    (mixed->unit_changes++ % 2 ? fake_systemd_invalidate : fake_systemd_set)(
        &mixed->fake_systemd, unit, up ? unit_up[rand_r(seed) % 2] : unit_down[rand_r(seed) % 4]);
}

void mixed_stop(struct mixed *mixed)
{
    for (size_t k = 0; k < MIXED_BACKENDS; k++)
        peer_kill(&mixed->peers[k]);
    fake_systemd_stop(&mixed->fake_systemd);
}

char *mixed_config(const struct mixed *mixed)
{
    char *config = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&config, &size);
    const char *dir = harness_directory(mixed->harness);
    fprintf(stream, "[frontend domu1]\ndomid = 5\n");
    for (int k = 0; k < MIXED_BACKENDS; k++) {
        const char *name = mixed_backends[k].name;
        char unit[128];
        fprintf(stream, "\n[backend %s]\n", name);
        switch (mixed_backends[k].kind) {
        case KIND_XENSTORE:
            fprintf(stream, "probe = xenstore\npath = device-model/5/%s/state\n"
                            "value = running\n", name);
            break;
        case KIND_SOCKET:
            fprintf(stream, "probe = socket\npath = %s/%s.sock\n", dir, name);
            break;
        case KIND_ANNOUNCE:
            fprintf(stream, "probe = announce\nowner = uid:%u\n", (unsigned int)geteuid());
            break;
        case KIND_UNIT:
            fputs(mixed_unit_backend(name, unit, sizeof(unit)), stream);
            break;
        case KIND_DEVICE_MODEL:
            fprintf(stream, "probe = device-model\nfrontend = domu1\n");
            break;
        case KIND_PIDFILE:
            fprintf(stream, "probe = xenstore\npath = device-model/5/%s/state\n"
                            "value = running\npidfile = %s/%s.pid\n", name, dir, name);
            break;
        default:
            ck_abort();
        }
    }
    for (int i = 0; i < MIXED_BRIDGES; i++)
        fprintf(stream, "\n[bridge domu1/br%d]\ndevice-tree-path = /pcie@%d\nbackends = %s\n",
                i, i, mixed_bridges[i]);
    fclose(stream);
    return config;
}

/* Calls found(k) for each backend bridge needs, in configuration order;
 * stops at the first that returns false. Returns whether none did. */
static bool mixed_each(int bridge, bool (*found)(int k, void *data), void *data)
{
    char words[64];
    snprintf(words, sizeof(words), "%s", mixed_bridges[bridge]);
    for (char *save = NULL, *word = strtok_r(words, " ", &save); word;
         word = strtok_r(NULL, " ", &save))
        for (int k = 0; k < MIXED_BACKENDS; k++)
            if (strcmp(word, mixed_backends[k].name) == 0 && !found(k, data))
                return false;
    return true;
}

static bool mixed_is_up(int k, void *up)
{
    return ((const bool *)up)[k];
}

bool mixed_truth(const bool up[MIXED_BACKENDS], int bridge)
{
    return mixed_each(bridge, mixed_is_up, (void *)up);
}

struct status_text {
    const bool *up;
    FILE *stream;
    const char *separator;
};

static bool mixed_name_missing(int k, void *data)
{
    struct status_text *text = data;
    if (!text->up[k]) {
        fprintf(text->stream, "%s%s", text->separator, mixed_backends[k].name);
        text->separator = " ";
    }
    return true;
}

void mixed_status(const bool up[MIXED_BACKENDS], char *status, size_t size)
{
    int ready = 0;
    for (int i = 0; i < MIXED_BRIDGES; i++)
        ready += mixed_truth(up, i);
    char *text = NULL;
    size_t length = 0;
    FILE *stream = open_memstream(&text, &length);
    fprintf(stream, "%d/%d bridges ready", ready, MIXED_BRIDGES);
    const char *separator = "; waiting: ";
    for (int i = 0; i < MIXED_BRIDGES; i++) {
        if (mixed_truth(up, i))
            continue;
        fprintf(stream, "%sdomu1/br%d (", separator, i);
        separator = ", ";
        struct status_text inner = {.up = up, .stream = stream, .separator = ""};
        mixed_each(i, mixed_name_missing, &inner);
        fprintf(stream, ")");
    }
    fclose(stream);
    ck_assert_uint_lt(length, size);
    snprintf(status, size, "%s", text);
    free(text);
}

void mixed_set(struct mixed *mixed, int k, bool up, unsigned int *seed)
{
    const char *name = mixed_backends[k].name;
    const char *dir = harness_directory(mixed->harness);
    char path[300];
    switch (mixed_backends[k].kind) {
    case KIND_XENSTORE:
        snprintf(path, sizeof(path), "device-model/5/%s/state", name);
        if (up)
            ck_assert_int_eq(xs_write_string(mixed->domd, path, "running"), 0);
        else
            ck_assert(xs_rm(mixed->domd, XBT_NULL, path));
        break;
    case KIND_SOCKET:
        /* Started: unlinks what a killed one left, binds and listens. */
        if (up) {
            snprintf(path, sizeof(path), "%s/%s.sock", dir, name);
            peer_start(&mixed->peers[k], (const char *[]){XENREADY_PEERS "/test-backend", path,
                                                         NULL});
            peer_do(&mixed->peers[k], "listen", "ok");
        } else {
            peer_kill(&mixed->peers[k]);
        }
        break;
    case KIND_ANNOUNCE:
        ck_assert_int_eq(daemon_runner_ctl(mixed->runner, NULL,
                                           (const char *[]){up ? "ready" : "gone", name, NULL}),
                         0);
        break;
    case KIND_UNIT:
        mixed_unit_set(mixed, name, up, seed);
        break;
    case KIND_DEVICE_MODEL:
        if (up)
            ck_assert_int_eq(xs_write_string(mixed->domd, "device-model/5/state", "running"), 0);
        else if (rand_r(seed) % 2)
            ck_assert_int_eq(xs_write_string(mixed->domd, "device-model/5/state", "paused"), 0);
        else
            ck_assert(xs_rm(mixed->domd, XBT_NULL, "device-model/5/state"));
        break;
    case KIND_PIDFILE:
        /* A new process writes its pid over the dead one's. */
        if (up) {
            snprintf(path, sizeof(path), "pidfile %s/%s.pid", dir, name);
            peer_start(&mixed->peers[k], (const char *[]){XENREADY_PEERS "/test-backend",
                                                         "/nonexistent/qemu", NULL});
            peer_do(&mixed->peers[k], path, "ok");
        } else {
            peer_kill(&mixed->peers[k]);
        }
        break;
    default:
        ck_abort();
    }
}

