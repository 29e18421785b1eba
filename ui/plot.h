/* SPDX-License-Identifier: GPL-3.0-or-later */
/* plot.h - a text scatter plot: points in, a grid of character cells out.
 * Pure (no curses, no I/O), so `precis frontier` prints it and the
 * explorer draws it with colours from each cell's mark class. */
#ifndef PRECIS_PLOT_H
#define PRECIS_PLOT_H

/* Mark classes, in increasing precedence: a cell shows the highest class
 * plotted in it. */
enum { UI_PLOT_EMPTY = -1, UI_PLOT_NORMAL = 0, UI_PLOT_FRONTIER = 1, UI_PLOT_CURRENT = 2, UI_PLOT_PINNED = 3 };

typedef struct {
	double x, y;
	int mark; /* UI_PLOT_NORMAL .. UI_PLOT_PINNED */
} ui_plot_pt;

typedef struct {
	char glyph[5]; /* UTF-8, one terminal column, NUL-terminated; " " when empty */
	int mark;      /* highest mark class in the cell, UI_PLOT_EMPTY when none */
} ui_plot_cell;

typedef struct {
	int w, h;             /* cells */
	ui_plot_cell *cells;  /* h rows of w, row 0 at the top (largest y) */
	double xmin, xmax;    /* the axes chosen: data range padded by 5% a side */
	double ymin, ymax;
} ui_plot;

/* Renders n points (NaN or infinite coordinates are skipped) into a w x h
 * grid.  Glyphs: ASCII (ascii != 0): normal 'o', frontier '*', current
 * '@', pinned 'P'.  Unicode: normal points as braille dots, 2 x 4 per cell
 * (so nearby points stay apart), frontier U+25C6 (a black diamond),
 * current '@', pinned 'P'.  So frontier points are told apart without
 * colour.  Axes: the finite data range padded by 5% of it on each side; a
 * single value v gets +-5% of |v| (+-1 when v is 0); no finite point gives
 * [0, 1].  Returns 0 with *out filled (free with ui_plot_free), or -1 when
 * w or h < 1 or out of memory (*out then holds no cells). */
int ui_plot_render(ui_plot *out, const ui_plot_pt *p, int n, int w, int h, int ascii);
void ui_plot_free(ui_plot *pl); /* frees the cells; accepts an empty plot */

#endif
