// SPDX-License-Identifier: GPL-2.0-or-later
#include "descriptor-reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int reserve = -1;

int descriptor_reserve_init(void)
{
    if (reserve < 0)
        reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return reserve < 0 ? -errno : 0;
}

bool descriptor_reserve_lend(void)
{
    if (reserve < 0)
        return false;
    close(reserve);
    reserve = -1;
    return true;
}

void descriptor_reserve_take_back(void)
{
    descriptor_reserve_init();
}

void descriptor_reserve_finish(void)
{
    descriptor_reserve_lend();
}
