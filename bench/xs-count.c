// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LD_PRELOAD object for benchmarks: counts the libxenstore calls a process
 * makes (each one request and reply, i.e. one xenstore round trip) and the
 * watch events it takes, into a small shared file that the benchmark reads
 * whenever it likes ($XENREADY_BENCH_COUNTERS). Counting needs no change to
 * the daemon and no tracer: a relaxed atomic add per call.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenstore.h>

#include "xs-count.h"

static struct xs_counters *counters;

__attribute__((constructor)) static void counters_open(void)
{
    const char *path = getenv("XENREADY_BENCH_COUNTERS");
    if (!path)
        return;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    void *map = mmap(NULL, sizeof(*counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map != MAP_FAILED)
        counters = map;
    /* Not inherited by what this process executes. */
    unsetenv("XENREADY_BENCH_COUNTERS");
}

static void count(enum xs_counter which)
{
    if (counters)
        atomic_fetch_add_explicit(&counters->count[which], 1, memory_order_relaxed);
}

#define NEXT(name) static __typeof__(name) *next; if (!next) next = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *len)
{
    NEXT(xs_read);
    count(XS_COUNT_READ);
    return next(h, t, path, len);
}

bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path, const void *data,
              unsigned int len)
{
    NEXT(xs_write);
    count(XS_COUNT_WRITE);
    return next(h, t, path, data, len);
}

bool xs_mkdir(struct xs_handle *h, xs_transaction_t t, const char *path)
{
    NEXT(xs_mkdir);
    count(XS_COUNT_MKDIR);
    return next(h, t, path);
}

bool xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path)
{
    NEXT(xs_rm);
    count(XS_COUNT_RM);
    return next(h, t, path);
}

char **xs_directory(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *num)
{
    NEXT(xs_directory);
    count(XS_COUNT_DIRECTORY);
    return next(h, t, path, num);
}

struct xs_permissions *xs_get_permissions(struct xs_handle *h, xs_transaction_t t,
                                          const char *path, unsigned int *num)
{
    NEXT(xs_get_permissions);
    count(XS_COUNT_GET_PERMISSIONS);
    return next(h, t, path, num);
}

bool xs_set_permissions(struct xs_handle *h, xs_transaction_t t, const char *path,
                        struct xs_permissions *perms, unsigned int num)
{
    NEXT(xs_set_permissions);
    count(XS_COUNT_SET_PERMISSIONS);
    return next(h, t, path, perms, num);
}

bool xs_watch(struct xs_handle *h, const char *path, const char *token)
{
    NEXT(xs_watch);
    count(XS_COUNT_WATCH);
    return next(h, path, token);
}

bool xs_unwatch(struct xs_handle *h, const char *path, const char *token)
{
    NEXT(xs_unwatch);
    count(XS_COUNT_UNWATCH);
    return next(h, path, token);
}

xs_transaction_t xs_transaction_start(struct xs_handle *h)
{
    NEXT(xs_transaction_start);
    count(XS_COUNT_TRANSACTION);
    return next(h);
}

bool xs_transaction_end(struct xs_handle *h, xs_transaction_t t, bool abort)
{
    NEXT(xs_transaction_end);
    count(XS_COUNT_TRANSACTION);
    return next(h, t, abort);
}

char **xs_check_watch(struct xs_handle *h)
{
    NEXT(xs_check_watch);
    char **event = next(h);
    if (event)
        count(XS_COUNT_EVENT);
    return event;
}

char **xs_read_watch(struct xs_handle *h, unsigned int *num)
{
    NEXT(xs_read_watch);
    char **event = next(h, num);
    if (event)
        count(XS_COUNT_EVENT);
    return event;
}
