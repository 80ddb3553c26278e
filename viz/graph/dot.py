"""Graphviz diagrams of one traced step, as `graphviz.Digraph` objects (DOT source; nothing is rendered).

    block_diagram(C, ...)          a collapsed graph (`trace.collapse("block"|"stage"|"layer")`): one node
                                   per scope, clusters for positions, layers, blocks and heads
    scalar_diagram(G, nodes, ...)  the real scalar nodes `nodes` of G in micrograd's style (value and grad
                                   on each node, op nodes between), with stubs for the edges that leave

Both are pure functions of the graph and the options: the same input gives the same DOT source. Rendering
is `viz.render.render`. Node and edge attributes are those of docs/trace-format.md.
"""

import math
from collections import defaultdict

import graphviz

from microtrace.viz.graph import style as gs

_STREAM_BLOCKS = ("embed", "attn", "mlp")
_OP_TEXT = {"*": "×", "+": "+", "**": "**", "exp": "exp", "log": "log", "relu": "relu", "dot": "dot", "sum": "Σ"}


def _new_digraph(th, rankdir, title, name):
    g = graphviz.Digraph(name=name)
    g.attr(
        "graph",
        rankdir=rankdir,
        bgcolor=th.background,
        fontname=gs.FONT,
        fontcolor=th.ink,
        fontsize="10",  # the legend's text; the title sets its own size
        label=gs.title_label(title, (), th),
        labelloc="t",
        labeljust="l",
        newrank="true",
        nodesep="0.18",
        ranksep="0.45",
        pad="0.2",
        outputorder="edgesfirst",
    )
    g.attr("node", fontname=gs.FONT, fontsize="11", fontcolor=th.ink, color=th.ink, penwidth="1")
    g.attr("edge", fontname=gs.FONT, fontsize="9", fontcolor=th.muted, arrowsize="0.6", color=th.data)
    return g


class _Clusters:
    """Nested clusters, emitted in the order they were first used (so the source is deterministic)."""

    def __init__(self):
        self.children = defaultdict(list)  # cluster id (None = top) -> child cluster ids
        self.nodes = defaultdict(list)  # cluster id -> [(name, attrs)]
        self.attrs = {}  # cluster id -> graph attributes

    def add_node(self, path, name, attrs):
        """`path`: [(cluster id, {attrs}), ...] from the outermost cluster in."""
        parent = None
        for cid, cattrs in path:
            if cid not in self.attrs:
                self.attrs[cid] = cattrs
                self.children[parent].append(cid)
            parent = cid
        self.nodes[parent].append((name, attrs))

    def emit(self, g, cid=None):
        for name, attrs in self.nodes[cid]:
            g.node(name, **attrs)
        for child in self.children[cid]:
            with g.subgraph(name="cluster_" + child) as s:
                s.attr(**self.attrs[child])
                self.emit(s, child)


def _cluster_attrs(label, depth, th):
    return {
        "label": label,
        "style": "rounded,filled",
        "fillcolor": th.cluster_fills[min(depth, len(th.cluster_fills) - 1)],
        "color": th.cluster_pen,
        "fontcolor": th.muted,
        "fontsize": "11",
        "labeljust": "l",
        "margin": "6",
    }


def _token(label):
    return "BOS" if label == "<BOS>" else label


def _title(G, what, backward):
    m = G.graph
    parts = []
    if "step" in m:
        parts.append(f"step {m['step']}")
    if "doc" in m:
        parts.append(f"“{m['doc']}”")
    if "loss" in m:
        parts.append(f"loss {gs.number(m['loss'], 4)}")
    parts.append(what)
    if backward:
        parts.append("backward: gradient flow")
    return "  ·  ".join(parts)


def _highlighted(highlight):
    """The nodes and the edges (consecutive pairs) of the `highlight` paths, as two sets."""
    return {n for path in highlight for n in path}, {(a, b) for path in highlight for a, b in zip(path, path[1:])}


def _flow_style(attrs, flow, pens, th, highlighted):
    """Mark an edge by the gradient it carries: dotted when none, the alarm colour when nan or inf,
    and the highlight colour (at least 2.5 wide) on a highlighted path. Updates `attrs` in place."""
    if flow == 0:
        attrs["style"] = "dotted"
    elif not math.isfinite(flow):
        attrs["color"] = th.nonfinite_pen
    if highlighted:
        attrs["color"] = th.highlight
        attrs["penwidth"] = f"{max(pens.width(flow), 2.5):.2f}"


# --- collapsed graphs -----------------------------------------------------------------------------


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
        path = [("params", _cluster_attrs("parameter matrices", 0, th))]
        if "layer" in d:
            path.append((f"params/layer{d['layer']}", _cluster_attrs(f"layer {d['layer']}", 1, th)))
        return path
    if "pos" not in d:
        return []
    p = d["pos"]
    tok = ""
    if chars and p + 1 < len(chars):
        tok = f"   {_token(chars[p])} → {_token(chars[p + 1])}"
    path = [(f"pos{p}", _cluster_attrs(f"position {p}{tok}", 0, th))]
    cid = f"pos{p}"
    depth = 1
    if "layer" in d:
        cid += f"/layer{d['layer']}"
        path.append((cid, _cluster_attrs(f"layer {d['layer']}", depth, th)))
        depth += 1
    if level == "stage":
        block = d.get("block")
        if block:
            cid += f"/{block}"
            path.append((cid, _cluster_attrs(block, depth, th)))
            depth += 1
        if "head" in d:
            cid += f"/head{d['head']}"
            path.append((cid, _cluster_attrs(f"head {d['head']}", depth, th)))
    return path


def _group_tooltip(d, C):
    pairs = [("scope", d["scope"]), ("nodes", gs.count(d["count"]))]
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


def block_diagram(
    C,
    *,
    backward=False,
    color="grad",
    params=True,
    highlight=(),
    rankdir="LR",
    theme="light",
    precision=3,
    title=None,
    legend=True,
    what=None,
):
    """The collapsed graph `C` (from `trace.collapse(level)`) as a Graphviz diagram.

    Nodes show their scope, op count and gradient norm and are filled by |grad| (`color="grad"`, log
    scale), not at all (`"none"`); edges are as wide as the gradient they carry (Σ|grad_flow|, log
    scale) and coloured by kind (residual stream, KV cache, parameter read, other). `params=False` leaves
    out the parameter matrices. `highlight`: paths, each a list of C's node ids (consecutive ones are
    joined by an edge of C), drawn in the highlight colour. `backward=True` reverses the arrows and
    labels each edge with its flow; the layout stays that of the forward view. `what` names the view
    in the title.
    """
    th = gs.theme(theme)
    gs.check_rankdir(rankdir)
    level = C.graph.get("level", "block")
    chars = C.graph.get("chars") or []
    keep = [n for n, d in C.nodes(data=True) if params or not _is_param(d)]
    # Parameter reads (one edge per matrix and position) would cross every position: they are left out
    # of the picture and summed up in each matrix's tooltip; the matrix sits above the column reading it.
    edges = [(u, v, d) for u, v, d in C.edges(data=True) if not _is_param(C.nodes[u])]
    # A group has no single value: by value, it is coloured by the norm of the values inside.
    colors = gs.node_colors("norm" if color == "value" else color, (_coloured(C.nodes[n], color) for n in keep))
    boundary = C.graph.get("boundary") or {}
    stub_flows = [f for side in boundary.values() for st in side.values() for _, f in st["edges"].values()]
    pens = gs.pen_scale([d["grad_flow_abs"] for _, _, d in edges] + stub_flows)
    hl_nodes, hl_edges = _highlighted(highlight)
    kind_color = {"stream": th.stream, "kv": th.kv, "data": th.data}

    what = (what or f"{level} view") + ("" if params else " (parameters hidden)")
    g_title = title if title is not None else _title(C, what, backward)
    g = _new_digraph(th, rankdir, g_title, level)
    if legend:
        kinds = [(th.stream, "residual stream"), (th.kv, "KV cache: earlier position → later"), (th.data, "other data flow")]
        if hl_edges:
            kinds.append((th.highlight, "top gradient paths"))
        notes = ["nodes: scope, op count, ‖grad‖", "(L2 norm over the nodes inside)"]
        if params and any(_is_param(C.nodes[n]) for n in keep):
            notes += ["parameters are read at every position", "(hover a matrix for each read)"]
        if backward:
            notes += ["backward: arrows point the way", "the gradient flows"]
        parts = gs.legend_parts(colors, pens, th, edge_kinds=kinds, notes=notes)
        # a node in the last column, beside the loss: the block pictures are tall, not wide
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
    clusters = _Clusters()
    for n in keep:
        d = C.nodes[n]
        attrs = _group_node_attrs(C, n, d, level, colors, th, precision, n in hl_nodes)
        clusters.add_node(_cluster_path(d, level, chars, th), n, attrs)
    clusters.emit(g)
    for n in keep:
        if _is_param(C.nodes[n]):
            readers = sorted(C.successors(n), key=_reader_order(C))
            if readers:
                _same_rank(g, n, readers[0])
    _order_positions(g, C, keep)
    if boundary:
        _collapsed_stubs(g, C, boundary, pens, th, backward)

    kinds = {(u, v): edge_kind(C, u, v) for u, v, _ in edges}
    # KV-cache arcs first, so that the residual stream is drawn over them where they cross
    edges.sort(key=lambda e: kinds[e[0], e[1]] != "kv")
    for u, v, d in edges:
        kind = kinds[u, v]
        flow = d["grad_flow_abs"]
        attrs = {
            "penwidth": pens.pen(flow),
            "color": kind_color[kind],
            "tooltip": gs.tooltip(
                [
                    ("edge", f"{u} -> {v}"),
                    ("kind", kind),
                    ("elementary edges", gs.count(d["count"])),
                    ("grad_flow (sum)", repr(float(d["grad_flow"]))),
                    ("grad_flow_abs (sum of |.|)", repr(float(flow))),
                ]
            ),
        }
        if kind == "stream":
            attrs["weight"] = "8"  # keep the stream straight: it is the spine of each position
        elif kind == "kv" and level == "block":
            # cross-position edges must not pull the positions out of line; leaving and entering on the
            # same side draws them as nested arcs beside the attention column instead of through it
            tail = head = "e" if rankdir == "LR" else "s"
            attrs.update(constraint="false", tailport=tail, headport=head)
        elif kind == "kv":
            # at the stage level a key or value feeds every later position's heads: a dense bundle,
            # drawn translucent so that it does not hide what it crosses
            attrs["color"] = th.kv + "90"
        _flow_style(attrs, flow, pens, th, (u, v) in hl_edges)
        if backward:
            attrs["dir"] = "back"
            if kind != "kv":  # a label on an unconstrained arc is placed far from it: hover instead
                attrs["label"] = gs.number(flow, 2)
        g.edge(u, v, **attrs)

    return g


def _order_positions(g, C, keep):
    """Positions in order (top to bottom in LR, left to right in TB), the parameters before them: a
    chain of invisible edges between the first node of each, all in one rank, fixes their order."""
    first = {}
    for n in keep:
        d = C.nodes[n]
        if "pos" in d:
            first.setdefault(d["pos"], n)
    chain = [first[p] for p in sorted(first)]
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


def _collapsed_stubs(g, C, boundary, pens, th, backward):
    """Dashed stubs for the scopes outside a focused collapsed view, one per scope (and side), with
    the gradient each edge to it carries."""
    for side in ("in", "out"):
        for i, (key, st) in enumerate(sorted(boundary[side].items())):
            name = f"stub_{side}{i}"
            scope = _stub_scope(key, st["positions"])
            count = sum(c for c, _ in st["edges"].values())
            where = "from" if side == "in" else "to"
            text = f"{where} {gs.html(scope)}<BR/>{gs.count(count)} edge{'s' * (count != 1)} {side}"
            g.node(name, **_stub_node_attrs(text, [("outside the view", scope), ("elementary edges", count)], th))
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


def _group_node_attrs(C, n, d, level, colors, th, precision, highlighted):
    fill, ink = colors.fill(_coloured(d, "value" if colors.mode == "norm" else "grad"), th)
    lines = [f'<B>{gs.html(_short_label(d, level))}</B>']
    if _is_param(d):
        stats = C.graph.get("param_stats", {}).get(d["scope"][len("param/") :], {})
        shape = stats.get("shape")
        if shape:
            lines.append(f"{shape[0]}×{shape[1]}")
    else:
        lines.append(f"{gs.count(d['count'])} ops")
    lines.append(gs.html(f"‖g‖ {gs.number(d['grad_norm'], precision)}"))
    if colors.mode == "norm" and "data_norm" in d:
        lines.append(gs.html(f"‖v‖ {gs.number(d['data_norm'], precision)}"))
    if "pos" not in d and d.get("block") == "loss" and "loss" in C.graph:
        lines.append(gs.html(f"loss {gs.number(C.graph['loss'], precision + 1)}"))
    if 0 < d.get("zero_grad", 0) < d["count"]:
        lines.append(gs.html(f"{gs.count(d['zero_grad'])} zero grad"))
    if d.get("nonfinite", 0):
        lines.append(f'<B>{gs.html(gs.count(d["nonfinite"]) + " nan/inf")}</B>')
    attrs = {
        "label": "<" + "<BR/>".join(lines) + ">",
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": fill,
        "fontcolor": ink,
        "color": th.ink if th.name == "light" else th.muted,
        "margin": "0.12,0.05",
        "tooltip": _group_tooltip(d, C),
    }
    if colors.magnitude and d.get("zero_grad", 0) == d["count"]:
        attrs["style"] = "rounded,filled,dashed"
    if d.get("nonfinite", 0) or d["grad_norm"] != d["grad_norm"]:
        attrs.update(color=th.nonfinite_pen, penwidth="3")
    if highlighted:
        attrs.update(color=th.highlight, penwidth="3")
    return attrs


# --- scalar nodes ---------------------------------------------------------------------------------

_LEAVES = ("param", "const", "leaf")


def _is_const(d):
    return d["op"] == "const"


def _op_text(d, consts, precision):
    op = d["op"]
    if op == "**":
        text = f"** {d.get('exponent', float('nan')):g}"  # exponents are short: -1, -0.5, 2
    else:
        text = _OP_TEXT.get(op, op)
    if consts:
        text += " " + ", ".join(gs.number(c, precision) for c in consts)
    return text


def _value_title(n, d):
    if "param" in d:
        r, c = d["index"]
        name = d["param"].split(".", 1)[-1]
        return f"{name}[{r},{c}]"
    text = f"#{n}"
    if "key" in d:
        text += f" key {d['key']}"
    elif "unit" in d:
        text += f" unit {d['unit']}"
    return text


_TOOLTIP_KEYS = (
    "op", "data", "grad", "scope", "pos", "layer", "block", "head", "stage", "exponent", "key", "unit",
    "param", "index", "new_data", "adam_m", "adam_v", "update_ratio",
)  # fmt: skip


def _value_tooltip(n, d):
    pairs = [("node", n)]
    for key in _TOOLTIP_KEYS:
        if key in d:
            v = d[key]
            pairs.append((key, repr(float(v)) if isinstance(v, float) else v))
    return gs.tooltip(pairs)


def _common_scope(scopes):
    parts = [s.split("/") for s in scopes]
    if not parts:
        return ""
    prefix = []
    for group in zip(*parts):
        if all(p == group[0] for p in group):
            prefix.append(group[0])
        else:
            break
    return "/".join(prefix)


def scalar_diagram(
    G,
    nodes,
    *,
    backward=False,
    color="grad",
    highlight=(),
    rankdir="LR",
    theme="light",
    precision=3,
    title=None,
    legend=True,
    what=None,
):
    """The scalar nodes `nodes` of G (ids of `trace.graph(view)`) in micrograd's style.

    Each value is a box with its data and grad; each operation an op node (×, +, **, exp, log, relu,
    dot, Σ) between its operands and its result, with the constants it uses written inside it. Edges
    are as wide as |grad_flow| (log scale). The rest of the graph appears as dashed stub nodes, one per
    scope outside, saying how many nodes and edges connect to it. `color`: "grad" (|grad|, log scale),
    "value" (data, diverging) or "none". `highlight`: paths of G's node ids (`top_paths`). `backward`:
    arrows reversed and each operand edge labelled with its grad_flow. `what` names the view in the title.
    """
    th = gs.theme(theme)
    gs.check_rankdir(rankdir)
    inside = sorted(set(nodes))
    S = set(inside)
    # Constants are drawn inside the op that uses them (their gradient tells nothing); one used by
    # several ops inside the view stays a node.
    inline = {}
    for n in inside:
        for u in G.predecessors(n):
            du = G.nodes[u]
            if _is_const(du) and (u not in S or G.out_degree(u) == 1):
                inline.setdefault(n, []).append(u)
    inlined = {u for us in inline.values() for u in us}
    drawn = [n for n in inside if n not in inlined]
    values = [G.nodes[n]["grad" if color == "grad" else "data"] for n in drawn]
    colors = gs.node_colors(color, values)
    edges = [(u, v, d) for u, v, d in G.in_edges(drawn, data=True) if u not in inlined]
    pens = gs.pen_scale(d["grad_flow"] for _, _, d in edges)
    hl_nodes, hl_edges = _highlighted(highlight)

    scopes = [G.nodes[n]["scope"] for n in drawn]
    common = _common_scope(scopes)
    if what is None:
        what = f"scalar view of {common or 'the step'}"
    view = G.graph.get("view", "elementary")
    g_title = title if title is not None else _title(G, f"{what} ({view})", backward)
    g = _new_digraph(th, rankdir, g_title, "scalar")
    g.attr("graph", nodesep="0.10", ranksep="0.16")

    # stubs: the rest of the graph, one node per outside scope on each side (the same scope at several
    # positions, such as the KV cache's keys, is one stub)
    stub_in, stub_out = {}, {}  # scope pattern -> {"nodes": set, "positions": set, "edges": {node: count}}
    for n in drawn:
        for u in G.predecessors(n):
            if u in S or u in inlined or _is_const(G.nodes[u]):
                continue
            _stub_add(stub_in, G.nodes[u], u, n)
        for w in G.successors(n):
            if w not in S:
                _stub_add(stub_out, G.nodes[w], w, n)

    if legend:
        parts = _scalar_legend(colors, pens, th, inline, stub_in or stub_out, backward, hl_edges)
        g.attr("graph", label=gs.title_label(g_title, parts, th))

    clusters = _Clusters()
    for n in drawn:
        d = G.nodes[n]
        scope = d["scope"]
        rel = scope[len(common) :].strip("/") if common and scope != common else ""
        path = [(f"s_{scope}", _cluster_attrs(rel or scope, 0, th))] if rel or len(set(scopes)) > 1 else []
        clusters.add_node(path, f"n{n}", _value_attrs(n, d, colors, th, precision, n in hl_nodes))
        if d["op"] not in _LEAVES:
            consts = [G.nodes[u]["data"] for u in inline.get(n, [])]
            clusters.add_node(path, f"o{n}", _op_attrs(n, d, consts, th, precision, inline.get(n, []), G))
    clusters.emit(g)

    # stub names are numbered, not scope paths: a colon in a DOT node name would start a port
    in_names = {scope: f"stub_in{i}" for i, scope in enumerate(sorted(stub_in))}
    out_names = {scope: f"stub_out{i}" for i, scope in enumerate(sorted(stub_out))}
    for scope, st in sorted(stub_in.items()):
        g.node(in_names[scope], **_stub_attrs(scope, st, "in", th))
    for scope, st in sorted(stub_out.items()):
        g.node(out_names[scope], **_stub_attrs(scope, st, "out", th))

    back = {"dir": "back"} if backward else {}
    for n in drawn:
        d = G.nodes[n]
        if d["op"] not in _LEAVES:
            attrs = {"penwidth": pens.pen(d["grad"]), "arrowsize": "0.5", **back}
            if any((u, n) in hl_edges for u in G.predecessors(n)):
                attrs["color"] = th.highlight
            g.edge(f"o{n}", f"n{n}", **attrs)
    for u, v, d in edges:
        if u in S:  # edges from outside are drawn once per stub below
            attrs = _scalar_edge_attrs(u, v, d, pens, th, backward, precision, (u, v) in hl_edges)
            g.edge(f"n{u}", f"o{v}", **attrs)
    for scope, st in sorted(stub_in.items()):
        for n, k in st["edges"].items():
            g.edge(in_names[scope], f"o{n}", **_stub_edge_attrs(k, th, back))
    for scope, st in sorted(stub_out.items()):
        for n, k in sorted(st["edges"].items()):
            g.edge(f"n{n}", out_names[scope], **_stub_edge_attrs(k, th, back))
    return g


def _stub_edge_attrs(count, th, back):
    """A dashed edge between a stub and the node inside the view that `count` elementary edges join."""
    return {"style": "dashed", "color": th.muted, "penwidth": "0.8", "tooltip": f"{count} edge{'s' * (count != 1)}", **back}


def _value_attrs(n, d, colors, th, precision, highlighted):
    fill, ink = colors.fill(d["grad"] if colors.mode != "value" else d["data"], th)
    label = (
        f'<<B>{gs.html(_value_title(n, d))}</B><BR/>'
        f'data {gs.html(gs.number(d["data"], precision))}<BR/>'
        f'grad {gs.html(gs.number(d["grad"], precision))}>'
    )
    attrs = {
        "label": label,
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": fill,
        "fontcolor": ink,
        "fontsize": "10",
        "margin": "0.06,0.03",
        "color": th.ink if th.name == "light" else th.muted,
        "tooltip": _value_tooltip(n, d),
    }
    if colors.mode == "grad" and d["grad"] == 0:
        attrs["style"] = "rounded,filled,dashed"
    if not (math.isfinite(d["data"]) and math.isfinite(d["grad"])):
        attrs.update(color=th.nonfinite_pen, penwidth="3", fillcolor=th.nonfinite_fill, fontcolor="#ffffff")
    if highlighted:
        attrs.update(color=th.highlight, penwidth="3")
    return attrs


def _op_attrs(n, d, consts, th, precision, const_ids, G):
    pairs = [("op", d["op"]), ("result", f"#{n}")]
    if "exponent" in d:
        pairs.append(("exponent", d["exponent"]))
    for u in const_ids:
        pairs.append((f"constant #{u}", repr(float(G.nodes[u]["data"]))))
    return {
        "label": _op_text(d, consts, precision),
        "shape": "ellipse",
        "style": "filled",
        "fillcolor": th.op_fill,
        "fontsize": "10",
        "width": "0.3",
        "height": "0.25",
        "margin": "0.03,0.01",
        "color": th.muted,
        "tooltip": gs.tooltip(pairs),
    }


def _stub_add(stubs, d, outside, inside):
    parts = d["scope"].split("/")
    key = d["scope"]
    if "pos" in d and parts[0] == f"pos{d['pos']}":
        key = "pos*/" + "/".join(parts[1:])
    st = stubs.setdefault(key, {"nodes": set(), "positions": set(), "edges": {}})
    st["nodes"].add(outside)
    if "pos" in d:
        st["positions"].add(d["pos"])
    st["edges"][inside] = st["edges"].get(inside, 0) + 1


def _positions_text(positions):
    ps = sorted(positions)
    if len(ps) > 2 and ps == list(range(ps[0], ps[-1] + 1)):
        return f"pos{ps[0]}–{ps[-1]}"
    return "pos" + ",".join(str(p) for p in ps)


def _stub_scope(key, positions):
    """A stub's scope as shown: a "pos*/..." key (the same scope at several positions) names them."""
    return key.replace("pos*", _positions_text(positions), 1) if key.startswith("pos*/") else key


def _stub_attrs(key, st, side, th):
    nodes, edges = len(st["nodes"]), sum(st["edges"].values())
    scope = _stub_scope(key, st["positions"])
    where = "from" if side == "in" else "to"
    text = (
        f"{where} {gs.html(scope)}<BR/>"
        f"{gs.count(nodes)} node{'s' * (nodes != 1)} · {gs.count(edges)} edge{'s' * (edges != 1)} {side}"
    )
    return _stub_node_attrs(text, [("outside the view", scope), ("nodes", nodes), ("edges", edges)], th)


def _stub_node_attrs(text, tooltip_pairs, th):
    """A dashed box standing for what lies outside the view (both diagrams draw stubs alike): `text`
    is its HTML-like label."""
    return {
        "label": f"<{text}>",
        "shape": "box",
        "style": "rounded,dashed,filled",
        "fillcolor": th.stub_fill,
        "color": th.muted,
        "fontcolor": th.muted,
        "fontsize": "9",
        "tooltip": gs.tooltip(tooltip_pairs),
    }


def _scalar_edge_attrs(u, v, d, pens, th, backward, precision, highlighted):
    flow = d["grad_flow"]
    attrs = {
        "penwidth": pens.pen(flow),
        "tooltip": gs.tooltip(
            [("edge", f"#{u} -> #{v}"), ("local_grad", repr(float(d["local_grad"]))), ("grad_flow", repr(float(flow)))]
            + ([("multiplicity", d["multiplicity"])] if "multiplicity" in d else [])
        ),
    }
    _flow_style(attrs, flow, pens, th, highlighted)
    label = []
    if "multiplicity" in d:
        label.append(f"×{d['multiplicity']}")
    if backward:
        attrs["dir"] = "back"
        label.append(gs.number(flow, precision))
    if label:
        attrs["label"] = " ".join(label)
    return attrs


def _scalar_legend(colors, pens, th, inline, stubs, backward, hl_edges):
    kinds = [(th.highlight, "top gradient paths")] if hl_edges else []
    notes = ["boxes: node id, data, grad", "ellipses: the op making the box they point to"]
    if inline:
        notes.append("constants are written in their op")
    if stubs:
        notes.append("dashed boxes: the rest of the graph")
    if backward:
        notes.append("backward: arrows point the way the gradient flows, labels give grad_flow")
    return gs.legend_parts(colors, pens, th, edge_kinds=kinds, flow_text="|grad_flow|", notes=notes)
