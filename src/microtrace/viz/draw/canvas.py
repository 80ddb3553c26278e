"""One drawing interface, three outputs: a Pillow image (PNG), an SVG document or a PDF page (`pdf.py`),
the last two written directly as vector shapes and text.

A figure is laid out once, in pixels, and drawn onto a `Canvas`; `PillowCanvas`, `SvgCanvas` and
`pdf.PdfCanvas` turn the same calls into the same picture. Text is measured with `fonts` for both, so a layout that fits in the
PNG fits in the SVG (the SVG embeds the glyphs it uses of the bundled font, and of a fallback that drew
characters it lacks, through `webfont`, and keeps the same baseline).

The SVG writer is deliberately small: rectangles, polylines, circles, polygons and text, numbers with
at most two decimals, attributes in a fixed order. The same calls give the same bytes, and the text is
valid XML (escaped, control characters replaced).
"""

import io
import math
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw

from microtrace.util.numfmt import coordinate as _num
from microtrace.viz.draw import colormap, fonts, webfont
from microtrace.viz.draw.colormap import hex_color
from microtrace.viz.draw.pdf import PDF, PdfCanvas
from microtrace.viz.draw.vector import VectorText

WHITE = (255, 255, 255)
# A figure at scale 1 is laid out in CSS pixels, 96 to the inch. At scale s it has s times the pixels and
# s times the DPI, so that it prints (and a PDF's page measures) the same size at any scale.
DPI = 96
SVG_FONT_FAMILY = "Aileron, 'Helvetica Neue', Helvetica, Arial, sans-serif"


def _xml_text(text):
    # XML 1.0 forbids most control characters even escaped, and U+FFFE, U+FFFF and lone surrogates: all
    # are shown as U+FFFD.
    clean = "".join(
        ch if (ch >= " " or ch in "\t\n\r") and not ("\ud800" <= ch <= "\udfff" or ch in "\ufffe\uffff") else "\ufffd"
        for ch in text
    )
    return escape(clean)


def _dash_segments(points, dash):
    """The 'on' pieces of a polyline drawn with the dash pattern (on, off) in pixels."""
    on, off = dash
    pieces, current = [], []
    drawing, left = True, on
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        length = math.hypot(x1 - x0, y1 - y0)
        pos = 0.0
        while pos < length:
            step = min(left, length - pos)
            t0, t1 = pos / length, (pos + step) / length
            a = (x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0)
            b = (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1)
            if drawing:
                if not current:
                    current.append(a)
                current.append(b)
            pos += step
            left -= step
            if left <= 1e-9:
                if drawing and current:
                    pieces.append(current)
                    current = []
                drawing = not drawing
                left = on if drawing else off
    if current:
        pieces.append(current)
    return pieces


class PillowCanvas:
    """Draws on an RGB `PIL.Image`; `result()` returns it."""

    def __init__(self, width, height, background=WHITE, dpi=DPI):
        self.width, self.height = int(width), int(height)
        self.image = Image.new("RGB", (self.width, self.height), background)
        self.image.info["dpi"] = (dpi, dpi)
        self.draw = ImageDraw.Draw(self.image)
        self.background = background

    def rect(self, box, fill=None, outline=None, width=1, tooltip=None):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        if x1 < x0 or y1 < y0:
            return
        self.draw.rectangle((x0, y0, x1, y1), fill=fill, outline=outline, width=width if outline else 0)

    def line(self, points, color, width=1, dash=None):
        points = [(float(x), float(y)) for x, y in points]
        pieces = _dash_segments(points, dash) if dash else [points]
        for piece in pieces:
            self.draw.line([(round(x), round(y)) for x, y in piece], fill=color, width=width, joint="curve")

    def circle(self, center, radius, fill, outline=None):
        cx, cy = center
        self.draw.ellipse(
            (round(cx - radius), round(cy - radius), round(cx + radius), round(cy + radius)), fill=fill, outline=outline
        )

    def polygon(self, points, fill, outline=None):
        self.draw.polygon([(round(x), round(y)) for x, y in points], fill=fill, outline=outline)

    def text(self, xy, text, size, fill, anchor="la"):
        return fonts.draw_text(self.draw, xy, text, size, fill, anchor=anchor)

    def vtext(self, center, text, size, fill):
        """Text written upwards (rotated 90 degrees counter-clockwise), centred on `center`."""
        im = colormap.text_image(text, size, fill, self.background).transpose(Image.Transpose.ROTATE_90)
        self.image.paste(im, (int(round(center[0] - im.width / 2)), int(round(center[1] - im.height / 2))))

    def token(self, center, label, size, fill):
        fonts.draw_token(self.draw, center, label, size, fill)

    def vtoken(self, top_center, label, size, fill):
        """A token label written upwards: centred on x = top_center[0], its top at top_center[1]."""
        w, h = fonts.token_width(label, size) + 2, fonts.token_height(label, size) + 2
        tile = Image.new("RGB", (w, h), self.background)
        fonts.draw_token(ImageDraw.Draw(tile), (w / 2, h / 2), label, size, fill)
        tile = tile.transpose(Image.Transpose.ROTATE_90)
        self.image.paste(tile, (int(top_center[0] - tile.width / 2), int(top_center[1])))

    def hatch(self, region, boxes, spacing, color):
        """Diagonal lines ("/") every `spacing` pixels, in step with the corner of `region` (x0, y0, x1,
        y1), over the `boxes` inside it (corners inclusive, like `rect`)."""
        x0, y0, x1, y1 = region
        w, h = x1 - x0 + 1, y1 - y0 + 1
        tile = Image.new("RGB", (w, h), self.background)
        lines = ImageDraw.Draw(tile)
        for start in range(0, w + h, spacing):
            lines.line([(start, 0), (start - h, h)], fill=color)
        mask = Image.new("L", (w, h), 0)
        where = ImageDraw.Draw(mask)
        for bx0, by0, bx1, by1 in boxes:
            where.rectangle((bx0 - x0, by0 - y0, bx1 - x0, by1 - y0), fill=255)
        self.image.paste(tile, (x0, y0), mask)

    def result(self):
        return self.image


class SvgCanvas(VectorText):
    """Collects SVG elements; `result()` returns the document as a string."""

    def __init__(self, width, height, background=WHITE, title="", dpi=None):
        """`dpi`: pixels per inch, for a document whose width and height are said in inches (printed at
        that size); None says them in pixels."""
        self.width, self.height = int(width), int(height)
        self.dpi = dpi
        self.parts = []
        self.defs = []
        self.title = title
        self.background = background
        self.used = {}  # font family -> [its TrueType bytes, the characters drawn with it]
        self.rect((0, 0, self.width, self.height), fill=background)

    def _add(self, element):
        self.parts.append(element)

    def rect(self, box, fill=None, outline=None, width=1, tooltip=None):
        """`tooltip`: text a browser shows on hover (an SVG <title>); a PNG has no such thing."""
        x0, y0, x1, y1 = box
        if x1 < x0 or y1 < y0:
            return
        # Pillow's rectangle covers both end pixels; the SVG one spans x0 .. x1 + 1 to match.
        attrs = f'x="{_num(x0)}" y="{_num(y0)}" width="{_num(x1 - x0 + 1)}" height="{_num(y1 - y0 + 1)}"'
        attrs += f' fill="{hex_color(fill)}"' if fill else ' fill="none"'
        if outline:
            attrs += f' stroke="{hex_color(outline)}" stroke-width="{_num(width)}"'
        if tooltip:
            self._add(f"<rect {attrs}><title>{_xml_text(tooltip)}</title></rect>")
        else:
            self._add(f"<rect {attrs}/>")

    def line(self, points, color, width=1, dash=None):
        pts = " ".join(f"{_num(x + 0.5)},{_num(y + 0.5)}" for x, y in points)
        attrs = f'points="{pts}" fill="none" stroke="{hex_color(color)}" stroke-width="{_num(width)}"'
        attrs += ' stroke-linejoin="round"'
        if dash:
            attrs += f' stroke-dasharray="{_num(dash[0])},{_num(dash[1])}"'
        self._add(f"<polyline {attrs}/>")

    def circle(self, center, radius, fill, outline=None):
        attrs = f'cx="{_num(center[0] + 0.5)}" cy="{_num(center[1] + 0.5)}" r="{_num(radius)}" fill="{hex_color(fill)}"'
        if outline:
            attrs += f' stroke="{hex_color(outline)}"'
        self._add(f"<circle {attrs}/>")

    def polygon(self, points, fill, outline=None):
        pts = " ".join(f"{_num(x + 0.5)},{_num(y + 0.5)}" for x, y in points)
        attrs = f'points="{pts}" fill="{hex_color(fill)}"'
        if outline:
            attrs += f' stroke="{hex_color(outline)}"'
        self._add(f"<polygon {attrs}/>")

    def _text_element(self, x, baseline, text, size, fill, extra=""):
        return (
            f'<text x="{_num(x)}" y="{_num(baseline)}" font-size="{size}" fill="{hex_color(fill)}"{extra}>'
            f"{_xml_text(text)}</text>"
        )

    def _note_fonts(self, text, size):
        """Remember which font draws each character (`fonts.runs`), to embed those glyphs."""
        for f, run in fonts.runs(text, size):
            name, data = fonts.font_file(f)
            self.used.setdefault(name, [data, set()])[1].update(run)

    def _run(self, x, baseline, text, size, fill):
        self._note_fonts(text, size)
        self._add(self._text_element(x, baseline, text, size, fill))

    def _turned_run(self, x, baseline, text, size, fill):
        self._note_fonts(text, size)
        turn = f' transform="rotate(-90 {_num(x)} {_num(baseline)})"'
        self._add(self._text_element(x, baseline, text, size, fill, turn))

    def _badge(self, x0, y0, w, h, radius, fill):
        self._add(
            f'<rect x="{_num(x0)}" y="{_num(y0)}" width="{_num(w)}" height="{_num(h)}" '
            f'rx="{_num(radius)}" fill="{hex_color(fill)}"/>'
        )

    def _turn(self, cx, cy):
        self._add(f'<g transform="rotate(-90 {_num(cx)} {_num(cy)})">')

    def _unturn(self):
        self._add("</g>")

    def hatch(self, region, boxes, spacing, color):
        x0, y0 = region[0], region[1]
        pattern = f"hatch{len(self.defs)}"
        s, ink = _num(spacing), hex_color(color)
        # "/" lines through the tile's corners, with the neighbouring tiles' ends at two corners
        self.defs.append(
            f'<pattern id="{pattern}" patternUnits="userSpaceOnUse" x="{_num(x0)}" y="{_num(y0)}" '
            f'width="{s}" height="{s}"><rect width="{s}" height="{s}" fill="{hex_color(self.background)}"/>'
            f'<path d="M0,{s} L{s},0 M-1,1 L1,-1 M{_num(spacing - 1)},{_num(spacing + 1)} '
            f'L{_num(spacing + 1)},{_num(spacing - 1)}" stroke="{ink}" stroke-width="1"/></pattern>'
        )
        for bx0, by0, bx1, by1 in boxes:
            self._add(
                f'<rect x="{_num(bx0)}" y="{_num(by0)}" width="{_num(bx1 - bx0 + 1)}" '
                f'height="{_num(by1 - by0 + 1)}" fill="url(#{pattern})"/>'
            )

    def result(self):
        if self.dpi:
            size = f'width="{self.width / self.dpi:.4g}in" height="{self.height / self.dpi:.4g}in"'
        else:
            size = f'width="{self.width}" height="{self.height}"'
        # The fonts the text was measured with, their used glyphs embedded (webfont): the bundled one
        # first, then the installed fallbacks that drew characters it lacks; a browser takes each
        # character from the first family of the list that has it.
        embedded = sorted(self.used, key=lambda name: name != fonts.BUNDLED_NAME)
        faces = [webfont.font_face(name, data, "".join(chars)) for name, (data, chars) in sorted(self.used.items())]
        family = ", ".join([*(f"'{name}'" for name in embedded), SVG_FONT_FAMILY])
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" {size} '
            f'viewBox="0 0 {self.width} {self.height}" font-family={quoteattr(family)}>'
        )
        title = [f"<title>{_xml_text(self.title)}</title>"] if self.title else []
        style = ["<style>", *faces, "</style>"] if faces else []
        defs = ["<defs>", *style, *self.defs, "</defs>"] if self.defs or faces else []
        return SVG(
            "\n".join(['<?xml version="1.0" encoding="UTF-8"?>', head, *title, *defs, *self.parts, "</svg>"]) + "\n"
        )


class SVG(str):
    """An SVG document: the text of the file (a `str`, written as it is), which a notebook shows as the
    picture (`_repr_svg_`)."""

    def _repr_svg_(self):
        return str(self)


FORMATS = ("png", "svg", "pdf")


def make_canvas(fmt, width, height, title="", scale=1.0, dpi=None):
    """A canvas for output format `fmt`: "png" (Pillow, at `scale` times the DPI), "svg" or "pdf" (a page
    the size the PNG prints at its DPI). `dpi` (a figure laid out for print, `printsize`) says how many
    pixels make an inch instead; an SVG then gives its size in inches."""
    if fmt == "png":
        return PillowCanvas(width, height, dpi=dpi or round(DPI * scale))
    if fmt == "svg":
        return SvgCanvas(width, height, title=title, dpi=dpi)
    if fmt == "pdf":
        return PdfCanvas(width, height, WHITE, dpi=dpi or round(DPI * scale), title=title)
    raise ValueError(f"unknown figure format {fmt!r}: use {', '.join(FORMATS)}")


def figure_bytes(figure: "Image.Image | str | PDF") -> bytes:
    """The bytes of a figure as a file: UTF-8 for an SVG document (a str), the PDF's own bytes, PNG for a
    `PIL.Image`. Deterministic: the same figure gives the same bytes."""
    if isinstance(figure, str):
        return figure.encode("utf-8")
    if isinstance(figure, PDF):
        return bytes(figure)
    return png_bytes(figure)


def _dpi(image):
    """The image's DPI (one number) as the figure set it, else `DPI`."""
    dpi = image.info.get("dpi", (DPI, DPI))
    return round(float(dpi[0] if isinstance(dpi, tuple) else dpi))


def png_bytes(image: Image.Image) -> bytes:
    """PNG bytes of `image` with its DPI and no other metadata (no time, text or colour profile chunks):
    the same pixels always give the same bytes."""
    if not isinstance(image, Image.Image):
        raise ValueError(f"expected a PIL image, got {type(image).__name__}")
    clean = image.convert("RGB") if image.mode not in ("RGB", "RGBA", "L", "P") else image.copy()
    dpi = _dpi(image)
    clean.info = {}
    buf = io.BytesIO()
    clean.save(buf, format="PNG", optimize=False, compress_level=6, dpi=(dpi, dpi))
    return buf.getvalue()
