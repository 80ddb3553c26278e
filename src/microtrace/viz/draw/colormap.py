"""Colour maps, colour scales with ticks, and colour bars: the one place figures get colours from.

Two maps, both as functions value -> (r, g, b) with 8-bit channels:

* `viridis`: perceptually uniform sequential map, for values such as attention weights (0..1).
* `diverging`: blue - white - red, centred on zero, for signed values such as gradients.

A `ColorScale` couples a map with its value range and its ticks (`weight_scale`, `symmetric_scale`,
`log_scale`); `colorbar` draws one as an image. Values that are not finite (nan, inf) get `NAN_COLOR`,
which is in neither map.
"""

import math
from dataclasses import dataclass

from PIL import Image, ImageDraw

from microtrace.util import numfmt
from microtrace.viz.draw import fonts
from microtrace.viz.draw.ticks import nice_step

# Viridis control points: every 8th entry (and the last) of the 256-entry table published with
# matplotlib (`_viridis_data` in lib/matplotlib/_cm_listed.py; viridis by Nathaniel J. Smith, Stefan
# van der Walt and Eric Firing, CC0), rounded to 8 bits. Linear interpolation between them stays
# within 2/255 of the full table.
_VIRIDIS_HEX = (
    "440154 470d60 48186a 482374 472d7b 453781 424086 3e4989 3b528b 375b8d 33638d 2f6b8e 2c728e "
    "297a8e 26828e 23898e 21918c 1f988b 1fa088 22a785 28ae80 32b67a 3fbc73 4ec36b 5ec962 70cf57 "
    "84d44b 98d83e addc30 c2df23 d8e219 ece51b fde725"
).split()
_VIRIDIS_INDEX = tuple(range(0, 256, 8)) + (255,)

# Diverging control points: ColorBrewer's 11-class RdBu (Cynthia A. Brewer, colorbrewer2.org, Apache
# License 2.0), ordered from the most negative (dark blue) through the centre (#f7f7f7, near white)
# to the most positive (dark red), evenly spaced over [-1, 1].
_RDBU_HEX = ("053061 2166ac 4393c3 92c5de d1e5f0 f7f7f7 fddbc7 f4a582 d6604d b2182b 67001f").split()

NAN_COLOR = (128, 128, 128)
"""Drawn for nan and inf: a neutral grey that neither map produces (figures add a mark and a legend)."""


def rgb_from_hex(h):
    """(r, g, b) of a hex colour written without "#", such as "f7f7f7"."""
    return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))


def hex_color(rgb):
    """ "#rrggbb" of an (r, g, b[, a]) colour, as SVG and Graphviz write it (any alpha is dropped)."""
    return "#" + "".join(f"{int(c):02x}" for c in rgb[:3])


_VIRIDIS_STOPS = tuple((i / 255, rgb_from_hex(h)) for i, h in zip(_VIRIDIS_INDEX, _VIRIDIS_HEX))
_RDBU_STOPS = tuple((k / (len(_RDBU_HEX) - 1), rgb_from_hex(h)) for k, h in enumerate(_RDBU_HEX))
DIVERGING_CENTER = rgb_from_hex("f7f7f7")


def _interpolate(stops, t):
    """Linear interpolation in 8-bit RGB between (position, rgb) stops; t is clipped to [0, 1]."""
    t = min(1.0, max(0.0, t))
    lo, hi = 0, len(stops) - 1
    while hi - lo > 1:  # binary search for the segment holding t
        mid = (lo + hi) // 2
        if stops[mid][0] <= t:
            lo = mid
        else:
            hi = mid
    (p0, c0), (p1, c1) = stops[lo], stops[hi]
    u = 0.0 if p1 == p0 else (t - p0) / (p1 - p0)
    return tuple(int(round(a + (b - a) * u)) for a, b in zip(c0, c1))


def _finite(value):
    try:
        return math.isfinite(value)
    except TypeError:
        return False


def viridis(value, vmin=0.0, vmax=1.0):
    """Colour of `value` on viridis over [vmin, vmax] (clipped at the ends); NAN_COLOR if not finite."""
    if not _finite(value):
        return NAN_COLOR
    span = vmax - vmin
    t = 0.0 if span == 0 else (value - vmin) / span
    return _interpolate(_VIRIDIS_STOPS, t)


def diverging(value, vmax=1.0):
    """Colour of `value` on blue-white-red over [-vmax, vmax], 0 at the centre (near white);
    clipped at the ends; NAN_COLOR if not finite. vmax == 0 maps everything to the centre."""
    if not _finite(value):
        return NAN_COLOR
    vmax = abs(vmax)
    t = 0.0 if vmax == 0 else value / vmax
    return _interpolate(_RDBU_STOPS, (t + 1) / 2)


def luminance(rgb):
    """WCAG relative luminance of an 8-bit sRGB colour (0 black .. 1 white)."""

    def linear(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_color_on(rgb, dark=(20, 20, 20), light=(255, 255, 255)):
    """Whichever of `dark` and `light` text has the higher contrast on background `rgb`."""
    lum = luminance(rgb)
    contrast_dark = (lum + 0.05) / (luminance(dark) + 0.05)
    contrast_light = (luminance(light) + 0.05) / (lum + 0.05)
    return dark if contrast_dark >= contrast_light else light


# --- log scales (for gradient magnitudes) ---------------------------------------------------------


def log_position(value, vmin, vmax):
    """Where |value| lies between vmin and vmax on a log10 axis, in [0, 1] (clipped); 0 for 0.

    vmin and vmax must be positive with vmin < vmax."""
    if not (vmin > 0 and vmax > vmin):
        raise ValueError(f"a log scale needs 0 < vmin < vmax, got vmin={vmin!r}, vmax={vmax!r}")
    a = abs(value)
    if a <= vmin:
        return 0.0
    if a >= vmax:
        return 1.0
    return (math.log10(a) - math.log10(vmin)) / (math.log10(vmax) - math.log10(vmin))


def symlog_position(value, linthresh, vmax):
    """Signed log position in [-1, 1]: linear within +-linthresh, logarithmic beyond, sign kept.

    For gradients spanning many decades on the diverging map: `diverging(symlog_position(g, t, m))`."""
    if not (linthresh > 0 and vmax > linthresh):
        raise ValueError(f"a symlog scale needs 0 < linthresh < vmax, got {linthresh!r}, {vmax!r}")
    a = abs(value)
    decades = math.log10(vmax / linthresh)
    if a <= linthresh:
        t = a / linthresh / (1 + decades)
    else:
        t = (1 + math.log10(min(a, vmax) / linthresh)) / (1 + decades)
    return math.copysign(t, value)


def magnitude_range(values):
    """(smallest nonzero |v|, largest |v|) over the finite values, or None if there is none."""
    mags = [abs(v) for v in values if _finite(v) and v != 0]
    if not mags:
        return None
    return min(mags), max(mags)


# --- tick labels ----------------------------------------------------------------------------------


def nice_symmetric_max(vmax):
    """vmax rounded up to 1, 2, 2.5 or 5 times a power of ten (so ticks read well)."""
    if not _finite(vmax) or vmax <= 0:
        return 1.0
    return nice_step(vmax)


@dataclass(frozen=True)
class ColorScale:
    """A colour map over a value range, with the ticks of its colour bar.

    kind: "linear" (viridis over [vmin, vmax]), "diverging" (centred on 0 over [-vmax, vmax]) or
    "log" (viridis over |value| in [vmin, vmax] on a log axis)."""

    kind: str
    vmin: float
    vmax: float
    ticks: tuple  # ((value, label), ...)

    def position(self, value):
        """Where `value` lies along the colour bar, 0 (bottom) .. 1 (top), clipped; None if not finite."""
        if not _finite(value):
            return None
        if self.kind == "log":
            return log_position(value, self.vmin, self.vmax)
        span = self.vmax - self.vmin
        return min(1.0, max(0.0, 0.5 if span == 0 else (value - self.vmin) / span))

    def color(self, value):
        if not _finite(value):
            return NAN_COLOR
        if self.kind == "diverging":
            return diverging(value, self.vmax)
        if self.kind == "log":
            return _interpolate(_VIRIDIS_STOPS, log_position(value, self.vmin, self.vmax))
        return viridis(value, self.vmin, self.vmax)

    def color_at(self, t):
        """Colour at position t (0..1) along the bar."""
        if self.kind == "diverging":
            return _interpolate(_RDBU_STOPS, t)
        return _interpolate(_VIRIDIS_STOPS, t)


def weight_scale():
    """Viridis over [0, 1] with ticks 0, 0.25, 0.5, 0.75, 1: attention weights."""
    ticks = tuple((v, numfmt.short(v)) for v in (0.0, 0.25, 0.5, 0.75, 1.0))
    return ColorScale("linear", 0.0, 1.0, ticks)


def linear_scale(vmin, vmax, nticks=5):
    """Viridis over [vmin, vmax] with `nticks` evenly spaced ticks."""
    if not (_finite(vmin) and _finite(vmax) and vmax > vmin):
        raise ValueError(f"a linear scale needs finite vmin < vmax, got {vmin!r}, {vmax!r}")
    if isinstance(nticks, bool) or not isinstance(nticks, int) or nticks < 2:
        raise ValueError(f"nticks must be an integer of at least 2, got {nticks!r}")
    values = [vmin + (vmax - vmin) * k / (nticks - 1) for k in range(nticks)]
    return ColorScale("linear", vmin, vmax, tuple((v, numfmt.short(v)) for v in values))


def symmetric_scale(vmax, nice=False):
    """The diverging map over [-vmax, vmax], 0 at the centre.

    Ticks: 0, the ends -vmax and vmax (their exact value, 3 significant digits) and round values in
    between (1, 2, 2.5 or 5 x 10^k apart, at most 3 a side, none too close to an end). vmax is the
    largest |value|; `nice=True` rounds it up to a round value first. 0 or a missing maximum becomes
    1 so that an all-zero input still has a readable bar."""
    vmax = abs(vmax) if _finite(vmax) else 0.0
    if vmax == 0:
        vmax = 1.0
    if nice:
        vmax = nice_symmetric_max(vmax)
    step = nice_step(vmax / 3)
    inner = []
    k = 1
    while k * step < vmax * (1 - 1e-9):
        if k * step <= vmax * 0.75:  # keep inner ticks clear of the end labels
            inner.append(k * step)
        k += 1
    values = [-vmax] + [-v for v in reversed(inner)] + [0.0] + inner + [vmax]
    return ColorScale("diverging", -vmax, vmax, tuple((v, numfmt.short(v)) for v in values))


def log_scale(vmin, vmax):
    """Viridis over |value| in [vmin, vmax] on a log10 axis, ticks at the powers of ten inside."""
    if not (_finite(vmin) and _finite(vmax) and 0 < vmin < vmax):
        raise ValueError(f"a log scale needs finite 0 < vmin < vmax, got vmin={vmin!r}, vmax={vmax!r}")
    lo, hi = math.ceil(math.log10(vmin) - 1e-9), math.floor(math.log10(vmax) + 1e-9)
    exponents = list(range(lo, hi + 1))
    step = max(1, math.ceil(len(exponents) / 6))
    ticks = [(10.0**e, f"1e{e:+03d}" if e else "1") for e in exponents[::step]]
    if not ticks:
        ticks = [(vmin, numfmt.short(vmin, 2)), (vmax, numfmt.short(vmax, 2))]
    return ColorScale("log", vmin, vmax, tuple(ticks))


# --- colour bars ----------------------------------------------------------------------------------

INK = (34, 34, 34)
MUTED_INK = (90, 90, 90)


def colorbar_width(scale_obj, *, thickness, label="", scale=1.0):
    """Width of the image `colorbar` draws (vertical orientation) for these arguments."""
    s = fonts.sizes(scale)
    tick_len = fonts.px(5, scale)
    gap = fonts.px(4, scale)
    labels_w = max(fonts.text_width(t, s.tick) for _, t in scale_obj.ticks)
    width = thickness + tick_len + gap + labels_w
    if label:
        width += fonts.px(8, scale) + fonts.line_height(s.axis)
    return width + 1


def draw_colorbar(canvas, scale_obj, xy, *, length, thickness=None, label="", scale=1.0):
    """A vertical colour bar on `canvas` with its top-left corner at `xy`: the gradient (top =
    maximum), tick marks, tick labels to its right and `label` written upwards to the right of those.
    The gradient spans `colorbar_pad(scale) .. colorbar_pad(scale) + length` below `xy`, so that tick
    labels at the ends are not clipped; the bar is `length + 2 * colorbar_pad(scale)` high (returned)
    and `colorbar_width(...)` wide. `length` is raised to the label's width when the label is longer."""
    fonts.check_scale(scale)
    s = fonts.sizes(scale)
    x0, y0 = xy
    thickness = thickness or fonts.px(16, scale)
    length = max(2, int(length), fonts.text_width(label, s.axis) if label else 0)
    pad = colorbar_pad(scale)
    for row in range(length):
        y = y0 + pad + row
        canvas.rect((x0, y, x0 + thickness - 1, y), fill=scale_obj.color_at(1 - row / (length - 1)))
    canvas.rect((x0, y0 + pad, x0 + thickness - 1, y0 + pad + length - 1), outline=MUTED_INK)
    tick_len = fonts.px(5, scale)
    gap = fonts.px(4, scale)
    for value, text in scale_obj.ticks:
        y = y0 + pad + int(round((1 - scale_obj.position(value)) * (length - 1)))
        canvas.line([(x0 + thickness, y), (x0 + thickness + tick_len - 1, y)], INK, width=max(1, fonts.px(1, scale)))
        canvas.text((x0 + thickness + tick_len + gap, y), text, s.tick, INK, anchor="lm")
    if label:
        labels_w = max(fonts.text_width(t, s.tick) for _, t in scale_obj.ticks)
        x = x0 + thickness + tick_len + gap + labels_w + fonts.px(8, scale)
        # written upwards: as wide as the text is high, as high as it is wide
        high, wide = fonts.text_size(label, s.axis)
        top = y0 + max(0, pad + (length - high) // 2)
        canvas.vtext((x + max(1, wide) / 2, top + high / 2), label, s.axis, INK)
    return length + 2 * pad


def hcolorbar_size(scale_obj, *, length, thickness, label="", scale=1.0):
    """(width, height) of what `draw_hcolorbar` draws for these arguments."""
    s = fonts.sizes(scale)
    ends = max(fonts.text_width(t, s.tick) for _, t in scale_obj.ticks)  # half a label past each end
    height = thickness + fonts.px(5, scale) + fonts.px(2, scale) + fonts.line_height(s.tick)
    if label:
        height += fonts.px(4, scale) + fonts.line_height(s.axis)
    return length + ends, height


def draw_hcolorbar(canvas, scale_obj, xy, *, length, thickness, label="", scale=1.0):
    """A horizontal colour bar (minimum at the left) under a figure, for a narrow one: `xy` is the
    top-left corner of what it draws (`hcolorbar_size`), the gradient `length` long, ticks and their
    labels under it and `label` under those, centred."""
    s = fonts.sizes(scale)
    x0 = xy[0] + max(fonts.text_width(t, s.tick) for _, t in scale_obj.ticks) // 2
    y0 = xy[1]
    for col in range(length):
        canvas.rect((x0 + col, y0, x0 + col, y0 + thickness - 1), fill=scale_obj.color_at(col / (length - 1)))
    canvas.rect((x0, y0, x0 + length - 1, y0 + thickness - 1), outline=MUTED_INK)
    tick_len = fonts.px(5, scale)
    for x, text in _spaced_ticks(scale_obj, x0, length, s.tick, fonts.px(6, scale)):
        canvas.line([(x, y0 + thickness), (x, y0 + thickness + tick_len - 1)], INK, width=max(1, fonts.px(1, scale)))
        canvas.text((x, y0 + thickness + tick_len + fonts.px(2, scale)), text, s.tick, INK, anchor="ma")
    if label:
        y = y0 + thickness + tick_len + fonts.px(2, scale) + fonts.line_height(s.tick) + fonts.px(4, scale)
        canvas.text((x0 + length / 2, y), label, s.axis, INK, anchor="ma")


def _spaced_ticks(scale_obj, x0, length, size, gap):
    """The ticks of a horizontal bar whose labels do not touch, [(x, label)] left to right: the ends
    first, then each tick in order whose label keeps `gap` pixels from those kept."""
    ticks = [(x0 + int(round(scale_obj.position(v) * (length - 1))), t) for v, t in scale_obj.ticks]
    kept: list = []
    for x, text in ticks[:1] + ticks[-1:] + ticks[1:-1]:
        half = fonts.text_width(text, size) / 2 + gap / 2
        if all(abs(x - kx) >= half + kh for kx, _, kh in kept):
            kept.append((x, text, half))
    return sorted((x, text) for x, text, _ in kept)


def colorbar_pad(scale=1.0):
    """Rows above and below the gradient in a `colorbar` image (room for the end tick labels)."""
    return fonts.line_height(fonts.sizes(scale).tick) // 2 + 1


def text_image(text, size, fill, background):
    """One line of text on its own image, sized to fit exactly (for rotating)."""
    w, h = fonts.text_size(text, size)
    im = Image.new("RGB", (max(1, w), h), background)
    fonts.draw_text(ImageDraw.Draw(im), (0, 0), text, size, fill)
    return im
