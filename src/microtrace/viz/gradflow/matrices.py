"""The gradient-flow figure of one step: per parameter matrix, how big its gradient and its update are.

Top panel (log axis): the gradient norm of each matrix as a bar, its mean |g| as a dot and its max |g|
as a tick. Under it, the share of entries whose gradient is exactly zero and, under each MLP's fc1,
its dead ReLU units (no gradient through the unit at any position of the step). Bottom panel (log
axis): the update-to-data ratio ||update|| / ||data|| of the step's update (Adam's, in microGPT), with the customary
1e-3 guide line. Matrices are in model order (wte, wpe, lm_head, then each layer's attention and MLP).

    data = flow_data(trace.select(ops=("relu",)))   # the ReLUs are all it reads of the nodes
    image = gradflow_figure(data)              # PIL.Image (RGB)
    svg = gradflow_figure(data, fmt="svg")     # str, the same figure

Zero gradients, nan and inf cannot sit on a log axis: a zero is written as "0" at the foot of its
column, a nan or inf is a grey bar over the whole height labelled "nan" / "inf".
"""

from dataclasses import dataclass

from microtrace.tracer import Trace
from microtrace.tracer.analysis import stats
from microtrace.tracer.analysis.doctor import DEAD_RELU_SHARE
from microtrace.tracer.analysis.queries import dead_relu_counts
from microtrace.tracer.model.trace import TraceError
from microtrace.viz.draw import axes, fonts
from microtrace.viz.draw.axes import INK, MUTED_INK, PALETTE, finite
from microtrace.viz.draw.canvas import make_canvas
from microtrace.viz.draw.printsize import note_too_wide, scaled_to_fit
from microtrace.viz.draw.text import TextBlock, Words, heading, note, shorten

NORM_COLOR = PALETTE[0]
MEAN_COLOR = PALETTE[1]
MAX_COLOR = (60, 60, 60)
RATIO_COLOR = PALETTE[6]
GUIDE_COLOR = PALETTE[2]
NONFINITE_COLOR = (150, 150, 150)
ALERT = (200, 30, 30)

GUIDE_RATIO = 1e-3  # the customary healthy update-to-data ratio (Karpathy, CS231n notes)
GUIDE_LABEL = "1e-3 guide"

# Lengths at scale 1.
MARGIN = 24
COLUMN_MIN = 76
GRAD_PANEL = 270
RATIO_PANEL = 170
PANEL_GAP = 30


@dataclass(frozen=True)
class FlowData:
    """What the figure shows: per-matrix `param_stats` (model order) and where they come from."""

    stats: dict
    step: int | None = None
    loss: float | None = None
    doc: str | None = None
    dead: dict | None = None  # "layer0" -> (dead units, units), from the step's trace; None if unknown
    optimizer: str | None = None  # what made the update ("Adam"); None if the trace does not say


def flow_data(G):
    """`FlowData` of a trace graph (its ReLU nodes suffice): its param_stats, step, loss, document, dead
    ReLU units and optimizer: Adam for a step of microtrace's own training (microGPT's), none named for a
    script's (its own optimizer moved the parameters: the trace records the update, not how it was made)."""
    stats = G.graph["param_stats"]
    dead = {f"layer{layer}": counts for layer, counts in dead_relu_counts(G).items()}  # as doctor counts them
    optimizer = None if "script" in G.graph else "Adam"
    return FlowData(stats, G.graph.get("step"), G.graph.get("loss"), G.graph.get("doc"), dead, optimizer)


def ratio_title(data):
    """The update-ratio panel's title, naming the optimizer where the trace says which."""
    return f"Update / data ratio ({data.optimizer})" if data.optimizer else "Update / data ratio"


def _label_parts(name):
    """("attn_wq", "layer0") for "layer0.attn_wq"; ("wte", "") for "wte"."""
    if "." in name:
        layer, short = name.split(".", 1)
        return short, layer
    return name, ""


def _percent(f):
    if f == 0:
        return "0%"
    if f < 0.01:
        return "<1%"
    if f > 0.99 and f < 1:
        return ">99%"
    return f"{f * 100:.0f}%"


@dataclass(frozen=True)
class GradflowLayout:
    """Where everything goes, in pixels; `bar_box(i)` is the gradient-norm bar of matrix i."""

    width: int
    height: int
    names: tuple
    heading: TextBlock
    legend_y: int
    columns_x0: int
    column_w: int
    grad_box: tuple  # (x0, y0, x1, y1) of the top plot
    grad_scale: axes.LogScale
    table_y: int  # names, zero-grad and dead-ReLU rows under the top plot
    ratio_box: tuple  # None when the step made no update
    ratio_scale: axes.LogScale
    ratio_names_y: int
    note_y: int
    scale: float
    grad_norms: tuple  # per matrix, for bar_box
    legend_rows: tuple = ()  # the legend's items, row by row
    foot: TextBlock | None = None  # the footnote

    def column_center(self, i):
        return self.columns_x0 + self.column_w * i + self.column_w / 2

    def bar_box(self, i, value=None):
        """The norm bar of matrix i (to `value`, default its grad_norm): x0, y_top, x1, y_bottom."""
        cx, half = self.column_center(i), self.column_w * 0.24
        value = self.grad_norms[i] if value is None else value
        return (round(cx - half), round(self.grad_scale.pos(value)), round(cx + half), self.grad_box[3] - 1)

    def ratio_bar_box(self, i, value):
        cx, half = self.column_center(i), self.column_w * 0.24
        return (round(cx - half), round(self.ratio_scale.pos(value)), round(cx + half), self.ratio_box[3] - 1)


def _has_nonfinite(stats):
    keys = ("grad_norm", "grad_abs_mean", "grad_abs_max", "update_ratio")
    return any(k in st and not finite(st[k]) for st in stats.values() for k in keys)


def _has_update(stats):
    return all("update_ratio" in s for s in stats.values())


def _has_mlp(names):
    """Whether the parameter matrices `names` include an MLP's (its ReLU units can be dead)."""
    return any(n.endswith(".mlp_fc1") for n in names)


def _row_height(scale):
    return fonts.line_height(fonts.sizes(scale).label) + fonts.px(6, scale)


def _names_height(scale):
    s = fonts.sizes(scale)
    return fonts.line_height(s.label) + fonts.line_height(s.small) + fonts.px(6, scale)


def _title(data):
    if data.step is None:
        return "Gradient flow per parameter matrix"
    return f"Gradient flow at step {data.step}"


def _caption(data, line="column"):
    parts = []
    if data.doc:  # (a script's trace of no text has an empty one: nothing to name)
        parts.append(f"Document {shorten(data.doc)!r}")
    if data.loss is not None:
        parts.append(f"loss {data.loss:.4f}" if finite(data.loss) else f"loss {data.loss}")
    lead = ", ".join(parts)
    text = (lead + ". " if lead else "") + f"One {line} per parameter matrix in model order; log scales."
    if not _has_update(data.stats):  # a trace of any text (trace_text): forward and backward only
        text += " Forward and backward only: no update."
    return text


def _note(names):
    """The footnote, of the parameters the figure has: the embeddings' zero rows only if it has wte or
    wpe, dead ReLU units only if it has an MLP."""
    embeddings = [n for n in ("wte", "wpe") if n in names]
    zero = "Zero grad: entries whose gradient is exactly 0"
    if embeddings:
        zero += f" (in {' and '.join(embeddings)}, the rows of tokens and positions absent from the document)"
    parts = [zero + "."]
    if any(n.endswith(".mlp_fc1") for n in names):
        parts.append("Dead ReLU: MLP units that passed no gradient at any position.")
    return " ".join(parts)


def decades(stats):
    """The decades of the gradient axis and of the update-ratio axis (None without an update)."""
    grad_values = [st[k] for st in stats.values() for k in ("grad_norm", "grad_abs_mean", "grad_abs_max")]
    if not _has_update(stats):
        return axes.decade_span(grad_values), None
    # the guide never sits on the frame
    ratios = [st["update_ratio"] for st in stats.values()]
    return axes.decade_span(grad_values), axes.decade_span(ratios, include=[GUIDE_RATIO / 10, GUIDE_RATIO * 10])


def _legend_items(data, has_update, scale):
    items = [
        ("bar", NORM_COLOR, "gradient norm", None),
        ("dot", MEAN_COLOR, "mean |g|", None),
        ("tick", MAX_COLOR, "max |g|", None),
    ]
    if has_update:
        items += [
            ("bar", RATIO_COLOR, "update / data", None),
            ("guide", GUIDE_COLOR, GUIDE_LABEL, (fonts.px(6, scale), fonts.px(4, scale))),
        ]
    if _has_nonfinite(data.stats):
        items.append(("bar", NONFINITE_COLOR, "nan / inf", None))
    return items


def gradflow_layout(data, scale=1.0, width=None, words=Words()):
    """The `GradflowLayout` of `gradflow_figure(data, scale=scale, width=width)`: columns stretched to
    `width` pixels when given (and narrower than that), the legend in as many rows as it needs."""
    fonts.check_scale(scale)
    stats = data.stats
    if not stats:
        raise TraceError(
            "the step uses no parameter matrices (no parameters were found for it): no gradient flow to draw"
        )
    s = fonts.sizes(scale)
    names = tuple(stats)
    column_w = max(
        fonts.px(COLUMN_MIN, scale),
        max(max(fonts.text_width(a, s.label), fonts.text_width(b, s.small)) for a, b in map(_label_parts, names))
        + fonts.px(14, scale),
    )
    (lo, hi), ratio_span = decades(stats)
    has_update = ratio_span is not None
    if has_update:
        rlo, rhi = ratio_span
    margin = fonts.px(MARGIN, scale)
    row_label_w = fonts.text_width("dead ReLU", s.label) + fonts.px(10, scale)
    probe = axes.LogScale(min(lo, rlo) if has_update else lo, hi, 0, 1)
    axis_w = max(axes.y_axis_width(probe, s.tick), row_label_w)
    x0 = margin + axis_w
    # The guide's label sits right of the ratio panel, level with its line, clear of the bars.
    gutter = fonts.text_width(GUIDE_LABEL, s.tick) + fonts.px(8, scale) if has_update else 0
    if width is not None:
        column_w = max(column_w, (width - x0 - gutter - margin) // len(names))
    plot_w = column_w * len(names)
    # at least as wide as the widest legend item, a single matrix's figure too
    widest_item = max(
        axes.legend_item_width(label, s.label, scale) for _, _, label, _ in _legend_items(data, has_update, scale)
    )
    width = max(x0 + plot_w + gutter + margin, x0 + widest_item + margin, width or 0)
    head = heading(words.title_of(_title(data)), words.caption_of(_caption(data)), width - 2 * margin, scale)
    y = margin + head.height
    legend_y = y
    legend_rows = axes.legend_rows(_legend_items(data, has_update, scale), s.label, scale, width - x0 - margin)
    y += len(legend_rows) * (fonts.line_height(s.label) + fonts.px(4, scale)) + fonts.px(10, scale)
    panel_title = fonts.line_height(s.label) + fonts.px(6, scale)
    y += panel_title
    grad_box = (x0, y, x0 + plot_w, y + fonts.px(GRAD_PANEL, scale))
    grad_scale = axes.LogScale(lo, hi, grad_box[3] - 1, grad_box[1] + 1)
    table_y = grad_box[3] + fonts.px(8, scale)
    y = table_y + _names_height(scale) + (1 + _has_mlp(data.stats)) * _row_height(scale)
    ratio_box = ratio_scale = None
    ratio_names_y = y
    if has_update:
        y += fonts.px(PANEL_GAP, scale) + panel_title
        ratio_box = (x0, y, x0 + plot_w, y + fonts.px(RATIO_PANEL, scale))
        ratio_scale = axes.LogScale(rlo, rhi, ratio_box[3] - 1, ratio_box[1] + 1)
        ratio_names_y = ratio_box[3] + fonts.px(8, scale)
        y = ratio_names_y + _names_height(scale)
    note_y = y + fonts.px(12, scale)
    foot = note(words.caption_of(_note(names)), width - 2 * margin, scale)
    height = note_y + foot.height + margin
    return GradflowLayout(
        width,
        height,
        names,
        head,
        legend_y,
        x0,
        column_w,
        grad_box,
        grad_scale,
        table_y,
        ratio_box,
        ratio_scale,
        ratio_names_y,
        note_y,
        scale,
        tuple(st["grad_norm"] for st in stats.values()),
        tuple(legend_rows),
        foot,
    )


def gradflow_figure(data, fmt="png", scale=1.0, width=None, dpi=None, words=Words()):
    """The figure as a `PIL.Image` (fmt "png"), an SVG document string (fmt "svg") or a `PDF` (fmt "pdf");
    `width` and `dpi` as `printsize` gives them (a figure laid out for print), `words` its title and caption."""
    L = gradflow_layout(data, scale, width, words)
    c = make_canvas(fmt, L.width, L.height, title=_title(data), scale=scale, dpi=dpi)
    margin = fonts.px(MARGIN, scale)
    L.heading.draw(c, margin, margin)
    _legend(c, L, data)
    _grad_panel(c, L, data)
    _names_row(c, L, L.table_y)
    _table_rows(c, L, data)
    if L.ratio_box:
        _ratio_panel(c, L, data)
        _names_row(c, L, L.ratio_names_y)
    L.foot.draw(c, margin, L.note_y)
    return c.result()


def _legend(c, L, data):
    s = fonts.sizes(L.scale)
    for i, row in enumerate(L.legend_rows):
        y = L.legend_y + i * (fonts.line_height(s.label) + fonts.px(4, L.scale))
        axes.draw_legend_row(c, row, L.grad_box[0], y, s.label, L.scale)


def _panel_title(c, L, box, text):
    s = fonts.sizes(L.scale)
    c.text((box[0], box[1] - fonts.px(6, L.scale)), text, s.label, INK, anchor="ld")


def _nonfinite_bar(c, L, i, box, value, st=None):
    """A grey bar over the panel for a nan/inf statistic, with how many of the matrix's gradients were
    not finite (`80/96`) when known: a nan norm may hide one bad entry or all of them."""
    s = fonts.sizes(L.scale)
    cx, half = L.column_center(i), L.column_w * 0.24
    tooltip = None
    if st is not None and "nonfinite" in st:
        n = st["shape"][0] * st["shape"][1]
        tooltip = f"{L.names[i]}: {stats.describe(value, st['nonfinite'], n)}"
    c.rect((round(cx - half), box[1] + 1, round(cx + half), box[3] - 1), fill=NONFINITE_COLOR, tooltip=tooltip)
    y = box[1] + fonts.px(4, L.scale)
    c.text((cx, y), "nan" if value != value else "inf", s.small, (255, 255, 255), anchor="ma")
    if tooltip and st["nonfinite"]:
        lines = stats.nonfinite_note(st["nonfinite"], n).strip("()").split()[:3]  # 80 / of / 96
        for k, line in enumerate(lines, 1):
            c.text((cx, y + k * fonts.line_height(s.small)), line, s.small, (255, 255, 255), anchor="ma")


def _zero_mark(c, L, i, box):
    s = fonts.sizes(L.scale)
    c.text((L.column_center(i), box[3] - fonts.px(4, L.scale)), "0", s.small, ALERT, anchor="md")


def _tooltip(name, st):
    return (
        f"{name} ({'x'.join(map(str, st['shape']))}): gradient norm {st['grad_norm']:.3g}, "
        f"mean |g| {st['grad_abs_mean']:.3g}, max |g| {st['grad_abs_max']:.3g}, zero {st['zero_fraction']:.0%}"
    )


def _grad_panel(c, L, data):
    s = fonts.sizes(L.scale)
    box = L.grad_box
    _panel_title(c, L, box, "Gradient of the step's loss")
    axes.draw_y_axis(c, L.grad_scale, box, s.tick, label="|gradient|")
    r = fonts.px(5, L.scale)
    for i, name in enumerate(L.names):
        st = data.stats[name]
        norm = st["grad_norm"]
        if not finite(norm):
            _nonfinite_bar(c, L, i, box, norm, st)
            continue
        if norm == 0:
            _zero_mark(c, L, i, box)
            continue
        c.rect(L.bar_box(i), fill=NORM_COLOR, tooltip=_tooltip(name, st))
        cx = L.column_center(i)
        mx = st["grad_abs_max"]
        if finite(mx) and mx > 0:
            y = L.grad_scale.pos(mx)
            half, t = L.column_w * 0.34, fonts.px(1.5, L.scale)
            c.rect((round(cx - half), round(y - t), round(cx + half), round(y + t)), fill=MAX_COLOR)
        mean = st["grad_abs_mean"]
        if finite(mean) and mean > 0:
            c.circle((cx, L.grad_scale.pos(mean)), r, MEAN_COLOR, outline=(255, 255, 255))
    axes.frame(c, box)


def _ratio_panel(c, L, data):
    s = fonts.sizes(L.scale)
    box = L.ratio_box
    _panel_title(c, L, box, ratio_title(data))
    axes.draw_y_axis(c, L.ratio_scale, box, s.tick, label="||update|| / ||data||")
    for i, name in enumerate(L.names):
        ratio = data.stats[name]["update_ratio"]
        if not finite(ratio):
            _nonfinite_bar(c, L, i, box, ratio)
        elif ratio == 0:
            _zero_mark(c, L, i, box)
        else:
            c.rect(L.ratio_bar_box(i, ratio), fill=RATIO_COLOR, tooltip=f"{name}: update/data ratio {ratio:.3g}")
    y = round(L.ratio_scale.pos(GUIDE_RATIO))
    c.line(
        [(box[0] + 1, y), (box[2] - 1, y)],
        GUIDE_COLOR,
        width=fonts.px(2, L.scale),
        dash=(fonts.px(6, L.scale), fonts.px(4, L.scale)),
    )
    c.text((box[2] + fonts.px(6, L.scale), y), GUIDE_LABEL, s.tick, GUIDE_COLOR, anchor="lm")
    axes.frame(c, box)


def _names_row(c, L, y):
    s = fonts.sizes(L.scale)
    for i, name in enumerate(L.names):
        short, layer = _label_parts(name)
        cx = L.column_center(i)
        c.text((cx, y), short, s.label, INK, anchor="ma")
        if layer:
            c.text((cx, y + fonts.line_height(s.label)), layer, s.small, MUTED_INK, anchor="ma")


def _table_rows(c, L, data):
    s = fonts.sizes(L.scale)
    y = L.table_y + _names_height(L.scale)
    label_x = L.grad_box[0] - fonts.px(8, L.scale)
    c.text((label_x, y), "zero grad", s.label, MUTED_INK, anchor="ra")
    if _has_mlp(data.stats):  # (a model without an MLP has no ReLU to count)
        c.text((label_x, y + _row_height(L.scale)), "dead ReLU", s.label, MUTED_INK, anchor="ra")
    for i, name in enumerate(L.names):
        cx = L.column_center(i)
        zf = data.stats[name]["zero_fraction"]
        color = ALERT if zf == 1 else (INK if zf > 0 else MUTED_INK)
        c.text((cx, y), _percent(zf), s.label, color, anchor="ma")
        if name.endswith(".mlp_fc1") and data.dead is not None:
            dead, units = data.dead.get(name.split(".")[0], (0, 0))
            if units:
                color = ALERT if dead >= DEAD_RELU_SHARE * units else (INK if dead else MUTED_INK)
                c.text((cx, y + _row_height(L.scale)), f"{dead}/{units}", s.label, color, anchor="ma")


def trace_figure(trace: Trace, fmt: str = "png", per_position: bool = False, scale: float = 1.0, print_size=None):
    """The gradient-flow figure of a traced step: per matrix, or with `per_position` along the sequence
    (viz/gradflow_positions.py). Uses the elementary graph, or the fused one if that is all a file holds.
    `print_size` (a `printsize.PrintSize`) lays it out for print instead of `scale`: the per-matrix
    columns fill its width, the per-position figure is drawn as large as fits it."""
    view = trace.default_view()
    ps = print_size
    if per_position:
        from microtrace.viz.gradflow.positions import position_data, positions_figure, positions_layout

        data = position_data(trace.collapse("block", view))
        if ps is None:
            return positions_figure(data, fmt, scale)
        # the KV cache's matrices under the heatmap when the two side by side do not fit the width
        wide = ps.width_pt is not None and positions_layout(data, ps.scale(fmt), ps.words).width > ps.width_px(fmt)
        scale, dpi = scaled_to_fit(
            "the gradient-flow figure", ps, fmt, lambda s: positions_layout(data, s, ps.words, wide).width
        )
        return positions_figure(data, fmt, scale, dpi, ps.words, wide)
    data = flow_data(trace.select(view, ops=("relu",)))
    if ps is None:
        return gradflow_figure(data, fmt, scale)
    scale, width = ps.scale(fmt), ps.width_px(fmt)
    if width is None or gradflow_layout(data, scale, None, ps.words).width <= width:
        return gradflow_figure(data, fmt, scale, width, ps.dpi_of(fmt), ps.words)
    # the columns do not fit: one row per matrix instead, the panels side by side or stacked
    from microtrace.viz.gradflow.rows import rows_figure, rows_width

    needed = rows_width(data, scale)
    if needed > width:
        note_too_wide("the gradient-flow figure", needed, ps, fmt)
    return rows_figure(data, fmt, scale, width, ps.dpi_of(fmt), ps.words)
