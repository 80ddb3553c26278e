"""What the two Graphviz diagrams share: the digraph and its look, nested clusters, the title, highlighted
paths, gradient-flow edge styles and the dashed stubs that stand for the rest of the graph."""

import functools
import math
from collections import defaultdict

import graphviz

from microtrace.util import numfmt
from microtrace.viz.draw.text import shorten
from microtrace.viz.graph import style as gs


@functools.lru_cache(maxsize=1 << 16)
def _quoted(text, kind):  # `kind` keeps graphviz.nohtml strings apart from equal plain ones
    return graphviz.quoting.quote(text)


def _quote(text):
    return _quoted(text, type(text))


def _a_list(label=None, kwargs=None, attributes=None):
    """graphviz.quoting.a_list, to the byte, each text quoted once per process: a big step's diagrams
    quote millions of the same few attribute names and colours."""
    out = [f"label={_quote(label)}"] if label is not None else []
    for items in (kwargs, attributes):
        if items:
            pairs = items.items() if hasattr(items, "items") else items
            pairs = sorted(pairs) if type(items) is dict else pairs  # as graphviz: a plain dict sorted
            out += [f"{_quote(k)}={_quote(v)}" for k, v in pairs if v is not None]
    return " ".join(out)


def _attr_list(label=None, kwargs=None, attributes=None):
    content = _a_list(label, kwargs=kwargs, attributes=attributes)
    return f" [{content}]" if content else ""


def _quote_edge(name):
    node, _, rest = name.partition(":")
    parts = [_quote(node)]
    if rest:
        port, _, compass = rest.partition(":")
        parts.append(_quote(port))
        if compass:
            parts.append(compass)
    return ":".join(parts)


class Digraph(graphviz.Digraph):
    """graphviz.Digraph writing the same DOT text, quoting through `_quote` (a subgraph is one too)."""

    _quote = staticmethod(_quote)
    _quote_edge = staticmethod(_quote_edge)
    _a_list = staticmethod(_a_list)
    _attr_list = staticmethod(_attr_list)


def new_digraph(th, rankdir, title, name):
    g = Digraph(name=name)
    g.attr(
        "graph",
        rankdir=rankdir,
        bgcolor=th.background,
        fontname=gs.FONT,
        fontcolor=th.ink,
        fontsize="10",  # the legend's text; the title sets its own size
        label=gs.title_label(title, (), th),
        labelloc="t",
        labeljust="l",
        newrank="true",
        nodesep="0.18",
        ranksep="0.45",
        pad="0.2",
        outputorder="edgesfirst",
        # no second crossing minimisation over the whole graph once clusters are laid out: in it
        # Graphviz 2.43's dot compares two nodes of a cluster by the top level's table of chained nodes
        # (order_siblings' chains), indexed by their places in the cluster, and reads past its end
        # (valgrind: dot_mincross, left2right) when the cluster holds more nodes in that rank; the
        # order, and so the layout, then changed from run to run
        remincross="false",
    )
    g.attr("node", fontname=gs.FONT, fontsize="11", fontcolor=th.ink, color=th.ink, penwidth="1")
    g.attr("edge", fontname=gs.FONT, fontsize="9", fontcolor=th.muted, arrowsize="0.6", color=th.data)
    return g


class Clusters:
    """Nested clusters, emitted in the order they were first used (so the source is deterministic)."""

    def __init__(self):
        self.children = defaultdict(list)  # cluster id (None = top) -> child cluster ids
        self.nodes = defaultdict(list)  # cluster id -> [(name, attrs)]
        self.attrs = {}  # cluster id -> graph attributes
        self.chains = defaultdict(list)  # cluster id -> [(anchors chained in one rank, anchor edges)]
        self.index = {}  # node name -> its attrs

    def add_node(self, path, name, attrs):
        """`path`: [(cluster id, {attrs}), ...] from the outermost cluster in."""
        parent = None
        for cid, cattrs in path:
            if cid not in self.attrs:
                self.attrs[cid] = cattrs
                self.children[parent].append(cid)
            parent = cid
        self.nodes[parent].append((name, attrs))
        self.index[name] = attrs

    def order_siblings(self, path, siblings, reverse=False):
        """Keep sibling clusters (or nodes) in the order of `siblings` [(anchor name, [their nodes, first
        first]), ...] across their rank. Graphviz drops ordering constraints between nodes of different
        clusters and orders sibling clusters only to save crossings; so each sibling gets an invisible
        anchor in `path` (their parent cluster), the anchors are chained in one rank, and each anchor
        points to its sibling's first node, all in one `group`, whose edges Graphviz does not cross (a
        crossing penalty 1000 times an edge's) and keeps straight. Which way a chain reads depends on
        the rank direction and on where the anchors sit (`reverse`: the callers' choices are checked
        against dot's layouts by tests/viz/graph/test_print.py)."""
        for anchor, inside in siblings:
            self.add_node(path, anchor, {"style": "invis", "shape": "point", "width": "0", "group": anchor})
            for name in inside:
                self.index[name]["group"] = anchor
        chain = [anchor for anchor, _ in siblings][:: -1 if reverse else 1]
        self.chains[path[-1][0] if path else None].append((chain, [(a, inside[0]) for a, inside in siblings]))

    def emit(self, g, cid=None):
        for name, attrs in self.nodes[cid]:
            g.node(name, **attrs)
        for chain, links in self.chains[cid]:
            with g.subgraph() as s:
                s.attr(rank="same")
                for a, b in zip(chain, chain[1:]):
                    s.edge(a, b, style="invis")
            for a, b in links:
                g.edge(a, b, style="invis")
        for child in self.children[cid]:
            with g.subgraph(name="cluster_" + child) as s:
                s.attr(**self.attrs[child])
                self.emit(s, child)


def cluster_attrs(label, depth, th):
    return {
        "label": gs.dot_text(label),
        "style": "rounded,filled",
        "fillcolor": th.cluster_fills[min(depth, len(th.cluster_fills) - 1)],
        "color": th.cluster_pen,
        "fontcolor": th.muted,
        "fontsize": "11",
        "labeljust": "l",
        "margin": "6",
    }


def step_title(G, what, backward):
    m = G.graph
    parts = []
    if "step" in m:
        parts.append(f"step {m['step']}")
    if m.get("doc"):  # a traced script may have no document: say nothing rather than “”
        parts.append(f"“{shorten(m['doc'])}”")
    if "loss" in m:
        parts.append(f"loss {numfmt.fixed(m['loss'], 4)}")
    parts.append(what)
    if backward:
        parts.append("backward: gradient flow")
    return "  ·  ".join(parts)


def view_name(m):
    """What the scalar nodes of a graph with attributes `m` are, for a title: its view ("fused view",
    "elementary view"); a script's elementary view (on an autograd class of its own, microGPT's or
    micrograd's style, tracer/capture/script.py) is "the script's own nodes", its fused view folded from
    them as a run's is (tracer/model/fused.py)."""
    style = ((m.get("conventions") or {}).get("autograd") or {}).get("style")
    if style not in (None, "microtrace") and m.get("view", "elementary") == "elementary":
        return "the script's own nodes"
    return f"{m.get('view', 'elementary')} view"


def highlighted_sets(highlight):
    """The nodes and the edges (consecutive pairs) of the `highlight` paths, as two sets."""
    return {n for path in highlight for n in path}, {(a, b) for path in highlight for a, b in zip(path, path[1:])}


def flow_style(attrs, flow, pens, th, highlighted):
    """Mark an edge by the gradient it carries: dotted when none, the alarm colour when nan or inf,
    and the highlight colour (at least 2.5 wide) on a highlighted path. Updates `attrs` in place."""
    if flow == 0:
        attrs["style"] = "dotted"
    elif not math.isfinite(flow):
        attrs["color"] = th.nonfinite_pen
    if highlighted:
        attrs["color"] = th.highlight
        attrs["penwidth"] = f"{max(pens.width(flow), 2.5):.2f}"


def stub_node_attrs(text, tooltip_pairs, th):
    """A dashed box standing for what lies outside the view (both diagrams draw stubs alike): `text`
    is its HTML-like label."""
    return {
        "label": f"<{text}>",
        "shape": "box",
        "style": "rounded,dashed,filled",
        "fillcolor": th.stub_fill,
        "color": th.muted,
        "fontcolor": th.muted,
        "fontsize": "9",
        "tooltip": gs.tooltip(tooltip_pairs),
    }


def stub_scope(key, positions):
    """A stub's scope as shown: a "pos*/..." key (the same scope at several positions) names them."""
    return key.replace("pos*", _positions_text(positions), 1) if key.startswith("pos*/") else key


def _positions_text(positions):
    ps = sorted(positions)
    if len(ps) > 2 and ps == list(range(ps[0], ps[-1] + 1)):
        return f"pos{ps[0]}–{ps[-1]}"
    return "pos" + ",".join(str(p) for p in ps)
