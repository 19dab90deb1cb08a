// SPDX-License-Identifier: GPL-2.0-or-later
#include "domains.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "core/model.h"
#include "util/log.h"
#include "xen/xenstore.h"
#include "xenready-guest.h"

struct domains {
    struct xenstore *xenstore;
    struct model *model;         /* the running one; NULL before the first commit */
    domains_changed_fn fn;
    void *userdata;
    struct xenstore_watch *watches[2];
};

/* Present: DomD reads the directory. Gone: xenstored says it does not exist
 * or, since DomD cannot read /local/domain/<domid> itself, that it may not
 * look (EACCES). Other errors say nothing: the last answer stands. Its
 * permissions come with the same round trip (reading them needs the same
 * right as reading the node): the xenstore signaller skips setting them on
 * nodes it makes when the directory's are already exactly what they need. */
static int frontend_present(struct domains *domains, struct frontend *frontend)
{
    char path[64];
    struct xs_permissions *permissions = NULL;
    unsigned int count = 0;
    snprintf(path, sizeof(path), "/local/domain/%u/%s", frontend->domid, XENREADY_DIRECTORY);
    int r = xenstore_get_permissions(domains->xenstore, path, &permissions, &count);
    frontend->directory_private = r == 0 && count == 2
                                  && permissions[0].id == xenstore_domid(domains->xenstore)
                                  && permissions[0].perms == XS_PERM_NONE
                                  && permissions[1].id == frontend->domid
                                  && permissions[1].perms == XS_PERM_READ;
    free(permissions);
    if (r == 0)
        return 1;
    return r == -ENOENT || r == -EACCES ? 0 : r;
}

/* Each frontend looked at again; fn told of changes. */
static void domains_check(struct domains *domains)
{
    struct model *model = domains->model;
    for (size_t i = 0; model && i < model->frontend_count; i++) {
        struct frontend *frontend = model->frontends[i];
        int present = frontend_present(domains, frontend);
        if (present < 0 || (bool)present == !frontend->absent)
            continue;
        frontend->absent = !present;
        log_message(LOG_NOTICE, "frontend %s (domain %u) %s", frontend->name, frontend->domid,
                    present ? "is back: re-creating its nodes and event channels"
                            : "is gone: dropping its event channels");
        domains->fn(frontend, present, domains->userdata);
    }
}

static void domains_on_event(const char *path, void *userdata)
{
    domains_check(userdata);
}

int domains_new(struct domains **out, struct xenstore *xenstore, domains_changed_fn fn,
                void *userdata)
{
    struct domains *domains = calloc(1, sizeof(*domains));
    if (!domains)
        return -ENOMEM;
    *domains = (struct domains){.xenstore = xenstore, .fn = fn, .userdata = userdata};
    static const char *const nodes[] = {"@introduceDomain", "@releaseDomain"};
    for (size_t i = 0; i < 2; i++) {
        int r = xenstore_watch_add(xenstore, nodes[i], domains_on_event, domains, true,
                                   &domains->watches[i]);
        if (r < 0 && r != -ENOTCONN)
            log_message(LOG_WARNING, "cannot watch %s: %s; event channels of frontends that "
                        "are re-created will not be re-created", nodes[i], strerror(-r));
    }
    *out = domains;
    return 0;
}

void domains_stage(struct domains *domains, struct model *model)
{
    for (size_t i = 0; i < model->frontend_count; i++) {
        struct frontend *frontend = model->frontends[i];
        if (frontend->known)
            continue;
        frontend->absent = frontend_present(domains, frontend) == 0;
        frontend->known = true;
    }
}

void domains_commit(struct domains *domains, struct model *model)
{
    domains->model = model;
}

void domains_back(struct domains *domains)
{
    domains_check(domains);
}

void domains_free(struct domains *domains)
{
    if (!domains)
        return;
    for (size_t i = 0; i < 2; i++)
        xenstore_watch_remove(domains->xenstore, domains->watches[i]);
    free(domains);
}
