// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The part of org.freedesktop.systemd1 (org.freedesktop.systemd1(5)) that
 * xenreadyd's unit probe uses, served on a private dbus-daemon: no systemd
 * runs as PID 1 where the tests run.
 *
 *   Manager.Subscribe(), Unsubscribe()
 *   Manager.GetUnit(s) -> o      NoSuchUnit unless the unit is loaded
 *   Manager.LoadUnit(s) -> o     loads it; an unknown one with LoadState=not-found
 *   Unit properties Id, LoadState, ActiveState, SubState (Get, GetAll)
 *   PropertiesChanged on a unit, sent only while some client is subscribed,
 *   as real systemd does.
 *
 * Usage: fake-systemd1 BUS-ADDRESS [NAME=STATE[,loaded|unloaded]]...
 * Units given as unloaded exist but need LoadUnit (GetUnit says NoSuchUnit).
 * Prints "ready" once it owns the name; then reads commands on stdin:
 *   set NAME STATE   change ActiveState ("ok" once the signal is sent)
 *   invalidate NAME STATE   the same, but the signal only names ActiveState
 *                    and SubState as invalidated, without values (what
 *                    systemd sends for a property marked EMITS_INVALIDATION):
 *                    a client has to ask for them
 *   subscribers      print the number of Subscribe() calls not undone
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#define UNIT_PREFIX "/org/freedesktop/systemd1/unit"

struct unit {
    char name[128];
    char load_state[32];
    char active_state[32];
    char *path;
    bool loaded;
    bool known;
};

static struct unit units[32];
static size_t unit_count;
static unsigned int subscribers;
static sd_bus *bus;

static int property_get(sd_bus *b, const char *path, const char *interface,
                        const char *property, sd_bus_message *reply, void *userdata,
                        sd_bus_error *error)
{
    struct unit *unit = userdata;
    const char *value = strcmp(property, "Id") == 0            ? unit->name
                        : strcmp(property, "LoadState") == 0   ? unit->load_state
                        : strcmp(property, "ActiveState") == 0 ? unit->active_state
                        : strcmp(unit->active_state, "active") == 0 ? "running"
                                                                     : "dead";
    return sd_bus_message_append(reply, "s", value);
}

static const sd_bus_vtable unit_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Id", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("LoadState", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("ActiveState", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("SubState", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_VTABLE_END,
};

static struct unit *unit_find(const char *name)
{
    for (size_t i = 0; i < unit_count; i++)
        if (strcmp(units[i].name, name) == 0)
            return &units[i];
    return NULL;
}

static struct unit *unit_add(const char *name, const char *load_state, const char *active_state)
{
    if (unit_count == sizeof(units) / sizeof(units[0]))
        return NULL;
    struct unit *unit = &units[unit_count++];
    snprintf(unit->name, sizeof(unit->name), "%s", name);
    snprintf(unit->load_state, sizeof(unit->load_state), "%s", load_state);
    snprintf(unit->active_state, sizeof(unit->active_state), "%s", active_state);
    if (sd_bus_path_encode(UNIT_PREFIX, name, &unit->path) < 0
        || sd_bus_add_object_vtable(bus, NULL, unit->path, "org.freedesktop.systemd1.Unit",
                                    unit_vtable, unit) < 0)
        return NULL;
    return unit;
}

static int method_subscribe(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
    subscribers++;
    return sd_bus_reply_method_return(message, "");
}

static int method_unsubscribe(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
    if (subscribers)
        subscribers--;
    return sd_bus_reply_method_return(message, "");
}

static int method_get_unit(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
    const char *name;
    int r = sd_bus_message_read(message, "s", &name);
    if (r < 0)
        return r;
    struct unit *unit = unit_find(name);
    if (!unit || !unit->loaded)
        return sd_bus_error_setf(error, "org.freedesktop.systemd1.NoSuchUnit",
                                 "Unit %s not loaded.", name);
    return sd_bus_reply_method_return(message, "o", unit->path);
}

static int method_load_unit(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
    const char *name;
    int r = sd_bus_message_read(message, "s", &name);
    if (r < 0)
        return r;
    struct unit *unit = unit_find(name);
    if (!unit && !(unit = unit_add(name, "not-found", "inactive")))
        return -ENOMEM;
    unit->loaded = true;
    return sd_bus_reply_method_return(message, "o", unit->path);
}

static const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Subscribe", "", "", method_subscribe, 0),
    SD_BUS_METHOD("Unsubscribe", "", "", method_unsubscribe, 0),
    SD_BUS_METHOD("GetUnit", "s", "o", method_get_unit, 0),
    SD_BUS_METHOD("LoadUnit", "s", "o", method_load_unit, 0),
    SD_BUS_VTABLE_END,
};

/* PropertiesChanged with no values, ActiveState and SubState invalidated. */
static int emit_invalidated(const struct unit *unit)
{
    sd_bus_message *signal = NULL;
    int r = sd_bus_message_new_signal(bus, &signal, unit->path,
                                      "org.freedesktop.DBus.Properties", "PropertiesChanged");
    if (r >= 0)
        r = sd_bus_message_append(signal, "sa{sv}as", "org.freedesktop.systemd1.Unit", 0, 2,
                                  "ActiveState", "SubState");
    if (r >= 0)
        r = sd_bus_send(bus, signal, NULL);
    sd_bus_message_unref(signal);
    return r;
}

static void command(char *line)
{
    line[strcspn(line, "\n")] = '\0';
    char verb[16], name[128], state[32];
    if (sscanf(line, "%15s %127s %31s", verb, name, state) == 3
        && (strcmp(verb, "set") == 0 || strcmp(verb, "invalidate") == 0)) {
        struct unit *unit = unit_find(name);
        if (!unit) {
            printf("error no such unit\n");
            return;
        }
        snprintf(unit->active_state, sizeof(unit->active_state), "%s", state);
        /* systemd emits unit changes only while someone is subscribed. */
        int r = 0;
        if (subscribers && strcmp(verb, "set") == 0)
            r = sd_bus_emit_properties_changed(bus, unit->path, "org.freedesktop.systemd1.Unit",
                                               "ActiveState", "SubState", NULL);
        else if (subscribers)
            r = emit_invalidated(unit);
        sd_bus_flush(bus);
        if (r < 0)
            printf("error %s\n", strerror(-r));
        else
            printf("ok\n");
    } else if (strcmp(line, "subscribers") == 0) {
        printf("ok %u\n", subscribers);
    } else {
        printf("error unknown command\n");
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fake-systemd1 BUS-ADDRESS [NAME=STATE[,unloaded]]...\n");
        return 2;
    }
    int r = sd_bus_new(&bus);
    if (r >= 0)
        r = sd_bus_set_address(bus, argv[1]);
    if (r >= 0)
        r = sd_bus_set_bus_client(bus, 1);
    if (r >= 0)
        r = sd_bus_start(bus);
    if (r >= 0)
        r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/systemd1",
                                     "org.freedesktop.systemd1.Manager", manager_vtable, NULL);
    for (int i = 2; r >= 0 && i < argc; i++) {
        char name[128], state[32] = "active";
        char *equals = strchr(argv[i], '=');
        snprintf(name, sizeof(name), "%.*s", equals ? (int)(equals - argv[i]) : (int)strlen(argv[i]),
                 argv[i]);
        bool loaded = true;
        if (equals) {
            snprintf(state, sizeof(state), "%s", equals + 1);
            char *comma = strchr(state, ',');
            if (comma) {
                loaded = strcmp(comma + 1, "unloaded") != 0;
                *comma = '\0';
            }
        }
        struct unit *unit = unit_add(name, "loaded", state);
        if (!unit)
            r = -ENOMEM;
        else
            unit->loaded = loaded;
    }
    if (r >= 0)
        r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0);
    if (r < 0) {
        fprintf(stderr, "fake-systemd1: %s\n", strerror(-r));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    char line[256];
    for (;;) {
        while ((r = sd_bus_process(bus, NULL)) > 0)
            ;
        if (r < 0)
            return 1;
        struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                {.fd = sd_bus_get_fd(bus), .events = (short)sd_bus_get_events(bus)}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            return 1;
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            if (!fgets(line, sizeof(line), stdin))
                return 0;
            command(line);
            fflush(stdout);
        }
    }
}
