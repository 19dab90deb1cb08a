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
#if XENREADY_WITH_SYSTEMD
#include <systemd/sd-daemon.h>
#endif
#include <unistd.h>

#include "control-request.h"
#include "util/descriptor-reserve.h"
#include "util/log.h"
#include "xenready-control.h"

/* An answer's text, framed and ready to send. Reference-counted so that one
 * "status" answer (290 KB at 600 bridges) is shared by a cache and every
 * client sending it, instead of being built and copied per client. */
struct control_answer {
    size_t refs;
    size_t length;
    char text[];
};

struct control_client {
    struct control_server *server;
    struct control_client *next;
    ev_io io;
    ev_timer timeout;          /* running while connected, except in an unbounded hold */
    char request[XENREADY_CONTROL_REQUEST_MAX];
    size_t request_length;
    struct control_answer *answer;   /* being sent; NULL while the request is read or held */
    size_t answer_sent;
    struct ucred peer;
    /* A request its handler holds (control_client_hold()). */
    bool held;
    control_hold_fn on_timeout;
    control_hold_fn on_close;
    void *hold_data;
};

/* What one uid has in progress, for its limits (xenready-control.h). */
struct uid_usage {
    uid_t uid;
    unsigned int requests;   /* connected and not held */
    unsigned int held;       /* held "wait"s */
};

struct control_server {
    struct ev_loop *loop;
    struct control_server_options options;
    const struct control_command *commands;
    size_t command_count;
    void *context;
    char *path;
    bool activated;            /* the socket came from systemd: it owns the file */
    int fd;
    ev_io io;
    struct control_client *clients;
    size_t client_count;
    /* Clients let go of: freed before the loop blocks, never from the
     * callback of their own watcher. */
    struct control_client *dead;
    ev_prepare reap;
    struct uid_usage *usage;
    size_t usage_count;
    /* Out of descriptors: accepting waits for one to be freed (a client
     * gone), or a second. */
    ev_timer resume;
    bool paused;
};

/* uid's usage, made when missing (NULL: out of memory). Entries of uids
 * with nothing in progress are reused, so the table stays small. */
static struct uid_usage *usage_of(struct control_server *server, uid_t uid, bool make)
{
    struct uid_usage *free_entry = NULL;
    for (size_t i = 0; i < server->usage_count; i++) {
        struct uid_usage *usage = &server->usage[i];
        if (usage->uid == uid)
            return usage;
        if (!usage->requests && !usage->held && !free_entry)
            free_entry = usage;
    }
    if (!make)
        return NULL;
    if (!free_entry) {
        struct uid_usage *grown = realloc(server->usage,
                                          (server->usage_count + 1) * sizeof(*grown));
        if (!grown)
            return NULL;
        server->usage = grown;
        free_entry = &grown[server->usage_count++];
    }
    *free_entry = (struct uid_usage){.uid = uid};
    return free_entry;
}

static void server_resume(struct control_server *server);

struct control_answer *control_answer_ref(struct control_answer *answer)
{
    answer->refs++;
    return answer;
}

void control_answer_unref(struct control_answer *answer)
{
    if (answer && --answer->refs == 0)
        free(answer);
}

/* Stops serving the client at once; its memory goes at the next safe point. */
static void client_free(struct control_client *client)
{
    struct control_server *server = client->server;
    for (struct control_client **link = &server->clients; *link; link = &(*link)->next)
        if (*link == client) {
            *link = client->next;
            server->client_count--;
            break;
        }
    ev_io_stop(server->loop, &client->io);
    ev_timer_stop(server->loop, &client->timeout);
    close(client->io.fd);
    struct uid_usage *usage = usage_of(server, client->peer.uid, false);
    if (usage && client->held)
        usage->held--;
    else if (usage)
        usage->requests--;
    if (client->held && client->on_close)
        client->on_close(client, client->hold_data);
    client->held = false;
    if (server->paused)
        server_resume(server);
    control_answer_unref(client->answer);
    client->answer = NULL;
    client->next = server->dead;
    server->dead = client;
    ev_prepare_start(server->loop, &server->reap);
}

static void server_on_reap(struct ev_loop *loop, ev_prepare *prepare, int revents)
{
    struct control_server *server = prepare->data;
    ev_prepare_stop(loop, prepare);
    while (server->dead) {
        struct control_client *next = server->dead->next;
        free(server->dead);
        server->dead = next;
    }
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

struct control_answer *control_answer_new(struct json_object *response)
{
    struct json_object *framed = json_object_new_object();
    json_object_object_add(framed, "version", json_object_new_int(XENREADY_CONTROL_VERSION));
    json_object_object_foreach(response, key, value)
        json_object_object_add(framed, key, json_object_get(value));
    size_t length;
    const char *text = json_object_to_json_string_length(framed, JSON_C_TO_STRING_PLAIN, &length);
    struct control_answer *answer = text ? malloc(sizeof(*answer) + length + 2) : NULL;
    if (answer) {
        answer->refs = 1;
        answer->length = length + 1;
        memcpy(answer->text, text, length);
        memcpy(answer->text + length, "\n", 2);
    }
    json_object_put(framed);
    return answer;
}

void control_client_send(struct control_client *client, struct control_answer *answer)
{
    if (!answer) {
        client_free(client);
        return;
    }
    if (client->held) {
        struct uid_usage *usage = usage_of(client->server, client->peer.uid, false);
        if (usage) {
            usage->held--;
            usage->requests++;
        }
    }
    client->held = false;
    client->answer = answer;
    struct ev_loop *loop = client->server->loop;
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
    struct control_answer *answer = control_answer_new(response);
    json_object_put(response);
    control_client_send(client, answer);
}

int control_client_hold(struct control_client *client, double timeout,
                        control_hold_fn on_timeout, control_hold_fn on_close, void *data)
{
    struct ev_loop *loop = client->server->loop;
    struct uid_usage *usage = usage_of(client->server, client->peer.uid, false);
    /* Counted apart from requests: a uid's waits cannot take the room of
     * its own "ready", nor of anyone else's. */
    if (!usage || (client->peer.uid != 0 && usage->held >= XENREADY_CONTROL_WAITS_PER_UID_MAX))
        return -EBUSY;
    usage->requests--;
    usage->held++;
    client->held = true;
    client->on_timeout = on_timeout;
    client->on_close = on_close;
    client->hold_data = data;
    ev_timer_stop(loop, &client->timeout);
    if (timeout >= 0) {
        ev_timer_set(&client->timeout, timeout, 0);
        ev_timer_start(loop, &client->timeout);
    }
    return 0;
}

/* Returns the response, or NULL when the command answers later. */
static struct json_object *client_handle(struct control_client *client, const char *text,
                                         size_t length)
{
    struct json_object *request, *response;
    const char *name, *error;
    if (control_request_parse(text, length, &request, &name, &error) < 0)
        return control_error(error);
    struct control_server *server = client->server;
    const struct control_command *command = NULL;
    for (size_t i = 0; i < server->command_count; i++)
        if (strcmp(name, server->commands[i].name) == 0)
            command = &server->commands[i];
    if (command && command->root_only && client->peer.uid != 0
        && client->peer.uid != geteuid()) {
        char message[128];
        snprintf(message, sizeof(message), "permission denied: %s is for root only",
                 command->name);
        response = control_error(message);
    } else if (command) {
        response = command->handle(server->context, client, request, &client->peer);
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
        const struct control_answer *answer = client->answer;
        ssize_t n = send(io->fd, answer->text + client->answer_sent,
                         answer->length - client->answer_sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n < 0 || (client->answer_sent += (size_t)n) == answer->length)
            client_free(client);
        return;
    }
    if (client->held) {
        /* A held request: only notice the client hanging up; anything more
         * it sends is not part of the protocol and is dropped. */
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
    if (client->held && !client->answer) {
        client->held = false;
        client->on_timeout(client, client->hold_data);
        return;
    }
    log_message(LOG_WARNING, "control client (pid %d, uid %u) timed out", (int)client->peer.pid,
                (unsigned int)client->peer.uid);
    client_free(client);
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

/* Best effort: a refused client learns why when its buffer has room. What
 * it sent already is read and dropped first (at most one request): closing
 * on unread data would reset the connection under the answer. */
static void refuse(int fd, const char *message)
{
    struct json_object *response = control_error(message);
    struct control_answer *answer = control_answer_new(response);
    json_object_put(response);
    if (answer)
        (void)!send(fd, answer->text, answer->length, MSG_NOSIGNAL | MSG_DONTWAIT);
    control_answer_unref(answer);
    char discard[XENREADY_CONTROL_REQUEST_MAX];
    (void)!recv(fd, discard, sizeof(discard), MSG_DONTWAIT);
    close(fd);
}

static void server_on_connection(struct ev_loop *loop, ev_io *io, int revents)
{
    struct control_server *server = io->data;
    const struct control_server_options *options = &server->options;
    int fd = accept4(server->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0 && errno == EMFILE && descriptor_reserve_lend()) {
        /* The client is told at once, on the reserve's descriptor, rather
         * than left waiting for one. */
        fd = accept4(server->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            log_message(LOG_WARNING, "control: refused a client: out of descriptors (%s)",
                        strerror(EMFILE));
            refuse(fd, "out of descriptors (too many open files); see the daemon's log");
        }
        descriptor_reserve_take_back();
        if (fd >= 0)
            return;
        errno = EMFILE;
    }
    if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
        /* The connection stays queued; trying again at once would spin. */
        log_message(LOG_ERR, "control: cannot accept a client: %s; accepting again once a "
                    "descriptor is free", strerror(errno));
        ev_io_stop(loop, &server->io);
        ev_timer_start(loop, &server->resume);
        server->paused = true;
        return;
    }
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
        && !(options->has_group && peer_in_group(fd, &peer, options->group))) {
        log_message(LOG_WARNING,
                    "control: refused a client (pid %d, uid %u, gid %u): neither root nor in "
                    "the control group",
                    (int)peer.pid, (unsigned int)peer.uid, (unsigned int)peer.gid);
        refuse(fd, "permission denied: root or the control group only");
        return;
    }
    /* Root and backend owners keep room however many others connect. */
    bool reserved = peer.uid == 0 || peer.uid == geteuid()
                    || (options->reserved && options->reserved(server->context, peer.uid));
    size_t limit = reserved ? XENREADY_CONTROL_CLIENTS_MAX
                            : XENREADY_CONTROL_CLIENTS_MAX - XENREADY_CONTROL_RESERVED;
    struct uid_usage *usage = usage_of(server, peer.uid, true);
    const char *full = !usage ? "out of memory"
                       : server->client_count >= limit ? "too many clients"
                       : peer.uid != 0
                               && usage->requests + usage->held >= XENREADY_CONTROL_PER_UID_MAX
                           ? "too many clients of this uid"
                           : NULL;
    if (full) {
        log_message(LOG_WARNING, "control: refused a client (pid %d, uid %u): %s (%zu connected)",
                    (int)peer.pid, (unsigned int)peer.uid, full, server->client_count);
        refuse(fd, full);
        return;
    }
    struct control_client *client = calloc(1, sizeof(*client));
    if (!client) {
        log_message(LOG_WARNING, "control: refused a client (pid %d, uid %u): out of memory",
                    (int)peer.pid, (unsigned int)peer.uid);
        close(fd);
        return;
    }
    client->server = server;
    client->peer = peer;
    usage->requests++;
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

static void server_resume(struct control_server *server)
{
    server->paused = false;
    ev_timer_stop(server->loop, &server->resume);
    ev_io_start(server->loop, &server->io);
}

static void server_on_resume(struct ev_loop *loop, ev_timer *timer, int revents)
{
    server_resume(timer->data);
}

#if XENREADY_WITH_SYSTEMD
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
#else
/* Built without systemd: no socket activation. A socket passed all the
 * same (xenreadyd.socket enabled) holds the path: refused with the reason,
 * rather than "something listens" from server_listen(). */
static int server_adopt(struct control_server *server)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
        return 0;
    log_message(LOG_ERR, "systemd passed %s socket(s) for %s (xenreadyd.socket?), but this "
                "xenreadyd was built without systemd (-DXENREADY_SYSTEMD=OFF) and cannot take "
                "them over: disable xenreadyd.socket", fds, server->path);
    return -EINVAL;
}
#endif

/* Whether something listens at address: it takes a connection, or would if
 * its backlog had room. */
static bool socket_live(const struct sockaddr_un *address)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool live = connect(fd, (const struct sockaddr *)address, sizeof(*address)) == 0
                || errno == EAGAIN;
    close(fd);
    return live;
}

static int server_listen(struct control_server *server)
{
    const struct control_server_options *options = &server->options;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, server->path);
    /* Replace a socket left by an earlier instance, never another file,
     * and never one that is live (another daemon's). */
    struct stat st;
    if (lstat(server->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        if (socket_live(&address)) {
            log_message(LOG_ERR, "something listens on control socket %s already (another "
                        "xenreadyd?): not replacing it", server->path);
            return -EADDRINUSE;
        }
        unlink(server->path);
    }
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
    if (!options->has_group)
        chmod(server->path, 0600);
    else if (chown(server->path, (uid_t)-1, options->group) < 0
             || chmod(server->path, 0660) < 0)
        log_message(LOG_WARNING,
                    "control socket %s: cannot give group %u access: %s; members cannot "
                    "connect (give the service that group in SupplementaryGroups=, or use "
                    "xenreadyd.socket with SocketGroup=)",
                    server->path, (unsigned int)options->group, strerror(errno));
    return 0;
}

int control_server_new(struct control_server **out, struct ev_loop *loop,
                       const struct control_server_options *options,
                       const struct control_command *commands, size_t command_count,
                       void *context)
{
    const char *path = options->path;
    struct sockaddr_un address;
    if (strlen(path) >= sizeof(address.sun_path)) {
        log_message(LOG_ERR, "control socket path %s is too long", path);
        return -ENAMETOOLONG;
    }
    struct control_server *server = calloc(1, sizeof(*server));
    if (!server)
        return -ENOMEM;
    *server = (struct control_server){.loop = loop, .options = *options, .commands = commands,
                                      .command_count = command_count, .context = context,
                                      .fd = -1};
    ev_prepare_init(&server->reap, server_on_reap);
    server->reap.data = server;
    ev_timer_init(&server->resume, server_on_resume, 1., 0.);
    server->resume.data = server;
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
    ev_io_start(loop, &server->io);
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
    server_on_reap(server->loop, &server->reap, 0);
    ev_io_stop(server->loop, &server->io);
    ev_timer_stop(server->loop, &server->resume);
    free(server->usage);
    close(server->fd);
    /* systemd keeps a passed socket listening across restarts. */
    if (!server->activated)
        unlink(server->path);
    free(server->path);
    free(server);
}
