// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A hostile local user on the system bus, for the trust tests: it drops to
 * an unprivileged uid, connects, finds the connection of process PID (as
 * any user may: ListNames, GetConnectionUnixProcessID) and sends it what
 * would fool a client that trusts the well-known sender of its match rules:
 *   - PropertiesChanged on the unit at UNIT-PATH saying ActiveState=active,
 *     COUNT times (COUNT large: a flood);
 *   - once, NameOwnerChanged saying org.freedesktop.systemd1 left the bus.
 * Then it prints "sent N" (N messages) and exits.
 *
 * Usage: bus-forger BUS-ADDRESS UID UNIT-PATH COUNT PID
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

static int die(const char *what, int r)
{
    fprintf(stderr, "bus-forger: %s: %s\n", what, strerror(r < 0 ? -r : r));
    return 1;
}

static int forge_properties(sd_bus *bus, const char *destination, const char *path)
{
    sd_bus_message *message = NULL;
    int r = sd_bus_message_new_signal(bus, &message, path, "org.freedesktop.DBus.Properties",
                                      "PropertiesChanged");
    if (r >= 0)
        r = sd_bus_message_set_destination(message, destination);
    if (r >= 0)
        r = sd_bus_message_append(message, "sa{sv}as", "org.freedesktop.systemd1.Unit", 2,
                                  "ActiveState", "s", "active", "LoadState", "s", "loaded", 0);
    if (r >= 0)
        r = sd_bus_send(bus, message, NULL);
    sd_bus_message_unref(message);
    return r;
}

static int forge_owner_gone(sd_bus *bus, const char *destination, const char *old_owner)
{
    sd_bus_message *message = NULL;
    int r = sd_bus_message_new_signal(bus, &message, "/org/freedesktop/DBus",
                                      "org.freedesktop.DBus", "NameOwnerChanged");
    if (r >= 0)
        r = sd_bus_message_set_destination(message, destination);
    if (r >= 0)
        r = sd_bus_message_append(message, "sss", "org.freedesktop.systemd1", old_owner, "");
    if (r >= 0)
        r = sd_bus_send(bus, message, NULL);
    sd_bus_message_unref(message);
    return r;
}

/* The unique name of the connection of process pid: looked for among the
 * names on the bus, and waited for (NameOwnerChanged, up to 10 s) when it
 * is not there yet. malloc'd, or NULL. */
static char *connection_of(sd_bus *bus, pid_t pid)
{
    sd_bus_slot *slot = NULL;
    /* Subscribed first: a connection made after ListNames is announced. */
    if (sd_bus_match_signal(bus, &slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                            "org.freedesktop.DBus", "NameOwnerChanged", NULL, NULL) < 0)
        return NULL;
    char *found = NULL;
    for (int round = 0; !found && round < 100; round++) {
        char **names = NULL;
        if (sd_bus_list_names(bus, &names, NULL) < 0)
            break;
        for (char **name = names; *name; name++) {
            sd_bus_creds *creds = NULL;
            pid_t owner;
            if (!found && (*name)[0] == ':'
                && sd_bus_get_name_creds(bus, *name, SD_BUS_CREDS_PID, &creds) >= 0
                && sd_bus_creds_get_pid(creds, &owner) >= 0 && owner == pid)
                found = strdup(*name);
            sd_bus_creds_unref(creds);
            free(*name);
        }
        free(names);
        /* Not there: the next NameOwnerChanged, or 0.1 s. */
        while (!found && sd_bus_process(bus, NULL) > 0)
            ;
        if (!found)
            sd_bus_wait(bus, 100000);
    }
    sd_bus_slot_unref(slot);
    return found;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bus-forger BUS-ADDRESS UID UNIT-PATH COUNT PID\n");
        return 2;
    }
    uid_t uid = (uid_t)strtoul(argv[2], NULL, 10);
    unsigned long count = strtoul(argv[4], NULL, 10);
    pid_t target = (pid_t)strtol(argv[5], NULL, 10);
    if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
        return die("dropping to the uid", errno);
    sd_bus *bus = NULL;
    int r = sd_bus_new(&bus);
    if (r >= 0)
        r = sd_bus_set_address(bus, argv[1]);
    if (r >= 0)
        r = sd_bus_set_bus_client(bus, 1);
    if (r >= 0)
        r = sd_bus_start(bus);
    if (r < 0)
        return die("connecting", r);
    char *name = connection_of(bus, target);
    if (!name)
        return die("finding the connection of the target", ESRCH);
    unsigned long sent = 0;
    for (unsigned long i = 0; i < count; i++) {
        if ((r = forge_properties(bus, name, argv[3])) < 0)
            return die("sending PropertiesChanged", r);
        sent++;
        /* Keep the queue short: the broker has the flood, not us. */
        if (sent % 256 == 0 && (r = sd_bus_flush(bus)) < 0)
            return die("flushing", r);
    }
    if ((r = forge_owner_gone(bus, name, name)) < 0)
        return die("sending NameOwnerChanged", r);
    sent++;
    /* A call to the broker, answered once it has routed all the above:
     * whatever the test does next reaches the daemon after them. */
    r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "GetId", NULL, NULL, "");
    if (r < 0)
        return die("GetId", r);
    printf("sent %lu\n", sent);
    fflush(stdout);
    free(name);
    sd_bus_flush_close_unref(bus);
    return 0;
}
