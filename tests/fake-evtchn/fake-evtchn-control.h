// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * For tests: the fake event-channel "hypervisor" of fake-evtchn.c, seen from
 * outside. A test makes a state directory, runs programs with the stand-in
 * preloaded (fake_evtchn_use() in the process that will exec them), and
 * reads back what happened.
 */
#pragma once

#include <stddef.h>

/* Makes DIR/evtchn under parent; returns a malloc'd path or NULL. */
char *fake_evtchn_dir_new(const char *parent);
/* Sets LD_PRELOAD and the fake's variables so that programs exec'd from now
 * on are domain domid of the fake in dir. */
int fake_evtchn_use(const char *dir, unsigned int domid);
/* Lines of DIR/log starting with prefix, e.g. "1 notify 3 ". */
size_t fake_evtchn_count(const char *dir, const char *prefix);
/* Ports domain domid has bound (DIR/port-<domid>-*). */
size_t fake_evtchn_ports(const char *dir, unsigned int domid);
/* What the host device tree's xen,evtchn-v1 node would provide: local port
 * of domid connected to remote_port of remote_domid. */
int fake_evtchn_provision_static(const char *dir, unsigned int domid, unsigned int port,
                                 unsigned int remote_domid, unsigned int remote_port);
/* Blocks (inotify, bounded) until DIR/port-<domid>-<port> is gone (gone=1)
 * or exists (gone=0); -ETIMEDOUT otherwise. */
int fake_evtchn_wait_port(const char *dir, unsigned int domid, unsigned int port, int gone,
                          int timeout_ms);
