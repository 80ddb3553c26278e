"""A view's picture as the page draws it: Graphviz's layout (`dot -Tjson`) boiled down to shapes.

Graphviz lays out every view when the page is written; the page draws the shapes itself (js/draw.js:
`decode`, `render`), so it carries coordinates, not SVG. Each node, edge and cluster keeps dot's own drawing
operations (xdot), with the colours and pen widths that viz/graph/style.py gave it, compacted:

    {"w": W, "h": H, "bg": colour,                      # points, y down (as SVG), the margin included
     "paints": [[stroke, fill, width, dash], ...],      # every distinct pen, once
     "fonts": [[size, bold, colour], ...],              # every distinct font, once
     "items": [[kind, title, shape, ...], ...]}         # kind: graph | cluster | edge | node

where a shape is one of ["r", paint, x, y, w, h, rx] (a box, rounded when rx > 0), ["e", paint, cx, cy,
rx, ry], ["p", paint, x0, y0, x1, y1, ...] (a polygon), ["l", paint, ...] (a polyline), ["b", paint, x0,
y0, ...] (a cubic Bézier path, closed and filled when its paint has a fill) or ["t", font, x, y, anchor,
text] (anchor -1 start, 0 middle, 1 end). Coordinates are whole points (a third of a pixel at 100 %),
each point given from the one before it within an item (the first from 0, 0): a box's texts and an
edge's arrowhead are then the same few small numbers everywhere, which gzip packs well.
Items come in drawing order: the graph's label, clusters, edges, then nodes on top.

With them, under "dot", what the page needs to lay the view out again when a group opens in place
(js/relayout.js, Graphviz in the page): the graph's layout attributes, every node's name and size,
the clusters (each within the one before it in the list that holds it), the rank constraints and the
edges with their layout attributes, invisible ones included (`skeleton`).
"""

_ANCHOR = {"l": -1, "c": 0, "r": 1}
_DASH = {"dashed": "5,2", "dotted": "1,5"}


class _Tables:
    """Distinct paints and fonts of one view, numbered in order of first use."""

    def __init__(self):
        self.paints, self.fonts = {}, {}

    def paint(self, key):
        return self.paints.setdefault(key, len(self.paints))

    def font(self, key):
        return self.fonts.setdefault(key, len(self.fonts))


def compact_layout(doc):
    """The page's picture of one view from dot's JSON (`viz.graph.render.layouts`)."""
    x0, y0, x1, y1 = _frame(doc)
    tables = _Tables()
    # dot's y grows upwards; the page's downwards, from the top left corner of the margin
    at = (x0, y1)
    items = []
    label = _shapes(doc.get("_ldraw_", []), at, tables)
    if label:
        items.append(["graph", None, *label])
    objects = doc.get("objects", [])
    names = [o.get("name") for o in objects]
    for o in objects:
        if "nodes" in o and o["name"].startswith("cluster"):
            items.append(["cluster", o["name"], *_shapes(o.get("_draw_", []) + o.get("_ldraw_", []), at, tables)])
    for e in doc.get("edges", []):
        if e.get("style") == "invis":  # the anchors that keep siblings in order draw nothing
            continue
        ops = [op for k in ("_draw_", "_tdraw_", "_hdraw_", "_ldraw_", "_tldraw_", "_hldraw_") for op in e.get(k, [])]
        items.append(["edge", f"{names[e['tail']]}->{names[e['head']]}", *_shapes(ops, at, tables)])
    for o in objects:
        # a node's lines are centred, so that a browser's wider font spills evenly
        if "nodes" not in o and o.get("style") != "invis":
            ops = o.get("_draw_", []) + o.get("_ldraw_", [])
            items.append(["node", o["name"], *_shapes(ops, at, tables, centre=o["name"] != "legend")])
    return {
        "w": round(x1 - x0),
        "h": round(y1 - y0),
        "bg": doc.get("bgcolor", "#ffffff"),
        "paints": [list(k) for k in tables.paints],
        "fonts": [list(k) for k in tables.fonts],
        "items": items,
        "dot": skeleton(doc),
    }


_GRAPH_KEYS = ("rankdir", "nodesep", "ranksep", "newrank", "pad", "splines", "remincross")
_CLUSTER_KEYS = ("label", "fontsize", "margin", "labeljust", "labelloc")
# group: siblings kept in their order (diagram.Clusters.order_siblings) when the page lays a view out
# again (without it, opening a box in microGPT's head 3 put head 3 above head 2)
_NODE_KEYS = ("shape", "style", "penwidth", "peripheries", "group")
_EDGE_KEYS = (
    "style",
    "weight",
    "constraint",
    "minlen",
    "tailport",
    "headport",
    "arrowsize",
    "arrowhead",
    "dir",
    "class",
)


def skeleton(doc):
    """The view as a graph to lay out again, sizes fixed: {"g": graph attributes, "n": [[name, width,
    height (inches, as dot sized the node), attributes, cluster]], "c": [[name, parent, attributes]],
    "r": [[rank, node, ...]], "e": [[tail, head, attributes]]}, attributes as DOT text, nodes,
    clusters and parents by their place in these lists (-1: none)."""
    objects, subs = doc.get("objects", []), doc.get("_subgraph_cnt", 0)
    clusters = [i for i in range(subs) if objects[i]["name"].startswith("cluster")]
    parent, depth = {}, {}

    def walk(i, d, up):  # every subgraph's depth and the cluster around it
        depth[i], parent[i] = d, up
        for j in objects[i].get("subgraphs", []):
            walk(j, d + 1, i if i in clusters else up)

    inner = {j for o in objects[:subs] for j in o.get("subgraphs", [])}
    for i in range(subs):
        if i not in inner:
            walk(i, 0, None)
    place = {c: k for k, c in enumerate(clusters)}
    home = {}  # node -> its innermost cluster
    for c in sorted(clusters, key=depth.get):
        home.update(dict.fromkeys(objects[c].get("nodes", []), place[c]))
    nodes = list(range(subs, len(objects)))
    at = {n: k for k, n in enumerate(nodes)}
    sk = {
        "g": _attrs(doc, _GRAPH_KEYS),
        "n": [
            [objects[n]["name"], float(objects[n]["width"]), float(objects[n]["height"]), _attrs(objects[n], _NODE_KEYS), home.get(n, -1)]
            for n in nodes
        ],
        "c": [[objects[c]["name"], place.get(parent[c], -1), _attrs(objects[c], _CLUSTER_KEYS)] for c in clusters],
        "r": [[objects[i]["rank"], *(at[n] for n in objects[i].get("nodes", []))] for i in range(subs) if "rank" in objects[i] and i not in place],
        "e": [[at[e["tail"]], at[e["head"]], _attrs(e, _EDGE_KEYS)] for e in doc.get("edges", [])],
    }  # fmt: skip
    sk["r"] += _beside_siblings(sk)
    return sk


def _beside_siblings(sk):
    """Ranks that keep the nodes feeding every one of a run of sibling clusters (an attention block's q,
    k and v feed each of its heads) out of the columns those clusters take, when the page lays the view
    out again: one rank for them all (under newrank). Left free, a node that reaches every sibling in
    the rank after the others (v, read by each head's output) is ranked in a column of the heads, and dot
    orders it by the median of its edges: between head 1 and head 2. The siblings are those kept in
    order by invisible anchors (diagram.Clusters.order_siblings: an anchor, in its own group, points to
    its sibling's first node)."""
    nodes, edges = sk["n"], sk["e"]
    siblings = {}  # the cluster holding a run of siblings -> the siblings' clusters
    for t, h, a in edges:
        name, inner = nodes[t][0], nodes[h][4]
        if f'group="{name}"' in nodes[t][3] and 'style="invis"' in a and inner >= 0 and inner != nodes[t][4]:
            siblings.setdefault(nodes[t][4], set()).add(inner)
    reach = {}  # a node -> the clusters its edges go into
    for t, h, a in edges:
        if 'style="invis"' not in a:
            reach.setdefault(t, set()).add(nodes[h][4])
    ranks = []
    for up, inner in siblings.items():
        feeding = [k for k, n in enumerate(nodes) if n[4] == up and len(inner) > 1 and inner <= reach.get(k, set())]
        if len(feeding) > 1:
            ranks.append(["same", *feeding])
    return ranks


def _attrs(obj, keys):
    """Attributes of a dot JSON object as DOT text, each value quoted: `rankdir="LR" nodesep="0.18"`."""
    return " ".join(f"{k}={quote(obj[k])}" for k in keys if k in obj)


def quote(text):
    """A DOT string literal of any text (a backslash kept as itself, not read as an escape)."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _frame(doc):
    """The drawing's extent with its margin: the background polygon dot paints, else the bounding box."""
    for op in doc.get("_draw_", []):
        if op["op"] in "Pp":
            xs, ys = [p[0] for p in op["points"]], [p[1] for p in op["points"]]
            return min(xs), min(ys), max(xs), max(ys)
    x0, y0, x1, y1 = map(float, doc["bb"].split(","))
    return x0, y0, x1, y1


def _shapes(ops, at, tables, centre=False):
    """xdot operations as compact shapes, the pen state (colours, style, font) folded into each, every
    point given from the one before it. `at`: (x0, y1), the page's origin in dot's coordinates."""
    return _relative(_absolute(ops, at, tables, centre))


def _relative(shapes):
    cx = cy = 0
    for s in shapes:
        first, last = (2, len(s)) if s[0] in "plb" else (2, 4)
        for i in range(first, last, 2):
            s[i], s[i + 1], cx, cy = s[i] - cx, s[i + 1] - cy, s[i], s[i + 1]
    return shapes


def _absolute(ops, at, tables, centre):
    out = []
    x0, y1 = at
    stroke, fill, width, dash = "#000000", "none", 1, None
    size, bold, ink = 14, 0, "#000000"
    for op in ops:
        kind = op["op"]
        if kind == "c":
            stroke = ink = op["color"]
        elif kind == "C":
            fill = op["color"]
        elif kind == "S":
            width, dash = _style(op["style"], width, dash)
        elif kind == "F":
            size = op["size"]
        elif kind == "t":
            bold = op["fontchar"] & 1
        elif kind == "T":
            (x, y), anchor = op["pt"], _ANCHOR[op["align"]]
            if centre and anchor:
                x, anchor = x - anchor * op["width"] / 2, 0
            out.append(["t", tables.font((_num(size), bold, ink)), round(x - x0), round(y1 - y), anchor, op["text"]])
        elif kind in "PpLlBbEe":
            filled = kind.isupper() and kind != "L"
            paint = tables.paint((stroke, fill if filled else "none", _num(width), dash))
            out.append(_shape(kind.lower(), paint, op, x0, y1))
    return out


def _style(style, width, dash):
    if style.startswith("setlinewidth("):
        return float(style[len("setlinewidth(") : -1]), dash
    if style == "bold":
        return 2, dash
    if style in _DASH:
        return width, _DASH[style]
    if style == "solid":
        return width, None
    return width, dash


def _shape(kind, paint, op, x0, y1):
    if kind == "e":
        cx, cy, rx, ry = op["rect"]
        return ["e", paint, round(cx - x0), round(y1 - cy), round(rx), round(ry)]
    points = op["points"]
    xs = [round(p[0] - x0) for p in points]
    ys = [round(y1 - p[1]) for p in points]
    box = _box(xs, ys, kind)
    if box is not None:
        return ["r", paint, *box]
    return [kind, paint, *(c for p in zip(xs, ys) for c in p)]


def _box(xs, ys, kind):
    """(x, y, w, h, rx) when the points draw an upright rectangle: a polygon of 4 corners, or Graphviz's
    rounded box (a closed path of 4 corner curves and 4 sides, 25 points)."""
    if not ((kind == "p" and len(xs) == 4) or (kind == "b" and len(xs) == 25)):
        return None  # most shapes: an edge's curve, an arrowhead
    x, y = min(xs), min(ys)
    w, h = max(xs) - x, max(ys) - y
    if kind == "p" and all(px in (x, x + w) and py in (y, y + h) for px, py in zip(xs, ys)):
        return x, y, w, h, 0
    if kind == "b" and xs[0] == xs[-1] and ys[0] == ys[-1]:
        r = abs(xs[3] - xs[6])
        if ys[3] == ys[0] and xs[6] == x and 0 < r <= 20:
            return x, y, w, h, r
    return None


def _num(x):
    """A width or size as JSON writes it shortest: 1 rather than 1.0."""
    return int(x) if float(x).is_integer() else round(float(x), 2)
