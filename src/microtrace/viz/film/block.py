"""The film's block view: laid out once by Graphviz, recoloured at every frame by the page.

Steps train on documents of different lengths, so their block views differ in how many positions they
have. The film draws the union of its frames' block views (the longest document's, plus anything another
frame has) as `viz.graph.block.block_diagram` draws any step, and gives the page, per frame, each group's
fill and text colour and each edge's pen width; a group or edge the frame's document does not reach is
drawn faint. The colour and width scales are shared by all frames (the same rules as one step's:
`style.node_colors`, `style.pen_scale`), so a colour means the same number at every step.
"""

import math
import re

import networkx as nx

from microtrace.tracer.analysis.film import VIEW
from microtrace.util import numfmt
from microtrace.viz.draw.colormap import hex_color
from microtrace.viz.graph import style as gs
from microtrace.viz.graph.block import block_diagram
from microtrace.viz.graph.render import render_bytes

# What the groups are coloured by (the page's "colour by" choice): name -> (label, legend text).
METRICS = {
    "grad": ("‖grad‖", "‖grad‖ of the group (log scale)"),
    "update": ("update ÷ data", "Adam's ‖update‖ ÷ ‖data‖ of each matrix (log scale)"),
    "change": ("change", "change since the previous frame: ‖W − W_prev‖ ÷ ‖W_prev‖ of a matrix, the relative "
               "change of ‖values‖ of any other group (log scale)"),
}  # fmt: skip
PLACEHOLDER = 8.88e-05  # a group's number as laid out: as wide as any the page writes there (fixed, 3 digits)
_TOOLTIP = re.compile(r' tooltip="(?:[^"\\]|\\.)*"')
_SVG = re.compile(r"<svg\b.*</svg>", re.S)


def union_graph(frames):
    """The collapsed block graph holding every group and edge of any frame, in the order of the frame with
    the most groups (the longest document), the others' extras after it; numbers are placeholders."""
    widest = max(frames, key=lambda f: len(f.groups))
    C = nx.DiGraph(level="block", chars=[], loss=PLACEHOLDER)
    C.graph["param_stats"] = {name: {"shape": p["shape"]} for name, p in widest.params.items()}
    for f in [widest, *frames]:
        for n, d in f.groups.items():
            if n not in C:
                C.add_node(n, **{**d, "grad_norm": PLACEHOLDER, "zero_grad": 0, "nonfinite": 0})
    for f in [widest, *frames]:
        for (u, v), _ in f.flows.items():
            if not C.has_edge(u, v):
                C.add_edge(u, v, count=1, grad_flow=1.0, grad_flow_abs=1.0)
    return C


def block_svg(C):
    """The union graph drawn as one step's block view is (no title, no legend: the page has its own),
    as an inline <svg> element; its groups and edges are named by their <title>."""
    title = f"block view: a box per position and block, its number at the cursor's step; op counts of the {VIEW} view"
    g = block_diagram(C, title=title, legend=False, rankdir="TB")
    source = _TOOLTIP.sub("", g.source)  # a tooltip's numbers would be one frame's: the page shows its own
    svg = render_bytes(source, "svg").decode("utf-8")
    return _SVG.search(svg).group(0)


def frame_colours(frames, C, theme="light"):
    """Per metric: {"legend": colour bar, "fill": [per frame, per group (C's order): palette index or -1 when
    absent], "text": [per frame, per group: the number as the label shows it]} and the shared "palette"
    of "fill ink" pairs."""
    th = gs.theme(theme)
    groups = list(C)
    palette, index = [], {}

    def colour(pair):
        if pair not in index:
            index[pair] = len(palette)
            palette.append(" ".join(pair))
        return index[pair]

    out = {}
    for metric in METRICS:
        values = [[_value(f, prev, n, metric) for n in groups] for prev, f in zip([None, *frames], frames)]
        colors = gs.node_colors("grad", [v for row in values for v in row if v is not None])
        fills, texts = [], []
        for f, row in zip(frames, values):
            fills.append([_fill(colors, v, th, colour) if n in f.groups else -1 for n, v in zip(groups, row)])
            texts.append(["–" if v is None else numfmt.fixed(v, 3) for v in row])
        out[metric] = {"legend": _legend(colors, th), "fill": fills, "text": texts}
    return out, palette


def _fill(colors, value, th, colour):
    if value is None:  # a number this group does not have (an activation's Adam update)
        return colour((th.node_fill, th.ink))
    return colour(colors.fill(value, th))


def _value(frame, previous, group, metric):
    """The number group `group` is coloured by at `frame` (None: it has none)."""
    d = frame.groups.get(group)
    if d is None:
        return None
    matrix = group[len("param/") :] if group.startswith("param/") else None
    if metric == "grad":
        return d["grad_norm"]
    if metric == "update":
        return frame.params[matrix].get("update_ratio") if matrix else None
    if matrix:
        return frame.change[matrix]
    was = previous.groups.get(group) if previous else None
    if was is None or not was["data_norm"]:
        return None
    return abs(d["data_norm"] - was["data_norm"]) / was["data_norm"]


def _legend(colors, th):
    """The colour bar: swatches from the low end to the high end, and the ends' numbers."""
    if colors.scale is None:
        return None
    swatches = [hex_color(colors.color_at(k / 8, th)) for k in range(9)]
    return {"swatches": swatches, "lo": numfmt.fixed(colors.scale.vmin, 2), "hi": numfmt.fixed(colors.scale.vmax, 2)}


def edge_widths(frames, C):
    """[edge names "u->v" in C's order], and per frame each edge's pen width (None where the frame has no
    such edge; 0 for an edge that carries no gradient, drawn dotted; -1 for nan or inf, drawn red), on
    one log scale shared by all frames (`style.pen_scale`)."""
    edges = [(u, v) for u, v in C.edges if not u.startswith("param/")]  # block_diagram leaves these out
    pens = gs.pen_scale([f.flows[e] for f in frames for e in edges if e in f.flows])
    widths = []
    for f in frames:
        row = []
        for e in edges:
            flow = f.flows.get(e)
            if flow is None:
                row.append(None)
            elif not math.isfinite(flow):
                row.append(-1)
            else:
                row.append(0 if flow == 0 else round(pens.width(flow), 2))
        widths.append(row)
    legend = [[round(pens.width(x), 2), numfmt.fixed(x, 2)] for x in _pen_samples(pens)]
    return [f"{u}->{v}" for u, v in edges], widths, legend


def _pen_samples(pens):
    if not pens.hi > 0:
        return []
    return [pens.lo, math.sqrt(pens.lo * pens.hi), pens.hi] if pens.hi > pens.lo else [pens.hi]
