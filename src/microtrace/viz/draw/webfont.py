"""Fonts inside an SVG: the glyphs a document uses, subset from the font file by fontTools and embedded
as WOFF in an @font-face rule of the SVG's own <style>, so that the figure looks the same on a machine
without the font (a paper's build server, a reader's browser on another system).

    rule = font_face("Aileron", font_bytes, "the text drawn")     # one @font-face, a data: URI
    svg = with_style(svg, [rule])                                  # inserted after the <svg> tag

`embed_dot_fonts` does both for an SVG written by Graphviz's `dot` (DejaVu Sans, regular and bold, found
as Pillow finds fonts). Everything is deterministic: the same text gives the same bytes (fontTools keeps
the font's timestamp, WOFF's zlib is deterministic).
"""

import base64
import io
import re
from functools import lru_cache
from xml.etree import ElementTree

from fontTools import subset as ft_subset
from fontTools.ttLib import TTFont
from PIL import ImageFont

# The family dot's SVGs name first (viz/graph/style.FONT) and the files that hold it, by weight.
DOT_FAMILY = "DejaVu Sans"
DOT_FILES = {"normal": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}


def subset_woff(data: bytes, text: str) -> bytes:
    """The font `data` (TrueType) cut down to the characters of `text` (and the missing-glyph box), as
    WOFF. Hinting and layout tables go (a browser draws the text it is given, unshaped)."""
    return _subset_woff(data, "".join(sorted(set(text))))


@lru_cache(maxsize=32)
def _subset_woff(data: bytes, chars: str) -> bytes:
    """`subset_woff` of a set of characters, remembered: parsing and cutting a font costs ~30 ms, and the
    figures of one session (an SVG and the PDF of it, the frames of a film, a notebook's figures) mostly
    use the same characters."""
    options = ft_subset.Options()
    options.flavor = "woff"
    options.hinting = False
    options.layout_features = []
    options.notdef_outline = True
    options.drop_tables += ["DSIG", "FFTM", "GDEF", "GPOS", "GSUB", "kern"]
    font = TTFont(io.BytesIO(data), recalcTimestamp=False)
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    out = io.BytesIO()
    font.flavor = "woff"
    font.save(out)
    return out.getvalue()


def font_face(family: str, data: bytes, text: str, weight: str = "normal") -> str:
    """One @font-face rule: `family` at `weight`, the glyphs of `text` as a WOFF data: URI."""
    woff = base64.b64encode(subset_woff(data, text)).decode("ascii")
    return (
        f'@font-face{{font-family:"{family}";font-weight:{weight};'
        f'src:url(data:font/woff;base64,{woff}) format("woff");}}'
    )


def with_style(svg: str, rules: list[str]) -> str:
    """`svg` with a <style> of `rules` right after its opening <svg> tag (nothing changed without rules)."""
    if not rules:
        return svg
    tag = re.search(r"<svg\b[^>]*>", svg)
    if tag is None:
        return svg
    style = "\n<defs><style>" + "\n".join(rules) + "</style></defs>"
    return svg[: tag.end()] + style + svg[tag.end() :]


@lru_cache(maxsize=8)
def _system_font(filename):
    """The bytes of an installed font file (Pillow's search of the system's font folders), or None."""
    try:
        path = ImageFont.truetype(filename, 10).path
    except OSError:
        return None
    with open(path, "rb") as f:
        return f.read()


def used_text(svg: str) -> dict[str, str]:
    """weight ("normal" or "bold") -> every character written in `svg`'s text elements at that weight."""
    root = ElementTree.fromstring(svg)
    used: dict[str, set] = {}
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == "text":
            weight = "bold" if el.get("font-weight") in ("bold", "700") else "normal"
            used.setdefault(weight, set()).update("".join(el.itertext()))
    return {weight: "".join(sorted(chars)) for weight, chars in sorted(used.items())}


def embed_dot_fonts(svg: bytes) -> bytes:
    """An SVG written by dot with the glyphs of DejaVu Sans it uses embedded (where the font is installed:
    it is the one dot drew with, Graphviz's packages depend on it)."""
    text = svg.decode("utf-8")
    rules = []
    for weight, chars in used_text(text).items():
        data = _system_font(DOT_FILES[weight])
        if data is not None and chars.strip():
            rules.append(font_face(DOT_FAMILY, data, chars, weight))
    return with_style(text, rules).encode("utf-8")
