"""Heatmap grids of attention: one heatmap per (layer, head), queries as rows, keys as columns.

Input: `attention[layer][head][query]` lists the weights of keys 0..query, `labels[i]` the character of
position i (see `viz.attention`); with `grad=True` the numbers are d loss / d weight.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from microtrace.util import numfmt
from microtrace.viz.attention import parts as P
from microtrace.viz.attention.inputs import all_values, has_nonfinite, validate_attention
from microtrace.viz.draw import colormap, fonts


def _format_cell(v, grad, unit=1.0):
    """A weight as .42; a gradient as a multiple of the figure's `unit` with one decimal (-1.6 for
    -0.016 in units of 0.01): short enough for a cell, and one unit said once in the notes."""
    if not grad:
        return numfmt.weight(v)
    text = f"{v / unit:.1f}"
    return "0" if text in ("0.0", "-0.0") else text


def value_unit(scale_obj, grad):
    """The power of ten the numbers of a --grad figure are printed in (1 for weights)."""
    if not grad or not scale_obj.vmax > 0:
        return 1.0
    return 10.0 ** math.floor(math.log10(scale_obj.vmax))


def _value_font_size(cell):
    return max(7, int(round(cell * 0.36)))


def _values_fit(values, cell, grad, unit=1.0):
    """Whether every value's text fits inside a cell (printed all or none, so a figure is uniform)."""
    size = _value_font_size(cell)
    if fonts.line_height(size) > cell - 2:
        return False
    widest = max((fonts.text_width(_format_cell(v, grad, unit), size) for v in values if math.isfinite(v)), default=0)
    return widest <= cell - 4


def _values_note(values, numbers, cell, grad, unit):
    """What the notes say about printed values: the unit of printed gradients, or why nothing is printed."""
    if not values:
        return []
    if not _values_fit(numbers, cell, grad, unit):
        return ["The numbers do not fit the cells at this scale, so none are printed: draw at scale 2."]
    if grad:
        return [
            f"Numbers in the cells: d loss / d weight in units of {numfmt.short(unit)} "
            f"(-1.6 is {numfmt.short(-1.6 * unit)})."
        ]
    return []


def _staircase(x0, y0, n, cell):
    """Outline points of the lower triangle (cells with key <= query) of a heatmap at (x0, y0)."""
    pts = [(x0, y0)]
    for q in range(n):
        pts.append((x0 + (q + 1) * cell, y0 + q * cell))
        pts.append((x0 + (q + 1) * cell, y0 + (q + 1) * cell))
    pts.append((x0, y0 + n * cell))
    return pts


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
    content_width: int = 0  # the width the grid itself needs, margins included
    bar_below: int = 0  # the colour bar's length when it lies under the grid (a narrow width), else 0

    def cell_box(self, layer, head, query, key):
        """(x0, y0, x1, y1) of a cell, inclusive; x grows with `key`, y with `query`."""
        x, y = self.heatmap_origins[layer][head]
        c = self.cell
        return (x + key * c, y + query * c, x + (key + 1) * c - 1, y + (query + 1) * c - 1)

    def cell_center(self, layer, head, query, key):
        x0, y0, x1, y1 = self.cell_box(layer, head, query, key)
        return ((x0 + x1) // 2, (y0 + y1) // 2)


def _panel_sizes(n, n_layers, n_heads, labels, scale, cell):
    """(panel width, panel height, row-label width, column-label height, rotate) of one heatmap."""
    s = fonts.sizes(scale)
    pad = fonts.px(P.LABEL_PAD, scale)
    widest = max(fonts.token_width(label, s.label) for label in labels)
    tallest = max(fonts.token_height(label, s.label) for label in labels)
    row_label_w = max(cell, widest) + pad  # Lq
    rotate = widest > cell - 2
    col_label_h = (widest if rotate else max(fonts.line_height(s.label), tallest)) + pad  # Lk
    header_h = fonts.line_height(s.header) + fonts.px(P.HEADER_PAD, scale)  # Hh
    header_w = fonts.text_width(f"layer {n_layers - 1} · head {n_heads - 1}", s.header)
    panel_w = max(row_label_w + n * cell, row_label_w + header_w)  # Pw
    panel_h = header_h + n * cell + col_label_h  # Ph
    return panel_w, panel_h, row_label_w, col_label_h, rotate


def _fitted(n, n_layers, n_heads, labels, scale, fit, side_w, pack=False):
    """(cell, cols) for `fit`: the most heads per row (up to `fit.cols`) that fit its width at the usual
    cell size, else one head per row with cells as large as fit (down to a label's height). `pack`: the
    most heads per row with cells down to a label's height before one head per row."""
    s = fonts.sizes(scale)
    cell = fonts.px(P.CELL, scale)
    gap = fonts.px(P.PANEL_GAP, scale)
    cols = min(fit.cols or n_heads, n_heads)
    if fit.width is None:
        return cell, cols

    def width(cell, cols):
        panel_w = _panel_sizes(n, n_layers, n_heads, labels, scale, cell)[0]
        return side_w + cols * panel_w + (cols - 1) * gap

    smallest = fonts.line_height(s.small)
    if pack and fit.cols is None:  # the most heads a row whose cells still hold a label, the cells shrunk
        for k in range(cols, 1, -1):
            fits = [c for c in range(cell, smallest - 1, -1) if width(c, k) <= fit.width]
            if fits:
                return fits[0], k
        cols = 1
    while cols > 1 and width(cell, cols) > fit.width and fit.cols is None:
        cols -= 1
    while cell > smallest and width(cell, cols) > fit.width:
        cell -= 1
    return cell, cols


def _grid_layout(n, n_layers, n_heads, labels, scale, title, caption, notes, bar_label, scale_obj, nonfinite, fit):
    s = fonts.sizes(scale)
    m = fonts.px(fit.margin, scale)
    gap = fonts.px(P.PANEL_GAP, scale)
    pad = fonts.px(P.LABEL_PAD, scale)
    axis_w = fonts.line_height(s.axis) + pad  # A: "query", written upwards
    key_h = fonts.line_height(s.axis) + fonts.px(2, scale)  # K: "key" below the last row of panels
    header_h = fonts.line_height(s.header) + fonts.px(P.HEADER_PAD, scale)  # Hh

    def bar_parts(c):
        bar_length = max(n * c, fonts.px(P.BAR_MIN_LENGTH, scale), fonts.text_width(bar_label, s.axis))
        thickness = fonts.px(P.BAR_THICKNESS, scale)
        bar_w = colormap.colorbar_width(scale_obj, thickness=thickness, label=bar_label, scale=scale)
        bar_h = header_h - colormap.colorbar_pad(scale) + bar_length + 2 * colormap.colorbar_pad(scale)
        if nonfinite:
            legend_w, legend_h = P.nan_legend_size(scale, c)
            bar_w = max(bar_w, legend_w)
            bar_h += fonts.px(12, scale) + legend_h
        return bar_w, bar_h

    side_w = 2 * m + axis_w + fonts.px(P.BAR_GAP, scale) + bar_parts(fonts.px(P.CELL, scale))[0]
    c, cols = _fitted(n, n_layers, n_heads, labels, scale, fit, side_w)
    below = False
    if fit.width is not None and cols == 1:  # a narrow width: the bar under the grid leaves it to the heads
        c_below, cols_below = _fitted(n, n_layers, n_heads, labels, scale, fit, 2 * m + axis_w, pack=True)
        below = (cols_below, c_below) > (cols, c)
        c, cols = (c_below, cols_below) if below else (c, cols)
    panel_w, panel_h, row_label_w, col_label_h, rotate = _panel_sizes(n, n_layers, n_heads, labels, scale, c)
    rows_per_layer = -(-n_heads // cols)
    n_rows = n_layers * rows_per_layer
    grid_w = axis_w + cols * panel_w + (cols - 1) * gap
    grid_h = n_rows * panel_h + (n_rows - 1) * gap + key_h
    bar_w, bar_h = bar_parts(c)
    content_w = grid_w + fonts.px(P.BAR_GAP, scale) + bar_w
    content_h = max(grid_h, bar_h)
    thickness = fonts.px(P.BAR_THICKNESS, scale)
    if below:  # under the heatmaps, from the first one's left edge to the last one's right edge
        ends = colormap.hcolorbar_size(scale_obj, length=0, thickness=thickness, scale=scale)[0]
        below = max(2, grid_w - axis_w - row_label_w - ends)
        bar_h = colormap.hcolorbar_size(scale_obj, length=below, thickness=thickness, label=bar_label, scale=scale)[1]
        if nonfinite:
            bar_h += fonts.px(12, scale) + P.nan_legend_size(scale, c)[1]
        content_w = grid_w
        content_h = grid_h + fonts.px(P.PANEL_GAP, scale) + bar_h

    if fit.width is not None:
        wrap_w = max(fit.width, 2 * m + content_w) - 2 * m
        title_lines, caption_lines, note_lines, text_w = P.text_block(title, caption, notes, wrap_w, scale, wrap_w)
    else:
        title_lines, caption_lines, note_lines, text_w = P.text_block(title, caption, notes, content_w, scale)
    width = max(2 * m + max(content_w, text_w), fit.width or 0)
    top = m + P.title_height(title_lines, scale)
    height = top + content_h + P.caption_height(caption_lines, note_lines, scale) + m

    def origin(li, h):
        row, col = li * rows_per_layer + h // cols, h % cols
        return (m + axis_w + col * (panel_w + gap) + row_label_w, top + row * (panel_h + gap) + header_h)

    origins = tuple(tuple(origin(li, h) for h in range(n_heads)) for li in range(n_layers))
    bar_origin = (m + grid_w + fonts.px(P.BAR_GAP, scale), top + header_h - colormap.colorbar_pad(scale))
    if below:
        bar_origin = (m + axis_w + row_label_w, top + grid_h + fonts.px(P.PANEL_GAP, scale))
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
        content_width=2 * m + content_w,
        bar_below=int(below),
    )


def _grid_texts(labels, grad, nonfinite, scale_obj, notes, values_note=()):
    if grad:
        bar_label = "d loss / d weight"
        extra = [
            "Colour: d loss / d attention weight; red: raising the weight raises the loss, blue: lowers it; "
            f"white is zero; the scale ends at ±{numfmt.short(scale_obj.vmax)}."
        ]
    else:
        bar_label = "attention weight"
        extra = []
    base = [
        "Rows: query position (the token attending), top = first; columns: key position (the token attended to).",
        "Hatched cells above the diagonal are masked: a token cannot attend to later tokens.",
    ]
    text = P.notes_text(labels, grad, nonfinite, base + extra + list(values_note)) if notes else ""
    return bar_label, text


def _grid_plan(attention, labels, title, caption, grad, scale, notes, vmax, values=False, fit=P.Fit()):
    """`(GridLayout, plan)`: the layout `grid_layout` returns and, for `attention_grid` to draw with,
    the checked input, its colour scale and texts (as `_strip_plan` does for the strips)."""
    fonts.check_scale(scale)
    attention, labels = validate_attention(attention, labels, grad)
    numbers = all_values(attention)
    scale_obj = P.color_scale(numbers, grad, vmax)
    nonfinite = has_nonfinite(numbers)
    unit = value_unit(scale_obj, grad)
    values_note = _values_note(values, numbers, fonts.px(P.CELL, scale), grad, unit)  # said for the usual cell
    bar_label, note_text = _grid_texts(labels, grad, nonfinite, scale_obj, notes, values_note)
    lay = _grid_layout(
        len(labels),
        len(attention),
        len(attention[0]),
        labels,
        scale,
        title,
        caption,
        note_text,
        bar_label,
        scale_obj,
        nonfinite,
        fit,
    )
    return lay, dict(
        attention=attention,
        labels=labels,
        values=numbers,
        scale_obj=scale_obj,
        nonfinite=nonfinite,
        bar_label=bar_label,
        unit=unit,
    )


def grid_layout(
    attention: Sequence,
    labels: Sequence[str],
    *,
    title: str = "",
    caption: str = "",
    grad: bool = False,
    scale: float = 1.0,
    values: bool = False,
    notes: bool = True,
    vmax: float | None = None,
    fit: P.Fit = P.Fit(),
) -> GridLayout:
    """The `GridLayout` that `attention_grid` draws with the same arguments (for tests and overlays)."""
    return _grid_plan(attention, labels, title, caption, grad, scale, notes, vmax, values, fit)[0]


def attention_grid(
    attention: Sequence,
    labels: Sequence[str],
    *,
    title: str = "",
    caption: str = "",
    grad: bool = False,
    scale: float = 1.0,
    values: bool = False,
    notes: bool = True,
    vmax: float | None = None,
    fmt: str = "png",
    fit: P.Fit = P.Fit(),
    dpi: int | None = None,
) -> Image.Image | str:
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

    `fmt`: "png" returns a `PIL.Image` at `scale` times 96 DPI, "svg" the same figure as an SVG document
    (a str), "pdf" as a vector PDF page (`PDF`, bytes) of the size the PNG prints at.
    """
    lay, plan = _grid_plan(attention, labels, title, caption, grad, scale, notes, vmax, values, fit)
    attention, labels, all_values = plan["attention"], plan["labels"], plan["values"]
    scale_obj, nonfinite, bar_label = plan["scale_obj"], plan["nonfinite"], plan["bar_label"]
    n, n_layers, n_heads = len(labels), len(attention), len(attention[0])

    s = fonts.sizes(scale)
    c = lay.cell
    m = fonts.px(fit.margin, scale)
    canvas = P.new_figure(lay, scale, fmt, title, m, dpi)
    look = _PanelLook(
        scale=scale,
        grad=grad,
        scale_obj=scale_obj,
        unit=plan["unit"],
        show_values=values and _values_fit(all_values, c, grad, plan["unit"]),
    )
    origins = [xy for layer in lay.heatmap_origins for xy in layer]
    wide, high = fonts.text_size("query", s.axis)  # turned upwards: as high as the text is wide
    for li in range(n_layers):
        for hi in range(n_heads):
            _draw_panel(canvas, lay, li, hi, attention[li][hi], labels, look)
            x0, y0 = lay.heatmap_origins[li][hi]
            if x0 == origins[0][0]:  # "query" written upwards left of the first heatmap of each row
                canvas.vtext((m + high / 2, int(y0 + (n * c - wide) / 2) + wide / 2), "query", s.axis, P.MUTED_INK)
            if not any(x == x0 and y > y0 for x, y in origins):  # "key" under the heatmaps with none below
                canvas.text(
                    (x0 + n * c / 2, y0 + n * c + lay.col_label_height), "key", s.axis, P.MUTED_INK, anchor="ma"
                )

    bar_length = max(n * c, fonts.px(P.BAR_MIN_LENGTH, scale), fonts.text_width(bar_label, s.axis))
    legend_cell = c if nonfinite else None
    P.draw_colorbar_and_caption(canvas, lay, scale_obj, bar_length, bar_label, legend_cell, scale, m, lay.bar_below)
    return canvas.result()


@dataclass(frozen=True)
class _PanelLook:
    """What every heatmap of one grid is drawn with."""

    scale: float
    grad: bool
    scale_obj: object  # the colour scale
    show_values: bool
    unit: float  # what the printed numbers are multiples of (--grad)


def _draw_panel(c, lay, li, hi, rows, labels, look):
    """One heatmap on canvas `c`: its header, the cells (hatched above the diagonal), the outline and
    the labels."""
    s = fonts.sizes(look.scale)
    n, cell = len(labels), lay.cell
    pad = fonts.px(P.LABEL_PAD, look.scale)
    x0, y0 = lay.heatmap_origins[li][hi]
    header_y = y0 - fonts.px(P.HEADER_PAD, look.scale)
    c.text((x0, header_y), f"layer {li} · head {hi}", s.header, P.INK, anchor="ld")
    if n > 1:  # the masked future: the cells above the diagonal
        region = (x0, y0, x0 + n * cell - 1, y0 + n * cell - 1)
        masked = [
            (x0 + (q + 1) * cell, y0 + q * cell, x0 + n * cell - 1, y0 + (q + 1) * cell - 1) for q in range(n - 1)
        ]
        c.hatch(region, masked, fonts.px(P.HATCH_SPACING, look.scale), P.HATCH)
    value_size = _value_font_size(cell)
    for q, row in enumerate(rows):
        for k, v in enumerate(row):
            box = lay.cell_box(li, hi, q, k)
            color = look.scale_obj.color(v)
            c.rect(box, fill=color, tooltip=f"query {q} {labels[q]!r}, key {k} {labels[k]!r}: {v!r}")
            if not math.isfinite(v):
                P.draw_nan_mark(c, box, look.scale)
            elif look.show_values:
                centre = (box[0] + cell / 2, box[1] + cell / 2)
                c.text(
                    centre,
                    _format_cell(v, look.grad, look.unit),
                    value_size,
                    colormap.text_color_on(color),
                    anchor="mm",
                )
    if look.grad and n > 1:  # faint cell borders: near-zero cells are near-white
        for i in range(1, n):
            c.line([(x0 + i * cell, y0 + i * cell), (x0 + i * cell, y0 + n * cell - 1)], P.GRID_LINE)
            c.line([(x0, y0 + i * cell), (x0 + i * cell - 1, y0 + i * cell)], P.GRID_LINE)
    c.line(_staircase(x0, y0, n, cell) + [(x0, y0)], P.OUTLINE, width=max(1, fonts.px(1, look.scale)))
    # row labels (queries) in the gutter, column labels (keys) below
    for i, label in enumerate(labels):
        c.token((x0 - pad - (lay.row_label_width - pad) / 2, y0 + i * cell + cell / 2), label, s.label, P.INK)
        if lay.rotate_col_labels:
            c.vtoken((x0 + i * cell + cell / 2, y0 + n * cell + pad), label, s.label, P.INK)
        else:
            centre = (x0 + i * cell + cell / 2, y0 + n * cell + pad + fonts.line_height(s.label) / 2)
            c.token(centre, label, s.label, P.INK)
