// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The socket probe against a real vhost-user pair, without Xen: Debian's
 * virtiofsd (QEMU 7.2's, /usr/lib/qemu/virtiofsd in qemu-system-common) as
 * the backend and an unmodified QEMU (TCG, stopped with -S) as its
 * vhost-user frontend, both as their authors run them. xenreadyd (as DomD,
 * against the real xenstored of tests/harness) must see the backend
 * listening, then attached (virtiofsd closes its listener once it accepted
 * its one frontend: a daemon started then still counts it up), then killed
 * and gone; and it must never connect itself: virtiofsd accepts exactly one
 * connection, so a probe that connected would have taken QEMU's place and
 * QEMU would fail to start (and /proc/net/unix shows the one connection).
 * Every wait is on an event: the daemon's STATUS= messages, QEMU's QMP
 * greeting (sent once its devices, the vhost-user one included, are set up).
 * Skipped (77) without virtiofsd or qemu-system-x86_64, or when not root
 * (virtiofsd's sandbox needs it).
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon-runner.h"
#include "harness.h"

enum { DOMD = 1, FRONTEND = 5, TIMEOUT_MS = 20000 };

#define VIRTIOFSD "/usr/lib/qemu/virtiofsd"
#define QEMU "qemu-system-x86_64"

static struct harness *harness;
static struct daemon_runner runner;
static char dir[256], sock[320];
static pid_t virtiofsd = -1, qemu = -1;
static FILE *qmp;

static void setup(void)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    snprintf(dir, sizeof(dir), "%s", harness_directory(harness));
    snprintf(sock, sizeof(sock), "%s/fs.sock", dir);
}

static void reap(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    *pid = -1;
}

static void teardown(void)
{
    daemon_runner_finish(&runner);
    reap(&qemu);
    reap(&virtiofsd);
    if (qmp)
        fclose(qmp);
    qmp = NULL;
    harness_stop(harness);
    harness = NULL;
}

/* Each daemon in a directory of its own (its control and notify sockets). */
static void start_daemon(const char *subdir)
{
    char config[1024];
    snprintf(config, sizeof(config),
             "[frontend domu1]\ndomid = 5\n\n"
             "[backend fs]\nprobe = socket\npath = %s\n\n"
             "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = fs\n",
             sock);
    ck_assert_int_eq(daemon_runner_init_in(&runner, harness, DOMD, config, subdir), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
}

static void start_virtiofsd(void)
{
    char share[300], source[320], socket_path[340];
    snprintf(share, sizeof(share), "%s/share", dir);
    ck_assert_int_eq(mkdir(share, 0755), 0);
    snprintf(source, sizeof(source), "source=%s", share);
    snprintf(socket_path, sizeof(socket_path), "--socket-path=%s", sock);
    virtiofsd = fork();
    ck_assert_int_ge(virtiofsd, 0);
    if (virtiofsd == 0) {
        execl(VIRTIOFSD, VIRTIOFSD, socket_path, "-o", source, (char *)NULL);
        _exit(127);
    }
}

/* QEMU as virtiofsd's vhost-user frontend; returns once QEMU sent its QMP
 * greeting, i.e. once the vhost-user device was realized (connected and
 * negotiated); fails the test if QEMU exits instead. */
static void start_qemu(void)
{
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    char chardev[400];
    snprintf(chardev, sizeof(chardev), "socket,id=fs,path=%s", sock);
    qemu = fork();
    ck_assert_int_ge(qemu, 0);
    if (qemu == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execlp(QEMU, QEMU, "-accel", "tcg", "-machine", "q35,memory-backend=mem", "-object",
               "memory-backend-memfd,id=mem,size=64M,share=on", "-nodefaults", "-display", "none",
               "-S", "-qmp", "stdio", "-chardev", chardev, "-device",
               "vhost-user-fs-pci,chardev=fs,tag=share", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    qmp = fdopen(out[0], "r");
    ck_assert_ptr_nonnull(qmp);
    char line[1024];
    ck_assert_msg(fgets(line, sizeof(line), qmp) && strstr(line, "\"QMP\""),
                  "QEMU did not start as virtiofsd's vhost-user frontend");
}

/* Sockets bound at sock in /proc/net/unix: listening ones, connected ones. */
static void count_sockets(int *listening, int *connected)
{
    FILE *file = fopen("/proc/net/unix", "r");
    ck_assert_ptr_nonnull(file);
    char line[1024];
    *listening = *connected = 0;
    while (fgets(line, sizeof(line), file)) {
        unsigned long flags = 0, type = 0, state = 0;
        char path[512] = "";
        if (sscanf(line, "%*s %*s %*s %lx %lx %lx %*s %511s", &flags, &type, &state, path) != 4
            || strcmp(path, sock) != 0)
            continue;
        if (flags & 0x10000)     /* __SO_ACCEPTCON */
            (*listening)++;
        else if (state == 3)     /* SS_CONNECTED */
            (*connected)++;
    }
    fclose(file);
}

START_TEST(virtiofsd_listening_attached_killed)
{
    start_daemon("first");
    ck_assert_str_eq(runner.last_status, "0/1 bridges ready; waiting: domu1/pcie0 (fs)");

    /* Listening: up. */
    start_virtiofsd();
    daemon_runner_assert_status(&runner, "1/1 bridges ready", TIMEOUT_MS);
    int listening, connected;
    count_sockets(&listening, &connected);
    ck_assert_int_eq(listening, 1);
    ck_assert_int_eq(connected, 0);

    /* Attached: virtiofsd accepted QEMU, its one connection, and closed its
     * listener. Had the probe connected, QEMU could not have. */
    start_qemu();
    count_sockets(&listening, &connected);
    ck_assert_msg(listening == 0 && connected == 1,
                  "after QEMU attached: %d listening, %d connected sockets at %s (want 0 and 1)",
                  listening, connected, sock);
    /* A daemon started now sees only the attached socket: still up. */
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    daemon_runner_finish(&runner);
    start_daemon("second");
    ck_assert_str_eq(runner.last_status, "1/1 bridges ready");
    count_sockets(&listening, &connected);
    ck_assert_int_eq(connected, 1);

    /* Killed: the process holding the socket died (its pidfd), the bridge
     * waits. */
    kill(virtiofsd, SIGKILL);
    daemon_runner_assert_status(&runner, "0/1 bridges ready; waiting: domu1/pcie0 (fs)",
                                TIMEOUT_MS);
}
END_TEST

static const char *missing(void)
{
    static char reason[128];
    if (geteuid() != 0)
        return "not root (virtiofsd's sandbox needs it)";
    if (access(VIRTIOFSD, X_OK) != 0)
        return VIRTIOFSD " not found (qemu-system-common)";
    if (system(QEMU " --version >/dev/null 2>&1") != 0) {
        snprintf(reason, sizeof(reason), "%s not found (qemu-system-x86)", QEMU);
        return reason;
    }
    return NULL;
}

int main(void)
{
    Suite *suite = suite_create("vhost_user");
    const struct integration_case cases[] = {
        {"virtiofsd_listening_attached_killed", virtiofsd_listening_attached_killed},
    };
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), setup, teardown);
    return integration_main(suite, missing());
}
