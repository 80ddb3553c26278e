"""The collapsed graph (`trace.collapse("block"|"stage"|"layer")`) as a Graphviz diagram: one node per
scope, clusters for positions, layers, blocks and heads, edges as wide as the gradient they carry.

A pure function of the graph and the options: the same input gives the same DOT source. Rendering is
`viz.graph.render.render`. Node and edge attributes are those of docs/trace-format.md.
"""

import math
import re
from collections.abc import Sequence

import graphviz
import networkx as nx

from microtrace.util import numfmt
from microtrace.viz.graph import diagram as dg
from microtrace.viz.graph import lanes as kv_lanes
from microtrace.viz.graph import style as gs

_STREAM_BLOCKS = ("embed", "attn", "mlp")


def _token(label):
    return "BOS" if label == "<BOS>" else label


def _is_param(d):
    return d["scope"].startswith("param/")


def _carries_stream(d, level):
    """Whether a collapsed node's output is the residual stream (not merely read from it)."""
    if _is_param(d):
        return False
    if level == "block" or level == "layer":
        return d.get("block") in _STREAM_BLOCKS or (level == "layer" and "layer" in d and "block" not in d)
    stage = d.get("stage")
    return stage == "residual" or (d.get("block") == "embed" and stage == "rmsnorm")


def edge_kind(C, u, v):
    """`param`, `kv` (a key or value made at an earlier position), `stream` (the residual stream) or `data`."""
    du, dv = C.nodes[u], C.nodes[v]
    level = C.graph.get("level", "block")
    if _is_param(du):
        return "param"
    if "pos" in du and "pos" in dv and du["pos"] != dv["pos"]:
        return "kv"
    if _carries_stream(du, level) and (_carries_stream(dv, level) or dv.get("block") == "lm_head"):
        if du.get("pos") == dv.get("pos"):
            return "stream"
    return "data"


def _short_label(d, level):
    scope = d["scope"]
    if _is_param(d):
        return d.get("stage") or scope[len("param/") :]
    if level == "layer":
        return scope
    if level == "stage":
        if "pos" not in d:
            return scope
        return d.get("stage", scope.rsplit("/", 1)[-1])
    if "pos" not in d:
        return "mean loss" if d.get("block") == "loss" else scope
    return d.get("block", scope.rsplit("/", 1)[-1])


def _cluster_path(d, level, chars, th):
    """Clusters a collapsed node sits in: position, layer, block (stage level), head."""
    if _is_param(d):
        path = [("params", dg.cluster_attrs("parameter matrices", 0, th))]
        if "layer" in d:
            path.append((f"params/layer{d['layer']}", dg.cluster_attrs(f"layer {d['layer']}", 1, th)))
        return path
    if "pos" not in d:
        return []
    p = d["pos"]
    tok = ""
    if chars and p + 1 < len(chars):
        tok = f"   {_token(chars[p])} → {_token(chars[p + 1])}"
    path = [(f"pos{p}", dg.cluster_attrs(f"position {p}{tok}", 0, th))]
    cid = f"pos{p}"
    depth = 1
    if "layer" in d:
        cid += f"/layer{d['layer']}"
        path.append((cid, dg.cluster_attrs(f"layer {d['layer']}", depth, th)))
        depth += 1
    if level == "stage":
        block = d.get("block")
        if block:
            cid += f"/{block}"
            path.append((cid, dg.cluster_attrs(block, depth, th)))
            depth += 1
        if "head" in d:
            cid += f"/head{d['head']}"
            # its name at its right end: the KV cache's taps come in from the left (viz/graph/lanes.py)
            path.append((cid, dict(dg.cluster_attrs(f"head {d['head']}", depth, th), labeljust="r")))
    return path


def _group_tooltip(d, C):
    pairs = [("scope", d["scope"]), ("nodes", numfmt.count(d["count"]))]
    ops = d.get("ops") or {}
    if isinstance(ops, dict):
        pairs.append(("ops", ", ".join(f"{k} {v}" for k, v in ops.items())))
    for key in ("grad_norm", "grad_abs_sum", "grad_abs_max"):
        if key in d:
            pairs.append((key, repr(float(d[key]))))
    for key in ("zero_grad", "nonfinite", "internal_edges"):
        if key in d:
            pairs.append((key, d[key]))
    for key in ("pos", "layer", "block", "head", "stage"):
        if key in d:
            pairs.append((key, d[key]))
    stats = C.graph.get("param_stats", {}).get(d["scope"][len("param/") :]) if _is_param(d) else None
    if stats:
        for key in ("shape", "zero_fraction", "data_norm", "update_norm", "update_ratio"):
            if key in stats:
                pairs.append((f"matrix {key}", stats[key]))
    if _is_param(d):
        for v in sorted(C.successors(d["scope"]), key=_reader_order(C)):
            e = C.edges[d["scope"], v]
            pairs.append((f"read by {v}", f"{e['count']} edges, sum |grad_flow| {e['grad_flow_abs']!r}"))
    return gs.tooltip(pairs)


def colouring(C, color="grad", params=True):
    """The fills `block_diagram(C, color=color, params=params)` uses (`style.NodeColors`). A group has no
    single value: by value, it is coloured by the norm of the values inside."""
    keep = [d for _, d in C.nodes(data=True) if params or not _is_param(d)]
    return gs.node_colors("norm" if color == "value" else color, (_coloured(d, color) for d in keep))


def _counted(C):
    """How many nodes the groups hold and of which view (the boxes' op counts are of it): every page and
    command that counts says which view, as the explorer's heading does ("" for a graph of no view)."""
    if "view" not in C.graph:
        return ""
    total = sum(d.get("count", 0) for _, d in C.nodes(data=True))
    return f" · {total:,} nodes ({dg.view_name(C.graph)})"


def block_diagram(
    C: nx.DiGraph,
    *,
    backward: bool = False,
    color: str = "grad",
    params: bool = True,
    highlight: Sequence[Sequence] = (),
    rankdir: str = "LR",
    theme: str = "light",
    precision: int = 3,
    title: str | None = None,
    legend: bool = True,
    what: str | None = None,
    compact: bool = False,
) -> graphviz.Digraph:
    """The collapsed graph `C` (from `trace.collapse(level)`) as a Graphviz diagram.

    Nodes show their scope, op count and gradient norm and are filled by |grad| (`color="grad"`, log
    scale), not at all (`"none"`); edges are as wide as the gradient they carry (Σ|grad_flow|, log
    scale) and coloured by kind (residual stream, KV cache, parameter read, other). `params=False` leaves
    out the parameter matrices. `highlight`: paths, each a list of C's node ids (consecutive ones are
    joined by an edge of C), drawn in the highlight colour. `backward=True` reverses the arrows and
    labels each edge with its flow; the layout stays that of the forward view. `what` names the view
    in the title. `compact`: for a narrow page (a printed width), the ranks closer, the title on two
    lines and the legend under it instead of in a column of its own beside the loss.
    """
    th = gs.theme(theme)
    gs.check_rankdir(rankdir)
    level = C.graph.get("level", "block")
    keep = [n for n, d in C.nodes(data=True) if params or not _is_param(d)]
    # Parameter reads (one edge per matrix and position) would cross every position: they are left out
    # of the picture and summed up in each matrix's tooltip; the matrix sits above the column reading it.
    edges = [(u, v, d) for u, v, d in C.edges(data=True) if not _is_param(C.nodes[u])]
    colors = colouring(C, color, params)
    boundary = C.graph.get("boundary") or {}
    stub_flows = [f for side in boundary.values() for st in side.values() for _, f in st["edges"].values()]
    pens = gs.pen_scale([d["grad_flow_abs"] for _, _, d in edges] + stub_flows)
    hl_nodes, hl_edges = dg.highlighted_sets(highlight)

    what = (what or f"{level} view") + ("" if params else " (parameters hidden)") + _counted(C)
    title = title if title is not None else dg.step_title(C, what, backward)
    g = dg.new_digraph(th, rankdir, title, level)
    lanes = level in ("block", "stage") and rankdir == "LR"  # the KV cache in lanes, each bundle with its count
    if lanes and compact:  # closer lanes: the room they take beside the attention column is a page's margin
        g.graph_attr[kv_lanes.LANE_ATTR] = f"{kv_lanes.TIGHT:g}"
    parts = _legend_parts(C, keep, colors, pens, th, params, backward, hl_edges, lanes) if legend else None
    if compact:
        g.attr("graph", ranksep="0.2", label=gs.stacked_title_label(_two_lines(title), parts, th))
    elif parts:
        _legend_node(g, C, keep, parts, th)
    # a box's text closer to its sides in a compact view: five boxes side by side in each position's row
    margin = "0.08,0.05" if compact else "0.12,0.05"
    room = _room_for_taps(C, edges) if level == "stage" and lanes else {}
    _group_nodes(g, C, _drawing_order(C, keep, rankdir), level, colors, th, precision, hl_nodes, rankdir, margin, room)
    _order_positions(g, C, keep, rail=level == "stage" and lanes)
    if boundary:
        _collapsed_stubs(g, C, boundary, pens, th, backward)
    _group_edges(g, C, edges, level, pens, th, rankdir, backward, hl_edges)
    if level == "stage":  # (the KV cache's edges in lanes pull nobody sideways: nor do these)
        _as_if_read_later(g, C, keep, edges, weight="1" if lanes else "4", separate=lanes)
    if level == "stage" and lanes:
        # one ranking for all the clusters: every position's keys, values and heads in the same columns
        # (its lanes run down past the others'); a source's reads share their way through the ranks to
        # their readers (not one virtual node each: the demo's 168 spread the positions apart)
        g.attr("graph", newrank="true", concentrate="true")
    return g


def _as_if_read_later(g, C, keep, edges, weight="4", separate=False):
    """The last position's keys and values pulled as the earlier ones are. dot orders a rank by the edges
    through it: a position's keys and values are read by every later position, whose edges pull them
    (and the attention around them) to the side of the later positions; the last position's are read by
    none, and its attention came out on the other side of its stream, the MLP below it. An invisible
    edge from each of them to one invisible node after it stands for the readers it does not have. (A
    stage view whose KV cache goes in lanes is laid out without those edges and these stand-ins, every
    position alike: `lanes.apart`; they stay for the views whose lanes do not all fit.)"""
    made = {(C.nodes[u]["pos"], C.nodes[u].get("stage")) for u, v, _ in edges if edge_kind(C, u, v) == "kv"}
    last = max((p for p, _ in made), default=None)  # the last position that has readers
    if last is None:
        return
    last += 1
    unread = [n for n in keep if C.nodes[n].get("pos") == last and (last - 1, C.nodes[n].get("stage")) in made]
    if not unread:
        return
    for k, n in enumerate(unread):  # (one each when the KV cache goes in lanes: one would pull v to k)
        later = f"{kv_lanes.STAND_IN}{k if separate else ''}"
        g.node(later, label="", style="invis", shape="point", width="0")
        g.edge(n, later, style="invis", weight=weight)


def _drawing_order(C, keep, rankdir):
    """Nodes in the order to declare them. Graphviz puts unconnected nodes of one rank in declaration
    order top to bottom with rankdir LR, but right to left with TB: there the parameter matrices are
    declared in reverse so that both read wq, wk, wv, wo (model order)."""
    if rankdir != "TB":
        return keep
    params = [n for n in keep if _is_param(C.nodes[n])]
    rest = [n for n in keep if not _is_param(C.nodes[n])]
    return params[::-1] + rest


def _two_lines(title):
    """The title cut in two at the separator nearest its middle (one line if it has none)."""
    parts = title.split("  ·  ")
    if len(parts) < 2:
        return [title]
    cut = min(range(1, len(parts)), key=lambda k: abs(len("  ·  ".join(parts[:k])) - len(title) / 2))
    return ["  ·  ".join(parts[:cut]), "  ·  ".join(parts[cut:])]


def _legend_parts(C, keep, colors, pens, th, params, backward, hl_edges, lanes=False):
    """The legend's columns and notes (`style.legend_parts`)."""
    kinds = [
        (th.stream, "residual stream"),
        (th.kv, "KV cache: earlier position → later"),
        (th.data, "other data flow"),
    ]
    if hl_edges:
        kinds.append((th.highlight, "top gradient paths"))
    notes = [
        "nodes: scope, op count, ‖grad‖",
        "(L2 norm over the parameters and activations inside;",
        "constants' gradients left out)",
    ]
    if params and any(_is_param(C.nodes[n]) for n in keep):
        notes += ["parameters are read at every position", "(hover a matrix for each read)"]
    if lanes and any(edge_kind(C, u, v) == "kv" for u, v in C.edges):
        notes += ["×n: a position's keys and values,", "read by n later positions"]
    if backward:
        notes += ["backward: arrows point the way", "the gradient flows"]
    if backward and lanes and C.graph.get("level") == "stage":
        notes += ["(flows off the residual stream: hover the edge)"]
    return gs.legend_parts(colors, pens, th, edge_kinds=kinds, notes=notes)


def _legend_node(g, C, keep, parts, th):
    """The legend as a node in the last column, beside the loss: the block pictures are tall, not wide."""
    g.node(
        "legend",
        label=gs.legend_node_label(parts),
        shape="box",
        style="rounded",
        color=th.cluster_pen,
        margin="0.12,0.08",
        tooltip="legend",
    )
    sinks = [n for n in keep if C.out_degree(n) == 0 and "pos" not in C.nodes[n]]
    if sinks:
        _same_rank(g, "legend", sinks[-1])


# the room dot leaves between two heads' boxes, points: its nodesep (0.18 in), the head clusters' margins
# (6 pt each) and a head's label (11 pt): the taps of a lane come down into a reader through it
HEADS_APART = 39.0


def _room_for_taps(C, edges):
    """{stage: height in points} of the room to make above each head's box of that stage (its logits,
    its output) for the KV cache's taps into it, when the room between two heads is not enough for them:
    they turn in above their reader one above the other (`lanes.plan`), and the last position's heads
    read every earlier position (more than 6 of them, a document of 7 characters or more, came too close
    to the head above, and in a view for print the head's label left them no room beside it). Made, it
    holds all the taps clear of the head's label; every position's heads get the same room, so that
    every position is laid out alike."""
    readers: dict = {}
    for u, v, _ in edges:
        if edge_kind(C, u, v) == "kv":
            readers[v] = readers.get(v, 0) + 1
    room = {}
    for v, n in readers.items():
        if kv_lanes.RISE + (n - 1) * kv_lanes.TAP + kv_lanes.CLEAR > HEADS_APART:
            stage = C.nodes[v].get("stage")
            room[stage] = max(room.get(stage, 0.0), kv_lanes.RISE + n * kv_lanes.TAP)
    return room


def _room_above(clusters, path, n, points, nodesep):
    """An invisible box in `n`'s cluster, to go above it (a flat edge), making `points` of room there
    (with the nodesep it adds: no less than that); (n, its name). Named as an anchor: the explorer's
    groups opened in place count such helpers as their scope's."""
    spacer = f"anchor#{n}#room"
    height = max(0.01, points / 72 - nodesep)
    attrs = {"label": "", "style": "invis", "shape": "box", "width": "0.01", "fixedsize": "true"}
    clusters.add_node(path, spacer, dict(attrs, height=f"{height:.2f}"))
    return n, spacer


def _group_nodes(g, C, keep, level, colors, th, precision, hl_nodes, rankdir, margin, room=None):
    """One node per kept scope (`margin`: between its text and its box, inches), in its clusters, the
    heads of an attention block in order; each parameter matrix in the rank of its first reader. `room`:
    {stage: points} of empty room above each head's node of that stage (`_room_for_taps`)."""
    chars = C.graph.get("chars") or []
    clusters = dg.Clusters()
    spacers = []  # the nodes that have room made above them
    heads = {}  # the attention block's cluster id -> (its path, {head: [its nodes]})
    for n in keep:
        d = C.nodes[n]
        attrs = _group_node_attrs(C, n, d, level, colors, th, precision, n in hl_nodes, margin)
        path = _cluster_path(d, level, chars, th)
        clusters.add_node(path, n, attrs)
        if room and "head" in d and d.get("stage") in room:
            spacers.append(_room_above(clusters, path, n, room[d["stage"]], _ranksep(g, "nodesep", 0.25)))
        if level == "stage" and "head" in d:
            heads.setdefault(path[-2][0], (path[:-1], {}))[1].setdefault(d["head"], []).append(n)
    for cid, (path, members) in heads.items():
        if len(members) > 1:
            siblings = [(f"anchor#{cid}/head{h}", members[h]) for h in sorted(members)]
            clusters.order_siblings(path, siblings, reverse=rankdir == "LR")
    clusters.emit(g)
    for n, spacer in spacers:  # (in LR, a flat edge's tail is drawn below its head)
        with g.subgraph() as s:
            s.attr(rank="same")
            s.edge(n, spacer, style="invis")
    for n in keep:
        if _is_param(C.nodes[n]):
            readers = sorted(C.successors(n), key=_reader_order(C))
            if readers:
                _same_rank(g, n, readers[0])


def _group_edges(g, C, edges, level, pens, th, rankdir, backward, hl_edges):
    kinds = {(u, v): edge_kind(C, u, v) for u, v, _ in edges}
    # KV-cache arcs first, so that the residual stream is drawn over them where they cross
    edges = sorted(edges, key=lambda e: kinds[e[0], e[1]] != "kv")
    sources = {u for u, v, _ in edges if kinds[u, v] == "kv"}
    # room after attention for the KV cache's lanes (viz/graph/lanes.py): ranks enough for one lane a source
    lane = float(g.graph_attr.get(kv_lanes.LANE_ATTR, kv_lanes.LANE))
    ranksep = _ranksep(g)
    room = math.ceil(kv_lanes.room(len(sources), lane) / (72 * ranksep))
    # the stage view's keys (and values) in lanes between their column and their readers': those a column
    # further, room for one lane a source
    reading = {C.nodes[v].get("stage") for u, v, _ in edges if kinds[u, v] == "kv"}  # logits, out
    per_kind = max((sum(1 for s in sources if s.endswith(k)) for k in ("/k", "/v")), default=0)
    beside = math.ceil(kv_lanes.room(per_kind, lane) / (72 * ranksep))
    stage_lanes = bool(reading) and level == "stage" and rankdir == "LR"
    for u, v, d in edges:
        attrs = _group_edge_attrs(u, v, d, kinds[u, v], level, pens, th, rankdir, backward, (u, v) in hl_edges)
        if stage_lanes:
            if C.nodes[v].get("stage") in reading and kinds[u, v] != "kv":
                attrs["minlen"] = str(max(1, beside))
            if "pos" in C.nodes[u] and not _carries_stream(C.nodes[u], level):
                # (backward) a flow off the residual stream, in its tooltip: inside attention it sat on the
                # lanes, between two boxes side by side (the MLP's, lm_head's and the loss's) under a box
                attrs.pop("label", None)
            if "label" in attrs:
                attrs["xlabel"] = attrs.pop("label")  # placed after the layout: the backward view's is the forward's
        if (
            sources
            and level == "block"
            and rankdir == "LR"
            and kinds[u, v] == "stream"
            and C.nodes[u].get("block") == "attn"
        ):
            attrs["minlen"] = str(max(2, room + ("label" in attrs)))
            if "label" in attrs:  # the flow said at the MLP's side, clear of the lanes (a rank more room)
                attrs["headlabel"] = attrs.pop("label")
        g.edge(u, v, **attrs)


def _ranksep(g, name="ranksep", default=0.5):
    """The rank separation (inches: or the graph's `name`) `g` is laid out with: the last one set (a
    compact view sets its own in a graph statement after the digraph's)."""
    found = [m.group(1) for line in g.body for m in [re.search(rf'\bgraph \[.*\b{name}="?([0-9.]+)', line)] if m]
    return float(found[-1] if found else g.graph_attr.get(name, default))


def _group_edge_attrs(u, v, d, kind, level, pens, th, rankdir, backward, highlighted):
    flow = d["grad_flow_abs"]
    attrs = {
        "penwidth": pens.pen(flow),
        "color": {"stream": th.stream, "kv": th.kv, "data": th.data}[kind],
        "tooltip": gs.tooltip(
            [
                ("edge", f"{u} -> {v}"),
                ("kind", kind),
                ("elementary edges", numfmt.count(d["count"])),
                ("grad_flow (sum)", repr(float(d["grad_flow"]))),
                ("grad_flow_abs (sum of |.|)", repr(float(flow))),
            ]
        ),
    }
    if kind == "stream":
        attrs["weight"] = "8"  # keep the stream straight: it is the spine of each position
    elif kind == "kv" and level == "block":
        # cross-position edges must not pull the positions out of line; leaving and entering on the
        # same side draws them as nested arcs beside the attention column instead of through it, and
        # in LR, class "kv" has them drawn in lanes there (viz/graph/lanes.py) when rendered
        tail = head = "e" if rankdir == "LR" else "s"
        attrs.update(constraint="false", tailport=tail, headport=head)
        if rankdir == "LR":
            attrs["class"] = "kv"
    elif kind == "kv" and rankdir == "LR":
        # at the stage level a key or value feeds every later position's heads: in lanes beside the
        # column of keys or of values (class "kv k", "kv v"), between it and its readers; constrained
        # (they keep the positions in order, top to bottom) but of weight 0 (they pull none sideways)
        attrs.update(tailport="e", headport="e", weight="0")
        attrs["class"] = f"kv {u.rsplit('/', 1)[-1]}"
    elif kind == "kv":
        # (TB) a dense bundle, drawn translucent so that it does not hide what it crosses
        attrs["color"] = th.kv + "90"
    dg.flow_style(attrs, flow, pens, th, highlighted)
    if backward:
        attrs["dir"] = "back"
        if kind != "kv":  # a label on an unconstrained arc is placed far from it: hover instead
            attrs["label"] = gs.edge_label(gs.dot_text(numfmt.fixed(flow, 2)))
    return attrs


def _order_positions(g, C, keep, rail=False):
    """Positions in order (top to bottom in LR, left to right in TB), the parameters before them: a
    chain of invisible edges between the first node of each, all in one rank, fixes their order.

    With `rail` (the stage view in lanes, ranked as one: newrank) dot no longer holds a chain whose nodes
    sit in different clusters, and the positions came out in either order, 6 to 0 at a page's width: a
    rail of invisible nodes outside every cluster, chained in order, each tied to its position's first
    node, holds them (the ties would cross in any other order)."""
    first = {}
    for n in keep:
        d = C.nodes[n]
        if "pos" in d:
            first.setdefault(d["pos"], n)
    positions = [first[p] for p in sorted(first)]
    chain = list(positions)
    params = [n for n in keep if _is_param(C.nodes[n]) and C.out_degree(n)]
    if params and chain:
        # the matrix in the same rank as position 0's first node, if any, goes first
        same = [n for n in params if sorted(C.successors(n), key=_reader_order(C))[0] == chain[0]]
        if same:
            chain.insert(0, same[0])
    if len(chain) < 2:
        return
    with g.subgraph() as s:
        s.attr(rank="same")
        for a, b in zip(chain, chain[1:]):
            s.edge(a, b, style="invis")
    if rail:
        for k, n in enumerate(positions):
            g.node(f"rail#{k}", label="", style="invis", shape="point", width="0")
            g.edge(f"rail#{k}", n, style="invis", weight="10")
        with g.subgraph() as s:
            s.attr(rank="same")
            for k in range(1, len(positions)):
                s.edge(f"rail#{k - 1}", f"rail#{k}", style="invis")


def _collapsed_stubs(g, C, boundary, pens, th, backward):
    """Dashed stubs for the scopes outside a focused collapsed view, one per scope (and side), with
    the gradient each edge to it carries; the stubs of one node in natural order (head 0, 1, 2...)."""
    stubs = dg.Clusters()
    joined = {}  # (side, the nodes inside a stub joins) -> [(natural order, stub name)]
    for side in ("in", "out"):
        for i, (key, st) in enumerate(sorted(boundary[side].items())):
            name = f"stub_{side}{i}"
            scope = dg.stub_scope(key, st["positions"])
            count = sum(c for c, _ in st["edges"].values())
            where = "from" if side == "in" else "to"
            text = f"{where} {gs.html(scope)}<BR/>{numfmt.count(count)} edge{'s' * (count != 1)} {side}"
            attrs = dg.stub_node_attrs(text, [("outside the view", scope), ("elementary edges", count)], th)
            stubs.add_node([], name, attrs)
            joined.setdefault((side, tuple(sorted(st["edges"]))), []).append((_natural(key), name))
    for members in joined.values():
        if len(members) > 1:
            stubs.order_siblings([], [(f"anchor#{name}", [name]) for _, name in sorted(members)])
    stubs.emit(g)
    for side in ("in", "out"):
        for i, (key, st) in enumerate(sorted(boundary[side].items())):
            name = f"stub_{side}{i}"
            for inside, (c, flow) in st["edges"].items():
                pos = C.nodes[inside].get("pos")
                kv = st["positions"] and pos is not None and pos not in st["positions"]
                attrs = {
                    "style": "dashed",
                    "penwidth": pens.pen(flow),
                    "color": th.kv if kv else th.muted,
                    "tooltip": gs.tooltip([("elementary edges", c), ("grad_flow_abs (sum of |.|)", repr(float(flow)))]),
                }
                if backward:
                    attrs["dir"] = "back"
                g.edge(name, inside, **attrs) if side == "in" else g.edge(inside, name, **attrs)


def _natural(text):
    """A sort key that puts head2 before head10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _same_rank(g, *names):
    with g.subgraph() as s:
        s.attr(rank="same")
        for n in names:
            s.node(n)


def _reader_order(C):
    def key(n):
        d = C.nodes[n]
        return (d.get("pos", -1), n)

    return key


def _coloured(d, color):
    """The quantity a collapsed node is coloured by: ‖value‖ by value, else ‖grad‖."""
    return d.get("data_norm", math.nan) if color == "value" else d["grad_norm"]


def _group_node_attrs(C, n, d, level, colors, th, precision, highlighted, margin):
    fill, ink = colors.fill(_coloured(d, "value" if colors.mode == "norm" else "grad"), th)
    lines = [f"<B>{gs.html(_short_label(d, level))}</B>"]
    if _is_param(d):
        stats = C.graph.get("param_stats", {}).get(d["scope"][len("param/") :], {})
        shape = stats.get("shape")
        if shape:
            lines.append(f"{shape[0]}×{shape[1]}")
    else:
        lines.append(f"{numfmt.count(d['count'])} ops")
    lines.append(gs.html(f"‖g‖ {numfmt.fixed(d['grad_norm'], precision)}"))
    if colors.mode == "norm" and "data_norm" in d:
        lines.append(gs.html(f"‖v‖ {numfmt.fixed(d['data_norm'], precision)}"))
    if "pos" not in d and d.get("block") == "loss" and "loss" in C.graph:
        lines.append(gs.html(f"loss {numfmt.fixed(C.graph['loss'], precision + 1)}"))
    if 0 < d.get("zero_grad", 0) < d["count"]:
        lines.append(gs.html(f"{numfmt.count(d['zero_grad'])} zero grad"))
    if d.get("nonfinite", 0):
        lines.append(f"<B>{gs.html(numfmt.count(d['nonfinite']) + ' nan/inf')}</B>")
    attrs = {
        "label": "<" + "<BR/>".join(lines) + ">",
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": fill,
        "fontcolor": ink,
        "color": th.ink if th.name == "light" else th.muted,
        "margin": margin,
        "tooltip": _group_tooltip(d, C),
    }
    if colors.magnitude and d.get("zero_grad", 0) == d["count"]:
        attrs["style"] = "rounded,filled,dashed"
    if d.get("nonfinite", 0) or d["grad_norm"] != d["grad_norm"]:
        attrs.update(color=th.nonfinite_pen, penwidth="3")
    if highlighted:
        attrs.update(color=th.highlight, penwidth="3")
    return attrs
