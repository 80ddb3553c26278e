"""Figures laid out for a printed width: a column or a page of a paper, with text no smaller than a
given size in points once printed.

A figure is laid out in pixels at a `scale` (every length and font size times `scale`, see `fonts`).
At scale 1 a pixel is a CSS pixel (1/96 in) and the smallest text the figures draw (a BOS badge, a small
note: `fonts.SMALLEST` pixels) prints at 0.75 of that in points. A `PrintSize` asks for text of
`font_pt` points: the figure is laid out at `text_scale` times its usual sizes, so the smallest text is
`font_pt` once a pixel of that layout is 1/96 in again. Then the figure fits its lengths into `width_pt`
(heads per row, cell sizes, wrapped captions) instead of scaling what it drew, and its resolution is
only how many pixels a vector point or PNG inch holds:

    layout scale  s  = text_scale * dpi / 96     (a vector figure: dpi 96, so s = text_scale)
    pixels per inch  = 96 * s / text_scale       (= dpi)
    target width     = width_pt / 72 * dpi       pixels

The standard widths of two-column papers are presets: `column` (3.25 in) and `page` (6.75 in).
"""

import math
import re
import warnings
from dataclasses import dataclass

from microtrace.viz.draw import fonts
from microtrace.viz.draw.text import Words

PT_PER_UNIT = {"in": 72.0, "cm": 72 / 2.54, "mm": 72 / 25.4, "pt": 1.0}
PRESETS = {"column": 3.25 * 72, "page": 6.75 * 72}
MIN_WIDTH_PT, MAX_WIDTH_PT = 72.0, 72.0 * 100  # 1 in to 100 in
DEFAULT_FONT_PT = 7.0
DEFAULT_DPI = 300
CSS_DPI = 96


def parse_width(text):
    """Points for a width: `column`, `page`, or a number with a unit (3.25in, 8.5cm, 85mm, 234pt).
    ValueError (one line) for anything else or a width outside 1..100 in."""
    text = text.strip().lower()
    if text in PRESETS:
        return PRESETS[text]
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*(in|cm|mm|pt)", text)
    if not match:
        raise ValueError(f"{text!r} is not a width: give column, page or a number with in, cm, mm or pt (e.g. 3.25in)")
    points = float(match.group(1)) * PT_PER_UNIT[match.group(2)]
    if not MIN_WIDTH_PT <= points <= MAX_WIDTH_PT:
        raise ValueError(f"{text!r} is outside 1 in .. 100 in")
    return points


def inches(points):
    """A width in points said in inches, for messages: 3.25 in."""
    return f"{points / 72:.3g} in"


@dataclass(frozen=True)
class PrintSize:
    """How a figure is to be printed: `width_pt` wide (None: as wide as it is drawn), its smallest text
    `font_pt` points, `cols` panels per row (None: as many as fit), with or without its caption, with
    its own title (None: the figure's), a PNG at `dpi`."""

    width_pt: float | None = None
    font_pt: float = DEFAULT_FONT_PT
    cols: int | None = None
    caption: bool = True
    title: str | None = None
    dpi: int = DEFAULT_DPI

    def __post_init__(self):
        if not (math.isfinite(self.font_pt) and 4 <= self.font_pt <= 72):
            raise ValueError(f"font size {self.font_pt!r} pt is outside 4..72")
        if self.cols is not None and self.cols < 1:
            raise ValueError(f"cols must be 1 or more, got {self.cols!r}")

    @property
    def words(self):
        """The title and caption asked for (`text.Words`)."""
        return Words(self.title, self.caption)

    @property
    def text_scale(self):
        """How much bigger than at scale 1 the text is drawn, for its smallest size to be `font_pt`."""
        return self.font_pt / (0.75 * fonts.SMALLEST)

    def scale(self, fmt):
        """The layout scale for output format `fmt`: vector figures in CSS pixels, a PNG at `dpi`."""
        return self.text_scale * (self.dpi / CSS_DPI if fmt == "png" else 1.0)

    def dpi_of(self, fmt):
        """Pixels per inch of the figure in format `fmt`."""
        return self.dpi if fmt == "png" else CSS_DPI

    def width_px(self, fmt):
        """The width to lay out for, in pixels of format `fmt` (None: no width asked)."""
        if self.width_pt is None:
            return None
        return int(round(self.width_pt / 72 * self.dpi_of(fmt)))


class FitNote(UserWarning):
    """A figure drawn otherwise than asked (wider than its width, a long view that could not fold): a
    warning, so that a library caller sees it and a command says it on stderr."""


def note(message):
    warnings.warn(FitNote(message), stacklevel=2)


def note_too_wide(what, needed_px, ps, fmt):
    """Say that `what` cannot be laid out as narrow as `ps` asks: the width it is drawn at instead."""
    needed_pt = needed_px / ps.dpi_of(fmt) * 72
    note(
        f"{what} needs {inches(needed_pt)} at {ps.font_pt:g} pt text, more than the {inches(ps.width_pt)} asked: "
        f"drawn {inches(needed_pt)} wide (a wider width or smaller text fits it)"
    )


LONGEST = 3.0  # a figure longer than this either way is said to be long


def note_if_long(what, width, height, ps, fmt):
    """Say (a `FitNote`) that a figure of `width` x `height` pixels is more than LONGEST to 1 either way."""
    if max(width / height, height / width) > LONGEST:
        w, h = (v / ps.dpi_of(fmt) * 72 for v in (width, height))
        note(
            f"{what} is {inches(w)} × {inches(h)} ({max(w / h, h / w):.1f}:1): more heads per row, "
            "a wider width or no caption makes it less long"
        )


def scaled_to_fit(what, ps, fmt, width_at):
    """(scale, dpi) of a figure that is scaled rather than reflowed to `ps.width_pt` (`width_at(scale)`:
    its width in pixels at a scale): drawn larger until it is as wide as asked, never with text smaller
    than `ps.font_pt` (a `FitNote` says so when it is wider than asked)."""
    scale, dpi = ps.scale(fmt), ps.dpi_of(fmt)
    if ps.width_pt is None:
        return scale, dpi
    natural, target = width_at(scale), ps.width_px(fmt)
    if natural > target:
        note_too_wide(what, natural, ps, fmt)
        return scale, dpi
    scale *= target / natural
    if fmt != "png":  # a vector figure's inch is whatever makes it exactly as wide as asked
        dpi = width_at(scale) / (ps.width_pt / 72)
    return scale, dpi
