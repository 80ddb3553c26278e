"""SVG figures carry their fonts: every character written in the SVG is drawn by a font embedded in the
SVG's own <style> (an @font-face whose data: URI fontTools reads back), and the same figure gives the
same bytes. Read as a reader's tools read the file: the XML parsed, the fonts decoded."""

import base64
import io
import re
import shutil
from xml.etree import ElementTree

import pytest
from fontTools.ttLib import TTFont

from conftest import invoke

FACE = re.compile(
    r'@font-face\{font-family:"([^"]+)";font-weight:(\w+);src:url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)'
)


def embedded_fonts(svg_text):
    """(family, weight) -> the set of code points its embedded font maps."""
    root = ElementTree.fromstring(svg_text)
    style = "".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("style"))
    faces = {}
    for family, weight, data in FACE.findall(style):
        font = TTFont(io.BytesIO(base64.b64decode(data)))
        assert font.flavor == "woff"
        faces[family, weight] = set(font.getBestCmap())
    return root, faces


def written(root):
    """weight -> the characters the SVG's text elements write at it (spaces aside)."""
    out = {}
    for el in root.iter():
        if el.tag.endswith("text"):
            weight = "bold" if el.get("font-weight") == "bold" else "normal"
            out.setdefault(weight, set()).update(ch for ch in "".join(el.itertext()) if not ch.isspace())
    return out


def assert_covered(svg_text):
    root, faces = embedded_fonts(svg_text)
    assert faces, "no font embedded"
    for weight, chars in written(root).items():
        maps = [cps for (_, w), cps in faces.items() if w == weight]
        missing = {ch for ch in chars if not any(ord(ch) in cps for cps in maps)}
        assert not missing, (weight, sorted(missing))


@pytest.fixture(scope="module")
def trace(run_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("svgfonts") / "step.json"
    assert invoke("trace", "--run", run_dir, "--step", 2, "--view", "fused", "-o", path).exit_code == 0
    return path


@pytest.mark.parametrize("command", [["attention"], ["gradflow"]])
def test_canvas_svgs_embed_every_glyph_they_write(trace, tmp_path, command):
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    for out in (a, b):
        assert invoke(*command, "--trace", trace, "-o", out).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text(encoding="utf-8")
    assert_covered(text)
    assert "Aileron-Regular" in ElementTree.fromstring(text).get("font-family").split(",")[0]


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_graph_svgs_embed_the_glyphs_dot_wrote_regular_and_bold(trace, tmp_path):
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    for out in (a, b):
        assert invoke("graph", "--trace", trace, "-o", out).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text(encoding="utf-8")
    _, faces = embedded_fonts(text)
    assert {weight for _, weight in faces} == {"normal", "bold"}  # node names are bold
    assert_covered(text)
