// SPDX-License-Identifier: GPL-2.0-or-later
#include "announce-store.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/model.h"
#include "util/small-file.h"
#include "util/state-file.h"

#define STORE_VERSION 1
#define STORE_SIZE_MAX (1024 * 1024)

void announce_owner_text(const struct backend *backend, char *text, size_t size)
{
    if (backend->owner == OWNER_UID)
        snprintf(text, size, "uid:%u", backend->owner_uid);
    else if (backend->owner == OWNER_UNIT)
        snprintf(text, size, "unit:%s", backend->owner_unit);
    else
        snprintf(text, size, "none");
}

void announce_records_clear(struct announce_records *records)
{
    for (size_t i = 0; i < records->count; i++) {
        free(records->records[i].backend);
        free(records->records[i].owner);
        free(records->records[i].cgroup);
    }
    free(records->records);
    *records = (struct announce_records){0};
}

struct announce_record *announce_records_find(struct announce_records *records,
                                              const char *name)
{
    for (size_t i = 0; i < records->count; i++)
        if (strcmp(records->records[i].backend, name) == 0)
            return &records->records[i];
    return NULL;
}

static const char *member_string(struct json_object *object, const char *name)
{
    struct json_object *member;
    if (!json_object_object_get_ex(object, name, &member)
        || !json_object_is_type(member, json_type_string))
        return NULL;
    return json_object_get_string(member);
}

static long long member_number(struct json_object *object, const char *name)
{
    struct json_object *member;
    if (!json_object_object_get_ex(object, name, &member)
        || !json_object_is_type(member, json_type_int))
        return -1;
    return (long long)json_object_get_int64(member);
}

int announce_records_load(const char *path, struct announce_records *out)
{
    *out = (struct announce_records){0};
    char *text = NULL;
    int r = state_file_read(path, STORE_SIZE_MAX, &text);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    struct json_object *root = json_tokener_parse(text);
    free(text);
    struct json_object *version, *list;
    if (!root || !json_object_object_get_ex(root, "version", &version)
        || json_object_get_int(version) != STORE_VERSION
        || !json_object_object_get_ex(root, "announced", &list)
        || !json_object_is_type(list, json_type_array)) {
        json_object_put(root);
        return -EINVAL;
    }
    size_t count = json_object_array_length(list);
    out->records = calloc(count ? count : 1, sizeof(*out->records));
    if (!out->records) {
        json_object_put(root);
        return -ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        struct json_object *item = json_object_array_get_idx(list, i);
        const char *backend = member_string(item, "backend");
        const char *owner = member_string(item, "owner");
        const char *cgroup = member_string(item, "cgroup");
        if (!backend || !owner)
            continue;
        struct announce_record *record = &out->records[out->count];
        *record = (struct announce_record){
            .backend = strdup(backend),
            .owner = strdup(owner),
            .cgroup = cgroup ? strdup(cgroup) : NULL,
            .pid = member_number(item, "pid"),
            .uid = member_number(item, "uid"),
            .time = member_number(item, "time"),
        };
        out->count++;
        if (!record->backend || !record->owner || (cgroup && !record->cgroup)) {
            json_object_put(root);
            announce_records_clear(out);
            return -ENOMEM;
        }
    }
    json_object_put(root);
    return 0;
}

int announce_records_save(const char *path, const struct announce_records *records)
{
    struct json_object *root = json_object_new_object();
    struct json_object *list = json_object_new_array();
    json_object_object_add(root, "version", json_object_new_int(STORE_VERSION));
    json_object_object_add(root, "announced", list);
    for (size_t i = 0; i < records->count; i++) {
        const struct announce_record *record = &records->records[i];
        struct json_object *item = json_object_new_object();
        json_object_object_add(item, "backend", json_object_new_string(record->backend));
        json_object_object_add(item, "owner", json_object_new_string(record->owner));
        if (record->cgroup)
            json_object_object_add(item, "cgroup", json_object_new_string(record->cgroup));
        json_object_object_add(item, "pid", json_object_new_int64(record->pid));
        json_object_object_add(item, "uid", json_object_new_int64(record->uid));
        json_object_object_add(item, "time", json_object_new_int64(record->time));
        json_object_array_add(list, item);
    }
    int r = state_file_write(path, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return r;
}

int announce_cgroup_populated(const char *cgroup_root, const char *cgroup)
{
    if (cgroup[0] != '/' || strstr(cgroup, "/.."))
        return -EINVAL;
    /* The unified hierarchy says it in cgroup.events; the named systemd
     * hierarchy of a hybrid layout only lists the processes. */
    static const struct {
        const char *hierarchy, *file;
    } places[] = {
        {"/unified", "cgroup.events"},
        {"", "cgroup.events"},
        {"/systemd", "cgroup.procs"},
    };
    int r = -ENOENT;
    for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
        char path[PATH_MAX], text[256];
        if (snprintf(path, sizeof(path), "%s%s%s/%s", cgroup_root, places[i].hierarchy,
                     strcmp(cgroup, "/") == 0 ? "" : cgroup, places[i].file)
            >= (int)sizeof(path))
            return -ENAMETOOLONG;
        ssize_t length = small_file_read(path, text, sizeof(text));
        if (length < 0) {
            if (length != -ENOENT)
                r = (int)length;
            continue;
        }
        if (strcmp(places[i].file, "cgroup.events") == 0)
            return strstr(text, "populated 1") != NULL;
        return length > 0;
    }
    return r;
}
