"""Two traces of the same model side by side: nodes paired by what they are, their ratios and the first
pair that differs.

A node id is only a place in one step's order: two steps that read documents of different lengths
number the same computation differently. So nodes are paired by what they are: a parameter by its
matrix and entry (`layer0.attn_wq[3,7]`), any other node by its scope (which holds its position), its op
and its order among the nodes of that scope and op (`pos3/layer0/attn/head2/weights exp #1`). Two steps
that read different documents compute different things at the same place, so then only the parameters
are paired node by node, and the groups by their statistics (‖grad‖, ‖value‖ per block or stage).
"""

import math
from collections import Counter

from microtrace.tracer import TraceError
from microtrace.viz.draw import colormap
from microtrace.viz.draw.colormap import hex_color
from microtrace.viz.draw.text import shorten

DECADES = 2.0  # the ratio colour saturates at 100x (and 1/100x)


def check_same_model(m1, m2):
    """TraceError unless the two traces' parameter matrices have the same names and shapes."""
    s1 = {k: v["shape"] for k, v in m1["param_stats"].items()}
    s2 = {k: v["shape"] for k, v in m2["param_stats"].items()}
    if s1 != s2:
        diff = next((k for k in list(s1) + list(s2) if s1.get(k) != s2.get(k)), "?")
        shown = lambda s: "x".join(map(str, s[diff])) if diff in s else "absent"  # noqa: E731
        raise TraceError(
            f"cannot compare traces of different models: {diff} is {shown(s1)} here, {shown(s2)} in the other"
        )


def identities(G):
    """Node id -> what it is: ("param", matrix, row, col), or (scope, op, k) for the k-th node (in the
    step's order) of that scope and op."""
    seen: Counter = Counter()
    out = {}
    for n in sorted(G):
        d = G.nodes[n]
        if "param" in d:
            out[n] = ("param", d["param"], *d["index"])
        else:
            out[n] = (d["scope"], d["op"], seen[d["scope"], d["op"]])
            seen[d["scope"], d["op"]] += 1
    return out


def name(what):
    """A node's name by what it is: `layer0.attn_wq[3,7]`, `pos3/layer0/attn/head2/weights exp #1`."""
    if what[0] == "param":
        return f"{what[1]}[{what[2]},{what[3]}]"
    return f"{what[0]} {what[1]} #{what[2]}"


def comparable(G1, G2):
    """Why only the parameters pair node by node ("" when every node may): the documents differ, or
    the two graphs are of different views (fused and elementary number their nodes differently)."""
    g1, g2 = G1.graph, G2.graph
    if g1["view"] != g2["view"]:
        return f"the two traces hold different views ({g1['view']} here, {g2['view']} there)"
    if g1["tokens"] != g2["tokens"]:
        return f"the two steps read different documents (“{shorten(g1['doc'])}” here, “{shorten(g2['doc'])}” there)"
    return ""


class Pairing:
    """The nodes of G1 and G2 paired by what they are (`identities`); with `params_only`, parameters only."""

    def __init__(self, G1, G2, params_only=False):
        self.G1, self.G2 = G1, G2
        self.what1, self.what2 = identities(G1), identities(G2)
        ids2 = {w: n for n, w in self.what2.items()}
        self.pairs = {n: ids2[w] for n, w in self.what1.items() if w in ids2 and (w[0] == "param" or not params_only)}
        self.params_only = params_only

    def first_difference(self):
        """The first node of G1 (forward order) whose value differs from its pair's, or that has no pair;
        else the first in backward order whose gradient differs; else the first node G2 has that G1 does not
        (each as {"node", "name", "what", "this", "other"}; node: G1's id, None for a node only G2 has).
        None when every pair agrees. With `params_only`, over the parameters only."""
        G1, G2 = self.G1, self.G2
        mine = [n for n in sorted(G1) if not self.params_only or "param" in G1.nodes[n]]
        for n in mine:
            if n not in self.pairs:
                return self._diff(n, "structure", "read here", "not there")
            d1, d2 = G1.nodes[n], G2.nodes[self.pairs[n]]
            if _differ(d1["data"], d2["data"]):
                return self._diff(n, "value", d1["data"], d2["data"])
        for n in reversed(mine):
            d1, d2 = G1.nodes[n], G2.nodes[self.pairs[n]]
            if _differ(d1["grad"], d2["grad"]):
                return self._diff(n, "gradient", d1["grad"], d2["grad"])
        paired = set(self.pairs.values())
        for m in sorted(G2):
            if m not in paired and (not self.params_only or "param" in G2.nodes[m]):
                return _found(None, self.what2[m], "structure", "not here", "there")
        return None

    def _diff(self, n, what, this, other):
        return _found(n, self.what1[n], what, this, other)

    def ratios(self, nodes):
        """Per node of `nodes` that has a pair: (grad ratio, value ratio, its pair's value and gradient)."""
        out = {}
        for n in nodes:
            if n in self.pairs:
                d1, d2 = self.G1.nodes[n], self.G2.nodes[self.pairs[n]]
                out[n] = (ratio(d1["grad"], d2["grad"]), ratio(d1["data"], d2["data"]), d2["data"], d2["grad"])
        return out


def _found(node, what, how, this, other):
    return {"node": node, "name": name(what), "what": how, "this": this, "other": other}


def _differ(a, b):
    return not (a == b or (a != a and b != b))


def ratio(a, b):
    """|b| / |a|: 1 when both are 0, inf when only a is."""
    a, b = abs(a), abs(b)
    if a == 0:
        return 1.0 if b == 0 else math.inf
    return b / a


def ratio_color(r):
    """Blue where the other trace is smaller, red where larger, white where equal (log scale)."""
    if r != r:
        return hex_color(colormap.NAN_COLOR)
    t = DECADES if r == math.inf else (-DECADES if r == 0 else max(-DECADES, min(DECADES, math.log10(r))))
    return hex_color(colormap.diverging(t, DECADES))


def group_ratios(C1, C2):
    """Per group of C1 also in C2: (grad ratio, value ratio) of ‖grad‖ and ‖value‖."""
    return {
        n: (ratio(d["grad_norm"], C2.nodes[n]["grad_norm"]), ratio(d["data_norm"], C2.nodes[n]["data_norm"]))
        for n, d in C1.nodes(data=True)
        if n in C2
    }


def matrices(m1, m2):
    """Per parameter matrix: ‖grad‖ here and there (what two steps of one model always share)."""
    s1, s2 = m1["param_stats"], m2["param_stats"]
    return [[k, s1[k]["grad_norm"], s2[k]["grad_norm"]] for k in s1]
