/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gemm_s8_avx512.c - int8 GEMM with an AVX-512 VNNI (vpdpbusd) micro-kernel.
 *
 * DESIGN
 * - Packed weights: panels of 64 output columns, except the last, which
 *   is narrowed at pack time to the 16-column vectors N needs (N = 10 or
 *   16: one panel of 16; N = 32: one of 32; N = 80: 64 + 16).  Inside a
 *   panel of width W, K groups of 4 bytes, each group stored as W columns
 *   x 4 consecutive K bytes (4W bytes = W/16 zmm, the vpdpbusd operand
 *   order).  K is padded to a multiple of 4 and N to a multiple of 16 with
 *   zeros, so padded lanes add nothing.  Panel p starts at byte
 *   64p * kgroups * 4, its group g W*4*g bytes later.
 * - Micro-kernel: R rows x V vectors of 16 columns, V = W/16, with up to
 *   24 zmm accumulators: 6x64, 8x48, 12x32, 12x16.  Per K group, V weight
 *   loads and R broadcasts of 4 activation bytes feed R*V vpdpbusd.  With
 *   64-column panels only, N = 16 did 4x the multiplies and 4x the
 *   epilogue it needs (conv1 of the CNN: 36 -> 107 GOP/s from the
 *   narrower panel alone), N = 32 2x (393 -> 783).  A is read in place (no
 *   packing).  A K tail that is not a multiple of 4 is read in place too,
 *   up to 3 bytes past k (they meet zero weights), except in tiles whose
 *   rows lack that much of A after them (the end of A): there it is
 *   copied to a zero-padded 4-byte word per row.
 * - Epilogue in registers: when the last K block of a f32/u8 tile ends,
 *   the asm converts the accumulators as kq.h specifies (u8 with 9
 *   instead of 11 instructions a vector: X_U8 says why it is exact) and
 *   stores to C; this halved the time of conv1 (K = 9), where the
 *   epilogue outweighs the 3 K groups.  Only with weight zero points or
 *   |out_zp| > 2^24 - 256 does the tile go through memory and
 *   finish_tile (the row term comes before the conversion).
 * - Blocking (BLIS order): for NC columns, for MC rows, for KC-byte blocks
 *   of K, for each panel, for each R-row block.  The KC x 64 weight
 *   micro-panel (up to 256 KiB) stays in L2 while the MC / R row blocks
 *   pass over it; each weight line then feeds R vpdpbusd, so L1 needs 21
 *   bytes per cycle from L2, well within what it delivers.  On the
 *   project's Zen machine KC = 4096 (one K block up to K = 4096) beat
 *   L1-sized 512-byte blocks by 2-4% at K >= 1024: fewer round trips of
 *   partial sums.  Partial sums between K blocks live in C itself for s32
 *   output and in the task's scratch (MC x NC int32) otherwise.
 * - Measured at 97-100% of the vpdpbusd peak on one core from 256^3 up;
 *   the loop is in inline asm because gcc 12 spilled its accumulators.
 * - Runs inside one task of kq_parallel: touches only its rows [m0, m1) and
 *   columns [n0, n1) of C, and its own scratch.
 */
#include "s8_impl.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define NR 64 /* panel width (the last panel may be narrower) */
#define MR_MAX 12
/* Block sizes; overridable with -D for tuning. */
#ifndef S8_KC
#define S8_KC 4096 /* bytes of K per block (multiple of 4) */
#endif
#ifndef S8_MC
#define S8_MC 120 /* rows per block of A (multiple of every tile height: 6, 8, 12); 60 and 240 measured the same */
#endif
#ifndef S8_NC
#define S8_NC 256 /* columns per block (multiple of NR) */
#endif

/* Width in columns of the panel starting at column jr (a multiple of NR):
 * NR, except that the last panel covers only the 16-column vectors N needs. */
static int panel_width(int n, int jr)
{
	int rest = n - jr;
	return rest >= NR ? NR : (rest + 15) & ~15;
}

/* Tile height for a panel of v vectors: as many rows as 24 accumulators
 * allow, at most MR_MAX (the rows the asm can address). */
static int tile_rows(int v)
{
	return v == 4 ? 6 : v == 3 ? 8 : 12;
}

static size_t packed_bytes(int n, int k)
{
	size_t np = ((size_t)n + 15) / 16 * 16, kp = ((size_t)k + 3) / 4 * 4;
	return np * kp;
}

static void pack(const int8_t *w, int n, int k, void *dst)
{
	int8_t *d = dst;
	size_t kg = ((size_t)k + 3) / 4;
	for (int col = 0; col < n; col++) {
		const int8_t *row = w + (size_t)col * k;
		int jr = col / NR * NR;
		size_t gbytes = (size_t)panel_width(n, jr) * 4; /* bytes per K group */
		int8_t *panel = d + (size_t)jr * kg * 4 + (size_t)(col - jr) * 4;
		for (int kk = 0; kk < k; kk++)
			panel[(size_t)(kk / 4) * gbytes + kk % 4] = row[kk];
	}
}

/* Number of K blocks, and K groups per block (blocks of equal size, so a
 * K just above S8_KC does not leave a sliver). */
static int kblocks(int k, int *groups_per_block)
{
	int kg = (k + 3) / 4, per = S8_KC / 4;
	int nb = (kg + per - 1) / per;
	*groups_per_block = (kg + nb - 1) / nb;
	return nb;
}

/* Partial sums of f32/u8 output, kept between K blocks for an MC x NC
 * block; none when one K block suffices or C is int32 itself. */
static size_t scratch_bytes(const s8_job *job)
{
	int per;
	if (job->out == S8_OUT_S32 || kblocks(job->k, &per) == 1)
		return 0;
	return (size_t)S8_MC * S8_NC * sizeof(int32_t);
}

/* What the micro-kernel reads besides A and the weights (through one
 * pointer, so the asm needs fewer registers). */
typedef struct {
	const int32_t *ini;
	size_t ldi;
	void *out;
	size_t ldo;
	const uint8_t *tail;
	uint16_t mk[4];
	int mode;         /* KOUT_* */
	/* KOUT_F32 and KOUT_U8 only: the tile's columns of job->fscale and
	 * w->bias, and the u8 constants (see X_U8) */
	const float *fs, *bias;
	float inv, lo, hi;
	int32_t ozp;
} kargs;

enum { KOUT_S32 = 0, KOUT_F32, KOUT_U8 };

/* The micro-kernel, in one asm statement so that no compiler can move the
 * accumulators out of registers (gcc 12 does, with intrinsics).  A tile is
 * R rows x V vectors of 16 columns (V = 4, 3, 2, 1 with R <= 6, 8, 12, 12):
 * zmm(V*i + j) holds row i, columns 16j..16j+15; zmm24..24+V-1 the weights
 * of a K group; zmm28/29 the broadcast activations.  `.if` on R and V drops
 * the rows and vectors a tile does not have, at assembly time.
 *   init: ldi == 0: every row starts from the 16V int32 at ini (the column
 *         terms, so the compensation costs nothing); else row i starts
 *         from ini + i*ldi bytes, masked by mk[0..V-1] (a partial sum).
 *   loop: ng K groups from rows a + i*lda, then, when tail is not NULL,
 *         one more group from the words tail[0..R-1].
 *   out:  row i to out + i*ldo bytes, masked by mk. */
#define IF_ROW(i, body) ".if %c[R] > " #i "\n\t" body ".endif\n\t"
#define IF_VEC(j, body) ".if %c[V] > " #j "\n\t" body ".endif\n\t"
/* accumulators of row i for each V: X(i, c0, c1, c2, c3), unused ones "0" */
#define ROWS_V4(X)                                                                         \
	X(0, "0", "1", "2", "3") X(1, "4", "5", "6", "7") X(2, "8", "9", "10", "11")          \
	X(3, "12", "13", "14", "15") X(4, "16", "17", "18", "19") X(5, "20", "21", "22", "23")
#define ROWS_V3(X)                                                                         \
	X(0, "0", "1", "2", "0") X(1, "3", "4", "5", "0") X(2, "6", "7", "8", "0")            \
	X(3, "9", "10", "11", "0") X(4, "12", "13", "14", "0") X(5, "15", "16", "17", "0")    \
	X(6, "18", "19", "20", "0") X(7, "21", "22", "23", "0")
#define ROWS_V2(X)                                                                         \
	X(0, "0", "1", "0", "0") X(1, "2", "3", "0", "0") X(2, "4", "5", "0", "0")            \
	X(3, "6", "7", "0", "0") X(4, "8", "9", "0", "0") X(5, "10", "11", "0", "0")          \
	X(6, "12", "13", "0", "0") X(7, "14", "15", "0", "0") X(8, "16", "17", "0", "0")      \
	X(9, "18", "19", "0", "0") X(10, "20", "21", "0", "0") X(11, "22", "23", "0", "0")
#define ROWS_V1(X)                                                                         \
	X(0, "0", "0", "0", "0") X(1, "1", "0", "0", "0") X(2, "2", "0", "0", "0")            \
	X(3, "3", "0", "0", "0") X(4, "4", "0", "0", "0") X(5, "5", "0", "0", "0")            \
	X(6, "6", "0", "0", "0") X(7, "7", "0", "0", "0") X(8, "8", "0", "0", "0")            \
	X(9, "9", "0", "0", "0") X(10, "10", "0", "0", "0") X(11, "11", "0", "0", "0")
#define ALL_ROWS(X)                                                                        \
	".if %c[V] == 4\n\t" ROWS_V4(X) ".elseif %c[V] == 3\n\t" ROWS_V3(X)                  \
	".elseif %c[V] == 2\n\t" ROWS_V2(X) ".else\n\t" ROWS_V1(X) ".endif\n\t"
/* where row i's 4 activation bytes are, and which register takes them */
#define SRC_0 "(%[a])"
#define SRC_1 "(%[a],%[lda])"
#define SRC_2 "(%[a],%[lda],2)"
#define SRC_3 "(%[a3])"
#define SRC_4 "(%[a3],%[lda])"
#define SRC_5 "(%[a3],%[lda],2)"
#define SRC_6 "(%[a6])"
#define SRC_7 "(%[a6],%[lda])"
#define SRC_8 "(%[a6],%[lda],2)"
#define SRC_9 "(%[a9])"
#define SRC_10 "(%[a9],%[lda])"
#define SRC_11 "(%[a9],%[lda],2)"
#define BREG_0 "28"
#define BREG_1 "29"
#define BREG_2 "28"
#define BREG_3 "29"
#define BREG_4 "28"
#define BREG_5 "29"
#define BREG_6 "28"
#define BREG_7 "29"
#define BREG_8 "28"
#define BREG_9 "29"
#define BREG_10 "28"
#define BREG_11 "29"
#define WREG_0 "24"
#define WREG_1 "25"
#define WREG_2 "26"
#define WREG_3 "27"
#define DP(j, b, c) IF_VEC(j, "vpdpbusd %%zmm" WREG_##j ", %%zmm" b ", %%zmm" c "\n\t")
#define X_BODY(i, c0, c1, c2, c3)                                                          \
	IF_ROW(i, "vpbroadcastd " SRC_##i ", %%zmm" BREG_##i "\n\t" DP(0, BREG_##i, c0)      \
		  DP(1, BREG_##i, c1) DP(2, BREG_##i, c2) DP(3, BREG_##i, c3))
#define X_COPY(i, c0, c1, c2, c3)                                                          \
	".if " #i " > 0\n\t" IF_ROW(i, IF_VEC(0, "vmovdqa64 %%zmm0, %%zmm" c0 "\n\t")            \
		  IF_VEC(1, "vmovdqa64 %%zmm1, %%zmm" c1 "\n\t")                                    \
		  IF_VEC(2, "vmovdqa64 %%zmm2, %%zmm" c2 "\n\t")                                    \
		  IF_VEC(3, "vmovdqa64 %%zmm3, %%zmm" c3 "\n\t")) ".endif\n\t"
/* a3 holds ini, a6 ldi here */
#define X_LOAD(i, c0, c1, c2, c3)                                                          \
	IF_ROW(i, IF_VEC(0, "vmovdqu32 (%[a3]), %%zmm" c0 "%{%%k1%}%{z%}\n\t")                  \
		  IF_VEC(1, "vmovdqu32 64(%[a3]), %%zmm" c1 "%{%%k2%}%{z%}\n\t")                    \
		  IF_VEC(2, "vmovdqu32 128(%[a3]), %%zmm" c2 "%{%%k3%}%{z%}\n\t")                   \
		  IF_VEC(3, "vmovdqu32 192(%[a3]), %%zmm" c3 "%{%%k4%}%{z%}\n\t")                   \
		  "add %[a6], %[a3]\n\t")
/* The epilogues of kq.h in registers: f32 is (float)acc * fs + bias, mul
 * then add, never fused.  u8 is clamp(rne(y) + ozp, 0, 255) with y = x *
 * inv and x relu'd or not; computed as rne(clamp(y, lo, hi)) + ozp in
 * int32 with lo = -ozp (max(-ozp, 0) with relu: since inv > 0, relu on x
 * or on y is the same) and hi = 255 - ozp.  Equal, because rounding is
 * monotonic and keeps integers, provided |ozp| <= 2^24 - 256 (the caller
 * checks): then lo, hi and every sum are exact in float.  NaN: AT&T
 * "vmaxps lo, y, y" returns lo, so NaN gives 0, or clamp(ozp) with relu,
 * as the scalar epilogue.  w holds fs, ng bias, a out, lda ldo here;
 * zmm24 lo, zmm28 inv, zmm29 ozp (int32), zmm31 hi. */
#define F32_VEC(j, c, k)                                                                   \
	IF_VEC(j, "vcvtdq2ps %%zmm" c ", %%zmm" c "\n\t"                                      \
		  "vmulps 64*" #j "(%[w]), %%zmm" c ", %%zmm" c "\n\t"                          \
		  "vaddps 64*" #j "(%[ng]), %%zmm" c ", %%zmm" c "\n\t"                         \
		  "vmovups %%zmm" c ", 64*" #j "(%[a])%{%%k" k "%}\n\t")
#define U8_VEC(j, c, k)                                                                    \
	IF_VEC(j, "vcvtdq2ps %%zmm" c ", %%zmm" c "\n\t"                                      \
		  "vmulps 64*" #j "(%[w]), %%zmm" c ", %%zmm" c "\n\t"                          \
		  "vaddps 64*" #j "(%[ng]), %%zmm" c ", %%zmm" c "\n\t"                         \
		  "vmulps %%zmm28, %%zmm" c ", %%zmm" c "\n\t"                                  \
		  "vmaxps %%zmm24, %%zmm" c ", %%zmm" c "\n\t"                                  \
		  "vminps %%zmm31, %%zmm" c ", %%zmm" c "\n\t"                                  \
		  "vcvtps2dq %{rn-sae%}, %%zmm" c ", %%zmm" c "\n\t"                            \
		  "vpaddd %%zmm29, %%zmm" c ", %%zmm" c "\n\t"                                  \
		  "vpmovdb %%zmm" c ", 16*" #j "(%[a])%{%%k" k "%}\n\t")
#define X_F32(i, c0, c1, c2, c3)                                                           \
	IF_ROW(i, F32_VEC(0, c0, "1") F32_VEC(1, c1, "2") F32_VEC(2, c2, "3")                 \
		  F32_VEC(3, c3, "4") "add %[lda], %[a]\n\t")
#define X_U8(i, c0, c1, c2, c3)                                                            \
	IF_ROW(i, U8_VEC(0, c0, "1") U8_VEC(1, c1, "2") U8_VEC(2, c2, "3")                    \
		  U8_VEC(3, c3, "4") "add %[lda], %[a]\n\t")
/* a holds out, lda ldo here */
#define X_STORE(i, c0, c1, c2, c3)                                                         \
	IF_ROW(i, IF_VEC(0, "vmovdqu32 %%zmm" c0 ", (%[a])%{%%k1%}\n\t")                        \
		  IF_VEC(1, "vmovdqu32 %%zmm" c1 ", 64(%[a])%{%%k2%}\n\t")                          \
		  IF_VEC(2, "vmovdqu32 %%zmm" c2 ", 128(%[a])%{%%k3%}\n\t")                         \
		  IF_VEC(3, "vmovdqu32 %%zmm" c3 ", 192(%[a])%{%%k4%}\n\t")                         \
		  "add %[lda], %[a]\n\t")
/* the row pointers a3 = a + 3 lda, a6 = a + 6 lda, a9 = a + 9 lda */
#define ROW_POINTERS                                                                       \
	"lea (%[a],%[lda],2), %[a3]\n\t"                                                    \
	"add %[lda], %[a3]\n\t"                                                             \
	IF_ROW(6, "lea (%[a3],%[lda],2), %[a6]\n\tadd %[lda], %[a6]\n\t")                     \
	IF_ROW(9, "lea (%[a6],%[lda],2), %[a9]\n\tadd %[lda], %[a9]\n\t")

static inline __attribute__((always_inline)) void
kernel(const int R, const int V, const uint8_t *a, size_t lda, const int8_t *w, size_t ng,
       const kargs *p)
{
	const uint8_t *a3, *a6, *a9, *tail;
	__asm__ volatile(
		IF_VEC(0, "kmovw %c[o_mk](%[p]), %%k1\n\t")
		IF_VEC(1, "kmovw %c[o_mk]+2(%[p]), %%k2\n\t")
		IF_VEC(2, "kmovw %c[o_mk]+4(%[p]), %%k3\n\t")
		IF_VEC(3, "kmovw %c[o_mk]+6(%[p]), %%k4\n\t")
		"mov %c[o_ini](%[p]), %[a3]\n\t"
		"mov %c[o_ldi](%[p]), %[a6]\n\t"
		"test %[a6], %[a6]\n\t"
		"jnz 1f\n\t"
		IF_VEC(0, "vmovdqu32 (%[a3]), %%zmm0\n\t")
		IF_VEC(1, "vmovdqu32 64(%[a3]), %%zmm1\n\t")
		IF_VEC(2, "vmovdqu32 128(%[a3]), %%zmm2\n\t")
		IF_VEC(3, "vmovdqu32 192(%[a3]), %%zmm3\n\t")
		ALL_ROWS(X_COPY)
		"jmp 2f\n"
		"1:\n\t"
		ALL_ROWS(X_LOAD)
		"2:\n\t"
		"mov %c[o_tail](%[p]), %[tail]\n\t"
		ROW_POINTERS
		"test %[ng], %[ng]\n\t"
		"jz 4f\n\t"
		".p2align 5\n"
		"3:\n\t"
		IF_VEC(0, "vmovdqa64 (%[w]), %%zmm24\n\t")
		IF_VEC(1, "vmovdqa64 64(%[w]), %%zmm25\n\t")
		IF_VEC(2, "vmovdqa64 128(%[w]), %%zmm26\n\t")
		IF_VEC(3, "vmovdqa64 192(%[w]), %%zmm27\n\t")
		ALL_ROWS(X_BODY)
		"add $64*%c[V], %[w]\n\t"
		"add $4, %[a]\n\t"
		"add $4, %[a3]\n\t"
		IF_ROW(6, "add $4, %[a6]\n\t")
		IF_ROW(9, "add $4, %[a9]\n\t")
		"dec %[ng]\n\t"
		"jnz 3b\n"
		"4:\n\t"
		/* the K tail: one more group from the zero-padded words */
		"test %[tail], %[tail]\n\t"
		"jz 5f\n\t"
		"mov %[tail], %[a]\n\t"
		"mov $4, %[lda]\n\t"
		ROW_POINTERS
		"mov $1, %[ng]\n\t"
		"xor %[tail], %[tail]\n\t"
		"jmp 3b\n"
		"5:\n\t"
		"mov %c[o_out](%[p]), %[a]\n\t"
		"mov %c[o_ldo](%[p]), %[lda]\n\t"
		"mov %c[o_fs](%[p]), %[w]\n\t"
		"mov %c[o_bias](%[p]), %[ng]\n\t"
		"cmpl $%c[f32], %c[o_mode](%[p])\n\t"
		"je 6f\n\t"
		"cmpl $%c[u8], %c[o_mode](%[p])\n\t"
		"je 7f\n\t"
		ALL_ROWS(X_STORE)
		"jmp 8f\n"
		"6:\n\t"
		ALL_ROWS(X_F32)
		"jmp 8f\n"
		"7:\n\t"
		"vbroadcastss %c[o_lo](%[p]), %%zmm24\n\t"
		"vbroadcastss %c[o_inv](%[p]), %%zmm28\n\t"
		"vpbroadcastd %c[o_ozp](%[p]), %%zmm29\n\t"
		"vbroadcastss %c[o_hi](%[p]), %%zmm31\n\t"
		ALL_ROWS(X_U8)
		"8:\n\t"
		: [a] "+r"(a), [lda] "+r"(lda), [w] "+r"(w), [ng] "+r"(ng), [a3] "=&r"(a3),
		  [a6] "=&r"(a6), [a9] "=&r"(a9), [tail] "=&r"(tail)
		: [p] "r"(p), [R] "i"(R), [V] "i"(V), [o_mk] "i"(offsetof(kargs, mk)),
		  [o_ini] "i"(offsetof(kargs, ini)), [o_ldi] "i"(offsetof(kargs, ldi)),
		  [o_out] "i"(offsetof(kargs, out)), [o_ldo] "i"(offsetof(kargs, ldo)),
		  [o_tail] "i"(offsetof(kargs, tail)), [o_mode] "i"(offsetof(kargs, mode)),
		  [o_fs] "i"(offsetof(kargs, fs)), [o_bias] "i"(offsetof(kargs, bias)),
		  [o_inv] "i"(offsetof(kargs, inv)), [o_ozp] "i"(offsetof(kargs, ozp)),
		  [o_lo] "i"(offsetof(kargs, lo)), [o_hi] "i"(offsetof(kargs, hi)),
		  [f32] "i"(KOUT_F32), [u8] "i"(KOUT_U8)
		: "cc", "memory", "k1", "k2", "k3", "k4", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
		  "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
		  "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
		  "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
}

#define KCASE(V, R)                                                                        \
	case (V) * 16 + (R): kernel(R, V, a, lda, w, ng, p); break;

/* Tiles of r rows x v vectors, r <= tile_rows(v). */
static void kernel_any(int v, int r, const uint8_t *a, size_t lda, const int8_t *w, size_t ng,
		       const kargs *p)
{
	switch (v * 16 + r) {
	KCASE(4, 1) KCASE(4, 2) KCASE(4, 3) KCASE(4, 4) KCASE(4, 5) KCASE(4, 6)
	KCASE(3, 1) KCASE(3, 2) KCASE(3, 3) KCASE(3, 4) KCASE(3, 5) KCASE(3, 6) KCASE(3, 7)
	KCASE(3, 8)
	KCASE(2, 1) KCASE(2, 2) KCASE(2, 3) KCASE(2, 4) KCASE(2, 5) KCASE(2, 6) KCASE(2, 7)
	KCASE(2, 8) KCASE(2, 9) KCASE(2, 10) KCASE(2, 11) KCASE(2, 12)
	KCASE(1, 1) KCASE(1, 2) KCASE(1, 3) KCASE(1, 4) KCASE(1, 5) KCASE(1, 6) KCASE(1, 7)
	KCASE(1, 8) KCASE(1, 9) KCASE(1, 10) KCASE(1, 11) KCASE(1, 12)
	default: break;
	}
}

/* After the last K block: the weight zero-point term (rare: int8 weights
 * are usually symmetric) and the conversion of a finished int32 tile of
 * r rows x v vectors. */
static void finish_tile(const s8_job *job, int r, int v, int row, int col, int32_t *t,
			size_t ldt, const uint16_t *mk)
{
	if (job->rowsum) {
		for (int i = 0; i < r; i++) {
			__m512i rs = _mm512_set1_epi32(job->rowsum[row + i]);
			int32_t *p = t + (size_t)i * ldt;
			for (int j = 0; j < v; j++) {
				__m512i zp = _mm512_load_si512(job->w->zp + col + 16 * j);
				__m512i x = _mm512_maskz_loadu_epi32(mk[j], p + 16 * j);
				x = _mm512_sub_epi32(x, _mm512_mullo_epi32(rs, zp));
				_mm512_mask_storeu_epi32(p + 16 * j, mk[j], x);
			}
		}
	}
	if (job->out == S8_OUT_S32)
		return;
	const __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.0f);
	const __m512 inv = _mm512_set1_ps(job->inv_out), ozp = _mm512_set1_ps(job->out_zp);
	for (int i = 0; i < r; i++) {
		const int32_t *p = t + (size_t)i * ldt;
		size_t at = (size_t)(row + i) * job->ldc + col;
		for (int j = 0; j < v; j++) {
			/* mul then add, never fused: bit-identical to the scalar epilogue */
			__m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(p + 16 * j)),
						 _mm512_load_ps(job->fscale + col + 16 * j));
			x = _mm512_add_ps(x, _mm512_load_ps(job->w->bias + col + 16 * j));
			if (job->out == S8_OUT_F32) {
				_mm512_mask_storeu_ps((float *)job->c + at + 16 * j, mk[j], x);
				continue;
			}
			if (job->relu)
				x = _mm512_max_ps(x, zero);
			x = _mm512_roundscale_ps(_mm512_mul_ps(x, inv),
						 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
			x = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(x, ozp), zero), top); /* NaN -> 0 */
			_mm512_mask_cvtepi32_storeu_epi8((uint8_t *)job->c + at + 16 * j, mk[j],
							 _mm512_cvttps_epi32(x));
		}
	}
}

static void cols(const s8_job *job, int m0, int m1, int n0, int n1, unsigned char *scratch)
{
	const int k = job->k, kg = (k + 3) / 4, kfull = k / 4;
	int per;
	const int nb = kblocks(k, &per);
	const int8_t *packed = job->w->packed;
	/* bytes a K tail group reads past k in place; rows with that much of A
	 * after them need no copy (the padded weights there are zero) */
	const size_t over = (size_t)(4 * kg - k);
	uint8_t tailbuf[MR_MAX * 4];
	_Alignas(64) int32_t tbuf[MR_MAX * 32]; /* a finished tile, when zp needs rowsum */
	/* f32/u8 tiles convert in registers unless the zero-point term must
	 * come first or out_zp is too large for X_U8 (then finish_tile) */
	const float ozp = job->out_zp;
	const int fused = job->out != S8_OUT_S32 && !job->rowsum &&
			  (job->out == S8_OUT_F32 || fabsf(ozp) <= 16777216.0f - 256.0f);
	const size_t esize = job->out == S8_OUT_F32 ? 4 : 1;
	kargs ka = {0};
	ka.inv = job->inv_out;
	ka.ozp = fused ? (int32_t)ozp : 0;
	ka.lo = job->relu && ozp > 0.0f ? 0.0f : -ozp;
	ka.hi = 255.0f - ozp;
	for (int jc = n0; jc < n1; jc += S8_NC) {
		int jend = jc + S8_NC < n1 ? jc + S8_NC : n1;
		for (int ic = m0; ic < m1; ic += S8_MC) {
			int iend = ic + S8_MC < m1 ? ic + S8_MC : m1;
			for (int pb = 0; pb < nb; pb++) {
				int g0 = pb * per, g1 = g0 + per < kg ? g0 + per : kg;
				int ga = (g1 < kfull ? g1 : kfull) - g0; /* groups read from A */
				int has_tail = g1 > kfull;              /* only in the last block */
				int first = pb == 0, last = pb == nb - 1;
				for (int jr = jc; jr < jend; jr += NR) {
					int width = panel_width(job->n, jr), v = width / 16, mr = tile_rows(v);
					const int8_t *wp = packed + (size_t)jr * kg * 4 + (size_t)g0 * width * 4;
					int nv = jend - jr < width ? jend - jr : width;
					for (int j = 0; j < 4; j++) {
						int b = nv - 16 * j;
						b = b < 0 ? 0 : b > 16 ? 16 : b;
						ka.mk[j] = (uint16_t)((1u << b) - 1);
					}
					for (int ir = ic; ir < iend; ir += mr) {
						int r = iend - ir < mr ? iend - ir : mr;
						/* partial sums: C itself for s32, else the scratch */
						int32_t *acc;
						size_t ldacc;
						if (job->out == S8_OUT_S32) {
							acc = (int32_t *)job->c + (size_t)ir * job->ldc + jr;
							ldacc = job->ldc * 4;
						} else if (scratch) {
							acc = (int32_t *)(void *)scratch +
							      (size_t)(ir - ic) * S8_NC + (jr - jc);
							ldacc = S8_NC * 4;
						} else {
							acc = tbuf; /* one K block: never a partial */
							ldacc = (size_t)width * 4;
						}
						ka.ini = first ? job->colinit + jr : acc;
						ka.ldi = first ? 0 : ldacc;
						ka.out = acc;
						ka.ldo = ldacc;
						ka.mode = KOUT_S32;
						if (last && fused) {
							ka.out = (unsigned char *)job->c +
								 ((size_t)ir * job->ldc + jr) * esize;
							ka.ldo = job->ldc * esize;
							ka.mode = job->out == S8_OUT_F32 ? KOUT_F32 : KOUT_U8;
							ka.fs = job->fscale + jr;
							ka.bias = job->w->bias + jr;
						} else if (last && job->out != S8_OUT_S32) {
							ka.out = tbuf;
							ka.ldo = (size_t)width * 4;
						}
						size_t ng = (size_t)ga;
						ka.tail = NULL;
						if (has_tail && (size_t)(job->m - ir - r) * job->lda >= over) {
							ng++; /* the tail in place */
						} else if (has_tail) {
							memset(tailbuf, 0, sizeof tailbuf);
							for (int i = 0; i < r; i++)
								memcpy(tailbuf + 4 * i,
								       job->a + (size_t)(ir + i) * job->lda + 4 * (size_t)kfull,
								       (size_t)(k - 4 * kfull));
							ka.tail = tailbuf;
						}
						kernel_any(v, r, job->a + (size_t)ir * job->lda + 4 * (size_t)g0,
							   job->lda, wp, ng, &ka);
						if (last && !fused)
							finish_tile(job, r, v, ir, jr, ka.out, ka.ldo / 4, ka.mk);
					}
				}
			}
		}
	}
}

const s8_ops kq_s8_ops_avx512vnni = {
	.nr = NR,
	.packed_bytes = packed_bytes,
	.pack = pack,
	.scratch_bytes = scratch_bytes,
	.cols = cols,
};
