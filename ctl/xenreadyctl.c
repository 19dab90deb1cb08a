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
    EXIT_ERROR = 1,          /* the daemon answered with an error; stdout unwritable */
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,    /* no daemon on the socket, or it went away */
    EXIT_TIMEOUT = 124,      /* wait: a bridge was still waiting at the timeout, as
                              * xenready-wait and timeout(1) */
    EXIT_TIMEOUT_LEGACY = 4, /* earlier versions' timeout: XENREADY_TIMEOUT_STATUS=legacy */
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: xenreadyctl [OPTION...] COMMAND [ARGUMENT...]\n"
            "\n"
            "Commands:\n"
            "  status [--json]                    bridges, their state and missing backends\n"
            "  wait BRIDGE... [--timeout SECONDS] until every BRIDGE is ready (exit 124 on timeout)\n"
            "  reload                             make the daemon reload its configuration\n"
            "  ready BACKEND                      announce BACKEND ready (its owner only)\n"
            "  gone BACKEND                       announce BACKEND gone (its owner only)\n"
            "\n"
            "Options (anywhere on the command line; \"--\" ends them):\n"
            "  -s, --socket PATH  the daemon's control socket (default %s)\n"
            "      --json         status: print the daemon's answer as JSON\n"
            "      --timeout SECONDS\n"
            "                     wait: give up after SECONDS (0: only look)\n"
            "  -h, --help         show this help\n"
            "      --version      show the version\n"
            "\n"
            "Exit status: 0 done (wait: all ready), 1 the daemon answered with an error,\n"
            "2 usage, 3 the daemon could not be reached or went away, 124 wait timed out.\n",
            XENREADY_CONTROL_SOCKET);
}

/* Sends all of data; 0, or the errno that stopped it. */
static int send_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        data += n;
        length -= (size_t)n;
    }
    return 0;
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
    bool complete = false;
    /* A daemon that refuses a client (a limit, its credentials) answers
     * and closes without reading all of the request: the request may not
     * all go out (EPIPE, ECONNRESET) and a read past the answer may fail
     * (ECONNRESET); the answer is there, and read up to its newline. */
    int send_error = send_all(fd, text, length);
    if (!send_error)
        send_error = send_all(fd, "\n", 1);
    if (send_error && send_error != EPIPE && send_error != ECONNRESET) {
        fprintf(stderr, "xenreadyctl: cannot send to xenreadyd: %s\n", strerror(send_error));
        goto out;
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
        /* A reset is the daemon going away, as an end of file is: it
         * closed (or died) with some of the request unread. */
        if (n < 0 && errno != ECONNRESET) {
            fprintf(stderr, "xenreadyctl: cannot read from xenreadyd: %s\n", strerror(errno));
            goto out;
        }
        if (n <= 0)
            break;
        used += (size_t)n;
        /* The answer is one line: it is complete at its newline. */
        if (memchr(buffer + used - n, '\n', (size_t)n)) {
            complete = true;
            break;
        }
    }
    buffer[used] = '\0';
    response = json_tokener_parse(buffer);
    if (response && json_object_is_type(response, json_type_object))
        goto out;
    json_object_put(response);
    response = NULL;
    /* Nothing, or part of a line, then the end: the daemon stopped, was
     * killed or restarted (during a wait, say) before it answered. */
    if (used == 0)
        fprintf(stderr, "xenreadyctl: xenreadyd went away before answering\n");
    else if (!complete)
        fprintf(stderr, "xenreadyctl: xenreadyd went away in the middle of its answer\n");
    else
        fprintf(stderr, "xenreadyctl: xenreadyd sent an unreadable answer\n");
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

/* What the command line asked for: options may come anywhere, before or
 * after the command and its arguments. */
struct invocation {
    const char *socket_path;
    bool json;                   /* status --json */
    const char *timeout;         /* wait --timeout, as given; NULL when not */
    const char *command;
    char **arguments;            /* the command's, in order */
    int argument_count;
};

static int command_status(const struct invocation *how)
{
    if (how->argument_count > 0) {
        fprintf(stderr, "xenreadyctl: status: unexpected argument \"%s\"\n", how->arguments[0]);
        return EXIT_USAGE;
    }
    struct json_object *request = json_object_new_object();
    json_object_object_add(request, "version", json_object_new_int(XENREADY_CONTROL_VERSION));
    json_object_object_add(request, "command", json_object_new_string("status"));
    struct json_object *response = control_call(how->socket_path, request);
    json_object_put(request);
    if (!response)
        return EXIT_UNREACHABLE;
    struct json_object *ok;
    int status = EXIT_OK;
    if (!json_object_object_get_ex(response, "ok", &ok) || !json_object_get_boolean(ok)) {
        escape_strings(response);
        fprintf(stderr, "xenreadyctl: xenreadyd: %s\n", member_string(response, "error"));
        status = EXIT_ERROR;
    } else if (how->json) {
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

/* The exit status of a wait that timed out: 124, or with
 * XENREADY_TIMEOUT_STATUS=legacy the 4 of earlier versions, for scripts
 * written against them. Anything else there is a usage error, found before
 * the wait rather than at its end. */
static int timeout_status(void)
{
    const char *compat = getenv("XENREADY_TIMEOUT_STATUS");
    if (!compat || !compat[0])
        return EXIT_TIMEOUT;
    if (strcmp(compat, "legacy") == 0)
        return EXIT_TIMEOUT_LEGACY;
    fprintf(stderr, "xenreadyctl: XENREADY_TIMEOUT_STATUS is \"legacy\" or unset, not \"%s\"\n",
            compat);
    return -1;
}

static int command_wait(const struct invocation *how)
{
    int on_timeout = timeout_status();
    if (on_timeout < 0)
        return EXIT_USAGE;
    struct json_object *request = request_new("wait");
    struct json_object *bridges = json_object_new_array();
    json_object_object_add(request, "bridges", bridges);
    int status = EXIT_USAGE;
    if (how->timeout) {
        const char *value = how->timeout;
        char *end;
        errno = 0;
        double seconds = strtod(value, &end);
        if (!value[0] || *end || errno || !(seconds >= 0)) {
            fprintf(stderr, "xenreadyctl: wait: --timeout takes seconds, not \"%s\"\n", value);
            goto out;
        }
        json_object_object_add(request, "timeout", json_object_new_double(seconds));
    }
    for (int i = 0; i < how->argument_count; i++)
        json_object_array_add(bridges, json_object_new_string(how->arguments[i]));
    if (json_object_array_length(bridges) == 0) {
        fprintf(stderr, "xenreadyctl: wait: name at least one bridge (FRONTEND/BRIDGE)\n");
        goto out;
    }
    /* The daemon holds the connection and answers when the bridges are
     * ready or the timeout expires: no polling here. */
    struct json_object *response = control_call(how->socket_path, request);
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
        status = on_timeout;
    }
    json_object_put(response);
out:
    json_object_put(request);
    return status;
}

static int command_reload(const struct invocation *how)
{
    if (how->argument_count > 0) {
        fprintf(stderr, "xenreadyctl: reload: unexpected argument \"%s\"\n", how->arguments[0]);
        return EXIT_USAGE;
    }
    struct json_object *request = request_new("reload");
    struct json_object *response = control_call(how->socket_path, request);
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
static int command_announce(const struct invocation *how)
{
    if (how->argument_count != 1) {
        fprintf(stderr, "xenreadyctl: %s: name exactly one backend\n", how->command);
        return EXIT_USAGE;
    }
    struct json_object *request = request_new(how->command);
    json_object_object_add(request, "backend", json_object_new_string(how->arguments[0]));
    struct json_object *response = control_call(how->socket_path, request);
    json_object_put(request);
    if (!response)
        return EXIT_UNREACHABLE;
    escape_strings(response);
    int status = response_status(response);
    json_object_put(response);
    return status;
}

static const struct {
    const char *name;
    int (*run)(const struct invocation *how);
    bool json, timeout;          /* the command options it takes */
} commands[] = {
    {"status", command_status, true, false},
    {"wait", command_wait, false, true},
    {"reload", command_reload, false, false},
    {"ready", command_announce, false, false},
    {"gone", command_announce, false, false},
};

/* What was printed on standard output must have reached it: a full disk
 * or a closed pipe fails the command (exit 1) instead of passing silently. */
static int finish_stdout(int status)
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
        return status;
    if (error)
        fprintf(stderr, "xenreadyctl: cannot write to standard output: %s\n", strerror(error));
    else
        fprintf(stderr, "xenreadyctl: cannot write to standard output\n");
    return status == EXIT_OK ? EXIT_ERROR : status;
}

static int run(int argc, char **argv)
{
    enum { OPTION_VERSION = 256, OPTION_JSON, OPTION_TIMEOUT };
    static const struct option options[] = {
        {"socket", required_argument, NULL, 's'},
        {"json", no_argument, NULL, OPTION_JSON},
        {"timeout", required_argument, NULL, OPTION_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPTION_VERSION},
        {0},
    };
    struct invocation how = {.socket_path = XENREADY_CONTROL_SOCKET};
    char **words = calloc((size_t)argc + 1, sizeof(*words));
    if (!words) {
        fprintf(stderr, "xenreadyctl: out of memory\n");
        return EXIT_ERROR;
    }
    int word_count = 0, status = EXIT_USAGE, option;
    /* "-": every word that is not an option comes back in order as
     * option 1, so options may follow the command (even with
     * POSIXLY_CORRECT set); "--" ends the options. */
    while ((option = getopt_long(argc, argv, "-s:h", options, NULL)) != -1) {
        switch (option) {
        case 1:
            words[word_count++] = optarg;
            break;
        case 's':
            how.socket_path = optarg;
            break;
        case OPTION_JSON:
            how.json = true;
            break;
        case OPTION_TIMEOUT:
            how.timeout = optarg;
            break;
        case 'h':
            usage(stdout);
            status = EXIT_OK;
            goto out;
        case OPTION_VERSION:
            printf("xenreadyctl %s\n", XENREADY_VERSION);
            status = EXIT_OK;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    while (optind < argc)
        words[word_count++] = argv[optind++];
    if (word_count == 0) {
        usage(stderr);
        goto out;
    }
    how.command = words[0];
    how.arguments = words + 1;
    how.argument_count = word_count - 1;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(how.command, commands[i].name) != 0)
            continue;
        const char *stray = how.json && !commands[i].json          ? "--json"
                            : how.timeout && !commands[i].timeout ? "--timeout"
                                                                   : NULL;
        if (stray) {
            fprintf(stderr, "xenreadyctl: %s: %s is not an option of this command\n",
                    how.command, stray);
            goto out;
        }
        status = commands[i].run(&how);
        goto out;
    }
    fprintf(stderr, "xenreadyctl: unknown command \"%s\"\n", how.command);
    usage(stderr);
out:
    free(words);
    return status;
}

int main(int argc, char **argv)
{
    return finish_stdout(run(argc, argv));
}
