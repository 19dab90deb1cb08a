// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A stand-in for libxenevtchn (and for IOCTL_EVTCHN_BIND_STATIC on its fd),
 * loaded with LD_PRELOAD into xenreadyd, xenready-wait and the conformance
 * frontend, so that the real programs run unchanged without a hypervisor.
 *
 *   XENREADY_FAKE_EVTCHN_DIR    the shared "hypervisor" state (a directory)
 *   XENREADY_FAKE_EVTCHN_DOMID  the domain this process is in
 *
 * Every bound port is a file DIR/port-<domid>-<port> holding
 * "<kind> <remote-domid> <remote-port> <socket>" (kind: unbound, interdomain,
 * static), written atomically with rename(). Each handle is a datagram
 * socket; an event is a datagram carrying the receiver's local port. Static
 * channels are provisioned by the test, as the host device tree would, with
 * DIR/static-<domid>-<port> holding "<remote-domid> <remote-port>".
 *
 * Xen behaviour reproduced (xen/common/event_channel.c): ports are the lowest
 * free ones, so a restarted daemon may get the same number again; binding an
 * interdomain channel raises an event on the binder's new port; a notification
 * on an unbound port is dropped; closing one end of an interdomain channel
 * makes the other end unbound again (for the same remote domain); a static
 * channel's pending event waits until the receiver binds.
 *
 * Masking is as strict as the Linux evtchn driver's (drivers/xen/evtchn.c):
 * evtchn_interrupt() disables the port's irq when it queues an event for
 * userspace, and the port is only enabled again when the program writes it
 * back (xenevtchn_unmask()). Here a port is masked, per handle, when
 * xenevtchn_pending() returns it; a notification arriving while it is masked
 * is held as pending (xenevtchn_pending() then fails with EAGAIN), and
 * xenevtchn_unmask() delivers one held event again. A program that forgets
 * to unmask therefore misses every later event, as it would under Xen. A port
 * starts unmasked when bound.
 *
 * Every operation appends a line to DIR/log ("<domid> notify <port> delivered",
 * "<domid> masked <port> pending", "<domid> unmask <port>" and so on) for
 * tests to count.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
/* xenevtchn.h brings domid_t, which xen/sys/evtchn.h needs. */
#include <xenevtchn.h>
#include <xen/sys/evtchn.h>

#ifndef IOCTL_EVTCHN_BIND_STATIC
struct ioctl_evtchn_bind {
    unsigned int port;
};
#define IOCTL_EVTCHN_BIND_STATIC _IOC(_IOC_NONE, 'E', 7, sizeof(struct ioctl_evtchn_bind))
#endif

#define FAKE_PORT_MAX 4096   /* 2-level event channel ABI, 64-bit guests */

struct xenevtchn_handle {
    int fd;
    struct sockaddr_un address;
    unsigned int ports[FAKE_PORT_MAX];
    size_t port_count;
    /* By local port: delivered to the program and not unmasked yet, and an
     * event held back meanwhile (at most one, as Xen's pending bit). */
    bool masked[FAKE_PORT_MAX];
    bool held[FAKE_PORT_MAX];
    struct xenevtchn_handle *next;
};

struct record {
    char kind[16];
    unsigned int remote_domid, remote_port;
    char socket[108];
};

static struct xenevtchn_handle *handles;

static const char *fake_dir(void)
{
    return getenv("XENREADY_FAKE_EVTCHN_DIR");
}

static unsigned int fake_domid(void)
{
    const char *text = getenv("XENREADY_FAKE_EVTCHN_DOMID");
    return text ? (unsigned int)strtoul(text, NULL, 10) : 0;
}

__attribute__((format(printf, 1, 2)))
static void fake_log(const char *format, ...)
{
    char path[4096], line[512];
    snprintf(path, sizeof(path), "%s/log", fake_dir());
    va_list args;
    va_start(args, format);
    int length = vsnprintf(line, sizeof(line) - 1, format, args);
    va_end(args);
    if (length < 0 || length >= (int)sizeof(line) - 1)
        return;
    line[length++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    /* One write with O_APPEND: lines of concurrent processes do not mix. */
    if (write(fd, line, (size_t)length) < 0) {
    }
    close(fd);
}

static void port_path(char *out, size_t size, const char *what, unsigned int domid,
                      unsigned int port)
{
    snprintf(out, size, "%s/%s-%u-%u", fake_dir(), what, domid, port);
}

static int record_read(const char *what, unsigned int domid, unsigned int port,
                       struct record *out)
{
    char path[4096];
    port_path(path, sizeof(path), what, domid, port);
    FILE *file = fopen(path, "re");
    if (!file)
        return -1;
    *out = (struct record){0};
    int n = fscanf(file, "%15s %u %u %107s", out->kind, &out->remote_domid, &out->remote_port,
                   out->socket);
    fclose(file);
    if (n < 3)
        return -1;
    return 0;
}

static int record_write(unsigned int domid, unsigned int port, const struct record *record)
{
    char path[4096], temporary[4200];
    port_path(path, sizeof(path), "port", domid, port);
    snprintf(temporary, sizeof(temporary), "%s.%d", path, (int)getpid());
    FILE *file = fopen(temporary, "we");
    if (!file)
        return -1;
    fprintf(file, "%s %u %u %s\n", record->kind, record->remote_domid, record->remote_port,
            record->socket[0] ? record->socket : "-");
    fclose(file);
    return rename(temporary, path);
}

/* The lowest free port, reserved by creating its file. */
static int port_allocate(unsigned int domid)
{
    for (unsigned int port = 1; port < FAKE_PORT_MAX; port++) {
        char path[4096];
        port_path(path, sizeof(path), "port", domid, port);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            close(fd);
            return (int)port;
        }
        if (errno != EEXIST)
            return -1;
    }
    errno = ENOSPC;
    return -1;
}

/* A port's mask state is that of its binding: a new one starts unmasked,
 * and nothing held for an old one survives it. */
static void port_reset(xenevtchn_handle *handle, unsigned int port)
{
    if (port < FAKE_PORT_MAX)
        handle->masked[port] = handle->held[port] = false;
}

static void handle_track(xenevtchn_handle *handle, unsigned int port)
{
    port_reset(handle, port);
    if (handle->port_count < FAKE_PORT_MAX)
        handle->ports[handle->port_count++] = port;
}

static void handle_untrack(xenevtchn_handle *handle, unsigned int port)
{
    port_reset(handle, port);
    for (size_t i = 0; i < handle->port_count; i++)
        if (handle->ports[i] == port) {
            handle->ports[i] = handle->ports[--handle->port_count];
            return;
        }
}

static int deliver(const char *socket_path, unsigned int port)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket_path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    uint32_t value = port;
    ssize_t n = sendto(fd, &value, sizeof(value), 0, (struct sockaddr *)&address,
                       sizeof(address));
    close(fd);
    return n == sizeof(value) ? 0 : -1;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
    static unsigned int sequence;
    if (!fake_dir()) {
        errno = ENOENT;   /* as without /dev/xen/evtchn */
        return NULL;
    }
    xenevtchn_handle *handle = calloc(1, sizeof(*handle));
    if (!handle)
        return NULL;
    handle->address.sun_family = AF_UNIX;
    snprintf(handle->address.sun_path, sizeof(handle->address.sun_path), "%s/h-%u-%d-%u",
             fake_dir(), fake_domid(), (int)getpid(), sequence++);
    handle->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    unlink(handle->address.sun_path);
    if (handle->fd < 0
        || bind(handle->fd, (struct sockaddr *)&handle->address, sizeof(handle->address)) < 0) {
        int saved = errno;
        if (handle->fd >= 0)
            close(handle->fd);
        free(handle);
        errno = saved;
        return NULL;
    }
    handle->next = handles;
    handles = handle;
    return handle;
}

int xenevtchn_close(xenevtchn_handle *handle)
{
    if (!handle)
        return 0;
    while (handle->port_count)
        xenevtchn_unbind(handle, handle->ports[handle->port_count - 1]);
    for (xenevtchn_handle **link = &handles; *link; link = &(*link)->next)
        if (*link == handle) {
            *link = handle->next;
            break;
        }
    close(handle->fd);
    unlink(handle->address.sun_path);
    free(handle);
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *handle)
{
    return handle->fd;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *handle, uint32_t domid)
{
    int port = port_allocate(fake_domid());
    if (port < 0)
        return -1;
    struct record record = {.kind = "unbound", .remote_domid = domid};
    snprintf(record.socket, sizeof(record.socket), "%s", handle->address.sun_path);
    record_write(fake_domid(), (unsigned int)port, &record);
    handle_track(handle, (unsigned int)port);
    fake_log("%u bind-unbound %d %u", fake_domid(), port, domid);
    return port;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *handle, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    unsigned int self = fake_domid();
    struct record remote;
    if (record_read("port", domid, remote_port, &remote) < 0
        || strcmp(remote.kind, "unbound") != 0 || remote.remote_domid != self) {
        fake_log("%u bind-interdomain %u:%u refused", self, domid, remote_port);
        errno = EINVAL;
        return -1;
    }
    int port = port_allocate(self);
    if (port < 0)
        return -1;
    struct record mine = {.kind = "interdomain", .remote_domid = domid, .remote_port = remote_port};
    snprintf(mine.socket, sizeof(mine.socket), "%s", handle->address.sun_path);
    record_write(self, (unsigned int)port, &mine);
    snprintf(remote.kind, sizeof(remote.kind), "interdomain");
    remote.remote_domid = self;
    remote.remote_port = (unsigned int)port;
    record_write(domid, remote_port, &remote);
    handle_track(handle, (unsigned int)port);
    fake_log("%u bind-interdomain %d %u:%u", self, port, domid, remote_port);
    /* Xen raises an event on the new local port: notifications sent while
     * the remote end was unbound are lost, so the binder must look. */
    deliver(handle->address.sun_path, (unsigned int)port);
    return port;
}

static int fake_bind_static(xenevtchn_handle *handle, unsigned int port)
{
    unsigned int self = fake_domid();
    struct record provisioned, existing;
    char path[4096];
    port_path(path, sizeof(path), "static", self, port);
    FILE *file = fopen(path, "re");
    if (!file || fscanf(file, "%u %u", &provisioned.remote_domid, &provisioned.remote_port) != 2) {
        if (file)
            fclose(file);
        fake_log("%u bind-static %u refused", self, port);
        errno = EINVAL;
        return -1;
    }
    fclose(file);
    if (port >= FAKE_PORT_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (record_read("port", self, port, &existing) == 0) {
        errno = EBUSY;
        return -1;
    }
    snprintf(provisioned.kind, sizeof(provisioned.kind), "static");
    snprintf(provisioned.socket, sizeof(provisioned.socket), "%s", handle->address.sun_path);
    record_write(self, port, &provisioned);
    handle_track(handle, port);
    fake_log("%u bind-static %u %u:%u", self, port, provisioned.remote_domid,
             provisioned.remote_port);
    port_path(path, sizeof(path), "pending", self, port);
    if (unlink(path) == 0)
        deliver(handle->address.sun_path, port);
    return 0;
}

int xenevtchn_notify(xenevtchn_handle *handle, evtchn_port_t port)
{
    unsigned int self = fake_domid();
    struct record mine, peer;
    if (record_read("port", self, port, &mine) < 0) {
        errno = EINVAL;
        return -1;
    }
    const char *outcome = "dropped";
    if (strcmp(mine.kind, "unbound") != 0) {
        if (record_read("port", mine.remote_domid, mine.remote_port, &peer) == 0
            && deliver(peer.socket, mine.remote_port) == 0) {
            outcome = "delivered";
        } else if (strcmp(mine.kind, "static") == 0) {
            /* The receiver has not bound yet: the event stays pending. */
            char path[4096];
            port_path(path, sizeof(path), "pending", mine.remote_domid, mine.remote_port);
            int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd >= 0)
                close(fd);
            outcome = "pending";
        }
    }
    fake_log("%u notify %u %s", self, port, outcome);
    return 0;
}

int xenevtchn_unbind(xenevtchn_handle *handle, evtchn_port_t port)
{
    unsigned int self = fake_domid();
    struct record mine, peer;
    if (record_read("port", self, port, &mine) < 0) {
        errno = EINVAL;
        return -1;
    }
    if (strcmp(mine.kind, "interdomain") == 0
        && record_read("port", mine.remote_domid, mine.remote_port, &peer) == 0) {
        snprintf(peer.kind, sizeof(peer.kind), "unbound");
        peer.remote_domid = self;
        peer.remote_port = 0;
        record_write(mine.remote_domid, mine.remote_port, &peer);
    }
    char path[4096];
    port_path(path, sizeof(path), "port", self, port);
    unlink(path);
    handle_untrack(handle, port);
    fake_log("%u unbind %u", self, port);
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *handle)
{
    uint32_t port;
    ssize_t n = recv(handle->fd, &port, sizeof(port), 0);
    if (n != sizeof(port)) {
        if (n >= 0)
            errno = EIO;
        return -1;
    }
    if (port < FAKE_PORT_MAX) {
        if (handle->masked[port]) {
            /* Linux would not have queued it: the fd was readable only
             * because of this datagram, and the event waits for the unmask. */
            handle->held[port] = true;
            fake_log("%u masked %u pending", fake_domid(), port);
            errno = EAGAIN;
            return -1;
        }
        handle->masked[port] = true;
    }
    return (xenevtchn_port_or_error_t)port;
}

int xenevtchn_unmask(xenevtchn_handle *handle, evtchn_port_t port)
{
    bool held = port < FAKE_PORT_MAX && handle->held[port];
    if (port < FAKE_PORT_MAX)
        handle->masked[port] = handle->held[port] = false;
    /* Logged first: a test that saw the waiter react can count the line. */
    fake_log("%u unmask %u%s", fake_domid(), port, held ? " redelivered" : "");
    /* Xen raises an event that became pending while masked on the unmask. */
    if (held)
        deliver(handle->address.sun_path, port);
    return 0;
}

/* IOCTL_EVTCHN_BIND_STATIC on a fake handle's fd; everything else goes on. */
int ioctl(int fd, unsigned long request, ...)
{
    va_list args;
    va_start(args, request);
    void *argument = va_arg(args, void *);
    va_end(args);
    if (request == (unsigned long)IOCTL_EVTCHN_BIND_STATIC)
        for (xenevtchn_handle *handle = handles; handle; handle = handle->next)
            if (handle->fd == fd)
                return fake_bind_static(handle, ((struct ioctl_evtchn_bind *)argument)->port);
    static int (*next)(int, unsigned long, ...);
    if (!next)
        next = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    return next(fd, request, argument);
}
