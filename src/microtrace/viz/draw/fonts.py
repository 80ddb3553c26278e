"""Text for figures: one deterministic font, sizes that follow `scale`, and measuring before drawing.

The font is Pillow's bundled scalable Aileron Regular (`ImageFont.load_default(size=...)`): it ships
with Pillow, so a figure renders the same on every machine with the same Pillow. It covers ASCII and
a little Latin-1 (no accented letters, arrows or symbols such as "␂"), so text is drawn in runs: a
character the bundled font lacks is drawn with a system font that has it (DejaVu Sans, Noto Sans or
Liberation Sans, when installed) and, failing that, as the bundled font's box. Only such characters
depend on the machine.

Every helper measures with the same numbers it draws with, so a canvas sized from `text_width` and
`line_height` never clips: a line of text occupies `line_height(size)` pixels from its top (ascent
plus descent of the bundled font) and `text_width(text, size)` pixels from its left.

Token labels (`token_width`, `draw_token`) are the characters of the tokenizer with two special
cases: BOS (the label "<BOS>") is drawn as a small dark badge reading "BOS" (the font has no "␂" or
"⟨s⟩"), and whitespace or control characters as a visible marker (an open box for a space, a badge
with the escape such as "\\t" otherwise), since a blank label reads as a missing one.
"""

import math
import os
from dataclasses import dataclass
from functools import lru_cache

from PIL import ImageFont

BOS_LABEL = "<BOS>"
BOS_BADGE_TEXT = "BOS"
BOS_BADGE_FILL = (52, 58, 74)
BOS_BADGE_TEXT_FILL = (255, 255, 255)

# Base sizes in pixels at scale 1; `sizes(scale)` multiplies them.
_BASE_SIZES = {
    "title": 20,
    "header": 15,
    "label": 15,
    "axis": 13,
    "tick": 13,
    "caption": 13,
    "small": 11,
}

# The smallest text any figure draws at scale 1, in pixels: a BOS badge's "BOS" (`badge_size` of a 15 px
# label); `printsize` sizes text by it.
SMALLEST = 10

BUNDLED_NAME = "Aileron-Regular"  # the bundled font's name in a PDF or SVG that embeds it
_FALLBACK_FONTS = ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf")
_NOTDEF_PROBE = "\ue000"  # a private-use code point: fonts draw their "missing glyph" box for it


def px(value, scale):
    """A length of `value` pixels at scale 1, at `scale` (rounded, at least 1)."""
    return max(1, int(round(value * scale)))


@dataclass(frozen=True)
class Sizes:
    """Font sizes in pixels for one `scale`."""

    title: int
    header: int
    label: int
    axis: int
    tick: int
    caption: int
    small: int


def sizes(scale=1.0):
    """The font sizes of a figure drawn at `scale` (1.0: a 15 px label font, a 20 px title)."""
    check_scale(scale)
    return Sizes(**{name: px(size, scale) for name, size in _BASE_SIZES.items()})


def check_scale(scale):
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    if scale > 20:
        raise ValueError(f"scale {scale!r} is too large (at most 20)")


@lru_cache(maxsize=64)
def font(size):
    """Pillow's bundled scalable font at `size` pixels."""
    return ImageFont.load_default(size=max(1, int(size)))


@lru_cache(maxsize=64)
def _fallback_fonts(size):
    found = []
    for name in _FALLBACK_FONTS:
        try:
            found.append(ImageFont.truetype(name, max(1, int(size))))
        except OSError:
            continue
    return tuple(found)


def _signature(f, ch):
    mask = f.getmask(ch)
    return mask.size, bytes(mask)


@lru_cache(maxsize=4096)
def _has_glyph(f, ch):
    if ch.isspace():
        return True
    return _signature(f, ch) != _signature(f, _NOTDEF_PROBE)


def has_glyph(ch, size=15):
    """Whether the bundled font draws `ch` (one character) as itself rather than as a box."""
    return _has_glyph(font(size), ch)


def font_for(ch, size):
    """The font that draws `ch`: the bundled one when it can, else an installed fallback, else bundled."""
    base = font(size)
    if _has_glyph(base, ch):
        return base
    for f in _fallback_fonts(size):
        if _has_glyph(f, ch):
            return f
    return base


def runs(text, size):
    """`text` split into (font, substring) runs, each drawable by one font (a canvas draws them one after
    the other, each advancing by the font's `getlength` of the run)."""
    runs = []
    for ch in text:
        f = font_for(ch, size)
        if runs and runs[-1][0] is f:
            runs[-1][1].append(ch)
        else:
            runs.append((f, [ch]))
    return [(f, "".join(chars)) for f, chars in runs]


def font_file(f):
    """(name, bytes) of the TrueType file behind `f` (the bundled font or an installed fallback), for a
    document that embeds it (a PDF)."""
    data = getattr(f, "font_bytes", None)
    if data:
        return BUNDLED_NAME, data
    with open(f.path, "rb") as file:
        return os.path.splitext(os.path.basename(f.path))[0], file.read()


def ascent(size):
    return font(size).getmetrics()[0]


def line_height(size):
    """Height in pixels of one line of text at `size` (ascent + descent of the bundled font)."""
    a, d = font(size).getmetrics()
    return a + d


@lru_cache(maxsize=16384)
def text_width(text, size):
    """Width in pixels of `text` drawn on one line at `size` (includes glyphs overhanging their advance).
    Remembered: a figure measures the same labels again and again while it lays itself out (tick labels,
    matrix names, a heatmap's numbers), ~40k measurements in the test suite's figures."""
    x = 0.0
    right = 0.0
    for f, run in runs(text, size):
        bbox = f.getbbox(run, anchor="ls")
        right = max(right, x + bbox[2])
        x += f.getlength(run)
    return int(math.ceil(max(x, right)))


def text_size(text, size):
    """(width, height) of one line of text."""
    return text_width(text, size), line_height(size)


def draw_text(draw, xy, text, size, fill, anchor="la"):
    """Draw one line with its box's top-left (anchor "la"), top-centre ("ma"), top-right ("ra"),
    centre ("mm"), left-middle ("lm") or right-middle ("rm") at `xy`; returns the box (l, t, r, b)."""
    w, h = text_size(text, size)
    x, y = xy
    horizontal, vertical = anchor[0], anchor[1]
    if horizontal == "m":
        x -= w / 2
    elif horizontal == "r":
        x -= w
    if vertical == "m":
        y -= h / 2
    elif vertical == "d":
        y -= h
    x, y = int(round(x)), int(round(y))
    baseline = y + ascent(size)
    cursor = float(x)
    for f, run in runs(text, size):
        draw.text((cursor, baseline), run, font=f, fill=fill, anchor="ls")
        cursor += f.getlength(run)
    return (x, y, x + w, y + h)


def wrap(text, size, width):
    """`text` broken into lines no wider than `width` pixels (at word boundaries; a word longer than a
    line is split). Newlines in `text` start new lines."""
    lines = []
    for paragraph in text.split("\n"):
        words = paragraph.split()
        if not words:
            lines.append("")
            continue
        line = ""
        for word in words:
            candidate = f"{line} {word}" if line else word
            if text_width(candidate, size) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while text_width(word, size) > width and len(word) > 1:
                cut = _longest_fitting(word, size, width)
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def _longest_fitting(word, size, width):
    """How many leading characters of `word` fit in `width` (at least 1): a binary search, so that a long
    word is split in n log n measurements rather than n squared."""
    lo, hi = 1, len(word) - 1  # word[:lo] is kept even if it does not fit; word[:hi + 1] never fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text_width(word[:mid], size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return lo


def block_height(lines, size, spacing=0):
    """Height of `lines` stacked with `spacing` pixels between them (0 for no lines)."""
    if not lines:
        return 0
    return len(lines) * line_height(size) + (len(lines) - 1) * spacing


def block_width(lines, size):
    return max((text_width(line, size) for line in lines), default=0)


def draw_lines(draw, xy, lines, size, fill, spacing=0):
    x, y = xy
    for line in lines:
        draw_text(draw, (x, y), line, size, fill)
        y += line_height(size) + spacing


# --- token labels ---------------------------------------------------------------------------------

_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def badge_text(label):
    """The text of the badge that stands for `label` ("BOS", or an escape such as "\\t" or "1b" for
    whitespace and control characters), or None when the label is drawn as plain text. Public because
    `canvas.SvgCanvas.token` draws the same badges as `draw_token`."""
    if label == BOS_LABEL:
        return BOS_BADGE_TEXT
    if len(label) == 1 and (label.isspace() or not label.isprintable()) and label != " ":
        return _ESCAPES.get(label, f"{ord(label):02x}")
    return None


def badge_size(size):
    """Font size of the text inside a badge for a label font of `size`."""
    return max(6, int(round(size * 0.7)))


def badge_box_size(text, size):
    """(width, height) in pixels of the badge holding `text` (from `badge_text`) for a label font of
    `size`: the badge text's box plus padding."""
    bs = badge_size(size)
    pad = max(2, int(round(size * 0.16)))
    return text_width(text, bs) + 2 * pad, line_height(bs) + max(1, pad // 2) * 2


def token_width(label, size):
    """Width in pixels that `draw_token` uses for `label` at label font `size`."""
    badge = badge_text(label)
    if badge is not None:
        return badge_box_size(badge, size)[0]
    if label == " ":
        return max(6, int(round(size * 0.6)))
    return text_width(label, size)


def token_height(label, size):
    badge = badge_text(label)
    if badge is not None:
        return badge_box_size(badge, size)[1]
    return line_height(size)


def draw_token(draw, center, label, size, fill):
    """Draw a token label centred on `center`: its text, or the BOS badge, or a whitespace marker."""
    cx, cy = center
    badge = badge_text(label)
    if badge is not None:
        w, h = badge_box_size(badge, size)
        x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
        radius = max(1, h // 4)
        draw.rounded_rectangle((x0, y0, x0 + w - 1, y0 + h - 1), radius=radius, fill=BOS_BADGE_FILL)
        draw_text(draw, (x0 + w / 2, y0 + h / 2), badge, badge_size(size), BOS_BADGE_TEXT_FILL, anchor="mm")
        return
    if label == " ":
        points, width = space_marker(center, size)
        draw.line(points, fill=fill, width=width)
        return
    draw_text(draw, center, label, size, fill, anchor="mm")


def space_marker(center, size):
    """The open box "␣" drawn for a space label centred on `center`: a baseline with two short
    uprights, as (polyline points, line width). Shared with `canvas.SvgCanvas.token`, so that the PNG
    and the SVG draw the same marker."""
    cx, cy = center
    w = token_width(" ", size)
    x0, x1 = int(round(cx - w / 2)), int(round(cx + w / 2))
    base = int(round(cy + line_height(size) * 0.22))
    up = max(2, int(round(size * 0.22)))
    return [(x0, base - up), (x0, base), (x1, base), (x1, base - up)], max(1, int(round(size / 14)))
