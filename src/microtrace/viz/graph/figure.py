"""`graph_figure`: one call from a `Trace` to the Graphviz diagram of any level, as `microtrace graph`
draws it (the command is a thin shell over this function).

    from microtrace.viz import graph_figure
    graph_figure(trace)                                          # the whole step, one node per block
    graph_figure(trace, "scalar", focus="pos2/layer0/attn/head1")  # one head, scalar by scalar
"""

import graphviz

from microtrace.tracer import Trace
from microtrace.viz.graph import select as graph_select
from microtrace.viz.graph.block import block_diagram
from microtrace.viz.graph.printed import CUSHION, PAD, fit_to_width, say_if_long, smallest_font, too_wide
from microtrace.viz.graph.render import layout_size
from microtrace.viz.graph.scalar import scalar_diagram

LEVELS = ("block", "stage", "layer", "scalar")
# The scopes each level draws as nodes, for --focus: a focus is a node's path or any prefix of one
# (pos3 keeps everything of position 3; param/ keeps the matrices).
FOCUS_SCOPES = {
    "block": "pos3/embed, pos3/layer0/attn, pos3/layer0/mlp, pos3/lm_head, pos3/loss, loss, param/wte, "
    "param/layer0.attn_wq, ...",
    "stage": "pos3/embed/rmsnorm, pos3/layer0/attn/q, pos3/layer0/attn/head2/weights, pos3/layer0/attn/wo, "
    "pos3/layer0/mlp/relu, pos3/lm_head/logits, pos3/loss/softmax, loss/mean, param/..., ...",
    "layer": "embed, layer0, lm_head, loss",
    "scalar": "any scope or prefix: pos2/layer0/attn/head1, pos2/layer0/attn/head1/weights, param/wte, ...",
}


RATIOS = ("fill", "compress", "expand", "auto")


def page_attrs(size=None, ratio=None):
    """Graphviz graph attributes that fit a drawing to a page: `size` (width, height) in inches, drawn
    at most that big (scaled down, never up), and `ratio`: a number (height / width of the drawing),
    or fill, compress, expand, auto (Graphviz's meanings). ValueError for anything else."""
    attrs = {}
    if size is not None:
        w, h = size
        if not (w > 0 and h > 0):
            raise ValueError(f"size must be two numbers above 0 (inches), got {size!r}")
        attrs["size"] = f"{w:g},{h:g}"
    if ratio is not None:
        if isinstance(ratio, str) and ratio in RATIOS:
            attrs["ratio"] = ratio
        elif isinstance(ratio, (int, float)) and ratio > 0:
            attrs["ratio"] = f"{ratio:g}"
        else:
            raise ValueError(f"ratio must be a number above 0 or one of {', '.join(RATIOS)}, got {ratio!r}")
    return attrs


def graph_figure(
    trace: Trace,
    level: str = "block",
    *,
    focus=None,
    around=None,
    hops=2,
    view=None,
    highlight=0,
    target=None,
    params=True,
    max_nodes=2000,
    label="id",
    size=None,
    ratio=None,
    fold=True,
    print_size=None,
    **style,
) -> graphviz.Digraph:
    """The `graphviz.Digraph` of a traced step at `level` (block, stage, layer: collapsed; scalar: real
    scalars of `focus`, `around` a node within `hops`, or the `highlight` top gradient paths from
    `target`; `label` names scalar values by "id" or also by "source" line). `style`: backward, color,
    rankdir, theme, precision, title, legend (as `block_diagram` and `scalar_diagram` take them); `size`
    and `ratio` fit it to a page (`page_attrs`); `fold` cuts a scalar chain too long for a page into bands,
    and wraps parallel parts too wide for it into rows (viz/graph/fold.py), unless a `ratio` is asked for. TraceError or ValueError (one line) for a scope,
    node or size that cannot be drawn.

    `print_size` (a `printsize.PrintSize`) scales the figure to its width, text no smaller than its
    font size, with its title (and no legend without its caption); a figure too wide for it at that
    size is laid out again for it (a block view compact, a scalar view folded for the width rather than
    for a landscape page). A scalar view left longer than 3:1
    and a figure wider than asked are said as `printsize.FitNote` warnings, with their size."""
    if level == "scalar":
        style["fold"] = fold and ratio is None
    if print_size is not None:
        style["title"] = print_size.title if print_size.title is not None else style.get("title")
        style["legend"] = style.get("legend", True) and print_size.caption
    g = _diagram(trace, level, focus, around, hops, view, highlight, target, params, max_nodes, label, style)
    if too_wide(g, print_size):  # a block view: closer ranks, the legend under the title; a scalar view:
        # folded for the width asked instead of for a landscape page
        again = dict(style, compact=True) if level != "scalar" else dict(style, fold_width=_fold_width(g, print_size))
        if level != "scalar" or style["fold"]:
            g = _diagram(trace, level, focus, around, hops, view, highlight, target, params, max_nodes, label, again)
    g.attr("graph", **page_attrs(size, ratio))
    what = f"the {level} view"
    if level == "scalar" and ratio is None:  # (a --size shrinks it: the README's paths drawn 10 x 3 in, unsaid)
        say_if_long(what, layout_size(g, drawn=True))
    fit_to_width(g, print_size, what)
    return g


def _fold_width(g, ps):
    """The width in inches, at the drawing's own size, that a page `ps` leaves a scalar view whose text
    is drawn at `ps.font_pt`."""
    return (ps.width_pt / 72 - 2 * PAD) * smallest_font(g) / ps.font_pt / CUSHION


def _diagram(trace, level, focus, around, hops, view, highlight, target, params, max_nodes, label, style):
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}: use one of {', '.join(LEVELS)}")
    if level != "scalar":
        view = trace.default_view()
        C = trace.collapse(level, view)
        if focus:
            C = graph_select.focus_collapsed(C, focus, params)
        paths, what = [], f"{level} view" + (f" of {focus.strip('/')}" if focus else "")
        if highlight:
            paths = graph_select.highlight_paths(trace, target, highlight, view)
            paths = graph_select.collapse_paths(trace.graph(view), paths, level)
            what += f", top {highlight} gradient path{'s' * (highlight > 1)} from {target}"
        return block_diagram(C, params=params, highlight=paths, what=what, **style)
    view = view or trace.default_view()
    paths = graph_select.highlight_paths(trace, target, highlight, view) if highlight else []
    if focus:
        nodes, what = trace.scope_nodes(focus, view), focus.strip("/")
    elif around is not None:
        if hops < 0:
            raise ValueError(f"hops must be 0 or more, got {hops}")
        nodes, what = trace.around(around, hops, view), f"{hops} hops around {around}"
    elif highlight:
        nodes, what = sorted({n for p in paths for n in p}), f"the top {highlight} gradient paths from {target}"
    else:
        raise ValueError("the scalar level needs focus=SCOPE, around=NODE or highlight=K with target=NODE")
    graph_select.check_size(trace.data(view).scope_of, nodes, max_nodes, what,
                            fused_hint=view == "elementary" and "fused" in trace.views())  # fmt: skip
    return scalar_diagram(
        trace.subgraph(nodes, view), nodes, highlight=paths, what=f"scalar view of {what}", label=label, **style
    )
