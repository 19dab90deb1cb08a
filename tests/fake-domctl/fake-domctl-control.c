// SPDX-License-Identifier: GPL-2.0-or-later
#include "fake-domctl-control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *fake_domctl_dir_new(const char *parent)
{
    char *dir = NULL;
    if (asprintf(&dir, "%s/domctl", parent) < 0)
        return NULL;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        free(dir);
        return NULL;
    }
    return dir;
}

int fake_domctl_use(const char *dir)
{
    /* ':' between entries, as valgrind writes them: valgrind takes its own
     * entries out of LD_PRELOAD when its client executes a program, by
     * ':', and with ' ' would take the stand-in out with them. */
    const char *preload = getenv("LD_PRELOAD"), *asan = getenv("ASAN_OPTIONS");
    char *value = NULL, *asan_options = NULL;
    if (asprintf(&value, "%s%s%s", preload && *preload ? preload : "",
                 preload && *preload ? ":" : "", FAKE_DOMCTL_PATH) < 0)
        return -ENOMEM;
    /* A sanitized xenreadyd would refuse a preloaded object before its
     * runtime (as with tests/fake-evtchn). */
    if (asprintf(&asan_options, "%s%sverify_asan_link_order=0", asan ? asan : "",
                 asan && *asan ? ":" : "") < 0) {
        free(value);
        return -ENOMEM;
    }
    int r = setenv("LD_PRELOAD", value, 1) || setenv("XENREADY_FAKE_DOMCTL_DIR", dir, 1)
            || setenv("ASAN_OPTIONS", asan_options, 1);
    free(value);
    free(asan_options);
    return r ? -errno : 0;
}

static int domain_write(const char *dir, unsigned int domid, int paused, int dying,
                        const unsigned char handle[16])
{
    char path[4096], temporary[4200];
    snprintf(path, sizeof(path), "%s/domain-%u", dir, domid);
    snprintf(temporary, sizeof(temporary), "%s.new", path);
    FILE *file = fopen(temporary, "we");
    if (!file)
        return -errno;
    fprintf(file, "paused %d dying %d handle ", paused, dying);
    for (int i = 0; i < 16; i++)
        fprintf(file, "%02x", handle[i]);
    fputc('\n', file);
    if (fclose(file) != 0 || rename(temporary, path) < 0)
        return -errno;
    return 0;
}

static int domain_read(const char *dir, unsigned int domid, int *paused, int *dying,
                       unsigned char handle[16])
{
    char path[4096], hex[40] = "";
    snprintf(path, sizeof(path), "%s/domain-%u", dir, domid);
    FILE *file = fopen(path, "re");
    if (!file)
        return -ENOENT;
    int fields = fscanf(file, "paused %d dying %d handle %32s", paused, dying, hex);
    fclose(file);
    if (fields != 3)
        return -EINVAL;
    for (int i = 0; i < 16; i++) {
        unsigned int byte = 0;
        sscanf(hex + 2 * i, "%2x", &byte);
        handle[i] = (unsigned char)byte;
    }
    return 0;
}

int fake_domctl_create(const char *dir, unsigned int domid, bool paused, unsigned char instance)
{
    unsigned char handle[16];
    memset(handle, instance, sizeof(handle));
    return domain_write(dir, domid, paused, 0, handle);
}

int fake_domctl_set_paused(const char *dir, unsigned int domid, bool paused)
{
    int was_paused, dying;
    unsigned char handle[16];
    int r = domain_read(dir, domid, &was_paused, &dying, handle);
    return r < 0 ? r : domain_write(dir, domid, paused, dying, handle);
}

int fake_domctl_destroy(const char *dir, unsigned int domid)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/domain-%u", dir, domid);
    return unlink(path) < 0 ? -errno : 0;
}

int fake_domctl_paused(const char *dir, unsigned int domid)
{
    int paused, dying;
    unsigned char handle[16];
    int r = domain_read(dir, domid, &paused, &dying, handle);
    return r < 0 ? r : paused != 0;
}

int fake_domctl_privileged(const char *dir, bool privileged)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/no-privilege", dir);
    if (privileged)
        return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
    FILE *file = fopen(path, "we");
    return file && fclose(file) == 0 ? 0 : -errno;
}

int fake_domctl_may_control(const char *dir, bool may_control)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/no-control", dir);
    if (may_control)
        return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
    FILE *file = fopen(path, "we");
    return file && fclose(file) == 0 ? 0 : -errno;
}

size_t fake_domctl_count(const char *dir, const char *prefix)
{
    char path[4096], line[256];
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
