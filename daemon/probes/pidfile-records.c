// SPDX-License-Identifier: GPL-2.0-or-later
#include "pidfile-records.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "util/state-file.h"

#define RECORDS_VERSION 1
#define RECORDS_SIZE_MAX (1024 * 1024)

void pidfile_records_clear(struct pidfile_records *records)
{
    for (size_t i = 0; i < records->count; i++)
        free(records->records[i].pidfile);
    free(records->records);
    *records = (struct pidfile_records){0};
}

int pidfile_records_add(struct pidfile_records *records, const char *pidfile, pid_t pid,
                        unsigned long long start)
{
    struct pidfile_record *grown =
        realloc(records->records, (records->count + 1) * sizeof(*records->records));
    if (!grown)
        return -ENOMEM;
    records->records = grown;
    char *copy = strdup(pidfile);
    if (!copy)
        return -ENOMEM;
    records->records[records->count++] =
        (struct pidfile_record){.pidfile = copy, .pid = pid, .start = start};
    return 0;
}

bool pidfile_records_hold(const struct pidfile_records *records, const char *pidfile, pid_t pid,
                          unsigned long long start)
{
    for (size_t i = 0; i < records->count; i++) {
        const struct pidfile_record *record = &records->records[i];
        if (record->pid == pid && record->start == start && strcmp(record->pidfile, pidfile) == 0)
            return true;
    }
    return false;
}

int pidfile_records_load(const char *path, struct pidfile_records *out)
{
    *out = (struct pidfile_records){0};
    char *text = NULL;
    int r = state_file_read(path, RECORDS_SIZE_MAX, &text);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    struct json_object *root = json_tokener_parse(text), *version, *list;
    free(text);
    if (!root || !json_object_object_get_ex(root, "version", &version)
        || json_object_get_int(version) != RECORDS_VERSION
        || !json_object_object_get_ex(root, "pidfiles", &list)
        || !json_object_is_type(list, json_type_array)) {
        json_object_put(root);
        return -EINVAL;
    }
    for (size_t i = 0; i < json_object_array_length(list) && r == 0; i++) {
        struct json_object *item = json_object_array_get_idx(list, i), *pidfile, *pid, *start;
        if (json_object_object_get_ex(item, "pidfile", &pidfile)
            && json_object_is_type(pidfile, json_type_string)
            && json_object_object_get_ex(item, "pid", &pid)
            && json_object_is_type(pid, json_type_int)
            && json_object_object_get_ex(item, "start", &start)
            && json_object_is_type(start, json_type_int))
            r = pidfile_records_add(out, json_object_get_string(pidfile),
                                    (pid_t)json_object_get_int(pid),
                                    (unsigned long long)json_object_get_uint64(start));
    }
    json_object_put(root);
    if (r < 0)
        pidfile_records_clear(out);
    return r;
}

int pidfile_records_save(const char *path, const struct pidfile_records *records)
{
    struct json_object *root = json_object_new_object();
    struct json_object *list = json_object_new_array();
    json_object_object_add(root, "version", json_object_new_int(RECORDS_VERSION));
    json_object_object_add(root, "pidfiles", list);
    for (size_t i = 0; i < records->count; i++) {
        const struct pidfile_record *record = &records->records[i];
        struct json_object *item = json_object_new_object();
        json_object_object_add(item, "pidfile", json_object_new_string(record->pidfile));
        json_object_object_add(item, "pid", json_object_new_int(record->pid));
        json_object_object_add(item, "start", json_object_new_uint64(record->start));
        json_object_array_add(list, item);
    }
    int r = state_file_write(path, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return r;
}
