/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_textdata.c - the text data of the sequence families: FNV-1a 64 on
 * its published vectors; the word rules on hand-made lists (Latin-1 and
 * UTF-8, CRLF, ineligible lines, duplicates inside a list and across
 * lists); and, on the installed Debian packages, the same words, splits,
 * streams and windows as Python (tests/golden/seq_textdata.txt from
 * tools/gen_seq_fixtures.py).  Packages of other versions than the
 * fixture's skip the comparison (file sizes differ) instead of failing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eng_seq.h"
#include "tap.h"

static const char *srcdir(void)
{
	const char *s = getenv("top_srcdir");
	return s && *s ? s : ".";
}

static void put(const char *dir, const char *name, const char *bytes, size_t n)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	fwrite(bytes, 1, n, f);
	fclose(f);
}
#define PUT(dir, name, lit) put(dir, name, lit, sizeof lit - 1)

static int find_word(const eng_words *w, const char *s, int *lang)
{
	for (int i = 0; i < w->n; i++)
		if (!strcmp(w->bytes + w->off[i], s)) {
			*lang = w->lang_of[i];
			return i;
		}
	return -1;
}

static void test_fnv(void)
{
	ok(eng_fnv1a64("", 0) == UINT64_C(0xcbf29ce484222325) && eng_fnv1a64("a", 1) == UINT64_C(0xaf63dc4c8601ec8c) &&
		   eng_fnv1a64("foobar", 6) == UINT64_C(0x85944171f73967e8),
	   "FNV-1a 64 of \"\", \"a\", \"foobar\" are the published values");
	ok(eng_split_of(79) == ENG_SPLIT_TRAIN && eng_split_of(180) == ENG_SPLIT_VALID && eng_split_of(299) == ENG_SPLIT_TEST,
	   "h %% 100: 0-79 train, 80-89 valid, 90-99 test");
}

static void test_handmade(void)
{
	char dir[] = "/tmp/precis-dict-XXXXXX", err[512] = "";
	if (!mkdtemp(dir)) {
		ok(0, "temporary directory");
		return;
	}
	PUT(dir, "american-english", "apple\ndog's\nABC\nZebra\nhotel\napple\ncaf\xc3\xa9\r\n\na1\n");
	PUT(dir, "ngerman", "hotel\nStra\xc3\x9f" "e\n");
	PUT(dir, "french", "\xe9t\xe9\n");                   /* Latin-1 */
	PUT(dir, "spanish", "caf\xc3\xa9\n");                /* also English, after the CR is dropped */
	PUT(dir, "italian", "perch\xc3\xa9\n");
	PUT(dir, "portuguese", "cora\xc3\xa7\xc3\xa3o");     /* no final newline */
	PUT(dir, "dutch", "fiets\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"); /* 31, 30 bytes */
	PUT(dir, "swedish", "sm\xf6rg\xe5s\n");              /* Latin-1 */
	PUT(dir, "bokmaal", "hytte\n");
	PUT(dir, "danish", "hygge\n");
	PUT(dir, "catalan", "col\xc2\xb7laboraci\xc3\xb3\n");
	PUT(dir, "polish", "\xc5\xbc\xc3\xb3\xc5\x82w\n\xed\xa0\x80\n\xc0\xaf\n"); /* a surrogate and an overlong: Latin-1 */
	eng_words w;
	int r = eng_words_load(&w, dir, 1000, err, sizeof err);
	ok(r == 0, "hand-made word lists load (%s)", err);
	if (r == 0) {
		static const int elig[12] = {5, 2, 1, 1, 1, 1, 2, 1, 1, 1, 1, 3};
		int same = 1, lang;
		for (int l = 0; l < 12; l++)
			same &= w.eligible[l] == elig[l];
		ok(same, "eligible lines: possessives, inner capitals, digits, empty and 31-byte lines are not");
		ok(w.n == 15, "15 words kept (hotel and café are in two lists, apple once): %d", w.n);
		ok(find_word(&w, "hotel", &lang) < 0 && find_word(&w, "caf\xc3\xa9", &lang) < 0, "words of two lists are dropped");
		ok(find_word(&w, "apple", &lang) >= 0 && lang == 0 && find_word(&w, "Zebra", &lang) >= 0 && lang == 0,
		   "apple and Zebra are English");
		ok(find_word(&w, "\xc3\xa9t\xc3\xa9", &lang) >= 0 && lang == 2, "Latin-1 \"été\" reads as UTF-8 été, French");
		ok(find_word(&w, "sm\xc3\xb6rg\xc3\xa5s", &lang) >= 0 && lang == 7, "Latin-1 smörgås, Swedish");
		ok(find_word(&w, "cora\xc3\xa7\xc3\xa3o", &lang) >= 0 && lang == 5, "a last line without newline counts");
		ok(find_word(&w, "\xc3\xad\xc2\xa0\xc2\x80", &lang) >= 0 && find_word(&w, "\xc3\x80\xc2\xaf", &lang) >= 0 && lang == 11,
		   "a UTF-8 surrogate and an overlong form are not UTF-8: read as Latin-1 (as Python does)");
		int i = find_word(&w, "col\xc2\xb7laboraci\xc3\xb3", &lang);
		ok(i >= 0 && w.nchars[i] == 13 && w.len[i] == 15, "col·laboració: 15 bytes, 13 characters");
		int sorted = 1, splits = 1;
		for (int k = 0; k < w.n; k++) {
			sorted &= k == 0 || w.hash[k - 1] <= w.hash[k];
			splits &= w.hash[k] == eng_fnv1a64(w.bytes + w.off[k], w.len[k]) && w.split[k] == eng_split_of(w.hash[k]);
		}
		ok(sorted && splits, "words in hash order, each in the split of its hash");
		ok(eng_len_bucket(4) == 0 && eng_len_bucket(5) == 1 && eng_len_bucket(8) == 1 && eng_len_bucket(9) == 2 &&
			   !strcmp(eng_len_bucket_name(2), "len9+"),
		   "length buckets 1-4, 5-8, 9+");
		eng_words_done(&w);
	}
	char p[600];
	snprintf(p, sizeof p, "%s/polish", dir);
	remove(p);
	r = eng_words_load(&w, dir, 1000, err, sizeof err);
	ok(r == -1 && strstr(err, "polish") && strstr(err, "wpolish"), "a missing list names the file and its package (%s)", err);
	static const char *const files[] = {"american-english", "ngerman", "french", "spanish", "italian", "portuguese",
					    "dutch", "swedish", "bokmaal", "danish", "catalan"};
	for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[k]);
		remove(p);
	}
	rmdir(dir);
}

static void test_fortune_rules(void)
{
	char dir[] = "/tmp/precis-fortunes-XXXXXX", inc[] = "/tmp/precis-include-XXXXXX", err[512] = "";
	if (!mkdtemp(dir) || !mkdtemp(inc)) {
		ok(0, "temporary directories");
		return;
	}
	/* every category file exists; only `computers` and `work` have content */
	static const char *const all[] = {"computers", "linux", "linuxcookie", "perl", "debian", "debian-hints", "bofh-excuses",
					  "translate-me", "cookie", "fortunes", "miscellaneous", "platitudes", "disclaimer",
					  "definitions", "humorists", "zippy", "riddles", "knghtbrd", "kids", "pets", "food",
					  "science", "medicine", "drugs", "goedel", "paradoxum", "magic", "education", "people",
					  "men-women", "love", "ethnic", "sports", "politics", "law", "news", "anarchism", "work",
					  "literature", "songs-poems", "art", "ascii-art", "pratchett", "startrek", "wisdom", "tao"};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		put(dir, all[i], "", 0);
	PUT(dir, "computers", "one\ntwo\n%\n \t\n%\n%x\n%\nlast");
	PUT(dir, "work", "%\nw\n");
	PUT(inc, "stdio.h", "S");
	PUT(inc, "string.h", "T\n");
	PUT(inc, "ctype.h", "");
	eng_corpus c;
	int r = eng_corpus_load(&c, dir, inc, err, sizeof err);
	ok(r == 0, "a hand-made fortune tree loads (%s)", err);
	if (r == 0) {
		/* records: "one\ntwo\n", "%x\n", "last\n" (blank one skipped); "w\n" */
		int recs = c.records[0] + c.records[1] + c.records[2];
		size_t comp = 0, work = 0;
		for (int s = 0; s < ENG_NSPLITS; s++)
			comp += c.stream[0][s].n, work += c.stream[7][s].n;
		ok(recs == 4 && comp == (8 + 2) + (3 + 2) + (5 + 2) && work == 2 + 2,
		   "records split on lines of exactly %%, blank ones dropped, each followed by %%\\n (%d records)", recs);
		int s = eng_split_of(eng_fnv1a64("one\ntwo\n", 8));
		ok(c.stream[0][s].n >= 10 && !memcmp(c.stream[0][s].p, "one\ntwo\n%\n", 10), "a record lands in the split of its hash");
		ok(c.stream[ENG_TEXT_GROUPS][ENG_SPLIT_TEST].n == 3 && !memcmp(c.stream[ENG_TEXT_GROUPS][ENG_SPLIT_TEST].p, "ST\n", 3),
		   "the shifted stream is the headers concatenated");
		ok(!strcmp(c.group[ENG_TEXT_GROUPS], "shifted") && !strcmp(eng_corpus_file_group("tao"), "wisdom") &&
			   eng_corpus_file_group("nosuch") == NULL,
		   "group names");
		eng_corpus_done(&c);
	}
	char p[600];
	snprintf(p, sizeof p, "%s/tao", dir);
	remove(p);
	r = eng_corpus_load(&c, dir, inc, err, sizeof err);
	ok(r == -1 && strstr(err, "/tao") && strstr(err, "fortunes"), "a missing category file is named (%s)", err);
	for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, all[i]);
		remove(p);
	}
	static const char *const h[] = {"stdio.h", "string.h", "ctype.h"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", inc, h[i]);
		remove(p);
	}
	rmdir(dir), rmdir(inc);
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The installed Debian data against Python's view of it. */
static void test_installed(void)
{
	char path[512], line[1024], err[512] = "";
	snprintf(path, sizeof path, "%s/tests/golden/seq_textdata.txt", srcdir());
	FILE *f = fopen(path, "r");
	if (!ok(f != NULL, "%s opens", path))
		return;
	eng_words w;
	eng_corpus c;
	int have_w = eng_words_load(&w, NULL, 0, err, sizeof err) == 0;
	if (!have_w)
		diag("words: %s", err);
	int have_c = eng_corpus_load(&c, NULL, NULL, err, sizeof err) == 0;
	if (!have_c)
		diag("fortunes: %s", err);
	/* a fixture made from other package versions cannot be compared */
	int same_w = have_w, same_c = have_c, same_h = have_c, nlines = 0;
	static char lines[4096][256];
	while (nlines < 4096 && fgets(line, sizeof line, f)) {
		char a[128], b[128];
		long n;
		snprintf(lines[nlines++], sizeof lines[0], "%.255s", line);
		if (sscanf(line, "list %127s %ld", a, &n) == 2 && have_w)
			for (int l = 0; l < w.nlang; l++)
				if (!strcmp(w.lang[l], a)) {
					snprintf(path, sizeof path, "/usr/share/dict/%s", w.file[l]);
					same_w &= file_size(path) == n;
				}
		if (sscanf(line, "file %127s %127s %ld", a, b, &n) == 3) {
			snprintf(path, sizeof path, "/usr/share/games/fortunes/%s", b);
			same_c &= file_size(path) == n;
		}
		if (sscanf(line, "hfile %127s %ld", a, &n) == 2) {
			snprintf(path, sizeof path, "/usr/include/%s", a);
			same_h &= file_size(path) == n;
		}
	}
	fclose(f);
	int n_el = 0, el_ok = 1, n_cnt = 0, cnt_ok = 1, n_word = 0, word_ok = 1, total = -1;
	int n_rec = 0, rec_ok = 1, n_st = 0, st_ok = 1, n_win = 0, win_ok = 1, nwins_ok = 1;
	eng_text_win *wins[2] = {NULL, NULL};
	int nw[2] = {0, 0};
	if (same_c) {
		nw[0] = eng_corpus_windows(&c, ENG_SPLIT_TEST, 256, same_h, &wins[0], err, sizeof err);
		nw[1] = eng_corpus_windows(&c, ENG_SPLIT_TEST, 2048, same_h, &wins[1], err, sizeof err);
	}
	for (int i = 0; i < nlines; i++) {
		const char *ln = lines[i];
		char a[128], b[128], hex[128];
		long n, k, start, len;
		unsigned long long h;
		if (same_w && sscanf(ln, "eligible %127s %ld", a, &n) == 2) {
			for (int l = 0; l < w.nlang; l++)
				if (!strcmp(w.lang[l], a))
					el_ok &= w.eligible[l] == n, n_el++;
		} else if (same_w && sscanf(ln, "count %127s %127s %ld", a, b, &n) == 3) {
			int s = !strcmp(a, "train") ? 0 : !strcmp(a, "valid") ? 1 : 2;
			for (int l = 0; l < w.nlang; l++)
				if (!strcmp(w.lang[l], b))
					cnt_ok &= w.count[s][l] == n, n_cnt++;
		} else if (same_w && sscanf(ln, "words %ld", &n) == 1) {
			total = (int)n;
		} else if (same_w && sscanf(ln, "word %ld %127s %127s %127s %llu", &k, hex, a, b, &h) == 5) {
			char want[64] = "";
			for (int j = 0; hex[2 * j] && hex[2 * j + 1] && j < 63; j++) {
				unsigned v;
				sscanf(hex + 2 * j, "%2x", &v);
				want[j] = (char)v, want[j + 1] = 0;
			}
			int good = k < w.n && !strcmp(w.bytes + w.off[k], want) && !strcmp(w.lang[w.lang_of[k]], a) && w.hash[k] == h &&
				   !strcmp(b, w.split[k] == 0 ? "train" : w.split[k] == 1 ? "valid" : "test");
			if (!good)
				diag("word %ld: want %s (%s, %s)", k, want, a, b);
			word_ok &= good, n_word++;
		} else if (same_c && sscanf(ln, "records %127s %ld", a, &n) == 2) {
			int s = !strcmp(a, "train") ? 0 : !strcmp(a, "valid") ? 1 : 2;
			rec_ok &= c.records[s] == n, n_rec++;
		} else if (same_c && sscanf(ln, "stream %127s %127s %ld %llu", a, b, &n, &h) == 4) {
			int s = !strcmp(b, "train") ? 0 : !strcmp(b, "valid") ? 1 : 2;
			for (int g = 0; g <= c.ngroups; g++)
				if (!strcmp(c.group[g], a) && (g < c.ngroups || same_h)) {
					int good = c.stream[g][s].n == (size_t)n && eng_fnv1a64(c.stream[g][s].p, c.stream[g][s].n) == h;
					if (!good)
						diag("stream %s %s: %zu bytes, want %ld", a, b, c.stream[g][s].n, n);
					st_ok &= good, n_st++;
				}
		} else if (same_c && same_h && sscanf(ln, "windows test %ld %ld", &k, &n) == 2) {
			nwins_ok &= nw[k == 2048] == n;
		} else if (same_c && same_h && sscanf(ln, "win %ld %ld %127s %ld %ld", &k, &n, a, &start, &len) == 5) {
			const eng_text_win *x = n < nw[k == 2048] ? &wins[k == 2048][n] : NULL;
			int good = x && !strcmp(c.group[x->group], a) && x->start == start && x->n == len;
			win_ok &= good, n_win++;
		}
	}
	if (same_w) {
		ok(n_el == 12 && el_ok, "eligible lines of the 12 installed lists = Python's");
		ok(n_cnt == 36 && cnt_ok && total == w.n, "kept words per split and language = Python's (%d words)", w.n);
		ok(n_word >= 8 && word_ok, "%d words at fixed canonical indices: same bytes, language, split, hash as Python", n_word);
		int rare[12], nr = eng_words_rare(&w, rare);
		diag("rare languages (below 80%% of the median training count): %d", nr);
		int idx[512], idx2[512], sh = 1, en = 1;
		ok(eng_words_calib(&w, "short", 300, 7, idx, err, sizeof err) == 0, "300 short calibration words (%s)", err);
		for (int i = 0; i < 300; i++)
			sh &= w.nchars[idx[i]] <= 4 && w.split[idx[i]] == ENG_SPLIT_TRAIN;
		eng_words_calib(&w, "mismatched", 300, 7, idx2, err, sizeof err);
		for (int i = 0; i < 300; i++)
			en &= w.lang_of[idx2[i]] == 0 && w.split[idx2[i]] == ENG_SPLIT_TRAIN;
		ok(sh && en, "short: 1-4 character train words; mismatched: English train words only");
		eng_words_calib(&w, "representative", 512, 7, idx, err, sizeof err);
		eng_words_calib(&w, "representative", 512, 7, idx2, err, sizeof err);
		int same = !memcmp(idx, idx2, sizeof idx);
		eng_words_calib(&w, "representative", 512, 8, idx2, err, sizeof err);
		ok(same && memcmp(idx, idx2, sizeof idx) != 0, "calibration draws are seeded: same seed same words, other seed others");
		ok(eng_words_calib(&w, "nosuch", 5, 1, idx, err, sizeof err) == -1 && strstr(err, "'nosuch'"), "unknown set (%s)", err);
	} else
		skip(have_w ? "installed word lists differ from the fixture's" : "word lists not installed",
		     "words, counts and splits equal Python's");
	if (same_c) {
		ok(n_rec == 3 && rec_ok, "fortune records per split = Python's (%d, %d, %d)", c.records[0], c.records[1], c.records[2]);
		ok(n_st >= 30 && st_ok, "%d group streams: same bytes (length and FNV-1a 64) as Python's", n_st);
		if (same_h)
			ok(n_win >= 8 && win_ok && nwins_ok, "test windows of 256 and 2048: same count and order as Python (%d, %d)", nw[0], nw[1]);
		else
			skip("installed C headers differ from the fixture's", "windows equal Python's");
		eng_text_win *cw = NULL, *cw2 = NULL;
		int r = eng_corpus_calib(&c, "short", 100, 256, 3, &cw, err, sizeof err);
		int r2 = eng_corpus_calib(&c, "representative", 100, 256, 3, &cw2, err, sizeof err);
		int good = r == 0 && r2 == 0;
		for (int i = 0; good && i < 100; i++)
			good = cw[i].n == 64 && cw2[i].n == 256 && cw[i].split == ENG_SPLIT_TRAIN &&
			       cw2[i].start + 257 <= (int64_t)c.stream[cw2[i].group][ENG_SPLIT_TRAIN].n;
		ok(good, "calibration windows: short ones of 64 bytes, representative ones of 256, inside the train streams");
		free(cw), free(cw2);
	} else
		skip(have_c ? "installed fortunes differ from the fixture's" : "fortunes not installed",
		     "fortune streams and windows equal Python's");
	ok(eng_pos_bucket_dec(31) == 0 && eng_pos_bucket_dec(32) == 1 && eng_pos_bucket_dec(128) == 2 &&
		   eng_pos_bucket_rnn(63) == 0 && eng_pos_bucket_rnn(255) == 1 && eng_pos_bucket_rnn(1023) == 2 &&
		   eng_pos_bucket_rnn(1024) == 3 && !strcmp(eng_pos_bucket_name(1, 3), "pos1024+"),
	   "position buckets");
	free(wins[0]), free(wins[1]);
	if (have_w)
		eng_words_done(&w);
	if (have_c)
		eng_corpus_done(&c);
}

int main(void)
{
	test_fnv();
	test_handmade();
	test_fortune_rules();
	test_installed();
	return tap_done();
}
