// SPDX-License-Identifier: GPL-2.0-or-later
/* The counters file shared by xs-count.so (writer) and xenready-bench (reader). */
#pragma once

#include <stdint.h>

enum xs_counter {
    XS_COUNT_READ,
    XS_COUNT_WRITE,
    XS_COUNT_MKDIR,
    XS_COUNT_RM,
    XS_COUNT_DIRECTORY,
    XS_COUNT_GET_PERMISSIONS,
    XS_COUNT_SET_PERMISSIONS,
    XS_COUNT_WATCH,
    XS_COUNT_UNWATCH,
    XS_COUNT_TRANSACTION,
    XS_COUNT_EVENT,          /* watch events taken: not a round trip */
    XS_COUNT_MAX,
};

struct xs_counters {
    _Atomic uint64_t count[16];
};
