// SPDX-License-Identifier: GPL-2.0-or-later
#include "process-watch.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

static void process_watch_on_readable(struct ev_loop *loop, ev_io *io, int revents)
{
    struct process_watch *watch = io->data;
    pid_t pid = watch->pid;
    process_watch_release(watch);
    watch->on_exit(watch, pid, watch->userdata);
}

void process_watch_init(struct process_watch *watch, struct ev_loop *loop,
                        process_watch_fn on_exit, void *userdata)
{
    *watch = (struct process_watch){.loop = loop, .on_exit = on_exit, .userdata = userdata};
}

int process_watch_follow(struct process_watch *watch, pid_t pid)
{
    process_watch_release(watch);
    /* A pidfd is readable once the process has exited; it is close-on-exec. */
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -errno;
    watch->pid = pid;
    ev_io_init(&watch->io, process_watch_on_readable, fd, EV_READ);
    watch->io.data = watch;
    ev_io_start(watch->loop, &watch->io);
    return 0;
}

void process_watch_release(struct process_watch *watch)
{
    if (watch->pid <= 0)
        return;
    ev_io_stop(watch->loop, &watch->io);
    close(watch->io.fd);
    watch->pid = 0;
}
