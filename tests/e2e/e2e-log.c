// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * e2e-log — the end-to-end test's log lines, "E2E[TAG] SECONDS.MICROSECONDS
 * WORDS...", stamped with CLOCK_REALTIME when printed.
 *
 *   e2e-log TAG WORDS...             one line
 *   e2e-log --lines TAG PREFIX       one line per line of standard input,
 *                                    "PREFIX line" (one process for a table:
 *                                    each exec costs ~0.1 s in a PV guest
 *                                    under TCG)
 *
 * busybox date has no sub-second format. Every Xen PV guest derives
 * CLOCK_REALTIME from the hypervisor's wallclock and system time, so stamps
 * taken in DomD and in DomU can be compared: that is how tests/e2e/check-log
 * measures "last backend up -> the frontend sees the signal" inside the guests.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

static void stamp(const char *tag)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    printf("E2E[%s] %lld.%06ld", tag, (long long)now.tv_sec, now.tv_nsec / 1000);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--lines") == 0) {
        char line[4096];
        while (fgets(line, sizeof(line), stdin)) {
            line[strcspn(line, "\n")] = '\0';
            stamp(argv[2]);
            printf(" %s %s\n", argv[3], line);
            fflush(stdout);
        }
        return ferror(stdin) || ferror(stdout) ? 1 : 0;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: e2e-log TAG [WORDS...] | e2e-log --lines TAG PREFIX\n");
        return 2;
    }
    stamp(argv[1]);
    for (int i = 2; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
    return fflush(stdout) == 0 ? 0 : 1;
}
