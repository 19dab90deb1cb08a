// SPDX-License-Identifier: GPL-2.0-or-later
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "config/config.h"
#include "control/control-server.h"
#include "core/model.h"
#include "bridge-timeout.h"
#include "control/announce.h"
#include "probes/pidfile-liveness.h"
#include "probes/probe.h"
#include "probes/socket-probe.h"
#include "probes/unit-probe.h"
#include "probes/xenstore-probe.h"
#include "signallers/evtchn-signaller.h"
#include "signallers/signaller.h"
#include "signallers/xenstore-signaller.h"
#include "util/log.h"
#include "xen/domains.h"
#include "xen/xenstore.h"

size_t daemon_signallers(const struct daemon *daemon, struct signaller **out, size_t max)
{
    size_t count = 0;
    /* The xenstore node first: the others publish into it or after it. */
    struct signaller *all[] = {daemon->xenstore_signaller, daemon->evtchn_signaller,
                               daemon->static_evtchn_signaller, daemon->sysrq_signaller};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) && count < max; i++)
        if (all[i])
            out[count++] = all[i];
    return count;
}

/* "3/4 bridges ready; waiting: domu1/pcie0 (qemu-dm)" for systemctl status. */
static void daemon_format_status(const struct daemon *daemon, char *line, size_t size)
{
    const struct model *model = daemon->model;
    size_t used = (size_t)snprintf(line, size, "%zu/%zu bridges ready",
                                   model_ready_bridge_count(model), model->bridge_count);
    const char *separator = "; waiting: ";
    for (size_t i = 0; i < model->bridge_count && used < size; i++) {
        const struct bridge *bridge = model->bridges[i];
        if (bridge->state == BRIDGE_READY)
            continue;
        used += (size_t)snprintf(line + used, size - used, "%s%s (", separator, bridge->name);
        separator = ", ";
        const char *inner = "";
        for (size_t j = 0; j < bridge->backend_count && used < size; j++) {
            if (bridge->backends[j]->ready)
                continue;
            used += (size_t)snprintf(line + used, size - used, "%s%s", inner,
                                     bridge->backends[j]->name);
            inner = " ";
        }
        if (used < size)
            used += (size_t)snprintf(line + used, size - used, ")");
    }
    /* Bridges past their start-up timeout: "; degraded: domu1/pcie0". */
    separator = "; degraded: ";
    for (size_t i = 0; i < model->bridge_count && used < size; i++)
        if (model->bridges[i]->degraded) {
            used += (size_t)snprintf(line + used, size - used, "%s%s", separator,
                                     model->bridges[i]->name);
            separator = ", ";
        }
}

static void daemon_send_status(struct daemon *daemon, const char *line)
{
    if (daemon->status_line && strcmp(daemon->status_line, line) == 0)
        return;
    free(daemon->status_line);
    daemon->status_line = strdup(line);
    sd_notifyf(0, "STATUS=%s", line);
}

/* READY=1 once: after the first scan, or in wait-for-all mode once every
 * bridge is ready. */
static void daemon_maybe_ready(struct daemon *daemon)
{
    if (daemon->ready_sent)
        return;
    const struct model *model = daemon->model;
    if (daemon->options.ready_when_all && model_ready_bridge_count(model) < model->bridge_count)
        return;
    ev_timer_stop(daemon->loop, &daemon->extend_start);
    daemon->ready_sent = true;
    sd_notify(0, "READY=1");
}

void daemon_update_status(struct daemon *daemon)
{
    char line[512];
    daemon_format_status(daemon, line, sizeof(line));
    daemon_send_status(daemon, line);
    if (daemon->control)
        daemon_maybe_ready(daemon);
    control_server_update(daemon->control);
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

/* Backend changes come in bursts (a DomD starting hundreds of backends):
 * STATUS= and "wait" answers are brought up to date once per loop iteration,
 * right before the loop would block, not once per change. */
static void daemon_on_prepare(struct ev_loop *loop, ev_prepare *watcher, int revents)
{
    ev_prepare_stop(loop, watcher);
    daemon_update_status(watcher->data);
}

/* The cached "status" answer is dropped at once, not when STATUS= is: a
 * control client served later in this loop iteration must see the change.
 * The other entry points of changes a status answer shows, which drop it
 * too: every batch of xenstore events (probes, signallers, domains), the
 * connection lost, sources stopped (reload, reconnection); announcement
 * refusals in control/announce.c. */
static void daemon_schedule_status(struct daemon *daemon)
{
    control_server_invalidate(daemon->control);
    ev_prepare_start(daemon->loop, &daemon->status_pending);
}

static void daemon_on_backend(struct backend *backend, void *userdata)
{
    daemon_schedule_status(userdata);
}

/* Closes every event source built from the model (probes, signallers and,
 * unless keep_connection, the xenstore connection and with it all its
 * watches). Bridge nodes stay. A reload keeps the connection: the watches
 * the new model needs again are taken over as they are (xen/xenstore.h). */
static void daemon_backend_probes_stop(struct daemon *daemon);

static void daemon_sources_stop(struct daemon *daemon, bool keep_connection)
{
    control_server_invalidate(daemon->control);
    if (keep_connection && daemon->xenstore)
        xenstore_watches_release(daemon->xenstore);
    daemon_backend_probes_stop(daemon);
    domains_free(daemon->domains);
    daemon->domains = NULL;
    signaller_free(daemon->sysrq_signaller);
    signaller_free(daemon->static_evtchn_signaller);
    signaller_free(daemon->evtchn_signaller);   /* unbinds its ports */
    daemon->sysrq_signaller = daemon->static_evtchn_signaller = daemon->evtchn_signaller = NULL;
    signaller_free(daemon->xenstore_signaller);
    probe_free(daemon->xenstore_probe);
    daemon->xenstore_signaller = NULL;
    daemon->xenstore_probe = NULL;
    if (!keep_connection) {
        xenstore_close(daemon->xenstore);
        daemon->xenstore = NULL;
    }
}

/* A frontend came or went (@introduceDomain, @releaseDomain): every signaller
 * of its bridges drops or re-creates what it made, the xenstore node first. */
static void daemon_on_domain_change(struct frontend *frontend, bool present, void *userdata)
{
    struct signaller *signallers[4];
    size_t count = daemon_signallers(userdata, signallers, 4);
    for (size_t i = 0; i < count; i++)
        if (signallers[i]->ops->frontend_changed)
            signallers[i]->ops->frontend_changed(signallers[i], frontend, present);
}

/* The signallers besides the xenstore node, with the bridges that use them. */
static int daemon_other_signallers_new(struct daemon *daemon)
{
    struct model *model = daemon->model;
    int r = evtchn_signaller_new(&daemon->evtchn_signaller, daemon->loop, daemon->xenstore);
    if (r == 0)
        r = static_evtchn_signaller_new(&daemon->static_evtchn_signaller, daemon->loop);
    if (r == 0)
        r = sysrq_signaller_new(&daemon->sysrq_signaller, daemon->xenstore);
    for (size_t i = 0; r == 0 && i < model->bridge_count; i++) {
        struct bridge *bridge = model->bridges[i];
        if (r == 0 && (bridge->signal_methods & SIGNAL_EVTCHN))
            r = daemon->evtchn_signaller->ops->add_bridge(daemon->evtchn_signaller, bridge);
        if (r == 0 && (bridge->signal_methods & SIGNAL_STATIC_EVTCHN))
            r = daemon->static_evtchn_signaller->ops->add_bridge(daemon->static_evtchn_signaller,
                                                                 bridge);
        if (r == 0 && (bridge->signal_methods & SIGNAL_SYSRQ))
            r = daemon->sysrq_signaller->ops->add_bridge(daemon->sysrq_signaller, bridge);
    }
    return r;
}

static void daemon_on_degraded(void *userdata)
{
    daemon_schedule_status(userdata);
}

/* The probes of backends not observed through xenstore (socket, unit,
 * announce), liveness (pidfile; liveness-unit goes through the unit probe)
 * and the bridges' start-up timeouts. Each probe is created only when a
 * backend needs it; all are armed before any of them scans. */
static int daemon_backend_probes_start(struct daemon *daemon)
{
    struct model *model = daemon->model;
    struct probe **slots[] = {&daemon->socket_probe, &daemon->unit_probe,
                              &daemon->pidfile_liveness, &daemon->announce_probe};
    int r = 0;
    for (size_t i = 0; r == 0 && i < model->backend_count; i++) {
        struct backend *backend = model->backends[i];
        if (!backend->bridge_count)
            continue;
        if (r == 0 && backend->probe == PROBE_SOCKET && !daemon->socket_probe)
            r = socket_probe_new(&daemon->socket_probe, model, daemon->loop);
        if (r == 0 && (backend->probe == PROBE_UNIT || backend->liveness_unit) && !daemon->unit_probe)
            r = unit_probe_new(&daemon->unit_probe, model, daemon->loop);
        if (r == 0 && backend->pidfile && !daemon->pidfile_liveness)
            r = pidfile_liveness_new(&daemon->pidfile_liveness, model, daemon->loop);
        if (r == 0 && backend->probe == PROBE_ANNOUNCE && !daemon->announce_probe)
            r = announce_probe_new(&daemon->announce_probe, model);
        if (r == 0 && backend->probe == PROBE_SOCKET)
            r = daemon->socket_probe->ops->add_backend(daemon->socket_probe, backend);
        if (r == 0 && (backend->probe == PROBE_UNIT || backend->liveness_unit))
            r = daemon->unit_probe->ops->add_backend(daemon->unit_probe, backend);
        if (r == 0 && backend->pidfile)
            r = daemon->pidfile_liveness->ops->add_backend(daemon->pidfile_liveness, backend);
        if (r == 0 && backend->probe == PROBE_ANNOUNCE)
            r = daemon->announce_probe->ops->add_backend(daemon->announce_probe, backend);
    }
    for (size_t i = 0; r == 0 && i < sizeof(slots) / sizeof(slots[0]); i++)
        if (*slots[i])
            r = (*slots[i])->ops->arm(*slots[i]);
    for (size_t i = 0; r == 0 && i < sizeof(slots) / sizeof(slots[0]); i++)
        if (*slots[i])
            r = (*slots[i])->ops->scan(*slots[i]);
    if (r == 0)
        r = bridge_timeouts_new(&daemon->bridge_timeouts, daemon->loop, model,
                                daemon_on_degraded, daemon);
    return r;
}

static void daemon_backend_probes_stop(struct daemon *daemon)
{
    bridge_timeouts_free(daemon->bridge_timeouts);
    probe_free(daemon->socket_probe);
    probe_free(daemon->unit_probe);
    probe_free(daemon->pidfile_liveness);
    probe_free(daemon->announce_probe);
    daemon->bridge_timeouts = NULL;
    daemon->socket_probe = daemon->unit_probe = daemon->pidfile_liveness = NULL;
    daemon->announce_probe = NULL;
}

static void daemon_on_xenstore_lost(void *userdata);

/* A node was made again, or a key another signaller keeps in it changed. */
static void daemon_on_node_refresh(struct bridge *bridge, void *userdata)
{
    struct signaller *signallers[4];
    size_t count = daemon_signallers(userdata, signallers, 4);
    for (size_t i = 0; i < count; i++)
        if (signallers[i]->ops->refresh)
            signallers[i]->ops->refresh(signallers[i], bridge);
}

/* After each batch of xenstore events: xenstored never says that room
 * returned, so what it refused is tried again now, on an event, never on a
 * timer, and only until the first refusal. After a refusal for lack of
 * memory, xenstored may also have dropped our watch events (it does so
 * silently at a domain's memory quota): once what was refused goes through
 * again (or nothing was left to try), every backend is read again. */
static void daemon_on_xenstore_batch(void *userdata)
{
    struct daemon *daemon = userdata;
    control_server_invalidate(daemon->control);
    struct signaller *signallers[4];
    size_t count = daemon_signallers(daemon, signallers, 4);
    int r = 0;
    for (size_t i = 0; r == 0 && i < count; i++)
        if (signallers[i]->ops->retry)
            r = signallers[i]->ops->retry(signallers[i]);
    if (!xenstore_memory_short(daemon->xenstore) || (r < 0 && xenstore_error_is_room(r)))
        return;
    xenstore_memory_recovered(daemon->xenstore);
    log_message(LOG_WARNING, "xenstored refused a request of mine for lack of memory (domain "
                "%u's memory quota, xenstored -Q memory, is or was used up): watch events may "
                "have been dropped meanwhile; reading every backend again",
                xenstore_domid(daemon->xenstore));
    daemon->xenstore_probe->ops->scan(daemon->xenstore_probe);
}

/* Opens the xenstore connection and hooks its callbacks to the daemon. */
static int daemon_connect(struct daemon *daemon)
{
    int r = xenstore_open(&daemon->xenstore, daemon->loop);
    if (r < 0)
        return r;
    log_message(LOG_INFO, "connected to xenstore as domain %u", xenstore_domid(daemon->xenstore));
    xenstore_set_lost_callback(daemon->xenstore, daemon_on_xenstore_lost, daemon);
    xenstore_set_batch_callback(daemon->xenstore, daemon_on_xenstore_batch, daemon);
    return 0;
}

/* The probe and the signaller that read and write xenstore, with the
 * backends and bridges that use them. */
static int daemon_xenstore_sources_new(struct daemon *daemon)
{
    struct model *model = daemon->model;
    int r = xenstore_probe_new(&daemon->xenstore_probe, model, daemon->xenstore);
    for (size_t i = 0; r == 0 && i < model->backend_count; i++)
        if (model->backends[i]->bridge_count && model->backends[i]->probe == PROBE_XENSTORE)
            r = daemon->xenstore_probe->ops->add_backend(daemon->xenstore_probe,
                                                         model->backends[i]);
    if (r == 0)
        r = xenstore_signaller_new(&daemon->xenstore_signaller, daemon->xenstore,
                                   daemon_on_node_refresh, daemon);
    for (size_t i = 0; r == 0 && i < model->bridge_count; i++)
        if (model->bridges[i]->signal_methods & SIGNAL_XENSTORE)
            r = daemon->xenstore_signaller->ops->add_bridge(daemon->xenstore_signaller,
                                                            model->bridges[i]);
    return r;
}

/* Watches first, then one full scan: a change racing with the scan is either
 * read by it or announced by an event after it. In order of need when
 * xenstored's watch quota is short: backends, domains, then the frontends'
 * directories (which only repair nodes removed under us). */
static int daemon_xenstore_sources_arm(struct daemon *daemon)
{
    int r = daemon->xenstore_probe->ops->arm(daemon->xenstore_probe);
    if (r == 0)
        r = domains_new(&daemon->domains, daemon->xenstore, daemon->model,
                        daemon_on_domain_change, daemon);
    if (r == 0)
        r = xenstore_signaller_arm(daemon->xenstore_signaller);
    if (r < 0)
        return r;
    xenstore_watches_drop_released(daemon->xenstore);
    xenstore_discard_events(daemon->xenstore);
    return daemon->xenstore_probe->ops->scan(daemon->xenstore_probe);
}

/* Connects (unless a reload kept the connection, or nothing in the model
 * uses xenstore), builds probes and signallers for daemon->model, arms every
 * watch, does the first full scan and publication. Shared by start, reload
 * and reconnection. */
static int daemon_sources_start(struct daemon *daemon)
{
    struct model *model = daemon->model;
    int r = 0;
    bool needs_xenstore = model_needs_xenstore(model);
    if (needs_xenstore && !daemon->xenstore) {
        r = daemon_connect(daemon);
        if (r < 0)
            return r;
    } else if (!needs_xenstore) {
        /* A xenstore-free system (dom0less without it) has nothing to connect to. */
        if (daemon->xenstore)
            xenstore_close(daemon->xenstore);
        daemon->xenstore = NULL;
        log_message(LOG_INFO, "no backend or bridge uses xenstore: running without a "
                              "xenstore connection");
    }

    if (daemon->xenstore)
        r = daemon_xenstore_sources_new(daemon);
    if (r == 0)
        r = daemon_other_signallers_new(daemon);
    if (r == 0 && daemon->xenstore)
        r = daemon_xenstore_sources_arm(daemon);
    if (r == 0)
        r = daemon_backend_probes_start(daemon);
    struct signaller *signallers[4];
    size_t count = daemon_signallers(daemon, signallers, 4);
    for (size_t i = 0; r == 0 && i < count; i++)
        r = signallers[i]->ops->start(signallers[i]);
    if (r < 0)
        return r;
    model_set_observer(model, &(struct model_observer){
        .on_transition = daemon_on_transition,
        .on_backend = daemon_on_backend,
        .userdata = daemon,
    });
    if (daemon->xenstore)
        xenstore_start(daemon->xenstore);
    return 0;
}

/* "since" for status: a bridge that kept its state across a reload keeps its
 * time; one that never changed state is in it since the daemon looked. */
static void daemon_carry_since(struct model *model, const struct model *old)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    for (size_t i = 0; i < model->bridge_count; i++) {
        struct bridge *bridge = model->bridges[i];
        const struct bridge *before = old ? model_find_bridge(old, bridge->name) : NULL;
        if (before && before->state == bridge->state && before->state_since_usec)
            bridge->state_since_usec = before->state_since_usec;
        else if (!bridge->state_since_usec)
            bridge->state_since_usec = (uint64_t)now.tv_sec * 1000000u
                                       + (uint64_t)now.tv_nsec / 1000u;
    }
}

/* xenstored went away (a dom0 daemon on its socket; a DomD on the ring
 * cannot see this). Everything is rebuilt from the model as at start, with
 * capped exponential backoff between attempts; the timer runs only while
 * disconnected. */
enum { RECONNECT_FIRST_MS = 100, RECONNECT_MAX_MS = 5000 };

static void daemon_on_xenstore_lost(void *userdata)
{
    struct daemon *daemon = userdata;
    /* Events of the failed batch were handled without its batch callback. */
    control_server_invalidate(daemon->control);
    daemon_send_status(daemon, "xenstore connection lost; reconnecting");
    daemon->reconnect_delay = 0;
    ev_timer_set(&daemon->reconnect, 0, 0);
    ev_timer_start(daemon->loop, &daemon->reconnect);
}

static void daemon_on_reconnect(struct ev_loop *loop, ev_timer *timer, int revents)
{
    struct daemon *daemon = timer->data;
    daemon_sources_stop(daemon, false);
    int r = daemon_sources_start(daemon);
    if (r == 0) {
        log_message(LOG_NOTICE, "reconnected to xenstore: watches armed again, nodes published");
        free(daemon->status_line);
        daemon->status_line = NULL;
        daemon_update_status(daemon);
        return;
    }
    daemon_sources_stop(daemon, false);
    double first = RECONNECT_FIRST_MS / 1000.0, cap = RECONNECT_MAX_MS / 1000.0;
    daemon->reconnect_delay = daemon->reconnect_delay ? daemon->reconnect_delay * 2 : first;
    if (daemon->reconnect_delay > cap)
        daemon->reconnect_delay = cap;
    log_message(daemon->reconnect_delay < cap ? LOG_WARNING : LOG_DEBUG,
                "cannot reconnect to xenstore: %s; next attempt in %.1f s", strerror(-r),
                daemon->reconnect_delay);
    ev_timer_set(timer, daemon->reconnect_delay, 0);
    ev_timer_start(loop, timer);
}

static void daemon_on_watchdog(struct ev_loop *loop, ev_timer *timer, int revents)
{
    sd_notify(0, "WATCHDOG=1");
}

/* Wait-for-all mode: systemd would kill a daemon that legitimately waits
 * past TimeoutStartSec=; extend the start timeout while waiting. */
enum { EXTEND_INTERVAL_SECONDS = 5, EXTEND_BY_USEC = 3 * EXTEND_INTERVAL_SECONDS * 1000000 };

static void daemon_on_extend_start(struct ev_loop *loop, ev_timer *timer, int revents)
{
    sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%d", EXTEND_BY_USEC);
}

/* After a reload that failed before touching anything: STATUS= says so, and
 * systemd learns that the reload is over. */
static void daemon_keep_running_configuration(struct daemon *daemon)
{
    char line[512];
    daemon_format_status(daemon, line, sizeof(line));
    char failed[600];
    snprintf(failed, sizeof(failed), "reload failed, kept the running configuration; %s", line);
    daemon_send_status(daemon, failed);
    if (daemon->ready_sent)
        sd_notify(0, "READY=1");
}

int daemon_reload(struct daemon *daemon, struct config_report *report)
{
    struct config_report local = {0};
    if (!report)
        report = &local;
    if (daemon->ready_sent)
        sd_notify(0, "RELOADING=1");
    log_message(LOG_NOTICE, "reloading the configuration from %s", daemon->options.config_file);
    struct model *model = NULL;
    int r = config_load(daemon->options.config_file, daemon->options.config_dir, &model, report);
    for (size_t i = 0; i < report->line_count; i++)
        log_message(strstr(report->lines[i], ": error: ") ? LOG_ERR : LOG_WARNING, "%s",
                    report->lines[i]);
    config_report_clear(&local);
    if (r < 0) {
        log_message(LOG_ERR, "reload failed: the new configuration has errors; "
                             "keeping the running one");
        daemon_keep_running_configuration(daemon);
        return -EINVAL;
    }
    /* Connected first when the running configuration had no need: without
     * xenstore, the new one could not start, and the running one goes on. */
    if (model_needs_xenstore(model) && !daemon->xenstore) {
        r = daemon_connect(daemon);
        if (r < 0) {
            log_message(LOG_ERR, "reload failed: the new configuration uses xenstore, which "
                                 "cannot be reached (%s); keeping the running one",
                        strerror(-r));
            model_free(model);
            daemon_keep_running_configuration(daemon);
            return -ENOTCONN;
        }
    }

    /* The new model replaces the old one wholesale; the signallers adopt the
     * nodes they find, so a bridge whose state is unchanged is not rewritten.
     * The connection stays, and with it the watches still needed. */
    daemon_sources_stop(daemon, true);
    struct model *old = daemon->model;
    daemon->model = model;
    r = daemon_sources_start(daemon);
    if (r < 0) {
        model_free(old);
        log_message(LOG_ERR, "reload failed: %s; stopping", strerror(-r));
        daemon->result = r;
        ev_break(daemon->loop, EVBREAK_ALL);
        return r;
    }
    daemon_carry_since(model, old);
    model_free(old);
    daemon_update_status(daemon);
    log_message(LOG_NOTICE, "reloaded: %zu frontend(s), %zu bridge(s), %zu backend(s); %s",
                model->frontend_count, model->bridge_count, model->backend_count,
                daemon->status_line ? daemon->status_line : "");
    if (daemon->ready_sent)
        sd_notify(0, "READY=1");
    return 0;
}

static void daemon_on_sighup(struct ev_loop *loop, ev_signal *watcher, int revents)
{
    daemon_reload(watcher->data, NULL);
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
    ev_signal_init(&daemon->on_sigterm, daemon_on_stop_signal, SIGTERM);
    ev_signal_init(&daemon->on_sigint, daemon_on_stop_signal, SIGINT);
    ev_signal_init(&daemon->on_sighup, daemon_on_sighup, SIGHUP);
    daemon->on_sighup.data = daemon;
    ev_init(&daemon->watchdog, daemon_on_watchdog);
    ev_init(&daemon->extend_start, daemon_on_extend_start);
    ev_prepare_init(&daemon->status_pending, daemon_on_prepare);
    daemon->status_pending.data = daemon;
    ev_init(&daemon->reconnect, daemon_on_reconnect);
    daemon->reconnect.data = daemon;

    int r = daemon_sources_start(daemon);
    if (r < 0)
        return r;
    daemon_carry_since(model, NULL);
    r = control_server_new(&daemon->control, daemon, options->control_socket);
    if (r < 0)
        return r;

    ev_signal_start(daemon->loop, &daemon->on_sigterm);
    ev_signal_start(daemon->loop, &daemon->on_sigint);
    ev_signal_start(daemon->loop, &daemon->on_sighup);
    uint64_t watchdog_usec = 0;
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec) {
        /* Half the interval, as sd_watchdog_enabled(3) recommends. */
        ev_tstamp interval = (ev_tstamp)watchdog_usec / 2e6;
        ev_timer_set(&daemon->watchdog, interval, interval);
        ev_timer_start(daemon->loop, &daemon->watchdog);
        log_message(LOG_INFO, "watchdog: WATCHDOG=1 every %.3f s", interval);
    }

    daemon_update_status(daemon);
    log_message(LOG_NOTICE, "started: %zu frontend(s), %zu bridge(s), %zu backend(s); %s",
                model->frontend_count, model->bridge_count, model->backend_count,
                daemon->status_line ? daemon->status_line : "");
    daemon_maybe_ready(daemon);
    if (!daemon->ready_sent) {
        log_message(LOG_NOTICE, "waiting for every bridge to be ready before READY=1");
        daemon_on_extend_start(daemon->loop, &daemon->extend_start, 0);
        ev_timer_set(&daemon->extend_start, EXTEND_INTERVAL_SECONDS, EXTEND_INTERVAL_SECONDS);
        ev_timer_start(daemon->loop, &daemon->extend_start);
    }
    return 0;
}

int daemon_run(struct daemon *daemon)
{
    ev_run(daemon->loop, 0);
    sd_notify(0, "STOPPING=1");
    return daemon->result;
}

void daemon_finish(struct daemon *daemon)
{
    if (daemon->loop) {
        ev_signal_stop(daemon->loop, &daemon->on_sigterm);
        ev_signal_stop(daemon->loop, &daemon->on_sigint);
        ev_signal_stop(daemon->loop, &daemon->on_sighup);
        ev_timer_stop(daemon->loop, &daemon->watchdog);
        ev_timer_stop(daemon->loop, &daemon->extend_start);
        ev_timer_stop(daemon->loop, &daemon->reconnect);
        ev_prepare_stop(daemon->loop, &daemon->status_pending);
    }
    control_server_free(daemon->control);
    daemon->control = NULL;
    daemon_sources_stop(daemon, false);
    model_free(daemon->model);
    free(daemon->status_line);
    if (daemon->loop)
        ev_loop_destroy(daemon->loop);
    *daemon = (struct daemon){0};
}
