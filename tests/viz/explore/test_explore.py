"""`microtrace explore`: the page driven in the system's Chromium through Playwright.

One small model, two traced steps (the second of a run with another learning rate, for --compare), one
written page each and one browser for the whole module. Every request the page makes is intercepted:
a page that reaches for anything but its own file fails. `limit` is lowered so that the small model
still has every level (block view, stage view, head, scalars).
"""

import io
import json
import math
import shutil
import time

import graphviz
import pytest
from click.testing import CliRunner
from explore_browser import NEEDS, Opened
from PIL import Image

from conftest import DOCS, small_trace
from microtrace.cli.explore import explore
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import save_trace, trace_step
from microtrace.tracer.model.order import backward_order, forward_order
from microtrace.viz.explore import compare, page
from microtrace.viz.explore.layout import compact_layout
from microtrace.viz.explore.page import build_explorer, explorer_graph
from microtrace.viz.explore.views import build_views
from microtrace.viz.graph import scalar
from microtrace.viz.graph.render import layouts

LIMIT = 40  # conftest's explorer_page is small_trace()'s page at this limit
pytestmark = NEEDS


@pytest.fixture(scope="module")
def trace():
    return small_trace()


@pytest.fixture(scope="module")
def other():
    return small_trace(lr=0.05)


@pytest.fixture(scope="module")
def G(trace):
    return explorer_graph(trace)


@pytest.fixture(scope="module")
def trace_file(G, tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "step.json"
    save_trace(G, path)
    return path


@pytest.fixture(scope="module")
def files(explorer_page, tmp_path_factory):
    """step.html from the library (the session's explorer_page)."""
    d = tmp_path_factory.mktemp("explore")
    shutil.copyfile(explorer_page, d / "step.html")
    return d


@pytest.fixture(scope="module")
def compare_file(other, trace_file, tmp_path_factory):
    """compare.html through the command, from two trace files."""
    d = tmp_path_factory.mktemp("compare")
    save_trace(explorer_graph(other), d / "other.json")
    result = run("--trace", trace_file, "--compare", d / "other.json", "--max-nodes", LIMIT, "-o", d / "compare.html")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("wrote ") and result.output.count("\n") == 1
    return d / "compare.html"


@pytest.fixture(scope="module")
def opened(browser, files):
    o = Opened(browser, files / "step.html")
    yield o
    o.close()


def test_opens_from_disk_with_no_request_and_no_console_error(opened):
    assert opened.requests and all(u.startswith("file://") for u in opened.requests)
    assert len(opened.requests) == 1  # the page itself: nothing else, not even a favicon
    assert opened.errors == []
    assert opened.view_key() == ""
    assert "default-src 'none'" in opened.page.content()


def test_every_node_is_drawn_in_some_view(trace, G):
    views, _ = build_views(trace, G, LIMIT)
    drawn = {n for v in views if v.kind == "scalar" for n in v.nodes}
    assert drawn == set(G.nodes)
    assert all(len(v.nodes) <= LIMIT for v in views if v.kind == "scalar")


@pytest.mark.slow  # three dives and a click: test_explore_input's Enter dives, its click fills the inspector
def test_expand_position_attention_head_then_a_scalar(opened, G):
    opened.go("")
    opened.open_item("cluster_pos1")
    assert opened.view_key() == "pos1"
    opened.open_item("cluster_pos1/layer0/attn")
    assert opened.view_key() == "pos1/layer0/attn"
    opened.open_item("cluster_pos1/layer0/attn/head1")
    assert opened.view_key() == "pos1/layer0/attn/head1"
    crumbs = opened.page.locator("#crumbs").inner_text()
    assert (
        crumbs.split(" › ") == ["the step", "pos1", "pos1/layer0", "pos1/layer0/attn", "pos1/layer0/attn/head1"]
        or "pos1/layer0/attn" in crumbs
    )
    titles = opened.js("[...document.querySelectorAll('#stage g.node > title')].map(t => t.textContent)")
    ids = sorted(int(t[1:]) for t in titles if t.startswith("n"))
    assert ids and all(G.nodes[n]["scope"].startswith("pos1/layer0/attn/head1") for n in ids)
    n = max(ids, key=lambda k: G.in_degree(k))
    opened.click(f"n{n}")
    d = G.nodes[n]
    assert float(opened.inspector("data")) == d["data"]
    assert float(opened.inspector("grad")) == d["grad"]
    assert opened.inspector("scope") == d["scope"]
    for u, e in G.pred[n].items():
        assert float(opened.value(f'td[data-local="in{u}"]')) == e["local_grad"]
        assert float(opened.value(f'td[data-flow="in{u}"]')) == e["grad_flow"]
    # back up with the breadcrumbs
    opened.page.locator("#crumbs a", has_text="the step").click()
    opened.until("document.body.dataset.ready === '0'")


def test_group_inspector_shows_the_collapsed_statistics(opened, trace, G):
    opened.go("")
    opened.click("pos2/layer0/attn")
    opened.until("document.querySelector('#inspector h3').textContent === 'pos2/layer0/attn'")
    C = trace.collapse("block", G.graph["view"])
    d = C.nodes["pos2/layer0/attn"]
    assert int(opened.inspector("count")) == d["count"]
    assert float(opened.inspector("grad_norm")) == d["grad_norm"]
    assert int(opened.inspector("zero_grad")) == d["zero_grad"]


def test_search_a_parameter_entry_opens_down_to_it(opened, trace, G):
    n = trace.resolve("wte[3,5]", "fused")
    opened.search("wte[3,5]")
    opened.until(f"window.explorer.state.sel === {n}")
    assert opened.inspector("param") == "wte"
    assert opened.inspector("index") == "3, 5"
    assert float(opened.inspector("grad")) == G.nodes[n]["grad"]
    assert opened.js("document.querySelector('#stage g.sel > title').textContent") == f"n{n}"


def test_search_a_scope_path_and_an_unknown_name(opened):
    opened.search("pos2/layer0/attn/head0")
    opened.until("document.querySelector('#found').textContent.includes('pos2/layer0/attn/head0')")
    assert opened.view_key() == "pos2/layer0/attn/head0"
    opened.search("no_such_matrix[1,2]")
    opened.until("document.querySelector('#found').textContent.includes('no parameter matrix')")


def test_paths_follow_the_tracers_top_paths(opened, trace, G):
    for n in [trace.resolve("wte[3,5]", "fused"), G.graph["loss_node"] - 5, 10]:
        want = [p["nodes"] for p in trace.top_paths(n, 3, "fused")]
        got = [opened.js(f"window.explorer.pathFrom({n}, {r})") for r in range(len(want))]
        assert got == want


@pytest.mark.slow  # a node at a time through a head's backward pass; the block player runs both ways fast
def test_backward_player_lights_every_node_with_a_gradient(opened, G):
    opened.search("pos1/layer0/attn/head1")
    opened.until("window.explorer.state.data && window.explorer.state.data.nodes")
    N = G.number_of_nodes()
    opened.seek(N)  # the end of the forward pass
    drawn = opened.js(
        "[...document.querySelectorAll('#stage g.node > title')].map(t => t.textContent).filter(t => /^n\\d+$/.test(t))"
    )
    assert opened.js("document.querySelectorAll('#stage g.node.p-grad').length") == 0
    seen = 0
    while opened.js("window.explorer.state.t") < 2 * N:
        opened.page.locator("#canvas").press(".")  # one node at a time: the next gradient in view
        lit = opened.js("document.querySelectorAll('#stage g.node.p-grad').length")
        assert lit >= seen
        seen = lit
    lit = set(opened.js("[...document.querySelectorAll('#stage g.node.p-grad > title')].map(t => t.textContent)"))
    with_grad = {t for t in drawn if G.nodes[int(t[1:])]["grad"] != 0}
    assert with_grad and with_grad <= lit
    opened.until(f"location.hash.includes('t={2 * N}')")


def test_position_in_the_url_reopens_the_same_moment(browser, files, G):
    N = G.number_of_nodes()
    o = Opened(browser, files / "step.html", f"#v=pos1%2Flayer0%2Fattn%2Fhead1&t={N + 7}")
    try:
        assert o.view_key() == "pos1/layer0/attn/head1"
        assert o.js("window.explorer.state.t") == N + 7
        assert o.js("document.querySelectorAll('#stage g.p-todo').length") == 0  # forward is over
        assert "backward" in o.page.locator("#p-where").inner_text()
    finally:
        o.close()


def test_block_player_runs_forward_then_backward(opened, G):
    N = G.number_of_nodes()
    opened.go("")
    opened.seek(1)
    assert opened.js("document.querySelectorAll('#stage g.node.p-todo').length") > 10
    opened.seek(N + N // 2)
    classes = opened.js("[...document.querySelectorAll('#stage g.node')].map(g => g.getAttribute('class'))")
    assert any("p-grad" in c for c in classes) and any("p-val" in c for c in classes)
    opened.seek(2 * N)


@pytest.mark.slow  # the order itself is checked fast in tests/tracer/model/test_order.py, the player here
def test_the_player_follows_the_tracers_order(opened, G):
    fwd, bwd = opened.js("window.explorer.order()")
    assert fwd == forward_order(G) and bwd == backward_order(G)  # valid orders: tests/tracer/model/test_order.py
    # parameters are read as they are used: once as many nodes as there are parameters are done, the
    # first position is under way (in id order nothing but the parameters would have lit)
    params = sum(1 for n in G if G.nodes[n]["op"] == "param")
    opened.go("")
    opened.seek(params)
    begun = opened.js(
        "[...document.querySelectorAll('#stage g.node')].filter(g => !g.classList.contains('p-todo'))"
        ".map(g => g.querySelector('title').textContent)"
    )
    assert any(t.startswith("pos0/") for t in begun)
    first = next(n for n in fwd if G.in_degree(n))  # the first operation: the node just done
    opened.seek(fwd.index(first) + 1)
    assert f"#{first} " in opened.page.locator("#p-where").inner_text()
    # playing keeps an even pace over the operations: a leaf lights with the operation that reads it
    N = G.number_of_nodes()
    done = [i + 1 for i, n in enumerate(fwd) if G.in_degree(n)] + [
        N + i + 1 for i, n in enumerate(bwd) if G.in_degree(n)
    ]
    for k in (1, 2, len(done) // 2, len(done)):
        assert opened.js(f"window.explorer.timeAtOps({k})") == done[k - 1]
    opened.seek(0)
    opened.page.locator("#p-play").click()
    time.sleep(0.4)
    opened.page.locator("#p-play").click()
    t = opened.js("window.explorer.state.t")
    assert 0 < t and t in set(done) | {2 * N}
    opened.seek(2 * G.number_of_nodes())


def test_touch_pinch_zooms_a_drag_pans_and_a_tap_selects(browser, files):
    o = Opened(browser, files / "step.html", touch=True)
    cdp = o.context.new_cdp_session(o.page)

    def touch(kind, *points):  # real touches, as a touch screen sends them (the page sees pointer events)
        cdp.send(
            "Input.dispatchTouchEvent",
            {"type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]},
        )

    def cam():
        return o.js("({...window.explorer.state.cam})")

    try:
        c0 = cam()
        touch("touchStart", (400, 400))
        for k in range(1, 6):
            touch("touchMove", (400 + 20 * k, 400 + 10 * k))
        touch("touchEnd")
        c1 = cam()
        assert c1["k"] == c0["k"] and c1["x"] == pytest.approx(c0["x"] + 100) and c1["y"] == pytest.approx(c0["y"] + 50)
        # pinch out: two fingers from 100 px apart to 300 px apart around (500, 400)
        left, top = o.js(
            "(() => { const r = document.querySelector('#canvas').getBoundingClientRect(); return [r.left, r.top]; })()"
        )
        under = ((500 - left - c1["x"]) / c1["k"], (400 - top - c1["y"]) / c1["k"])  # the graph's point there
        touch("touchStart", (450, 400), (550, 400))
        for k in range(1, 6):
            touch("touchMove", (450 - 20 * k, 400), (550 + 20 * k, 400))
        touch("touchEnd")
        c2 = cam()
        assert c2["k"] == pytest.approx(3 * c1["k"])  # zoomed in three times
        assert (500 - left - c2["x"]) / c2["k"] == pytest.approx(under[0], abs=20 / c2["k"])  # and about where
        assert (400 - top - c2["y"]) / c2["k"] == pytest.approx(under[1], abs=20 / c2["k"])  # the fingers were
        # a tap selects what is under the finger; a double tap opens it (in place)
        o.go("")
        o.page.keyboard.press("0")  # the whole view in sight again
        o.until("window.explorer.state.sel === null")
        x, y = o.js(
            "(() => { const g = [...document.querySelectorAll('#stage g.node')].find(g => g.querySelector('title').textContent === 'pos2/layer0/attn');"
            " const r = g.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        touch("touchStart", (x, y))
        touch("touchEnd")
        o.until("window.explorer.state.sel === 'pos2/layer0/attn'")
        for _ in range(2):
            touch("touchStart", (x, y))
            touch("touchEnd")
        o.until("document.querySelector('#stage g.opened > title')?.textContent === 'pos2/layer0/attn'")
        assert o.view_key() == "" and o.errors == []
    finally:
        o.close()


def test_key_help_and_player_need_no_glyph_a_readers_fonts_may_lack(opened):
    # keys by name or as arrows, the player's icons drawn: Latin-1 and U+2190..2193 are in every UI font
    # (the pause glyph U+23F8 is in none of this machine's, and showed as an empty box)
    assert opened.page.locator(".help kbd").count() >= 12
    text = opened.page.locator(".help").inner_text() + opened.page.locator("#player").inner_text()
    assert {c for c in text if ord(c) > 0xFF} <= set("←↑→↓"), text
    assert opened.page.locator("#player button svg").count() == 6


def test_screenshot_has_the_graph_and_its_legend(opened, tmp_path):
    opened.go("")
    png = opened.page.screenshot()
    img = Image.open(io.BytesIO(png)).convert("RGB")
    colours = img.resize((320, 200)).getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 50  # not blank: boxes in many |grad| colours
    legend = opened.page.locator("#stage g.node").filter(has=opened.page.locator("title", has_text="legend"))
    box = legend.bounding_box()
    assert box and box["width"] > 50 and 0 <= box["x"] < 1280 and 0 <= box["y"] < 800
    assert "Legend" in legend.text_content()


@pytest.mark.slow  # another page (~4 s); test_compare and test_explore_input open the session's compare_page
def test_compare_finds_the_first_difference(browser, compare_file, G, other):
    first = compare.Pairing(G, explorer_graph(other)).first_difference()  # the same document: every node pairs
    o = Opened(browser, compare_file)
    try:
        assert o.errors == [] and len(o.requests) == 1
        # the page's own text (the vendored Graphviz is code, whose braces are not placeholders)
        text = o.page.content().replace(page._graphviz(), "")
        assert "{{" not in text and "http://" not in text.replace("http://www.w3.org/", "")
        text = o.page.locator("#first-diff").inner_text()
        assert f"first difference: {first['name']} (value" in text
        o.page.locator("#first-diff a").click()
        o.until(f"window.explorer.state.sel === {first['node']}")

        def fills():
            return o.js(
                "[...document.querySelectorAll('#stage g.node > polygon, #stage g.node > path, #stage g.node > rect')].map(p => p.getAttribute('fill'))"
            )

        before = fills()
        o.page.locator("#colour").click()  # the list of colourings, then the next one down: gradient ratio
        o.page.keyboard.press("ArrowDown")
        o.page.keyboard.press("Enter")
        o.until("window.explorer.state.colour === 'gratio'")
        assert fills() != before
        assert o.page.locator("#inspector td[data-key=ratio]").count() == 1
    finally:
        o.close()


def test_the_page_draws_each_node_where_dot_put_it(opened, trace, G):
    """The page draws from coordinates: a box and an ellipse in the browser sit where dot laid them out."""
    views, index = build_views(trace, G, LIMIT)
    key = "pos1/layer0/attn/head1"
    doc = layouts([views[index[key]].digraph(G)])[0]
    top = max(p[1] for op in doc["_draw_"] if op["op"] in "Pp" for p in op["points"])  # dot's y grows upwards
    left = min(p[0] for op in doc["_draw_"] if op["op"] in "Pp" for p in op["points"])
    placed = {o["name"]: o for o in doc["objects"] if "pos" in o}
    opened.search(key)
    opened.until(f"document.body.dataset.ready === '{index[key]}'")
    drawn = opened.js(
        "[...document.querySelectorAll('#stage g.node')].map(g => [g.querySelector(':scope > title').textContent,"
        " g.querySelector(':scope > rect, :scope > ellipse')?.getBBox()]).filter(([, b]) => b)"
        ".map(([t, b]) => [t, b.x + b.width / 2, b.y + b.height / 2, b.width, b.height])"
    )
    assert {t[0] for t in drawn if t[0][0] in "no"} == {n for n in placed if n[0] in "no" and n[1:].isdigit()}
    for name, x, y, w, h in drawn:
        if name not in placed:
            continue
        px, py = map(float, placed[name]["pos"].split(","))
        assert abs(x - (px - left)) <= 1 and abs(y - (top - py)) <= 1, name
        assert abs(w - float(placed[name]["width"]) * 72) <= 2 and abs(h - float(placed[name]["height"]) * 72) <= 2


# the drawing, less the selection (a real click on a box selects it)
_DRAWING = "document.getElementById('stage').innerHTML.replace(/ sel(?=[\" ])/g, '')"
_BOXES = """() => Object.fromEntries([...document.querySelectorAll('#stage g.node')].map(g => {
  const s = g.querySelector(':scope > rect, :scope > ellipse'); if (!s) return null;
  const b = s.getBBox(); return [g.querySelector(':scope > title').textContent, [b.x, b.y, b.x + b.width, b.y + b.height]];
}).filter(Boolean))"""


@pytest.mark.slow  # repeats test_explore_relayout's fast test (attention, then a head, opened in place and closed) on position 1
def test_a_group_opens_in_place_and_closes_again(opened):
    """Double-click: the group's box becomes a frame holding its stages, the drawing is laid out again
    around it; again: it closes."""
    opened.go("")
    group = "pos1/layer0/attn"
    before = opened.js(_BOXES)
    opened.dblclick(group)
    opened.until("!!document.querySelector('#stage g.opened') && window.explorer.state.view === 0")
    after = opened.js(_BOXES)
    x0, y0, x1, y1 = opened.js(_FRAME, group)
    inner = [k for k in after if k not in before]
    assert inner and all(k.startswith(group + "/") for k in inner)  # its stages, by their scope paths
    for k in inner:  # inside the group's box
        a, b, c, d = after[k]
        assert x0 <= a and c <= x1 and y0 <= b and d <= y1, k
    assert x1 - x0 > before[group][2] - before[group][0] and y1 - y0 > before[group][3] - before[group][1]
    for k, (a, b, c, d) in after.items():  # the surrounding boxes made room: none overlaps the group
        if k in before and k != "legend":
            assert c <= x0 or a >= x1 or d <= y0 or b >= y1, k
    # a stage inside opens in place too (into its scalars), then the group closes with everything inside
    stage = next(k for k in inner if k.endswith("/q"))
    opened.dblclick(stage)
    opened.until("document.querySelectorAll('#stage g.opened').length === 2")
    assert any(k.startswith("n") for k in opened.js(_BOXES))
    opened.dblclick(group)
    opened.until("!document.querySelector('#stage g.opened')")
    assert opened.js(_BOXES) == before


_FRAME = """t => { const b = [...document.querySelectorAll('#stage g.cluster')].find(g => g.querySelector(':scope > title').textContent === t).getBBox();
  return [b.x, b.y, b.x + b.width, b.y + b.height]; }"""
_ENDS = """g => [...document.querySelectorAll('#stage g.edge')].map(e => {
  const t = e.querySelector(':scope > title').textContent, p = e.querySelector(':scope > path'); if (!p) return null;
  const L = p.getTotalLength(), pts = [p.getPointAtLength(0), p.getPointAtLength(L)].map(q => [q.x, q.y]);
  for (const poly of e.querySelectorAll(':scope > polygon')) for (const q of poly.points) pts.push([q.x, q.y]);
  return [t, pts];
}).filter(Boolean)"""


def _gap(box, pts):
    """How far the nearest of `pts` lies from `box` [x0, y0, x1, y1] (0 on or inside it)."""
    return min(math.hypot(max(box[0] - x, 0, x - box[2]), max(box[1] - y, 0, y - box[3])) for x, y in pts)


@pytest.mark.slow  # test_explore_relayout's fast test checks that each arrowhead ends at the inner node it reads
def test_an_edge_into_an_opened_group_ends_at_the_inner_node_it_touches(opened):
    """Opened in place, a group's outer edges end at (or start from) the inner nodes they really touch,
    one branch each, their elementary edges adding up to the outer edge's; closing restores the drawing."""
    opened.go("")
    group = "pos1/layer0/attn"
    html = opened.js(_DRAWING)
    counts = opened.js("window.explorer.state.data.edges")
    outer = [t for t, _ in opened.js(_ENDS) if group in t.split("->")]  # drawn (parameter edges are not)
    assert len(outer) >= 4
    opened.dblclick(group)
    opened.until("!!document.querySelector('#stage g.opened')")
    boxes, ends = opened.js(_BOXES), opened.js(_ENDS)
    branches = [(t, pts) for t, pts in ends if sum(k.startswith(group + "/") for k in t.split("->")) == 1]
    assert not [t for t, _ in ends if group in t.split("->")]  # no edge ends at the outline any more
    assert {t for t, _ in branches} >= {"pos1/embed->pos1/layer0/attn/rmsnorm", "pos1/embed->pos1/layer0/attn/residual"}
    for t, pts in branches:
        inner = next(k for k in t.split("->") if k.startswith(group + "/"))
        assert _gap(boxes[inner], pts) <= 3, t
    parts = opened.js("window.explorer.state.data.edges")
    for e in outer:  # every elementary edge of an outer edge goes to exactly one branch
        assert sum(v["elementary edges"] for v in parts.values() if v.get("part of") == e) == counts[e]["count"], e
    opened.dblclick(group)
    opened.until("!document.querySelector('#stage g.opened')")
    assert opened.js(_DRAWING) == html


@pytest.mark.slow  # repeats test_explore_relayout's fast test (attention, then a head, opened in place and closed) on position 1
def test_a_cluster_opens_in_place_into_its_own_inside(opened):
    """A head's cluster inside an opened attention block opens in place into the head's scalars (its
    stage boxes make way, the edges from outside reach the scalars); double-clicked again, it closes."""
    opened.go("")
    group, head = "pos1/layer0/attn", "cluster_pos1/layer0/attn/head1"
    opened.dblclick(group)
    opened.until("!!document.querySelector('#stage g.opened')")
    html, before = opened.js(_DRAWING), opened.js(_BOXES)
    opened.dblclick(head)
    opened.until("document.querySelectorAll('#stage g.opened').length === 2 && window.explorer.state.view === 0")
    after, ends = opened.js(_BOXES), opened.js(_ENDS)
    frame = opened.js(
        "t => { const b = [...document.querySelectorAll('#stage g.cluster')].find(g => g.querySelector(':scope > title').textContent === t).getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; }",
        head,
    )
    assert not [k for k in after if k.startswith(group + "/head1/")]  # its stage boxes made way ...
    scalars = [k for k in after if k not in before]
    assert scalars and all(k[0] in "no" and k[1:].isdigit() for k in scalars)  # ... for its scalars, inside it
    for k in scalars:
        a, b, c, d = after[k]
        assert frame[0] <= a and c <= frame[2] and frame[1] <= b and d <= frame[3], k
    into = [(t.split("->")[1], pts) for t, pts in ends if t.startswith(group + "/q->")]
    assert not [k for k, _ in into if k.startswith(group + "/head1/")]
    into = [(k, pts) for k, pts in into if k in scalars]
    assert into and all(_gap(after[k], pts) <= 3 for k, pts in into)
    opened.dblclick(head)
    opened.until("document.querySelectorAll('#stage g.opened').length === 1")
    assert opened.js(_DRAWING) == html


@pytest.mark.parametrize(
    "key, cluster", [("pos0", "cluster_pos0/layer0"), ("pos1/layer0/attn", "cluster_pos1/layer0/attn")]
)
def test_a_cluster_that_is_its_own_inside_says_so_instead_of_diving(opened, key, cluster):
    """A cluster whose inside is the very boxes drawn in it (a position's layer; the view's own frame)
    stays as it is, and the page says why."""
    i = opened.js(f"JSON.parse(document.getElementById('index').textContent).views.findIndex(v => v.key === {key!r})")
    opened.go(key)
    opened.dblclick(cluster)
    opened.until("document.getElementById('found').textContent.includes('its inside is what is drawn here')")
    assert opened.js("window.explorer.state.view") == i and not opened.js("document.querySelector('#stage g.opened')")
    assert opened.js("document.getElementById('found').textContent").startswith(cluster[8:] + ":")


def test_compact_layout_keeps_dots_shapes_and_texts():
    g = graphviz.Digraph()
    g.attr("graph", pad="0.2")
    with g.subgraph(name="cluster_a") as c:
        c.attr(label="a <group>", style="rounded")
        c.node("n1", label="<<B>#1</B><BR/>data 0.5>", shape="box", style="rounded,filled", fillcolor="#73d055")
    g.node("o2", label="×", shape="ellipse", style="filled,dashed", fillcolor="#eeeeee")
    g.edge("n1", "o2", penwidth="2.5", color="#4a4a4a")
    L = compact_layout(layouts([g])[0])
    kinds = {it[0]: it for it in L["items"]}
    assert set(kinds) == {"cluster", "edge", "node"} and L["w"] > 0 and L["h"] > 0
    box = next(it for it in L["items"] if it[1] == "n1")
    assert box[2][0] == "r" and box[2][6] > 0  # a rounded box
    assert L["paints"][box[2][1]][1] == "#73d055"
    assert [t[5] for t in box[3:]] == ["#1", "data 0.5"] and L["fonts"][box[3][1]][1] == 1  # the title bold
    op = next(it for it in L["items"] if it[1] == "o2")
    assert op[2][0] == "e" and L["paints"][op[2][1]][3] == "5,2"
    edge = next(it for it in L["items"] if it[0] == "edge")
    assert edge[1] == "n1->o2" and [s[0] for s in edge[2:]] == ["b", "p"]
    assert L["paints"][edge[2][1]][2] == 2.5
    cluster = next(it for it in L["items"] if it[0] == "cluster")
    assert cluster[1] == "cluster_a" and any(s[0] == "t" and s[5] == "a <group>" for s in cluster[2:])


@pytest.mark.slow  # two pages built (~12 CPU-s); every page make test builds runs the same check
def test_keys_and_units_are_checked_on_the_layout_the_page_makes(trace, monkeypatch):
    # the explorer lays every view out anyway: a scalar view's keys and units are read on that layout (a
    # dot per view of the check's own cost the default step's page 80 more dots), and only a view dot
    # reads backwards is drawn turned round and laid out again
    def refused(g):
        raise AssertionError("the order check laid a view out with a dot of its own")

    relaid = []
    real_layouts = page._layouts

    def layouts_seen(sources):
        relaid.append(sources)
        return real_layouts(sources)

    monkeypatch.setattr(scalar, "node_places", refused)
    monkeypatch.setattr(page, "_layouts", layouts_seen)
    build_explorer(trace, limit=LIMIT, jobs=1)
    assert [turned for _, turned in zip(relaid[::2], relaid[1::2])] == [{}] * (len(relaid) // 2)  # in order
    mirrored = page._places
    monkeypatch.setattr(page, "_places", lambda layout: {k: (x, -y) for k, (x, y) in mirrored(layout).items()})
    relaid.clear()
    build_explorer(trace, limit=LIMIT, jobs=1)  # read upside down: every run of two or more is backwards
    turned = {i: src for _, again in zip(relaid[::2], relaid[1::2]) for i, src in again.items()}
    first = {i: src for sources in relaid[::2] for i, src in sources.items()}
    assert turned and all(src != first[i] for i, src in turned.items())


# --- the command ------------------------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(explore, [str(a) for a in args])


def one_line_error(result):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert "Traceback" not in result.output


def test_not_a_trace_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))
    out = tmp_path / "x.html"
    one_line_error(run("--trace", bad, "-o", out))
    assert not out.exists()


def test_compare_of_another_model_shape_is_one_line(trace_file, tmp_path):
    other = trace_step(Trainer(DOCS, TrainConfig(steps=2, seed=1), n_embd=4, n_head=2, n_layer=1, block_size=8), 1)
    other_file = tmp_path / "other.json"
    save_trace(other.graph("fused"), other_file)
    out = tmp_path / "x.html"
    result = run("--trace", trace_file, "--compare", other_file, "-o", out)
    one_line_error(result)
    assert "different models" in result.output and not out.exists()


@pytest.mark.parametrize("where", ["file-as-folder", "input"])
def test_an_output_that_cannot_be_written_is_one_line(trace_file, tmp_path, where):
    if where == "file-as-folder":
        (tmp_path / "f").write_text("")
        out = tmp_path / "f" / "x.html"
    else:
        out = trace_file
    before = trace_file.read_bytes()
    one_line_error(run("--trace", trace_file, "-o", out))
    assert trace_file.read_bytes() == before


def test_the_report_links_to_the_explorer(trace):
    from microtrace.viz.report.page import build_report

    page = build_report(trace, explorer='explore "1".html')
    assert '<a href="explore &quot;1&quot;.html">Walk this step in the explorer</a>' in page


@pytest.mark.slow  # a page of its own (~2 CPU-s); test_film_page opens an explorer inside the film's iframe
def test_works_inside_an_iframe(browser, files):
    (files / "blog.html").write_text(
        '<!DOCTYPE html><p>A step:</p><iframe src="step.html#t=5" width="900" height="600"></iframe>'
    )
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        page.goto((files / "blog.html").as_uri())
        frame = page.frame_locator("iframe")
        frame.locator("body[data-ready]").wait_for()
        assert frame.locator("#stage g.node").count() > 10
        assert "forward" in frame.locator("#p-where").inner_text()
        assert errors == []
    finally:
        page.close()


def test_a_group_shows_where_its_gradient_comes_from(opened, trace, G):
    opened.go("")
    opened.click("pos2/lm_head")
    opened.until("!!document.querySelector('#inspector a[data-gpath]')")
    top = max((n for n in G if G.nodes[n]["scope"].startswith("pos2/lm_head/")), key=lambda n: abs(G.nodes[n]["grad"]))
    assert opened.page.locator("#inspector a[data-node]").nth(2).inner_text() == f"#{top}"
    opened.page.locator("#inspector a[data-gpath$=',0']").click()
    best = trace.top_paths(top, 1, "fused")[0]["nodes"]
    scopes = {G.nodes[n]["scope"] for n in best}
    lit = set(opened.js("[...document.querySelectorAll('#stage g.node.hl > title')].map(t => t.textContent)"))
    assert "pos2/lm_head" in lit and ("loss" in lit) == any(s.startswith("loss") for s in scopes)


@pytest.mark.slow
def test_the_same_step_gives_the_same_bytes(files):
    again = build_explorer(small_trace(), limit=LIMIT)
    assert again == (files / "step.html").read_text(encoding="utf-8")
