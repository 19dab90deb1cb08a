// SPDX-License-Identifier: GPL-2.0-or-later
#include "fake-evtchn-control.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *fake_evtchn_dir_new(const char *parent)
{
    char *dir = NULL;
    if (asprintf(&dir, "%s/evtchn", parent) < 0)
        return NULL;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        free(dir);
        return NULL;
    }
    return dir;
}

int fake_evtchn_use(const char *dir, unsigned int domid)
{
    char number[16];
    snprintf(number, sizeof(number), "%u", domid);
    const char *asan = getenv("ASAN_OPTIONS");
    char *asan_options = NULL;
    /* The stand-in is preloaded ahead of a sanitized program's runtime. */
    if (asprintf(&asan_options, "%s%sverify_asan_link_order=0", asan ? asan : "",
                 asan && *asan ? ":" : "") < 0)
        return -ENOMEM;
    int r = setenv("LD_PRELOAD", FAKE_EVTCHN_PATH, 1) || setenv("XENREADY_FAKE_EVTCHN_DIR", dir, 1)
            || setenv("XENREADY_FAKE_EVTCHN_DOMID", number, 1)
            || setenv("ASAN_OPTIONS", asan_options, 1);
    free(asan_options);
    return r ? -errno : 0;
}

size_t fake_evtchn_count(const char *dir, const char *prefix)
{
    char path[4096], line[512];
    snprintf(path, sizeof(path), "%s/log", dir);
    FILE *file = fopen(path, "re");
    size_t count = 0;
    if (!file)
        return 0;
    while (fgets(line, sizeof(line), file))
        count += strncmp(line, prefix, strlen(prefix)) == 0;
    fclose(file);
    return count;
}

size_t fake_evtchn_ports(const char *dir, unsigned int domid)
{
    char prefix[32];
    int length = snprintf(prefix, sizeof(prefix), "port-%u-", domid);
    DIR *directory = opendir(dir);
    size_t count = 0;
    if (!directory)
        return 0;
    struct dirent *entry;
    while ((entry = readdir(directory)))
        count += strncmp(entry->d_name, prefix, (size_t)length) == 0
                 && !strchr(entry->d_name + length, '.');
    closedir(directory);
    return count;
}

int fake_evtchn_provision_static(const char *dir, unsigned int domid, unsigned int port,
                                 unsigned int remote_domid, unsigned int remote_port)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/static-%u-%u", dir, domid, port);
    FILE *file = fopen(path, "we");
    if (!file)
        return -errno;
    fprintf(file, "%u %u\n", remote_domid, remote_port);
    return fclose(file) ? -errno : 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int fake_evtchn_wait_port(const char *dir, unsigned int domid, unsigned int port, int gone,
                          int timeout_ms)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/port-%u-%u", dir, domid, port);
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0)
        return -errno;
    /* Records are written by rename(): IN_MOVED_TO as well as create/delete. */
    if (inotify_add_watch(fd, dir, IN_CREATE | IN_DELETE | IN_MOVED_TO) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    long long deadline = now_ms() + timeout_ms;
    int r = -ETIMEDOUT;
    for (;;) {
        if ((access(path, F_OK) != 0) == (gone != 0)) {
            r = 0;
            break;
        }
        long long left = deadline - now_ms();
        struct pollfd pollfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pollfd, 1, (int)left) <= 0)
            break;
        char buffer[4096];
        while (read(fd, buffer, sizeof(buffer)) > 0) {
        }
    }
    close(fd);
    return r;
}
