"""One set of numbers (issue 20): the report and the explorer of one step count in the same view and say
which (the explorer said 7,819 nodes and "attn 154 ops" in the fused view while the report it links from
said 59,647 nodes and 2,302 ops in the elementary one)."""

import html
import json
import re

from conftest import small_trace
from microtrace.tracer.model.trace import DEFAULT_VIEW
from microtrace.viz.report.page import build_report

_INDEX = re.compile(r'<script type="application/json" id="index">(.*?)</script>', re.S)
_GROUP = re.compile(r"scope: ([^\n]+)\nnodes: (\d+)\n")  # a block view box's tooltip


def test_the_report_and_the_explorer_of_a_step_count_alike(explorer_page):
    trace = small_trace()  # the step of explorer_page
    view = trace.default_view()
    assert view == DEFAULT_VIEW == "fused"
    N = trace.size(view)[0]
    said = f"{N:,} nodes (fused view)"
    index = json.loads(_INDEX.search(explorer_page.read_text(encoding="utf-8")).group(1))
    assert said in index["meta"]["heading"]
    report = build_report(trace)
    assert said in html.unescape(report)  # the block view's title
    groups = dict(_GROUP.findall(html.unescape(report)))
    explored = {v["key"]: v["stats"]["count"] for v in index["views"]}
    both = [k for k in groups if k in explored]
    assert "pos0/layer0/attn" in both and len(both) >= 10
    assert all(int(groups[k]) == explored[k] for k in both), {k: (groups[k], explored[k]) for k in both}
    assert sum(int(groups[k]) for k in groups) == N
