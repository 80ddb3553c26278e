"""Collapse a step's graph by scope: one node per block, stage or layer, nothing dropped."""

import math
from array import array
from collections import Counter

import networkx as nx

from microtrace.tracer.analysis import stats
from microtrace.tracer.analysis.stats import fsum
from microtrace.tracer.model.scopes import parse, prefix

LEVELS = ("block", "stage", "layer")
_SHARED = ("pos", "layer", "block", "head")


class _Group:
    """The elementary nodes of one scope, as the lists their statistics are computed from."""

    __slots__ = ("count", "ops", "grads", "data", "nonfinite", "zero_grad", "internal")

    def __init__(self):
        self.count = 0
        self.ops = Counter()
        self.grads = []  # of the nodes a reader calls gradients: not of constants
        self.data = []
        self.nonfinite = 0
        self.zero_grad = 0
        self.internal = 0

    def add(self, op, data, grad):
        self.count += 1
        self.ops[op] += 1
        if not (math.isfinite(data) and math.isfinite(grad)):
            self.nonfinite += 1
        if grad == 0:
            self.zero_grad += 1
        # d loss / d(1/n) or d loss / d(the 0 a sum starts from) is not a gradient anyone reads, yet it
        # is often the largest in its scope: it would set a group's norm and the views' colour scale.
        if op != "const":
            self.grads.append(grad)
        self.data.append(data)


def collapse(src, level: str = "block") -> nx.DiGraph:
    """A DiGraph whose nodes are the scopes of `level`, with counts and gradient totals, from the
    columns of a step, by their own `collapse_stats`: `column_stats` in one Python pass over nodes and
    one over edges (`GraphData`), or in Arrow a batch of rows at a time for a store's view
    (tracer/storage/store_collapse.py), to the same numbers.

    Node ids are scope paths (`pos3/layer0/attn`); see docs/trace-format.md for the attributes.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}: use one of {', '.join(LEVELS)}")
    keys, attrs, flows = src.collapse_stats(lambda scope: prefix(scope, level))
    C = nx.DiGraph()
    C.graph["level"] = level
    for key, a in zip(keys, attrs):
        C.add_node(key, **_scope_attrs(key, level), **a)
    for (gu, gv), (count, flow, flow_abs) in flows.items():
        C.add_edge(keys[gu], keys[gv], count=count, grad_flow=flow, grad_flow_abs=flow_abs)
    return C


def column_stats(src, key_of):
    """(group keys `key_of(scope)` in order of first node, their statistics, {(group u, group v): (count,
    grad_flow, grad_flow_abs)} in order of first edge), in one Python pass over the columns of `src`."""
    key_of_scope = [key_of(s) for s in src.scopes]
    group_of = array("I")  # node id -> group number
    keys, groups, number = [], [], {}
    for op, data, grad, sid in src.node_columns():
        key = key_of_scope[sid]
        k = number.get(key)
        if k is None:
            k = number[key] = len(keys)
            keys.append(key)
            groups.append(_Group())
        group_of.append(k)
        groups[k].add(op, data, grad)
    flows = {}
    for u, v, flow in src.edge_columns():
        gu, gv = group_of[u], group_of[v]
        if gu == gv:
            groups[gu].internal += 1
            continue
        f = flows.get((gu, gv))
        if f is None:
            f = flows[(gu, gv)] = [0, [], []]
        f[0] += 1
        f[1].append(flow)
        f[2].append(abs(flow))
    totals = {pair: (count, fsum(flow), fsum(flow_abs)) for pair, (count, flow, flow_abs) in flows.items()}
    return keys, [_group_attrs(g) for g in groups], totals


def group_stats(G, nodes):
    """The statistics a collapsed node has (count, ops, gradient and value norms, zero and non-finite
    counts) for any set of G's nodes: a scope, a position, a sub-group."""
    g = _Group()
    for n in nodes:
        d = G.nodes[n]
        g.add(d["op"], d["data"], d["grad"])
    attrs = _group_attrs(g)
    del attrs["internal_edges"]
    return attrs


def _scope_attrs(key, level):
    attrs = {k: v for k, v in parse(key).items() if k in _SHARED}
    if level == "stage" or key.startswith("param/"):
        attrs["stage"] = parse(key)["stage"]
    attrs.update(level=level, scope=key, label=key.replace("/", " "))
    return attrs


def _group_attrs(g):
    return {
        "count": g.count,
        "ops": dict(sorted(g.ops.items())),
        "grad_norm": stats.norm(g.grads),
        "grad_abs_sum": fsum(abs(x) for x in g.grads),
        "grad_abs_max": stats.abs_max(g.grads),
        "data_norm": stats.norm(g.data),
        "data_abs_max": stats.abs_max(g.data),
        "nonfinite": g.nonfinite,
        "zero_grad": g.zero_grad,
        "internal_edges": g.internal,
    }
