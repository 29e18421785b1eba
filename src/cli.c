/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cli.c - checks on the files the commands of src/ read and write, so
 * every command refuses a folder, an existing file and an unwritable
 * place in the same words, and before it starts any work. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum { EXIT_USAGE = 2 };

int cli_check_output(const char *cmd, const char *opt, const char *path, int force)
{
	const char *o = opt ? opt : "", *sp = opt ? " " : "";
	if (strcmp(path, "-") == 0)
		return 0;
	if (!*path) {
		fprintf(stderr, "precis %s: %s%san empty file name\n", cmd, o, sp);
		return EXIT_USAGE;
	}
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			fprintf(stderr, "precis %s: %s%s%s is a folder; name a file to write\n", cmd, o, sp, path);
			return EXIT_USAGE;
		}
		if (!force) {
			fprintf(stderr, "precis %s: %s already exists (use --force to replace it)\n", cmd, path);
			return EXIT_USAGE;
		}
	}
	/* the file is written to a temporary name in its folder, then renamed */
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
	else
		snprintf(dir, sizeof dir, ".");
	if (access(dir, W_OK | X_OK) != 0) {
		fprintf(stderr, "precis %s: %s%s%s: cannot write in %s: %s\n", cmd, o, sp, path, dir, strerror(errno));
		return EXIT_USAGE;
	}
	return 0;
}

FILE *cli_open_input(const char *cmd, const char *opt, const char *path)
{
	const char *o = opt ? opt : "", *sp = opt ? " " : "";
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "precis %s: %s%s%s: cannot open (%s)\n", cmd, o, sp, path, strerror(errno));
		return NULL;
	}
	/* fopen opens a folder for reading; the first read would fail */
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		fprintf(stderr, "precis %s: %s%s%s: is a folder, not a file\n", cmd, o, sp, path);
		return NULL;
	}
	return f;
}

void cli_read_error(const char *cmd, const char *opt, const char *path, int e)
{
	const char *o = opt ? opt : "", *sp = opt ? " " : "";
	if (e == EISDIR)
		fprintf(stderr, "precis %s: %s%s%s: is a folder, not a file\n", cmd, o, sp, path);
	else
		fprintf(stderr, "precis %s: %s%s%s: read error (%s)\n", cmd, o, sp, path, e ? strerror(e) : "unknown cause");
}
