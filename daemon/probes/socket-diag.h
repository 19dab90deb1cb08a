// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Read-only views of the UNIX sockets of this network namespace, as
 * `ss -xl` sees them: NETLINK_SOCK_DIAG (unix_diag with UDIAG_SHOW_VFS, which
 * gives the (dev, ino) of the socket file a socket is bound to) and
 * /proc/net/unix as a fallback (path names only). Nothing here connects to a
 * socket: a vhost-user backend serves exactly one connection.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct unix_socket_info {
    unsigned long sock_ino;      /* the socket's own inode ("socket:[N]" in /proc/PID/fd) */
    bool listening;
    bool connected;              /* ESTABLISHED, e.g. the socket accept() returned */
    bool has_vfs;                /* vfs_dev/vfs_ino are known (sock_diag) */
    dev_t vfs_dev;               /* st_dev encoding */
    ino_t vfs_ino;
    char path[108];              /* bound path ("" if unknown or unbound) */
};

/* What a socket file at a path has: a listener and/or an accepted
 * connection, and one socket inode to find a holder process by. */
struct socket_match {
    bool listening;
    bool attached;
    unsigned long sock_ino;
};

/* The kernel's internal dev_t (MAJOR << 20 | MINOR), as udiag_vfs_dev
 * carries it, in userspace's st_dev encoding. */
dev_t socket_diag_dev_from_kernel(uint32_t kernel_dev);

/* Parses one data line of /proc/net/unix; -EINVAL for the header or junk. */
int socket_diag_parse_proc_line(const char *line, struct unix_socket_info *out);

/* Every listening or connected UNIX socket: *out is malloc'd, the caller
 * frees it. socket_diag_dump_netlink() returns -EPROTONOSUPPORT (or another
 * negative errno) where sock_diag is not available. */
int socket_diag_dump_netlink(struct unix_socket_info **out, size_t *count);
int socket_diag_dump_proc(const char *proc_net_unix, struct unix_socket_info **out,
                          size_t *count);

/* Finds the sockets bound to the file (dev, ino) at path: by (dev, ino)
 * where known, else by path name. */
void socket_diag_match(const struct unix_socket_info *sockets, size_t count, dev_t dev,
                       ino_t ino, const char *path, struct socket_match *out);

/* A process (not this one) holding socket inode sock_ino open, from
 * /proc/PID/fd; 0 when none is found. *hidden (may be NULL) tells whether
 * the descriptors of some process could not be read (another user's,
 * without CAP_SYS_PTRACE): the holder may be one of them. */
pid_t socket_diag_find_holder(const char *proc, unsigned long sock_ino, bool *hidden);
