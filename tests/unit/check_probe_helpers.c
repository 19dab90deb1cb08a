// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pure helpers behind the backend probes: the kernel's dev_t encoding in
 * sock_diag answers, /proc/net/unix parsing, matching sockets to a file,
 * finding the process holding a socket, who may announce a backend, and the
 * configuration keys of the socket/unit/announce probes, liveness and
 * start-up timeouts. The socket tests use real sockets of this process.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "probes/announce-probe.h"
#include "probes/announce-store.h"
#include "core/model.h"
#include "probes/socket-diag.h"
#include "without-systemd.h"

START_TEST(kernel_dev_is_converted)
{
    /* MKDEV(8, 1) in the kernel is 8 << 20 | 1; st_dev encodes it as 0x801. */
    ck_assert_uint_eq(socket_diag_dev_from_kernel((8u << 20) | 1u), makedev(8, 1));
    ck_assert_uint_eq(makedev(8, 1), 0x801);
    /* Anonymous devices (tmpfs, overlay): minor above 255. */
    ck_assert_uint_eq(socket_diag_dev_from_kernel(300), makedev(0, 300));
    ck_assert_uint_ne(socket_diag_dev_from_kernel(300), 300);
    ck_assert_uint_eq(socket_diag_dev_from_kernel((259u << 20) | 70000u), makedev(259, 70000));
}
END_TEST

START_TEST(proc_net_unix_lines_are_parsed)
{
    struct unix_socket_info info;
    ck_assert_int_eq(socket_diag_parse_proc_line(
                         "Num       RefCount Protocol Flags    Type St Inode Path\n", &info),
                     -EINVAL);
    ck_assert_int_eq(socket_diag_parse_proc_line("0000000000000000: 00000002 00000000 00010000 "
                                                 "0001 01 12345 /run/vhost/i2c.sock\n", &info),
                     0);
    ck_assert(info.listening);
    ck_assert(!info.connected);
    ck_assert(!info.has_vfs);
    ck_assert_uint_eq(info.sock_ino, 12345);
    ck_assert_str_eq(info.path, "/run/vhost/i2c.sock");
    ck_assert_int_eq(socket_diag_parse_proc_line("ffff8a0c3b1e2000: 00000003 00000000 00000000 "
                                                 "0001 03 67890 /run/vhost/i2c.sock", &info),
                     0);
    ck_assert(!info.listening);
    ck_assert(info.connected);
    ck_assert_uint_eq(info.sock_ino, 67890);
    ck_assert_int_eq(socket_diag_parse_proc_line("ffff8a0c3b1e2400: 00000002 00000000 00000000 "
                                                 "0002 01 4242\n", &info), 0);
    ck_assert_str_eq(info.path, "");
    ck_assert_int_eq(socket_diag_parse_proc_line("garbage", &info), -EINVAL);
}
END_TEST

START_TEST(match_by_inode_or_by_name)
{
    struct unix_socket_info sockets[] = {
        {.sock_ino = 1, .listening = true, .has_vfs = true, .vfs_dev = 5, .vfs_ino = 77},
        {.sock_ino = 2, .connected = true, .has_vfs = true, .vfs_dev = 5, .vfs_ino = 78},
        {.sock_ino = 3, .connected = true, .path = "/run/a.sock"},
    };
    struct socket_match match;
    socket_diag_match(sockets, 3, 5, 77, "/run/x.sock", &match);
    ck_assert(match.listening);
    ck_assert(!match.attached);
    ck_assert_uint_eq(match.sock_ino, 1);
    /* Same inode on another device: a different file. */
    socket_diag_match(sockets, 3, 6, 77, "/run/x.sock", &match);
    ck_assert(!match.listening && !match.attached);
    socket_diag_match(sockets, 3, 5, 78, "/run/y.sock", &match);
    ck_assert(match.attached && !match.listening);
    ck_assert_uint_eq(match.sock_ino, 2);
    socket_diag_match(sockets, 3, 9, 9, "/run/a.sock", &match);
    ck_assert(match.attached);
    ck_assert_uint_eq(match.sock_ino, 3);
}
END_TEST

static int listen_at(const char *path)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    return fd;
}

/* A real listening socket is found by sock_diag through the converted
 * (dev, ino) of stat(), and by /proc/net/unix through its name. */
START_TEST(real_listener_is_found_both_ways)
{
    char dir[] = "/tmp/check-probes-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s", dir);
    int fd = listen_at(path);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    struct unix_socket_info *sockets;
    size_t count;
    struct socket_match match;
    ck_assert_int_eq(socket_diag_dump_netlink(&sockets, &count), 0);
    socket_diag_match(sockets, count, st.st_dev, st.st_ino, path, &match);
    free(sockets);
    ck_assert_msg(match.listening, "sock_diag did not find %s (dev %lx)", path,
                  (unsigned long)st.st_dev);
    ck_assert_int_eq(socket_diag_dump_proc("/proc/net/unix", &sockets, &count), 0);
    socket_diag_match(sockets, count, st.st_dev, st.st_ino, path, &match);
    free(sockets);
    ck_assert(match.listening);
    close(fd);
    ck_assert_int_eq(socket_diag_dump_netlink(&sockets, &count), 0);
    socket_diag_match(sockets, count, st.st_dev, st.st_ino, path, &match);
    free(sockets);
    ck_assert(!match.listening && !match.attached);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(holder_is_found_in_proc)
{
    char dir[] = "/tmp/check-probes-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s", dir);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t child = fork();
    if (child == 0) {
        listen_at(path);
        ck_assert_int_eq(write(ready[1], "x", 1), 1);
        pause();
        _exit(0);
    }
    char byte;
    ck_assert_int_eq(read(ready[0], &byte, 1), 1);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    struct unix_socket_info *sockets;
    size_t count;
    struct socket_match match;
    ck_assert_int_eq(socket_diag_dump_netlink(&sockets, &count), 0);
    socket_diag_match(sockets, count, st.st_dev, st.st_ino, path, &match);
    free(sockets);
    ck_assert(match.listening);
    ck_assert_int_eq(socket_diag_find_holder("/proc", match.sock_ino, NULL), child);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    ck_assert_int_eq(socket_diag_find_holder("/proc", match.sock_ino, NULL), 0);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(only_the_owner_may_announce)
{
    char reason[256];
    struct backend backend = {.name = "i2c", .owner = OWNER_UID, .owner_uid = 4242};
    ck_assert_int_eq(announce_authorise(&backend, 4242, NULL, reason, sizeof(reason)), 0);
    ck_assert_int_eq(announce_authorise(&backend, 0, NULL, reason, sizeof(reason)), -EPERM);
    ck_assert_str_eq(reason, "backend i2c may only be announced by uid 4242; the peer has uid 0");
    backend = (struct backend){.name = "i2c", .owner = OWNER_UNIT,
                               .owner_unit = "vhost-device-i2c.service"};
    ck_assert_int_eq(announce_authorise(&backend, 0, "vhost-device-i2c.service", reason,
                                        sizeof(reason)), 0);
    ck_assert_int_eq(announce_authorise(&backend, 0, "sshd.service", reason, sizeof(reason)),
                     -EPERM);
    ck_assert_str_eq(reason, "backend i2c may only be announced from unit "
                             "vhost-device-i2c.service; the peer runs in sshd.service");
    ck_assert_int_eq(announce_authorise(&backend, 0, NULL, reason, sizeof(reason)), -EPERM);
    ck_assert_ptr_nonnull(strstr(reason, "the peer runs in no systemd unit"));
}
END_TEST

/* Loads text; returns the report's lines joined, and the model in *out. */
static char *load(const char *text, struct model **out)
{
    char dir[] = "/tmp/check-probes-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/xenready.conf", dir);
    FILE *file = fopen(path, "w");
    fputs(text, file);
    fclose(file);
    struct config_report report = {0};
    struct model *model = NULL;
    config_load(path, NULL, &model, &report);
    char *joined = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&joined, &size);
    for (size_t i = 0; i < report.line_count; i++)
        fprintf(stream, "%s\n", strstr(report.lines[i], "xenready.conf") + 13);
    fclose(stream);
    config_report_clear(&report);
    unlink(path);
    rmdir(dir);
    if (out)
        *out = model;
    else
        model_free(model);
    return joined;
}

#define HEAD "[frontend domu1]\ndomid = 5\n[bridge domu1/pcie0]\ndevice-tree-path = /p\nbackends = b\n"

START_TEST(config_keys_of_the_probes)
{
    struct model *model;
    char *report = load(HEAD "timeout = 30\n[backend b]\npath = /run/vhost/i2c.sock\n"
                             "probe = socket\npidfile = /run/i2c.pid\n", &model);
    ck_assert_str_eq(report, "");
    free(report);
    ck_assert_ptr_nonnull(model);
    struct backend *backend = model_find_backend(model, "b");
    ck_assert_int_eq(backend->probe, PROBE_SOCKET);
    ck_assert_str_eq(backend->socket_path, "/run/vhost/i2c.sock");
    ck_assert_str_eq(backend->pidfile, "/run/i2c.pid");
    ck_assert_uint_eq(model_find_bridge(model, "domu1/pcie0")->timeout_seconds, 30);
    model_free(model);

    /* A socket's identity: who must own it, and whether it may be a link. */
    report = load(HEAD "[backend b]\nprobe = socket\npath = /run/b.sock\nowner = uid:107\n"
                       "follow-symlink = yes\n", &model);
    ck_assert_str_eq(report, "");
    free(report);
    backend = model_find_backend(model, "b");
    ck_assert_int_eq(backend->owner, OWNER_UID);
    ck_assert_uint_eq(backend->owner_uid, 107);
    ck_assert(backend->follow_symlink);
    model_free(model);

    report = load(HEAD "[backend b]\nvalue = 4\npath = backend/vbd/5/0/state\nprobe = xenstore\n",
                  &model);
    ck_assert_str_eq(report, "");
    free(report);
    backend = model_find_backend(model, "b");
    ck_assert_str_eq(backend->xenstore_path, "backend/vbd/5/0/state");
    ck_assert_str_eq(backend->expected_value, "4");
    model_free(model);
}
END_TEST

/* Units as owner, liveness and probe: refused without systemd
 * (check_config's unit_keys_need_systemd). */
START_TEST(config_keys_of_units)
{
    SKIP_WITHOUT_SYSTEMD("config keys of units");
    struct model *model;
    char *report = load(HEAD "[backend b]\nprobe = announce\n"
                             "owner = unit:vhost-device-i2c.service\n"
                             "liveness-unit = vhost-device-i2c.service\n", &model);
    ck_assert_str_eq(report, "");
    free(report);
    struct backend *backend = model_find_backend(model, "b");
    ck_assert_int_eq(backend->owner, OWNER_UNIT);
    ck_assert_str_eq(backend->owner_unit, "vhost-device-i2c.service");
    ck_assert_str_eq(backend->liveness_unit, "vhost-device-i2c.service");
    model_free(model);

    /* A probe's keys before the probe: the backend keeps its own kind's. */
    report = load(HEAD "[backend b]\nunit = vhost-device-i2c.service\n"
                       "liveness-unit = qemu.service\nprobe = unit\n", &model);
    ck_assert_str_eq(report, "");
    free(report);
    backend = model_find_backend(model, "b");
    ck_assert_str_eq(backend->unit, "vhost-device-i2c.service");
    ck_assert_str_eq(backend->liveness_unit, "qemu.service");
    model_free(model);
}
END_TEST

/* Every report line, exactly and in order. HEAD is 5 lines: [backend b] is
 * line 6, its keys start at 7. A key that the backend's probe does not take
 * is reported at its own line, whether it comes before or after probe =. */
START_TEST(config_errors_of_the_probes)
{
    struct {
        const char *text, *expected;
    } cases[] = {
        {HEAD "[backend b]\nprobe = socket\npath = relative.sock\n",
         ":8: error: bad socket path \"relative.sock\" for backend b: an absolute path of at most "
         "107 characters\n"},
        {HEAD "[backend b]\nprobe = socket\n",
         ":6: error: backend b: probe = socket needs path = /PATH/OF/THE/SOCKET\n"},
        /* A key given with a bad value is reported there, not as missing too. */
        {HEAD "[backend b]\nprobe = unit\nunit = noperiod\n",
         ":8: error: bad unit \"noperiod\" for backend b: a systemd unit name such as "
         "vhost-device-i2c.service\n"},
        {HEAD "[backend b]\nprobe = announce\nowner = root\n",
         ":8: error: bad owner \"root\" for backend b: expected uid:NUMBER or unit:NAME.service\n"},
        {HEAD "[backend b]\nprobe = unit\nunit = u.service\nowner = uid:1\n",
         ":9: error: backend b: owner = is only for probe = announce and probe = socket\n"},
        {HEAD "[backend b]\nvalue = 4\nunit = a.service\nowner = unit:b.service\nprobe = socket\n"
              "path = /s\n",
         ":7: error: backend b: value = is only for probe = xenstore\n"
         ":8: error: backend b: unit = is only for probe = unit (liveness-unit = works with any "
         "probe)\n"
         ":9: error: backend b: a socket's owner = is uid:NUMBER (who must own the socket "
         "file)\n"},
        {HEAD "[backend b]\nprobe = socket\npath = /s\nfollow-symlink = always\n",
         ":9: error: bad follow-symlink \"always\" for backend b: expected yes or no\n"},
        {HEAD "[backend b]\nprobe = announce\nowner = uid:0\nfollow-symlink = yes\n",
         ":9: error: backend b: follow-symlink = is only for probe = socket\n"},
        {HEAD "[backend b]\nfollow-symlink = no\nprobe = unit\nunit = u.service\n",
         ":7: error: backend b: follow-symlink = is only for probe = socket\n"},
        /* The second of the two liveness keys is the one refused. */
        {HEAD "[backend b]\nprobe = socket\npath = /s\npidfile = /p\nliveness-unit = a.service\n",
         ":10: error: backend b: use pidfile = or liveness-unit = for liveness, not both\n"},
        {HEAD "[backend b]\nliveness-unit = a.service\nprobe = socket\npath = /s\npidfile = /p\n",
         ":10: error: backend b: use pidfile = or liveness-unit = for liveness, not both\n"},
        {HEAD "timeout = soon\n[backend b]\nprobe = announce\nowner = uid:0\n",
         ":6: error: bad timeout \"soon\" for bridge domu1/pcie0: expected seconds from 0 (none) "
         "to 86400\n"},
        /* path = after probe = unit used to be taken as a xenstore path and
         * dropped without a word. */
        {HEAD "[backend b]\nprobe = unit\nunit = u.service\npath = /x\n",
         ":9: error: backend b: path = is only for probe = socket and probe = xenstore\n"},
        {HEAD "[backend b]\npath = /x\nprobe = announce\nowner = uid:0\n",
         ":7: error: backend b: path = is only for probe = socket and probe = xenstore\n"},
        {HEAD "[backend b]\nprobe = device-model\nfrontend = domu1\nvalue = running\n",
         ":9: error: backend b: value = is not for probe = device-model, which sets path and "
         "value itself; use probe = xenstore to choose them\n"},
        {HEAD "[backend b]\npath = device-model/5/state\nprobe = device-model\nfrontend = domu1\n",
         ":7: error: backend b: path = is not for probe = device-model, which sets path and "
         "value itself; use probe = xenstore to choose them\n"},
        /* A refused path is not judged as a path besides. */
        {HEAD "[backend b]\npath = a//b\nprobe = device-model\nfrontend = domu1\n",
         ":7: error: backend b: path = is not for probe = device-model, which sets path and "
         "value itself; use probe = xenstore to choose them\n"},
        {HEAD "[backend b]\nprobe = unit\nunit = u.service\npath = not a path\n",
         ":9: error: backend b: path = is only for probe = socket and probe = xenstore\n"},
        {HEAD "[backend b]\nprobe = socket\npath = /s\nfrontend = domu1\n",
         ":9: error: backend b: frontend = is only for probe = device-model\n"},
        {HEAD "[backend b]\nunit = a.service\nprobe = announce\nowner = uid:0\n",
         ":7: error: backend b: unit = is only for probe = unit (liveness-unit = works with any "
         "probe)\n"},
        {HEAD "[backend b]\nprobe = xenstore\npath = a\nvalue = 1\nowner = uid:0\n",
         ":10: error: backend b: owner = is only for probe = announce and probe = socket\n"},
        /* An unknown probe is reported once: the backend has no kind, and
         * none of its keys is judged by one (nor missing for one). */
        {HEAD "[backend b]\nprobe = teleport\n",
         ":7: error: unknown probe \"teleport\" for backend b (known: xenstore, device-model, "
         "socket, unit, announce, xenready)\n"},
        {HEAD "[backend b]\nprobe = qemu\npath = /x\nvalue = 1\nunit = a.service\nowner = uid:0\n"
              "frontend = domu1\nfollow-symlink = yes\n",
         ":7: error: unknown probe \"qemu\" for backend b (known: xenstore, device-model, "
         "socket, unit, announce, xenready)\n"},
        /* What holds for every kind is still checked. */
        {HEAD "[backend b]\nprobe = qemu\npidfile = /p\nliveness-unit = a.service\nowner = root\n"
              "colour = red\n",
         ":7: error: unknown probe \"qemu\" for backend b (known: xenstore, device-model, "
         "socket, unit, announce, xenready)\n"
         ":10: error: bad owner \"root\" for backend b: expected uid:NUMBER or unit:NAME.service\n"
         ":11: error: unknown key \"colour\" in [backend b] (known: probe, path, value, frontend, "
         "bridge, publisher, unit, owner, follow-symlink, pidfile, liveness-unit)\n"
         ":9: error: backend b: use pidfile = or liveness-unit = for liveness, not both\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!XENREADY_WITH_SYSTEMD && config_needs_systemd(cases[i].text)) {
            printf("config_errors_of_the_probes case %zu: skipped: " WITHOUT_SYSTEMD_REASON "\n",
                   i);
            continue;
        }
        struct model *model;
        char *report = load(cases[i].text, &model);
        ck_assert_msg(strcmp(report, cases[i].expected) == 0, "case %zu:\n%s\nexpected:\n%s", i,
                      report, cases[i].expected);
        ck_assert_msg(model == NULL, "case %zu: a model despite errors", i);
        free(report);
    }
}
END_TEST

/* Liveness: a backend is ready only while its probe and its liveness hold. */
START_TEST(liveness_and_probe_both_needed)
{
    struct model *model;
    char *report = load(HEAD "[backend b]\nprobe = socket\npath = /s\npidfile = /p\n", &model);
    free(report);
    struct backend *backend = model_find_backend(model, "b");
    struct bridge *bridge = model_find_bridge(model, "domu1/pcie0");
    model_set_backend_ready(model, backend, true, NULL);
    ck_assert(!backend->ready);
    model_set_backend_alive(model, backend, true, NULL);
    ck_assert(backend->ready);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    model_set_backend_alive(model, backend, false, "process 7 exited");
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
    ck_assert_str_eq(backend->detail, "process 7 exited");
    model_set_bridge_degraded(model, bridge, true);
    ck_assert(bridge->degraded);
    model_set_backend_alive(model, backend, true, NULL);
    ck_assert_int_eq(bridge->state, BRIDGE_READY);
    ck_assert(!bridge->degraded);
    model_free(model);
}
END_TEST

/* A temporary directory (malloc'd path). */
static char *temporary_directory(void)
{
    char *dir = strdup("/tmp/check-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

/* What was announced survives a save and a load; owners are spelt as the
 * store compares them. */
START_TEST(announcements_are_kept_and_read_back)
{
    char *dir = temporary_directory(), path[128];
    snprintf(path, sizeof(path), "%s/announced", dir);
    struct announce_records records = {0}, loaded = {0};
    ck_assert_int_eq(announce_records_load(path, &loaded), 0);   /* none yet */
    ck_assert_uint_eq(loaded.count, 0);
    struct announce_record kept[2] = {
        {.backend = "i2c", .owner = "uid:4242", .pid = 17, .uid = 4242, .time = 1700000000},
        {.backend = "gpu", .owner = "unit:gpu.service", .cgroup = "/system.slice/gpu.service",
         .pid = 18, .uid = 0, .time = 1700000001},
    };
    records.records = kept;
    records.count = 2;
    ck_assert_int_eq(announce_records_save(path, &records), 0);
    ck_assert_int_eq(announce_records_load(path, &loaded), 0);
    ck_assert_uint_eq(loaded.count, 2);
    struct announce_record *gpu = announce_records_find(&loaded, "gpu");
    ck_assert_ptr_nonnull(gpu);
    ck_assert_str_eq(gpu->owner, "unit:gpu.service");
    ck_assert_str_eq(gpu->cgroup, "/system.slice/gpu.service");
    ck_assert_int_eq(gpu->pid, 18);
    ck_assert_ptr_null(announce_records_find(&loaded, "net"));
    announce_records_clear(&loaded);

    struct backend backend = {.name = "i2c", .owner = OWNER_UID, .owner_uid = 4242};
    char owner[64];
    announce_owner_text(&backend, owner, sizeof(owner));
    ck_assert_str_eq(owner, "uid:4242");
    backend = (struct backend){.name = "gpu", .owner = OWNER_UNIT, .owner_unit = "gpu.service"};
    announce_owner_text(&backend, owner, sizeof(owner));
    ck_assert_str_eq(owner, "unit:gpu.service");
    unlink(path);
    rmdir(dir);
    free(dir);
}
END_TEST

/* Only a regular file of ours that nobody else may write is read: never a
 * FIFO (opening it would block), a link, or what another user wrote. */
START_TEST(only_a_trusted_store_is_read)
{
    char *dir = temporary_directory(), path[128], target[128];
    snprintf(path, sizeof(path), "%s/announced", dir);
    snprintf(target, sizeof(target), "%s/elsewhere", dir);
    struct announce_records loaded = {0};
    FILE *file = fopen(target, "w");
    fputs("{\"version\": 1, \"announced\": [{\"backend\": \"x\", \"owner\": \"uid:0\"}]}",
          file);
    fclose(file);
    chmod(target, 0600);
    ck_assert_int_eq(symlink(target, path), 0);
    ck_assert_int_lt(announce_records_load(path, &loaded), 0);
    unlink(path);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(announce_records_load(path, &loaded), -EINVAL);
    unlink(path);
    ck_assert_int_eq(rename(target, path), 0);
    chmod(path, 0666);
    ck_assert_int_eq(announce_records_load(path, &loaded), -EINVAL);
    chmod(path, 0600);
    ck_assert_int_eq(announce_records_load(path, &loaded), 0);
    ck_assert_uint_eq(loaded.count, 1);
    announce_records_clear(&loaded);
    file = fopen(path, "w");
    fputs("{\"version\": 2, \"announced\": []}", file);
    fclose(file);
    ck_assert_int_eq(announce_records_load(path, &loaded), -EINVAL);
    ck_assert_uint_eq(loaded.count, 0);
    unlink(path);
    rmdir(dir);
    free(dir);
}
END_TEST

/* A unit's announcement counts after a restart while its control group has
 * processes: cgroup.events of the unified hierarchy (also under "unified"
 * in a hybrid layout), or cgroup.procs of the named systemd one. */
START_TEST(owner_unit_runs_while_its_cgroup_has_processes)
{
    char *root = temporary_directory(), path[256];
    const char *unit = "/system.slice/gpu.service";
    ck_assert_int_eq(announce_cgroup_populated(root, unit), -ENOENT);
    snprintf(path, sizeof(path), "%s/system.slice", root);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s%s", root, unit);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s%s/cgroup.events", root, unit);
    FILE *file = fopen(path, "w");
    fputs("populated 1\nfrozen 0\n", file);
    fclose(file);
    ck_assert_int_eq(announce_cgroup_populated(root, unit), 1);
    file = fopen(path, "w");
    fputs("populated 0\nfrozen 0\n", file);
    fclose(file);
    ck_assert_int_eq(announce_cgroup_populated(root, unit), 0);
    unlink(path);
    /* A hybrid layout's named hierarchy lists the processes only. */
    snprintf(path, sizeof(path), "%s%s", root, unit);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/system.slice", root);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/systemd", root);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/systemd/system.slice", root);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/systemd%s", root, unit);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/systemd%s/cgroup.procs", root, unit);
    file = fopen(path, "w");
    fputs("4242\n", file);
    fclose(file);
    ck_assert_int_eq(announce_cgroup_populated(root, unit), 1);
    file = fopen(path, "w");
    fclose(file);
    ck_assert_int_eq(announce_cgroup_populated(root, unit), 0);
    ck_assert_int_eq(announce_cgroup_populated(root, "/system.slice/../../etc"), -EINVAL);
    ck_assert_int_eq(announce_cgroup_populated(root, "relative"), -EINVAL);
    unlink(path);
    snprintf(path, sizeof(path), "%s/systemd%s", root, unit);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/systemd/system.slice", root);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/systemd", root);
    rmdir(path);
    rmdir(root);
    free(root);
}
END_TEST

static Suite *helpers_suite(void)
{
    Suite *suite = suite_create("probe helpers");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"dev_t", kernel_dev_is_converted},
        {"proc parse", proc_net_unix_lines_are_parsed},
        {"match", match_by_inode_or_by_name},
        {"real listener", real_listener_is_found_both_ways},
        {"holder", holder_is_found_in_proc},
        {"owner", only_the_owner_may_announce},
        {"config keys", config_keys_of_the_probes},
        {"config keys of units", config_keys_of_units},
        {"config errors", config_errors_of_the_probes},
        {"liveness", liveness_and_probe_both_needed},
        {"announcements kept", announcements_are_kept_and_read_back},
        {"trusted store", only_a_trusted_store_is_read},
        {"owner unit runs", owner_unit_runs_while_its_cgroup_has_processes},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tcase = tcase_create(cases[i].name);
        tcase_add_test(tcase, cases[i].test);
        suite_add_tcase(suite, tcase);
    }
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(helpers_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
