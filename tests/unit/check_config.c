// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the configuration loader (daemon/config/config.c). Each test
 * writes its input into a fresh temporary directory and loads it; every error
 * must be reported as "FILE:LINE: error: MESSAGE" at the right place.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config.h"
#include "core/model.h"
#include "without-systemd.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define MAIN "xenready.conf"
#define DROPINS "xenready.d"

/* The line limit: 4096-byte buffer less the newline and the terminating NUL. */
#define LINE_LIMIT 4094

/* A small valid configuration of exactly 9 lines; tests append to it, so
 * their own lines start at 10. */
#define VALID                                       \
    "[frontend domu1]\n"                  /* 1 */  \
    "domid = 1\n"                         /* 2 */  \
    VALID_AFTER_DOMID
#define VALID_AFTER_DOMID                           \
    "[backend disk]\n"                    /* 3 */  \
    "probe = xenstore\n"                  /* 4 */  \
    "path = backend/vbd/1/51712/state\n"  /* 5 */  \
    "value = 4\n"                         /* 6 */  \
    "[bridge domu1/pcie0]\n"              /* 7 */  \
    "device-tree-path = /pcie@10000000\n" /* 8 */  \
    "backends = disk\n"                   /* 9 */

/* ---- fixture: a temporary directory, the loaded model and its report ---- */

static char root[] = "/tmp/check_config.XXXXXX";   /* made once, by main() */
static char dir[256];                              /* one per test, inside root */
static struct model *model;
static struct config_report report;
static int load_result;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "%s/test.XXXXXX", root);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    model = NULL;
    report = (struct config_report){0};
    load_result = 1;
}

static void teardown(void)
{
    model_free(model);
    model = NULL;
    config_report_clear(&report);
}

/* The path of name in this test's directory (a few results live at once). */
static const char *path_of(const char *name)
{
    static char paths[4][PATH_MAX];
    static unsigned int next;
    char *path = paths[next++ % ARRAY_SIZE(paths)];
    snprintf(path, PATH_MAX, "%s/%s", dir, name);
    return path;
}

static void write_bytes(const char *name, const char *data, size_t length)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", path_of(name));
    char *slash = strrchr(parent, '/');
    *slash = '\0';
    if (mkdir(parent, 0700) < 0)
        ck_assert_int_eq(errno, EEXIST);

    FILE *file = fopen(path_of(name), "we");
    ck_assert_ptr_nonnull(file);
    ck_assert_uint_eq(fwrite(data, 1, length, file), length);
    ck_assert_int_eq(fclose(file), 0);
}

static void write_file(const char *name, const char *text)
{
    write_bytes(name, text, strlen(text));
}

/* The report, one line each, for failure messages. */
static const char *report_text(void)
{
    static char text[16384];
    size_t used = 0;
    text[0] = '\0';
    for (size_t i = 0; i < report.line_count && used < sizeof(text); i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used, "  %s\n", report.lines[i]);
    return report.line_count ? text : "  (empty)\n";
}

/*
 * Loads main_name (and the drop-in directory dropins, may be NULL) from this
 * test's directory into model and report, checking the contract that holds
 * either way: *out is always set, NULL on failure; success means no errors.
 */
static int load(const char *main_name, const char *dropins)
{
    static int poison;
    struct model *out = (struct model *)&poison;
    config_report_clear(&report);
    load_result = config_load(path_of(main_name), dropins ? path_of(dropins) : NULL, &out,
                              &report);
    ck_assert_msg(out != (struct model *)&poison, "config_load left *out untouched");
    model = out;
    if (load_result == 0) {
        ck_assert_msg(model != NULL, "success without a model");
        ck_assert_msg(report.error_count == 0, "success with %zu errors:\n%s",
                      report.error_count, report_text());
    } else {
        ck_assert_msg(model == NULL, "failure (%d) with a model", load_result);
        ck_assert_msg(report.error_count > 0, "failure (%d) without an error in the report",
                      load_result);
    }
    return load_result;
}

/* Writes text as the main file and loads it alone. */
static int load_string(const char *text)
{
    write_file(MAIN, text);
    return load(MAIN, NULL);
}

static void assert_loaded(void)
{
    ck_assert_msg(load_result == 0, "load failed (%d):\n%s", load_result, report_text());
}

/* A failed load because of errors in the configuration; errors: their exact
 * number, or 0 not to check it. */
static void assert_invalid(size_t errors)
{
    ck_assert_msg(load_result == -EINVAL, "load returned %d, expected -EINVAL; report:\n%s",
                  load_result, report_text());
    if (errors)
        ck_assert_msg(report.error_count == errors, "%zu errors, expected %zu:\n%s",
                      report.error_count, errors, report_text());
}

/* Some report line is "<dir>/NAME:LINE: KIND: …TEXT…". */
static void assert_reported(const char *name, unsigned int line, const char *kind,
                            const char *text)
{
    char prefix[PATH_MAX + 64];
    int length = snprintf(prefix, sizeof(prefix), "%s:%u: %s: ", path_of(name), line, kind);
    for (size_t i = 0; i < report.line_count; i++)
        if (strncmp(report.lines[i], prefix, (size_t)length) == 0
            && strstr(report.lines[i] + length, text))
            return;
    ck_abort_msg("expected \"%s…%s…\" in the report:\n%s", prefix, text, report_text());
}

static void assert_error(const char *name, unsigned int line, const char *text)
{
    assert_reported(name, line, "error", text);
}

/* The report has exactly the line "<dir>/NAME:LINE: error: MESSAGE". */
static void assert_exact_error(const char *name, unsigned int line, const char *message)
{
    char expected[PATH_MAX + 1024];
    snprintf(expected, sizeof(expected), "%s:%u: error: %s", path_of(name), line, message);
    for (size_t i = 0; i < report.line_count; i++)
        if (strcmp(report.lines[i], expected) == 0)
            return;
    ck_abort_msg("expected the line \"%s\" in the report:\n%s", expected, report_text());
}

/* No report line mentions text at all (e.g. a second file's name). */
static void assert_not_reported(const char *text)
{
    for (size_t i = 0; i < report.line_count; i++)
        ck_assert_msg(!strstr(report.lines[i], text), "unexpected \"%s\" in the report:\n%s",
                      text, report_text());
}

/* A file-level error has no line: "<dir>/NAME: error: cannot open: …". */
static void assert_cannot_open(const char *name)
{
    char prefix[PATH_MAX + 64];
    snprintf(prefix, sizeof(prefix), "%s: error: cannot open", path_of(name));
    for (size_t i = 0; i < report.line_count; i++)
        if (strncmp(report.lines[i], prefix, strlen(prefix)) == 0)
            return;
    ck_abort_msg("expected \"%s…\" in the report:\n%s", prefix, report_text());
}

/* "<dir>/NAME:LINE", e.g. for "first defined at …". */
static const char *location(const char *name, unsigned int line)
{
    static char text[2][PATH_MAX + 16];
    static unsigned int next;
    char *out = text[next++ % ARRAY_SIZE(text)];
    snprintf(out, PATH_MAX + 16, "%s:%u", path_of(name), line);
    return out;
}

static char *repeat(char c, size_t count)
{
    char *text = malloc(count + 1);
    ck_assert_ptr_nonnull(text);
    memset(text, c, count);
    text[count] = '\0';
    return text;
}

/* A table of single-file inputs, each with one error at a known line of MAIN. */
struct error_case {
    const char *config;
    unsigned int line;
    const char *message;
    size_t errors;          /* exact number of errors, 0: not checked */
};

static void check_error_case(const struct error_case *c)
{
    load_string(c->config);
    assert_invalid(c->errors);
    assert_error(MAIN, c->line, c->message);
}

#define ERROR_CASE_TEST(name, table)                \
    START_TEST(name) { check_error_case(&table[_i]); } \
    END_TEST

/* ---- valid configurations ---- */

START_TEST(test_minimal_valid)
{
    load_string(VALID);
    assert_loaded();
    ck_assert_msg(report.line_count == 0, "unexpected report:\n%s", report_text());
}
END_TEST

static const char full_config[] =
    "# Two guests, three bridges.\n"                        /* 1 */
    "; both comment styles\n"                               /* 2 */
    "\n"                                                    /* 3 */
    "[frontend domu1]\n"                                    /* 4 */
    "domid = 1\n"                                           /* 5 */
    "\n"                                                    /* 6 */
    "[frontend domu2]\n"                                    /* 7 */
    "domid=32751\n"                                         /* 8 */
    "\n"                                                    /* 9 */
    "[backend disk]\n"                                      /* 10 */
    "probe = xenstore\n"                                    /* 11 */
    "path = /local/domain/0/backend/vbd/1/51712/state\n"    /* 12 */
    "value = 4\n"                                           /* 13 */
    "\n"                                                    /* 14 */
    "[backend net]\n"                                       /* 15 */
    "  probe   =   xenstore  \n"                            /* 16 */
    "path = backend/vif/2/0/state\n"                        /* 17 */
    "value = 4\n"                                           /* 18 */
    "\n"                                                    /* 19 */
    "[backend qemu-domu2]\n"                                /* 20 */
    "probe = device-model\n"                                /* 21 */
    "frontend = domu2\n"                                    /* 22 */
    "\n"                                                    /* 23 */
    "[bridge domu1/pcie0]\n"                                /* 24 */
    "device-tree-path = /pcie@10000000\n"                   /* 25 */
    "backends = disk net\n"                                 /* 26 */
    "signal = xenstore\n"                                   /* 27 */
    "\n"                                                    /* 28 */
    "[bridge domu2/pcie0]\n"                                /* 29 */
    "device-tree-path = /pcie@10000000\n"                   /* 30 */
    "backends = net\tqemu-domu2\n"                          /* 31 */
    "\n"                                                    /* 32 */
    "[bridge domu2/gpu_1]\n"                                /* 33 */
    "device-tree-path = /soc/pcie@30000000\n"               /* 34 */
    "backends = qemu-domu2\n";                              /* 35 */

static void assert_links(const struct bridge *bridge, size_t count, const char *const *names)
{
    ck_assert_uint_eq(bridge->backend_count, count);
    for (size_t i = 0; i < count; i++) {
        const struct backend *backend = bridge->backends[i];
        ck_assert_str_eq(backend->name, names[i]);
        bool back = false;
        for (size_t j = 0; j < backend->bridge_count; j++)
            back |= backend->bridges[j] == bridge;
        ck_assert_msg(back, "backend %s does not list bridge %s", backend->name, bridge->name);
    }
    ck_assert_uint_eq(bridge->ready_count, 0);
    ck_assert_int_eq(bridge->state, BRIDGE_WAITING);
}

START_TEST(test_full_valid)
{
    load_string(full_config);
    assert_loaded();
    ck_assert_msg(report.line_count == 0, "unexpected report:\n%s", report_text());
    const char *file = path_of(MAIN);
    ck_assert_uint_eq(model->file_count, 1);
    ck_assert_str_eq(model->files[0], file);

    ck_assert_uint_eq(model->frontend_count, 2);
    struct frontend *domu1 = model_find_frontend(model, "domu1");
    struct frontend *domu2 = model_find_frontend(model, "domu2");
    ck_assert_ptr_nonnull(domu1);
    ck_assert_ptr_nonnull(domu2);
    ck_assert_uint_eq(domu1->domid, 1);
    ck_assert_uint_eq(domu2->domid, 32751);
    ck_assert_str_eq(domu1->where.file, file);
    ck_assert_uint_eq(domu1->where.line, 4);
    ck_assert_uint_eq(domu2->where.line, 7);

    ck_assert_uint_eq(model->backend_count, 3);
    struct backend *disk = model_find_backend(model, "disk");
    struct backend *net = model_find_backend(model, "net");
    struct backend *qemu = model_find_backend(model, "qemu-domu2");
    ck_assert_ptr_nonnull(disk);
    ck_assert_ptr_nonnull(net);
    ck_assert_ptr_nonnull(qemu);
    ck_assert_int_eq(disk->probe, PROBE_XENSTORE);
    ck_assert_str_eq(disk->xenstore_path, "/local/domain/0/backend/vbd/1/51712/state");
    ck_assert_str_eq(disk->expected_value, "4");
    ck_assert_str_eq(net->xenstore_path, "backend/vif/2/0/state");
    ck_assert_str_eq(net->expected_value, "4");
    ck_assert_int_eq(qemu->probe, PROBE_XENSTORE);
    ck_assert_str_eq(qemu->xenstore_path, "device-model/32751/state");
    ck_assert_str_eq(qemu->expected_value, "running");
    ck_assert_uint_eq(disk->where.line, 10);
    ck_assert_uint_eq(net->where.line, 15);
    ck_assert_uint_eq(qemu->where.line, 20);
    for (size_t i = 0; i < model->backend_count; i++) {
        ck_assert(!model->backends[i]->ready);
        ck_assert_ptr_null(model->backends[i]->detail);
    }
    ck_assert_uint_eq(disk->bridge_count, 1);
    ck_assert_uint_eq(net->bridge_count, 2);
    ck_assert_uint_eq(qemu->bridge_count, 2);

    ck_assert_uint_eq(model->bridge_count, 3);
    struct bridge *d1p0 = model_find_bridge(model, "domu1/pcie0");
    struct bridge *d2p0 = model_find_bridge(model, "domu2/pcie0");
    struct bridge *d2gpu = model_find_bridge(model, "domu2/gpu_1");
    ck_assert_ptr_nonnull(d1p0);
    ck_assert_ptr_nonnull(d2p0);
    ck_assert_ptr_nonnull(d2gpu);
    ck_assert_ptr_eq(d1p0->frontend, domu1);
    ck_assert_ptr_eq(d2p0->frontend, domu2);
    ck_assert_ptr_eq(d2gpu->frontend, domu2);
    ck_assert_str_eq(d1p0->id, "pcie0");
    ck_assert_str_eq(d2gpu->id, "gpu_1");
    ck_assert_str_eq(d1p0->device_tree_path, "/pcie@10000000");
    ck_assert_str_eq(d2gpu->device_tree_path, "/soc/pcie@30000000");
    ck_assert_uint_eq(d1p0->signal_methods, SIGNAL_XENSTORE);
    ck_assert_uint_eq(d2p0->signal_methods, SIGNAL_XENSTORE);   /* the default */
    ck_assert_uint_eq(d1p0->where.line, 24);
    ck_assert_uint_eq(d2gpu->where.line, 33);
    for (size_t i = 0; i < model->bridge_count; i++)
        ck_assert_uint_eq(model->bridges[i]->index, i);
    assert_links(d1p0, 2, (const char *[]){"disk", "net"});
    assert_links(d2p0, 2, (const char *[]){"net", "qemu-domu2"});
    assert_links(d2gpu, 1, (const char *[]){"qemu-domu2"});
}
END_TEST

/* Domids at both ends of the valid range. */
START_TEST(test_domid_limits)
{
    load_string("[frontend a]\ndomid = 0\n[frontend b]\ndomid = 32751\n");
    assert_loaded();
    ck_assert_uint_eq(model_find_frontend(model, "a")->domid, 0);
    ck_assert_uint_eq(model_find_frontend(model, "b")->domid, MODEL_DOMID_MAX);
}
END_TEST

/* A name may be any valid word, including a piece of its kind's keyword. */
START_TEST(test_names_inside_kind_word)
{
    load_string("[frontend front]\n"
                "domid = 1\n"
                "[backend a]\n"
                "probe = device-model\n"
                "frontend = front\n"
                "[bridge front/e]\n"
                "device-tree-path = /pcie@10000000\n"
                "backends = a\n");
    assert_loaded();
    ck_assert_ptr_nonnull(model_find_frontend(model, "front"));
    ck_assert_ptr_nonnull(model_find_backend(model, "a"));
    ck_assert_ptr_nonnull(model_find_bridge(model, "front/e"));
}
END_TEST

/* A warning is reported but does not fail the load. */
START_TEST(test_unused_backend_warns)
{
    load_string(VALID
                "[backend spare]\n"        /* 10 */
                "probe = xenstore\n"
                "path = backend/spare\n"
                "value = 1\n");
    assert_loaded();
    ck_assert_uint_eq(report.error_count, 0);
    ck_assert_uint_eq(report.line_count, 1);
    assert_reported(MAIN, 10, "warning", "backend spare is not used by any bridge");
    ck_assert_ptr_nonnull(model_find_backend(model, "spare"));
}
END_TEST

/* Paths the hardened unit hides from the daemon (ProtectHome=, PrivateTmp=)
 * are accepted with a warning at their line; /run is fine. */
START_TEST(test_hidden_paths_warn)
{
    load_string("[frontend domu1]\n"          /* 1 */
                "domid = 5\n"
                "[backend vhost]\n"
                "probe = socket\n"
                "path = /tmp/vhost-i2c.sock\n"   /* 5 */
                "pidfile = /home/user/vhost.pid\n"
                "[backend fine]\n"
                "probe = socket\n"
                "path = /run/vhost/gpio.sock\n"
                "[bridge domu1/pcie0]\n"
                "device-tree-path = /pcie@0\n"
                "backends = vhost fine\n");
    assert_loaded();
    ck_assert_uint_eq(report.line_count, 2);
    assert_reported(MAIN, 5, "warning", "socket /tmp/vhost-i2c.sock of backend vhost is under /tmp/");
    assert_reported(MAIN, 6, "warning", "pidfile /home/user/vhost.pid of backend vhost is under /home/");
    assert_not_reported("/run/vhost");
}
END_TEST

/* ---- drop-ins ---- */

/* The main file, then the drop-in directory's .conf files in lexical (not
 * numeric) order; other files are ignored; references may cross files in any
 * direction. */
START_TEST(test_dropins_in_lexical_order)
{
    write_file(MAIN, "[frontend domu1]\ndomid = 1\n");
    /* written out of order: readdir() order must not matter */
    write_file(DROPINS "/9-late.conf", "[frontend domu9]\ndomid = 9\n");
    write_file(DROPINS "/20-bridge.conf",
               "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = disk\n");
    write_file(DROPINS "/10-backend.conf",
               "# the backend first\n[backend disk]\nprobe = xenstore\npath = a/b\nvalue = 4\n");
    const char *ignored = "this is not a configuration line\n";
    write_file(DROPINS "/README", ignored);
    write_file(DROPINS "/30-off.conf.disabled", ignored);
    write_file(DROPINS "/40-editor.conf~", ignored);
    write_file(DROPINS "/.hidden.conf", ignored);
    write_file(DROPINS "/conf", ignored);

    load(MAIN, DROPINS);
    assert_loaded();
    ck_assert_msg(report.line_count == 0, "unexpected report:\n%s", report_text());
    const char *expected[] = {MAIN, DROPINS "/10-backend.conf", DROPINS "/20-bridge.conf",
                              DROPINS "/9-late.conf"};
    ck_assert_uint_eq(model->file_count, ARRAY_SIZE(expected));
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++)
        ck_assert_str_eq(model->files[i], path_of(expected[i]));

    struct backend *disk = model_find_backend(model, "disk");
    struct bridge *bridge = model_find_bridge(model, "domu1/pcie0");
    ck_assert_ptr_nonnull(disk);
    ck_assert_ptr_nonnull(bridge);
    ck_assert_str_eq(disk->where.file, path_of(DROPINS "/10-backend.conf"));
    ck_assert_uint_eq(disk->where.line, 2);
    ck_assert_str_eq(bridge->where.file, path_of(DROPINS "/20-bridge.conf"));
    ck_assert_uint_eq(bridge->where.line, 1);
    ck_assert_ptr_eq(bridge->frontend, model_find_frontend(model, "domu1"));
    ck_assert_uint_eq(bridge->backend_count, 1);
    ck_assert_ptr_eq(bridge->backends[0], disk);
    ck_assert_uint_eq(model_find_frontend(model, "domu9")->domid, 9);
}
END_TEST

START_TEST(test_dropins_without_main)
{
    write_file(DROPINS "/50-all.conf", VALID);
    load(MAIN, DROPINS);
    assert_loaded();
    ck_assert_uint_eq(model->file_count, 1);
    ck_assert_str_eq(model->files[0], path_of(DROPINS "/50-all.conf"));
}
END_TEST

/* No main file and no drop-in: nothing to run on is an error. */
START_TEST(test_missing_main_and_dropins)
{
    load(MAIN, DROPINS);            /* directory absent */
    ck_assert_int_lt(load_result, 0);
    assert_cannot_open(MAIN);
}
END_TEST

START_TEST(test_missing_main_and_empty_dropins)
{
    write_file(DROPINS "/README", "[frontend x]\ndomid = 1\n");   /* not a .conf */
    load(MAIN, DROPINS);
    ck_assert_int_lt(load_result, 0);
    assert_cannot_open(MAIN);

    load(MAIN, NULL);
    ck_assert_int_lt(load_result, 0);
    assert_cannot_open(MAIN);
}
END_TEST

/* A section redefined in a later file: the error is at the second place and
 * names the first. */
START_TEST(test_duplicate_across_files)
{
    write_file(MAIN, VALID);
    write_file(DROPINS "/50-dup.conf",
               "# try to redefine\n"    /* 1 */
               "\n"                     /* 2 */
               "[backend disk]\n"       /* 3 */
               "probe = xenstore\n"     /* 4 */
               "path = other/path\n"
               "value = 1\n");
    load(MAIN, DROPINS);
    assert_invalid(1);
    assert_error(DROPINS "/50-dup.conf", 3, "duplicate section [backend disk]");
    char first[PATH_MAX + 64];
    snprintf(first, sizeof(first), "first defined at %s", location(MAIN, 3));
    assert_error(DROPINS "/50-dup.conf", 3, first);
}
END_TEST

/* Between two drop-ins, the lexically later one is the duplicate. */
START_TEST(test_duplicate_between_dropins)
{
    write_file(DROPINS "/20-b.conf", "\n[frontend domu2]\ndomid = 2\n");
    write_file(DROPINS "/10-a.conf", "[frontend domu2]\ndomid = 2\n");
    write_file(MAIN, VALID);
    load(MAIN, DROPINS);
    assert_invalid(1);
    char first[PATH_MAX + 64];
    snprintf(first, sizeof(first), "duplicate section [frontend domu2]; first defined at %s",
             location(DROPINS "/10-a.conf", 1));
    assert_error(DROPINS "/20-b.conf", 2, first);
}
END_TEST

START_TEST(test_duplicate_in_one_file)
{
    load_string(VALID
                "[frontend domu1]\n"    /* 10 */
                "domid = 1\n");
    assert_invalid(1);
    char message[PATH_MAX + 64];
    snprintf(message, sizeof(message), "duplicate section [frontend domu1]; first defined at %s",
             location(MAIN, 1));
    assert_error(MAIN, 10, message);
}
END_TEST

/* Bridges are looked up among bridges: a second [bridge] of the same name,
 * in one file or in a drop-in, names the first. */
START_TEST(test_duplicate_bridge_in_one_file)
{
    load_string(VALID
                "[bridge domu1/pcie0]\n"                 /* 10 */
                "device-tree-path = /pcie@20000000\n"
                "backends = disk\n");
    assert_invalid(1);
    char message[PATH_MAX + 64];
    snprintf(message, sizeof(message),
             "duplicate section [bridge domu1/pcie0]; first defined at %s", location(MAIN, 7));
    assert_exact_error(MAIN, 10, message);
}
END_TEST

START_TEST(test_duplicate_bridge_across_files)
{
    write_file(MAIN, VALID);
    write_file(DROPINS "/50-dup.conf",
               "# the same bridge again\n"              /* 1 */
               "[bridge domu1/pcie0]\n"                 /* 2 */
               "device-tree-path = /pcie@20000000\n"
               "backends = disk\n");
    load(MAIN, DROPINS);
    assert_invalid(1);
    char message[PATH_MAX + 64];
    snprintf(message, sizeof(message),
             "duplicate section [bridge domu1/pcie0]; first defined at %s", location(MAIN, 7));
    assert_exact_error(DROPINS "/50-dup.conf", 2, message);
}
END_TEST

/* Names are unique within their kind only: a frontend, a backend and a
 * bridge's FRONTEND or ID part may share one, before or after each other. */
START_TEST(test_names_shared_across_kinds)
{
    load_string("[frontend domu1]\n"
                "domid = 1\n"
                "[backend domu1]\n"          /* a frontend's name, defined before it */
                "probe = xenstore\n"
                "path = a/b\n"
                "value = 1\n"
                "[backend pcie0]\n"          /* a frontend's name, defined after it */
                "probe = announce\n"
                "owner = uid:0\n"
                "[frontend pcie0]\n"
                "domid = 2\n"
                "[bridge domu1/pcie0]\n"
                "device-tree-path = /pcie@10000000\n"
                "backends = domu1 pcie0\n"
                "[bridge pcie0/domu1]\n"
                "device-tree-path = /pcie@10000000\n"
                "backends = domu1\n");
    assert_loaded();
    ck_assert_msg(report.line_count == 0, "unexpected report:\n%s", report_text());
    ck_assert_uint_eq(model->frontend_count, 2);
    ck_assert_uint_eq(model->backend_count, 2);
    ck_assert_uint_eq(model->bridge_count, 2);
    ck_assert_ptr_eq(model_find_bridge(model, "pcie0/domu1")->frontend,
                     model_find_frontend(model, "pcie0"));
}
END_TEST

/* A drop-in starts outside any section, not in the previous file's last. */
START_TEST(test_dropin_starts_outside_sections)
{
    write_file(MAIN, VALID);   /* ends inside [bridge domu1/pcie0] */
    write_file(DROPINS "/10-more.conf", "signal = xenstore\n");
    load(MAIN, DROPINS);
    assert_invalid(1);
    assert_error(DROPINS "/10-more.conf", 1, "\"signal\" is outside any section");
}
END_TEST

/* Errors in a drop-in are counted in the drop-in's own lines. */
START_TEST(test_dropin_line_numbers)
{
    write_file(MAIN, VALID);
    write_file(DROPINS "/10-x.conf", "[frontend domu2]\ndomid = 2\ncolour = red\n");
    load(MAIN, DROPINS);
    assert_invalid(1);
    assert_error(DROPINS "/10-x.conf", 3, "unknown key \"colour\"");
}
END_TEST

/* ---- errors, one table per behaviour ---- */

static const struct error_case unknown_key_cases[] = {
    {VALID "[frontend domu2]\ndomid = 2\ncolour = blue\n", 12,
     "unknown key \"colour\" in [frontend domu2]", 1},
    {VALID "colour = red\n", 10, "unknown key \"colour\" in [bridge domu1/pcie0]", 1},
    {VALID "[backend net]\nprobe = xenstore\npath = a\nvalue = 1\ntimeout = 5\n", 14,
     "unknown key \"timeout\" in [backend net]", 1},
    {VALID "[frontend domu2]\nDomid = 2\ndomid = 2\n", 11, "unknown key \"Domid\"", 1},
};
ERROR_CASE_TEST(test_unknown_key, unknown_key_cases)

static const struct error_case unknown_section_kind_cases[] = {
    {VALID "[widget w]\nsize = 3\n", 10, "unknown section kind \"widget\"", 1},
    {VALID "[Frontend domu2]\ndomid = 2\n", 10, "unknown section kind \"Frontend\"", 1},
};
ERROR_CASE_TEST(test_unknown_section_kind, unknown_section_kind_cases)

static const struct error_case bad_section_header_cases[] = {
    {VALID "[frontend]\n", 10, "needs a kind and a name", 1},
    {VALID "[]\n", 10, "needs a kind and a name", 1},
    {VALID "[frontend two words]\ndomid = 2\n", 10, "a name cannot contain spaces", 1},
    {VALID "[frontend bad.name]\ndomid = 2\n", 10, "invalid frontend name \"bad.name\"", 1},
    {VALID "[backend bad!]\nprobe = xenstore\n", 10, "invalid backend name \"bad!\"", 1},
};
ERROR_CASE_TEST(test_bad_section_header, bad_section_header_cases)

static const struct error_case unknown_backend_cases[] = {
    {VALID "[bridge domu1/pcie1]\n"
           "device-tree-path = /pcie@20000000\n"
           "backends = disk nosuch\n",       /* 12 */
     12, "bridge domu1/pcie1 needs unknown backend \"nosuch\"", 1},
    {VALID "[bridge domu1/pcie1]\n"
           "backends = ghost\n"              /* 11 */
           "device-tree-path = /pcie@20000000\n",
     11, "needs unknown backend \"ghost\"", 1},
};
ERROR_CASE_TEST(test_unknown_backend, unknown_backend_cases)

static const struct error_case no_backends_cases[] = {
    /* no backends= at all: the section header */
    {VALID "[bridge domu1/pcie1]\ndevice-tree-path = /pcie@20000000\n", 10,
     "bridge domu1/pcie1 has no backends", 1},
    /* an empty (or blank) value: the backends= line */
    {VALID "[bridge domu1/pcie1]\ndevice-tree-path = /pcie@20000000\nbackends =\n", 12,
     "bridge domu1/pcie1 has no backends", 1},
    {VALID "[bridge domu1/pcie1]\ndevice-tree-path = /pcie@20000000\nbackends =  \t \n", 12,
     "bridge domu1/pcie1 has no backends", 1},
};
ERROR_CASE_TEST(test_no_backends, no_backends_cases)

static const char *const bad_domids[] = {
    "x", "-1", "32752", "65535", "5x", "", "+5", "0x10", " 1 2", "99999999999999999999",
};

START_TEST(test_bad_domid)
{
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config, "[frontend domu1]\ndomid = %s\n" VALID_AFTER_DOMID,
                              bad_domids[_i]), 0);
    load_string(config);
    free(config);
    assert_invalid(0);
    char message[128];
    snprintf(message, sizeof(message), "bad domid \"%s\" for frontend domu1",
             bad_domids[_i][0] == ' ' ? bad_domids[_i] + 1 : bad_domids[_i]);
    assert_error(MAIN, 2, message);
}
END_TEST

static const struct error_case frontend_without_domid_cases[] = {
    {VALID "[frontend domu2]\n", 10, "frontend domu2 has no domid", 1},
    {VALID "[frontend domu2]\n# domid = 2\n", 10, "frontend domu2 has no domid", 1},
};
ERROR_CASE_TEST(test_frontend_without_domid, frontend_without_domid_cases)

START_TEST(test_duplicate_domid)
{
    load_string(VALID
                "[frontend domu2]\n"    /* 10 */
                "domid = 1\n");
    assert_invalid(1);
    char message[PATH_MAX + 64];
    snprintf(message, sizeof(message),
             "frontend domu2 has domid 1, already used by frontend domu1 at %s",
             location(MAIN, 1));
    assert_error(MAIN, 10, message);
}
END_TEST

static const struct error_case unknown_frontend_cases[] = {
    {VALID "[bridge ghost/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = disk\n", 10,
     "bridge ghost/pcie0 belongs to unknown frontend \"ghost\"", 1},
};
ERROR_CASE_TEST(test_bridge_unknown_frontend, unknown_frontend_cases)

static const struct error_case bad_bridge_name_cases[] = {
    {VALID "[bridge pcie1]\ndevice-tree-path = /p\nbackends = disk\n", 10,
     "bridge name \"pcie1\" must be FRONTEND/ID", 1},
    {VALID "[bridge domu1/a/b]\ndevice-tree-path = /p\nbackends = disk\n", 10,
     "bridge name \"domu1/a/b\" must be FRONTEND/ID", 1},
    {VALID "[bridge domu1/]\nbackends = disk\n", 10, "invalid bridge name \"domu1/\"", 1},
    {VALID "[bridge /pcie1]\nbackends = disk\n", 10, "invalid bridge name \"/pcie1\"", 1},
};
ERROR_CASE_TEST(test_bad_bridge_name, bad_bridge_name_cases)

static const struct error_case outside_section_cases[] = {
    {"domid = 3\n" VALID, 1, "\"domid\" is outside any section", 1},
    {"# comment\n\nprobe = xenstore\n" VALID, 3, "\"probe\" is outside any section", 1},
};
ERROR_CASE_TEST(test_key_outside_section, outside_section_cases)

static const struct error_case key_twice_cases[] = {
    {VALID "[frontend domu2]\ndomid = 2\ndomid = 2\n", 12,
     "domid is set twice in [frontend domu2]", 1},
    {VALID "backends = disk\n", 10, "backends is set twice in [bridge domu1/pcie0]", 1},
    {VALID "device-tree-path = /other\n", 10, "device-tree-path is set twice", 1},
    {VALID "[backend net]\nprobe = xenstore\npath = a\nvalue = 1\npath = b\n", 14,
     "path is set twice in [backend net]", 1},
};
ERROR_CASE_TEST(test_key_set_twice, key_twice_cases)

static const struct error_case syntax_cases[] = {
    {VALID "garbage without equals\n", 10, "syntax error", 1},
    {VALID "[frontend domu2\ndomid = 2\n", 10, "syntax error", 1},
};
ERROR_CASE_TEST(test_syntax_error, syntax_cases)

static const struct error_case device_model_cases[] = {
    {VALID "[backend qemu]\nprobe = device-model\n", 10,
     "backend qemu: probe = device-model needs frontend = NAME", 1},
    {VALID "[backend qemu]\nprobe = device-model\nfrontend = ghost\n", 12,
     "backend qemu refers to unknown frontend \"ghost\"", 1},
};
ERROR_CASE_TEST(test_device_model_probe, device_model_cases)

/* A key the backend's probe does not take is reported at its own line (keys
 * may come before probe =), with exactly this message, once. */
static const struct error_case refused_key_cases[] = {
    {VALID "[backend qemu]\n"              /* 10 */
           "probe = device-model\n"        /* 11 */
           "frontend = domu1\n"            /* 12 */
           "path = a/b\n",                 /* 13 */
     13, "backend qemu: path = is not for probe = device-model, which sets path and value "
         "itself; use probe = xenstore to choose them", 1},
    {VALID "[backend qemu]\n"              /* 10 */
           "value = running\n"             /* 11 */
           "probe = device-model\n"        /* 12 */
           "frontend = domu1\n",           /* 13 */
     11, "backend qemu: value = is not for probe = device-model, which sets path and value "
         "itself; use probe = xenstore to choose them", 1},
    {VALID "[backend net]\n"               /* 10 */
           "probe = xenstore\n"            /* 11 */
           "path = a/b\n"                  /* 12 */
           "value = 4\n"                   /* 13 */
           "frontend = domu1\n",           /* 14 */
     14, "backend net: frontend = is only for probe = device-model", 1},
    {VALID "[backend net]\n"               /* 10 */
           "frontend = domu1\n"            /* 11 */
           "probe = socket\n"              /* 12 */
           "path = /run/net.sock\n",       /* 13 */
     11, "backend net: frontend = is only for probe = device-model", 1},
    {VALID "[backend net]\n"               /* 10 */
           "probe = unit\n"                /* 11 */
           "unit = net.service\n"          /* 12 */
           "value = 4\n",                  /* 13 */
     13, "backend net: value = is only for probe = xenstore", 1},
    {VALID "[backend net]\n"               /* 10 */
           "probe = unit\n"                /* 11 */
           "path = backend/net\n"          /* 12 */
           "unit = net.service\n",         /* 13 */
     12, "backend net: path = is only for probe = socket and probe = xenstore", 1},
    {VALID "[backend net]\n"               /* 10 */
           "unit = net.service\n"          /* 11 */
           "probe = xenstore\n"            /* 12 */
           "path = a/b\n"                  /* 13 */
           "value = 4\n",                  /* 14 */
     11, "backend net: unit = is only for probe = unit (liveness-unit = works with any probe)",
     1},
    {VALID "[backend net]\n"               /* 10 */
           "probe = xenstore\n"            /* 11 */
           "owner = uid:0\n"               /* 12 */
           "path = a/b\n"                  /* 13 */
           "value = 4\n",                  /* 14 */
     12, "backend net: owner = is only for probe = announce and probe = socket", 1},
    {VALID "[backend net]\n"               /* 10 */
           "probe = socket\n"              /* 11 */
           "path = /run/net.sock\n"        /* 12 */
           "owner = unit:net.service\n",   /* 13 */
     13, "backend net: a socket's owner = is uid:NUMBER (who must own the socket file)", 1},
    {VALID "[backend net]\n"               /* 10 */
           "follow-symlink = yes\n"        /* 11 */
           "probe = announce\n"            /* 12 */
           "owner = uid:0\n",              /* 13 */
     11, "backend net: follow-symlink = is only for probe = socket", 1},
    {VALID "[backend net]\n"               /* 10 */
           "probe = socket\n"              /* 11 */
           "pidfile = /run/net.pid\n"      /* 12 */
           "path = /run/net.sock\n"        /* 13 */
           "liveness-unit = net.service\n", /* 14 */
     14, "backend net: use pidfile = or liveness-unit = for liveness, not both", 1},
};

START_TEST(test_refused_key)
{
    if (!XENREADY_WITH_SYSTEMD && config_needs_systemd(refused_key_cases[_i].config)) {
        printf("refused_key case %d: skipped: " WITHOUT_SYSTEMD_REASON "\n", _i);
        return;
    }
    load_string(refused_key_cases[_i].config);
    assert_invalid(refused_key_cases[_i].errors);
    assert_exact_error(MAIN, refused_key_cases[_i].line, refused_key_cases[_i].message);
}
END_TEST

/* Each refused key at its own line: both of device-model's. */
START_TEST(test_refused_keys_each_at_its_line)
{
    load_string(VALID "[backend qemu]\n"         /* 10 */
                      "path = a/b\n"             /* 11 */
                      "probe = device-model\n"   /* 12 */
                      "value = 4\n"              /* 13 */
                      "frontend = domu1\n");     /* 14 */
    assert_invalid(2);
    assert_exact_error(MAIN, 11, "backend qemu: path = is not for probe = device-model, which "
                                 "sets path and value itself; use probe = xenstore to choose them");
    assert_exact_error(MAIN, 13, "backend qemu: value = is not for probe = device-model, which "
                                 "sets path and value itself; use probe = xenstore to choose them");
}
END_TEST

/* An unknown probe is reported once, at its line; the backend has no kind,
 * so nothing is said about what xenstore (or any other kind) would need. */
START_TEST(test_unknown_probe_alone)
{
    load_string(VALID "[backend qemu]\n"   /* 10 */
                      "probe = qemu\n");   /* 11 */
    assert_invalid(1);
    assert_exact_error(MAIN, 11, "unknown probe \"qemu\" for backend qemu (known: xenstore, "
                                 "device-model, socket, unit, announce, xenready)");
    assert_not_reported("needs");

    /* Nor about the keys it has, which no kind can judge. */
    load_string(VALID "[backend qemu]\n"          /* 10 */
                      "frontend = domu1\n"        /* 11 */
                      "probe = qemu\n"            /* 12 */
                      "path = device-model/1\n"   /* 13 */
                      "owner = uid:0\n");         /* 14 */
    assert_invalid(1);
    assert_exact_error(MAIN, 12, "unknown probe \"qemu\" for backend qemu (known: xenstore, "
                                 "device-model, socket, unit, announce, xenready)");
}
END_TEST

static const struct error_case xenstore_probe_cases[] = {
    {VALID "[backend net]\nprobe = xenstore\nvalue = 4\n", 10,
     "backend net: probe = xenstore needs path = XENSTORE-PATH", 1},
    {VALID "[backend net]\nprobe = xenstore\npath = a/b\n", 10,
     "backend net: probe = xenstore needs value = EXPECTED-VALUE", 1},
    {VALID "[backend net]\nprobe = xenstore\n", 10, "needs path", 2},
    {VALID "[backend net]\nprobe = xenstore\n", 10, "needs value", 2},
    {VALID "[backend net]\npath = a/b\nvalue = 4\n", 10, "backend net has no probe", 1},
    {VALID "[backend net]\nprobe = ping\npath = a/b\nvalue = 4\n", 11,
     "unknown probe \"ping\" for backend net", 1},
};
ERROR_CASE_TEST(test_xenstore_probe, xenstore_probe_cases)

static const char *const bad_paths[] = {
    "/local/domain/0/bad path", "a//b", "a/b/", "/", "a$b", "../state", "a.b", "a\\b",
};

START_TEST(test_bad_xenstore_path)
{
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config,
                              VALID "[backend net]\n"   /* 10 */
                                    "probe = xenstore\n"
                                    "path = %s\n"        /* 12 */
                                    "value = 4\n",
                              bad_paths[_i]), 0);
    load_string(config);
    free(config);
    /* Reported where it stands, and not as missing too. */
    assert_invalid(1);
    char message[128];
    snprintf(message, sizeof(message), "bad xenstore path \"%s\" for backend net", bad_paths[_i]);
    assert_error(MAIN, 12, message);

    /* Before probe =, it is checked once the probe is known. */
    ck_assert_int_ge(asprintf(&config,
                              VALID "[backend net]\n"   /* 10 */
                                    "path = %s\n"        /* 11 */
                                    "probe = xenstore\n"
                                    "value = 4\n",
                              bad_paths[_i]), 0);
    load_string(config);
    free(config);
    assert_invalid(1);
    assert_error(MAIN, 11, message);
}
END_TEST

START_TEST(test_empty_xenstore_path)
{
    load_string(VALID "[backend net]\nprobe = xenstore\npath =\nvalue = 4\n");
    assert_invalid(1);
    assert_error(MAIN, 12, "bad xenstore path \"\" for backend net");
}
END_TEST

/* ---- the line reader ---- */

/* An over-long line is refused at its number, not cut; later lines keep
 * their numbers. */
START_TEST(test_long_line_rejected)
{
    char *value = repeat('v', 5000);
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config,
                              VALID "[backend big]\n"       /* 10 */
                                    "probe = xenstore\n"    /* 11 */
                                    "path = big\n"          /* 12 */
                                    "value = %s\n"          /* 13 */
                                    "[frontend domu2]\n"    /* 14 */
                                    "domid = 2\n"           /* 15 */
                                    "bogus = 1\n",          /* 16 */
                              value), 0);
    free(value);
    load_string(config);
    free(config);
    assert_invalid(0);
    char limit[64];
    snprintf(limit, sizeof(limit), "the limit is %d", LINE_LIMIT);
    assert_error(MAIN, 13, limit);
    /* the value was not kept, truncated or otherwise */
    assert_error(MAIN, 10, "backend big: probe = xenstore needs value");
    assert_error(MAIN, 16, "unknown key \"bogus\" in [frontend domu2]");
}
END_TEST

/* The message counts a line's characters the way the limit does: without
 * its newline (a 4095-character line is one over a limit of 4094). */
START_TEST(test_long_line_message)
{
    char *comment = repeat('c', LINE_LIMIT + 1 - 2);
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config, VALID "# %s\n", comment), 0);
    free(comment);
    load_string(config);
    free(config);
    assert_invalid(1);
    char message[128];
    snprintf(message, sizeof(message), "line is %d characters long; the limit is %d",
             LINE_LIMIT + 1, LINE_LIMIT);
    assert_error(MAIN, 10, message);
}
END_TEST

/* Exactly at the limit is fine; one more character is not. */
START_TEST(test_line_limit_boundary)
{
    char *comment = repeat('c', LINE_LIMIT - 2);
    char *config = NULL;
    ck_assert_int_ge(asprintf(&config, VALID "# %s\n", comment), 0);
    load_string(config);
    assert_loaded();
    model_free(model);
    model = NULL;
    free(config);

    ck_assert_int_ge(asprintf(&config, VALID "# %sc\n", comment), 0);
    free(comment);
    load_string(config);
    free(config);
    assert_invalid(1);
    assert_error(MAIN, 10, "line is");
}
END_TEST

START_TEST(test_nul_byte_rejected)
{
    static const char config[] = VALID
        "[frontend domu2]\n"          /* 10 */
        "domid = 2\0 hidden\n"        /* 11 */
        "bogus = 1\n";                /* 12 */
    write_bytes(MAIN, config, sizeof(config) - 1);
    load(MAIN, NULL);
    assert_invalid(0);
    assert_error(MAIN, 11, "NUL byte");
    assert_error(MAIN, 12, "unknown key \"bogus\"");
    assert_not_reported("hidden");
}
END_TEST

/* ---- files: what they are, who may write them, how large ---- */

/* The limit of a file's size: 1 MiB. */
#define FILE_LIMIT (1024 * 1024)

/* The report has exactly the line "<dir>/NAME: error: MESSAGE" (no line). */
static void assert_file_error(const char *name, const char *message)
{
    char expected[PATH_MAX + 256];
    snprintf(expected, sizeof(expected), "%s: error: %s", path_of(name), message);
    for (size_t i = 0; i < report.line_count; i++)
        if (strcmp(report.lines[i], expected) == 0)
            return;
    ck_abort_msg("expected the line \"%s\" in the report:\n%s", expected, report_text());
}

/* A refused file fails the load with -EINVAL and this one error; nothing is
 * taken (load() checked that there is no model). */
static void assert_refused(const char *name, const char *message)
{
    assert_invalid(1);
    assert_file_error(name, message);
}

static void make_dir(const char *name, mode_t mode)
{
    if (mkdir(path_of(name), mode) < 0)
        ck_assert_int_eq(errno, EEXIST);
    ck_assert_int_eq(chmod(path_of(name), mode), 0);
}

/* A valid main file and an empty drop-in directory, for a bad drop-in. */
static void write_valid_main(void)
{
    write_file(MAIN, VALID);
    make_dir(DROPINS, 0755);
}

/* inotify on name for IN_ACCESS: whether the loader read it at all. */
static int watch_reads(const char *name)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(inotify_add_watch(fd, path_of(name), IN_ACCESS), 0);
    return fd;
}

static void assert_not_read(int watch, const char *name)
{
    char events[4096];
    ssize_t n = read(watch, events, sizeof(events));
    ck_assert_msg(n < 0 && errno == EAGAIN, "%s was read before it was refused", name);
    close(watch);
}

/* A FIFO would block open() until a writer comes, and read() after it: the
 * load must return at once (or the test times out). */
START_TEST(test_dropin_fifo)
{
    write_valid_main();
    ck_assert_int_eq(mkfifo(path_of(DROPINS "/20-x.conf"), 0644), 0);
    load(MAIN, DROPINS);
    assert_refused(DROPINS "/20-x.conf", "is a FIFO, not a regular file");
}
END_TEST

/* It used to read as an empty file: "configuration OK". */
START_TEST(test_dropin_directory)
{
    write_valid_main();
    make_dir(DROPINS "/30-x.conf", 0755);
    load(MAIN, DROPINS);
    assert_refused(DROPINS "/30-x.conf", "is a directory, not a regular file");
}
END_TEST

START_TEST(test_dropin_socket)
{
    write_valid_main();
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", path_of(DROPINS "/40-x.conf"));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    close(fd);
    load(MAIN, DROPINS);
    assert_refused(DROPINS "/40-x.conf", "is a socket, not a regular file");
}
END_TEST

/* Symbolic links are followed, as systemd does: to a regular file that passes
 * the same checks, which the model knows by the link's name. */
START_TEST(test_dropin_symlink_followed)
{
    write_file("elsewhere", VALID);
    make_dir(DROPINS, 0755);
    ck_assert_int_eq(symlink(path_of("elsewhere"), path_of(DROPINS "/50-all.conf")), 0);
    load(MAIN, DROPINS);
    assert_loaded();
    ck_assert_uint_eq(model->file_count, 1);
    ck_assert_str_eq(model->files[0], path_of(DROPINS "/50-all.conf"));
}
END_TEST

START_TEST(test_dropin_symlink_target_checked)
{
    write_valid_main();
    ck_assert_int_eq(symlink(path_of(DROPINS), path_of(DROPINS "/50-dir.conf")), 0);
    write_file("elsewhere", "[frontend domu2]\ndomid = 2\n");
    ck_assert_int_eq(chmod(path_of("elsewhere"), 0666), 0);
    ck_assert_int_eq(symlink(path_of("elsewhere"), path_of(DROPINS "/60-shared.conf")), 0);
    load(MAIN, DROPINS);
    assert_invalid(2);
    assert_file_error(DROPINS "/50-dir.conf", "is a directory, not a regular file");
    assert_file_error(DROPINS "/60-shared.conf", "writable by others (mode 0666); chmod go-w it");
}
END_TEST

/* Hidden files are ignored as before, whatever they are: not even opened. */
START_TEST(test_hidden_dropin_ignored)
{
    write_valid_main();
    ck_assert_int_eq(mkfifo(path_of(DROPINS "/.20-x.conf"), 0644), 0);
    load(MAIN, DROPINS);
    assert_loaded();
}
END_TEST

/* Every bad entry is reported, and none of the files is parsed. */
START_TEST(test_dropin_problems_all_reported)
{
    write_valid_main();
    write_file(DROPINS "/10-ok.conf", "bogus = 1\n");
    ck_assert_int_eq(mkfifo(path_of(DROPINS "/20-x.conf"), 0644), 0);
    make_dir(DROPINS "/30-x.conf", 0755);
    ck_assert_int_eq(symlink("nowhere", path_of(DROPINS "/40-x.conf")), 0);
    load(MAIN, DROPINS);
    ck_assert_int_eq(load_result, -EINVAL);
    ck_assert_uint_eq(report.error_count, 3);
    assert_file_error(DROPINS "/20-x.conf", "is a FIFO, not a regular file");
    assert_file_error(DROPINS "/30-x.conf", "is a directory, not a regular file");
    assert_file_error(DROPINS "/40-x.conf", "cannot open: No such file or directory");
    assert_not_reported("bogus");
}
END_TEST

START_TEST(test_dropin_writable_by_others)
{
    write_valid_main();
    write_file(DROPINS "/10-x.conf", "[frontend domu2]\ndomid = 2\n");
    ck_assert_int_eq(chmod(path_of(DROPINS "/10-x.conf"), 0666), 0);
    load(MAIN, DROPINS);
    assert_refused(DROPINS "/10-x.conf", "writable by others (mode 0666); chmod go-w it");
}
END_TEST

START_TEST(test_dropin_writable_by_group)
{
    write_valid_main();
    write_file(DROPINS "/10-x.conf", "[frontend domu2]\ndomid = 2\n");
    ck_assert_int_eq(chmod(path_of(DROPINS "/10-x.conf"), 0620), 0);
    load(MAIN, DROPINS);
    assert_refused(DROPINS "/10-x.conf", "writable by its group (mode 0620); chmod go-w it");
}
END_TEST

/* Needs root (to give the file away); tests run as root here. */
START_TEST(test_dropin_foreign_owner)
{
    write_valid_main();
    write_file(DROPINS "/10-x.conf", "[frontend domu2]\ndomid = 2\n");
    if (geteuid() != 0 || chown(path_of(DROPINS "/10-x.conf"), 65534, 65534) < 0) {
        printf("dropin_foreign_owner: cannot chown to uid 65534 (not root?): not checked\n");
        return;
    }
    load(MAIN, DROPINS);
    assert_refused(DROPINS "/10-x.conf", "owned by uid 65534, not root; chown root it");
}
END_TEST

/* Whoever may write the directory may add a drop-in: refused before any
 * file is read. */
START_TEST(test_dropin_directory_writable)
{
    write_valid_main();
    write_file(DROPINS "/10-x.conf", "bogus = 1\n");
    ck_assert_int_eq(chmod(path_of(DROPINS), 0777), 0);
    load(MAIN, DROPINS);
    assert_refused(DROPINS, "writable by others (mode 0777); chmod go-w it");
    assert_not_reported("bogus");
}
END_TEST

START_TEST(test_main_fifo)
{
    ck_assert_int_eq(mkfifo(path_of(MAIN), 0644), 0);
    load(MAIN, NULL);
    assert_refused(MAIN, "is a FIFO, not a regular file");
}
END_TEST

START_TEST(test_main_writable_by_others)
{
    write_file(MAIN, VALID);
    ck_assert_int_eq(chmod(path_of(MAIN), 0646), 0);
    load(MAIN, NULL);
    assert_refused(MAIN, "writable by others (mode 0646); chmod go-w it");
}
END_TEST

/* One line of 2 MiB without a newline: refused by its size, before a byte of
 * it is read (it used to be read whole into one line buffer). */
START_TEST(test_file_too_large)
{
    char *line = repeat('x', 2 * FILE_LIMIT);
    write_file(MAIN, line);
    free(line);
    int watch = watch_reads(MAIN);
    load(MAIN, NULL);
    assert_refused(MAIN, "is larger than 1 MiB");
    assert_not_read(watch, MAIN);
}
END_TEST

/* The report's case: a 200 MB line (sparse, so that it costs no disk). */
START_TEST(test_huge_line_not_read)
{
    write_file(MAIN, "# ");
    ck_assert_int_eq(truncate(path_of(MAIN), 200 * 1000 * 1000), 0);
    int watch = watch_reads(MAIN);
    load(MAIN, NULL);
    assert_refused(MAIN, "is larger than 1 MiB");
    assert_not_read(watch, MAIN);
}
END_TEST

/* Exactly 1 MiB loads; one byte more does not. */
START_TEST(test_file_size_limit)
{
    char *text = repeat('#', FILE_LIMIT + 1);
    memcpy(text, VALID, strlen(VALID));
    for (size_t i = strlen(VALID) + 999; i < FILE_LIMIT; i += 1000)
        text[i] = '\n';    /* comment lines of '#' */
    text[FILE_LIMIT - 1] = '\n';
    write_bytes(MAIN, text, FILE_LIMIT);
    load(MAIN, NULL);
    assert_loaded();
    model_free(model);
    model = NULL;

    write_bytes(MAIN, text, FILE_LIMIT + 1);
    free(text);
    load(MAIN, NULL);
    assert_refused(MAIN, "is larger than 1 MiB");
}
END_TEST

/* A file larger than its st_size said, as one that grows while it is read:
 * /proc/kallsyms has st_size 0 and several MiB. Reading stops at the limit. */
START_TEST(test_file_growing_refused)
{
    int fd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
    static char chunk[65536];
    size_t total = 0;
    for (ssize_t n; fd >= 0 && total <= FILE_LIMIT && (n = read(fd, chunk, sizeof(chunk))) > 0;)
        total += (size_t)n;
    if (fd >= 0)
        close(fd);
    if (total <= FILE_LIMIT) {
        printf("file_growing_refused: /proc/kallsyms is not over 1 MiB here: not checked\n");
        return;
    }
    ck_assert_int_eq(symlink("/proc/kallsyms", path_of(MAIN)), 0);
    load(MAIN, NULL);
    assert_refused(MAIN, "is larger than 1 MiB");
}
END_TEST

/* A read error names the file and fails the load with its errno, never "OK":
 * reading /proc/self/mem at address 0 fails with EIO. */
START_TEST(test_read_error)
{
    ck_assert_int_eq(symlink("/proc/self/mem", path_of(MAIN)), 0);
    load(MAIN, NULL);
    ck_assert_msg(load_result == -EIO, "load returned %d, expected -EIO:\n%s", load_result,
                  report_text());
    ck_assert_uint_eq(report.error_count, 1);
    assert_file_error(MAIN, "cannot read: Input/output error");
}
END_TEST

/* ---- signal methods (evtchn, static-evtchn, sysrq, unpause) ---- */

START_TEST(test_signal_methods_combined)
{
    load_string(VALID
                "signal = evtchn static-evtchn sysrq\n"   /* 10 */
                "static-evtchn-port = 7\n"
                "sysrq-key = x\n");
    assert_loaded();
    const struct bridge *bridge = model_find_bridge(model, "domu1/pcie0");
    /* evtchn implies the xenstore node: the port is published there. */
    ck_assert_uint_eq(bridge->signal_methods,
                      SIGNAL_XENSTORE | SIGNAL_EVTCHN | SIGNAL_STATIC_EVTCHN | SIGNAL_SYSRQ);
    ck_assert_uint_eq(bridge->static_evtchn_port, 7);
    ck_assert_int_eq(bridge->sysrq_key, 'x');
}
END_TEST

START_TEST(test_static_evtchn_alone)
{
    load_string(VALID "signal = static-evtchn\nstatic-evtchn-port = 131071\n");
    assert_loaded();
    ck_assert_uint_eq(model_find_bridge(model, "domu1/pcie0")->signal_methods,
                      SIGNAL_STATIC_EVTCHN);
}
END_TEST

static const struct error_case signal_cases[] = {
    {VALID "signal = static-evtchn\n", 10, "signal = static-evtchn needs static-evtchn-port", 1},
    {VALID "signal = sysrq\n", 10, "signal = sysrq needs sysrq-key", 1},
    {VALID "signal = static-evtchn\nstatic-evtchn-port = 0\n", 11, "bad static-evtchn-port \"0\"", 1},
    {VALID "signal = static-evtchn\nstatic-evtchn-port = 131072\n", 11, "bad static-evtchn-port", 1},
    {VALID "signal = static-evtchn\nstatic-evtchn-port = 7x\n", 11, "bad static-evtchn-port", 1},
    {VALID "signal = sysrq\nsysrq-key = ab\n", 11, "bad sysrq-key \"ab\"", 1},
    {VALID "signal = sysrq\nsysrq-key =  \n", 11, "bad sysrq-key", 0},
    {VALID "static-evtchn-port = 7\n", 10, "static-evtchn-port is only for signal = static-evtchn", 1},
    {VALID "signal = evtchn\nsysrq-key = x\n", 11, "sysrq-key is only for signal = sysrq", 1},
    {VALID "signal = xenstore pigeon\n", 10,
     "unknown signal method \"pigeon\" for bridge domu1/pcie0 (known: xenstore, evtchn, "
     "static-evtchn, sysrq, unpause)", 1},
    {VALID "signal = static-evtchn\nstatic-evtchn-port = 7\nstatic-evtchn-port = 8\n", 12,
     "static-evtchn-port is set twice", 1},
    {VALID "signal = static-evtchn\n"                     /* 10 */
           "static-evtchn-port = 7\n"                     /* 11 */
           "[bridge domu1/pcie1]\n"                       /* 12 */
           "device-tree-path = /pcie@20000000\n"          /* 13 */
           "backends = disk\n"                            /* 14 */
           "signal = static-evtchn\n"                     /* 15 */
           "static-evtchn-port = 7\n",                    /* 16 */
     16, "static-evtchn-port 7 is already used by bridge domu1/pcie0 at ", 1},
};
ERROR_CASE_TEST(test_signal_errors, signal_cases)

/* ---- a build without systemd ---- */

/* Every use of what a build without systemd leaves out, one per backend. */
static const char unit_keys[] =
    VALID "[backend i2c]\n"                        /* 10 */
          "probe = unit\n"                         /* 11 */
          "unit = vhost-device-i2c.service\n"      /* 12 */
          "[backend gpio]\n"                       /* 13 */
          "probe = announce\n"                     /* 14 */
          "owner = unit:vhost-device-gpio.service\n" /* 15 */
          "[backend qemu]\n"                       /* 16 */
          "probe = socket\n"                       /* 17 */
          "path = /run/qemu.sock\n"                /* 18 */
          "liveness-unit = qemu.service\n"         /* 19 */
          "[bridge domu1/pcie1]\n"                 /* 20 */
          "device-tree-path = /pcie@20000000\n"    /* 21 */
          "backends = i2c gpio qemu\n";            /* 22 */

#define NEEDS_SYSTEMD \
    "needs a xenreadyd built with systemd (-DXENREADY_SYSTEMD=ON); this one was built without it"

/* Without systemd (XENREADY_WITH_SYSTEMD 0) there is no unit probe, unit
 * liveness or unit owner: each use is an error at its own line, and
 * nothing more is said of that backend (the unit = of a probe = unit is
 * not refused besides, nothing is missing). --check-config and a reload
 * use the same loader. With systemd, the same configuration loads. */
START_TEST(test_unit_keys_need_systemd)
{
    load_string(unit_keys);
    if (XENREADY_WITH_SYSTEMD) {
        assert_loaded();
        ck_assert_int_eq(model_find_backend(model, "i2c")->probe, PROBE_UNIT);
        ck_assert_int_eq(model_find_backend(model, "gpio")->owner, OWNER_UNIT);
        ck_assert_str_eq(model_find_backend(model, "qemu")->liveness_unit, "qemu.service");
        return;
    }
    assert_invalid(3);
    assert_exact_error(MAIN, 11, "backend i2c: probe = unit " NEEDS_SYSTEMD
                                 " (probe = socket or announce instead?)");
    assert_exact_error(MAIN, 15, "backend gpio: owner = unit:NAME " NEEDS_SYSTEMD
                                 " (owner = uid:NUMBER instead?)");
    assert_exact_error(MAIN, 19, "backend qemu: liveness-unit = " NEEDS_SYSTEMD
                                 " (pidfile = instead?)");
}
END_TEST

/* The same in a drop-in, at the drop-in's own line: as a reload of a
 * configuration that adds one would see it. */
START_TEST(test_unit_keys_need_systemd_in_dropin)
{
    write_file(MAIN, VALID);
    write_file(DROPINS "/units.conf", "[backend i2c]\n"         /* 1 */
                                        "probe = unit\n"        /* 2 */
                                        "unit = i2c.service\n"  /* 3 */
                                        "[bridge domu1/pcie1]\n" /* 4 */
                                        "device-tree-path = /pcie@20000000\n"
                                        "backends = i2c\n");
    load(MAIN, DROPINS);
    if (XENREADY_WITH_SYSTEMD) {
        assert_loaded();
        return;
    }
    assert_invalid(1);
    assert_exact_error(DROPINS "/units.conf", 2, "backend i2c: probe = unit " NEEDS_SYSTEMD
                                                  " (probe = socket or announce instead?)");
}
END_TEST

/* ---- whether the model needs xenstore at all ---- */

/* A bridge on a static event channel whose backends are a vhost-user socket,
 * a unit and an announcement: nothing in it goes through xenstore. Cases
 * append to it (a bridge's own keys first). Without systemd, another
 * announcement stands in for the unit. */
#if XENREADY_WITH_SYSTEMD
#define XENSTORE_FREE_UNIT "[backend dm]\nprobe = unit\nunit = virtio-disk@domu1.service\n"
#else
#define XENSTORE_FREE_UNIT "[backend dm]\nprobe = announce\nowner = uid:0\n"
#endif
#define XENSTORE_FREE                                \
    "[frontend domu1]\ndomid = 1\n"                 \
    "[backend net]\nprobe = socket\npath = /run/vhost/net.sock\n" \
    XENSTORE_FREE_UNIT \
    "[backend gpu]\nprobe = announce\nowner = uid:0\n" \
    "[backend unused]\nprobe = xenstore\npath = backend/x\nvalue = 4\n" \
    "[bridge domu1/mmio0]\ndevice-tree-path = /virtio@2000000\nbackends = net dm gpu\n"

static const struct {
    const char *text;
    bool needs;
} needs_xenstore_cases[] = {
    /* A xenstore backend no bridge uses does not count. */
    {XENSTORE_FREE "signal = static-evtchn\nstatic-evtchn-port = 10\n", false},
    /* The default signal is the xenstore node. */
    {XENSTORE_FREE, true},
    {XENSTORE_FREE "signal = static-evtchn sysrq\nstatic-evtchn-port = 10\nsysrq-key = r\n", true},
    {XENSTORE_FREE "signal = evtchn\n", true},
    {XENSTORE_FREE "signal = static-evtchn\nstatic-evtchn-port = 10\n"
                   "[bridge domu1/mmio1]\ndevice-tree-path = /virtio@2001000\nbackends = unused\n"
                   "signal = static-evtchn\nstatic-evtchn-port = 11\n", true},
    {XENSTORE_FREE "signal = static-evtchn\nstatic-evtchn-port = 10\n"
                   "[backend qemu]\nprobe = device-model\nfrontend = domu1\n"
                   "[bridge domu1/mmio1]\ndevice-tree-path = /virtio@2001000\nbackends = qemu\n"
                   "signal = static-evtchn\nstatic-evtchn-port = 11\n", true},
};

START_TEST(test_needs_xenstore)
{
    load_string(needs_xenstore_cases[_i].text);
    assert_loaded();
    ck_assert_msg(model_needs_xenstore(model) == needs_xenstore_cases[_i].needs,
                  "case %d: model_needs_xenstore() is %d", _i, !needs_xenstore_cases[_i].needs);
}
END_TEST

/* ---- a guest held paused: probe = xenready, signal = unpause ---- */

/* A backend that is another daemon's bridge, and a bridge that only holds
 * its guest paused; appended to VALID (lines from 10 on). */
#define HELD                                        \
    "[backend storage]\n"                 /* 10 */ \
    "probe = xenready\n"                  /* 11 */ \
    "bridge = domu1/pcie0\n"              /* 12 */ \
    "publisher = 2\n"                     /* 13 */ \
    "[bridge domu1/held]\n"               /* 14 */ \
    "backends = storage\n"                /* 15 */

START_TEST(test_held_keys_parse)
{
    load_string(VALID HELD "signal = unpause\ntimeout = 5\nunpause-on-timeout = yes\n"
                           "[bridge domu1/held2]\nbackends = storage\nsignal = unpause\n");
    assert_loaded();
    ck_assert_msg(report.line_count == 0, "unexpected report:\n%s", report_text());
    const struct backend *backend = model_find_backend(model, "storage");
    ck_assert_int_eq(backend->probe, PROBE_XENREADY);
    /* The node the publisher writes, in the frontend's home (domid 1). */
    ck_assert_str_eq(backend->xenready_node, "/local/domain/1/xenready/pcie0");
    ck_assert_uint_eq(backend->publisher_domid, 2);
    const struct bridge *bridge = model_find_bridge(model, "domu1/held");
    ck_assert_uint_eq(bridge->signal_methods, SIGNAL_UNPAUSE);
    /* A guest held paused is told nothing: no path needed. */
    ck_assert_ptr_null(bridge->device_tree_path);
    ck_assert(bridge->unpause_on_timeout);
    ck_assert_uint_eq(bridge->timeout_seconds, 5);
    /* The default: keep it paused past the timeout. */
    ck_assert(!model_find_bridge(model, "domu1/held2")->unpause_on_timeout);
}
END_TEST

/* Combined with other methods, and the publisher's limits. */
START_TEST(test_held_keys_combined)
{
    load_string(VALID "[backend storage]\nprobe = xenready\nbridge = domu1/pcie0\n"
                      "publisher = 32751\n"
                      "[backend dom0]\nprobe = xenready\nbridge = domu1/pcie0\npublisher = 0\n"
                      "[bridge domu1/held]\ndevice-tree-path = /pcie@20000000\n"
                      "backends = storage dom0\nsignal = evtchn unpause\ntimeout = 2\n"
                      "unpause-on-timeout = no\n");
    assert_loaded();
    ck_assert_uint_eq(model_find_backend(model, "storage")->publisher_domid, 32751);
    ck_assert_uint_eq(model_find_backend(model, "dom0")->publisher_domid, 0);
    const struct bridge *bridge = model_find_bridge(model, "domu1/held");
    ck_assert_uint_eq(bridge->signal_methods, SIGNAL_XENSTORE | SIGNAL_EVTCHN | SIGNAL_UNPAUSE);
    ck_assert(!bridge->unpause_on_timeout);
}
END_TEST

static const struct error_case held_cases[] = {
    /* What probe = xenready needs, at its section. */
    {VALID "[backend storage]\nprobe = xenready\npublisher = 2\n"
           "[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 10,
     "backend storage: probe = xenready needs bridge = FRONTEND/ID", 1},
    {VALID "[backend storage]\nprobe = xenready\nbridge = domu1/pcie0\n"
           "[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 10,
     "backend storage: probe = xenready needs publisher = DOMID", 1},
    /* Bad bridge = values, at their line. */
    {VALID HELD "signal = unpause\n[backend s2]\nprobe = xenready\nbridge = pcie0\n"
                "publisher = 2\n", 19,
     "bad bridge \"pcie0\" for backend s2: expected FRONTEND/ID", 0},
    {VALID "[backend storage]\nprobe = xenready\nbridge = domu1/\npublisher = 2\n"
           "[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 12,
     "bad bridge \"domu1/\" for backend storage", 1},
    {VALID "[backend storage]\nprobe = xenready\nbridge = /pcie0\npublisher = 2\n"
           "[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 12,
     "bad bridge \"/pcie0\" for backend storage", 1},
    {VALID "[backend storage]\nprobe = xenready\nbridge = domu1/pcie0/x\npublisher = 2\n"
           "[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 12,
     "bad bridge \"domu1/pcie0/x\" for backend storage", 1},
    {VALID "[backend storage]\nprobe = xenready\nbridge = domu1/pc.ie0\npublisher = 2\n"
           "[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 12,
     "bad bridge \"domu1/pc.ie0\" for backend storage", 1},
    /* The frontend must be one of this daemon's: its domid names the node. */
    {VALID "[backend storage]\nprobe = xenready\nbridge = domu9/pcie0\npublisher = 2\n"
           "[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 12,
     "backend storage refers to unknown frontend \"domu9\" (define it with its domid)", 1},
    /* The publisher is a domid. */
    {VALID "[backend storage]\nprobe = xenready\nbridge = domu1/pcie0\npublisher = 32752\n"
           "[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 13,
     "bad publisher \"32752\" for backend storage: expected the domid of the domain whose "
     "xenreadyd publishes the bridge, 0 to 32751", 0},
    {VALID "[backend storage]\nprobe = xenready\nbridge = domu1/pcie0\npublisher = -1\n"
           "[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 13,
     "bad publisher \"-1\"", 0},
    {VALID "[backend storage]\nprobe = xenready\nbridge = domu1/pcie0\npublisher = 2x\n"
           "[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 13,
     "bad publisher \"2x\"", 0},
    {VALID "[backend storage]\nprobe = xenready\nbridge = domu1/pcie0\npublisher = domd\n"
           "[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 13,
     "bad publisher \"domd\"", 0},
    {VALID "[backend storage]\nprobe = xenready\nbridge = domu1/pcie0\npublisher = 2\n"
           "publisher = 3\n[bridge domu1/held]\nbackends = storage\nsignal = unpause\n", 14,
     "publisher is set twice", 1},
    /* unpause-on-timeout: only for signal = unpause, only with a timeout. */
    {VALID "unpause-on-timeout = yes\n", 10,
     "bridge domu1/pcie0: unpause-on-timeout is only for signal = unpause", 1},
    {VALID "timeout = 5\nunpause-on-timeout = no\n", 11,
     "bridge domu1/pcie0: unpause-on-timeout is only for signal = unpause", 1},
    {VALID HELD "signal = unpause\nunpause-on-timeout = yes\n", 17,
     "bridge domu1/held: unpause-on-timeout = yes needs timeout = SECONDS", 1},
    {VALID HELD "signal = unpause\ntimeout = 5\nunpause-on-timeout = maybe\n", 18,
     "bad unpause-on-timeout \"maybe\" for bridge domu1/held: expected yes or no", 0},
    {VALID HELD "signal = unpause\ntimeout = 5\nunpause-on-timeout = no\n"
                "unpause-on-timeout = yes\n", 19, "unpause-on-timeout is set twice", 1},
    /* The path is still needed when anything else tells the guest. */
    {VALID HELD "signal = xenstore unpause\n", 14,
     "bridge domu1/held has no device-tree-path", 1},
    {VALID HELD "signal = evtchn unpause\n", 14, "bridge domu1/held has no device-tree-path", 1},
    {VALID HELD "", 14, "bridge domu1/held has no device-tree-path", 1},
    {VALID HELD "signal = unpause sysrq\nsysrq-key = x\n", 14,
     "bridge domu1/held has no device-tree-path", 1},
};
ERROR_CASE_TEST(test_held_errors, held_cases)

/* bridge = and publisher = under another probe: each refused at its own
 * line, nothing else said. */
START_TEST(test_held_keys_refused_under_other_probes)
{
    load_string(VALID "[backend net]\n"                 /* 10 */
                      "probe = xenstore\n"              /* 11 */
                      "path = backend/vif/1/0/state\n"  /* 12 */
                      "value = 4\n"                     /* 13 */
                      "bridge = domu1/pcie0\n"          /* 14 */
                      "publisher = 2\n"                 /* 15 */
                      "[backend qemu]\n"                /* 16 */
                      "probe = device-model\n"          /* 17 */
                      "frontend = domu1\n"              /* 18 */
                      "publisher = 2\n"                 /* 19 */
                      "[bridge domu1/pcie1]\n"          /* 20 */
                      "device-tree-path = /pcie@20000000\n"
                      "backends = net qemu\n");
    assert_invalid(3);
    assert_exact_error(MAIN, 14, "backend net: bridge = is only for probe = xenready");
    assert_exact_error(MAIN, 15, "backend net: publisher = is only for probe = xenready");
    assert_exact_error(MAIN, 19, "backend qemu: publisher = is only for probe = xenready");
}
END_TEST

/* ---- runner ---- */

static void add_case(Suite *suite, const char *name, const TTest *test, size_t loops)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    if (loops)
        tcase_add_loop_test(tc, test, 0, (int)loops);
    else
        tcase_add_test(tc, test);
    suite_add_tcase(suite, tc);
}

#define ADD_TABLE_CASE(suite, name, test, table) add_case(suite, name, test, ARRAY_SIZE(table))

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    add_case(s, "minimal_valid", test_minimal_valid, 0);
    add_case(s, "full_valid", test_full_valid, 0);
    add_case(s, "domid_limits", test_domid_limits, 0);
    add_case(s, "names_inside_kind_word", test_names_inside_kind_word, 0);
    add_case(s, "unused_backend_warns", test_unused_backend_warns, 0);
    add_case(s, "hidden_paths_warn", test_hidden_paths_warn, 0);

    add_case(s, "dropins_in_lexical_order", test_dropins_in_lexical_order, 0);
    add_case(s, "dropins_without_main", test_dropins_without_main, 0);
    add_case(s, "missing_main_and_dropins", test_missing_main_and_dropins, 0);
    add_case(s, "missing_main_and_empty_dropins", test_missing_main_and_empty_dropins, 0);
    add_case(s, "duplicate_across_files", test_duplicate_across_files, 0);
    add_case(s, "duplicate_between_dropins", test_duplicate_between_dropins, 0);
    add_case(s, "duplicate_in_one_file", test_duplicate_in_one_file, 0);
    add_case(s, "duplicate_bridge_in_one_file", test_duplicate_bridge_in_one_file, 0);
    add_case(s, "duplicate_bridge_across_files", test_duplicate_bridge_across_files, 0);
    add_case(s, "names_shared_across_kinds", test_names_shared_across_kinds, 0);
    add_case(s, "dropin_starts_outside_sections", test_dropin_starts_outside_sections, 0);
    add_case(s, "dropin_line_numbers", test_dropin_line_numbers, 0);

    ADD_TABLE_CASE(s, "unknown_key", test_unknown_key, unknown_key_cases);
    ADD_TABLE_CASE(s, "unknown_section_kind", test_unknown_section_kind,
                   unknown_section_kind_cases);
    ADD_TABLE_CASE(s, "bad_section_header", test_bad_section_header, bad_section_header_cases);
    ADD_TABLE_CASE(s, "unknown_backend", test_unknown_backend, unknown_backend_cases);
    ADD_TABLE_CASE(s, "no_backends", test_no_backends, no_backends_cases);
    ADD_TABLE_CASE(s, "bad_domid", test_bad_domid, bad_domids);
    ADD_TABLE_CASE(s, "frontend_without_domid", test_frontend_without_domid,
                   frontend_without_domid_cases);
    add_case(s, "duplicate_domid", test_duplicate_domid, 0);
    ADD_TABLE_CASE(s, "bridge_unknown_frontend", test_bridge_unknown_frontend,
                   unknown_frontend_cases);
    ADD_TABLE_CASE(s, "bad_bridge_name", test_bad_bridge_name, bad_bridge_name_cases);
    ADD_TABLE_CASE(s, "key_outside_section", test_key_outside_section, outside_section_cases);
    ADD_TABLE_CASE(s, "key_set_twice", test_key_set_twice, key_twice_cases);
    ADD_TABLE_CASE(s, "syntax_error", test_syntax_error, syntax_cases);
    ADD_TABLE_CASE(s, "device_model_probe", test_device_model_probe, device_model_cases);
    ADD_TABLE_CASE(s, "refused_key", test_refused_key, refused_key_cases);
    add_case(s, "refused_keys_each_at_its_line", test_refused_keys_each_at_its_line, 0);
    add_case(s, "unknown_probe_alone", test_unknown_probe_alone, 0);
    ADD_TABLE_CASE(s, "xenstore_probe", test_xenstore_probe, xenstore_probe_cases);
    ADD_TABLE_CASE(s, "bad_xenstore_path", test_bad_xenstore_path, bad_paths);
    add_case(s, "empty_xenstore_path", test_empty_xenstore_path, 0);

    add_case(s, "long_line_rejected", test_long_line_rejected, 0);
    add_case(s, "long_line_message", test_long_line_message, 0);
    add_case(s, "line_limit_boundary", test_line_limit_boundary, 0);
    add_case(s, "nul_byte_rejected", test_nul_byte_rejected, 0);

    add_case(s, "dropin_fifo", test_dropin_fifo, 0);
    add_case(s, "dropin_directory", test_dropin_directory, 0);
    add_case(s, "dropin_socket", test_dropin_socket, 0);
    add_case(s, "dropin_symlink_followed", test_dropin_symlink_followed, 0);
    add_case(s, "dropin_symlink_target_checked", test_dropin_symlink_target_checked, 0);
    add_case(s, "hidden_dropin_ignored", test_hidden_dropin_ignored, 0);
    add_case(s, "dropin_problems_all_reported", test_dropin_problems_all_reported, 0);
    add_case(s, "dropin_writable_by_others", test_dropin_writable_by_others, 0);
    add_case(s, "dropin_writable_by_group", test_dropin_writable_by_group, 0);
    add_case(s, "dropin_foreign_owner", test_dropin_foreign_owner, 0);
    add_case(s, "dropin_directory_writable", test_dropin_directory_writable, 0);
    add_case(s, "main_fifo", test_main_fifo, 0);
    add_case(s, "main_writable_by_others", test_main_writable_by_others, 0);
    add_case(s, "file_too_large", test_file_too_large, 0);
    add_case(s, "huge_line_not_read", test_huge_line_not_read, 0);
    add_case(s, "file_size_limit", test_file_size_limit, 0);
    add_case(s, "file_growing_refused", test_file_growing_refused, 0);
    add_case(s, "read_error", test_read_error, 0);

    add_case(s, "signal_methods_combined", test_signal_methods_combined, 0);
    add_case(s, "static_evtchn_alone", test_static_evtchn_alone, 0);
    ADD_TABLE_CASE(s, "signal_errors", test_signal_errors, signal_cases);
    ADD_TABLE_CASE(s, "needs_xenstore", test_needs_xenstore, needs_xenstore_cases);
    add_case(s, "unit_keys_need_systemd", test_unit_keys_need_systemd, 0);
    add_case(s, "unit_keys_need_systemd_in_dropin", test_unit_keys_need_systemd_in_dropin, 0);

    add_case(s, "held_keys_parse", test_held_keys_parse, 0);
    add_case(s, "held_keys_combined", test_held_keys_combined, 0);
    ADD_TABLE_CASE(s, "held_errors", test_held_errors, held_cases);
    add_case(s, "held_keys_refused_under_other_probes", test_held_keys_refused_under_other_probes,
             0);
    return s;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

int main(void)
{
    /* The loader refuses files that group or others may write. */
    umask(022);
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    SRunner *runner = srunner_create(config_suite());
    if (!getenv("CK_FORK"))
        srunner_set_fork_status(runner, CK_FORK);   /* CK_FORK=no for valgrind */
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
