"""The canvas's PDF output: the same rectangles, lines, polygons and text the SVG writer draws, as PDF
drawing operators on a page the figure's size in points.

Text is real text: each font the canvas draws with (the bundled Aileron, and an installed fallback for
characters it lacks) is embedded as a subset (only the glyphs the page uses) in a Type0 font with
Identity-H encoding, with a ToUnicode map so that a reader can search and copy it. Each run of text
spans exactly the width Pillow gives it in the PNG (the layout is measured with Pillow), so the text
fits the layout as it does in the PNG.

The page is in pixels (y down, as the canvas is) scaled by 72 / DPI, so that it prints the size the
PNG does at its DPI. No dates and no ids: the same figure gives the same bytes.
"""

import hashlib
import math
import zlib
from functools import lru_cache

from microtrace.util.numfmt import coordinate as _num
from microtrace.viz.draw import fonts
from microtrace.viz.draw.colormap import hex_color
from microtrace.viz.draw.truetype import TrueType
from microtrace.viz.draw.vector import VectorText

_KAPPA = 0.5523  # a quarter circle as one cubic Bezier: control points this far along the tangents


class PDF(bytes):
    """A PDF document: the bytes of the file, which a notebook shows (`_repr_pdf_`)."""

    def _repr_pdf_(self):
        return bytes(self)


def _rgb(color):
    h = hex_color(color)
    return " ".join(_num(int(h[i : i + 2], 16) / 255) for i in (1, 3, 5))


@lru_cache(maxsize=8)
def _font_program(name, data):
    return TrueType(data)


class _Font:
    """One embedded font: its resource name, the parsed file and the glyphs used (glyph -> text)."""

    def __init__(self, resource, name, program):
        self.resource, self.name, self.program = resource, name, program
        self.used = {}

    def glyphs(self, text):
        out = []
        for ch in text:
            g = self.program.glyph(ch)
            self.used.setdefault(g, ch)
            out.append(g)
        return out

    def advance(self, glyph, size):
        return self.program.advance(glyph) * size / self.program.units_per_em


class PdfCanvas(VectorText):
    """Collects PDF drawing operators; `result()` returns the one-page document (a `PDF`)."""

    def __init__(self, width, height, background, dpi, title=""):
        self.width, self.height = int(width), int(height)
        self.background, self.dpi, self.title = background, dpi, title
        self.ops = []
        self.fonts = {}  # font file name -> _Font
        self.rect((0, 0, self.width, self.height), fill=background)

    # -- shapes: the SVG writer's geometry (rectangles cover both end pixels, lines run through centres)

    def rect(self, box, fill=None, outline=None, width=1, tooltip=None):
        """`tooltip` is for the SVG; a PDF page has none."""
        x0, y0, x1, y1 = box
        if x1 < x0 or y1 < y0:
            return
        path = f"{_num(x0)} {_num(y0)} {_num(x1 - x0 + 1)} {_num(y1 - y0 + 1)} re"
        if fill:
            self.ops.append(f"{_rgb(fill)} rg {path} f")
        if outline:
            self.ops.append(f"{_rgb(outline)} RG {_num(width)} w {path} S")

    def _path(self, points, close=False):
        moves = [f"{_num(x + 0.5)} {_num(y + 0.5)} {'m' if i == 0 else 'l'}" for i, (x, y) in enumerate(points)]
        return " ".join(moves) + (" h" if close else "")

    def line(self, points, color, width=1, dash=None):
        if len(points) < 2:
            return
        style = f"[{_num(dash[0])} {_num(dash[1])}] 0 d " if dash else ""
        self.ops.append(f"q {_rgb(color)} RG {_num(width)} w 1 j {style}{self._path(points)} S Q")

    def circle(self, center, radius, fill, outline=None):
        cx, cy, r, k = center[0] + 0.5, center[1] + 0.5, radius, radius * _KAPPA
        path = [f"{_num(cx + r)} {_num(cy)} m"]
        for (ax, ay), (bx, by), (ex, ey) in (
            ((cx + r, cy + k), (cx + k, cy + r), (cx, cy + r)),
            ((cx - k, cy + r), (cx - r, cy + k), (cx - r, cy)),
            ((cx - r, cy - k), (cx - k, cy - r), (cx, cy - r)),
            ((cx + k, cy - r), (cx + r, cy - k), (cx + r, cy)),
        ):
            path.append(" ".join(map(_num, (ax, ay, bx, by, ex, ey))) + " c")
        self._fill(" ".join(path) + " h", fill, outline)

    def polygon(self, points, fill, outline=None):
        self._fill(self._path(points, close=True), fill, outline)

    def _fill(self, path, fill, outline):
        if outline:
            self.ops.append(f"{_rgb(fill)} rg {_rgb(outline)} RG 1 w {path} b")
        else:
            self.ops.append(f"{_rgb(fill)} rg {path} f")

    # -- text -------------------------------------------------------------------------------------------

    def _font(self, f):
        name, data = fonts.font_file(f)
        if name not in self.fonts:
            self.fonts[name] = _Font(f"F{len(self.fonts)}", name, _font_program(name, data))
        return self.fonts[name]

    def _run(self, x, baseline, text, size, fill):
        """`text` with its baseline's left end at (x, baseline). Each run of one font spans the width Pillow
        measures for it (the PNG's, which the layout is made of): the font's own advances plus an even
        letter spacing (Tc) that makes up the difference (Pillow rounds advances to whole pixels)."""
        parts = [f"{_rgb(fill)} rg BT"]
        cursor = float(x)
        for f, run in fonts.runs(text, size):
            font = self._font(f)
            glyphs = font.glyphs(run)
            width = f.getlength(run)
            spacing = (width - sum(font.advance(g, size) for g in glyphs)) / max(1, len(glyphs) - 1)
            parts.append(
                f"/{font.resource} {size} Tf {_num(spacing)} Tc 1 0 0 -1 {_num(cursor)} {_num(baseline)} Tm "
                f"<{''.join(f'{g:04X}' for g in glyphs)}> Tj"
            )
            cursor += width
        self.ops.append(" ".join(parts) + " ET")

    def _badge(self, x, y, w, h, r, fill):
        k = r * (1 - _KAPPA)
        x1, y1 = x + w, y + h
        self.ops.append(
            f"{_rgb(fill)} rg {_num(x + r)} {_num(y)} m {_num(x1 - r)} {_num(y)} l "
            f"{_num(x1 - k)} {_num(y)} {_num(x1)} {_num(y + k)} {_num(x1)} {_num(y + r)} c {_num(x1)} {_num(y1 - r)} l "
            f"{_num(x1)} {_num(y1 - k)} {_num(x1 - k)} {_num(y1)} {_num(x1 - r)} {_num(y1)} c {_num(x + r)} {_num(y1)} l "
            f"{_num(x + k)} {_num(y1)} {_num(x)} {_num(y1 - k)} {_num(x)} {_num(y1 - r)} c {_num(x)} {_num(y + r)} l "
            f"{_num(x)} {_num(y + k)} {_num(x + k)} {_num(y)} {_num(x + r)} {_num(y)} c f"
        )

    def _turn(self, cx, cy):
        self.ops.append(f"q 0 -1 1 0 {_num(cx - cy)} {_num(cx + cy)} cm")

    def _unturn(self):
        self.ops.append("Q")

    def _turned_run(self, x, baseline, text, size, fill):
        self._turn(x, baseline)
        self._run(x, baseline, text, size, fill)
        self._unturn()

    def hatch(self, region, boxes, spacing, color):
        """ "/" lines every `spacing` pixels in step with the corner of `region` (as the SVG pattern)."""
        phase = region[0] + region[1]
        for bx0, by0, bx1, by1 in boxes:
            top, bottom, left, right = by0, by1 + 1, bx0, bx1 + 1
            box = f"{_num(left)} {_num(top)} {_num(right - left)} {_num(bottom - top)} re"
            lines = []
            c = phase + math.floor((left + top - phase) / spacing) * spacing
            while c <= right + bottom + spacing:
                lines.append(f"{_num(c - top)} {_num(top)} m {_num(c - bottom)} {_num(bottom)} l")
                c += spacing
            self.ops.append(
                f"q {box} W n {_rgb(self.background)} rg {box} f {_rgb(color)} RG 1 w {' '.join(lines)} S Q"
            )

    # -- the document -----------------------------------------------------------------------------------

    def result(self):
        k = 72 / self.dpi
        page_w, page_h = _num(self.width * k), _num(self.height * k)
        # the page in pixels, y down (the scale written in full: two decimals would misplace far corners)
        content = f"{k:.6g} 0 0 {-k:.6g} 0 {page_h} cm\n" + "\n".join(self.ops) + "\n"
        doc = _Document()
        catalog = doc.reserve()
        pages = doc.reserve()
        page = doc.reserve()
        info = doc.add(f"<< /Title {_text_string(self.title)} /Producer (microtrace) >>")
        resources = " ".join(f"/{f.resource} {_embed(doc, f)} 0 R" for f in self.fonts.values())
        contents = doc.add_stream(content.encode("ascii"))
        doc.set(catalog, f"<< /Type /Catalog /Pages {pages} 0 R >>")
        doc.set(pages, f"<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>")
        doc.set(
            page,
            f"<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 {page_w} {page_h}] "
            f"/Resources << /Font << {resources} >> >> /Contents {contents} 0 R >>",
        )
        return PDF(doc.bytes(catalog, info))


def _text_string(text):
    """A PDF text string: UTF-16BE with its byte-order mark, in hex (any character, nothing to escape)."""
    return f"<FEFF{text.encode('utf-16-be').hex().upper()}>"


def _embed(doc, font):
    """The objects of one embedded font (Type0 -> CIDFontType2 -> descriptor -> subset file, ToUnicode);
    returns the Type0 font's object number."""
    program, used = font.program, sorted(font.used)
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(repr(used).encode()).digest()[:6])
    name = f"{tag}+{font.name}"
    scale = 1000 / program.units_per_em
    file = program.subset(used)
    file_id = doc.add_stream(file, f"/Length1 {len(file)}")
    bbox = " ".join(str(round(v * scale)) for v in program.bbox)
    descriptor = doc.add(
        f"<< /Type /FontDescriptor /FontName /{name} /Flags 32 /FontBBox [{bbox}] /ItalicAngle 0 "
        f"/Ascent {round(program.ascent * scale)} /Descent {round(program.descent * scale)} "
        f"/CapHeight {round(program.cap_height * scale)} /StemV 80 /FontFile2 {file_id} 0 R >>"
    )
    widths = " ".join(f"{g} [{round(program.advance(g) * scale)}]" for g in used)
    cid = doc.add(
        f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        f"/FontDescriptor {descriptor} 0 R /W [{widths}] /CIDToGIDMap /Identity >>"
    )
    to_unicode = doc.add_stream(_to_unicode(font.used).encode("ascii"))
    return doc.add(
        f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
        f"/DescendantFonts [{cid} 0 R] /ToUnicode {to_unicode} 0 R >>"
    )


def _to_unicode(used):
    """The CMap from glyph numbers back to the characters they were drawn for (search and copy)."""
    pairs = [f"<{g:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for g, ch in sorted(used.items())]
    blocks = []
    for i in range(0, len(pairs), 100):  # at most 100 entries per block
        chunk = pairs[i : i + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    )


class _Document:
    """Numbered objects, written with their cross-reference table."""

    def __init__(self):
        self.objects = []

    def reserve(self):
        self.objects.append(None)
        return len(self.objects)

    def set(self, number, body):
        self.objects[number - 1] = body.encode("ascii") if isinstance(body, str) else body

    def add(self, body):
        number = self.reserve()
        self.set(number, body)
        return number

    def add_stream(self, data, extra=""):
        packed = zlib.compress(data, 9)
        head = f"<< /Length {len(packed)} /Filter /FlateDecode{' ' + extra if extra else ''} >>\nstream\n"
        return self.add(head.encode("ascii") + packed + b"\nendstream")

    def bytes(self, root, info):
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for i, body in enumerate(self.objects, 1):
            offsets.append(len(out))
            out += f"{i} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(self.objects) + 1}\n0000000000 65535 f \n".encode("ascii")
        out += b"".join(f"{o:010d} 00000 n \n".encode("ascii") for o in offsets)
        out += (
            f"trailer\n<< /Size {len(self.objects) + 1} /Root {root} 0 R /Info {info} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n"
        ).encode("ascii")
        return bytes(out)
