"""How the questions a person debugging training asks of one step are answered. They are asked of a
`Trace` (its methods `resolve`, `scope_nodes`, `around`, `top_paths`, `first_nonfinite`, `dead_relus`:
the one API); here are the algorithms behind them, over the graphs and columns a Trace hands out, which
doctor, the report and the explorer share.

Node ids are a topological order (every operand has a smaller id than its result), which the
forward-order and backward-order questions below rely on.
"""

import math
import re
from collections import defaultdict

import networkx as nx

from microtrace.tracer.model.trace import TraceError

_PARAM = re.compile(r"^\s*([\w.]+)\s*\[\s*(\d+)\s*,\s*(\d+)\s*\]\s*$")


def _finite(d):
    return math.isfinite(d["data"]) and math.isfinite(d["grad"])


def _describe(G, n):
    d = G.nodes[n]
    out = {"node": n, "op": d["op"], "scope": d["scope"], "data": d["data"], "grad": d["grad"]}
    if "param" in d:
        out["param"] = f"{d['param']}[{d['index'][0]},{d['index'][1]}]"
    return out


def first_nonfinite(G: nx.DiGraph) -> dict | None:
    """(`Trace.first_nonfinite`, of a graph holding the node it finds and its neighbours) Where nan/inf starts: the first node (forward order) whose value is not finite, else the first
    node in backward order (from the loss down) whose gradient is not finite; None if all is finite.
    The answer names the node, its op and scope, and its operands."""
    ids = sorted(G.nodes)
    found, what = None, None
    for n in ids:
        d = G.nodes[n]
        if not math.isfinite(d["data"]):
            found, what = n, "value"
            break
    if found is None:
        for n in reversed(ids):
            if not math.isfinite(G.nodes[n]["grad"]):
                found, what = n, "gradient"
                break
    if found is None:
        return None
    out = _describe(G, found)
    out["what"] = what
    out["operands"] = [_describe(G, u) for u in G.predecessors(found)]
    out["results"] = [_describe(G, v) for v in G.successors(found)]
    return out


def parse_target(target: int | str) -> int | tuple[str, int, int]:
    """A node id (int) or a parameter entry (name, row, col) from what a user typed."""
    if isinstance(target, str) and target.strip().isdigit():
        target = int(target)
    if isinstance(target, int):
        return target
    m = _PARAM.match(str(target))
    if not m:
        raise TraceError(f"cannot read {target!r}: give a node id or a parameter like layer0.attn_wq[3,7]")
    return m.group(1), int(m.group(2)), int(m.group(3))


def locate(target, n_nodes, find_param, param_names) -> int:
    """The node `target` names among ids 0..n_nodes-1; `find_param(name, row, col)` is a parameter
    entry's node (None if absent), `param_names()` the matrices there are. TraceError otherwise."""
    target = parse_target(target)
    if isinstance(target, int):
        if not 0 <= target < n_nodes:
            raise TraceError(f"no node {target} in this trace (ids 0..{n_nodes - 1})")
        return target
    name, row, col = target
    n = find_param(name, row, col)
    if n is not None:
        return n
    names = sorted(param_names())
    if name not in names:
        raise TraceError(f"no parameter matrix {name!r}; this trace has {', '.join(names)}")
    raise TraceError(f"{name}[{row},{col}] does not take part in this step (unused row or out of range)")


def top_paths(G: nx.DiGraph, src: int, k: int = 5) -> list[dict]:
    """The k paths from node `src` of the step's whole graph `G` up to the loss that carry the most
    gradient (`Trace.top_paths`).

    A path's contribution is the product of the local derivatives along it: d loss / d target summed
    over every path is the target's gradient. Returns [{"contribution": c, "nodes": [src, ..., loss]}],
    largest |c| first.
    """
    loss = G.graph["loss_node"]
    region = nx.descendants(G, src) | {src}
    if loss not in region:
        return []
    return follow_links(path_links(G, region, k), src)


def follow_links(best, src):
    """The paths of `top_paths` from `src`, read off `path_links` (of any node set holding src's
    descendants: the links of several sources can come from one pass over the whole graph)."""
    paths = []
    for c, link in best.get(src, []):
        nodes = [src]
        while link is not None:
            v, rank = link
            nodes.append(v)
            link = best[v][rank][1]
        paths.append({"contribution": c, "nodes": nodes})
    return paths


def path_links(G, nodes, k):
    """For each of `nodes` (a set closed under successors, or all of G), its k largest paths to the loss
    as [(contribution, (next node, its rank)), ...]: one pass from the loss down. Following the links
    gives the paths of `top_paths`, so a page can store them for every node at once."""
    adj = G.adj
    return best_links(lambda n: ((v, d["local_grad"]) for v, d in adj[n].items()), G.graph["loss_node"], nodes, k)


def best_links(successors, loss, nodes, k):
    """`path_links` over any graph: `successors(n)` gives (result, local_grad) of n's out-edges, in a
    fixed order (ties keep it). The columns of a trace (`GraphData.successors`) serve without networkx."""
    best = {loss: [(1.0, None)]}  # node -> top-k (contribution from here to the loss, (next node, rank))
    for n in sorted(nodes, reverse=True):
        if n == loss:
            continue
        heads = []  # through each successor, its best path: (contribution, successor, local grad, its links)
        for v, lg in successors(n):
            links = best.get(v)
            if links:
                heads.append((lg * links[0][0], v, lg, links))
        if len(heads) > k:
            # A successor's r-th path scores no more than its best (|lg * c| is monotone in |c|), and comes
            # after it among ties: only successors whose best path is among the k best can place any.
            order = sorted(range(len(heads)), key=lambda i: _magnitude(heads[i][0]), reverse=True)
            heads = [heads[i] for i in sorted(order[:k])]  # in successor order again: ties keep it
        cands = []
        for c0, v, lg, links in heads:
            cands.append((c0, (v, 0)))
            cands.extend((lg * c, (v, rank)) for rank, (c, _) in enumerate(links[1:k], 1))
        if len(heads) > 1:  # one successor's paths, scaled by one local grad, are in order already
            cands.sort(key=lambda t: _magnitude(t[0]), reverse=True)
        best[n] = cands[:k]
    return best


def _magnitude(c):
    return math.inf if c != c else abs(c)


def dead_relus(G: nx.DiGraph) -> list:
    """MLP units whose ReLU passed no gradient at any position: [{"layer", "unit", "positions"}] (of a
    graph holding the step's ReLUs: `Trace.dead_relus`)."""
    alive = defaultdict(list)
    for _, d in G.nodes(data=True):
        if d["op"] == "relu" and "unit" in d:
            alive[(d["layer"], d["unit"])].append(d["data"] > 0)
    return [
        {"layer": layer, "unit": unit, "positions": len(flags)}
        for (layer, unit), flags in sorted(alive.items())
        if not any(flags)
    ]


def dead_relu_counts(G: nx.DiGraph) -> dict[int, tuple[int, int]]:
    """Layer -> (dead units, units) of its MLP, dead as `dead_relus` says: the one count doctor, gradflow
    and the report give."""
    units: dict = defaultdict(set)
    for _, d in G.nodes(data=True):
        if d["op"] == "relu" and "unit" in d:
            units[d["layer"]].add(d["unit"])
    dead: dict = defaultdict(int)
    for d in dead_relus(G):
        dead[d["layer"]] += 1
    return {layer: (dead[layer], len(units[layer])) for layer in sorted(units)}


def nonfinite_count(G):
    return sum(1 for _, d in G.nodes(data=True) if not _finite(d))
