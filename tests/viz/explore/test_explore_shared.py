"""The explorer's views that share one layout (viz/explore/layout_sharing.py): the units of a linear layer,
laid out once, each drawn with its own texts, colours and names, every box wide enough for its text."""

import re
import shutil

import pytest

from conftest import SMALL
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import trace_step
from microtrace.viz.explore.layout import compact_layout
from microtrace.viz.explore.layout_sharing import Parsed, compact_layouts, groups
from microtrace.viz.explore.views import build_views
from microtrace.viz.graph.render import layouts

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
TOOLTIP = re.compile(r' tooltip="(?:[^"\\]|\\.)*"')


@pytest.fixture(scope="module")
def units():
    """The DOT of every output unit of one linear layer, in the elementary view (as a trace file has it)."""
    trace = trace_step(Trainer(["olivia", "emma", "lola"], TrainConfig(steps=4, seed=1), **SMALL), 1)
    G = trace.graph("elementary")
    views, _ = build_views(trace, G, 40)
    layer = next(v.key.split("#")[0] for v in views if v.key.endswith("/mlp/fc1#unit0"))
    return {i: TOOLTIP.sub("", v.digraph(G).source) for i, v in enumerate(views) if v.key.startswith(layer + "#unit")}


def boxes(layout):
    """Node name -> (x0, y0, x1, y1) of its box or ellipse (an item's first point is absolute)."""
    out = {}
    for kind, title, first, *_ in layout["items"]:
        if kind == "node" and first[0] in "re":
            x, y, a, b = first[2:6]
            out[title] = (x, y, x + a, y + b) if first[0] == "r" else (x - a, y - b, x + a, y + b)
    return out


def drawn(layout):
    """Item title -> its texts and its shapes' paints and fonts, by value: what a member must own."""
    tables = {"t": layout["fonts"]}
    return {
        title: [(s[-1], tables["t"][s[1]]) if s[0] == "t" else tuple(layout["paints"][s[1]]) for s in shapes]
        for kind, title, *shapes in layout["items"]
        if kind != "graph"
    }


def test_a_view_cuts_into_its_shape_and_its_values(units):
    parsed = {i: Parsed(src) for i, src in units.items()}
    assert all(p.source() == units[i] for i, p in parsed.items())  # nothing lost
    tied = groups(parsed)
    # units alike share (a unit whose gradient is exactly 0 is drawn dashed: it joins others like it)
    assert tied and sum(map(len, tied)) == len(units) and all(ids == sorted(ids) for ids in tied)
    assert all(len({parsed[i].signature for i in ids}) == 1 for ids in tied)
    first = next(iter(parsed.values()))
    assert "fc1 unit 0 (elementary" in first.graph_texts[0] and first.names[0][0] in "no"


def test_units_share_one_geometry_with_their_own_texts_and_colours(units):
    alike = max(groups({i: Parsed(src) for i, src in units.items()}), key=len)
    units = {i: units[i] for i in alike}
    shared = compact_layouts(units)
    alone = {i: compact_layout(doc) for i, doc in zip(units, layouts(list(units.values())))}
    geometry = {tuple(sorted(boxes(s).values())) for s in shared.values()}
    assert len(geometry) == 1  # one layout for all
    for i in units:
        assert drawn(shared[i]) == drawn(alone[i])  # the same names, texts, colours and pen widths as dot's own
        own = boxes(alone[i])
        placed = boxes(shared[i])
        for name, (a, b, c, d) in placed.items():  # each box as wide and high as dot made it for its text
            x0, y0, x1, y1 = own[name]
            assert c - a >= x1 - x0 - 1 and d - b >= y1 - y0 - 1, name
        rects = sorted(placed.values())
        for k, (a, b, c, d) in enumerate(rects):  # and no two overlap
            for e, f, g, h in rects[k + 1 :]:
                assert c <= e or g <= a or d <= f or h <= b
        texts = [s[-1] for it in shared[i]["items"] if it[0] == "graph" for s in it[2:] if s[0] == "t"]
        assert texts == [s[-1] for it in alone[i]["items"] if it[0] == "graph" for s in it[2:] if s[0] == "t"]


def test_a_view_unlike_the_others_is_laid_out_alone(units):
    i, j = list(units)[:2]
    odd = units[j].replace("shape=box", "shape=octagon", 1)
    assert groups({i: Parsed(units[i]), j: Parsed(odd)}) == []
    out = compact_layouts({i: units[i], j: odd})
    assert out[j] == compact_layout(layouts([odd])[0])
