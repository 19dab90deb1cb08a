// SPDX-License-Identifier: GPL-2.0-or-later
#include "announce-store.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model.h"

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

/* The whole file, if it is one we may trust: never a FIFO, a link or a
 * device (opening them could block or read someone else's), ours, not
 * writable by others, bounded. */
static int read_trusted(const char *path, char **text)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0)
        r = -errno;
    else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022)
             || st.st_size > STORE_SIZE_MAX)
        r = -EINVAL;
    char *buffer = r == 0 ? malloc((size_t)st.st_size + 1) : NULL;
    if (r == 0 && !buffer)
        r = -ENOMEM;
    if (r == 0) {
        ssize_t length = read(fd, buffer, (size_t)st.st_size);
        if (length != st.st_size)
            r = length < 0 ? -errno : -EINVAL;
        else
            buffer[length] = '\0';
    }
    close(fd);
    if (r < 0) {
        free(buffer);
        return r;
    }
    *text = buffer;
    return 0;
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
    int r = read_trusted(path, &text);
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
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    char temporary[PATH_MAX];
    int r = snprintf(temporary, sizeof(temporary), "%s.new", path) >= (int)sizeof(temporary)
                ? -ENAMETOOLONG
                : 0;
    int fd = -1;
    if (r == 0) {
        /* A leftover of a stop in the middle of a save is ours to replace;
         * anything someone else put there (a link) is not followed. */
        unlink(temporary);
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            r = -errno;
    }
    if (r == 0) {
        size_t length = strlen(text);
        ssize_t written = write(fd, text, length);
        if (written != (ssize_t)length)
            r = written < 0 ? -errno : -EIO;
        if (close(fd) < 0 && r == 0)
            r = -errno;
        if (r == 0 && rename(temporary, path) < 0)
            r = -errno;
        if (r < 0)
            unlink(temporary);
    }
    json_object_put(root);
    return r;
}

/* Reads a whole small file (a control group's cgroup.events or
 * cgroup.procs) into text; the length, or a negative errno. */
static ssize_t read_small(const char *path, char *text, size_t size)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t length = read(fd, text, size - 1);
    int saved = errno;
    close(fd);
    if (length < 0)
        return -saved;
    text[length] = '\0';
    return length;
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
        ssize_t length = read_small(path, text, sizeof(text));
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
