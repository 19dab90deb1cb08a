// SPDX-License-Identifier: GPL-2.0-or-later
#include "control-server.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "status.h"
#include "util/log.h"
#include "xenready-control.h"

struct control_client {
    struct control_server *server;
    struct control_client *next;
    ev_io io;
    ev_timer timeout;
    char request[XENREADY_CONTROL_REQUEST_MAX];
    size_t request_length;
    char *response;
    size_t response_length;
    size_t response_sent;
    pid_t pid;
    uid_t uid;
};

struct control_server {
    struct daemon *daemon;
    char *path;
    int fd;
    ev_io io;
    struct control_client *clients;
};

static void client_free(struct control_client *client)
{
    struct control_server *server = client->server;
    for (struct control_client **link = &server->clients; *link; link = &(*link)->next)
        if (*link == client) {
            *link = client->next;
            break;
        }
    ev_io_stop(server->daemon->loop, &client->io);
    ev_timer_stop(server->daemon->loop, &client->timeout);
    close(client->io.fd);
    free(client->response);
    free(client);
}

static struct json_object *response_error(const char *message)
{
    struct json_object *response = json_object_new_object();
    json_object_object_add(response, "version", json_object_new_int(XENREADY_CONTROL_VERSION));
    json_object_object_add(response, "ok", json_object_new_boolean(false));
    json_object_object_add(response, "error", json_object_new_string(message));
    return response;
}

static struct json_object *client_handle(struct control_client *client, const char *text,
                                         size_t length)
{
    struct json_tokener *tokener = json_tokener_new();
    if (!tokener)
        return response_error("out of memory");
    struct json_object *request = json_tokener_parse_ex(tokener, text, (int)length);
    bool complete = json_tokener_get_error(tokener) == json_tokener_success
                    && (size_t)json_tokener_get_parse_end(tokener) == length;
    json_tokener_free(tokener);

    struct json_object *response = NULL, *member;
    if (!request || !complete) {
        response = response_error("request is not a JSON value");
    } else if (!json_object_is_type(request, json_type_object)) {
        response = response_error("request is not a JSON object");
    } else if (!json_object_object_get_ex(request, "version", &member)
               || !json_object_is_type(member, json_type_int)
               || json_object_get_int(member) != XENREADY_CONTROL_VERSION) {
        response = response_error("unsupported protocol version (this daemon speaks version 1)");
    } else if (!json_object_object_get_ex(request, "command", &member)
               || !json_object_is_type(member, json_type_string)) {
        response = response_error("request has no command");
    } else if (strcmp(json_object_get_string(member), "status") == 0) {
        response = status_build(client->server->daemon);
        json_object_object_add(response, "version",
                               json_object_new_int(XENREADY_CONTROL_VERSION));
        json_object_object_add(response, "ok", json_object_new_boolean(true));
    } else {
        char message[128];
        snprintf(message, sizeof(message), "unknown command \"%.64s\"",
                 json_object_get_string(member));
        response = response_error(message);
    }
    if (json_object_object_get_ex(response, "error", &member))
        log_message(LOG_WARNING, "control client (pid %d, uid %u): %s", (int)client->pid,
                    (unsigned int)client->uid, json_object_get_string(member));
    json_object_put(request);
    return response;
}

static void client_respond(struct control_client *client, struct json_object *response)
{
    const char *text = json_object_to_json_string_ext(response, JSON_C_TO_STRING_PLAIN);
    if (asprintf(&client->response, "%s\n", text) < 0)
        client->response = NULL;
    json_object_put(response);
    if (!client->response) {
        client_free(client);
        return;
    }
    client->response_length = strlen(client->response);
    struct ev_loop *loop = client->server->daemon->loop;
    ev_io_stop(loop, &client->io);
    ev_io_set(&client->io, client->io.fd, EV_WRITE);
    ev_io_start(loop, &client->io);
}

static void client_on_io(struct ev_loop *loop, ev_io *io, int revents)
{
    struct control_client *client = io->data;
    if (client->response) {
        ssize_t n = send(io->fd, client->response + client->response_sent,
                         client->response_length - client->response_sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n < 0 || (client->response_sent += (size_t)n) == client->response_length)
            client_free(client);
        return;
    }
    size_t room = sizeof(client->request) - client->request_length;
    ssize_t n = recv(io->fd, client->request + client->request_length, room, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        /* Gone before sending a whole request: nothing to answer. */
        client_free(client);
        return;
    }
    char *newline = memchr(client->request + client->request_length, '\n', (size_t)n);
    client->request_length += (size_t)n;
    if (newline) {
        client_respond(client, client_handle(client, client->request,
                                             (size_t)(newline - client->request)));
    } else if (client->request_length == sizeof(client->request)) {
        char message[96];
        snprintf(message, sizeof(message), "request longer than %d bytes",
                 XENREADY_CONTROL_REQUEST_MAX);
        log_message(LOG_WARNING, "control client (pid %d, uid %u): %s", (int)client->pid,
                    (unsigned int)client->uid, message);
        client_respond(client, response_error(message));
    }
}

static void client_on_timeout(struct ev_loop *loop, ev_timer *timer, int revents)
{
    struct control_client *client = timer->data;
    log_message(LOG_WARNING, "control client (pid %d, uid %u) timed out", (int)client->pid,
                (unsigned int)client->uid);
    client_free(client);
}

static void server_on_connection(struct ev_loop *loop, ev_io *io, int revents)
{
    struct control_server *server = io->data;
    int fd = accept4(server->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct ucred credentials;
    socklen_t size = sizeof(credentials);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) < 0
        || (credentials.uid != 0 && credentials.uid != geteuid())) {
        log_message(LOG_WARNING, "control: refused a client (uid %d): not root",
                    size == sizeof(credentials) ? (int)credentials.uid : -1);
        close(fd);
        return;
    }
    struct control_client *client = calloc(1, sizeof(*client));
    if (!client) {
        close(fd);
        return;
    }
    client->server = server;
    client->pid = credentials.pid;
    client->uid = credentials.uid;
    ev_io_init(&client->io, client_on_io, fd, EV_READ);
    client->io.data = client;
    ev_timer_init(&client->timeout, client_on_timeout, XENREADY_CONTROL_TIMEOUT_SECONDS, 0);
    client->timeout.data = client;
    client->next = server->clients;
    server->clients = client;
    ev_io_start(loop, &client->io);
    ev_timer_start(loop, &client->timeout);
}

int control_server_new(struct control_server **out, struct daemon *daemon, const char *path)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(address.sun_path)) {
        log_message(LOG_ERR, "control socket path %s is too long", path);
        return -ENAMETOOLONG;
    }
    strcpy(address.sun_path, path);

    struct control_server *server = calloc(1, sizeof(*server));
    if (!server)
        return -ENOMEM;
    server->daemon = daemon;
    server->fd = -1;
    int r = -ENOMEM;
    if (!(server->path = strdup(path)))
        goto fail;

    /* Replace a socket left by an earlier instance, never another file. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    server->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    mode_t mask = umask(0077);
    r = server->fd < 0 || bind(server->fd, (struct sockaddr *)&address, sizeof(address)) < 0
            || listen(server->fd, 64) < 0
            ? -errno
            : 0;
    umask(mask);
    if (r < 0) {
        log_message(LOG_ERR, "cannot listen on control socket %s: %s", path, strerror(-r));
        goto fail;
    }
    ev_io_init(&server->io, server_on_connection, server->fd, EV_READ);
    server->io.data = server;
    ev_io_start(daemon->loop, &server->io);
    *out = server;
    return 0;
fail:
    if (server->fd >= 0)
        close(server->fd);
    free(server->path);
    free(server);
    return r;
}

void control_server_free(struct control_server *server)
{
    if (!server)
        return;
    while (server->clients)
        client_free(server->clients);
    ev_io_stop(server->daemon->loop, &server->io);
    close(server->fd);
    unlink(server->path);
    free(server->path);
    free(server);
}
