// SPDX-License-Identifier: GPL-2.0-or-later
#include "control-server.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "config/config.h"
#include "core/model.h"
#include "announce.h"
#include "control-request.h"
#include "daemon.h"
#include "status.h"
#include "util/log.h"
#include "xenready-control.h"

enum { CONTROL_WAIT_BRIDGES_MAX = 64 };

/* An answer's text, framed and ready to send. Reference-counted so that one
 * "status" answer (290 KB at 600 bridges) is shared by the cache and every
 * client sending it, instead of being built and copied per client. */
struct answer {
    size_t refs;
    size_t length;
    char text[];
};

struct control_client {
    struct control_server *server;
    struct control_client *next;
    ev_io io;
    ev_timer timeout;          /* running while connected, except in an unbounded wait */
    char request[XENREADY_CONTROL_REQUEST_MAX];
    size_t request_length;
    struct answer *answer;     /* being sent; NULL while the request is read or held */
    size_t answer_sent;
    struct ucred peer;
    /* A "wait" request held until its bridges are ready or it times out. */
    char **wait_bridges;
    size_t wait_count;
};

struct control_server {
    struct daemon *daemon;
    char *path;
    bool activated;            /* the socket came from systemd: it owns the file */
    int fd;
    ev_io io;
    struct control_client *clients;
    size_t client_count;
    /* The last "status" answer, dropped by control_server_invalidate() on
     * every change it could show, with the backends' details it was built
     * from (the one thing that changes unannounced, see status.h). */
    struct answer *status;
};

static struct answer *answer_ref(struct answer *answer)
{
    answer->refs++;
    return answer;
}

static void answer_unref(struct answer *answer)
{
    if (answer && --answer->refs == 0)
        free(answer);
}

static void client_free(struct control_client *client)
{
    struct control_server *server = client->server;
    for (struct control_client **link = &server->clients; *link; link = &(*link)->next)
        if (*link == client) {
            *link = client->next;
            server->client_count--;
            break;
        }
    ev_io_stop(server->daemon->loop, &client->io);
    ev_timer_stop(server->daemon->loop, &client->timeout);
    close(client->io.fd);
    for (size_t i = 0; i < client->wait_count; i++)
        free(client->wait_bridges[i]);
    free(client->wait_bridges);
    answer_unref(client->answer);
    free(client);
}

struct daemon *control_client_daemon(const struct control_client *client)
{
    return client->server->daemon;
}

struct json_object *control_error(const char *message)
{
    struct json_object *response = json_object_new_object();
    json_object_object_add(response, "ok", json_object_new_boolean(false));
    json_object_object_add(response, "error", json_object_new_string(message));
    return response;
}

struct json_object *control_ok(void)
{
    struct json_object *response = json_object_new_object();
    json_object_object_add(response, "ok", json_object_new_boolean(true));
    return response;
}

/* The text of response (borrowed): "version" first, then the handler's
 * members, and a newline; one reference, NULL when out of memory. */
static struct answer *answer_new(struct json_object *response)
{
    struct json_object *framed = json_object_new_object();
    json_object_object_add(framed, "version", json_object_new_int(XENREADY_CONTROL_VERSION));
    json_object_object_foreach(response, key, value)
        json_object_object_add(framed, key, json_object_get(value));
    size_t length;
    const char *text = json_object_to_json_string_length(framed, JSON_C_TO_STRING_PLAIN, &length);
    struct answer *answer = text ? malloc(sizeof(*answer) + length + 2) : NULL;
    if (answer) {
        answer->refs = 1;
        answer->length = length + 1;
        memcpy(answer->text, text, length);
        memcpy(answer->text + length, "\n", 2);
    }
    json_object_put(framed);
    return answer;
}

/* Sends answer (its reference taken over) to the client; NULL (out of
 * memory) drops the client. */
static void client_answer(struct control_client *client, struct answer *answer)
{
    if (!answer) {
        client_free(client);
        return;
    }
    client->answer = answer;
    struct ev_loop *loop = client->server->daemon->loop;
    ev_io_stop(loop, &client->io);
    ev_io_set(&client->io, client->io.fd, EV_WRITE);
    ev_io_start(loop, &client->io);
    /* A client that does not read its answer is dropped like a silent one. */
    ev_timer_stop(loop, &client->timeout);
    ev_timer_set(&client->timeout, XENREADY_CONTROL_TIMEOUT_SECONDS, 0);
    ev_timer_start(loop, &client->timeout);
}

void control_client_respond(struct control_client *client, struct json_object *response)
{
    struct json_object *member;
    if (json_object_object_get_ex(response, "error", &member))
        log_message(LOG_WARNING, "control client (pid %d, uid %u): %s", (int)client->peer.pid,
                    (unsigned int)client->peer.uid, json_object_get_string(member));
    struct answer *answer = answer_new(response);
    json_object_put(response);
    client_answer(client, answer);
}

void control_server_invalidate(struct control_server *server)
{
    if (!server)
        return;
    answer_unref(server->status);
    server->status = NULL;
}

/* The cached "status" answer, built first when there is none; a new
 * reference, NULL when out of memory. Building 290 KB of JSON takes ~2.5 ms
 * of the loop at 600 bridges: busy clients asking again and again would
 * otherwise delay signals. */
static struct answer *server_status_answer(struct control_server *server)
{
    if (!server->status) {
        struct json_object *response = status_build(server->daemon);
        json_object_object_add(response, "ok", json_object_new_boolean(true));
        server->status = answer_new(response);
        json_object_put(response);
        if (!server->status)
            return NULL;
    }
    return answer_ref(server->status);
}

/* Answers at once, from the cache: returns NULL as a handler that has
 * responded. */
static struct json_object *command_status(struct control_client *client,
                                          struct json_object *request, const struct ucred *peer)
{
    client_answer(client, server_status_answer(client->server));
    return NULL;
}

/* The answer to a wait, or NULL while some bridge is still waiting and time
 * is left. */
static struct json_object *wait_evaluate(struct control_client *client, bool timed_out)
{
    const struct model *model = client->server->daemon->model;
    struct json_object *waiting = json_object_new_array();
    for (size_t i = 0; i < client->wait_count; i++) {
        const struct bridge *bridge = model_find_bridge(model, client->wait_bridges[i]);
        if (!bridge) {
            char message[128];
            snprintf(message, sizeof(message), "unknown bridge \"%.64s\"", client->wait_bridges[i]);
            json_object_put(waiting);
            return control_error(message);
        }
        if (bridge->state != BRIDGE_READY)
            json_object_array_add(waiting, json_object_new_string(bridge->name));
    }
    bool ready = json_object_array_length(waiting) == 0;
    if (!ready && !timed_out) {
        json_object_put(waiting);
        return NULL;
    }
    struct json_object *response = control_ok();
    json_object_object_add(response, "ready", json_object_new_boolean(ready));
    json_object_object_add(response, "waiting", waiting);
    return response;
}

static struct json_object *command_wait(struct control_client *client,
                                        struct json_object *request, const struct ucred *peer)
{
    struct json_object *bridges, *timeout = NULL;
    if (!json_object_object_get_ex(request, "bridges", &bridges)
        || !json_object_is_type(bridges, json_type_array) || json_object_array_length(bridges) == 0
        || json_object_array_length(bridges) > CONTROL_WAIT_BRIDGES_MAX)
        return control_error("wait: \"bridges\" must be an array of 1 to 64 bridge names");
    double seconds = -1;
    if (json_object_object_get_ex(request, "timeout", &timeout)
        && !json_object_is_type(timeout, json_type_null)) {
        if (!json_object_is_type(timeout, json_type_int)
            && !json_object_is_type(timeout, json_type_double))
            return control_error("wait: \"timeout\" must be a number of seconds");
        seconds = json_object_get_double(timeout);
        if (!isfinite(seconds) || seconds < 0)
            return control_error("wait: \"timeout\" must be a number of seconds");
    }
    size_t count = json_object_array_length(bridges);
    client->wait_bridges = calloc(count, sizeof(*client->wait_bridges));
    if (!client->wait_bridges)
        return control_error("out of memory");
    for (size_t i = 0; i < count; i++) {
        struct json_object *name = json_object_array_get_idx(bridges, i);
        if (!json_object_is_type(name, json_type_string))
            return control_error("wait: \"bridges\" must be an array of 1 to 64 bridge names");
        if (!(client->wait_bridges[client->wait_count++] = strdup(json_object_get_string(name))))
            return control_error("out of memory");
    }
    struct json_object *response = wait_evaluate(client, seconds == 0);
    if (response)
        return response;
    /* Held: control_server_update() or the timer answers. */
    struct ev_loop *loop = client->server->daemon->loop;
    ev_timer_stop(loop, &client->timeout);
    if (seconds > 0) {
        ev_timer_set(&client->timeout, seconds, 0);
        ev_timer_start(loop, &client->timeout);
    }
    return NULL;
}

static struct json_object *command_reload(struct control_client *client,
                                          struct json_object *request, const struct ucred *peer)
{
    log_message(LOG_INFO, "control client (pid %d, uid %u) asked for a reload", (int)peer->pid,
                (unsigned int)peer->uid);
    struct config_report report = {0};
    int r = daemon_reload(client->server->daemon, &report);
    struct json_object *response;
    if (r == 0) {
        response = control_ok();
    } else {
        char message[160];
        if (r == -EINVAL)
            snprintf(message, sizeof(message), "reload failed: the configuration has errors; "
                     "the running one was kept");
        else if (r == -ENOTCONN)
            snprintf(message, sizeof(message), "reload failed: the configuration uses xenstore, "
                     "which cannot be reached; the running one was kept");
        else
            snprintf(message, sizeof(message), "reload failed: %s", strerror(-r));
        response = control_error(message);
    }
    struct json_object *messages = json_object_new_array();
    for (size_t i = 0; i < report.line_count; i++)
        json_object_array_add(messages, json_object_new_string(report.lines[i]));
    json_object_object_add(response, "messages", messages);
    config_report_clear(&report);
    return response;
}

/* Commands of protocol/xenready-control.h; one line per command. */
static const struct control_command {
    const char *name;
    control_command_fn handle;
} commands[] = {
    {"status", command_status},
    {"wait", command_wait},
    {"reload", command_reload},
    {"ready", announce_command_ready},
    {"gone", announce_command_gone},
};

/* Returns the response, or NULL when the command answers later. */
static struct json_object *client_handle(struct control_client *client, const char *text,
                                         size_t length)
{
    struct json_object *request, *response;
    const char *name, *error;
    if (control_request_parse(text, length, &request, &name, &error) < 0)
        return control_error(error);
    const struct control_command *command = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(name, commands[i].name) == 0)
            command = &commands[i];
    if (command) {
        response = command->handle(client, request, &client->peer);
    } else {
        char message[128];
        snprintf(message, sizeof(message), "unknown command \"%.64s\"", name);
        response = control_error(message);
    }
    json_object_put(request);
    return response;
}

static void client_on_io(struct ev_loop *loop, ev_io *io, int revents)
{
    struct control_client *client = io->data;
    if (client->answer) {
        const struct answer *answer = client->answer;
        ssize_t n = send(io->fd, answer->text + client->answer_sent,
                         answer->length - client->answer_sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n < 0 || (client->answer_sent += (size_t)n) == answer->length)
            client_free(client);
        return;
    }
    if (client->wait_count) {
        /* A held "wait": only notice the client hanging up; anything more it
         * sends is not part of the protocol and is dropped. */
        char scratch[256];
        ssize_t n = recv(io->fd, scratch, sizeof(scratch), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
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
    struct json_object *response;
    if (newline) {
        response = client_handle(client, client->request, (size_t)(newline - client->request));
        if (response)
            control_client_respond(client, response);
    } else if (client->request_length == sizeof(client->request)) {
        char message[96];
        snprintf(message, sizeof(message), "request longer than %d bytes",
                 XENREADY_CONTROL_REQUEST_MAX);
        control_client_respond(client, control_error(message));
    }
}

static void client_on_timeout(struct ev_loop *loop, ev_timer *timer, int revents)
{
    struct control_client *client = timer->data;
    if (client->wait_count && !client->answer) {
        struct json_object *response = wait_evaluate(client, true);
        control_client_respond(client, response);
        return;
    }
    log_message(LOG_WARNING, "control client (pid %d, uid %u) timed out", (int)client->peer.pid,
                (unsigned int)client->peer.uid);
    client_free(client);
}

void control_server_update(struct control_server *server)
{
    if (!server)
        return;
    struct control_client *next;
    for (struct control_client *client = server->clients; client; client = next) {
        next = client->next;
        if (!client->wait_count || client->answer)
            continue;
        struct json_object *response = wait_evaluate(client, false);
        if (response)
            control_client_respond(client, response);
    }
}

/* True when the peer's primary or one of its supplementary groups is gid. */
static bool peer_in_group(int fd, const struct ucred *peer, gid_t gid)
{
    if (peer->gid == gid)
        return true;
    gid_t small[64], *groups = small;
    socklen_t size = sizeof(small);
    bool member = false;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &size) < 0) {
        if (errno != ERANGE || !(groups = malloc(size)))
            return false;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &size) < 0)
            size = 0;
    }
    for (size_t i = 0; i < size / sizeof(gid_t); i++)
        if (groups[i] == gid)
            member = true;
    if (groups != small)
        free(groups);
    return member;
}

/* Best effort: a refused client learns why when its buffer has room. */
static void refuse(int fd, const char *message)
{
    struct json_object *response = control_error(message);
    struct answer *answer = answer_new(response);
    json_object_put(response);
    if (answer)
        (void)!send(fd, answer->text, answer->length, MSG_NOSIGNAL | MSG_DONTWAIT);
    answer_unref(answer);
    close(fd);
}

static void server_on_connection(struct ev_loop *loop, ev_io *io, int revents)
{
    struct control_server *server = io->data;
    const struct daemon_options *options = &server->daemon->options;
    int fd = accept4(server->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct ucred peer;
    socklen_t size = sizeof(peer);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) < 0 || size != sizeof(peer)) {
        log_message(LOG_WARNING, "control: refused a client without credentials: %s",
                    strerror(errno));
        refuse(fd, "permission denied");
        return;
    }
    if (peer.uid != 0 && peer.uid != geteuid()
        && !(options->has_control_group && peer_in_group(fd, &peer, options->control_group))) {
        log_message(LOG_WARNING,
                    "control: refused a client (pid %d, uid %u, gid %u): neither root nor in "
                    "the control group",
                    (int)peer.pid, (unsigned int)peer.uid, (unsigned int)peer.gid);
        refuse(fd, "permission denied: root or the control group only");
        return;
    }
    if (server->client_count >= XENREADY_CONTROL_CLIENTS_MAX) {
        log_message(LOG_WARNING, "control: refused a client (pid %d, uid %u): %d clients already",
                    (int)peer.pid, (unsigned int)peer.uid, XENREADY_CONTROL_CLIENTS_MAX);
        refuse(fd, "too many clients");
        return;
    }
    struct control_client *client = calloc(1, sizeof(*client));
    if (!client) {
        close(fd);
        return;
    }
    client->server = server;
    client->peer = peer;
    ev_io_init(&client->io, client_on_io, fd, EV_READ);
    /* Below the sources of readiness: when both are pending, the signal
     * goes out before a "status" is built (see BENCHMARKS.md). */
    ev_set_priority(&client->io, EV_MINPRI);
    client->io.data = client;
    ev_timer_init(&client->timeout, client_on_timeout, XENREADY_CONTROL_TIMEOUT_SECONDS, 0);
    client->timeout.data = client;
    client->next = server->clients;
    server->clients = client;
    server->client_count++;
    ev_io_start(loop, &client->io);
    ev_timer_start(loop, &client->timeout);
}

/* The socket systemd passed (xenreadyd.socket), 0 when there is none. */
static int server_adopt(struct control_server *server)
{
    int count = sd_listen_fds(1);
    if (count <= 0)
        return count;
    int fd = SD_LISTEN_FDS_START;
    if (count != 1 || sd_is_socket_unix(fd, SOCK_STREAM, 1, server->path, 0) <= 0) {
        log_message(LOG_ERR, "systemd passed %d socket(s); expected one listening UNIX stream "
                             "socket on %s (ListenStream= of xenreadyd.socket)",
                    count, server->path);
        return -EINVAL;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0
        || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    server->fd = fd;
    server->activated = true;
    log_message(LOG_INFO, "control socket %s passed by systemd", server->path);
    return 1;
}

static int server_listen(struct control_server *server)
{
    const struct daemon_options *options = &server->daemon->options;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, server->path);
    /* Replace a socket left by an earlier instance, never another file. */
    struct stat st;
    if (lstat(server->path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(server->path);
    server->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    mode_t mask = umask(0077);
    int r = server->fd < 0 || bind(server->fd, (struct sockaddr *)&address, sizeof(address)) < 0
                    || listen(server->fd, 64) < 0
                ? -errno
                : 0;
    umask(mask);
    if (r < 0) {
        log_message(LOG_ERR, "cannot listen on control socket %s: %s", server->path, strerror(-r));
        return r;
    }
    /* Only a first line of defence: the server checks every peer itself. */
    if (!options->has_control_group)
        chmod(server->path, 0600);
    else if (chown(server->path, (uid_t)-1, options->control_group) < 0
             || chmod(server->path, 0660) < 0)
        log_message(LOG_WARNING,
                    "control socket %s: cannot give group %u access: %s; members cannot "
                    "connect (give the service that group in SupplementaryGroups=, or use "
                    "xenreadyd.socket with SocketGroup=)",
                    server->path, (unsigned int)options->control_group, strerror(errno));
    return 0;
}

int control_server_new(struct control_server **out, struct daemon *daemon, const char *path)
{
    struct sockaddr_un address;
    if (strlen(path) >= sizeof(address.sun_path)) {
        log_message(LOG_ERR, "control socket path %s is too long", path);
        return -ENAMETOOLONG;
    }
    struct control_server *server = calloc(1, sizeof(*server));
    if (!server)
        return -ENOMEM;
    server->daemon = daemon;
    server->fd = -1;
    int r = -ENOMEM;
    if (!(server->path = strdup(path)))
        goto fail;
    r = server_adopt(server);
    if (r == 0)
        r = server_listen(server);
    if (r < 0)
        goto fail;
    ev_io_init(&server->io, server_on_connection, server->fd, EV_READ);
    ev_set_priority(&server->io, EV_MINPRI);
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
    control_server_invalidate(server);
    ev_io_stop(server->daemon->loop, &server->io);
    close(server->fd);
    /* systemd keeps a passed socket listening across restarts. */
    if (!server->activated)
        unlink(server->path);
    free(server->path);
    free(server);
}
