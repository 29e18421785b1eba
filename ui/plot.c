/* SPDX-License-Identifier: GPL-3.0-or-later */
/* plot.c - text scatter plots (see plot.h).
 *
 * Each cell is one character; in Unicode mode a cell holds a 2 x 4 braille
 * dot matrix, so normal points have four times the vertical and twice the
 * horizontal resolution.  Marked points (frontier, current, pinned) take
 * the whole cell with a distinct glyph, since they must read without
 * colour.  A point's sub-cell position is floor((v - min) / (max - min) *
 * steps), clamped to the last step, so the maximum lands in the last cell
 * and the axis min/max bound every point. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

/* Braille dot bit for sub-column dx (0, 1) and sub-row dy (0..3), as
 * Unicode numbers the dots: 1 2 3 7 down the left, 4 5 6 8 down the right. */
static const unsigned char braille_bit[2][4] = {{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}};

static void axis(const ui_plot_pt *p, int n, int use_y, double *lo, double *hi)
{
	double a = INFINITY, b = -INFINITY;
	for (int i = 0; i < n; i++) {
		double x = p[i].x, y = p[i].y;
		if (!isfinite(x) || !isfinite(y))
			continue;
		double v = use_y ? y : x;
		a = v < a ? v : a;
		b = v > b ? v : b;
	}
	if (a > b) { /* nothing finite */
		*lo = 0, *hi = 1;
		return;
	}
	double pad = b > a ? (b - a) * 0.05 : a != 0 ? fabs(a) * 0.05 : 1;
	*lo = a - pad, *hi = b + pad;
}

static int step(double v, double lo, double hi, int steps)
{
	double f = hi > lo ? (v - lo) / (hi - lo) : 0.5;
	int s = (int)floor(f * steps);
	return s < 0 ? 0 : s >= steps ? steps - 1 : s;
}

static void put_utf8(char *dst, unsigned cp)
{
	if (cp < 0x80) {
		dst[0] = (char)cp, dst[1] = 0;
	} else if (cp < 0x800) {
		dst[0] = (char)(0xC0 | cp >> 6), dst[1] = (char)(0x80 | (cp & 0x3F)), dst[2] = 0;
	} else {
		dst[0] = (char)(0xE0 | cp >> 12), dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		dst[2] = (char)(0x80 | (cp & 0x3F)), dst[3] = 0;
	}
}

int ui_plot_render(ui_plot *out, const ui_plot_pt *p, int n, int w, int h, int ascii)
{
	memset(out, 0, sizeof *out);
	if (w < 1 || h < 1)
		return -1;
	ui_plot_cell *c = calloc((size_t)w * h, sizeof *c);
	unsigned char *dots = calloc((size_t)w * h, 1);
	if (!c || !dots) {
		free(c), free(dots);
		return -1;
	}
	axis(p, n, 0, &out->xmin, &out->xmax);
	axis(p, n, 1, &out->ymin, &out->ymax);
	int sx = ascii ? 1 : 2, sy = ascii ? 1 : 4;
	for (int i = 0; i < w * h; i++)
		c[i].mark = UI_PLOT_EMPTY;
	for (int i = 0; i < n; i++) {
		if (!isfinite(p[i].x) || !isfinite(p[i].y))
			continue;
		int col = step(p[i].x, out->xmin, out->xmax, w * sx);
		int row = h * sy - 1 - step(p[i].y, out->ymin, out->ymax, h * sy); /* row 0 at the top */
		size_t k = (size_t)(row / sy) * w + col / sx;
		int mark = p[i].mark < UI_PLOT_NORMAL ? UI_PLOT_NORMAL : p[i].mark > UI_PLOT_PINNED ? UI_PLOT_PINNED : p[i].mark;
		if (mark > c[k].mark)
			c[k].mark = mark;
		if (mark == UI_PLOT_NORMAL && !ascii)
			dots[k] |= braille_bit[col % 2][row % 4];
	}
	for (int i = 0; i < w * h; i++) {
		switch (c[i].mark) {
		case UI_PLOT_EMPTY:
			strcpy(c[i].glyph, " ");
			break;
		case UI_PLOT_NORMAL:
			if (ascii)
				strcpy(c[i].glyph, "o");
			else
				put_utf8(c[i].glyph, 0x2800u + dots[i]);
			break;
		case UI_PLOT_FRONTIER:
			if (ascii)
				strcpy(c[i].glyph, "*");
			else
				put_utf8(c[i].glyph, 0x25C6u);
			break;
		case UI_PLOT_CURRENT:
			strcpy(c[i].glyph, "@");
			break;
		default:
			strcpy(c[i].glyph, "P");
			break;
		}
	}
	free(dots);
	out->w = w, out->h = h, out->cells = c;
	return 0;
}

void ui_plot_free(ui_plot *pl)
{
	free(pl->cells);
	pl->cells = NULL;
	pl->w = pl->h = 0;
}
