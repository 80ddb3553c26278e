"""Collapse a step's graph by scope: one node per block, stage or layer, nothing dropped."""

import math
from array import array
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
    """math.fsum of a list: the correctly rounded sum, with nan where it would raise (inf + -inf), and
    where only its intermediate sums overflow, the sum of the terms scaled down by a power of two (exact
    at that magnitude) scaled back up: inf if the sum itself overflows."""
    try:
        return math.fsum(xs)
    except ValueError:
        return math.nan
    except OverflowError:
        k = len(xs).bit_length() + 1
        try:
            return math.ldexp(math.fsum(math.ldexp(x, -k) for x in xs), k)
        except OverflowError:
            return math.copysign(math.inf, math.fsum(math.ldexp(x, -k) for x in xs))


def collapse(src, level="block"):
    """A DiGraph whose nodes are the scopes of `level`, with counts and gradient totals, from the
    columns of a step (`GraphData`) in one pass over nodes and one over edges.

    Node ids are scope paths (`pos3/layer0/attn`); see docs/trace-format.md for the attributes.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}: use one of {', '.join(LEVELS)}")
    key_of_scope = [prefix(s, level) for s in src.scopes]
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
    C = nx.DiGraph()
    C.graph["level"] = level
    for key, g in zip(keys, groups):
        C.add_node(key, **_scope_attrs(key, level), **_group_attrs(g))
    for (gu, gv), (count, flow, flow_abs) in flows.items():
        C.add_edge(keys[gu], keys[gv], count=count, grad_flow=fsum(flow), grad_flow_abs=fsum(flow_abs))
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
