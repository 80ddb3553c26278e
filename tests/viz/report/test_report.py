"""`microtrace report`: one self-contained HTML page of a step, read back with the stdlib's HTML parser
and, when the system's Chromium is installed, rendered by it (screenshot, images decoded, console): the
session's browser (tests/conftest.py), a window of its own.

Small model (n_embd 8, 2 heads) and one traced step shared by the module.
"""

import base64
import contextlib
import html.parser
import io
import math
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import MINI
from microtrace.cli.report import report
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import save_trace, trace_step, trace_text
from microtrace.viz.explore.chromium import CHROMIUM
from microtrace.viz.report.page import FIGURE_SCALE, SECTIONS, build_report, position_losses

DOCS = ["olivia", "emma", "ava"]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
needs_browser = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium (.ci/run installs it)")


def new_trace():
    return trace_step(Trainer(DOCS, TrainConfig(steps=4, seed=1), **MINI), 1)


@pytest.fixture(scope="module")
def trace():
    return new_trace()


@pytest.fixture(scope="module")
def page(trace):
    return build_report(trace)


class Page(html.parser.HTMLParser):
    """Every element with its attributes and ancestors, the text of <title>s and headings."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "source", "wbr"}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.elements, self.texts = [], [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), tuple(self.stack)))
        if tag not in self.VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), tuple(self.stack)))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        if self.stack:
            self.texts.append((self.stack[-1][0], tuple(self.stack[:-1]), data))

    def all(self, tag):
        return [(attrs, up) for t, attrs, up in self.elements if t == tag]

    def text_of(self, tag):
        return [d for t, _, d in self.texts if t == tag]


def decode_png(src):
    assert src.startswith("data:image/png;base64,")
    data = base64.b64decode(src.split(",", 1)[1], validate=True)
    image = Image.open(io.BytesIO(data))
    image.verify()  # a complete, valid PNG
    return Image.open(io.BytesIO(data))


# --- structure --------------------------------------------------------------------------------------


@needs_dot
def test_one_inline_svg_with_a_tooltip_for_every_graph_node(trace, page):
    p = Page(page)
    assert len(p.all("svg")) == 1
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page
    # Graphviz: <g class="node"><title>scope</title><a xlink:title="tooltip"><title>tooltip</title>...
    names = {d for t, up, d in p.texts if t == "title" and up and up[-1][1].get("class") == "node"}
    C = trace.collapse("block")
    assert names == set(C.nodes) | {"legend"}
    tips = [d for t, up, d in p.texts if t == "title" and up and up[-1][0] == "a"]
    for n in C.nodes:
        assert any(f"scope: {n}\n" in tip or tip.startswith(f"scope: {n}") for tip in tips), n
    svg, _ = p.all("svg")[0]
    assert "width" not in svg and "height" not in svg and "max-width" in svg["style"]  # scales with the page


def test_images_are_valid_pngs_shown_at_half_their_pixels(page):
    p = Page(page)
    images = p.all("img")
    assert len(images) == 3  # attention, its gradient, gradient flow
    for attrs, _ in images:
        image = decode_png(attrs["src"])
        shown = (int(attrs["width"]), int(attrs["height"]))
        assert all(abs(s * FIGURE_SCALE - n) <= 1 for s, n in zip(shown, image.size))  # rounded to whole pixels
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 20  # a figure, not a blank
        assert attrs["alt"]


def test_self_contained_no_network_no_script(page):
    p = Page(page)
    assert not p.all("script") and not p.all("link") and not p.all("iframe")
    schemes = ("http:", "https:", "file:", "ftp:", "//")
    for tag, attrs, _ in p.elements:
        for name, value in attrs.items():
            if name in ("src", "href", "xlink:href", "srcset", "poster", "action", "data"):
                assert value.startswith(("data:", "#")), (tag, name, value[:60])
            elif not name.startswith("xmlns"):  # namespace names are identifiers, never fetched
                assert not (value or "").strip().lower().startswith(schemes), (tag, name, value[:60])
    assert "url(" not in page and "@import" not in page


def test_every_section_has_its_heading_and_explanation(page):
    p = Page(page)
    headings = p.text_of("h2")
    ids = {attrs.get("id") for attrs, _ in p.all("section")}
    for sid, heading, why in SECTIONS:
        assert heading in headings and sid in ids
        assert why in p.text_of("p")
    assert len(p.text_of("h1")) == 1
    links = {attrs["href"] for attrs, up in p.all("a") if any(t == "nav" for t, _ in up)}
    assert links == {f"#{sid}" for sid, _, _ in SECTIONS}


def test_the_loss_on_the_page_is_the_traces(trace, page):
    p = Page(page)
    ((attrs, _),) = [(a, up) for a, up in p.all("data") if a.get("id") == "loss"]
    assert float(attrs["value"]) == trace.loss
    G = trace.graph("fused")
    rows = position_losses(G)
    assert len(rows) == len(G.graph["tokens"]) - 1
    assert math.isclose(math.fsum(r[0] for r in rows) / len(rows), trace.loss, rel_tol=1e-12)
    assert all(1 <= r[1] <= r[2] == G.graph["config"]["vocab_size"] for r in rows)
    assert page.count("<tr>") >= len(rows) + len(G.graph["param_stats"])


def test_same_input_gives_identical_bytes(page):
    assert build_report(new_trace()) == page  # a fresh trace of the same step


def test_without_dot_the_graph_is_a_note(trace, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    text = build_report(trace)
    p = Page(text)
    assert not p.all("svg") and "Graphviz" in text and len(p.all("img")) == 3
    assert all(heading in p.text_of("h2") for _, heading, _ in SECTIONS)


def test_text_is_escaped_and_a_trace_without_update_has_no_update_column():
    trainer = Trainer(["a<b&c", "d\"e'f"], TrainConfig(steps=2, seed=0), **MINI)
    text = build_report(trace_text(trainer, 0, "a<b&c"))
    assert "“a&lt;b&amp;c”" in text and "a<b&c" not in text
    assert "update ratio</th>" not in text and "no update" in text


# --- command ----------------------------------------------------------------------------------------


def test_command_writes_the_page_from_a_trace_file(trace, tmp_path):
    save_trace(trace.graph(), tmp_path / "step.json")  # the elementary view, and the fused one folded from it
    out = tmp_path / "deep" / "report.html"
    result = CliRunner().invoke(report, ["--trace", str(tmp_path / "step.json"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "(fused view)" in text
    assert float(Page(text).all("data")[0][0]["value"]) == trace.loss


@pytest.mark.parametrize(
    "args, message",
    [
        (["--trace", "no-such.json", "-o", "r.html"], "no-such.json"),
        (["--run", "no-such-run", "--step", "1", "-o", "r.html"], "no-such-run"),
        (["--run", "x", "-o", "r.html"], "--run needs --step"),
        (["--trace", "t.json", "--run", "x", "--step", "1", "-o", "r.html"], "not both"),
        (["--trace", "t.json"], "Missing option '-o'"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(report, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith("tracing ")]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert not (tmp_path / "r.html").exists()


# --- a real browser ---------------------------------------------------------------------------------

# What the page looks like to the browser once loaded (every image decoded), read from its DOM
PROBE = """() => {
  const imgs = [...document.images].map(im => {
    const r = im.getBoundingClientRect();
    return {complete: im.complete, natural: im.naturalWidth, shown: r.width, parent: im.parentElement.clientWidth};
  });
  const svg = document.querySelector("svg"), box = svg ? svg.getBoundingClientRect() : null;
  return {imgs, svg: box ? [box.width, box.height] : null, titles: document.querySelectorAll("svg title").length,
          scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
          sections: document.querySelectorAll("section").length};
}"""


@contextlib.contextmanager
def shown(browser, path):
    """The page at `path` in the session's Chromium (a window of 1280x2000), loaded: (page, what it wrote
    to the console, errors too)."""
    from explore_browser import tab, untab, window  # (here: the rest of this file runs without Playwright)

    context = window(browser, size=(1280, 2000))
    console: list = []
    page = tab(context, {"console": lambda m: console.append(m.text), "pageerror": lambda e: console.append(str(e))})
    try:
        page.goto(path.as_uri())  # returns after the load event: every image decoded
        yield page, console
    finally:
        untab(page, context, keep=True)


@pytest.mark.slow  # checks the harness, not the product (~1 CPU-s): run with every change to how pages are opened
@needs_browser
def test_the_harness_sees_a_broken_image_and_a_console_error(browser, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><section></section><img src="missing.png">'
                   '<script>console.error("boom")</script></body></html>')  # fmt: skip
    with shown(browser, bad) as (page, console):
        seen = page.evaluate(PROBE)
    assert seen["imgs"][0]["natural"] == 0
    assert any("boom" in line for line in console)


@needs_browser
def test_a_real_browser_renders_the_page(browser, page, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    with shown(browser, path) as (tab, console):
        image = Image.open(io.BytesIO(tab.screenshot())).convert("RGB")
        seen = tab.evaluate(PROBE)
    assert console == []
    assert image.size == (1280, 2000)
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) > 200  # text, chips, table rules, the graph
    white = max(count for count, rgb in colours if rgb == (255, 255, 255))
    assert white < 0.95 * 1280 * 2000

    assert len(seen["imgs"]) == 3 and seen["sections"] == len(SECTIONS)
    for im in seen["imgs"]:
        assert im["complete"] and im["natural"] > 0
        assert 0 < im["shown"] <= im["parent"]  # scaled to fit, never wider than the column
    if shutil.which("dot"):
        width, height = seen["svg"]
        assert width > 300 and height > 300 and seen["titles"] > 10
    assert seen["scroll"] <= seen["inner"]  # nothing sticks out sideways
