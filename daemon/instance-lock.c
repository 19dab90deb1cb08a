// SPDX-License-Identifier: GPL-2.0-or-later
#include "instance-lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/log.h"

int instance_lock(const char *directory, int *fd_out)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/xenreadyd.lock", directory) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0) {
        int r = -errno;
        log_message(LOG_ERR, "cannot open %s: %s", path, strerror(-r));
        return r;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int r = errno == EWOULDBLOCK ? -EBUSY : -errno;
        char holder[32] = "";
        ssize_t length = pread(fd, holder, sizeof(holder) - 1, 0);
        holder[length > 0 ? length : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        if (r == -EBUSY)
            log_message(LOG_ERR, "another xenreadyd (pid %s) runs with %s: not starting a "
                        "second one", holder[0] ? holder : "unknown", directory);
        else
            log_message(LOG_ERR, "cannot lock %s: %s", path, strerror(-r));
        close(fd);
        return r;
    }
    char pid[32];
    int length = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)length, 0) != length)
        log_message(LOG_WARNING, "cannot write my pid to %s: %s", path, strerror(errno));
    *fd_out = fd;
    return 0;
}

void instance_unlock(int fd)
{
    /* The file stays: removing it would race with a new holder. */
    if (fd >= 0)
        close(fd);
}
