"""Every Graphviz view of a MINI step and of a script's trace, laid out by the real `dot`, read back from
the SVG it writes: no text box over another, the legend inside the drawing and over no cluster, one box
per cluster name among siblings, heads in order 0..n-1 wherever they are drawn.

Text boxes are measured with the font dot drew with (DejaVu Sans through Pillow), from each <text>'s
anchor, baseline and size; clusters are the boxes of dot's `class="cluster"` groups."""

import itertools
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest
from PIL import ImageFont

from conftest import invoke

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = ROOT / "tests" / "scripts"
NS = "{http://www.w3.org/2000/svg}"

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")

slow = pytest.mark.slow
STEP_VIEWS = {
    "block": ["--level", "block"],
    "stage": ["--level", "stage"],
    "stage backward": ["--level", "stage", "--backward"],  # (its flows beside the edges: 18 over boxes' text)
    "layer": ["--level", "layer"],
    "block for a column": ["--level", "block", "--width", "column"],  # (laid out compact, its legend under
    "stage for a page": ["--level", "stage", "--width", "page"],  # the title: drawn at a scale)
    "head": ["--level", "scalar", "--focus", "pos1/layer0/attn/head0"],
    "last head": ["--level", "scalar", "--focus", "pos3/layer0/attn/head1"],
    "attn": ["--level", "scalar", "--focus", "pos2/layer0/attn"],
}
FAST = ("block", "head")  # the rest with the slow tests (dot takes seconds on the stage view)
SCRIPT_VIEWS = {"block": ["--level", "block"], "stage": ["--level", "stage"], "layer": ["--level", "layer"]}
GPT_SCRIPT_VIEWS = {
    "head": ["--level", "scalar", "--focus", "pos1/gpt/layer0/head0"],
    "softmax": ["--level", "scalar", "--focus", "pos1/gpt/layer0/head0/softmax"],
}


def _font(bold, size):
    return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", max(1, round(size * 4)))


def _points(el):
    text = el.get("points") or " ".join(re.findall(r"-?[\d.]+,-?[\d.]+", el.get("d", "")))
    return [tuple(map(float, p.split(","))) for p in text.split()]


def _box(points):
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def read_svg(path):
    """(text boxes [(x0, y0, x1, y1, text)], clusters [(box, label)], nodes {title: box}, viewBox) in
    the SVG's user units (dot's points)."""
    root = ElementTree.parse(path).getroot()
    view = tuple(map(float, root.get("viewBox").split()))
    graph = root.find(f"{NS}g")
    texts, clusters, nodes = [], [], {}
    for el in graph.iter(f"{NS}text"):
        s = "".join(el.itertext())
        if not s.strip():
            continue
        size = float(el.get("font-size"))
        try:
            font = _font(el.get("font-weight") == "bold", size)
        except OSError:
            pytest.skip("DejaVu Sans is not installed")
        width = font.getlength(s) / 4
        x, y = float(el.get("x")), float(el.get("y"))
        x0 = x - {"middle": width / 2, "end": width}.get(el.get("text-anchor"), 0)
        texts.append((x0, y - 0.76 * size, x0 + width, y + 0.24 * size, s))
    for g in graph.iter(f"{NS}g"):
        shape = next((c for c in g if c.tag in (f"{NS}polygon", f"{NS}path")), None)
        if shape is None:
            continue
        if g.get("class") == "cluster":
            label = " ".join("".join(t.itertext()) for t in g.iter(f"{NS}text")).strip()
            if label:  # an invisible cluster (a fold's band) is no box a reader sees
                clusters.append((_box(_points(shape)), label))
        elif g.get("class") == "node":
            nodes[g.find(f"{NS}title").text] = _box(_points(shape))
    # the SVG's user space: the transform of the top group (dot: scale, rotate 0, translate)
    found = re.search(r"translate\(([-\d.]+) ([-\d.]+)\)", graph.get("transform", ""))
    shift = tuple(map(float, found.groups())) if found else (0.0, 0.0)
    scaled = re.search(r"scale\(([\d.]+)", graph.get("transform", ""))  # (a figure fitted to a width)
    view = (*view[:2], view[2] / float(scaled.group(1)), view[3] / float(scaled.group(1))) if scaled else view
    return texts, clusters, nodes, view, shift


def _inside(a, b, slack=0.5):
    return a[0] >= b[0] - slack and a[1] >= b[1] - slack and a[2] <= b[2] + slack and a[3] <= b[3] + slack


def _crossing(a, b):
    """How far two boxes cross, across and down (negative: apart)."""
    return min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])


def overlapping_texts(texts):
    bad = []
    for a, b in itertools.combinations(texts, 2):
        dx, dy = _crossing(a, b)
        if dx > 1 and dy > 0.3 * min(a[3] - a[1], b[3] - b[1]):
            bad.append((a[4], b[4]))
    return bad


def parents(clusters):
    """Each cluster's parent: the smallest other cluster around it (None at the top)."""
    out = []
    for i, (box, _) in enumerate(clusters):
        around = [j for j, (other, _) in enumerate(clusters) if j != i and _inside(box, other) and other != box]
        area = lambda j: (clusters[j][0][2] - clusters[j][0][0]) * (clusters[j][0][3] - clusters[j][0][1])  # noqa: E731
        out.append(min(around, key=area) if around else None)
    return out


def check_view(path, rankdir="LR"):
    texts, clusters, nodes, view, shift = read_svg(path)
    assert overlapping_texts(texts) == [], path.name
    # everything drawn inside the drawing (a clipped legend is text outside it)
    width, height = view[2], view[3]
    for x0, y0, x1, y1, s in texts:
        X0, Y0, X1, Y1 = x0 + shift[0], y0 + shift[1], x1 + shift[0], y1 + shift[1]
        assert X0 >= -1 and Y0 >= -1 and X1 <= width + 1 and Y1 <= height + 1, (s, (X0, Y0, X1, Y1), view)
    if "legend" in nodes:  # a legend node lies over no cluster
        assert all(
            _crossing(nodes["legend"], box)[0] <= 0 or _crossing(nodes["legend"], box)[1] <= 0 for box, _ in clusters
        )
    # one box per cluster name among siblings
    up = parents(clusters)
    seen = {}
    for (box, label), parent in zip(clusters, up):
        if label:
            assert (parent, label) not in seen, f"two clusters {label!r} in one parent: {path.name}"
            seen[parent, label] = box
    # heads in order 0..n-1 among siblings, top to bottom (LR)
    heads = {}
    for (box, label), parent in zip(clusters, up):
        if m := re.fullmatch(r"head ?(\d+)", label):
            heads.setdefault(parent, []).append((int(m.group(1)), box))
    for members in heads.values():
        along = [box[1] if rankdir == "LR" else box[0] for _, box in sorted(members)]
        assert along == sorted(along), (path.name, sorted(members))
    positions = arrangements(clusters, up)  # every position laid out as the others
    assert len(set(positions.values())) <= 1, (path.name, _differing(positions))
    return texts, clusters


def _relation(a, b):
    """Where box b lies from box a: right, left or across it; and its middle higher, lower or level
    (within a quarter of the taller box)."""
    across = "right" if a[2] <= b[0] else "left" if b[2] <= a[0] else "across"
    rise = (b[1] + b[3]) / 2 - (a[1] + a[3]) / 2
    level = abs(rise) <= 0.25 * max(a[3] - a[1], b[3] - b[1])
    return across, "level" if level else "lower" if rise > 0 else "higher"


def arrangements(clusters, up):
    """Each position's layout as a reader compares them: for every pair of boxes inside it (embed, layer,
    attn, heads, mlp: named by their path of labels), where one lies from the other."""

    def path(i):
        names = []
        while up[i] is not None and not clusters[i][1].startswith("position"):
            names.append(clusters[i][1])
            i = up[i]
        return i, "/".join(reversed(names))

    inside = {}
    for i, (box, label) in enumerate(clusters):
        top, name = path(i)
        # the boxes the stream runs through (lm_head and the loss follow the mean loss's fan-in)
        if name.startswith(("embed", "layer")) and clusters[top][1].startswith("position"):
            inside.setdefault(top, {})[name] = box
    out = {}
    for top, boxes in inside.items():
        names = sorted(boxes)
        out[clusters[top][1].split()[1]] = tuple(
            (a, b, _relation(boxes[a], boxes[b])) for a, b in itertools.combinations(names, 2)
        )
    return out


def _differing(positions):
    first = next(iter(positions.values()))
    return {p: sorted(set(rel) - set(first))[:4] for p, rel in positions.items() if rel != first}


@pytest.fixture(scope="module")
def traces(run_dir, tmp_path_factory):
    """The MINI step's trace, and (made when first asked for) a script's."""
    tmp = tmp_path_factory.mktemp("geometry")
    step = tmp / "step.json"
    assert invoke("trace", "--run", run_dir, "--step", 2, "--view", "fused", "-o", step).exit_code == 0

    class Traces(dict):
        def __missing__(self, key):
            script = tmp / "script.json"
            assert invoke("trace", "--script", SCRIPTS / "micrograd_style" / "train.py", "-o", script).exit_code == 0
            self[key] = script
            return script

    return Traces(step=step)


@pytest.mark.parametrize("view", [pytest.param(v, marks=[slow] * (v not in FAST)) for v in STEP_VIEWS])
def test_every_view_of_a_step_reads_cleanly(traces, tmp_path, view):
    out = tmp_path / "view.svg"
    result = invoke("graph", "--trace", traces["step"], *STEP_VIEWS[view], "-o", out)
    assert result.exit_code == 0, result.output
    check_view(out)


@slow
@pytest.mark.parametrize("view", list(SCRIPT_VIEWS))
def test_every_view_of_a_script_trace_reads_cleanly(traces, tmp_path, view):
    out = tmp_path / "view.svg"
    result = invoke("graph", "--trace", traces["script"], *SCRIPT_VIEWS[view], "-o", out)
    assert result.exit_code == 0, result.output
    check_view(out)


@pytest.mark.slow
@pytest.mark.parametrize("view", list(GPT_SCRIPT_VIEWS))
def test_a_microgpt_style_scripts_scalar_views_read_cleanly(tmp_path, view):
    """A script's own scopes nest (head0/softmax/weights): each a box inside its parent's, labels apart."""
    trace, out = tmp_path / "gpt.json", tmp_path / "view.svg"
    assert invoke("trace", "--script", SCRIPTS / "microgpt_style" / "train.py", "-o", trace).exit_code == 0
    result = invoke("graph", "--trace", trace, *GPT_SCRIPT_VIEWS[view], "-o", out)
    assert result.exit_code == 0, result.output
    _, clusters = check_view(out)
    assert any(label == "weights" for _, label in clusters)
