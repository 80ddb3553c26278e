"""Graphviz figures for print: scaled to a printed width (`printsize.PrintSize`) but never so far that
text falls below the size asked, and a view that stays long (more than 3:1) said to be long, with its size.

dot lays a figure out in points at the font sizes of its source; `size="W,H!"` then scales the whole
drawing, text and lines with it. So the scale is chosen once from the unscaled layout: the width asked
over the width drawn, or, where that would shrink the smallest text below `font_pt`, the scale that
keeps it at `font_pt` (the figure is then wider than asked, and a `printsize.FitNote` says so).
"""

import re

from microtrace.viz.draw import printsize
from microtrace.viz.draw.printsize import LONGEST
from microtrace.viz.graph.render import dot_program, render_bytes

_FONT_SIZES = re.compile(r'(?:fontsize|POINT-SIZE)="?([0-9]+(?:\.[0-9]+)?)')
CUSHION = 1.01  # dot writes its scale with two decimals: kept clear of the floor
PAD = 4 / 72  # dot's pad around a drawing (inches), its default
DOT_FONT_SIZE = 14.0  # dot's own default, for a source that sets none


def smallest_font(digraph):
    """The smallest font size (points) the DOT source of `digraph` asks for."""
    return min((float(x) for x in _FONT_SIZES.findall(digraph.source)), default=DOT_FONT_SIZE)


def drawn_size(digraph):
    """(width, height) in inches of the drawing in dot's SVG, its pad left out (dot's plain layout
    leaves out what its labels add), or None without dot."""
    if dot_program() is None:
        return None
    head = render_bytes(digraph, "svg")[:2000].decode("utf-8", "replace")
    w, h = (float(x) for x in re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', head).groups())
    return w / 72 - 2 * PAD, h / 72 - 2 * PAD


def too_wide(digraph, ps):
    """Whether `digraph`, its text at `ps.font_pt`, is wider than the width `ps` asks (False without dot
    or without a width asked)."""
    if ps is None or ps.width_pt is None:
        return False
    size = drawn_size(digraph)
    if size is None:
        return False
    return size[0] * ps.font_pt / smallest_font(digraph) * CUSHION + 2 * PAD > ps.width_pt / 72


def fit_to_width(digraph, ps, what):
    """Scale `digraph` (in place) for `ps`; returns its (width, height) in inches as it will be drawn
    (None without dot or without a width asked)."""
    if ps is None or ps.width_pt is None:
        return None
    size = drawn_size(digraph)
    if size is None:
        return None
    w, h = size
    scale = (ps.width_pt / 72 - 2 * PAD) / w  # the size dot fits includes its pad around the drawing
    floor = ps.font_pt / smallest_font(digraph) * CUSHION
    if scale < floor:
        scale = floor
        printsize.note(
            f"{what} needs {w * scale:.3g} in at {ps.font_pt:g} pt text, more than the "
            f"{printsize.inches(ps.width_pt)} asked: drawn {w * scale:.3g} × {h * scale:.3g} in "
            "(a narrower focus, the other direction or smaller text draws it narrower)"
        )
    digraph.attr("graph", size=f"{w * scale + 2 * PAD:.4f},{h * scale + 1:.4f}!")
    return w * scale + 2 * PAD, h * scale + 2 * PAD


def say_if_long(what, size):
    """A `FitNote` when a figure of `size` (inches) is more than LONGEST to 1 either way."""
    if size is None:
        return
    w, h = size
    if max(w / h, h / w) > LONGEST:
        printsize.note(
            f"{what} is {w:.3g} × {h:.3g} in ({max(w / h, h / w):.1f}:1): it could not be folded into rows or "
            "columns that keep its order (a narrower focus or the other direction shortens it)"
        )
