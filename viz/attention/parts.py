"""What the attention figures share: colours and lengths, the title and caption block, the colour bar
with its nan/inf legend, the colour scale of weights or gradients."""

import math

from PIL import Image, ImageDraw

from microtrace.viz.attention.validate import is_number
from microtrace.viz.draw import colormap, fonts

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



def draw_nan_mark(draw, box, scale):
    x0, y0, x1, y1 = box
    inset = max(2, (x1 - x0) // 4)
    w = max(1, fonts.px(1.5, scale))
    draw.line([(x0 + inset, y0 + inset), (x1 - inset, y1 - inset)], fill=NAN_MARK, width=w)
    draw.line([(x0 + inset, y1 - inset), (x1 - inset, y0 + inset)], fill=NAN_MARK, width=w)


def notes_text(labels, grad, nonfinite, first):
    notes = list(first)
    if fonts.BOS_LABEL in labels:
        notes.append("The dark BOS badge is the beginning-of-sequence token (it also ends each document).")
    if nonfinite:
        notes.append("Grey cells with a white cross hold nan or inf.")
    return " ".join(notes)


def text_block(title, caption, notes, width, scale):
    """Wrapped title, caption and notes lines for a figure whose content is `width` pixels wide."""
    s = fonts.sizes(scale)
    wrap_w = max(width, fonts.px(TEXT_MIN_WIDTH, scale))
    title_lines = fonts.wrap(title, s.title, wrap_w) if title else []
    caption_lines = fonts.wrap(caption, s.caption, wrap_w) if caption else []
    note_lines = fonts.wrap(notes, s.caption, wrap_w) if notes else []
    widest = max(
        fonts.block_width(title_lines, s.title),
        fonts.block_width(caption_lines, s.caption),
        fonts.block_width(note_lines, s.caption),
    )
    return title_lines, caption_lines, note_lines, widest


def title_height(title_lines, scale):
    if not title_lines:
        return 0
    s = fonts.sizes(scale)
    return fonts.block_height(title_lines, s.title, fonts.px(2, scale)) + fonts.px(TITLE_GAP, scale)


def caption_height(caption_lines, note_lines, scale):
    if not caption_lines and not note_lines:
        return 0
    s = fonts.sizes(scale)
    spacing = fonts.px(2, scale)
    h = fonts.px(TITLE_GAP, scale) + fonts.block_height(caption_lines + note_lines, s.caption, spacing)
    if caption_lines and note_lines:
        h += fonts.px(4, scale)
    return h


def draw_title(draw, title_lines, x, y, scale):
    s = fonts.sizes(scale)
    fonts.draw_lines(draw, (x, y), title_lines, s.title, INK, spacing=fonts.px(2, scale))


def draw_caption(draw, caption_lines, note_lines, x, y, scale):
    s = fonts.sizes(scale)
    spacing = fonts.px(2, scale)
    y += fonts.px(TITLE_GAP, scale)
    fonts.draw_lines(draw, (x, y), caption_lines, s.caption, INK, spacing=spacing)
    if caption_lines and note_lines:
        y += fonts.block_height(caption_lines, s.caption, spacing) + spacing + fonts.px(4, scale)
    fonts.draw_lines(draw, (x, y), note_lines, s.caption, MUTED_INK, spacing=spacing)


def new_figure(lay, scale):
    """`(image, draw)`: a blank figure of the layout's size with its title drawn (heatmap grid or strips)."""
    im = Image.new("RGB", lay.size, BACKGROUND)
    draw = ImageDraw.Draw(im)
    m = fonts.px(MARGIN, scale)
    draw_title(draw, lay.title_lines, m, m, scale)
    return im, draw


def draw_colorbar_and_caption(im, draw, lay, scale_obj, bar_length, bar_label, legend, scale):
    """How the heatmap grid and the strips end: the colour bar at the layout's place, the nan/inf
    `legend` image (None: no such values) under it, and the caption and notes at the foot."""
    bar = colormap.colorbar(
        scale_obj, length=bar_length, thickness=fonts.px(BAR_THICKNESS, scale), label=bar_label, scale=scale
    )
    im.paste(bar, lay.colorbar_origin)
    if legend is not None:
        im.paste(legend, (lay.colorbar_origin[0], lay.colorbar_origin[1] + bar.height + fonts.px(12, scale)))
    m = fonts.px(MARGIN, scale)
    caption_top = lay.size[1] - m - caption_height(lay.caption_lines, lay.note_lines, scale)
    draw_caption(draw, lay.caption_lines, lay.note_lines, m, caption_top, scale)


def nan_legend(scale, cell):
    """A small image: a nan swatch and its meaning."""
    s = fonts.sizes(scale)
    text = "nan / inf"
    sw = max(cell // 2 + 4, fonts.px(16, scale))
    gap = fonts.px(6, scale)
    h = max(sw, fonts.line_height(s.tick))
    im = Image.new("RGB", (sw + gap + fonts.text_width(text, s.tick) + 1, h), BACKGROUND)
    draw = ImageDraw.Draw(im)
    y0 = (h - sw) // 2
    draw.rectangle((0, y0, sw - 1, y0 + sw - 1), fill=colormap.NAN_COLOR)
    draw_nan_mark(draw, (0, y0, sw - 1, y0 + sw - 1), scale)
    fonts.draw_text(draw, (sw + gap, h / 2), text, s.tick, INK, anchor="lm")
    return im


def color_scale(values, grad, vmax):
    if not grad:
        return colormap.weight_scale()
    if vmax is None:
        finite = [abs(v) for v in values if math.isfinite(v)]
        vmax = max(finite, default=0.0)
    elif not (is_number(vmax) and math.isfinite(vmax) and vmax > 0):
        raise ValueError(f"vmax must be a positive finite number, got {vmax!r}")
    return colormap.symmetric_scale(vmax)
