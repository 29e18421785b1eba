/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tap.h - a tiny Test Anything Protocol producer for the test programs.
 * ok() records one test point; skip() one skipped point; tap_done() prints
 * the plan and the "N passed, N failed" summary and returns the exit code.
 * Header-only and static: each test program includes it once. */
#ifndef PRECIS_TAP_H
#define PRECIS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count, tap_failed, tap_skipped;

static inline void tap_vpoint(int pass, const char *directive, const char *fmt, va_list ap)
{
	tap_count++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	vprintf(fmt, ap);
	if (directive)
		printf(" # %s", directive);
	putchar('\n');
	fflush(stdout);
}

static inline int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vpoint(pass, NULL, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   failed at %s:%d\n", file, line);
	return pass;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* Prints a diagnostic line (TAP comment). */
static inline void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	fflush(stdout);
}

/* One skipped test point: "ok N - what # SKIP why". */
static inline void skip(const char *why, const char *fmt, ...)
{
	char directive[256];
	va_list ap;
	snprintf(directive, sizeof directive, "SKIP %s", why);
	tap_skipped++;
	tap_count++;
	printf("ok %d - ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" # %s\n", directive);
	fflush(stdout);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	printf("# %d passed, %d failed, %d skipped\n", tap_count - tap_failed - tap_skipped,
	       tap_failed, tap_skipped);
	return tap_failed ? 1 : 0;
}

#endif
