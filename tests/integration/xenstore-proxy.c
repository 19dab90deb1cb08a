// SPDX-License-Identifier: GPL-2.0-or-later
#include "xenstore-proxy.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>           /* before xs_wire.h: it defines what that uses */
#include <xen/io/xs_wire.h>

struct buffer {
    unsigned char *data;
    size_t length;
};

struct xenstore_proxy {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int listen_fd, client_fd, upstream_fd, wake_fd;
    char upstream_path[108];
    /* Under lock. */
    char *hold_path;             /* the write to hold next; NULL: none */
    bool holding;                /* client bytes are queued, not forwarded */
    bool release, stop;
    /* The proxy thread's own. */
    struct buffer from_client;   /* bytes not yet a whole message */
    struct buffer held;          /* messages held back, in order */
};

static int buffer_append(struct buffer *buffer, const void *data, size_t length)
{
    unsigned char *grown = realloc(buffer->data, buffer->length + length);
    if (!grown)
        return -ENOMEM;
    memcpy(grown + buffer->length, data, length);
    buffer->data = grown;
    buffer->length += length;
    return 0;
}

static void buffer_consume(struct buffer *buffer, size_t length)
{
    memmove(buffer->data, buffer->data + length, buffer->length - length);
    buffer->length -= length;
}

static int write_all(int fd, const void *data, size_t length)
{
    const unsigned char *p = data;
    while (length) {
        ssize_t n = write(fd, p, length);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -errno;
        p += n;
        length -= (size_t)n;
    }
    return 0;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Whether message (a whole one) is the write to hold; takes the rule. */
static bool proxy_should_hold(struct xenstore_proxy *proxy, const struct xsd_sockmsg *header,
                              const unsigned char *payload)
{
    if (header->type != XS_WRITE || !proxy->hold_path)
        return false;
    size_t length = strlen(proxy->hold_path);
    if (header->len <= length || memcmp(payload, proxy->hold_path, length) != 0
        || payload[length] != '\0')
        return false;
    free(proxy->hold_path);
    proxy->hold_path = NULL;
    return true;
}

/* Forwards the whole messages the client sent, or queues them while one is
 * held. */
static void proxy_from_client(struct xenstore_proxy *proxy)
{
    while (proxy->from_client.length >= sizeof(struct xsd_sockmsg)) {
        struct xsd_sockmsg header;
        memcpy(&header, proxy->from_client.data, sizeof(header));
        size_t size = sizeof(header) + header.len;
        if (proxy->from_client.length < size)
            return;
        pthread_mutex_lock(&proxy->lock);
        if (!proxy->holding
            && proxy_should_hold(proxy, &header, proxy->from_client.data + sizeof(header))) {
            proxy->holding = true;
            pthread_cond_broadcast(&proxy->changed);
        }
        bool holding = proxy->holding;
        pthread_mutex_unlock(&proxy->lock);
        if (holding)
            buffer_append(&proxy->held, proxy->from_client.data, size);
        else
            write_all(proxy->upstream_fd, proxy->from_client.data, size);
        buffer_consume(&proxy->from_client, size);
    }
}

static void proxy_close_client(struct xenstore_proxy *proxy)
{
    if (proxy->client_fd >= 0)
        close(proxy->client_fd);
    if (proxy->upstream_fd >= 0)
        close(proxy->upstream_fd);
    proxy->client_fd = proxy->upstream_fd = -1;
    proxy->from_client.length = proxy->held.length = 0;
}

static void *proxy_main(void *data)
{
    struct xenstore_proxy *proxy = data;
    unsigned char chunk[4096];
    for (;;) {
        struct pollfd fds[4] = {
            {.fd = proxy->wake_fd, .events = POLLIN},
            {.fd = proxy->listen_fd, .events = proxy->client_fd < 0 ? POLLIN : 0},
            {.fd = proxy->client_fd, .events = POLLIN},
            {.fd = proxy->upstream_fd, .events = POLLIN},
        };
        if (poll(fds, 4, -1) < 0 && errno != EINTR)
            break;
        if (fds[0].revents) {
            uint64_t count;
            if (read(proxy->wake_fd, &count, sizeof(count)) < 0)
                break;
            pthread_mutex_lock(&proxy->lock);
            bool stop = proxy->stop, release = proxy->release;
            proxy->release = false;
            if (release)
                proxy->holding = false;
            pthread_mutex_unlock(&proxy->lock);
            if (stop)
                break;
            if (release && proxy->upstream_fd >= 0) {
                write_all(proxy->upstream_fd, proxy->held.data, proxy->held.length);
                proxy->held.length = 0;
                proxy_from_client(proxy);
            }
        }
        if (fds[1].revents & POLLIN) {
            proxy->client_fd = accept4(proxy->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            proxy->upstream_fd = connect_unix(proxy->upstream_path);
            if (proxy->upstream_fd < 0)
                proxy_close_client(proxy);
        }
        if (fds[2].revents) {
            ssize_t n = read(proxy->client_fd, chunk, sizeof(chunk));
            if (n <= 0)
                proxy_close_client(proxy);
            else if (buffer_append(&proxy->from_client, chunk, (size_t)n) == 0)
                proxy_from_client(proxy);
        }
        if (fds[3].revents && proxy->upstream_fd >= 0) {
            ssize_t n = read(proxy->upstream_fd, chunk, sizeof(chunk));
            if (n <= 0 || write_all(proxy->client_fd, chunk, (size_t)n) < 0)
                proxy_close_client(proxy);
        }
    }
    proxy_close_client(proxy);
    return NULL;
}

int xenstore_proxy_start(struct xenstore_proxy **out, const char *listen_path,
                         const char *upstream_path)
{
    struct xenstore_proxy *proxy = calloc(1, sizeof(*proxy));
    if (!proxy)
        return -ENOMEM;
    *proxy = (struct xenstore_proxy){.client_fd = -1, .upstream_fd = -1};
    pthread_mutex_init(&proxy->lock, NULL);
    pthread_cond_init(&proxy->changed, NULL);
    snprintf(proxy->upstream_path, sizeof(proxy->upstream_path), "%s", upstream_path);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", listen_path);
    proxy->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    proxy->wake_fd = eventfd(0, EFD_CLOEXEC);
    int r = 0;
    if (proxy->listen_fd < 0 || proxy->wake_fd < 0
        || bind(proxy->listen_fd, (struct sockaddr *)&address, sizeof(address)) < 0
        || listen(proxy->listen_fd, 4) < 0)
        r = -errno;
    else
        r = -pthread_create(&proxy->thread, NULL, proxy_main, proxy);
    if (r < 0) {
        if (proxy->listen_fd >= 0)
            close(proxy->listen_fd);
        if (proxy->wake_fd >= 0)
            close(proxy->wake_fd);
        free(proxy);
        return r;
    }
    *out = proxy;
    return 0;
}

static void proxy_wake(struct xenstore_proxy *proxy)
{
    uint64_t one = 1;
    if (write(proxy->wake_fd, &one, sizeof(one)) < 0)
        abort();   /* an eventfd write fails only on overflow */
}

void xenstore_proxy_stop(struct xenstore_proxy *proxy)
{
    if (!proxy)
        return;
    pthread_mutex_lock(&proxy->lock);
    proxy->stop = true;
    pthread_mutex_unlock(&proxy->lock);
    proxy_wake(proxy);
    pthread_join(proxy->thread, NULL);
    close(proxy->listen_fd);
    close(proxy->wake_fd);
    free(proxy->hold_path);
    free(proxy->from_client.data);
    free(proxy->held.data);
    pthread_mutex_destroy(&proxy->lock);
    pthread_cond_destroy(&proxy->changed);
    free(proxy);
}

void xenstore_proxy_hold_write(struct xenstore_proxy *proxy, const char *path)
{
    pthread_mutex_lock(&proxy->lock);
    free(proxy->hold_path);
    proxy->hold_path = strdup(path);
    pthread_mutex_unlock(&proxy->lock);
}

int xenstore_proxy_wait_held(struct xenstore_proxy *proxy, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    int r = 0;
    pthread_mutex_lock(&proxy->lock);
    while (!proxy->holding && r == 0)
        r = pthread_cond_timedwait(&proxy->changed, &proxy->lock, &deadline);
    bool holding = proxy->holding;
    pthread_mutex_unlock(&proxy->lock);
    return holding ? 0 : -ETIMEDOUT;
}

void xenstore_proxy_release(struct xenstore_proxy *proxy)
{
    pthread_mutex_lock(&proxy->lock);
    proxy->release = true;
    pthread_mutex_unlock(&proxy->lock);
    proxy_wake(proxy);
}
