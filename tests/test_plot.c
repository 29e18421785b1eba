/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_plot.c - the text scatter plot (ui/plot.c) against grids worked out
 * by hand: axis padding, cell placement, mark precedence, braille dots,
 * degenerate inputs.  Links plot.c alone: no curses, no engine. */
#include <math.h>
#include <string.h>

#include "plot.h"
#include "tap.h"

/* The rows of a plot as text, '|'-separated, for one comparison. */
static void rows(const ui_plot *p, char *buf, size_t len)
{
	buf[0] = 0;
	for (int r = 0; r < p->h; r++) {
		for (int c = 0; c < p->w; c++)
			strncat(buf, p->cells[r * p->w + c].glyph, len - strlen(buf) - 1);
		if (r + 1 < p->h)
			strncat(buf, "|", len - strlen(buf) - 1);
	}
}

static int near(double a, double b)
{
	return fabs(a - b) < 1e-12;
}

int main(void)
{
	ui_plot p;
	char got[1024];

	/* Three points, ASCII 10 x 5.  x in [0, 10] pads 0.5 a side: [-0.5,
	 * 10.5]; column = floor((x + 0.5) / 11 * 10): x=0 -> 0, x=5 -> 5,
	 * x=10 -> 9.  Rows count from the top: row = 4 - floor((y + 0.5) / 11
	 * * 5): y=10 -> 0, y=5 -> 2, y=0 -> 4. */
	ui_plot_pt three[] = {{0, 0, UI_PLOT_NORMAL}, {10, 10, UI_PLOT_FRONTIER}, {5, 5, UI_PLOT_CURRENT}};
	ok(ui_plot_render(&p, three, 3, 10, 5, 1) == 0, "renders 10 x 5 ASCII");
	ok(near(p.xmin, -0.5) && near(p.xmax, 10.5) && near(p.ymin, -0.5) && near(p.ymax, 10.5),
	   "axes padded by 5%% of the range a side: x [%g, %g], y [%g, %g]", p.xmin, p.xmax, p.ymin, p.ymax);
	rows(&p, got, sizeof got);
	ok(strcmp(got, "         *|          |     @    |          |o         ") == 0, "cells as worked out: '%s'", got);
	ok(p.cells[9].mark == UI_PLOT_FRONTIER && p.cells[2 * 10 + 5].mark == UI_PLOT_CURRENT &&
	       p.cells[4 * 10].mark == UI_PLOT_NORMAL && p.cells[1].mark == UI_PLOT_EMPTY,
	   "each cell carries its mark class, empty ones UI_PLOT_EMPTY");
	ui_plot_free(&p);
	ok(p.cells == NULL && p.w == 0, "ui_plot_free empties the plot");

	/* Precedence: a normal and a frontier point in one cell show the
	 * frontier; pinned beats current beats frontier. */
	ui_plot_pt same[] = {{1, 1, UI_PLOT_NORMAL}, {1, 1, UI_PLOT_FRONTIER}, {2, 2, UI_PLOT_CURRENT},
			     {2, 2, UI_PLOT_PINNED}, {2, 2, UI_PLOT_NORMAL}};
	ok(ui_plot_render(&p, same, 5, 4, 2, 1) == 0, "renders 4 x 2");
	rows(&p, got, sizeof got);
	/* x in [0.95, 2.05]: x=1 -> col floor(0.05/1.1*4)=0, x=2 -> 3; y=2 -> row 0, y=1 -> row 1 */
	ok(strcmp(got, "   P|*   ") == 0, "highest class wins the cell: '%s'", got);
	ok(p.cells[3].mark == UI_PLOT_PINNED && p.cells[4].mark == UI_PLOT_FRONTIER, "and sets its mark");
	ui_plot_free(&p);

	/* One point: +-5% of |v| around it (x), +-1 around 0 (y); it lands in
	 * the middle cell. */
	ui_plot_pt one[] = {{200, 0, UI_PLOT_NORMAL}};
	ok(ui_plot_render(&p, one, 1, 5, 3, 1) == 0, "one point renders");
	ok(near(p.xmin, 190) && near(p.xmax, 210) && near(p.ymin, -1) && near(p.ymax, 1),
	   "one point: x [%g, %g], y [%g, %g]", p.xmin, p.xmax, p.ymin, p.ymax);
	rows(&p, got, sizeof got);
	ok(strcmp(got, "     |  o  |     ") == 0, "... in the middle: '%s'", got);
	ui_plot_free(&p);

	/* Braille: 2 x 4 dots per cell.  Points at the corners of a 1 x 1 plot
	 * area: x in {0, 1}, y in {0, 1}, plus (0.6, 0.6).  With padding the
	 * axes are [-0.05, 1.05]; sub-column = floor((x + 0.05) / 1.1 * 2):
	 * 0 -> 0, 1 -> 1, 0.6 -> 1; sub-row from the top = 3 - floor((y +
	 * 0.05) / 1.1 * 4): y=1 -> 0, y=0 -> 3, y=0.6 -> 3 - 2 = 1.  Dots
	 * (sub-column, sub-row): (0,0)=0x01 (1,0)=0x08 (0,3)=0x40 (1,3)=0x80
	 * (1,1)=0x10 -> U+28D9. */
	ui_plot_pt corners[] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {1, 1, 0}, {0.6, 0.6, 0}};
	ok(ui_plot_render(&p, corners, 5, 1, 1, 0) == 0, "braille 1 x 1 renders");
	ok(strcmp(p.cells[0].glyph, "\xe2\xa3\x99") == 0, "five dots combine into U+28D9 (got %02x %02x %02x)",
	   (unsigned char)p.cells[0].glyph[0], (unsigned char)p.cells[0].glyph[1], (unsigned char)p.cells[0].glyph[2]);
	ok(p.cells[0].mark == UI_PLOT_NORMAL, "... a normal cell");
	ui_plot_free(&p);
	ui_plot_pt mixed[] = {{0, 0, UI_PLOT_NORMAL}, {1, 1, UI_PLOT_FRONTIER}};
	ok(ui_plot_render(&p, mixed, 2, 2, 1, 0) == 0, "braille 2 x 1 renders");
	/* (0,0): col 0 of 4, row 3 -> cell 0, dot 0x40 (U+2840); (1,1): cell 1, frontier diamond */
	ok(strcmp(p.cells[0].glyph, "\xe2\xa1\x80") == 0 && strcmp(p.cells[1].glyph, "\xe2\x97\x86") == 0,
	   "a lone dot is U+2840, a frontier point the diamond U+25C6");
	ui_plot_free(&p);

	/* Degenerate input. */
	ui_plot_pt bad[] = {{NAN, 1, 0}, {1, INFINITY, 1}};
	ok(ui_plot_render(&p, bad, 2, 3, 2, 1) == 0, "non-finite points are skipped");
	rows(&p, got, sizeof got);
	ok(strcmp(got, "   |   ") == 0 && near(p.xmin, 0) && near(p.xmax, 1) && near(p.ymin, 0) && near(p.ymax, 1),
	   "nothing finite: empty grid, axes [0, 1]");
	ui_plot_free(&p);
	ok(ui_plot_render(&p, NULL, 0, 2, 2, 0) == 0 && p.cells[0].mark == UI_PLOT_EMPTY, "no points at all");
	ui_plot_free(&p);
	ok(ui_plot_render(&p, one, 1, 0, 3, 1) == -1 && p.cells == NULL, "width 0 is refused");
	ok(ui_plot_render(&p, one, 1, 3, -1, 1) == -1, "negative height is refused");
	/* equal x values, distinct y: x padded by 5% of |x| */
	ui_plot_pt col[] = {{-4, 1, 0}, {-4, 3, 1}};
	ok(ui_plot_render(&p, col, 2, 3, 3, 1) == 0 && near(p.xmin, -4.2) && near(p.xmax, -3.8), "equal x values: [-4.2, -3.8]");
	rows(&p, got, sizeof got);
	ok(strcmp(got, " * |   | o ") == 0, "... one column: '%s'", got);
	ui_plot_free(&p);
	return tap_done();
}
