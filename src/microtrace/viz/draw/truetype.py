"""A TrueType font read for embedding in a PDF: its metrics, which glyph draws a character, and a subset
that keeps only the glyphs a page uses.

The subset keeps every glyph's number (the unused ones become empty outlines with zero metrics), so a
PDF can name glyphs by their number in the font (Identity-H with /CIDToGIDMap /Identity) and the kept
glyphs' advance widths in `hmtx` stay where they were. It keeps the tables a PDF reader renders with (head, hhea, maxp, hmtx,
loca, glyf and the hinting programs cvt, fpgm, prep) and drops the rest (names, kerning, cmap: the PDF
carries the glyph numbers, its own widths and a ToUnicode map).
"""

import struct
from functools import cached_property

from microtrace.util.errors import BadInput

_KEPT = (b"cvt ", b"fpgm", b"glyf", b"head", b"hhea", b"hmtx", b"loca", b"maxp", b"prep")

# Composite glyph flags (the 'glyf' table): how long a component's record is, and whether one follows.
_ARGS_ARE_WORDS, _HAS_SCALE, _MORE, _HAS_XY_SCALE, _HAS_2X2 = 0x1, 0x8, 0x20, 0x40, 0x80


class FontError(BadInput, ValueError):
    """The bytes are not a TrueType font this reader understands (e.g. a CFF-flavoured OpenType)."""


class TrueType:
    def __init__(self, data: bytes):
        self.data = data
        try:
            version, count = struct.unpack_from(">IH", data, 0)
            self.tables = {}
            for i in range(count):
                tag, _checksum, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
                self.tables[tag] = data[offset : offset + length]
        except struct.error as e:
            raise FontError(f"not a TrueType font ({e})") from None
        if (
            version not in (0x00010000, 0x74727565)
            or not {b"glyf", b"head", b"hhea", b"hmtx", b"loca", b"maxp"} <= self.tables.keys()
        ):
            raise FontError("not a TrueType font with glyph outlines")
        head = self.tables[b"head"]
        self.units_per_em = struct.unpack_from(">H", head, 18)[0]
        self.bbox = struct.unpack_from(">4h", head, 36)
        self._long_loca = struct.unpack_from(">h", head, 50)[0] == 1
        hhea = self.tables[b"hhea"]
        self.ascent, self.descent = struct.unpack_from(">hh", hhea, 4)
        self._metrics = struct.unpack_from(">H", hhea, 34)[0]
        self.num_glyphs = struct.unpack_from(">H", self.tables[b"maxp"], 4)[0]
        os2 = self.tables.get(b"OS/2", b"")
        self.cap_height = struct.unpack_from(">h", os2, 88)[0] if len(os2) >= 90 else self.ascent

    def advance(self, glyph):
        """The advance width of `glyph` in font units."""
        return struct.unpack_from(">H", self.tables[b"hmtx"], 4 * min(glyph, self._metrics - 1))[0]

    def glyph(self, ch):
        """The glyph that draws the character `ch`, 0 (the missing-glyph box) if the font has none."""
        return self._cmap.get(ord(ch), 0)

    @cached_property
    def _cmap(self):
        """Code point -> glyph, from the best Unicode subtable (format 12 for all planes, else 4)."""
        cmap = self.tables[b"cmap"]
        found = {}
        for i in range(struct.unpack_from(">H", cmap, 2)[0]):
            platform, encoding, offset = struct.unpack_from(">HHI", cmap, 4 + 8 * i)
            if (platform, encoding) in ((3, 10), (3, 1), (0, 3), (0, 4), (0, 6)):
                found.setdefault(struct.unpack_from(">H", cmap, offset)[0], offset)
        if 12 in found:
            return _format12(cmap, found[12])
        if 4 in found:
            return _format4(cmap, found[4])
        raise FontError("the font has no Unicode character map")

    def _outline(self, glyph):
        loca = self.tables[b"loca"]
        if self._long_loca:
            start, end = struct.unpack_from(">II", loca, 4 * glyph)
        else:
            start, end = (2 * v for v in struct.unpack_from(">HH", loca, 2 * glyph))
        return self.tables[b"glyf"][start:end]

    def _components(self, outline):
        """The glyphs a composite outline is made of (none for a simple one)."""
        if len(outline) < 10 or struct.unpack_from(">h", outline, 0)[0] >= 0:
            return []
        found, at = [], 10
        while True:
            flags, glyph = struct.unpack_from(">HH", outline, at)
            found.append(glyph)
            at += 4 + (4 if flags & _ARGS_ARE_WORDS else 2)
            at += 2 if flags & _HAS_SCALE else 4 if flags & _HAS_XY_SCALE else 8 if flags & _HAS_2X2 else 0
            if not flags & _MORE:
                return found

    def subset(self, glyphs):
        """The font's bytes with the outlines of `glyphs` (and what they are built from, and glyph 0) only."""
        keep, todo = set(), [0, *glyphs]
        while todo:
            g = todo.pop()
            if g not in keep and 0 <= g < self.num_glyphs:
                keep.add(g)
                todo.extend(self._components(self._outline(g)))
        glyf, loca = bytearray(), []
        for g in range(self.num_glyphs):
            loca.append(len(glyf))
            if g in keep:
                glyf += self._outline(g)
                glyf += b"\0" * (-len(glyf) % 4)
        loca.append(len(glyf))
        tables = {tag: body for tag, body in self.tables.items() if tag in _KEPT}
        head = bytearray(tables[b"head"])
        head[8:12] = b"\0\0\0\0"  # checkSumAdjustment: a PDF reader does not check it
        head[50:52] = struct.pack(">h", 1)  # long offsets in loca
        hmtx = bytearray(len(tables[b"hmtx"]))  # the kept glyphs' metrics; zeros compress to nothing
        for g in keep:
            at = 4 * g if g < self._metrics else 4 * self._metrics + 2 * (g - self._metrics)
            size = 4 if g < self._metrics else 2
            hmtx[at : at + size] = tables[b"hmtx"][at : at + size]
        if max(keep) >= self._metrics:  # glyphs past the long metrics take the last advance
            last = 4 * (self._metrics - 1)
            hmtx[last : last + 2] = tables[b"hmtx"][last : last + 2]
        tables.update(
            {
                b"head": bytes(head),
                b"glyf": bytes(glyf),
                b"loca": struct.pack(f">{len(loca)}I", *loca),
                b"hmtx": bytes(hmtx),
            }
        )
        return _sfnt(tables)


def _format4(cmap, at):
    segments = struct.unpack_from(">H", cmap, at + 6)[0] // 2
    ends = struct.unpack_from(f">{segments}H", cmap, at + 14)
    starts = struct.unpack_from(f">{segments}H", cmap, at + 16 + 2 * segments)
    deltas = struct.unpack_from(f">{segments}h", cmap, at + 16 + 4 * segments)
    ranges_at = at + 16 + 6 * segments
    ranges = struct.unpack_from(f">{segments}H", cmap, ranges_at)
    found = {}
    for i, (start, end, delta, rng) in enumerate(zip(starts, ends, deltas, ranges)):
        for code in range(start, min(end, 0xFFFE) + 1):
            if rng == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                glyph = struct.unpack_from(">H", cmap, ranges_at + 2 * i + rng + 2 * (code - start))[0]
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                found[code] = glyph
    return found


def _format12(cmap, at):
    found = {}
    for i in range(struct.unpack_from(">I", cmap, at + 12)[0]):
        start, end, glyph = struct.unpack_from(">III", cmap, at + 16 + 12 * i)
        for code in range(start, end + 1):
            found[code] = glyph + code - start
    return found


def _checksum(body):
    body += b"\0" * (-len(body) % 4)
    return sum(struct.unpack(f">{len(body) // 4}I", body)) & 0xFFFFFFFF


def _sfnt(tables):
    """A TrueType file of `tables` (tag -> bytes), tables in tag order, each on a 4-byte boundary."""
    count = len(tables)
    power = 1 << (count.bit_length() - 1)
    out = bytearray(struct.pack(">IHHHH", 0x00010000, count, 16 * power, power.bit_length() - 1, 16 * (count - power)))
    offset = 12 + 16 * count
    bodies = []
    for tag in sorted(tables):
        body = tables[tag]
        out += struct.pack(">4sIII", tag, _checksum(body), offset, len(body))
        bodies.append(body + b"\0" * (-len(body) % 4))
        offset += len(bodies[-1])
    return bytes(out + b"".join(bodies))
