/* SPDX-License-Identifier: GPL-3.0-or-later */
/* testutil.h - small helpers shared by the test programs: float bit
 * patterns (bit-exact comparisons against fixtures and reference kernels). */
#ifndef PRECIS_TESTUTIL_H
#define PRECIS_TESTUTIL_H

#include <stdint.h>
#include <string.h>

static inline uint32_t bits_of(float x)
{
	uint32_t b;
	memcpy(&b, &x, sizeof b);
	return b;
}

static inline float from_bits(uint32_t b)
{
	float x;
	memcpy(&x, &b, sizeof x);
	return x;
}

#endif
