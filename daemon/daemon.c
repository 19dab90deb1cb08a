// SPDX-License-Identifier: GPL-2.0-or-later
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "control/control-server.h"
#include "core/model.h"
#include "probes/probe.h"
#include "probes/xenstore-probe.h"
#include "signallers/signaller.h"
#include "signallers/xenstore-signaller.h"
#include "util/log.h"
#include "xen/xenstore.h"

size_t daemon_signallers(const struct daemon *daemon, struct signaller **out, size_t max)
{
    size_t count = 0;
    if (daemon->xenstore_signaller && count < max)
        out[count++] = daemon->xenstore_signaller;
    return count;
}

/* "3/4 bridges ready; waiting: domu1/pcie0 (qemu-dm)" for systemctl status. */
static void daemon_update_status(struct daemon *daemon)
{
    const struct model *model = daemon->model;
    char line[512];
    size_t used = (size_t)snprintf(line, sizeof(line), "%zu/%zu bridges ready",
                                   model_ready_bridge_count(model), model->bridge_count);
    const char *separator = "; waiting: ";
    for (size_t i = 0; i < model->bridge_count && used < sizeof(line); i++) {
        const struct bridge *bridge = model->bridges[i];
        if (bridge->state == BRIDGE_READY)
            continue;
        used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s (", separator,
                                 bridge->name);
        separator = ", ";
        const char *inner = "";
        for (size_t j = 0; j < bridge->backend_count && used < sizeof(line); j++) {
            if (bridge->backends[j]->ready)
                continue;
            used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s", inner,
                                     bridge->backends[j]->name);
            inner = " ";
        }
        if (used < sizeof(line))
            used += (size_t)snprintf(line + used, sizeof(line) - used, ")");
    }
    if (daemon->status_line && strcmp(daemon->status_line, line) == 0)
        return;
    free(daemon->status_line);
    daemon->status_line = strdup(line);
    sd_notifyf(0, "STATUS=%s", line);
}

static void daemon_on_transition(struct bridge *bridge, enum bridge_state old_state,
                                 const struct backend *cause, void *userdata)
{
    struct daemon *daemon = userdata;
    struct signaller *signallers[4];
    size_t count = daemon_signallers(daemon, signallers, 4);
    for (size_t i = 0; i < count; i++)
        signallers[i]->ops->publish(signallers[i], bridge);
}

static void daemon_on_backend(struct backend *backend, void *userdata)
{
    daemon_update_status(userdata);
}

static void daemon_on_stop_signal(struct ev_loop *loop, ev_signal *watcher, int revents)
{
    log_message(LOG_INFO, "received signal %d, stopping", watcher->signum);
    ev_break(loop, EVBREAK_ALL);
}

int daemon_start(struct daemon *daemon, const struct daemon_options *options,
                 struct model *model)
{
    *daemon = (struct daemon){.options = *options, .model = model};
    daemon->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
    if (!daemon->loop)
        return -ENOMEM;

    int r = xenstore_open(&daemon->xenstore, daemon->loop);
    if (r < 0)
        return r;
    log_message(LOG_INFO, "connected to xenstore as domain %u", xenstore_domid(daemon->xenstore));

    r = xenstore_probe_new(&daemon->xenstore_probe, model, daemon->xenstore);
    for (size_t i = 0; r == 0 && i < model->backend_count; i++)
        if (model->backends[i]->bridge_count)
            r = daemon->xenstore_probe->ops->add_backend(daemon->xenstore_probe,
                                                         model->backends[i]);
    if (r == 0)
        r = xenstore_signaller_new(&daemon->xenstore_signaller, daemon->xenstore);
    for (size_t i = 0; r == 0 && i < model->bridge_count; i++)
        if (model->bridges[i]->signal_methods & SIGNAL_XENSTORE)
            r = daemon->xenstore_signaller->ops->add_bridge(daemon->xenstore_signaller,
                                                            model->bridges[i]);
    if (r < 0)
        return r;

    /* Watches first, then one full scan: a change racing with the scan is
     * either read by it or announced by an event after it. */
    r = daemon->xenstore_probe->ops->arm(daemon->xenstore_probe);
    if (r < 0)
        return r;
    xenstore_discard_events(daemon->xenstore);
    r = daemon->xenstore_probe->ops->scan(daemon->xenstore_probe);
    if (r < 0)
        return r;
    r = daemon->xenstore_signaller->ops->start(daemon->xenstore_signaller);
    if (r < 0)
        return r;
    model_set_observer(model, &(struct model_observer){
        .on_transition = daemon_on_transition,
        .on_backend = daemon_on_backend,
        .userdata = daemon,
    });

    r = control_server_new(&daemon->control, daemon, options->control_socket);
    if (r < 0)
        return r;

    ev_signal_init(&daemon->on_sigterm, daemon_on_stop_signal, SIGTERM);
    ev_signal_init(&daemon->on_sigint, daemon_on_stop_signal, SIGINT);
    ev_signal_start(daemon->loop, &daemon->on_sigterm);
    ev_signal_start(daemon->loop, &daemon->on_sigint);
    xenstore_start(daemon->xenstore);

    daemon_update_status(daemon);
    log_message(LOG_NOTICE, "started: %zu frontend(s), %zu bridge(s), %zu backend(s); %s",
                model->frontend_count, model->bridge_count, model->backend_count,
                daemon->status_line ? daemon->status_line : "");
    sd_notify(0, "READY=1");
    return 0;
}

int daemon_run(struct daemon *daemon)
{
    ev_run(daemon->loop, 0);
    sd_notify(0, "STOPPING=1");
    return xenstore_failed(daemon->xenstore) ? -EPIPE : 0;
}

void daemon_finish(struct daemon *daemon)
{
    if (daemon->loop) {
        ev_signal_stop(daemon->loop, &daemon->on_sigterm);
        ev_signal_stop(daemon->loop, &daemon->on_sigint);
    }
    control_server_free(daemon->control);
    signaller_free(daemon->xenstore_signaller);
    probe_free(daemon->xenstore_probe);
    xenstore_close(daemon->xenstore);
    model_free(daemon->model);
    free(daemon->status_line);
    if (daemon->loop)
        ev_loop_destroy(daemon->loop);
    *daemon = (struct daemon){0};
}
