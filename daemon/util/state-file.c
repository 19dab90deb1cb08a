// SPDX-License-Identifier: GPL-2.0-or-later
#include "state-file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int state_file_read(const char *path, size_t size_max, char **text)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0)
        r = -errno;
    else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022)
             || (size_t)st.st_size > size_max)
        r = -EINVAL;
    char *buffer = r == 0 ? malloc((size_t)st.st_size + 1) : NULL;
    if (r == 0 && !buffer)
        r = -ENOMEM;
    if (r == 0) {
        ssize_t length = read(fd, buffer, (size_t)st.st_size);
        if (length != st.st_size)
            r = length < 0 ? -errno : -EINVAL;
        else
            buffer[length] = '\0';
    }
    close(fd);
    if (r < 0) {
        free(buffer);
        return r;
    }
    *text = buffer;
    return 0;
}

int state_file_write(const char *path, const char *text)
{
    char temporary[PATH_MAX];
    if (snprintf(temporary, sizeof(temporary), "%s.new", path) >= (int)sizeof(temporary))
        return -ENAMETOOLONG;
    /* A leftover of a stop in the middle of a write is ours to replace;
     * anything someone else put there (a link) is not followed. */
    unlink(temporary);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    return state_file_commit(fd, temporary, path, text);
}

int state_file_commit(int fd, const char *temporary, const char *path, const char *text)
{
    int r = 0;
    size_t length = strlen(text);
    ssize_t written = write(fd, text, length);
    if (written != (ssize_t)length)
        r = written < 0 ? -errno : -EIO;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(temporary, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(temporary);
    return r;
}
