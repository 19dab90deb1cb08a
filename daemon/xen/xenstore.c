// SPDX-License-Identifier: GPL-2.0-or-later
#include "xenstore.h"

#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <stdint.h>
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

/*
 * A batch is what one call of the io callback takes from libxenstore's queue.
 * Its reader thread queues every event xenstored sends, without bound, and
 * a writer can make them faster than they can be handled one by one: a
 * handler re-reads what it cares about, a round trip each. So a batch is
 * coalesced, each (registration, path) dispatched once in the order of its
 * first event, since a callback re-reads anyway; and it is bounded, so that
 * the loop returns to the other watchers in between. What stays queued
 * keeps libxenstore's pipe readable (it holds a byte while the queue is not
 * empty), so the next loop iteration takes the next batch; nothing is fed.
 *
 * BATCH_EVENTS_MAX bounds the events taken. Taking one is a lock, a copy and
 * a free in libxenstore (0.07 microseconds measured) and a hash look-up
 * here, so 1024 take about 0.1 ms, and the queue empties far faster than
 * xenstored fills it (tens of microseconds per write): under a storm a
 * batch takes what came since the last one, and a key rewritten all along
 * costs one read per batch instead of one per write. BATCH_ENTRIES_MAX
 * bounds the dispatches, which cost round trips (a read, 0.1 ms; a signal,
 * three): 256 distinct events (a burst of backends coming up) keep the
 * event channels, the control socket, inotify and pidfds waiting 25-30 ms
 * at worst. Fewer would cost more than they save: each batch is a loop
 * iteration, and the daemon's work per iteration grows with its bridges;
 * with 64, a burst at 1,000 bridges took a quarter more CPU and its last
 * signal came up to 0.2 s later, while with 256 it was as with no bound.
 * Draining stops when the entries are full, as the next event may need one.
 *
 * The owners that count the echoes of their own changes (the xenstore
 * signaller takes an event first in line as the echo of its write, without
 * a read) need one event per change: two echoes merged would leave one
 * expected for good, and a later change by someone else would pass for it.
 * So each change made through this object (xenstore_write(), _mkdir(),
 * _set_permissions()) counts one echo to come for its path, and an event
 * that may be one is dispatched on its own, never merged. When an echo
 * arrives is not known (through /dev/xen/xenbus, Linux queues events and
 * answers from different threads), so a count goes only when its echoes
 * do. One that never comes (mkdir of a node that exists, a key nobody
 * watches, an event xenstored dropped) lets a later event of that path go
 * unmerged: harmless, as a hash collision is, and bounded by the counts'
 * cap. The counts are kept by path hash in a table that grows with the
 * echoes to come (thousands at start-up, a few a batch later) and shrinks
 * back: bounded by the paths the daemon writes, not by anyone's events.
 */
enum {
    BATCH_EVENTS_MAX = 1024,
    BATCH_ENTRIES_MAX = 256,
    BATCH_INDEX_SIZE = 2 * BATCH_ENTRIES_MAX,   /* open addressing: never full */
    OWN_CHANGES_MIN = 64,          /* the table's smallest size */
    OWN_CHANGE_COUNT_MAX = 64,     /* echoes to come per path */
};

struct batch_entry {
    char **event;              /* libxenstore's, freed once dispatched */
    size_t slot;               /* the registration it was for */
    unsigned long serial;
};

/* A path changed through this object, with echoes to come. */
struct own_change {
    uint32_t hash;             /* path_hash() of the path, never 0 */
    uint32_t count;            /* its echoes to come */
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
    struct batch_entry batch[BATCH_ENTRIES_MAX];
    size_t batch_count;
    short batch_index[BATCH_INDEX_SIZE];   /* entries that merge duplicates; -1: none */
    struct own_change *own_changes;        /* open addressing; hash 0: a free slot */
    size_t own_change_size;                /* slots: 0, or a power of two */
    size_t own_change_used;                /* slots taken, with a count or not */
    size_t own_change_live;                /* slots with a count */
};

static const char token_prefix[] = "xenready:";

static void watch_token(const struct xenstore_watch *watch, char *token, size_t size)
{
    snprintf(token, size, "%s%zu.%lu", token_prefix, watch->slot, watch->serial);
}

/* The registration a token names, if it still exists. */
static struct xenstore_watch *token_watch(const struct xenstore *xenstore, const char *token)
{
    if (strncmp(token, token_prefix, sizeof(token_prefix) - 1) != 0)
        return NULL;
    char *end;
    unsigned long slot = strtoul(token + sizeof(token_prefix) - 1, &end, 10);
    if (*end != '.' || slot >= xenstore->watch_count)
        return NULL;
    unsigned long serial = strtoul(end + 1, &end, 10);
    struct xenstore_watch *watch = xenstore->watches[slot];
    if (*end || !watch || watch->serial != serial)
        return NULL;
    return watch;
}

static uint64_t hash_text(uint64_t hash, const char *text)
{
    for (; *text; text++)
        hash = (hash ^ (unsigned char)*text) * 1099511628211u;   /* FNV-1a */
    return hash;
}

/* The same for a path and its absolute form (a relative one is in our
 * home); never 0, which marks a free slot. */
static uint32_t path_hash(const struct xenstore *xenstore, const char *path)
{
    uint64_t hash = 14695981039346656037u;
    if (path[0] != '/' && path[0] != '@') {
        char home[32];
        snprintf(home, sizeof(home), "/local/domain/%u/", xenstore->domid);
        hash = hash_text(hash, home);
    }
    hash = hash_text(hash, path);
    uint32_t folded = (uint32_t)(hash ^ (hash >> 32));
    return folded ? folded : 1;
}

/* The slot of hash: its own, or the free one where it would go. */
static struct own_change *own_change_slot(const struct xenstore *xenstore, uint32_t hash)
{
    size_t mask = xenstore->own_change_size - 1, i = hash & mask;
    while (xenstore->own_changes[i].hash && xenstore->own_changes[i].hash != hash)
        i = (i + 1) & mask;
    return &xenstore->own_changes[i];
}

/* Makes the table anew with the slots that have a count, in a size that
 * keeps it at most two thirds full (0 when none has); false without memory,
 * the table unchanged. Linear probing stays short up to three quarters. */
static bool own_changes_rebuild(struct xenstore *xenstore)
{
    size_t size = 0;
    if (xenstore->own_change_live)
        for (size = OWN_CHANGES_MIN; 2 * size < 3 * xenstore->own_change_live; size *= 2)
            ;
    struct own_change *old = xenstore->own_changes, *table = NULL;
    if (size && !(table = calloc(size, sizeof(*table))))
        return false;
    size_t old_size = xenstore->own_change_size;
    xenstore->own_changes = table;
    xenstore->own_change_size = size;
    for (size_t i = 0; i < old_size; i++)
        if (old[i].count)
            *own_change_slot(xenstore, old[i].hash) = old[i];
    free(old);
    xenstore->own_change_used = xenstore->own_change_live;
    return true;
}

/* A change of ours to path went through: its echo is to come. Without
 * memory for it, the echo may be merged with an event of the same path. */
static void own_change_note(struct xenstore *xenstore, const char *path)
{
    if (4 * (xenstore->own_change_used + 1) > 3 * xenstore->own_change_size) {
        xenstore->own_change_live++;   /* room for the one to come */
        bool rebuilt = own_changes_rebuild(xenstore);
        xenstore->own_change_live--;
        if (!rebuilt)
            return;
    }
    uint32_t hash = path_hash(xenstore, path);
    struct own_change *change = own_change_slot(xenstore, hash);
    if (!change->hash) {
        change->hash = hash;
        xenstore->own_change_used++;
    }
    if (!change->count)
        xenstore->own_change_live++;
    if (change->count < OWN_CHANGE_COUNT_MAX)
        change->count++;
}

/* Whether an event on path may be the echo of a change of ours (taking it). */
static bool own_change_take(struct xenstore *xenstore, const char *path)
{
    if (!xenstore->own_change_live)
        return false;
    struct own_change *change = own_change_slot(xenstore, path_hash(xenstore, path));
    if (!change->count)
        return false;
    if (!--change->count)
        xenstore->own_change_live--;
    return true;
}

/* After a batch: the table shrinks once most of its counts are gone (after
 * start-up), dropping the slots left without one. */
static void own_changes_trim(struct xenstore *xenstore)
{
    if (xenstore->own_change_size > OWN_CHANGES_MIN
        && 8 * xenstore->own_change_live < xenstore->own_change_size)
        own_changes_rebuild(xenstore);
}

/* No echo will come any more: the events queued were dropped, or the
 * connection is a new one. */
static void own_changes_forget(struct xenstore *xenstore)
{
    free(xenstore->own_changes);
    xenstore->own_changes = NULL;
    xenstore->own_change_size = xenstore->own_change_used = xenstore->own_change_live = 0;
}

/* Adds an event to the batch (taking it), unless an entry of the same
 * registration and path is there already. */
static void batch_add(struct xenstore *xenstore, char **event)
{
    struct xenstore_watch *watch = token_watch(xenstore, event[XS_WATCH_TOKEN]);
    if (!watch) {
        free(event);   /* not ours, or for a registration removed since */
        return;
    }
    const char *path = event[XS_WATCH_PATH];
    struct batch_entry entry = {.event = event, .slot = watch->slot, .serial = watch->serial};
    if (own_change_take(xenstore, path)) {
        xenstore->batch[xenstore->batch_count++] = entry;
        return;
    }
    uint64_t hash = hash_text(path_hash(xenstore, path), event[XS_WATCH_TOKEN]);
    size_t i = (size_t)(hash % BATCH_INDEX_SIZE);
    for (; xenstore->batch_index[i] >= 0; i = (i + 1) % BATCH_INDEX_SIZE) {
        const struct batch_entry *other = &xenstore->batch[xenstore->batch_index[i]];
        if (other->slot == entry.slot && other->serial == entry.serial
            && strcmp(other->event[XS_WATCH_PATH], path) == 0) {
            free(event);
            return;
        }
    }
    xenstore->batch_index[i] = (short)xenstore->batch_count;
    xenstore->batch[xenstore->batch_count++] = entry;
}

/* Takes a batch from libxenstore's queue; 0, or the errno that says the
 * connection is gone. */
static int batch_take(struct xenstore *xenstore)
{
    xenstore->batch_count = 0;
    for (size_t i = 0; i < BATCH_INDEX_SIZE; i++)
        xenstore->batch_index[i] = -1;
    for (size_t taken = 0;
         taken < BATCH_EVENTS_MAX && xenstore->batch_count < BATCH_ENTRIES_MAX; taken++) {
        char **event = xs_check_watch(xenstore->handle);
        if (!event)
            return errno == EAGAIN ? 0 : errno ? errno : EIO;
        batch_add(xenstore, event);
    }
    return 0;
}

/* Dispatches the batch. A callback may remove registrations, or add them in
 * the slots freed: an entry whose registration is gone is dropped. */
static void batch_dispatch(struct xenstore *xenstore)
{
    for (size_t i = 0; i < xenstore->batch_count; i++) {
        struct batch_entry *entry = &xenstore->batch[i];
        struct xenstore_watch *watch = entry->slot < xenstore->watch_count
                                           ? xenstore->watches[entry->slot]
                                           : NULL;
        if (watch && watch->serial == entry->serial)
            watch->fn(entry->event[XS_WATCH_PATH], watch->userdata);
        free(entry->event);
        entry->event = NULL;
    }
    xenstore->batch_count = 0;
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
    int error = batch_take(xenstore);
    own_changes_trim(xenstore);
    batch_dispatch(xenstore);
    if (error) {
        xenstore_fail(xenstore, strerror(error));
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
        /* The callers say what it means (waiting at start, reconnecting). */
        log_message(LOG_DEBUG, "cannot connect to xenstore: %s", strerror(-r));
        return r;
    }
    xenstore->failed = false;
    xenstore_watch_hangup(xenstore, before);
    char *domid = NULL;
    unsigned int length;
    r = xenstore_read(xenstore, "domid", &domid, &length);
    if (r < 0) {
        log_message(LOG_DEBUG, "cannot read my domid (\"domid\" in my xenstore home): %s",
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
    /* The default priority, stated: above the control clients (EV_MINPRI),
     * which must not delay a signal, and level with the other sources (event
     * channels, inotify, pidfds). A batch is bounded, so xenstore cannot
     * starve those; priority over them would let a storm of writes do so. */
    ev_set_priority(&xenstore->io, 0);
    xenstore->io.data = xenstore;
    /* A new connection: no echo of the old one will come. */
    own_changes_forget(xenstore);
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
    free(xenstore->own_changes);
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
    /* The echoes of our changes so far were among them. */
    own_changes_forget(xenstore);
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
    if (!xs_write(xenstore->handle, XBT_NULL, path, value, (unsigned int)strlen(value)))
        return xenstore_failure(xenstore);
    own_change_note(xenstore, path);
    return 0;
}

int xenstore_mkdir(struct xenstore *xenstore, const char *path)
{
    if (!xenstore_connected(xenstore))
        return -ENOTCONN;
    if (!xs_mkdir(xenstore->handle, XBT_NULL, path))
        return xenstore_failure(xenstore);
    own_change_note(xenstore, path);
    return 0;
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
    if (!xs_set_permissions(xenstore->handle, XBT_NULL, path, permissions, count))
        return xenstore_failure(xenstore);
    own_change_note(xenstore, path);
    return 0;
}
