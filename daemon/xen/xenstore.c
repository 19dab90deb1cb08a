// SPDX-License-Identifier: GPL-2.0-or-later
#include "xenstore.h"

#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xenstore.h>

#include "util/log.h"

/* A registration. Its token, "xenready:<slot>.<serial>", is unique over the
 * object's life, so an event still queued for a removed watch never
 * reaches the owner of a later one in the same slot. */
struct xenstore_watch {
    char *path;
    xenstore_watch_fn fn;
    void *userdata;
    size_t slot;
    unsigned long serial;
    bool armed;              /* false: refused for lack of room, or the connection is down */
};

struct xenstore {
    struct xs_handle *handle;    /* NULL while the connection is down */
    struct ev_loop *loop;
    ev_io io;
    /* Hang-up of a socket connection: an epoll set holding only EPOLLRDHUP
     * of our own duplicate of libxenstore's socket (libxenstore's reader
     * thread closes its descriptor on EOF and tells nobody). */
    int hangup_fd;
    int socket_copy;
    ev_io hangup;
    xenstore_event_fn on_lost;
    void *lost_userdata;
    xenstore_event_fn on_batch;
    void *batch_userdata;
    unsigned int domid;
    bool failed;
    bool started;
    bool short_of_memory;      /* a request was refused for lack of memory */
    struct xenstore_watch **watches;   /* by slot; NULL: a free slot */
    size_t watch_count;        /* slots, free ones included */
    size_t unarmed_count;      /* registrations waiting for room or a connection */
    unsigned long next_serial;
};

static const char token_prefix[] = "xenready:";

static void watch_token(const struct xenstore_watch *watch, char *token, size_t size)
{
    snprintf(token, size, "%s%zu.%lu", token_prefix, watch->slot, watch->serial);
}

static void xenstore_dispatch(struct xenstore *xenstore, char **event)
{
    const char *token = event[XS_WATCH_TOKEN];
    if (strncmp(token, token_prefix, sizeof(token_prefix) - 1) != 0)
        return;
    char *end;
    unsigned long slot = strtoul(token + sizeof(token_prefix) - 1, &end, 10);
    if (*end != '.' || slot >= xenstore->watch_count)
        return;
    unsigned long serial = strtoul(end + 1, &end, 10);
    struct xenstore_watch *watch = xenstore->watches[slot];
    if (*end || !watch || watch->serial != serial)
        return;
    watch->fn(event[XS_WATCH_PATH], watch->userdata);
}

bool xenstore_error_is_room(int r)
{
    return r == -E2BIG || r == -ENOSPC || r == -ENOMEM || r == -EIO;
}

const char *xenstore_error_hint(int r)
{
    switch (r) {
    case -E2BIG:
        return " (xenstored's watch quota of this domain, -W, is used up)";
    case -ENOSPC:
        return " (xenstored's node quota of this domain, -E, or its entry size limit, -S, "
               "is reached)";
    case -ENOMEM:
        return " (xenstored's memory quota of this domain, -Q memory, is used up)";
    case -EIO:
        return " (what xenstored answers a write when this domain's memory quota, "
               "-Q memory, is used up)";
    default:
        return "";
    }
}

/* Converts a libxenstore failure into a negative errno, noting a refusal for
 * lack of memory: xenstored drops this domain's watch events then. */
static int xenstore_failure(struct xenstore *xenstore)
{
    int r = errno ? -errno : -EIO;
    if (r == -ENOMEM || r == -EIO)
        xenstore->short_of_memory = true;
    return r;
}

/* Asks xenstored for a registration it has not got. */
static int watch_arm(struct xenstore *xenstore, struct xenstore_watch *watch)
{
    if (!xenstore_connected(xenstore))
        return -ENOTCONN;
    char token[64];
    watch_token(watch, token, sizeof(token));
    if (!xs_watch(xenstore->handle, watch->path, token))
        return xenstore_failure(xenstore);
    watch->armed = true;
    xenstore->unarmed_count--;
    return 0;
}

/* After a batch of events: room may have returned since the last refusal
 * (xenstored does not say). Trying after the batch, not before it, means an
 * event written after room returned is always followed by a try; one tried
 * first could fail just before room returned, and the event that proves it
 * would then be drained with no try after it. */
static void xenstore_retry_watches(struct xenstore *xenstore)
{
    for (size_t i = 0; xenstore->unarmed_count && i < xenstore->watch_count; i++) {
        struct xenstore_watch *watch = xenstore->watches[i];
        if (!watch || watch->armed)
            continue;
        int r = watch_arm(xenstore, watch);
        if (r == 0)
            log_message(LOG_NOTICE, "watching %s now: xenstored had room again", watch->path);
        else if (xenstore_error_is_room(r))
            break;   /* still none; the others would be refused too */
    }
}

/* Lets go of the connection itself; the registrations stay, unarmed. */
static void connection_close(struct xenstore *xenstore)
{
    if (xenstore->loop) {
        ev_io_stop(xenstore->loop, &xenstore->io);
        if (xenstore->hangup_fd >= 0)
            ev_io_stop(xenstore->loop, &xenstore->hangup);
    }
    if (xenstore->hangup_fd >= 0)
        close(xenstore->hangup_fd);
    if (xenstore->socket_copy >= 0)
        close(xenstore->socket_copy);
    xenstore->hangup_fd = xenstore->socket_copy = -1;
    if (xenstore->handle)
        xs_close(xenstore->handle);
    xenstore->handle = NULL;
    for (size_t i = 0; i < xenstore->watch_count; i++) {
        struct xenstore_watch *watch = xenstore->watches[i];
        if (watch && watch->armed) {
            watch->armed = false;
            xenstore->unarmed_count++;
        }
    }
}

/* Tells the owner once. Called from the callback of the connection's own
 * descriptors, so they are only stopped here: the connection is closed by
 * xenstore_reconnect() or xenstore_close(), at a safe point of the loop. */
static void xenstore_fail(struct xenstore *xenstore, const char *why)
{
    if (xenstore->failed)
        return;
    xenstore->failed = true;
    log_message(LOG_ERR, "lost the xenstore connection: %s", why);
    ev_io_stop(xenstore->loop, &xenstore->io);
    if (xenstore->hangup_fd >= 0)
        ev_io_stop(xenstore->loop, &xenstore->hangup);
    for (size_t i = 0; i < xenstore->watch_count; i++) {
        struct xenstore_watch *watch = xenstore->watches[i];
        if (watch && watch->armed) {
            watch->armed = false;
            xenstore->unarmed_count++;
        }
    }
    if (xenstore->on_lost)
        xenstore->on_lost(xenstore->lost_userdata);
    else
        ev_break(xenstore->loop, EVBREAK_ALL);
}

static void xenstore_on_readable(struct ev_loop *loop, ev_io *io, int revents)
{
    struct xenstore *xenstore = io->data;
    char **event;
    /* libxenstore queues events; drain them all before returning to the loop. */
    while ((event = xs_check_watch(xenstore->handle))) {
        xenstore_dispatch(xenstore, event);
        free(event);
    }
    if (errno != EAGAIN) {
        xenstore_fail(xenstore, strerror(errno));
        return;
    }
    if (xenstore->unarmed_count)
        xenstore_retry_watches(xenstore);
    if (xenstore->on_batch)
        xenstore->on_batch(xenstore->batch_userdata);
}

static void xenstore_on_hangup(struct ev_loop *loop, ev_io *io, int revents)
{
    xenstore_fail(io->data, "xenstored closed the connection");
}

/* The descriptors open now, as a bitmap of the first 1024. */
static void open_descriptors(unsigned char map[128])
{
    memset(map, 0, 128);
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        int fd = atoi(entry->d_name);
        /* The directory's own descriptor is not one of ours. */
        if (entry->d_name[0] != '.' && fd >= 0 && fd < 1024 && fd != dirfd(dir))
            map[fd / 8] |= (unsigned char)(1u << (fd % 8));
    }
    closedir(dir);
}

/* Finds the socket xs_open() just made (a descriptor that was not open
 * before) and watches it for hang-up only, so that an idle connection costs
 * no wakeup. A /dev/xen/xenbus connection has no socket and needs none. */
static void xenstore_watch_hangup(struct xenstore *xenstore, const unsigned char before[128])
{
    unsigned char after[128];
    open_descriptors(after);
    for (int fd = 0; fd < 1024; fd++) {
        struct stat st;
        if (!(after[fd / 8] & (1u << (fd % 8))) || (before[fd / 8] & (1u << (fd % 8)))
            || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
            continue;
        xenstore->socket_copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        xenstore->hangup_fd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event event = {.events = EPOLLRDHUP};
        if (xenstore->socket_copy < 0 || xenstore->hangup_fd < 0
            || epoll_ctl(xenstore->hangup_fd, EPOLL_CTL_ADD, xenstore->socket_copy, &event) < 0) {
            log_message(LOG_WARNING, "cannot watch the xenstore socket for hang-up: %s",
                        strerror(errno));
            return;
        }
        ev_io_init(&xenstore->hangup, xenstore_on_hangup, xenstore->hangup_fd, EV_READ);
        xenstore->hangup.data = xenstore;
        log_message(LOG_DEBUG, "watching xenstore socket (fd %d) for hang-up", fd);
        return;
    }
}

/* Connects and reads our domid; the connection is not started. */
static int connection_open(struct xenstore *xenstore, unsigned int *domid_out)
{
    int r;
    unsigned char before[128];
    open_descriptors(before);
    xenstore->handle = xs_open(0);
    if (!xenstore->handle) {
        r = errno ? -errno : -EIO;
        log_message(LOG_ERR, "cannot connect to xenstore: %s", strerror(-r));
        return r;
    }
    xenstore->failed = false;
    xenstore_watch_hangup(xenstore, before);
    char *domid = NULL;
    unsigned int length;
    r = xenstore_read(xenstore, "domid", &domid, &length);
    if (r < 0) {
        log_message(LOG_ERR, "cannot read my domid (\"domid\" in my xenstore home): %s",
                    strerror(-r));
        return r;
    }
    char *end;
    errno = 0;
    unsigned long value = strtoul(domid, &end, 10);
    if (!domid[0] || *end || errno || value >= 0x7FF0) {
        log_message(LOG_ERR, "my xenstore \"domid\" is not a domid: \"%.32s\"", domid);
        free(domid);
        return -EINVAL;
    }
    free(domid);
    *domid_out = (unsigned int)value;
    int fd = xs_fileno(xenstore->handle);
    if (fd < 0)
        return errno ? -errno : -EIO;
    ev_io_init(&xenstore->io, xenstore_on_readable, fd, EV_READ);
    xenstore->io.data = xenstore;
    return 0;
}

int xenstore_open(struct xenstore **out, struct ev_loop *loop)
{
    struct xenstore *xenstore = calloc(1, sizeof(*xenstore));
    if (!xenstore)
        return -ENOMEM;
    xenstore->loop = loop;
    xenstore->hangup_fd = xenstore->socket_copy = -1;
    int r = connection_open(xenstore, &xenstore->domid);
    if (r < 0) {
        xenstore_close(xenstore);
        return r;
    }
    *out = xenstore;
    return 0;
}

int xenstore_reconnect(struct xenstore *xenstore)
{
    if (xenstore->handle && !xenstore->failed)
        return 0;
    connection_close(xenstore);
    unsigned int domid;
    int r = connection_open(xenstore, &domid);
    if (r == 0 && domid != xenstore->domid) {
        log_message(LOG_ERR, "xenstore says I am domain %u now, not %u: not using it", domid,
                    xenstore->domid);
        r = -EINVAL;
    }
    if (r < 0) {
        connection_close(xenstore);
        return r;
    }
    /* New tokens: an event of the old connection never reaches anyone. */
    for (size_t i = 0; i < xenstore->watch_count; i++) {
        struct xenstore_watch *watch = xenstore->watches[i];
        if (!watch)
            continue;
        watch->serial = xenstore->next_serial++;
        r = watch_arm(xenstore, watch);
        if (r < 0 && !xenstore_error_is_room(r)) {
            log_message(LOG_ERR, "cannot watch %s again: %s", watch->path, strerror(-r));
            connection_close(xenstore);
            return r;
        }
    }
    if (xenstore->started)
        xenstore_start(xenstore);
    return 0;
}

void xenstore_close(struct xenstore *xenstore)
{
    if (!xenstore)
        return;
    connection_close(xenstore);
    for (size_t i = 0; i < xenstore->watch_count; i++)
        if (xenstore->watches[i]) {
            free(xenstore->watches[i]->path);
            free(xenstore->watches[i]);
        }
    free(xenstore->watches);
    free(xenstore);
}

unsigned int xenstore_domid(const struct xenstore *xenstore)
{
    return xenstore->domid;
}

bool xenstore_connected(const struct xenstore *xenstore)
{
    return xenstore->handle && !xenstore->failed;
}

int xenstore_watch_add(struct xenstore *xenstore, const char *path, xenstore_watch_fn fn,
                       void *userdata, bool keep_refused, struct xenstore_watch **out)
{
    size_t slot = 0;
    while (slot < xenstore->watch_count && xenstore->watches[slot])
        slot++;
    if (slot == xenstore->watch_count) {
        struct xenstore_watch **grown = realloc(xenstore->watches, (slot + 1) * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        xenstore->watches = grown;
        grown[slot] = NULL;
    }
    struct xenstore_watch *watch = calloc(1, sizeof(*watch));
    if (!watch || !(watch->path = strdup(path))) {
        free(watch);
        return -ENOMEM;
    }
    watch->fn = fn;
    watch->userdata = userdata;
    watch->slot = slot;
    watch->serial = xenstore->next_serial++;
    xenstore->watches[slot] = watch;
    if (slot == xenstore->watch_count)
        xenstore->watch_count++;
    xenstore->unarmed_count++;
    int r = watch_arm(xenstore, watch);
    bool kept = r == 0 || (keep_refused && (xenstore_error_is_room(r) || r == -ENOTCONN));
    if (!kept) {
        xenstore_watch_remove(xenstore, watch);
        return r;
    }
    *out = watch;
    return r;
}

void xenstore_watch_remove(struct xenstore *xenstore, struct xenstore_watch *watch)
{
    if (!watch)
        return;
    if (watch->armed && xenstore_connected(xenstore)) {
        char token[64];
        watch_token(watch, token, sizeof(token));
        if (!xs_unwatch(xenstore->handle, watch->path, token))
            log_message(LOG_WARNING, "cannot remove the watch on %s: %s", watch->path,
                        strerror(errno));
    }
    if (!watch->armed)
        xenstore->unarmed_count--;
    xenstore->watches[watch->slot] = NULL;
    free(watch->path);
    free(watch);
}

void xenstore_watch_retarget(struct xenstore_watch *watch, xenstore_watch_fn fn, void *userdata)
{
    watch->fn = fn;
    watch->userdata = userdata;
}

bool xenstore_watch_armed(const struct xenstore_watch *watch)
{
    return watch->armed;
}

void xenstore_discard_events(struct xenstore *xenstore)
{
    char **event;
    while (xenstore_connected(xenstore) && (event = xs_check_watch(xenstore->handle)))
        free(event);
}

void xenstore_set_lost_callback(struct xenstore *xenstore, xenstore_event_fn fn, void *userdata)
{
    xenstore->on_lost = fn;
    xenstore->lost_userdata = userdata;
}

void xenstore_set_batch_callback(struct xenstore *xenstore, xenstore_event_fn fn, void *userdata)
{
    xenstore->on_batch = fn;
    xenstore->batch_userdata = userdata;
}

bool xenstore_memory_short(const struct xenstore *xenstore)
{
    return xenstore->short_of_memory;
}

void xenstore_memory_recovered(struct xenstore *xenstore)
{
    xenstore->short_of_memory = false;
}

void xenstore_start(struct xenstore *xenstore)
{
    xenstore->started = true;
    if (!xenstore_connected(xenstore))
        return;
    ev_io_start(xenstore->loop, &xenstore->io);
    if (xenstore->hangup_fd >= 0)
        ev_io_start(xenstore->loop, &xenstore->hangup);
    /* Events may already be queued, and the pipe byte read: look once now. */
    ev_feed_event(xenstore->loop, &xenstore->io, EV_READ);
}

int xenstore_read(struct xenstore *xenstore, const char *path, char **value, unsigned int *length)
{
    *value = NULL;
    if (!xenstore_connected(xenstore))
        return -ENOTCONN;
    *value = xs_read(xenstore->handle, XBT_NULL, path, length);
    return *value ? 0 : xenstore_failure(xenstore);
}

int xenstore_write(struct xenstore *xenstore, const char *path, const char *value)
{
    if (!xenstore_connected(xenstore))
        return -ENOTCONN;
    return xs_write(xenstore->handle, XBT_NULL, path, value, (unsigned int)strlen(value))
               ? 0
               : xenstore_failure(xenstore);
}

int xenstore_mkdir(struct xenstore *xenstore, const char *path)
{
    if (!xenstore_connected(xenstore))
        return -ENOTCONN;
    return xs_mkdir(xenstore->handle, XBT_NULL, path) ? 0 : xenstore_failure(xenstore);
}

int xenstore_directory(struct xenstore *xenstore, const char *path, char ***children,
                       unsigned int *count)
{
    *children = NULL;
    if (!xenstore_connected(xenstore))
        return -ENOTCONN;
    *children = xs_directory(xenstore->handle, XBT_NULL, path, count);
    return *children ? 0 : xenstore_failure(xenstore);
}

int xenstore_get_permissions(struct xenstore *xenstore, const char *path,
                             struct xs_permissions **permissions, unsigned int *count)
{
    *permissions = NULL;
    if (!xenstore_connected(xenstore))
        return -ENOTCONN;
    *permissions = xs_get_permissions(xenstore->handle, XBT_NULL, path, count);
    return *permissions ? 0 : xenstore_failure(xenstore);
}

int xenstore_set_permissions(struct xenstore *xenstore, const char *path,
                             struct xs_permissions *permissions, unsigned int count)
{
    if (!xenstore_connected(xenstore))
        return -ENOTCONN;
    return xs_set_permissions(xenstore->handle, XBT_NULL, path, permissions, count)
               ? 0
               : xenstore_failure(xenstore);
}
