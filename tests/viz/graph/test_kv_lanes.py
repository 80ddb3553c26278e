"""The block view's KV-cache edges can be followed one by one (viz/graph/lanes.py): read back from the SVG
the real Graphviz writes, no such edge runs through a box that is not one of its ends, over an arrowhead
or over a text; two of them share a stretch only as a bundle from one source, and the bundle says how
many reads it carries ("×6"). The edges are told by their title (two positions), not by how they are
drawn, so the test reads the old arcs as well as the lanes."""

import io
import shutil
from xml.etree import ElementTree

import pytest
from kv_geometry import attention_order, check_followable, is_kv, sampled

from conftest import DOCS, MINI
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import trace_step
from microtrace.viz.graph.block import block_diagram
from microtrace.viz.graph.render import render_bytes

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
NS = "{http://www.w3.org/2000/svg}"


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
            if is_kv(title):
                edges[title] = [q for p in g.iter(NS + "path") for q in sampled(p.get("d"))]
        elif kind == "node":
            shape = next(iter([*g.iter(NS + "path"), *g.iter(NS + "polygon")]), None)
            if shape is not None and title != "legend":
                xs, ys = zip(
                    *(_points(shape.get("points")) if shape.tag == NS + "polygon" else sampled(shape.get("d")))
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


@pytest.fixture(scope="module")
def collapsed():
    return trace_step(Trainer(DOCS, TrainConfig(steps=2, seed=1), **MINI), 1).collapse("block")


@pytest.mark.parametrize("style", [{}, {"backward": True}, {"compact": True}], ids=["forward", "backward", "compact"])
def test_the_kv_cache_edges_can_be_followed_one_by_one(collapsed, style):
    """Forward; backward (the arrowheads at the sources, each edge but the KV cache's labelled with its
    flow); compact, as laid out for a printed width (the ranks closer: more of them for the lanes)."""
    svg = render_bytes(block_diagram(collapsed, **style), "svg")
    edges, *rest = kv_geometry(svg)
    positions = {n.split("/")[0] for n in rest[1] if n.startswith("pos")}
    assert len(edges) == len(positions) * (len(positions) - 1) // 2  # every earlier position read by every later
    check_followable(edges, *rest)


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_every_format_draws_the_lanes(collapsed, fmt):
    """PNG and PDF are drawn from the same layout as the SVG (neato -n2 on dot's), at their sizes."""
    data = render_bytes(block_diagram(collapsed), fmt)
    assert data[:4] in (b"\x89PNG", b"%PDF")


@pytest.mark.slow
def test_the_default_model_s_kv_cache_edges_can_be_followed():
    """microGPT's own sizes (4 heads, n_embd 16) on a name of 8 letters: 9 positions, 36 reads."""
    C = trace_step(Trainer(["isabella"], TrainConfig(steps=1, seed=1)), 0).collapse("block")
    edges, *rest = kv_geometry(render_bytes(block_diagram(C), "svg"))
    assert len(edges) == 9 * 8 // 2
    check_followable(edges, *rest)


@pytest.fixture(scope="module")
def stages():
    return trace_step(Trainer(DOCS, TrainConfig(steps=2, seed=1), **MINI), 1).collapse("stage")


def test_the_stage_view_draws_every_kv_cache_read_in_lanes(stages):
    """The stage view: each position's keys are read by every later position's heads' logits, its values
    by their outputs (2 heads, 5 positions: 40 reads), each in a lane (drawn as planned: dot's ports gone
    from its title), each source's bundle with its count; they were a translucent braid through the heads
    (168 edges in the demo's step)."""
    edges, *rest = kv_geometry(render_bytes(block_diagram(stages), "svg"))
    positions = {n.split("/")[0] for n in rest[1] if n.startswith("pos")}
    assert len(edges) == len(positions) * (len(positions) - 1) // 2 * MINI["n_head"] * 2  # keys and values
    assert [t for t in edges if ":" in t] == []
    reads = {}
    for t in edges:
        reads[t.split("->")[0]] = reads.get(t.split("->")[0], 0) + 1
    assert sorted(text for text, _ in rest[2] if text.startswith("×")) == sorted(f"×{n}" for n in reads.values())


@pytest.mark.slow  # the default model's stage view of 9 positions, twice: ~10 CPU-s
def test_a_long_document_s_stage_view_has_every_read_in_a_lane_and_every_position_alike():
    """microGPT's own sizes on a name of 8 letters (9 positions): its last heads read 8 earlier positions,
    whose taps above them came too close to the head above (18 of the 288 reads were left to dot, one
    braid), and each position's keys, values and heads were drawn in an order of its own (the demo's last
    two with `v` above their heads, the others below): laid out without the KV cache's edges, and with
    room above each head."""
    C = trace_step(Trainer(["isabella"], TrainConfig(steps=1, seed=1)), 0).collapse("stage")
    for compact in (False, True):
        svg = render_bytes(block_diagram(C, compact=compact), "svg")
        edges, *rest = kv_geometry(svg)
        assert len(edges) == 9 * 8 // 2 * 4 * 2  # 4 heads read each earlier position's keys and values
        assert [t for t in edges if ":" in t] == []  # every one drawn in its lane (as planned: no ports)
        order = attention_order(io.BytesIO(svg))
        assert len(order) == 9 and len(set(order.values())) == 1, order


@pytest.mark.slow  # the geometry's check of 40 edges' points against every box, text and edge: ~5 CPU-s each
@pytest.mark.parametrize("style", [{}, {"backward": True}], ids=["forward", "backward"])
def test_the_stage_view_s_kv_cache_edges_can_be_followed_one_by_one(stages, style):
    """Followable as the block view's are, forward and backward (its flows inside attention off the lanes)."""
    edges, *rest = kv_geometry(render_bytes(block_diagram(stages, **style), "svg"))
    assert len(edges) == 40
    check_followable(edges, *rest)
