"""The gradient-flow figure of one step turned on its side, for a printed width its columns do not fit.

One row per parameter matrix, in model order from the top; the statistics of `matrices` as horizontal
bars on log axes: the gradient norm (a bar), mean |g| (a dot) and max |g| (a tick), then the share of
zero gradients and the dead ReLU units, then the update-to-data ratio with its 1e-3 guide. On a page
the two panels stand side by side and share the rows' names; in a column they are stacked, each with
its own. `matrices.trace_figure` picks this layout when the columns are wider than the width asked.

    layout = rows_layout(data, scale, width)     # at least rows_width(data, scale) wide
    svg = rows_figure(data, "svg", scale, width)
"""

from dataclasses import dataclass

from microtrace.tracer.analysis.doctor import DEAD_RELU_SHARE
from microtrace.viz.draw import axes, fonts
from microtrace.viz.draw.axes import INK, MUTED_INK, finite
from microtrace.viz.draw.canvas import make_canvas
from microtrace.viz.draw.text import TextBlock, Words, heading, note
from microtrace.viz.gradflow import matrices as mx

PANEL_MIN = 80  # a log panel narrower than this (at scale 1) has no room for its bars
SIDE_GAP = 26  # between the panels side by side, at scale 1
STACK_GAP = 22  # between the stacked panels, at scale 1


@dataclass(frozen=True)
class Panel:
    """One panel: its plot `box` (x0, y0, x1, y1), its log `scale` along x, the x where the rows' names
    start (None: it shares those of the panel beside it) and the table columns' centres beside it."""

    box: tuple
    scale: axes.LogScale
    names_x: int | None
    columns: tuple = ()  # (centre x, header words, key) of the table columns right of the box
    title_y: int = 0  # the baseline of the panel's title


@dataclass(frozen=True)
class RowsLayout:
    width: int
    height: int
    names: tuple
    heading: TextBlock
    legend_y: int
    legend_x: int
    legend_rows: tuple
    row_h: int
    grad: Panel
    ratio: Panel | None
    foot: TextBlock
    note_y: int
    scale: float

    def row_center(self, panel, i):
        return panel.box[1] + self.row_h * i + self.row_h / 2


def _name_width(name, s, scale):
    short, layer = mx._label_parts(name)
    return fonts.text_width(short, s.label) + (fonts.px(5, scale) + fonts.text_width(layer, s.small) if layer else 0)


def _table(data, names, s, scale):
    """The table columns' (width, header words, key): the share of zero gradients, and the dead ReLU
    units when the model has an MLP."""
    cols = [(("zero", "grad"), "zero")]
    if data.dead is not None and any(n.endswith(".mlp_fc1") for n in names):
        cols.append((("dead", "ReLU"), "dead"))
    out = []
    for words, key in cols:
        values = [_cell(data, n, key)[0] for n in names]
        w = max(max(fonts.text_width(t, s.small) for t in words), max(fonts.text_width(v, s.label) for v in values))
        out.append((w + fonts.px(12, scale), words, key))
    return out


def _panel_min(span, s, scale):
    """The narrowest panel whose decades are labelled (every other one) without touching."""
    label = fonts.text_width("1e-10", s.tick) + fonts.px(6, scale)
    return max(fonts.px(PANEL_MIN, scale), round((span[1] - span[0]) / 2 * label))


def _decades_fitting(w, s, scale):
    """How many decades a panel `w` pixels wide can label without its labels touching."""
    return max(2, int(w // (fonts.text_width("1e-10", s.tick) + fonts.px(6, scale))))


class _Widths:
    """The widths the layout is made of, in pixels: margins, the rows' names, the table, the panels'
    narrowest."""

    def __init__(self, data, scale):
        s = fonts.sizes(scale)
        names = tuple(data.stats)
        self.margin = fonts.px(mx.MARGIN, scale)
        self.names = max(_name_width(n, s, scale) for n in names) + fonts.px(10, scale)
        self.table = _table(data, names, s, scale)
        self.table_w = sum(w for w, _, _ in self.table)
        self.gap = fonts.px(SIDE_GAP, scale)
        self.spans = mx.decades(data.stats)
        self.grad_min = _panel_min(self.spans[0], s, scale)
        self.ratio_min = _panel_min(self.spans[1], s, scale) if self.spans[1] else None

    def narrowest(self):
        """The narrowest figure: stacked, the table beside the ratio panel (beside the gradient's
        without one)."""
        if self.ratio_min is None:
            return 2 * self.margin + self.names + self.grad_min + self.table_w
        return 2 * self.margin + self.names + max(self.grad_min, self.ratio_min + self.table_w)

    def side_by_side(self, width):
        """Whether the panels fit side by side, sharing the rows' names, the table between them."""
        inner = width - 2 * self.margin - self.names - self.table_w - self.gap
        return self.ratio_min is not None and inner * 0.55 >= self.grad_min and inner * 0.45 >= self.ratio_min


def rows_width(data, scale):
    """The narrowest width (pixels) at which `rows_layout` lays the figure out (its panels stacked)."""
    return _Widths(data, scale).narrowest()


def rows_layout(data, scale, width, words=Words()):
    """The `RowsLayout` of the figure `width` pixels wide (at least `rows_width`)."""
    fonts.check_scale(scale)
    s = fonts.sizes(scale)
    W = _Widths(data, scale)
    width = max(width, W.narrowest())
    names = tuple(data.stats)
    margin, (grad_span, ratio_span) = W.margin, W.spans
    inner = width - 2 * margin - W.names  # right of the names
    side = W.side_by_side(width)
    caption = words.caption_of(mx._caption(data, "row"))
    head = heading(words.title_of(mx._title(data)), caption, width - 2 * margin, scale)
    y = margin + head.height
    legend_y = y
    legend = axes.legend_rows(mx._legend_items(data, ratio_span is not None, scale), s.label, scale, width - 2 * margin)
    y += len(legend) * (fonts.line_height(s.label) + fonts.px(4, scale)) + fonts.px(10, scale)
    row_h = fonts.line_height(s.label) + fonts.px(6, scale)
    title_h = fonts.line_height(s.label) + fonts.px(8, scale)
    axis_h = axes.x_axis_height(s.tick)
    x0 = margin + W.names

    def panel(x, y, w, span, names_x, columns, headers=True):  # headers: room for the table's, above the box
        top = title_h + (_headers_height(s, scale) if headers else 0)
        box = (x, y + top, x + w, y + top + row_h * len(names))
        cols, cx = [], box[2]
        for cw, header, key in columns:
            cols.append((cx + cw / 2, header, key))
            cx += cw
        log = axes.LogScale(*span, box[0] + 1, box[2] - 1, most=_decades_fitting(w, s, scale))
        return Panel(box, log, names_x, tuple(cols), y + title_h - fonts.px(8, scale))

    ratio = None
    if ratio_span is None:
        grad = panel(x0, y, inner - W.table_w, grad_span, margin, W.table)
    elif side:
        grad_w = round((inner - W.table_w - W.gap) * 0.55)
        grad = panel(x0, y, grad_w, grad_span, margin, W.table)
        ratio_x = grad.box[2] + W.table_w + W.gap
        ratio = panel(ratio_x, y, width - margin - ratio_x, ratio_span, None, ())
    else:
        grad = panel(x0, y, inner, grad_span, margin, (), headers=False)
        y2 = grad.box[3] + axis_h + fonts.px(STACK_GAP, scale)
        ratio = panel(x0, y2, inner - W.table_w, ratio_span, margin, W.table)
    bottom = max(p.box[3] for p in (grad, ratio) if p) + axis_h
    note_y = bottom + fonts.px(12, scale)
    foot = note(words.caption_of(mx._note(names)), width - 2 * margin, scale)
    height = note_y + foot.height + margin
    return RowsLayout(
        width, height, names, head, legend_y, margin, tuple(legend), row_h, grad, ratio, foot, note_y, scale
    )


def rows_figure(data, fmt, scale, width, dpi=None, words=Words()):
    """The figure of `rows_layout(data, scale, width)` as `matrices.gradflow_figure` gives its own."""
    L = rows_layout(data, scale, width, words)
    c = make_canvas(fmt, L.width, L.height, title=mx._title(data), scale=scale, dpi=dpi)
    margin = fonts.px(mx.MARGIN, scale)
    L.heading.draw(c, margin, margin)
    s = fonts.sizes(scale)
    for i, row in enumerate(L.legend_rows):
        y = L.legend_y + i * (fonts.line_height(s.label) + fonts.px(4, scale))
        axes.draw_legend_row(c, row, L.legend_x, y, s.label, scale)
    _grad_panel(c, L, data)
    if L.ratio:
        _ratio_panel(c, L, data)
    L.foot.draw(c, margin, L.note_y)
    return c.result()


def _headers_height(s, scale):
    """The table's two-line headers, between a panel's title and its box."""
    return 2 * fonts.line_height(s.small) + fonts.px(2, scale)


def _frame_panel(c, L, p, title, axis_label):
    s = fonts.sizes(L.scale)
    c.text((p.box[0], p.title_y), title, s.label, INK, anchor="ld")
    axes.draw_x_axis(c, p.scale, p.box, s.tick, label=axis_label)
    if p.names_x is not None:
        for i, name in enumerate(L.names):
            short, layer = mx._label_parts(name)
            y = L.row_center(p, i)
            c.text((p.names_x, y), short, s.label, INK, anchor="lm")
            if layer:
                x = p.names_x + fonts.text_width(short, s.label) + fonts.px(5, L.scale)
                c.text((x, y), layer, s.small, MUTED_INK, anchor="lm")


def _bar(p, cy, value, thick):
    return (p.box[0] + 1, round(cy - thick / 2), max(p.box[0] + 2, round(p.scale.pos(value))), round(cy + thick / 2))


def _odd_value(c, L, p, i, value):
    """A grey bar for nan/inf, a red 0 for a zero: neither sits on a log axis."""
    s = fonts.sizes(L.scale)
    cy = L.row_center(p, i)
    if finite(value):
        c.text((p.box[0] + fonts.px(4, L.scale), cy), "0", s.small, mx.ALERT, anchor="lm")
        return
    c.rect(_bar(p, cy, 10.0**p.scale.hi, L.row_h * 0.6), fill=mx.NONFINITE_COLOR)
    c.text(
        (p.box[0] + fonts.px(4, L.scale), cy), "nan" if value != value else "inf", s.small, (255, 255, 255), anchor="lm"
    )


def _grad_panel(c, L, data):
    p = L.grad
    _frame_panel(c, L, p, "Gradient of the step's loss", "|gradient|")
    r = min(fonts.px(5, L.scale), L.row_h * 0.28)
    for i, name in enumerate(L.names):
        st, cy = data.stats[name], L.row_center(p, i)
        norm = st["grad_norm"]
        if not finite(norm) or norm == 0:
            _odd_value(c, L, p, i, norm)
        else:
            c.rect(_bar(p, cy, norm, L.row_h * 0.5), fill=mx.NORM_COLOR, tooltip=mx._tooltip(name, st))
            mxv, mean = st["grad_abs_max"], st["grad_abs_mean"]
            if finite(mxv) and mxv > 0:
                x, t, half = p.scale.pos(mxv), fonts.px(1.5, L.scale), L.row_h * 0.36
                c.rect((round(x - t), round(cy - half), round(x + t), round(cy + half)), fill=mx.MAX_COLOR)
            if finite(mean) and mean > 0:
                c.circle((p.scale.pos(mean), cy), r, mx.MEAN_COLOR, outline=(255, 255, 255))
    axes.frame(c, p.box)
    _table_columns(c, L, p, data)


def _table_columns(c, L, p, data):
    s = fonts.sizes(L.scale)
    for cx, header, key in p.columns:
        for k, word in enumerate(header):
            y = p.box[1] - fonts.px(2, L.scale) - (len(header) - k) * fonts.line_height(s.small)
            c.text((cx, y), word, s.small, MUTED_INK, anchor="ma")
        for i, name in enumerate(L.names):
            text, color = _cell(data, name, key)
            if text:
                c.text((cx, L.row_center(p, i)), text, s.label, color, anchor="mm")


def _cell(data, name, key):
    """The text of a table cell and its colour, as `matrices` colours them."""
    if key == "zero":
        zf = data.stats[name]["zero_fraction"]
        return mx._percent(zf), mx.ALERT if zf == 1 else (INK if zf > 0 else MUTED_INK)
    if not name.endswith(".mlp_fc1"):
        return "", INK
    dead, units = data.dead.get(name.split(".")[0], (0, 0))
    if not units:
        return "", INK
    return f"{dead}/{units}", mx.ALERT if dead >= DEAD_RELU_SHARE * units else (INK if dead else MUTED_INK)


def _ratio_panel(c, L, data):
    p = L.ratio
    _frame_panel(c, L, p, mx.ratio_title(data), "||update|| / ||data||")
    for i, name in enumerate(L.names):
        ratio, cy = data.stats[name]["update_ratio"], L.row_center(p, i)
        if not finite(ratio) or ratio == 0:
            _odd_value(c, L, p, i, ratio)
        else:
            c.rect(
                _bar(p, cy, ratio, L.row_h * 0.5), fill=mx.RATIO_COLOR, tooltip=f"{name}: update/data ratio {ratio:.3g}"
            )
    _table_columns(c, L, p, data)
    x = round(p.scale.pos(mx.GUIDE_RATIO))
    dash = (fonts.px(6, L.scale), fonts.px(4, L.scale))
    c.line([(x, p.box[1] + 1), (x, p.box[3] - 1)], mx.GUIDE_COLOR, width=fonts.px(2, L.scale), dash=dash)
    # its name above its top, on the table headers' last line (they stand right of the panel)
    s = fonts.sizes(L.scale)
    c.text((x, p.box[1] - fonts.px(2, L.scale) - fonts.line_height(s.small)), mx.GUIDE_LABEL, s.small, mx.GUIDE_COLOR,
           anchor="ma")  # fmt: skip
    axes.frame(c, p.box)
