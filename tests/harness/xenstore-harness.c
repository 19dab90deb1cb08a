// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xenstore-harness: the test harness for shell scripts and benchmarks.
 *
 *   eval "$(xenstore-harness start)"
 *   xenstore-harness introduce "$XENREADY_HARNESS_DIR" 5 guest5
 *   xenstore-harness run "$XENREADY_HARNESS_DIR" 5 -- xenstore-read domid
 *   xenstore-harness stop "$XENREADY_HARNESS_DIR"
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef XENREADY_SHIM_DEFAULT
#define XENREADY_SHIM_DEFAULT ""
#endif

static void cli_usage(FILE *out)
{
	fputs("Usage:\n"
	      "  xenstore-harness start [--dir DIR] [-- XENSTORED-ARGS...]\n"
	      "      start xenstored (outlives this command); prints export lines:\n"
	      "      eval \"$(xenstore-harness start)\"\n"
	      "  xenstore-harness stop DIR\n"
	      "  xenstore-harness introduce DIR DOMID NAME\n"
	      "  xenstore-harness release DIR DOMID\n"
	      "  xenstore-harness run DIR DOMID [--] COMMAND [ARGS...]\n"
	      "      run COMMAND as domain DOMID (0: dom0), e.g. xenstore-read\n"
	      "  xenstore-harness chmod DIR PATH PERMS\n"
	      "      PERMS as xenstore-chmod: \"n5 r7 w9 b3\"\n"
	      "Environment: XENREADY_SHIM (the shim), XENREADY_XENSTORED (the binary).\n",
	      out);
}

static int cli_fail(const char *what, int rc)
{
	fprintf(stderr, "xenstore-harness: %s: %s\n", what, strerror(-rc));
	return 1;
}

static int cli_domid(const char *s, unsigned int *domid)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v >= 0x7ff0) {
		fprintf(stderr, "xenstore-harness: invalid domain id '%s'\n", s);
		return -EINVAL;
	}
	*domid = (unsigned int)v;
	return 0;
}

/* Single-quoted for the shell. */
static void cli_print_quoted(const char *s)
{
	putchar('\'');
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

static int cli_start(int argc, char **argv)
{
	struct harness_options options = { 0 };
	const char *dir = NULL;
	char *made;
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			fprintf(stderr, "xenstore-harness: start: unexpected '%s'\n", argv[i]);
			cli_usage(stderr);
			return 2;
		}
	}
	options.xenstored_args = (const char *const *)&argv[i];
	if (!getenv("XENREADY_SHIM"))
		setenv("XENREADY_SHIM", XENREADY_SHIM_DEFAULT, 1);
	rc = harness_start_detached(&options, dir, &made);
	if (rc < 0)
		return cli_fail("start", rc);
	fputs("export XENREADY_HARNESS_DIR=", stdout);
	cli_print_quoted(made);
	fputs(";\nexport XENSTORED_PATH=", stdout);
	cli_print_quoted(made);
	fputs("/socket;\n", stdout);
	free(made);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cli_run(const char *dir, const char *dom, int argc, char **argv)
{
	unsigned int domid;
	char *path = NULL;
	struct stat st;

	if (cli_domid(dom, &domid) < 0)
		return 2;
	if (argc > 0 && !strcmp(argv[0], "--")) {
		argc--;
		argv++;
	}
	if (argc < 1) {
		cli_usage(stderr);
		return 2;
	}
	/* Only the socket path is needed: no connection to xenstored here. */
	if (asprintf(&path, domid ? "%s/domain-%u.sock" : "%s/socket", dir, domid) < 0)
		return cli_fail("run", -ENOMEM);
	if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "xenstore-harness: %s: no socket (%s)\n", path,
			domid ? "domain not introduced?" : "harness not running?");
		free(path);
		return 1;
	}
	setenv("XENSTORED_PATH", path, 1);
	free(path);
	execvp(argv[0], argv);
	fprintf(stderr, "xenstore-harness: %s: %s\n", argv[0], strerror(errno));
	return 127;
}

static int cli_with_harness(const char *cmd, const char *dir, int argc, char **argv)
{
	struct harness *h;
	unsigned int domid;
	int rc;

	if ((!strcmp(cmd, "introduce") && argc != 2) || (!strcmp(cmd, "release") && argc != 1) ||
	    (!strcmp(cmd, "chmod") && argc != 2)) {
		cli_usage(stderr);
		return 2;
	}
	if (strcmp(cmd, "chmod") && cli_domid(argv[0], &domid) < 0)
		return 2;
	rc = harness_attach(&h, dir);
	if (rc < 0)
		return cli_fail(dir, rc);
	if (!strcmp(cmd, "introduce"))
		rc = harness_introduce(h, domid, argv[1]);
	else if (!strcmp(cmd, "release"))
		rc = harness_release(h, domid);
	else
		rc = harness_set_permissions(h, argv[0], argv[1]);
	harness_stop(h);
	return rc < 0 ? cli_fail(cmd, rc) : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int rc;

	if (!cmd || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		cli_usage(cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "start"))
		return cli_start(argc - 2, argv + 2);
	if (strcmp(cmd, "stop") && strcmp(cmd, "run") && strcmp(cmd, "introduce") &&
	    strcmp(cmd, "release") && strcmp(cmd, "chmod")) {
		fprintf(stderr, "xenstore-harness: unknown command '%s'\n", cmd);
		cli_usage(stderr);
		return 2;
	}
	if (argc < 3) {
		cli_usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "stop")) {
		if (argc != 3) {
			cli_usage(stderr);
			return 2;
		}
		rc = harness_stop_detached(argv[2]);
		return rc < 0 ? cli_fail("stop", rc) : 0;
	}
	if (!strcmp(cmd, "run")) {
		if (argc < 5) {
			cli_usage(stderr);
			return 2;
		}
		return cli_run(argv[2], argv[3], argc - 4, argv + 4);
	}
	return cli_with_harness(cmd, argv[2], argc - 3, argv + 3);
}
