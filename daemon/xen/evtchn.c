// SPDX-License-Identifier: GPL-2.0-or-later
#include "evtchn.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
/* xenevtchn.h brings domid_t, which xen/sys/evtchn.h needs. */
#include <xenevtchn.h>
#include <xen/sys/evtchn.h>

/* Linux 6.5 include/uapi/xen/evtchn.h; Debian 12's headers predate it and
 * libxenevtchn has no wrapper, so the ioctl is issued on xenevtchn_fd(). */
#ifndef IOCTL_EVTCHN_BIND_STATIC
struct ioctl_evtchn_bind {
    unsigned int port;
};
#define IOCTL_EVTCHN_BIND_STATIC _IOC(_IOC_NONE, 'E', 7, sizeof(struct ioctl_evtchn_bind))
#endif

struct evtchn {
    xenevtchn_handle *handle;
};

int evtchn_open(struct evtchn **out)
{
    struct evtchn *evtchn = calloc(1, sizeof(*evtchn));
    if (!evtchn)
        return -ENOMEM;
    evtchn->handle = xenevtchn_open(NULL, 0);
    if (!evtchn->handle) {
        int r = errno ? -errno : -ENODEV;
        free(evtchn);
        return r;
    }
    *out = evtchn;
    return 0;
}

void evtchn_close(struct evtchn *evtchn)
{
    if (!evtchn)
        return;
    xenevtchn_close(evtchn->handle);
    free(evtchn);
}

int evtchn_fd(const struct evtchn *evtchn)
{
    return xenevtchn_fd(evtchn->handle);
}

int evtchn_bind_unbound_port(struct evtchn *evtchn, unsigned int remote_domid)
{
    xenevtchn_port_or_error_t port = xenevtchn_bind_unbound_port(evtchn->handle, remote_domid);
    return port < 0 ? -errno : port;
}

int evtchn_bind_static(struct evtchn *evtchn, unsigned int port)
{
    struct ioctl_evtchn_bind bind = {.port = port};
    return ioctl(xenevtchn_fd(evtchn->handle), IOCTL_EVTCHN_BIND_STATIC, &bind) < 0 ? -errno : 0;
}

int evtchn_notify(struct evtchn *evtchn, unsigned int port)
{
    return xenevtchn_notify(evtchn->handle, port) < 0 ? -errno : 0;
}

int evtchn_unbind(struct evtchn *evtchn, unsigned int port)
{
    return xenevtchn_unbind(evtchn->handle, port) < 0 ? -errno : 0;
}

int evtchn_pending(struct evtchn *evtchn)
{
    xenevtchn_port_or_error_t port = xenevtchn_pending(evtchn->handle);
    return port < 0 ? -errno : port;
}

int evtchn_unmask(struct evtchn *evtchn, unsigned int port)
{
    return xenevtchn_unmask(evtchn->handle, port) < 0 ? -errno : 0;
}
