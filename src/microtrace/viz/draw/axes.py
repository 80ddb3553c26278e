"""Axes for the gradient figures: log and linear scales with ticks, drawn on a `canvas`.

A scale maps a value to a pixel along one direction; `draw_y_axis` / `draw_x_axis` put its tick marks,
grid lines and labels on a canvas. Log scales span whole decades (ticks at the powers of ten) and use
`colormap.log_position`, so a figure and its colour bar agree on where a value lies.
"""

import math
from dataclasses import dataclass

from microtrace.util import numfmt
from microtrace.viz.draw import colormap, fonts
from microtrace.viz.draw.ticks import nice_ticks

INK = colormap.INK
MUTED_INK = colormap.MUTED_INK
GRID = (232, 232, 232)
FRAME = (150, 150, 150)

# Tableau 10 (Maureen Stone, Tableau Software, 2016): distinct categorical colours that stay apart for
# the common forms of colour blindness. One per kind of matrix; layers differ by dash pattern.
PALETTE = tuple(
    colormap.rgb_from_hex(h) for h in "4e79a7 f28e2b e15759 76b7b2 59a14f edc948 b07aa1 ff9da7 9c755f bab0ac".split()
)


def finite(v):
    """Whether `v` is a number that can be plotted: an int or float, neither nan nor inf (the gradient
    figures' statistics may be None or missing where there is nothing to show)."""
    return isinstance(v, (int, float)) and math.isfinite(v)


def decade_span(values, include=(), default=(-3, 0), min_decades=2):
    """(lo, hi) exponents of whole decades covering the positive finite `values` and `include`.

    Zeros, nan and inf are left out (figures mark them separately). At least `min_decades` wide."""
    mags = [abs(v) for v in list(values) + list(include) if finite(v) and v != 0]
    if not mags:
        lo, hi = default
    else:
        lo = math.floor(math.log10(min(mags)) + 1e-12)
        hi = math.ceil(math.log10(max(mags)) - 1e-12)
    while hi - lo < min_decades:
        hi += 1
        if hi - lo < min_decades:
            lo -= 1
    return lo, hi


def power_label(exponent):
    """10**exponent as a tick label: plain from 0.01 to 100, else '1e-5' / '1e6'."""
    if -2 <= exponent <= 2:
        return f"{10.0**exponent:g}"
    return f"1e{exponent}"


@dataclass(frozen=True)
class LogScale:
    """Decades 10**lo .. 10**hi mapped to pixels a (at 10**lo) .. b (at 10**hi); a > b for a y axis."""

    lo: int
    hi: int
    a: float
    b: float
    most: int = 8  # labelled decades at most (every other one, or fewer, beyond)

    def pos(self, value):
        """Pixel of |value|, clipped to the ends (0 maps to the low end)."""
        t = colormap.log_position(value, 10.0**self.lo, 10.0**self.hi)
        return self.a + (self.b - self.a) * t

    def ticks(self):
        exps = list(range(self.lo, self.hi + 1))
        step = max(1, math.ceil(len(exps) / self.most))
        return [(10.0**e, power_label(e) if (e - self.lo) % step == 0 else "") for e in exps]


@dataclass(frozen=True)
class LinearScale:
    vmin: float
    vmax: float
    a: float
    b: float
    integer: bool = False  # ticks at whole numbers only (steps)
    percent: bool = False  # labels as percentages (fractions 0..1)

    def pos(self, value):
        span = self.vmax - self.vmin
        t = 0.5 if span == 0 else (value - self.vmin) / span
        return self.a + (self.b - self.a) * min(1.0, max(0.0, t))

    def ticks(self):
        values = nice_ticks(self.vmin, self.vmax)
        if self.integer:
            values = sorted({int(round(v)) for v in values if abs(v - round(v)) < 1e-9})
        if self.percent:
            return [(v, f"{v * 100:.0f}%") for v in values]
        return [(v, numfmt.short(v)) for v in values]


def draw_y_axis(canvas, scale, box, size, label=None, grid=True):
    """Ticks and labels left of the plot `box` (x0, y0, x1, y1), light grid lines across it."""
    x0, y0, x1, y1 = box
    tick = max(3, size // 3)
    for value, text in scale.ticks():
        y = round(scale.pos(value))
        if grid:
            canvas.line([(x0 + 1, y), (x1 - 1, y)], GRID)
        canvas.line([(x0 - tick, y), (x0, y)], INK)
        if text:
            canvas.text((x0 - tick - 3, y), text, size, INK, anchor="rm")
    if label:
        width = max((fonts.text_width(t, size) for _, t in scale.ticks()), default=0)
        canvas.vtext((x0 - tick - 8 - width - fonts.line_height(size) / 2, (y0 + y1) / 2), label, size, INK)


def y_axis_width(scale, size, label=True):
    """Pixels `draw_y_axis` uses left of the plot box."""
    width = max((fonts.text_width(t, size) for _, t in scale.ticks()), default=0)
    return max(3, size // 3) + 3 + width + (8 + fonts.line_height(size) if label else 0) + 2


def draw_x_axis(canvas, scale, box, size, label=None, grid=True):
    """Ticks and labels under the plot `box`; returns the y just below what it drew."""
    x0, y0, x1, y1 = box
    tick = max(3, size // 3)
    for value, text in scale.ticks():
        x = round(scale.pos(value))
        if grid:
            canvas.line([(x, y0 + 1), (x, y1 - 1)], GRID)
        canvas.line([(x, y1), (x, y1 + tick)], INK)
        if text:
            canvas.text((x, y1 + tick + 2), text, size, INK, anchor="ma")
    bottom = y1 + tick + 2 + fonts.line_height(size)
    if label:
        canvas.text(((x0 + x1) / 2, bottom + 4), label, size, INK, anchor="ma")
        bottom += 4 + fonts.line_height(size)
    return bottom


def x_axis_height(size, label=True):
    return max(3, size // 3) + 2 + fonts.line_height(size) + ((4 + fonts.line_height(size)) if label else 0)


def frame(canvas, box):
    canvas.rect(box, outline=FRAME)


# --- legends ------------------------------------------------------------------------------------------

SWATCH = 22  # width of a legend sample at scale 1


def legend_item_width(label, size, scale):
    return fonts.px(SWATCH, scale) + fonts.px(6, scale) + fonts.text_width(label, size)


def draw_swatch(canvas, kind, x, y, color, scale, dash=None):
    """A legend sample of `kind` ("bar", "dot", "tick", "line", "guide") in the box at (x, y)."""
    w, h = fonts.px(SWATCH, scale), fonts.px(12, scale)
    cy = y + h / 2
    if kind == "bar":
        canvas.rect((x + w * 0.2, y, x + w * 0.8, y + h), fill=color)
    elif kind == "dot":
        canvas.circle((x + w / 2, cy), fonts.px(4, scale), color, outline=(255, 255, 255))
    elif kind == "tick":
        canvas.rect((x + w * 0.1, cy - fonts.px(1.5, scale), x + w * 0.9, cy + fonts.px(1.5, scale)), fill=color)
    elif kind in ("line", "guide"):
        canvas.line([(x, cy), (x + w, cy)], color, width=fonts.px(2, scale), dash=dash)
    else:
        raise ValueError(f"unknown legend sample {kind!r}")


def legend_rows(items, size, scale, width, gap=18):
    """Legend items [(kind, color, label, dash)] in rows no wider than `width` pixels (one item a row at
    least), in order."""
    rows, x = [[]], 0
    for item in items:
        w = legend_item_width(item[2], size, scale)
        if rows[-1] and x + w > width:
            rows.append([])
            x = 0
        rows[-1].append(item)
        x += w + fonts.px(gap, scale)
    return [tuple(row) for row in rows]


def draw_legend_row(canvas, items, x, y, size, scale, gap=18):
    """Legend items [(kind, color, label, dash)] side by side from (x, y); returns the right end."""
    for kind, color, label, dash in items:
        draw_swatch(canvas, kind, x, y + (fonts.line_height(size) - fonts.px(12, scale)) / 2, color, scale, dash)
        x += fonts.px(SWATCH, scale) + fonts.px(6, scale)
        canvas.text((x, y), label, size, INK)
        x += fonts.text_width(label, size) + fonts.px(gap, scale)
    return x
