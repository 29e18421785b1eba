/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fileio.c - writing a file so that it is either all old or all new, and
 * reading the CPU model, for reports and exports.
 *
 * DESIGN: the new content goes to a temporary file created with mkstemp in
 * the destination's own folder (rename is only atomic within one file
 * system), is fsynced, and is then moved into place.  Without --force the
 * move itself refuses to replace (renameat2 RENAME_NOREPLACE, or link(),
 * which fails with EEXIST), so a file that appears between the early check
 * and the move is not clobbered.  Every failure path unlinks the temporary
 * file, so a full disk or a failed move leaves the folder as it was. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "eng_report.h"

/* The process umask without changing it (umask(2) can only be read by
 * setting it, which races with other threads creating files).  022 when
 * /proc does not say. */
static mode_t current_umask(void)
{
	mode_t m = 022;
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "Umask:", 6) == 0) {
			m = (mode_t)strtol(line + 6, NULL, 8) & 0777;
			break;
		}
	if (f)
		fclose(f);
	return m;
}

/* Bytes after which the test hook makes write() fail, or -1. */
static long long fail_after(void)
{
	const char *e = getenv("PRECIS_TEST_FAIL_WRITE");
	if (!e || !*e)
		return -1;
	char *end;
	long long v = strtoll(e, &end, 10);
	return *end || v < 0 ? -1 : v;
}

static int write_all(int fd, const char *p, size_t len, size_t *done)
{
	long long limit = fail_after();
	*done = 0;
	while (*done < len) {
		size_t chunk = len - *done;
		if (limit >= 0) {
			if ((long long)*done >= limit) {
				errno = ENOSPC;
				return -1;
			}
			if ((long long)chunk > limit - (long long)*done)
				chunk = (size_t)(limit - (long long)*done);
		}
		ssize_t w = write(fd, p + *done, chunk);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		*done += (size_t)w;
	}
	return 0;
}

/* Moves tmp to path only if path does not exist.  0, or -1 with errno
 * (EEXIST when it does). */
static int move_noreplace(const char *tmp, const char *path)
{
#ifdef RENAME_NOREPLACE
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -1;
#endif
	/* File systems without RENAME_NOREPLACE: link() also refuses an
	 * existing name. */
	if (link(tmp, path) == 0) {
		unlink(tmp);
		return 0;
	}
	if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP && errno != EXDEV)
		return -1;
	/* Neither (e.g. vfat): check, then rename; a small window remains. */
	struct stat st;
	if (lstat(path, &st) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(tmp, path);
}

int eng_file_write_atomic(const char *path, const void *buf, size_t len, int force, char *err, size_t errlen)
{
	if (!path || !*path) {
		snprintf(err, errlen, "no output file named");
		return -1;
	}
	struct stat st;
	int exists = stat(path, &st) == 0;
	if (exists && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is a folder; name a file to write", path);
		return -1;
	}
	if (exists && !force) {
		snprintf(err, errlen, "%s already exists (use --force to replace it)", path);
		return ENG_WRITE_EXISTS;
	}
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	const char *base = slash ? slash + 1 : path;
	char dir[4096], tmp[4096 + 256];
	if (dlen >= sizeof dir) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(dlen ? dlen : 1), path); /* "/x": the root */
	else
		snprintf(dir, sizeof dir, ".");
	/* Hidden, named after the target, short enough for NAME_MAX. */
	snprintf(tmp, sizeof tmp, "%s/.%.200s.XXXXXX", dir, base);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create a file in %s: %s", path, dir, strerror(errno));
		return -1;
	}
	mode_t mode = exists ? st.st_mode & 07777 : 0666 & ~current_umask();
	size_t done = 0;
	const char *what = "write";
	int e = 0;
	if (fchmod(fd, mode) != 0)
		what = "set the mode of", e = errno;
	else if (write_all(fd, buf, len, &done) != 0)
		e = errno;
	else if (fsync(fd) != 0)
		what = "flush", e = errno;
	if (close(fd) != 0 && !e)
		what = "close", e = errno;
	if (e) {
		unlink(tmp);
		if (strcmp(what, "write") == 0)
			snprintf(err, errlen, "%s: write failed after %zu of %zu bytes: %s; the file was not changed", path,
				 done, len, strerror(e));
		else
			snprintf(err, errlen, "%s: cannot %s the temporary file: %s; the file was not changed", path, what,
				 strerror(e));
		return -1;
	}
	if ((force ? rename(tmp, path) : move_noreplace(tmp, path)) != 0) {
		e = errno;
		unlink(tmp);
		if (e == EEXIST) {
			snprintf(err, errlen, "%s already exists (use --force to replace it)", path);
			return ENG_WRITE_EXISTS;
		}
		snprintf(err, errlen, "%s: cannot move the new file into place: %s; the file was not changed", path,
			 strerror(e));
		return -1;
	}
	/* Make the rename itself durable; some file systems refuse fsync on a
	 * folder, which costs nothing but durability. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int eng_cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	int found = 0;
	while (f && !found && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		/* x86: "model name"; arm64 kernels have no model name line. */
		if (!colon || (strncmp(line, "model name", 10) != 0 && strncmp(line, "Hardware", 8) != 0))
			continue;
		size_t o = 0;
		for (const char *p = colon + 1; *p && *p != '\n' && o + 1 < len; p++) {
			if ((*p == ' ' || *p == '\t') && (o == 0 || buf[o - 1] == ' '))
				continue;
			buf[o++] = *p == '\t' ? ' ' : *p;
		}
		while (o > 0 && buf[o - 1] == ' ')
			o--;
		if (len)
			buf[o] = 0;
		found = o > 0;
	}
	if (f)
		fclose(f);
	if (!found)
		snprintf(buf, len, "unknown CPU");
	return found ? 0 : -1;
}
