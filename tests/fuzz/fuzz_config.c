// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the configuration loader: any bytes as a
 * configuration file must give either a model or a report of errors, never a
 * crash, a leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "core/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create("fuzz-config", MFD_CLOEXEC);
        /* A memfd is made with mode 0777, and the loader refuses files that
         * others may write: every input would stop there. */
        if (fd >= 0 && fchmod(fd, 0600) < 0)
            __builtin_trap();
    }
    if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    struct config_report report = {0};
    struct model *model = NULL;
    int r = config_load(path, NULL, &model, &report);
    /* The loader's contract: a model exactly when there is no error. */
    if ((r == 0) != (model != NULL) || (r == 0 && report.error_count))
        __builtin_trap();
    model_free(model);
    config_report_clear(&report);
    return 0;
}
