"""Collapse a step's graph by scope: one node per block, stage or layer, nothing dropped."""

import math
from collections import Counter

import networkx as nx

from microtrace.tracer.scopes import parse, prefix

LEVELS = ("block", "stage", "layer")
_SHARED = ("pos", "layer", "block", "head")


class _Group:
    __slots__ = ("count", "ops", "sq", "abs_sum", "abs_max", "data_sq", "data_max", "nonfinite", "zero_grad", "internal")

    def __init__(self):
        self.count = 0
        self.ops = Counter()
        self.sq = []
        self.abs_sum = []
        self.abs_max = 0.0
        self.data_sq = []
        self.data_max = 0.0
        self.nonfinite = 0
        self.zero_grad = 0
        self.internal = 0

    def add(self, op, data, grad):
        self.count += 1
        self.ops[op] += 1
        if not (math.isfinite(data) and math.isfinite(grad)):
            self.nonfinite += 1
        a = abs(grad)
        self.sq.append(grad * grad)
        self.abs_sum.append(a)
        if not a <= self.abs_max:  # larger, or nan (which then stays)
            self.abs_max = a if self.abs_max == self.abs_max else self.abs_max
        if grad == 0:
            self.zero_grad += 1
        self.data_sq.append(data * data)
        d = abs(data)
        if not d <= self.data_max:
            self.data_max = d if self.data_max == self.data_max else self.data_max


def fsum(xs):
    """math.fsum, with nan where it would raise (inf + -inf)."""
    try:
        return math.fsum(xs)
    except ValueError:
        return math.nan


def collapse(G, level="block"):
    """A DiGraph whose nodes are the scopes of `level`, with counts and gradient totals.

    Node ids are scope paths (`pos3/layer0/attn`); see docs/trace-format.md for the attributes.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}: use one of {', '.join(LEVELS)}")
    group_of = {}
    groups = {}
    for n, d in G.nodes(data=True):
        key = prefix(d["scope"], level)
        group_of[n] = key
        g = groups.get(key)
        if g is None:
            g = groups[key] = _Group()
        g.add(d["op"], d["data"], d["grad"])
    flows = {}
    for u, v, d in G.edges(data=True):
        gu, gv = group_of[u], group_of[v]
        if gu == gv:
            groups[gu].internal += 1
            continue
        f = flows.get((gu, gv))
        if f is None:
            f = flows[(gu, gv)] = [0, [], []]
        f[0] += 1
        f[1].append(d["grad_flow"])
        f[2].append(abs(d["grad_flow"]))
    C = nx.DiGraph()
    C.graph.update(G.graph, level=level)
    for key, g in groups.items():
        C.add_node(key, **_scope_attrs(key, level), **_group_attrs(g))
    for (gu, gv), (count, flow, flow_abs) in flows.items():
        C.add_edge(gu, gv, count=count, grad_flow=fsum(flow), grad_flow_abs=fsum(flow_abs))
    return C


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
        "grad_norm": math.sqrt(fsum(g.sq)),
        "grad_abs_sum": fsum(g.abs_sum),
        "grad_abs_max": g.abs_max,
        "data_norm": math.sqrt(fsum(g.data_sq)),
        "data_abs_max": g.data_max,
        "nonfinite": g.nonfinite,
        "zero_grad": g.zero_grad,
        "internal_edges": g.internal,
    }
