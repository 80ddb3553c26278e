"""What the attention figures share: colours and lengths, the title and caption blocks, the colour bar
with its nan/inf legend, the colour scale of weights or gradients. Everything is drawn on a `canvas`."""

import math
from dataclasses import dataclass

from microtrace.viz.attention.inputs import is_number
from microtrace.viz.draw import colormap, fonts
from microtrace.viz.draw.canvas import make_canvas
from microtrace.viz.draw.text import TextBlock

BACKGROUND = (255, 255, 255)
INK = colormap.INK
MUTED_INK = colormap.MUTED_INK
HATCH = (208, 208, 208)  # lines over the masked (future) cells, on the background colour
OUTLINE = (120, 120, 120)  # around the lower triangle of valid cells
ACCENT = (230, 85, 13)  # the query token in per-token strips (an orange no map uses)
NAN_MARK = (255, 255, 255)
GRID_LINE = (222, 222, 222)  # between cells in grad mode

# Lengths at scale 1, in pixels (multiplied by `scale` and rounded; see `fonts.px`).
CELL = 26  # heatmap cell
MARGIN = 20  # around the figure
PRINT_MARGIN = 4  # around a figure laid out for a printed width (the page has its own margins)
PANEL_GAP = 22  # between heatmaps, both ways
LABEL_PAD = 6  # between a heatmap and its labels
HEADER_PAD = 4  # between a panel header and the heatmap
TITLE_GAP = 14  # below the title, above the caption
BAR_GAP = 26  # between the grid and the colour bar
BAR_THICKNESS = 16
BAR_MIN_LENGTH = 160
HATCH_SPACING = 6
STRIP_CELL = 28  # a character tile in per-token strips
STRIP_GAP = 2  # between tiles
TEXT_MIN_WIDTH = 480  # captions wrap at no less than this width
NAN_TEXT = "nan / inf"


@dataclass(frozen=True)
class Fit:
    """What a figure is laid out for: `width` pixels (None: as wide as it is drawn), `cols` heatmaps
    per row (None: as many as fit), `margin` around it at scale 1."""

    width: int | None = None
    cols: int | None = None
    margin: int = MARGIN


def draw_nan_mark(c, box, scale):
    """The white cross on a cell or tile holding nan or inf."""
    x0, y0, x1, y1 = box
    inset = max(2, (x1 - x0) // 4)
    w = max(1, fonts.px(1.5, scale))
    c.line([(x0 + inset, y0 + inset), (x1 - inset, y1 - inset)], NAN_MARK, width=w)
    c.line([(x0 + inset, y1 - inset), (x1 - inset, y0 + inset)], NAN_MARK, width=w)


def notes_text(labels, grad, nonfinite, first):
    notes = list(first)
    if fonts.BOS_LABEL in labels:
        notes.append("The dark BOS badge is the beginning-of-sequence token (it also ends each document).")
    if nonfinite:
        notes.append("Grey cells with a white cross hold nan or inf.")
    return " ".join(notes)


def text_block(title, caption, notes, width, scale, wrap_w=None):
    """Wrapped title, caption and notes lines for a figure whose content is `width` pixels wide (lines
    wrap at `wrap_w` when given, else at the content width but no narrower than TEXT_MIN_WIDTH)."""
    s = fonts.sizes(scale)
    wrap_w = wrap_w or max(width, fonts.px(TEXT_MIN_WIDTH, scale))
    title_lines = fonts.wrap(title, s.title, wrap_w) if title else []
    caption_lines = fonts.wrap(caption, s.caption, wrap_w) if caption else []
    note_lines = fonts.wrap(notes, s.caption, wrap_w) if notes else []
    widest = max(
        fonts.block_width(title_lines, s.title),
        fonts.block_width(caption_lines, s.caption),
        fonts.block_width(note_lines, s.caption),
    )
    return title_lines, caption_lines, note_lines, widest


def _paragraphs(*parts):
    return tuple((tuple(lines), size, fill) for lines, size, fill in parts if lines)


def top_block(title_lines, scale):
    """The title above the figure (`text.TextBlock`, with the gap below it)."""
    s = fonts.sizes(scale)
    return TextBlock(_paragraphs((title_lines, s.title, INK)), scale, below=fonts.px(TITLE_GAP, scale))


def foot_block(caption_lines, note_lines, scale):
    """The caption (ink) and the notes (muted) at the foot of the figure, with the gap above them."""
    s = fonts.sizes(scale)
    paragraphs = _paragraphs((caption_lines, s.caption, INK), (note_lines, s.caption, MUTED_INK))
    return TextBlock(paragraphs, scale, above=fonts.px(TITLE_GAP, scale))


def title_height(title_lines, scale):
    return top_block(title_lines, scale).height


def caption_height(caption_lines, note_lines, scale):
    return foot_block(caption_lines, note_lines, scale).height


def new_figure(lay, scale, fmt, title, m=None, dpi=None):
    """A canvas (`fmt` png, svg or pdf) of the layout's size with its title drawn (heatmap grid or strips),
    `m` pixels from the edges (default the MARGIN), `dpi` pixels to the inch (default 96 * scale)."""
    c = make_canvas(fmt, *lay.size, title=title, scale=scale, dpi=dpi)
    m = fonts.px(MARGIN, scale) if m is None else m
    top_block(lay.title_lines, scale).draw(c, m, m)
    return c


def draw_colorbar_and_caption(c, lay, scale_obj, bar_length, bar_label, legend_cell, scale, m=None, below=0):
    """How the heatmap grid and the strips end: the colour bar at the layout's place (`below`: lying
    across the foot of the grid, that long, instead of standing beside it), the nan/inf legend under it
    when `legend_cell` (the cell size its swatch follows) is not None, and the caption and notes at the
    foot."""
    x, y = lay.colorbar_origin
    thickness = fonts.px(BAR_THICKNESS, scale)
    if below:
        colormap.draw_hcolorbar(c, scale_obj, (x, y), length=below, thickness=thickness, label=bar_label, scale=scale)
        bar_h = colormap.hcolorbar_size(scale_obj, length=below, thickness=thickness, label=bar_label, scale=scale)[1]
    else:
        bar_h = colormap.draw_colorbar(
            c, scale_obj, (x, y), length=bar_length, thickness=thickness, label=bar_label, scale=scale
        )
    if legend_cell is not None:
        draw_nan_legend(c, (x, y + bar_h + fonts.px(12, scale)), scale, legend_cell)
    m = fonts.px(MARGIN, scale) if m is None else m
    foot = foot_block(lay.caption_lines, lay.note_lines, scale)
    foot.draw(c, m, lay.size[1] - m - foot.height)


def _nan_legend_parts(scale, cell):
    s = fonts.sizes(scale)
    sw = max(cell // 2 + 4, fonts.px(16, scale))
    gap = fonts.px(6, scale)
    return s, sw, gap, max(sw, fonts.line_height(s.tick))


def nan_legend_size(scale, cell):
    """(width, height) of the nan/inf legend: a swatch and its meaning."""
    s, sw, gap, h = _nan_legend_parts(scale, cell)
    return sw + gap + fonts.text_width(NAN_TEXT, s.tick) + 1, h


def draw_nan_legend(c, xy, scale, cell):
    s, sw, gap, h = _nan_legend_parts(scale, cell)
    x, y = xy
    y0 = y + (h - sw) // 2
    box = (x, y0, x + sw - 1, y0 + sw - 1)
    c.rect(box, fill=colormap.NAN_COLOR)
    draw_nan_mark(c, box, scale)
    c.text((x + sw + gap, y + h / 2), NAN_TEXT, s.tick, INK, anchor="lm")


def color_scale(values, grad, vmax):
    if not grad:
        return colormap.weight_scale()
    if vmax is None:
        finite = [abs(v) for v in values if math.isfinite(v)]
        vmax = max(finite, default=0.0)
    elif not (is_number(vmax) and math.isfinite(vmax) and vmax > 0):
        raise ValueError(f"vmax must be a positive finite number, got {vmax!r}")
    return colormap.symmetric_scale(vmax)
