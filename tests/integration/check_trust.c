// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Trust boundaries (docs/SECURITY.md), against the real xenstored: everyone
 * less trusted than root is hostile, and none of them can make a frontend
 * be told "ready" falsely, or stall the daemon. The daemon runs as root (as
 * DomD, domain 1) unless said otherwise; the hostile parties are a
 * throwaway uid (65534) on a private system bus with Debian's system bus
 * policy, writers of the directories of pidfiles and sockets, and members
 * of the control group.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <json-c/json.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "harness.h"
#include "xenready-control.h"

enum { DOMD = 1, FRONTEND = 5, TIMEOUT_MS = 10000, NOBODY = 65534 };

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd, *frontend;
static struct fake_systemd fake;

static void setup(void)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    ck_assert_ptr_nonnull(domd = harness_open(harness, DOMD));
    ck_assert_ptr_nonnull(frontend = harness_open(harness, FRONTEND));
    /* Others may reach what lies in it (the bus socket), not list it. */
    ck_assert_int_eq(chmod(harness_directory(harness), 0711), 0);
}

static void teardown(void)
{
    daemon_runner_finish(&runner);
    fake_systemd_stop(&fake);
    if (domd)
        xs_close(domd);
    if (frontend)
        xs_close(frontend);
    domd = frontend = NULL;
    harness_stop(harness);
    harness = NULL;
}

static void assert_settled(const char *id, const char *state)
{
    char node[96];
    snprintf(node, sizeof(node), "/local/domain/5/xenready/%s", id);
    ck_assert_msg(xs_wait_settled(frontend, node, state, TIMEOUT_MS) == 0, "%s never showed %s",
                  id, state);
}

/* Runs a peer program to its end; returns its standard output's first line
 * (malloc'd). */
static char *run_peer(const char *const *argv)
{
    struct peer peer;
    peer_start(&peer, argv);
    char line[256];
    char *first = strdup(peer_line(&peer, line, sizeof(line)));
    int status;
    ck_assert_int_eq(waitpid(peer.pid, &status, 0), peer.pid);
    peer.pid = 0;
    fclose(peer.out);
    close(peer.in);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed", argv[0]);
    return first;
}

static const char *const unit_config =
    TEST_CONFIG_FRONTEND TEST_CONFIG_BACKEND_DM
    "[backend u0]\nprobe = unit\nunit = u0.service\n\n"
    "[backend u1]\nprobe = unit\nunit = u1.service\n\n"
    "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = u0\n\n"
    "[bridge domu1/pcie1]\ndevice-tree-path = /pcie@1\nbackends = u1\n\n"
    "[bridge domu1/pcie2]\ndevice-tree-path = /pcie@2\nbackends = dm\n";

/* Issue 15, 1: a local user sends PropertiesChanged (ActiveState=active)
 * and NameOwnerChanged ("systemd left") straight to the daemon's unique
 * name, as Debian's system bus policy lets anyone: neither counts. A unit
 * is up only when systemd itself says so, and systemd is followed on. A
 * flood of them delays no signal and no control answer beyond the test's
 * bound. */
START_TEST(forged_systemd_signals_do_not_count)
{
    SKIP_WITHOUT_SYSTEMD("forged systemd signals");
    fake.system_policy = true;
    fake_systemd_start(&fake, harness_directory(harness),
                       (const char *[]){"u0.service=inactive", "u1.service=inactive", NULL});
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, unit_config), 0);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    runner.system_bus = fake.address;
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "0/3 bridges ready; waiting: "
                                               "domu1/pcie0 (u0), domu1/pcie1 (u1), "
                                               "domu1/pcie2 (dm)", TIMEOUT_MS), 0);
    const char *path = "/org/freedesktop/systemd1/unit/u0_2eservice";
    char uid[16], pid[16];
    snprintf(uid, sizeof(uid), "%d", NOBODY);
    snprintf(pid, sizeof(pid), "%d", (int)runner.pid);
    char *sent = run_peer((const char *[]){XENREADY_PEERS "/bus-forger", fake.address, uid,
                                           path, "1", pid, NULL});
    printf("forger: %s\n", sent);
    free(sent);
    /* Messages reach the daemon in the order the broker took them: once a
     * real change sent after the forgeries is seen, they were seen too. */
    fake_systemd_set(&fake, "u1.service", "active");
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "1/3 bridges ready; waiting: "
                                               "domu1/pcie0 (u0), domu1/pcie2 (dm)", TIMEOUT_MS),
                     0);
    assert_settled("pcie0", "waiting");
    char *log = daemon_runner_log_text(&runner);
    ck_assert_msg(strstr(log, "dropped a PropertiesChanged signal from :"), "log:\n%s", log);
    free(log);
    /* systemd is still followed: the forged "it left" changed nothing.
     * (sd-bus itself drops it: the match names the bus driver as sender,
     * which it checks locally; the daemon's own check is the second line.) */
    fake_systemd_set(&fake, "u0.service", "active");
    assert_settled("pcie0", "ready");

    /* A flood: signals and control answers go on meanwhile. */
    fake_systemd_set(&fake, "u0.service", "inactive");
    assert_settled("pcie0", "waiting");
    struct peer flood;
    peer_start(&flood, (const char *[]){XENREADY_PEERS "/bus-forger", fake.address, uid, path,
                                        "20000", pid, NULL});
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    assert_settled("pcie2", "ready");
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"status", NULL}), 0);
    char line[256];
    peer_line(&flood, line, sizeof(line));
    printf("flood: %s\n", line);
    peer_kill(&flood);
    fake_systemd_set(&fake, "u1.service", "inactive");
    ck_assert_int_eq(daemon_runner_wait_status(&runner, "1/3 bridges ready; waiting: "
                                               "domu1/pcie0 (u0), domu1/pcie1 (u1)", TIMEOUT_MS),
                     0);
    assert_settled("pcie0", "waiting");
}
END_TEST

/* ---- files the daemon opens on others' behalf ---- */

/* A directory others may write in, as a pidfile's directory may be. */
static char *open_directory(void)
{
    char *dir = NULL;
    ck_assert_int_ge(asprintf(&dir, "%s/run", harness_directory(harness)), 0);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    ck_assert_int_eq(chmod(dir, 01777), 0);
    return dir;
}

/* A backend ready while device-model/5/state is "running", alive while
 * the process its pidfile names runs. */
static char *pidfile_config(const char *pidfile)
{
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config, TEST_CONFIG_FRONTEND
                              "[backend dm]\nprobe = device-model\nfrontend = domu1\n"
                              "pidfile = %s\n\n"
                              "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = dm\n",
                              pidfile), 0);
    return config;
}

static void write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    ck_assert_ptr_nonnull(file);
    fputs(text, file);
    ck_assert_int_eq(fclose(file), 0);
}

/* Waits until status shows detail for dm (the daemon answers all along). */
static void wait_detail(const char *detail)
{
    char *status = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        /* The file event is taken before the next status answer: a pidfile
         * changes, the daemon looks (inotify), STATUS= is not needed. */
        free(status);
        status = NULL;
        ck_assert_int_eq(daemon_runner_ctl(&runner, &status, (const char *[]){"status", NULL}),
                         0);
        if (strstr(status, detail))
            break;
        daemon_runner_drain(&runner);
        xs_wait_settled(frontend, "/local/domain/5/xenready/pcie0", "waiting", TIMEOUT_MS);
    }
    ck_assert_msg(strstr(status, detail), "status has no \"%s\":\n%s", detail, status);
    free(status);
}

/* A process of uid that runs until killed (a test-backend that listens on
 * nothing); its pid. */
static pid_t process_of(uid_t uid, struct peer *peer)
{
    char as[32];
    snprintf(as, sizeof(as), "--reuid=%u", (unsigned int)uid);
    peer_start(peer, (const char *[]){"/usr/bin/setpriv", as, "--regid=65534", "--clear-groups",
                                      XENREADY_PEERS "/test-backend", "/nonexistent/socket",
                                      NULL});
    peer_do(peer, "count", "ok 0");
    return peer->pid;
}

/* A process of root's that runs until killed; its pid. */
static pid_t root_process(struct peer *peer)
{
    peer_start(peer, (const char *[]){XENREADY_PEERS "/test-backend", "/nonexistent/s", NULL});
    peer_do(peer, "count", "ok 0");
    return peer->pid;
}

/* The runner with config (taken), its log captured, and the device model
 * of domu1 running: pidfile backends of probe = device-model then count
 * by their pidfiles alone. */
static void init_with_device_model(char *config)
{
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    free(config);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
}

/* Issue 15, 2 and 3: whoever may write in a pidfile's directory cannot
 * freeze the daemon (a FIFO is never opened blocking) nor make a dead
 * backend count: a link, PID 1, the daemon itself, a non-root pidfile
 * naming another user's process, a pidfile older than its process (a
 * reused pid) do not count; a root pidfile naming a live process, and a
 * user's naming that user's process, do. */
START_TEST(pidfiles_are_not_trusted_blindly)
{
    char *dir = open_directory(), path[300], text[32];
    snprintf(path, sizeof(path), "%s/dm.pid", dir);
    ck_assert_int_eq(mkfifo(path, 0666), 0);
    init_with_device_model(pidfile_config(path));
    /* Started at all: a blocking open of the FIFO would never return. */
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    wait_detail("is not a regular file");

    struct peer roots, nobody_process;
    root_process(&roots);
    pid_t nobody = process_of(NOBODY, &nobody_process);
    char staging[300];
    snprintf(staging, sizeof(staging), "%s/staging", dir);
    struct {
        const char *what;
        pid_t pid;
        uid_t owner;
        bool link, old;
        const char *detail;     /* NULL: counts */
    } cases[] = {
        {"root's, a live root process", roots.pid, 0, false, false, NULL},
        {"PID 1", 1, 0, false, false, "names PID 1, which never counts"},
        {"the daemon", runner.pid, 0, false, false, "names xenreadyd, which never counts"},
        {"a link", roots.pid, 0, true, false, "is a symbolic link"},
        {"nobody's, a root process", roots.pid, NOBODY, false, false,
         "is uid 65534's but names process"},
        {"nobody's, nobody's process", nobody, NOBODY, false, false, NULL},
        {"older than its process", roots.pid, 0, false, true, "the pid was reused"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), "%d\n", (int)cases[i].pid);
        unlink(staging);
        if (cases[i].link) {
            char target[300];
            snprintf(target, sizeof(target), "%s/elsewhere", dir);
            write_file(target, text);
            ck_assert_int_eq(symlink(target, staging), 0);
        } else {
            write_file(staging, text);
            ck_assert_int_eq(chown(staging, cases[i].owner, cases[i].owner ? 65534 : 0), 0);
        }
        if (cases[i].old) {
            /* Written an hour before its process started. */
            struct timespec times[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};
            ck_assert_int_eq(utimensat(AT_FDCWD, staging, times, AT_SYMLINK_NOFOLLOW), 0);
        }
        ck_assert_int_eq(rename(staging, path), 0);
        if (cases[i].detail) {
            assert_settled("pcie0", "waiting");
            wait_detail(cases[i].detail);
        } else {
            ck_assert_msg(xs_wait_settled(frontend, "/local/domain/5/xenready/pcie0", "ready",
                                          TIMEOUT_MS) == 0, "%s: not ready", cases[i].what);
        }
    }
    /* Its death is seen. */
    snprintf(text, sizeof(text), "%d\n", (int)nobody);
    write_file(staging, text);
    ck_assert_int_eq(chown(staging, NOBODY, 65534), 0);
    ck_assert_int_eq(rename(staging, path), 0);
    assert_settled("pcie0", "ready");
    peer_kill(&nobody_process);
    assert_settled("pcie0", "waiting");
    peer_kill(&roots);
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    free(dir);
}
END_TEST

/* Writes pid to path through a file renamed over it, its time set to an
 * hour ago when old (as a clock stepped forward since would make it). */
static void replace_pidfile(const char *dir, const char *path, pid_t pid, bool old)
{
    char staging[300], text[32];
    snprintf(staging, sizeof(staging), "%s/staging", dir);
    snprintf(text, sizeof(text), "%d\n", (int)pid);
    write_file(staging, text);
    if (old) {
        struct timespec times[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};
        ck_assert_int_eq(utimensat(AT_FDCWD, staging, times, 0), 0);
    }
    ck_assert_int_eq(rename(staging, path), 0);
}

/* Issue 15, 3, without a false "gone": a pidfile's age is judged once per
 * process, on the wall clock, which a time sync may step after the file
 * was written. A process already followed is not judged again when its
 * pidfile is rewritten, nor after a restart of the daemon (the processes
 * followed are kept in the runtime directory); without that record, the
 * same file is refused as stale. */
START_TEST(pidfile_age_is_judged_once)
{
    char *dir = open_directory(), dm[300], other[300];
    snprintf(dm, sizeof(dm), "%s/dm.pid", dir);
    snprintf(other, sizeof(other), "%s/other.pid", dir);
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config, TEST_CONFIG_FRONTEND
                              "[backend dm]\nprobe = device-model\nfrontend = domu1\n"
                              "pidfile = %s\n\n"
                              "[backend other]\nprobe = device-model\nfrontend = domu1\n"
                              "pidfile = %s\n\n"
                              "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = dm\n\n"
                              "[bridge domu1/pcie1]\ndevice-tree-path = /pcie@1\n"
                              "backends = other\n", dm, other), 0);
    init_with_device_model(config);
    struct peer process;
    root_process(&process);
    replace_pidfile(dir, dm, process.pid, false);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    assert_settled("pcie0", "ready");

    /* Rewritten "an hour ago" while followed; the other pidfile, in the
     * same directory, is seen after it (one inotify queue). */
    replace_pidfile(dir, dm, process.pid, true);
    replace_pidfile(dir, other, process.pid, false);
    assert_settled("pcie1", "ready");
    char *log = daemon_runner_log_text(&runner);
    ck_assert_msg(!strstr(log, "the pid was reused"), "log:\n%s", log);
    free(log);

    /* Restarted: the record vouches for the process. */
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ck_assert_str_eq(runner.last_status, "2/2 bridges ready");
    log = daemon_runner_log_text(&runner);
    ck_assert_msg(!strstr(log, "the pid was reused"), "log:\n%s", log);
    free(log);

    /* Without it, the same pidfile looks stale. */
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);
    char records[PATH_MAX];
    snprintf(records, sizeof(records), "%.*s/pidfiles",
             (int)(strrchr(runner.control_path, '/') - runner.control_path), runner.control_path);
    ck_assert_int_eq(unlink(records), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    ck_assert_str_eq(runner.last_status, "1/2 bridges ready; waiting: domu1/pcie0 (dm)");
    wait_detail("the pid was reused");
    peer_kill(&process);
    free(dir);
}
END_TEST

/* Issue 15, 3: whoever may write in a socket's directory cannot make a
 * backend ready with someone else's listening socket: a link there is not
 * followed unless the configuration says so, and a socket not bound by
 * the configured owner does not count. */
START_TEST(sockets_are_who_they_claim)
{
    char *dir = open_directory(), linked[300], owned[300], followed[300], real[300];
    snprintf(linked, sizeof(linked), "%s/linked.sock", dir);
    snprintf(owned, sizeof(owned), "%s/owned.sock", dir);
    snprintf(followed, sizeof(followed), "%s/followed.sock", dir);
    snprintf(real, sizeof(real), "%s/real.sock", dir);
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config, TEST_CONFIG_FRONTEND
                              "[backend linked]\nprobe = socket\npath = %s\n\n"
                              "[backend owned]\nprobe = socket\npath = %s\nowner = uid:%d\n\n"
                              "[backend followed]\nprobe = socket\npath = %s\n"
                              "follow-symlink = yes\n\n"
                              "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\n"
                              "backends = linked\n\n"
                              "[bridge domu1/pcie1]\ndevice-tree-path = /pcie@1\nbackends = owned\n\n"
                              "[bridge domu1/pcie2]\ndevice-tree-path = /pcie@2\n"
                              "backends = followed\n", linked, owned, NOBODY, followed), 0);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    free(config);
    /* A socket of root's that listens (as xenstored's does), linked to. */
    struct peer root_socket, root_at_owned, nobody_at_owned;
    peer_start(&root_socket, (const char *[]){XENREADY_PEERS "/test-backend", real, NULL});
    peer_do(&root_socket, "listen", "ok");
    ck_assert_int_eq(symlink(real, linked), 0);
    ck_assert_int_eq(symlink(real, followed), 0);
    /* Root listens where nobody's socket is expected. */
    peer_start(&root_at_owned, (const char *[]){XENREADY_PEERS "/test-backend", owned, NULL});
    peer_do(&root_at_owned, "listen", "ok");
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    assert_settled("pcie2", "ready");
    ck_assert_str_eq(runner.last_status,
                     "1/3 bridges ready; waiting: domu1/pcie0 (linked), domu1/pcie1 (owned)");
    wait_detail("linked.sock is a symbolic link: not followed (follow-symlink = yes accepts it)");
    char expected[64];
    snprintf(expected, sizeof(expected), "owned.sock belongs to uid 0, not uid %d", NOBODY);
    wait_detail(expected);

    /* The owner's own socket counts. */
    peer_kill(&root_at_owned);
    ck_assert_int_eq(unlink(owned), 0);
    peer_start(&nobody_at_owned, (const char *[]){"/usr/bin/setpriv", "--reuid=65534",
                                                  "--regid=65534", "--clear-groups",
                                                  XENREADY_PEERS "/test-backend", owned, NULL});
    peer_do(&nobody_at_owned, "listen", "ok");
    assert_settled("pcie1", "ready");
    assert_settled("pcie0", "waiting");
    peer_kill(&nobody_at_owned);
    peer_kill(&root_socket);
    free(dir);
}
END_TEST

/* ---- loss detection under the shipped unit ---- */

/* What the daemon runs under: xenreadyd.service's empty capability set, and
 * /proc mounted as its ProtectProc= mounts it. */
struct restriction {
    const char *hidepid;
};

static int drop_capabilities(void)
{
    /* With an empty bounding set and inheritable set, root's execve()
     * gives no capabilities (capabilities(7)). */
    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return -errno;
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) < 0)
        return -errno;
    data[0].inheritable = data[1].inheritable = 0;
    if (syscall(SYS_capset, &header, data) < 0
        || prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return -errno;
    return 0;
}

/* In a mount namespace of its own, /proc mounted anew with the hidepid=
 * asked for. The file system type is ignored for the first mount; "none"
 * rather than NULL, which valgrind takes for an error. */
static int restrict_proc(const char *hidepid)
{
    char options[32];
    snprintf(options, sizeof(options), "hidepid=%s", hidepid);
    if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0
        || mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) < 0)
        return -errno;
    return 0;
}

static void enter_restriction(void *data)
{
    const struct restriction *restriction = data;
    if (restrict_proc(restriction->hidepid) < 0 || drop_capabilities() < 0)
        _exit(126);
}

/* Whether this machine lets us make the restriction (a container may not
 * allow mounting /proc); why not, or NULL. */
static const char *restriction_unavailable(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(restrict_proc("invisible") < 0 || drop_capabilities() < 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0
               ? NULL
               : "no private /proc with hidepid= here (needs CAP_SYS_ADMIN)";
}

/* The daemon runs as it should: no capability, its /proc as asked. */
static void assert_restricted(const char *hidepid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)runner.pid);
    FILE *file = fopen(path, "re");
    ck_assert_ptr_nonnull(file);
    bool capabilities_seen = false;
    while (fgets(line, sizeof(line), file))
        if (strncmp(line, "CapEff:", 7) == 0 || strncmp(line, "CapPrm:", 7) == 0) {
            ck_assert_msg(strstr(line, "0000000000000000"), "the daemon has %s", line);
            capabilities_seen = true;
        }
    fclose(file);
    ck_assert(capabilities_seen);
    snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)runner.pid);
    file = fopen(path, "re");
    ck_assert_ptr_nonnull(file);
    char option[32];
    snprintf(option, sizeof(option), "hidepid=%s", hidepid);
    bool found = false;
    while (fgets(line, sizeof(line), file))
        found |= strstr(line, " /proc ") && strstr(line, " proc ") && strstr(line, option);
    fclose(file);
    ck_assert_msg(found, "the daemon's /proc is not mounted with %s", option);
}

/* Issue 15, 9: under the unit as shipped (no capabilities, ProtectProc=
 * invisible), a backend of another user is followed through its own
 * pidfile, checked in /proc (hidepid= hides nothing from root's group, the
 * mount's gid=), and its death is seen through a pidfd, which needs no
 * /proc; so is one named by root's pidfile. A socket whose holder cannot be
 * looked at (another user's /proc/PID/fd needs CAP_SYS_PTRACE, which the
 * unit does not give) is said to be so, with what to configure. */
START_TEST(loss_is_seen_without_capabilities)
{
    const char *skip = restriction_unavailable();
    if (skip) {
        printf("without capabilities: skipped: %s\n", skip);
        return;
    }
    char *dir = open_directory(), users[300], roots[300], sock[300];
    snprintf(users, sizeof(users), "%s/user.pid", dir);
    snprintf(roots, sizeof(roots), "%s/root.pid", dir);
    snprintf(sock, sizeof(sock), "%s/user.sock", dir);
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config, TEST_CONFIG_FRONTEND
                              "[backend users]\nprobe = device-model\nfrontend = domu1\n"
                              "pidfile = %s\n\n"
                              "[backend roots]\nprobe = device-model\nfrontend = domu1\n"
                              "pidfile = %s\n\n"
                              "[backend sock]\nprobe = socket\npath = %s\n\n"
                              "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = users\n\n"
                              "[bridge domu1/pcie1]\ndevice-tree-path = /pcie@1\nbackends = roots\n\n"
                              "[bridge domu1/pcie2]\ndevice-tree-path = /pcie@2\nbackends = sock\n",
                              users, roots, sock), 0);
    init_with_device_model(config);

    /* nobody's process, named by nobody's pidfile and by root's; and
     * nobody's listening socket. */
    struct peer process, listener;
    pid_t pid = process_of(NOBODY, &process);
    replace_pidfile(dir, users, pid, false);
    ck_assert_int_eq(chown(users, NOBODY, 65534), 0);
    replace_pidfile(dir, roots, pid, false);
    peer_start(&listener, (const char *[]){"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                           "--clear-groups", XENREADY_PEERS "/test-backend", sock,
                                           NULL});
    peer_do(&listener, "listen", "ok");

    struct restriction restriction = {.hidepid = "invisible"};
    runner.child_setup = enter_restriction;
    runner.child_data = &restriction;
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    assert_restricted(restriction.hidepid);
    ck_assert_str_eq(runner.last_status, "3/3 bridges ready");
    char *log = daemon_runner_log_text(&runner);
    ck_assert_msg(strstr(log, "backend sock: the process holding"), "log:\n%s", log);
    free(log);

    /* Its death is seen, for both pidfiles. */
    peer_kill(&process);
    assert_settled("pcie0", "waiting");
    assert_settled("pcie1", "waiting");
    peer_kill(&listener);
    free(dir);
}
END_TEST

/* ---- descriptors ---- */

static int ctl_as(uid_t uid, char **output, const char *const *args);

enum { MANY_BACKENDS = 64 };

static void limit_descriptors(void *data)
{
    if (setrlimit(RLIMIT_NOFILE, data) < 0)
        _exit(126);
}

/* MANY_BACKENDS backends whose liveness is one pidfile, all needed by
 * domu1/pcie0: one pidfd each. */
static char *many_pidfiles_config(const char *pidfile)
{
    char *config = NULL, *backends = NULL, *names = NULL;
    size_t size = 0, names_size = 0;
    FILE *stream = open_memstream(&backends, &size), *list = open_memstream(&names, &names_size);
    for (int i = 0; i < MANY_BACKENDS; i++) {
        fprintf(stream, "[backend b%d]\nprobe = device-model\nfrontend = domu1\npidfile = %s\n\n",
                i, pidfile);
        fprintf(list, " b%d", i);
    }
    fclose(stream);
    fclose(list);
    ck_assert_int_ge(asprintf(&config, TEST_CONFIG_FRONTEND "%s[bridge domu1/pcie0]\n"
                              "device-tree-path = /pcie@0\nbackends =%s\n", backends, names), 0);
    free(backends);
    free(names);
    return config;
}

/* Issue 15, 8: the soft descriptor limit is raised to the hard one; with
 * more followed processes than descriptors, the ones that cannot be
 * followed say why (not "not running"), and the control socket, refused
 * descriptors by accept(2), waits for one instead of spinning, then
 * answers. */
START_TEST(descriptors_run_out_honestly)
{
    char *dir = open_directory(), pidfile[300];
    snprintf(pidfile, sizeof(pidfile), "%s/b.pid", dir);
    char *config = many_pidfiles_config(pidfile);
    init_with_device_model(config);
    struct peer process;
    root_process(&process);
    replace_pidfile(dir, pidfile, process.pid, false);

    /* A soft limit below what is needed, a hard one above: raised. */
    struct rlimit limit = {.rlim_cur = 32, .rlim_max = 1024};
    runner.child_setup = limit_descriptors;
    runner.child_data = &limit;
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    assert_settled("pcie0", "ready");
    ck_assert_int_eq(daemon_runner_stop(&runner, SIGTERM), 0);

    /* Both below: some backends cannot be followed, and no descriptor is
     * left for a client, who is told so at once. */
    limit.rlim_max = limit.rlim_cur;
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
    assert_settled("pcie0", "waiting");
    char *output = NULL;
    ck_assert_int_eq(ctl_as(0, &output, (const char *[]){"status", NULL}), 1);
    free(output);
    char *log = daemon_runner_log_text(&runner);
    ck_assert_msg(strstr(log, "Too many open files"), "log:\n%s", log);
    ck_assert_msg(!strstr(log, "is not running"), "log:\n%s", log);
    ck_assert_msg(strstr(log, "control: refused a client: out of descriptors"), "log:\n%s", log);
    free(log);
    peer_kill(&process);
    free(dir);
}
END_TEST

/* ---- the control socket ---- */

enum { CONTROL_GID = 4242, OWNER_UID = 4343 };

/* xenreadyctl as uid (group 65534, and the control group), to its end;
 * its exit status, and its output in *output (may be NULL). */
static int ctl_as(uid_t uid, char **output, const char *const *args)
{
    char as[32], groups[32];
    snprintf(as, sizeof(as), "--reuid=%u", (unsigned int)uid);
    snprintf(groups, sizeof(groups), "--groups=%d", CONTROL_GID);
    const char *argv[24] = {"/usr/bin/setpriv", as, "--regid=65534", groups, XENREADYCTL_PATH,
                            "--socket", runner.control_path};
    size_t argc = 7;
    for (size_t i = 0; args[i] && argc < 23; i++)
        argv[argc++] = args[i];
    struct peer peer;
    peer_start(&peer, argv);
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    char line[4096];
    while (fgets(line, sizeof(line), peer.out))
        fputs(line, stream);
    fclose(stream);
    int status;
    ck_assert_int_eq(waitpid(peer.pid, &status, 0), peer.pid);
    peer.pid = 0;
    fclose(peer.out);
    close(peer.in);
    if (output)
        *output = text;
    else
        free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *const announced_config =
    TEST_CONFIG_FRONTEND
    "[backend ann]\nprobe = announce\nowner = uid:4343\n\n"
    "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@0\nbackends = ann\n";

static void start_with_control_group(void)
{
    char group[16];
    snprintf(group, sizeof(group), "%d", CONTROL_GID);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, announced_config), 0);
    ck_assert_int_eq(daemon_runner_capture_log(&runner), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, (const char *[]){"--control-group", group,
                                                                    NULL}), 0);
}

/* Issue 15, 4: a control-group member who does not own a backend may
 * neither announce it nor announce it gone; both refusals are kept for
 * status. Only root reloads. */
START_TEST(only_owners_announce_only_root_reloads)
{
    start_with_control_group();
    ck_assert_int_eq(ctl_as(OWNER_UID, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    assert_settled("pcie0", "ready");
    ck_assert_int_eq(ctl_as(NOBODY, NULL, (const char *[]){"gone", "ann", NULL}), 1);
    ck_assert_int_eq(ctl_as(OWNER_UID, NULL, (const char *[]){"gone", "ann", NULL}), 0);
    assert_settled("pcie0", "waiting");
    ck_assert_int_eq(ctl_as(NOBODY, NULL, (const char *[]){"ready", "ann", NULL}), 1);
    char *status = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &status,
                                       (const char *[]){"status", "--json", NULL}), 0);
    struct json_object *root = json_tokener_parse(status), *refused, *bridges;
    ck_assert_ptr_nonnull(root);
    ck_assert(json_object_object_get_ex(root, "refused_announcements", &refused));
    ck_assert_uint_eq(json_object_array_length(refused), 2);
    const char *commands[] = {"gone", "ready"};
    for (size_t i = 0; i < 2; i++) {
        struct json_object *entry = json_object_array_get_idx(refused, i), *member;
        ck_assert(json_object_object_get_ex(entry, "uid", &member));
        ck_assert_int_eq(json_object_get_int(member), NOBODY);
        ck_assert(json_object_object_get_ex(entry, "reason", &member));
        char expected[128];
        snprintf(expected, sizeof(expected), "%s refused: backend ann may only be announced by "
                 "uid 4343; the peer has uid 65534", commands[i]);
        ck_assert_str_eq(json_object_get_string(member), expected);
    }
    ck_assert(json_object_object_get_ex(root, "bridges", &bridges));
    struct json_object *bridge = json_object_array_get_idx(bridges, 0), *state;
    ck_assert(json_object_object_get_ex(bridge, "state", &state));
    ck_assert_str_eq(json_object_get_string(state), "waiting");
    json_object_put(root);
    free(status);

    char *output = NULL;
    ck_assert_int_eq(ctl_as(NOBODY, &output, (const char *[]){"reload", NULL}), 1);
    free(output);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"reload", NULL}), 0);
}
END_TEST

/* Starts count waits for domu1/pcie0 at once, the i-th as uid uids(i);
 * one more than may be held, so one is refused: returns which, once it is
 * (the first to end), and the refusal it logged is checked. */
static int start_waits(struct peer *waits, int count, uid_t (*uids)(int), const char *refusal)
{
    char groups[32];
    snprintf(groups, sizeof(groups), "--groups=%d", CONTROL_GID);
    struct pollfd outputs[XENREADY_CONTROL_CLIENTS_MAX];
    ck_assert_int_le(count, XENREADY_CONTROL_CLIENTS_MAX);
    for (int i = 0; i < count; i++) {
        char as[32];
        snprintf(as, sizeof(as), "--reuid=%u", (unsigned int)uids(i));
        peer_start(&waits[i], (const char *[]){"/usr/bin/setpriv", as, "--regid=65534", groups,
                                               XENREADYCTL_PATH, "--socket", runner.control_path,
                                               "wait", "domu1/pcie0", NULL});
        outputs[i] = (struct pollfd){.fd = fileno(waits[i].out), .events = POLLIN};
    }
    ck_assert_int_eq(poll(outputs, (nfds_t)count, TIMEOUT_MS) > 0, 1);
    int refused = 0;
    while (!outputs[refused].revents)
        refused++;
    int status;
    ck_assert_int_eq(waitpid(waits[refused].pid, &status, 0), waits[refused].pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "wait %d: status %#x", refused,
                  status);
    waits[refused].pid = 0;
    char *log = daemon_runner_log_text(&runner);
    ck_assert_msg(strstr(log, refusal), "no \"%s\" in the log:\n%s", refusal, log);
    free(log);
    return refused;
}

/* While the others are held: the owner and root are served, and a member's
 * status gets its answer (expected: 0 served, 1 refused); then every held
 * wait is answered. */
static void serve_beside_waits(struct peer *waits, int count, uid_t member, int expected)
{
    ck_assert_int_eq(ctl_as(member, NULL, (const char *[]){"status", NULL}), expected);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"status", NULL}), 0);
    ck_assert_int_eq(ctl_as(OWNER_UID, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    for (int i = 0; i < count; i++) {
        if (waits[i].pid) {
            int status;
            ck_assert_int_eq(waitpid(waits[i].pid, &status, 0), waits[i].pid);
            ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wait %d: status %#x",
                          i, status);
        }
        waits[i].pid = 0;
        fclose(waits[i].out);
        close(waits[i].in);
    }
}

static uid_t nobody(int i)
{
    (void)i;
    return NOBODY;
}

/* Issue 15, 4: one member holding as many waits as it can does not lock
 * out the backend's owner, root, or its own other requests. */
START_TEST(waits_of_one_member_lock_out_no_one)
{
    start_with_control_group();
    enum { WAITS = XENREADY_CONTROL_WAITS_PER_UID_MAX + 1 };
    struct peer waits[WAITS];
    char refusal[64];
    snprintf(refusal, sizeof(refusal), "wait: uid %d holds %d waits already", NOBODY,
             XENREADY_CONTROL_WAITS_PER_UID_MAX);
    start_waits(waits, WAITS, nobody, refusal);
    serve_beside_waits(waits, WAITS, NOBODY, 0);
}
END_TEST

enum { CROWD_UID = 5000 };

static uid_t crowd(int i)
{
    return CROWD_UID + (uid_t)(i / XENREADY_CONTROL_WAITS_PER_UID_MAX);
}

/* Issue 15, 4: members of many uids, together holding every connection
 * that is not kept for root and the backends' owners, lock out neither;
 * further members are told "too many clients", at once. */
START_TEST(a_crowd_of_members_locks_out_no_owner)
{
    start_with_control_group();
    enum { WAITS = XENREADY_CONTROL_CLIENTS_MAX - XENREADY_CONTROL_RESERVED + 1 };
    struct peer waits[WAITS];
    start_waits(waits, WAITS, crowd, "too many clients (112 connected)");
    /* The members have had their share of connections. */
    serve_beside_waits(waits, WAITS, CROWD_UID, 1);
}
END_TEST


/* Issue 15, 4: a member's connections that ask nothing are bounded per uid
 * (and dropped after XENREADY_CONTROL_TIMEOUT_SECONDS); the owner and root
 * are served meanwhile. */
START_TEST(idle_connections_of_one_member_are_bounded)
{
    start_with_control_group();
    pid_t holder = daemon_runner_idle_connections(&runner, NOBODY, CONTROL_GID,
                                                  XENREADY_CONTROL_PER_UID_MAX);
    ck_assert_int_eq(ctl_as(NOBODY, NULL, (const char *[]){"status", NULL}), 1);
    ck_assert_int_eq(ctl_as(OWNER_UID, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"status", NULL}), 0);
    kill(holder, SIGKILL);
    ck_assert_int_eq(waitpid(holder, NULL, 0), holder);
    char *log = daemon_runner_log_text(&runner);
    ck_assert_msg(strstr(log, "too many clients of this uid"), "log:\n%s", log);
    free(log);
}
END_TEST

static Suite *trust_suite(void)
{
    Suite *suite = suite_create("trust");
    const struct integration_case cases[] = {
        {"forged systemd signals", forged_systemd_signals_do_not_count},
        {"pidfiles", pidfiles_are_not_trusted_blindly},
        {"pidfile age", pidfile_age_is_judged_once},
        {"sockets", sockets_are_who_they_claim},
        {"without capabilities", loss_is_seen_without_capabilities},
        {"descriptors", descriptors_run_out_honestly},
        {"owners and root", only_owners_announce_only_root_reloads},
        {"waits", waits_of_one_member_lock_out_no_one},
        {"a crowd", a_crowd_of_members_locks_out_no_owner},
        {"idle connections", idle_connections_of_one_member_are_bounded},
    };
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), setup, teardown);
    return suite;
}

int main(void)
{
    return integration_main(trust_suite(), fake_systemd_missing());
}
