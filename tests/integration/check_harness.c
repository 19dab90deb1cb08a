// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The test harness against the real xenstored through the real libxenstore:
 * unprivileged domains through the shim's ring relay, watches, transactions,
 * and the harness's own start/stop/crash cleanup.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

#include "harness.h"

#define EVENT_TIMEOUT_MS 5000
#define GONE_TIMEOUT_MS 10000

static struct harness *h;

static int now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void setup(void)
{
	int rc = harness_start(&h, NULL);

	ck_assert_msg(rc == 0, "harness_start: %s", strerror(-rc));
}

static void teardown(void)
{
	harness_stop(h);
	h = NULL;
}

static void setup_dom5(void)
{
	int rc;

	setup();
	rc = harness_introduce(h, 5, "guest5");
	ck_assert_msg(rc == 0, "harness_introduce: %s", strerror(-rc));
}

static struct xs_handle *open_dom(unsigned int domid)
{
	struct xs_handle *xs = harness_open(h, domid);

	ck_assert_msg(xs, "harness_open(%u): %s", domid, strerror(errno));
	return xs;
}

/* Next watch event within the timeout, or NULL; free() the result. */
static char **next_event(struct xs_handle *xs, int timeout_ms)
{
	int deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
		char **ev = xs_check_watch(xs);
		int left;

		if (ev)
			return ev;
		ck_assert_msg(errno == EAGAIN, "xs_check_watch: %s", strerror(errno));
		left = deadline - now_ms();
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return NULL;
	}
}

static void expect_event(struct xs_handle *xs, const char *path, const char *token)
{
	char **ev = next_event(xs, EVENT_TIMEOUT_MS);

	ck_assert_msg(ev, "no watch event for %s", path);
	ck_assert_str_eq(ev[XS_WATCH_PATH], path);
	ck_assert_str_eq(ev[XS_WATCH_TOKEN], token);
	free(ev);
}

static void dom0_write(const char *path, const char *value)
{
	struct xs_handle *xs = open_dom(0);

	ck_assert_msg(xs_write(xs, XBT_NULL, path, value, (unsigned int)strlen(value)),
		      "write %s: %s", path, strerror(errno));
	xs_close(xs);
}

static void check_read(struct xs_handle *xs, const char *path, const char *want)
{
	unsigned int len;
	char *v = xs_read(xs, XBT_NULL, path, &len);

	ck_assert_msg(v, "read %s: %s", path, strerror(errno));
	ck_assert_str_eq(v, want);
	free(v);
}

/* A domain's per-domain counter from xenstored's "quota <domid>" report. */
static int domain_quota(const char *what, unsigned int domid)
{
	struct xs_handle *xs = open_dom(0);
	char arg[16], *report, *line;
	int val = -1;

	snprintf(arg, sizeof(arg), "%u", domid);
	report = xs_control_command(xs, "quota", arg, (unsigned int)strlen(arg) + 1);
	ck_assert_msg(report, "quota: %s", strerror(errno));
	for (line = strtok(report, "\n"); line; line = strtok(NULL, "\n")) {
		size_t n = strlen(what);

		if (!strncmp(line, what, n) && (line[n] == ' ' || line[n] == ':'))
			val = atoi(strchr(line, ':') + 1);
	}
	free(report);
	xs_close(xs);
	ck_assert_msg(val >= 0, "no %s in quota report", what);
	return val;
}

/* ---- unprivileged domain ---- */

START_TEST(test_eacces_until_granted)
{
	struct xs_handle *d5 = open_dom(5);
	unsigned int len;

	dom0_write("/secret", "s3");
	ck_assert_ptr_null(xs_read(d5, XBT_NULL, "/secret", &len));
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(harness_set_permissions(h, "/secret", "n0 r5"), 0);
	check_read(d5, "/secret", "s3");
	/* Read access is not write access. */
	ck_assert(!xs_write(d5, XBT_NULL, "/secret", "x", 1));
	ck_assert_int_eq(errno, EACCES);
	xs_close(d5);
}
END_TEST

START_TEST(test_relative_paths)
{
	struct xs_handle *d5 = open_dom(5);
	struct xs_handle *d0 = open_dom(0);

	ck_assert(xs_write(d5, XBT_NULL, "data/rel", "here", 4));
	check_read(d0, "/local/domain/5/data/rel", "here");
	check_read(d5, "domid", "5");
	check_read(d5, "name", "guest5");
	xs_close(d0);
	xs_close(d5);
}
END_TEST

START_TEST(test_created_node_owned)
{
	struct xs_handle *d5 = open_dom(5);
	struct xs_handle *d0 = open_dom(0);
	struct xs_permissions *perms;
	unsigned int num;

	ck_assert(xs_write(d5, XBT_NULL, "data/mine", "1", 1));
	perms = xs_get_permissions(d0, XBT_NULL, "/local/domain/5/data/mine", &num);
	ck_assert_ptr_nonnull(perms);
	ck_assert_uint_ge(num, 1);
	ck_assert_uint_eq(perms[0].id, 5);
	free(perms);
	/* And dom0's own nodes stay dom0's. */
	perms = xs_get_permissions(d0, XBT_NULL, "/local/domain/5/name", &num);
	ck_assert_ptr_nonnull(perms);
	ck_assert_uint_eq(perms[0].id, 0);
	free(perms);
	xs_close(d0);
	xs_close(d5);
}
END_TEST

START_TEST(test_watch_filtered_by_permission)
{
	struct xs_handle *d5 = open_dom(5);
	struct xs_handle *d0 = open_dom(0);

	ck_assert_int_eq(harness_set_permissions(h, "/test", "n0 r5"), 0);
	/* xenstored lets an event through if the node or its parent is readable. */
	ck_assert_int_eq(harness_set_permissions(h, "/test/hid", "n0"), 0);
	ck_assert_int_eq(harness_set_permissions(h, "/test/hid/node", "n0"), 0);
	ck_assert_int_eq(harness_set_permissions(h, "/test/visible", "n0 r5"), 0);
	ck_assert(xs_watch(d5, "/test", "t5"));
	expect_event(d5, "/test", "t5");
	ck_assert(xs_watch(d0, "/test", "t0"));
	expect_event(d0, "/test", "t0");

	dom0_write("/test/hid/node", "1");
	dom0_write("/test/visible", "1");
	/* dom0 sees both, so the first write did fire a watch... */
	expect_event(d0, "/test/hid/node", "t0");
	expect_event(d0, "/test/visible", "t0");
	/* ...which domain 5, not allowed to read the node, never got. */
	expect_event(d5, "/test/visible", "t5");
	xs_close(d0);
	xs_close(d5);
}
END_TEST

START_TEST(test_two_handles_one_domain)
{
	struct xs_handle *a = open_dom(5);
	struct xs_handle *b = open_dom(5);
	xs_transaction_t t;
	int deadline;

	/* The same token on both: only the relay's prefixes keep them apart. */
	ck_assert(xs_watch(a, "/local/domain/5/data", "tok"));
	ck_assert(xs_watch(b, "/local/domain/5/data", "tok"));
	expect_event(a, "/local/domain/5/data", "tok");
	expect_event(b, "/local/domain/5/data", "tok");
	ck_assert(xs_watch(a, "/local/domain/5/device", "extra"));
	expect_event(a, "/local/domain/5/device", "extra");
	t = xs_transaction_start(a);
	ck_assert_uint_ne(t, XBT_NULL);
	ck_assert_int_eq(domain_quota("watches", 5), 3);
	ck_assert_int_eq(domain_quota("transactions", 5), 1);

	dom0_write("/local/domain/5/data/x", "1");
	expect_event(a, "/local/domain/5/data/x", "tok");
	expect_event(b, "/local/domain/5/data/x", "tok");
	ck_assert_ptr_null(next_event(a, 0));

	xs_close(a);
	dom0_write("/local/domain/5/data/y", "2");
	expect_event(b, "/local/domain/5/data/y", "tok");
	check_read(b, "data/y", "2");

	/* a's watches and transaction were withdrawn (bounded: round trips only). */
	deadline = now_ms() + EVENT_TIMEOUT_MS;
	while ((domain_quota("watches", 5) != 1 || domain_quota("transactions", 5) != 0) &&
	       now_ms() < deadline)
		check_read(b, "data/y", "2");
	ck_assert_int_eq(domain_quota("watches", 5), 1);
	ck_assert_int_eq(domain_quota("transactions", 5), 0);
	xs_close(b);
}
END_TEST

START_TEST(test_transaction_conflict)
{
	struct xs_handle *d5 = open_dom(5);
	xs_transaction_t t;
	unsigned int len;
	char *v;

	ck_assert(xs_write(d5, XBT_NULL, "data/c", "0", 1));
	t = xs_transaction_start(d5);
	ck_assert_uint_ne(t, XBT_NULL);
	v = xs_read(d5, t, "data/c", &len);
	ck_assert_ptr_nonnull(v);
	free(v);
	dom0_write("/local/domain/5/data/c", "dom0");
	ck_assert(xs_write(d5, t, "data/c", "mine", 4));
	ck_assert(!xs_transaction_end(d5, t, false));
	ck_assert_int_eq(errno, EAGAIN);
	check_read(d5, "data/c", "dom0");

	/* Without interference it commits. */
	t = xs_transaction_start(d5);
	ck_assert_uint_ne(t, XBT_NULL);
	ck_assert(xs_write(d5, t, "data/c", "mine", 4));
	ck_assert(xs_transaction_end(d5, t, false));
	check_read(d5, "data/c", "mine");
	xs_close(d5);
}
END_TEST

START_TEST(test_release_domain_fires)
{
	struct xs_handle *d0 = open_dom(0);
	char *sock = harness_socket_path(h, 5);
	struct stat st;

	ck_assert(xs_watch(d0, "@releaseDomain", "rel"));
	expect_event(d0, "@releaseDomain", "rel");
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert_int_eq(harness_release(h, 5), 0);
	expect_event(d0, "@releaseDomain", "rel");
	ck_assert_int_eq(stat(sock, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert(!xs_is_domain_introduced(d0, 5));
	free(sock);
	xs_close(d0);
}
END_TEST

START_TEST(test_oversize_client_dropped)
{
	struct xs_handle *d5 = open_dom(5);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct xsd_sockmsg bad = { .type = XS_READ, .len = XENSTORE_PAYLOAD_MAX + 1 };
	char *sock = harness_socket_path(h, 5);
	struct pollfd pfd;
	char c;
	int fd;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	free(sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(send(fd, &bad, sizeof(bad), MSG_NOSIGNAL), (int)sizeof(bad));
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, EVENT_TIMEOUT_MS), 1);
	ck_assert_int_le(recv(fd, &c, 1, 0), 0); /* disconnected, no reply */
	close(fd);
	/* The domain's ring (and its other client) carry on. */
	check_read(d5, "domid", "5");
	xs_close(d5);
}
END_TEST

START_TEST(test_large_messages_through_ring)
{
	struct xs_handle *d5 = open_dom(5);
	struct xs_handle *d0 = open_dom(0);
	char big[4000], mid[2000];
	unsigned int len;
	char *v;

	/* Both bigger than the 1 KiB rings: chunked, wrapped, reassembled. */
	memset(big, 'b', sizeof(big));
	memset(mid, 'm', sizeof(mid));
	ck_assert(xs_write(d0, XBT_NULL, "/local/domain/5/big", big, sizeof(big)));
	for (int i = 0; i < 8; i++) {
		v = xs_read(d5, XBT_NULL, "big", &len);
		ck_assert_ptr_nonnull(v);
		ck_assert_uint_eq(len, sizeof(big));
		ck_assert(!memcmp(v, big, sizeof(big)));
		free(v);
		mid[0] = (char)('0' + i);
		ck_assert(xs_write(d5, XBT_NULL, "data/mid", mid, sizeof(mid)));
		v = xs_read(d0, XBT_NULL, "/local/domain/5/data/mid", &len);
		ck_assert_ptr_nonnull(v);
		ck_assert_uint_eq(len, sizeof(mid));
		ck_assert(!memcmp(v, mid, sizeof(mid)));
		free(v);
	}
	xs_close(d0);
	xs_close(d5);
}
END_TEST

/* ---- dom0 ---- */

START_TEST(test_dom0_watch_events)
{
	struct xs_handle *w = open_dom(0);
	struct xs_handle *d0 = open_dom(0);

	ck_assert(xs_watch(w, "/w", "wt"));
	expect_event(w, "/w", "wt");
	ck_assert(xs_write(d0, XBT_NULL, "/w", "v", 1));
	expect_event(w, "/w", "wt");
	ck_assert(xs_write(d0, XBT_NULL, "/w/child", "c", 1));
	expect_event(w, "/w/child", "wt");
	ck_assert_int_eq(harness_set_permissions(h, "/w", "n0 r7"), 0);
	expect_event(w, "/w", "wt");
	ck_assert(xs_rm(d0, XBT_NULL, "/w/child"));
	expect_event(w, "/w/child", "wt");
	ck_assert_ptr_null(next_event(w, 0));
	check_read(d0, "/local/domain/0/name", "Domain-0");
	xs_close(d0);
	xs_close(w);
}
END_TEST

START_TEST(test_xenstored_args_passed)
{
	static const char *const args[] = { "-W", "1", NULL };
	struct harness_options opt = { .xenstored_args = args };
	struct xs_handle *d5;
	int rc;

	rc = harness_start(&h, &opt);
	ck_assert_msg(rc == 0, "harness_start: %s", strerror(-rc));
	ck_assert_int_eq(harness_introduce(h, 5, "guest5"), 0);
	d5 = open_dom(5);
	ck_assert(xs_watch(d5, "data", "1"));
	ck_assert(xs_watch(d5, "device", "2"));
	/* xenstored refuses a watch once a domain has more than -W of them. */
	ck_assert(!xs_watch(d5, "control", "3"));
	ck_assert_int_eq(errno, E2BIG);
	xs_close(d5);
}
END_TEST

/* ---- the harness's own lifecycle ---- */

/*
 * Waits (bounded) for an orphaned keeper, which the caller, a child
 * subreaper, inherits and reaps. Without pidfds (valgrind) waitpid() has
 * to do, bounded by check's timeout instead.
 */
static bool wait_gone(pid_t pid)
{
	struct pollfd pfd = { .events = POLLIN };
	bool gone;

	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd.fd < 0 && errno == ENOSYS)
		return waitpid(pid, NULL, 0) == pid;
	if (pfd.fd < 0)
		return errno == ESRCH;
	gone = poll(&pfd, 1, GONE_TIMEOUT_MS) == 1;
	close(pfd.fd);
	if (gone)
		waitpid(pid, NULL, WNOHANG);
	return gone;
}

START_TEST(test_stop_cleans_up)
{
	struct harness *mine;
	pid_t xenstored;
	char *dir;
	struct stat st;

	ck_assert_int_eq(harness_start(&mine, NULL), 0);
	dir = strdup(harness_directory(mine));
	xenstored = harness_xenstored_pid(mine);
	ck_assert_int_gt(xenstored, 0);
	ck_assert_int_eq(kill(xenstored, 0), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	harness_stop(mine);
	ck_assert_int_eq(stat(dir, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(kill(xenstored, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	harness_stop(NULL);
	free(dir);
}
END_TEST

struct crash_report {
	pid_t keeper, xenstored;
	char dir[108];
};

START_TEST(test_crashed_test_cleans_up)
{
	struct crash_report rep;
	struct stat st;
	int fds[2], status;
	pid_t child;

	memset(&rep, 0, sizeof(rep));
	/* The orphaned keeper comes to us, not to init, so we can reap it. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe(fds), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct harness *mine;

		close(fds[0]);
		if (harness_start(&mine, NULL) < 0)
			_exit(1);
		rep.keeper = harness_keeper_pid(mine);
		rep.xenstored = harness_xenstored_pid(mine);
		snprintf(rep.dir, sizeof(rep.dir), "%s", harness_directory(mine));
		if (write(fds[1], &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			_exit(1);
		/* Dies hard, or just leaves, never stopping the harness. */
		if (_i == 0)
			raise(SIGKILL);
		_exit(3);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &rep, sizeof(rep)), (int)sizeof(rep));
	close(fds[0]);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	if (_i == 0)
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	else
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	ck_assert_msg(wait_gone(rep.keeper), "keeper %d still running", (int)rep.keeper);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	ck_assert_int_eq(kill(rep.xenstored, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	ck_assert_int_eq(stat(rep.dir, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

static void add_case(Suite *s, const char *name, const TTest *test, bool dom5, int loops)
{
	TCase *tc = tcase_create(name);

	if (dom5)
		tcase_add_checked_fixture(tc, setup_dom5, teardown);
	else
		tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test, 0, loops);
	suite_add_tcase(s, tc);
}

static Suite *harness_suite(void)
{
	Suite *s = suite_create("harness");

	add_case(s, "eacces_until_granted", test_eacces_until_granted, true, 1);
	add_case(s, "relative_paths", test_relative_paths, true, 1);
	add_case(s, "created_node_owned", test_created_node_owned, true, 1);
	add_case(s, "watch_filtered_by_permission", test_watch_filtered_by_permission, true, 1);
	add_case(s, "two_handles_one_domain", test_two_handles_one_domain, true, 1);
	add_case(s, "transaction_conflict", test_transaction_conflict, true, 1);
	add_case(s, "release_domain_fires", test_release_domain_fires, true, 1);
	add_case(s, "oversize_client_dropped", test_oversize_client_dropped, true, 1);
	add_case(s, "large_messages_through_ring", test_large_messages_through_ring, true, 1);
	add_case(s, "dom0_watch_events", test_dom0_watch_events, true, 1);
	add_case(s, "xenstored_args_passed", test_xenstored_args_passed, false, 1);
	add_case(s, "stop_cleans_up", test_stop_cleans_up, false, 1);
	add_case(s, "crashed_test_cleans_up", test_crashed_test_cleans_up, false, 2);
	return s;
}

int main(void)
{
	const char *shim = getenv("XENREADY_SHIM");
	const char *xenstored = harness_xenstored_program();
	SRunner *sr;
	int failed;

	if (!shim || access(shim, R_OK) < 0) {
		printf("SKIP: the xenstored shim is missing (XENREADY_SHIM=%s)\n",
		       shim ? shim : "unset");
		return 77;
	}
	if (access(xenstored, X_OK) < 0) {
		printf("SKIP: %s is missing (install xen-utils-4.17 or later)\n", xenstored);
		return 77;
	}
	sr = srunner_create(harness_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
