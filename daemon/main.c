// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xenreadyd — tells each frontend guest when all the backends behind one of
 * its host bridges are up. See xenreadyd(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config/config.h"
#include "core/model.h"
#include "daemon.h"
#include "util/log.h"
#include "xen/domain-control.h"
#include "xenready-control.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: xenreadyd [OPTIONS]\n"
            "       xenreadyd --check-config[=FILE]\n"
            "\n"
            "Tells Xen frontend guests when all backends behind their host bridges are up.\n"
            "\n"
            "  -c, --config FILE          configuration file (default %s)\n"
            "      --config-dir DIR       drop-in directory (default: FILE's directory/xenready.d)\n"
            "      --check-config[=FILE]  validate the configuration, print problems, exit 0/1\n"
            "      --control-socket PATH  control socket (default %s)\n"
            "      --control-group GROUP  members of GROUP may use the control socket too\n"
            "      --ready-when=WHEN      READY=1 to systemd after the first scan (\"scanned\",\n"
            "                             the default) or once every bridge is ready (\"all\")\n"
            "      --pidfile PATH         write PATH when ready (at READY=1); removed at exit\n"
            "      --ready-fd FD          write a newline to FD and close it when ready\n"
            "  -l, --log-level LEVEL      err, warning, notice, info (default) or debug\n"
            "      --log-target TARGET    auto (the journal under systemd, else stderr, the\n"
            "                             default), stderr or syslog\n"
            "  -v, --verbose              same as --log-level=debug\n"
            "  -h, --help                 show this help\n"
            "      --version              show the version\n",
            XENREADY_CONFIG_FILE, XENREADY_CONTROL_SOCKET);
    if (!XENREADY_WITH_SYSTEMD)
        fprintf(out, "\nBuilt without systemd: no journal, no socket activation, no probe = unit,\n"
                     "liveness-unit = or owner = unit:NAME.\n");
}

/* --ready-fd: a descriptor open for writing, and not standard input, output
 * or error, which the daemon closes once ready. */
static int parse_ready_fd(const char *text, int *out)
{
    char *end;
    errno = 0;
    long fd = strtol(text, &end, 10);
    if (!text[0] || *end || errno || fd < 3 || fd > 0x7fffffff)
        return -EINVAL;
    int flags = fcntl((int)fd, F_GETFL);
    if (flags < 0)
        return -errno;
    if ((flags & O_ACCMODE) == O_RDONLY)
        return -EACCES;
    if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    *out = (int)fd;
    return 0;
}

/* /etc/xen/xenready.conf -> /etc/xen/xenready.d */
static char *default_config_dir(const char *config_file)
{
    char *dir = NULL;
    const char *slash = strrchr(config_file, '/');
    int length = slash ? (int)(slash - config_file) : 1;
    const char *base = slash ? config_file : ".";
    if (asprintf(&dir, "%.*s/xenready.d", length, base) < 0)
        return NULL;
    return dir;
}

/* A group name, or a number for a group without an entry in the group database. */
static int parse_group(const char *text, gid_t *out)
{
    struct group *group = getgrnam(text);
    if (group) {
        *out = group->gr_gid;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (!text[0] || *end || errno || text[0] == '-' || value >= (gid_t)-1)
        return -EINVAL;
    *out = (gid_t)value;
    return 0;
}

/* One descriptor per followed process and per control client: the soft
 * limit (1,024 by default) is raised to the hard one, as systemd does for
 * the services it knows need many (select(2), the reason for the low soft
 * limit, is not used here). */
static void raise_descriptor_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) < 0)
            log_message(LOG_WARNING, "cannot raise the descriptor limit to %llu: %s",
                        (unsigned long long)limit.rlim_max, strerror(errno));
    }
}

/* signal = unpause needs the hypervisor's leave to control the guest: said
 * here where it can be known (on the Xen host itself), at the bridge that
 * asks for it. Returns the number of errors. */
static size_t check_unpause_privilege(const struct model *model)
{
    struct domain_control *control = NULL;
    int opened = 1;   /* not tried yet */
    size_t errors = 0;
    for (size_t i = 0; i < model->bridge_count; i++) {
        const struct bridge *bridge = model->bridges[i];
        if (!(bridge->signal_methods & SIGNAL_UNPAUSE))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = (model->bridges[j]->signal_methods & SIGNAL_UNPAUSE)
                   && model->bridges[j]->frontend->domid == bridge->frontend->domid;
        if (seen)
            continue;
        if (opened == 1)
            opened = domain_control_open(&control);
        const char *file = bridge->where.file;
        unsigned int line = bridge->where.line;
        if (opened == -ENOENT) {
            /* Not on Xen (a build host): nothing to know yet. */
            fprintf(stderr, "%s:%u: warning: bridge %s: signal = unpause: no hypervisor "
                    "interface here (/dev/xen/privcmd); the privilege to unpause domain %u is "
                    "checked when the daemon runs on Xen\n", file, line, bridge->name,
                    bridge->frontend->domid);
            return errors;
        }
        if (opened < 0) {
            fprintf(stderr, "%s:%u: error: bridge %s: signal = unpause: cannot open the "
                    "hypervisor interface: %s; signal = unpause runs in dom0\n", file, line,
                    bridge->name, strerror(-opened));
            return errors + 1;
        }
        struct domain_state state;
        int r = domain_control_state(control, bridge->frontend->domid, &state);
        if (r == -EPERM || r == -EACCES) {
            fprintf(stderr, "%s:%u: error: bridge %s: signal = unpause: this domain may not "
                    "control domain %u (%s); signal = unpause runs in dom0\n", file, line,
                    bridge->name, bridge->frontend->domid, strerror(-r));
            errors++;
        }
    }
    domain_control_close(control);
    return errors;
}

static int check_config(const char *file, const char *dir)
{
    struct config_report report = {0};
    struct model *model = NULL;
    int r = config_load(file, dir, &model, &report);
    for (size_t i = 0; i < report.line_count; i++)
        fprintf(stderr, "%s\n", report.lines[i]);
    size_t privilege_errors = r == 0 ? check_unpause_privilege(model) : 0;
    if (r == 0 && privilege_errors) {
        fprintf(stderr, "%s: configuration has %zu error(s)\n", file, privilege_errors);
        r = -EPERM;
    } else if (r == 0)
        printf("%s: configuration OK: %zu frontend(s), %zu bridge(s), %zu backend(s)\n", file,
               model->frontend_count, model->bridge_count, model->backend_count);
    else
        fprintf(stderr, "%s: configuration has %zu error(s)\n", file,
                report.error_count ? report.error_count : 1);
    config_report_clear(&report);
    model_free(model);
    return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
    enum {
        OPTION_CHECK_CONFIG = 256,
        OPTION_CONFIG_DIR,
        OPTION_CONTROL_SOCKET,
        OPTION_VERSION,
        OPTION_CONTROL_GROUP,
        OPTION_READY_WHEN,
        OPTION_PIDFILE,
        OPTION_READY_FD,
        OPTION_LOG_TARGET,
    };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"config-dir", required_argument, NULL, OPTION_CONFIG_DIR},
        {"check-config", optional_argument, NULL, OPTION_CHECK_CONFIG},
        {"control-socket", required_argument, NULL, OPTION_CONTROL_SOCKET},
        {"control-group", required_argument, NULL, OPTION_CONTROL_GROUP},
        {"ready-when", required_argument, NULL, OPTION_READY_WHEN},
        {"pidfile", required_argument, NULL, OPTION_PIDFILE},
        {"ready-fd", required_argument, NULL, OPTION_READY_FD},
        {"log-target", required_argument, NULL, OPTION_LOG_TARGET},
        {"log-level", required_argument, NULL, 'l'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPTION_VERSION},
        {0},
    };
    struct daemon_options daemon_options = {
        .config_file = XENREADY_CONFIG_FILE,
        .control_socket = XENREADY_CONTROL_SOCKET,
    };
    bool check_only = false;
    int option, priority, target;
    while ((option = getopt_long(argc, argv, "c:l:vh", options, NULL)) != -1) {
        switch (option) {
        case 'c':
            daemon_options.config_file = optarg;
            break;
        case OPTION_CONFIG_DIR:
            daemon_options.config_dir = optarg;
            break;
        case OPTION_CHECK_CONFIG:
            check_only = true;
            if (optarg)
                daemon_options.config_file = optarg;
            else if (optind < argc && argv[optind][0] != '-')
                daemon_options.config_file = argv[optind++];
            break;
        case OPTION_CONTROL_SOCKET:
            daemon_options.control_socket = optarg;
            break;
        case OPTION_CONTROL_GROUP:
            if (parse_group(optarg, &daemon_options.control_group) < 0) {
                fprintf(stderr, "xenreadyd: unknown group \"%s\"\n", optarg);
                return EXIT_FAILURE;
            }
            daemon_options.has_control_group = true;
            break;
        case OPTION_READY_WHEN:
            if (strcmp(optarg, "all") == 0) {
                daemon_options.ready_when_all = true;
            } else if (strcmp(optarg, "scanned") == 0) {
                daemon_options.ready_when_all = false;
            } else {
                fprintf(stderr, "xenreadyd: --ready-when takes \"scanned\" or \"all\", not \"%s\"\n",
                        optarg);
                return EXIT_FAILURE;
            }
            break;
        case OPTION_PIDFILE:
            if (optarg[0] != '/') {
                fprintf(stderr, "xenreadyd: --pidfile takes an absolute path, not \"%s\"\n",
                        optarg);
                return EXIT_FAILURE;
            }
            daemon_options.pidfile = optarg;
            break;
        case OPTION_READY_FD: {
            int r = parse_ready_fd(optarg, &daemon_options.ready_fd);
            if (r == -EINVAL)
                fprintf(stderr, "xenreadyd: --ready-fd takes a descriptor number, 3 or more, "
                        "not \"%s\"\n", optarg);
            else if (r < 0)
                fprintf(stderr, "xenreadyd: --ready-fd %s: %s\n", optarg,
                        r == -EACCES ? "not open for writing" : strerror(-r));
            if (r < 0)
                return EXIT_FAILURE;
            break;
        }
        case OPTION_LOG_TARGET:
            target = log_parse_target(optarg);
            if (target < 0) {
                fprintf(stderr, "xenreadyd: --log-target takes \"auto\", \"stderr\" or "
                        "\"syslog\", not \"%s\"\n", optarg);
                return EXIT_FAILURE;
            }
            log_set_target((enum log_target)target);
            break;
        case 'l':
            priority = log_parse_priority(optarg);
            if (priority < 0) {
                fprintf(stderr, "xenreadyd: unknown log level \"%s\"\n", optarg);
                return EXIT_FAILURE;
            }
            log_set_max_priority(priority);
            break;
        case 'v':
            log_set_max_priority(LOG_DEBUG);
            break;
        case 'h':
            usage(stdout);
            return EXIT_SUCCESS;
        case OPTION_VERSION:
            printf("xenreadyd %s\n", XENREADY_VERSION);
            return EXIT_SUCCESS;
        default:
            usage(stderr);
            return EXIT_FAILURE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "xenreadyd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return EXIT_FAILURE;
    }

    char *config_dir = daemon_options.config_dir ? NULL
                                                 : default_config_dir(daemon_options.config_file);
    if (config_dir)
        daemon_options.config_dir = config_dir;
    if (check_only) {
        int status = check_config(daemon_options.config_file, daemon_options.config_dir);
        free(config_dir);
        return status;
    }

    struct config_report report = {0};
    struct model *model = NULL;
    int r = config_load(daemon_options.config_file, daemon_options.config_dir, &model, &report);
    for (size_t i = 0; i < report.line_count; i++)
        log_message(strstr(report.lines[i], ": error: ") ? LOG_ERR : LOG_WARNING, "%s",
                    report.lines[i]);
    config_report_clear(&report);
    if (r < 0) {
        log_message(LOG_ERR, "not starting: the configuration has errors");
        free(config_dir);
        return EXIT_FAILURE;
    }

    raise_descriptor_limit();
    struct daemon daemon;
    r = daemon_start(&daemon, &daemon_options, model);
    if (r == 0)
        r = daemon_run(&daemon);
    else if (r == -ECANCELED)
        r = 0;   /* stopped while waiting for xenstored: a clean stop */
    else
        log_message(LOG_ERR, "cannot start: %s", strerror(-r));
    daemon_finish(&daemon);
    free(config_dir);
    return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
