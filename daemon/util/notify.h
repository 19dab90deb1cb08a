// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Messages to systemd (sd_notify(3): READY=1, STATUS=, WATCHDOG=1, ...)
 * that get through even when every other descriptor is taken: sd_notify()
 * opens a socket for each message, on the descriptor lent by the reserve
 * (descriptor-reserve.h).
 */
#pragma once

/* Sends the assignments of format (sd_notifyf()) to systemd, when it
 * listens. */
void notify_systemd(const char *format, ...) __attribute__((format(printf, 1, 2)));
