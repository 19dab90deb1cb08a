// SPDX-License-Identifier: GPL-2.0-or-later
#include "daemon-runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "harness.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int toolstack_setup(struct harness *harness, unsigned int domd, unsigned int frontend)
{
    char path[64], perms[32];
    int r = harness_introduce(harness, domd, "domd");
    if (r == 0)
        r = harness_introduce(harness, frontend, "domu1");
    const char *const owned[] = {"device-model", "backend"};
    snprintf(perms, sizeof(perms), "n%u", domd);
    for (size_t i = 0; r == 0 && i < sizeof(owned) / sizeof(owned[0]); i++) {
        snprintf(path, sizeof(path), "/local/domain/%u/%s", domd, owned[i]);
        r = harness_set_permissions(harness, path, perms);
    }
    snprintf(path, sizeof(path), "/local/domain/%u/xenready", frontend);
    snprintf(perms, sizeof(perms), "n%u r%u", domd, frontend);
    return r == 0 ? harness_set_permissions(harness, path, perms) : r;
}

int daemon_runner_init(struct daemon_runner *runner, struct harness *harness, unsigned int domid,
                       const char *config)
{
    return daemon_runner_init_in(runner, harness, domid, config, NULL);
}

int daemon_runner_init_in(struct daemon_runner *runner, struct harness *harness,
                          unsigned int domid, const char *config, const char *subdir)
{
    *runner = (struct daemon_runner){.harness = harness, .domid = domid, .notify_fd = -1};
    char *own = NULL;
    if (subdir) {
        if (asprintf(&own, "%s/%s", harness_directory(harness), subdir) < 0)
            return -ENOMEM;
        if (mkdir(own, 0700) < 0 && errno != EEXIST) {
            int r = -errno;
            free(own);
            return r;
        }
        runner->directory = own;
    }
    const char *dir = own ? own : harness_directory(harness);
    if (asprintf(&runner->config_path, "%s/xenready.conf", dir) < 0
        || asprintf(&runner->control_path, "%s/control", dir) < 0
        || asprintf(&runner->notify_path, "%s/notify", dir) < 0)
        return -ENOMEM;
    FILE *file = fopen(runner->config_path, "w");
    if (!file)
        return -errno;
    fputs(config, file);
    fclose(file);

    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", runner->notify_path);
    runner->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (runner->notify_fd < 0
        || bind(runner->notify_fd, (struct sockaddr *)&address, sizeof(address)) < 0)
        return -errno;
    return 0;
}

const char *daemon_runner_program(void)
{
    return XENREADYD_PATH;
}

int daemon_runner_start(struct daemon_runner *runner, const char *const *extra_args)
{
    int r = daemon_runner_spawn(runner, extra_args);
    return r < 0 ? r : daemon_runner_wait_status(runner, NULL, 10000);
}

int daemon_runner_spawn(struct daemon_runner *runner, const char *const *extra_args)
{
    char *socket_path = harness_socket_path(runner->harness, runner->domid);
    if (!socket_path)
        return -ENOMEM;
    const char *argv[32] = {XENREADYD_PATH, "--config", runner->config_path,
                            "--control-socket", runner->control_path};
    size_t argc = 5;
    for (size_t i = 0; extra_args && extra_args[i] && argc < 31; i++)
        argv[argc++] = extra_args[i];
    argv[argc] = NULL;

    pid_t pid = fork();
    if (pid < 0) {
        free(socket_path);
        return -errno;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setenv("XENSTORED_PATH", socket_path, 1);
        setenv("NOTIFY_SOCKET", runner->notify_path, 1);
        unsetenv("JOURNAL_STREAM");
        if (runner->system_bus)
            setenv("DBUS_SYSTEM_BUS_ADDRESS", runner->system_bus, 1);
        if (runner->log_path) {
            /* Appended: a restarted daemon's lines follow its predecessor's. */
            int fd = open(runner->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
                _exit(126);
        }
        if (runner->child_setup)
            runner->child_setup(runner->child_data);
        /* Sanitizer findings get an exit status of their own (see finish). */
        setenv("ASAN_OPTIONS", "exitcode=98", 0);
        setenv("LSAN_OPTIONS", "exitcode=98", 0);
        setenv("UBSAN_OPTIONS", "halt_on_error=1:exitcode=98:print_stacktrace=1", 0);
        if (getenv("XENREADY_VALGRIND")) {
            /* Memcheck runs of the suite: the daemon's errors and definite
             * leaks make it exit 99, which finish turns into a failure. */
            const char *valgrind[40] = {"valgrind", "--quiet", "--error-exitcode=99",
                                        "--leak-check=full", "--errors-for-leak-kinds=definite",
                                        "--show-leak-kinds=definite"};
            size_t count = 6;
            for (size_t i = 0; argv[i] && count < 39; i++)
                valgrind[count++] = argv[i];
            valgrind[count] = NULL;
            execvp(valgrind[0], (char *const *)valgrind);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    free(socket_path);
    runner->pid = pid;
    return 0;
}

int daemon_runner_next_message(struct daemon_runner *runner, char *message, size_t size,
                               int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd pollfd = {.fd = runner->notify_fd, .events = POLLIN};
        int n = poll(&pollfd, 1, left > 0 ? (int)left : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -ETIMEDOUT;
        ssize_t length = recv(runner->notify_fd, message, size - 1, 0);
        if (length < 0)
            return -errno;
        message[length] = '\0';
        for (const char *line = message; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
            if (strncmp(line, "STATUS=", 7) == 0)
                snprintf(runner->last_status, sizeof(runner->last_status), "%.*s",
                         (int)strcspn(line + 7, "\n"), line + 7);
        return 0;
    }
}

/* Reads notify messages until READY=1 (expected == NULL) or STATUS=expected. */
void daemon_runner_assert_status(struct daemon_runner *runner, const char *expected,
                                 int timeout_ms)
{
    int r = daemon_runner_wait_status(runner, expected, timeout_ms);
    ck_assert_msg(r == 0, "no STATUS=\"%s\"; last was \"%s\"", expected, runner->last_status);
}

int daemon_runner_wait_status(struct daemon_runner *runner, const char *expected, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    if (expected && strcmp(runner->last_status, expected) == 0)
        return 0;
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd pollfd = {.fd = runner->notify_fd, .events = POLLIN};
        int n = poll(&pollfd, 1, left > 0 ? (int)left : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -ETIMEDOUT;
        char message[4096];
        ssize_t length = recv(runner->notify_fd, message, sizeof(message) - 1, 0);
        if (length < 0)
            return -errno;
        message[length] = '\0';
        bool matched = false;
        for (char *save = NULL, *line = strtok_r(message, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "STATUS=", 7) == 0) {
                snprintf(runner->last_status, sizeof(runner->last_status), "%s", line + 7);
                if (expected && strcmp(line + 7, expected) == 0)
                    matched = true;
            } else if (!expected && strcmp(line, "READY=1") == 0) {
                matched = true;
            }
        }
        if (matched)
            return 0;
    }
}

int daemon_runner_stop(struct daemon_runner *runner, int sig)
{
    if (runner->pid <= 0)
        return -ESRCH;
    kill(runner->pid, sig);
    int status;
    pid_t pid = waitpid(runner->pid, &status, 0);
    runner->pid = 0;
    if (pid < 0)
        return -errno;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The whole file, NUL-terminated; NULL when it cannot be read. */
static char *log_read(const char *path)
{
    FILE *file = fopen(path, "re");
    if (!file)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    if (getdelim(&text, &size, '\0', file) < 0) {
        free(text);
        text = feof(file) ? strdup("") : NULL;
    }
    fclose(file);
    return text;
}

int daemon_runner_capture_log(struct daemon_runner *runner)
{
    free(runner->log_path);
    runner->log_path = NULL;
    const char *dir = runner->directory ? runner->directory : harness_directory(runner->harness);
    return asprintf(&runner->log_path, "%s/xenreadyd.log", dir) < 0 ? -ENOMEM : 0;
}

char *daemon_runner_log_text(struct daemon_runner *runner)
{
    if (!runner->log_path)
        return NULL;
    char *text = log_read(runner->log_path);
    return text ? text : strdup("");
}

int daemon_runner_log_errors(struct daemon_runner *runner, char **lines)
{
    if (!runner->log_path)
        return -EINVAL;
    char *text = log_read(runner->log_path);
    if (!text && errno != ENOENT)
        return -errno;
    if (!text && !(text = strdup("")))   /* nothing logged yet */
        return -ENOMEM;
    char *errors = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&errors, &size);
    if (!stream) {
        free(text);
        return -ENOMEM;
    }
    int count = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        if (line[0] == '<' && line[1] >= '0' && line[1] <= '3' && line[2] == '>') {
            fprintf(stream, "%s\n", line);
            count++;
        }
    fclose(stream);
    free(text);
    *lines = errors;
    return count;
}

void daemon_runner_drain(struct daemon_runner *runner)
{
    char message[4096];
    while (daemon_runner_next_message(runner, message, sizeof(message), 0) == 0)
        ;
}

void daemon_runner_finish(struct daemon_runner *runner)
{
    /* A clean stop, so that sanitizer and memcheck runs get the daemon's
     * verdict: 98 sanitizers, 99 valgrind. */
    int status = runner->pid > 0 ? daemon_runner_stop(runner, SIGTERM) : 0;
    if (status == 98 || status == 99) {
        /* The sanitizer's or valgrind's report went to the captured log. */
        char *text = runner->log_path ? log_read(runner->log_path) : NULL;
        fprintf(stderr, "%sxenreadyd reported memory errors (exit status %d)\n",
                text ? text : "", status);
        free(text);
        abort();
    }
    free(runner->log_path);
    if (runner->notify_fd >= 0)
        close(runner->notify_fd);
    free(runner->config_path);
    free(runner->control_path);
    free(runner->notify_path);
    if (runner->directory) {
        /* The harness removes the files of its own directory only: the
         * subdirectory goes here, with what the daemon left in it (its
         * runtime files: lock, records), once it has stopped. */
        DIR *dir = opendir(runner->directory);
        for (struct dirent *entry; dir && (entry = readdir(dir));)
            if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
                unlinkat(dirfd(dir), entry->d_name, 0);
        if (dir)
            closedir(dir);
        rmdir(runner->directory);
    }
    free(runner->directory);
    *runner = (struct daemon_runner){.notify_fd = -1};
}

int daemon_runner_ctl(struct daemon_runner *runner, char **output, const char *const *args)
{
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) < 0)
        return -errno;
    const char *argv[32] = {XENREADYCTL_PATH, "--socket", runner->control_path};
    size_t argc = 3;
    for (size_t i = 0; args && args[i] && argc < 31; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipe_fds[1], STDOUT_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipe_fds[1]);
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    char buffer[4096];
    ssize_t n;
    while ((n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0)
        fwrite(buffer, 1, (size_t)n, stream);
    fclose(stream);
    close(pipe_fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (output)
        *output = text;
    else
        free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int daemon_runner_reload(struct daemon_runner *runner, const char *config)
{
    FILE *file = fopen(runner->config_path, "w");
    if (!file)
        return -errno;
    fputs(config, file);
    if (fclose(file) != 0)
        return -errno;
    return daemon_runner_ctl(runner, NULL, (const char *[]){"reload", NULL});
}

int xs_take_every_watch(struct xs_handle *client, const char *prefix)
{
    int count = 0;
    for (;; count++) {
        char path[256];
        snprintf(path, sizeof(path), "%s%d", prefix, count);
        if (!xs_watch(client, path, "taken")) {
            ck_assert_int_eq(errno, E2BIG);
            return count;
        }
    }
}

char *xs_read_string(struct xs_handle *handle, const char *path)
{
    unsigned int length;
    return xs_read(handle, XBT_NULL, path, &length);
}

void xs_events_until_marker(struct xs_handle *handle, unsigned long *sequence,
                            void (*each)(const char *path, const char *token, void *data),
                            void *data)
{
    char marker[48];
    snprintf(marker, sizeof(marker), "/marker/%lu", ++*sequence);
    ck_assert_int_eq(xs_write_string(handle, marker, ""), 0);
    for (;;) {
        char **event = xs_read_watch(handle, &(unsigned int){0});
        ck_assert_ptr_nonnull(event);
        bool mine = strcmp(event[XS_WATCH_PATH], marker) == 0;
        if (strcmp(event[XS_WATCH_TOKEN], "marker") != 0 && each)
            each(event[XS_WATCH_PATH], event[XS_WATCH_TOKEN], data);
        free(event);
        if (mine)
            return;
    }
}

int xs_write_string(struct xs_handle *handle, const char *path, const char *value)
{
    return xs_write(handle, XBT_NULL, path, value, (unsigned int)strlen(value)) ? 0 : -errno;
}

void xs_assert_node_protected(struct xs_handle *frontend_handle, const char *node,
                              unsigned int domd, unsigned int frontend)
{
    static const char *const keys[] = {"", "/state", "/generation", "/device-tree-path",
                                       "/backend-id", "/version"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s%s", node, keys[i]);
        unsigned int count = 0;
        struct xs_permissions *permissions = xs_get_permissions(frontend_handle, XBT_NULL, path,
                                                                &count);
        ck_assert_msg(permissions, "the frontend cannot read the permissions of %s", path);
        ck_assert_uint_eq(count, 2);
        ck_assert_uint_eq(permissions[0].id, domd);
        ck_assert_uint_eq(permissions[0].perms, XS_PERM_NONE);
        ck_assert_uint_eq(permissions[1].id, frontend);
        ck_assert_uint_eq(permissions[1].perms, XS_PERM_READ);
        free(permissions);
        char *value = xs_read_string(frontend_handle, path);
        ck_assert_msg(value, "the frontend cannot read %s", path);
        free(value);
        if (keys[i][0])
            ck_assert_int_eq(xs_write_string(frontend_handle, path, "ready"), -EACCES);
        ck_assert_msg(!xs_rm(frontend_handle, XBT_NULL, path), "the frontend removed %s", path);
    }
}

/* Watches watch_path through handle and waits until done(handle, context)
 * says so, re-checking once at the start and after every event (events carry
 * no value). The watch is removed again before returning. */
static int xs_wait_until(struct xs_handle *handle, const char *watch_path,
                         bool (*done)(struct xs_handle *handle, const void *context),
                         const void *context, int timeout_ms)
{
    if (!xs_watch(handle, watch_path, "runner"))
        return -errno;
    long long deadline = now_ms() + timeout_ms;
    int r = -ETIMEDOUT;
    char **event;
    for (;;) {
        if (done(handle, context)) {
            r = 0;
            break;
        }
        long long left = deadline - now_ms();
        struct pollfd pollfd = {.fd = xs_fileno(handle), .events = POLLIN};
        if (left <= 0 || poll(&pollfd, 1, (int)left) <= 0)
            break;
        while ((event = xs_check_watch(handle)))
            free(event);
    }
    xs_unwatch(handle, watch_path, "runner");
    while ((event = xs_check_watch(handle)))
        free(event);
    return r;
}

struct expected_value {
    const char *path;
    const char *value;
};

static bool value_is(struct xs_handle *handle, const void *context)
{
    const struct expected_value *expected = context;
    char *value = xs_read_string(handle, expected->path);
    bool equal = value && strcmp(value, expected->value) == 0;
    free(value);
    return equal;
}

/* A node is settled in a state when its generation's parity names it. */
static bool node_settled(struct xs_handle *handle, const void *context)
{
    const struct expected_value *expected = context;
    char path[256];
    snprintf(path, sizeof(path), "%s/state", expected->path);
    char *state = xs_read_string(handle, path);
    snprintf(path, sizeof(path), "%s/generation", expected->path);
    char *generation = xs_read_string(handle, path);
    bool ready = strcmp(expected->value, "ready") == 0;
    bool settled = state && generation && strcmp(state, expected->value) == 0
                   && strtoull(generation, NULL, 10) % 2 == (ready ? 0u : 1u);
    free(state);
    free(generation);
    return settled;
}

int xs_wait_settled(struct xs_handle *handle, const char *node, const char *state,
                    int timeout_ms)
{
    struct expected_value expected = {.path = node, .value = state};
    return xs_wait_until(handle, node, node_settled, &expected, timeout_ms);
}

int xs_wait_value(struct xs_handle *handle, const char *watch_path, const char *value_path,
                  const char *expected, int timeout_ms)
{
    struct expected_value wanted = {.path = value_path, .value = expected};
    return xs_wait_until(handle, watch_path, value_is, &wanted, timeout_ms);
}

void peer_start(struct peer *peer, const char *const *argv)
{
    int to_child[2], from_child[2];
    ck_assert_int_eq(pipe2(to_child, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(from_child, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(to_child[0], STDIN_FILENO);
        dup2(from_child[1], STDOUT_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    *peer = (struct peer){.pid = pid, .in = to_child[1], .out = fdopen(from_child[0], "r")};
}

char *peer_line(struct peer *peer, char *line, size_t size)
{
    struct pollfd pollfd = {.fd = fileno(peer->out), .events = POLLIN};
    ck_assert_msg(poll(&pollfd, 1, 10000) == 1, "peer %d did not answer", (int)peer->pid);
    ck_assert_ptr_nonnull(fgets(line, (int)size, peer->out));
    line[strcspn(line, "\n")] = '\0';
    return line;
}

void peer_do(struct peer *peer, const char *command, const char *expected)
{
    char line[256];
    ck_assert_int_eq(dprintf(peer->in, "%s\n", command), (int)strlen(command) + 1);
    ck_assert_str_eq(peer_line(peer, line, sizeof(line)), expected);
}

void peer_kill(struct peer *peer)
{
    if (peer->pid <= 0)
        return;
    kill(peer->pid, SIGKILL);
    waitpid(peer->pid, NULL, 0);
    close(peer->in);
    fclose(peer->out);
    *peer = (struct peer){0};
}

void integration_add_cases(Suite *suite, const struct integration_case *cases, size_t count,
                           void (*setup)(void), void (*teardown)(void))
{
    for (size_t i = 0; i < count; i++) {
        TCase *tcase = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tcase, setup, teardown);
        tcase_set_timeout(tcase, 60);
        tcase_add_test(tcase, cases[i].test);
        suite_add_tcase(suite, tcase);
    }
}

int integration_main(Suite *suite, const char *skip_reason)
{
    /* Configuration files the tests write must be ones xenreadyd believes
     * (not writable by group or others), whatever umask ran the suite. */
    umask(022);
    struct harness *probe = NULL;
    if (harness_start(&probe, NULL) == -ENOENT)
        skip_reason = "the real xenstored or the harness shim is missing";
    harness_stop(probe);
    SRunner *suite_runner = srunner_create(suite);
    int status;
    if (skip_reason) {
        printf("SKIP: %s\n", skip_reason);
        const char *ci = getenv("CI");
        status = ci && strcmp(ci, "true") == 0 ? EXIT_FAILURE : 77;
    } else {
        srunner_run_all(suite_runner, CK_NORMAL);
        status = srunner_ntests_failed(suite_runner) ? EXIT_FAILURE : EXIT_SUCCESS;
    }
    srunner_free(suite_runner);
    return status;
}

const char *fake_systemd_missing(void)
{
    /* Without systemd, the cases that would need it skip themselves. */
    if (!XENREADY_WITH_SYSTEMD)
        return NULL;
    return access(DBUS_DAEMON, X_OK) == 0 ? NULL : DBUS_DAEMON " is missing";
}

#define SYSTEM_BUS_CONFIG "/usr/share/dbus-1/system.conf"

/* Debian's system bus configuration as shipped, run privately: its
 * policies and system.d are kept, what makes it the machine's bus (its
 * socket, user, pidfile, fork, activation helper, syslog) is not. */
static void write_system_policy(FILE *out, const char *address)
{
    static const char *const dropped[] = {"<user>", "<fork/>", "<pidfile>", "<listen>",
                                          "<servicehelper>", "<standard_system_servicedirs/>",
                                          "<syslog/>"};
    FILE *in = fopen(SYSTEM_BUS_CONFIG, "re");
    ck_assert_msg(in, "%s: %s", SYSTEM_BUS_CONFIG, strerror(errno));
    char line[1024];
    while (fgets(line, sizeof(line), in)) {
        bool drop = false;
        for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
            drop |= strstr(line, dropped[i]) != NULL;
        if (drop)
            continue;
        if (strstr(line, "<includedir>system.d</includedir>"))
            fputs("<includedir>/usr/share/dbus-1/system.d</includedir>\n", out);
        else
            fputs(line, out);
        if (strstr(line, "<busconfig>"))
            fprintf(out, "<listen>%s</listen>\n", address);
    }
    fclose(in);
}

void fake_systemd_start(struct fake_systemd *fake, const char *dir, const char *const *units)
{
    ck_assert_msg(XENREADY_WITH_SYSTEMD, "no fake systemd1: " WITHOUT_SYSTEMD_REASON);
    char config[300];
    snprintf(fake->address, sizeof(fake->address), "unix:path=%s/system_bus_socket", dir);
    /* No service activation: systemd1 is on the bus only while the fake is. */
    snprintf(config, sizeof(config), "%s/bus.conf", dir);
    FILE *file = fopen(config, "w");
    ck_assert_ptr_nonnull(file);
    if (fake->system_policy)
        write_system_policy(file, fake->address);
    else
        fprintf(file, "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
                      "1.0//EN\"\n \"http://www.freedesktop.org/standards/dbus/1.0/"
                      "busconfig.dtd\">\n<busconfig><listen>%s</listen><auth>EXTERNAL</auth>"
                      "<policy context=\"default\"><allow send_destination=\"*\" "
                      "eavesdrop=\"true\"/><allow eavesdrop=\"true\"/><allow own=\"*\"/>"
                      "</policy></busconfig>\n", fake->address);
    ck_assert_int_eq(fclose(file), 0);
    snprintf(config, sizeof(config), "--config-file=%s/bus.conf", dir);
    peer_start(&fake->bus, (const char *[]){DBUS_DAEMON, config, "--nofork", "--nopidfile",
                                            "--print-address=1", NULL});
    char line[512];
    peer_line(&fake->bus, line, sizeof(line));   /* printed once it listens */
    const char *argv[16] = {XENREADY_PEERS "/fake-systemd1", fake->address};
    size_t argc = 2;
    for (size_t i = 0; units[i]; i++) {
        ck_assert_uint_lt(argc, 15);
        argv[argc++] = units[i];
    }
    peer_start(&fake->systemd1, argv);
    ck_assert_str_eq(peer_line(&fake->systemd1, line, sizeof(line)), "ready");
}

static void fake_systemd_change(struct fake_systemd *fake, const char *verb, const char *unit,
                                const char *state)
{
    char command[256];
    snprintf(command, sizeof(command), "%s %s %s", verb, unit, state);
    peer_do(&fake->systemd1, command, "ok");
}

void fake_systemd_set(struct fake_systemd *fake, const char *unit, const char *state)
{
    fake_systemd_change(fake, "set", unit, state);
}

void fake_systemd_invalidate(struct fake_systemd *fake, const char *unit, const char *state)
{
    fake_systemd_change(fake, "invalidate", unit, state);
}

void fake_systemd_stop(struct fake_systemd *fake)
{
    peer_kill(&fake->systemd1);
    peer_kill(&fake->bus);
}

unsigned int test_seed(void)
{
    const char *text = getenv("XENREADY_SEED");
    unsigned int seed = text ? (unsigned int)strtoul(text, NULL, 10) : 20261126u;
    printf("seed: %u (replay with XENREADY_SEED=%u)\n", seed, seed);
    fflush(stdout);
    return seed;
}

static void use_xenstored_path(void *path)
{
    setenv("XENSTORED_PATH", path, 1);
}

void xenstored_link_begin(struct xenstored_link *link, struct harness *harness,
                          struct daemon_runner *runner)
{
    snprintf(link->dir, sizeof(link->dir), "/tmp/xenready-link-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(link->dir));
    snprintf(link->path, sizeof(link->path), "%s/socket", link->dir);
    snprintf(link->staging, sizeof(link->staging), "%s/new", link->dir);
    char *socket = harness_socket_path(harness, 0);
    ck_assert_ptr_nonnull(socket);
    ck_assert_int_eq(symlink(socket, link->path), 0);
    free(socket);
    runner->child_setup = use_xenstored_path;
    runner->child_data = link->path;
}

void xenstored_link_switch(struct xenstored_link *link, struct harness *harness)
{
    char *socket = harness_socket_path(harness, 0);
    ck_assert_ptr_nonnull(socket);
    ck_assert_int_eq(symlink(socket, link->staging), 0);
    ck_assert_int_eq(rename(link->staging, link->path), 0);
    free(socket);
}

void xenstored_link_end(struct xenstored_link *link)
{
    unlink(link->path);
    rmdir(link->dir);
}

pid_t daemon_runner_idle_connections(struct daemon_runner *runner, uid_t uid, gid_t gid,
                                     int count)
{
    const gid_t nobody = 65534;
    int ready[2];
    ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        gid_t groups[] = {gid};
        if (setgroups(1, groups) < 0 || setresgid(nobody, nobody, nobody) < 0
            || setresuid(uid, uid, uid) < 0)
            _exit(1);
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        snprintf(address.sun_path, sizeof(address.sun_path), "%s", runner->control_path);
        for (int i = 0; i < count; i++) {
            int fd = socket(AF_UNIX, SOCK_STREAM, 0);
            if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0)
                _exit(1);
        }
        (void)!write(ready[1], "x", 1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    char byte;
    ck_assert_int_eq(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    return pid;
}
