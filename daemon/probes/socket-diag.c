// SPDX-License-Identifier: GPL-2.0-or-later
#include "socket-diag.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* __SO_ACCEPTCON in /proc/net/unix's Flags column: a listening socket. */
#define PROC_NET_UNIX_ACCEPTCON 0x10000u
/* SS_CONNECTED in its St column. */
#define PROC_NET_UNIX_CONNECTED 3u

dev_t socket_diag_dev_from_kernel(uint32_t kernel_dev)
{
    /* include/linux/kdev_t.h: MINORBITS 20. unix_diag copies
     * dentry->d_sb->s_dev as it is, unlike stat(), which encodes it. */
    return makedev(kernel_dev >> 20, kernel_dev & 0xFFFFFu);
}

int socket_diag_parse_proc_line(const char *line, struct unix_socket_info *out)
{
    /* Num RefCount Protocol Flags Type St Inode [Path] */
    unsigned long long num;
    unsigned int refcount, protocol, flags, type, state;
    unsigned long inode;
    int end = 0;
    if (sscanf(line, "%llx: %x %x %x %x %x %lu%n", &num, &refcount, &protocol, &flags, &type,
               &state, &inode, &end) != 7)
        return -EINVAL;
    *out = (struct unix_socket_info){
        .sock_ino = inode,
        .listening = flags & PROC_NET_UNIX_ACCEPTCON,
        .connected = state == PROC_NET_UNIX_CONNECTED,
    };
    const char *path = line + end;
    if (*path == ' ')
        path++;
    size_t length = strcspn(path, "\n");
    if (length >= sizeof(out->path))
        length = sizeof(out->path) - 1;
    memcpy(out->path, path, length);
    out->path[length] = '\0';
    return 0;
}

static int append(struct unix_socket_info **array, size_t *count, size_t *size,
                  const struct unix_socket_info *info)
{
    if (*count == *size) {
        size_t grown_size = *size ? *size * 2 : 64;
        struct unix_socket_info *grown = realloc(*array, grown_size * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        *array = grown;
        *size = grown_size;
    }
    (*array)[(*count)++] = *info;
    return 0;
}

int socket_diag_dump_proc(const char *proc_net_unix, struct unix_socket_info **out,
                          size_t *count)
{
    *out = NULL;
    *count = 0;
    FILE *file = fopen(proc_net_unix, "re");
    if (!file)
        return -errno;
    char *line = NULL;
    size_t line_size = 0, size = 0;
    int r = 0;
    while (r == 0 && getline(&line, &line_size, file) >= 0) {
        struct unix_socket_info info;
        if (socket_diag_parse_proc_line(line, &info) == 0 && (info.listening || info.connected))
            r = append(out, count, &size, &info);
    }
    free(line);
    fclose(file);
    if (r < 0) {
        free(*out);
        *out = NULL;
        *count = 0;
    }
    return r;
}

static void parse_diag_message(const struct nlmsghdr *header, struct unix_socket_info *info)
{
    const struct unix_diag_msg *message = NLMSG_DATA(header);
    *info = (struct unix_socket_info){
        .sock_ino = message->udiag_ino,
        .listening = message->udiag_state == TCP_LISTEN,
        .connected = message->udiag_state == TCP_ESTABLISHED,
    };
    int length = (int)(header->nlmsg_len - NLMSG_LENGTH(sizeof(*message)));
    for (const struct rtattr *attribute = (const struct rtattr *)(message + 1);
         RTA_OK(attribute, length); attribute = RTA_NEXT(attribute, length)) {
        if (attribute->rta_type == UNIX_DIAG_VFS
            && RTA_PAYLOAD(attribute) >= sizeof(struct unix_diag_vfs)) {
            const struct unix_diag_vfs *vfs = RTA_DATA(attribute);
            info->has_vfs = true;
            info->vfs_dev = socket_diag_dev_from_kernel(vfs->udiag_vfs_dev);
            info->vfs_ino = vfs->udiag_vfs_ino;
        }
    }
}

int socket_diag_dump_netlink(struct unix_socket_info **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -errno;
    struct {
        struct nlmsghdr header;
        struct unix_diag_req request;
    } request = {
        .header = {
            .nlmsg_len = sizeof(request),
            .nlmsg_type = SOCK_DIAG_BY_FAMILY,
            .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
            .nlmsg_seq = 1,
        },
        .request = {
            .sdiag_family = AF_UNIX,
            .udiag_states = (1u << TCP_LISTEN) | (1u << TCP_ESTABLISHED),
            .udiag_show = UDIAG_SHOW_VFS,
        },
    };
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int r = 0;
    if (sendto(fd, &request, sizeof(request), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        r = -errno;
        goto out;
    }
    size_t size = 0;
    long buffer[8192 / sizeof(long)];
    for (bool done = false; !done;) {
        ssize_t length = recv(fd, buffer, sizeof(buffer), 0);
        if (length < 0 && errno == EINTR)
            continue;
        if (length < 0) {
            r = -errno;
            goto out;
        }
        if (length == 0)
            break;
        unsigned int left = (unsigned int)length;
        for (struct nlmsghdr *header = (struct nlmsghdr *)buffer; NLMSG_OK(header, left);
             header = NLMSG_NEXT(header, left)) {
            if (header->nlmsg_type == NLMSG_DONE) {
                done = true;
                break;
            }
            if (header->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *error = NLMSG_DATA(header);
                r = error->error ? error->error : -EPROTO;
                goto out;
            }
            if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY
                || header->nlmsg_len < NLMSG_LENGTH(sizeof(struct unix_diag_msg)))
                continue;
            struct unix_socket_info info;
            parse_diag_message(header, &info);
            if ((r = append(out, count, &size, &info)) < 0)
                goto out;
        }
    }
out:
    close(fd);
    if (r < 0) {
        free(*out);
        *out = NULL;
        *count = 0;
    }
    return r;
}

void socket_diag_match(const struct unix_socket_info *sockets, size_t count, dev_t dev,
                       ino_t ino, const char *path, struct socket_match *out)
{
    *out = (struct socket_match){0};
    for (size_t i = 0; i < count; i++) {
        const struct unix_socket_info *socket = &sockets[i];
        bool same = socket->has_vfs ? socket->vfs_dev == dev && socket->vfs_ino == ino
                                    : strcmp(socket->path, path) == 0;
        if (!same)
            continue;
        /* Prefer the listener's inode: it is the one a holder keeps. */
        if (socket->listening) {
            out->listening = true;
            out->sock_ino = socket->sock_ino;
        } else if (socket->connected) {
            out->attached = true;
            if (!out->listening)
                out->sock_ino = socket->sock_ino;
        }
    }
}

pid_t socket_diag_find_holder(const char *proc, unsigned long sock_ino, bool *hidden)
{
    if (hidden)
        *hidden = false;
    char wanted[48];
    snprintf(wanted, sizeof(wanted), "socket:[%lu]", sock_ino);
    DIR *processes = opendir(proc);
    if (!processes)
        return 0;
    pid_t found = 0, self = getpid();
    struct dirent *process;
    while (!found && (process = readdir(processes))) {
        if (!isdigit((unsigned char)process->d_name[0]) || atoi(process->d_name) == self)
            continue;
        char fd_dir[64];
        snprintf(fd_dir, sizeof(fd_dir), "%.20s/fd", process->d_name);
        int dir_fd = openat(dirfd(processes), fd_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0 && (errno == EACCES || errno == EPERM) && hidden)
            *hidden = true;
        DIR *fds = dir_fd >= 0 ? fdopendir(dir_fd) : NULL;
        if (!fds) {
            if (dir_fd >= 0)
                close(dir_fd);
            continue;
        }
        struct dirent *fd;
        while (!found && (fd = readdir(fds))) {
            char target[64];
            ssize_t length = readlinkat(dirfd(fds), fd->d_name, target, sizeof(target) - 1);
            if (length <= 0)
                continue;
            target[length] = '\0';
            if (strcmp(target, wanted) == 0)
                found = (pid_t)atoi(process->d_name);
        }
        closedir(fds);
    }
    closedir(processes);
    return found;
}
