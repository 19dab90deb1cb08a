// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A hostile local user on the system bus, for the trust tests: it drops to
 * an unprivileged uid, connects, and sends every other unique name on the
 * bus (found with ListNames, as any user may) what would fool a client that
 * trusts the well-known sender of its match rules:
 *   - PropertiesChanged on the unit at UNIT-PATH saying ActiveState=active,
 *     COUNT times per name (COUNT large: a flood);
 *   - once, NameOwnerChanged saying org.freedesktop.systemd1 left the bus.
 * Then it prints "sent N" (N messages) and exits.
 *
 * Usage: bus-forger BUS-ADDRESS UID UNIT-PATH COUNT
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

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bus-forger BUS-ADDRESS UID UNIT-PATH COUNT\n");
        return 2;
    }
    uid_t uid = (uid_t)strtoul(argv[2], NULL, 10);
    unsigned long count = strtoul(argv[4], NULL, 10);
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
    const char *self = NULL;
    sd_bus_get_unique_name(bus, &self);
    char **names = NULL;
    r = sd_bus_list_names(bus, &names, NULL);
    if (r < 0)
        return die("ListNames", r);
    /* systemd's own name is left out: the policy refuses those anyway, and
     * the broker would log each refusal. */
    char *systemd = NULL;
    sd_bus_creds *creds = NULL;
    const char *unique = NULL;
    if (sd_bus_get_name_creds(bus, "org.freedesktop.systemd1", SD_BUS_CREDS_UNIQUE_NAME,
                              &creds) >= 0 &&
        sd_bus_creds_get_unique_name(creds, &unique) >= 0)
        systemd = strdup(unique);
    sd_bus_creds_unref(creds);
    unsigned long sent = 0;
    for (char **name = names; *name; name++) {
        if ((*name)[0] != ':' || (self && strcmp(*name, self) == 0) ||
            (systemd && strcmp(*name, systemd) == 0))
            continue;
        for (unsigned long i = 0; i < count; i++) {
            if ((r = forge_properties(bus, *name, argv[3])) < 0)
                return die("sending PropertiesChanged", r);
            sent++;
            /* Keep the queue short: the broker has the flood, not us. */
            if (sent % 256 == 0 && (r = sd_bus_flush(bus)) < 0)
                return die("flushing", r);
        }
        if ((r = forge_owner_gone(bus, *name, *name)) < 0)
            return die("sending NameOwnerChanged", r);
        sent++;
    }
    /* A call to the broker, answered once it has routed all the above:
     * whatever the test does next reaches the daemon after them. */
    r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "GetId", NULL, NULL, "");
    if (r < 0)
        return die("GetId", r);
    printf("sent %lu\n", sent);
    fflush(stdout);
    for (char **name = names; *name; name++)
        free(*name);
    free(names);
    free(systemd);
    sd_bus_flush_close_unref(bus);
    return 0;
}
