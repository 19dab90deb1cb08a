// SPDX-License-Identifier: GPL-2.0-or-later
#include "pidfile.h"
#include "state-file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pidfile_write(const char *path)
{
    char temporary[PATH_MAX], pid[32];
    if (snprintf(temporary, sizeof(temporary), "%s.XXXXXX", path) >= (int)sizeof(temporary))
        return -ENAMETOOLONG;
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    int fd = mkostemp(temporary, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* Readable by all, as pidfiles are: init scripts read it unprivileged. */
    if (fchmod(fd, 0644) < 0) {
        int r = -errno;
        close(fd);
        unlink(temporary);
        return r;
    }
    return state_file_commit(fd, temporary, path, pid);
}

void pidfile_remove(const char *path)
{
    char text[32], mine[32];
    FILE *file = fopen(path, "re");
    if (!file)
        return;
    size_t length = fread(text, 1, sizeof(text) - 1, file);
    fclose(file);
    text[length] = '\0';
    snprintf(mine, sizeof(mine), "%d\n", (int)getpid());
    if (strcmp(text, mine) == 0)
        unlink(path);
}
