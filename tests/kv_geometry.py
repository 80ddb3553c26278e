"""Whether the KV cache's edges of a drawing can be followed one by one (viz/graph/lanes.py), for the
static figure's test (tests/viz/graph/test_kv_lanes.py) and the explorer's (test_explore_kv_lanes.py):
from the edges' sampled points, every arrowhead, box and text of the drawing, in one set of units; and
where each position's keys, values and heads are drawn (`attention_order`)."""

import re
from xml.etree import ElementTree

SHARED = 20  # points: two edges running together longer than this share a stretch
SVG = "{http://www.w3.org/2000/svg}"


def is_kv(title):
    """An edge from one position to another: a key or value read by a later position."""
    tail, _, head = title.partition("->")
    return tail.startswith("pos") and head.startswith("pos") and tail.split("/")[0] != head.split("/")[0]


def sampled(d):
    """Points along an SVG path of M and C commands (as Graphviz writes them), about one a point."""
    nums = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", d)]
    pts = list(zip(nums[::2], nums[1::2]))
    out = [pts[0]]
    for i in range(1, len(pts) - 2, 3):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        n = max(2, int(abs(p3[0] - p0[0]) + abs(p3[1] - p0[1])))
        for k in range(1, n + 1):
            t = k / n
            a, b, c, e = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
            out.append((a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1]))
    return out


def inside(p, box, margin=0.0):
    return box[0] + margin < p[0] < box[2] - margin and box[1] + margin < p[1] < box[3] - margin


def in_triangle(p, tri):
    (ax, ay), (bx, by), (cx, cy) = tri[:3]
    d1 = (p[0] - bx) * (ay - by) - (ax - bx) * (p[1] - by)
    d2 = (p[0] - cx) * (by - cy) - (bx - cx) * (p[1] - cy)
    d3 = (p[0] - ax) * (cy - ay) - (cx - ax) * (p[1] - ay)
    return (d1 < 0 and d2 < 0 and d3 < 0) or (d1 > 0 and d2 > 0 and d3 > 0)


def check_followable(edges, heads, nodes, texts):
    assert edges, "no KV-cache edge drawn"
    for title, pts in edges.items():
        ends = set(title.split("->"))
        for n, box in nodes.items():  # through no box but its ends
            assert n in ends or not any(inside(p, box, 1) for p in pts), (title, n)
        for other, tri in heads:  # over no arrowhead but its own
            assert other == title or not any(in_triangle(p, tri) for p in pts), (title, "arrowhead of", other)
        for text, box in texts:  # over no text
            assert not any(inside(p, box, 0.5) for p in pts), (title, text)
    titles = sorted(edges)
    cells = {t: {(round(x), round(y)) for x, y in pts} for t, pts in edges.items()}
    for i, a in enumerate(titles):  # a stretch shared only within one source's bundle, which says its count
        for b in titles[i + 1 :]:
            near = sum(
                1
                for x, y in edges[a]
                if any((round(x) + dx, round(y) + dy) in cells[b] for dx in (-1, 0, 1) for dy in (-1, 0, 1))
            )
            if near > SHARED:
                tail = a.split("->")[0]
                assert tail == b.split("->")[0], (a, b, "share a stretch")
                count = sum(1 for t in titles if t.startswith(tail + "->"))
                assert any(t == f"×{count}" for t, _ in texts), (tail, f"no count ×{count} on its bundle")


def attention_order(svg):
    """Each position's attention, top to bottom, as a reader sees it: its keys, values and queries (k, v,
    q) and its heads, by the middle of each box; {position: (names)}."""
    found: dict = {}
    for g in ElementTree.parse(svg).getroot().iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        m = re.fullmatch(r"(?:cluster_)?pos(\d+)/layer0/attn/(head\d+|[qkv])", title.text if title is not None else "")
        shape = next((c for c in g.iter() if c.tag in (f"{SVG}polygon", f"{SVG}path")), None)  # (in its tooltip)
        if m and shape is not None:
            ys = [float(y) for y in re.findall(r"-?[\d.]+,(-?[\d.]+)", shape.get("points") or shape.get("d"))]
            found.setdefault(int(m.group(1)), []).append(((min(ys) + max(ys)) / 2, m.group(2)))
    return {p: tuple(name for _, name in sorted(boxes)) for p, boxes in found.items()}
