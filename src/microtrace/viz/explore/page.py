"""The explorer: one self-contained HTML page to walk a traced step, from the block view down to scalars.

    from microtrace.tracer import trace_step
    from microtrace.viz.explore.page import build_explorer
    html = build_explorer(trace_step("runs/demo", 120))   # str: write it anywhere, open it offline

Graphviz lays out every view when the page is written (viz/explore/views.py says which); the page
keeps each view's layout and numbers gzipped with its neighbours' in a script element and unpacks one
only when it is opened (the browser's DecompressionStream), so a large step opens as fast as a small
one. The page's code is js/*.js (one idea a file, inlined in the order of SCRIPTS), explorer.css and
template.html beside this file; its Content-Security-Policy forbids every request, so it works from
disk, offline and inside an <iframe>.
"""

import base64
import gzip
import re
import sys
from array import array
from html import escape
from importlib import resources

from microtrace.tracer import Trace
from microtrace.util import numfmt, pool
from microtrace.util.jsontext import compact
from microtrace.viz.draw.text import shorten
from microtrace.viz.explore import bundle
from microtrace.viz.explore import compare as cmp
from microtrace.viz.explore.layout import compact_layout
from microtrace.viz.explore.layout_sharing import compact_layouts
from microtrace.viz.explore.payload import (
    PATHS,
    ScopeMembers,
    all_links,
    level_ranges,
    num,
    payload,
    play_positions,
    scope_ranges,
    tables,
    view_stats,
)
from microtrace.viz.explore.routing import route_free_edges
from microtrace.viz.explore.views import LIMIT, build_views, label
from microtrace.viz.graph import block, scalar
from microtrace.viz.graph import diagram as dg
from microtrace.viz.graph import style as gs
from microtrace.viz.graph.render import DotNotFound, RenderError, dot_program, layouts
from microtrace.viz.page_safety import checked_link, script_json, seal
from microtrace.viz.player import player_buttons


def explorer_graph(trace):
    """The graph the explorer shows: the engine's own nodes (fused: a dot product is one node, as in
    `graph --level scalar`) when the trace has them, else the view the trace file holds."""
    return trace.graph(trace.default_view())


def build_explorer(
    trace: Trace, other: Trace | None = None, limit: int = LIMIT, jobs: int = 2, film: str | None = None
) -> str:
    """The explorer page (str) of a `Trace`; with `other` (a second Trace of the same model), coloured by
    the ratio of the two, nodes paired by what they are (viz/explore/compare.py), with the first pair
    that differs. `film`: where the film of
    its run is (`microtrace film`), linked from the header at this step."""
    if film:
        checked_link(film)  # before any work: UnsafeLink for javascript:, data:, file:, //host ...
    if dot_program() is None:
        raise DotNotFound("the explorer is laid out by Graphviz's dot program, which is not on PATH")
    G = explorer_graph(trace)
    pairing = None
    if other is not None:
        cmp.check_same_model(trace.meta, other.meta)
        G2 = explorer_graph(other)
        pairing = cmp.Pairing(G, G2, params_only=bool(cmp.comparable(G, G2)))
    views, index = build_views(trace, G, limit)
    fwd, bwd, fpos, bpos = play_positions(G)
    ranges = scope_ranges(G, fpos, bpos)
    for v in views:  # the collapsed levels' groups (a script's are not path prefixes), under a key no path has
        if v.kind == "collapsed" and ("level", v.collapsed.graph["level"]) not in ranges:
            ranges["level", v.collapsed.graph["level"]] = level_ranges(G, v.collapsed.graph["level"], fpos, bpos)
    stages = {s: i for i, s in enumerate(_stages(G))}
    links, packed = all_links(G)
    ratios = _ratios(trace, other, pairing, views) if other is not None else {}
    work = dict(G=G, views=views, index=index, ranges=ranges, links=links, stages=stages, ratios=ratios)
    payloads = _view_payloads(work, jobs)
    index_json = _index(G, views, ranges, packed, pairing, limit, (fwd, bwd))
    return _html(index_json, payloads, _title(G), _film_link(film, G.graph["step"]))


_WORK: dict = {}  # what the worker processes read: set before they are forked, so they share it, never pickled
_TOOLTIP = re.compile(r' tooltip="(?:[^"\\]|\\.)*"')
CHUNK = 32  # views laid out by one `dot` process: starting dot costs more than laying out a small view


def _view_payloads(work, jobs):
    """The views' data and pictures in fixed chunks of CHUNK views (whatever `jobs`), one packed blob
    per chunk. A chunk is one piece of work: its DOT built, laid out by one `dot` (see
    `_chunk_payloads`), compacted and packed; `jobs` forked workers (util/pool.py) share the Python side
    as well as the layouts. Packed together, neighbouring views (the units of one layer look alike)
    compress to two thirds of what they would alone. Fixed chunks keep the bytes the same from run to run
    (a graph's layout may depend on the graphs laid out before it in the same process)."""
    _WORK.update(work)
    try:
        chunks = [range(i, min(i + CHUNK, len(work["views"]))) for i in range(0, len(work["views"]), CHUNK)]
        return pool.in_order(_chunk_payloads, chunks, jobs)
    finally:
        _WORK.clear()


def _chunk_payloads(ids):
    """Views `ids` (a range), laid out by one dot (views alike, such as the units of a linear layer, as
    one template: viz/explore/layout_sharing.py), packed as one blob of JSON lines, a view a line (module-level:
    the workers call it by name)."""
    w = _WORK
    G, views = w["G"], w["views"]
    unchecked = set()  # scalar views whose keys and units are to be checked on the layout made below

    def drawn(i, places):
        # the page's inspector shows every number: tooltips would be laid out by dot only to be dropped
        g = views[i].digraph(G, places)
        return None if g is None else _TOOLTIP.sub("", g.source)

    def later(i):
        return lambda g: unchecked.add(i) or {}  # taken as in order until the page has laid it out

    sources = {i: src for i in ids if (src := drawn(i, later(i))) is not None}
    laid = _layouts(sources)
    # the order check reads the layout the page makes (not a dot of its own); a view that dot reads
    # backwards is drawn turned round and laid out again
    turned = {i: src for i in sorted(unchecked) if (src := drawn(i, lambda g, i=i: _places(laid[i]))) != sources[i]}
    laid.update(_layouts(turned))
    out = []
    for i in ids:
        extra = {"layout": _relayable(laid[i], views[i])} if i in laid else {}
        if i in w["ratios"]:
            extra["cmp"] = w["ratios"][i]
        out.append(compact(payload(G, views[i], views, w["index"], w["ranges"], w["links"], w["stages"], extra)))
    return _pack("\n".join(out))  # compact JSON has no newline of its own


def _layouts(sources):
    """{i: the page's layout} of views {i: DOT source}."""
    # dot orders a graph's clusters by where their names sit in memory: after another graph in the same
    # process that order (so the layout) changes from run to run. A view with clusters gets its own dot.
    alone = [i for i, src in sources.items() if "subgraph" in src]
    batch = [i for i in sources if i not in alone]
    laid = compact_layouts({i: sources[i] for i in batch}) if batch else {}
    laid.update((i, compact_layout(route_free_edges(_layout_alone(sources[i])))) for i in alone)
    return laid


def _places(layout):
    """Where a compact layout puts each drawn node: name -> (x, y), y up (as `render.node_places`): the
    first shape's first point (shapes begin with their kind, paint or font, then x, y)."""
    return {item[1]: (item[2][2], -item[2][3]) for item in layout["items"] if item[0] == "node" and len(item) > 2}


def _layout_alone(src):
    """dot's layout of one view with clusters. dot (2.43) cannot rank a few of them with `newrank` ("trouble
    in init_rank": a script's scalar view of a position, its parallel values anchored across clusters); such
    a view is laid out without it (the order of its parallel values left to dot) rather than no page at all."""
    try:
        return layouts([src])[0]
    except RenderError as e:
        if "init_rank" not in str(e):
            raise
        return layouts([src.replace(" newrank=true", "", 1)])[0]  # (dot ranks the new way if it is there at all)


def _relayable(layout, view):
    """A view's layout, with the graph to lay it out again (layout.py's "dot") only where it may be
    needed: a sub-group of a list (scope#unit5) never opens in place, nor holds a group that does."""
    return {k: v for k, v in layout.items() if k != "dot"} if "#" in view.key else layout


def _title(G):
    m = G.graph
    doc = f" · “{shorten(m['doc'])}”" if m.get("doc") else ""  # a traced script may have no document
    return f"step {m['step']}{doc} · loss {numfmt.fixed(m['loss'], 4)} — microtrace explorer"


def _stages(G):
    """Every stage (a node's full scope path), sorted: the page names a node's stage by its number."""
    return sorted({s for _, s in G.nodes(data="scope")})


def _index(G, views, ranges, packed, pairing, limit, order):
    N = G.number_of_nodes()
    columns, mult = tables(G)
    node_view = array("i", [-1] * N)
    for i, v in enumerate(views):  # a node opens in the first (shallowest) scalar view that draws it
        if v.kind == "scalar":
            for n in v.nodes:
                if node_view[n] < 0:
                    node_view[n] = i
    members = ScopeMembers(G)
    stage_list = _stages(G)
    stage_of = {s: i for i, s in enumerate(stage_list)}
    node_scope = array("i", (stage_of[s] for _, s in sorted(G.nodes(data="scope"))))
    params = {}
    for n, d in G.nodes(data=True):
        if "param" in d:
            p = params.setdefault(d["param"], _param_index(G.graph, d["param"]))
            p["ids"][f"{d['index'][0]},{d['index'][1]}"] = n
    m = G.graph
    index = {
        "meta": {
            "heading": f"{_title(G).split(' — ')[0]} · {N:,} nodes ({dg.view_name(m)})",
            "step": m["step"], "doc": m["doc"], "loss": num(m["loss"]), "chars": m["chars"], "nodes": N,
            "edges": G.number_of_edges(), "loss_node": m["loss_node"], "view": m["view"], "update": bool(m.get("update")), "paths": PATHS, "limit": limit, "chunk": CHUNK,
        },
        "views": [
            {"key": v.key, "label": label(v.key), "kind": v.kind, "parent": v.parent, "stats": view_stats(G, v, ranges, members)}
            for v in views
        ],
        "params": params,
        "scopes": stage_list,
        "nodeView": _pack(node_view),
        "nodeScope": _pack(node_scope),
        "links": _pack(array("i", packed)),
        "order": [_pack(array("i", o)) for o in order],  # the player's: forward, backward (tracer/model/order.py)
        "tables": {k: _pack(a) for k, a in columns.items()},
        "mult": mult,
        "sources": _sources(G),
    }  # fmt: skip
    if pairing is not None:
        index["compare"] = _compared(pairing)
    return compact(index)


def _param_index(m, name):
    """A matrix for search: its shape, its entries' node ids (filled in by `_index`) and the update of the
    entries no node holds (`moved_without_grad`: null when the trace does not record it)."""
    stats = m["param_stats"][name]
    moved = stats.get("moved_without_grad") if m.get("update") else None
    return {"shape": stats["shape"], "ids": {}, "moved": moved}


def _sources(G):
    """Source line -> its first node, for the nodes where the trace records one (`source`)."""
    out = {}
    for n, src in G.nodes(data="source"):
        if src is not None and src not in out:
            out[str(src)] = n
    return out


def _compared(pairing):
    """The compare box's facts: the other step, why only parameters pair (if so), how many nodes each
    has and how many pair, the first pair that differs, and each matrix's norms here and there."""
    G, G2 = pairing.G1, pairing.G2
    m2 = G2.graph
    diff = pairing.first_difference()
    return {
        "step": m2["step"], "doc": m2["doc"], "loss": num(m2["loss"]), "view": dg.view_name(m2),
        "nodes": [G.number_of_nodes(), G2.number_of_nodes()], "paired": len(pairing.pairs),
        "only": cmp.comparable(G, G2), "first": None if diff is None else {k: num(v) for k, v in diff.items()},
        "matrices": [[k, *map(num, v)] for k, *v in cmp.matrices(G.graph, m2)], "decades": cmp.DECADES,
    }  # fmt: skip


def _ratios(trace, other, pairing, views):
    """Per view: {item name in its SVG: [grad ratio colour, value ratio colour, the other step's |grad|
    colour on this view's scale, grad ratio, value ratio(, other data, other grad)]}."""
    out = {}
    collapsed = {}
    th = gs.theme("light")
    for i, v in enumerate(views):
        if v.kind == "collapsed":
            level = v.collapsed.graph["level"]
            if level not in collapsed:
                C2 = other.collapse(level, pairing.G2.graph["view"])
                collapsed[level] = C2, cmp.group_ratios(trace.collapse(level, pairing.G1.graph["view"]), C2)
            C2, r = collapsed[level]
            scale = block.colouring(v.collapsed)
            out[i] = {n: _cmp_entry(scale.fill(C2.nodes[n]["grad_norm"], th)[0], *r[n]) for n in v.collapsed if n in r}
        elif v.kind == "scalar":
            scale = scalar.colouring(pairing.G1, v.nodes)
            out[i] = {f"n{n}": _cmp_entry(scale.fill(r[3], th)[0], *r) for n, r in pairing.ratios(v.nodes).items()}
    return out


def _cmp_entry(other_fill, grad_ratio, value_ratio, *other):
    return [
        cmp.ratio_color(grad_ratio),
        cmp.ratio_color(value_ratio),
        other_fill,
        num(grad_ratio),
        num(value_ratio),
        *map(num, other),
    ]


def _pack(data):
    """gzip + base64: how a view waits in the page until it is opened (mtime 0: the same bytes each time).
    Arrays go little-endian, as the page's typed arrays read them on every machine that runs a browser."""
    if isinstance(data, array):
        if sys.byteorder != "little":
            data = array(data.typecode, data)
            data.byteswap()
        data = data.tobytes()
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")


# Graphviz for the page (js/relayout.js): @hpcc-js/wasm-graphviz 1.29.2 (Graphviz 14.1.0 compiled to
# WebAssembly, the binary inside the script; Apache-2.0, vendor/wasm-graphviz.LICENSE), its dist/index.js
# as npm ships it. It is an ES module, in a script of its own after the page's: its export statement
# becomes GRAPHVIZ, its Graphviz class, a global the page's script reads once the page has loaded.
GRAPHVIZ = "vendor/wasm-graphviz.js"
_EXPORT = re.compile(r"export\{([^}]*)\};\s*(//# sourceMappingURL=\S*\s*)?$")


def _graphviz():
    lib = _resource(GRAPHVIZ)
    m = _EXPORT.search(lib)
    name = next(a.split(" as ")[0] for a in m.group(1).split(",") if a.endswith(" as Graphviz"))
    return f"const GRAPHVIZ = (() => {{\n{lib[: m.start()]}\nreturn {name};\n}})();"


def _resource(name):
    return resources.files("microtrace.viz.explore").joinpath(name).read_text(encoding="utf-8")


def _film_link(href, step):
    """A link to the film of the run, at this step (empty without one)."""
    if not href:
        return ""
    return f'<a id="film" href="{escape(href)}#s={step}">the film of this training run, at this step</a>'


# the player's buttons (viz/player.py), in the words of a step's pass: (title, aria-label)
PLAYER = {
    "p-start": ("start (Home)", "start"),
    "p-back": ("step back (,)", "step back"),
    "p-play": ("play / pause (Space)", "play or pause"),
    "p-next": ("step on (.)", "step on"),
    "p-end": ("end (End)", "end"),
}


def _html(index_json, payloads, title, film=""):
    blobs = "\n".join(
        f'<script type="application/x-gzip-base64" id="c{i}">{p}</script>' for i, p in enumerate(payloads)
    )
    page = _resource("template.html")
    parts = {
        "{{title}}": escape(title),
        "{{css}}": _resource("explorer.css"),
        "{{index}}": script_json(index_json),
        "{{payloads}}": blobs,
        "{{js}}": bundle.script(),
        "{{film}}": film,
        "{{graphviz}}": _graphviz(),
        "{{player}}": player_buttons(PLAYER),
    }
    # one pass, so that nothing substituted is itself searched for a placeholder
    page = re.sub(r"\{\{(title|css|index|payloads|js|film|graphviz|player)\}\}", lambda m: parts[m.group(0)], page)
    return seal(page, wasm=True)  # last: the policy allows the page's scripts by the hash of their final text
