// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * e2e-listen — the end-to-end test's vhost-user-style backend: binds a UNIX
 * stream socket to PATH, listens, and sleeps until it is killed. xenreadyd's
 * socket probe (probe = socket) counts the backend up while the socket is
 * listening and sees the process die through a pidfd.
 *
 *   e2e-listen PATH
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (argc != 2 || strlen(argv[1]) >= sizeof(address.sun_path)) {
        fprintf(stderr, "usage: e2e-listen PATH (at most %zu characters)\n",
                sizeof(address.sun_path) - 1);
        return 2;
    }
    strcpy(address.sun_path, argv[1]);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("e2e-listen: socket");
        return 1;
    }
    unlink(address.sun_path);   /* a file left by an earlier listener */
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0
        || listen(fd, 1) < 0) {
        fprintf(stderr, "e2e-listen: %s: %m\n", address.sun_path);
        return 1;
    }
    for (;;)
        pause();
}
