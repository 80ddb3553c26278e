"""The KV cache's edges drawn in lanes beside the attention column, so that each read can be followed.

Every position's keys and values are read by every later position: in the block view that is about
twenty edges between the boxes of one column, which dot (and Graphviz's spline router) draws as one
braid. Here each source gets one lane, a vertical line beside the column (the latest source nearest to
it, so that no edge leaving a box crosses a lane), and its edges share it as a bundle that says how many
reads it carries ("×6"): an edge leaves its source's east side low, runs down its source's lane, and
turns in above its reader, into the reader's top side. The readers' taps are nested, the farthest lane
highest and leftmost, so no two taps cross and no tap runs over another's arrowhead.

Coordinates are Graphviz's: points, y up. `plan` is a pure function of the boxes; `dot_pos` and
`xdot_ops` write a planned edge as Graphviz does (a `pos` spline for `neato -n2`, xdot drawing
operations for the explorer). js/lanes.js is the same plan for the page's re-layout.
"""

import re

LANE = 7.0  # between two lanes
TIGHT = 5.0  # between two lanes of a figure laid out for a printed width (`LANE_ATTR` says so), a rank saved
LANE_ATTR = "kv_lane"  # a graph attribute of the DOT source: the lanes' spacing in points, when not LANE
GAP = 14.0  # from the column's right edge to the nearest lane: room for the bundle's count beside it
RISE = 9.0  # the lowest tap above its reader's top: clear of the taps' arrowheads
TAP = 4.0  # between two taps' turns above a reader
INSET = 6.0  # the nearest tap's way in, from the reader's right edge
CLEAR = 7.0  # the room kept around every other box (its arrowheads are inside it)
ARROW = 6.0  # an arrowhead's length (arrowsize 0.6)
ROUND = 3.0  # the radius of a lane's corners
COUNT_SIZE = 9.0  # the bundle's count, in points: as the edges' labels (no smaller text in print)


def room(sources, lane=LANE):
    """The width (points) the lanes of `sources` bundles, `lane` apart, need beside the column, the next
    box's arrowheads kept clear."""
    return GAP + lane * max(0, sources - 1) + CLEAR + ARROW


def plan(boxes, edges, texts=(), lane=LANE, beside_sources=False):
    """Each edge's path, a list of points from its source's side to its reader's top, or None for an edge
    that does not fit in a lane (its reader not below its source, a box in its way, as inside a group
    open in place): the caller routes those as before, and the lanes are planned again without them.

    `boxes`: name -> (x0, y0, x1, y1), every box drawn (those in the way included); `edges`: [(tail,
    head)]; `texts`: the boxes of the clusters' labels, which the taps keep right of; `lane`: between two
    lanes; `beside_sources`: the lanes right of the sources' column rather than of every end (the stage
    view: a column of keys, their readers further right). Returns ([path or None per edge], {source: (x, y, text)}: each bundle's count, above its way
    out)."""
    keep = {e for e in edges if boxes[e[0]][1] > boxes[e[1]][3]}
    while True:
        paths = _planned(boxes, [e if e in keep else None for e in edges], texts, lane, beside_sources)
        blocked = keep - {e for e, p in zip(edges, paths) if p is not None}
        if not blocked:
            break
        # the lanes sit right of the rightmost end: an edge into a group open in place pushes them
        # into the boxes beside the column, so such edges go first, then those still in the way
        right = max(boxes[n][2] for e in keep for n in e)
        widest = {e for e in blocked if max(boxes[e[0]][2], boxes[e[1]][2]) == right}
        keep -= widest or blocked
    counts: dict = {}
    for t, _ in keep:
        counts[t] = counts.get(t, 0) + 1
    labels = {t: (boxes[t][2] + 2, _way_out(boxes[t]) + 5, f"×{n}") for t, n in counts.items()}
    return paths, labels


def _way_out(box):
    """The height at which a source's edges leave its east side: low, under the residual stream."""
    return box[1] + min(6.0, (box[3] - box[1]) / 4)


def _planned(boxes, edges, texts, lane_apart, beside_sources=False):
    """The paths of `edges` (None: left out) in lanes, None for those that do not fit."""
    live = [e for e in edges if e is not None]
    if not live:
        return [None] * len(edges)
    right = max(boxes[n][2] for e in live for n in e)
    if beside_sources:  # right of the sources' column: of every box level with one of them
        x0, x1 = min(boxes[t][0] for t, _ in live), max(boxes[t][2] for t, _ in live)
        right = max(b[2] for b in boxes.values() if b[0] < x1 and b[2] > x0)
    tails = sorted({t for t, _ in live}, key=lambda t: (boxes[t][1], t))  # the lowest source nearest
    lane = {t: right + GAP + k * lane_apart for k, t in enumerate(tails)}
    readers: dict = {}
    for t, h in live:
        readers.setdefault(h, []).append(t)
    paths = []
    for e in edges:
        if e is None:
            paths.append(None)
            continue
        t, h = e
        hx0, _, hx1, hy1 = boxes[h]
        top = hy1 + RISE + len(readers[h]) * TAP
        mid = hx0 + (hx1 - hx0) / 2
        if lane[t] > hx1:  # lanes on the right: the taps come down on the right half of the top side,
            # right of any label there, the nearest lane's tap lowest and rightmost
            k = sorted(readers[h], key=lane.get).index(t)
            lo = max([mid] + [b[2] + 4 for b in texts if b[1] < top and b[3] > hy1 and b[0] < hx1])
            apart = min(lane_apart, (hx1 - INSET - lo) / max(1, len(readers[h]) - 1))
            way_in = hx1 - INSET - k * apart
        else:  # on the left (beside the sources): the same, mirrored, and an arrowhead's length further
            # in (the reader's own inputs come in at its left side, their arrowheads at its corner)
            k = sorted(readers[h], key=lambda s: -lane[s]).index(t)
            hi = min([mid] + [b[0] - 4 for b in texts if b[1] < top and b[3] > hy1 and b[2] > hx0])
            apart = min(lane_apart, (hi - hx0 - INSET - ARROW) / max(1, len(readers[h]) - 1))
            way_in = hx0 + INSET + ARROW + k * apart
        out, up = _way_out(boxes[t]), hy1 + RISE + k * TAP
        path = [(boxes[t][2], out), (lane[t], out), (lane[t], up), (way_in, up), (way_in, hy1)]
        blocked = any(_hits(boxes[n], a, b) for a, b in zip(path, path[1:]) for n in boxes if n not in e)
        paths.append(None if apart < 3 or blocked else path)
    return paths


def _hits(box, a, b):
    """Whether the axis-parallel segment a-b comes within CLEAR of `box`."""
    x0, y0, x1, y1 = box
    return (
        min(a[0], b[0]) < x1 + CLEAR
        and max(a[0], b[0]) > x0 - CLEAR
        and min(a[1], b[1]) < y1 + CLEAR
        and max(a[1], b[1]) > y0 - CLEAR
    )


def bezier(path):
    """A path of axis-parallel segments as cubic Bézier control points (p0, c1, c2, p1, c1, c2, p2...),
    its corners rounded, its end shortened by the arrowhead; and the arrowhead's tip."""
    pts = list(path)
    (ax, ay), (bx, by) = pts[-2], pts[-1]
    length = abs(bx - ax) + abs(by - ay)
    pts[-1] = (bx - (bx - ax) * ARROW / length, by - (by - ay) * ARROW / length)
    out = [pts[0]]
    for i in range(1, len(pts) - 1):
        before, corner, after = pts[i - 1], pts[i], pts[i + 1]
        p, q = _towards(corner, before, ROUND), _towards(corner, after, ROUND)
        out += _straight(out[-1], p) + [corner, corner, q]
    out += _straight(out[-1], pts[-1])
    return out, (bx, by)


def _towards(c, p, r):
    d = abs(p[0] - c[0]) + abs(p[1] - c[1])
    r = min(r, d / 2)
    return (c[0] + (p[0] - c[0]) * r / d, c[1] + (p[1] - c[1]) * r / d) if d else c


def _straight(p, q):
    return [
        (p[0] + (q[0] - p[0]) / 3, p[1] + (q[1] - p[1]) / 3),
        (p[0] + 2 * (q[0] - p[0]) / 3, p[1] + 2 * (q[1] - p[1]) / 3),
        q,
    ]


def arrowhead(tail, tip, width):
    """The arrowhead's triangle (Graphviz's normal arrow: half as wide as long, and a pen's width more)."""
    dx, dy = tip[0] - tail[0], tip[1] - tail[1]
    n = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / n, dy / n
    half = ARROW / 3 + width / 4
    return [(tail[0] - uy * half, tail[1] + ux * half), tip, (tail[0] + uy * half, tail[1] - ux * half)]


def xdot_ops(path, color, width):
    """An edge in lanes as Graphviz's xdot drawing operations: (its line, its arrowhead)."""
    points, tip = bezier(path)
    pen = [{"op": "S", "style": f"setlinewidth({width:g})"}, {"op": "c", "grad": "none", "color": color}]
    head = arrowhead(points[-1], tip, width)
    fill = {"op": "C", "grad": "none", "color": color}
    return pen + [{"op": "b", "points": [list(p) for p in points]}], pen + [
        fill,
        {"op": "P", "points": [list(p) for p in head]},
    ]


def count_ops(x, y, text, color):
    """A bundle's count as xdot text operations, its left end at x, its baseline at y."""
    return [
        {"op": "F", "size": COUNT_SIZE, "face": "DejaVu Sans"},
        {"op": "c", "grad": "none", "color": color},
        {"op": "T", "pt": [x, y], "align": "l", "width": COUNT_SIZE * 0.6 * len(text), "text": text},
    ]


def dot_pos(path, back=False):
    """An edge in lanes as the `pos` of Graphviz's -Tdot output (`neato -n2` draws it as given); `back`
    (dir=back, the backward view): its arrowhead at its source, where the gradient goes."""
    points, tip = bezier(path[::-1] if back else path)
    if back:
        points = points[::-1]
    return f"{'s' if back else 'e'},{tip[0]:.2f},{tip[1]:.2f} " + " ".join(f"{x:.2f},{y:.2f}" for x, y in points)


_QUOTED = r'"(?:[^"\\]|\\[\s\S])*"'
# an edge statement of dot's -Tdot output: its ends (a port after either), its attributes
_EDGE = re.compile(rf"^(\s*)({_QUOTED}|\w+)(:\w+)? -> ({_QUOTED}|\w+)(:\w+)?(\s*\[)((?:[^\"\]]|{_QUOTED})*)\];", re.M)
_POS = re.compile(rf"\bpos={_QUOTED}")


def with_lanes(laid, doc):
    """dot's layout as DOT (`dot -Tdot`: `laid`) with its KV cache's edges (class "kv") drawn in lanes,
    from the same layout as JSON (`doc`), for `neato -n2` to draw as given; None when they have none
    or lanes do not fit."""
    names = [o.get("name") for o in doc.get("objects", [])]
    groups: dict = {}  # class -> its edges: "kv" (the block view), "kv k", "kv v" (the stage view's, by source)
    for e in doc.get("edges", []):
        if e.get("class", "").split()[:1] == ["kv"]:
            groups.setdefault(e["class"], []).append((names[e["tail"]], names[e["head"]]))
    lane, route, labels = float(doc.get(LANE_ATTR, LANE)), {}, {}
    for kind, kv in sorted(groups.items()):
        paths, found = plan(boxes(doc), kv, label_boxes(doc), lane, beside_sources=kind != "kv")
        route.update((e, p) for e, p in zip(kv, paths) if p is not None)
        labels.update(found)
    if not route:
        return None
    counted = set()

    def redraw(m):
        tail, head = (_unquote(m.group(k)) for k in (2, 4))
        attrs = m.group(7)
        if (tail, head) not in route or not re.search(r"\bclass=\"?kv\b", attrs):
            return m.group(0)
        back = re.search(r"\bdir=\"?back\b", attrs) is not None
        attrs = _POS.sub(f'pos="{dot_pos(route[tail, head], back)}"', attrs)
        if tail not in counted:  # the bundle's count, once, on its first edge
            counted.add(tail)
            attrs += _count_attrs(labels[tail], attrs)
        return f"{m.group(1)}{m.group(2)} -> {m.group(4)}{m.group(6)}{attrs}];"  # no ports: drawn as given

    return _EDGE.sub(redraw, laid)


def _count_attrs(label, attrs):
    """A bundle's count (`label`: x, y, text) as the attributes of its first edge (`attrs`: its colour)."""
    x, y, text = label
    return (
        f',\n\t\tlabel="{text}", fontsize={COUNT_SIZE:g}, fontcolor="{_color(attrs)}", '
        f'lp="{x + COUNT_SIZE * 0.3 * len(text):.2f},{y + COUNT_SIZE * 0.3:.2f}"'
    )


def _unquote(name):
    return name[1:-1].replace('\\"', '"').replace("\\\\", "\\") if name.startswith('"') else name


def _color(attrs):
    m = re.search(r'\bcolor="?(#[0-9a-fA-F]+)', attrs)
    return m.group(1) if m else "#000000"


def label_boxes(doc):
    """The boxes of the clusters' labels in dot's JSON `doc` (points, y up), from their text operations."""
    out = []
    for o in doc.get("objects", []):
        size = 14.0
        for op in o.get("_ldraw_", []) if "nodes" in o else []:
            if op["op"] == "F":
                size = float(op["size"])
            elif op["op"] == "T":
                (x, y), w = op["pt"], float(op["width"])
                x0 = x - {"l": 0, "c": w / 2, "r": w}[op["align"]]
                out.append((x0, y - 0.25 * size, x0 + w, y + 0.8 * size))
    return out


def boxes(doc):
    """Every drawn node's box in dot's JSON `doc`: name -> (x0, y0, x1, y1), points, y up (an invisible
    node, as the anchors that keep heads in order, is in nobody's way)."""
    out = {}
    for o in doc.get("objects", []):
        if "pos" in o and "nodes" not in o and o.get("style") != "invis":
            x, y = map(float, o["pos"].split(","))
            w, h = float(o["width"]) * 36, float(o["height"]) * 36
            out[o["name"]] = (x - w, y - h, x + w, y + h)
    return out


STAND_IN = "later#"  # the invisible readers of the last keys and values (block.py), for dot's layout with
# the KV cache's edges: the layout without them (`apart`) has no use for them
# an edge statement of the stage view's KV cache, and a stand-in's statements, as the graphviz package writes them
_SOURCE_KV = re.compile(
    rf'^\t({_QUOTED}) -> ({_QUOTED}) \[((?:[^"\]]|{_QUOTED})*?\bclass="kv [kv]"(?:[^"\]]|{_QUOTED})*)\]\n', re.M
)
_PORTS = re.compile(r"\b(?:tail|head)port=\w+ ?")
_SOURCE_STAND_IN = re.compile(rf'^\t(?:{_QUOTED} -> )?"{STAND_IN}\d*" \[[^\n]*\]\n', re.M)


def apart(source):
    """(`source` without the stage view's KV-cache edges, [(tail, head, attributes)] of those), tail and
    head quoted as in the source, as the graphviz package writes a `block.block_diagram`.

    dot orders each rank by the edges through it, and every position's keys and values are read by all
    the later positions, fewer and fewer: each position's keys, values and heads came out in an order
    of its own (the demo's last two positions drew `v` above their heads, the others below). Without
    those edges every position is the same graph and is laid out alike; they are drawn in lanes after
    (`added`), which need no room from dot."""
    kv = [(m.group(1), m.group(2), m.group(3)) for m in _SOURCE_KV.finditer(source)]
    if not kv:
        return source, []
    return _SOURCE_STAND_IN.sub("", _SOURCE_KV.sub("", source)), kv


def added(laid, doc, kv):
    """dot's layout as DOT (`dot -Tdot`: `laid`; as JSON: `doc`) of a stage view laid out without its
    KV cache's edges, with them (`kv`: [(tail, head, attributes)] as `apart` gives them) added in lanes
    for `neato -n2` to draw as given; None when one of them does not fit in a lane (the view is then
    laid out with them, those drawn as dot routes them)."""
    groups: dict = {}  # "kv k", "kv v": a view's keys and its values, each in lanes of their own
    for t, h, attrs in kv:
        groups.setdefault(re.search(r'\bclass="([^"]*)"', attrs).group(1), []).append((t, h, attrs))
    statements, counted = [], set()
    for _, edges in sorted(groups.items()):
        ends = [(_unquote(t), _unquote(h)) for t, h, _ in edges]
        paths, labels = plan(boxes(doc), ends, label_boxes(doc), float(doc.get(LANE_ATTR, LANE)), True)
        if None in paths:
            return None
        for (t, h, attrs), (tail, _), path in zip(edges, ends, paths):
            back = re.search(r"\bdir=\"?back\b", attrs) is not None
            attrs = _PORTS.sub("", attrs) + f' pos="{dot_pos(path, back)}"'  # no ports: drawn as given
            if tail not in counted:  # the bundle's count, once, on its first edge
                counted.add(tail)
                attrs += _count_attrs(labels[tail], attrs)
            statements.append(f"\t{t} -> {h} [{attrs}];\n")
    end = laid.rstrip().rfind("}")
    return laid[:end] + "".join(statements) + laid[end:]
