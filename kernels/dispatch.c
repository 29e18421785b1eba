/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dispatch.c - which instruction set the kernels run with, chosen once.
 *
 * DESIGN: `active` is the one mutable global of the kernels library.  It is
 * written by the first kq_init() (under pthread_once) and only read after.
 * A variant is "supported" when it was compiled in (the build always
 * compiles every x86-64 variant with per-file target flags) and cpuid plus
 * XGETBV say the CPU and OS can run it.
 */
#include "kq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define KQ_X86 1
#endif

static const char *const isa_names[KQ_ISA_COUNT] = {"ref", "avx2", "avx512vnni"};

static kq_isa active = KQ_ISA_REF;
static int init_status = KQ_OK;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

const char *kq_strerror(int code)
{
	switch (code) {
	case KQ_OK: return "success";
	case KQ_EINVAL: return "invalid argument";
	case KQ_ENOMEM: return "out of memory";
	case KQ_EISA: return "instruction set not available";
	case KQ_ERANGE: return "non-finite range";
	default: return "unknown error";
	}
}

const char *kq_isa_name(int isa)
{
	return isa >= 0 && isa < KQ_ISA_COUNT ? isa_names[isa] : "?";
}

int kq_isa_parse(const char *name, kq_isa *out)
{
	for (int i = 0; name && i < KQ_ISA_COUNT; i++)
		if (strcmp(name, isa_names[i]) == 0) {
			*out = (kq_isa)i;
			return KQ_OK;
		}
	return KQ_EINVAL;
}

#ifdef KQ_X86
static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}
#endif

static int probe(kq_isa isa)
{
	if (isa == KQ_ISA_REF)
		return 1;
#ifdef KQ_X86
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
	if (!osxsave)
		return 0;
	uint64_t xcr0 = xgetbv0();
	int ymm_os = (xcr0 & 0x6) == 0x6, zmm_os = (xcr0 & 0xe6) == 0xe6;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	int avx2 = (b >> 5) & 1;
	int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1;
	int avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
	int vnni = (c >> 11) & 1;
	switch (isa) {
	case KQ_ISA_AVX2:
		return ymm_os && avx2 && fma && f16c;
	case KQ_ISA_AVX512VNNI:
		return ymm_os && zmm_os && avx2 && fma && f16c && avx512f && avx512dq &&
		       avx512bw && avx512vl && vnni;
	default:
		return 0;
	}
#else
	return 0;
#endif
}

/* cpuid traps to the hypervisor in VMs (~16 us a call here), so the answers
 * are probed once and kept; they cannot change while the process runs. */
static int supported[KQ_ISA_COUNT];
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe_all(void)
{
	for (int i = 0; i < KQ_ISA_COUNT; i++)
		supported[i] = probe((kq_isa)i);
}

int kq_isa_supported(kq_isa isa)
{
	if (isa < 0 || isa >= KQ_ISA_COUNT)
		return 0;
	pthread_once(&probe_once, probe_all);
	return supported[isa];
}

kq_isa kq_isa_best(void)
{
	for (int i = KQ_ISA_COUNT - 1; i > 0; i--)
		if (kq_isa_supported((kq_isa)i))
			return (kq_isa)i;
	return KQ_ISA_REF;
}

static void init_active(void)
{
	const char *env = getenv("PRECIS_ISA");
	kq_isa want;
	if (env && *env) {
		if (kq_isa_parse(env, &want) != KQ_OK || !kq_isa_supported(want)) {
			init_status = KQ_EISA;
			return;
		}
		active = want;
		return;
	}
	active = kq_isa_best();
}

int kq_init(void)
{
	pthread_once(&init_once, init_active);
	return init_status;
}

kq_isa kq_isa_active(void)
{
	kq_init();
	return active;
}

kq_isa kq_isa_resolve(int isa)
{
	return isa == KQ_ISA_AUTO ? kq_isa_active() : (kq_isa)isa;
}
