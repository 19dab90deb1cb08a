// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * e2e-set-target — what the toolstack does for a device model in another
 * domain, in the arm64 IOREQ end-to-end test: dom0 makes DOMAIN privileged
 * over TARGET (XEN_DOMCTL_set_target, as libxl does for a stub domain), so
 * that DOMAIN may create an IOREQ server for TARGET (dm_op), map its pages
 * (XENMEM_acquire_resource) and bind its event channels.
 *
 *   e2e-set-target DOMAIN TARGET
 *
 * A domain has at most one target, and Xen keeps it for the domain's life.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>

static int domid(const char *text)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    return errno || end == text || *end || value < 0 || value >= DOMID_FIRST_RESERVED
        ? -1 : (int)value;
}

int main(int argc, char **argv)
{
    int domain = argc == 3 ? domid(argv[1]) : -1;
    int target = argc == 3 ? domid(argv[2]) : -1;
    if (domain < 0 || target < 0) {
        fprintf(stderr, "usage: e2e-set-target DOMAIN TARGET\n");
        return 2;
    }
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    if (!xch) {
        fprintf(stderr, "e2e-set-target: cannot open privcmd: %s\n", strerror(errno));
        return 1;
    }
    int rc = xc_domain_set_target(xch, (uint32_t)domain, (uint32_t)target);
    if (rc != 0)
        fprintf(stderr, "e2e-set-target: set_target(%d, %d): %s\n", domain, target,
                strerror(errno));
    xc_interface_close(xch);
    return rc == 0 ? 0 : 1;
}
