"""Attention figures from plain numbers: heatmap grids, per-token strips, animations, contact sheets.

Input convention (what the tracer's attention-weight nodes become): `attention[layer][head][query]` is
the list of weights that query position `query` gives to key positions `0..query` (a ragged lower
triangle: row q has q + 1 numbers), and `labels[i]` is the character of the token at position i
(BOS as "<BOS>"). `from_trace_graph` builds both from a trace graph. With `grad=True` the numbers are
d loss / d weight instead.

Every figure function returns a `PIL.Image.Image` (RGB) and writes nothing; `save_png` and `save_gif`
write files, atomically and with the same bytes for the same input.

Validation: a malformed input raises `ValueError` with a one-line message saying where. Numbers that
are nan or inf are allowed (the trace may hold them) and are drawn in a grey that neither colour map
uses, crossed, with a legend note.
"""

import io
import math
import os
from dataclasses import dataclass
from numbers import Real

from PIL import Image, ImageDraw

from microtrace.engine.atomic import write_atomic  # the project's one atomic writer

from microtrace.viz.draw import colormap

from microtrace.viz.draw import fonts

BACKGROUND = (255, 255, 255)
INK = colormap.INK
MUTED_INK = colormap.MUTED_INK
HATCH = (208, 208, 208)  # lines over the masked (future) cells, on the background colour
OUTLINE = (120, 120, 120)  # around the lower triangle of valid cells
ACCENT = (230, 85, 13)  # the query token in per-token strips (an orange no map uses)
NAN_MARK = (255, 255, 255)
GRID_LINE = (222, 222, 222)  # between cells in grad mode

WEIGHT_TOLERANCE = 1e-6  # weights may stray this far outside [0, 1] from rounding

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


# --- validation -----------------------------------------------------------------------------------


def _is_number(x):
    return isinstance(x, Real) and not isinstance(x, bool)


def _check_labels(labels):
    if isinstance(labels, str) or not isinstance(labels, (list, tuple)):
        raise ValueError(f"labels must be a list of strings (one per position), got {type(labels).__name__}")
    if not labels:
        raise ValueError("labels is empty: need one label per token position")
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not label:
            raise ValueError(f"labels[{i}] must be a non-empty string, got {label!r}")
    return list(labels)


def _check_rows(rows, n, where, grad):
    """One head's ragged rows as lists of floats; `where` names it in messages."""
    if isinstance(rows, (str, bytes)) or not isinstance(rows, (list, tuple)):
        raise ValueError(f"{where} must be a list of rows, got {type(rows).__name__}")
    if len(rows) != n:
        raise ValueError(f"{where} has {len(rows)} query rows but there are {n} labels (one per query position)")
    out = []
    for q, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not isinstance(row, (list, tuple)):
            raise ValueError(f"{where}[{q}] must be a list of numbers, got {type(row).__name__}")
        if len(row) != q + 1:
            raise ValueError(
                f"{where}[{q}] has {len(row)} values; query {q} must have {q + 1} (keys 0..{q}): "
                "rows are the ragged lower triangle, lengths 1..n in order"
            )
        values = []
        for k, v in enumerate(row):
            if not _is_number(v):
                raise ValueError(f"{where}[{q}][{k}] is not a number: {v!r}")
            v = float(v)
            if not grad and math.isfinite(v) and not (-WEIGHT_TOLERANCE <= v <= 1 + WEIGHT_TOLERANCE):
                raise ValueError(
                    f"{where}[{q}][{k}] = {v!r} is not an attention weight in [0, 1] (use grad=True for gradients)"
                )
            values.append(v)
        out.append(values)
    return out


def validate_attention(attention, labels, grad=False):
    """`(attention as nested lists of floats, labels as a list)`, or ValueError saying what is wrong.

    attention[layer][head] must each hold len(labels) rows; row q holds q + 1 numbers; every layer has
    the same number of heads; weights (grad=False) lie in [0, 1] unless nan or inf."""
    labels = _check_labels(labels)
    n = len(labels)
    if isinstance(attention, (str, bytes)) or not isinstance(attention, (list, tuple)) or not attention:
        raise ValueError("attention must be a non-empty list of layers, each a list of heads")
    out = []
    n_heads = None
    for li, layer in enumerate(attention):
        if isinstance(layer, (str, bytes)) or not isinstance(layer, (list, tuple)) or not layer:
            raise ValueError(f"attention[{li}] must be a non-empty list of heads")
        if n_heads is None:
            n_heads = len(layer)
        elif len(layer) != n_heads:
            raise ValueError(f"attention[{li}] has {len(layer)} heads but attention[0] has {n_heads}")
        out.append([_check_rows(rows, n, f"attention[{li}][{hi}]", grad) for hi, rows in enumerate(layer)])
    return out, labels


def _all_values(attention):
    return [v for layer in attention for rows in layer for row in rows for v in row]


def _has_nonfinite(values):
    return any(not math.isfinite(v) for v in values)


# --- shared drawing pieces ------------------------------------------------------------------------


def _format_weight(v):
    if not math.isfinite(v):
        return "nan" if v != v else "inf"
    text = f"{v:.2f}"
    if text in ("0.00", "-0.00"):
        return "0"
    if text == "1.00":
        return "1"
    return text.replace("0.", ".", 1) if text.startswith("0.") else text


def _format_cell(v, grad):
    return colormap.format_number(v, 2) if grad else _format_weight(v)


def _value_font_size(cell):
    return max(7, int(round(cell * 0.36)))


def _values_fit(values, cell, grad):
    """Whether every value's text fits inside a cell (printed all or none, so a figure is uniform)."""
    size = _value_font_size(cell)
    if fonts.line_height(size) > cell - 2:
        return False
    widest = max((fonts.text_width(_format_cell(v, grad), size) for v in values), default=0)
    return widest <= cell - 4


def _draw_nan_mark(draw, box, scale):
    x0, y0, x1, y1 = box
    inset = max(2, (x1 - x0) // 4)
    w = max(1, fonts.px(1.5, scale))
    draw.line([(x0 + inset, y0 + inset), (x1 - inset, y1 - inset)], fill=NAN_MARK, width=w)
    draw.line([(x0 + inset, y1 - inset), (x1 - inset, y0 + inset)], fill=NAN_MARK, width=w)


def _hatch_tile(width, height, spacing, color=HATCH, background=BACKGROUND):
    """Diagonal lines ("/" direction) every `spacing` pixels, on `background`."""
    im = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(im)
    for start in range(0, width + height, spacing):
        draw.line([(start, 0), (start - height, height)], fill=color)
    return im


def _upper_mask(n, cell):
    """L-mode mask of the cells strictly above the diagonal of an n x n grid of `cell`-pixel cells."""
    mask = Image.new("L", (n * cell, n * cell), 0)
    draw = ImageDraw.Draw(mask)
    for q in range(n - 1):
        draw.rectangle(((q + 1) * cell, q * cell, n * cell - 1, (q + 1) * cell - 1), fill=255)
    return mask


def _staircase(x0, y0, n, cell):
    """Outline points of the lower triangle (cells with key <= query) of a heatmap at (x0, y0)."""
    pts = [(x0, y0)]
    for q in range(n):
        pts.append((x0 + (q + 1) * cell, y0 + q * cell))
        pts.append((x0 + (q + 1) * cell, y0 + (q + 1) * cell))
    pts.append((x0, y0 + n * cell))
    return pts


def _token_tile(label, size, fill, background):
    w = fonts.token_width(label, size) + 2
    h = fonts.token_height(label, size) + 2
    im = Image.new("RGB", (w, h), background)
    fonts.draw_token(ImageDraw.Draw(im), (w / 2, h / 2), label, size, fill)
    return im


def _rotated_text(text, size, fill, background=BACKGROUND):
    return colormap.text_image(text, size, fill, background).transpose(Image.Transpose.ROTATE_90)


def _notes_text(labels, grad, nonfinite, first):
    notes = list(first)
    if fonts.BOS_LABEL in labels:
        notes.append("The dark BOS badge is the beginning-of-sequence token (it also ends each document).")
    if nonfinite:
        notes.append("Grey cells with a white cross hold nan or inf.")
    return " ".join(notes)


def _text_block(title, caption, notes, width, scale):
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


def _title_height(title_lines, scale):
    if not title_lines:
        return 0
    s = fonts.sizes(scale)
    return fonts.block_height(title_lines, s.title, fonts.px(2, scale)) + fonts.px(TITLE_GAP, scale)


def _caption_height(caption_lines, note_lines, scale):
    if not caption_lines and not note_lines:
        return 0
    s = fonts.sizes(scale)
    spacing = fonts.px(2, scale)
    h = fonts.px(TITLE_GAP, scale) + fonts.block_height(caption_lines + note_lines, s.caption, spacing)
    if caption_lines and note_lines:
        h += fonts.px(4, scale)
    return h


def _draw_title(draw, title_lines, x, y, scale):
    s = fonts.sizes(scale)
    fonts.draw_lines(draw, (x, y), title_lines, s.title, INK, spacing=fonts.px(2, scale))


def _draw_caption(draw, caption_lines, note_lines, x, y, scale):
    s = fonts.sizes(scale)
    spacing = fonts.px(2, scale)
    y += fonts.px(TITLE_GAP, scale)
    fonts.draw_lines(draw, (x, y), caption_lines, s.caption, INK, spacing=spacing)
    if caption_lines and note_lines:
        y += fonts.block_height(caption_lines, s.caption, spacing) + spacing + fonts.px(4, scale)
    fonts.draw_lines(draw, (x, y), note_lines, s.caption, MUTED_INK, spacing=spacing)


def _new_figure(lay, scale):
    """`(image, draw)`: a blank figure of the layout's size with its title drawn (heatmap grid or strips)."""
    im = Image.new("RGB", lay.size, BACKGROUND)
    draw = ImageDraw.Draw(im)
    m = fonts.px(MARGIN, scale)
    _draw_title(draw, lay.title_lines, m, m, scale)
    return im, draw


def _draw_colorbar_and_caption(im, draw, lay, scale_obj, bar_length, bar_label, legend, scale):
    """How the heatmap grid and the strips end: the colour bar at the layout's place, the nan/inf
    `legend` image (None: no such values) under it, and the caption and notes at the foot."""
    bar = colormap.colorbar(
        scale_obj, length=bar_length, thickness=fonts.px(BAR_THICKNESS, scale), label=bar_label, scale=scale
    )
    im.paste(bar, lay.colorbar_origin)
    if legend is not None:
        im.paste(legend, (lay.colorbar_origin[0], lay.colorbar_origin[1] + bar.height + fonts.px(12, scale)))
    m = fonts.px(MARGIN, scale)
    caption_top = lay.size[1] - m - _caption_height(lay.caption_lines, lay.note_lines, scale)
    _draw_caption(draw, lay.caption_lines, lay.note_lines, m, caption_top, scale)


def _nan_legend(scale, cell):
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
    _draw_nan_mark(draw, (0, y0, sw - 1, y0 + sw - 1), scale)
    fonts.draw_text(draw, (sw + gap, h / 2), text, s.tick, INK, anchor="lm")
    return im


def _color_scale(values, grad, vmax):
    if not grad:
        return colormap.weight_scale()
    if vmax is None:
        finite = [abs(v) for v in values if math.isfinite(v)]
        vmax = max(finite, default=0.0)
    elif not (_is_number(vmax) and math.isfinite(vmax) and vmax > 0):
        raise ValueError(f"vmax must be a positive finite number, got {vmax!r}")
    return colormap.symmetric_scale(vmax)


# --- the heatmap grid -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GridLayout:
    """Where everything of an `attention_grid` figure goes (pixels; see `attention_grid` for sizes)."""

    size: tuple  # (width, height) of the image
    n: int  # token positions
    n_layers: int
    n_heads: int
    cell: int  # side of one heatmap cell
    heatmap_origins: tuple  # [layer][head] -> (x, y) of the heatmap's top-left corner
    row_label_width: int  # Lq: the label gutter left of each heatmap
    col_label_height: int  # Lk: the label band below each heatmap
    panel_size: tuple  # (Pw, Ph)
    rotate_col_labels: bool
    colorbar_origin: tuple
    title_lines: tuple
    caption_lines: tuple
    note_lines: tuple

    def cell_box(self, layer, head, query, key):
        """(x0, y0, x1, y1) of a cell, inclusive; x grows with `key`, y with `query`."""
        x, y = self.heatmap_origins[layer][head]
        c = self.cell
        return (x + key * c, y + query * c, x + (key + 1) * c - 1, y + (query + 1) * c - 1)

    def cell_center(self, layer, head, query, key):
        x0, y0, x1, y1 = self.cell_box(layer, head, query, key)
        return ((x0 + x1) // 2, (y0 + y1) // 2)


def _grid_layout(n, n_layers, n_heads, labels, scale, title, caption, notes, bar_label, scale_obj, nonfinite):
    s = fonts.sizes(scale)
    c = fonts.px(CELL, scale)
    m = fonts.px(MARGIN, scale)
    gap = fonts.px(PANEL_GAP, scale)
    pad = fonts.px(LABEL_PAD, scale)

    widest = max(fonts.token_width(label, s.label) for label in labels)
    tallest = max(fonts.token_height(label, s.label) for label in labels)
    row_label_w = max(c, widest) + pad  # Lq
    rotate = widest > c - 2
    col_label_h = (widest if rotate else max(fonts.line_height(s.label), tallest)) + pad  # Lk
    header_h = fonts.line_height(s.header) + fonts.px(HEADER_PAD, scale)  # Hh
    header_w = fonts.text_width(f"layer {n_layers - 1} · head {n_heads - 1}", s.header)
    axis_w = fonts.line_height(s.axis) + pad  # A: "query", written upwards
    key_h = fonts.line_height(s.axis) + fonts.px(2, scale)  # K: "key" below the last row of panels

    panel_w = max(row_label_w + n * c, row_label_w + header_w)  # Pw
    panel_h = header_h + n * c + col_label_h  # Ph
    grid_w = axis_w + n_heads * panel_w + (n_heads - 1) * gap
    grid_h = n_layers * panel_h + (n_layers - 1) * gap + key_h

    bar_length = max(n * c, fonts.px(BAR_MIN_LENGTH, scale), fonts.text_width(bar_label, s.axis))
    bar_w = colormap.colorbar_width(
        scale_obj, thickness=fonts.px(BAR_THICKNESS, scale), label=bar_label, scale=scale
    )
    bar_pad = colormap.colorbar_pad(scale)
    bar_h = header_h - bar_pad + bar_length + 2 * bar_pad
    if nonfinite:
        legend = _nan_legend(scale, c)
        bar_w = max(bar_w, legend.width)
        bar_h += fonts.px(12, scale) + legend.height
    content_w = grid_w + fonts.px(BAR_GAP, scale) + bar_w
    content_h = max(grid_h, bar_h)

    title_lines, caption_lines, note_lines, text_w = _text_block(title, caption, notes, content_w, scale)
    width = 2 * m + max(content_w, text_w)
    top = m + _title_height(title_lines, scale)
    height = top + content_h + _caption_height(caption_lines, note_lines, scale) + m

    origins = tuple(
        tuple(
            (m + axis_w + h * (panel_w + gap) + row_label_w, top + li * (panel_h + gap) + header_h)
            for h in range(n_heads)
        )
        for li in range(n_layers)
    )
    bar_origin = (m + grid_w + fonts.px(BAR_GAP, scale), top + header_h - bar_pad)
    return GridLayout(
        size=(width, height),
        n=n,
        n_layers=n_layers,
        n_heads=n_heads,
        cell=c,
        heatmap_origins=origins,
        row_label_width=row_label_w,
        col_label_height=col_label_h,
        panel_size=(panel_w, panel_h),
        rotate_col_labels=rotate,
        colorbar_origin=bar_origin,
        title_lines=tuple(title_lines),
        caption_lines=tuple(caption_lines),
        note_lines=tuple(note_lines),
    )


def _grid_texts(labels, grad, nonfinite, scale_obj, notes):
    if grad:
        bar_label = "d loss / d weight"
        extra = [
            "Colour: d loss / d attention weight; red: raising the weight raises the loss, blue: lowers it; "
            f"white is zero; the scale ends at ±{colormap.format_number(scale_obj.vmax)}."
        ]
    else:
        bar_label = "attention weight"
        extra = []
    base = [
        "Rows: query position (the token attending), top = first; columns: key position (the token attended to).",
        "Hatched cells above the diagonal are masked: a token cannot attend to later tokens.",
    ]
    text = _notes_text(labels, grad, nonfinite, base + extra) if notes else ""
    return bar_label, text


def _grid_plan(attention, labels, title, caption, grad, scale, notes, vmax):
    """`(GridLayout, plan)`: the layout `grid_layout` returns and, for `attention_grid` to draw with,
    the checked input, its colour scale and texts (as `_strip_plan` does for the strips)."""
    fonts.check_scale(scale)
    attention, labels = validate_attention(attention, labels, grad)
    all_values = _all_values(attention)
    scale_obj = _color_scale(all_values, grad, vmax)
    nonfinite = _has_nonfinite(all_values)
    bar_label, note_text = _grid_texts(labels, grad, nonfinite, scale_obj, notes)
    lay = _grid_layout(
        len(labels), len(attention), len(attention[0]), labels, scale, title, caption, note_text, bar_label,
        scale_obj, nonfinite,
    )
    return lay, dict(
        attention=attention, labels=labels, values=all_values, scale_obj=scale_obj, nonfinite=nonfinite,
        bar_label=bar_label,
    )


def grid_layout(attention, labels, *, title="", caption="", grad=False, scale=1.0, values=False, notes=True, vmax=None):
    """The `GridLayout` that `attention_grid` draws with the same arguments (for tests and overlays)."""
    return _grid_plan(attention, labels, title, caption, grad, scale, notes, vmax)[0]


def attention_grid(attention, labels, *, title="", caption="", grad=False, scale=1.0, values=False, notes=True, vmax=None):
    """Heatmaps of attention, one per (layer, head): rows of the grid are layers, columns are heads.

    attention[layer][head][query] lists the weights of keys 0..query (see the module docs); labels[i] is
    position i's character ("<BOS>" is drawn as a dark "BOS" badge). In each heatmap the query positions
    are rows (top = position 0) and the key positions columns, every row and column labelled with its
    character; cells above the diagonal (future keys) are left empty: background colour with a light
    hatch, outside the outlined lower triangle. A colour bar with ticks is on the right: viridis over
    0..1 for weights, or with `grad=True` (the numbers are d loss / d weight) the blue-white-red map
    over the symmetric range +-max|value| (or +-`vmax` when given, e.g. to share a scale across frames),
    so that 0 is the near-white centre. `values=True` prints each number in its cell, in black or white
    by the cell's luminance, when every number fits at this scale (otherwise none are printed). `title`
    goes above; `caption` below, followed (unless `notes=False`) by notes explaining rows, columns, the
    masked cells, the BOS badge and, when present, nan/inf cells (grey, crossed). Raises ValueError for
    malformed input (see `validate_attention`).

    Size, at scale s, with px(v) = max(1, round(v * s)), n tokens, H heads, L layers and labels no wider
    than a cell:
        c  = px(26)                          cell side
        Lq = c + px(6)                       row-label gutter left of each heatmap
        Lk = line_height(px(15)) + px(6)     column-label band below each heatmap
        Hh = line_height(px(15)) + px(4)     panel header ("layer 0 · head 2") above each heatmap
        Pw = Lq + max(n * c, header width)   Ph = Hh + n * c + Lk
        A  = line_height(px(13)) + px(6)     "query" axis title;  K = line_height(px(13)) + px(2): "key"
        width  = 2 * px(20) + max(A + H * Pw + (H - 1) * px(22) + px(26) + colour-bar width, text width)
        height = 2 * px(20) + title block + max(L * Ph + (L - 1) * px(22) + K, colour-bar height)
                 + caption block
    where line_height(f) is the bundled font's ascent + descent at size f (19 at 15 px, 17 at 13 px),
    the colour bar is max(n * c, px(160)) long, and the text blocks are the wrapped title and caption
    (lines wrap at the content width, at least px(480)). So each extra token adds exactly H * c to the
    width and L * c to the height (once n * c exceeds the header width and the colour bar's minimum),
    each extra head Pw + px(22), each extra layer Ph + px(22). `grid_layout` returns the positions.
    """
    lay, plan = _grid_plan(attention, labels, title, caption, grad, scale, notes, vmax)
    attention, labels, all_values = plan["attention"], plan["labels"], plan["values"]
    scale_obj, nonfinite, bar_label = plan["scale_obj"], plan["nonfinite"], plan["bar_label"]
    n, n_layers, n_heads = len(labels), len(attention), len(attention[0])

    s = fonts.sizes(scale)
    c = lay.cell
    m = fonts.px(MARGIN, scale)
    pad = fonts.px(LABEL_PAD, scale)
    im, draw = _new_figure(lay, scale)

    hatch = _hatch_tile(n * c, n * c, fonts.px(HATCH_SPACING, scale))
    mask = _upper_mask(n, c)
    show_values = values and _values_fit(all_values, c, grad)
    value_size = _value_font_size(c)
    tiles = {}
    if lay.rotate_col_labels:
        for label in set(labels):
            tiles[label] = _token_tile(label, s.label, INK, BACKGROUND).transpose(Image.Transpose.ROTATE_90)
    outline_w = max(1, fonts.px(1, scale))

    for li in range(n_layers):
        for hi in range(n_heads):
            x0, y0 = lay.heatmap_origins[li][hi]
            fonts.draw_text(
                draw, (x0, y0 - fonts.px(HEADER_PAD, scale)), f"layer {li} · head {hi}", s.header, INK, anchor="ld"
            )
            if n > 1:
                im.paste(hatch, (x0, y0), mask)
            rows = attention[li][hi]
            for q, row in enumerate(rows):
                for k, v in enumerate(row):
                    box = lay.cell_box(li, hi, q, k)
                    color = scale_obj.color(v)
                    draw.rectangle(box, fill=color)
                    if not math.isfinite(v):
                        _draw_nan_mark(draw, box, scale)
                    elif show_values:
                        fonts.draw_text(
                            draw, (box[0] + c / 2, box[1] + c / 2), _format_cell(v, grad), value_size,
                            colormap.text_color_on(color), anchor="mm",
                        )
            if grad and n > 1:  # faint cell borders: near-zero cells are near-white
                for i in range(1, n):
                    draw.line([(x0 + i * c, y0 + i * c), (x0 + i * c, y0 + n * c - 1)], fill=GRID_LINE)
                    draw.line([(x0, y0 + i * c), (x0 + i * c - 1, y0 + i * c)], fill=GRID_LINE)
            draw.line(_staircase(x0, y0, n, c) + [(x0, y0)], fill=OUTLINE, width=outline_w)
            # row labels (queries) in the gutter, column labels (keys) below
            for i, label in enumerate(labels):
                fonts.draw_token(draw, (x0 - pad - (lay.row_label_width - pad) / 2, y0 + i * c + c / 2), label, s.label, INK)
                if lay.rotate_col_labels:
                    tile = tiles[label]
                    im.paste(tile, (int(x0 + i * c + (c - tile.width) / 2), y0 + n * c + pad))
                else:
                    fonts.draw_token(
                        draw, (x0 + i * c + c / 2, y0 + n * c + pad + fonts.line_height(s.label) / 2), label, s.label, INK
                    )
        # "query" written upwards left of the first heatmap of this layer
        x0, y0 = lay.heatmap_origins[li][0]
        q_img = _rotated_text("query", s.axis, MUTED_INK)
        im.paste(q_img, (m, int(y0 + (n * c - q_img.height) / 2)))
    for hi in range(n_heads):  # "key" under the last layer's column labels
        x0, y0 = lay.heatmap_origins[n_layers - 1][hi]
        fonts.draw_text(draw, (x0 + n * c / 2, y0 + n * c + lay.col_label_height), "key", s.axis, MUTED_INK, anchor="ma")

    bar_length = max(n * c, fonts.px(BAR_MIN_LENGTH, scale), fonts.text_width(bar_label, s.axis))
    legend = _nan_legend(scale, c) if nonfinite else None
    _draw_colorbar_and_caption(im, draw, lay, scale_obj, bar_length, bar_label, legend, scale)
    return im


# --- per-token strips -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StripLayout:
    size: tuple
    n: int
    cell: int
    step: int  # cell + gap: distance between neighbouring tiles
    origin: tuple  # top-left of the tile of (query 0, key 0)
    colorbar_origin: tuple
    title_lines: tuple
    caption_lines: tuple
    note_lines: tuple

    def tile_box(self, query, key):
        """(x0, y0, x1, y1) inclusive of the tile of `key` in the strip of `query`."""
        x, y = self.origin
        return (x + key * self.step, y + query * self.step, x + key * self.step + self.cell - 1, y + query * self.step + self.cell - 1)


def _strip_rows(attention, layer, head):
    n_layers, n_heads = len(attention), len(attention[0])
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n_layers:
        raise ValueError(f"layer must be an integer in 0..{n_layers - 1}, got {layer!r}")
    if head == "mean":
        heads = attention[layer]
        return [[math.fsum(h[q][k] for h in heads) / n_heads for k in range(q + 1)] for q in range(len(heads[0]))]
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < n_heads:
        raise ValueError(f"head must be an integer in 0..{n_heads - 1} or 'mean', got {head!r}")
    return attention[layer][head]


def _strip_plan(attention, labels, layer, head, title, caption, grad, scale, notes, vmax):
    fonts.check_scale(scale)
    attention, labels = validate_attention(attention, labels, grad)
    rows = _strip_rows(attention, layer, head)
    values = [v for row in rows for v in row]
    scale_obj = _color_scale(values, grad, vmax)
    nonfinite = _has_nonfinite(values)
    n = len(labels)

    s = fonts.sizes(scale)
    t = fonts.px(STRIP_CELL, scale)
    gap = fonts.px(STRIP_GAP, scale)
    m = fonts.px(MARGIN, scale)
    pad = fonts.px(LABEL_PAD, scale)
    header = f"layer {layer} · " + (f"mean of {len(attention[layer])} heads" if head == "mean" else f"head {head}")
    header_h = fonts.line_height(s.header) + fonts.px(8, scale)
    index_w = max(fonts.text_width(f"{i}", s.small) for i in range(n)) + pad
    widest = max(fonts.token_width(label, s.label) for label in labels)
    t = max(t, widest + 4)  # labels wider than a tile (several characters) widen every tile
    step = t + gap
    strips_w = index_w + n * step
    strips_h = n * step
    bar_label = "d loss / d weight" if grad else "attention weight"
    bar_length = max(strips_h - gap, fonts.px(BAR_MIN_LENGTH, scale), fonts.text_width(bar_label, s.axis))
    bar_w = colormap.colorbar_width(scale_obj, thickness=fonts.px(BAR_THICKNESS, scale), label=bar_label, scale=scale)
    bar_pad = colormap.colorbar_pad(scale)
    bar_h = header_h - bar_pad + bar_length + 2 * bar_pad
    legend = _nan_legend(scale, t) if nonfinite else None
    if legend is not None:
        bar_w = max(bar_w, legend.width)
        bar_h += fonts.px(12, scale) + legend.height
    content_w = strips_w + fonts.px(BAR_GAP, scale) + bar_w
    content_h = max(header_h + strips_h, bar_h)
    first = [
        "Each row is one query position i (index at the left): the tokens it can see, 0..i, each shaded by "
        + ("d loss / d weight (red raises the loss, blue lowers it)" if grad else "the attention weight query i gives it")
        + "; the outlined tile is the query token itself."
    ]
    note_text = _notes_text(labels, grad, nonfinite, first) if notes else ""
    title_lines, caption_lines, note_lines, text_w = _text_block(title, caption, note_text, content_w, scale)
    width = 2 * m + max(content_w, text_w)
    top = m + _title_height(title_lines, scale)
    height = top + content_h + _caption_height(caption_lines, note_lines, scale) + m
    lay = StripLayout(
        size=(width, height),
        n=n,
        cell=t,
        step=step,
        origin=(m + index_w, top + header_h),
        colorbar_origin=(m + strips_w + fonts.px(BAR_GAP, scale), top + header_h - bar_pad),
        title_lines=tuple(title_lines),
        caption_lines=tuple(caption_lines),
        note_lines=tuple(note_lines),
    )
    return lay, dict(
        labels=labels, rows=rows, scale_obj=scale_obj, header=header, top=top, bar_label=bar_label,
        bar_length=bar_length, legend=legend,
    )


def strip_layout(attention, labels, *, layer=0, head=0, title="", caption="", grad=False, scale=1.0, notes=True, vmax=None):
    """The `StripLayout` that `per_token_strips` draws with the same arguments."""
    return _strip_plan(attention, labels, layer, head, title, caption, grad, scale, notes, vmax)[0]


def per_token_strips(attention, labels, *, layer=0, head=0, title="", caption="", grad=False, scale=1.0, notes=True, vmax=None):
    """The per-token view of one head (or `head="mean"`: the mean over the layer's heads).

    One row per query position i: the characters of its context (positions 0..i) as tiles, each tile's
    background shaded by the weight query i gives that key (viridis over 0..1; with `grad=True` the
    blue-white-red map over +-max|value|), the character in black or white by the tile's luminance, and
    the query's own tile (the last of the row) outlined in orange. The position index is at the left of
    each row, a colour bar on the right. Same input rules as `attention_grid`; `layer` and `head` must
    exist (ValueError otherwise).

    Size at scale s with px(v) = max(1, round(v * s)): tiles of t = px(28) (wider if a label is) every
    t + px(2); width = 2 * px(20) + max(index column + n * (t + px(2)) + px(26) + colour-bar width,
    text width), height = 2 * px(20) + title block + max(header line + n * (t + px(2)), colour-bar
    height) + caption block. `strip_layout` returns the positions.
    """
    lay, plan = _strip_plan(attention, labels, layer, head, title, caption, grad, scale, notes, vmax)
    labels, rows, scale_obj = plan["labels"], plan["rows"], plan["scale_obj"]
    s = fonts.sizes(scale)
    m = fonts.px(MARGIN, scale)
    pad = fonts.px(LABEL_PAD, scale)
    t = lay.cell
    im, draw = _new_figure(lay, scale)
    fonts.draw_text(draw, (m, plan["top"]), plan["header"], s.header, INK)
    ring = max(2, fonts.px(2.5, scale))
    for q, row in enumerate(rows):
        x0, y0, _, _ = lay.tile_box(q, 0)
        fonts.draw_text(draw, (x0 - pad, y0 + t / 2), f"{q}", s.small, MUTED_INK, anchor="rm")
        for k, v in enumerate(row):
            box = lay.tile_box(q, k)
            color = scale_obj.color(v)
            draw.rectangle(box, fill=color)
            if not math.isfinite(v):
                _draw_nan_mark(draw, box, scale)
                continue
            fonts.draw_token(draw, (box[0] + t / 2, box[1] + t / 2), labels[k], s.label, colormap.text_color_on(color))
        draw.rectangle(lay.tile_box(q, q), outline=ACCENT, width=ring)
    _draw_colorbar_and_caption(im, draw, lay, scale_obj, plan["bar_length"], plan["bar_label"], plan["legend"], scale)
    return im


# --- frames: padding, animation, contact sheets ---------------------------------------------------


def _check_images(images, what="images"):
    if isinstance(images, Image.Image) or not isinstance(images, (list, tuple)) or not images:
        raise ValueError(f"{what} must be a non-empty list of PIL images")
    for i, image in enumerate(images):
        if not isinstance(image, Image.Image):
            raise ValueError(f"{what}[{i}] is not a PIL image: {type(image).__name__}")
    return [image.convert("RGB") for image in images]


def _check_frame_labels(labels, count):
    if labels is None:
        return None
    if isinstance(labels, str) or not isinstance(labels, (list, tuple)):
        raise ValueError("labels must be a list of strings, one per image")
    if len(labels) != count:
        raise ValueError(f"got {len(labels)} labels for {count} images")
    for i, label in enumerate(labels):
        if not isinstance(label, str):
            raise ValueError(f"labels[{i}] must be a string, got {label!r}")
    return list(labels)


def pad_to_common_size(images, background=BACKGROUND):
    """The images on canvases of the largest width and height among them, each at the top-left
    (so that the parts of figures that share a layout stay put from frame to frame)."""
    images = _check_images(images)
    w = max(image.width for image in images)
    h = max(image.height for image in images)
    out = []
    for image in images:
        if image.size == (w, h):
            out.append(image)
            continue
        canvas = Image.new("RGB", (w, h), background)
        canvas.paste(image, (0, 0))
        out.append(canvas)
    return out


def _label_band(image, label, scale):
    """`image` with a band above it holding `label` (the frame's name, e.g. "step 100")."""
    s = fonts.sizes(scale)
    pad = fonts.px(8, scale)
    lines = fonts.wrap(label, s.title, max(image.width - 2 * pad, fonts.px(40, scale)))
    band_h = fonts.block_height(lines, s.title) + 2 * pad
    width = max(image.width, fonts.block_width(lines, s.title) + 2 * pad)
    canvas = Image.new("RGB", (width, image.height + band_h), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    fonts.draw_lines(draw, (pad, pad), lines, s.title, INK)
    draw.line([(0, band_h - 1), (width - 1, band_h - 1)], fill=(225, 225, 225))
    canvas.paste(image, (0, band_h))
    return canvas


def animation_frames(images, labels=None, *, scale=1.0):
    """The frames `animate` encodes: each image with its label in a band on top, padded to one size."""
    fonts.check_scale(scale)
    images = _check_images(images)
    labels = _check_frame_labels(labels, len(images))
    if labels is not None:
        images = [_label_band(image, label, scale) for image, label in zip(images, labels)]
    return pad_to_common_size(images)


def animate(images, labels=None, *, duration_ms=600, loop=0, scale=1.0):
    """An animated GIF (bytes) of `images`, one frame each, `duration_ms` per frame (an int, or a list
    with one per frame), looping forever (loop=0) or `loop` times. Frames of different sizes are
    padded to the largest (top-left aligned); `labels` (one string per image, e.g. "step 100") are
    drawn in a band above each frame. Each frame is reduced to its own 256-colour palette without
    dithering (flat cells stay flat). The same input gives the same bytes. GIF merges a frame that is
    identical to the one before it into it (adding the durations); distinct labels keep every frame."""
    frames = animation_frames(images, labels, scale=scale)
    if isinstance(duration_ms, (list, tuple)):
        if len(duration_ms) != len(frames):
            raise ValueError(f"got {len(duration_ms)} durations for {len(frames)} frames")
        durations = list(duration_ms)
    else:
        durations = [duration_ms] * len(frames)
    for d in durations:
        if isinstance(d, bool) or not isinstance(d, int) or d < 10:
            raise ValueError(f"frame durations must be integers of at least 10 ms, got {d!r}")
    if isinstance(loop, bool) or not isinstance(loop, int) or loop < 0:
        raise ValueError(f"loop must be a non-negative integer, got {loop!r}")
    paletted = [
        frame.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE) for frame in frames
    ]
    buf = io.BytesIO()
    paletted[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=paletted[1:],
        duration=durations if len(paletted) > 1 else durations[0],
        loop=loop,
        optimize=False,
        disposal=1,
    )
    return buf.getvalue()


def contact_sheet(images, labels=None, *, columns=4, scale=1.0, title="", tile_width=None):
    """One image with `images` in a grid of `columns` columns (rows as needed), each tile the size of
    the largest image (smaller ones centred), framed, with its label (e.g. "step 100") above it.
    `tile_width` (pixels) first shrinks every image wider than that, keeping its aspect ratio.

    Size at scale s with tiles of w x h, k images, C = min(columns, k) columns and R = ceil(k / C) rows:
    width = 2 * px(20) + C * (w + 2) + (C - 1) * px(16), height = 2 * px(20) + title block +
    R * (label line + px(6) + h + 2) + (R - 1) * px(16), where label line = line_height(px(15)) when
    labels are given (0 otherwise)."""
    fonts.check_scale(scale)
    images = _check_images(images)
    labels = _check_frame_labels(labels, len(images))
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns!r}")
    if tile_width is not None:
        if isinstance(tile_width, bool) or not isinstance(tile_width, int) or tile_width < 16:
            raise ValueError(f"tile_width must be an integer of at least 16 pixels, got {tile_width!r}")
        images = [
            image.resize((tile_width, max(1, round(image.height * tile_width / image.width))), Image.Resampling.LANCZOS)
            if image.width > tile_width
            else image
            for image in images
        ]
    s = fonts.sizes(scale)
    m = fonts.px(MARGIN, scale)
    gap = fonts.px(16, scale)
    tw = max(image.width for image in images)
    th = max(image.height for image in images)
    cols = min(columns, len(images))
    rows = -(-len(images) // cols)
    label_h = fonts.line_height(s.header) + fonts.px(6, scale) if labels is not None else 0
    if labels is not None:  # a label wider than its tile widens every tile
        tw = max(tw, max(fonts.text_width(label, s.header) for label in labels))
    grid_w = cols * (tw + 2) + (cols - 1) * gap
    title_lines, _, _, text_w = _text_block(title, "", "", grid_w, scale)
    width = 2 * m + max(grid_w, text_w)
    top = m + _title_height(title_lines, scale)
    height = top + rows * (label_h + th + 2) + (rows - 1) * gap + m
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    _draw_title(draw, title_lines, m, m, scale)
    for i, image in enumerate(images):
        r, col = divmod(i, cols)
        x = m + col * (tw + 2 + gap)
        y = top + r * (label_h + th + 2 + gap)
        if labels is not None:
            fonts.draw_text(draw, (x, y), labels[i], s.header, INK)
        fy = y + label_h
        draw.rectangle((x, fy, x + tw + 1, fy + th + 1), outline=(200, 200, 200))
        sheet.paste(image, (x + 1 + (tw - image.width) // 2, fy + 1 + (th - image.height) // 2))
    return sheet


# --- files ----------------------------------------------------------------------------------------


def png_bytes(image):
    """PNG bytes of `image` with no metadata (no time, text, dpi or colour profile chunks): the same
    pixels always give the same bytes."""
    if not isinstance(image, Image.Image):
        raise ValueError(f"expected a PIL image, got {type(image).__name__}")
    clean = image.convert("RGB") if image.mode not in ("RGB", "RGBA", "L", "P") else image.copy()
    clean.info = {}
    buf = io.BytesIO()
    clean.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def save_png(image, path):
    """Write `image` as a PNG at `path` atomically, with deterministic bytes (see `png_bytes`)."""
    write_atomic(path, png_bytes(image))
    return os.fspath(path)


def save_gif(images, path, duration_ms=600, labels=None, *, loop=0, scale=1.0):
    """Write the animated GIF of `animate(images, labels, ...)` to `path` atomically."""
    write_atomic(path, animate(images, labels, duration_ms=duration_ms, loop=loop, scale=scale))
    return os.fspath(path)


# --- from a trace graph ---------------------------------------------------------------------------


def from_trace_graph(graph, field="data"):
    """`(attention, labels)` from a trace graph (format 1, see docs/trace-format.md).

    Attention-weight nodes are those with stage "weights" and a `key` attribute; `field` is "data"
    (the weights) or "grad" (d loss / d weight, for `grad=True`). Labels are the graph's `chars` for
    the query positions. Works with a networkx graph or anything with `.graph` and `.nodes(data=True)`."""
    if field not in ("data", "grad"):
        raise ValueError(f"field must be 'data' or 'grad', got {field!r}")
    attrs = getattr(graph, "graph", None)
    if not isinstance(attrs, dict):
        raise ValueError("not a trace graph: it has no graph attributes")
    if attrs.get("format") != 1:
        raise ValueError(f"unsupported trace format {attrs.get('format')!r} (this reader knows format 1)")
    chars = attrs.get("chars")
    if not isinstance(chars, (list, tuple)):
        raise ValueError("the trace graph has no 'chars' attribute")
    found = {}
    for _, d in graph.nodes(data=True):
        if d.get("stage") != "weights" or "key" not in d:
            continue
        try:
            key = (int(d["layer"]), int(d["head"]), int(d["pos"]), int(d["key"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError("an attention-weight node lacks layer, head, pos or key") from None
        if field not in d:
            raise ValueError(f"an attention-weight node has no {field!r}")
        found[key] = d[field]
    if not found:
        raise ValueError("the trace graph has no attention-weight nodes (stage 'weights' with a 'key')")
    n_layers = max(k[0] for k in found) + 1
    n_heads = max(k[1] for k in found) + 1
    n = max(k[2] for k in found) + 1
    if len(chars) < n:
        raise ValueError(f"the trace graph has {len(chars)} chars for {n} positions")
    attention = []
    for li in range(n_layers):
        layer = []
        for hi in range(n_heads):
            rows = []
            for q in range(n):
                row = []
                for k in range(q + 1):
                    if (li, hi, q, k) not in found:
                        raise ValueError(f"the trace graph lacks the weight of layer {li} head {hi} query {q} key {k}")
                    row.append(found[(li, hi, q, k)])
                rows.append(row)
            layer.append(rows)
        attention.append(layer)
    return attention, list(chars[:n])
