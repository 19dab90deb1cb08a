// SPDX-License-Identifier: GPL-2.0-or-later
#include "domain-control.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>

#include "util/log.h"

struct domain_control {
    struct xentoollog_logger logger;     /* first: libxenctrl hands it back */
    xc_interface *xc;
};

/* libxenctrl's messages go to our log, at debug level: its failures come
 * back as return values, which the callers say in their own words. */
static void logger_message(struct xentoollog_logger *logger, xentoollog_level level,
                           int errnoval, const char *context, const char *format, va_list al)
    __attribute__((format(printf, 5, 0)));

static void logger_message(struct xentoollog_logger *logger, xentoollog_level level,
                           int errnoval, const char *context, const char *format, va_list al)
{
    char text[512];
    vsnprintf(text, sizeof(text), format, al);
    log_message(LOG_DEBUG, "libxenctrl: %s%s%s", context ? context : "", context ? ": " : "",
                text);
}

static void logger_destroy(struct xentoollog_logger *logger)
{
}

int domain_control_open(struct domain_control **out)
{
    struct domain_control *control = calloc(1, sizeof(*control));
    if (!control)
        return -ENOMEM;
    control->logger.vmessage = logger_message;
    control->logger.destroy = logger_destroy;
    control->xc = xc_interface_open(&control->logger, &control->logger, 0);
    if (!control->xc) {
        int r = errno ? -errno : -EACCES;
        free(control);
        return r;
    }
    *out = control;
    return 0;
}

void domain_control_close(struct domain_control *control)
{
    if (!control)
        return;
    xc_interface_close(control->xc);
    free(control);
}

int domain_control_state(struct domain_control *control, unsigned int domid,
                         struct domain_state *out)
{
    *out = (struct domain_state){0};
    /* getinfolist, not getinfo: the one present in Xen 4.17 and later alike.
     * It returns the first domains from domid on: another one when domid
     * is gone. */
    xc_domaininfo_t info;
    int count = xc_domain_getinfolist(control->xc, domid, 1, &info);
    if (count < 0)
        return errno ? -errno : -EIO;
    if (count == 0 || info.domain != domid)
        return 0;
    out->exists = true;
    out->paused = info.flags & XEN_DOMINF_paused;
    out->dying = info.flags & (XEN_DOMINF_dying | XEN_DOMINF_shutdown);
    memcpy(out->handle, info.handle, sizeof(out->handle));
    return 0;
}

int domain_control_unpause(struct domain_control *control, unsigned int domid)
{
    return xc_domain_unpause(control->xc, domid) == 0 ? 0 : errno ? -errno : -EIO;
}
