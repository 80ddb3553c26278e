"""`microtrace explore` on traces of a user's script (elementary only, the script's own names), in the
system's Chromium. The slow tier: a script's page is one of its own (~3 CPU-s to trace the script and write
it); a script's trace read by every command is checked fast in tests/tracer/capture/test_forks.py, the
page by the explorer's own tests."""

import re
import shutil

import pytest
from explore_browser import NEEDS, Opened

from conftest import ROOT
from microtrace.tracer import trace_script
from microtrace.tracer.model.scopes import prefix
from microtrace.viz.explore.page import build_explorer, explorer_graph
from microtrace.viz.explore.views import build_views

SCRIPTS = ROOT / "tests" / "scripts"
LIMIT = 40
pytestmark = [*NEEDS, pytest.mark.slow]


def test_a_scripts_groups_that_are_not_scope_paths_open_into_their_own_nodes():
    t = trace_script(SCRIPTS / "microgpt_style" / "train.py", step=0, args=["1"])
    G = explorer_graph(t)
    views, index = build_views(t, G, 150)
    blocks = list(t.collapse("block", G.graph["view"]))
    by_name = [
        b
        for b in blocks
        if not b.startswith("param") and not any(s == b or s.startswith(b + "/") for _, s in G.nodes(data="scope"))
    ]
    assert by_name, "the script has groups that are no scope path (pos3/gpt/layer0/softmax gathers the heads)"
    for b in blocks:
        assert b in index, f"block group {b} does not open"
    for b in by_name:
        v = views[index[b]]
        inside = sorted(n for n, s in G.nodes(data="scope") if prefix(s, "block") == b)
        assert v.key == b and v.nodes == inside
        drawn = {int(m) for m in re.findall(r"\bn(\d+) ", v.digraph(G).source)} if v.kind == "scalar" else set()
        assert v.kind == "collapsed" or drawn >= set(inside) - {n for n in inside if G.nodes[n]["op"] == "const"}


# A script in micrograd's style shaped like attention: positions, a layer, two heads, each calling the
# script's own softmax. Its block groups gather a softmax over the heads (pos1/gpt/layer0/softmax), a
# name that is no scope path: nodes must be found in groups by the page's membership, not by prefix.
HEADS = """
import random

from engine import Value

random.seed(3)
w = [[[Value(random.uniform(-1, 1)) for _ in range(2)] for _ in range(2)]]


def softmax(xs):
    es = [x.tanh() + 1.5 for x in xs]
    total = sum(es)
    return [e / total for e in es]


def gpt(x, pos_id):
    for li in range(len(w)):
        out = []
        for h in range(2):
            out += softmax([x[0] * w[li][h][0], x[1] * w[li][h][1]])
        x = [out[0] + out[2], out[1] + out[3]]
    return x[0] * x[1]


for step in range(2):
    loss = sum(gpt([Value(0.5 + pos_id), Value(-1.0)], pos_id) for pos_id in range(3))
    params = [p for layer in w for head in layer for p in head]
    for p in params:
        p.grad = 0
    loss.backward()
    for p in params:
        p.data -= 0.1 * p.grad
"""


@pytest.fixture(scope="module")
def script_page(browser, tmp_path_factory):
    d = tmp_path_factory.mktemp("script")
    shutil.copy(SCRIPTS / "micrograd_style" / "engine.py", d)
    (d / "train.py").write_text(HEADS, encoding="utf-8")
    t = trace_script(d / "train.py", step=1)
    G = explorer_graph(t)
    (d / "script.html").write_text(build_explorer(t, limit=LIMIT), encoding="utf-8")
    o = Opened(browser, d / "script.html")
    yield o, G, t
    o.close()


def test_a_path_lights_a_scripts_groups_which_open_into_their_own_nodes(script_page):
    o, G, t = script_page
    block = {n: prefix(s, "block") for n, s in G.nodes(data="scope")}
    group = "pos1/gpt/layer0/softmax"
    assert not any(s == group or s.startswith(group + "/") for _, s in G.nodes(data="scope"))  # no path
    o.go("")
    o.click(group)
    o.until("!!document.querySelector('#inspector a[data-gpath]')")
    o.page.locator("#inspector a[data-gpath$=',0']").click()
    top = max((n for n in sorted(G) if block[n] == group), key=lambda n: abs(G.nodes[n]["grad"]))
    path = t.top_paths(top, 1, G.graph["view"])[0]["nodes"]
    lit = set(o.js("[...document.querySelectorAll('#stage g.node.hl > title')].map(t => t.textContent)"))
    assert lit == {block[n] for n in path}  # by prefix, its nodes would light pos1/gpt/layer0
    o.open_item(group)
    assert o.view_key() == group
    drawn = {
        int(t[1:])
        for t in o.js("[...document.querySelectorAll('#stage g.node > title')].map(t => t.textContent)")
        if re.fullmatch(r"n\d+", t)
    }
    inside = {n for n in G if block[n] == group}
    assert drawn <= inside and drawn >= {n for n in inside if G.nodes[n]["op"] != "const"}
    lit = set(o.js("[...document.querySelectorAll('#stage g.node.hl > title')].map(t => t.textContent)"))
    assert {f"n{n}" for n in path if n in drawn} <= lit
    assert o.errors == []


def test_a_scripts_page_names_its_own_nodes_and_no_empty_document(script_page):
    """The script has no `doc`: the heading names the view (its fused view, folded from the script's own
    nodes as a run's is), and the block view's title leaves the document out."""
    o, G, t = script_page
    assert G.graph["doc"] == "" and G.graph["view"] == "fused"
    o.go("")
    heading = o.js("document.querySelector('#title').textContent")
    assert heading.endswith(f"{G.number_of_nodes()} nodes (fused view)"), heading
    texts = o.js("[...document.querySelectorAll('#stage svg text')].map(t => t.textContent)")
    title = next(t for t in texts if t.startswith("step 1"))
    assert "“" not in title and "block view" in title, title


def test_search_a_source_line_of_a_script_opens_down_to_its_first_node(script_page):
    o, G, t = script_page
    line = next(s for n, s in G.nodes(data="source") if s and G.nodes[n]["op"] not in ("param", "const", "leaf"))
    first = min(n for n, s in G.nodes(data="source") if s == line)
    o.search(line)
    o.until(f"window.explorer.state.sel === {first}")
    assert o.inspector("source") == line
    assert o.js("document.querySelector('#stage g.sel > title').textContent") == f"n{first}"
    assert float(o.inspector("grad")) == G.nodes[first]["grad"]
    assert o.errors == [] and all(r.startswith("file://") for r in o.requests)
