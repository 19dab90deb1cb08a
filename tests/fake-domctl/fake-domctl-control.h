// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * For tests: the fake hypervisor's domains of fake-domctl.c, seen from
 * outside. A test makes a state directory, creates domains as a toolstack
 * would (paused or not), runs xenreadyd with the stand-in preloaded
 * (fake_domctl_use() in the process that will exec it), and reads back
 * what happened.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Makes DIR/domctl under parent; returns a malloc'd path or NULL. */
char *fake_domctl_dir_new(const char *parent);
/* Adds the stand-in to LD_PRELOAD, and its directory, for programs exec'd
 * from now on. */
int fake_domctl_use(const char *dir);
/* A domain instance: its handle's bytes are all instance. */
int fake_domctl_create(const char *dir, unsigned int domid, bool paused, unsigned char instance);
int fake_domctl_set_paused(const char *dir, unsigned int domid, bool paused);
int fake_domctl_destroy(const char *dir, unsigned int domid);
/* 1 paused, 0 running, -ENOENT gone. */
int fake_domctl_paused(const char *dir, unsigned int domid);
/* Without the privilege: xc_interface_open() fails with EACCES. */
int fake_domctl_privileged(const char *dir, bool privileged);
/* With may_control false: xc_interface_open() works, but the hypervisor
 * refuses every domain query and unpause with EPERM (a DomD that Xen does
 * not let control the guest). */
int fake_domctl_may_control(const char *dir, bool may_control);
/* Lines of DIR/log starting with prefix, e.g. "unpause 5 ok". */
size_t fake_domctl_count(const char *dir, const char *prefix);
