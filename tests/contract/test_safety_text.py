"""Any character in a document or a title is safe everywhere: DOT (through the real `dot`), SVG, GraphML
and GEXF (through an XML parser), the HTML report (in Chromium, scripts off) and the terminal."""

import html
import re
import shutil
import subprocess
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safety import SMALL_RUN

from conftest import invoke
from microtrace.engine.data import parse_docs
from microtrace.util.text import visible
from microtrace.viz.explore.chromium import ARGS
from microtrace.viz.graph.style import dot_text, tooltip

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser") if shutil.which(b)), None)
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")

HOSTILE = list("\\\"'{}[]<>|&;\x00\x01\x08\x0b\x0c\x1b\x7f\x85\u0301\u200b\u202e\u2028\ufeff\ufffe\uffff😀👩‍👩‍👧") + [
    "\\l",
    "\\N",
    "]]>",
    "&amp;",
    "<b>",
]
CHARS = st.one_of(st.sampled_from(HOSTILE), st.characters(blacklist_categories=("Cs",)))
DOCS = st.lists(st.lists(CHARS, min_size=1, max_size=6).map("".join), min_size=2, max_size=4)
TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_visible_leaves_text_alone_and_shows_every_control_character():
    assert visible("emma → 😀 é") == "emma → 😀 é"
    shown = visible("".join(map(chr, range(0x20))) + "\x7f\x85\ufffe\ud800")
    assert not TERMINAL_UNSAFE.search(shown) and len(shown) == 0x20 + 4
    assert all(unicodedata.category(c) not in ("Cc", "Cs") for c in shown)


@needs_dot
@pytest.mark.parametrize("text", ["a\\", '"', '\\"', "x\\ny", "<b>bold</b>", "\\N\\G\\L", "{a|b}", "\x00\x1b", "node"])
def test_dot_text_is_shown_exactly_by_dot(text):
    import graphviz

    g = graphviz.Digraph()
    g.node("a", label=dot_text(text), tooltip=tooltip([("doc", text), ("k", text)]))
    svg = subprocess.run(["dot", "-Tsvg"], input=g.source, capture_output=True, text=True, check=True).stdout
    root = ET.fromstring(svg.encode())
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == [visible(text)]


def _step_doc(trace):
    import json

    return json.loads(trace.read_text())["graph"]["doc"]


def _check_xml(path):
    ET.parse(path)  # raises on anything XML 1.0 forbids


def _report_in_chromium(page, doc):
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            BROWSER,
            "--headless",
            *ARGS,
            f"--user-data-dir={profile}",
            "--dump-dom",
            Path(page).resolve().as_uri(),
        ]
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "<script" not in dom.lower()  # the page has nothing to run
    assert visible(doc) in html.unescape(re.sub(r"<[^>]*>", "", dom))


@pytest.mark.slow
@needs_dot
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(docs=DOCS, title=st.lists(CHARS, min_size=1, max_size=8).map("".join))
def test_any_characters_in_documents_and_titles_come_out_right_everywhere(docs, title):
    docs = parse_docs("\n".join(docs))
    if not docs:
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "docs.txt"
        data.write_text("\n".join(docs) + "\n", encoding="utf-8")
        train = invoke("train", "--data", data, "--out", tmp / "run", *SMALL_RUN[:-2], "--samples", "3")
        assert train.exit_code == 0, train.output
        assert not TERMINAL_UNSAFE.search(train.stdout.replace("\n", ""))  # sampled names shown escaped
        trace = tmp / "t.json"
        assert invoke("trace", "--run", tmp / "run", "--step", "1", "-o", trace).exit_code == 0
        inspect = invoke("inspect", "--trace", trace)
        assert inspect.exit_code == 0 and not TERMINAL_UNSAFE.search(inspect.stdout.replace("\n", ""))
        for args in (
            ["-o", tmp / "g.dot", "--title", title],
            ["-o", tmp / "g.svg", "--title", title],
            ["--level", "scalar", "--focus", "pos0/layer0/attn/head0", "--backward", "-o", tmp / "s.svg"],
        ):
            result = invoke("graph", "--trace", trace, *args)
            assert result.exit_code == 0, result.output
        subprocess.run(["dot", "-Tsvg", "-o", tmp / "from-dot.svg", tmp / "g.dot"], check=True, capture_output=True)
        for name in ("g.svg", "s.svg", "from-dot.svg"):
            _check_xml(tmp / name)
        assert visible(title) in "".join(ET.parse(tmp / "g.svg").getroot().itertext())
        for fmt in ("graphml", "gexf"):
            assert invoke("export", "--trace", trace, "-o", tmp / f"e.{fmt}").exit_code == 0
            _check_xml(tmp / f"e.{fmt}")
        assert invoke("gradflow", "--trace", trace, "-o", tmp / "f.svg").exit_code == 0
        _check_xml(tmp / "f.svg")
        assert invoke("attention", "--trace", trace, "-o", tmp / "a.png").exit_code == 0
        assert invoke("report", "--trace", trace, "-o", tmp / "r.html").exit_code == 0
        if BROWSER:
            _report_in_chromium(tmp / "r.html", _step_doc(trace))
