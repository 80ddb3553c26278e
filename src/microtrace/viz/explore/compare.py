"""Two traces of the same model side by side: node by node ratios and the first node that differs.

Node ids are a topological order made by the same code, so two steps of one model agree node by node
as far as their documents do (the same scope and op at the same id); beyond that they are not
comparable and only groups (scopes, which both steps have) are.
"""

import math

from microtrace.tracer import TraceError
from microtrace.viz.draw import colormap
from microtrace.viz.draw.colormap import hex_color

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


def same_node(d1, d2):
    return d1["op"] == d2["op"] and d1["scope"] == d2["scope"]


def _differ(a, b):
    return not (a == b or (a != a and b != b))


def first_difference(G1, G2):
    """The first node id (forward order) where the traces differ, and how: the node's op or scope
    ("structure"), its value, or else the first in backward order whose gradient differs. None if equal."""
    n1, n2 = G1.number_of_nodes(), G2.number_of_nodes()
    common = 0
    for n in range(min(n1, n2)):
        d1, d2 = G1.nodes[n], G2.nodes[n]
        if not same_node(d1, d2):
            return {
                "node": n,
                "what": "structure",
                "this": f"{d1['op']} in {d1['scope']}",
                "other": f"{d2['op']} in {d2['scope']}",
            }
        if _differ(d1["data"], d2["data"]):
            return {"node": n, "what": "value", "this": d1["data"], "other": d2["data"]}
        common = n + 1
    if n1 != n2:
        return {"node": common, "what": "structure", "this": f"{n1} nodes", "other": f"{n2} nodes"}
    for n in range(n1 - 1, -1, -1):
        if _differ(G1.nodes[n]["grad"], G2.nodes[n]["grad"]):
            return {"node": n, "what": "gradient", "this": G1.nodes[n]["grad"], "other": G2.nodes[n]["grad"]}
    return None


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


def node_ratios(G1, G2, nodes):
    """Per node of `nodes` that is the same node in G2: (grad ratio, value ratio, other data, other grad)."""
    out = {}
    for n in nodes:
        if n in G2 and same_node(G1.nodes[n], G2.nodes[n]):
            d1, d2 = G1.nodes[n], G2.nodes[n]
            out[n] = (ratio(d1["grad"], d2["grad"]), ratio(d1["data"], d2["data"]), d2["data"], d2["grad"])
    return out
