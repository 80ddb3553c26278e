"""Real scalar nodes of a traced step in micrograd's style, as a Graphviz diagram: value and grad on each
node, op nodes between, with stubs for the edges that leave the view.

A pure function of the graph and the options: the same input gives the same DOT source. Rendering is
`viz.graph.render.render`. Node and edge attributes are those of docs/trace-format.md.
"""

import math
from collections.abc import Callable, Iterable, Sequence

import graphviz
import networkx as nx

from microtrace.util import numfmt
from microtrace.viz.graph import diagram as dg
from microtrace.viz.graph import fold as gf
from microtrace.viz.graph import style as gs
from microtrace.viz.graph.render import RenderError, layout_size, node_places

_LEAVES = ("param", "const", "leaf")
_OP_TEXT = {"*": "×", "+": "+", "**": "**", "exp": "exp", "log": "log", "relu": "relu", "dot": "dot", "sum": "Σ"}


def _is_const(d):
    return d["op"] == "const"


def _op_text(d, consts, precision):
    op = d["op"]
    if op == "**":
        text = f"** {d.get('exponent', float('nan')):g}"  # exponents are short: -1, -0.5, 2
    else:
        text = _OP_TEXT.get(op, op)
    if consts:
        text += " " + ", ".join(numfmt.fixed(c, precision) for c in consts)
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
    "param", "index", "new_data", "adam_m", "adam_v", "update_ratio", "source", "function", "local_grad_known",
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
    G: nx.DiGraph,
    nodes: Iterable[int],
    *,
    backward: bool = False,
    color: str = "grad",
    highlight: Sequence[Sequence] = (),
    rankdir: str = "LR",
    theme: str = "light",
    precision: int = 3,
    title: str | None = None,
    legend: bool = True,
    what: str | None = None,
    label: str = "id",
    fold: bool = True,
    quick: bool = False,
    places: Callable | None = None,
    fold_width: float | None = None,
) -> graphviz.Digraph:
    """The scalar nodes `nodes` of G (ids of `trace.graph(view)`) in micrograd's style.

    Each value is a box with its data and grad; each operation an op node (×, +, **, exp, log, relu,
    dot, Σ) between its operands and its result, with the constants it uses written inside it. Edges
    are as wide as |grad_flow| (log scale). The rest of the graph appears as dashed stub nodes, one per
    scope outside, saying how many nodes and edges connect to it. `color`: "grad" (|grad|, log scale),
    "value" (data, diverging) or "none". `highlight`: paths of G's node ids (`top_paths`). `backward`:
    arrows reversed and each operand edge labelled with its grad_flow. `what` names the view in the title.
    `label`: "id" (node id or parameter entry) or "source", which adds the `file:line` that made the
    value (traces of a user's script record it; the tooltip always shows it). `fold`: cut a long chain
    into bands drawn one under the other (LR) or side by side (TB), or wrap many parallel parts (a
    ReLU's units) into columns (LR) or rows (TB), each with its own stubs, so that the drawing fits a
    page (viz/graph/fold.py). `quick`: one network-simplex pass places the nodes (as clean, a little
    less compact, 5x faster on long chains); the order of parallel runs is checked on that same layout.
    `places`: where dot puts the nodes of a drawing (a `graphviz.Digraph` -> {name: (x, y)}, or None when
    dot cannot lay it out), for a caller that lays the view out anyway (the explorer) and so checks the
    order on its own layout; by default a `dot` run of the check's own (`render.node_places`).
    `fold_width`: the width (inches, at the drawing's own size) a printed page leaves it: a chain
    longer is cut into bands that long (LR) rather than into the bands of a landscape page.
    """
    th = gs.theme(theme)
    gs.check_rankdir(rankdir)
    inside = sorted(set(nodes))
    S = set(inside)
    inline = _inline_constants(G, inside, S)
    inlined = {u for us in inline.values() for u in us}
    drawn = [n for n in inside if n not in inlined]
    colors = _colouring(G, drawn, color)
    edges = [(u, v, d) for u, v, d in G.in_edges(drawn, data=True) if u not in inlined]
    pens = gs.pen_scale(d["grad_flow"] for _, _, d in edges)
    hl_nodes, hl_edges = dg.highlighted_sets(highlight)

    scopes = [G.nodes[n]["scope"] for n in drawn]
    common = _common_scope(scopes)
    if what is None:
        what = f"scalar view of {common or 'the step'}"
    g_title = title if title is not None else dg.step_title(G, f"{what} ({dg.view_name(G.graph)})", backward)
    stub_in, stub_out = _stubs(G, drawn, S, inlined)

    units: list = []  # the view's independent parts, when a wide view is cut into rows

    def draw(band, row, flip=frozenset(), runs=None):
        g = dg.new_digraph(th, rankdir, g_title, "scalar")
        g.attr("graph", nodesep="0.10", ranksep="0.16")
        if quick:
            g.attr("graph", nslimit="1", nslimit1="1")
        if legend:
            parts = _scalar_legend(colors, pens, th, inline, stub_in or stub_out, backward, hl_edges)
            g.attr("graph", label=gs.title_label(g_title, parts, th))
        found = _scalar_nodes(g, G, drawn, scopes, common, inline, colors, th, precision, hl_nodes,
                              label == "source", band, row, rankdir == "LR", flip)  # fmt: skip
        if runs is not None:
            runs.extend(found)
        _scalar_edges(g, G, drawn, edges, S, pens, th, backward, precision, hl_edges, band)
        _row_edges(g, drawn, edges, S, row, units)
        for suffix, (ins, outs) in _row_stubs(G, drawn, S, inlined, row) if row else [("", (stub_in, stub_out))]:
            names = _stub_nodes(g, ins, outs, th, suffix)
            _stub_edges(g, ins, outs, names, th, backward)
        return g

    if not fold:  # (drawn again only where dot cannot lay the view out: the same drawing, unchecked)
        return _runs_in_order(draw, {}, {}, rankdir, places) or draw({}, {})
    g = draw({}, {})
    successors = _successors(G, drawn, edges, S, stub_in, stub_out)
    rank, sizes = gf.ranks(successors), {name: gf.SIZES[name[0]] for name in successors}
    measured: list = []

    def measure():  # dot's layout of the unfolded view, once
        if not measured:
            measured.append(layout_size(g))
        return measured[0]

    scope_path = scope_paths(scopes, common)
    groups = {
        name: [s for s, _ in scope_path(G.nodes[int(name[1:])]["scope"])] for name in successors if name[0] in "no"
    }
    band = {
        name: b for name, b in gf.bands(rank, sizes, rankdir, measure, groups, fold_width).items() if name[0] != "s"
    }
    units[:] = _parts(drawn, edges, S, G)
    # rows of parts stay inside one box: only a view whose nodes all sit in the same clusters wraps
    one_box = len({tuple(p) for p in groups.values()}) == 1
    row = {} if band or not one_box else gf.rows(rank, sizes, rankdir, units, measure)
    # folded when dot can lay the fold out: its invisible clusters and anchors can ask dot (2.43) for a
    # ranking it cannot make ("trouble in init_rank", e.g. a view of gradient paths that crosses many
    # scopes), and a figure that fits no page is better than no figure
    folded = _runs_in_order(draw, band, row, rankdir, places) if band or row else None
    return folded or _runs_in_order(draw, {}, {}, rankdir, places) or g


def _runs_in_order(draw, band, row, rankdir, places=None):
    """`draw(band, row)` with its parallel runs (keys, units) reading 0, 1, 2... across their ranks, or
    None when dot cannot lay it out, or when it is folded and dot keeps a run backwards (a fold keeps the
    view's order or is not made). Which way dot reads an anchor chain depends on where its anchors sit
    and on what crosses them, so the chains are checked against dot's layout, and those read backwards
    turned round."""
    folded = bool(band or row)
    runs: list = []
    g = draw(band, row, frozenset(), runs)
    if not folded and all(len(run) < 2 for run in runs):
        return g  # nothing to read backwards, and no fold to try: no dot (most of the explorer's views)
    backwards = _backwards(g, runs, rankdir, places or node_places)
    if backwards is None or not backwards:
        return g if backwards is not None or not folded else None
    turned = draw(band, row, frozenset(backwards))
    return None if folded and _backwards(turned, runs, rankdir, places or node_places) else turned


def _backwards(g, runs, rankdir, laid_out):
    """The first names of the runs that dot does not lay out in order ({} without dot), None if it cannot
    lay `g` out. `laid_out(g)`: dot's places of g's nodes."""
    try:
        places = laid_out(g) or {}
    except RenderError:
        return None
    axis, sign = (1, -1) if rankdir == "LR" else (0, 1)  # reading order: top to bottom, or left to right
    backwards = set()
    for run in runs:
        read = [sign * places[name][axis] for name in run if name in places]
        if read != sorted(read):
            backwards.add(run[0])
    return backwards


def colouring(G, nodes, color="grad"):
    """The fills `scalar_diagram(G, nodes, color=color)` uses (`style.NodeColors`): its scale spans the
    nodes it draws as boxes (not the constants written inside an op)."""
    inside = sorted(set(nodes))
    inlined = {u for us in _inline_constants(G, inside, set(inside)).values() for u in us}
    return _colouring(G, [n for n in inside if n not in inlined], color)


def _colouring(G, drawn, color):
    return gs.node_colors(color, [G.nodes[n]["grad" if color == "grad" else "data"] for n in drawn])


def _inline_constants(G, inside, S):
    """op node -> the constants drawn inside it. Their gradient tells nothing, so a constant is written in
    the op that uses it; one used by several ops inside the view stays a node."""
    inline = {}
    for n in inside:
        for u in G.predecessors(n):
            if _is_const(G.nodes[u]) and (u not in S or G.out_degree(u) == 1):
                inline.setdefault(n, []).append(u)
    return inline


def _stubs(G, drawn, S, inlined):
    """The rest of the graph, one stub per outside scope on each side (the same scope at several
    positions, such as the KV cache's keys, is one stub): two dicts, scope pattern ->
    {"nodes": set, "positions": set, "edges": {node: count}}."""
    stub_in, stub_out = {}, {}
    for n in drawn:
        for u in G.predecessors(n):
            if u in S or u in inlined or _is_const(G.nodes[u]):
                continue
            _stub_add(stub_in, G.nodes[u], u, n)
        for w in G.successors(n):
            if w not in S:
                _stub_add(stub_out, G.nodes[w], w, n)
    return stub_in, stub_out


def _successors(G, drawn, edges, S, stub_in, stub_out):
    """DOT node name -> the names its edges go to, for `fold`: the values, ops and stubs (the stubs take
    room too, but stay out of the bands and rows: they join several)."""
    successors = {}
    for n in drawn:
        successors[f"n{n}"] = []
        if G.nodes[n]["op"] not in _LEAVES:
            successors[f"o{n}"] = [f"n{n}"]
    for u, v, _ in edges:
        if u in S:
            successors[f"n{u}"].append(f"o{v}")
    for i, (_, st) in enumerate(sorted(stub_in.items())):
        successors[f"stub_in{i}"] = [f"o{n}" for n in st["edges"]]
    for i, (_, st) in enumerate(sorted(stub_out.items())):
        successors[f"stub_out{i}"] = []
        for n in st["edges"]:
            successors[f"n{n}"].append(f"stub_out{i}")
    return successors


def _parts(drawn, edges, S, G):
    """The view's independent parts (connected without the stubs) as lists of DOT names, in the order
    of their first node (node ids follow the model's loops: unit 0's before unit 1's)."""
    parent = {n: n for n in drawn}

    def root(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for u, v, _ in edges:
        if u in S:
            parent[root(u)] = root(v)
    parts = {}
    for n in drawn:  # sorted: each part comes in the order of its first node
        names = (f"n{n}", f"o{n}") if G.nodes[n]["op"] not in _LEAVES else (f"n{n}",)
        parts.setdefault(root(n), []).extend(names)
    return list(parts.values())


def scope_paths(scopes, common):
    """scope -> the clusters it is drawn in, outermost first, as [(scope, label)]: one cluster per scope of
    the view, a scope inside another drawn inside its cluster (a script's head0/softmax/weights in
    head0/softmax in head0), each labelled with its path below the cluster around it (`common`, the
    view's scope, in full). A view of one scope, `common`, has no cluster at all."""
    kinds = sorted(set(scopes), key=lambda s: (s.count("/"), s))
    if kinds == [common]:
        return lambda scope: []

    def path(scope):
        chain = [s for s in kinds if s == scope or scope.startswith(s + "/")]
        out, above = [], common
        for s in chain:
            label = s[len(above) :].strip("/") if above and s.startswith(above + "/") else s
            out.append((s, label))
            above = s
        return out

    return path


def _scalar_nodes(g, G, drawn, scopes, common, inline, colors, th, precision, hl_nodes, label_source, band, row, lr,
                  flip):  # fmt: skip
    """A value box per drawn node (and an op ellipse unless a leaf), in one cluster per scope below `common`,
    parallel values in order of their key, unit or head (in each `row` of a wide view its own run);
    folded, each band in an invisible cluster of its own, the bands in order."""
    scope_path = scope_paths(scopes, common)
    clusters = dg.Clusters()
    first = {}  # band -> its first op (the values may be anchored in a run, below)
    path_of = {}
    for n in drawn:
        d = G.nodes[n]
        scoped = [
            (f"s_{s}", dg.cluster_attrs(label, depth, th)) for depth, (s, label) in enumerate(scope_path(d["scope"]))
        ]
        for name in (f"n{n}", f"o{n}") if d["op"] not in _LEAVES else (f"n{n}",):
            path = scoped
            fold = {"label": "", "peripheries": "0"}
            if name in band:  # a band holds whole clusters (fold.bands cuts between them)
                b = band[name]
                if name[0] == "o":
                    first.setdefault(b, name)
                path = [(f"fold{b}", fold)] + [(f"{c}#{b}", a) for c, a in path]
            elif name in row:  # the rows of one cluster's parts, inside it
                path = path + [(f"fold{row[name]}", fold)]
            path_of[name] = path
            if name[0] == "n":
                attrs = _value_attrs(n, d, colors, th, precision, n in hl_nodes, label_source)
            else:
                consts = [G.nodes[u]["data"] for u in inline.get(n, [])]
                attrs = _op_attrs(n, d, consts, th, precision, inline.get(n, []), G)
            clusters.add_node(path, name, attrs)
    runs = _parallel_runs(G, drawn, path_of, row, bool(band))
    for run in runs:
        # folded, the anchors sit in the run's cluster (anchors at the top level turn the bands around),
        # where dot reads a chain bottom to top with LR
        where = path_of[run[0]] if band else []
        reverse = (bool(where) and lr) != (run[0] in flip)
        clusters.order_siblings(where, [(f"anchor#{name}", [name]) for name in run], reverse=reverse)
    if first:
        clusters.order_siblings([], [(f"anchor#fold{b}", [first[b]]) for b in sorted(first)])
    clusters.emit(g)
    return runs


_INDEXES = ("head", "key", "unit")


def _parallel_runs(G, drawn, path_of, row, folded=False):
    """Values to keep in order across their rank, as lists of DOT names: those of one cluster, made by
    the same op at the same depth of the drawing, that differ only in their head, key or unit, sorted
    by it; `folded`, also those that differ in none of these, in the order they were made (a head's
    output, one value per dimension, is made dimension by dimension: its edges from the band before come
    in unconstrained, and dot drew dimensions 0, 2, 3, 1). (Graphviz orders a rank to save crossings
    only: a softmax's weights came out keys 8 to 0.)"""
    S = set(drawn)
    depth = {}
    for n in drawn:  # node ids grow along the graph: operands before their results
        inside = [depth[u] for u in G.predecessors(n) if u in S]
        depth[n] = max(inside, default=0) + 1
    runs = {}
    for n in drawn:
        d = G.nodes[n]
        if d["op"] not in _LEAVES:
            index = next((k for k in reversed(_INDEXES) if k in d), None)
            name = f"n{n}"
            rest = tuple(d.get(k) for k in _INDEXES if k != index)
            where = tuple(cid for cid, _ in path_of[name])
            runs.setdefault((where, row.get(name), d["op"], depth[n], index, rest), []).append(n)
    ordered = []
    for (*_, index, _), members in runs.items():
        indexes = {G.nodes[n].get(index) for n in members}
        members.sort(key=lambda n: (G.nodes[n].get(index, 0), n))
        if len(members) > 1 and (len(indexes) == len(members) or folded and len(indexes) == 1):
            ordered.append([f"n{n}" for n in members])
    return ordered


def _row_stubs(G, drawn, S, inlined, row):
    """A view cut into rows: each row's own stubs (`_stubs` of its nodes), so that no dashed edge runs
    across the other rows; [(name suffix, (stubs in, stubs out)), ...]."""
    by_row = {}
    for n in drawn:
        by_row.setdefault(row[f"n{n}"], []).append(n)
    return [(f"r{r}", _stubs(G, ns, S, inlined)) for r, ns in sorted(by_row.items())]


def _stub_nodes(g, stub_in, stub_out, th, suffix=""):
    """The stub nodes; returns their names by scope, one dict per side. Stub names are numbered, not
    scope paths: a colon in a DOT node name would start a port."""
    in_names = {scope: f"stub_in{i}{suffix}" for i, scope in enumerate(sorted(stub_in))}
    out_names = {scope: f"stub_out{i}{suffix}" for i, scope in enumerate(sorted(stub_out))}
    for scope, st in sorted(stub_in.items()):
        g.node(in_names[scope], **_stub_attrs(scope, st, "in", th))
    for scope, st in sorted(stub_out.items()):
        g.node(out_names[scope], **_stub_attrs(scope, st, "out", th))
    return in_names, out_names


def _stub_edges(g, stub_in, stub_out, names, th, backward):
    """A dashed edge between each stub and every node inside the view that it joins."""
    in_names, out_names = names
    back = {"dir": "back"} if backward else {}
    for scope, st in sorted(stub_in.items()):
        for n, k in st["edges"].items():
            g.edge(in_names[scope], f"o{n}", **_stub_edge_attrs(k, th, back))
    for scope, st in sorted(stub_out.items()):
        for n, k in sorted(st["edges"].items()):
            g.edge(f"n{n}", out_names[scope], **_stub_edge_attrs(k, th, back))


def _scalar_edges(g, G, drawn, edges, S, pens, th, backward, precision, hl_edges, band):
    """Each op to its result, then each operand inside the view to its op (those outside: see the stubs).
    An edge from one band of a folded view to the next does not constrain the ranks: each band starts
    again at the first."""
    back = {"dir": "back"} if backward else {}

    def crossing(a, b):
        return {"constraint": "false"} if band.get(a, 0) != band.get(b, 0) else {}

    for n in drawn:
        d = G.nodes[n]
        if d["op"] not in _LEAVES:
            attrs = {"penwidth": pens.pen(d["grad"]), "arrowsize": "0.5", **back, **crossing(f"o{n}", f"n{n}")}
            if any((u, n) in hl_edges for u in G.predecessors(n)):
                attrs["color"] = th.highlight
            g.edge(f"o{n}", f"n{n}", **attrs)
    for u, v, d in edges:
        if u in S:
            attrs = _scalar_edge_attrs(u, v, d, pens, th, backward, precision, (u, v) in hl_edges)
            g.edge(f"n{u}", f"o{v}", **attrs, **crossing(f"n{u}", f"o{v}"))


def _row_edges(g, drawn, edges, S, row, parts):
    """A wide view cut into rows (`fold.rows`): the j-th part of each row chained to the j-th of the next
    by invisible edges from its last nodes to the other's first node, so that the rows follow each other
    along the ranks and their parts line up in columns. (Edges to all of the other's first nodes pulled
    lm_head's rows apart: a row half as wide, the drawing 121 inches wide instead of 92.)"""
    if not row:
        return
    nexts = {name: [] for name in row}
    for n in drawn:
        if f"o{n}" in nexts:
            nexts[f"o{n}"].append(f"n{n}")
    for u, v, _ in edges:
        if u in S:
            nexts[f"n{u}"].append(f"o{v}")
    has_prev = {b for bs in nexts.values() for b in bs}
    by_row = {}
    for part in parts:
        by_row.setdefault(row[part[0]], []).append(part)
    for r in range(1, len(by_row)):
        for above, below in zip(by_row[r - 1], by_row[r]):
            for a in (name for name in above if not nexts[name]):
                b = next(name for name in below if name not in has_prev)
                g.edge(a, b, style="invis", minlen="2")  # a rank for the rows' stubs


def _stub_edge_attrs(count, th, back):
    """A dashed edge between a stub and the node inside the view that `count` elementary edges join."""
    return {
        "style": "dashed",
        "color": th.muted,
        "penwidth": "0.8",
        "tooltip": gs.dot_text(f"{count} edge{'s' * (count != 1)}"),
        **back,
    }


def _value_attrs(n, d, colors, th, precision, highlighted, label_source=False):
    fill, ink = colors.fill(d["grad"] if colors.mode != "value" else d["data"], th)
    where = f'<FONT POINT-SIZE="8">{gs.html(d["source"])}</FONT><BR/>' if label_source and "source" in d else ""
    label = (
        f"<<B>{gs.html(_value_title(n, d))}</B><BR/>{where}"
        f"data {gs.html(numfmt.fixed(d['data'], precision))}<BR/>"
        f"grad {gs.html(numfmt.fixed(d['grad'], precision))}>"
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
        "label": gs.dot_text(_op_text(d, consts, precision)),
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


def _stub_attrs(key, st, side, th):
    nodes, edges = len(st["nodes"]), sum(st["edges"].values())
    scope = dg.stub_scope(key, st["positions"])
    where = "from" if side == "in" else "to"
    text = (
        f"{where} {gs.html(scope)}<BR/>"
        f"{numfmt.count(nodes)} node{'s' * (nodes != 1)} · {numfmt.count(edges)} edge{'s' * (edges != 1)} {side}"
    )
    return dg.stub_node_attrs(text, [("outside the view", scope), ("nodes", nodes), ("edges", edges)], th)


def _scalar_edge_attrs(u, v, d, pens, th, backward, precision, highlighted):
    flow = d["grad_flow"]
    attrs = {
        "penwidth": pens.pen(flow),
        "tooltip": gs.tooltip(
            [("edge", f"#{u} -> #{v}"), ("local_grad", repr(float(d["local_grad"]))), ("grad_flow", repr(float(flow)))]
            + ([("multiplicity", d["multiplicity"])] if "multiplicity" in d else [])
        ),
    }
    dg.flow_style(attrs, flow, pens, th, highlighted)
    label = []
    if "multiplicity" in d:
        label.append(f"×{d['multiplicity']}")
    if backward:
        attrs["dir"] = "back"
        label.append(numfmt.fixed(flow, precision))
    if label:
        attrs["label"] = gs.edge_label(gs.dot_text(" ".join(label)))
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
