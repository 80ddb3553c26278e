"""Vector PDF figures (viz/draw/pdf.py) read by a real PDF reader, poppler's pdfinfo, pdftotext,
pdffonts and pdftoppm (skipped without them; .ci/run installs poppler-utils): the page is the PNG's size
at its DPI, the text is text (with the fonts embedded), and the page renders as the PNG's picture."""

import re
import shutil
import subprocess

import pytest
from attention_data import labels_for, random_attention
from click.testing import CliRunner
from PIL import Image, ImageChops

from microtrace.cli import cli
from microtrace.util import numfmt
from microtrace.viz.attention import attention_grid, grid_layout
from microtrace.viz.draw import fonts
from microtrace.viz.draw.canvas import figure_bytes
from microtrace.viz.draw.pdf import PDF
from microtrace.viz.draw.truetype import TrueType

POPPLER = ("pdfinfo", "pdftotext", "pdffonts", "pdftoppm")
pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in POPPLER), reason="poppler-utils (pdfinfo, pdftotext, pdftoppm) not installed"
)


def poppler(tool, *args):
    out = subprocess.run([tool, *map(str, args)], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def page_size(path):
    return [float(v) for v in re.search(rb"Page size:\s+([\d.]+) x ([\d.]+) pts", poppler("pdfinfo", path)).groups()]


def rendered(path, dpi, tmp_path):
    poppler("pdftoppm", "-r", dpi, "-png", "-singlefile", path, tmp_path / "page")
    return Image.open(tmp_path / "page.png").convert("RGB")


def test_attention_pdf_is_vector_text_that_renders_as_the_png(tmp_path):
    attention, labels = random_attention(5, 1, 2, seed=3), labels_for(5)
    look = dict(scale=2.0, values=True, title="Attention of 1 layer × 2 heads → weights", caption="<&> as they are.")
    png = attention_grid(attention, labels, fmt="png", **look)
    pdf = attention_grid(attention, labels, fmt="pdf", **look)
    assert isinstance(pdf, PDF) and figure_bytes(pdf) == bytes(attention_grid(attention, labels, fmt="pdf", **look))
    path = tmp_path / "a.pdf"
    path.write_bytes(figure_bytes(pdf))
    assert b"/Image" not in figure_bytes(pdf)  # shapes and text, no picture of them
    # the page prints the size the PNG does at its DPI (2x the pixels at 2x 96 DPI)
    assert page_size(path) == pytest.approx([v * 72 / 192 for v in png.size], abs=0.01)
    assert f"Title:           {look['title']}".encode() in poppler("pdfinfo", path)
    text = poppler("pdftotext", "-enc", "UTF-8", path, "-").decode()
    words = text.split()
    assert "Attention of 1 layer" in text and "<&> as they are." in text
    assert {"query", "key", "0.5", "0.25", "attention", "weight"} <= set(words)  # axis words, colour bar ticks
    assert numfmt.weight(attention[0][1][4][2]) in words  # a cell's printed weight
    fonts_used = poppler("pdffonts", path).decode()
    assert "Aileron-Regular" in fonts_used and "CID TrueType" in fonts_used and " yes yes " in fonts_used
    if fonts.font_for("×", 13) is not fonts.font(13):  # a fallback font draws what Aileron lacks: embedded too
        assert "× 2 heads → weights" in text
    # rendered at the PNG's DPI it is the PNG's picture: same size, the same cell colours, text in place
    page = rendered(path, 192, tmp_path)
    assert page.size == png.size
    lay = grid_layout(attention, labels, **look)
    for q, k in ((0, 0), (3, 1), (4, 4)):
        x0, y0, _, _ = lay.cell_box(0, 1, q, k)
        px = (x0 + 4, y0 + 4)
        assert all(abs(a - b) <= 3 for a, b in zip(page.getpixel(px), png.getpixel(px))), (q, k)
    differ = ImageChops.difference(page, png).convert("L").point(lambda v: 255 if v > 96 else 0)
    assert differ.histogram()[255] < 0.03 * png.width * png.height  # only anti-aliasing of glyph edges


def test_gradflow_pdf_through_the_command(run_dir, tmp_path):
    for name, extra in (("flow", []), ("positions", ["--per-position"])):
        path = tmp_path / f"{name}.pdf"
        result = CliRunner().invoke(cli, ["gradflow", "--run", str(run_dir), "--step", "2", "-o", str(path), *extra])
        assert result.exit_code == 0, result.output
        png = tmp_path / f"{name}.png"
        result = CliRunner().invoke(cli, ["gradflow", "--run", str(run_dir), "--step", "2", "-o", str(png), *extra])
        assert result.exit_code == 0, result.output
        with Image.open(png) as image:
            size = image.size
        assert page_size(path) == pytest.approx([v * 72 / 96 for v in size], abs=0.01)
        text = poppler("pdftotext", "-enc", "UTF-8", path, "-").decode()
        assert ("Gradient flow at step 2" if name == "flow" else "Gradient along the sequence at step 2") in text
        assert "loss" in text and ("1e-3" in text or "0.1" in text)  # a log axis' tick labels
        assert rendered(path, 96, tmp_path).size == size


def test_a_font_subset_keeps_the_glyphs_and_their_numbers():
    font = TrueType(fonts.font(13).font_bytes)
    used = [font.glyph(ch) for ch in "Ag1"]
    sub = TrueType(font.subset(used))
    assert max(used) < sub.num_glyphs <= font.num_glyphs and sub.units_per_em == font.units_per_em
    for g in (0, *used):
        assert sub.advance(g) == font.advance(g) and sub.has_outline(g)
    unused = [g for g in range(sub.num_glyphs) if g not in (0, *used) and font.has_outline(g)]
    assert unused and not any(sub.has_outline(g) for g in unused)
    assert len(sub.data) < len(font.data) / 5
    assert font.subset(used) == sub.data  # the same glyphs, the same bytes
