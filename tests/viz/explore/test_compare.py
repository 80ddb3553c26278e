"""`explore --compare`: two steps paired by what their nodes are, never by id (issue 20).

One MINI run of three documents traced at four steps: steps 0 and 2 read "emma" and "olivia" (different
documents and sizes), steps 1 and 4 both read "lola". The pairing is checked in Python; one page of two
different documents is opened in Chromium.
"""

import json
import re
from decimal import Decimal

import pytest
from explore_browser import NEEDS, Opened

from conftest import MINI
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import load_trace, save_trace, trace_step
from microtrace.viz.explore import compare
from microtrace.viz.explore import page as explore_page
from microtrace.viz.explore.page import explorer_graph

DOCS = ["olivia", "emma", "lola"]  # the run reads emma, lola, olivia, emma, lola, ...
STATE = "window.explorer.state"


@pytest.fixture(scope="module")
def traces():
    trainer = Trainer(DOCS, TrainConfig(steps=8, seed=1), **MINI)
    return {k: trace_step(trainer, k) for k in (0, 1, 2, 4)}


@pytest.fixture(scope="module")
def graphs(traces):
    return {k: explorer_graph(t) for k, t in traces.items()}


def what(d):
    return ("param", d["param"], *d["index"]) if "param" in d else (d["scope"], d["op"])


def test_steps_of_different_documents_pair_their_parameters_by_entry(graphs):
    G1, G2 = graphs[0], graphs[2]
    assert (G1.graph["doc"], G2.graph["doc"]) == ("emma", "olivia")
    assert G1.number_of_nodes() != G2.number_of_nodes()
    assert compare.comparable(G1, G2) == "the two steps read different documents (“emma” here, “olivia” there)"
    p = compare.Pairing(G1, G2, params_only=True)
    # by id, the same number is another entry in each (the old pairing compared them without a word)
    assert any(what(G1.nodes[n]) != what(G2.nodes[n]) for n in G1 if "param" in G1.nodes[n])
    both = {what(d) for _, d in G1.nodes(data=True) if "param" in d} & {
        what(d) for _, d in G2.nodes(data=True) if "param" in d
    }
    assert len(p.pairs) == len(both) > 0
    for a, b in p.pairs.items():
        assert what(G1.nodes[a]) == what(G2.nodes[b])
    first = p.first_difference()
    assert re.fullmatch(r"[\w.]+\[\d+,\d+\]", first["name"]), first
    assert first["name"] == compare.name(p.what1[first["node"]]) and "param" in G1.nodes[first["node"]]


def test_steps_of_the_same_document_pair_every_node(graphs):
    G1, G2 = graphs[1], graphs[4]
    assert G1.graph["doc"] == G2.graph["doc"] == "lola" and compare.comparable(G1, G2) == ""
    p = compare.Pairing(G1, G2)
    assert len(p.pairs) == G1.number_of_nodes() == G2.number_of_nodes()
    for a, b in p.pairs.items():
        assert what(G1.nodes[a]) == what(G2.nodes[b])
    # the step after the update starts from other parameters: the first difference is an entry's value
    first = p.first_difference()
    assert first["what"] == "value" and first["name"].endswith("]")
    ratios = p.ratios(list(G1))
    assert len(ratios) == G1.number_of_nodes()


def test_the_first_difference_names_a_computed_node_by_scope_op_and_order(graphs):
    G1 = graphs[1]
    G2 = G1.copy()
    exps = [n for n in sorted(G1) if G1.nodes[n]["op"] == "exp" and G1.nodes[n]["scope"].startswith("pos2/")]
    n = exps[1]
    G2.nodes[n]["data"] = G1.nodes[n]["data"] + 1  # one computed value changed
    first = compare.Pairing(G1, G2).first_difference()
    scope = G1.nodes[n]["scope"]
    k = [m for m in sorted(G1) if G1.nodes[m]["scope"] == scope and G1.nodes[m]["op"] == "exp"].index(n)
    assert first == {
        "node": n,
        "name": f"{scope} exp #{k}",
        "what": "value",
        "this": G1.nodes[n]["data"],
        "other": G2.nodes[n]["data"],
    }
    assert compare.Pairing(G1, G1.copy()).first_difference() is None


def test_traces_of_different_views_pair_their_parameters_only(traces, graphs):
    G1 = graphs[1]
    G2 = traces[4].graph("elementary")
    assert "different views" in compare.comparable(G1, G2)
    p = compare.Pairing(G1, G2, params_only=True)
    assert p.pairs and all("param" in G1.nodes[n] for n in p.pairs)


@pytest.fixture(scope="module")
def page(compare_page):
    """traces[2] against traces[0]: the session's compare page (conftest), made once for the run."""
    return compare_page


@pytest.mark.slow  # the compare page is one of its own (~6 CPU-s); the pairing and first difference are checked above
@NEEDS[0]
@NEEDS[1]
def test_the_page_says_the_documents_differ_which_scale_is_in_use_and_the_first_difference(browser, page, graphs):
    o = Opened(browser, page)
    try:
        assert o.errors == []
        box = o.page.locator("#compare").inner_text()
        assert "different documents" in box and "“olivia” here, “emma” there" in box
        warn = o.page.locator("#compare .warn").inner_text()
        assert "different documents" in warn and "emma" in warn and "olivia" in warn
        sizes = [f"{graphs[k].number_of_nodes():,}" for k in (2, 0)]
        assert f"{sizes[0]} nodes here, {sizes[1]} there (fused view)" in box and sizes[0] != sizes[1]
        # the colouring by the gradient's ratio, chosen with the keyboard: its scale is the one in bold, the
        # |grad| legend fades, and every box's text stays readable on its new fill
        assert o.js("getComputedStyle(document.getElementById('scale')).fontWeight") == "400"
        o.page.locator("#colour").click()
        o.page.keyboard.press("ArrowDown")
        o.page.keyboard.press("Enter")
        o.until(f"{STATE}.colour === 'gratio'")
        assert o.js("getComputedStyle(document.getElementById('scale')).fontWeight") == "700"  # the scale in use
        assert float(o.js(f"{STATE}.items.get('legend').style.opacity")) < 1
        pairs = o.js(
            "[...document.querySelectorAll('#stage g.node')].filter(g => g.querySelector(':scope > title').textContent !== 'legend')"
            ".map(g => [g.querySelector(':scope > rect, :scope > polygon, :scope > path, :scope > ellipse')?.getAttribute('fill'),"
            " [...g.querySelectorAll(':scope > text')].map(t => t.getAttribute('fill'))]).filter(([f, ts]) => f && ts.length)"
        )
        assert pairs and all(contrast(f, t) >= 4.5 for f, ts in pairs for t in ts)  # readable on every fill
        link = o.page.locator("#first-diff a")
        name = link.inner_text()
        assert re.fullmatch(r"[\w.]+\[\d+,\d+\]", name) and "#" not in o.page.locator("#first-diff").inner_text()
        link.click()  # Playwright's mouse, on the link
        o.until("window.explorer.state.sel !== null")
        n = o.js("window.explorer.state.sel")
        G = graphs[2]
        assert compare.name(("param", G.nodes[n]["param"], *G.nodes[n]["index"])) == name
        assert o.page.locator("#matrices tr").count() == 1 + len(G.graph["param_stats"])
        assert o.errors == []
    finally:
        o.close()


def contrast(a, b):
    """WCAG's contrast ratio of two #rrggbb colours."""

    def lum(h):
        c = [int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def short(x):
    """4 significant digits as the page writes them (JavaScript's String: no exponent from 1e-6 on)."""
    return format(Decimal(repr(float(f"{x:.4g}"))), "f").replace("-", "−")


@pytest.mark.slow  # the compare page (~6 CPU-s to write)
@NEEDS[0]
@NEEDS[1]
def test_search_of_an_entry_the_step_does_not_read_shows_its_update(browser, page, graphs):
    G = graphs[2]
    read = {tuple(d["index"]) for _, d in G.nodes(data=True) if d.get("param") == "wte"}
    moved = G.graph["param_stats"]["wte"]["moved_without_grad"]
    rc, (before, after) = next((k, v) for k, v in moved.items() if tuple(map(int, k.split(","))) not in read)
    o = Opened(browser, page)
    try:
        o.search(f"wte[{rc}]")
        o.until("document.getElementById('found').textContent.includes('moves it')")
        said = o.page.locator("#found").inner_text()
        assert "no gradient this step" in said
        assert f"the update still moves it by {short(after - before)} ({short(before)} → {short(after)})" in said
    finally:
        o.close()


# where an item is drawn in each pane: the middle of its shape (a group open in place: its label)
_BOTH = """t => ['#stage', '#stage2'].map(s => {
  const g = [...document.querySelectorAll(s + ' g')].find(g => g.querySelector(':scope > title')?.textContent === t);
  if (!g) return null;
  const part = g.matches('.cluster, .opened') ? g.querySelector(':scope > text') : g.querySelector(':scope > rect, :scope > polygon, :scope > path');
  const r = part.getBoundingClientRect();
  return [r.x + r.width / 2, r.y + r.height / 2];
})"""
# where the right pane's drawing starts (inside its left border), its top and width
_SPLIT = "(() => { const p = document.getElementById('split'), r = p.getBoundingClientRect(); return [r.x + p.clientLeft, r.y, r.width]; })()"


@pytest.mark.slow  # the compare page (~6 CPU-s to write); one camera for two panes is the explorer's camera
@NEEDS[0]
@NEEDS[1]
def test_the_split_view_moves_and_opens_both_steps_as_one(browser, page):
    o = Opened(browser, page)
    try:
        o.page.locator("#split-on").click()  # the split view's box, with the mouse
        o.until("!!document.getElementById('stage2')")
        left, top, half = o.js(_SPLIT)
        group = "pos1/layer0/attn"
        a, b = o.js(_BOTH, group)
        assert a[0] < left <= b[0] and b[0] - a[0] == pytest.approx(
            left - o.js("document.getElementById('canvas').getBoundingClientRect().x"), abs=1
        )
        # a drag in the left pane pans both: the group moves by the drag in each, one pane apart still
        o.drag((left - half / 2, top + 40), (-37, 23))
        a2, b2 = o.js(_BOTH, group)
        assert a2[0] - a[0] == pytest.approx(-37, abs=1) and a2[1] - a[1] == pytest.approx(23, abs=1)
        assert (b2[0] - b[0], b2[1] - b[1]) == pytest.approx((a2[0] - a[0], a2[1] - a[1]), abs=1)
        # the wheel over the right pane zooms both about the pointer there
        o.page.mouse.move(b2[0], b2[1])
        o.page.mouse.wheel(0, -200)
        o.until(
            "document.getElementById('stage').style.transform === document.getElementById('stage2').style.transform"
        )
        a3, b3 = o.js(_BOTH, group)
        assert b3 == pytest.approx(b2, abs=2) and a3 == pytest.approx((b3[0] - (b2[0] - a2[0]), b3[1]), abs=2)
        # a double-click in the left pane opens the group in place in both; one in the right closes it in both
        o.page.mouse.dblclick(*a3)
        o.until(f"window.explorer.state.opened.map(o => o.name).join() === '{group}'")
        o.until("!!document.querySelector('#stage2 g.opened') && !document.getAnimations().length")
        assert o.js("[...document.querySelectorAll('#stage2 g.opened > title')].map(t => t.textContent)") == [group]
        o.page.mouse.dblclick(*o.js(_BOTH, group)[1])
        o.until("window.explorer.state.opened.length === 0 && !document.querySelector('#stage2 g.opened')")
        assert o.errors == []
    finally:
        o.close()


def test_a_trace_file_from_before_the_update_of_unread_entries_still_reads(graphs, tmp_path):
    """Files written before `moved_without_grad` was recorded still load; search says it does not know."""
    path = tmp_path / "old.json"
    save_trace(graphs[2], path)
    data = json.loads(path.read_text())
    for s in data["graph"]["param_stats"].values():
        del s["moved_without_grad"]
    path.write_text(json.dumps(data))
    old = load_trace(path)
    assert old.meta["update"] and explore_page._param_index(old.meta, "wte")["moved"] is None
    assert (
        explore_page._param_index(graphs[2].graph, "wte")["moved"]
        == graphs[2].graph["param_stats"]["wte"]["moved_without_grad"]
    )
