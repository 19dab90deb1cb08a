// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xenready-wait — runs in a frontend guest; blocks until the given bridges
 * are ready, then runs one action exactly once. See xenready-wait(1).
 *
 * Built against protocol/xenready-guest.h, libxenstore and libxenevtchn
 * only, like any third-party guest implementation would be.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xen/sys/evtchn.h>
#include <xenstore.h>

#include "xenready-guest.h"

/* The project's version, from CMake; a build without it still says so. */
#ifndef XENREADY_VERSION
#define XENREADY_VERSION "(version unknown)"
#endif

/* Linux 6.5 include/uapi/xen/evtchn.h; older headers lack it. */
#ifndef IOCTL_EVTCHN_BIND_STATIC
struct ioctl_evtchn_bind {
    unsigned int port;
};
#define IOCTL_EVTCHN_BIND_STATIC _IOC(_IOC_NONE, 'E', 7, sizeof(struct ioctl_evtchn_bind))
#endif

/* Documented in xenready-wait(1). */
enum exit_code {
    EXIT_READY = 0,
    EXIT_ERROR = 1,              /* also: standard output could not be written */
    EXIT_USAGE = 2,
    EXIT_TIMEOUT_LEGACY = 3,     /* earlier versions' timeout: XENREADY_TIMEOUT_STATUS=legacy */
    EXIT_ACTION_FAILED = 4,
    EXIT_TIMEOUT = 124,          /* as xenreadyctl wait and timeout(1) */
};

enum action_kind { ACTION_NONE, ACTION_EXEC, ACTION_MODPROBE, ACTION_PCI_RESCAN };

struct bridge {
    const char *id;
    char state_path[128];
    char channel_path[128];
    char backend_path[128];
    char state[32];              /* last value read, "" when unreadable */
    int local_port;              /* --evtchn: our bound port, -1 when none */
};

struct static_channel {
    unsigned int port;
    bool signalled;
};

struct waiter {
    struct bridge *bridges;
    size_t bridge_count;
    struct static_channel *statics;
    size_t static_count;
    bool use_evtchn;
    bool verbose;
    struct xs_handle *xs;
    xenevtchn_handle *evtchn;
};

static const char *program = "xenready-wait";

__attribute__((format(printf, 2, 3)))
static void say(const struct waiter *waiter, const char *format, ...)
{
    if (!waiter->verbose)
        return;
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

__attribute__((format(printf, 1, 2)))
static void fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static bool valid_bridge_id(const char *id)
{
    size_t length = strlen(id);
    if (length == 0 || length > XENREADY_BRIDGE_ID_MAX)
        return false;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')
              || *c == '-' || *c == '_'))
            return false;
    return true;
}

static bool parse_number(const char *text, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end || errno || value > max)
        return false;
    *out = value;
    return true;
}

/* Reads a key relative to our home; false when it cannot be read. */
static bool read_key(struct xs_handle *xs, const char *path, char *out, size_t size)
{
    unsigned int length;
    char *value = xs_read(xs, XBT_NULL, path, &length);
    if (!value) {
        out[0] = '\0';
        return false;
    }
    snprintf(out, size, "%s", value);
    free(value);
    return true;
}

/* Re-reads a bridge's state: events only say "look again". */
static void bridge_refresh(struct waiter *waiter, struct bridge *bridge, const char *why)
{
    char state[sizeof(bridge->state)];
    read_key(waiter->xs, bridge->state_path, state, sizeof(state));
    if (strcmp(state, bridge->state) != 0 || why)
        say(waiter, "%s: %s%sstate %s", bridge->id, why ? why : "", why ? "; " : "",
            state[0] ? state : "(unreadable)");
    snprintf(bridge->state, sizeof(bridge->state), "%s", state);
}

/* --evtchn: (re-)binds to the port DomD published. Every write of the key
 * means a fresh port (a restarted daemon may get the same number again), so
 * the old binding is always dropped first. */
static void bridge_rebind(struct waiter *waiter, struct bridge *bridge)
{
    if (bridge->local_port >= 0) {
        xenevtchn_unbind(waiter->evtchn, (evtchn_port_t)bridge->local_port);
        bridge->local_port = -1;
    }
    char port_text[16], backend_text[16];
    unsigned long port, backend;
    if (!read_key(waiter->xs, bridge->channel_path, port_text, sizeof(port_text))
        || !read_key(waiter->xs, bridge->backend_path, backend_text, sizeof(backend_text))
        || !parse_number(port_text, 0x7FFFFFFF, &port)
        || !parse_number(backend_text, 0x7FEF, &backend)) {
        say(waiter, "%s: no event channel published yet", bridge->id);
        return;
    }
    xenevtchn_port_or_error_t local = xenevtchn_bind_interdomain(waiter->evtchn,
                                                                 (uint32_t)backend,
                                                                 (evtchn_port_t)port);
    if (local < 0) {
        /* A stale key (DomD stopped): wait until it is written again. */
        say(waiter, "%s: cannot bind to port %lu of domain %lu: %s", bridge->id, port, backend,
            strerror(errno));
        return;
    }
    bridge->local_port = local;
    say(waiter, "%s: bound local port %d to port %lu of domain %lu", bridge->id, local, port,
        backend);
}

static bool all_ready(const struct waiter *waiter)
{
    for (size_t i = 0; i < waiter->bridge_count; i++)
        if (strcmp(waiter->bridges[i].state, XENREADY_STATE_READY) != 0)
            return false;
    for (size_t i = 0; i < waiter->static_count; i++)
        if (!waiter->statics[i].signalled)
            return false;
    return true;
}

static void on_watch_events(struct waiter *waiter)
{
    char **event;
    while ((event = xs_check_watch(waiter->xs))) {
        unsigned long index;
        if (parse_number(event[XS_WATCH_TOKEN], waiter->bridge_count - 1, &index)) {
            struct bridge *bridge = &waiter->bridges[index];
            if (waiter->use_evtchn)
                bridge_rebind(waiter, bridge);
            bridge_refresh(waiter, bridge, NULL);
        }
        free(event);
    }
}

static void on_evtchn_event(struct waiter *waiter)
{
    xenevtchn_port_or_error_t port = xenevtchn_pending(waiter->evtchn);
    if (port < 0)
        return;
    /* Unmask first: an event raised while we read is then not lost. */
    xenevtchn_unmask(waiter->evtchn, (evtchn_port_t)port);
    for (size_t i = 0; i < waiter->static_count; i++)
        if (waiter->statics[i].port == (unsigned int)port && !waiter->statics[i].signalled) {
            waiter->statics[i].signalled = true;
            say(waiter, "static event channel %d: ready", port);
        }
    /* Includes the event Xen raises right after an interdomain bind: it
     * means nothing, the state read decides. */
    char why[48];
    for (size_t i = 0; i < waiter->bridge_count; i++)
        if (waiter->bridges[i].local_port == port) {
            snprintf(why, sizeof(why), "event on port %d", port);
            bridge_refresh(waiter, &waiter->bridges[i], why);
        }
}

static int run_action(enum action_kind kind, const char *argument)
{
    if (kind == ACTION_NONE)
        return EXIT_READY;
    if (kind == ACTION_PCI_RESCAN) {
        const char *sysfs = getenv("SYSFS_PATH");
        char path[4096];
        snprintf(path, sizeof(path), "%s/bus/pci/rescan", sysfs ? sysfs : "/sys");
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "1", 1) != 1) {
            fail("cannot write 1 to %s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return EXIT_ACTION_FAILED;
        }
        close(fd);
        return EXIT_READY;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fail("cannot start the action: %s", strerror(errno));
        return EXIT_ACTION_FAILED;
    }
    if (pid == 0) {
        if (kind == ACTION_EXEC)
            execl("/bin/sh", "sh", "-c", argument, (char *)NULL);
        else
            execlp("modprobe", "modprobe", argument, (char *)NULL);
        fprintf(stderr, "%s: cannot run %s: %s\n", program,
                kind == ACTION_EXEC ? "/bin/sh" : "modprobe", strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return EXIT_ACTION_FAILED;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return EXIT_READY;
    fail("the action failed (%s %d)", WIFEXITED(status) ? "exit status" : "signal",
         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return EXIT_ACTION_FAILED;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: xenready-wait [OPTION...] [BRIDGE...]\n"
            "\n"
            "Waits in a Xen frontend guest until its bridges' backends are ready (xenready(7)),\n"
            "then runs at most one action, once.\n"
            "\n"
            "  -t, --timeout SECONDS     give up after SECONDS (default: wait forever)\n"
            "  -e, --evtchn              wake on each bridge's event channel instead of\n"
            "                            watching its state\n"
            "  -s, --static-evtchn PORT  also wait for an event on static event channel PORT\n"
            "                            (repeatable; needs no xenstore)\n"
            "  -x, --exec COMMAND        then run COMMAND with /bin/sh -c\n"
            "  -m, --modprobe MODULE     then run modprobe MODULE (e.g. virtio_mmio)\n"
            "  -p, --pci-rescan          then write 1 to /sys/bus/pci/rescan\n"
            "  -v, --verbose             report every state read and event on stderr\n"
            "  -h, --help                show this help\n"
            "      --version             show the version\n"
            "\n"
            "Options may come before or after the bridges; \"--\" ends them.\n"
            "Exit status: 0 ready (and the action succeeded), 1 error, 2 usage,\n"
            "4 the action failed, 124 timeout.\n");
}

static void finish(struct waiter *waiter)
{
    if (waiter->evtchn)
        xenevtchn_close(waiter->evtchn);   /* unbinds our ports */
    if (waiter->xs)
        xs_close(waiter->xs);
    free(waiter->bridges);
    free(waiter->statics);
}

/* Sets up watches and channels; returns an exit code, EXIT_READY to go on. */
static int setup(struct waiter *waiter)
{
    if (waiter->use_evtchn || waiter->static_count) {
        waiter->evtchn = xenevtchn_open(NULL, 0);
        if (!waiter->evtchn) {
            fail("cannot open the event channel device: %s", strerror(errno));
            return EXIT_ERROR;
        }
    }
    for (size_t i = 0; i < waiter->static_count; i++) {
        struct ioctl_evtchn_bind bind = {.port = waiter->statics[i].port};
        if (ioctl(xenevtchn_fd(waiter->evtchn), IOCTL_EVTCHN_BIND_STATIC, &bind) < 0) {
            fail("cannot bind static event channel %u: %s (it must be in the host device "
                 "tree as xen,evtchn-v1; Linux 6.5 or later)", waiter->statics[i].port,
                 strerror(errno));
            return EXIT_ERROR;
        }
        say(waiter, "static event channel %u bound", waiter->statics[i].port);
    }
    if (!waiter->bridge_count)
        return EXIT_READY;
    waiter->xs = xs_open(0);
    if (!waiter->xs) {
        fail("cannot connect to xenstore: %s", strerror(errno));
        return EXIT_ERROR;
    }
    for (size_t i = 0; i < waiter->bridge_count; i++) {
        struct bridge *bridge = &waiter->bridges[i];
        char token[24];
        snprintf(token, sizeof(token), "%zu", i);
        /* With an event channel, only its key is watched: state changes
         * arrive as events. Without one the whole node is. */
        const char *path = bridge->channel_path;
        char node[96];
        if (!waiter->use_evtchn) {
            snprintf(node, sizeof(node), "%s/%s", XENREADY_DIRECTORY, bridge->id);
            path = node;
        }
        if (!xs_watch(waiter->xs, path, token)) {
            fail("cannot watch %s: %s", path, strerror(errno));
            return EXIT_ERROR;
        }
    }
    return EXIT_READY;
}

/* The exit status of a timeout: 124, or with XENREADY_TIMEOUT_STATUS=legacy
 * the 3 of earlier versions, for scripts and units written against them
 * (SuccessExitStatus=3, say). Anything else there is a usage error, found
 * at the start rather than at the timeout. */
static int timeout_status(void)
{
    const char *compat = getenv("XENREADY_TIMEOUT_STATUS");
    if (!compat || !compat[0])
        return EXIT_TIMEOUT;
    if (strcmp(compat, "legacy") == 0)
        return EXIT_TIMEOUT_LEGACY;
    fail("XENREADY_TIMEOUT_STATUS is \"legacy\" or unset, not \"%s\"", compat);
    return -1;
}

/* What was printed on standard output (--help, --version) must have reached
 * it: a full disk or a closed pipe fails the command instead of passing
 * silently. */
static int finish_stdout(int code)
{
    errno = 0;
    bool failed = fflush(stdout) != 0;
    int error = failed ? errno : 0;
    failed = ferror(stdout) || failed;
    /* A standard output closed from the start (">&-") is no error when
     * nothing was written to it. */
    if (!failed && fclose(stdout) != 0 && errno != EBADF) {
        failed = true;
        error = errno;
    }
    if (!failed)
        return code;
    if (error)
        fail("cannot write to standard output: %s", strerror(error));
    else
        fail("cannot write to standard output");
    return code == EXIT_READY ? EXIT_ERROR : code;
}

static int run(int argc, char **argv)
{
    enum { OPTION_VERSION = 256 };
    static const struct option options[] = {
        {"timeout", required_argument, NULL, 't'},
        {"evtchn", no_argument, NULL, 'e'},
        {"static-evtchn", required_argument, NULL, 's'},
        {"exec", required_argument, NULL, 'x'},
        {"modprobe", required_argument, NULL, 'm'},
        {"pci-rescan", no_argument, NULL, 'p'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPTION_VERSION},
        {0},
    };
    struct waiter waiter = {0};
    enum action_kind action = ACTION_NONE;
    const char *action_argument = NULL;
    long long timeout_ms = -1;
    unsigned long number;
    int option;
    int code = EXIT_USAGE, on_timeout;
    /* The bridge ids, wherever they are among the options. */
    const char **ids = calloc((size_t)argc + 1, sizeof(*ids));
    size_t id_count = 0;
    if (!ids)
        return EXIT_ERROR;
    /* "-": every word that is not an option comes back in order as
     * option 1, so options may follow the bridges (even with
     * POSIXLY_CORRECT set); "--" ends the options. */
    while ((option = getopt_long(argc, argv, "-t:es:x:m:pvh", options, NULL)) != -1) {
        switch (option) {
        case 1:
            ids[id_count++] = optarg;
            break;
        case 't':
            if (!parse_number(optarg, 86400 * 365, &number)) {
                fail("bad timeout \"%s\": expected whole seconds", optarg);
                goto out;
            }
            timeout_ms = (long long)number * 1000;
            break;
        case 'e':
            waiter.use_evtchn = true;
            break;
        case 's': {
            if (!parse_number(optarg, 0x7FFFFFFF, &number) || number == 0) {
                fail("bad static event channel port \"%s\"", optarg);
                goto out;
            }
            struct static_channel *grown = realloc(waiter.statics,
                                                   (waiter.static_count + 1) * sizeof(*grown));
            if (!grown) {
                code = EXIT_ERROR;
                goto out;
            }
            waiter.statics = grown;
            grown[waiter.static_count++] = (struct static_channel){.port = (unsigned int)number};
            break;
        }
        case 'x':
        case 'm':
        case 'p':
            if (action != ACTION_NONE) {
                fail("--exec, --modprobe and --pci-rescan exclude each other");
                goto out;
            }
            action = option == 'x' ? ACTION_EXEC : option == 'm' ? ACTION_MODPROBE
                                                                 : ACTION_PCI_RESCAN;
            action_argument = optarg;
            break;
        case 'v':
            waiter.verbose = true;
            break;
        case 'h':
            usage(stdout);
            code = EXIT_READY;
            goto out;
        case OPTION_VERSION:
            printf("xenready-wait %s\n", XENREADY_VERSION);
            code = EXIT_READY;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    while (optind < argc)
        ids[id_count++] = argv[optind++];
    if ((on_timeout = timeout_status()) < 0)
        goto out;
    waiter.bridge_count = id_count;
    if (!waiter.bridge_count && !waiter.static_count) {
        fail("name at least one bridge or --static-evtchn PORT");
        usage(stderr);
        goto out;
    }
    if (waiter.use_evtchn && !waiter.bridge_count) {
        fail("--evtchn needs at least one bridge");
        goto out;
    }
    waiter.bridges = calloc(waiter.bridge_count ? waiter.bridge_count : 1,
                            sizeof(*waiter.bridges));
    if (!waiter.bridges) {
        code = EXIT_ERROR;
        goto out;
    }
    for (size_t i = 0; i < waiter.bridge_count; i++) {
        struct bridge *bridge = &waiter.bridges[i];
        bridge->id = ids[i];
        if (!valid_bridge_id(bridge->id)) {
            fail("bad bridge id \"%s\": letters, digits, '-' and '_', at most %d", bridge->id,
                 XENREADY_BRIDGE_ID_MAX);
            goto out;
        }
        /* Relative paths: the guest's own home, /local/domain/<own domid>. */
        snprintf(bridge->state_path, sizeof(bridge->state_path), "%s/%s/%s", XENREADY_DIRECTORY,
                 bridge->id, XENREADY_KEY_STATE);
        snprintf(bridge->channel_path, sizeof(bridge->channel_path), "%s/%s/%s",
                 XENREADY_DIRECTORY, bridge->id, XENREADY_KEY_EVENT_CHANNEL);
        snprintf(bridge->backend_path, sizeof(bridge->backend_path), "%s/%s/%s",
                 XENREADY_DIRECTORY, bridge->id, XENREADY_KEY_BACKEND_ID);
        bridge->local_port = -1;
    }

    code = setup(&waiter);
    long long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
    /* Watches fire once when registered, which does the first read (and,
     * with --evtchn, the first bind); the loop then sleeps until an event. */
    while (code == EXIT_READY) {
        if (waiter.xs)
            on_watch_events(&waiter);
        if (all_ready(&waiter))
            break;
        struct pollfd fds[2];
        nfds_t count = 0;
        if (waiter.xs)
            fds[count++] = (struct pollfd){.fd = xs_fileno(waiter.xs), .events = POLLIN};
        if (waiter.evtchn)
            fds[count++] = (struct pollfd){.fd = xenevtchn_fd(waiter.evtchn), .events = POLLIN};
        /* -1: no deadline. Past it by any amount (1 ms too) is 0, never -1,
         * and a long timeout is slept in pieces poll() can take. */
        int wait_ms = -1;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            wait_ms = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
        }
        int n = wait_ms == 0 ? 0 : poll(fds, count, wait_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fail("poll: %s", strerror(errno));
            code = EXIT_ERROR;
            break;
        }
        if (n == 0 && wait_ms > 0 && now_ms() < deadline)
            continue;            /* a piece of a long timeout */
        if (n == 0) {
            fprintf(stderr, "%s: timed out after %lld s; not ready:", program, timeout_ms / 1000);
            for (size_t i = 0; i < waiter.bridge_count; i++)
                if (strcmp(waiter.bridges[i].state, XENREADY_STATE_READY) != 0)
                    fprintf(stderr, " %s (%s)", waiter.bridges[i].id,
                            waiter.bridges[i].state[0] ? waiter.bridges[i].state : "no node");
            for (size_t i = 0; i < waiter.static_count; i++)
                if (!waiter.statics[i].signalled)
                    fprintf(stderr, " static event channel %u (no event)",
                            waiter.statics[i].port);
            fputc('\n', stderr);
            code = on_timeout;
            break;
        }
        if (waiter.evtchn && (fds[count - 1].revents & POLLIN))
            on_evtchn_event(&waiter);
    }
    if (code == EXIT_READY) {
        say(&waiter, "ready");
        /* Close first: the action must not inherit our connections. */
        finish(&waiter);
        free(ids);
        return run_action(action, action_argument);
    }
    finish(&waiter);
    free(ids);
    return code;
out:
    /* Before anything was set up. */
    free(waiter.bridges);
    free(waiter.statics);
    free(ids);
    return code;
}

int main(int argc, char **argv)
{
    return finish_stdout(run(argc, argv));
}
