// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One descriptor kept in reserve, for what must get through when every
 * other one is taken (one per followed process, one per control client):
 * a message to systemd, whose READY=1 or WATCHDOG=1 lost would get the
 * daemon killed, and the answer to a client that there is no descriptor
 * left for it. The loop is single-threaded: the slot freed by
 * descriptor_reserve_lend() is the one the next open gets.
 */
#pragma once

#include <stdbool.h>

/* Takes the reserve; 0 or a negative errno. */
int descriptor_reserve_init(void);
/* Frees the reserve's slot for the caller's next open (false: there was no
 * reserve to lend)... */
bool descriptor_reserve_lend(void);
/* ...and takes it back once that descriptor is closed. */
void descriptor_reserve_take_back(void);
void descriptor_reserve_finish(void);
