"""The block view's KV-cache edges can be followed one by one (viz/graph/lanes.py): read back from the SVG
the real Graphviz writes, no such edge runs through a box that is not one of its ends, over an arrowhead
or over a text; two of them share a stretch only as a bundle from one source, and the bundle says how
many reads it carries ("×6"). The edges are told by their title (two positions), not by how they are
drawn, so the test reads the old arcs as well as the lanes."""

import re
import shutil
from xml.etree import ElementTree

import pytest

from conftest import DOCS, MINI
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import trace_step
from microtrace.viz.graph.block import block_diagram
from microtrace.viz.graph.render import render_bytes

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
NS = "{http://www.w3.org/2000/svg}"
SHARED = 20  # points: two edges running together longer than this share a stretch


def kv_geometry(svg):
    """(KV edges: title -> sampled points, arrowheads: [(title, polygon)], node boxes: title -> box,
    texts: [(text, box)]) of dot's SVG, in its own units."""
    root = ElementTree.fromstring(svg)
    edges, heads, nodes, texts = {}, [], {}, []
    for g in root.iter(NS + "g"):
        kind, title = g.get("class", ""), g.findtext(NS + "title", "")
        if kind.startswith("edge"):
            for p in g.iter(NS + "polygon"):
                heads.append((title, _points(p.get("points"))))
            if (
                re.fullmatch(r"pos\d+/.*->pos\d+/.*", title)
                and len({title.split("/")[0], title.split("->")[1].split("/")[0]}) == 2
            ):
                edges[title] = [q for p in g.iter(NS + "path") for q in _sampled(p.get("d"))]
        elif kind == "node":
            shape = next(iter([*g.iter(NS + "path"), *g.iter(NS + "polygon")]), None)
            if shape is not None and title != "legend":
                xs, ys = zip(
                    *(_points(shape.get("points")) if shape.tag == NS + "polygon" else _sampled(shape.get("d")))
                )
                nodes[title] = (min(xs), min(ys), max(xs), max(ys))
        for t in g.findall(NS + "text"):
            size, x, y = float(t.get("font-size")), float(t.get("x")), float(t.get("y"))
            w = 0.6 * size * len(t.text or "")
            x0 = {"start": x, "middle": x - w / 2, "end": x - w}[t.get("text-anchor", "start")]
            texts.append((t.text, (x0, y - 0.75 * size, x0 + w, y + 0.2 * size)))
    return edges, heads, nodes, texts


def _points(text):
    return [tuple(map(float, p.split(","))) for p in text.split()]


def _sampled(d):
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


def _inside(p, box, margin=0.0):
    return box[0] + margin < p[0] < box[2] - margin and box[1] + margin < p[1] < box[3] - margin


def _in_triangle(p, tri):
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
            assert n in ends or not any(_inside(p, box, 1) for p in pts), (title, n)
        for other, tri in heads:  # over no arrowhead but its own
            assert other == title or not any(_in_triangle(p, tri) for p in pts), (title, "arrowhead of", other)
        for text, box in texts:  # over no text
            assert not any(_inside(p, box, 0.5) for p in pts), (title, text)
    titles = sorted(edges)
    for i, a in enumerate(titles):  # a stretch shared only within one source's bundle, which says its count
        for b in titles[i + 1 :]:
            near = sum(1 for p in edges[a] if min(abs(p[0] - q[0]) + abs(p[1] - q[1]) for q in edges[b]) < 1.5)
            if near > SHARED:
                tail = a.split("->")[0]
                assert tail == b.split("->")[0], (a, b, "share a stretch")
                count = sum(1 for t in titles if t.startswith(tail + "->"))
                assert any(t == f"×{count}" for t, _ in texts), (tail, f"no count ×{count} on its bundle")


@pytest.fixture(scope="module")
def collapsed():
    return trace_step(Trainer(DOCS, TrainConfig(steps=2, seed=1), **MINI), 1).collapse("block")


def test_the_kv_cache_edges_can_be_followed_one_by_one(collapsed):
    svg = render_bytes(block_diagram(collapsed), "svg")
    edges, *rest = kv_geometry(svg)
    positions = {n.split("/")[0] for n in rest[1] if n.startswith("pos")}
    assert len(edges) == len(positions) * (len(positions) - 1) // 2  # every earlier position read by every later
    check_followable(edges, *rest)


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_every_format_draws_the_lanes(collapsed, fmt):
    """PNG and PDF are drawn from the same layout as the SVG (neato -n2 on dot's), at their sizes."""
    data = render_bytes(block_diagram(collapsed), fmt)
    assert data[:4] in (b"\x89PNG", b"%PDF")
