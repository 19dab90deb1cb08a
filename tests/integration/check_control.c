// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket and xenreadyctl against the real daemon (unprivileged
 * DomD on the real xenstored): who may connect (SO_PEERCRED, SO_PEERGROUPS;
 * peers are forked children that drop to uid 65534), what broken clients
 * get, the status table and JSON, and "wait" held by the daemon until the
 * bridges are ready or the timeout expires.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemon-runner.h"
#include "harness.h"
#include "xenready-control.h"

enum { DOMD = 1, FRONTEND = 5, TIMEOUT_MS = 10000, NOBODY = 65534, CONTROL_GID = 4242 };

static const char config[] =
    TEST_CONFIG_FRONTEND TEST_CONFIG_BACKEND_DM TEST_CONFIG_BACKEND_DISK TEST_CONFIG_BACKEND_NET
    "[bridge domu1/pcie0]\n"
    "device-tree-path = /pcie@10000000\n"
    "backends = dm disk\n"
    "\n"
    "[bridge domu1/virtio0]\n"
    "device-tree-path = /virtio@2000000\n"
    "backends = net\n";

static struct harness *harness;
static struct daemon_runner runner;
static struct xs_handle *domd;

static void start(const char *const *args)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    domd = harness_open(harness, DOMD);
    ck_assert_ptr_nonnull(domd);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, config), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, args), 0);
    /* Other users may reach the socket's directory; the socket's own mode
     * and the server decide. */
    ck_assert_int_eq(chmod(harness_directory(harness), 0711), 0);
}

static void teardown(void)
{
    daemon_runner_finish(&runner);
    if (domd)
        xs_close(domd);
    domd = NULL;
    harness_stop(harness);
    harness = NULL;
}

#define wait_status(expected) daemon_runner_assert_status(&runner, expected, TIMEOUT_MS)

static int client_connect(void)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", runner.control_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
        int r = -errno;
        if (fd >= 0)
            close(fd);
        return r;
    }
    return fd;
}

/* Reads until EOF; NULL on timeout. */
static char *client_read_all(int fd, int timeout_ms)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    for (;;) {
        struct pollfd pollfd = {.fd = fd, .events = POLLIN};
        if (poll(&pollfd, 1, timeout_ms) <= 0) {
            fclose(stream);
            free(text);
            return NULL;
        }
        char buffer[4096];
        ssize_t n = read(fd, buffer, sizeof(buffer));   /* sockets and pipes */
        if (n <= 0)
            break;
        fwrite(buffer, 1, (size_t)n, stream);
    }
    fclose(stream);
    return text;
}

/* Sends request (as is) on a new connection and returns the answer. */
static char *call(const char *request)
{
    int fd = client_connect();
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
    char *answer = client_read_all(fd, TIMEOUT_MS);
    close(fd);
    ck_assert_ptr_nonnull(answer);
    return answer;
}

static void assert_error_answer(const char *answer, const char *error)
{
    struct json_object *object = json_tokener_parse(answer);
    ck_assert_msg(object, "not JSON: %s", answer);
    struct json_object *ok, *message, *version;
    ck_assert(json_object_object_get_ex(object, "version", &version));
    ck_assert_int_eq(json_object_get_int(version), XENREADY_CONTROL_VERSION);
    ck_assert(json_object_object_get_ex(object, "ok", &ok));
    ck_assert(!json_object_get_boolean(ok));
    ck_assert(json_object_object_get_ex(object, "error", &message));
    ck_assert_msg(strstr(json_object_get_string(message), error), "error was %s",
                  json_object_get_string(message));
    json_object_put(object);
}

static void assert_status_works(void)
{
    char *answer = call("{\"version\": 1, \"command\": \"status\"}\n");
    ck_assert_msg(strstr(answer, "\"ok\":true"), "answer: %s", answer);
    free(answer);
}

/*
 * In a child that drops to uid/gid 65534 with the given supplementary groups:
 * connects and asks for status. Returns what it read (may be empty), or NULL
 * when connect() itself failed.
 */
static char *call_as_nobody(const gid_t *groups, size_t group_count)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        if (setgroups(group_count, groups) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
            _exit(2);
        int fd = client_connect();
        if (fd < 0)
            _exit(3);
        const char request[] = "{\"version\": 1, \"command\": \"status\"}\n";
        (void)!send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL);
        char *answer = client_read_all(fd, TIMEOUT_MS);
        if (answer)
            (void)!write(fds[1], answer, strlen(answer));
        _exit(answer ? 0 : 4);
    }
    close(fds[1]);
    char *answer = client_read_all(fds[0], TIMEOUT_MS);
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_msg(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3, "child exited %d",
                  WEXITSTATUS(status));
    if (WEXITSTATUS(status) == 3) {
        free(answer);
        return NULL;
    }
    return answer;
}

START_TEST(other_users_are_refused)
{
    start(NULL);
    struct stat st;
    ck_assert_int_eq(stat(runner.control_path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    /* The file mode keeps them out... */
    char *answer = call_as_nobody(NULL, 0);
    ck_assert_ptr_null(answer);
    /* ... and with the mode opened up, the server still does. */
    ck_assert_int_eq(chmod(runner.control_path, 0666), 0);
    answer = call_as_nobody((gid_t[]){CONTROL_GID}, 1);
    ck_assert_ptr_nonnull(answer);
    assert_error_answer(answer, "permission denied");
    free(answer);
    assert_status_works();
}
END_TEST

START_TEST(control_group_member_through_a_supplementary_group)
{
    char group[16];
    snprintf(group, sizeof(group), "%d", CONTROL_GID);
    start((const char *[]){"--control-group", group, NULL});
    struct stat st;
    ck_assert_int_eq(stat(runner.control_path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0660);
    ck_assert_uint_eq(st.st_gid, CONTROL_GID);
    /* Primary group 65534, CONTROL_GID only as a supplementary group. */
    char *answer = call_as_nobody((gid_t[]){100, CONTROL_GID}, 2);
    ck_assert_ptr_nonnull(answer);
    ck_assert_msg(strstr(answer, "\"ok\":true"), "answer: %s", answer);
    free(answer);
    /* Not in the group: refused by the server, whatever the file mode. */
    ck_assert_int_eq(chmod(runner.control_path, 0666), 0);
    answer = call_as_nobody((gid_t[]){100}, 1);
    ck_assert_ptr_nonnull(answer);
    assert_error_answer(answer, "permission denied");
    free(answer);
}
END_TEST

START_TEST(broken_requests_get_errors_and_disturb_no_one)
{
    start(NULL);
    struct {
        const char *request, *error;
    } cases[] = {
        {"hello\n", "not a JSON value"},
        {"{\"version\": 1, \"command\": \"status\"} trailing\n", "not a JSON value"},
        {"[1, 2]\n", "not a JSON object"},
        {"{\"version\": 2, \"command\": \"status\"}\n", "unsupported protocol version"},
        {"{\"version\": 1}\n", "no command"},
        {"{\"version\": 1, \"command\": \"format-disk\"}\n", "unknown command"},
        {"{\"version\": 1, \"command\": \"wait\", \"bridges\": \"x\"}\n", "\"bridges\""},
        {"{\"version\": 1, \"command\": \"wait\", \"bridges\": [\"domu1/pcie0\"], "
         "\"timeout\": -1}\n", "\"timeout\""},
        {"{\"version\": 1, \"command\": \"wait\", \"bridges\": [\"domu1/nope\"]}\n",
         "unknown bridge"},
    };
    /* A half-sent request stays open meanwhile: it must hold up nobody. */
    int stuck = client_connect();
    ck_assert_int_ge(stuck, 0);
    ck_assert_int_eq(send(stuck, "{\"version\": 1,", 14, MSG_NOSIGNAL), 14);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *answer = call(cases[i].request);
        assert_error_answer(answer, cases[i].error);
        free(answer);
    }
    /* Oversize: an error as soon as the limit is reached, no newline needed. */
    int fd = client_connect();
    ck_assert_int_ge(fd, 0);
    char big[XENREADY_CONTROL_REQUEST_MAX + 100];
    memset(big, ' ', sizeof(big));
    ck_assert_int_eq(send(fd, big, sizeof(big), MSG_NOSIGNAL), (ssize_t)sizeof(big));
    char *answer = client_read_all(fd, TIMEOUT_MS);
    close(fd);
    ck_assert_ptr_nonnull(answer);
    assert_error_answer(answer, "request longer than");
    free(answer);
    /* A client that connects and goes away at once. */
    fd = client_connect();
    close(fd);

    assert_status_works();
    /* The stuck one is dropped after the protocol's timeout, unanswered. */
    answer = client_read_all(stuck, (XENREADY_CONTROL_TIMEOUT_SECONDS + 5) * 1000);
    ck_assert_ptr_nonnull(answer);
    ck_assert_str_eq(answer, "");
    free(answer);
    close(stuck);
    assert_status_works();
    ck_assert_int_eq(kill(runner.pid, 0), 0);
}
END_TEST

/* Timestamps vary: "2026-11-26T03:10:00Z" becomes "YYYY-MM-DDTHH:MM:SSZ". */
static void mask_timestamps(char *text)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    static const char mask[] = "YYYY-MM-DDTHH:MM:SSZ";
    size_t length = sizeof(shape) - 1;
    for (char *p = text; strlen(p) >= length; p++) {
        bool match = true;
        for (size_t i = 0; i < length && match; i++)
            match = shape[i] == 'd' ? isdigit((unsigned char)p[i]) : p[i] == shape[i];
        if (match)
            memcpy(p, mask, length);
    }
}

static char *read_file(const char *path)
{
    FILE *file = fopen(path, "r");
    ck_assert_msg(file, "cannot open %s", path);
    char *text = NULL;
    size_t size = 0;
    ck_assert_int_ge(getdelim(&text, &size, '\0', file), 0);
    fclose(file);
    return text;
}

static void make_partly_ready(void)
{
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    ck_assert_int_eq(xs_write_string(domd, "backend/virtio_net/5/0/state", "4"), 0);
    wait_status("1/2 bridges ready; waiting: domu1/pcie0 (disk)");
}

START_TEST(status_table_matches_the_golden_file)
{
    start(NULL);
    make_partly_ready();
    char *output = NULL;
    ck_assert_int_eq(daemon_runner_ctl(&runner, &output, (const char *[]){"status", NULL}), 0);
    mask_timestamps(output);
    char *golden = read_file(GOLDEN_DIR "/status.txt");
    ck_assert_msg(strcmp(output, golden) == 0, "table:\n%s\nexpected:\n%s", output, golden);
    free(golden);
    free(output);
}
END_TEST

enum { OPTIONAL = 1 << 8 };   /* or'ed into a json_type: null allowed */

struct field {
    const char *name;
    int type;
};

static void check_members(struct json_object *object, const char *what,
                          const struct field *fields, size_t count)
{
    ck_assert_msg(json_object_is_type(object, json_type_object), "%s is not an object", what);
    for (size_t i = 0; i < count; i++) {
        struct json_object *member;
        ck_assert_msg(json_object_object_get_ex(object, fields[i].name, &member),
                      "%s has no \"%s\"", what, fields[i].name);
        json_type type = (json_type)(fields[i].type & 0xff);
        bool ok = json_object_is_type(member, type)
                  || ((fields[i].type & OPTIONAL) && json_object_is_type(member, json_type_null));
        ck_assert_msg(ok, "%s.%s is a %s, expected %s", what, fields[i].name,
                      json_type_to_name(json_object_get_type(member)), json_type_to_name(type));
    }
}

#define CHECK_MEMBERS(object, what, ...)                                                 \
    do {                                                                                 \
        static const struct field fields_[] = {__VA_ARGS__};                             \
        check_members(object, what, fields_, sizeof(fields_) / sizeof(fields_[0]));     \
    } while (0)

static void check_string_array(struct json_object *array, const char *what)
{
    ck_assert_msg(json_object_is_type(array, json_type_array), "%s is not an array", what);
    for (size_t i = 0; i < json_object_array_length(array); i++)
        ck_assert_msg(json_object_is_type(json_object_array_get_idx(array, i), json_type_string),
                      "%s[%zu] is not a string", what, i);
}

START_TEST(status_json_follows_the_schema)
{
    start(NULL);
    make_partly_ready();
    char *output = NULL;
    ck_assert_int_eq(
        daemon_runner_ctl(&runner, &output, (const char *[]){"status", "--json", NULL}), 0);
    struct json_object *status = json_tokener_parse(output);
    ck_assert_msg(status, "not JSON: %s", output);
    CHECK_MEMBERS(status, "status", {"version", json_type_int}, {"ok", json_type_boolean},
                  {"bridges", json_type_array}, {"backends", json_type_array});
    struct json_object *bridges, *backends, *member;
    json_object_object_get_ex(status, "bridges", &bridges);
    json_object_object_get_ex(status, "backends", &backends);
    ck_assert_uint_eq(json_object_array_length(bridges), 2);
    ck_assert_uint_eq(json_object_array_length(backends), 3);
    for (size_t i = 0; i < 2; i++) {
        struct json_object *bridge = json_object_array_get_idx(bridges, i);
        CHECK_MEMBERS(bridge, "bridge", {"name", json_type_string}, {"frontend", json_type_string},
                      {"frontend_domid", json_type_int}, {"id", json_type_string},
                      {"device_tree_path", json_type_string}, {"state", json_type_string},
                      {"since", json_type_string | OPTIONAL}, {"backends_ready", json_type_int},
                      {"backends_total", json_type_int}, {"missing", json_type_array},
                      {"signals", json_type_array});
        json_object_object_get_ex(bridge, "missing", &member);
        check_string_array(member, "bridge.missing");
        json_object_object_get_ex(bridge, "state", &member);
        const char *state = json_object_get_string(member);
        ck_assert(strcmp(state, "ready") == 0 || strcmp(state, "waiting") == 0);
        struct json_object *signals;
        json_object_object_get_ex(bridge, "signals", &signals);
        ck_assert_uint_ge(json_object_array_length(signals), 1);
        for (size_t j = 0; j < json_object_array_length(signals); j++)
            CHECK_MEMBERS(json_object_array_get_idx(signals, j), "signal",
                          {"method", json_type_string}, {"target", json_type_string | OPTIONAL},
                          {"generation", json_type_int}, {"error", json_type_string | OPTIONAL});
    }
    for (size_t i = 0; i < 3; i++) {
        struct json_object *backend = json_object_array_get_idx(backends, i);
        CHECK_MEMBERS(backend, "backend", {"name", json_type_string}, {"ready", json_type_boolean},
                      {"detail", json_type_string | OPTIONAL}, {"bridges", json_type_array});
        json_object_object_get_ex(backend, "bridges", &member);
        check_string_array(member, "backend.bridges");
    }
    /* The values of the setup. */
    struct json_object *pcie0 = json_object_array_get_idx(bridges, 0);
    json_object_object_get_ex(pcie0, "name", &member);
    ck_assert_str_eq(json_object_get_string(member), "domu1/pcie0");
    json_object_object_get_ex(pcie0, "backends_ready", &member);
    ck_assert_int_eq(json_object_get_int(member), 1);
    json_object_object_get_ex(pcie0, "missing", &member);
    ck_assert_str_eq(json_object_to_json_string(member), "[ \"disk\" ]");
    json_object_put(status);
    free(output);
}
END_TEST

START_TEST(wait_exit_codes)
{
    start(NULL);
    make_partly_ready();
    const char *timeout[] = {"wait", "domu1/pcie0", "domu1/virtio0", "--timeout", "0.2", NULL};
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, timeout), 124);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"wait", "domu1/virtio0",
                                                                       NULL}), 0);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"wait", "domu1/nope",
                                                                       NULL}), 1);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"wait", NULL}), 2);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"wait", "x", "--timeout",
                                                                       "soon", NULL}), 2);
    ck_assert_int_eq(xs_write_string(domd, "backend/virtio_disk/5/0/state", "4"), 0);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"wait", "domu1/pcie0",
                                                                       "domu1/virtio0",
                                                                       "--timeout", "10", NULL}),
                     0);
}
END_TEST

/* The daemon holds a wait and answers on the change; nobody polls. */
START_TEST(wait_is_answered_when_the_bridge_becomes_ready)
{
    start(NULL);
    make_partly_ready();
    int fd = client_connect();
    ck_assert_int_ge(fd, 0);
    const char request[] = "{\"version\": 1, \"command\": \"wait\", \"bridges\": [\"domu1/pcie0\"]}\n";
    ck_assert_int_eq(send(fd, request, sizeof(request) - 1, 0), (ssize_t)sizeof(request) - 1);
    /* A waiter that hangs up must not bother the daemon. */
    int quitter = client_connect();
    ck_assert_int_eq(send(quitter, request, sizeof(request) - 1, 0), (ssize_t)sizeof(request) - 1);
    close(quitter);
    /* Others are served meanwhile; the waiter has no answer yet. */
    assert_status_works();
    struct pollfd pollfd = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&pollfd, 1, 0), 0);

    ck_assert_int_eq(xs_write_string(domd, "backend/virtio_disk/5/0/state", "4"), 0);
    char *answer = client_read_all(fd, TIMEOUT_MS);
    close(fd);
    ck_assert_ptr_nonnull(answer);
    ck_assert_str_eq(answer, "{\"version\":1,\"ok\":true,\"ready\":true,\"waiting\":[]}\n");
    free(answer);
    assert_status_works();
}
END_TEST

/* ---- the cached status answer ------------------------------------------ */

/* Every kind of change a status answer shows: a start-up timeout (degraded),
 * backends up and their details (xenstore, and announce, whose "gone" from
 * another pid replaces the detail without a readiness change), refused
 * announcements, bridge transitions with their signals' generations and
 * errors (sysrq is refused to an unprivileged DomD), and a reload. */
static const char cache_config[] =
    "[frontend domu1]\ndomid = 5\n\n"
    "[backend dm]\nprobe = device-model\nfrontend = domu1\n\n"
    "[backend disk]\nprobe = xenstore\npath = backend/virtio_disk/5/0/state\nvalue = 4\n\n"
    "[backend ann]\nprobe = announce\nowner = uid:0\n\n"
    "[bridge domu1/pcie0]\ndevice-tree-path = /pcie@10000000\nbackends = dm disk\n"
    "signal = xenstore sysrq\nsysrq-key = x\ntimeout = 1\n\n"
    "[bridge domu1/virtio0]\ndevice-tree-path = /virtio@2000000\nbackends = ann\n";

static const char status_request[] = "{\"version\": 1, \"command\": \"status\"}\n";

/* Member key of the element named name of the answer's array ("bridges",
 * "backends"), as plain JSON text ("null" when null); NULL when there is no
 * such element. */
static char *status_member(const char *answer, const char *array, const char *name,
                           const char *key)
{
    struct json_object *status = json_tokener_parse(answer), *elements, *member;
    ck_assert_msg(status, "not JSON: %s", answer);
    ck_assert(json_object_object_get_ex(status, array, &elements));
    char *text = NULL;
    for (size_t i = 0; i < json_object_array_length(elements) && !text; i++) {
        struct json_object *element = json_object_array_get_idx(elements, i);
        ck_assert(json_object_object_get_ex(element, "name", &member));
        if (strcmp(json_object_get_string(member), name) != 0)
            continue;
        ck_assert_msg(json_object_object_get_ex(element, key, &member), "%s has no %s", name, key);
        text = strdup(json_object_to_json_string_ext(
            member, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    }
    json_object_put(status);
    return text;
}

/* Asks for status and checks one member against expected (NULL: the
 * element does not exist); returns the answer for more checks. */
static char *assert_status_member(const char *array, const char *name, const char *key,
                                  const char *expected)
{
    char *answer = call(status_request);
    char *value = status_member(answer, array, name, key);
    if (!expected)
        ck_assert_msg(!value, "%s %s is still there: %s", array, name, answer);
    else
        ck_assert_msg(value && strcmp(value, expected) == 0, "%s %s: %s is %s, expected %s",
                      array, name, key, value ? value : "(none)", expected);
    free(value);
    return answer;
}

static void check_status_member(const char *array, const char *name, const char *key,
                                const char *expected)
{
    free(assert_status_member(array, name, key, expected));
}

static void start_cache_config(void)
{
    ck_assert_int_eq(harness_start(&harness, NULL), 0);
    ck_assert_int_eq(toolstack_setup(harness, DOMD, FRONTEND), 0);
    domd = harness_open(harness, DOMD);
    ck_assert_ptr_nonnull(domd);
    ck_assert_int_eq(daemon_runner_init(&runner, harness, DOMD, cache_config), 0);
    ck_assert_int_eq(daemon_runner_start(&runner, NULL), 0);
}

START_TEST(status_answers_follow_every_change)
{
    start_cache_config();
    /* Each step asks once before the change, so that a cached answer exists
     * to be dropped. */
    check_status_member("bridges", "domu1/pcie0", "degraded", "false");
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (dm disk), domu1/virtio0 (ann); "
                "degraded: domu1/pcie0");
    check_status_member("bridges", "domu1/pcie0", "degraded", "true");

    /* A detail without a readiness change, then a backend up, in order. */
    check_status_member("backends", "dm", "ready", "false");
    ck_assert_int_eq(xs_write_string(domd, "backend/virtio_disk/5/0/state", "1"), 0);
    ck_assert_int_eq(xs_write_string(domd, "device-model/5/state", "running"), 0);
    wait_status("0/2 bridges ready; waiting: domu1/pcie0 (disk), domu1/virtio0 (ann); "
                "degraded: domu1/pcie0");
    check_status_member("backends", "dm", "ready", "true");
    check_status_member("bridges", "domu1/pcie0", "missing", "[\"disk\"]");
    char *answer = call(status_request);
    char *detail = status_member(answer, "backends", "disk", "detail");
    ck_assert_msg(strstr(detail, "is \\\"1\\\", expected \\\"4\\\""), "detail %s", detail);
    free(detail);
    free(answer);

    /* "gone" from this process, then from xenreadyctl: the backend stays
     * not ready, only its detail (the pid) changes; the model tells no one. */
    check_status_member("backends", "ann", "detail",
                        "\"not announced yet (xenreadyctl ready ann)\"");
    answer = call("{\"version\": 1, \"command\": \"gone\", \"backend\": \"ann\"}\n");
    free(answer);
    char expected[96];
    snprintf(expected, sizeof(expected), "\"announced gone by pid %d (uid 0)\"", (int)getpid());
    check_status_member("backends", "ann", "detail", expected);
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"gone", "ann", NULL}), 0);
    answer = call(status_request);
    detail = status_member(answer, "backends", "ann", "detail");
    ck_assert_msg(strstr(detail, "announced gone by pid") && strcmp(detail, expected) != 0,
                  "detail %s after a gone from another pid", detail);
    free(detail);
    free(answer);

    /* A refused announcement is listed. */
    answer = call(status_request);
    ck_assert_msg(strstr(answer, "\"refused_announcements\":[]"), "answer: %s", answer);
    free(answer);
    answer = call("{\"version\": 1, \"command\": \"ready\", \"backend\": \"nosuch\"}\n");
    assert_error_answer(answer, "no backend named");
    free(answer);
    answer = call(status_request);
    ck_assert_msg(strstr(answer, "\"backend\":\"nosuch\""), "answer: %s", answer);
    free(answer);

    /* Transitions: announced ready; the last backend up, whose publication
     * sysrq is refused. */
    check_status_member("bridges", "domu1/virtio0", "state", "\"waiting\"");
    ck_assert_int_eq(daemon_runner_ctl(&runner, NULL, (const char *[]){"ready", "ann", NULL}), 0);
    check_status_member("bridges", "domu1/virtio0", "state", "\"ready\"");
    check_status_member("backends", "ann", "detail", "null");
    answer = call(status_request);
    ck_assert_msg(strstr(answer, "\"method\":\"sysrq\"") && !strstr(answer, "permission denied"),
                  "answer: %s", answer);
    free(answer);
    ck_assert_int_eq(xs_write_string(domd, "backend/virtio_disk/5/0/state", "4"), 0);
    wait_status("2/2 bridges ready");
    check_status_member("bridges", "domu1/pcie0", "state", "\"ready\"");
    check_status_member("bridges", "domu1/pcie0", "degraded", "false");
    check_status_member("bridges", "domu1/pcie0", "backends_ready", "2");
    answer = call(status_request);
    ck_assert_msg(strstr(answer, "permission denied"), "no sysrq error: %s", answer);
    ck_assert_msg(strstr(answer, "\"generation\":2"), "generation not 2: %s", answer);
    free(answer);

    /* A reload: the new bridge is shown, the old one no longer. */
    check_status_member("bridges", "domu1/virtio0", "state", "\"ready\"");
    char reloaded[sizeof(cache_config)];
    snprintf(reloaded, sizeof(reloaded), "%s", cache_config);
    char *renamed = strstr(reloaded, "virtio0");
    ck_assert_ptr_nonnull(renamed);
    renamed[6] = '7';
    ck_assert_int_eq(daemon_runner_reload(&runner, reloaded), 0);
    check_status_member("bridges", "domu1/virtio0", "state", NULL);
    check_status_member("bridges", "domu1/virtio7", "device_tree_path", "\"/virtio@2000000\"");
}
END_TEST

/* Clients asking together get the same bytes (one shared answer), and so
 * does a client after them while nothing changed. */
START_TEST(status_clients_get_identical_answers)
{
    start(NULL);
    make_partly_ready();
    enum { CLIENTS = 4 };
    int fds[CLIENTS];
    for (size_t i = 0; i < CLIENTS; i++) {
        fds[i] = client_connect();
        ck_assert_int_ge(fds[i], 0);
        ck_assert_int_eq(send(fds[i], status_request, strlen(status_request), MSG_NOSIGNAL),
                         (ssize_t)strlen(status_request));
    }
    char *answers[CLIENTS + 1];
    for (size_t i = 0; i < CLIENTS; i++) {
        answers[i] = client_read_all(fds[i], TIMEOUT_MS);
        close(fds[i]);
        ck_assert_ptr_nonnull(answers[i]);
    }
    answers[CLIENTS] = call(status_request);
    ck_assert_msg(strstr(answers[0], "\"ok\":true") && strstr(answers[0], "\"bridges\":["),
                  "answer: %s", answers[0]);
    for (size_t i = 0; i <= CLIENTS; i++) {
        ck_assert_str_eq(answers[i], answers[0]);
        ck_assert_uint_eq(answers[i][strlen(answers[i]) - 1], '\n');
    }
    for (size_t i = 0; i <= CLIENTS; i++)
        free(answers[i]);
}
END_TEST

static Suite *control_suite(void)
{
    Suite *suite = suite_create("control");
    const struct integration_case cases[] = {
        {"refused", other_users_are_refused},
        {"group", control_group_member_through_a_supplementary_group},
        {"broken requests", broken_requests_get_errors_and_disturb_no_one},
        {"table", status_table_matches_the_golden_file},
        {"json", status_json_follows_the_schema},
        {"wait exit codes", wait_exit_codes},
        {"wait held", wait_is_answered_when_the_bridge_becomes_ready},
        {"status follows changes", status_answers_follow_every_change},
        {"status shared", status_clients_get_identical_answers},
    };
    integration_add_cases(suite, cases, sizeof(cases) / sizeof(cases[0]), NULL, teardown);
    return suite;
}

int main(void)
{
    return integration_main(control_suite(),
                            geteuid() != 0 ? "the peer tests fork children that change uid: run "
                                             "as root"
                                           : NULL);
}
