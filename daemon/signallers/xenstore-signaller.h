// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

struct signaller;
struct xenstore;

/* The xenstore node per bridge of protocol/xenready-guest.h. */
int xenstore_signaller_new(struct signaller **out, struct xenstore *xenstore);
