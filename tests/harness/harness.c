// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test harness: the real xenstored in a private directory.
 *
 * Process layout: the test process forks a keeper (own session, so terminal
 * signals spare it), the keeper forks xenstored (PR_SET_PDEATHSIG: it dies
 * with its keeper). The keeper holds the read end of a pipe whose write end
 * only the test process has; EOF there (harness_stop, or the test died) or
 * SIGTERM makes it kill and reap xenstored and remove the directory. The test
 * process may be multithreaded (check, libxenstore's reader threads), so the
 * keeper, a fork without exec, sticks to async-signal-safe calls: everything
 * it needs is prepared before the fork.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

extern char **environ;

/* Debian installs each Xen release under its own directory. */
#define HARNESS_XENSTORED_GLOB "/usr/lib/xen-*/bin/xenstored"
#define HARNESS_XENSTORED_DEFAULT "/usr/lib/xen-4.17/bin/xenstored"
#define HARNESS_START_TIMEOUT_MS 5000
#define HARNESS_STOP_TIMEOUT_MS 10000
#define HARNESS_RETRY_MS 2
/* DOMID_FIRST_RESERVED: xen/xen.h is not C11-clean. */
#define HARNESS_DOMID_LIMIT 0x7ff0U
/* Longest relay socket name the shim makes inside the directory. */
#define HARNESS_LONGEST_SOCKET "/domain-65535.sock"

struct harness {
	char *dir;
	pid_t keeper;    /* 0: attached to an instance owned elsewhere */
	pid_t xenstored;
	int keeper_fd;   /* closing it tells the keeper to tear down */
	struct xs_handle *xs0;
};

/* Everything the keeper needs, built before fork(). */
struct keeper_config {
	const char *xenstored;
	char **argv;
	char **envp;
	const char *dir;
	const char *log_path; /* NULL: xenstored writes to our stderr */
	int ctl_fd;           /* -1: detached, stop only on SIGTERM */
	int status_fd;
};

struct keeper_status {
	int err;
	pid_t pid;
};

static pthread_mutex_t harness_env_lock = PTHREAD_MUTEX_INITIALIZER;

static int harness_errno(void)
{
	return errno ? -errno : -EIO;
}

static int harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* ---- keeper (async-signal-safe only) ---- */

static void keeper_close_others(int a, int b)
{
	int keep[2] = { a < b ? a : b, a < b ? b : a };
	unsigned int from = 3;

	for (int i = 0; i < 2; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned int)keep[i] > from)
			close_range(from, (unsigned int)keep[i] - 1, 0);
		from = (unsigned int)keep[i] + 1;
	}
	close_range(from, ~0U, 0);
}

static bool keeper_is_dot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Empties the directory open at dfd, subdirectories included (tests keep the
 * state of their stand-ins there, e.g. DIR/evtchn/log), depth levels deep,
 * and closes dfd. Only async-signal-safe calls: the keeper runs it.
 */
static void keeper_empty_dir(int dfd, int depth)
{
	_Alignas(struct dirent64) char buf[4096];
	bool removed;

	do {
		ssize_t n;

		removed = false;
		lseek(dfd, 0, SEEK_SET);
		while ((n = getdents64(dfd, buf, sizeof(buf))) > 0) {
			for (ssize_t off = 0; off < n;) {
				struct dirent64 *d = (struct dirent64 *)(void *)(buf + off);
				int sub;

				off += d->d_reclen;
				if (keeper_is_dot(d->d_name))
					continue;
				if (unlinkat(dfd, d->d_name, 0) == 0) {
					removed = true;
					continue;
				}
				sub = depth > 0 ? openat(dfd, d->d_name, O_RDONLY | O_DIRECTORY |
							 O_NOFOLLOW | O_CLOEXEC) : -1;
				if (sub >= 0)
					keeper_empty_dir(sub, depth - 1);
				if (unlinkat(dfd, d->d_name, AT_REMOVEDIR) == 0)
					removed = true;
			}
		}
	} while (removed);
	close(dfd);
}

/* rm -r of the harness directory. */
static void keeper_remove_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return;
	keeper_empty_dir(dfd, 4);
	rmdir(dir);
}

static void keeper_exec_xenstored(const struct keeper_config *k, pid_t keeper, int err_fd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int e;

	/* The mask and ignored signals survive execve: undo the keeper's. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGPIPE, &dfl, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != keeper)
		_exit(127);
	execve(k->xenstored, k->argv, k->envp);
	e = errno;
	if (write(err_fd, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

static void keeper_redirect_stdio(const struct keeper_config *k)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	if (k->log_path) {
		fd = open(k->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
	} else {
		/* Keep the test's stdout clean; xenstored's complaints go to stderr. */
		dup2(2, 1);
	}
}

static void keeper_main(const struct keeper_config *k) __attribute__((noreturn));
static void keeper_main(const struct keeper_config *k)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	struct keeper_status st = { 0 };
	pid_t self = getpid(), child;
	int errpipe[2], sfd, status_fd = k->status_fd;
	sigset_t set;

	setsid();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	/* Other harnesses' pipe ends must not keep their keepers waiting. */
	keeper_close_others(k->ctl_fd, k->status_fd);
	keeper_redirect_stdio(k);

	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0 || pipe2(errpipe, O_CLOEXEC) < 0) {
		st.err = -errno;
		child = -1;
		goto report;
	}
	child = fork();
	if (child == 0)
		keeper_exec_xenstored(k, self, errpipe[1]);
	close(errpipe[1]);
	if (child < 0) {
		st.err = -errno;
	} else {
		int e;

		/* EOF: execve succeeded (the pipe is close-on-exec). */
		if (read(errpipe[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
			st.err = -e;
			while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
				;
			child = -1;
		}
	}
	close(errpipe[0]);
report:
	st.pid = child;
	if (write(status_fd, &st, sizeof(st)) != (ssize_t)sizeof(st) || st.err)
		goto cleanup;

	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = k->ctl_fd, .events = POLLIN },
		};
		struct signalfd_siginfo si;

		if (poll(fds, k->ctl_fd >= 0 ? 2 : 1, -1) < 0)
			continue;
		if (fds[1].revents)
			break; /* EOF: harness_stop() or the test process died */
		if (!(fds[0].revents & POLLIN) ||
		    read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD)
			break;
		if (child > 0 && waitpid(child, NULL, WNOHANG) == child) {
			child = -1;
			/* Tells a harness still waiting for readiness that it died. */
			if (status_fd >= 0) {
				close(status_fd);
				status_fd = -1;
			}
		}
	}
cleanup:
	if (child > 0) {
		kill(child, SIGKILL);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	}
	keeper_remove_dir(k->dir);
	_exit(0);
}

/* ---- starting ---- */

static bool harness_env_replaced(const char *entry)
{
	static const char *const names[] = {
		"XENSTORED_RUNDIR=", "XENSTORED_PATH=", "XENREADY_SHIM_DIR=", "LD_PRELOAD=",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(entry, names[i], strlen(names[i])))
			return true;
	return false;
}

static void harness_free_vector(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static char **harness_build_env(const char *dir, const char *shim)
{
	size_t n = 0, i = 0;
	char **envp;

	while (environ[n])
		n++;
	envp = calloc(n + 5, sizeof(*envp));
	if (!envp)
		return NULL;
	for (size_t j = 0; j < n; j++) {
		if (harness_env_replaced(environ[j]))
			continue;
		envp[i] = strdup(environ[j]);
		if (!envp[i++])
			goto fail;
	}
	if (asprintf(&envp[i++], "XENSTORED_RUNDIR=%s", dir) < 0 ||
	    asprintf(&envp[i++], "XENSTORED_PATH=%s/socket", dir) < 0 ||
	    asprintf(&envp[i++], "XENREADY_SHIM_DIR=%s", dir) < 0 ||
	    asprintf(&envp[i++], "LD_PRELOAD=%s", shim) < 0) {
		envp[i - 1] = NULL;
		goto fail;
	}
	return envp;
fail:
	harness_free_vector(envp);
	return NULL;
}

static char **harness_build_argv(const char *xenstored, const struct harness_options *options)
{
	const char *const *extra = options ? options->xenstored_args : NULL;
	size_t n = 0;
	char **argv;

	while (extra && extra[n])
		n++;
	argv = calloc(n + 3, sizeof(*argv));
	if (!argv)
		return NULL;
	argv[0] = strdup(xenstored);
	argv[1] = strdup("-N"); /* no fork: the keeper is its parent */
	if (!argv[0] || !argv[1])
		goto fail;
	for (size_t i = 0; i < n; i++) {
		argv[i + 2] = strdup(extra[i]);
		if (!argv[i + 2])
			goto fail;
	}
	return argv;
fail:
	harness_free_vector(argv);
	return NULL;
}

/* One XS_READ over a raw socket: has xenstored's main loop started? */
static int harness_probe(const char *sock_path, int timeout_ms)
{
	static const char path[] = "/tool/xenstored";
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct {
		struct xsd_sockmsg hdr;
		char payload[sizeof(path)];
	} req = { .hdr = { .type = XS_READ, .len = sizeof(path) } };
	struct xsd_sockmsg reply;
	struct pollfd pfd;
	int fd, rc;

	memcpy(req.payload, path, sizeof(path));
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return harness_errno();
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    send(fd, &req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req)) {
		rc = harness_errno();
		goto out;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	rc = poll(&pfd, 1, timeout_ms);
	if (rc <= 0) {
		rc = rc < 0 ? harness_errno() : -ETIMEDOUT;
		goto out;
	}
	rc = recv(fd, &reply, sizeof(reply), MSG_WAITALL) == (ssize_t)sizeof(reply) ? 0 : -EIO;
out:
	close(fd);
	return rc;
}

/* Waits for the socket to answer; status_fd hangs up if xenstored dies. */
static int harness_wait_ready(const struct harness *h, int status_fd)
{
	int deadline = harness_now_ms() + HARNESS_START_TIMEOUT_MS;
	char *sock = harness_socket_path(h, 0);
	int rc = -ENOMEM;

	if (!sock)
		return rc;
	for (;;) {
		int left = deadline - harness_now_ms();
		struct pollfd pfd = { .fd = status_fd, .events = POLLIN };

		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = harness_probe(sock, left);
		if (rc == 0 || rc == -ETIMEDOUT)
			break;
		/* Only the process start is waited for with a (bounded) sleep. */
		if (poll(&pfd, 1, HARNESS_RETRY_MS) > 0) {
			fprintf(stderr, "harness: xenstored exited during start-up\n");
			rc = -ECHILD;
			break;
		}
	}
	free(sock);
	return rc;
}

static int harness_write(struct harness *h, const char *path, const char *value)
{
	if (!xs_write(h->xs0, XBT_NULL, path, value, (unsigned int)strlen(value)))
		return harness_errno();
	return 0;
}

static int harness_write_pid(const char *dir, const char *name, pid_t pid)
{
	char path[PATH_MAX];
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		return harness_errno();
	if (fprintf(f, "%ld\n", (long)pid) < 0)
		rc = -EIO;
	if (fclose(f) != 0 && !rc)
		rc = harness_errno();
	return rc;
}

static int harness_read_pid(const char *dir, const char *name, pid_t *pid)
{
	char path[PATH_MAX];
	long val;
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return harness_errno();
	if (fscanf(f, "%ld", &val) != 1 || val <= 0)
		rc = -EINVAL;
	else
		*pid = (pid_t)val;
	fclose(f);
	return rc;
}

static bool harness_dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return false;
	while (empty && (e = readdir(d)))
		if (!keeper_is_dot(e->d_name))
			empty = false;
	closedir(d);
	return empty;
}

static int harness_make_dir(const char *want, char **out)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = NULL;

	if (want) {
		dir = realpath(want, NULL);
		if (!dir && errno == ENOENT) {
			if (mkdir(want, 0700) < 0)
				return harness_errno();
			dir = realpath(want, NULL);
		}
		if (!dir)
			return harness_errno();
		/* The keeper empties it at the end: refuse anything with content. */
		if (!harness_dir_empty(dir)) {
			free(dir);
			return -ENOTEMPTY;
		}
	} else {
		/* Socket paths must fit sun_path; fall back to /tmp if TMPDIR is deep. */
		if (!tmp || !*tmp ||
		    strlen(tmp) + sizeof("/xenready-XXXXXX") + sizeof(HARNESS_LONGEST_SOCKET) >
			    sizeof(((struct sockaddr_un *)0)->sun_path))
			tmp = "/tmp";
		if (asprintf(&dir, "%s/xenready-XXXXXX", tmp) < 0)
			return -ENOMEM;
		if (!mkdtemp(dir)) {
			int rc = harness_errno();

			free(dir);
			return rc;
		}
	}
	if (strlen(dir) + sizeof(HARNESS_LONGEST_SOCKET) > sizeof(((struct sockaddr_un *)0)->sun_path)) {
		free(dir);
		return -ENAMETOOLONG;
	}
	*out = dir;
	return 0;
}

static int harness_spawn(struct harness **out, const struct harness_options *options,
			 const char *want_dir, bool detached)
{
	const char *shim = getenv("XENREADY_SHIM");
	const char *xenstored = getenv("XENREADY_XENSTORED");
	struct keeper_config k = { .ctl_fd = -1, .status_fd = -1 };
	int ctl[2] = { -1, -1 }, status[2] = { -1, -1 };
	char *log_path = NULL;
	struct keeper_status st;
	struct harness *h;
	int rc;

	if (!xenstored || !*xenstored)
		xenstored = harness_xenstored_program();
	if (!shim || !*shim || access(shim, R_OK) < 0) {
		fprintf(stderr, "harness: shim %s not found (set XENREADY_SHIM)\n",
			shim ? shim : "(unset)");
		return -ENOENT;
	}
	if (access(xenstored, X_OK) < 0) {
		fprintf(stderr, "harness: %s not found (install xen-utils-4.17 or later)\n",
			xenstored);
		return -ENOENT;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->keeper_fd = -1;
	rc = harness_make_dir(want_dir, &h->dir);
	if (rc < 0) {
		free(h);
		return rc;
	}
	k.xenstored = xenstored;
	k.dir = h->dir;
	k.argv = harness_build_argv(xenstored, options);
	k.envp = harness_build_env(h->dir, shim);
	if (detached && asprintf(&log_path, "%s/xenstored.log", h->dir) < 0)
		log_path = NULL;
	k.log_path = log_path;
	if (!k.argv || !k.envp || (detached && !log_path)) {
		rc = -ENOMEM;
		goto fail_nokeeper;
	}
	if ((!detached && pipe2(ctl, O_CLOEXEC) < 0) || pipe2(status, O_CLOEXEC) < 0) {
		rc = harness_errno();
		goto fail_nokeeper;
	}
	k.ctl_fd = ctl[0];
	k.status_fd = status[1];
	fflush(NULL); /* no stdio buffer may be flushed twice */
	h->keeper = fork();
	if (h->keeper < 0) {
		rc = harness_errno();
		h->keeper = 0;
		goto fail_nokeeper;
	}
	if (h->keeper == 0)
		keeper_main(&k);

	/* From here on the keeper owns the directory. */
	close(status[1]);
	status[1] = -1;
	if (ctl[0] >= 0)
		close(ctl[0]);
	h->keeper_fd = ctl[1];
	ctl[0] = ctl[1] = -1;
	harness_free_vector(k.argv);
	harness_free_vector(k.envp);
	k.argv = k.envp = NULL;
	free(log_path);
	log_path = NULL;

	if (read(status[0], &st, sizeof(st)) != (ssize_t)sizeof(st)) {
		rc = -EIO;
		goto fail;
	}
	if (st.err) {
		rc = st.err;
		fprintf(stderr, "harness: cannot start %s: %s\n", xenstored, strerror(-rc));
		goto fail;
	}
	h->xenstored = st.pid;
	rc = harness_wait_ready(h, status[0]);
	if (rc < 0)
		goto fail;
	h->xs0 = harness_open(h, 0);
	if (!h->xs0) {
		rc = harness_errno();
		goto fail;
	}
	/* As xen-init-dom0 does. */
	rc = harness_write(h, "/local/domain/0/domid", "0");
	if (!rc)
		rc = harness_write(h, "/local/domain/0/name", "Domain-0");
	if (!rc && detached) {
		rc = harness_write_pid(h->dir, "keeper.pid", h->keeper);
		if (!rc)
			rc = harness_write_pid(h->dir, "xenstored.pid", h->xenstored);
	}
	if (rc < 0)
		goto fail;
	close(status[0]);
	*out = h;
	return 0;

fail:
	close(status[0]);
	harness_stop(h); /* SIGTERMs the keeper, detached or not */
	return rc;
fail_nokeeper:
	for (int i = 0; i < 2; i++) {
		if (ctl[i] >= 0)
			close(ctl[i]);
		if (status[i] >= 0)
			close(status[i]);
	}
	harness_free_vector(k.argv);
	harness_free_vector(k.envp);
	free(log_path);
	rmdir(h->dir);
	free(h->dir);
	free(h);
	return rc;
}


const char *harness_xenstored_program(void)
{
	static char newest[PATH_MAX];
	const char *chosen = getenv("XENREADY_XENSTORED");
	glob_t found;

	if (chosen && *chosen)
		return chosen;
	if (newest[0])
		return newest;
	snprintf(newest, sizeof(newest), "%s", HARNESS_XENSTORED_DEFAULT);
	if (glob(HARNESS_XENSTORED_GLOB, 0, NULL, &found) != 0)
		return newest;
	/* Debian 12 has xen-4.17, Debian 13 xen-4.20: the newest installed. */
	for (size_t i = 0; i < found.gl_pathc; i++) {
		if (access(found.gl_pathv[i], X_OK) == 0 &&
		    (i == 0 || strverscmp(found.gl_pathv[i], newest) > 0))
			snprintf(newest, sizeof(newest), "%s", found.gl_pathv[i]);
	}
	globfree(&found);
	return newest;
}

int harness_start(struct harness **out, const struct harness_options *options)
{
	if (!out)
		return -EINVAL;
	return harness_spawn(out, options, NULL, false);
}

void harness_stop(struct harness *h)
{
	if (!h)
		return;
	if (h->xs0)
		xs_close(h->xs0);
	if (h->keeper > 0) {
		if (h->keeper_fd >= 0)
			close(h->keeper_fd);
		/* SIGTERM too: a forked child may still hold a copy of the pipe. */
		kill(h->keeper, SIGTERM);
		while (waitpid(h->keeper, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(h->dir);
	free(h);
}

int harness_start_detached(const struct harness_options *options, const char *dir,
			   char **dir_out)
{
	struct harness *h;
	int rc;

	rc = harness_spawn(&h, options, dir, true);
	if (rc < 0)
		return rc;
	/* Forget it without stopping: the keeper outlives us. */
	xs_close(h->xs0);
	if (dir_out)
		*dir_out = h->dir;
	else
		free(h->dir);
	free(h);
	return 0;
}

int harness_stop_detached(const char *dir)
{
	struct pollfd pfd = { .events = POLLIN };
	pid_t pid;
	int rc;

	rc = harness_read_pid(dir, "keeper.pid", &pid);
	if (rc < 0)
		return rc;
	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd.fd < 0)
		return harness_errno();
	if (syscall(SYS_pidfd_send_signal, pfd.fd, SIGTERM, NULL, 0) < 0) {
		rc = harness_errno();
		goto out;
	}
	rc = poll(&pfd, 1, HARNESS_STOP_TIMEOUT_MS);
	if (rc <= 0)
		rc = rc < 0 ? harness_errno() : -ETIMEDOUT;
	else
		rc = access(dir, F_OK) == 0 ? -EBUSY : 0;
out:
	close(pfd.fd);
	return rc;
}

int harness_attach(struct harness **out, const char *dir)
{
	struct harness *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return -ENOMEM;
	h->keeper_fd = -1;
	h->dir = realpath(dir, NULL);
	if (!h->dir) {
		rc = harness_errno();
		goto fail;
	}
	if (harness_read_pid(h->dir, "xenstored.pid", &h->xenstored) < 0)
		h->xenstored = 0;
	h->xs0 = harness_open(h, 0);
	if (!h->xs0) {
		rc = harness_errno();
		goto fail;
	}
	*out = h;
	return 0;
fail:
	harness_stop(h);
	return rc;
}

/* ---- accessors and handles ---- */

const char *harness_directory(const struct harness *h)
{
	return h->dir;
}

pid_t harness_xenstored_pid(const struct harness *h)
{
	return h->xenstored;
}

pid_t harness_keeper_pid(const struct harness *h)
{
	return h->keeper;
}

char *harness_socket_path(const struct harness *h, unsigned int domid)
{
	char *path;
	int n;

	if (domid == 0)
		n = asprintf(&path, "%s/socket", h->dir);
	else
		n = asprintf(&path, "%s/domain-%u.sock", h->dir, domid);
	return n < 0 ? NULL : path;
}

struct xs_handle *harness_open(const struct harness *h, unsigned int domid)
{
	char *path = harness_socket_path(h, domid);
	struct xs_handle *xs = NULL;
	char *saved = NULL;
	const char *old;
	int err = 0;

	if (!path) {
		errno = ENOMEM;
		return NULL;
	}
	/* libxenstore takes its socket from the environment, nothing else. */
	pthread_mutex_lock(&harness_env_lock);
	old = getenv("XENSTORED_PATH");
	if (old && !(saved = strdup(old))) {
		err = ENOMEM;
		goto unlock;
	}
	if (setenv("XENSTORED_PATH", path, 1) < 0) {
		err = errno;
		goto unlock;
	}
	xs = xs_open(0);
	if (!xs)
		err = errno ? errno : EIO;
	if (saved)
		setenv("XENSTORED_PATH", saved, 1);
	else
		unsetenv("XENSTORED_PATH");
unlock:
	pthread_mutex_unlock(&harness_env_lock);
	free(saved);
	free(path);
	errno = err;
	return xs;
}

/* ---- toolstack operations ---- */

static int harness_set_perms(struct harness *h, const char *path,
			     struct xs_permissions *perms, unsigned int num)
{
	if (!xs_mkdir(h->xs0, XBT_NULL, path))
		return harness_errno();
	if (!xs_set_permissions(h->xs0, XBT_NULL, path, perms, num))
		return harness_errno();
	return 0;
}

int harness_introduce(struct harness *h, unsigned int domid, const char *name)
{
	static const char *const own_dirs[] = {
		"device", "control", "data", "drivers", "feature", "attr", "error",
	};
	struct xs_permissions base[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = domid, .perms = XS_PERM_READ },
	};
	struct xs_permissions own = { .id = domid, .perms = XS_PERM_NONE };
	char path[64], value[16];
	int rc;

	if (!h || !name || domid == 0 || domid >= HARNESS_DOMID_LIMIT)
		return -EINVAL;
	/* The shim ignores the frame and port; xenstored wants a port > 0. */
	if (!xs_introduce_domain(h->xs0, domid, 0, 1))
		return harness_errno();
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	rc = harness_set_perms(h, path, base, 2);
	if (rc < 0)
		return rc;
	/* Children inherit "n0 r<domid>". */
	snprintf(path, sizeof(path), "/local/domain/%u/domid", domid);
	snprintf(value, sizeof(value), "%u", domid);
	rc = harness_write(h, path, value);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	rc = harness_write(h, path, name);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(own_dirs) / sizeof(own_dirs[0]); i++) {
		snprintf(path, sizeof(path), "/local/domain/%u/%s", domid, own_dirs[i]);
		rc = harness_set_perms(h, path, &own, 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int harness_release(struct harness *h, unsigned int domid)
{
	char path[64];

	if (!h || domid == 0 || domid >= HARNESS_DOMID_LIMIT)
		return -EINVAL;
	if (!xs_release_domain(h->xs0, domid))
		return harness_errno();
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	if (!xs_rm(h->xs0, XBT_NULL, path) && errno != ENOENT)
		return harness_errno();
	return 0;
}

/* "n5 r7 w9 b3" (spaces or commas between entries) -> array; 0 or -EINVAL. */
static int harness_parse_perms(const char *spec, struct xs_permissions **out,
			       unsigned int *num)
{
	struct xs_permissions *perms;
	unsigned int n = 0;
	const char *p = spec;

	perms = calloc(strlen(spec) / 2 + 1, sizeof(*perms));
	if (!perms)
		return -ENOMEM;
	for (;;) {
		unsigned long id;
		char *end;

		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (!*p)
			break;
		switch (*p) {
		case 'n': perms[n].perms = XS_PERM_NONE; break;
		case 'r': perms[n].perms = XS_PERM_READ; break;
		case 'w': perms[n].perms = XS_PERM_WRITE; break;
		case 'b': perms[n].perms = XS_PERM_READ | XS_PERM_WRITE; break;
		default: goto invalid;
		}
		p++;
		if (*p < '0' || *p > '9')
			goto invalid;
		errno = 0;
		id = strtoul(p, &end, 10);
		if (errno || id >= HARNESS_DOMID_LIMIT ||
		    (*end && *end != ' ' && *end != ',' && *end != '\t'))
			goto invalid;
		perms[n++].id = (unsigned int)id;
		p = end;
	}
	if (n == 0)
		goto invalid;
	*out = perms;
	*num = n;
	return 0;
invalid:
	free(perms);
	return -EINVAL;
}

int harness_set_permissions(struct harness *h, const char *path, const char *perms)
{
	struct xs_permissions *p;
	unsigned int num;
	int rc;

	if (!h || !path || !perms)
		return -EINVAL;
	rc = harness_parse_perms(perms, &p, &num);
	if (rc < 0)
		return rc;
	rc = harness_set_perms(h, path, p, num);
	free(p);
	return rc;
}
