/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gemm_s8_avx512.c - int8 GEMM with an AVX-512 VNNI (vpdpbusd) micro-kernel.
 *
 * DESIGN
 * - Packed weights: panels of 64 output columns; inside a panel, K groups
 *   of 4 bytes, each group stored as 64 columns x 4 consecutive K bytes
 *   (256 bytes = four zmm, the vpdpbusd operand order).  K is padded to a
 *   multiple of 4 and N to a multiple of 64 with zeros, so padded lanes add
 *   nothing.  Panel p, group g starts at byte (p * kgroups + g) * 256.
 * - Micro-kernel: 6 rows x 64 columns = 24 zmm accumulators, 4 weight
 *   vectors and one broadcast of 4 activation bytes per K group.  A is read
 *   in place (no packing); a K tail that is not a multiple of 4 is copied
 *   to a zero-padded 4-byte word per row so nothing past a row is read.
 * - Blocking (BLIS order): for NC columns, for MC rows, for KC-byte blocks
 *   of K, for each 64-column panel, for each 6-row block.  The KC x 64
 *   weight micro-panel (up to 256 KiB) stays in L2 while the MC / 6 row
 *   blocks pass over it; each weight line then feeds 6 vpdpbusd, so L1
 *   needs 21 bytes per cycle from L2, well within what it delivers.  On
 *   the project's Zen machine KC = 4096 (one K block up to K = 4096) beat
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
#include <string.h>

#define NR 64
#define MR 6
/* Block sizes; overridable with -D for tuning. */
#ifndef S8_KC
#define S8_KC 4096 /* bytes of K per block (multiple of 4) */
#endif
#ifndef S8_MC
#define S8_MC 120 /* rows per block of A (multiple of MR); 60 and 240 measured the same */
#endif
#ifndef S8_NC
#define S8_NC 256 /* columns per block (multiple of NR) */
#endif

static size_t packed_bytes(int n, int k)
{
	size_t np = ((size_t)n + NR - 1) / NR * NR, kp = ((size_t)k + 3) / 4 * 4;
	return np * kp;
}

static void pack(const int8_t *w, int n, int k, void *dst)
{
	int8_t *d = dst;
	size_t kg = ((size_t)k + 3) / 4;
	for (int col = 0; col < n; col++) {
		const int8_t *row = w + (size_t)col * k;
		int8_t *panel = d + (size_t)(col / NR) * kg * 256 + (size_t)(col % NR) * 4;
		for (int kk = 0; kk < k; kk++)
			panel[(size_t)(kk / 4) * 256 + kk % 4] = row[kk];
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

/* The micro-kernel, in one asm statement so that no compiler can move the
 * 24 accumulators out of registers (gcc 12 does, with intrinsics):
 * zmm(4i + j) holds row i, columns 16j..16j+15; zmm24-27 the weights of a
 * K group; zmm28/29 the broadcast activations.  `.if` on R drops the rows
 * of shorter tiles at assembly time.
 *   init: ldi == 0: every row starts from the 64 int32 at ini (the column
 *         terms, so the compensation costs nothing); else row i starts
 *         from ini + i*ldi bytes, masked by mk[0..3] (a partial sum).
 *   loop: ng K groups from rows a + i*lda, then, when tail is not NULL,
 *         one more group from the words tail[0..R-1].
 *   out:  row i to out + i*ldo bytes, masked by mk. */
#define ROW_BODY(src, b, c0, c1, c2, c3)                                                   \
	"vpbroadcastd " src ", %%zmm" b "\n\t"                                              \
	"vpdpbusd %%zmm24, %%zmm" b ", %%zmm" c0 "\n\t"                                     \
	"vpdpbusd %%zmm25, %%zmm" b ", %%zmm" c1 "\n\t"                                     \
	"vpdpbusd %%zmm26, %%zmm" b ", %%zmm" c2 "\n\t"                                     \
	"vpdpbusd %%zmm27, %%zmm" b ", %%zmm" c3 "\n\t"
#define ROW_COPY(c0, c1, c2, c3)                                                           \
	"vmovdqa64 %%zmm0, %%zmm" c0 "\n\tvmovdqa64 %%zmm1, %%zmm" c1 "\n\t"                  \
	"vmovdqa64 %%zmm2, %%zmm" c2 "\n\tvmovdqa64 %%zmm3, %%zmm" c3 "\n\t"
#define ROW_LOAD(c0, c1, c2, c3)                                                           \
	"vmovdqu32 (%[ini]), %%zmm" c0 "%{%%k1%}%{z%}\n\t"                                    \
	"vmovdqu32 64(%[ini]), %%zmm" c1 "%{%%k2%}%{z%}\n\t"                                  \
	"vmovdqu32 128(%[ini]), %%zmm" c2 "%{%%k3%}%{z%}\n\t"                                 \
	"vmovdqu32 192(%[ini]), %%zmm" c3 "%{%%k4%}%{z%}\n\t"                                 \
	"add %[ldi], %[ini]\n\t"
#define ROW_STORE(c0, c1, c2, c3)                                                          \
	"vmovdqu32 %%zmm" c0 ", (%[out])%{%%k1%}\n\t"                                         \
	"vmovdqu32 %%zmm" c1 ", 64(%[out])%{%%k2%}\n\t"                                       \
	"vmovdqu32 %%zmm" c2 ", 128(%[out])%{%%k3%}\n\t"                                      \
	"vmovdqu32 %%zmm" c3 ", 192(%[out])%{%%k4%}\n\t"                                      \
	"add %[ldo], %[out]\n\t"
#define IF_ROW(i, body) ".if %c[R] > " #i "\n\t" body ".endif\n\t"

static inline __attribute__((always_inline)) void
kernel(const int R, const uint8_t *a, size_t lda, const int8_t *w, size_t ng, const uint8_t *tail,
       const int32_t *ini, size_t ldi, int32_t *out, size_t ldo, const uint16_t *mk)
{
	const uint8_t *a3;
	__asm__ volatile(
		"kmovw (%[mk]), %%k1\n\t"
		"kmovw 2(%[mk]), %%k2\n\t"
		"kmovw 4(%[mk]), %%k3\n\t"
		"kmovw 6(%[mk]), %%k4\n\t"
		"test %[ldi], %[ldi]\n\t"
		"jnz 1f\n\t"
		"vmovdqa64 (%[ini]), %%zmm0\n\t"
		"vmovdqa64 64(%[ini]), %%zmm1\n\t"
		"vmovdqa64 128(%[ini]), %%zmm2\n\t"
		"vmovdqa64 192(%[ini]), %%zmm3\n\t"
		IF_ROW(1, ROW_COPY("4", "5", "6", "7"))
		IF_ROW(2, ROW_COPY("8", "9", "10", "11"))
		IF_ROW(3, ROW_COPY("12", "13", "14", "15"))
		IF_ROW(4, ROW_COPY("16", "17", "18", "19"))
		IF_ROW(5, ROW_COPY("20", "21", "22", "23"))
		"jmp 2f\n"
		"1:\n\t"
		ROW_LOAD("0", "1", "2", "3")
		IF_ROW(1, ROW_LOAD("4", "5", "6", "7"))
		IF_ROW(2, ROW_LOAD("8", "9", "10", "11"))
		IF_ROW(3, ROW_LOAD("12", "13", "14", "15"))
		IF_ROW(4, ROW_LOAD("16", "17", "18", "19"))
		IF_ROW(5, ROW_LOAD("20", "21", "22", "23"))
		"2:\n\t"
		"lea (%[a],%[lda],2), %[a3]\n\t"
		"add %[lda], %[a3]\n\t"
		"test %[ng], %[ng]\n\t"
		"jz 4f\n\t"
		".p2align 5\n"
		"3:\n\t"
		"vmovdqa64 (%[w]), %%zmm24\n\t"
		"vmovdqa64 64(%[w]), %%zmm25\n\t"
		"vmovdqa64 128(%[w]), %%zmm26\n\t"
		"vmovdqa64 192(%[w]), %%zmm27\n\t"
		ROW_BODY("(%[a])", "28", "0", "1", "2", "3")
		IF_ROW(1, ROW_BODY("(%[a],%[lda])", "29", "4", "5", "6", "7"))
		IF_ROW(2, ROW_BODY("(%[a],%[lda],2)", "28", "8", "9", "10", "11"))
		IF_ROW(3, ROW_BODY("(%[a3])", "29", "12", "13", "14", "15"))
		IF_ROW(4, ROW_BODY("(%[a3],%[lda])", "28", "16", "17", "18", "19"))
		IF_ROW(5, ROW_BODY("(%[a3],%[lda],2)", "29", "20", "21", "22", "23"))
		"add $256, %[w]\n\t"
		"add $4, %[a]\n\t"
		"add $4, %[a3]\n\t"
		"dec %[ng]\n\t"
		"jnz 3b\n"
		"4:\n\t"
		/* the K tail: one more group from the zero-padded words */
		"test %[tail], %[tail]\n\t"
		"jz 5f\n\t"
		"mov %[tail], %[a]\n\t"
		"lea 12(%[tail]), %[a3]\n\t"
		"mov $4, %[lda]\n\t"
		"mov $1, %[ng]\n\t"
		"xor %[tail], %[tail]\n\t"
		"jmp 3b\n"
		"5:\n\t"
		ROW_STORE("0", "1", "2", "3")
		IF_ROW(1, ROW_STORE("4", "5", "6", "7"))
		IF_ROW(2, ROW_STORE("8", "9", "10", "11"))
		IF_ROW(3, ROW_STORE("12", "13", "14", "15"))
		IF_ROW(4, ROW_STORE("16", "17", "18", "19"))
		IF_ROW(5, ROW_STORE("20", "21", "22", "23"))
		: [a] "+r"(a), [a3] "=&r"(a3), [lda] "+r"(lda), [w] "+r"(w), [ng] "+r"(ng),
		  [tail] "+r"(tail), [ini] "+r"(ini), [out] "+r"(out)
		: [ldi] "r"(ldi), [ldo] "r"(ldo), [mk] "r"(mk), [R] "i"(R)
		: "cc", "memory", "k1", "k2", "k3", "k4", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
		  "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
		  "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
		  "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29");
}

static void kernel_any(int r, const uint8_t *a, size_t lda, const int8_t *w, size_t ng,
		       const uint8_t *tail, const int32_t *ini, size_t ldi, int32_t *out,
		       size_t ldo, const uint16_t *mk)
{
	switch (r) {
	case 6: kernel(6, a, lda, w, ng, tail, ini, ldi, out, ldo, mk); break;
	case 5: kernel(5, a, lda, w, ng, tail, ini, ldi, out, ldo, mk); break;
	case 4: kernel(4, a, lda, w, ng, tail, ini, ldi, out, ldo, mk); break;
	case 3: kernel(3, a, lda, w, ng, tail, ini, ldi, out, ldo, mk); break;
	case 2: kernel(2, a, lda, w, ng, tail, ini, ldi, out, ldo, mk); break;
	default: kernel(1, a, lda, w, ng, tail, ini, ldi, out, ldo, mk); break;
	}
}

/* After the last K block: the weight zero-point term (rare: int8 weights
 * are usually symmetric) and the conversion of a finished int32 tile. */
static void finish_tile(const s8_job *job, int r, int row, int col, int32_t *t, size_t ldt,
			const uint16_t *mk)
{
	if (job->rowsum) {
		for (int i = 0; i < r; i++) {
			__m512i rs = _mm512_set1_epi32(job->rowsum[row + i]);
			int32_t *p = t + (size_t)i * ldt;
			for (int j = 0; j < 4; j++) {
				__m512i zp = _mm512_load_si512(job->w->zp + col + 16 * j);
				__m512i v = _mm512_maskz_loadu_epi32(mk[j], p + 16 * j);
				v = _mm512_sub_epi32(v, _mm512_mullo_epi32(rs, zp));
				_mm512_mask_storeu_epi32(p + 16 * j, mk[j], v);
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
		for (int j = 0; j < 4; j++) {
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
	uint8_t tailbuf[MR * 4];
	_Alignas(64) int32_t tbuf[MR * NR]; /* a finished tile of f32/u8 output */
	uint16_t mk[4];
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
					const int8_t *wp = packed + ((size_t)(jr / NR) * kg + g0) * 256;
					int nv = jend - jr < NR ? jend - jr : NR;
					for (int j = 0; j < 4; j++) {
						int v = nv - 16 * j;
						v = v < 0 ? 0 : v > 16 ? 16 : v;
						mk[j] = (uint16_t)((1u << v) - 1);
					}
					for (int ir = ic; ir < iend; ir += MR) {
						int r = iend - ir < MR ? iend - ir : MR;
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
							ldacc = NR * 4;
						}
						const int32_t *ini = first ? job->colinit + jr : acc;
						size_t ldi = first ? 0 : ldacc;
						int32_t *out = acc;
						size_t ldo = ldacc;
						if (last && job->out != S8_OUT_S32) {
							out = tbuf;
							ldo = NR * 4;
						}
						if (has_tail) {
							memset(tailbuf, 0, sizeof tailbuf);
							for (int i = 0; i < r; i++)
								memcpy(tailbuf + 4 * i,
								       job->a + (size_t)(ir + i) * job->lda + 4 * (size_t)kfull,
								       (size_t)(k - 4 * kfull));
						}
						kernel_any(r, job->a + (size_t)ir * job->lda + 4 * (size_t)g0,
							   job->lda, wp, (size_t)ga, has_tail ? tailbuf : NULL,
							   ini, ldi, out, ldo, mk);
						if (last)
							finish_tile(job, r, ir, jr, out, ldo / 4, mk);
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
