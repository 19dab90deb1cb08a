// SPDX-License-Identifier: GPL-2.0-or-later
#include "private-syslog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int private_syslog_enter(const char *socket_path, const char *scratch)
{
    char upper[PATH_MAX], work[PATH_MAX], options[2 * PATH_MAX + 64];
    if (snprintf(upper, sizeof(upper), "%s/upper", scratch) >= (int)sizeof(upper)
        || snprintf(work, sizeof(work), "%s/work", scratch) >= (int)sizeof(work)
        || snprintf(options, sizeof(options), "lowerdir=/dev,upperdir=%s,workdir=%s", upper,
                    work) >= (int)sizeof(options))
        return -ENAMETOOLONG;
    /* Private propagation first: none of these mounts may reach the host.
     * The file system type is ignored there; "none" rather than NULL, which
     * valgrind takes for an error. */
    if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0
        || mount("tmpfs", scratch, "tmpfs", MS_NOSUID, "mode=0700") < 0
        || mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0
        || mount("overlay", "/dev", "overlay", MS_NOSUID, options) < 0)
        return -errno;
    /* Whatever /dev/log was (a socket, a link to journald's), it is ours. */
    if (unlink("/dev/log") < 0 && errno != ENOENT)
        return -errno;
    int fd = open("/dev/log", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return -errno;
    close(fd);
    if (mount(socket_path, "/dev/log", "none", MS_BIND, NULL) < 0)
        return -errno;
    return 0;
}

const char *private_syslog_missing(const char *socket_path, const char *scratch)
{
    static char reason[160];
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(-private_syslog_enter(socket_path, scratch));
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return "cannot fork";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return NULL;
    snprintf(reason, sizeof(reason), "cannot give a private /dev/log (%s); needs "
             "CAP_SYS_ADMIN and overlayfs",
             WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "killed");
    return reason;
}
