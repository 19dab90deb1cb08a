// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xenreadyctl — asks xenreadyd about bridge readiness. See xenreadyctl(1).
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/escape.h"
#include "xenready-control.h"

/* Exit codes, documented in xenreadyctl(1). */
enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1,          /* the daemon answered with an error */
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,    /* no daemon on the socket, or it broke off */
    EXIT_TIMEOUT = 4,        /* wait: a bridge was still waiting at the timeout */
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: xenreadyctl [--socket PATH] COMMAND\n"
            "\n"
            "Commands:\n"
            "  status [--json]                    bridges, their state and missing backends\n"
            "  wait BRIDGE... [--timeout SECONDS] until every BRIDGE is ready (exit 4 on timeout)\n"
            "  reload                             make the daemon reload its configuration\n"
            "  ready BACKEND                      announce BACKEND ready (its owner only)\n"
            "  gone BACKEND                       announce BACKEND gone (its owner only)\n"
            "\n"
            "  -s, --socket PATH  the daemon's control socket (default %s)\n"
            "  -h, --help         show this help\n"
            "      --version      show the version\n",
            XENREADY_CONTROL_SOCKET);
}

/* Sends one request and returns the parsed response, or NULL after printing
 * why. */
static struct json_object *control_call(const char *path, struct json_object *request)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(address.sun_path)) {
        fprintf(stderr, "xenreadyctl: socket path too long: %s\n", path);
        return NULL;
    }
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
        fprintf(stderr, "xenreadyctl: cannot connect to xenreadyd at %s: %s\n", path,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    const char *text = json_object_to_json_string_ext(request, JSON_C_TO_STRING_PLAIN);
    size_t length = strlen(text);
    struct json_object *response = NULL;
    char *buffer = NULL;
    size_t used = 0, size = 0;
    /* A daemon that refuses a client (a limit, its credentials) answers
     * and closes without reading: the request may not go out (EPIPE) and a
     * read past the answer may fail (ECONNRESET); the answer is there. */
    int send_error = 0;
    if (send(fd, text, length, MSG_NOSIGNAL) != (ssize_t)length
        || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
        send_error = errno;
        if (send_error != EPIPE && send_error != ECONNRESET) {
            fprintf(stderr, "xenreadyctl: cannot send to xenreadyd: %s\n", strerror(errno));
            goto out;
        }
    }
    for (;;) {
        if (size - used < 4096) {
            size = size ? size * 2 : 65536;
            char *grown = realloc(buffer, size);
            if (!grown) {
                fprintf(stderr, "xenreadyctl: out of memory\n");
                goto out;
            }
            buffer = grown;
        }
        ssize_t n = recv(fd, buffer + used, size - used - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && send_error)
            errno = send_error;
        if (n < 0) {
            fprintf(stderr, "xenreadyctl: cannot %s xenreadyd: %s\n",
                    send_error ? "send to" : "read from", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        /* The answer is one line: it is complete at its newline. */
        if (memchr(buffer + used - n, '\n', (size_t)n))
            break;
    }
    if (used == 0 && send_error) {
        fprintf(stderr, "xenreadyctl: cannot send to xenreadyd: %s\n", strerror(send_error));
        goto out;
    }
    buffer[used] = '\0';
    response = json_tokener_parse(buffer);
    if (!response || !json_object_is_type(response, json_type_object)) {
        fprintf(stderr, "xenreadyctl: xenreadyd sent an unreadable answer\n");
        json_object_put(response);
        response = NULL;
    }
out:
    free(buffer);
    close(fd);
    return response;
}

/* Replaces every string in value, at any depth, by its escaped form
 * (util/escape.h), before any of it is printed for a person: names, details,
 * reasons and errors come from the daemon, which had many of them from less
 * trusted parties (domains writing xenstore, control clients, D-Bus peers).
 * A terminal would act on an ESC sequence in them, and a newline would start
 * a line of their making. status --json prints the answer unescaped: JSON
 * escapes control characters itself. */
static void escape_strings(struct json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_string: {
        /* By length: a JSON string may hold "\u0000", shown as "\x00". */
        const char *text = json_object_get_string(value);
        size_t length = (size_t)json_object_get_string_len(value);
        size_t size = escape_bytes(NULL, 0, text, length) + 1;
        char *escaped = malloc(size);
        if (escaped)
            escape_bytes(escaped, size, text, length);
        /* Stop rather than print the raw text. */
        if (!escaped || !json_object_set_string(value, escaped)) {
            fprintf(stderr, "xenreadyctl: out of memory\n");
            exit(EXIT_ERROR);
        }
        free(escaped);
        break;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(value); i++)
            escape_strings(json_object_array_get_idx(value, i));
        break;
    case json_type_object: {
        json_object_object_foreach(value, key, member) {
            (void)key;
            escape_strings(member);
        }
        break;
    }
    default:
        break;
    }
}

static const char *member_string(struct json_object *object, const char *key)
{
    struct json_object *member;
    if (!json_object_object_get_ex(object, key, &member) || json_object_is_type(member, json_type_null))
        return "";
    return json_object_get_string(member);
}

static int64_t member_int(struct json_object *object, const char *key)
{
    struct json_object *member;
    return json_object_object_get_ex(object, key, &member) ? json_object_get_int64(member) : 0;
}

static struct json_object *member_array(struct json_object *object, const char *key)
{
    struct json_object *member;
    if (json_object_object_get_ex(object, key, &member) && json_object_is_type(member, json_type_array))
        return member;
    return NULL;
}

static void print_status_table(struct json_object *response, bool colour)
{
    struct json_object *bridges = member_array(response, "bridges");
    size_t count = bridges ? json_object_array_length(bridges) : 0;
    if (count == 0) {
        printf("No bridges configured.\n");
        return;
    }
    /* Column widths from the data, so the table lines up at any length. */
    int width_frontend = 8, width_bridge = 6;
    for (size_t i = 0; i < count; i++) {
        struct json_object *bridge = json_object_array_get_idx(bridges, i);
        int frontend = (int)strlen(member_string(bridge, "frontend"));
        int name = (int)strlen(member_string(bridge, "name"));
        width_frontend = frontend > width_frontend ? frontend : width_frontend;
        width_bridge = name > width_bridge ? name : width_bridge;
    }
    printf("%-*s  %-*s  %-7s  %-8s  %-20s  %s\n", width_frontend, "FRONTEND", width_bridge,
           "BRIDGE", "STATE", "BACKENDS", "SINCE", "MISSING");
    for (size_t i = 0; i < count; i++) {
        struct json_object *bridge = json_object_array_get_idx(bridges, i);
        const char *state = member_string(bridge, "state");
        bool ready = strcmp(state, "ready") == 0;
        char backends[32];
        snprintf(backends, sizeof(backends), "%lld/%lld",
                 (long long)member_int(bridge, "backends_ready"),
                 (long long)member_int(bridge, "backends_total"));
        char missing[512] = "";
        struct json_object *names = member_array(bridge, "missing");
        size_t used = 0;
        for (size_t j = 0; names && j < json_object_array_length(names) && used < sizeof(missing); j++)
            used += (size_t)snprintf(missing + used, sizeof(missing) - used, "%s%s", j ? ", " : "",
                                     json_object_get_string(json_object_array_get_idx(names, j)));
        const char *since = member_string(bridge, "since");
        printf("%-*s  %-*s  %s%-7s%s  %-8s  %-20s  %s\n", width_frontend,
               member_string(bridge, "frontend"), width_bridge, member_string(bridge, "name"),
               colour ? (ready ? "\033[32m" : "\033[33m") : "", state, colour ? "\033[0m" : "",
               backends, since[0] ? since : "-", missing[0] ? missing : "-");
    }
    /* Why each missing backend is missing, once per backend. */
    struct json_object *all = member_array(response, "backends");
    bool header = false;
    for (size_t i = 0; all && i < json_object_array_length(all); i++) {
        struct json_object *backend = json_object_array_get_idx(all, i);
        struct json_object *ready;
        if (json_object_object_get_ex(backend, "ready", &ready) && json_object_get_boolean(ready))
            continue;
        if (!header)
            printf("\n");
        header = true;
        const char *detail = member_string(backend, "detail");
        printf("%s: %s\n", member_string(backend, "name"), detail[0] ? detail : "not ready");
    }
    /* Bridges past their start-up timeout, and refused announcements. */
    for (size_t i = 0; i < count; i++) {
        struct json_object *bridge = json_object_array_get_idx(bridges, i), *degraded;
        if (json_object_object_get_ex(bridge, "degraded", &degraded)
            && json_object_get_boolean(degraded))
            printf("%s: degraded: still waiting after its start-up timeout\n",
                   member_string(bridge, "name"));
    }
    struct json_object *refused = member_array(response, "refused_announcements");
    for (size_t i = 0; refused && i < json_object_array_length(refused); i++) {
        struct json_object *refusal = json_object_array_get_idx(refused, i);
        printf("refused announcement at %s from pid %lld (uid %lld): %s\n",
               member_string(refusal, "time"), (long long)member_int(refusal, "pid"),
               (long long)member_int(refusal, "uid"), member_string(refusal, "reason"));
    }
    /* Signalling problems. */
    for (size_t i = 0; i < count; i++) {
        struct json_object *signals = member_array(json_object_array_get_idx(bridges, i), "signals");
        for (size_t j = 0; signals && j < json_object_array_length(signals); j++) {
            const char *error = member_string(json_object_array_get_idx(signals, j), "error");
            if (error[0])
                printf("%s: signal %s: %s\n",
                       member_string(json_object_array_get_idx(bridges, i), "name"),
                       member_string(json_object_array_get_idx(signals, j), "method"), error);
        }
    }
}

static int command_status(const char *socket_path, int argc, char **argv)
{
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            fprintf(stderr, "xenreadyctl: status: unknown argument \"%s\"\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    struct json_object *request = json_object_new_object();
    json_object_object_add(request, "version", json_object_new_int(XENREADY_CONTROL_VERSION));
    json_object_object_add(request, "command", json_object_new_string("status"));
    struct json_object *response = control_call(socket_path, request);
    json_object_put(request);
    if (!response)
        return EXIT_UNREACHABLE;
    struct json_object *ok;
    int status = EXIT_OK;
    if (!json_object_object_get_ex(response, "ok", &ok) || !json_object_get_boolean(ok)) {
        escape_strings(response);
        fprintf(stderr, "xenreadyctl: xenreadyd: %s\n", member_string(response, "error"));
        status = EXIT_ERROR;
    } else if (json) {
        printf("%s\n", json_object_to_json_string_ext(response, JSON_C_TO_STRING_PRETTY
                                                                    | JSON_C_TO_STRING_NOSLASHESCAPE));
    } else {
        escape_strings(response);
        print_status_table(response, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
    }
    json_object_put(response);
    return status;
}

static struct json_object *request_new(const char *command)
{
    struct json_object *request = json_object_new_object();
    json_object_object_add(request, "version", json_object_new_int(XENREADY_CONTROL_VERSION));
    json_object_object_add(request, "command", json_object_new_string(command));
    return request;
}

/* Prints the daemon's error (and messages) and returns EXIT_ERROR, or
 * returns EXIT_OK for an "ok" answer. The response is escaped already. */
static int response_status(struct json_object *response)
{
    struct json_object *ok;
    if (json_object_object_get_ex(response, "ok", &ok) && json_object_get_boolean(ok))
        return EXIT_OK;
    fprintf(stderr, "xenreadyctl: xenreadyd: %s\n", member_string(response, "error"));
    struct json_object *messages = member_array(response, "messages");
    for (size_t i = 0; messages && i < json_object_array_length(messages); i++)
        fprintf(stderr, "%s\n", json_object_get_string(json_object_array_get_idx(messages, i)));
    return EXIT_ERROR;
}

static int command_wait(const char *socket_path, int argc, char **argv)
{
    struct json_object *request = request_new("wait");
    struct json_object *bridges = json_object_new_array();
    json_object_object_add(request, "bridges", bridges);
    int status = EXIT_USAGE;
    for (int i = 0; i < argc; i++) {
        const char *value = NULL;
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            value = argv[++i];
        else if (strncmp(argv[i], "--timeout=", 10) == 0)
            value = argv[i] + 10;
        if (value) {
            char *end;
            errno = 0;
            double seconds = strtod(value, &end);
            if (!value[0] || *end || errno || !(seconds >= 0)) {
                fprintf(stderr, "xenreadyctl: wait: --timeout takes seconds, not \"%s\"\n", value);
                goto out;
            }
            json_object_object_add(request, "timeout", json_object_new_double(seconds));
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "xenreadyctl: wait: unknown argument \"%s\"\n", argv[i]);
            goto out;
        } else {
            json_object_array_add(bridges, json_object_new_string(argv[i]));
        }
    }
    if (json_object_array_length(bridges) == 0) {
        fprintf(stderr, "xenreadyctl: wait: name at least one bridge (FRONTEND/BRIDGE)\n");
        goto out;
    }
    /* The daemon holds the connection and answers when the bridges are
     * ready or the timeout expires: no polling here. */
    struct json_object *response = control_call(socket_path, request);
    if (!response) {
        status = EXIT_UNREACHABLE;
        goto out;
    }
    escape_strings(response);
    status = response_status(response);
    struct json_object *ready;
    if (status == EXIT_OK && json_object_object_get_ex(response, "ready", &ready)
        && !json_object_get_boolean(ready)) {
        struct json_object *waiting = member_array(response, "waiting");
        fprintf(stderr, "xenreadyctl: wait: timed out; still waiting:");
        for (size_t i = 0; waiting && i < json_object_array_length(waiting); i++)
            fprintf(stderr, " %s", json_object_get_string(json_object_array_get_idx(waiting, i)));
        fprintf(stderr, "\n");
        status = EXIT_TIMEOUT;
    }
    json_object_put(response);
out:
    json_object_put(request);
    return status;
}

static int command_reload(const char *socket_path, int argc, char **argv)
{
    if (argc > 0) {
        fprintf(stderr, "xenreadyctl: reload: unknown argument \"%s\"\n", argv[0]);
        return EXIT_USAGE;
    }
    struct json_object *request = request_new("reload");
    struct json_object *response = control_call(socket_path, request);
    json_object_put(request);
    if (!response)
        return EXIT_UNREACHABLE;
    escape_strings(response);
    int status = response_status(response);
    struct json_object *messages = member_array(response, "messages");
    /* Warnings of a successful reload. */
    for (size_t i = 0; status == EXIT_OK && messages && i < json_object_array_length(messages); i++)
        fprintf(stderr, "%s\n", json_object_get_string(json_object_array_get_idx(messages, i)));
    json_object_put(response);
    return status;
}

/* ready/gone NAME: only the backend's configured owner is accepted. */
static int command_announce(const char *socket_path, const char *command, int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-') {
        fprintf(stderr, "xenreadyctl: %s: name exactly one backend\n", command);
        return EXIT_USAGE;
    }
    struct json_object *request = request_new(command);
    json_object_object_add(request, "backend", json_object_new_string(argv[0]));
    struct json_object *response = control_call(socket_path, request);
    json_object_put(request);
    if (!response)
        return EXIT_UNREACHABLE;
    escape_strings(response);
    int status = response_status(response);
    json_object_put(response);
    return status;
}

int main(int argc, char **argv)
{
    enum { OPTION_VERSION = 256 };
    static const struct option options[] = {
        {"socket", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPTION_VERSION},
        {0},
    };
    const char *socket_path = XENREADY_CONTROL_SOCKET;
    int option;
    /* "+": options after the command belong to the command. */
    while ((option = getopt_long(argc, argv, "+s:h", options, NULL)) != -1) {
        switch (option) {
        case 's':
            socket_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case OPTION_VERSION:
            printf("xenreadyctl %s\n", XENREADY_VERSION);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[optind];
    if (strcmp(command, "status") == 0)
        return command_status(socket_path, argc - optind - 1, argv + optind + 1);
    if (strcmp(command, "wait") == 0)
        return command_wait(socket_path, argc - optind - 1, argv + optind + 1);
    if (strcmp(command, "reload") == 0)
        return command_reload(socket_path, argc - optind - 1, argv + optind + 1);
    if (strcmp(command, "ready") == 0 || strcmp(command, "gone") == 0)
        return command_announce(socket_path, command, argc - optind - 1, argv + optind + 1);
    fprintf(stderr, "xenreadyctl: unknown command \"%s\"\n", command);
    usage(stderr);
    return EXIT_USAGE;
}
