"""The views of the explorer: which diagram each scope opens into, down to single scalars.

The step opens on the block view. A scope opens into its scalar nodes when it has at most `limit` of
them; otherwise into its stages (the stage view of that scope), and a single stage too large to draw
(a linear layer has thousands of scalars) into a list of sub-groups: one per output unit, per matrix
row, or per run of node ids. Every diagram is a `graphviz.Digraph` from viz/graph (block, scalar), so the page
looks like the static figures.
"""

from dataclasses import dataclass, field

from microtrace.tracer.model.scopes import prefix
from microtrace.viz.graph.block import block_diagram
from microtrace.viz.graph.scalar import scalar_diagram
from microtrace.viz.graph.select import collapsed_part, focus_collapsed

LIMIT = 150  # scalar nodes one diagram shows at most: beyond that dot is slow and a reader lost


@dataclass
class View:
    key: str  # a scope path ("" for the step), or scope#unit5 / scope#row3 / scope#part2 for a sub-group
    kind: str  # collapsed | scalar | list
    parent: int | None  # index of the view it is opened from (the breadcrumbs)
    nodes: list = field(default_factory=list)  # ids of the nodes inside (of a collapsed view: a script's group)
    collapsed: object = None  # collapsed views: the collapsed graph drawn
    parts: dict = field(default_factory=dict)  # list views: sub-group key -> its node ids

    def digraph(self, G, places=None):
        """The Graphviz diagram of this view (None for a list). `places`: the page's layout of a drawing,
        on which a scalar view's keys and units are checked to read in order (`scalar_diagram`)."""
        if self.kind == "collapsed":
            level = self.collapsed.graph["level"]
            what = f"{level} view" + (f" of {self.key}" if self.key else "")
            return block_diagram(self.collapsed, what=what)
        if self.kind == "scalar":
            # not folded into bands: the page pans and zooms along a long chain, and folding would lay
            # each of a thousand elementary views out twice (once to measure it), in a dot of its own;
            # and the page opens a cluster by its scope's name, which a band would change
            # quick: one network-simplex pass places the nodes, 5x faster on the long chains of microGPT's
            # elementary sums (hundreds of views); set inside, so that the keys' and units' order is
            # checked on the page's own layout (`places`)
            what = f"scalar view of {label(self.key)}"
            return scalar_diagram(G, self.nodes, what=what, fold=False, quick=True, places=places)
        return None


def label(key):
    """A view key as shown: `pos3/layer0/mlp/fc1#unit5` -> `pos3/layer0/mlp/fc1 unit 5`."""
    if "#" not in key:
        return key or "the step"
    scope, sub = key.split("#")
    for word in ("unit", "row", "part"):
        if sub.startswith(word):
            return f"{scope} {word} {sub[len(word) :]}"
    return key


def build_views(trace, G, limit=LIMIT):
    """Every view reachable from the block view, in breadth-first order (index 0 is the step)."""
    blocks = trace.collapse("block", G.graph["view"])
    stages = trace.collapse("stage", G.graph["view"])
    sizes = _scope_sizes(stages)
    by_stage = {}
    for n, scope in G.nodes(data="scope"):
        by_stage.setdefault(scope, []).append(n)

    def nodes_of(key):  # nodes_of(key), from one pass over G instead of one per view
        inner = key + "/"
        return sorted(n for s, ns in by_stage.items() if s == key or s.startswith(inner) for n in ns)

    members = {}  # block group -> its stages: a script's block (pos3/gpt/layer0/linear) is not a path prefix
    for s in stages:
        members.setdefault(prefix(s, "block"), []).append(s)

    views = [View("", "collapsed", None, collapsed=blocks)]
    index = {"": 0}
    queue = [0]
    while queue:
        i = queue.pop(0)
        for key in _openable(views[i], stages):
            if key in index or key == "param" or key not in sizes and key not in members and "#" not in key:
                continue
            if key not in sizes and "#" not in key:  # a group by name only: its own stages, wherever they are
                index[key] = len(views)
                views.append(_group_view(stages, key, members[key], limit, by_stage))
                queue.append(index[key])
                continue
            small = _smallest_drawable(key, sizes, limit)
            if small != key:  # a stage inside a head (say) opens as part of its head's diagram
                if small not in index:
                    index[small] = len(views)
                    views.append(_view_of(G, stages, small, sizes, views[i], limit, nodes_of))
                index[key] = index[small]
                continue
            index[key] = len(views)
            views.append(_view_of(G, stages, key, sizes, views[i], limit, nodes_of))
            queue.append(index[key])
    for view in views[1:]:  # breadcrumbs follow the scope path, whichever view a scope was found from
        view.parent = index[_parent_key(view.key, index)]
    return views, index


def _smallest_drawable(key, sizes, limit):
    """The outermost scope around `key` (or itself) that one scalar diagram can show whole."""
    if "#" in key or key.startswith("param"):
        return key
    parts = key.split("/")
    for depth in range(1, len(parts)):
        p = "/".join(parts[:depth])
        if sizes.get(p, limit + 1) <= limit:
            return p
    return key


def _parent_key(key, index):
    if "#" in key:
        return key.split("#")[0]
    parts = key.split("/")
    for depth in range(len(parts) - 1, 0, -1):
        if "/".join(parts[:depth]) in index:
            return "/".join(parts[:depth])
    return ""


def _scope_sizes(stages):
    """Scalar nodes in every scope path that is a prefix of a stage (pos3, pos3/layer0, ...)."""
    sizes = {}
    for s, d in stages.nodes(data=True):
        parts = s.split("/")
        for depth in range(1, len(parts) + 1):
            key = "/".join(parts[:depth])
            sizes[key] = sizes.get(key, 0) + d["count"]
    return sizes


def _openable(view, stages):
    """Keys a view can open: its groups and clusters (collapsed), its sub-groups (list)."""
    if view.kind == "collapsed":
        C = view.collapsed
        keys = list(C.nodes)
        for n in C.nodes:  # clusters: every proper prefix of a group's scope
            parts = n.split("/")
            keys += ["/".join(parts[:d]) for d in range(1, len(parts))]
        return keys
    return list(view.parts)


def _view_of(G, stages, key, sizes, from_view, limit, nodes_of):
    if "#" in key:  # a sub-group: its nodes were listed by the list view
        return View(key, "scalar", None, nodes=from_view.parts[key])
    inner = key + "/"
    if (
        key.startswith("param/")
        or sizes[key] > limit
        and sum(1 for s in stages if s == key or s.startswith(inner)) == 1
    ):
        nodes = nodes_of(key)
        return View(key, "list", None, nodes=nodes, parts=subgroups(G, key, nodes, limit))
    if sizes[key] <= limit:
        return View(key, "scalar", None, nodes=nodes_of(key))
    return View(key, "collapsed", None, collapsed=focus_collapsed(stages, key))


def _group_view(stages, key, group, limit, by_stage):
    """The view of a group whose name is not a scope path: its scalars, or its stages when too many."""
    nodes = sorted(n for s in group for n in by_stage.get(s, ()))
    if len(nodes) <= limit:
        return View(key, "scalar", None, nodes=nodes)
    return View(key, "collapsed", None, nodes=nodes, collapsed=collapsed_part(stages, group))


def subgroups(G, key, nodes, limit):
    """A large scope split for drawing: by output unit (a node joins the unit its result feeds), by
    matrix row for a parameter matrix, else into runs of at most `limit` consecutive node ids."""
    inside = set(nodes)
    group = {}
    for n in sorted(nodes, reverse=True):  # results before operands
        d = G.nodes[n]
        if "index" in d:
            group[n] = f"row{d['index'][0]}"
        elif "unit" in d:
            group[n] = f"unit{d['unit']}"
        else:
            group[n] = next((group[v] for v in G.successors(n) if v in inside and group.get(v)), None)
    subs = {}
    loose = []
    for n in sorted(nodes):
        if group[n] is None:
            loose.append(n)
        else:
            subs.setdefault(f"{key}#{group[n]}", []).append(n)
    if any(len(v) > limit for v in subs.values()):  # units too large to draw: plain runs instead
        loose, subs = sorted(nodes), {}
    for i in range(0, len(loose), limit):
        subs[f"{key}#part{i // limit}"] = loose[i : i + limit]
    return dict(sorted(subs.items(), key=lambda kv: (kv[1][0], kv[0])))
