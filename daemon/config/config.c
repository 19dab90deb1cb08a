// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Configuration loading on top of inih. inih parses keys, values and comments;
 * our line reader counts lines (Debian's inih 55 does not pass line numbers to
 * the handler), rejects over-long lines and NUL bytes instead of letting them be
 * cut, and notes section headers so that empty and repeated sections are seen.
 * Before that, each file must be a regular file that only root (or the daemon's
 * user) can write, of at most 1 MiB, which is read whole into one buffer.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <search.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model.h"
#include "xenready-guest.h"

#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (1024 * 1024)   /* "1 MiB" in the messages */
#define CONFIG_NAME_MAX 64
#define CONFIG_PATH_MAX 3072     /* XENSTORE_ABS_PATH_MAX */
#define CONFIG_VALUE_MAX 1024

/* Built without systemd (XENREADY_WITH_SYSTEMD 0), the daemon has no unit
 * probe, unit liveness or unit owners: a configuration that uses one is
 * refused at the line that does, in --check-config and at a reload too. */
#define WITHOUT_SYSTEMD "needs a xenreadyd built with systemd (-DXENREADY_SYSTEMD=ON); this " \
                        "one was built without it"

enum section_kind { SECTION_NONE, SECTION_FRONTEND, SECTION_BRIDGE, SECTION_BACKEND };

/* Where each key of the object being built was set, for later checks. */
struct section {
    enum section_kind kind;
    void *object;
    struct source_location where;
};

/* Per-object facts only needed while loading. */
struct pending {
    enum section_kind kind;
    void *object;
    struct source_location where;          /* the section header */
    struct source_location backends_where; /* bridge: its backends= line */
    struct source_location frontend_where; /* backend: its frontend= line */
    char *backend_names;                   /* bridge: as written */
    char *frontend_name;                   /* device-model backend */
    char *published_bridge;                /* probe = xenready: bridge = FRONTEND/ID */
    char *path_value;                      /* backend: path = unless probe = xenstore came first */
    /* Backend keys of one probe kind, stored by the model but kept here until
     * the probe is known: a backend has room for its own kind's only. */
    const char *value;                     /* value = */
    const char *unit;                      /* unit = */
    const char *owner_unit;                /* owner = unit:NAME */
    /* Backend: where each key that only some probes take, or that conflicts
     * with another, was given; a key refused is reported at its own line. */
    struct source_location path_where;
    struct source_location value_where;
    struct source_location unit_where;
    struct source_location owner_where;
    struct source_location follow_symlink_where;
    struct source_location pidfile_where;
    struct source_location liveness_unit_where;
    struct source_location bridge_where;      /* backend: bridge = (probe = xenready) */
    struct source_location publisher_where;   /* backend: publisher = (probe = xenready) */
    struct source_location unpause_on_timeout_where; /* bridge: unpause-on-timeout = */
    struct source_location signal_where;      /* bridge: its signal= line */
    struct source_location static_port_where; /* bridge: static-evtchn-port= */
    struct source_location sysrq_key_where;   /* bridge: sysrq-key= */
    bool has_domid;
    bool probe_unknown;                    /* backend: probe = names no probe */
    unsigned int keys_seen;                /* bit per key, to refuse repeats */
};

struct loader {
    struct model *model;
    struct config_report *report;
    const char *file;          /* stored in the model */
    unsigned int line;
    char *buffer;              /* the whole file being read, at most CONFIG_FILE_MAX bytes */
    size_t buffer_size;        /* allocated, at most CONFIG_FILE_MAX + 1 */
    size_t length;             /* read into buffer */
    size_t position;           /* of the next line */
    struct section section;    /* the section being read */
    struct pending *pending;
    size_t pending_count;
    size_t pending_capacity;
    void *domids;              /* tsearch(3) tree of frontends by domid */
};

static void report_add(struct config_report *report, bool error, const char *file,
                       unsigned int line, const char *format, ...)
    __attribute__((format(printf, 5, 6)));

static void report_add(struct config_report *report, bool error, const char *file,
                       unsigned int line, const char *format, ...)
{
    char message[CONFIG_LINE_MAX + 256];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);

    char *text = NULL;
    int r = line ? asprintf(&text, "%s:%u: %s: %s", file, line, error ? "error" : "warning", message)
                 : asprintf(&text, "%s: %s: %s", file, error ? "error" : "warning", message);
    if (error)
        report->error_count++;
    if (r < 0)
        return;
    char **grown = realloc(report->lines, (report->line_count + 1) * sizeof(char *));
    if (!grown) {
        free(text);
        return;
    }
    grown[report->line_count++] = text;
    report->lines = grown;
}

#define loader_error(loader, line, ...) \
    report_add((loader)->report, true, (loader)->file, (line), __VA_ARGS__)

void config_report_clear(struct config_report *report)
{
    for (size_t i = 0; i < report->line_count; i++)
        free(report->lines[i]);
    free(report->lines);
    *report = (struct config_report){0};
}

int config_check_name(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length > CONFIG_NAME_MAX)
        return -EINVAL;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
            return -EINVAL;
    return 0;
}

/* Characters xenstored accepts in a path, without "//" or a trailing "/". */
static int check_xenstore_path(const char *path)
{
    size_t length = strlen(path);
    if (length == 0 || length > CONFIG_PATH_MAX || path[length - 1] == '/' || strstr(path, "//"))
        return -EINVAL;
    for (const char *c = path; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("-/_@", *c))
            return -EINVAL;
    return 0;
}

/* xenreadyd.service has ProtectHome= and PrivateTmp=: the daemon would see
 * an empty directory there, never the backend's socket or pidfile. */
static void warn_hidden_path(struct config_report *report, const char *file, unsigned int line,
                             const char *what, const char *path, const char *backend)
{
    static const char *const hidden[] = {"/home/", "/root/", "/tmp/", "/var/tmp/", "/run/user/"};
    for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
        if (strncmp(path, hidden[i], strlen(hidden[i])) == 0) {
            report_add(report, false, file, line,
                       "%s %s of backend %s is under %s, which xenreadyd.service hides "
                       "(ProtectHome=, PrivateTmp=): put it under /run", what, path, backend,
                       hidden[i]);
            return;
        }
}

/* From the end: the object asked for is nearly always the section being read. */
static struct pending *pending_for(struct loader *loader, const void *object)
{
    for (size_t i = loader->pending_count; i-- > 0;)
        if (loader->pending[i].object == object)
            return &loader->pending[i];
    return NULL;
}

static const char *section_kind_name(enum section_kind kind)
{
    switch (kind) {
    case SECTION_FRONTEND:
        return "frontend";
    case SECTION_BRIDGE:
        return "bridge";
    case SECTION_BACKEND:
        return "backend";
    case SECTION_NONE:
        break;
    }
    return "?";
}

/* Called by the reader for each "[...]" line, before inih sees it. */
static void loader_begin_section(struct loader *loader, const char *header)
{
    loader->section = (struct section){.kind = SECTION_NONE};
    char kind[32], name[CONFIG_LINE_MAX];
    int end = 0;
    if (sscanf(header, " %31s %4095s %n", kind, name, &end) != 2) {
        loader_error(loader, loader->line,
                     "section [%s] needs a kind and a name, e.g. [frontend domu1]", header);
        return;
    }
    if (header[end]) {
        loader_error(loader, loader->line, "section [%s]: a name cannot contain spaces", header);
        return;
    }

    enum section_kind section_kind;
    if (strcmp(kind, "frontend") == 0)
        section_kind = SECTION_FRONTEND;
    else if (strcmp(kind, "bridge") == 0)
        section_kind = SECTION_BRIDGE;
    else if (strcmp(kind, "backend") == 0)
        section_kind = SECTION_BACKEND;
    else {
        loader_error(loader, loader->line,
                     "unknown section kind \"%s\" (expected frontend, bridge or backend)", kind);
        return;
    }

    if (section_kind == SECTION_BRIDGE) {
        char *slash = strchr(name, '/');
        if (!slash || strchr(slash + 1, '/')) {
            loader_error(loader, loader->line,
                         "bridge name \"%s\" must be FRONTEND/ID, e.g. domu1/pcie0", name);
            return;
        }
        *slash = '\0';
        bool valid = config_check_name(name) == 0 && config_check_name(slash + 1) == 0;
        *slash = '/';
        if (!valid) {
            loader_error(loader, loader->line,
                         "invalid bridge name \"%s\": FRONTEND and ID use letters, digits, '-' "
                         "and '_' (at most %d each)", name, CONFIG_NAME_MAX);
            return;
        }
    } else if (config_check_name(name) < 0) {
        loader_error(loader, loader->line,
                     "invalid %s name \"%s\": use letters, digits, '-' and '_' (at most %d)",
                     kind, name, CONFIG_NAME_MAX);
        return;
    }

    void *existing = section_kind == SECTION_FRONTEND ? (void *)model_find_frontend(loader->model, name)
                     : section_kind == SECTION_BRIDGE ? (void *)model_find_bridge(loader->model, name)
                                                      : (void *)model_find_backend(loader->model, name);
    if (existing) {
        const struct pending *first = pending_for(loader, existing);
        loader_error(loader, loader->line, "duplicate section [%s %s]; first defined at %s:%u",
                     kind, name, first->where.file, first->where.line);
        return;
    }

    struct source_location where = {.file = loader->file, .line = loader->line};
    void *object = NULL;
    int r;
    if (section_kind == SECTION_FRONTEND) {
        struct frontend *frontend;
        r = model_add_frontend(loader->model, name, &frontend);
        if (r == 0) {
            frontend->where = where;
            object = frontend;
        }
    } else if (section_kind == SECTION_BRIDGE) {
        struct bridge *bridge;
        r = model_add_bridge(loader->model, name, &bridge);
        if (r == 0) {
            bridge->where = where;
            object = bridge;
        }
    } else {
        struct backend *backend;
        r = model_add_backend(loader->model, name, &backend);
        if (r == 0) {
            backend->where = where;
            object = backend;
        }
    }
    struct pending *grown = loader->pending;
    if (object && loader->pending_count == loader->pending_capacity) {
        size_t capacity = loader->pending_capacity ? loader->pending_capacity * 2 : 16;
        grown = realloc(loader->pending, capacity * sizeof(*grown));
        if (grown)
            loader->pending_capacity = capacity;
    }
    if (!object || !grown) {
        loader_error(loader, loader->line, "out of memory");
        return;
    }
    loader->pending = grown;
    grown[loader->pending_count++] =
        (struct pending){.kind = section_kind, .object = object, .where = where};
    loader->section = (struct section){.kind = section_kind, .object = object, .where = where};
}

/* Refuses a key given twice in one section: the second would silently win. */
static bool key_first_time(struct loader *loader, struct pending *pending, unsigned int bit,
                           const char *key)
{
    if (pending->keys_seen & bit) {
        loader_error(loader, loader->line, "%s is set twice in [%s %s]", key,
                     section_kind_name(loader->section.kind),
                     *(const char *const *)pending->object);
        return false;
    }
    pending->keys_seen |= bit;
    return true;
}

/* What the model keeps is stored by it (model_store_text()); shared for
 * values that repeat across thousands of sections. Each key is set once. */
static int set_text(struct model *model, const char **slot, const char *value, bool shared)
{
    const char *copy = shared ? model_share_text(model, value) : model_store_text(model, value);
    if (!copy)
        return -ENOMEM;
    *slot = copy;
    return 0;
}

static int replace_string(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

static void frontend_set(struct loader *loader, struct pending *pending, const char *key,
                         const char *value)
{
    struct frontend *frontend = pending->object;
    if (strcmp(key, "domid") != 0) {
        loader_error(loader, loader->line, "unknown key \"%s\" in [frontend %s] (known: domid)",
                     key, frontend->name);
        return;
    }
    if (!key_first_time(loader, pending, 1u << 0, key))
        return;
    char *end;
    errno = 0;
    unsigned long domid = strtoul(value, &end, 10);
    if (!isdigit((unsigned char)value[0]) || *end || errno || domid > MODEL_DOMID_MAX) {
        loader_error(loader, loader->line,
                     "bad domid \"%s\" for frontend %s: expected a number from 0 to %u", value,
                     frontend->name, MODEL_DOMID_MAX);
        return;
    }
    frontend->domid = (unsigned int)domid;
    pending->has_domid = true;
}

/* timeout = SECONDS: how long a bridge may wait at start-up before it is
 * reported degraded (daemon-side only). */
static void bridge_set_timeout(struct loader *loader, struct bridge *bridge, const char *value)
{
    char *end;
    errno = 0;
    unsigned long seconds = strtoul(value, &end, 10);
    if (!isdigit((unsigned char)value[0]) || *end || errno || seconds > 86400) {
        loader_error(loader, loader->line,
                     "bad timeout \"%s\" for bridge %s: expected seconds from 0 (none) to 86400",
                     value, bridge->name);
        return;
    }
    bridge->timeout_seconds = (unsigned int)seconds;
}

/* static-evtchn-port = PORT, sysrq-key = CHARACTER, unpause-on-timeout =
 * yes|no: parameters of the static-evtchn, sysrq and unpause methods. */
static void bridge_set_signal_key(struct loader *loader, struct pending *pending, const char *key,
                                  const char *value)
{
    struct bridge *bridge = pending->object;
    struct source_location here = {loader->file, loader->line};
    if (strcmp(key, "static-evtchn-port") == 0) {
        if (!key_first_time(loader, pending, 1u << 26, key))
            return;
        pending->static_port_where = here;
        char *end;
        errno = 0;
        unsigned long port = strtoul(value, &end, 10);
        /* Port 0 is never valid; the FIFO ABI allows ports below 2^17. */
        if (!isdigit((unsigned char)value[0]) || *end || errno || port == 0 || port >= 131072) {
            loader_error(loader, loader->line,
                         "bad static-evtchn-port \"%s\" for bridge %s: expected the local port "
                         "of the host device tree's xen,evtchn node, 1 to 131071", value,
                         bridge->name);
            return;
        }
        bridge->static_evtchn_port = (unsigned int)port;
    } else if (strcmp(key, "unpause-on-timeout") == 0) {
        if (!key_first_time(loader, pending, 1u << 28, key))
            return;
        pending->unpause_on_timeout_where = here;
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
            loader_error(loader, loader->line,
                         "bad unpause-on-timeout \"%s\" for bridge %s: expected yes or no", value,
                         bridge->name);
            return;
        }
        bridge->unpause_on_timeout = strcmp(value, "yes") == 0;
    } else {
        if (!key_first_time(loader, pending, 1u << 27, key))
            return;
        pending->sysrq_key_where = here;
        if (strlen(value) != 1 || !isgraph((unsigned char)value[0])) {
            loader_error(loader, loader->line,
                         "bad sysrq-key \"%s\" for bridge %s: expected one printable character",
                         value, bridge->name);
            return;
        }
        bridge->sysrq_key = value[0];
    }
}

static void bridge_set(struct loader *loader, struct pending *pending, const char *key,
                       const char *value)
{
    struct bridge *bridge = pending->object;
    int r = 0;
    if (strcmp(key, "device-tree-path") == 0) {
        if (!key_first_time(loader, pending, 1u << 0, key))
            return;
        if (value[0] != '/' || strlen(value) > CONFIG_VALUE_MAX) {
            loader_error(loader, loader->line,
                         "device-tree-path \"%s\" must be an absolute device-tree path such as "
                         "/pcie@10000000", value);
            return;
        }
        r = set_text(loader->model, &bridge->device_tree_path, value, true);
    } else if (strcmp(key, "backends") == 0) {
        if (!key_first_time(loader, pending, 1u << 1, key))
            return;
        pending->backends_where = (struct source_location){loader->file, loader->line};
        r = replace_string(&pending->backend_names, value);
    } else if (strcmp(key, "signal") == 0) {
        if (!key_first_time(loader, pending, 1u << 2, key))
            return;
        char *copy = strdup(value), *save = NULL;
        pending->signal_where = (struct source_location){loader->file, loader->line};
        if (!copy) {
            r = -ENOMEM;
        } else {
            bridge->signal_methods = 0;
            for (char *word = strtok_r(copy, " \t", &save); word; word = strtok_r(NULL, " \t", &save)) {
                if (strcmp(word, "xenstore") == 0)
                    bridge->signal_methods |= SIGNAL_XENSTORE;
                else if (strcmp(word, "evtchn") == 0)
                    bridge->signal_methods |= SIGNAL_EVTCHN;
                else if (strcmp(word, "static-evtchn") == 0)
                    bridge->signal_methods |= SIGNAL_STATIC_EVTCHN;
                else if (strcmp(word, "sysrq") == 0)
                    bridge->signal_methods |= SIGNAL_SYSRQ;
                else if (strcmp(word, "unpause") == 0)
                    bridge->signal_methods |= SIGNAL_UNPAUSE;
                else
                    loader_error(loader, loader->line,
                                 "unknown signal method \"%s\" for bridge %s (known: xenstore, "
                                 "evtchn, static-evtchn, sysrq, unpause)", word, bridge->name);
            }
            free(copy);
            if (!bridge->signal_methods)
                loader_error(loader, loader->line, "bridge %s: signal names no method",
                             bridge->name);
        }
    } else if (strcmp(key, "timeout") == 0) {
        if (key_first_time(loader, pending, 1u << 20, key))
            bridge_set_timeout(loader, bridge, value);
    } else if (strcmp(key, "static-evtchn-port") == 0 || strcmp(key, "sysrq-key") == 0
               || strcmp(key, "unpause-on-timeout") == 0) {
        bridge_set_signal_key(loader, pending, key, value);
    } else {
        loader_error(loader, loader->line,
                     "unknown key \"%s\" in [bridge %s] (known: device-tree-path, backends, signal, "
                     "timeout, static-evtchn-port, sysrq-key, unpause-on-timeout)", key,
                     bridge->name);
    }
    if (r < 0)
        loader_error(loader, loader->line, "out of memory");
}

/* systemd unit names: "name.type", letters, digits and ":-_.\@" (systemd.unit(5)). */
static int check_unit_name(const char *name)
{
    size_t length = strlen(name);
    const char *dot = strrchr(name, '.');
    if (length == 0 || length > 255 || !dot || dot == name || !dot[1])
        return -EINVAL;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(":-_.\\@", *c))
            return -EINVAL;
    return 0;
}

/* A socket path a backend can bind(): absolute and within sun_path. */
static int check_socket_path(const char *path)
{
    return path[0] == '/' && strlen(path) < 108 ? 0 : -EINVAL;
}

/* probe = socket, unit, announce, xenready; -EINVAL for other values. */
static int backend_set_probe(struct backend *backend, const char *value)
{
    if (strcmp(value, "socket") == 0)
        backend->probe = PROBE_SOCKET;
    else if (strcmp(value, "unit") == 0)
        backend->probe = PROBE_UNIT;
    else if (strcmp(value, "announce") == 0)
        backend->probe = PROBE_ANNOUNCE;
    else if (strcmp(value, "xenready") == 0)
        backend->probe = PROBE_XENREADY;
    else
        return -EINVAL;
    return 0;
}

static void set_unit_key(struct loader *loader, struct backend *backend, const char **slot,
                         const char *key, const char *value)
{
    if (check_unit_name(value) < 0) {
        loader_error(loader, loader->line,
                     "bad %s \"%s\" for backend %s: a systemd unit name such as "
                     "vhost-device-i2c.service", key, value, backend->name);
        return;
    }
    if (set_text(loader->model, slot, value, false) < 0)
        loader_error(loader, loader->line, "out of memory");
}

/* Bits of pending->keys_seen in a [backend] section. */
enum {
    BACKEND_PROBE = 1u << 0,
    BACKEND_PATH = 1u << 1,
    BACKEND_VALUE = 1u << 2,
    BACKEND_FRONTEND = 1u << 3,
    BACKEND_BRIDGE = 1u << 4,
    BACKEND_PUBLISHER = 1u << 5,
    BACKEND_DEVICE_MODEL = 1u << 8,   /* probe = device-model (not a key) */
    BACKEND_UNIT = 1u << 20,
    BACKEND_OWNER = 1u << 21,
    BACKEND_PIDFILE = 1u << 22,
    BACKEND_LIVENESS_UNIT = 1u << 23,
    BACKEND_FOLLOW_SYMLINK = 1u << 24,
};

/* The keys of the socket, unit and announce probes and of liveness; -ENOENT
 * when key is none of them. */
static int backend_set_extra(struct loader *loader, struct pending *pending, const char *key,
                             const char *value)
{
    struct backend *backend = pending->object;
    struct source_location here = {loader->file, loader->line};
    if (strcmp(key, "unit") == 0) {
        if (!key_first_time(loader, pending, BACKEND_UNIT, key))
            return 0;
        pending->unit_where = here;
        set_unit_key(loader, backend, &pending->unit, key, value);
    } else if (strcmp(key, "liveness-unit") == 0) {
        if (!key_first_time(loader, pending, BACKEND_LIVENESS_UNIT, key))
            return 0;
        pending->liveness_unit_where = here;
        if (!XENREADY_WITH_SYSTEMD) {
            loader_error(loader, loader->line, "backend %s: liveness-unit = " WITHOUT_SYSTEMD
                         " (pidfile = instead?)", backend->name);
            return 0;
        }
        set_unit_key(loader, backend, &backend->liveness_unit, key, value);
    } else if (strcmp(key, "owner") == 0) {
        if (!key_first_time(loader, pending, BACKEND_OWNER, key))
            return 0;
        pending->owner_where = here;
        char *end;
        errno = 0;
        unsigned long uid = strncmp(value, "uid:", 4) == 0 ? strtoul(value + 4, &end, 10) : 0;
        if (strncmp(value, "uid:", 4) == 0 && isdigit((unsigned char)value[4]) && !*end && !errno
            && uid < 0xFFFFFFFFul) {
            backend->owner = OWNER_UID;
            backend->owner_uid = (unsigned int)uid;
        } else if (strncmp(value, "unit:", 5) == 0 && !XENREADY_WITH_SYSTEMD) {
            loader_error(loader, loader->line, "backend %s: owner = unit:NAME " WITHOUT_SYSTEMD
                         " (owner = uid:NUMBER instead?)", backend->name);
        } else if (strncmp(value, "unit:", 5) == 0 && check_unit_name(value + 5) == 0) {
            backend->owner = OWNER_UNIT;
            if (set_text(loader->model, &pending->owner_unit, value + 5, false) < 0)
                loader_error(loader, loader->line, "out of memory");
        } else {
            loader_error(loader, loader->line,
                         "bad owner \"%s\" for backend %s: expected uid:NUMBER or unit:NAME.service",
                         value, backend->name);
        }
    } else if (strcmp(key, "follow-symlink") == 0) {
        if (!key_first_time(loader, pending, BACKEND_FOLLOW_SYMLINK, key))
            return 0;
        pending->follow_symlink_where = here;
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
            loader_error(loader, loader->line,
                         "bad follow-symlink \"%s\" for backend %s: expected yes or no", value,
                         backend->name);
            return 0;
        }
        backend->follow_symlink = strcmp(value, "yes") == 0;
    } else if (strcmp(key, "pidfile") == 0) {
        if (!key_first_time(loader, pending, BACKEND_PIDFILE, key))
            return 0;
        pending->pidfile_where = here;
        if (value[0] != '/' || strlen(value) >= PATH_MAX) {
            loader_error(loader, loader->line,
                         "bad pidfile \"%s\" for backend %s: expected an absolute path", value,
                         backend->name);
            return 0;
        }
        if (set_text(loader->model, &backend->pidfile, value, false) < 0)
            loader_error(loader, loader->line, "out of memory");
        warn_hidden_path(loader->report, loader->file, loader->line, "pidfile", value,
                         backend->name);
    } else {
        return -ENOENT;
    }
    return 0;
}

/* Whether the backend's probe is known to be probe = xenstore itself (not
 * device-model): its path = can be checked as it is read. */
static bool backend_is_plain_xenstore(const struct pending *pending)
{
    const struct backend *backend = pending->object;
    return (pending->keys_seen & BACKEND_PROBE) && !pending->probe_unknown
           && backend->probe == PROBE_XENSTORE && !(pending->keys_seen & BACKEND_DEVICE_MODEL);
}

static void backend_set(struct loader *loader, struct pending *pending, const char *key,
                        const char *value)
{
    struct backend *backend = pending->object;
    struct source_location here = {loader->file, loader->line};
    int r = 0;
    if (strcmp(key, "probe") == 0) {
        if (!key_first_time(loader, pending, BACKEND_PROBE, key))
            return;
        if (backend_set_probe(backend, value) == 0) {
            if (backend->probe == PROBE_UNIT && !XENREADY_WITH_SYSTEMD) {
                /* As an unknown probe: this error, no kind's checks after it. */
                pending->probe_unknown = true;
                loader_error(loader, loader->line, "backend %s: probe = unit " WITHOUT_SYSTEMD
                             " (probe = socket or announce instead?)", backend->name);
            }
            return;
        }
        if (strcmp(value, "xenstore") != 0 && strcmp(value, "device-model") != 0) {
            /* Reported here, once: the backend has no kind, so none of the
             * checks of a kind apply to it (its keys are not judged). */
            pending->probe_unknown = true;
            loader_error(loader, loader->line,
                         "unknown probe \"%s\" for backend %s (known: xenstore, device-model, "
                         "socket, unit, announce, xenready)", value, backend->name);
            return;
        }
        backend->probe = PROBE_XENSTORE;
        /* device-model is the xenstore probe with QEMU's key and value
         * (QEMU accel/xen: device-model/<domid>/state = "running"). */
        if (strcmp(value, "device-model") == 0)
            pending->keys_seen |= BACKEND_DEVICE_MODEL;
    } else if (strcmp(key, "path") == 0) {
        if (!key_first_time(loader, pending, BACKEND_PATH, key))
            return;
        pending->path_where = here;
        /* Its meaning depends on the probe, which may come later: judged
         * once the section is read, unless it is a xenstore path already. */
        if (!backend_is_plain_xenstore(pending)) {
            r = replace_string(&pending->path_value, value);
        } else if (check_xenstore_path(value) < 0) {
            loader_error(loader, loader->line,
                         "bad xenstore path \"%s\" for backend %s: letters, digits and -/_@, no "
                         "empty component, at most %d characters",
                         value, backend->name, CONFIG_PATH_MAX);
            return;
        } else {
            r = set_text(loader->model, &backend->xenstore_path, value, false);
        }
    } else if (strcmp(key, "value") == 0) {
        if (!key_first_time(loader, pending, BACKEND_VALUE, key))
            return;
        pending->value_where = here;
        if (strlen(value) > CONFIG_VALUE_MAX) {
            loader_error(loader, loader->line, "value for backend %s is longer than %d",
                         backend->name, CONFIG_VALUE_MAX);
            return;
        }
        r = set_text(loader->model, &pending->value, value, true);
    } else if (strcmp(key, "frontend") == 0) {
        if (!key_first_time(loader, pending, BACKEND_FRONTEND, key))
            return;
        pending->frontend_where = here;
        r = replace_string(&pending->frontend_name, value);
    } else if (strcmp(key, "bridge") == 0) {
        if (!key_first_time(loader, pending, BACKEND_BRIDGE, key))
            return;
        pending->bridge_where = here;
        r = replace_string(&pending->published_bridge, value);
    } else if (strcmp(key, "publisher") == 0) {
        if (!key_first_time(loader, pending, BACKEND_PUBLISHER, key))
            return;
        pending->publisher_where = here;
        char *end;
        errno = 0;
        unsigned long domid = strtoul(value, &end, 10);
        if (!isdigit((unsigned char)value[0]) || *end || errno || domid > MODEL_DOMID_MAX) {
            loader_error(loader, loader->line,
                         "bad publisher \"%s\" for backend %s: expected the domid of the domain "
                         "whose xenreadyd publishes the bridge, 0 to %u", value, backend->name,
                         MODEL_DOMID_MAX);
            return;
        }
        backend->publisher_domid = (unsigned int)domid;
    } else if (backend_set_extra(loader, pending, key, value) == 0) {
        return;
    } else {
        loader_error(loader, loader->line,
                     "unknown key \"%s\" in [backend %s] (known: probe, path, value, frontend, "
                     "bridge, publisher, unit, owner, follow-symlink, pidfile, liveness-unit)", key,
                     backend->name);
    }
    if (r < 0)
        loader_error(loader, loader->line, "out of memory");
}

static int loader_handle(void *userdata, const char *section, const char *key, const char *value)
{
    struct loader *loader = userdata;
    struct pending *pending = pending_for(loader, loader->section.object);
    if (loader->section.kind == SECTION_NONE || !pending) {
        /* The section header was already reported as an error, or the key
         * precedes any section. */
        if (!section[0])
            loader_error(loader, loader->line, "\"%s\" is outside any section", key);
        return 1;
    }
    switch (loader->section.kind) {
    case SECTION_FRONTEND:
        frontend_set(loader, pending, key, value);
        break;
    case SECTION_BRIDGE:
        bridge_set(loader, pending, key, value);
        break;
    case SECTION_BACKEND:
        backend_set(loader, pending, key, value);
        break;
    case SECTION_NONE:
        break;
    }
    return 1;   /* errors are recorded by us, with their messages */
}

/* fgets()-like reader for ini_parse_stream() over the file read into
 * loader->buffer: counts lines and refuses lines that inih would cut at its
 * buffer size. */
static char *loader_read_line(char *out, int size, void *userdata)
{
    struct loader *loader = userdata;
    if (loader->position == loader->length)
        return NULL;
    const char *line = loader->buffer + loader->position;
    const char *newline = memchr(line, '\n', loader->length - loader->position);
    size_t length = newline ? (size_t)(newline - line) + 1 : loader->length - loader->position;
    loader->position += length;
    loader->line++;
    /* inih needs room for the newline and the terminator. */
    size_t content = length - (newline != NULL);
    if (content > (size_t)size - 2) {
        loader_error(loader, loader->line, "line is %zu characters long; the limit is %d",
                     content, size - 2);
        strcpy(out, "\n");
        return out;
    }
    if (memchr(line, '\0', length)) {
        loader_error(loader, loader->line, "line contains a NUL byte");
        strcpy(out, "\n");
        return out;
    }
    memcpy(out, line, length);
    out[length] = '\0';

    const char *start = out;
    while (isspace((unsigned char)*start))
        start++;
    if (*start == '[') {
        const char *close = strchr(start, ']');
        if (close) {
            char header[CONFIG_LINE_MAX];
            size_t n = (size_t)(close - start - 1);
            memcpy(header, start + 1, n);
            header[n] = '\0';
            loader_begin_section(loader, header);
        } else {
            loader->section = (struct section){.kind = SECTION_NONE};
        }
    }
    return out;
}

/* For "is a FIFO, not a regular file". */
static const char *file_type_name(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return "a directory";
    case S_IFIFO:
        return "a FIFO";
    case S_IFSOCK:
        return "a socket";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFLNK:
        return "a symbolic link";
    }
    return "of an unknown type";
}

/*
 * Whoever can write the configuration decides when guests may use their
 * devices: a file, and the drop-in directory, is only believed when it
 * belongs to root or to the daemon's own user (who could change it anyway)
 * and nobody else may write it (sshd's StrictModes, for the same reason). Reports
 * each problem; returns -EINVAL when there is one.
 */
static int check_trusted(struct config_report *report, const char *path, const struct stat *st)
{
    int r = 0;
    uid_t self = geteuid();
    if (st->st_uid != 0 && st->st_uid != self) {
        if (self == 0)
            report_add(report, true, path, 0, "owned by uid %u, not root; chown root it",
                       (unsigned int)st->st_uid);
        else
            report_add(report, true, path, 0,
                       "owned by uid %u, not root or uid %u (the daemon's); chown root it",
                       (unsigned int)st->st_uid, (unsigned int)self);
        r = -EINVAL;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        report_add(report, true, path, 0, "writable by %s (mode %04o); chmod go-w it",
                   st->st_mode & S_IWOTH ? "others" : "its group",
                   (unsigned int)(st->st_mode & 07777));
        r = -EINVAL;
    }
    return r;
}

/* What a configuration file must be, by its stat(2): a regular file (a FIFO
 * would block the daemon, a directory would read as empty), trusted, and at
 * most CONFIG_FILE_MAX bytes. Reports each problem; -EINVAL if there is one. */
static int check_file(struct config_report *report, const char *path, const struct stat *st)
{
    if (!S_ISREG(st->st_mode)) {
        report_add(report, true, path, 0, "is %s, not a regular file",
                   file_type_name(st->st_mode));
        return -EINVAL;
    }
    int r = check_trusted(report, path, st);
    if (st->st_size > CONFIG_FILE_MAX) {
        report_add(report, true, path, 0, "is larger than 1 MiB");
        r = -EINVAL;
    }
    return r;
}

/* Reads the whole file into loader->buffer. Whatever st_size said (a file
 * may grow while it is read, /proc files say 0), no more than
 * CONFIG_FILE_MAX + 1 bytes are ever held: one more is too large. */
static int loader_read_file(struct loader *loader, int fd, const char *path, off_t size)
{
    /* Room for one byte more than the file holds, so its end comes in the
     * first read; small files share a page. */
    size_t wanted = size < 4096 ? 4096 : (size_t)size + 1;
    if (wanted > CONFIG_FILE_MAX + 1)
        wanted = CONFIG_FILE_MAX + 1;
    loader->length = 0;
    loader->position = 0;
    for (;;) {
        if (loader->length == loader->buffer_size || loader->buffer_size < wanted) {
            if (loader->length > CONFIG_FILE_MAX) {
                report_add(loader->report, true, path, 0, "is larger than 1 MiB");
                return -EINVAL;
            }
            size_t capacity = loader->buffer_size * 2 > wanted ? loader->buffer_size * 2 : wanted;
            if (capacity > CONFIG_FILE_MAX + 1)
                capacity = CONFIG_FILE_MAX + 1;
            char *grown = realloc(loader->buffer, capacity);
            if (!grown) {
                report_add(loader->report, true, path, 0, "out of memory");
                return -ENOMEM;
            }
            loader->buffer = grown;
            loader->buffer_size = capacity;
        }
        size_t room = loader->buffer_size - loader->length;
        ssize_t n = read(fd, loader->buffer + loader->length, room);
        if (n == 0)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = -errno;
            report_add(loader->report, true, path, 0, "cannot read: %s", strerror(-r));
            return r;
        }
        loader->length += (size_t)n;
    }
}

/*
 * Reads and parses one file: name is relative to dir_fd (AT_FDCWD for the
 * main file), path is for messages and the model. Symbolic links are
 * followed (an image may link /etc/xen/xenready.conf elsewhere), to a file
 * that must pass the same checks. Returns 0 when the file was parsed, its
 * errors in the report; -ENOENT without a report when it is absent and
 * may_be_absent; otherwise -EINVAL (refused) or another negative errno, with
 * the reason in the report, and the loading ends.
 */
static int loader_parse_file(struct loader *loader, int dir_fd, const char *name,
                             const char *path, bool may_be_absent)
{
    struct config_report *report = loader->report;
    struct stat st;
    /* Looked at before it is opened, since opening a device can have effects
     * of its own (a watchdog starts, a tape rewinds). */
    if (fstatat(dir_fd, name, &st, 0) < 0) {
        int r = -errno;
        if (r != -ENOENT || !may_be_absent)
            report_add(report, true, path, 0, "cannot open: %s", strerror(-r));
        return r;
    }
    int r = check_file(report, path, &st);
    if (r < 0)
        return r;
    /* It may have been replaced since: O_NONBLOCK keeps open() of a FIFO from
     * waiting for a writer, and what counts is what the descriptor is. */
    int fd = openat(dir_fd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        report_add(report, true, path, 0, "cannot open: %s", strerror(-r));
        return r;
    }
    /* A regular file's read(2) never blocks; O_NONBLOCK goes, so that no
     * EAGAIN can come of it either. */
    if (fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, 0) < 0) {
        r = -errno;
        report_add(report, true, path, 0, "cannot read: %s", strerror(-r));
    } else {
        r = check_file(report, path, &st);
    }
    if (r == 0)
        r = loader_read_file(loader, fd, path, st.st_size);
    close(fd);
    if (r < 0)
        return r;

    r = model_add_file(loader->model, path, &loader->file);
    if (r < 0)
        return r;
    loader->line = 0;
    loader->section = (struct section){.kind = SECTION_NONE};
    int syntax_line = ini_parse_stream(loader_read_line, loader, loader_handle, loader);
    if (syntax_line > 0)
        loader_error(loader, (unsigned int)syntax_line,
                     "syntax error: expected [kind name], key = value, or a # comment");
    else if (syntax_line < 0)
        loader_error(loader, 0, "out of memory");
    return 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The drop-in directory's *.conf files, sorted, as paths; *dir_fd is the
 * directory, which they are opened at (-1 when it is missing, which is fine).
 * The directory must be trusted like the files, and each *.conf entry must be
 * a file to read (a directory, FIFO or socket is not skipped as if it were
 * not there). Every problem is reported, and any ends the loading.
 */
static int list_dropins(struct config_report *report, const char *directory, int *dir_fd,
                        char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    *dir_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    DIR *dir = NULL;
    int r = 0;
    if (*dir_fd < 0) {
        if (errno == ENOENT)
            return 0;
        r = -errno;
    } else if (fstat(*dir_fd, &st) < 0) {
        r = -errno;
    } else if (check_trusted(report, directory, &st) < 0) {
        return -EINVAL;
    } else {
        /* fdopendir() takes its descriptor; *dir_fd stays for openat(). */
        int list_fd = fcntl(*dir_fd, F_DUPFD_CLOEXEC, 0);
        dir = list_fd < 0 ? NULL : fdopendir(list_fd);
        if (!dir) {
            r = -errno;
            if (list_fd >= 0)
                close(list_fd);
        }
    }
    if (r < 0) {
        report_add(report, true, directory, 0, "cannot read directory: %s", strerror(-r));
        return r;
    }

    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(dir);
        if (!entry) {
            if (errno) {
                r = -errno;
                report_add(report, true, directory, 0, "cannot read directory: %s",
                           strerror(-r));
            }
            break;
        }
        size_t length = strlen(entry->d_name);
        if (entry->d_name[0] == '.' || length < 6 || strcmp(entry->d_name + length - 5, ".conf"))
            continue;
        char *path = NULL;
        char **grown = realloc(*out, (*count + 1) * sizeof(char *));
        if (!grown || asprintf(&path, "%s/%s", directory, entry->d_name) < 0) {
            if (grown)
                *out = grown;
            report_add(report, true, directory, 0, "out of memory");
            r = -ENOMEM;
            break;
        }
        *out = grown;
        (*out)[(*count)++] = path;
    }
    closedir(dir);
    if (*count)
        qsort(*out, *count, sizeof(char *), compare_strings);
    /* Followed if they are symbolic links; checked again once opened. */
    size_t prefix = strlen(directory) + 1;
    for (size_t i = 0; r != -ENOMEM && i < *count; i++) {
        struct stat file;
        int checked;
        if (fstatat(*dir_fd, (*out)[i] + prefix, &file, 0) < 0) {
            checked = -errno;
            report_add(report, true, (*out)[i], 0, "cannot open: %s", strerror(-checked));
        } else {
            checked = check_file(report, (*out)[i], &file);
        }
        if (r == 0)
            r = checked;
    }
    return r;
}

static int compare_domids(const void *a, const void *b)
{
    unsigned int left = ((const struct frontend *)a)->domid;
    unsigned int right = ((const struct frontend *)b)->domid;
    return (left > right) - (left < right);
}

static void index_entry_keep(void *entry)
{
    (void)entry;
}

static void resolve_frontend(struct loader *loader, struct pending *pending)
{
    struct frontend *frontend = pending->object;
    if (!pending->has_domid) {
        /* A domid that was given but bad has been reported where it stands. */
        if (!(pending->keys_seen & 1u))
            report_add(loader->report, true, pending->where.file, pending->where.line,
                       "frontend %s has no domid", frontend->name);
        return;
    }
    /* Frontends are resolved in the order they were defined: the tree holds
     * the first one with each domid. */
    struct frontend *const *first = tsearch(frontend, &loader->domids, compare_domids);
    if (!first) {
        report_add(loader->report, true, pending->where.file, pending->where.line,
                   "out of memory");
    } else if (*first != frontend) {
        const struct frontend *other = *first;
        report_add(loader->report, true, pending->where.file, pending->where.line,
                   "frontend %s has domid %u, already used by frontend %s at %s:%u",
                   frontend->name, frontend->domid, other->name, other->where.file,
                   other->where.line);
    }
}

/* The keys that only some probes take, each refused at its own line when the
 * backend's probe is not one of them (keys may come before probe =, so this
 * is only known once the section is read). */
static void refuse_other_probes_keys(struct loader *loader, const struct pending *pending)
{
    const struct backend *backend = pending->object;
    struct config_report *report = loader->report;
    unsigned int seen = pending->keys_seen;
    bool device_model = seen & BACKEND_DEVICE_MODEL;
    bool xenstore = backend->probe == PROBE_XENSTORE && !device_model;
    const struct source_location *at;

    at = &pending->path_where;
    if ((seen & BACKEND_PATH) && device_model)
        report_add(report, true, at->file, at->line,
                   "backend %s: path = is not for probe = device-model, which sets path and "
                   "value itself; use probe = xenstore to choose them", backend->name);
    else if ((seen & BACKEND_PATH) && !xenstore && backend->probe != PROBE_SOCKET)
        report_add(report, true, at->file, at->line,
                   "backend %s: path = is only for probe = socket and probe = xenstore",
                   backend->name);
    at = &pending->value_where;
    if ((seen & BACKEND_VALUE) && device_model)
        report_add(report, true, at->file, at->line,
                   "backend %s: value = is not for probe = device-model, which sets path and "
                   "value itself; use probe = xenstore to choose them", backend->name);
    else if ((seen & BACKEND_VALUE) && !xenstore)
        report_add(report, true, at->file, at->line,
                   "backend %s: value = is only for probe = xenstore", backend->name);
    at = &pending->frontend_where;
    if ((seen & BACKEND_FRONTEND) && !device_model)
        report_add(report, true, at->file, at->line,
                   "backend %s: frontend = is only for probe = device-model", backend->name);
    at = &pending->unit_where;
    if ((seen & BACKEND_UNIT) && backend->probe != PROBE_UNIT)
        report_add(report, true, at->file, at->line,
                   "backend %s: unit = is only for probe = unit (liveness-unit = works with any "
                   "probe)", backend->name);
    at = &pending->owner_where;
    if (backend->owner == OWNER_UNIT && backend->probe == PROBE_SOCKET)
        report_add(report, true, at->file, at->line,
                   "backend %s: a socket's owner = is uid:NUMBER (who must own the socket "
                   "file)", backend->name);
    else if ((seen & BACKEND_OWNER) && backend->probe != PROBE_ANNOUNCE
             && backend->probe != PROBE_SOCKET)
        report_add(report, true, at->file, at->line,
                   "backend %s: owner = is only for probe = announce and probe = socket",
                   backend->name);
    at = &pending->follow_symlink_where;
    if ((seen & BACKEND_FOLLOW_SYMLINK) && backend->probe != PROBE_SOCKET)
        report_add(report, true, at->file, at->line,
                   "backend %s: follow-symlink = is only for probe = socket", backend->name);
    if ((seen & BACKEND_BRIDGE) && backend->probe != PROBE_XENREADY)
        report_add(report, true, pending->bridge_where.file, pending->bridge_where.line,
                   "backend %s: bridge = is only for probe = xenready", backend->name);
    if ((seen & BACKEND_PUBLISHER) && backend->probe != PROBE_XENREADY)
        report_add(report, true, pending->publisher_where.file, pending->publisher_where.line,
                   "backend %s: publisher = is only for probe = xenready", backend->name);
}

/* Gives the backend the keys of its own probe kind (struct backend has room
 * for those only); keys of another kind are reported by the checks. */
static void backend_take_probe_keys(struct backend *backend, const struct pending *pending)
{
    switch (backend->probe) {
    case PROBE_XENSTORE:
        backend->expected_value = pending->value;
        break;
    case PROBE_UNIT:
        backend->unit = pending->unit;
        break;
    case PROBE_ANNOUNCE:
        backend->owner_unit = pending->owner_unit;
        break;
    case PROBE_SOCKET:
    case PROBE_XENREADY:
        break;   /* its path = and bridge = are resolved below */
    }
}

/* A path given before probe = (always, for a socket), checked as its kind's;
 * refused ones were reported already. */
static void resolve_backend_path(struct loader *loader, struct pending *pending)
{
    struct backend *backend = pending->object;
    struct config_report *report = loader->report;
    const char *path = pending->path_value;
    const struct source_location *at = &pending->path_where;
    if (!path || (pending->keys_seen & BACKEND_DEVICE_MODEL))
        return;
    if (backend->probe == PROBE_SOCKET) {
        if (check_socket_path(path) < 0)
            report_add(report, true, at->file, at->line,
                       "bad socket path \"%s\" for backend %s: an absolute path of at most 107 "
                       "characters", path, backend->name);
        else if (set_text(loader->model, &backend->socket_path, path, false) < 0)
            report_add(report, true, at->file, at->line, "out of memory");
        else
            warn_hidden_path(report, at->file, at->line, "socket", path, backend->name);
    } else if (backend->probe == PROBE_XENSTORE) {
        if (check_xenstore_path(path) < 0)
            report_add(report, true, at->file, at->line,
                       "bad xenstore path \"%s\" for backend %s: letters, digits and -/_@, no "
                       "empty component, at most %d characters", path, backend->name,
                       CONFIG_PATH_MAX);
        else if (set_text(loader->model, &backend->xenstore_path, path, false) < 0)
            report_add(report, true, at->file, at->line, "out of memory");
    }
}

/* probe = device-model: the xenstore probe of its frontend's QEMU. */
static void resolve_device_model(struct loader *loader, struct pending *pending)
{
    struct backend *backend = pending->object;
    struct config_report *report = loader->report;
    if (!(pending->keys_seen & BACKEND_FRONTEND)) {
        report_add(report, true, pending->where.file, pending->where.line,
                   "backend %s: probe = device-model needs frontend = NAME", backend->name);
        return;
    }
    struct frontend *frontend = model_find_frontend(loader->model, pending->frontend_name);
    if (!frontend) {
        report_add(report, true, pending->frontend_where.file, pending->frontend_where.line,
                   "backend %s refers to unknown frontend \"%s\"", backend->name,
                   pending->frontend_name);
        return;
    }
    char path[32];
    snprintf(path, sizeof(path), "device-model/%u/state", frontend->domid);
    if (set_text(loader->model, &backend->xenstore_path, path, false) < 0
        || set_text(loader->model, &backend->expected_value, "running", true) < 0)
        report_add(report, true, pending->where.file, pending->where.line, "out of memory");
}

/* probe = xenready: the node of bridge = FRONTEND/ID, in the frontend's
 * home, where the publisher's xenreadyd writes it (xenready-guest.h). */
static void resolve_published_bridge(struct loader *loader, struct pending *pending)
{
    struct backend *backend = pending->object;
    struct config_report *report = loader->report;
    const struct source_location *at = &pending->bridge_where;
    if (!(pending->keys_seen & BACKEND_BRIDGE)) {
        report_add(report, true, pending->where.file, pending->where.line,
                   "backend %s: probe = xenready needs bridge = FRONTEND/ID (the bridge as the "
                   "publishing xenreadyd names it)", backend->name);
    } else {
        const char *text = pending->published_bridge, *slash = strchr(text, '/');
        char frontend_name[CONFIG_NAME_MAX + 1] = "";
        bool valid = slash && (size_t)(slash - text) <= CONFIG_NAME_MAX;
        if (valid)
            snprintf(frontend_name, sizeof(frontend_name), "%.*s", (int)(slash - text), text);
        valid = valid && config_check_name(frontend_name) == 0 && config_check_name(slash + 1) == 0;
        struct frontend *frontend = valid ? model_find_frontend(loader->model, frontend_name) : NULL;
        const char *id = valid ? slash + 1 : NULL;
        if (!valid) {
            report_add(report, true, at->file, at->line,
                       "bad bridge \"%s\" for backend %s: expected FRONTEND/ID as the publishing "
                       "xenreadyd names it, letters, digits, '-' and '_' (at most %d each)", text,
                       backend->name, CONFIG_NAME_MAX);
        } else if (!frontend) {
            report_add(report, true, at->file, at->line,
                       "backend %s refers to unknown frontend \"%s\" (define it with its domid)",
                       backend->name, frontend_name);
        } else {
            char path[128];
            snprintf(path, sizeof(path), "/local/domain/%u/%s/%s", frontend->domid,
                     XENREADY_DIRECTORY, id);
            if (set_text(loader->model, &backend->xenready_node, path, false) < 0)
                report_add(report, true, at->file, at->line, "out of memory");
        }
    }
    if (!(pending->keys_seen & BACKEND_PUBLISHER))
        report_add(report, true, pending->where.file, pending->where.line,
                   "backend %s: probe = xenready needs publisher = DOMID (the domain whose "
                   "xenreadyd publishes the bridge)", backend->name);
}

/*
 * The checks a backend needs once its section is read. A key refused by the
 * probe is reported at its own line; a key missing, at the section header;
 * a key given with a bad value was reported at its line and is not missing.
 * After an unknown probe (reported at its line) the backend has no kind:
 * only what holds for every kind is checked.
 */
static void resolve_backend(struct loader *loader, struct pending *pending)
{
    struct backend *backend = pending->object;
    struct config_report *report = loader->report;
    const char *file = pending->where.file;
    unsigned int line = pending->where.line;
    unsigned int seen = pending->keys_seen;

    /* Liveness goes with any probe: the second of the two is refused. */
    if (backend->pidfile && backend->liveness_unit) {
        const struct source_location *second =
            pending->pidfile_where.line > pending->liveness_unit_where.line
                ? &pending->pidfile_where : &pending->liveness_unit_where;
        report_add(report, true, second->file, second->line,
                   "backend %s: use pidfile = or liveness-unit = for liveness, not both",
                   backend->name);
    }
    if (!(seen & BACKEND_PROBE)) {
        report_add(report, true, file, line,
                   "backend %s has no probe (probe = device-model, xenstore, socket, unit, "
                   "announce or xenready)", backend->name);
        return;
    }
    if (pending->probe_unknown)
        return;
    backend_take_probe_keys(backend, pending);
    refuse_other_probes_keys(loader, pending);
    resolve_backend_path(loader, pending);
    switch (backend->probe) {
    case PROBE_SOCKET:
        if (!(seen & BACKEND_PATH))
            report_add(report, true, file, line,
                       "backend %s: probe = socket needs path = /PATH/OF/THE/SOCKET",
                       backend->name);
        break;
    case PROBE_UNIT:
        if (!(seen & BACKEND_UNIT))
            report_add(report, true, file, line,
                       "backend %s: probe = unit needs unit = NAME.service", backend->name);
        break;
    case PROBE_ANNOUNCE:
        if (!(seen & BACKEND_OWNER))
            report_add(report, true, file, line,
                       "backend %s: probe = announce needs owner = uid:NUMBER or owner = "
                       "unit:NAME", backend->name);
        break;
    case PROBE_XENREADY:
        resolve_published_bridge(loader, pending);
        break;
    case PROBE_XENSTORE:
        if (seen & BACKEND_DEVICE_MODEL) {
            resolve_device_model(loader, pending);
            break;
        }
        if (!(seen & BACKEND_PATH))
            report_add(report, true, file, line,
                       "backend %s: probe = xenstore needs path = XENSTORE-PATH", backend->name);
        if (!(seen & BACKEND_VALUE))
            report_add(report, true, file, line,
                       "backend %s: probe = xenstore needs value = EXPECTED-VALUE", backend->name);
        break;
    }
}

/* The signal methods' parameters, and what they imply. */
static void resolve_bridge_signals(struct loader *loader, struct pending *pending)
{
    struct bridge *bridge = pending->object;
    struct config_report *report = loader->report;
    const struct source_location *signal = pending->signal_where.file ? &pending->signal_where
                                                                      : &pending->where;
    /* The dynamic channel's port is published in the bridge's xenstore node. */
    if (bridge->signal_methods & SIGNAL_EVTCHN)
        bridge->signal_methods |= SIGNAL_XENSTORE;
    bool uses_static = bridge->signal_methods & SIGNAL_STATIC_EVTCHN;
    bool uses_sysrq = bridge->signal_methods & SIGNAL_SYSRQ;
    if (uses_static && !bridge->static_evtchn_port && !pending->static_port_where.file)
        report_add(report, true, signal->file, signal->line,
                   "bridge %s: signal = static-evtchn needs static-evtchn-port = PORT",
                   bridge->name);
    if (!uses_static && pending->static_port_where.file)
        report_add(report, true, pending->static_port_where.file, pending->static_port_where.line,
                   "bridge %s: static-evtchn-port is only for signal = static-evtchn",
                   bridge->name);
    if (uses_sysrq && !bridge->sysrq_key && !pending->sysrq_key_where.file)
        report_add(report, true, signal->file, signal->line,
                   "bridge %s: signal = sysrq needs sysrq-key = CHARACTER (the guest's handler "
                   "decides what it means; a stock kernel runs that magic sysrq command)",
                   bridge->name);
    if (!(bridge->signal_methods & SIGNAL_UNPAUSE) && pending->unpause_on_timeout_where.file)
        report_add(report, true, pending->unpause_on_timeout_where.file,
                   pending->unpause_on_timeout_where.line,
                   "bridge %s: unpause-on-timeout is only for signal = unpause", bridge->name);
    else if (bridge->unpause_on_timeout && !bridge->timeout_seconds)
        report_add(report, true, pending->unpause_on_timeout_where.file,
                   pending->unpause_on_timeout_where.line,
                   "bridge %s: unpause-on-timeout = yes needs timeout = SECONDS", bridge->name);
    if (!uses_sysrq && pending->sysrq_key_where.file)
        report_add(report, true, pending->sysrq_key_where.file, pending->sysrq_key_where.line,
                   "bridge %s: sysrq-key is only for signal = sysrq", bridge->name);
    if (!uses_static || !bridge->static_evtchn_port)
        return;
    /* DomD binds each static port once. */
    for (size_t i = 0; i < loader->pending_count && &loader->pending[i] != pending; i++) {
        const struct pending *other = &loader->pending[i];
        const struct bridge *other_bridge = other->object;
        if (other->kind == SECTION_BRIDGE && other_bridge
            && (other_bridge->signal_methods & SIGNAL_STATIC_EVTCHN)
            && other_bridge->static_evtchn_port == bridge->static_evtchn_port)
            report_add(report, true, pending->static_port_where.file,
                       pending->static_port_where.line,
                       "bridge %s: static-evtchn-port %u is already used by bridge %s at %s:%u",
                       bridge->name, bridge->static_evtchn_port, other_bridge->name,
                       other->static_port_where.file, other->static_port_where.line);
    }
}

static void resolve_bridge(struct loader *loader, struct pending *pending)
{
    struct bridge *bridge = pending->object;
    struct model *model = loader->model;
    struct config_report *report = loader->report;
    const char *file = pending->where.file;
    unsigned int line = pending->where.line;

    char frontend_name[CONFIG_NAME_MAX + 1];
    snprintf(frontend_name, sizeof(frontend_name), "%.*s", (int)(bridge->id - bridge->name - 1),
             bridge->name);
    bridge->frontend = model_find_frontend(model, frontend_name);
    if (!bridge->frontend)
        report_add(report, true, file, line, "bridge %s belongs to unknown frontend \"%s\"",
                   bridge->name, frontend_name);
    /* The path is what the bridge's xenstore node tells the guest; a guest
     * held paused (signal = unpause alone) is told nothing. */
    if (!bridge->device_tree_path && bridge->signal_methods != SIGNAL_UNPAUSE)
        report_add(report, true, file, line,
                   "bridge %s has no device-tree-path (e.g. device-tree-path = /pcie@10000000)",
                   bridge->name);

    size_t named = 0;
    char *save = NULL;
    for (char *word = pending->backend_names ? strtok_r(pending->backend_names, " \t", &save) : NULL;
         word; word = strtok_r(NULL, " \t", &save)) {
        named++;
        struct backend *backend = model_find_backend(model, word);
        if (!backend)
            report_add(report, true, pending->backends_where.file, pending->backends_where.line,
                       "bridge %s needs unknown backend \"%s\"", bridge->name, word);
        else if (model_link(bridge, backend) < 0)
            report_add(report, true, file, line, "out of memory");
    }
    if (named == 0)
        report_add(report, true, pending->backend_names ? pending->backends_where.file : file,
                   pending->backend_names ? pending->backends_where.line : line,
                   "bridge %s has no backends (backends = NAME …)", bridge->name);
    resolve_bridge_signals(loader, pending);
}

/* Checks that need the whole configuration: references, required keys. */
static void loader_resolve(struct loader *loader)
{
    /* Backends first: bridges link them only once their paths are known. */
    for (size_t i = 0; i < loader->pending_count; i++)
        if (loader->pending[i].kind == SECTION_FRONTEND)
            resolve_frontend(loader, &loader->pending[i]);
    for (size_t i = 0; i < loader->pending_count; i++)
        if (loader->pending[i].kind == SECTION_BACKEND)
            resolve_backend(loader, &loader->pending[i]);
    for (size_t i = 0; i < loader->pending_count; i++)
        if (loader->pending[i].kind == SECTION_BRIDGE)
            resolve_bridge(loader, &loader->pending[i]);

    struct model *model = loader->model;
    for (size_t i = 0; i < model->backend_count; i++)
        if (model->backends[i]->bridge_count == 0)
            report_add(loader->report, false, model->backends[i]->where.file,
                       model->backends[i]->where.line, "backend %s is not used by any bridge",
                       model->backends[i]->name);
}

int config_load(const char *main_file, const char *dropin_dir, struct model **out,
                struct config_report *report)
{
    *out = NULL;
    struct loader loader = {.report = report, .model = model_new()};
    char **dropins = NULL;
    size_t dropin_count = 0;
    int dropin_fd = -1;
    int r = -ENOMEM;
    if (!loader.model)
        goto out;

    /* Keep inih from reinterpreting what systemd-style INI means literally. */
    ini_max_line = CONFIG_LINE_MAX;
    ini_allow_multiline = false;
    ini_allow_inline_comments = false;
    ini_allow_no_value = false;
    ini_stop_on_first_error = false;

    if (dropin_dir) {
        r = list_dropins(report, dropin_dir, &dropin_fd, &dropins, &dropin_count);
        if (r < 0)
            goto out;
    }
    /* The main file may be absent when there are drop-ins. */
    r = loader_parse_file(&loader, AT_FDCWD, main_file, main_file, dropin_count > 0);
    if (r == -ENOENT && dropin_count > 0)
        r = 0;
    /* Named in the directory that was checked, whatever its path is now. */
    size_t prefix = dropin_dir ? strlen(dropin_dir) + 1 : 0;
    for (size_t i = 0; r == 0 && i < dropin_count; i++)
        r = loader_parse_file(&loader, dropin_fd, dropins[i] + prefix, dropins[i], false);
    if (r < 0)
        goto out;

    loader_resolve(&loader);
    if (report->error_count) {
        r = -EINVAL;
        goto out;
    }
    *out = loader.model;
    loader.model = NULL;
    r = 0;
out:
    for (size_t i = 0; i < dropin_count; i++)
        free(dropins[i]);
    free(dropins);
    if (dropin_fd >= 0)
        close(dropin_fd);
    for (size_t i = 0; i < loader.pending_count; i++) {
        free(loader.pending[i].backend_names);
        free(loader.pending[i].frontend_name);
        free(loader.pending[i].published_bridge);
        free(loader.pending[i].path_value);
    }
    free(loader.pending);
    tdestroy(loader.domids, index_entry_keep);
    free(loader.buffer);
    model_free(loader.model);
    return r;
}
