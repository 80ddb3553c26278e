"""Per-token strips: for one head (or the mean of a layer's heads), each query's context as a row of
character tiles shaded by the weight it gives them."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from microtrace.viz.attention import parts as P
from microtrace.viz.attention.inputs import has_nonfinite, validate_attention
from microtrace.viz.draw import colormap, fonts


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
    content_width: int = 0  # the width the strips themselves need, margins included

    def tile_box(self, query, key):
        """(x0, y0, x1, y1) inclusive of the tile of `key` in the strip of `query`."""
        x, y = self.origin
        return (
            x + key * self.step,
            y + query * self.step,
            x + key * self.step + self.cell - 1,
            y + query * self.step + self.cell - 1,
        )


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


def _strip_plan(attention, labels, layer, head, title, caption, grad, scale, notes, vmax, fit=P.Fit()):
    fonts.check_scale(scale)
    attention, labels = validate_attention(attention, labels, grad)
    rows = _strip_rows(attention, layer, head)
    values = [v for row in rows for v in row]
    scale_obj = P.color_scale(values, grad, vmax)
    nonfinite = has_nonfinite(values)
    n = len(labels)

    s = fonts.sizes(scale)
    t = fonts.px(P.STRIP_CELL, scale)
    gap = fonts.px(P.STRIP_GAP, scale)
    m = fonts.px(fit.margin, scale)
    pad = fonts.px(P.LABEL_PAD, scale)
    header = f"layer {layer} · " + (f"mean of {len(attention[layer])} heads" if head == "mean" else f"head {head}")
    header_h = fonts.line_height(s.header) + fonts.px(8, scale)
    index_w = max(fonts.text_width(f"{i}", s.small) for i in range(n)) + pad
    widest = max(fonts.token_width(label, s.label) for label in labels)
    bar_label = "d loss / d weight" if grad else "attention weight"
    bar_w = colormap.colorbar_width(scale_obj, thickness=fonts.px(P.BAR_THICKNESS, scale), label=bar_label, scale=scale)
    if fit.width is not None:  # tiles as large as fit the width
        t = min(t, (fit.width - 2 * m - index_w - fonts.px(P.BAR_GAP, scale) - bar_w) // n - gap)
    # labels wider than a tile (several characters) widen every tile; a figure fitted to a width keeps less room
    t = max(t, widest + (2 if fit.width else 4), fonts.line_height(s.small))
    step = t + gap
    strips_w = index_w + n * step
    strips_h = n * step
    bar_length = max(strips_h - gap, fonts.px(P.BAR_MIN_LENGTH, scale), fonts.text_width(bar_label, s.axis))
    bar_pad = colormap.colorbar_pad(scale)
    bar_h = header_h - bar_pad + bar_length + 2 * bar_pad
    legend_cell = t if nonfinite else None  # the nan/inf legend's swatch follows the tile size
    if nonfinite:
        legend_w, legend_h = P.nan_legend_size(scale, t)
        bar_w = max(bar_w, legend_w)
        bar_h += fonts.px(12, scale) + legend_h
    content_w = strips_w + fonts.px(P.BAR_GAP, scale) + bar_w
    content_h = max(header_h + strips_h, bar_h)
    first = [
        "Each row is one query position i (index at the left): the tokens it can see, 0..i, each shaded by "
        + (
            "d loss / d weight (red raises the loss, blue lowers it)"
            if grad
            else "the attention weight query i gives it"
        )
        + "; the outlined tile is the query token itself."
    ]
    note_text = P.notes_text(labels, grad, nonfinite, first) if notes else ""
    wrap_w = None if fit.width is None else max(fit.width - 2 * m, content_w)
    title_lines, caption_lines, note_lines, text_w = P.text_block(title, caption, note_text, content_w, scale, wrap_w)
    width = max(2 * m + max(content_w, text_w), fit.width or 0)
    top = m + P.title_height(title_lines, scale)
    height = top + content_h + P.caption_height(caption_lines, note_lines, scale) + m
    lay = StripLayout(
        size=(width, height),
        n=n,
        cell=t,
        step=step,
        origin=(m + index_w, top + header_h),
        colorbar_origin=(m + strips_w + fonts.px(P.BAR_GAP, scale), top + header_h - bar_pad),
        title_lines=tuple(title_lines),
        caption_lines=tuple(caption_lines),
        note_lines=tuple(note_lines),
        content_width=2 * m + content_w,
    )
    return lay, dict(
        labels=labels,
        rows=rows,
        scale_obj=scale_obj,
        header=header,
        top=top,
        bar_label=bar_label,
        bar_length=bar_length,
        legend_cell=legend_cell,
    )


def strip_layout(
    attention: Sequence,
    labels: Sequence[str],
    *,
    layer: int = 0,
    head: int | str = 0,
    title: str = "",
    caption: str = "",
    grad: bool = False,
    scale: float = 1.0,
    notes: bool = True,
    vmax: float | None = None,
    fit: P.Fit = P.Fit(),
) -> StripLayout:
    """The `StripLayout` that `per_token_strips` draws with the same arguments."""
    return _strip_plan(attention, labels, layer, head, title, caption, grad, scale, notes, vmax, fit)[0]


def per_token_strips(
    attention: Sequence,
    labels: Sequence[str],
    *,
    layer: int = 0,
    head: int | str = 0,
    title: str = "",
    caption: str = "",
    grad: bool = False,
    scale: float = 1.0,
    notes: bool = True,
    vmax: float | None = None,
    fmt: str = "png",
    fit: P.Fit = P.Fit(),
    dpi: int | None = None,
) -> Image.Image | str:
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
    height) + caption block. `strip_layout` returns the positions. `fmt` as for `attention_grid`.
    """
    lay, plan = _strip_plan(attention, labels, layer, head, title, caption, grad, scale, notes, vmax, fit)
    labels, rows, scale_obj = plan["labels"], plan["rows"], plan["scale_obj"]
    s = fonts.sizes(scale)
    m = fonts.px(fit.margin, scale)
    pad = fonts.px(P.LABEL_PAD, scale)
    t = lay.cell
    c = P.new_figure(lay, scale, fmt, title, m, dpi)
    c.text((m, plan["top"]), plan["header"], s.header, P.INK)
    ring = max(2, fonts.px(2.5, scale))
    for q, row in enumerate(rows):
        x0, y0, _, _ = lay.tile_box(q, 0)
        c.text((x0 - pad, y0 + t / 2), f"{q}", s.small, P.MUTED_INK, anchor="rm")
        for k, v in enumerate(row):
            box = lay.tile_box(q, k)
            color = scale_obj.color(v)
            c.rect(box, fill=color, tooltip=f"query {q} {labels[q]!r}, key {k} {labels[k]!r}: {v!r}")
            if not math.isfinite(v):
                P.draw_nan_mark(c, box, scale)
                continue
            c.token((box[0] + t / 2, box[1] + t / 2), labels[k], s.label, colormap.text_color_on(color))
        c.rect(lay.tile_box(q, q), outline=P.ACCENT, width=ring)
    P.draw_colorbar_and_caption(c, lay, scale_obj, plan["bar_length"], plan["bar_label"], plan["legend_cell"], scale, m)
    return c.result()
