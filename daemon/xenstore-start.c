// SPDX-License-Identifier: GPL-2.0-or-later
#include "xenstore-start.h"

#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "probes/path-watch.h"
#include "util/log.h"
#include "xen/xenstore.h"

enum { SLOW_SECONDS = 1 };
#define RETRY_FIRST_SECONDS 0.1
#define RETRY_MAX_SECONDS 5.0

struct start_wait {
    struct ev_loop *loop;
    xenstore_waiting_fn waiting;
    void *data;
    ev_async done;
    ev_timer retry;
    ev_timer slow;               /* an attempt still under way: it waits for xenstored */
    struct path_watcher *watcher;
    struct path_watch *socket;   /* xenstored's socket appearing */
    double delay;
    pthread_t thread;
    bool attempting;
    /* Written by the thread, read once it is joined. */
    struct xenstore *xenstore;
    int result;
    /* The outcome: 0 connected, a negative errno, or 1 still waiting. */
    int outcome;
};

/* Errors that xenstored coming up mends. */
static bool transient(int r)
{
    return r == -ENOENT || r == -ECONNREFUSED || r == -EAGAIN || r == -ECONNRESET
           || r == -EPIPE || r == -EIO || r == -ENOTCONN;
}

static void *attempt_run(void *data)
{
    struct start_wait *wait = data;
    wait->result = xenstore_open(&wait->xenstore, wait->loop);
    ev_async_send(wait->loop, &wait->done);
    return NULL;
}

static void attempt_start(struct start_wait *wait)
{
    if (wait->attempting)
        return;
    ev_timer_stop(wait->loop, &wait->retry);
    wait->xenstore = NULL;
    int r = pthread_create(&wait->thread, NULL, attempt_run, wait);
    if (r) {
        wait->outcome = -r;
        ev_break(wait->loop, EVBREAK_ONE);
        return;
    }
    wait->attempting = true;
    ev_timer_set(&wait->slow, SLOW_SECONDS, 0);
    ev_timer_start(wait->loop, &wait->slow);
}

static void on_done(struct ev_loop *loop, ev_async *async, int revents)
{
    struct start_wait *wait = async->data;
    if (!wait->attempting)
        return;
    pthread_join(wait->thread, NULL);
    wait->attempting = false;
    ev_timer_stop(loop, &wait->slow);
    int r = wait->result;
    if (r == 0 || !transient(r)) {
        wait->outcome = r;
        ev_break(loop, EVBREAK_ONE);
        return;
    }
    wait->delay = wait->delay ? wait->delay * 2 : RETRY_FIRST_SECONDS;
    if (wait->delay > RETRY_MAX_SECONDS)
        wait->delay = RETRY_MAX_SECONDS;
    char why[160];
    snprintf(why, sizeof(why), "cannot connect yet (%s); again when %s appears, or in %.1f s",
             strerror(-r), xs_daemon_socket(), wait->delay);
    wait->waiting(why, wait->data);
    ev_timer_set(&wait->retry, wait->delay, 0);
    ev_timer_start(loop, &wait->retry);
}

static void on_retry(struct ev_loop *loop, ev_timer *timer, int revents)
{
    attempt_start(timer->data);
}

static void on_slow(struct ev_loop *loop, ev_timer *timer, int revents)
{
    struct start_wait *wait = timer->data;
    wait->waiting("xenstored does not answer yet", wait->data);
}

static void on_socket(struct path_watch *watch, void *userdata)
{
    log_message(LOG_DEBUG, "something changed at %s: connecting to xenstore again",
                xs_daemon_socket());
    attempt_start(userdata);
}

int xenstore_start_wait(struct ev_loop *loop, struct xenstore **out, xenstore_waiting_fn waiting,
                        void *data)
{
    struct start_wait *wait = calloc(1, sizeof(*wait));
    if (!wait)
        return -ENOMEM;
    *wait = (struct start_wait){.loop = loop, .waiting = waiting, .data = data, .outcome = 1};
    ev_async_init(&wait->done, on_done);
    wait->done.data = wait;
    ev_init(&wait->retry, on_retry);
    wait->retry.data = wait;
    ev_init(&wait->slow, on_slow);
    wait->slow.data = wait;
    ev_async_start(loop, &wait->done);
    /* Without inotify, the backoff alone. */
    if (path_watcher_new(&wait->watcher, loop) == 0
        && path_watch_add(wait->watcher, xs_daemon_socket(), on_socket, wait, &wait->socket) < 0)
        wait->socket = NULL;
    attempt_start(wait);
    /* Until a break: ours (an outcome), or a stop signal's (none yet). */
    if (wait->outcome == 1)
        ev_run(loop, 0);
    int outcome = wait->outcome == 1 ? -ECANCELED : wait->outcome;
    ev_timer_stop(loop, &wait->retry);
    ev_timer_stop(loop, &wait->slow);
    path_watch_remove(wait->socket);
    path_watcher_free(wait->watcher);
    if (wait->attempting) {
        /* Stopped while an attempt blocks: it ends with the process. */
        ev_async_stop(loop, &wait->done);
        pthread_detach(wait->thread);
        return outcome;
    }
    ev_async_stop(loop, &wait->done);
    if (outcome == 0)
        *out = wait->xenstore;
    free(wait);
    return outcome;
}
