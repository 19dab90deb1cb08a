// SPDX-License-Identifier: GPL-2.0-or-later
#include "notify.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#if XENREADY_WITH_SYSTEMD
#include <systemd/sd-daemon.h>
#else
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include "descriptor-reserve.h"

#if XENREADY_WITH_SYSTEMD
static void notify_send(const char *message)
{
    sd_notify(0, message);
}

uint64_t notify_watchdog_usec(void)
{
    uint64_t usec = 0;
    return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}
#else
/* $NOTIFY_SOCKET is a path, or an abstract name written with a leading "@";
 * one datagram, sent as sd_notify() sends it (blocking while the receiver's
 * queue is full). */
static void notify_send(const char *message)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    size_t length = name ? strlen(name) : 0;
    if (length < 2 || length >= sizeof(address.sun_path) || (name[0] != '/' && name[0] != '@'))
        return;
    memcpy(address.sun_path, name, length);
    if (name[0] == '@')
        address.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length);
    while (sendto(fd, message, strlen(message), MSG_NOSIGNAL, (struct sockaddr *)&address, size)
               < 0
           && errno == EINTR)
        ;
    close(fd);
}

/* Digits only, as systemd writes them. */
static bool parse_unsigned(const char *text, unsigned long long *out)
{
    if (!text || text[0] < '0' || text[0] > '9')
        return false;
    char *end;
    errno = 0;
    *out = strtoull(text, &end, 10);
    return !*end && !errno;
}

uint64_t notify_watchdog_usec(void)
{
    unsigned long long usec, pid;
    if (!parse_unsigned(getenv("WATCHDOG_USEC"), &usec) || usec == 0)
        return 0;
    if (getenv("WATCHDOG_PID")
        && (!parse_unsigned(getenv("WATCHDOG_PID"), &pid) || pid != (unsigned long long)getpid()))
        return 0;
    return usec;
}
#endif

void notify_systemd(const char *format, ...)
{
    char message[4096];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof(message), format, arguments);
    va_end(arguments);
    bool lent = descriptor_reserve_lend();
    notify_send(message);
    if (lent)
        descriptor_reserve_take_back();
}
