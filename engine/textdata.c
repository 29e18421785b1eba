/* SPDX-License-Identifier: GPL-3.0-or-later */
/* textdata.c - the text the sequence families are evaluated on: words
 * from Debian's word lists (encoder-langid), English fortunes and C
 * headers (decoder-text, rnn-text); deterministic splits, strata labels
 * and calibration draws.
 *
 * DESIGN: nothing is copied into the repository; the data is read at run
 * time from the installed Debian packages, and every choice (which words,
 * which split, which order) is a pure function of the installed bytes, so
 * tools/seq_common.py (which trained the models) and this file agree
 * exactly: FNV-1a 64 of a sample's bytes picks its split (h % 100: 0-79
 * train, 80-89 valid, 90-99 test), and for words also its draw from a list
 * of n eligible lines ((h >> 32) * n < cap << 32).  tests/test_textdata.c
 * checks the counts and some assignments against the Python side.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_seq.h"
#include "eng_stats.h"

uint64_t eng_fnv1a64(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	return h;
}

int eng_split_of(uint64_t h)
{
	int r = (int)(h % 100);
	return r < 80 ? ENG_SPLIT_TRAIN : r < 90 ? ENG_SPLIT_VALID : ENG_SPLIT_TEST;
}

static unsigned char *slurp(const char *path, size_t *len, char *err, size_t errlen, const char *pkg)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (pkg)
			snprintf(err, errlen, "%s: cannot open (%s); it comes with the Debian package%s %s", path, strerror(errno),
				 strchr(pkg, ' ') ? "s" : "", pkg);
		else
			snprintf(err, errlen, "%s: cannot open (%s)", path, strerror(errno));
		return NULL;
	}
	unsigned char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			unsigned char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory after %zu bytes", path, n);
				return NULL;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		snprintf(err, errlen, "%s: read error after %zu bytes", path, n);
		return NULL;
	}
	*len = n;
	return buf;
}

/* ---------------------------------------------------------------- words */

static const char *const lang_names[ENG_WORD_LANGS] = {"english", "german", "french", "spanish", "italian", "portuguese",
						       "dutch", "swedish", "norwegian", "danish", "catalan", "polish"};
static const char *const lang_files[ENG_WORD_LANGS] = {"american-english", "ngerman", "french", "spanish",
						       "italian", "portuguese", "dutch", "swedish",
						       "bokmaal", "danish", "catalan", "polish"};
static const char *const lang_pkgs[ENG_WORD_LANGS] = {"wamerican", "wngerman", "wfrench", "wspanish",
						      "witalian", "wportuguese", "wdutch", "wswedish",
						      "wnorwegian", "wdanish", "wcatalan", "wpolish"};

/* Strict UTF-8 as Python's decoder accepts it: no overlongs, no
 * surrogates, nothing above U+10FFFF. */
static int valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		int extra;
		unsigned lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF)
			extra = 1;
		else if (c >= 0xE0 && c <= 0xEF) {
			extra = 2;
			if (c == 0xE0)
				lo = 0xA0;
			if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			extra = 3;
			if (c == 0xF0)
				lo = 0x90;
			if (c == 0xF4)
				hi = 0x8F;
		} else
			return 0;
		if (i + (size_t)extra >= n)
			return 0; /* truncated sequence */
		for (int k = 1; k <= extra; k++) {
			unsigned b = s[i + k];
			if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
				return 0;
		}
		i += (size_t)extra + 1;
	}
	return 1;
}

/* One list line (without its "\n") as UTF-8 into out (2 * n bytes): a
 * trailing "\r" dropped, kept if valid UTF-8, else read as Latin-1.
 * Returns the length. */
static size_t normalise_line(const unsigned char *s, size_t n, unsigned char *out)
{
	if (n && s[n - 1] == '\r')
		n--;
	if (valid_utf8(s, n)) {
		memcpy(out, s, n);
		return n;
	}
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x80)
			out[o++] = s[i];
		else {
			out[o++] = (unsigned char)(0xC0 | s[i] >> 6);
			out[o++] = (unsigned char)(0x80 | (s[i] & 0x3F));
		}
	}
	return o;
}

static int eligible(const unsigned char *w, size_t n)
{
	if (n < 1 || n > ENG_WORD_MAX_BYTES)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned c = w[i];
		if ((c >= 'a' && c <= 'z') || c >= 0x80 || (i == 0 && c >= 'A' && c <= 'Z'))
			continue;
		return 0;
	}
	return 1;
}

/* Calls fn for every eligible line of a list: (word, length, hash). */
typedef int (*line_fn)(void *user, const unsigned char *w, size_t n, uint64_t h);

static int for_each_eligible(const unsigned char *buf, size_t len, line_fn fn, void *user)
{
	unsigned char tmp[2 * (ENG_WORD_MAX_BYTES + 1)];
	size_t p = 0;
	while (p < len) {
		const unsigned char *nl = memchr(buf + p, '\n', len - p);
		size_t q = nl ? (size_t)(nl - buf) : len, n = q - p;
		/* Shortcuts that decide as eligible() on the converted line would:
		 * conversion never shortens a line nor moves a byte to the front,
		 * and keeps ASCII bytes, so a line of more than 30 bytes (after its
		 * CR) or with a bad ASCII byte is out before converting. */
		size_t nn = n && buf[q - 1] == '\r' ? n - 1 : n;
		if (n > 0 && nn <= ENG_WORD_MAX_BYTES && eligible(buf + p, nn)) {
			size_t m = normalise_line(buf + p, n, tmp);
			if (eligible(tmp, m) && fn(user, tmp, m, eng_fnv1a64(tmp, m)))
				return -1;
		}
		p = q + 1;
	}
	return 0;
}

/* The drawn words, with an open-addressing index by (hash, bytes). */
typedef struct {
	char *bytes;
	size_t nbytes, capbytes;
	int32_t *off;
	uint8_t *lang, *owners; /* owners: lists the word is eligible in, counted */
	uint64_t *hash;
	int n, cap;
	int32_t *slot; /* index + 1, 0 empty */
	size_t nslot;  /* power of two */
	uint64_t *seen; /* bit (h >> 42) set for every word: most of the 7 million
			 * lookups of the owners pass stop at this 512 KB filter */
} wordset;

#define SEEN_WORDS ((size_t)1 << 16) /* 2^22 bits */

static int ws_find(const wordset *s, const unsigned char *w, size_t n, uint64_t h)
{
	size_t mask = s->nslot - 1;
	if (!(s->seen[h >> 48] >> (h >> 42 & 63) & 1)) {
		/* absent; the caller may still want the empty slot (ws_add) */
		size_t i = (size_t)(h ^ h >> 29) & mask;
		while (s->slot[i])
			i = (i + 1) & mask;
		return -(int)i - 1;
	}
	for (size_t i = (size_t)(h ^ h >> 29) & mask;; i = (i + 1) & mask) {
		int32_t k = s->slot[i];
		if (!k)
			return -(int)i - 1;
		k--;
		if (s->hash[k] == h && (size_t)(s->off[k + 1] - s->off[k] - 1) == n && memcmp(s->bytes + s->off[k], w, n) == 0)
			return k;
	}
}

static int ws_grow_index(wordset *s)
{
	size_t ns = s->nslot ? s->nslot * 2 : 1 << 16;
	int32_t *sl = calloc(ns, sizeof *sl);
	if (!sl)
		return -1;
	free(s->slot);
	s->slot = sl;
	s->nslot = ns;
	for (int k = 0; k < s->n; k++) {
		size_t mask = ns - 1, i = (size_t)(s->hash[k] ^ s->hash[k] >> 29) & mask;
		while (sl[i])
			i = (i + 1) & mask;
		sl[i] = k + 1;
	}
	return 0;
}

/* Adds a word known to be absent.  0, or -1 when out of memory. */
static int ws_add(wordset *s, const unsigned char *w, size_t n, uint64_t h, int lang)
{
	if (!s->seen && !(s->seen = calloc(SEEN_WORDS, sizeof *s->seen)))
		return -1;
	if ((size_t)(s->n + 1) * 2 > s->nslot && ws_grow_index(s))
		return -1;
	if (s->n + 1 >= s->cap) {
		int nc = s->cap ? s->cap * 2 : 1 << 15;
		int32_t *o = realloc(s->off, (size_t)(nc + 1) * sizeof *o);
		if (o)
			s->off = o;
		uint8_t *l = o ? realloc(s->lang, (size_t)nc) : NULL;
		if (l)
			s->lang = l;
		uint8_t *ow = l ? realloc(s->owners, (size_t)nc) : NULL;
		if (ow)
			s->owners = ow;
		uint64_t *hh = ow ? realloc(s->hash, (size_t)nc * sizeof *hh) : NULL;
		if (!hh)
			return -1;
		s->hash = hh;
		if (s->cap == 0)
			s->off[0] = 0;
		s->cap = nc;
	}
	if (s->nbytes + n + 1 > s->capbytes) {
		size_t nc = s->capbytes ? s->capbytes * 2 : 1 << 20;
		char *b = realloc(s->bytes, nc);
		if (!b)
			return -1;
		s->bytes = b, s->capbytes = nc;
	}
	int at = ws_find(s, w, n, h); /* the empty slot the probe ends on */
	memcpy(s->bytes + s->nbytes, w, n);
	s->bytes[s->nbytes + n] = 0;
	s->nbytes += n + 1;
	int k = s->n++;
	s->off[k + 1] = (int32_t)s->nbytes;
	s->lang[k] = (uint8_t)lang;
	s->owners[k] = 0;
	s->hash[k] = h;
	s->slot[-at - 1] = k + 1;
	s->seen[h >> 48] |= UINT64_C(1) << (h >> 42 & 63);
	return 0;
}

static void ws_free(wordset *s)
{
	free(s->bytes), free(s->off), free(s->lang), free(s->owners), free(s->hash), free(s->slot), free(s->seen);
}

typedef struct {
	wordset *s;
	int lang;
	uint64_t n, cap; /* eligible lines of the list, words to draw */
	int count;
} pass_state;

static int count_line(void *user, const unsigned char *w, size_t n, uint64_t h)
{
	(void)w, (void)n, (void)h;
	((pass_state *)user)->count++;
	return 0;
}

static int draw_line(void *user, const unsigned char *w, size_t n, uint64_t h)
{
	pass_state *ps = user;
	/* the draw: about cap of the list's n eligible lines */
	if ((h >> 32) * ps->n >= ps->cap << 32)
		return 0;
	if (ps->s->nslot && ws_find(ps->s, w, n, h) >= 0)
		return 0; /* already drawn (this list or an earlier one) */
	return ws_add(ps->s, w, n, h, ps->lang);
}

/* Counts, per drawn word, the lists it is eligible in, each list once
 * (last_lang[k]: the list that last counted word k). */
typedef struct {
	wordset *s;
	int lang;
	int *last_lang;
} owner_state;

static int owner_line(void *user, const unsigned char *w, size_t n, uint64_t h)
{
	owner_state *os = user;
	int k = ws_find(os->s, w, n, h);
	if (k >= 0 && os->last_lang[k] != os->lang) {
		os->last_lang[k] = os->lang;
		os->s->owners[k]++;
	}
	return 0;
}

typedef struct {
	const wordset *s;
	int k;
} word_ref;

static int cmp_word(const void *a, const void *b)
{
	const word_ref *x = a, *y = b;
	const wordset *s = x->s;
	uint64_t hx = s->hash[x->k], hy = s->hash[y->k];
	if (hx != hy)
		return hx < hy ? -1 : 1;
	size_t nx = (size_t)(s->off[x->k + 1] - s->off[x->k] - 1), ny = (size_t)(s->off[y->k + 1] - s->off[y->k] - 1);
	int c = memcmp(s->bytes + s->off[x->k], s->bytes + s->off[y->k], nx < ny ? nx : ny);
	return c ? c : (nx > ny) - (nx < ny);
}

void eng_words_done(eng_words *w)
{
	free(w->bytes), free(w->off), free(w->len), free(w->nchars), free(w->lang_of), free(w->split), free(w->hash);
	memset(w, 0, sizeof *w);
}

int eng_words_load(eng_words *w, const char *dict_dir, int cap, char *err, size_t errlen)
{
	memset(w, 0, sizeof *w);
	w->nlang = ENG_WORD_LANGS;
	w->lang = lang_names, w->file = lang_files, w->package = lang_pkgs;
	if (!dict_dir)
		dict_dir = "/usr/share/dict";
	if (cap <= 0)
		cap = ENG_WORD_CAP;
	wordset s = {0};
	int *last = NULL;
	word_ref *refs = NULL;
	char path[1024];
	for (int l = 0; l < ENG_WORD_LANGS; l++) {
		size_t len;
		snprintf(path, sizeof path, "%s/%s", dict_dir, lang_files[l]);
		unsigned char *buf = slurp(path, &len, err, errlen, lang_pkgs[l]);
		if (!buf)
			goto fail;
		pass_state ps = {&s, l, 0, (uint64_t)cap, 0};
		for_each_eligible(buf, len, count_line, &ps);
		w->eligible[l] = ps.count;
		ps.n = (uint64_t)ps.count;
		int st = for_each_eligible(buf, len, draw_line, &ps);
		free(buf);
		if (st) {
			snprintf(err, errlen, "%s: out of memory drawing words", path);
			goto fail;
		}
	}
	if (s.n == 0) {
		snprintf(err, errlen, "%s: the word lists hold no eligible words", dict_dir);
		goto fail;
	}
	/* a drawn word that is eligible in another language's list is ambiguous */
	last = malloc((size_t)s.n * sizeof *last);
	if (!last) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int k = 0; k < s.n; k++)
		last[k] = -1;
	for (int l = 0; l < ENG_WORD_LANGS; l++) {
		size_t len;
		snprintf(path, sizeof path, "%s/%s", dict_dir, lang_files[l]);
		unsigned char *buf = slurp(path, &len, err, errlen, lang_pkgs[l]);
		if (!buf)
			goto fail;
		owner_state os = {&s, l, last};
		for_each_eligible(buf, len, owner_line, &os);
		free(buf);
	}
	refs = malloc((size_t)s.n * sizeof *refs);
	if (!refs) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	int n = 0;
	size_t nbytes = 0;
	for (int k = 0; k < s.n; k++)
		if (s.owners[k] == 1) {
			refs[n].s = &s, refs[n++].k = k;
			nbytes += (size_t)(s.off[k + 1] - s.off[k]);
		}
	qsort(refs, (size_t)n, sizeof *refs, cmp_word);
	w->n = n;
	w->bytes = malloc(nbytes ? nbytes : 1);
	w->off = malloc(((size_t)n + 1) * sizeof *w->off);
	w->len = malloc((size_t)n + 1), w->nchars = malloc((size_t)n + 1);
	w->lang_of = malloc((size_t)n + 1), w->split = malloc((size_t)n + 1);
	w->hash = malloc(((size_t)n + 1) * sizeof *w->hash);
	if (!w->bytes || !w->off || !w->len || !w->nchars || !w->lang_of || !w->split || !w->hash) {
		snprintf(err, errlen, "out of memory for %d words", n);
		goto fail;
	}
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		int k = refs[i].k;
		size_t len = (size_t)(s.off[k + 1] - s.off[k]);
		memcpy(w->bytes + o, s.bytes + s.off[k], len);
		w->off[i] = (int32_t)o;
		o += len;
		w->len[i] = (uint8_t)(len - 1);
		int c = 0;
		for (size_t j = 0; j + 1 < len; j++)
			c += ((unsigned char)s.bytes[s.off[k] + j] & 0xC0) != 0x80;
		w->nchars[i] = (uint8_t)c;
		w->lang_of[i] = s.lang[k];
		w->hash[i] = s.hash[k];
		w->split[i] = (uint8_t)eng_split_of(s.hash[k]);
		w->count[w->split[i]][s.lang[k]]++;
	}
	w->off[n] = (int32_t)o;
	free(refs), free(last);
	ws_free(&s);
	return 0;
fail:
	free(refs), free(last);
	ws_free(&s);
	eng_words_done(w);
	return -1;
}

int eng_words_split(const eng_words *w, int split, int *idx)
{
	int n = 0;
	for (int i = 0; i < w->n; i++)
		if (w->split[i] == split)
			idx[n++] = i;
	return n;
}

int eng_len_bucket(int nchars)
{
	return nchars <= 4 ? 0 : nchars <= 8 ? 1 : 2;
}

const char *eng_len_bucket_name(int bucket)
{
	static const char *const names[] = {"len1-4", "len5-8", "len9+"};
	return bucket >= 0 && bucket < 3 ? names[bucket] : "?";
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

int eng_words_rare(const eng_words *w, int *rare)
{
	int c[ENG_WORD_LANGS], n = w->nlang, k = 0;
	memcpy(c, w->count[ENG_SPLIT_TRAIN], sizeof c);
	qsort(c, (size_t)n, sizeof *c, cmp_int);
	double median = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
	for (int l = 0; l < n; l++)
		k += rare[l] = w->count[ENG_SPLIT_TRAIN][l] < 0.8 * median;
	return k;
}

/* The first n of a seeded partial Fisher-Yates shuffle of pool. */
static void draw(int *pool, int npool, int n, uint64_t seed)
{
	uint64_t st = seed;
	for (int i = 0; i < n && i < npool; i++) {
		int j = i + (int)eng_rng_below(&st, (uint32_t)(npool - i));
		int t = pool[i];
		pool[i] = pool[j];
		pool[j] = t;
	}
}

int eng_words_calib(const eng_words *w, const char *set, int n, uint64_t seed, int *idx, char *err, size_t errlen)
{
	int kind = !strcmp(set, "representative") ? 0 : !strcmp(set, "short") ? 1 : !strcmp(set, "mismatched") ? 2 : -1;
	if (kind < 0) {
		snprintf(err, errlen, "--calib-set: '%s' is not a calibration set of the encoder family (representative, "
				      "short, mismatched)", set);
		return -1;
	}
	int *pool = malloc(((size_t)w->n + 1) * sizeof *pool), np = 0;
	if (!pool) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < w->n; i++)
		if (w->split[i] == ENG_SPLIT_TRAIN && (kind != 1 || w->nchars[i] <= 4) && (kind != 2 || w->lang_of[i] == 0))
			pool[np++] = i;
	if (n < 1 || n > np) {
		snprintf(err, errlen, "--calib-set %s:%d: the set has %d train words", set, n, np);
		free(pool);
		return -1;
	}
	draw(pool, np, n, seed);
	memcpy(idx, pool, (size_t)n * sizeof *idx);
	free(pool);
	return 0;
}

/* ------------------------------------------------------------- fortunes */

static const char *const group_names[ENG_TEXT_GROUPS + 1] = {
	"computing", "cookie", "definitions", "humour", "science", "society", "politics", "work", "literature", "wisdom",
	"shifted"};
static const char *const group_files[ENG_TEXT_GROUPS][9] = {
	{"computers", "linux", "linuxcookie", "perl", "debian", "debian-hints", "bofh-excuses", "translate-me", NULL},
	{"cookie", "fortunes", "miscellaneous", "platitudes", "disclaimer", NULL},
	{"definitions", NULL},
	{"humorists", "zippy", "riddles", "knghtbrd", "kids", "pets", "food", NULL},
	{"science", "medicine", "drugs", "goedel", "paradoxum", "magic", "education", NULL},
	{"people", "men-women", "love", "ethnic", "sports", NULL},
	{"politics", "law", "news", "anarchism", NULL},
	{"work", NULL},
	{"literature", "songs-poems", "art", "ascii-art", "pratchett", "startrek", NULL},
	{"wisdom", "tao", NULL},
};
#define FORTUNE_PACKAGES "fortunes fortunes-min fortunes-bofh-excuses fortunes-debian-hints fortune-anarchism"
static const char *const shifted_files[] = {"stdio.h", "string.h", "ctype.h"};

const char *eng_corpus_file_group(const char *file)
{
	for (int g = 0; g < ENG_TEXT_GROUPS; g++)
		for (int i = 0; group_files[g][i]; i++)
			if (!strcmp(group_files[g][i], file))
				return group_names[g];
	return NULL;
}

typedef struct {
	uint8_t *p;
	size_t n, cap;
} buf_t;

static int buf_put(buf_t *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t nc = b->cap ? b->cap : 1 << 16;
		while (nc < b->n + n)
			nc *= 2;
		uint8_t *q = realloc(b->p, nc);
		if (!q)
			return -1;
		b->p = q, b->cap = nc;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return 0;
}

/* Emits the record in rec (if not only whitespace) to its split's stream. */
static int emit_record(buf_t *rec, buf_t *streams, int *records)
{
	int blank = 1;
	for (size_t i = 0; i < rec->n && blank; i++)
		blank = rec->p[i] == ' ' || rec->p[i] == '\t' || rec->p[i] == '\r' || rec->p[i] == '\n';
	if (!blank) {
		int s = eng_split_of(eng_fnv1a64(rec->p, rec->n));
		if (buf_put(&streams[s], rec->p, rec->n) || buf_put(&streams[s], "%\n", 2))
			return -1;
		records[s]++;
	}
	rec->n = 0;
	return 0;
}

void eng_corpus_done(eng_corpus *c)
{
	for (int g = 0; g <= ENG_TEXT_GROUPS; g++)
		for (int s = 0; s < ENG_NSPLITS; s++)
			free(c->mem[g][s]);
	memset(c, 0, sizeof *c);
}

int eng_corpus_load(eng_corpus *c, const char *fortune_dir, const char *include_dir, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->ngroups = ENG_TEXT_GROUPS;
	c->group = group_names;
	if (!fortune_dir)
		fortune_dir = "/usr/share/games/fortunes";
	if (!include_dir)
		include_dir = "/usr/include";
	char path[1024];
	buf_t rec = {0};
	for (int g = 0; g < ENG_TEXT_GROUPS; g++) {
		buf_t st[ENG_NSPLITS] = {{0}};
		for (int f = 0; group_files[g][f]; f++) {
			size_t len;
			snprintf(path, sizeof path, "%s/%s", fortune_dir, group_files[g][f]);
			unsigned char *data = slurp(path, &len, err, errlen, FORTUNE_PACKAGES);
			if (!data) {
				for (int s = 0; s < ENG_NSPLITS; s++)
					free(st[s].p);
				goto fail;
			}
			int bad = 0;
			size_t p = 0;
			while (p < len && !bad) {
				const unsigned char *nl = memchr(data + p, '\n', len - p);
				size_t q = nl ? (size_t)(nl - data) : len;
				if (q - p == 1 && data[p] == '%')
					bad = emit_record(&rec, st, c->records);
				else
					bad = buf_put(&rec, data + p, q - p) || buf_put(&rec, "\n", 1);
				p = q + 1;
			}
			bad = bad || emit_record(&rec, st, c->records);
			free(data);
			if (bad) {
				for (int s = 0; s < ENG_NSPLITS; s++)
					free(st[s].p);
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
		}
		for (int s = 0; s < ENG_NSPLITS; s++) {
			c->mem[g][s] = st[s].p;
			c->stream[g][s].p = st[s].p;
			c->stream[g][s].n = st[s].n;
		}
	}
	buf_t sh = {0};
	for (size_t f = 0; f < sizeof shifted_files / sizeof *shifted_files; f++) {
		size_t len;
		snprintf(path, sizeof path, "%s/%s", include_dir, shifted_files[f]);
		unsigned char *data = slurp(path, &len, err, errlen, "libc6-dev");
		if (!data || buf_put(&sh, data, len)) {
			if (data)
				snprintf(err, errlen, "%s: out of memory", path);
			free(data), free(sh.p);
			goto fail;
		}
		free(data);
	}
	c->mem[ENG_TEXT_GROUPS][ENG_SPLIT_TEST] = sh.p;
	c->stream[ENG_TEXT_GROUPS][ENG_SPLIT_TEST].p = sh.p;
	c->stream[ENG_TEXT_GROUPS][ENG_SPLIT_TEST].n = sh.n;
	free(rec.p);
	return 0;
fail:
	free(rec.p);
	eng_corpus_done(c);
	return -1;
}

const uint8_t *eng_corpus_win_bytes(const eng_corpus *c, const eng_text_win *w)
{
	return c->stream[w->group][w->split].p + w->start;
}

typedef struct {
	eng_text_win w;
	uint64_t h;
} keyed_win;

static int cmp_win(const void *a, const void *b)
{
	const keyed_win *x = a, *y = b;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	if (x->w.group != y->w.group)
		return x->w.group - y->w.group;
	return (x->w.start > y->w.start) - (x->w.start < y->w.start);
}

/* Windows of one stream appended to *out (grown); full_only keeps only
 * windows of exactly len. */
static int add_windows(const eng_corpus *c, int g, int split, int len, int full_only, keyed_win **out, int *n, int *cap)
{
	const eng_bytes *b = &c->stream[g][split];
	for (size_t s = 0; s + 1 < b->n; s += (size_t)len) {
		int k = b->n - 1 - s < (size_t)len ? (int)(b->n - 1 - s) : len;
		if (full_only && k != len)
			continue;
		if (*n == *cap) {
			int nc = *cap ? *cap * 2 : 1024;
			keyed_win *o = realloc(*out, (size_t)nc * sizeof *o);
			if (!o)
				return -1;
			*out = o, *cap = nc;
		}
		keyed_win *kw = &(*out)[(*n)++];
		kw->w.group = g, kw->w.split = split, kw->w.start = (int64_t)s, kw->w.n = k;
		kw->h = eng_fnv1a64(b->p + s, (size_t)k + 1);
	}
	return 0;
}

int eng_corpus_windows(const eng_corpus *c, int split, int len, int with_shifted, eng_text_win **out, char *err,
		       size_t errlen)
{
	if (len < 1 || split < 0 || split >= ENG_NSPLITS) {
		snprintf(err, errlen, "text windows: length %d or split %d out of range", len, split);
		return -1;
	}
	keyed_win *kw = NULL;
	int n = 0, cap = 0, ng = c->ngroups + (with_shifted && split == ENG_SPLIT_TEST);
	for (int g = 0; g < ng; g++)
		if (add_windows(c, g, split, len, 0, &kw, &n, &cap)) {
			free(kw);
			snprintf(err, errlen, "out of memory for text windows");
			return -1;
		}
	qsort(kw, (size_t)n, sizeof *kw, cmp_win);
	eng_text_win *w = malloc((size_t)(n ? n : 1) * sizeof *w);
	if (!w) {
		free(kw);
		snprintf(err, errlen, "out of memory for text windows");
		return -1;
	}
	for (int i = 0; i < n; i++)
		w[i] = kw[i].w;
	free(kw);
	*out = w;
	return n;
}

int eng_corpus_calib(const eng_corpus *c, const char *set, int n, int len, uint64_t seed, eng_text_win **out,
		     char *err, size_t errlen)
{
	int shrt = !strcmp(set, "short");
	if (!shrt && strcmp(set, "representative")) {
		snprintf(err, errlen, "--calib-set: '%s' is not a calibration set of this family (representative, short)", set);
		return -1;
	}
	if (shrt)
		len = 64;
	if (len < 1) {
		snprintf(err, errlen, "--calib-set %s: window length %d", set, len);
		return -1;
	}
	keyed_win *kw = NULL;
	int np = 0, cap = 0;
	for (int g = 0; g < c->ngroups; g++)
		if (add_windows(c, g, ENG_SPLIT_TRAIN, len, 1, &kw, &np, &cap)) {
			free(kw);
			snprintf(err, errlen, "out of memory for calibration windows");
			return -1;
		}
	int *pool = malloc((size_t)(np ? np : 1) * sizeof *pool);
	eng_text_win *w = malloc((size_t)(n > 0 ? n : 1) * sizeof *w);
	if (!pool || !w || n < 1 || n > np) {
		if (pool && w)
			snprintf(err, errlen, "--calib-set %s:%d: the set has %d train windows of %d bytes", set, n, np, len);
		else
			snprintf(err, errlen, "out of memory for calibration windows");
		free(kw), free(pool), free(w);
		return -1;
	}
	for (int i = 0; i < np; i++)
		pool[i] = i;
	draw(pool, np, n, seed);
	for (int i = 0; i < n; i++)
		w[i] = kw[pool[i]].w;
	free(kw), free(pool);
	*out = w;
	return 0;
}

const char *eng_corpus_group_name(int g)
{
	return g >= 0 && g <= ENG_TEXT_GROUPS ? group_names[g] : "?";
}

int eng_pos_bucket_dec(int pos)
{
	return pos < 32 ? 0 : pos < 128 ? 1 : 2;
}

int eng_pos_bucket_rnn(int pos)
{
	return pos < 64 ? 0 : pos < 256 ? 1 : pos < 1024 ? 2 : 3;
}

const char *eng_pos_bucket_name(int rnn, int bucket)
{
	static const char *const dec[] = {"pos0-31", "pos32-127", "pos128+"};
	static const char *const rn[] = {"pos0-63", "pos64-255", "pos256-1023", "pos1024+"};
	if (rnn)
		return bucket >= 0 && bucket < 4 ? rn[bucket] : "?";
	return bucket >= 0 && bucket < 3 ? dec[bucket] : "?";
}
