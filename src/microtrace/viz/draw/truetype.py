"""A TrueType font read for embedding in a PDF, through fontTools: its metrics, which glyph draws a
character, and a subset that keeps only the glyphs a page uses.

The subset keeps every glyph's number (fontTools' `retain_gids`: the unused ones become empty), so a
PDF can name glyphs by their number in the font (Identity-H with /CIDToGIDMap /Identity). It drops
what a PDF reader does not render with (names, kerning and layout tables, hinting: the PDF carries the
glyph numbers, its own widths and a ToUnicode map), and keeps the font's own timestamp, so the same
glyphs give the same bytes.
"""

import io

from fontTools import subset as ft_subset
from fontTools.ttLib import TTFont, TTLibError

from microtrace.util.errors import BadInput


class FontError(BadInput, ValueError):
    """The bytes are not a TrueType font this reader understands (e.g. a CFF-flavoured OpenType)."""


def _open(data):
    try:
        font = TTFont(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False)
        if "glyf" not in font:
            raise FontError("not a TrueType font with glyph outlines")
        return font
    except (TTLibError, AssertionError, ValueError, KeyError, IndexError) as e:
        raise FontError(f"not a TrueType font ({e})") from None


class TrueType:
    def __init__(self, data: bytes):
        self.data = data
        font = _open(data)
        head, hhea = font["head"], font["hhea"]
        self.units_per_em = head.unitsPerEm
        self.bbox = (head.xMin, head.yMin, head.xMax, head.yMax)
        self.ascent, self.descent = hhea.ascent, hhea.descent
        os2 = font["OS/2"] if "OS/2" in font else None
        self.cap_height = getattr(os2, "sCapHeight", 0) or self.ascent
        order = font.getGlyphOrder()
        self.num_glyphs = len(order)
        self._advances = [font["hmtx"][name][0] for name in order]
        self._cmap = {cp: font.getGlyphID(name) for cp, name in (font.getBestCmap() or {}).items()}
        self._glyf, self._order = font["glyf"], order

    def advance(self, glyph):
        """The advance width of `glyph` in font units."""
        return self._advances[min(glyph, self.num_glyphs - 1)]

    def glyph(self, ch):
        """The glyph that draws the character `ch`, 0 (the missing-glyph box) if the font has none."""
        return self._cmap.get(ord(ch), 0)

    def has_outline(self, glyph):
        """Whether `glyph` draws anything (an empty glyph has no contours)."""
        g = self._glyf[self._order[glyph]]
        return g.numberOfContours != 0

    def subset(self, glyphs):
        """The font's bytes with only `glyphs` (and glyph 0, and the components they are built of)
        drawn, every glyph at its number."""
        options = ft_subset.Options()
        options.retain_gids = True
        options.notdef_outline = True
        options.hinting = False
        options.layout_features = []
        options.name_IDs = []
        options.drop_tables += ["GDEF", "GPOS", "GSUB", "kern", "DSIG", "FFTM"]
        font = _open(self.data)
        subsetter = ft_subset.Subsetter(options)
        subsetter.populate(gids=sorted({0, *glyphs}))
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
        return out.getvalue()
