// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xenstored-shim: LD_PRELOAD object that lets the unmodified Debian
 * xenstored run without a hypervisor (see TESTBED-xenstored.md).
 *
 * It defines the libxenctrl/libxengnttab/libxenevtchn functions xenstored
 * imports (unversioned definitions satisfy its versioned references) and
 * fakes /proc/xen/xsd_port and /proc/xen/xsd_kva. The interesting part is
 * the grant "mapping" of a guest's ring page: the shim owns that page and a
 * relay thread serves it from $XENREADY_SHIM_DIR/domain-<N>.sock, so that
 * every libxenstore client connected there is, to xenstored, unprivileged
 * domain N. Several clients share the one ring the way Linux's xenbus
 * driver multiplexes them: req_id rewriting, per-client watch token
 * prefixes, and cleanup of watches/transactions when a client goes away.
 *
 * Everything except the relay threads runs on xenstored's (single) main
 * thread, so the domain table needs no lock; a relay thread only touches
 * its own struct relay, the ring page and the shared wake eventfd.
 */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/io/xs_wire.h>

#define SHIM_PORT_DEV "/proc/xen/xsd_port"
#define SHIM_KVA_DEV "/proc/xen/xsd_kva"
#define SHIM_PAGE_SIZE 4096
#define SHIM_HDR_SIZE sizeof(struct xsd_sockmsg)
#define SHIM_MSG_MAX (SHIM_HDR_SIZE + XENSTORE_PAYLOAD_MAX)
/* Watch tokens get "%08x" of the client id in front of them. */
#define SHIM_TOKEN_PREFIX_LEN 8
/* A client that does not read its replies is dropped beyond this. */
#define SHIM_CLIENT_OUT_MAX (4u << 20)

/* Opaque handle types of the real libraries: one static instance each. */
struct xc_interface_core {
	int unused;
};
struct xengntdev_handle {
	int unused;
};
struct xenevtchn_handle {
	int fd;
};

/* A complete message waiting to enter the request ring. */
struct shim_msg {
	struct shim_msg *next;
	struct shim_client *owner; /* NULL: relay's own or owner gone */
	size_t len;
	unsigned char data[]; /* header + payload */
};

/* A request whose reply has not arrived yet, keyed by the relay's req_id. */
struct shim_pending {
	struct shim_pending *next;
	uint32_t req_id;
	uint32_t orig_req_id;
	uint32_t tx_id;
	uint32_t type;
	struct shim_client *client; /* NULL: discard the reply */
	size_t payload_len;         /* saved payload of XS_WATCH/XS_UNWATCH */
	unsigned char payload[];
};

struct shim_watch {
	struct shim_watch *next;
	size_t len;
	unsigned char payload[]; /* "path\0<prefix>token\0" as sent to xenstored */
};

struct shim_tx {
	struct shim_tx *next;
	uint32_t tx_id;
};

struct shim_client {
	struct shim_client *next;
	int fd;
	unsigned int id;
	bool queued; /* its last request has not fully entered the ring */
	bool dead;
	size_t in_len;
	unsigned char in[SHIM_MSG_MAX];
	unsigned char *out;
	size_t out_len, out_off, out_cap;
	struct shim_watch *watches;
	struct shim_tx *txs;
};

struct relay {
	struct relay *next;
	unsigned int domid;
	evtchn_port_t port; /* 0 while unbound */
	struct xenstore_domain_interface *intf;
	int listen_fd;
	int notify_fd; /* xenstored -> relay */
	int stop_fd;
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	/* Relay thread only from here on. */
	struct shim_client *clients;
	unsigned int next_client_id;
	uint32_t next_req_id;
	struct shim_pending *pending;
	struct shim_msg *queue_head, *queue_tail;
	size_t queue_sent; /* bytes of queue_head already in the ring */
	size_t rsp_len;
	unsigned char rsp[SHIM_MSG_MAX];
	bool broken;
};

static struct xc_interface_core shim_xc;
static struct xengntdev_handle shim_gnttab;
static struct xenevtchn_handle shim_evtchn = { .fd = -1 };
static evtchn_port_t shim_next_port = 1;
static evtchn_port_t shim_wake_port;
static struct relay *shim_relays;

static void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void shim_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("xenstored-shim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void shim_wake_fd(int fd)
{
	uint64_t one = 1;

	/* An eventfd write only fails if the counter would overflow. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		shim_log("eventfd write: %s", strerror(errno));
}

static void shim_drain_fd(int fd)
{
	uint64_t val;

	if (read(fd, &val, sizeof(val)) < 0 && errno != EAGAIN)
		shim_log("eventfd read: %s", strerror(errno));
}

/* ---- client side of the relay ---- */

static int client_queue_out(struct shim_client *c, const void *hdr, const void *payload,
			    size_t payload_len)
{
	size_t need = SHIM_HDR_SIZE + payload_len;
	ssize_t n;

	if (c->dead)
		return -EPIPE;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : SHIM_MSG_MAX;
		unsigned char *p;

		while (cap < c->out_len + need)
			cap *= 2;
		if (cap > SHIM_CLIENT_OUT_MAX)
			return -ENOBUFS;
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, hdr, SHIM_HDR_SIZE);
	memcpy(c->out + c->out_len + SHIM_HDR_SIZE, payload, payload_len);
	c->out_len += need;

	/* Try at once; whatever the socket cannot take waits for POLLOUT. */
	n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		 MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
	c->out_off += (size_t)n;
	return 0;
}

static void client_send(struct shim_client *c, const struct xsd_sockmsg *hdr,
			const void *payload)
{
	if (client_queue_out(c, hdr, payload, hdr->len) < 0)
		c->dead = true;
}

static void client_flush(struct shim_client *c)
{
	ssize_t n;

	if (c->out_off == c->out_len)
		return;
	n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		 MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return;
	}
	c->out_off += (size_t)n;
}

static void client_send_error(struct shim_client *c, uint32_t req_id, uint32_t tx_id,
			      const char *err)
{
	struct xsd_sockmsg hdr = {
		.type = XS_ERROR, .req_id = req_id, .tx_id = tx_id,
		.len = (uint32_t)strlen(err) + 1,
	};

	client_send(c, &hdr, err);
}

/* ---- request queue towards the ring ---- */

static struct shim_msg *relay_msg_new(const struct xsd_sockmsg *hdr, const void *payload)
{
	struct shim_msg *m = malloc(sizeof(*m) + SHIM_HDR_SIZE + hdr->len);

	if (!m)
		return NULL;
	m->next = NULL;
	m->owner = NULL;
	m->len = SHIM_HDR_SIZE + hdr->len;
	memcpy(m->data, hdr, SHIM_HDR_SIZE);
	memcpy(m->data + SHIM_HDR_SIZE, payload, hdr->len);
	return m;
}

static void relay_enqueue(struct relay *r, struct shim_msg *m)
{
	if (r->queue_tail)
		r->queue_tail->next = m;
	else
		r->queue_head = m;
	r->queue_tail = m;
}

static struct shim_pending *relay_add_pending(struct relay *r, struct shim_client *c,
					      struct xsd_sockmsg *hdr, const void *payload)
{
	bool keep = hdr->type == XS_WATCH || hdr->type == XS_UNWATCH;
	size_t keep_len = keep ? hdr->len : 0;
	struct shim_pending *p = malloc(sizeof(*p) + keep_len);

	if (!p)
		return NULL;
	p->req_id = ++r->next_req_id;
	p->orig_req_id = hdr->req_id;
	p->tx_id = hdr->tx_id;
	p->type = hdr->type;
	p->client = c;
	p->payload_len = keep_len;
	memcpy(p->payload, payload, keep_len);
	p->next = r->pending;
	r->pending = p;
	hdr->req_id = p->req_id;
	return p;
}

/* The relay's own requests (cleanup for departed clients); replies dropped. */
static void relay_send_internal(struct relay *r, uint32_t type, uint32_t tx_id,
				const void *payload, size_t len)
{
	struct xsd_sockmsg hdr = { .type = type, .tx_id = tx_id, .len = (uint32_t)len };
	struct shim_msg *m;

	if (!relay_add_pending(r, NULL, &hdr, payload))
		goto fail;
	m = relay_msg_new(&hdr, payload);
	if (!m)
		goto fail;
	relay_enqueue(r, m);
	return;
fail:
	shim_log("domain %u: out of memory for cleanup request", r->domid);
}

static void client_free(struct relay *r, struct shim_client *c)
{
	struct shim_pending *p;
	struct shim_msg *m;

	/* What it left behind must not reach the other clients of the domain. */
	for (struct shim_watch *w = c->watches, *next; w; w = next) {
		next = w->next;
		relay_send_internal(r, XS_UNWATCH, 0, w->payload, w->len);
		free(w);
	}
	for (struct shim_tx *t = c->txs, *next; t; t = next) {
		next = t->next;
		relay_send_internal(r, XS_TRANSACTION_END, t->tx_id, "F", 2);
		free(t);
	}
	for (p = r->pending; p; p = p->next)
		if (p->client == c)
			p->client = NULL;
	for (m = r->queue_head; m; m = m->next)
		if (m->owner == c)
			m->owner = NULL;
	close(c->fd);
	free(c->out);
	free(c);
}

static void relay_reap_clients(struct relay *r)
{
	struct shim_client **pp = &r->clients;

	while (*pp) {
		struct shim_client *c = *pp;

		if (c->dead) {
			*pp = c->next;
			client_free(r, c);
		} else {
			pp = &c->next;
		}
	}
}

/* Gives the client's watch token its prefix; 0 or negative errno. */
static int relay_prefix_token(const struct shim_client *c, struct xsd_sockmsg *hdr,
			      const unsigned char *payload, unsigned char *out)
{
	const unsigned char *nul = memchr(payload, '\0', hdr->len);
	size_t path_len, token_len;

	if (!nul || payload[hdr->len - 1] != '\0')
		return -EINVAL;
	path_len = (size_t)(nul - payload) + 1;
	token_len = hdr->len - path_len;
	if (hdr->len + SHIM_TOKEN_PREFIX_LEN > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	memcpy(out, payload, path_len);
	snprintf((char *)out + path_len, SHIM_TOKEN_PREFIX_LEN + 1, "%08x", c->id);
	memcpy(out + path_len + SHIM_TOKEN_PREFIX_LEN, nul + 1, token_len);
	hdr->len += SHIM_TOKEN_PREFIX_LEN;
	return 0;
}

/* A complete request arrived from client c. */
static void relay_client_request(struct relay *r, struct shim_client *c)
{
	struct xsd_sockmsg hdr;
	unsigned char buf[XENSTORE_PAYLOAD_MAX];
	const unsigned char *payload = c->in + SHIM_HDR_SIZE;
	struct shim_msg *m;
	int rc;

	memcpy(&hdr, c->in, SHIM_HDR_SIZE);
	c->in_len = 0;
	if (hdr.type == XS_WATCH || hdr.type == XS_UNWATCH) {
		rc = relay_prefix_token(c, &hdr, payload, buf);
		if (rc == -E2BIG) {
			client_send_error(c, hdr.req_id, hdr.tx_id, "E2BIG");
			return;
		}
		/* Malformed: xenstored answers EINVAL on its own. */
		if (rc == 0)
			payload = buf;
	}
	if (!relay_add_pending(r, c, &hdr, payload))
		goto nomem;
	m = relay_msg_new(&hdr, payload);
	if (!m)
		goto nomem;
	m->owner = c;
	c->queued = true;
	relay_enqueue(r, m);
	return;
nomem:
	/* The pending entry (if any) is harmless: its req_id never comes back. */
	client_send_error(c, hdr.req_id, hdr.tx_id, "ENOMEM");
}

static void relay_client_read(struct relay *r, struct shim_client *c)
{
	size_t want;
	ssize_t n;

	/* Read no further than the end of the current message. */
	if (c->in_len < SHIM_HDR_SIZE) {
		want = SHIM_HDR_SIZE - c->in_len;
	} else {
		uint32_t len;

		memcpy(&len, c->in + offsetof(struct xsd_sockmsg, len), sizeof(len));
		want = SHIM_HDR_SIZE + len - c->in_len;
	}
	n = read(c->fd, c->in + c->in_len, want);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return;
	}
	if (n == 0) {
		c->dead = true;
		return;
	}
	c->in_len += (size_t)n;
	if (c->in_len == SHIM_HDR_SIZE) {
		uint32_t len;

		memcpy(&len, c->in + offsetof(struct xsd_sockmsg, len), sizeof(len));
		/* Forwarded, it would make xenstored drop the whole domain. */
		if (len > XENSTORE_PAYLOAD_MAX) {
			shim_log("domain %u: client %u sent oversize message (%u), dropped",
				 r->domid, c->id, len);
			c->dead = true;
			return;
		}
	}
	if (c->in_len >= SHIM_HDR_SIZE) {
		uint32_t len;

		memcpy(&len, c->in + offsetof(struct xsd_sockmsg, len), sizeof(len));
		if (c->in_len == SHIM_HDR_SIZE + len)
			relay_client_request(r, c);
	}
}

static void relay_accept(struct relay *r)
{
	for (;;) {
		int fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct shim_client *c, **pp;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				shim_log("domain %u: accept: %s", r->domid, strerror(errno));
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->id = ++r->next_client_id;
		/* Appended: the pollfd array of this round matches the list head. */
		pp = &r->clients;
		while (*pp)
			pp = &(*pp)->next;
		*pp = c;
	}
}

/* ---- replies and events from xenstored ---- */

static struct shim_client *relay_find_client(struct relay *r, unsigned int id)
{
	for (struct shim_client *c = r->clients; c; c = c->next)
		if (c->id == id && !c->dead)
			return c;
	return NULL;
}

static void relay_watch_event(struct relay *r, const struct xsd_sockmsg *hdr,
			      const unsigned char *payload)
{
	const unsigned char *nul = memchr(payload, '\0', hdr->len);
	unsigned char buf[XENSTORE_PAYLOAD_MAX];
	struct xsd_sockmsg out = *hdr;
	char idstr[SHIM_TOKEN_PREFIX_LEN + 1];
	struct shim_client *c;
	size_t path_len;
	char *end;
	unsigned long id;

	if (!nul)
		return;
	path_len = (size_t)(nul - payload) + 1;
	if (hdr->len < path_len + SHIM_TOKEN_PREFIX_LEN)
		return;
	memcpy(idstr, payload + path_len, SHIM_TOKEN_PREFIX_LEN);
	idstr[SHIM_TOKEN_PREFIX_LEN] = '\0';
	id = strtoul(idstr, &end, 16);
	if (*end)
		return;
	c = relay_find_client(r, (unsigned int)id);
	if (!c)
		return; /* its owner is gone; the UNWATCH is on its way */
	memcpy(buf, payload, path_len);
	memcpy(buf + path_len, payload + path_len + SHIM_TOKEN_PREFIX_LEN,
	       hdr->len - path_len - SHIM_TOKEN_PREFIX_LEN);
	out.len = hdr->len - SHIM_TOKEN_PREFIX_LEN;
	client_send(c, &out, buf);
}

static void client_add_watch(struct shim_client *c, const struct shim_pending *p)
{
	struct shim_watch *w = malloc(sizeof(*w) + p->payload_len);

	if (!w)
		return;
	w->len = p->payload_len;
	memcpy(w->payload, p->payload, p->payload_len);
	w->next = c->watches;
	c->watches = w;
}

static void client_del_watch(struct shim_client *c, const struct shim_pending *p)
{
	for (struct shim_watch **pp = &c->watches; *pp; pp = &(*pp)->next) {
		struct shim_watch *w = *pp;

		if (w->len == p->payload_len && !memcmp(w->payload, p->payload, w->len)) {
			*pp = w->next;
			free(w);
			return;
		}
	}
}

static void client_del_tx(struct shim_client *c, uint32_t tx_id)
{
	for (struct shim_tx **pp = &c->txs; *pp; pp = &(*pp)->next) {
		if ((*pp)->tx_id == tx_id) {
			struct shim_tx *t = *pp;

			*pp = t->next;
			free(t);
			return;
		}
	}
}

static uint32_t relay_parse_tx(const struct xsd_sockmsg *hdr, const unsigned char *payload)
{
	char buf[16];
	size_t n = hdr->len < sizeof(buf) - 1 ? hdr->len : sizeof(buf) - 1;

	memcpy(buf, payload, n);
	buf[n] = '\0';
	return (uint32_t)strtoul(buf, NULL, 10);
}

/* Remembers what a reply tells about watches and transactions. */
static void relay_track_reply(struct relay *r, const struct shim_pending *p,
			      const struct xsd_sockmsg *hdr, const unsigned char *payload)
{
	struct shim_client *c = p->client;
	bool ok = hdr->type != XS_ERROR;

	switch (p->type) {
	case XS_WATCH:
		if (!ok)
			break;
		if (c)
			client_add_watch(c, p);
		else
			relay_send_internal(r, XS_UNWATCH, 0, p->payload, p->payload_len);
		break;
	case XS_UNWATCH:
		if (ok && c)
			client_del_watch(c, p);
		break;
	case XS_TRANSACTION_START: {
		uint32_t tx_id;
		struct shim_tx *t;

		if (!ok)
			break;
		tx_id = relay_parse_tx(hdr, payload);
		if (!c) {
			relay_send_internal(r, XS_TRANSACTION_END, tx_id, "F", 2);
			break;
		}
		t = malloc(sizeof(*t));
		if (!t)
			break;
		t->tx_id = tx_id;
		t->next = c->txs;
		c->txs = t;
		break;
	}
	case XS_TRANSACTION_END:
		/* Success or not (EAGAIN), xenstored has forgotten it. */
		if (c)
			client_del_tx(c, p->tx_id);
		break;
	default:
		break;
	}
}

static void relay_reply(struct relay *r)
{
	struct xsd_sockmsg hdr;
	const unsigned char *payload = r->rsp + SHIM_HDR_SIZE;
	struct shim_pending **pp, *p;

	memcpy(&hdr, r->rsp, SHIM_HDR_SIZE);
	if (hdr.type == XS_WATCH_EVENT) {
		relay_watch_event(r, &hdr, payload);
		return;
	}
	for (pp = &r->pending; *pp; pp = &(*pp)->next)
		if ((*pp)->req_id == hdr.req_id)
			break;
	p = *pp;
	if (!p) {
		shim_log("domain %u: reply for unknown req_id %u dropped", r->domid, hdr.req_id);
		return;
	}
	*pp = p->next;
	relay_track_reply(r, p, &hdr, payload);
	if (p->client && !p->client->dead) {
		hdr.req_id = p->orig_req_id;
		client_send(p->client, &hdr, payload);
	}
	free(p);
}

/* ---- the ring ---- */

static inline uint32_t ring_load(const XENSTORE_RING_IDX *idx)
{
	return *(const volatile XENSTORE_RING_IDX *)idx;
}

static inline void ring_store(XENSTORE_RING_IDX *idx, uint32_t val)
{
	*(volatile XENSTORE_RING_IDX *)idx = val;
}

/* Copies replies out of the response ring; true if it consumed anything. */
static bool relay_pull(struct relay *r)
{
	struct xenstore_domain_interface *intf = r->intf;
	bool changed = false;

	while (!r->broken) {
		XENSTORE_RING_IDX cons = ring_load(&intf->rsp_cons);
		XENSTORE_RING_IDX prod = ring_load(&intf->rsp_prod);
		uint32_t avail, chunk, need;

		/* Read the indexes before the data they cover. */
		atomic_thread_fence(memory_order_seq_cst);
		avail = prod - cons;
		if (avail == 0)
			break;
		if (avail > XENSTORE_RING_SIZE) {
			shim_log("domain %u: corrupt response ring", r->domid);
			r->broken = true;
			break;
		}
		if (r->rsp_len < SHIM_HDR_SIZE) {
			need = (uint32_t)(SHIM_HDR_SIZE - r->rsp_len);
		} else {
			uint32_t len;

			memcpy(&len, r->rsp + offsetof(struct xsd_sockmsg, len), sizeof(len));
			need = (uint32_t)(SHIM_HDR_SIZE + len - r->rsp_len);
		}
		chunk = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons);
		if (chunk > avail)
			chunk = avail;
		if (chunk > need)
			chunk = need;
		memcpy(r->rsp + r->rsp_len, intf->rsp + MASK_XENSTORE_IDX(cons), chunk);
		/* Finish copying before handing the space back. */
		atomic_thread_fence(memory_order_seq_cst);
		ring_store(&intf->rsp_cons, cons + chunk);
		changed = true;
		r->rsp_len += chunk;

		if (r->rsp_len == SHIM_HDR_SIZE) {
			uint32_t len;

			memcpy(&len, r->rsp + offsetof(struct xsd_sockmsg, len), sizeof(len));
			if (len > XENSTORE_PAYLOAD_MAX) {
				shim_log("domain %u: oversize reply from xenstored", r->domid);
				r->broken = true;
				break;
			}
		}
		if (r->rsp_len >= SHIM_HDR_SIZE) {
			uint32_t len;

			memcpy(&len, r->rsp + offsetof(struct xsd_sockmsg, len), sizeof(len));
			if (r->rsp_len == SHIM_HDR_SIZE + len) {
				relay_reply(r);
				r->rsp_len = 0;
			}
		}
	}
	return changed;
}

/* Copies queued whole requests into the request ring as space allows. */
static bool relay_push(struct relay *r)
{
	struct xenstore_domain_interface *intf = r->intf;
	bool changed = false;

	while (r->queue_head && !r->broken) {
		struct shim_msg *m = r->queue_head;
		XENSTORE_RING_IDX cons = ring_load(&intf->req_cons);
		XENSTORE_RING_IDX prod = ring_load(&intf->req_prod);
		uint32_t space, chunk;

		atomic_thread_fence(memory_order_seq_cst);
		if (prod - cons > XENSTORE_RING_SIZE) {
			shim_log("domain %u: corrupt request ring", r->domid);
			r->broken = true;
			break;
		}
		space = XENSTORE_RING_SIZE - (prod - cons);
		if (space == 0)
			break;
		chunk = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod);
		if (chunk > space)
			chunk = space;
		if (chunk > m->len - r->queue_sent)
			chunk = (uint32_t)(m->len - r->queue_sent);
		memcpy(intf->req + MASK_XENSTORE_IDX(prod), m->data + r->queue_sent, chunk);
		/* The data must be visible before the index that publishes it. */
		atomic_thread_fence(memory_order_seq_cst);
		ring_store(&intf->req_prod, prod + chunk);
		changed = true;
		r->queue_sent += chunk;
		if (r->queue_sent == m->len) {
			r->queue_head = m->next;
			if (!r->queue_head)
				r->queue_tail = NULL;
			r->queue_sent = 0;
			if (m->owner)
				m->owner->queued = false;
			free(m);
		}
	}
	return changed;
}

static void relay_free_state(struct relay *r)
{
	while (r->clients) {
		struct shim_client *c = r->clients;

		r->clients = c->next;
		for (struct shim_watch *w = c->watches, *n; w; w = n) {
			n = w->next;
			free(w);
		}
		for (struct shim_tx *t = c->txs, *n; t; t = n) {
			n = t->next;
			free(t);
		}
		close(c->fd);
		free(c->out);
		free(c);
	}
	for (struct shim_pending *p = r->pending, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	for (struct shim_msg *m = r->queue_head, *n; m; m = n) {
		n = m->next;
		free(m);
	}
	r->pending = NULL;
	r->queue_head = r->queue_tail = NULL;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct pollfd *fds = NULL;
	size_t cap = 0;

	for (;;) {
		size_t n = 3, i;
		struct shim_client *c;
		bool changed;

		for (c = r->clients; c; c = c->next)
			n++;
		if (n > cap) {
			struct pollfd *p = realloc(fds, n * 2 * sizeof(*p));

			if (!p) {
				shim_log("domain %u: out of memory", r->domid);
				break;
			}
			fds = p;
			cap = n * 2;
		}
		fds[0] = (struct pollfd){ .fd = r->stop_fd, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = r->notify_fd, .events = POLLIN };
		fds[2] = (struct pollfd){ .fd = r->listen_fd, .events = POLLIN };
		for (i = 3, c = r->clients; c; c = c->next, i++) {
			short ev = 0;

			/* One request per client in flight to the ring is the backpressure. */
			if (!c->queued)
				ev |= POLLIN;
			if (c->out_off < c->out_len)
				ev |= POLLOUT;
			fds[i] = (struct pollfd){ .fd = c->fd, .events = ev };
		}
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			shim_log("domain %u: poll: %s", r->domid, strerror(errno));
			break;
		}
		if (fds[0].revents)
			break;
		if (fds[1].revents & POLLIN)
			shim_drain_fd(r->notify_fd);
		if (fds[2].revents & POLLIN)
			relay_accept(r);
		for (i = 3, c = r->clients; c && i < n; c = c->next, i++) {
			short rev = fds[i].revents;

			if (rev & POLLOUT && !c->dead)
				client_flush(c);
			if (rev & (POLLIN | POLLHUP | POLLERR) && !c->dead)
				relay_client_read(r, c);
		}
		changed = relay_pull(r);
		relay_reap_clients(r);
		changed |= relay_push(r);
		/* Replies may have been queued to clients that died meanwhile. */
		relay_reap_clients(r);
		if (changed)
			shim_wake_fd(shim_evtchn.fd);
	}
	free(fds);
	relay_free_state(r);
	return NULL;
}

static void relay_destroy(struct relay *r)
{
	if (r->thread) {
		shim_wake_fd(r->stop_fd);
		pthread_join(r->thread, NULL);
	}
	if (r->listen_fd >= 0) {
		close(r->listen_fd);
		unlink(r->path);
	}
	if (r->notify_fd >= 0)
		close(r->notify_fd);
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	if (r->intf)
		munmap(r->intf, SHIM_PAGE_SIZE);
	free(r);
}

static int relay_create(unsigned int domid, struct relay **out)
{
	const char *dir = getenv("XENREADY_SHIM_DIR");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	sigset_t all, old;
	struct relay *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->listen_fd = r->notify_fd = r->stop_fd = -1;
	if (!dir)
		dir = ".";
	if ((size_t)snprintf(r->path, sizeof(r->path), "%s/domain-%u.sock", dir, domid) >=
	    sizeof(r->path)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	r->domid = domid;
	r->intf = mmap(NULL, SHIM_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->intf == MAP_FAILED) {
		r->intf = NULL;
		rc = -errno;
		goto fail;
	}
	r->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->notify_fd < 0 || r->stop_fd < 0 || r->listen_fd < 0) {
		rc = -errno;
		goto fail;
	}
	memcpy(addr.sun_path, r->path, strlen(r->path) + 1);
	unlink(r->path); /* a leftover of an earlier life of this domain */
	if (bind(r->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(r->listen_fd, 64) < 0) {
		rc = -errno;
		goto fail;
	}
	/* xenstored's signal handlers must keep running on its main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&r->thread, NULL, relay_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		r->thread = 0;
		goto fail;
	}
	*out = r;
	return 0;
fail:
	relay_destroy(r);
	return rc;
}

/* ---- libxenctrl ---- */

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
				unsigned open_flags)
{
	return &shim_xc;
}

int xc_interface_close(xc_interface *xch)
{
	return 0;
}

/*
 * Every domain exists and runs: domain death cannot be simulated. xenstored
 * asks before it accepts a domain in a node's permissions (otherwise the
 * entry is ignored) and on every VIRQ_DOM_EXC. Xen 4.17's xenstored asks
 * xc_domain_getinfo(); from Xen 4.18 on (Debian 13 has 4.20) that function
 * is gone and xenstored asks xc_domain_getinfo_single(). The CMake checks in
 * CMakeLists.txt here say which one xenctrl.h declares; the newer one is
 * always defined, so a shim built against 4.17's headers serves either
 * xenstored.
 */
#if XENREADY_HAVE_XC_DOMAIN_GETINFO
int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid, unsigned int max_doms,
		      xc_dominfo_t *info)
{
	if (max_doms == 0)
		return 0;
	memset(info, 0, sizeof(*info));
	info->domid = first_domid;
	info->running = 1;
	return 1;
}
#endif

#if !XENREADY_HAVE_XC_DOMAIN_GETINFO_SINGLE
int xc_domain_getinfo_single(xc_interface *xch, uint32_t domid, xc_domaininfo_t *info);
#endif
int xc_domain_getinfo_single(xc_interface *xch, uint32_t domid, xc_domaininfo_t *info)
{
	/* info may be NULL: only whether the domain exists is asked then. */
	if (info) {
		memset(info, 0, sizeof(*info));
		info->domain = (domid_t)domid;
		info->flags = XEN_DOMINF_running;
	}
	return 0;
}

/* ---- libxengnttab ---- */

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
	return &shim_gnttab;
}

int xengnttab_close(xengnttab_handle *xgt)
{
	return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	return 0;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
	struct relay *r;
	int rc;

	/* Synchronous, so the socket exists once XS_INTRODUCE is answered. */
	rc = relay_create(domid, &r);
	if (rc < 0) {
		shim_log("domain %u: cannot serve its ring: %s", domid, strerror(-rc));
		errno = -rc;
		return NULL;
	}
	r->next = shim_relays;
	shim_relays = r;
	return r->intf;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	for (struct relay **pp = &shim_relays; *pp; pp = &(*pp)->next) {
		struct relay *r = *pp;

		if (r->intf == start_address) {
			*pp = r->next;
			relay_destroy(r);
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

/* ---- libxenevtchn ---- */

static xenevtchn_handle *shim_evtchn_setup(int fd)
{
	if (shim_evtchn.fd < 0) {
		shim_evtchn.fd = fd >= 0 ? fd : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (shim_evtchn.fd < 0)
			return NULL;
		shim_wake_port = shim_next_port++;
	}
	return &shim_evtchn;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
	return shim_evtchn_setup(-1);
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd, unsigned int flags)
{
	return shim_evtchn_setup(fd);
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->fd;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	for (struct relay *r = shim_relays; r; r = r->next) {
		if (r->port == port) {
			shim_wake_fd(r->notify_fd);
			break;
		}
	}
	return 0; /* dom0's port and the VIRQ have nobody to wake */
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
						     evtchn_port_t remote_port)
{
	evtchn_port_t port = shim_next_port++;

	for (struct relay *r = shim_relays; r; r = r->next)
		if (r->domid == domid)
			r->port = port;
	return (xenevtchn_port_or_error_t)port;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
	return (xenevtchn_port_or_error_t)shim_next_port++;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	for (struct relay *r = shim_relays; r; r = r->next)
		if (r->port == port)
			r->port = 0;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	/*
	 * xenstored scans every ring after any event, so one port standing for
	 * "something changed" is enough; it must not be the VIRQ's port.
	 */
	shim_drain_fd(xce->fd);
	return (xenevtchn_port_or_error_t)shim_wake_port;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	return 0;
}

/* ---- /proc/xen ---- */

static int shim_memfd(const char *name, const void *data, size_t len, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if ((len && write(fd, data, len) != (ssize_t)len) ||
	    (size && ftruncate(fd, (off_t)size) < 0) || lseek(fd, 0, SEEK_SET) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* -1 with errno ENOENT when path is none of ours. */
static int shim_open_special(const char *path)
{
	if (path && !strcmp(path, SHIM_PORT_DEV))
		return shim_memfd("xsd_port", "1\n", 2, 0);
	if (path && !strcmp(path, SHIM_KVA_DEV))
		return shim_memfd("xsd_kva", NULL, 0, SHIM_PAGE_SIZE);
	errno = ENOENT;
	return -2;
}

typedef int (*shim_open_fn)(const char *, int, ...);
typedef int (*shim_openat_fn)(int, const char *, int, ...);

static mode_t shim_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

#define SHIM_OPEN(name)                                                          \
	int name(const char *path, int flags, ...)                               \
	{                                                                        \
		static shim_open_fn real;                                        \
		va_list ap;                                                      \
		mode_t mode;                                                     \
		int fd = shim_open_special(path);                                \
                                                                                 \
		if (fd != -2)                                                    \
			return fd;                                               \
		va_start(ap, flags);                                             \
		mode = shim_mode(flags, ap);                                     \
		va_end(ap);                                                      \
		if (!real)                                                       \
			real = (shim_open_fn)dlsym(RTLD_NEXT, #name);           \
		if (!real) {                                                     \
			errno = ENOSYS;                                          \
			return -1;                                               \
		}                                                                \
		return real(path, flags, mode);                                  \
	}

#define SHIM_OPENAT(name)                                                        \
	int name(int dirfd, const char *path, int flags, ...)                    \
	{                                                                        \
		static shim_openat_fn real;                                      \
		va_list ap;                                                      \
		mode_t mode;                                                     \
		int fd = shim_open_special(path);                                \
                                                                                 \
		if (fd != -2)                                                    \
			return fd;                                               \
		va_start(ap, flags);                                             \
		mode = shim_mode(flags, ap);                                     \
		va_end(ap);                                                      \
		if (!real)                                                       \
			real = (shim_openat_fn)dlsym(RTLD_NEXT, #name);         \
		if (!real) {                                                     \
			errno = ENOSYS;                                          \
			return -1;                                               \
		}                                                                \
		return real(dirfd, path, flags, mode);                           \
	}

SHIM_OPEN(open)
SHIM_OPEN(open64)
SHIM_OPENAT(openat)
SHIM_OPENAT(openat64)
