// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xenready-bench: the measurements behind BENCHMARKS.md, against the real
 * xenstored of the test harness. xenreadyd runs as the unprivileged driver
 * domain DomD (1), backends are written as DomD, and the frontend (5) is an
 * unprivileged domain reading through its own ring (scale and idle use dom0
 * observers and frontends that are never introduced). bench/run drives it.
 *
 *   xenready-bench signal [-n N] [--poll N] [--exec N]   latency, alternatives
 *   xenready-bench control [-n N] [--clients C] [--busy T] [--fillers F] [-- XENSTORED-ARGS]
 *                                   signal latency under control-socket load
 *   xenready-bench scale --bridges N [--backends K] [-- XENSTORED-ARGS]
 *   xenready-bench reload --bridges N [--rounds R] [-- XENSTORED-ARGS]
 *                                   xenreadyctl reload: identical, one bridge changed
 *   xenready-bench idle --bridges N --seconds S [--strace] [-- XENSTORED-ARGS]
 *   xenready-bench heap --bridges N [--backends K] --out FILE
 *   xenready-bench storm [--seconds S] [--idle N] [--writers W] [--timeout S]
 *                        [-- XENSTORED-ARGS]
 *                                   signal latency while a domain rewrites a watched key
 *   xenready-bench exec-helper BACKEND-PATH VALUE STATE-PATH   (internal)
 *
 * Each prints a Markdown section. It checks that the numbers are sane (every
 * signal seen, percentiles ordered, a signal slower than one hop) and exits 1
 * otherwise; it never judges performance.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "harness.h"
#include "xenready-control.h"
#include "xs-count.h"

extern char **environ;

enum { DOMD = 1, FRONTEND = 5 };

#define SIGNAL_NODE "/local/domain/5/xenready/pcie0"
#define ALT_NODE "/local/domain/5/xenready/alt"
#define ALT_BACKEND "/local/domain/1/backend/valt/5/0/state"
#define HOP_DOMD "/local/domain/1/bench/hop"
#define HOP_DOM0 "/bench0/hop"

static bool failed;
static int ready_timeout_ms = 600000;   /* start → READY=1 at scale, --timeout */
static char notes[1024];         /* printed below the table of alternatives */
static const char *daemon_log;   /* shown when the benchmark gives up */

__attribute__((format(printf, 1, 2)))
static void insane(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("xenready-bench: CHECK FAILED: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    failed = true;
}

__attribute__((noreturn, format(printf, 1, 2)))
static void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("xenready-bench: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    if (daemon_log) {
        char command[512];
        snprintf(command, sizeof(command), "tail -n 30 '%s' >&2", daemon_log);
        if (system(command) != 0)
            fputs("(no daemon log)\n", stderr);
    }
    if (getenv("XENREADY_BENCH_HOLD"))   /* to look at what is left, e.g. with gdb */
        pause();
    exit(2);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- samples ---------------------------------------------------------- */

struct samples {
    double *v;
    size_t n, cap;
    bool sorted;
};

static void samples_add(struct samples *s, double value)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        if (!s->v)
            die("out of memory");
    }
    s->v[s->n++] = value;
    s->sorted = false;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile. */
static double samples_pct(struct samples *s, double pct)
{
    if (!s->n)
        return 0;
    if (!s->sorted)
        qsort(s->v, s->n, sizeof(*s->v), compare_double);
    s->sorted = true;
    size_t rank = (size_t)(pct / 100.0 * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1];
}

static double samples_mean(const struct samples *s)
{
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    return s->n ? sum / (double)s->n : 0;
}

static void samples_free(struct samples *s)
{
    free(s->v);
    *s = (struct samples){0};
}

/* ---- /proc ------------------------------------------------------------ */

/* utime+stime (+ children's, if asked) of pid in microseconds. */
static double proc_cpu_us(pid_t pid, bool children)
{
    char path[64], text[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strrchr(text, ')');
    if (!p)
        return -1;
    unsigned long long field[20] = {0};
    /* After ")": state (3), then fields 4.. */
    p += 2;
    p = strchr(p, ' ');
    for (int i = 4; i <= 17 && p; i++) {
        field[i] = strtoull(p + 1, &p, 10);
    }
    double ticks = (double)(field[14] + field[15]);
    if (children)
        ticks += (double)(field[16] + field[17]);
    return ticks * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/* A "Key:   123 kB" value from /proc/<pid>/status, in kB; -1 if absent. */
static long proc_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long value = -1;
    size_t length = strlen(key);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, length) == 0 && line[length] == ':')
            value = strtol(line + length + 1, NULL, 10);
    fclose(f);
    return value;
}

/* Context switches of every thread of pid (each one is a wakeup or a
 * preemption), and how many threads there are. */
static long long proc_context_switches(pid_t pid, int *threads)
{
    char path[96];
    long long total = 0;
    *threads = 0;
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    FILE *ls = NULL;
    char command[160];
    snprintf(command, sizeof(command), "ls %s", path);
    ls = popen(command, "r");
    if (!ls)
        return -1;
    char tid[32];
    while (fscanf(ls, "%31s", tid) == 1) {
        char line[256];
        snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, tid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        (*threads)++;
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "voluntary_ctxt_switches:", 24) == 0
                || strncmp(line, "nonvoluntary_ctxt_switches:", 27) == 0)
                total += strtoll(strchr(line, ':') + 1, NULL, 10);
        fclose(f);
    }
    pclose(ls);
    return total;
}

/* ---- xenstore helpers ------------------------------------------------- */

static void xs_must_write(struct xs_handle *h, const char *path, const char *value)
{
    if (xs_write_string(h, path, value) < 0)
        die("cannot write %s: %s", path, strerror(errno));
}

/* A watch's first event and anything queued before: a round trip after
 * xs_watch() has them in libxenstore's queue, then they are dropped. */
static void xs_settle(struct xs_handle *h)
{
    unsigned int length;
    free(xs_read(h, XBT_NULL, "/", &length));
    char **event;
    while ((event = xs_check_watch(h)))
        free(event);
}

static void xs_must_watch(struct xs_handle *h, const char *path, const char *token)
{
    if (!xs_watch(h, path, token))
        die("cannot watch %s: %s", path, strerror(errno));
    xs_settle(h);
}

/* Waits for a watch event on exactly path; returns the time it was taken
 * (µs), or -1 after timeout_ms. */
static double wait_event(struct xs_handle *h, const char *path, int timeout_ms)
{
    double deadline = now_us() + timeout_ms * 1000.0;
    for (;;) {
        char **event;
        while ((event = xs_check_watch(h))) {
            bool match = strcmp(event[XS_WATCH_PATH], path) == 0;
            free(event);
            if (match)
                return now_us();
        }
        double left = deadline - now_us();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {.fd = xs_fileno(h), .events = POLLIN};
        poll(&pfd, 1, (int)(left / 1000) + 1);
    }
}

/* Waits until path reads expected, re-reading after each event on it;
 * *event_at: when the event that preceded the matching read was taken. */
static int wait_value(struct xs_handle *h, const char *path, const char *expected,
                      int timeout_ms, double *event_at)
{
    double deadline = now_us() + timeout_ms * 1000.0;
    for (;;) {
        double at = wait_event(h, path, (int)((deadline - now_us()) / 1000));
        if (at < 0)
            return -ETIMEDOUT;
        char *value = xs_read_string(h, path);
        bool equal = value && strcmp(value, expected) == 0;
        free(value);
        if (equal) {
            if (event_at)
                *event_at = at;
            return 0;
        }
    }
}

/* ---- the daemon ------------------------------------------------------- */

struct bench_daemon {
    struct daemon_runner runner;
    struct xs_counters *counters;
    char *log_path;
};

static struct xs_counters *counters_create(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, sizeof(struct xs_counters)) < 0)
        die("cannot create %s: %s", path, strerror(errno));
    void *map = mmap(NULL, sizeof(struct xs_counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                     0);
    close(fd);
    if (map == MAP_FAILED)
        die("cannot map %s: %s", path, strerror(errno));
    return map;
}

/* Round trips: every counted call but the events. */
static uint64_t round_trips(const uint64_t count[XS_COUNT_MAX])
{
    uint64_t sum = 0;
    for (int i = 0; i < XS_COUNT_MAX; i++)
        if (i != XS_COUNT_EVENT)
            sum += count[i];
    return sum;
}

static void counters_snapshot(const struct xs_counters *c, uint64_t out[XS_COUNT_MAX])
{
    for (int i = 0; i < XS_COUNT_MAX; i++)
        out[i] = c ? c->count[i] : 0;
}

/* Starts xenreadyd as DomD with config, under wrapper (e.g. valgrind) when
 * given, counting its xenstore calls when count is true. Returns the time
 * from fork to READY=1 in µs. */
static void write_text_file(const char *path, const char *text);

/* The length of config's first part of at most CONFIG_PART bytes that ends
 * before a section header (or all of it). xenreadyd reads at most 1 MiB
 * per file: a larger configuration goes on in drop-ins. */
enum { CONFIG_PART = 768 * 1024 };

static size_t config_part(const char *config)
{
    size_t length = strlen(config);
    if (length <= CONFIG_PART)
        return length;
    for (size_t end = CONFIG_PART; end > 0; end--)
        if (config[end - 1] == '\n' && config[end] == '[')
            return end;
    die("a configuration section is larger than %d bytes", CONFIG_PART);
    return 0;
}

/* Writes what follows config's first part to dir/NNN.conf, in parts;
 * whether there was any. */
static bool config_write_dropins(const char *config, const char *dir)
{
    size_t offset = config_part(config), index = 0;
    if (!config[offset])
        return false;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        die("mkdir %s: %s", dir, strerror(errno));
    while (config[offset]) {
        size_t length = config_part(config + offset);
        char *path = NULL, *text = strndup(config + offset, length);
        if (asprintf(&path, "%s/%03zu.conf", dir, index++) < 0 || !text)
            die("out of memory");
        write_text_file(path, text);
        free(path);
        free(text);
        offset += length;
    }
    return true;
}

static double daemon_spawn(struct bench_daemon *d, struct harness *h, const char *config,
                           const char *const *wrapper, bool count, int timeout_ms)
{
    *d = (struct bench_daemon){0};
    char *head = strndup(config, config_part(config));
    if (!head || daemon_runner_init(&d->runner, h, DOMD, head) < 0)
        die("cannot prepare the daemon: %s", strerror(errno));
    free(head);
    const char *dir = harness_directory(h);
    char *counters_path = NULL, *socket_path = harness_socket_path(h, DOMD);
    char *dropins = NULL;
    if (asprintf(&d->log_path, "%s/xenreadyd.log", dir) < 0
        || asprintf(&counters_path, "%s/counters", dir) < 0
        || asprintf(&dropins, "%s/xenready.d", dir) < 0 || !socket_path)
        die("out of memory");
    config_write_dropins(config, dropins);
    if (count)
        d->counters = counters_create(counters_path);

    const char *argv[32];
    size_t argc = 0;
    for (size_t i = 0; wrapper && wrapper[i]; i++)
        argv[argc++] = wrapper[i];
    /* For a closer look, e.g. XENREADY_BENCH_WRAPPER="perf record -g -o FILE". */
    char *extra = getenv("XENREADY_BENCH_WRAPPER") ? strdup(getenv("XENREADY_BENCH_WRAPPER"))
                                                   : NULL;
    for (char *save = NULL, *word = extra ? strtok_r(extra, " ", &save) : NULL;
         word && argc < 20; word = strtok_r(NULL, " ", &save))
        argv[argc++] = word;
    /* Another build of the daemon, e.g. to compare before and after a change. */
    const char *program = getenv("XENREADY_BENCH_DAEMON");
    argv[argc++] = program ? program : XENREADYD_PATH;
    argv[argc++] = "--config";
    argv[argc++] = d->runner.config_path;
    argv[argc++] = "--config-dir";
    argv[argc++] = dropins;            /* may not exist: no drop-ins */
    argv[argc++] = "--control-socket";
    argv[argc++] = d->runner.control_path;
    argv[argc] = NULL;

    double start = now_us();
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setenv("XENSTORED_PATH", socket_path, 1);
        setenv("NOTIFY_SOCKET", d->runner.notify_path, 1);
        unsetenv("JOURNAL_STREAM");
        unsetenv("WATCHDOG_USEC");
        if (count) {
            setenv("LD_PRELOAD", XS_COUNT_PATH, 1);
            setenv("XENREADY_BENCH_COUNTERS", counters_path, 1);
        }
        int log = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (log >= 0)
            dup2(log, STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    d->runner.pid = pid;
    daemon_log = d->log_path;
    free(socket_path);
    free(counters_path);
    free(dropins);
    free(extra);
    if (daemon_runner_wait_status(&d->runner, NULL, timeout_ms) < 0)
        die("xenreadyd did not report READY=1 within %d ms (log: %s)", timeout_ms, d->log_path);
    return now_us() - start;
}

/* Reads the daemon's queued sd_notify messages, as systemd would: a
 * datagram queue holds only net.unix.max_dgram_qlen (10) messages, and the
 * daemon blocks once it is full. Keeps the latest STATUS=. */
static void notify_drain(struct daemon_runner *runner)
{
    char message[4096];
    ssize_t length;
    while ((length = recv(runner->notify_fd, message, sizeof(message) - 1, MSG_DONTWAIT)) > 0) {
        message[length] = '\0';
        for (char *save = NULL, *line = strtok_r(message, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save))
            if (strncmp(line, "STATUS=", 7) == 0)
                snprintf(runner->last_status, sizeof(runner->last_status), "%s", line + 7);
    }
}

static void daemon_stop(struct bench_daemon *d)
{
    if (d->runner.pid > 0)
        daemon_runner_stop(&d->runner, SIGTERM);
    daemon_runner_finish(&d->runner);
    if (d->counters)
        munmap(d->counters, sizeof(*d->counters));
    daemon_log = NULL;
    free(d->log_path);
    *d = (struct bench_daemon){0};
}

/* ---- configurations ------------------------------------------------- */

/* bridges frontends (domids 2…), one bridge each, with backends backends
 * each, at ~/backend/vbench/<fe>/<i>/state = 4. */
static char *config_scaled(size_t bridges, size_t backends)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    for (size_t b = 0; b < bridges; b++) {
        unsigned int fe = 2 + (unsigned int)b;
        fprintf(f, "[frontend fe%u]\ndomid = %u\n\n", fe, fe);
        for (size_t i = 0; i < backends; i++)
            fprintf(f, "[backend be%u-%zu]\nprobe = xenstore\npath = backend/vbench/%u/%zu/state\n"
                       "value = 4\n\n", fe, i, fe, i);
        fprintf(f, "[bridge fe%u/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends =", fe);
        for (size_t i = 0; i < backends; i++)
            fprintf(f, " be%u-%zu", fe, i);
        fputs("\n\n", f);
    }
    fclose(f);
    return text;
}

/* DomD's writable backend directory and each frontend's xenready directory,
 * as the toolstack creates them (xenreadyd(8)). */
static void setup_scaled(struct harness *h, size_t bridges)
{
    if (harness_introduce(h, DOMD, "domd") < 0
        || harness_set_permissions(h, "/local/domain/1/backend", "n1") < 0)
        die("cannot set up DomD");
    for (size_t b = 0; b < bridges; b++) {
        char path[64], perms[32];
        unsigned int fe = 2 + (unsigned int)b;
        snprintf(path, sizeof(path), "/local/domain/%u/xenready", fe);
        snprintf(perms, sizeof(perms), "n1 r%u", fe);
        if (harness_set_permissions(h, path, perms) < 0)
            die("cannot create %s", path);
    }
}

static struct harness *harness_must_start(const char *const *xenstored_args)
{
    struct harness *h;
    struct harness_options options = {.xenstored_args = xenstored_args};
    int r = harness_start(&h, &options);
    if (r == -ENOENT) {
        fprintf(stderr, "xenready-bench: no xenstored or shim: skipped\n");
        exit(77);
    }
    if (r < 0)
        die("cannot start xenstored: %s", strerror(-r));
    return h;
}

/* ---- signal: latency and the alternatives ------------------------------ */

static void print_row(const char *what, struct samples *s, double hop)
{
    printf("| %s | %zu | %.1f | %.1f | %.1f | %.1f | %.2f× | %.2f× |\n", what, s->n,
           samples_mean(s), samples_pct(s, 50), samples_pct(s, 99), samples_pct(s, 100),
           samples_pct(s, 50) / hop, samples_pct(s, 99) / hop);
}

static pid_t spawn_as_domd(struct harness *h, const char *const *argv, int stdout_fd)
{
    char *socket_path = harness_socket_path(h, DOMD);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setenv("XENSTORED_PATH", socket_path, 1);
        if (stdout_fd >= 0)
            dup2(stdout_fd, STDOUT_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    free(socket_path);
    return pid;
}

/* A user's shell loop: xenstore-read every second, then xenstore-write. */
static void alternative_poll(struct harness *h, struct xs_handle *domd, struct xs_handle *fe,
                             int iterations, double hop)
{
    static const char script[] =
        "while [ \"$(xenstore-read \"$1\" 2>/dev/null)\" != \"$2\" ]; do sleep 1; done; "
        "exec xenstore-write \"$3\" ready";
    struct samples latency = {0};
    double cpu = 0, wall = 0;
    srand(1);
    for (int i = 0; i < iterations; i++) {
        xs_must_write(domd, ALT_BACKEND, "0");
        xs_must_write(domd, ALT_NODE "/state", "waiting");
        xs_settle(fe);
        struct rusage before, after;
        getrusage(RUSAGE_CHILDREN, &before);
        double started = now_us();
        pid_t pid = spawn_as_domd(h, (const char *const[]){"/bin/sh", "-c", script, "sh",
                                  ALT_BACKEND, "4", ALT_NODE "/state", NULL}, -1);
        /* Backends come up at any moment of the poller's second. */
        usleep((useconds_t)(rand() % 1000) * 1000u + 1000u);
        double t0 = now_us(), at;
        xs_must_write(domd, ALT_BACKEND, "4");
        if (wait_value(fe, ALT_NODE "/state", "ready", 5000, &at) < 0)
            insane("the polling loop never signalled");
        else
            samples_add(&latency, at - t0);
        int status;
        waitpid(pid, &status, 0);
        wall += now_us() - started;
        getrusage(RUSAGE_CHILDREN, &after);
        cpu += (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec) * 1e6
               + (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec)
               + (double)(after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1e6
               + (double)(after.ru_stime.tv_usec - before.ru_stime.tv_usec);
    }
    if (latency.n) {
        print_row("shell loop: xenstore-read every 1 s, then xenstore-write (event)", &latency,
                  hop);
        size_t used = strlen(notes);
        snprintf(notes + used, sizeof(notes) - used,
                 "- shell loop: CPU %.1f ms per second of waiting, %.1f ms per signal "
                 "(%d signals)\n", cpu / 1e3 / (wall / 1e6), cpu / 1e3 / iterations, iterations);
    }
    samples_free(&latency);
}

/* A watcher that fork+execs xenstore-write when the backend is seen, the way
 * a systemd oneshot would be started. */
static int exec_helper_main(int argc, char **argv)
{
    if (argc != 4)
        die("usage: exec-helper BACKEND-PATH VALUE STATE-PATH");
    const char *backend = argv[1], *value = argv[2], *state = argv[3];
    struct xs_handle *h = xs_open(0);
    if (!h)
        die("exec-helper: xs_open: %s", strerror(errno));
    xs_must_watch(h, backend, "b");
    puts("armed");
    fflush(stdout);
    int last = -1;
    for (;;) {
        char *seen = xs_read_string(h, backend);
        int ready = seen && strcmp(seen, value) == 0;
        free(seen);
        if (ready != last) {
            pid_t pid = fork();
            if (pid == 0) {
                execlp("xenstore-write", "xenstore-write", state, ready ? "ready" : "waiting",
                       (char *)NULL);
                _exit(127);
            }
            waitpid(pid, NULL, 0);
            last = ready;
        }
        struct pollfd pfd = {.fd = xs_fileno(h), .events = POLLIN};
        poll(&pfd, 1, -1);
        char **event;
        while ((event = xs_check_watch(h)))
            free(event);
    }
}

static void alternative_exec(struct harness *h, struct xs_handle *domd, struct xs_handle *fe,
                             int iterations, double hop)
{
    xs_must_write(domd, ALT_BACKEND, "0");
    int pipe_fds[2];
    if (pipe(pipe_fds) < 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = spawn_as_domd(h, (const char *const[]){"/proc/self/exe", "exec-helper",
                              ALT_BACKEND, "4", ALT_NODE "/state", NULL}, pipe_fds[1]);
    close(pipe_fds[1]);
    char line[16] = "";
    if (read(pipe_fds[0], line, sizeof(line) - 1) <= 0)
        die("the exec helper did not start");
    close(pipe_fds[0]);
    if (wait_value(fe, ALT_NODE "/state", "waiting", 5000, NULL) < 0) {
        /* It may have written "waiting" before the frontend's watch saw it. */
        char *value = xs_read_string(fe, ALT_NODE "/state");
        if (!value || strcmp(value, "waiting") != 0)
            insane("the exec helper never wrote its first state");
        free(value);
    }
    struct samples latency = {0};
    double cpu_before = proc_cpu_us(pid, true);
    for (int i = 0; i < iterations; i++) {
        double t0 = now_us(), at;
        xs_must_write(domd, ALT_BACKEND, "4");
        if (wait_value(fe, ALT_NODE "/state", "ready", 5000, &at) < 0) {
            insane("the exec helper never signalled");
            break;
        }
        samples_add(&latency, at - t0);
        xs_must_write(domd, ALT_BACKEND, "0");
        if (wait_value(fe, ALT_NODE "/state", "waiting", 5000, NULL) < 0) {
            insane("the exec helper never withdrew");
            break;
        }
    }
    double cpu = proc_cpu_us(pid, true) - cpu_before;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (latency.n) {
        print_row("watcher that fork+execs xenstore-write (event)", &latency, hop);
        size_t used = strlen(notes);
        snprintf(notes + used, sizeof(notes) - used,
                 "- fork+exec helper: CPU %.0f µs per signal (%zu ready + %zu withdraw "
                 "signals; the helper and its children), none while idle\n",
                 cpu / (2.0 * (double)latency.n), latency.n, latency.n);
    }
    samples_free(&latency);
}

static const char signal_config[] =
    "[frontend domu]\ndomid = 5\n\n"
    "[backend stays]\nprobe = xenstore\npath = backend/vbench/5/0/state\nvalue = 4\n\n"
    "[backend last]\nprobe = xenstore\npath = backend/vbench/5/1/state\nvalue = 4\n\n"
    "[bridge domu/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = stays last\n";

static int signal_main(int argc, char **argv)
{
    int iterations = 10000, poll_iterations = 10, exec_iterations = 1000;
    static const struct option options[] = {
        {"iterations", required_argument, NULL, 'n'},
        {"poll", required_argument, NULL, 'p'},
        {"exec", required_argument, NULL, 'e'},
        {0},
    };
    int option;
    while ((option = getopt_long(argc, argv, "n:", options, NULL)) != -1) {
        if (option == 'n')
            iterations = atoi(optarg);
        else if (option == 'p')
            poll_iterations = atoi(optarg);
        else if (option == 'e')
            exec_iterations = atoi(optarg);
        else
            return 2;
    }
    struct harness *h = harness_must_start(NULL);
    if (harness_introduce(h, DOMD, "domd") < 0 || harness_introduce(h, FRONTEND, "domu") < 0
        || harness_set_permissions(h, "/local/domain/1/backend", "n1") < 0
        || harness_set_permissions(h, "/local/domain/5/xenready", "n1 r5") < 0
        || harness_set_permissions(h, ALT_NODE, "n1 r5") < 0
        || harness_set_permissions(h, "/local/domain/1/bench", "n1 r5") < 0
        || harness_set_permissions(h, HOP_DOM0, "n0") < 0)
        die("cannot set up the domains");
    struct xs_handle *domd = harness_open(h, DOMD), *fe = harness_open(h, FRONTEND);
    struct xs_handle *dom0a = harness_open(h, 0), *dom0b = harness_open(h, 0);
    if (!domd || !fe || !dom0a || !dom0b)
        die("cannot open handles: %s", strerror(errno));
    xs_must_write(domd, "backend/vbench/5/0/state", "4");
    xs_must_write(domd, HOP_DOMD, "0");

    struct bench_daemon d;
    daemon_spawn(&d, h, signal_config, NULL, true, 10000);
    if (daemon_runner_wait_status(&d.runner, "0/1 bridges ready; waiting: domu/pcie0 (last)",
                                  10000) < 0)
        die("unexpected status: %s", d.runner.last_status);
    xs_must_watch(fe, SIGNAL_NODE "/state", "signal");
    xs_must_watch(fe, HOP_DOMD, "hop");
    xs_must_watch(fe, ALT_NODE "/state", "alt");
    xs_must_watch(dom0b, HOP_DOM0, "hop0");

    struct samples hop = {0}, hop0 = {0}, read_rtt = {0}, write_rtt = {0}, ready = {0},
                   ready_read = {0}, withdraw = {0};
    uint64_t before[XS_COUNT_MAX], after[XS_COUNT_MAX];
    counters_snapshot(d.counters, before);
    double cpu_before = proc_cpu_us(d.runner.pid, false);
    char value[32];
    /* Interleaved, so that every figure sees the same machine. */
    for (int i = 0; i < iterations; i++) {
        snprintf(value, sizeof(value), "%d", i + 1);
        double t0 = now_us();
        xs_must_write(domd, HOP_DOMD, value);
        double t1 = now_us();
        double at = wait_event(fe, HOP_DOMD, 5000);
        if (at < 0)
            die("no hop event");
        samples_add(&hop, at - t0);
        samples_add(&write_rtt, t1 - t0);

        t0 = now_us();
        xs_must_write(dom0a, HOP_DOM0, value);
        at = wait_event(dom0b, HOP_DOM0, 5000);
        if (at < 0)
            die("no dom0 hop event");
        samples_add(&hop0, at - t0);

        t0 = now_us();
        char *state = xs_read_string(fe, SIGNAL_NODE "/state");
        samples_add(&read_rtt, now_us() - t0);
        if (!state || strcmp(state, "waiting") != 0)
            insane("state is %s before iteration %d", state ? state : "(none)", i);
        free(state);

        t0 = now_us();
        xs_must_write(domd, "backend/vbench/5/1/state", "4");
        if (wait_value(fe, SIGNAL_NODE "/state", "ready", 5000, &at) < 0)
            die("iteration %d: the frontend never saw ready", i);
        samples_add(&ready, at - t0);
        samples_add(&ready_read, now_us() - t0);

        t0 = now_us();
        xs_must_write(domd, "backend/vbench/5/1/state", "0");
        if (wait_value(fe, SIGNAL_NODE "/state", "waiting", 5000, &at) < 0)
            die("iteration %d: the frontend never saw waiting", i);
        samples_add(&withdraw, at - t0);
        notify_drain(&d.runner);
    }
    double cpu = proc_cpu_us(d.runner.pid, false) - cpu_before;
    counters_snapshot(d.counters, after);
    char *generation = xs_read_string(fe, SIGNAL_NODE "/generation");
    char expected[32];
    snprintf(expected, sizeof(expected), "%d", 1 + 2 * iterations);
    if (!generation || strcmp(generation, expected) != 0)
        insane("generation is %s after %d iterations, expected %s",
               generation ? generation : "(none)", iterations, expected);
    free(generation);
    daemon_stop(&d);

    double one_hop = samples_pct(&hop, 50);
    printf("### Signal latency (%d iterations, µs)\n\n", iterations);
    printf("| path | n | mean | p50 | p99 | max | p50 / hop | p99 / hop |\n"
           "|---|---|---|---|---|---|---|---|\n");
    print_row("one hop: DomD write → frontend watch event", &hop, one_hop);
    print_row("one hop: dom0 write → dom0 watch event", &hop0, one_hop);
    print_row("read round trip (frontend)", &read_rtt, one_hop);
    print_row("write round trip (DomD)", &write_rtt, one_hop);
    print_row("**xenreadyd: last backend write → frontend event on state**", &ready, one_hop);
    print_row("xenreadyd: … plus the frontend's read of state", &ready_read, one_hop);
    print_row("xenreadyd: backend withdrawn → frontend event", &withdraw, one_hop);
    for (int i = 0; i < XS_COUNT_MAX; i++)
        after[i] -= before[i];
    uint64_t requests = round_trips(after);
    double signals = 2.0 * iterations;
    printf("\nxenreadyd per signal: %.2f xenstore round trips (%.2f reads, %.2f writes), "
           "%.2f watch events, CPU %.1f µs\n\n", (double)requests / signals,
           (double)after[XS_COUNT_READ] / signals, (double)after[XS_COUNT_WRITE] / signals,
           (double)after[XS_COUNT_EVENT] / signals, cpu / signals);

    if (samples_pct(&ready, 50) <= one_hop)
        insane("a signal (p50 %.1f µs) cannot be faster than one hop (p50 %.1f µs)",
               samples_pct(&ready, 50), one_hop);
    if (samples_pct(&ready, 50) > samples_pct(&ready, 99) || one_hop <= 0)
        insane("percentiles out of order");
    if (after[XS_COUNT_EVENT] < (uint64_t)iterations)
        insane("the daemon took %llu events for %d iterations",
               (unsigned long long)after[XS_COUNT_EVENT], iterations);

    if (poll_iterations > 0 || exec_iterations > 0) {
        printf("### What users would do instead (µs)\n\n");
        printf("| path | n | mean | p50 | p99 | max | p50 / hop | p99 / hop |\n"
               "|---|---|---|---|---|---|---|---|\n");
        print_row("xenreadyd (from above, event)", &ready, one_hop);
        if (exec_iterations > 0)
            alternative_exec(h, domd, fe, exec_iterations, one_hop);
        if (poll_iterations > 0)
            alternative_poll(h, domd, fe, poll_iterations, one_hop);
        printf("\n- xenreadyd: CPU %.1f µs per signal, none while idle\n%s\n", cpu / signals,
               notes);
    }
    samples_free(&hop);
    samples_free(&hop0);
    samples_free(&read_rtt);
    samples_free(&write_rtt);
    samples_free(&ready);
    samples_free(&ready_read);
    samples_free(&withdraw);
    xs_close(domd);
    xs_close(fe);
    xs_close(dom0a);
    xs_close(dom0b);
    harness_stop(h);
    return failed ? 1 : 0;
}

/* ---- control: signal latency under control-socket load ----------------- */

/* What the load's clients do. */
enum load_kind {
    LOAD_NONE,
    LOAD_IDLE,      /* connect, send nothing */
    LOAD_SLOW,      /* send "status", never read the (large) answer */
    LOAD_HALF,      /* half a request, or a held "wait", then shutdown(SHUT_WR) */
    LOAD_BUSY,      /* "status" again and again, reading each answer (threads) */
};

struct load {
    enum load_kind kind;
    const char *socket_path;
    int *fds;
    size_t count;
    size_t refused;          /* answered "too many clients" */
    volatile bool stop;
    pthread_t *threads;
    unsigned long requests;  /* LOAD_BUSY: answered requests */
};

static int control_connect(const char *path)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0)
        die("cannot connect to %s: %s", path, strerror(errno));
    return fd;
}

static void send_all(int fd, const char *text)
{
    size_t length = strlen(text);
    if (send(fd, text, length, MSG_NOSIGNAL) != (ssize_t)length)
        die("cannot send a control request: %s", strerror(errno));
}

/* One request, the whole answer read; returns its size in bytes. */
static size_t control_request(const char *path, const char *request)
{
    int fd = control_connect(path);
    send_all(fd, request);
    char buffer[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0)
        total += (size_t)n;
    close(fd);
    return total;
}

static const char status_request[] = "{\"version\": 1, \"command\": \"status\"}\n";

static void *load_busy(void *data)
{
    struct load *load = data;
    while (!load->stop) {
        control_request(load->socket_path, status_request);
        __atomic_add_fetch(&load->requests, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* Connects the load's clients and has them do what their kind does; then
 * one status request of our own, which the daemon answers after it took
 * the connections made before it (the listening socket's queue is FIFO). */
static void load_open(struct load *load)
{
    for (size_t i = 0; load->kind != LOAD_BUSY && i < load->count; i++) {
        int fd = control_connect(load->socket_path);
        load->fds[i] = fd;
        if (load->kind == LOAD_SLOW) {
            send_all(fd, status_request);
        } else if (load->kind == LOAD_HALF) {
            send_all(fd, i % 2 ? "{\"version\": 1, \"command\": \"wait\", \"bridges\": "
                                 "[\"fe0/pcie0\"]}\n"
                               : "{\"version\": 1, \"comm");
            shutdown(fd, SHUT_WR);
        }
    }
    if (load->kind == LOAD_BUSY)
        for (size_t i = 0; i < load->count; i++)
            if (pthread_create(&load->threads[i], NULL, load_busy, load) != 0)
                die("pthread_create failed");
    control_request(load->socket_path, status_request);
    /* Count the refusals: those connections are answered and closed. */
    for (size_t i = 0; load->kind != LOAD_BUSY && i < load->count; i++) {
        struct pollfd pfd = {.fd = load->fds[i], .events = POLLIN};
        char peek[64];
        ssize_t n;
        if (poll(&pfd, 1, 0) == 1
            && (n = recv(load->fds[i], peek, sizeof(peek) - 1, MSG_PEEK | MSG_DONTWAIT)) > 0) {
            peek[n] = '\0';
            load->refused += strstr(peek, "\"ok\": false") || strstr(peek, "\"ok\":false");
        }
    }
}

static void load_close(struct load *load)
{
    if (load->kind == LOAD_BUSY) {
        load->stop = true;
        for (size_t i = 0; i < load->count; i++)
            pthread_join(load->threads[i], NULL);
        load->stop = false;
        return;
    }
    for (size_t i = 0; i < load->count; i++)
        if (load->fds[i] >= 0)
            close(load->fds[i]);
}

/* A bridge with one backend that the signal iterations flip, and fillers:
 * bridges that stay waiting and make "status" answers large (a slow reader
 * then holds a response bigger than a socket buffer). */
static char *config_control(size_t fillers)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    fputs(signal_config, f);
    for (size_t i = 0; i < fillers; i++)
        fprintf(f, "\n[frontend fe%zu]\ndomid = %zu\n\n[backend filler%zu]\nprobe = xenstore\n"
                   "path = backend/vfill/%zu/state\nvalue = 4\n\n[bridge fe%zu/pcie0]\n"
                   "device-tree-path = /pcie@10000000\nbackends = filler%zu\n", i, 100 + i, i,
                i, i, i);
    fclose(f);
    return text;
}

static int control_main(int argc, char **argv)
{
    int iterations = 2000, clients = 100, busy = 8;
    size_t fillers = 600;
    static const struct option options[] = {
        {"iterations", required_argument, NULL, 'n'},
        {"clients", required_argument, NULL, 'c'},
        {"busy", required_argument, NULL, 'b'},
        {"fillers", required_argument, NULL, 'f'},
        {0},
    };
    int option;
    while ((option = getopt_long(argc, argv, "n:", options, NULL)) != -1) {
        switch (option) {
        case 'n': iterations = atoi(optarg); break;
        case 'c': clients = atoi(optarg); break;
        case 'b': busy = atoi(optarg); break;
        case 'f': fillers = strtoul(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    struct harness *h = harness_must_start((const char *const *)&argv[optind]);
    if (harness_introduce(h, DOMD, "domd") < 0 || harness_introduce(h, FRONTEND, "domu") < 0
        || harness_set_permissions(h, "/local/domain/1/backend", "n1") < 0
        || harness_set_permissions(h, "/local/domain/5/xenready", "n1 r5") < 0)
        die("cannot set up the domains");
    for (size_t i = 0; i < fillers; i++) {
        char path[64], perms[32];
        snprintf(path, sizeof(path), "/local/domain/%zu/xenready", 100 + i);
        snprintf(perms, sizeof(perms), "n1 r%zu", 100 + i);
        if (harness_set_permissions(h, path, perms) < 0)
            die("cannot create %s", path);
    }
    struct xs_handle *domd = harness_open(h, DOMD), *fe = harness_open(h, FRONTEND);
    if (!domd || !fe)
        die("cannot open handles: %s", strerror(errno));
    xs_must_write(domd, "backend/vbench/5/0/state", "4");
    char *config = config_control(fillers);
    struct bench_daemon d;
    daemon_spawn(&d, h, config, NULL, false, 60000);
    free(config);
    xs_must_watch(fe, SIGNAL_NODE "/state", "signal");
    const char *socket_path = d.runner.control_path;
    size_t status_bytes = control_request(socket_path, status_request);

    static const struct {
        enum load_kind kind;
        const char *what;
    } scenarios[] = {
        {LOAD_NONE, "no client"},
        {LOAD_IDLE, "idle: connected, nothing sent"},
        {LOAD_SLOW, "slow readers: sent \"status\", never read the answer"},
        {LOAD_HALF, "half-closed: half a request, or a held \"wait\", then SHUT_WR"},
        {LOAD_BUSY, "busy: \"status\" in a loop, answers read"},
    };
    enum { SCENARIOS = sizeof(scenarios) / sizeof(scenarios[0]), BATCH = 250 };
    struct samples latency[SCENARIOS] = {{0}};
    double cpu[SCENARIOS] = {0};
    long rss_max[SCENARIOS] = {0};
    size_t refused[SCENARIOS] = {0};
    unsigned long busy_requests = 0;
    int *fds = calloc((size_t)clients, sizeof(*fds));
    pthread_t *threads = calloc((size_t)busy, sizeof(*threads));
    if (!fds || !threads)
        die("out of memory");
    /* Batches of each scenario in turn, so that every one sees the same
     * machine; each batch opens its load afresh (the daemon drops clients
     * after XENREADY_CONTROL_TIMEOUT_SECONDS). */
    for (int done = 0; done < iterations; done += BATCH) {
        for (int k = 0; k < SCENARIOS; k++) {
            struct load load = {.kind = scenarios[k].kind, .socket_path = socket_path,
                                .fds = fds, .threads = threads,
                                .count = scenarios[k].kind == LOAD_NONE ? 0
                                         : scenarios[k].kind == LOAD_BUSY ? (size_t)busy
                                                                          : (size_t)clients};
            load_open(&load);
            refused[k] = load.refused;
            double cpu_before = proc_cpu_us(d.runner.pid, false);
            for (int i = done; i < done + BATCH && i < iterations; i++) {
                double t0 = now_us(), at;
                xs_must_write(domd, "backend/vbench/5/1/state", "4");
                if (wait_value(fe, SIGNAL_NODE "/state", "ready", 10000, &at) < 0)
                    die("%s: the frontend never saw ready", scenarios[k].what);
                samples_add(&latency[k], at - t0);
                t0 = now_us();
                xs_must_write(domd, "backend/vbench/5/1/state", "0");
                if (wait_value(fe, SIGNAL_NODE "/state", "waiting", 10000, &at) < 0)
                    die("%s: the frontend never saw waiting", scenarios[k].what);
                samples_add(&latency[k], at - t0);
                notify_drain(&d.runner);
            }
            cpu[k] += proc_cpu_us(d.runner.pid, false) - cpu_before;
            long rss = proc_status_kb(d.runner.pid, "VmRSS");
            if (rss > rss_max[k])
                rss_max[k] = rss;
            load_close(&load);
            busy_requests += load.requests;
        }
    }
    printf("### Signal latency under control-socket load (µs)\n\n");
    printf("%d clients (%d at most are served at once, XENREADY_CONTROL_CLIENTS_MAX), %d busy "
           "threads; %zu filler bridges make a \"status\" answer %zu bytes. %d signals per "
           "scenario (backend write → frontend watch event on state, both directions), in "
           "batches of %d interleaved across scenarios.\n\n", clients,
           XENREADY_CONTROL_CLIENTS_MAX, busy, fillers, status_bytes, 2 * iterations,
           BATCH);
    printf("| load | refused | n | p50 | p99 | max | p50 / no client | p99 / no client | "
           "daemon CPU per signal µs | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|\n");
    double base50 = samples_pct(&latency[0], 50), base99 = samples_pct(&latency[0], 99);
    for (int k = 0; k < SCENARIOS; k++) {
        printf("| %s | %zu | %zu | %.1f | %.1f | %.1f | %.2f× | %.2f× | %.1f | %.1f |\n",
               scenarios[k].what, refused[k], latency[k].n, samples_pct(&latency[k], 50),
               samples_pct(&latency[k], 99), samples_pct(&latency[k], 100),
               samples_pct(&latency[k], 50) / base50, samples_pct(&latency[k], 99) / base99,
               cpu[k] / (double)latency[k].n, rss_max[k] / 1024.0);
        if (!latency[k].n || samples_pct(&latency[k], 50) > samples_pct(&latency[k], 99))
            insane("%s: no samples or percentiles out of order", scenarios[k].what);
    }
    printf("\nBusy clients got %lu answers in all.\n\n", busy_requests);
    for (int k = 0; k < SCENARIOS; k++)
        samples_free(&latency[k]);
    free(fds);
    free(threads);
    daemon_stop(&d);
    xs_close(domd);
    xs_close(fe);
    harness_stop(h);
    return failed ? 1 : 0;
}

/* ---- scale ------------------------------------------------------------ */

struct burst {
    struct xs_handle *domd;
    size_t bridges, backends;
    double started, finished;
};

static void *burst_write(void *data)
{
    struct burst *burst = data;
    char path[96];
    burst->started = now_us();
    for (size_t b = 0; b < burst->bridges; b++)
        for (size_t i = 0; i < burst->backends; i++) {
            snprintf(path, sizeof(path), "backend/vbench/%zu/%zu/state", 2 + b, i);
            xs_must_write(burst->domd, path, "4");
        }
    burst->finished = now_us();
    return NULL;
}

/* "/local/domain/<fe>/xenready/pcie0/state" -> fe, or 0. */
static unsigned int state_path_domid(const char *path)
{
    unsigned int fe;
    int end = 0;
    if (sscanf(path, "/local/domain/%u/xenready/pcie0/state%n", &fe, &end) == 1
        && path[end] == '\0')
        return fe;
    return 0;
}

static int parse_sizes(int argc, char **argv, size_t *bridges, size_t *backends, int *seconds,
                       bool *use_strace, const char **out, const char *const **xenstored_args)
{
    static const struct option options[] = {
        {"bridges", required_argument, NULL, 'b'},
        {"backends", required_argument, NULL, 'k'},
        {"seconds", required_argument, NULL, 's'},
        {"strace", no_argument, NULL, 't'},
        {"out", required_argument, NULL, 'o'},
        {"timeout", required_argument, NULL, 'T'},
        {0},
    };
    int option;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'b': *bridges = strtoul(optarg, NULL, 10); break;
        case 'k': *backends = strtoul(optarg, NULL, 10); break;
        case 's': *seconds = atoi(optarg); break;
        case 't': *use_strace = true; break;
        case 'o': *out = optarg; break;
        case 'T': ready_timeout_ms = atoi(optarg) * 1000; break;
        default: return -EINVAL;
        }
    }
    *xenstored_args = (const char *const *)&argv[optind];
    return *bridges ? 0 : -EINVAL;
}

static int scale_main(int argc, char **argv)
{
    size_t bridges = 0, backends = 10;
    int seconds = 0;
    bool use_strace = false;
    const char *out = NULL;
    const char *const *xenstored_args;
    if (parse_sizes(argc, argv, &bridges, &backends, &seconds, &use_strace, &out,
                    &xenstored_args) < 0)
        die("usage: scale --bridges N [--backends K] [--timeout S] [-- XENSTORED-ARGS]");
    struct harness *h = harness_must_start(xenstored_args);
    double t = now_us();
    setup_scaled(h, bridges);
    char *config = config_scaled(bridges, backends);
    double setup = now_us() - t;

    struct bench_daemon d;
    double start = daemon_spawn(&d, h, config, NULL, true, ready_timeout_ms);
    uint64_t at_ready[XS_COUNT_MAX];
    counters_snapshot(d.counters, at_ready);
    long rss_ready = proc_status_kb(d.runner.pid, "VmRSS");
    double cpu_start = proc_cpu_us(d.runner.pid, false);

    struct xs_handle *observer = harness_open(h, 0);
    struct burst burst = {.domd = harness_open(h, DOMD), .bridges = bridges, .backends = backends};
    if (!observer || !burst.domd)
        die("cannot open handles");
    /* One watch for all frontends: per-frontend watches would make xenstored
     * match every write against thousands of them. */
    xs_must_watch(observer, "/local/domain", "observer");
    bool *seen = calloc(bridges + 2, sizeof(*seen));
    size_t signalled = 0;
    double last_signal = 0;
    pthread_t writer;
    double burst_started = now_us();
    if (pthread_create(&writer, NULL, burst_write, &burst) != 0)
        die("pthread_create failed");
    double deadline = now_us() + 600e6;
    while (signalled < bridges && now_us() < deadline) {
        char **event;
        while ((event = xs_check_watch(observer))) {
            unsigned int fe = state_path_domid(event[XS_WATCH_PATH]);
            if (fe >= 2 && fe < 2 + bridges && !seen[fe]) {
                seen[fe] = true;
                signalled++;
                last_signal = now_us();
            }
            free(event);
        }
        if (signalled < bridges) {
            struct pollfd pfd[2] = {{.fd = xs_fileno(observer), .events = POLLIN},
                                    {.fd = d.runner.notify_fd, .events = POLLIN}};
            poll(pfd, 2, 1000);
            notify_drain(&d.runner);
        }
    }
    pthread_join(writer, NULL);
    uint64_t at_end[XS_COUNT_MAX];
    counters_snapshot(d.counters, at_end);
    double cpu_burst = proc_cpu_us(d.runner.pid, false) - cpu_start;
    long rss_after = proc_status_kb(d.runner.pid, "VmRSS");
    long hwm = proc_status_kb(d.runner.pid, "VmHWM");
    size_t ready = 0;
    for (size_t b = 0; b < bridges; b++) {
        char path[96];
        snprintf(path, sizeof(path), "/local/domain/%zu/xenready/pcie0/state", 2 + b);
        char *value = xs_read_string(observer, path);
        ready += value && strcmp(value, "ready") == 0;
        free(value);
    }
    if (signalled != bridges || ready != bridges)
        insane("%zu bridges: %zu state events, %zu read ready", bridges, signalled, ready);
    char status[64];
    snprintf(status, sizeof(status), "%zu/%zu bridges ready", bridges, bridges);
    if (daemon_runner_wait_status(&d.runner, status, 60000) < 0)
        insane("the daemon reports \"%s\"", d.runner.last_status);

    uint64_t burst_requests = round_trips(at_end) - round_trips(at_ready);
    printf("| %zu | %zu | %.0f | %.0f | %llu | %llu | %.0f | %.0f | %.0f | %.0f | %.1f | %.1f | "
           "%.1f | %llu | %.1f | %.2f | %.0f |\n",
           bridges, bridges * backends, start / 1e3, cpu_start / 1e3,
           (unsigned long long)round_trips(at_ready),
           (unsigned long long)at_ready[XS_COUNT_WATCH], (burst.finished - burst.started) / 1e3,
           (last_signal - burst_started) / 1e3,
           last_signal > burst.finished ? (last_signal - burst.finished) / 1e3 : 0.0,
           cpu_burst / 1e3,
           rss_ready / 1024.0, rss_after / 1024.0, hwm / 1024.0,
           (unsigned long long)at_end[XS_COUNT_EVENT] - at_ready[XS_COUNT_EVENT],
           (double)burst_requests / (double)bridges,
           (double)burst_requests / (double)(bridges * backends), setup / 1e3);
    fflush(stdout);
    free(seen);
    free(config);
    xs_close(observer);
    xs_close(burst.domd);
    daemon_stop(&d);
    harness_stop(h);
    return failed ? 1 : 0;
}

/* ---- reload ----------------------------------------------------------- */

/*
 * N frontends (domids 2…), one bridge each, whose backends are of several
 * kinds: every bridge has a xenstore key (~/backend/vbench/<fe>/0/state = 4)
 * and its frontend's device model (~/device-model/<fe>/state = running);
 * every tenth bridge also a vhost-user style socket, and every tenth another
 * one an announced backend. One bridge, changed, can be given another
 * device-tree path (dt_alt) or another key for its xenstore backend
 * (path_alt: ~/backend/vbench/<fe>/1/state, also 4, so it stays ready).
 */
struct reload_config {
    size_t bridges;
    size_t changed;
    const char *socket_dir;
    unsigned int uid;
    bool dt_alt, path_alt;
};

/* The sockets' directory in /dev/shm, removed at exit (also after die()). */
static char reload_shm_dir[] = "/dev/shm/xenready-bench-XXXXXX";
static bool reload_shm_made;

static void reload_remove_sockets(void)
{
    if (!reload_shm_made)
        return;
    reload_shm_made = false;
    DIR *dir = opendir(reload_shm_dir);
    struct dirent *entry;
    while (dir && (entry = readdir(dir)))
        if (entry->d_name[0] != '.')
            unlinkat(dirfd(dir), entry->d_name, 0);
    if (dir)
        closedir(dir);
    rmdir(reload_shm_dir);
}

static bool reload_has_socket(size_t bridge)
{
    return bridge % 10 == 3;
}

static bool reload_has_announce(size_t bridge)
{
    return bridge % 10 == 7;
}

static const char *reload_dt_path(const struct reload_config *c, size_t bridge)
{
    return bridge == c->changed && c->dt_alt ? "/pcie@20000000" : "/pcie@10000000";
}

static char *config_reload(const struct reload_config *c)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        die("out of memory");
    for (size_t b = 0; b < c->bridges; b++) {
        unsigned int fe = 2 + (unsigned int)b;
        fprintf(f, "[frontend fe%u]\ndomid = %u\n\n", fe, fe);
        fprintf(f, "[backend xs%u]\nprobe = xenstore\npath = backend/vbench/%u/%d/state\n"
                   "value = 4\n\n", fe, fe, b == c->changed && c->path_alt);
        fprintf(f, "[backend dm%u]\nprobe = device-model\nfrontend = fe%u\n\n", fe, fe);
        if (reload_has_socket(b))
            fprintf(f, "[backend sock%u]\nprobe = socket\npath = %s/%u.sock\n\n", fe,
                    c->socket_dir, fe);
        if (reload_has_announce(b))
            fprintf(f, "[backend ann%u]\nprobe = announce\nowner = uid:%u\n\n", fe, c->uid);
        fprintf(f, "[bridge fe%u/pcie0]\ndevice-tree-path = %s\nbackends = xs%u dm%u", fe,
                reload_dt_path(c, b), fe, fe);
        if (reload_has_socket(b))
            fprintf(f, " sock%u", fe);
        if (reload_has_announce(b))
            fprintf(f, " ann%u", fe);
        fputs("\n\n", f);
    }
    if (fclose(f) != 0)
        die("out of memory");
    return text;
}

static void write_text_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        die("cannot write %s: %s", path, strerror(errno));
}

/* One request on a fresh control connection, as xenreadyctl makes it; the
 * answer's line (malloc'd) in *answer. Returns the µs from connect() until
 * the answer's newline was read. */
static double control_exchange(const char *path, const char *request, char **answer)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        die("out of memory");
    double t0 = now_us();
    int fd = control_connect(path);
    send_all(fd, request);
    char buffer[65536];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("cannot read a control answer: %s", strerror(errno));
        fwrite(buffer, 1, (size_t)n, f);
        if (memchr(buffer, '\n', (size_t)n))
            break;
    }
    double elapsed = now_us() - t0;
    close(fd);
    if (fclose(f) != 0)
        die("out of memory");
    *answer = text;
    return elapsed;
}

static bool answer_ok(const char *answer)
{
    return strstr(answer, "\"ok\": true") || strstr(answer, "\"ok\":true");
}

/* The bridges whose generation is compared around each reload: the first,
 * the last, the one that changes, and some in between. */
enum { GENERATION_SAMPLES = 11 };

static void read_generations(struct xs_handle *dom0, const size_t *bridge, size_t count,
                             char (*out)[32])
{
    for (size_t i = 0; i < count; i++) {
        char path[96];
        snprintf(path, sizeof(path), "/local/domain/%zu/xenready/pcie0/generation",
                 2 + bridge[i]);
        char *value = xs_read_string(dom0, path);
        snprintf(out[i], sizeof(out[i]), "%s", value ? value : "(none)");
        free(value);
    }
}

/* Events a dom0 watch on /local/domain took on signal nodes
 * (/local/domain/<fe>/xenready/…) since the last call; a round trip first,
 * so that whatever xenstored sent before is queued. *elsewhere: how many of
 * them were not on frontend fe's. */
static size_t take_signal_events(struct xs_handle *observer, unsigned int fe, size_t *elsewhere)
{
    unsigned int length;
    free(xs_read(observer, XBT_NULL, "/", &length));
    size_t count = 0;
    *elsewhere = 0;
    char **event;
    while ((event = xs_check_watch(observer))) {
        unsigned int domid;
        int end = 0;
        if (sscanf(event[XS_WATCH_PATH], "/local/domain/%u/xenready%n", &domid, &end) == 1
            && end > 0) {
            count++;
            *elsewhere += domid != fe;
        }
        free(event);
    }
    return count;
}

/* "7" when every round made as many, "7–9" otherwise. */
static const char *count_range(uint64_t low, uint64_t high, char *text, size_t size)
{
    if (low == high)
        snprintf(text, size, "%llu", (unsigned long long)low);
    else
        snprintf(text, size, "%llu–%llu", (unsigned long long)low, (unsigned long long)high);
    return text;
}

static int reload_main(int argc, char **argv)
{
    size_t bridges = 0;
    int rounds = 20;
    static const struct option options[] = {
        {"bridges", required_argument, NULL, 'b'},
        {"rounds", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 'T'},
        {0},
    };
    int option;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'b': bridges = strtoul(optarg, NULL, 10); break;
        case 'r': rounds = atoi(optarg); break;
        case 'T': ready_timeout_ms = atoi(optarg) * 1000; break;
        default: bridges = 0; break;
        }
    }
    if (!bridges || rounds < 1)
        die("usage: reload --bridges N [--rounds R] [--timeout S] [-- XENSTORED-ARGS]");
    struct harness *h = harness_must_start((const char *const *)&argv[optind]);
    setup_scaled(h, bridges);
    if (harness_set_permissions(h, "/local/domain/1/device-model", "n1") < 0)
        die("cannot set up DomD's device-model directory");
    struct xs_handle *domd = harness_open(h, DOMD), *dom0 = harness_open(h, 0);
    if (!domd || !dom0)
        die("cannot open handles: %s", strerror(errno));

    /* Not under /tmp, where the harness is: the configuration would warn
     * on every reload that xenreadyd.service hides it. */
    char *socket_dir = NULL;
    if (mkdtemp(reload_shm_dir)) {
        reload_shm_made = true;
        atexit(reload_remove_sockets);
        socket_dir = strdup(reload_shm_dir);
    } else if (asprintf(&socket_dir, "%s/vhost", harness_directory(h)) < 0
               || mkdir(socket_dir, 0755) < 0) {
        die("cannot create a directory for the sockets: %s", strerror(errno));
    }
    if (!socket_dir)
        die("out of memory");
    struct reload_config cfg = {.bridges = bridges, .changed = bridges / 2,
                                .socket_dir = socket_dir, .uid = (unsigned int)getuid()};

    /* Every backend up before the daemon starts (the announced ones right
     * after): the reloads find every bridge ready. */
    size_t sockets = 0, announced = 0;
    int *socket_fds = calloc(bridges, sizeof(*socket_fds));
    if (!socket_fds)
        die("out of memory");
    for (size_t b = 0; b < bridges; b++) {
        char path[128];
        unsigned int fe = 2 + (unsigned int)b;
        snprintf(path, sizeof(path), "backend/vbench/%u/0/state", fe);
        xs_must_write(domd, path, "4");
        snprintf(path, sizeof(path), "device-model/%u/state", fe);
        xs_must_write(domd, path, "running");
        socket_fds[b] = -1;
        if (reload_has_socket(b)) {
            struct sockaddr_un address = {.sun_family = AF_UNIX};
            snprintf(address.sun_path, sizeof(address.sun_path), "%s/%u.sock", socket_dir, fe);
            int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0
                || listen(fd, 1) < 0)
                die("cannot listen on %s: %s", address.sun_path, strerror(errno));
            socket_fds[b] = fd;
            sockets++;
        }
        announced += reload_has_announce(b);
    }
    {
        char path[128];
        snprintf(path, sizeof(path), "backend/vbench/%zu/1/state", 2 + cfg.changed);
        xs_must_write(domd, path, "4");
    }

    char *config = config_reload(&cfg);
    struct bench_daemon d;
    double start = daemon_spawn(&d, h, config, NULL, true, ready_timeout_ms);
    free(config);
    const char *socket_path = d.runner.control_path;
    for (size_t b = 0; b < bridges; b++) {
        if (!reload_has_announce(b))
            continue;
        char request[128], *answer;
        snprintf(request, sizeof(request),
                 "{\"version\": 1, \"command\": \"ready\", \"backend\": \"ann%zu\"}\n", 2 + b);
        control_exchange(socket_path, request, &answer);
        if (!answer_ok(answer))
            die("announcing ann%zu: %s", 2 + b, answer);
        free(answer);
        notify_drain(&d.runner);
    }
    char all_ready[64];
    snprintf(all_ready, sizeof(all_ready), "%zu/%zu bridges ready", bridges, bridges);
    if (daemon_runner_wait_status(&d.runner, all_ready, 60000) < 0)
        die("the bridges did not all become ready: \"%s\"", d.runner.last_status);
    struct xs_handle *observer = harness_open(h, 0);
    if (!observer)
        die("cannot open a handle: %s", strerror(errno));
    xs_must_watch(observer, "/local/domain", "observer");

    size_t sample[GENERATION_SAMPLES], samples_count = 0;
    sample[samples_count++] = 0;
    sample[samples_count++] = bridges - 1;
    sample[samples_count++] = cfg.changed;
    for (size_t i = 1; samples_count < GENERATION_SAMPLES; i++)
        sample[samples_count++] = i * bridges / (GENERATION_SAMPLES - 2) % bridges;

    enum { IDENTICAL, DT_CHANGED, IDENTICAL_CTL, PATH_CHANGED, VARIANTS };
    static const char *const what[VARIANTS] = {
        [IDENTICAL] = "identical configuration",
        [DT_CHANGED] = "one bridge's device-tree-path changed",
        [IDENTICAL_CTL] = "identical, `xenreadyctl reload` (its process start included)",
        [PATH_CHANGED] = "one backend's xenstore path changed (same bridge)",
    };
    struct samples latency[VARIANTS] = {{0}};
    uint64_t low[VARIANTS][XS_COUNT_MAX], high[VARIANTS][XS_COUNT_MAX];
    uint64_t trips_low[VARIANTS], trips_high[VARIANTS];
    double cpu[VARIANTS] = {0};
    size_t shown_low[VARIANTS], shown_high[VARIANTS];
    for (int v = 0; v < VARIANTS; v++) {
        trips_low[v] = UINT64_MAX;
        trips_high[v] = 0;
        shown_low[v] = SIZE_MAX;
        shown_high[v] = 0;
        for (int i = 0; i < XS_COUNT_MAX; i++) {
            low[v][i] = UINT64_MAX;
            high[v][i] = 0;
        }
    }
    static const char reload_request[] = "{\"version\": 1, \"command\": \"reload\"}\n";
    char fence_request[160];
    snprintf(fence_request, sizeof(fence_request),
             "{\"version\": 1, \"command\": \"wait\", \"bridges\": [\"fe%zu/pcie0\"], "
             "\"timeout\": 0}\n", 2 + cfg.changed);
    char before_generation[GENERATION_SAMPLES][32], after_generation[GENERATION_SAMPLES][32];

    for (int round = 0; round < rounds; round++) {
        for (int v = 0; v < VARIANTS; v++) {
            if (v == DT_CHANGED)
                cfg.dt_alt = !cfg.dt_alt;
            else if (v == PATH_CHANGED)
                cfg.path_alt = !cfg.path_alt;
            config = config_reload(&cfg);
            write_text_file(d.runner.config_path, config);
            free(config);
            notify_drain(&d.runner);
            read_generations(dom0, sample, samples_count, before_generation);

            uint64_t before[XS_COUNT_MAX], after[XS_COUNT_MAX];
            counters_snapshot(d.counters, before);
            double cpu_before = proc_cpu_us(d.runner.pid, false);
            double elapsed;
            bool ok;
            char *answer = NULL;
            if (v == IDENTICAL_CTL) {
                double t0 = now_us();
                char *output = NULL;
                int status = daemon_runner_ctl(&d.runner, &output,
                                               (const char *const[]){"reload", NULL});
                elapsed = now_us() - t0;
                ok = status == 0;
                if (!ok)
                    insane("xenreadyctl reload exited %d: %s", status, output ? output : "");
                free(output);
            } else {
                elapsed = control_exchange(socket_path, reload_request, &answer);
                ok = answer_ok(answer);
                if (!ok)
                    insane("%s: the reload answered %s", what[v], answer);
                else if (!strstr(answer, "\"messages\":[]") && !strstr(answer, "\"messages\": []")
                         && round == 0)
                    fprintf(stderr, "xenready-bench: the reload had something to say "
                                    "(its cost is in the figures): %s", answer);
                free(answer);
            }
            /* A request after it, answered once the daemon's loop took
             * whatever the reload left queued: the counts include it. */
            control_exchange(socket_path, fence_request, &answer);
            if (!answer_ok(answer)
                || !(strstr(answer, "\"ready\": true") || strstr(answer, "\"ready\":true")))
                insane("%s: fe%zu/pcie0 is not ready after the reload: %s", what[v],
                       2 + cfg.changed, answer);
            free(answer);
            counters_snapshot(d.counters, after);
            cpu[v] += proc_cpu_us(d.runner.pid, false) - cpu_before;
            samples_add(&latency[v], elapsed);
            for (int i = 0; i < XS_COUNT_MAX; i++) {
                uint64_t delta = after[i] - before[i];
                if (delta < low[v][i])
                    low[v][i] = delta;
                if (delta > high[v][i])
                    high[v][i] = delta;
            }
            uint64_t trips = round_trips(after) - round_trips(before);
            if (trips < trips_low[v])
                trips_low[v] = trips;
            if (trips > trips_high[v])
                trips_high[v] = trips;

            /* What the frontends would see: only the changed bridge's node,
             * and only when its device-tree path changed. */
            size_t elsewhere;
            size_t shown = take_signal_events(observer, v == DT_CHANGED
                                                            ? 2 + (unsigned int)cfg.changed : 0,
                                              &elsewhere);
            if (shown < shown_low[v])
                shown_low[v] = shown;
            if (shown > shown_high[v])
                shown_high[v] = shown;
            if (elsewhere)
                insane("%s (round %d): %zu changes on signal nodes of bridges it did not "
                       "change", what[v], round, elsewhere);
            if (v == DT_CHANGED && !shown)
                insane("%s (round %d): the frontend's node did not change", what[v], round);

            notify_drain(&d.runner);
            if (daemon_runner_wait_status(&d.runner, all_ready, 10000) < 0)
                insane("%s: the daemon reports \"%s\"", what[v], d.runner.last_status);
            read_generations(dom0, sample, samples_count, after_generation);
            for (size_t i = 0; i < samples_count; i++)
                if (strcmp(before_generation[i], after_generation[i]) != 0)
                    insane("%s (round %d): fe%zu/pcie0's generation went from %s to %s",
                           what[v], round, 2 + sample[i], before_generation[i],
                           after_generation[i]);
            if (v == DT_CHANGED) {
                char path[96];
                snprintf(path, sizeof(path), "/local/domain/%zu/xenready/pcie0/device-tree-path",
                         2 + cfg.changed);
                char *value = xs_read_string(dom0, path);
                if (!value || strcmp(value, reload_dt_path(&cfg, cfg.changed)) != 0)
                    insane("%s: %s is %s, not %s", what[v], path, value ? value : "(none)",
                           reload_dt_path(&cfg, cfg.changed));
                free(value);
            }
        }
    }

    printf("### Reload at %zu bridges (ms)\n\n", bridges);
    printf("%zu frontends × 1 bridge; %zu backends: %zu xenstore keys, %zu device models, "
           "%zu sockets, %zu announced; every bridge ready. Start → READY=1 took %.0f ms. "
           "%d rounds, the four reloads alternated in each; timed from connect() until the "
           "answer's line was read (xenreadyctl: fork to exit). The daemon's xenstore calls "
           "are counted from before the request until a `wait` request sent after it is "
           "answered, per reload (\"a–b\": rounds differed); the daemon's CPU over the same "
           "span, from /proc in 10 ms ticks, averaged over the rounds.\n\n",
           bridges, 2 * bridges + sockets + announced, bridges, bridges, sockets, announced,
           start / 1e3, rounds);
    printf("| reload | n | median ms | max ms | daemon CPU per reload ms | round trips | reads | "
           "directory | get-permissions | writes | mkdir | set-permissions | rm | watch | "
           "unwatch | transactions | watch events | signal-node changes seen by dom0 |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    static const int columns[] = {XS_COUNT_READ, XS_COUNT_DIRECTORY, XS_COUNT_GET_PERMISSIONS,
                                  XS_COUNT_WRITE, XS_COUNT_MKDIR, XS_COUNT_SET_PERMISSIONS,
                                  XS_COUNT_RM, XS_COUNT_WATCH, XS_COUNT_UNWATCH,
                                  XS_COUNT_TRANSACTION, XS_COUNT_EVENT};
    for (int v = 0; v < VARIANTS; v++) {
        char text[48];
        printf("| %s | %zu | %.1f | %.1f | %.1f | %s |", what[v], latency[v].n,
               samples_pct(&latency[v], 50) / 1e3, samples_pct(&latency[v], 100) / 1e3,
               cpu[v] / 1e3 / (double)latency[v].n,
               count_range(trips_low[v], trips_high[v], text, sizeof(text)));
        for (size_t c = 0; c < sizeof(columns) / sizeof(columns[0]); c++)
            printf(" %s |", count_range(low[v][columns[c]], high[v][columns[c]], text,
                                        sizeof(text)));
        printf(" %s |\n", count_range(shown_low[v], shown_high[v], text, sizeof(text)));
        if (!latency[v].n || samples_pct(&latency[v], 50) > samples_pct(&latency[v], 100))
            insane("%s: no samples or percentiles out of order", what[v]);
    }
    uint64_t writes = 0;
    for (int v = 0; v < VARIANTS; v++) {
        uint64_t made = high[v][XS_COUNT_WRITE] + high[v][XS_COUNT_MKDIR]
                        + high[v][XS_COUNT_SET_PERMISSIONS] + high[v][XS_COUNT_RM];
        if ((v == IDENTICAL || v == IDENTICAL_CTL) && made > writes)
            writes = made;
    }
    /* Not a figure but the promise: an unchanged configuration writes
     * nothing to xenstore. */
    if (writes)
        insane("an identical reload made %llu xenstore writes", (unsigned long long)writes);
    printf("\nIdentical reloads: at most %llu xenstore writes (write, mkdir, set-permissions, "
           "rm) in any one; generations of %zu bridges (the changed one among them) read as "
           "dom0 around every reload: unchanged%s.\n\n", (unsigned long long)writes,
           samples_count, failed ? " unless reported above" : "");
    fflush(stdout);

    for (int v = 0; v < VARIANTS; v++)
        samples_free(&latency[v]);
    daemon_stop(&d);
    for (size_t b = 0; b < bridges; b++)
        if (socket_fds[b] >= 0)
            close(socket_fds[b]);
    free(socket_fds);
    reload_remove_sockets();
    free(socket_dir);
    xs_close(domd);
    xs_close(dom0);
    xs_close(observer);
    harness_stop(h);
    return failed ? 1 : 0;
}

/* ---- storm: one domain rewriting its own watched key ---------------------- */

/*
 * The domain behind a backend (domain 7 here, an untrusted driver or guest
 * domain) rewrites its own watched key, with the same value, from several
 * writers as fast as xenstored lets it. Meanwhile another frontend (5) is
 * signalled as in the signal part: its bridge's last backend written by DomD,
 * timed until the frontend's watch fires on state. The storm's key is the
 * only backend of a third frontend's (6) bridge.
 */
enum { STORM_DOMAIN = 7, STORM_FRONTEND = 6 };
#define STORM_KEY "/local/domain/7/data/storm"
#define STORM_NODE "/local/domain/6/xenready/pcie0"

static const char storm_config[] =
    "[frontend domu]\ndomid = 5\n\n"
    "[backend stays]\nprobe = xenstore\npath = backend/vbench/5/0/state\nvalue = 4\n\n"
    "[backend last]\nprobe = xenstore\npath = backend/vbench/5/1/state\nvalue = 4\n\n"
    "[bridge domu/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = stays last\n\n"
    "[frontend stormy]\ndomid = 6\n\n"
    "[backend storm]\nprobe = xenstore\npath = " STORM_KEY "\nvalue = 4\n\n"
    "[bridge stormy/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = storm\n";

struct storm_writer {
    struct xs_handle *handle;
    double deadline;         /* µs, now_us() */
    double finished;
    unsigned long writes;
    unsigned long failures;
    pthread_t thread;
};

static void *storm_write(void *data)
{
    struct storm_writer *writer = data;
    while (now_us() < writer->deadline) {
        if (xs_write(writer->handle, XBT_NULL, STORM_KEY, "4", 1))
            writer->writes++;
        else
            writer->failures++;
    }
    writer->finished = now_us();
    return NULL;
}

/* Samples the daemon's RSS until told to stop: its peak is what a storm
 * costs in memory (VmHWM would include start-up). */
struct rss_monitor {
    pid_t pid;
    volatile bool stop;
    long peak_kb;
    pthread_t thread;
};

static void *rss_monitor_run(void *data)
{
    struct rss_monitor *monitor = data;
    while (!monitor->stop) {
        long rss = proc_status_kb(monitor->pid, "VmRSS");
        if (rss > monitor->peak_kb)
            monitor->peak_kb = rss;
        usleep(20000);
    }
    return NULL;
}

/* One signal each way (ready, then waiting), as the signal part makes them;
 * the latencies are added to s. false when the frontend never saw one. */
static bool storm_signal(struct xs_handle *domd, struct xs_handle *fe, struct samples *s,
                         int timeout_ms, double *started)
{
    static const char *const values[2] = {"4", "0"}, *const states[2] = {"ready", "waiting"};
    for (int i = 0; i < 2; i++) {
        double t0 = now_us(), at;
        if (i == 0 && started)
            *started = t0;
        xs_must_write(domd, "backend/vbench/5/1/state", values[i]);
        if (wait_value(fe, SIGNAL_NODE "/state", states[i], timeout_ms, &at) < 0) {
            insane("the frontend never saw %s within %d ms", states[i], timeout_ms);
            return false;
        }
        samples_add(s, at - t0);
    }
    return true;
}

static void print_storm_row(const char *what, struct samples *s)
{
    printf("| %s | %zu | %.1f | %.1f | %.1f |\n", what, s->n, samples_pct(s, 50),
           samples_pct(s, 99), samples_pct(s, 100));
}

static int storm_main(int argc, char **argv)
{
    int seconds = 10, idle_iterations = 500, writer_count = 2, timeout_s = 300;
    static const struct option options[] = {
        {"seconds", required_argument, NULL, 's'},
        {"idle", required_argument, NULL, 'i'},
        {"writers", required_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 'T'},
        {0},
    };
    int option;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 's': seconds = atoi(optarg); break;
        case 'i': idle_iterations = atoi(optarg); break;
        case 'w': writer_count = atoi(optarg); break;
        case 'T': timeout_s = atoi(optarg); break;
        default: return 2;
        }
    }
    if (seconds <= 0 || idle_iterations <= 0 || writer_count <= 0 || writer_count > 16
        || timeout_s <= 0)
        die("usage: storm [--seconds S] [--idle N] [--writers W] [--timeout S] "
            "[-- XENSTORED-ARGS]");
    int timeout_ms = timeout_s * 1000;
    struct harness *h = harness_must_start((const char *const *)&argv[optind]);
    if (harness_introduce(h, DOMD, "domd") < 0 || harness_introduce(h, FRONTEND, "domu") < 0
        || harness_introduce(h, STORM_DOMAIN, "stormer") < 0
        || harness_set_permissions(h, "/local/domain/1/backend", "n1") < 0
        || harness_set_permissions(h, "/local/domain/5/xenready", "n1 r5") < 0
        || harness_set_permissions(h, "/local/domain/6/xenready", "n1 r6") < 0
        || harness_set_permissions(h, STORM_KEY, "n7 r1") < 0)
        die("cannot set up the domains");
    struct xs_handle *domd = harness_open(h, DOMD), *fe = harness_open(h, FRONTEND);
    struct xs_handle *dom0 = harness_open(h, 0);
    struct storm_writer writers[16] = {{0}};
    for (int i = 0; i < writer_count; i++)
        if (!(writers[i].handle = harness_open(h, STORM_DOMAIN)))
            die("cannot open a handle of domain %d: %s", STORM_DOMAIN, strerror(errno));
    if (!domd || !fe || !dom0)
        die("cannot open handles: %s", strerror(errno));
    xs_must_write(domd, "backend/vbench/5/0/state", "4");
    xs_must_write(writers[0].handle, STORM_KEY, "4");

    struct bench_daemon d;
    daemon_spawn(&d, h, storm_config, NULL, true, 10000);
    if (daemon_runner_wait_status(&d.runner, "1/2 bridges ready; waiting: domu/pcie0 (last)",
                                  10000) < 0)
        die("unexpected status: %s", d.runner.last_status);
    xs_must_watch(fe, SIGNAL_NODE "/state", "signal");

    struct samples idle = {0}, storm = {0}, after = {0};
    for (int i = 0; i < idle_iterations && !failed; i++) {
        storm_signal(domd, fe, &idle, timeout_ms, NULL);
        notify_drain(&d.runner);
    }
    double idle_p50 = samples_pct(&idle, 50), idle_p99 = samples_pct(&idle, 99);

    struct rss_monitor monitor = {.pid = d.runner.pid};
    long rss_before = proc_status_kb(d.runner.pid, "VmRSS");
    monitor.peak_kb = rss_before;
    uint64_t before[XS_COUNT_MAX], at_end[XS_COUNT_MAX];
    counters_snapshot(d.counters, before);
    double cpu_before = proc_cpu_us(d.runner.pid, false);
    if (pthread_create(&monitor.thread, NULL, rss_monitor_run, &monitor) != 0)
        die("pthread_create failed");
    double storm_start = now_us(), storm_end = storm_start + seconds * 1e6;
    for (int i = 0; i < writer_count; i++) {
        writers[i].deadline = storm_end;
        if (pthread_create(&writers[i].thread, NULL, storm_write, &writers[i]) != 0)
            die("pthread_create failed");
    }
    /* Signals started during the storm count as during it. */
    double started = storm_start;
    while (!failed && started < storm_end) {
        storm_signal(domd, fe, &storm, timeout_ms, &started);
        notify_drain(&d.runner);
    }
    unsigned long writes = 0, write_failures = 0;
    for (int i = 0; i < writer_count; i++) {
        pthread_join(writers[i].thread, NULL);
        writes += writers[i].writes;
        write_failures += writers[i].failures;
        if (writers[i].finished > storm_end)
            storm_end = writers[i].finished;
    }
    counters_snapshot(d.counters, at_end);
    double cpu_storm = proc_cpu_us(d.runner.pid, false) - cpu_before;
    long rss_storm_end = proc_status_kb(d.runner.pid, "VmRSS");
    /* Back to idle: the first signal started after the storm whose both
     * directions are within the idle p99. */
    double recovered_at = -1;
    int slow_after = 0;
    while (!failed && recovered_at < 0) {
        size_t n = after.n;
        if (!storm_signal(domd, fe, &after, timeout_ms, &started))
            break;
        notify_drain(&d.runner);
        if (started < storm_end)
            continue;        /* begun while the last writes went on */
        if (after.v[n] <= idle_p99 && after.v[n + 1] <= idle_p99)
            recovered_at = started;
        else
            slow_after++;
        if (now_us() - storm_end > (double)timeout_ms * 1000)
            break;
    }
    monitor.stop = true;
    pthread_join(monitor.thread, NULL);
    long rss_after = proc_status_kb(d.runner.pid, "VmRSS");
    char *value = xs_read_string(dom0, STORM_NODE "/state");
    if (!value || strcmp(value, "ready") != 0)
        insane("the storm's own bridge is %s after it, not ready", value ? value : "(none)");
    free(value);
    daemon_stop(&d);

    printf("### Signal latency during a write storm (µs)\n\n");
    printf("%d writers in domain %d rewrite its watched key %s (the same value) for %d s; "
           "frontend 5 is signalled meanwhile, as in the signal part (both directions).\n\n",
           writer_count, STORM_DOMAIN, STORM_KEY, seconds);
    printf("| phase | n | p50 | p99 | max |\n|---|---|---|---|---|\n");
    print_storm_row("idle, before the storm", &idle);
    print_storm_row("**during the storm**", &storm);
    print_storm_row("after the storm, until back at idle", &after);
    double storm_seconds = (storm_end - storm_start) / 1e6;
    uint64_t events = at_end[XS_COUNT_EVENT] - before[XS_COUNT_EVENT];
    uint64_t reads = at_end[XS_COUNT_READ] - before[XS_COUNT_READ];
    printf("\n- storm: %lu writes in %.1f s (%.0f per second), %lu refused\n", writes,
           storm_seconds, (double)writes / storm_seconds, write_failures);
    printf("- daemon during the storm: %llu watch events taken, %llu reads (%.4f per event), "
           "CPU %.0f ms (%.0f%% of one CPU)\n", (unsigned long long)events,
           (unsigned long long)reads, events ? (double)reads / (double)events : 0.0,
           cpu_storm / 1e3, cpu_storm / (storm_end - storm_start) * 100);
    printf("- daemon RSS: %.1f MiB before, peak %.1f MiB (**+%.2f MiB**), %.1f MiB at the "
           "storm's end, %.1f MiB once back at idle\n", rss_before / 1024.0,
           monitor.peak_kb / 1024.0, (monitor.peak_kb - rss_before) / 1024.0,
           rss_storm_end / 1024.0, rss_after / 1024.0);
    if (recovered_at >= 0)
        printf("- back at idle (both directions within the idle p99, %.1f µs; idle p50 "
               "%.1f µs): **%.1f ms** after the storm's last write (%d slower signal(s) "
               "begun after it first)\n\n", idle_p99, idle_p50,
               (recovered_at - storm_end) / 1e3, slow_after);
    else
        printf("- back at idle: not within %d s\n\n", timeout_s);
    fflush(stdout);

    if (!idle.n || !storm.n || idle_p50 > idle_p99
        || samples_pct(&storm, 50) > samples_pct(&storm, 99))
        insane("no samples, or percentiles out of order");
    if (!writes)
        insane("the storm wrote nothing");
    samples_free(&idle);
    samples_free(&storm);
    samples_free(&after);
    for (int i = 0; i < writer_count; i++)
        xs_close(writers[i].handle);
    xs_close(domd);
    xs_close(fe);
    xs_close(dom0);
    harness_stop(h);
    return failed ? 1 : 0;
}

/* ---- idle ------------------------------------------------------------- */

static int idle_main(int argc, char **argv)
{
    size_t bridges = 0, backends = 10;
    int seconds = 60;
    bool use_strace = false;
    const char *out = NULL;
    const char *const *xenstored_args;
    if (parse_sizes(argc, argv, &bridges, &backends, &seconds, &use_strace, &out,
                    &xenstored_args) < 0)
        die("usage: idle --bridges N --seconds S [--strace] [-- XENSTORED-ARGS]");
    struct harness *h = harness_must_start(xenstored_args);
    setup_scaled(h, bridges);
    char *config = config_scaled(bridges, backends);
    struct bench_daemon d;
    daemon_spawn(&d, h, config, NULL, false, 600000);
    pid_t pid = d.runner.pid;
    /* Idle means after start-up: let the last STATUS= and log lines go. */
    sleep(1);
    notify_drain(&d.runner);

    int threads;
    long long switches = proc_context_switches(pid, &threads);
    double cpu = proc_cpu_us(pid, false);
    sleep((unsigned int)seconds);
    switches = proc_context_switches(pid, &threads) - switches;
    cpu = proc_cpu_us(pid, false) - cpu;
    printf("| %zu bridges, %zu backends | %d s | %d | %lld | %.0f |", bridges,
           bridges * backends, seconds, threads, switches, cpu / 1e3);
    fflush(stdout);

    if (use_strace) {
        char *trace = NULL, pid_text[16];
        if (asprintf(&trace, "%s/strace.txt", harness_directory(h)) < 0)
            die("out of memory");
        snprintf(pid_text, sizeof(pid_text), "%d", (int)pid);
        pid_t tracer;
        const char *argv_strace[] = {"strace", "-q", "-c", "-f", "-o", trace, "-p", pid_text, NULL};
        if (posix_spawnp(&tracer, "strace", NULL, NULL, (char *const *)argv_strace, environ))
            die("cannot run strace");
        sleep((unsigned int)seconds);
        kill(tracer, SIGINT);
        waitpid(tracer, NULL, 0);
        /* strace -c ends with "100.00 … total" (calls in the 4th column), or
         * prints only a header when it saw none. */
        FILE *f = fopen(trace, "r");
        char line[256];
        long calls = 0;
        char detail[1024] = "";
        size_t used = 0;
        while (f && fgets(line, sizeof(line), f)) {
            /* "% time seconds usecs/call calls [errors] syscall" */
            char *token[8], *save = NULL;
            int n = 0;
            for (char *t = strtok_r(line, " \t\n", &save); t && n < 8;
                 t = strtok_r(NULL, " \t\n", &save))
                token[n++] = t;
            if (n < 5 || !strchr("0123456789", token[0][0]))
                continue;
            long count = strtol(token[3], NULL, 10);
            if (strcmp(token[n - 1], "total") == 0)
                calls = count;
            else if (used < sizeof(detail) - 80)
                used += (size_t)snprintf(detail + used, sizeof(detail) - used, "%s%s×%ld",
                                         used ? ", " : "", token[n - 1], count);
        }
        if (f)
            fclose(f);
        printf(" %ld%s%s%s |\n", calls, used ? " (" : "", detail, used ? ")" : "");
        free(trace);
    } else {
        printf(" not run |\n");
    }
    if (switches < 0 || cpu < 0)
        insane("cannot read the daemon's counters");
    free(config);
    daemon_stop(&d);
    harness_stop(h);
    return failed ? 1 : 0;
}

/* ---- heap ------------------------------------------------------------- */

/* Peak mem_heap_B + mem_heap_extra_B over massif's snapshots. */
static long long massif_peak(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    long long heap = 0, peak = 0;
    while (fgets(line, sizeof(line), f)) {
        long long value;
        if (sscanf(line, "mem_heap_B=%lld", &value) == 1)
            heap = value;
        else if (sscanf(line, "mem_heap_extra_B=%lld", &value) == 1 && heap + value > peak)
            peak = heap + value;
    }
    fclose(f);
    return peak;
}

static int heap_main(int argc, char **argv)
{
    size_t bridges = 0, backends = 10;
    int seconds = 0;
    bool use_strace = false;
    const char *out = NULL;
    const char *const *xenstored_args;
    if (parse_sizes(argc, argv, &bridges, &backends, &seconds, &use_strace, &out,
                    &xenstored_args) < 0 || !out)
        die("usage: heap --bridges N [--backends K] --out MASSIF-FILE");
    struct harness *h = harness_must_start(xenstored_args);
    setup_scaled(h, bridges);
    char *config = config_scaled(bridges, backends);
    char *option = NULL;
    if (asprintf(&option, "--massif-out-file=%s", out) < 0)
        die("out of memory");
    const char *wrapper[] = {"valgrind", "--tool=massif", "--quiet", option, NULL};
    struct bench_daemon d;
    daemon_spawn(&d, h, config, wrapper, false, 600000);
    daemon_stop(&d);
    long long peak = massif_peak(out);
    if (peak <= 0)
        insane("no heap figure in %s", out);
    printf("%zu %zu %lld\n", bridges, bridges * backends, peak);
    free(option);
    free(config);
    harness_stop(h);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: xenready-bench signal|control|scale|reload|idle|heap|storm|exec-helper …");
    signal(SIGPIPE, SIG_IGN);
    /* Configuration files xenreadyd believes, whatever the umask. */
    umask(022);
    /* The shim of this build tree unless told otherwise, as xenstore-harness. */
    if (!getenv("XENREADY_SHIM"))
        setenv("XENREADY_SHIM", XENREADY_SHIM_DEFAULT, 1);
    const char *command = argv[1];
    argc--;
    argv++;
    if (strcmp(command, "signal") == 0)
        return signal_main(argc, argv);
    if (strcmp(command, "scale") == 0)
        return scale_main(argc, argv);
    if (strcmp(command, "control") == 0)
        return control_main(argc, argv);
    if (strcmp(command, "reload") == 0)
        return reload_main(argc, argv);
    if (strcmp(command, "idle") == 0)
        return idle_main(argc, argv);
    if (strcmp(command, "storm") == 0)
        return storm_main(argc, argv);
    if (strcmp(command, "heap") == 0)
        return heap_main(argc, argv);
    if (strcmp(command, "exec-helper") == 0)
        return exec_helper_main(argc, argv);
    die("unknown command %s", command);
}
