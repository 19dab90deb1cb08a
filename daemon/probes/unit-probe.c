// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Units through sd-bus, driven from the libev loop: the bus fd in an ev_io
 * whose events, and an ev_timer whose deadline, are refreshed from
 * sd_bus_get_events()/sd_bus_get_timeout() before the loop blocks (ev_prepare);
 * every call is asynchronous and the connection is closed without flushing,
 * so a slow, absent or wedged bus never blocks the daemon.
 *
 * systemd sends a unit's PropertiesChanged only while some client has called
 * Manager.Subscribe() (org.freedesktop.systemd1(5)), so the probe subscribes
 * before it asks for each unit: the signal match first, then Subscribe, then
 * GetUnit (LoadUnit for a unit not loaded yet) and Properties.GetAll; D-Bus
 * keeps a sender's messages in order, so no change falls between the answer
 * and the signals. Type=notify backends reach "active" after READY=1.
 *
 * While systemd is being asked (a new unit, the bus or systemd back after
 * being away) the unit is not observed, so its bridges keep their state; an
 * answer that has not come within UNIT_ANSWER_SECONDS counts as down. Without
 * a bus to connect to every unit backend is down with that reason; the probe
 * connects when the bus socket is created again.
 *
 * Anyone on the bus may send us a signal: a match names the well-known
 * sender, but the broker routes a signal addressed to our unique name to us
 * whoever sent it. So a unit's PropertiesChanged counts only from systemd's
 * current unique name, learned from the bus driver (GetNameOwner, and
 * NameOwnerChanged signals whose sender is the driver itself); anything else
 * is dropped and counted. Replies are the broker's to check (it delivers no
 * reply we did not ask for). At most BUS_BATCH messages are handled per loop
 * iteration: a flood delays the units' own signals, never signalling.
 */
#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "core/model.h"
#include "path-watch.h"
#include "probe.h"
#include "util/log.h"

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT "org.freedesktop.systemd1.Unit"
#define DEFAULT_BUS_SOCKET "/run/dbus/system_bus_socket"
/* Retries after the bus socket appeared (the daemon may not listen yet). */
#define RECONNECT_RETRIES 5
#define RECONNECT_DELAY_SECONDS 0.1
/* How long a unit may go unobserved while systemd is asked (xenreadyd(8)). */
#define UNIT_ANSWER_SECONDS 5.0
#define BUS_DRIVER "org.freedesktop.DBus"
/* Messages handled per loop iteration; the rest wait for the next one. */
#define BUS_BATCH 64

struct unit_consumer {
    struct backend *backend;
    bool liveness;           /* liveness-unit = rather than probe = unit */
};

struct unit_entry {
    struct unit_probe *probe;
    char *name;
    char *object_path;
    sd_bus_slot *call;       /* the pending GetUnit/LoadUnit/GetAll */
    char *active_state;
    char *load_state;
    char *detail;            /* why not active; NULL once active */
    bool observed;           /* detail is an observation, told to the consumers */
    ev_tstamp asked_at;      /* when it stopped being observed */
    bool missing_logged;
    struct unit_consumer *consumers;
    size_t consumer_count;
    /* The stage under way: the consumers it will have, and whether it is
     * kept (or made) for the staged model. */
    struct unit_consumer *staged_consumers;
    size_t staged_consumer_count;
    bool staged;
    bool fresh;
};

struct unit_probe {
    struct probe probe;
    struct ev_loop *loop;
    sd_bus *bus;
    /* A connection let go of from its own callback, closed at the next safe
     * point of the loop (reap). */
    sd_bus *closing;
    ev_prepare reap;
    ev_io io;
    ev_timer timeout;
    ev_prepare prepare;
    sd_bus_slot *match;
    sd_bus_slot *owner_match;    /* NameOwnerChanged of org.freedesktop.systemd1 */
    sd_bus_slot *owner_call;     /* GetNameOwner of org.freedesktop.systemd1 */
    sd_bus_slot *subscribe;
    char *systemd;               /* systemd's unique name now; NULL: unknown */
    unsigned long forged;        /* signals dropped for their sender */
    ev_idle more;                /* messages left after a batch */
    struct unit_entry **units;
    size_t count;
    struct unit_entry **staged;
    size_t staged_count;
    struct model *staged_model;
    ev_timer answer_deadline;    /* runs while some unit is not observed */
    char *bus_socket;        /* the socket to watch for reconnecting; may be NULL */
    struct path_watcher *watcher;
    struct path_watch *bus_watch;
    ev_timer reconnect;
    unsigned int reconnect_left;
    char *bus_problem;       /* last logged */
};

static struct unit_probe *to_unit_probe(struct probe *probe)
{
    return (struct unit_probe *)probe;
}

/* Tells the consumers what is observed of the unit, or that it is not. */
static void unit_report(struct unit_entry *entry)
{
    struct model *model = entry->probe->probe.model;
    bool active = entry->detail == NULL;
    for (size_t i = 0; i < entry->consumer_count; i++) {
        struct unit_consumer *consumer = &entry->consumers[i];
        if (!entry->observed && consumer->liveness)
            model_forget_backend_alive(model, consumer->backend, entry->detail);
        else if (!entry->observed)
            model_forget_backend(model, consumer->backend, entry->detail);
        else if (consumer->liveness)
            model_set_backend_alive(model, consumer->backend, active, entry->detail);
        else
            model_set_backend_ready(model, consumer->backend, active, entry->detail);
    }
}

static void replace(char **slot, const char *value)
{
    free(*slot);
    *slot = value ? strdup(value) : NULL;
}

/* An observation: active (detail NULL) or why not. */
static void unit_observe(struct unit_entry *entry, const char *detail)
{
    replace(&entry->detail, detail);
    if (detail && !entry->detail)
        entry->detail = strdup("out of memory");
    entry->observed = true;
    unit_report(entry);
}

static void deadline_arm(struct unit_probe *probe);

/* No longer observed (systemd is being asked, or is away): the consumers
 * keep their bridges' state until the answer, or UNIT_ANSWER_SECONDS. */
static void unit_forget(struct unit_entry *entry, const char *why)
{
    replace(&entry->active_state, NULL);
    replace(&entry->load_state, NULL);
    replace(&entry->object_path, NULL);
    char detail[512];
    snprintf(detail, sizeof(detail), "unit %s: %s", entry->name, why);
    replace(&entry->detail, detail);
    if (entry->observed || !entry->asked_at)
        entry->asked_at = ev_now(entry->probe->loop);
    entry->observed = false;
    unit_report(entry);
    deadline_arm(entry->probe);
}

/* Re-derives the unit's readiness from the last properties seen. */
static void unit_update(struct unit_entry *entry)
{
    char detail[512];
    if (entry->load_state && strcmp(entry->load_state, "not-found") == 0) {
        snprintf(detail, sizeof(detail), "unit %s does not exist", entry->name);
        if (!entry->missing_logged)
            log_message(LOG_WARNING, "%s (systemd: LoadState=not-found)", detail);
        entry->missing_logged = true;
        unit_observe(entry, detail);
        return;
    }
    entry->missing_logged = false;
    if (!entry->active_state) {
        unit_forget(entry, "asking systemd");
    } else if (strcmp(entry->active_state, "active") == 0
               || strcmp(entry->active_state, "reloading") == 0) {
        unit_observe(entry, NULL);
    } else {
        snprintf(detail, sizeof(detail), "unit %s is %s", entry->name, entry->active_state);
        unit_observe(entry, detail);
    }
}

/* The oldest question without an answer decides when the deadline is. */
static void deadline_arm(struct unit_probe *probe)
{
    ev_tstamp oldest = 0;
    for (size_t i = 0; i < probe->count; i++) {
        const struct unit_entry *entry = probe->units[i];
        if (!entry->observed && entry->asked_at && (!oldest || entry->asked_at < oldest))
            oldest = entry->asked_at;
    }
    ev_timer_stop(probe->loop, &probe->answer_deadline);
    if (!oldest)
        return;
    ev_tstamp left = oldest + UNIT_ANSWER_SECONDS - ev_now(probe->loop);
    ev_timer_set(&probe->answer_deadline, left > 0 ? left : 0, 0);
    ev_timer_start(probe->loop, &probe->answer_deadline);
}

static void deadline_on_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
    struct unit_probe *probe = timer->data;
    ev_tstamp now = ev_now(loop);
    for (size_t i = 0; i < probe->count; i++) {
        struct unit_entry *entry = probe->units[i];
        if (entry->observed || !entry->asked_at
            || entry->asked_at + UNIT_ANSWER_SECONDS > now + 1e-3)
            continue;
        char detail[512];
        snprintf(detail, sizeof(detail), "unit %s: systemd did not answer within %.0f s",
                 entry->name, UNIT_ANSWER_SECONDS);
        log_message(LOG_WARNING, "%s; it counts as down until systemd answers", detail);
        entry->asked_at = 0;
        unit_observe(entry, detail);
    }
    deadline_arm(probe);
}

/* Reads the ActiveState and LoadState members of an a{sv}. */
static int read_unit_properties(sd_bus_message *message, struct unit_entry *entry)
{
    int r = sd_bus_message_enter_container(message, 'a', "{sv}");
    if (r < 0)
        return r;
    while ((r = sd_bus_message_enter_container(message, 'e', "sv")) > 0) {
        const char *name, *value;
        if ((r = sd_bus_message_read(message, "s", &name)) < 0)
            return r;
        if (strcmp(name, "ActiveState") == 0 || strcmp(name, "LoadState") == 0) {
            if ((r = sd_bus_message_read(message, "v", "s", &value)) < 0)
                return r;
            replace(name[0] == 'A' ? &entry->active_state : &entry->load_state, value);
        } else if ((r = sd_bus_message_skip(message, "v")) < 0) {
            return r;
        }
        if ((r = sd_bus_message_exit_container(message)) < 0)
            return r;
    }
    if (r < 0)
        return r;
    return sd_bus_message_exit_container(message);
}

static void unit_failed(struct unit_entry *entry, const sd_bus_error *error, const char *what)
{
    char detail[512];
    if (error && sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                        SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
        /* Logged once by on_subscribed(); NameOwnerChanged resumes. */
        snprintf(detail, sizeof(detail), "unit %s: systemd is not on the system bus", entry->name);
        unit_observe(entry, detail);
        return;
    }
    snprintf(detail, sizeof(detail), "systemd did not answer %s for unit %s: %s", what,
             entry->name, error && error->message ? error->message : "no reason given");
    if (!entry->detail || strcmp(entry->detail, detail) != 0)
        log_message(LOG_WARNING, "%s", detail);
    unit_observe(entry, detail);
}

static int unit_on_properties(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    struct unit_entry *entry = userdata;
    entry->call = sd_bus_slot_unref(entry->call);
    const sd_bus_error *error = sd_bus_message_get_error(reply);
    if (error) {
        unit_failed(entry, error, "Properties.GetAll");
        return 0;
    }
    if (read_unit_properties(reply, entry) < 0) {
        unit_failed(entry, NULL, "a readable Properties.GetAll");
        return 0;
    }
    unit_update(entry);
    return 0;
}

static void unit_get_properties(struct unit_entry *entry)
{
    sd_bus_slot_unref(entry->call);
    entry->call = NULL;
    int r = sd_bus_call_method_async(entry->probe->bus, &entry->call, SYSTEMD_SERVICE,
                                     entry->object_path, "org.freedesktop.DBus.Properties",
                                     "GetAll", unit_on_properties, entry, "s", SYSTEMD_UNIT);
    if (r < 0)
        unit_failed(entry, &SD_BUS_ERROR_MAKE_CONST("", strerror(-r)), "Properties.GetAll");
}

static void unit_lookup(struct unit_entry *entry, const char *method);

static int unit_on_path(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    struct unit_entry *entry = userdata;
    /* load_state is "loading" while LoadUnit is asked, NULL while GetUnit is. */
    bool get_unit = !entry->load_state;
    entry->call = sd_bus_slot_unref(entry->call);
    const sd_bus_error *error = sd_bus_message_get_error(reply);
    if (error && sd_bus_error_has_name(error, "org.freedesktop.systemd1.NoSuchUnit")) {
        /* Not loaded: LoadUnit loads it, or says it does not exist. */
        if (get_unit) {
            replace(&entry->load_state, "loading");
            unit_lookup(entry, "LoadUnit");
            return 0;
        }
        replace(&entry->load_state, "not-found");
        unit_update(entry);
        return 0;
    }
    if (error) {
        unit_failed(entry, error, get_unit ? "GetUnit" : "LoadUnit");
        return 0;
    }
    const char *path;
    if (sd_bus_message_read(reply, "o", &path) < 0) {
        unit_failed(entry, NULL, "a unit path");
        return 0;
    }
    replace(&entry->object_path, path);
    unit_get_properties(entry);
    return 0;
}

static void unit_lookup(struct unit_entry *entry, const char *method)
{
    sd_bus_slot_unref(entry->call);
    entry->call = NULL;
    int r = sd_bus_call_method_async(entry->probe->bus, &entry->call, SYSTEMD_SERVICE,
                                     SYSTEMD_PATH, SYSTEMD_MANAGER, method, unit_on_path, entry,
                                     "s", entry->name);
    if (r < 0)
        unit_failed(entry, &SD_BUS_ERROR_MAKE_CONST("", strerror(-r)), method);
}

/* Asks systemd about the unit from scratch; until it answers the unit is
 * not observed. */
static void unit_ask(struct unit_entry *entry)
{
    unit_forget(entry, "asking systemd");
    unit_lookup(entry, "GetUnit");
}

/* Whether message comes from sender (a unique name, or the bus driver); a
 * forged one is logged the first time and every 1000th. */
static bool sender_is(struct unit_probe *probe, sd_bus_message *message, const char *sender)
{
    const char *from = sd_bus_message_get_sender(message);
    if (from && sender && strcmp(from, sender) == 0)
        return true;
    /* Before systemd's name is known nothing of it is taken: it is asked
     * once it is (see on_systemd_owner()). */
    if (probe->forged++ % 1000 == 0)
        log_message(LOG_WARNING, "dropped a %s signal from %s, which is not %s (%lu so far)",
                    sd_bus_message_get_member(message) ? sd_bus_message_get_member(message)
                                                       : "?",
                    from ? from : "nobody", sender ? sender : "systemd (not known yet)",
                    probe->forged);
    return false;
}

static int unit_on_properties_changed(sd_bus_message *message, void *userdata,
                                      sd_bus_error *ret_error)
{
    struct unit_probe *probe = userdata;
    if (!sender_is(probe, message, probe->systemd))
        return 0;
    const char *path = sd_bus_message_get_path(message), *interface;
    struct unit_entry *entry = NULL;
    for (size_t i = 0; path && i < probe->count && !entry; i++)
        if (probe->units[i]->object_path && strcmp(probe->units[i]->object_path, path) == 0)
            entry = probe->units[i];
    if (!entry || sd_bus_message_read(message, "s", &interface) < 0
        || strcmp(interface, SYSTEMD_UNIT) != 0)
        return 0;
    if (read_unit_properties(message, entry) < 0)
        return 0;
    /* Properties only invalidated carry no value: ask for them. */
    bool invalidated = false;
    const char *name;
    if (sd_bus_message_enter_container(message, 'a', "s") > 0) {
        while (sd_bus_message_read(message, "s", &name) > 0)
            invalidated |= strcmp(name, "ActiveState") == 0 || strcmp(name, "LoadState") == 0;
        sd_bus_message_exit_container(message);
    }
    if (invalidated)
        unit_get_properties(entry);
    else
        unit_update(entry);
    return 0;
}

static int on_subscribed(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    struct unit_probe *probe = userdata;
    const sd_bus_error *error = sd_bus_message_get_error(reply);
    /* Not on the bus yet: NameOwnerChanged brings us back here. */
    if (error && sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                        SD_BUS_ERROR_NAME_HAS_NO_OWNER))
        log_message(LOG_WARNING, "systemd is not on the system bus; %zu unit(s) wait for it",
                    probe->count);
    else if (error)
        log_message(LOG_WARNING, "systemd refused Subscribe() (%s): unit changes will not be seen",
                    error->message ? error->message : error->name);
    probe->subscribe = sd_bus_slot_unref(probe->subscribe);
    return 0;
}

static void bus_drop(struct unit_probe *probe, const char *why);

/* Subscribes and asks for every unit: on connecting, and whenever systemd
 * (re)appears on the bus. */
static int systemd_follow(struct unit_probe *probe)
{
    probe->subscribe = sd_bus_slot_unref(probe->subscribe);
    int r = sd_bus_call_method_async(probe->bus, &probe->subscribe, SYSTEMD_SERVICE, SYSTEMD_PATH,
                                     SYSTEMD_MANAGER, "Subscribe", on_subscribed, probe, "");
    if (r < 0)
        return r;
    for (size_t i = 0; i < probe->count; i++)
        unit_ask(probe->units[i]);
    return 0;
}

/* Observed down, because the probe cannot ask (no bus). */
static void unit_observe_problem(struct unit_entry *entry, const char *why)
{
    char detail[512];
    replace(&entry->active_state, NULL);
    replace(&entry->load_state, NULL);
    replace(&entry->object_path, NULL);
    snprintf(detail, sizeof(detail), "unit %s: %s", entry->name, why);
    unit_observe(entry, detail);
}

static void units_observe_all(struct unit_probe *probe, const char *why)
{
    for (size_t i = 0; i < probe->count; i++)
        unit_observe_problem(probe->units[i], why);
}

static void units_forget_all(struct unit_probe *probe, const char *why)
{
    for (size_t i = 0; i < probe->count; i++)
        unit_forget(probe->units[i], why);
}

/* systemd's unique name is new_owner ("" when it left the bus). */
static void systemd_owner_is(struct unit_probe *probe, const char *new_owner)
{
    free(probe->systemd);
    probe->systemd = new_owner[0] ? strdup(new_owner) : NULL;
}

static int on_systemd_owner(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    struct unit_probe *probe = userdata;
    probe->owner_call = sd_bus_slot_unref(probe->owner_call);
    const char *owner;
    if (probe->systemd)
        return 0;   /* NameOwnerChanged was first */
    if (sd_bus_message_is_method_error(reply, NULL)
        || sd_bus_message_read(reply, "s", &owner) < 0) {
        /* Not on the bus (yet): NameOwnerChanged will say when it is. */
        log_message(LOG_WARNING, "systemd is not on the system bus; %zu unit(s) wait for it",
                    probe->count);
        units_observe_all(probe, "systemd is not on the system bus");
        return 0;
    }
    systemd_owner_is(probe, owner);
    if (systemd_follow(probe) < 0)
        units_observe_all(probe, "cannot ask systemd");
    return 0;
}

static int on_systemd_owner_changed(sd_bus_message *message, void *userdata,
                                    sd_bus_error *ret_error)
{
    struct unit_probe *probe = userdata;
    const char *name, *old_owner, *new_owner;
    /* Only the bus driver says who owns a name. */
    if (!sender_is(probe, message, BUS_DRIVER))
        return 0;
    if (sd_bus_message_read(message, "sss", &name, &old_owner, &new_owner) < 0
        || strcmp(name, SYSTEMD_SERVICE) != 0)
        return 0;
    systemd_owner_is(probe, new_owner);
    if (new_owner[0]) {
        log_message(LOG_INFO, "systemd is on the system bus (%s); following %zu unit(s)",
                    new_owner, probe->count);
        if (systemd_follow(probe) < 0)
            units_observe_all(probe, "cannot ask systemd");
    } else {
        /* A daemon-reexec leaves the bus for a moment: the units' bridges
         * keep their state unless systemd stays away. */
        log_message(LOG_WARNING, "systemd left the system bus; %zu unit(s) wait for it",
                    probe->count);
        units_forget_all(probe, "systemd is not on the system bus");
    }
    return 0;
}

static void bus_process(struct unit_probe *probe)
{
    int r = 0;
    for (int handled = 0; probe->bus && handled < BUS_BATCH; handled++)
        if ((r = sd_bus_process(probe->bus, NULL)) <= 0)
            break;
    if (probe->bus && (r < 0 || sd_bus_is_open(probe->bus) <= 0)) {
        bus_drop(probe, "connection to the system bus lost");
        return;
    }
    /* More to do: after the other watchers' turn. */
    if (probe->bus && r > 0)
        ev_idle_start(probe->loop, &probe->more);
    else
        ev_idle_stop(probe->loop, &probe->more);
}

static void bus_on_more(struct ev_loop *loop, ev_idle *idle, int revents)
{
    bus_process(idle->data);
}

static void bus_on_io(struct ev_loop *loop, ev_io *io, int revents)
{
    bus_process(io->data);
}

static void bus_on_timeout(struct ev_loop *loop, ev_timer *timer, int revents)
{
    bus_process(timer->data);
}

/* Before the loop blocks: wait for what sd-bus wants, until when it wants. */
static void bus_on_prepare(struct ev_loop *loop, ev_prepare *prepare, int revents)
{
    struct unit_probe *probe = prepare->data;
    if (!probe->bus)
        return;
    int events = sd_bus_get_events(probe->bus);
    if (events < 0) {
        bus_drop(probe, "connection to the system bus lost");
        return;
    }
    int wanted = (events & POLLIN ? EV_READ : 0) | (events & POLLOUT ? EV_WRITE : 0);
    if (wanted != (probe->io.events & (EV_READ | EV_WRITE)) || !ev_is_active(&probe->io)) {
        ev_io_stop(loop, &probe->io);
        ev_io_set(&probe->io, sd_bus_get_fd(probe->bus), wanted);
        if (wanted)
            ev_io_start(loop, &probe->io);
    }
    ev_timer_stop(loop, &probe->timeout);
    uint64_t until;
    if (sd_bus_get_timeout(probe->bus, &until) > 0 && until != UINT64_MAX) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t now_usec = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
        ev_timer_set(&probe->timeout, until > now_usec ? (double)(until - now_usec) / 1e6 : 0., 0.);
        ev_timer_start(loop, &probe->timeout);
    }
}

static void bus_note_problem(struct unit_probe *probe, const char *problem)
{
    if (problem && probe->bus_problem && strcmp(problem, probe->bus_problem) == 0)
        return;
    replace(&probe->bus_problem, problem);
    if (problem)
        log_message(LOG_WARNING, "%s; %zu unit(s) wait for it%s%s", problem, probe->count,
                    probe->bus_socket ? ", watching " : "",
                    probe->bus_socket ? probe->bus_socket : "");
}

static void bus_on_reap(struct ev_loop *loop, ev_prepare *prepare, int revents)
{
    struct unit_probe *probe = prepare->data;
    ev_prepare_stop(loop, prepare);
    probe->closing = sd_bus_close_unref(probe->closing);
}

/* Lets go of the connection: never flushed (a broker that does not read
 * would hold the daemon for sd-bus's own timeouts, up to 90 s), and closed
 * only once the loop is out of its callbacks (bus_process() may be in them). */
static void bus_close(struct unit_probe *probe)
{
    for (size_t i = 0; i < probe->count; i++)
        probe->units[i]->call = sd_bus_slot_unref(probe->units[i]->call);
    for (size_t i = 0; i < probe->staged_count; i++)
        probe->staged[i]->call = sd_bus_slot_unref(probe->staged[i]->call);
    probe->match = sd_bus_slot_unref(probe->match);
    probe->owner_match = sd_bus_slot_unref(probe->owner_match);
    probe->owner_call = sd_bus_slot_unref(probe->owner_call);
    probe->subscribe = sd_bus_slot_unref(probe->subscribe);
    free(probe->systemd);
    probe->systemd = NULL;
    ev_io_stop(probe->loop, &probe->io);
    ev_timer_stop(probe->loop, &probe->timeout);
    ev_idle_stop(probe->loop, &probe->more);
    ev_prepare_stop(probe->loop, &probe->prepare);
    sd_bus_close_unref(probe->closing);
    probe->closing = probe->bus;
    probe->bus = NULL;
    if (probe->closing)
        ev_prepare_start(probe->loop, &probe->reap);
}

static void reconnect_soon(struct unit_probe *probe);

/* The connection broke: the units' bridges keep their state while the
 * probe connects again, for UNIT_ANSWER_SECONDS. A broker restarted on the
 * same socket (socket activation) makes no file event: a few attempts
 * follow at once, then the bus socket's next event. */
static void bus_drop(struct unit_probe *probe, const char *why)
{
    bus_close(probe);
    bus_note_problem(probe, why);
    units_forget_all(probe, why);
    reconnect_soon(probe);
}

static int bus_connect(struct unit_probe *probe)
{
    sd_bus *bus = NULL;
    int r = sd_bus_open_system(&bus);
    if (r < 0) {
        char why[256];
        snprintf(why, sizeof(why), "system bus unavailable: %s", strerror(-r));
        bus_note_problem(probe, why);
        units_observe_all(probe, why);
        return r;
    }
    probe->bus = bus;
    r = sd_bus_add_match_async(bus, &probe->owner_match,
                               "type='signal',sender='org.freedesktop.DBus',"
                               "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
                               "member='NameOwnerChanged',arg0='" SYSTEMD_SERVICE "'",
                               on_systemd_owner_changed, NULL, probe);
    if (r >= 0)
        r = sd_bus_call_method_async(bus, &probe->owner_call, BUS_DRIVER, "/org/freedesktop/DBus",
                                     BUS_DRIVER, "GetNameOwner", on_systemd_owner, probe, "s",
                                     SYSTEMD_SERVICE);
    if (r >= 0)
        r = sd_bus_match_signal_async(bus, &probe->match, SYSTEMD_SERVICE, NULL,
                                      "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                      unit_on_properties_changed, NULL, probe);
    /* systemd is asked once its name is known (on_systemd_owner()): what it
     * signals before is not taken, and is in the answers that follow. */
    if (r >= 0)
        units_forget_all(probe, "asking systemd");
    if (r < 0) {
        bus_close(probe);
        bus_note_problem(probe, "cannot talk on the system bus");
        units_observe_all(probe, "cannot talk on the system bus");
        return r;
    }
    bus_note_problem(probe, NULL);
    log_message(LOG_INFO, "connected to the system bus for %zu unit(s)", probe->count);
    ev_io_init(&probe->io, bus_on_io, sd_bus_get_fd(bus), 0);
    probe->io.data = probe;
    ev_prepare_start(probe->loop, &probe->prepare);
    return 0;
}

static void reconnect_on_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
    struct unit_probe *probe = timer->data;
    if (probe->bus || bus_connect(probe) == 0 || probe->reconnect_left == 0)
        return;
    probe->reconnect_left--;
    ev_timer_set(timer, RECONNECT_DELAY_SECONDS, 0.);
    ev_timer_start(loop, timer);
}

static void reconnect_soon(struct unit_probe *probe)
{
    probe->reconnect_left = RECONNECT_RETRIES;
    ev_timer_stop(probe->loop, &probe->reconnect);
    ev_timer_set(&probe->reconnect, RECONNECT_DELAY_SECONDS, 0.);
    ev_timer_start(probe->loop, &probe->reconnect);
}

static void bus_on_socket_event(struct path_watch *watch, void *userdata)
{
    struct unit_probe *probe = userdata;
    if (!probe->bus)
        reconnect_soon(probe);
}

static void entry_free(struct unit_entry *entry)
{
    sd_bus_slot_unref(entry->call);
    free(entry->name);
    free(entry->object_path);
    free(entry->active_state);
    free(entry->load_state);
    free(entry->detail);
    free(entry->consumers);
    free(entry->staged_consumers);
    free(entry);
}

static struct unit_entry *find_entry(struct unit_entry **entries, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(entries[i]->name, name) == 0)
            return entries[i];
    return NULL;
}

/* Stages backend as a consumer of the unit called name. */
static int stage_consumer(struct unit_probe *probe, const char *name, struct backend *backend,
                          bool liveness)
{
    struct unit_entry *entry = find_entry(probe->staged, probe->staged_count, name);
    if (!entry) {
        struct unit_entry **grown = realloc(probe->staged,
                                            (probe->staged_count + 1) * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        probe->staged = grown;
        entry = find_entry(probe->units, probe->count, name);
        if (!entry) {
            entry = calloc(1, sizeof(*entry));
            if (!entry || !(entry->name = strdup(name))) {
                free(entry);
                return -ENOMEM;
            }
            entry->probe = probe;
            entry->fresh = true;
        }
        entry->staged = true;
        probe->staged[probe->staged_count++] = entry;
    }
    struct unit_consumer *consumers = realloc(entry->staged_consumers,
                                              (entry->staged_consumer_count + 1)
                                                  * sizeof(*consumers));
    if (!consumers)
        return -ENOMEM;
    entry->staged_consumers = consumers;
    consumers[entry->staged_consumer_count++] = (struct unit_consumer){backend, liveness};
    return 0;
}

static void unit_probe_abort(struct probe *base)
{
    struct unit_probe *probe = to_unit_probe(base);
    for (size_t i = 0; i < probe->staged_count; i++) {
        struct unit_entry *entry = probe->staged[i];
        if (entry->fresh) {
            entry_free(entry);
            continue;
        }
        free(entry->staged_consumers);
        entry->staged_consumers = NULL;
        entry->staged_consumer_count = 0;
        entry->staged = false;
    }
    free(probe->staged);
    probe->staged = NULL;
    probe->staged_count = 0;
}

static int unit_probe_stage(struct probe *base, struct model *model, bool strict)
{
    struct unit_probe *probe = to_unit_probe(base);
    unit_probe_abort(base);
    probe->staged_model = model;
    int r = 0;
    for (size_t i = 0; r == 0 && i < model->backend_count; i++) {
        struct backend *backend = model->backends[i];
        if (!backend->bridge_count)
            continue;
        if (backend->probe == PROBE_UNIT && backend->unit)
            r = stage_consumer(probe, backend->unit, backend, false);
        if (r == 0 && backend->liveness_unit)
            r = stage_consumer(probe, backend->liveness_unit, backend, true);
    }
    /* The first stage watches the bus socket, to connect when it appears. */
    if (r == 0 && !probe->bus_watch && probe->bus_socket && probe->bus_socket[0] == '/') {
        int w = path_watch_add(probe->watcher, probe->bus_socket, bus_on_socket_event, probe,
                               &probe->bus_watch);
        if (w < 0)
            log_message(LOG_WARNING, "cannot watch the system bus socket %s: %s",
                        probe->bus_socket, strerror(-w));
    }
    if (r < 0)
        unit_probe_abort(base);
    return r;
}

/* Kept units keep what systemd said (their consumers defined as before kept
 * it in the model too; new consumers are told it now); new units are asked. */
static void unit_probe_commit(struct probe *base)
{
    struct unit_probe *probe = to_unit_probe(base);
    base->model = probe->staged_model;
    for (size_t i = 0; i < probe->count; i++)
        if (!probe->units[i]->staged)
            entry_free(probe->units[i]);
    free(probe->units);
    probe->units = probe->staged;
    probe->count = probe->staged_count;
    probe->staged = NULL;
    probe->staged_count = 0;
    for (size_t i = 0; i < probe->count; i++) {
        struct unit_entry *entry = probe->units[i];
        free(entry->consumers);
        entry->consumers = entry->staged_consumers;
        entry->consumer_count = entry->staged_consumer_count;
        entry->staged_consumers = NULL;
        entry->staged_consumer_count = 0;
        entry->staged = false;
        bool fresh = entry->fresh;
        entry->fresh = false;
        if (!fresh)
            unit_report(entry);
        else if (probe->bus)
            unit_ask(entry);
        else if (probe->bus_problem)
            unit_observe_problem(entry, probe->bus_problem);
    }
    if (!probe->bus && !probe->bus_problem && probe->count)
        bus_connect(probe);
    deadline_arm(probe);
}

static void unit_probe_free(struct probe *base)
{
    struct unit_probe *probe = to_unit_probe(base);
    unit_probe_abort(base);
    bus_close(probe);
    ev_prepare_stop(probe->loop, &probe->reap);
    sd_bus_close_unref(probe->closing);
    ev_timer_stop(probe->loop, &probe->reconnect);
    ev_timer_stop(probe->loop, &probe->answer_deadline);
    for (size_t i = 0; i < probe->count; i++)
        entry_free(probe->units[i]);
    path_watcher_free(probe->watcher);
    free(probe->units);
    free(probe->bus_socket);
    free(probe->bus_problem);
    free(probe);
}

static const struct probe_ops unit_probe_ops = {
    .name = "unit",
    .stage = unit_probe_stage,
    .commit = unit_probe_commit,
    .abort = unit_probe_abort,
    .free = unit_probe_free,
};

/* The socket behind DBUS_SYSTEM_BUS_ADDRESS ("unix:path=…[,…]"), or the default. */
static char *bus_socket_path(void)
{
    const char *address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
    if (!address)
        return strdup(DEFAULT_BUS_SOCKET);
    if (strncmp(address, "unix:path=", 10) != 0)
        return NULL;
    return strndup(address + 10, strcspn(address + 10, ",;"));
}

static bool unit_probe_follows(const struct backend *backend)
{
    return (backend->probe == PROBE_UNIT && backend->unit) || backend->liveness_unit;
}

static int unit_probe_new(struct probe **out, const struct probe_context *context)
{
    struct unit_probe *probe = calloc(1, sizeof(*probe));
    if (!probe)
        return -ENOMEM;
    probe->probe = (struct probe){.ops = &unit_probe_ops};
    probe->loop = context->loop;
    probe->bus_socket = bus_socket_path();
    ev_init(&probe->io, bus_on_io);
    ev_timer_init(&probe->timeout, bus_on_timeout, 0., 0.);
    probe->timeout.data = probe;
    ev_prepare_init(&probe->prepare, bus_on_prepare);
    probe->prepare.data = probe;
    ev_timer_init(&probe->reconnect, reconnect_on_timer, 0., 0.);
    probe->reconnect.data = probe;
    ev_timer_init(&probe->answer_deadline, deadline_on_timer, 0., 0.);
    probe->answer_deadline.data = probe;
    ev_prepare_init(&probe->reap, bus_on_reap);
    probe->reap.data = probe;
    ev_idle_init(&probe->more, bus_on_more);
    probe->more.data = probe;
    int r = path_watcher_new(&probe->watcher, context->loop);
    if (r < 0) {
        free(probe->bus_socket);
        free(probe);
        return r;
    }
    *out = &probe->probe;
    return 0;
}

/* Backends with probe = unit (ready while the unit's ActiveState is active)
 * and backends with liveness-unit = (alive while it is): both follow
 * org.freedesktop.systemd1 on the system bus, DBUS_SYSTEM_BUS_ADDRESS or
 * /run/dbus/system_bus_socket. */
const struct probe_type unit_probe_type = {
    .name = "unit",
    .follows = unit_probe_follows,
    .create = unit_probe_new,
};
