"""A contact sheet of every figure laid out for one column of a two-column paper (`--width column`),
each at its printed size: docs/gallery/print-column.png (100 dpi, so 3.25 in is 325 pixels).

    python examples/print_sheet.py                      # -> docs/gallery/print-column.png
    python examples/print_sheet.py --width page --out /tmp/page.png

Trains the default model for 200 steps, traces step 150 (as `make demo` does), writes each figure as a
PDF with the command line, renders it with poppler's pdftoppm (as a reader's PDF viewer would) and
lays the pages side by side, labelled with the command that made them. Needs Graphviz's dot and poppler.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from microtrace.cli import cli
from microtrace.viz.draw import fonts

ROOT = Path(__file__).resolve().parents[1]
STEP = 150
DPI = 100
FIGURES = [  # (file name, the command's options after --trace FILE)
    ("attention", ["attention"]),
    ("attention-grad", ["attention", "--grad"]),
    ("strips", ["attention", "--per-token"]),
    ("gradflow", ["gradflow"]),
    ("positions", ["gradflow", "--per-position"]),
    ("graph", ["graph"]),
    ("head", ["graph", "--level", "scalar", "--focus", "pos1/layer0/attn/head0"]),
]


def microtrace(*args):
    print("$ microtrace", " ".join(str(a) for a in args), file=sys.stderr)
    cli.main(args=[str(a) for a in args], prog_name="microtrace", standalone_mode=False)


def page_image(pdf, folder):
    """The PDF's page as a reader sees it, at DPI."""
    stem = folder / pdf.stem
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "-singlefile", str(pdf), str(stem)], check=True)
    return Image.open(f"{stem}.png").convert("RGB")


def sheet(tiles, per_row=3, gap=24):
    """The tiles (label, image) in rows, each image at its own size under its label."""
    size = 18
    label_h = fonts.line_height(size) + 6
    rows = [tiles[i : i + per_row] for i in range(0, len(tiles), per_row)]
    widths = [sum(im.width for _, im in row) + gap * (len(row) + 1) for row in rows]
    heights = [max(im.height for _, im in row) + label_h + gap for row in rows]
    out = Image.new("RGB", (max(widths), sum(heights) + gap), (236, 236, 236))
    draw = ImageDraw.Draw(out)
    y = gap
    for row, h in zip(rows, heights):
        x = gap
        for label, im in row:
            fonts.draw_text(draw, (x, y), label, size, (40, 40, 40))
            out.paste(im, (x, y + label_h))
            x += im.width + gap
        y += h
    out.info["dpi"] = (DPI, DPI)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", default="column", help="the --width of every figure (default column)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery" / "print-column.png")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run, step = tmp / "run", tmp / "step.json"
        microtrace("train", "--steps", 200, "--out", run, "--samples", 0)
        microtrace("trace", "--run", run, "--step", STEP, "--view", "fused", "-o", step)
        tiles = []
        for name, options in FIGURES:
            pdf = tmp / f"{name}.pdf"
            microtrace(*options, "--trace", step, "--width", args.width, "-o", pdf)
            tiles.append((" ".join(options + ["--width", args.width]), page_image(pdf, tmp)))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        sheet(tiles).save(args.out, dpi=(DPI, DPI))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
