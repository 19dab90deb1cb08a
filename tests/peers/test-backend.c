// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A vhost-user-like test backend: a real process with a UNIX socket that the
 * tests drive line by line on stdin, the way rust-vmm backends behave:
 *
 *   listen      unlink PATH if present, bind and listen
 *   bind        unlink PATH if present and bind without listening
 *   start       listen() on the socket bound by "bind"
 *   serve-one   from now on, accept ONE connection and close the listener
 *   close       close the listener (the file stays)
 *   unlink      remove PATH
 *   drop        close the accepted connection
 *   pidfile F   write our pid to F
 *   count       report how many connections were accepted
 *   exit        exit
 *
 * Each command is answered with one "ok …" line on stdout once done, so a
 * test knows the state it asked for is in place. Accepted connections are
 * counted: the readiness probe must never be one of them.
 *
 * Usage: test-backend PATH
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *path;
static int listener = -1, connection = -1;
static unsigned int accepted;
static bool serve_one;

static int bind_socket(void)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
    unlink(path);
    if (listener >= 0)
        close(listener);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof(address)) < 0)
        return -errno;
    return 0;
}

__attribute__((format(printf, 1, 2)))
static void reply(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vprintf(format, args);
    va_end(args);
    printf("\n");
    fflush(stdout);
}

static void handle(char *line)
{
    line[strcspn(line, "\n")] = '\0';
    int r = 0;
    if (strcmp(line, "listen") == 0) {
        r = bind_socket();
        if (r == 0 && listen(listener, 1) < 0)
            r = -errno;
    } else if (strcmp(line, "bind") == 0) {
        r = bind_socket();
    } else if (strcmp(line, "start") == 0) {
        r = listener >= 0 && listen(listener, 1) == 0 ? 0 : -EBADF;
    } else if (strcmp(line, "serve-one") == 0) {
        serve_one = true;
    } else if (strcmp(line, "close") == 0) {
        if (listener >= 0)
            close(listener);
        listener = -1;
    } else if (strcmp(line, "unlink") == 0) {
        r = unlink(path) == 0 ? 0 : -errno;
    } else if (strcmp(line, "drop") == 0) {
        if (connection >= 0)
            close(connection);
        connection = -1;
    } else if (strncmp(line, "pidfile ", 8) == 0) {
        FILE *file = fopen(line + 8, "w");
        r = file ? 0 : -errno;
        if (file) {
            fprintf(file, "%d\n", (int)getpid());
            fclose(file);
        }
    } else if (strcmp(line, "count") == 0) {
        reply("ok %d", (int)accepted);
        return;
    } else if (strcmp(line, "exit") == 0) {
        exit(0);
    } else {
        r = -EINVAL;
    }
    if (r == 0)
        reply("ok");
    else
        reply("error %d", -r);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test-backend PATH\n");
        return 2;
    }
    path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    char line[512];
    for (;;) {
        struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                {.fd = serve_one ? listener : -1, .events = POLLIN}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            return 1;
        if (fds[1].revents & POLLIN) {
            int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                accepted++;
                if (connection >= 0)
                    close(connection);
                connection = fd;
                /* rust-vmm: "handle a single connection and shutdown". */
                close(listener);
                listener = -1;
                serve_one = false;
                reply("accepted %d", (int)accepted);
            }
        }
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            if (!fgets(line, sizeof(line), stdin))
                return 0;
            handle(line);
        }
    }
}
