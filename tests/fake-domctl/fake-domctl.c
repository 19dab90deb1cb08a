// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A stand-in for the three libxenctrl calls daemon/xen/domain-control.c
 * makes, loaded with LD_PRELOAD into xenreadyd, so that holding a guest
 * paused (signal = unpause) runs unchanged without a hypervisor.
 *
 *   XENREADY_FAKE_DOMCTL_DIR    the shared "hypervisor" state (a directory)
 *
 * A domain is a file DIR/domain-<domid> holding "paused <0|1> dying <0|1>
 * handle <32 hex digits>", written by the test (fake-domctl-control.h).
 * DIR/no-privilege makes xc_interface_open() fail with EACCES, as it does
 * for a domain without access to /dev/xen/privcmd. DIR/no-control lets it
 * open but makes every call fail with EPERM, as Xen does for a domain that
 * has privcmd but is neither dom0 nor allowed by XSM to control the guest
 * (a DomD: XEN_SYSCTL_getdomaininfolist and XEN_DOMCTL_unpausedomain are
 * refused by the hypervisor, not by the device).
 *
 * Xen behaviour reproduced (xen/common/domctl.c, domain.c):
 * xc_domain_getinfolist(first, 1) returns the first domain whose domid is
 * at least first (another one when first is gone); unpausing a domain that
 * the toolstack or an operator has not paused fails with EINVAL, one that
 * does not exist with ESRCH. Every unpause appends "unpause <domid> ok" or
 * "unpause <domid> <errno name>" to DIR/log.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenctrl.h>

struct fake_domain {
    unsigned int domid;
    int paused, dying;
    uint8_t handle[16];
};

static const char *state_dir(void)
{
    return getenv("XENREADY_FAKE_DOMCTL_DIR");
}

static int domain_read(unsigned int domid, struct fake_domain *out)
{
    char path[4096], hex[40] = "";
    snprintf(path, sizeof(path), "%s/domain-%u", state_dir(), domid);
    FILE *file = fopen(path, "re");
    if (!file)
        return -ENOENT;
    *out = (struct fake_domain){.domid = domid};
    int fields = fscanf(file, "paused %d dying %d handle %32s", &out->paused, &out->dying, hex);
    fclose(file);
    if (fields != 3 || strlen(hex) != 32)
        return -EINVAL;
    for (int i = 0; i < 16; i++) {
        unsigned int byte;
        sscanf(hex + 2 * i, "%2x", &byte);
        out->handle[i] = (uint8_t)byte;
    }
    return 0;
}

static void domain_write(const struct fake_domain *domain)
{
    char path[4096], temporary[4200];
    snprintf(path, sizeof(path), "%s/domain-%u", state_dir(), domain->domid);
    snprintf(temporary, sizeof(temporary), "%s.new", path);
    FILE *file = fopen(temporary, "we");
    if (!file)
        return;
    fprintf(file, "paused %d dying %d handle ", domain->paused, domain->dying);
    for (int i = 0; i < 16; i++)
        fprintf(file, "%02x", domain->handle[i]);
    fputc('\n', file);
    fclose(file);
    rename(temporary, path);
}

static void log_line(const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/log", state_dir());
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        (void)!write(fd, text, strlen(text));
        close(fd);
    }
}

/* Whether the hypervisor refuses this domain's control calls (EPERM). */
static int control_refused(void)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/no-control", state_dir());
    return access(path, F_OK) == 0;
}

struct xc_interface_core {
    int unused;
};

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    char path[4096];
    if (!state_dir()) {
        errno = ENOENT;
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/no-privilege", state_dir());
    if (access(path, F_OK) == 0) {
        errno = EACCES;
        return NULL;
    }
    return calloc(1, sizeof(struct xc_interface_core));
}

int xc_interface_close(xc_interface *xch)
{
    free(xch);
    return 0;
}

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain, unsigned int max_domains,
                          xc_domaininfo_t *info)
{
    if (control_refused()) {
        errno = EPERM;
        return -1;
    }
    /* The lowest domid >= first_domain among the files. */
    DIR *dir = opendir(state_dir());
    if (!dir)
        return -1;
    unsigned int best = 0;
    int found = 0;
    for (struct dirent *entry; (entry = readdir(dir));) {
        unsigned int domid;
        char tail;
        if (sscanf(entry->d_name, "domain-%u%c", &domid, &tail) != 1 || domid < first_domain)
            continue;
        if (!found || domid < best)
            best = domid;
        found = 1;
    }
    closedir(dir);
    if (!found || max_domains == 0)
        return 0;
    struct fake_domain domain;
    if (domain_read(best, &domain) < 0)
        return 0;
    memset(info, 0, sizeof(*info));
    info->domain = (domid_t)domain.domid;
    info->flags = (domain.paused ? XEN_DOMINF_paused : 0) | (domain.dying ? XEN_DOMINF_dying : 0);
    memcpy(info->handle, domain.handle, sizeof(domain.handle));
    return 1;
}

int xc_domain_unpause(xc_interface *xch, uint32_t domid)
{
    struct fake_domain domain;
    char line[64];
    int error = 0;
    if (control_refused())
        error = EPERM;
    else if (domain_read(domid, &domain) < 0)
        error = ESRCH;
    else if (!domain.paused)
        error = EINVAL;
    if (!error) {
        domain.paused = 0;
        domain_write(&domain);
    }
    snprintf(line, sizeof(line), "unpause %u %s\n", (unsigned int)domid,
             !error ? "ok" : error == ESRCH ? "ESRCH" : error == EPERM ? "EPERM" : "EINVAL");
    log_line(line);
    errno = error;
    return error ? -1 : 0;
}
