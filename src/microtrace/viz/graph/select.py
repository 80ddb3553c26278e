"""What a diagram shows: the nodes of a focus scope or around a node, the size guard, and the top
gradient paths mapped onto a collapsed graph.

Errors are one line for the user: `TraceError` (unknown scope or node, from the Trace's queries) and
`ViewTooLarge`.
"""

import re

from microtrace.tracer import TraceError
from microtrace.tracer.model.scopes import prefix
from microtrace.util.errors import BadInput

DEFAULT_MAX_NODES = 2000


class ViewTooLarge(BadInput, ValueError):
    """A scalar view with more nodes than the limit. `narrower` is the largest scope inside it that fits
    (None when none does); `fused_would_help` says the fused view would be smaller."""

    def __init__(self, what, count, limit, narrower=None, fused_would_help=False):
        self.what, self.count, self.limit = what, count, limit
        self.narrower, self.fused_would_help = narrower, fused_would_help
        fits = f"; {narrower} fits" if narrower else ""
        super().__init__(f"the scalar view of {what} has {count:,} nodes, more than the limit of {limit:,}{fits}")


def check_size(scope_of, nodes, max_nodes, what, fused_hint=False):
    """ViewTooLarge when `nodes` are more than `max_nodes`, naming a narrower scope that fits
    (`scope_of(node)` is a node's scope: `trace.data(view).scope_of`, or the scope attribute of a graph)."""
    if len(nodes) > max_nodes:
        raise ViewTooLarge(what, len(nodes), max_nodes, _narrower(scope_of, nodes, max_nodes), fused_hint)


def _narrower(scope_of, nodes, max_nodes):
    """The largest scope among `nodes` (at any depth) with at most `max_nodes` nodes, or None."""
    sizes = {}
    for n in nodes:
        parts = scope_of(n).split("/")
        for depth in range(1, len(parts) + 1):
            key = "/".join(parts[:depth])
            sizes[key] = sizes.get(key, 0) + 1
    fits = [k for k, c in sizes.items() if c <= max_nodes and not k.startswith("param")]
    if not fits:
        return None
    return max(sorted(fits), key=lambda k: sizes[k])


def highlight_paths(trace, target, k, view):
    """The k paths from `target` (node id or parameter entry) to the loss carrying the most gradient,
    as lists of node ids of `view`."""
    if k < 1:
        raise ValueError(f"highlight needs at least 1 path, got {k}")
    return [p["nodes"] for p in trace.top_paths(target, k, view)]


def collapse_paths(G, paths, level):
    """Scalar paths of G as paths of the collapsed graph at `level` (node ids are scope paths);
    consecutive nodes in one scope become one step."""
    out = []
    for path in paths:
        scopes = []
        for n in path:
            s = prefix(G.nodes[n]["scope"], level)
            if not scopes or scopes[-1] != s:
                scopes.append(s)
        out.append(scopes)
    return out


def focus_collapsed(C, scope, params=True):
    """The part of a collapsed graph inside `scope` (e.g. `pos2` at the stage level), with the parameter
    matrices it reads; TraceError if no node is inside."""
    scope = scope.strip("/")
    inner = scope + "/"
    keep = [n for n in C if n == scope or n.startswith(inner)]
    if not keep:
        example = next((n for n in C if n.startswith("pos")), "pos0")
        raise TraceError(
            f"no scope {scope!r} at the {C.graph.get('level', 'block')} level (scopes look like {example})"
        )
    return collapsed_part(C, keep, params)


def collapsed_part(C, keep, params=True):
    """The groups `keep` of a collapsed graph (with the parameter matrices they read when `params`), as a
    graph of their own whose `boundary` sums the edges to the rest."""
    keep = list(keep)
    if params:
        reads = {u for n in keep for u in C.predecessors(n) if u.startswith("param/")}
        keep += [n for n in C if n in reads and n not in keep]
    # a copy in C's node order (a subgraph view would iterate a set: the DOT source would vary)
    wanted = set(keep)
    H = C.__class__()
    H.graph.update(C.graph)
    H.add_nodes_from((n, C.nodes[n]) for n in C if n in wanted)
    H.add_edges_from((u, v, d) for u, v, d in C.edges(data=True) if u in wanted and v in wanted)
    H.graph["boundary"] = _boundary(C, wanted)
    return H


def _boundary(C, wanted):
    """The edges between the focus and the rest, by outside scope (one scope at several positions, such
    as the KV cache's keys, counts once): {"in"|"out": {pattern: {"positions", "edges": {inside: [n, flow]}}}}."""
    boundary = {"in": {}, "out": {}}
    for u, v, d in C.edges(data=True):
        if u.startswith("param/"):
            continue
        if u in wanted and v not in wanted:
            side, outside, inside = "out", v, u
        elif v in wanted and u not in wanted:
            side, outside, inside = "in", u, v
        else:
            continue
        pos = C.nodes[outside].get("pos")
        key = re.sub(r"^pos\d+/", "pos*/", outside) if pos is not None else outside
        st = boundary[side].setdefault(key, {"positions": [], "edges": {}})
        if pos is not None and pos not in st["positions"]:
            st["positions"].append(pos)
        e = st["edges"].setdefault(inside, [0, 0.0])
        e[0] += d["count"]
        e[1] += d["grad_flow_abs"]
    return boundary
