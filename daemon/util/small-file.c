// SPDX-License-Identifier: GPL-2.0-or-later
#include "small-file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

ssize_t small_file_read(const char *path, char *text, size_t size)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t length = read(fd, text, size - 1);
    int saved = errno;
    close(fd);
    if (length < 0)
        return -saved;
    text[length] = '\0';
    return length;
}
