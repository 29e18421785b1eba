/* SPDX-License-Identifier: GPL-3.0-or-later */
/* kq_impl.h - helpers shared by the kernel sources; not part of the API. */
#ifndef PRECIS_KQ_IMPL_H
#define PRECIS_KQ_IMPL_H

#include <stdlib.h>
#include <string.h>

#include "kq.h"

/* 64-byte aligned, zero-filled; NULL on failure or size overflow.  Free with
 * kq_free (accepts NULL). */
static inline void *kq_alloc(size_t size)
{
	size_t rounded = (size + 63) & ~(size_t)63;
	if (rounded < size)
		return NULL;
	if (!rounded)
		rounded = 64;
	void *p = aligned_alloc(64, rounded);
	if (p)
		memset(p, 0, rounded);
	return p;
}

static inline void kq_free(void *p)
{
	free(p);
}

/* The range [lo, hi) of n items that part i of parts handles, so parts
 * stay within one `align` boundary of each other. */
static inline void kq_split(int n, int align, int i, int parts, int *lo, int *hi)
{
	int blocks = (n + align - 1) / align;
	int b0 = (int)((long long)blocks * i / parts), b1 = (int)((long long)blocks * (i + 1) / parts);
	*lo = b0 * align < n ? b0 * align : n;
	*hi = b1 * align < n ? b1 * align : n;
}

#endif
