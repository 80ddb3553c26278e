"""How the gradient statistics of every parameter matrix evolve over a range of training steps.

Six small panels share the step axis: gradient norm, update/data ratio (with the 1e-3 guide), mean |g|,
max |g| (log scales), the share of exactly-zero gradients, and the loss. One line per matrix: its colour
says which kind of matrix it is (wte, attn_wq, mlp_fc1, ...), its dash pattern which layer.

    stats = range_stats("runs/demo", range(0, 200, 5))   # viz/gradstats.py
    image = steps_figure(stats)                           # PIL.Image; fmt="svg" for an SVG string

A zero, nan or inf cannot sit on a log axis: the line breaks there.
"""

import math
from dataclasses import dataclass

from microtrace.viz.draw import axes, fonts
from microtrace.viz.draw.axes import INK, MUTED_INK, PALETTE, finite
from microtrace.viz.draw.canvas import make_canvas
from microtrace.viz.draw.printsize import scaled_to_fit
from microtrace.viz.draw.text import TextBlock, Words, heading
from microtrace.viz.gradflow.matrices import GUIDE_COLOR, GUIDE_LABEL, GUIDE_RATIO

MARGIN = 24
PANEL_W = 380
PANEL_H = 170
COL_GAP = 28
ROW_GAP = 22
MAX_DOTS = 30  # with this many steps or fewer, each point also gets a dot
DENSE = 80  # with more steps than this, lines are drawn 1 px wide

PANELS = (
    ("grad_norm", "Gradient norm", "log"),
    ("update_ratio", "Update / data ratio (Adam step)", "log"),
    ("grad_abs_mean", "Mean |gradient|", "log"),
    ("grad_abs_max", "Max |gradient|", "log"),
    ("zero_fraction", "Entries with zero gradient", "share"),
    ("loss", "Loss", "linear"),
)
KINDS = ("wte", "wpe", "lm_head", "attn_wq", "attn_wk", "attn_wv", "attn_wo", "mlp_fc1", "mlp_fc2")
LAYER_DASHES = (None, (8, 4), (2, 3), (10, 3, 2, 3))


def line_style(name):
    """(colour, dash) of a matrix's line: colour by kind, dash by layer (solid for layer 0)."""
    short, layer = name, 0
    if "." in name:
        prefix, short = name.split(".", 1)
        layer = int(prefix[5:]) if prefix[5:].isdigit() else 0
    color = PALETTE[KINDS.index(short) % len(PALETTE)] if short in KINDS else PALETTE[-1]
    dash = LAYER_DASHES[layer % len(LAYER_DASHES)]
    return color, (dash[:2] if dash else None)


@dataclass(frozen=True)
class StepsLayout:
    width: int
    height: int
    heading: TextBlock
    panels: tuple  # (key, title, box, y scale) per panel
    x_scales: tuple  # per panel
    legend_x: int
    legend_y: int
    scale: float


def _series(stats, key):
    if key == "loss":
        return {"loss": [(s.step, s.loss) for s in stats]}
    names = list(stats[0].params)
    return {n: [(s.step, s.params[n].get(key, math.nan)) for s in stats] for n in names}


def steps_layout(stats, scale=1.0, words=Words()):
    fonts.check_scale(scale)
    if not stats:
        raise ValueError("no steps to draw")
    s = fonts.sizes(scale)
    steps = [st.step for st in stats]
    lo_step, hi_step = min(steps), max(steps)
    if lo_step == hi_step:
        lo_step, hi_step = lo_step - 1, hi_step + 1
    has_update = all("update_ratio" in p for st in stats for p in st.params.values())
    scales = {}
    for key, _, kind in PANELS:
        if key == "update_ratio" and not has_update:
            continue
        values = [v for series in _series(stats, key).values() for _, v in series]
        if kind == "log":
            include = [GUIDE_RATIO / 10, GUIDE_RATIO * 10] if key == "update_ratio" else []
            scales[key] = axes.decade_span(values, include=include)
        elif kind == "share":
            scales[key] = (0.0, 1.0)
        else:
            plotted = [v for v in values if finite(v)] or [0.0, 1.0]
            lo, hi = min(plotted), max(plotted)
            pad = (hi - lo) * 0.08 or max(abs(hi) * 0.1, 0.1)
            scales[key] = (lo - pad, hi + pad)
    margin = fonts.px(MARGIN, scale)
    pw, ph = fonts.px(PANEL_W, scale), fonts.px(PANEL_H, scale)

    def yscale(key, kind, box):
        a, b = box[3] - 1, box[1] + 1
        if kind == "log":
            return axes.LogScale(*scales[key], a, b)
        return axes.LinearScale(*scales[key], a, b, percent=(kind == "share"))

    probe_axis = max(
        axes.y_axis_width(yscale(k, kind, (0, 0, 1, 100)), s.tick, label=False) for k, _, kind in PANELS if k in scales
    )
    title_h = fonts.line_height(s.label) + fonts.px(6, scale)
    x_axis_h = axes.x_axis_height(s.tick, label=True)
    cell_w = probe_axis + pw
    legend_w = max(axes.legend_item_width(n, s.label, scale) for n in list(stats[0].params) + ["loss"])
    width = margin + 2 * cell_w + fonts.px(COL_GAP, scale) + fonts.px(24, scale) + legend_w + margin
    head = heading(words.title_of(_title(stats)), words.caption_of(_caption()), width - 2 * margin, scale)
    top = margin + head.height
    panels, xs = [], []
    visible = [p for p in PANELS if p[0] in scales]
    for i, (key, title, kind) in enumerate(visible):
        row, col = divmod(i, 2)
        x0 = margin + col * (cell_w + fonts.px(COL_GAP, scale)) + probe_axis
        y0 = top + row * (title_h + ph + x_axis_h + fonts.px(ROW_GAP, scale)) + title_h
        box = (x0, y0, x0 + pw, y0 + ph)
        panels.append((key, title, box, yscale(key, kind, box)))
        xs.append(axes.LinearScale(lo_step, hi_step, x0 + 1, x0 + pw - 1, integer=True))
    rows = (len(visible) + 1) // 2
    height = top + rows * (title_h + ph + x_axis_h + fonts.px(ROW_GAP, scale)) - fonts.px(ROW_GAP, scale) + margin
    legend_x = margin + 2 * cell_w + fonts.px(COL_GAP, scale) + fonts.px(24, scale)
    return StepsLayout(width, height, head, tuple(panels), tuple(xs), legend_x, top, scale)


def _title(stats):
    steps = [s.step for s in stats]
    if len(steps) == 1:
        return f"Gradient flow at step {steps[0]}"
    stride = steps[1] - steps[0]
    every = f", every {stride}" if stride > 1 else ""
    return f"Gradient flow over steps {steps[0]} to {steps[-1]}{every}"


def _caption():
    return (
        "One line per parameter matrix: colour for the kind of matrix, dashes for the layer. Log scales but "
        "for zero gradients and loss; a line breaks where a value is 0, nan or inf."
    )


def steps_figure(stats: list, fmt: str = "png", scale: float = 1.0, print_size=None):
    """The figure of `range_stats(...)` as a `PIL.Image` (fmt "png"), an SVG string (fmt "svg") or a `PDF`;
    `print_size` (a `printsize.PrintSize`) draws it as large as fits its width, with its words."""
    dpi, words = None, Words()
    if print_size is not None:
        words = print_size.words
        scale, dpi = scaled_to_fit(
            "the gradient-flow figure", print_size, fmt, lambda s: steps_layout(stats, s, words).width
        )
    L = steps_layout(stats, scale, words)
    s = fonts.sizes(scale)
    c = make_canvas(fmt, L.width, L.height, title=_title(stats), scale=scale, dpi=dpi)
    margin = fonts.px(MARGIN, scale)
    L.heading.draw(c, margin, margin)
    dots = len(stats) <= MAX_DOTS
    # Thin lines when the points are dense: ten wiggly lines at 2 px merge into one band.
    line_w = fonts.px(2 if len(stats) <= DENSE else 1, scale)
    for (key, title, box, ys), xs in zip(L.panels, L.x_scales):
        c.text((box[0], box[1] - fonts.px(6, scale)), title, s.label, INK, anchor="ld")
        axes.draw_y_axis(c, ys, box, s.tick)
        axes.draw_x_axis(c, xs, box, s.tick, label="step")
        if key == "update_ratio":
            y = round(ys.pos(GUIDE_RATIO))
            c.line(
                [(box[0] + 1, y), (box[2] - 1, y)],
                GUIDE_COLOR,
                width=fonts.px(2, scale),
                dash=(fonts.px(6, scale), fonts.px(4, scale)),
            )
            # Below the line at the left: healthy ratios start above the guide and fall towards it late.
            c.text((box[0] + fonts.px(6, scale), y + fonts.px(3, scale)), GUIDE_LABEL, s.tick, GUIDE_COLOR)
        log = isinstance(ys, axes.LogScale)
        for name, points in _series(stats, key).items():
            color, dash = (INK, None) if name == "loss" else line_style(name)
            if dash:
                dash = (fonts.px(dash[0], scale), fonts.px(dash[1], scale))
            run = []
            for step, v in points + [(None, math.nan)]:
                if finite(v) and (v > 0 or not log):
                    run.append((xs.pos(step), ys.pos(v)))
                    continue
                if len(run) > 1:
                    c.line(run, color, width=line_w, dash=dash)
                if dots or len(run) == 1:
                    for p in run:
                        c.circle(p, fonts.px(2.5, scale), color)
                run = []
        axes.frame(c, box)
    _legend(c, L, stats)
    return c.result()


def _legend(c, L, stats):
    s = fonts.sizes(L.scale)
    y = L.legend_y
    c.text((L.legend_x, y), "matrix", s.label, MUTED_INK)
    y += fonts.line_height(s.label) + fonts.px(6, L.scale)
    for name in list(stats[0].params) + ["loss"]:
        color, dash = (INK, None) if name == "loss" else line_style(name)
        dash = (fonts.px(dash[0], L.scale), fonts.px(dash[1], L.scale)) if dash else None
        axes.draw_legend_row(c, [("line", color, name, dash)], L.legend_x, y, s.label, L.scale)
        y += fonts.line_height(s.label) + fonts.px(4, L.scale)
