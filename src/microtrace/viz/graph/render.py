"""Rendering DOT source with Graphviz's `dot` program: the format from the file's extension, written
atomically, the same bytes for the same input.

    render(digraph, "step.svg")          # .svg .png .pdf .dot
    render(digraph, "step.png", dpi=200)

An SVG file carries the glyphs it uses (`viz.draw.webfont`). Without `dot` on PATH, `render` writes the `.dot` source next to the requested file and raises
`DotNotFound`, whose message is one line with the install command (the CLI maps it to exit code 3).
"""

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import graphviz

from microtrace.util.atomic import write_atomic
from microtrace.util.errors import BadInput, WorkFailed
from microtrace.util.limits import env_number
from microtrace.viz.draw.webfont import embed_dot_fonts
from microtrace.viz.graph import lanes

FORMATS = (".svg", ".png", ".pdf", ".dot")
DEFAULT_DPI = 144
# A PNG of more pixels than this is refused before cairo allocates it (4 bytes a pixel: 400 MB). Graphviz's
# own cap is 32,767 pixels a side, about 4 GB of image. MICROTRACE_MAX_PIXELS (megapixels) raises it.
DEFAULT_MAX_MEGAPIXELS = 100
PIXELS_ENV = "MICROTRACE_MAX_PIXELS"
MOST_MEGAPIXELS = 1074
INSTALL_HINT = "install Graphviz: sudo apt-get install graphviz (Debian/Ubuntu) or brew install graphviz (macOS)"


class RenderError(BadInput):
    """The figure could not be made (bad extension, dot failed); one line for the user."""


class TooManyPixels(RenderError):
    """A PNG larger than the pixel limit; the message names its size and how to make it smaller."""


class DotNotFound(WorkFailed, RenderError):
    """Graphviz's `dot` program is not installed (exit code 3); `dot_path` is where the DOT source was written."""

    exit_code = 3

    def __init__(self, message, dot_path=None):
        super().__init__(message)
        self.dot_path = dot_path


def output_format(path):
    """The format of `path` from its extension ('.svg' -> 'svg'); RenderError for anything else."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        shown = ext or "no extension"
        raise RenderError(f"cannot write {Path(path).name}: {shown} is not a figure format (use {', '.join(FORMATS)})")
    return ext[1:]


def dot_program():
    """Path of Graphviz's `dot`, or None when it is not on PATH."""
    return shutil.which("dot")


def source_bytes(digraph):
    """The DOT source of a `graphviz.Digraph` (or a string) as UTF-8 bytes, ending in a newline."""
    src = digraph if isinstance(digraph, str) else digraph.source
    if not src.endswith("\n"):
        src += "\n"
    return src.encode("utf-8")


def render_bytes(digraph: graphviz.Digraph | str, fmt: str, dpi: int | None = None) -> bytes:
    """The rendered figure as bytes (`fmt`: svg, png, pdf or dot). DotNotFound / RenderError on failure."""
    src = source_bytes(digraph)
    if fmt == "dot":
        return src
    exe = dot_program()
    if exe is None:
        raise DotNotFound(f"Graphviz's dot program is not on PATH: {INSTALL_HINT}")
    src, program = _in_lanes(exe, src)
    args = [*program, f"-T{_DEVICE[fmt]}"]
    if fmt == "png":
        dpi = int(dpi or DEFAULT_DPI)
        # measured by the program that draws it: dot cannot lay out again a stage view drawn in lanes
        # (newrank, concentrate: "trouble in init_rank"), neato -n2 draws it where it is
        check_pixels(_run_dot([*program, "-Tplain"], src, "lay out"), dpi)
        args.append(f"-Gdpi={dpi}")
    out = _run_dot(args, src, f"render {fmt}")
    if fmt == "pdf":
        out = fix_pdf_dates(out)
    if fmt == "png":
        out = with_dpi(out, dpi)
    return out


_KV = re.compile(rb'\bclass="?kv\b')


def _in_lanes(exe, src):
    """(DOT source, program) to draw: a figure whose KV cache's edges go in lanes (viz/graph/lanes.py) is
    laid out by dot, then drawn as laid out, those edges redrawn, by `neato -n2`; any other by dot."""
    neato = Path(exe).with_name("neato")  # Graphviz's programs live side by side
    if not _KV.search(src) or not neato.exists():
        return src, [exe]
    bare, kv = lanes.apart(src.decode("utf-8"))
    # the stage view: laid out without them, then they are added in lanes (lanes.apart says why); where
    # one does not fit, and in any other view, laid out with them, then drawn in lanes
    laid = _laid_out(exe, bare, lambda dot, doc: lanes.added(dot, doc, kv)) if kv else None
    if laid is None:
        laid = _laid_out(exe, src.decode("utf-8"), lanes.with_lanes)
    return (src, [exe]) if laid is None else (laid.encode("utf-8"), [str(neato), "-n2"])


def _laid_out(exe, text, in_lanes):
    """`in_lanes(dot's layout of the DOT `text` as DOT, the same as parsed JSON)`: DOT for `neato -n2`, or None."""
    source = text.encode("utf-8")
    doc = json.loads(_run_dot([exe, "-Tjson"], source, "lay out"))
    return in_lanes(_run_dot([exe, "-Tdot"], source, "lay out").decode("utf-8"), doc)


def with_dpi(png, dpi):
    """The PNG `png` saying it is drawn at `dpi` (a pHYs chunk after the header: cairo writes none, so
    viewers and page layouts took a 144-dpi figure for twice its size)."""
    head = 8 + 8 + 13 + 4  # the signature, then IHDR: length, type, 13 bytes of data, CRC
    if png[12:16] != b"IHDR" or b"pHYs" in png[head : png.find(b"IDAT")]:
        return png
    per_metre = round(dpi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", per_metre, per_metre, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body))
    return png[:head] + chunk + png[head:]


def layouts(digraphs: list) -> list[dict]:
    """Graphviz's layouts (`dot -Tjson`: positions, sizes, spline points and the xdot drawing operations
    of every node, edge and cluster) of several graphs, laid out by one `dot` process: starting `dot`
    costs more than laying out a small graph. The same list gives the same layouts (dot carries a little
    state from one graph to the next, so a graph's layout may depend on the graphs before it)."""
    exe = dot_program()
    if exe is None:
        raise DotNotFound(f"Graphviz's dot program is not on PATH: {INSTALL_HINT}")
    src = b"".join(source_bytes(g) for g in digraphs)
    text = _run_dot([exe, "-Tjson"], src, "lay out").decode("utf-8")
    decoder, i = json.JSONDecoder(), 0
    out: list = []
    while True:  # one JSON document per graph, one after the other
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            if len(out) != len(digraphs):
                raise RenderError(f"dot laid out {len(out)} of {len(digraphs)} graphs")
            return out
        doc, i = decoder.raw_decode(text, i)
        out.append(doc)


def _run_dot(args, src, what):
    env = dict(os.environ, SOURCE_DATE_EPOCH="0")  # cairo >= 1.17 dates PDFs by it; older ones are fixed below
    try:
        proc = subprocess.run(args, input=src, capture_output=True, env=env, check=False)
    except OSError as e:
        raise RenderError(f"could not run {args[0]}: {e.strerror or e}") from None
    if proc.returncode != 0 or not proc.stdout:
        message = _first_error_line(proc.stderr) or f"exit code {proc.returncode}"
        raise RenderError(f"dot failed to {what}: {message}")
    return proc.stdout


def max_pixels():
    """The PNG pixel limit: $MICROTRACE_MAX_PIXELS megapixels, else the default; at most MOST_MEGAPIXELS
    (cairo draws no image larger than 32767 pixels a side: about 1,074 megapixels)."""
    return env_number(PIXELS_ENV, DEFAULT_MAX_MEGAPIXELS, MOST_MEGAPIXELS) * 1e6


def check_pixels(plain, dpi):
    """TooManyPixels when the layout in `plain` (dot -Tplain: `graph SCALE WIDTH HEIGHT`, inches) drawn
    at `dpi` would exceed `max_pixels()`: checked after the layout, before cairo allocates the image."""
    width, height = (inches * dpi for inches in _plain_size(plain, drawn=True))
    limit = max_pixels()
    if width * height > limit:
        raise TooManyPixels(
            f"the PNG would be {width:,.0f} x {height:,.0f} pixels at {dpi} dpi, above the limit of "
            f"{limit / 1e6:g} megapixels; lower the dpi, draw less (a focus), write .svg or .pdf, "
            f"or raise the limit with ${PIXELS_ENV} (megapixels)"
        )


def _plain_size(plain, drawn=False):
    """(width, height) in inches of a layout in dot's -Tplain format (`graph SCALE WIDTH HEIGHT`), or
    `drawn` at its scale (a `size` shrinks the drawing, not the layout: the demo's stage view for a page
    was refused as a PNG of 116 megapixels that would have been 73)."""
    fields = plain.split(b"\n", 1)[0].split()
    try:
        scale = float(fields[1]) if drawn else 1.0
        return float(fields[2]) * scale, float(fields[3]) * scale
    except (IndexError, ValueError):
        raise RenderError("dot's layout could not be read") from None


def layout_size(digraph: graphviz.Digraph | str, drawn=False):
    """(width, height) in inches of the drawing `dot` makes of `digraph` (`drawn`: at the scale its
    `size` asks), or None without `dot`."""
    exe = dot_program()
    if exe is None:
        return None
    return _plain_size(_run_dot([exe, "-Tplain"], source_bytes(digraph), "lay out"), drawn)


_PLAIN_NODE = re.compile(r'^node ("(?:[^"\\]|\\.)*"|\S+) (\S+) (\S+) ', re.M)


def node_places(digraph: graphviz.Digraph | str) -> dict[str, tuple[float, float]] | None:
    """Where `dot` puts each node of `digraph`: name -> (x, y) in inches, y up; None without `dot`."""
    exe = dot_program()
    if exe is None:
        return None
    plain = _run_dot([exe, "-Tplain"], source_bytes(digraph), "lay out").decode("utf-8", "replace")
    return {m.group(1).strip('"'): (float(m.group(2)), float(m.group(3))) for m in _PLAIN_NODE.finditer(plain)}


# cairo draws PNG and PDF with antialiased text; the svg device is Graphviz's own (text as text, tooltips
# kept as xlink:title), which browsers render crisply.
_DEVICE = {"svg": "svg", "png": "png:cairo", "pdf": "pdf:cairo"}

_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:([^)]*)\)")


def fix_pdf_dates(data):
    """Replace the render time that cairo writes into a PDF by 1970-01-01, keeping every byte offset
    (the cross-reference table points into the file), so two renders give identical bytes."""

    def fixed(m):
        stamp = m.group(2)
        epoch = b"19700101000000"[: len(stamp)]
        rest = re.sub(rb"\d", b"0", stamp[len(epoch) :])
        return b"/" + m.group(1) + b" (D:" + epoch + rest + b")"

    return _PDF_DATE.sub(fixed, data)


def _first_error_line(stderr):
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line and not line.lower().startswith("warning"):
            return line
    return ""


def render(digraph: graphviz.Digraph | str, path: str | os.PathLike, dpi: int | None = None) -> Path:
    """Write `digraph` to `path` in the format its extension names (.svg .png .pdf .dot), atomically.

    Returns the Path written. Without `dot`, writes the DOT source to `path` with the extension `.dot`
    and raises DotNotFound (whose `dot_path` is that file)."""
    path = Path(path)
    fmt = output_format(path)
    if fmt != "dot" and dot_program() is None:
        dot_path = path.with_suffix(".dot")
        _write(dot_path, source_bytes(digraph))
        raise DotNotFound(
            f"wrote {dot_path} but not {path.name}: Graphviz's dot program is not on PATH; {INSTALL_HINT}", dot_path
        )
    data = render_bytes(digraph, fmt, dpi=dpi)
    if fmt == "svg":  # a file stands alone: its glyphs go with it (pages that show SVGs style their own)
        data = embed_dot_fonts(data)
    _write(path, data)
    return path


def _write(path, data):
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
