// SPDX-License-Identifier: GPL-2.0-or-later
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge-timeout.h"
#include "config/config.h"
#include "control/control-server.h"
#include "core/model.h"
#include "signallers/signaller.h"
#include "util/escape.h"
#include "instance-lock.h"
#include "util/descriptor-reserve.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/pidfile.h"
#include "util/model-log.h"
#include "xen/xenstore.h"
#include "xenstore-start.h"

/* "3/4 bridges ready; waiting: domu1/pcie0 (qemu-dm)" for systemctl status.
 * The line is plain text; daemon_send_status() escapes it. */
static void daemon_format_status(const struct daemon *daemon, char *line, size_t size)
{
    const struct model *model = daemon->model;
    size_t used = 0;
    if (daemon->xenstore && !xenstore_connected(daemon->xenstore))
        used = (size_t)snprintf(line, size, "xenstore connection lost; reconnecting; ");
    used += (size_t)snprintf(line + used, size - used, "%zu/%zu bridges ready",
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

/* status_line keeps the line as formatted (it is also logged, and the log
 * escapes on its own); only what goes to systemd is escaped here. sd_notify()'s
 * message is newline-separated assignments: a newline in a name would end
 * STATUS= and begin an assignment of its own ("READY=1", "MAINPID=…"), and
 * systemctl status prints the rest to a terminal. */
static void daemon_send_status(struct daemon *daemon, const char *line)
{
    if (daemon->status_line && strcmp(daemon->status_line, line) == 0)
        return;
    free(daemon->status_line);
    daemon->status_line = strdup(line);
    /* The callers' lines are at most 600 bytes; a longer one is cut before an
     * escape, never inside one. */
    char escaped[ESCAPE_SIZE(600)];
    escape_text(escaped, sizeof(escaped), line);
    notify_systemd("STATUS=%s", escaped);
}

/* s6's readiness notification: a newline, then the descriptor closed. A
 * reader gone is no reason to die of SIGPIPE: it is blocked for the write,
 * and taken if the write raised it. */
static void daemon_write_ready_fd(int fd)
{
    sigset_t pipe_signal, mask;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_signal, &mask);
    ssize_t written;
    while ((written = write(fd, "\n", 1)) < 0 && errno == EINTR)
        ;
    int error = written == 1 ? 0 : errno;
    if (error == EPIPE)
        sigtimedwait(&pipe_signal, NULL, &(struct timespec){0});
    sigprocmask(SIG_SETMASK, &mask, NULL);
    close(fd);
    if (error)
        log_message(LOG_WARNING, "cannot write to the readiness descriptor %d: %s", fd,
                    strerror(error));
}

/* READY=1 once: after the first scan, or in wait-for-all mode once every
 * bridge is ready or degraded (its start-up timeout passed). An init script
 * learns it at the same moment: the pidfile is written first, then the
 * readiness descriptor gets its newline, then systemd is told. A pidfile
 * that cannot be written stops the daemon (daemon_start() fails, or the
 * loop ends with the error): a script waiting for it would wait in vain. */
static void daemon_maybe_ready(struct daemon *daemon)
{
    if (daemon->ready_sent || daemon->result < 0)
        return;
    const struct model *model = daemon->model;
    if (daemon->options.ready_when_all && model_settled_bridge_count(model) < model->bridge_count)
        return;
    if (daemon->options.pidfile) {
        int r = pidfile_write(daemon->options.pidfile);
        if (r < 0) {
            log_message(LOG_ERR, "cannot write the pidfile %s: %s; stopping",
                        daemon->options.pidfile, strerror(-r));
            daemon->result = r;
            ev_break(daemon->loop, EVBREAK_ALL);
            return;
        }
        daemon->pidfile_written = true;
    }
    if (daemon->options.ready_fd > 0) {
        daemon_write_ready_fd(daemon->options.ready_fd);
        daemon->options.ready_fd = 0;
    }
    daemon->ready_sent = true;
    notify_systemd("READY=1");
}

static void daemon_update_status(struct daemon *daemon)
{
    char line[512];
    daemon_format_status(daemon, line, sizeof(line));
    daemon_send_status(daemon, line);
    if (daemon->control)
        daemon_maybe_ready(daemon);
    daemon_answer_waits(daemon);
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
 * Every change a status answer shows comes through here: the model's
 * observer, each batch of xenstore events (the probes', signallers' and
 * domain events), the connection lost, a reload, an announcement refused. */
void daemon_schedule_status(struct daemon *daemon)
{
    control_answer_unref(daemon->status_answer);
    daemon->status_answer = NULL;
    ev_prepare_start(daemon->loop, &daemon->status_pending);
}

/* Logged after the frontend was told: logging is not on its critical path. */
static void log_transition(const struct bridge *bridge, const struct backend *cause)
{
    const struct frontend *frontend = bridge->frontend;
    if (bridge->state == BRIDGE_READY) {
        if (cause)
            log_bridge(LOG_NOTICE, bridge, cause,
                       "bridge %s (frontend %s, domid %u) ready: last backend %s is up",
                       bridge->name, frontend->name, frontend->domid, cause->name);
        else
            log_bridge(LOG_NOTICE, bridge, NULL,
                       "bridge %s (frontend %s, domid %u) ready: all its backends are up",
                       bridge->name, frontend->name, frontend->domid);
        return;
    }
    /* A reload that gave the bridge a backend that is down names it. */
    for (size_t i = 0; !cause && i < bridge->backend_count; i++)
        if (bridge->backends[i]->down)
            cause = bridge->backends[i];
    log_bridge(LOG_WARNING, bridge, cause,
               "bridge %s (frontend %s, domid %u) waiting: backend %s went away%s%s",
               bridge->name, frontend->name, frontend->domid, cause ? cause->name : "?",
               cause && cause->detail ? ": " : "", cause && cause->detail ? cause->detail : "");
}

static void daemon_on_transition(struct bridge *bridge, enum bridge_state old_state,
                                 const struct backend *cause, void *userdata)
{
    struct daemon *daemon = userdata;
    sources_publish(&daemon->sources, bridge);
    log_transition(bridge, cause);
    daemon_schedule_status(daemon);
}

/* "backend X up/down", when it differs from what was last observed of it: a
 * backend looked at again (reload, xenstore back) and found as it was is no
 * news. */
static void daemon_on_backend(struct backend *backend, enum backend_readiness last_known,
                              void *userdata)
{
    enum backend_readiness now = backend_readiness(backend);
    if (now != BACKEND_UNOBSERVED && now != last_known)
        log_backend(LOG_INFO, backend, "backend %s %s%s%s", backend->name,
                    now == BACKEND_UP ? "up" : "down",
                    now == BACKEND_DOWN && backend->detail ? ": " : "",
                    now == BACKEND_DOWN && backend->detail ? backend->detail : "");
    daemon_schedule_status(userdata);
}

/* Signallers hear of it too: a guest held paused may be let go now
 * (unpause-on-timeout = yes). What the others show does not change. */
static void daemon_on_degraded(struct bridge *bridge, void *userdata)
{
    struct daemon *daemon = userdata;
    sources_publish(&daemon->sources, bridge);
    daemon_schedule_status(daemon);
}

static void daemon_on_xenstore_lost(void *userdata);

/* xenstored may also have dropped our watch events (it does so silently at
 * a domain's memory quota): once what was refused goes through again (or
 * nothing was left to try), every backend is read again. */
static void daemon_on_xenstore_batch(void *userdata)
{
    struct daemon *daemon = userdata;
    daemon_schedule_status(daemon);
    int r = sources_retry(&daemon->sources);
    if (!xenstore_memory_short(daemon->xenstore) || (r < 0 && xenstore_error_is_room(r)))
        return;
    xenstore_memory_recovered(daemon->xenstore);
    log_message(LOG_WARNING, "xenstored refused a request of mine for lack of memory (domain "
                "%u's memory quota, xenstored -Q memory, is or was used up): watch events may "
                "have been dropped meanwhile; reading every backend again",
                xenstore_domid(daemon->xenstore));
    sources_xenstore_reread(&daemon->sources);
}

/* While xenstored is not up at start: said in STATUS=, and logged the first
 * time (then at debug level). */
static void daemon_on_xenstore_waiting(const char *why, void *userdata)
{
    struct daemon *daemon = userdata;
    log_message(daemon->waited_for_xenstore ? LOG_DEBUG : LOG_NOTICE,
                "waiting for xenstored: %s", why);
    daemon->waited_for_xenstore = true;
    char line[256];
    snprintf(line, sizeof(line), "waiting for xenstored: %s", why);
    daemon_send_status(daemon, line);
}

/* Opens the xenstore connection and hooks its callbacks to the daemon. At
 * start (wait), xenstored not being up yet is waited for; at a reload, it
 * refuses the reload. */
static int daemon_connect(struct daemon *daemon, bool wait)
{
    int r = wait ? xenstore_start_wait(daemon->loop, &daemon->xenstore,
                                       daemon_on_xenstore_waiting, daemon)
                 : xenstore_open(&daemon->xenstore, daemon->loop);
    if (r < 0) {
        if (r != -ECANCELED)
            log_message(LOG_ERR, "cannot connect to xenstore: %s", strerror(-r));
        return r;
    }
    log_message(LOG_INFO, "connected to xenstore as domain %u", xenstore_domid(daemon->xenstore));
    xenstore_set_lost_callback(daemon->xenstore, daemon_on_xenstore_lost, daemon);
    xenstore_set_batch_callback(daemon->xenstore, daemon_on_xenstore_batch, daemon);
    sources_set_xenstore(&daemon->sources, daemon->xenstore);
    return 0;
}

static void daemon_disconnect(struct daemon *daemon)
{
    sources_set_xenstore(&daemon->sources, NULL);
    xenstore_close(daemon->xenstore);
    daemon->xenstore = NULL;
    ev_timer_stop(daemon->loop, &daemon->reconnect);
}

static uint64_t now_usec(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

static bool bridge_carried(const struct bridge *bridge, const struct model *old)
{
    const struct bridge *before = old ? model_find_bridge(old, bridge->name) : NULL;
    return before && before->frontend->domid == bridge->frontend->domid;
}

/*
 * Takes model as the running configuration, carrying what is known from the
 * running one (NULL at start): every source is staged for it first, and
 * only when all of them could be is anything switched over. strict (a
 * reload): what cannot be acquired fails it, and the running configuration
 * goes on untouched. A new bridge starts from what an earlier instance
 * showed its frontend, so that what changed since is a transition.
 */
static int daemon_apply(struct daemon *daemon, struct model *model, bool strict)
{
    struct model *old = daemon->model;
    int r = old ? model_carry(model, old) : 0;
    if (r == 0)
        r = sources_stage(&daemon->sources, model, strict);
    if (r < 0)
        return r;
    struct bridge_timeouts *timeouts = NULL;
    r = bridge_timeouts_new(&timeouts, daemon->loop, model, daemon_on_degraded, daemon);
    if (r < 0) {
        sources_abort(&daemon->sources);
        return r;
    }
    /* From here on nothing fails. */
    uint64_t now = now_usec();
    for (size_t i = 0; i < model->bridge_count; i++) {
        struct bridge *bridge = model->bridges[i];
        if (bridge_carried(bridge, old))
            continue;
        int shown = sources_shown(&daemon->sources, bridge);
        if (shown >= 0)
            model_seed_bridge(model, bridge, (enum bridge_state)shown);
        bridge->state_since_usec = now;
    }
    model_set_observer(model, &(struct model_observer){
        .on_transition = daemon_on_transition,
        .on_backend = daemon_on_backend,
        .userdata = daemon,
    });
    daemon->model = model;
    /* At start every watch is new: their first events announce nothing
     * the first scan does not read. */
    if (!old && daemon->xenstore)
        xenstore_discard_events(daemon->xenstore);
    sources_commit(&daemon->sources);
    model_settle(model);
    sources_start(&daemon->sources);
    bridge_timeouts_free(daemon->bridge_timeouts);
    daemon->bridge_timeouts = timeouts;
    model_free(old);
    daemon_schedule_status(daemon);
    return 0;
}

/* xenstored went away (a dom0 daemon on its socket; a DomD on the ring
 * cannot see this). What does not go through xenstore goes on; what does
 * waits, with capped exponential backoff between attempts to reconnect; the
 * timer runs only while disconnected. */
enum { RECONNECT_FIRST_MS = 100, RECONNECT_MAX_MS = 5000 };

static void daemon_on_xenstore_lost(void *userdata)
{
    struct daemon *daemon = userdata;
    sources_xenstore_lost(&daemon->sources);
    daemon_schedule_status(daemon);
    daemon->reconnect_delay = 0;
    ev_timer_set(&daemon->reconnect, 0, 0);
    ev_timer_start(daemon->loop, &daemon->reconnect);
}

static void daemon_on_reconnect(struct ev_loop *loop, ev_timer *timer, int revents)
{
    struct daemon *daemon = timer->data;
    int r = xenstore_reconnect(daemon->xenstore);
    if (r == 0) {
        log_message(LOG_NOTICE, "reconnected to xenstore: watches armed again, reading every "
                                "backend and putting the nodes right");
        xenstore_discard_events(daemon->xenstore);
        sources_xenstore_back(&daemon->sources);
        daemon_schedule_status(daemon);
        return;
    }
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
    notify_systemd("WATCHDOG=1");
}

/* Wait-for-all mode: systemd would kill a daemon that legitimately waits
 * past TimeoutStartSec=. The wait is bounded by the bridges' start-up
 * timeouts (a bridge past its timeout is degraded and counts as settled):
 * the start timeout is extended once, to the longest of them and a margin,
 * never further. A bridge without a timeout is waited for within the
 * unit's own TimeoutStartSec=. */
enum { EXTEND_MARGIN_SECONDS = 5 };

static void daemon_extend_start(struct daemon *daemon)
{
    unsigned int longest = 0;
    for (size_t i = 0; i < daemon->model->bridge_count; i++)
        if (daemon->model->bridges[i]->timeout_seconds > longest)
            longest = daemon->model->bridges[i]->timeout_seconds;
    if (!longest)
        return;
    uint64_t usec = ((uint64_t)longest + EXTEND_MARGIN_SECONDS) * 1000000u;
    notify_systemd("EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)usec);
    log_message(LOG_INFO, "start timeout extended to %u s: the longest bridge timeout and %d s",
                longest + EXTEND_MARGIN_SECONDS, EXTEND_MARGIN_SECONDS);
}

/* After a reload that was refused: STATUS= says so, and systemd learns that
 * the reload is over. */
static void daemon_keep_running_configuration(struct daemon *daemon)
{
    char line[512];
    daemon_format_status(daemon, line, sizeof(line));
    char failed[600];
    snprintf(failed, sizeof(failed), "reload failed, kept the running configuration; %s", line);
    daemon_send_status(daemon, failed);
    if (daemon->ready_sent)
        notify_systemd("READY=1");
}

/* The reason a reload failed, for the log, STATUS= and xenreadyctl. */
static int reload_refused(struct daemon *daemon, int r, char *reason, size_t size,
                          const char *format, ...) __attribute__((format(printf, 5, 6)));

static int reload_refused(struct daemon *daemon, int r, char *reason, size_t size,
                          const char *format, ...)
{
    char text[384];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    if (reason)
        snprintf(reason, size, "reload failed: %s; the running configuration was kept", text);
    log_message(LOG_ERR, "reload failed: %s; keeping the running configuration", text);
    daemon_keep_running_configuration(daemon);
    return r;
}

int daemon_reload(struct daemon *daemon, struct config_report *report, char *reason,
                  size_t size)
{
    struct config_report local = {0};
    if (!report)
        report = &local;
    if (daemon->ready_sent)
        notify_systemd("RELOADING=1");
    log_message(LOG_NOTICE, "reloading the configuration from %s", daemon->options.config_file);
    struct model *model = NULL;
    int r = config_load(daemon->options.config_file, daemon->options.config_dir, &model, report);
    for (size_t i = 0; i < report->line_count; i++)
        log_message(strstr(report->lines[i], ": error: ") ? LOG_ERR : LOG_WARNING, "%s",
                    report->lines[i]);
    config_report_clear(&local);
    if (r < 0)
        return reload_refused(daemon, -EINVAL, reason, size, "the new configuration has errors");
    if (daemon->xenstore && !xenstore_connected(daemon->xenstore)) {
        model_free(model);
        return reload_refused(daemon, -ENOTCONN, reason, size, "the xenstore connection is "
                              "lost (reconnecting); reload once it is back");
    }
    /* Connected first when the running configuration had no need: without
     * xenstore, the new one could not start, and the running one goes on. */
    bool connected_now = false;
    if (model_needs_xenstore(model) && !daemon->xenstore) {
        r = daemon_connect(daemon, false);
        if (r < 0) {
            model_free(model);
            return reload_refused(daemon, -ENOTCONN, reason, size, "the new configuration "
                                  "uses xenstore, which cannot be reached (%s)", strerror(-r));
        }
        connected_now = true;
    }
    r = daemon_apply(daemon, model, true);
    if (r < 0) {
        model_free(model);
        if (connected_now)
            daemon_disconnect(daemon);
        return reload_refused(daemon, r, reason, size, "%s (see the lines above)",
                              strerror(-r));
    }
    if (connected_now)
        xenstore_start(daemon->xenstore);
    if (!model_needs_xenstore(model) && daemon->xenstore) {
        /* A xenstore-free system (dom0less without it) has nothing to talk to. */
        daemon_disconnect(daemon);
        log_message(LOG_INFO, "no backend or bridge uses xenstore: running without a "
                              "xenstore connection");
    }
    daemon_update_status(daemon);
    log_message(LOG_NOTICE, "reloaded: %zu frontend(s), %zu bridge(s), %zu backend(s); %s",
                model->frontend_count, model->bridge_count, model->backend_count,
                daemon->status_line ? daemon->status_line : "");
    if (daemon->ready_sent)
        notify_systemd("READY=1");
    return 0;
}

static void daemon_on_sighup(struct ev_loop *loop, ev_signal *watcher, int revents)
{
    daemon_reload(watcher->data, NULL, NULL, 0);
}

static void daemon_on_stop_signal(struct ev_loop *loop, ev_signal *watcher, int revents)
{
    log_message(LOG_INFO, "received signal %d, stopping", watcher->signum);
    ev_break(loop, EVBREAK_ALL);
}

/* /run/xenready/control -> /run/xenready: what must survive a restart is
 * kept beside the control socket. */
static char *state_directory_of(const char *control_socket)
{
    const char *slash = strrchr(control_socket, '/');
    if (!slash)
        return strdup(".");
    if (slash == control_socket)
        return strdup("/");
    return strndup(control_socket, (size_t)(slash - control_socket));
}

/* Backend owners keep room on the control socket however many others
 * connect: their "xenreadyctl ready" must get through. */
static bool daemon_reserves(void *context, uid_t uid)
{
    const struct model *model = ((struct daemon *)context)->model;
    for (size_t i = 0; i < model->backend_count; i++) {
        const struct backend *backend = model->backends[i];
        if (backend->probe == PROBE_ANNOUNCE && backend->owner == OWNER_UID
            && backend->owner_uid == uid)
            return true;
    }
    return false;
}

int daemon_start(struct daemon *daemon, const struct daemon_options *options,
                 struct model *model)
{
    *daemon = (struct daemon){.options = *options, .lock_fd = -1};
    daemon->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
    daemon->state_directory = state_directory_of(options->control_socket);
    if (!daemon->loop || !daemon->state_directory) {
        model_free(model);
        return -ENOMEM;
    }
    sources_init(&daemon->sources, daemon->loop, daemon->state_directory);
    ev_signal_init(&daemon->on_sigterm, daemon_on_stop_signal, SIGTERM);
    ev_signal_init(&daemon->on_sigint, daemon_on_stop_signal, SIGINT);
    ev_signal_init(&daemon->on_sighup, daemon_on_sighup, SIGHUP);
    daemon->on_sighup.data = daemon;
    ev_init(&daemon->watchdog, daemon_on_watchdog);
    ev_prepare_init(&daemon->status_pending, daemon_on_prepare);
    daemon->status_pending.data = daemon;
    ev_init(&daemon->reconnect, daemon_on_reconnect);
    daemon->reconnect.data = daemon;

    /* The daemon's own descriptors first (the reserve for sd_notify(), its
     * lock, libev's signal pipe, xenstore, the control socket), before the
     * first scan takes one per followed process: with too many backends
     * for the descriptor limit, those are refused (and said so), not the
     * daemon itself. */
    int r = descriptor_reserve_init();
    if (r < 0) {
        model_free(model);
        return r;
    }
    /* One daemon per runtime directory: a second would take over the
     * control socket and write the same nodes. */
    r = instance_lock(daemon->state_directory, &daemon->lock_fd);
    if (r < 0) {
        model_free(model);
        return r;
    }
    /* Stop signals are served while xenstored is waited for; a reload is
     * not, as nothing runs yet to reload. */
    ev_signal_start(daemon->loop, &daemon->on_sigterm);
    ev_signal_start(daemon->loop, &daemon->on_sigint);
    if (model_needs_xenstore(model))
        r = daemon_connect(daemon, true);
    else
        log_message(LOG_INFO, "no backend or bridge uses xenstore: running without a "
                              "xenstore connection");
    if (r < 0) {
        model_free(model);
        return r;
    }
    size_t command_count;
    const struct control_command *commands = daemon_commands(&command_count);
    const struct control_server_options control = {
        .path = options->control_socket,
        .has_group = options->has_control_group,
        .group = options->control_group,
        .reserved = daemon_reserves,
    };
    r = control_server_new(&daemon->control, daemon->loop, &control, commands, command_count,
                           daemon);
    if (r < 0) {
        model_free(model);
        return r;
    }
    ev_signal_start(daemon->loop, &daemon->on_sighup);
    r = daemon_apply(daemon, model, false);
    if (r < 0) {
        if (daemon->model != model)
            model_free(model);
        return r;
    }
    if (daemon->xenstore)
        xenstore_start(daemon->xenstore);
    uint64_t watchdog_usec = notify_watchdog_usec();
    if (watchdog_usec) {
        /* Half the interval, as sd_watchdog_enabled(3) recommends. */
        ev_tstamp interval = (ev_tstamp)watchdog_usec / 2e6;
        ev_timer_set(&daemon->watchdog, interval, interval);
        ev_timer_start(daemon->loop, &daemon->watchdog);
        log_message(LOG_INFO, "watchdog: WATCHDOG=1 every %.3f s", interval);
    }

    daemon_update_status(daemon);
    if (daemon->result < 0)
        return daemon->result;   /* the pidfile could not be written */
    log_message(LOG_NOTICE, "started: %zu frontend(s), %zu bridge(s), %zu backend(s); %s",
                daemon->model->frontend_count, daemon->model->bridge_count,
                daemon->model->backend_count, daemon->status_line ? daemon->status_line : "");
    daemon_maybe_ready(daemon);
    if (!daemon->ready_sent) {
        log_message(LOG_NOTICE, "waiting for every bridge to be ready (or degraded) before "
                                "READY=1");
        daemon_extend_start(daemon);
    }
    return 0;
}

int daemon_run(struct daemon *daemon)
{
    ev_run(daemon->loop, 0);
    notify_systemd("STOPPING=1");
    return daemon->result;
}

void daemon_finish(struct daemon *daemon)
{
    if (daemon->loop) {
        ev_signal_stop(daemon->loop, &daemon->on_sigterm);
        ev_signal_stop(daemon->loop, &daemon->on_sigint);
        ev_signal_stop(daemon->loop, &daemon->on_sighup);
        ev_timer_stop(daemon->loop, &daemon->watchdog);
        ev_timer_stop(daemon->loop, &daemon->reconnect);
        ev_prepare_stop(daemon->loop, &daemon->status_pending);
    }
    control_server_free(daemon->control);
    daemon->control = NULL;
    control_answer_unref(daemon->status_answer);
    bridge_timeouts_free(daemon->bridge_timeouts);
    sources_finish(&daemon->sources);
    xenstore_close(daemon->xenstore);
    model_free(daemon->model);
    free(daemon->status_line);
    free(daemon->state_directory);
    /* Gone with the daemon, before the lock that a successor takes. */
    if (daemon->pidfile_written)
        pidfile_remove(daemon->options.pidfile);
    if (daemon->options.ready_fd > 0)
        close(daemon->options.ready_fd);   /* never ready: end of file for the reader */
    instance_unlock(daemon->lock_fd);
    if (daemon->loop)
        ev_loop_destroy(daemon->loop);
    descriptor_reserve_finish();
    *daemon = (struct daemon){0};
}
