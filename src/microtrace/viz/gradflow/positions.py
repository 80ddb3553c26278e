"""Where the gradient goes along the sequence: per token position and block, and through the KV cache.

Left: a heatmap, one column per position (labelled with the token read there and, below it, the one to
predict) and one row per block from the loss down to the embedding, coloured by the norm of the
gradient of the nodes inside that block at that position (`trace.collapse("block")`, attribute
`grad_norm`). Right, one per layer: the gradient carried back through the KV cache. A key and a value
made at position i are reused by every later query position j, so gradient flows from position j's
attention block back into position i's: the cell (row i, column j) is the summed |gradient flow| along
those edges (`grad_flow_abs` of the collapsed edge posI/layerL/attn -> posJ/layerL/attn, i < j).

    data = position_data(trace.collapse("block"))
    image = positions_figure(data)               # PIL.Image; fmt="svg" for an SVG string
"""

import math
from dataclasses import dataclass

from microtrace.util import numfmt
from microtrace.viz.draw import axes, colormap, fonts
from microtrace.viz.draw.axes import INK, MUTED_INK
from microtrace.viz.draw.canvas import make_canvas
from microtrace.viz.draw.text import TextBlock, Words, heading, note, shorten

MARGIN = 24
CELL_W = 46
CELL_H = 30
KV_CELL = 30
GAP = 40
BAR_MIN_LEN = 120  # a colour bar is as long as what it colours, and at least this
BAR_THICKNESS = 14
EMPTY = (246, 246, 246)
HEAT_LABEL = "gradient norm"
KV_LABEL = "|gradient flow|"


@dataclass(frozen=True)
class PositionData:
    """Per-position gradient numbers of one step (rows listed top to bottom as drawn)."""

    labels: tuple  # token read at each position
    targets: tuple  # token to predict at each position
    rows: tuple  # block names, top to bottom: "loss", "lm_head", "layer0 mlp", "layer0 attn", "embed"
    grad: tuple  # grad[row][pos]: gradient norm inside the block
    kv: tuple  # kv[layer][i][j]: |gradient flow| from position j back into position i (i < j), else None
    step: int | None = None
    loss: float | None = None
    doc: str | None = None


def position_data(C):
    """`PositionData` of a block-level collapsed trace graph (`trace.collapse("block")`)."""
    if C.graph.get("level") != "block":
        raise ValueError("position_data needs the graph collapsed at level 'block'")
    positions = sorted({d["pos"] for _, d in C.nodes(data=True) if "pos" in d})
    n = len(positions)
    layers = sorted({d["layer"] for _, d in C.nodes(data=True) if "pos" in d and "layer" in d})
    scopes = [("loss", "loss"), ("lm_head", "lm_head")]
    for layer in reversed(layers):
        scopes += [(f"layer{layer} mlp", f"layer{layer}/mlp"), (f"layer{layer} attn", f"layer{layer}/attn")]
    scopes.append(("embed", "embed"))
    grad = []
    for _, path in scopes:
        grad.append(
            tuple(
                C.nodes[f"pos{p}/{path}"]["grad_norm"] if C.has_node(f"pos{p}/{path}") else math.nan for p in range(n)
            )
        )
    kv = []
    for layer in layers:
        rows = []
        for i in range(n):
            row = []
            for j in range(n):
                u, v = f"pos{i}/layer{layer}/attn", f"pos{j}/layer{layer}/attn"
                row.append(C.edges[u, v]["grad_flow_abs"] if i < j and C.has_edge(u, v) else None)
            rows.append(tuple(row))
        kv.append(tuple(rows))
    chars = list(C.graph.get("chars") or [])
    labels = tuple(chars[p] if p < len(chars) else "?" for p in range(n))
    targets = tuple(chars[p + 1] if p + 1 < len(chars) else "?" for p in range(n))
    return PositionData(
        labels,
        targets,
        tuple(name for name, _ in scopes),
        tuple(grad),
        tuple(kv),
        C.graph.get("step"),
        C.graph.get("loss"),
        C.graph.get("doc"),
    )


def _log_scale(values):
    """A viridis log colour scale over the nonzero finite |values|, ticks labelled as the axes are:
    every decade, and 2 and 5 times each when the range spans at most three decades."""
    mags = colormap.magnitude_range(values)
    lo, hi = mags if mags else (1e-3, 1.0)
    if hi < lo * 10:  # less than a decade: widen so that the bar still has ticks
        lo, hi = min(lo, hi / 10), hi * 1.01
    e0, e1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mantissas = (1, 2, 5) if e1 - e0 <= 3 else (1,)
    ticks = []
    for e in range(e0, e1 + 1):
        for m in mantissas:
            v = m * 10.0**e
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                ticks.append((v, axes.power_label(e) if m == 1 else numfmt.short(v, 2)))
    return colormap.ColorScale("log", lo, hi, tuple(ticks))


@dataclass(frozen=True)
class PositionsLayout:
    width: int
    height: int
    heading: TextBlock
    heat_x0: int
    heat_y0: int
    cell_w: int
    cell_h: int
    heat_bar: tuple  # (x, y, length) of the heatmap's colour bar (colormap.draw_colorbar)
    kv_boxes: tuple  # (x0, y0) of each layer's KV matrix
    kv_cell: int
    kv_label_w: int
    kv_bar: tuple  # (x, y, length) of the KV matrices' colour bar
    note_y: int
    scale: float
    stacked: bool = False  # the KV cache's matrices under the heatmap rather than right of it

    def cell_box(self, row, pos):
        x = self.heat_x0 + pos * self.cell_w
        y = self.heat_y0 + row * self.cell_h
        return (x, y, x + self.cell_w - 1, y + self.cell_h - 1)

    def kv_cell_box(self, layer, i, j):
        x0, y0 = self.kv_boxes[layer]
        return (
            x0 + j * self.kv_cell,
            y0 + i * self.kv_cell,
            x0 + (j + 1) * self.kv_cell - 1,
            y0 + (i + 1) * self.kv_cell - 1,
        )


NOTE = (
    "{top}: norm of the gradient at each position inside each block. {kv}: gradient carried back through "
    "the KV cache: the key and value made at position i (row) are read by every later query j (column); "
    "the cell is the summed |gradient flow| from j's attention back into i's. Empty cells: no such edge."
)


def _note(stacked):
    return NOTE.format(top="Top", kv="Below") if stacked else NOTE.format(top="Left", kv="Right")


def _bar(scale_obj, label, span, scale):
    """(width, length) of the shared colour bar beside a panel `span` pixels high (as long as it, at
    least BAR_MIN_LEN and the label's width)."""
    thick = fonts.px(BAR_THICKNESS, scale)
    length = max(span, fonts.px(BAR_MIN_LEN, scale), fonts.text_width(label, fonts.sizes(scale).axis))
    return colormap.colorbar_width(scale_obj, thickness=thick, label=label, scale=scale), length


def positions_layout(data, scale=1.0, words=Words(), stacked=False):
    """Where everything goes; `stacked`: the KV cache's matrices under the heatmap (a printed width the
    two side by side do not fit), each panel as wide as it is."""
    fonts.check_scale(scale)
    s = fonts.sizes(scale)
    n = len(data.labels)
    if n == 0:
        raise ValueError("no positions to draw")
    margin = fonts.px(MARGIN, scale)
    row_label_w = max(fonts.text_width(r, s.label) for r in data.rows) + fonts.px(10, scale)
    cell_w, cell_h = fonts.px(CELL_W, scale), fonts.px(CELL_H, scale)
    kv_cell = fonts.px(KV_CELL, scale)
    token_rows = 2 * fonts.line_height(s.label) + fonts.px(12, scale)
    heat_scale = _log_scale([v for row in data.grad for v in row])
    kv_scale = _log_scale([v for m in data.kv for row in m for v in row if v is not None])
    heat_bar_w, heat_len = _bar(heat_scale, HEAT_LABEL, len(data.rows) * cell_h, scale)
    kv_bar_w, kv_len = _bar(kv_scale, KV_LABEL, n * kv_cell, scale)
    pad = colormap.colorbar_pad(scale)  # the bar's gradient starts this far below its top: level with the panel
    panel_title = fonts.line_height(s.label) + fonts.px(8, scale)
    heat_x0 = margin + row_label_w
    heat_w = n * cell_w
    heat_bar = (heat_x0 + heat_w + fonts.px(16, scale), 0)
    kv_x = margin if stacked else heat_bar[0] + heat_bar_w + fonts.px(GAP, scale)
    kv_label_w = (
        max(fonts.token_width(label, s.label) for label in data.labels)
        + fonts.px(14, scale)
        + fonts.line_height(s.small)
    )  # token labels, and "key position i" written upwards
    kv_w = kv_label_w + n * kv_cell
    heat_right = heat_bar[0] + heat_bar_w + margin
    kv_right = kv_x + kv_w + fonts.px(16, scale) + kv_bar_w + margin
    if not data.kv:
        width = heat_right
    else:  # stacked: as wide as the wider panel; side by side: the KV panel is the right end
        width = max(heat_right, kv_right) if stacked else kv_right
    head = heading(words.title_of(_title(data)), words.caption_of(_caption(data)), width - 2 * margin, scale)
    heat_y0 = margin + head.height + panel_title
    heat_h = len(data.rows) * cell_h + token_rows
    heat_bottom = max(heat_y0 + heat_h, heat_y0 + heat_len + pad)
    top = heat_bottom + fonts.px(GAP, scale) + panel_title if stacked else heat_y0
    boxes = []
    y = top
    for _ in data.kv:
        boxes.append((kv_x + kv_label_w, y))
        y += n * kv_cell + token_rows + panel_title + fonts.px(12, scale)
    kv_bottom = y - panel_title - fonts.px(12, scale) if data.kv else top
    heat_bar = (heat_bar[0], heat_y0 - pad, heat_len)
    kv_bar = (kv_x + kv_w + fonts.px(16, scale), top - pad, kv_len)
    bottom = max(heat_bottom, kv_bottom, top + kv_len + pad if data.kv else top)
    note_y = bottom + fonts.px(14, scale)
    foot = note(words.caption_of(_note(stacked)), width - 2 * margin, scale)
    height = note_y + foot.height + margin
    return PositionsLayout(
        width,
        height,
        head,
        heat_x0,
        heat_y0,
        cell_w,
        cell_h,
        heat_bar,
        tuple(boxes),
        kv_cell,
        kv_label_w,
        kv_bar,
        note_y,
        scale,
        stacked,
    )


def _title(data):
    return "Gradient along the sequence" + (f" at step {data.step}" if data.step is not None else "")


def _caption(data):
    parts = []
    if data.doc:  # (a script's trace of no text has an empty one: nothing to name)
        parts.append(f"Document {shorten(data.doc)!r}")
    if data.loss is not None and math.isfinite(data.loss):
        parts.append(f"loss {data.loss:.4f}")
    return ", ".join(parts) + (". " if parts else "") + "Colours on log scales; grey: nan or inf."


def positions_figure(data, fmt="png", scale=1.0, dpi=None, words=Words(), stacked=False):
    """The figure as a `PIL.Image` (fmt "png"), an SVG document string (fmt "svg") or a `PDF` (fmt "pdf");
    `dpi` (pixels per inch, default 96 * scale) and `words` (title, caption) as a `PrintSize` gives them;
    `stacked` as `positions_layout` takes it."""
    L = positions_layout(data, scale, words, stacked)
    s = fonts.sizes(scale)
    c = make_canvas(fmt, L.width, L.height, title=_title(data), scale=scale, dpi=dpi)
    margin = fonts.px(MARGIN, scale)
    L.heading.draw(c, margin, margin)
    n = len(data.labels)
    heat_scale = _log_scale([v for row in data.grad for v in row])
    kv_scale = _log_scale([v for m in data.kv for row in m for v in row if v is not None])
    # the heatmap
    c.text((margin, L.heat_y0 - fonts.px(8, scale)), "Gradient norm per position and block", s.label, INK, anchor="ld")
    for r, name in enumerate(data.rows):
        box = L.cell_box(r, 0)
        c.text((L.heat_x0 - fonts.px(8, scale), (box[1] + box[3]) / 2), name, s.label, INK, anchor="rm")
        for p in range(n):
            _cell(c, L.cell_box(r, p), data.grad[r][p], heat_scale, s, show_value=True)
    token_y = L.heat_y0 + len(data.rows) * L.cell_h + fonts.px(6, scale)
    _token_row(c, data, [L.heat_x0 + (p + 0.5) * L.cell_w for p in range(n)], token_y, s, scale)
    label_x = L.heat_x0 - fonts.px(8, scale)
    c.text((label_x, token_y), "reads", s.small, MUTED_INK, anchor="ra")
    c.text(
        (label_x, token_y + fonts.line_height(s.label) + fonts.px(3, scale)),
        "predicts",
        s.small,
        MUTED_INK,
        anchor="ra",
    )
    _colorbar(c, heat_scale, L.heat_bar, HEAT_LABEL, scale)
    # the KV cache, one matrix per layer
    for layer, (x0, y0) in enumerate(L.kv_boxes):
        c.text(
            (x0 - L.kv_label_w, y0 - fonts.px(8, scale)),
            f"layer{layer}: gradient through the KV cache",
            s.label,
            INK,
            anchor="ld",
        )
        for i in range(n):
            cy = y0 + (i + 0.5) * L.kv_cell
            c.token(
                (x0 - fonts.px(6, scale) - fonts.token_width(data.labels[i], s.label) / 2, cy),
                data.labels[i],
                s.label,
                INK,
            )
            for j in range(n):
                box = L.kv_cell_box(layer, i, j)
                value = data.kv[layer][i][j]
                if value is None:
                    c.rect(box, fill=EMPTY)
                else:
                    _cell(c, box, value, kv_scale, s, show_value=False)
        _token_row(
            c,
            data,
            [x0 + (j + 0.5) * L.kv_cell for j in range(n)],
            y0 + n * L.kv_cell + fonts.px(6, scale),
            s,
            scale,
            targets=False,
        )
        c.text(
            (x0 + n * L.kv_cell / 2, y0 + n * L.kv_cell + fonts.px(8, scale) + fonts.line_height(s.label)),
            "query position j",
            s.small,
            MUTED_INK,
            anchor="ma",
        )
        c.vtext(
            (x0 - L.kv_label_w + fonts.line_height(s.small) / 2, y0 + n * L.kv_cell / 2),
            "key position i",
            s.small,
            MUTED_INK,
        )
    if data.kv:
        _colorbar(c, kv_scale, L.kv_bar, KV_LABEL, scale)
    note(words.caption_of(_note(L.stacked)), L.width - 2 * margin, scale).draw(c, margin, L.note_y)
    return c.result()


def _cell(c, box, value, scale_obj, s, show_value):
    color = (
        scale_obj.color(value)
        if math.isfinite(value) and value > 0
        else (colormap.NAN_COLOR if not math.isfinite(value) else scale_obj.color_at(0.0))
    )
    c.rect(box, fill=color)
    if show_value:
        text = numfmt.short(value, 2)
        if fonts.text_width(text, s.small) <= box[2] - box[0] - 4:
            c.text(
                ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2),
                text,
                s.small,
                colormap.text_color_on(color),
                anchor="mm",
            )


def _token_row(c, data, xs, y, s, scale, targets=True):
    """Tokens read at each position and, muted below, the tokens to predict there (the same size: a BOS
    badge of a smaller font would be text smaller than a figure's smallest)."""
    for p, x in enumerate(xs):
        c.token((x, y + fonts.line_height(s.label) / 2), data.labels[p], s.label, INK)
        if targets:
            c.token(
                (x, y + fonts.line_height(s.label) + fonts.px(3, scale) + fonts.line_height(s.label) / 2),
                data.targets[p],
                s.label,
                MUTED_INK,
            )


def _colorbar(c, scale_obj, bar, label, scale):
    x, y, length = bar
    thick = fonts.px(BAR_THICKNESS, scale)
    colormap.draw_colorbar(c, scale_obj, (x, y), length=length, thickness=thick, label=label, scale=scale)
