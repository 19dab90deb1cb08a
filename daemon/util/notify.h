// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Messages to systemd (sd_notify(3): READY=1, STATUS=, WATCHDOG=1, ...)
 * that get through even when every other descriptor is taken: sd_notify()
 * opens a socket for each message, on the descriptor lent by the reserve
 * (descriptor-reserve.h).
 *
 * Built without systemd (XENREADY_WITH_SYSTEMD 0) there is no libsystemd:
 * the notification protocol, one datagram per message to the AF_UNIX socket
 * that $NOTIFY_SOCKET names, is spoken here instead, as sd_notify(3)
 * describes it. It costs one getenv() where nobody listens (sysvinit,
 * OpenRC, busybox init), and keeps the daemon a correct Type=notify service
 * for whatever does listen (systemd all the same, a container manager).
 */
#pragma once

#include <stdint.h>

/* Sends the assignments of format (sd_notifyf()) to systemd, when it
 * listens. */
void notify_systemd(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* The watchdog interval systemd asks for in microseconds
 * (sd_watchdog_enabled(3): $WATCHDOG_USEC, for this process when
 * $WATCHDOG_PID is set), 0 when none. */
uint64_t notify_watchdog_usec(void);
