"""What the explorer page holds: an index read at once, and one payload per view read when it opens.

Every number comes from the trace (docs/trace-format.md) or from the tracer (collapse, group_stats,
path_links); the page only shows and looks up. The player's order is the tracer's (tracer/model/order.py):
the node at forward position i is computed at time i + 1, the node at backward position j gets its
gradient at time N + j + 1, so a group is described by its first and last position in each pass.
"""

import math
from array import array

from microtrace.tracer.analysis.collapse import group_stats
from microtrace.tracer.analysis.queries import path_links
from microtrace.tracer.model.order import backward_order, forward_order
from microtrace.tracer.model.schema import nonfinite_word
from microtrace.tracer.model.scopes import prefix
from microtrace.viz.explore.views import label

PATHS = 3  # top gradient paths kept per node
_NODE_KEYS = (
    "op", "scope", "pos", "layer", "block", "head", "stage", "exponent", "key", "unit",
    "param", "index", "new_data", "adam_m", "adam_v", "update_ratio", "source", "function",
)  # fmt: skip
_GROUP_KEYS = (
    "count",
    "ops",
    "grad_norm",
    "grad_abs_sum",
    "grad_abs_max",
    "data_norm",
    "data_abs_max",
    "zero_grad",
    "nonfinite",
)


def num(x):
    """A float for JSON: nan and inf as the schema's words (JSON has no spelling for them; js/data.js reads
    them back)."""
    if isinstance(x, float) and not math.isfinite(x):
        return nonfinite_word(x)
    return x


def json_ready(value):
    """`value` with every number JSON cannot spell (nan, inf) made a string (`num`), inside dicts and lists."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return num(value)


def node_record(G, n, links):
    """A scalar node as the inspector shows it: its attributes and its top path contributions (its value,
    gradient and edges are in the step's `tables`)."""
    d = G.nodes[n]
    rec = {k: json_ready(d[k]) for k in _NODE_KEYS if k in d}
    rec["paths"] = [num(c) for c, _ in links.get(n, ())]
    return rec


def tables(G):
    """The step's numbers as columns (typed arrays in the page): each node's data and grad, and each
    edge once, grouped by its result v (edges in_start[v] .. in_start[v + 1]): operand, local_grad,
    grad_flow; out_order lists the edges grouped by operand (out_start likewise). `mult`: edge -> its
    multiplicity, where an operand enters twice."""
    N = G.number_of_nodes()
    data, grad = array("d"), array("d")
    eu, local, flow, in_start, mult = array("i"), array("d"), array("d"), array("i", [0]), {}
    for v in range(N):
        d = G.nodes[v]
        data.append(d["data"])
        grad.append(d["grad"])
        for u, e in G.pred[v].items():
            if "multiplicity" in e:
                mult[len(eu)] = e["multiplicity"]
            eu.append(u)
            local.append(e["local_grad"])
            flow.append(e["grad_flow"])
        in_start.append(len(eu))
    out_order = array("i", sorted(range(len(eu)), key=eu.__getitem__))
    out_start = array("i", [0] * (N + 1))
    for u in eu:
        out_start[u + 1] += 1
    for n in range(N):
        out_start[n + 1] += out_start[n]
    columns = {
        "data": data,
        "grad": grad,
        "eu": eu,
        "local": local,
        "flow": flow,
        "inStart": in_start,
        "outOrder": out_order,
        "outStart": out_start,
    }
    return columns, mult


def play_positions(G):
    """The player's order (tracer/model/order.py): forward and backward as lists of node ids, and each node's
    position in each."""
    fwd, bwd = forward_order(G), backward_order(G)
    fpos, bpos = array("i", bytes(4 * len(fwd))), array("i", bytes(4 * len(bwd)))
    for i, n in enumerate(fwd):
        fpos[n] = i
    for i, n in enumerate(bwd):
        bpos[n] = i
    return fwd, bwd, fpos, bpos


def scope_ranges(G, fpos, bpos):
    """Of every scope path prefix (pos3, pos3/layer0/attn, ...): its first and last node id, the node
    inside with the largest |grad| (where a group's "where does this gradient come from" starts), and
    its player times: first and last forward position, first and last backward position."""

    def prefixes(scope):
        parts = scope.split("/")
        return ["/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]

    return _group_ranges(G, prefixes, fpos, bpos)


def level_ranges(G, level, fpos, bpos):
    """scope_ranges for the groups of a collapse level (a script's groups are not path prefixes)."""
    return _group_ranges(G, lambda scope: [prefix(scope, level)], fpos, bpos)


def _group_ranges(G, keys_of, fpos, bpos):
    ranges, keys = {}, {}  # keys: scope -> its groups, worked out once per scope rather than per node
    for n, d in G.nodes(data=True):
        g, f, b = _magnitude(d["grad"]), fpos[n], bpos[n]
        scope = d["scope"]
        groups = keys.get(scope)
        if groups is None:
            groups = keys[scope] = keys_of(scope)
        for key in groups:
            r = ranges.get(key)
            if r is None:
                ranges[key] = [n, n, n, g, f, f, b, b]
                continue
            r[0], r[1] = min(r[0], n), max(r[1], n)
            if g > r[3]:
                r[2], r[3] = n, g
            r[4], r[5], r[6], r[7] = min(r[4], f), max(r[5], f), min(r[6], b), max(r[7], b)
    return {k: r[:3] + r[4:] for k, r in ranges.items()}


def _magnitude(x):
    return math.inf if x != x else abs(x)


def payload(G, view, views, index, ranges, links, stages, extra=None):
    """The data of one view (its diagram travels beside it). `stages`: stage -> its number in the index
    (a collapsed view lists the stages each of its groups holds: how the page finds a node's group)."""
    if view.kind == "collapsed":
        C = view.collapsed
        level = ("level", C.graph["level"])  # computed beside the scope paths, under a key no path has
        items = {}
        for n, d in C.nodes(data=True):
            item = {k: json_ready(d[k]) for k in _GROUP_KEYS if k in d}
            item["range"] = ranges[level][n][:2]
            item["top"] = ranges[level][n][2]
            item["times"] = ranges[level][n][3:]
            item["open"] = index.get(n)
            items[n] = item
        edges = {
            f"{u}->{v}": json_ready({k: d[k] for k in ("count", "grad_flow", "grad_flow_abs")})
            for u, v, d in C.edges(data=True)
        }
        inner = _proper_prefixes(C)  # the scopes that hold one of C's groups (one pass, not one per key)
        clusters = {k: i for k, i in index.items() if k and k in ranges and k in inner}
        members = {}
        for s, i in stages.items():
            group = prefix(s, C.graph["level"])
            if group in C:
                members.setdefault(group, []).append(i)
        out = {"items": items, "edges": edges, "clusters": clusters, "members": members}
    elif view.kind == "scalar":
        out = {"nodes": {n: node_record(G, n, links) for n in view.nodes}}
    else:
        out = {"parts": [_part(G, key, nodes, index) for key, nodes in view.parts.items()]}
    out.update(extra or {})
    return out


def _proper_prefixes(names):
    """Every path that holds one of `names` ("a/b/c" is held by "a" and "a/b"): k + "/" starts a name
    exactly when k is one of them."""
    out = set()
    for n in names:
        parts = n.split("/")
        out.update("/".join(parts[:d]) for d in range(1, len(parts)))
    return out


def _part(G, key, nodes, index):
    stats = group_stats(G, nodes)
    return {
        "key": key,
        "label": label(key),
        "view": index[key],
        "range": [nodes[0], nodes[-1]],
        **json_ready({k: stats[k] for k in _GROUP_KEYS}),
    }


def view_stats(G, view, ranges, members=None):
    """The statistics of the scope a view shows (the inspector's default), with its node range.
    `members`: ScopeMembers(G), shared by every view of G (else made here)."""
    stats = group_stats(G, view.nodes) if view.nodes else None
    if stats is None and view.key:
        stats = group_stats(G, (members or ScopeMembers(G)).inside(view.key))
    if stats is None:
        stats = group_stats(G, G.nodes)
    out = json_ready({k: stats[k] for k in _GROUP_KEYS})
    out["range"] = (
        ranges[view.key][:2]
        if view.key in ranges
        else [min(view.nodes), max(view.nodes)]
        if view.nodes
        else [0, G.number_of_nodes() - 1]
    )
    return out


class ScopeMembers:
    """The nodes of G inside a scope path, in G's order, found from the few distinct scopes rather than
    by a pass over every node for every view (a big step has hundreds of views and 250k nodes)."""

    def __init__(self, G):
        self.nodes = list(G.nodes)
        self.at = {}  # scope -> positions in self.nodes, ascending
        for i, (_, scope) in enumerate(G.nodes(data="scope")):
            self.at.setdefault(scope, []).append(i)

    def inside(self, key):
        runs = [at for scope, at in self.at.items() if _in_scope(scope, key)]
        return [self.nodes[i] for i in sorted(i for at in runs for i in at)]


def _in_scope(scope, key):
    return scope == key or scope.startswith(key + "/")


def all_links(G, k=PATHS):
    """path_links for every node of G, and their packed form for the page: node n's r-th path goes on
    to node next[n*k + r] // 8 (its rank: % 8); -1 where there is no such path."""
    links = path_links(G, G.nodes, k)
    packed = [-1] * (G.number_of_nodes() * k)
    for n, best in links.items():
        for r, (_, link) in enumerate(best):
            if link is not None:
                packed[n * k + r] = link[0] * 8 + link[1]
    return links, packed
