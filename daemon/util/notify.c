// SPDX-License-Identifier: GPL-2.0-or-later
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "descriptor-reserve.h"

void notify_systemd(const char *format, ...)
{
    char message[4096];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof(message), format, arguments);
    va_end(arguments);
    bool lent = descriptor_reserve_lend();
    sd_notify(0, message);
    if (lent)
        descriptor_reserve_take_back();
}
