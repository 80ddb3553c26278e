"""Every figure laid out for a printed width (`--width column` and `--width page`), of a traced step of
the MINI model and of the demo's step (the default model, step 150, as `make demo` traces it), and those
that draw a script's trace of a script's, read back as a reader's tools see it: the SVG's declared width
(or a note on stderr saying the width it needs), its smallest text at that width (>= 7 pt), no word over
another in the rendered PDF (poppler's pdftotext -bbox), and a figure no longer than 3:1 unless stderr
says so."""

import itertools
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

import pytest
from kv_geometry import attention_order
from PIL import Image

from conftest import invoke
from microtrace.viz.draw.printsize import PRESETS

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "tests" / "scripts" / "micrograd_style" / "train.py"
needs_tools = pytest.mark.skipif(
    shutil.which("dot") is None or shutil.which("pdftotext") is None, reason="needs Graphviz's dot and poppler"
)

FIGURES = {  # name -> (command and options, for a traced step of microGPT; and for a script's trace)
    "graph": (["graph"], True),
    "stage": (["graph", "--level", "stage"], True),
    "head": (["graph", "--level", "scalar", "--focus", "pos1/layer0/attn/head0"], False),
    "attention": (["attention"], False),
    "strips": (["attention", "--per-token"], False),
    "gradflow": (["gradflow"], True),
    "positions": (["gradflow", "--per-position"], False),
}
# laid out for the width, never wider than asked: gradflow (one row per matrix when its columns do not fit),
# the block view at a page's width (its ranks closer, its boxes' margins and the KV lanes narrower, the legend
# under the title), gradflow --per-position at a page's width (the KV cache's matrices under the heatmap)
FITTING = {("gradflow", "column"), ("gradflow", "page"), ("graph", "page"), ("positions", "page")}
UNITS = {"in": 72.0, "pt": 1.0, "px": 0.75, "": 0.75}


DEMO_STEP = 150  # the step `make demo` traces, of a run of the default model trained for 200 steps


class _Traces(dict):
    """The trace files by source ("step", "demo", "script"), each traced when first asked for: the demo's
    and the script's only by the slow tests."""

    def __init__(self, run_dir, folder):
        super().__init__()
        self.run_dir, self.folder = run_dir, folder

    def _args(self, source):
        if source == "step":
            return ["--run", self.run_dir, "--step", 2, "--view", "fused"]
        if source == "script":
            return ["--script", SCRIPT]
        run = self.folder / "demo"  # `make demo`'s run: its train command, without the samples
        result = invoke("train", "--steps", 200, "--samples", 0, "--out", run)
        assert result.exit_code == 0, result.output
        return ["--run", run, "--step", DEMO_STEP, "--view", "fused"]

    def __missing__(self, source):
        out = self.folder / f"{source}.json"
        result = invoke("trace", *self._args(source), "-o", out)
        assert result.exit_code == 0, result.output
        self[source] = out
        return out


@pytest.fixture(scope="module")
def traces(run_dir, tmp_path_factory):
    return _Traces(run_dir, tmp_path_factory.mktemp("traces"))


def _length_pt(text):
    number, unit = re.fullmatch(r"([\d.]+)\s*(in|pt|px|)", text).groups()
    return float(number) * UNITS[unit]


def svg_geometry(path):
    """(declared width, height in points, smallest font size in points at that size)."""
    root = ElementTree.parse(path).getroot()
    width, height = _length_pt(root.get("width")), _length_pt(root.get("height"))
    view_w = float(root.get("viewBox").split()[2])
    smallest = float("inf")

    def walk(el, scale):
        nonlocal smallest
        found = re.search(r"scale\(([\d.]+)", el.get("transform", ""))
        scale *= float(found.group(1)) if found else 1.0
        if el.tag.endswith("text") and el.get("font-size") and "".join(el.itertext()).strip():
            smallest = min(smallest, float(el.get("font-size").rstrip("px")) * scale)
        for child in el:
            walk(child, scale)

    walk(root, width / view_w)
    return width, height, smallest


def positions_down(svg):
    """The numbers of the position clusters' labels ("position 3  l → a"), from the top of the SVG down."""
    found = []
    for el in ElementTree.parse(svg).getroot().iter():
        text = "".join(el.itertext()) if el.tag.endswith("text") else ""
        if m := re.match(r"position (\d+)\b", text):
            found.append((float(el.get("y")), int(m.group(1))))
    return [p for _, p in sorted(found)]


def words(pdf):
    out = subprocess.run(["pdftotext", "-bbox", pdf, "-"], capture_output=True, text=True, check=True).stdout
    found = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', out)
    return [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in found]


def overlapping(boxes):
    """Pairs of words whose boxes cross: by more than 1 pt across, and by more than 30% of a line
    down (a font's box reaches past its line: neighbouring lines touch, they do not cover each other);
    for two words written upwards (an axis's turned labels), the same across their lines."""
    heights = Counter(round(b[3] - b[1], 2) for b in boxes)  # a line's height: the words across a page share
    widths = Counter(round(b[2] - b[0], 2) for b in boxes)  # it as their boxes' height, turned ones as width
    lines = {h for h, n in heights.items() if n > widths[h]}
    turned = [round(b[2] - b[0], 2) in lines and round(b[3] - b[1], 2) not in lines for b in boxes]
    bad = []
    for (a, up_a), (b, up_b) in itertools.combinations(zip(boxes, turned), 2):
        dx = min(a[2], b[2]) - max(a[0], b[0])
        dy = min(a[3], b[3]) - max(a[1], b[1])
        if up_a and up_b:  # a turned word's line runs down the page: its neighbours are beside it
            dx, dy, a, b = dy, dx, (a[1], a[0], a[3], a[2], a[4]), (b[1], b[0], b[3], b[2], b[4])
        if dx > 1 and dy > 0.3 * min(a[3] - a[1], b[3] - b[1]):
            bad.append((a[4], b[4]))
    return bad


CASES = [  # the step's figures at the column width in the fast tests; the page width, the demo's step (a run
    # of ~5 CPU-s, then figures of 4 heads and 16 positions) and a script's trace (the same layout for a second
    # example, ~2 CPU-s) with the slow ones; the stage view (the block view's fast representative stands for it)
    pytest.param(
        source,
        name,
        width,
        id=f"{source}-{name}-{width}",
        marks=[pytest.mark.slow] * (width == "page" or source != "step" or name == "stage"),
    )
    for source in ("step", "demo", "script")
    for name, (_, on_scripts) in FIGURES.items()
    if source != "script" or on_scripts
    for width in PRESETS
]


@needs_tools
@pytest.mark.parametrize("source,name,width", CASES)
def test_a_figure_laid_out_for_a_width_fits_it_with_readable_text(traces, tmp_path, source, name, width):
    command = FIGURES[name][0]
    svg, pdf = tmp_path / f"{name}.svg", tmp_path / f"{name}.pdf"
    notes = ""
    for out in (svg, pdf):
        result = invoke(*command, "--trace", traces[source], "--width", width, "-o", out)
        assert result.exit_code == 0, result.output
        notes += result.output
    declared_w, declared_h, smallest = svg_geometry(svg)
    if "Note:" in notes and "needs" in notes:
        assert (name, width) not in FITTING, notes
        assert declared_w > PRESETS[width], notes  # wider than asked, and said so with the width it needs
    else:
        assert declared_w == pytest.approx(PRESETS[width], rel=0.01), notes
    assert smallest >= 7 - 0.05, (name, smallest)
    if max(declared_w / declared_h, declared_h / declared_w) > 3:
        assert ":1)" in notes, notes
    found = words(pdf)
    assert overlapping(found) == []
    labels = positions_down(svg)  # the positions one after the other, top to bottom (the demo's stage view
    assert labels == sorted(labels), labels  # at a page's width drew 6 to 0)
    attention = attention_order(svg)  # every position's keys, values and heads placed alike (the demo's
    assert len(set(attention.values())) <= 1, attention  # last two positions drew v above the heads, the rest below)
    for order in attention.values():
        heads = [name for name in order if name.startswith("head")]
        assert heads == sorted(heads, key=lambda h: int(h[4:])), order
    if name == "gradflow":  # the guide line named, the optimizer only where the trace says which
        text = [w[4] for w in found]
        assert "guide" in text and ("(Adam)" in text) == (source != "script"), text
        assert ("ReLU" in text) == (source != "script"), text  # dead ReLU units only of a model with an MLP
        assert ("Document" in text) == (source != "script"), text  # (the script reads no text: no "Document ''")


def test_the_width_takes_presets_and_units_and_refuses_the_rest(traces, tmp_path):
    out = tmp_path / "a.svg"
    for width, points in (("column", 234), ("8.5cm", 240.94), ("85mm", 240.94), ("3in", 216), ("250pt", 250)):
        result = invoke("attention", "--trace", traces["step"], "--width", width, "-o", out)
        assert result.exit_code == 0, result.output
        assert svg_geometry(out)[0] == pytest.approx(points, rel=0.01)
    for bad in ("3", "wide", "0.5in", "-3in", "1e9pt"):
        result = invoke("attention", "--trace", traces["step"], "--width", bad, "-o", out)
        assert result.exit_code == 2 and "--width" in result.output, result.output


def test_cols_and_caption_shape_the_attention_grid(traces, tmp_path):
    """Two heads in one row or one per row; without the caption the figure is shorter by its text."""
    sizes = {}
    for cols in (1, 2):
        for caption in ("--caption", "--no-caption"):
            out = tmp_path / f"{cols}{caption}.svg"
            args = ("--width", "page", "--cols", cols, caption, "-o", out)
            assert invoke("attention", "--trace", traces["step"], *args).exit_code == 0
            sizes[cols, caption] = svg_geometry(out)[:2]
    assert sizes[1, "--caption"][1] > sizes[2, "--caption"][1]  # one head a row: taller
    assert sizes[2, "--no-caption"][1] < sizes[2, "--caption"][1]
    assert "Softmax" not in (tmp_path / "2--no-caption.svg").read_text()


@needs_tools
@pytest.mark.slow
def test_the_demo_s_stage_view_is_a_png_of_its_printed_size(traces, tmp_path, monkeypatch):
    """The stage view in lanes (ranked as one, concentrated) drawn as a PNG: its pixels were counted by
    laying the drawing out again with dot, which failed ("trouble in init_rank"), and by its size before
    the scale that fits it to the width (a PNG refused for pixels it would not have had)."""
    monkeypatch.setenv("MICROTRACE_MAX_PIXELS", "5")  # at 72 dpi: ~4.5 megapixels drawn, ~7 unscaled
    out = tmp_path / "stage.png"
    result = invoke("graph", "--trace", traces["demo"], "--level", "stage", "--width", "page", "--dpi", 72, "-o", out)
    assert result.exit_code == 0, result.output
    drawn = re.search(r"drawn ([\d.]+) × ([\d.]+) in", result.output).groups()
    with Image.open(out) as im:
        assert im.size == pytest.approx([float(x) * 72 for x in drawn], rel=0.01), (im.size, drawn)
