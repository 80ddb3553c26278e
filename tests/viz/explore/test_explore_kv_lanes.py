"""The explorer's block view draws the KV cache's edges so that each read can be followed (viz/graph/lanes.py
for the view as written, js/lanes.js when the page lays it out again): checked on the geometry the page
draws in the system's Chromium, opened and closed with the mouse a person would use (`page.mouse`).

At first sight, with a box opened in place and closed again, no KV edge runs through a box that is not
one of its ends, over an arrowhead or over a text, and two of them share a stretch only as one source's
bundle, which says its count. With a position's attention open, the reads that do not pass it keep their
lanes (those into its heads are routed around the boxes by Graphviz, as any other edge that places none).
"""

import json
import time

import pytest
from explore_browser import NEEDS, Opened
from kv_geometry import check_followable, is_kv

pytestmark = NEEDS

# the KV edges' points, every arrowhead, box and text of the drawing, in the SVG's units, as one JSON string
_GEOMETRY = """() => {
  const box = (el) => { const b = el.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
  const title = (g) => g.querySelector(':scope > title')?.textContent;
  const out = {edges: {}, heads: [], nodes: {}, texts: []};
  for (const g of document.querySelectorAll('#stage g.node')) {
    const s = g.querySelector(':scope > rect, :scope > ellipse, :scope > polygon, :scope > path');
    if (s && title(g) !== 'legend') out.nodes[title(g)] = box(s);
  }
  for (const g of document.querySelectorAll('#stage g.edge')) {
    for (const p of g.querySelectorAll(':scope > polygon')) {
      const n = p.getAttribute('points').trim().split(/[\\s,]+/).map(Number), tri = [];
      for (let i = 0; i + 1 < n.length; i += 2) tri.push([n[i], n[i + 1]]);
      out.heads.push([title(g), tri]);
    }
    const pts = [];
    for (const p of g.querySelectorAll(':scope > path')) {
      const L = p.getTotalLength();
      for (let s = 0; s <= L; s += 1) { const q = p.getPointAtLength(s); pts.push([q.x, q.y]); }
    }
    if (pts.length) out.edges[title(g)] = pts;
  }
  for (const t of document.querySelectorAll('#stage text')) out.texts.push([t.textContent, box(t)]);
  return JSON.stringify(out);
}"""


# the session's explorer page (2 heads, 5 positions) in make test; the 4-head model's page (7 positions),
# a build of its own, in make test-all
# the slow tier, on both pages: the figure the page starts from is checked fast (tests/viz/graph/test_kv_lanes.py:
# every read in a lane, off arrowheads and texts), and so is every re-layout (test_explore_relayout: no KV
# edge through a box, none running on another); this reads the page's own drawing of both (~2 CPU-s a page)
@pytest.fixture(
    scope="module", params=[pytest.param(p, marks=pytest.mark.slow) for p in ("explorer_page", "heads_page")]
)
def page_file(request):
    return request.getfixturevalue(request.param)


def geometry(o, keep=lambda title: True):
    geo = json.loads(o.js(_GEOMETRY))
    edges = {t: pts for t, pts in geo["edges"].items() if is_kv(t) and keep(t)}
    return edges, [tuple(h) for h in geo["heads"]], geo["nodes"], [tuple(t) for t in geo["texts"]]


def double_click(o, title):
    """Double-click `title` (a box, or the label of a group open in place) and wait for the new drawing."""
    o.page.keyboard.press("0")  # the whole drawing in sight
    before = o.js("document.getElementById('stage').innerHTML")
    o.dblclick(title)
    end = time.monotonic() + 10
    while o.js("b => document.getElementById('stage').innerHTML === b", before):
        assert time.monotonic() < end, f"double-clicking {title} changed nothing"
        time.sleep(0.02)
    o.until("!document.getAnimations().length")


def _position(name):
    return int(name.split("/")[0][3:])


def test_each_read_of_the_kv_cache_can_be_followed_before_and_after_a_relayout(browser, page_file):
    o = Opened(browser, page_file)
    try:
        first = geometry(o)
        n = sum(1 for name in first[2] if name.endswith("/embed"))  # positions
        assert n >= 5 and len(first[0]) == n * (n - 1) // 2  # every earlier position read by every later one
        check_followable(*first)
        mid = n // 2
        double_click(o, f"pos{mid}/layer0/mlp")  # laid out again by Graphviz in the page
        assert o.js("document.querySelectorAll('#stage g.opened').length") == 1
        check_followable(*geometry(o))
        double_click(o, f"pos{mid}/layer0/mlp")  # closed again
        check_followable(*geometry(o))
        double_click(o, f"pos{mid}/layer0/attn")

        def beside(title):  # a read that does not pass the open attention
            tail, head = (_position(name) for name in title.split("->"))
            return head < mid or tail > mid

        opened = geometry(o, beside)
        before, after = mid, n - mid - 1
        assert len(opened[0]) == before * (before - 1) // 2 + after * (after - 1) // 2
        check_followable(*opened)
        assert o.errors == []
    finally:
        o.close()
