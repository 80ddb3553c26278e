"""Looks shared by the Graphviz diagrams: themes, the font, number text, colour and pen-width scales,
and the legend.

Everything here is a pure function of its arguments, so the same graph and options give the same DOT
source, byte for byte.
"""

import math
from dataclasses import dataclass
from html import escape

from graphviz import nohtml

from microtrace.util import numfmt
from microtrace.util.text import visible
from microtrace.viz.draw import colormap
from microtrace.viz.draw.colormap import hex_color

# One fontconfig family list: DejaVu Sans ships with Graphviz's Debian/Ubuntu packages (fonts-dejavu-core)
# and covers the symbols we use (‖ ∂ Σ × →); cairo embeds it in PDFs, and SVG viewers without it fall
# back along the list.
FONT = "DejaVu Sans,Liberation Sans,Arial,Helvetica,sans-serif"
MONO = "DejaVu Sans Mono,Liberation Mono,Courier New,monospace"

COLORS = ("grad", "value", "none")
RANKDIRS = ("LR", "TB")


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    ink: str  # text
    muted: str  # secondary text, cluster labels
    cluster_pen: str
    cluster_fills: tuple  # by nesting depth
    node_fill: str  # nodes when colouring is off
    op_fill: str  # micrograd-style op nodes
    stream: str  # residual-stream edges
    kv: str  # KV-cache edges (earlier position -> later one)
    param: str  # parameter reads
    data: str  # other edges
    highlight: str  # top gradient paths
    zero_fill: str  # exactly-zero gradient
    nonfinite_fill: str  # nan / inf
    nonfinite_pen: str
    stub_fill: str  # boundary stubs of a focused view
    # Where a magnitude colour scale starts along viridis: its darkest purple is invisible on a dark
    # background (contrast 1.2:1), viridis at 0.35 has 3:1 against it (WCAG's minimum for graphics).
    scale_floor: float = 0.0


# Each colour of the two themes side by side: (light, dark).
_COLOURS = {
    "background": ("#ffffff", "#16181d"),
    "ink": ("#1f1f1f", "#e8e8e8"),
    "muted": ("#5a5a5a", "#a8a8a8"),
    "cluster_pen": ("#b8b8b8", "#4a4f5a"),
    "cluster_fills": (("#f6f6f4", "#ecebe7", "#e2e0da", "#d8d6cf"), ("#1e2128", "#252932", "#2c313b", "#333845")),
    "node_fill": ("#ffffff", "#2a2e37"),
    "op_fill": ("#ffffff", "#2a2e37"),
    "stream": ("#2b6cb0", "#63a4ff"),
    "kv": ("#dd6b20", "#f6ad55"),
    "param": ("#8c8c8c", "#8a8f99"),
    "data": ("#4a4a4a", "#b5b5b5"),
    "highlight": ("#e53e3e", "#ff5c5c"),
    "zero_fill": ("#ffffff", "#16181d"),
    "nonfinite_fill": (hex_color(colormap.NAN_COLOR),) * 2,
    "nonfinite_pen": ("#e00000", "#ff3030"),
    "stub_fill": ("#ffffff", "#16181d"),
}
LIGHT = Theme(name="light", **{key: pair[0] for key, pair in _COLOURS.items()})
DARK = Theme(name="dark", **{key: pair[1] for key, pair in _COLOURS.items()}, scale_floor=0.35)

THEMES = {"light": LIGHT, "dark": DARK}


def theme(name):
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}: use one of {', '.join(THEMES)}")
    return THEMES[name]


def check_rankdir(rankdir):
    """ValueError unless `rankdir` is one of RANKDIRS."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"unknown rankdir {rankdir!r}: use LR or TB")


# --- text ------------------------------------------------------------------------------------------


# The two ways any text reaches DOT: every plain label and tooltip through `dot_text` (or `tooltip`),
# every piece of an HTML-like label through `html`. Both show control characters as visible stand-ins
# (util.text.visible), which also keeps the SVG that dot writes valid XML.


def edge_label(text):
    """An edge label with room around it: Graphviz sets a label as wide as its text in the middle of the
    edge, so on a short edge the text touches the arrowhead; the spaces keep them apart."""
    return f"\u2002{text}\u2002"  # en spaces: plain spaces at the ends of a label are dropped


def html(text):
    """Text safe inside a Graphviz HTML-like label."""
    return escape(visible(text), quote=True)


def _dot_escaped(text):
    # dot reads \n, \l, \N ... inside a quoted string as escapes: a backslash of the text is doubled. The
    # graphviz package then escapes the double quotes (and `nohtml` keeps "<...>" from being read as HTML).
    return visible(text).replace("\\", "\\\\")


def dot_text(text):
    """Any text as a plain DOT label, shown exactly as it is (but for control characters)."""
    return nohtml(_dot_escaped(text))


def tooltip(pairs):
    """A tooltip listing `key: value` lines (Graphviz turns \\n into a line break in SVG titles)."""
    return nohtml("\\n".join(_dot_escaped(f"{k}: {v}") for k, v in pairs))


# --- colour and width scales ----------------------------------------------------------------------


@dataclass(frozen=True)
class NodeColors:
    """How node fills are chosen: by |grad| on a log scale, by value on a diverging scale, or not."""

    mode: str  # grad | norm (a group's ‖value‖) | value | none
    scale: object = None  # colormap.ColorScale, or None when there is nothing to scale

    @property
    def magnitude(self):
        """Coloured by a size on a log scale (|grad|, ‖value‖) rather than by a signed value."""
        return self.mode in ("grad", "norm")

    def fill(self, value, th):
        """(fill, text colour) for a node whose coloured quantity is `value`."""
        if value != value or math.isinf(value):
            return th.nonfinite_fill, "#ffffff"
        if self.mode == "none" or self.scale is None:
            return th.node_fill, th.ink
        if self.magnitude and value == 0:
            return th.zero_fill, th.ink
        if self.magnitude:
            rgb = self.color_at(self.scale.position(abs(value)), th)
        else:
            rgb = self.scale.color(value)
        return hex_color(rgb), hex_color(colormap.text_color_on(rgb, dark=(20, 20, 20), light=(255, 255, 255)))

    def color_at(self, t, th):
        """The colour at position t (0..1) of the scale, as the theme shows it (from its scale_floor)."""
        if self.magnitude:
            t = th.scale_floor + (1 - th.scale_floor) * t
        return self.scale.color_at(t)


def node_colors(mode, values):
    """The colouring for `mode` over the coloured quantity of every node in a diagram."""
    if mode not in COLORS and mode != "norm":
        raise ValueError(f"unknown colouring {mode!r}: use one of {', '.join(COLORS)}")
    if mode == "none":
        return NodeColors("none")
    values = list(values)
    if mode in ("grad", "norm"):
        rng = colormap.magnitude_range(values)
        if rng is None:
            return NodeColors(mode)
        lo, hi = rng
        if hi <= lo * 1.0001:  # one magnitude only: widen so that the log scale exists
            lo, hi = lo / 10, hi * 10
        lo = max(lo, hi * 1e-8)  # eight decades are plenty; tinier magnitudes share the darkest colour
        return NodeColors(mode, colormap.log_scale(lo, hi))
    finite = [abs(v) for v in values if v == v and not math.isinf(v)]
    return NodeColors("value", colormap.symmetric_scale(max(finite, default=0.0)))


MIN_PEN, MAX_PEN = 0.6, 7.0


@dataclass(frozen=True)
class PenScale:
    """Edge pen width from the magnitude of the gradient flow it carries, on a log scale: the smallest
    nonzero flow in the diagram gets MIN_PEN, the largest MAX_PEN. Monotone in |flow|."""

    lo: float = 0.0
    hi: float = 0.0

    def width(self, flow):
        a = abs(flow)
        if a != a or math.isinf(a):
            return MAX_PEN
        if a == 0 or not self.hi > 0:
            return MIN_PEN
        if self.hi <= self.lo:
            return (MIN_PEN + MAX_PEN) / 2
        t = colormap.log_position(a, self.lo, self.hi)
        return MIN_PEN + (MAX_PEN - MIN_PEN) * t

    def pen(self, flow):
        return f"{self.width(flow):.2f}"


def pen_scale(flows):
    rng = colormap.magnitude_range(list(flows))
    if rng is None:
        return PenScale()
    lo, hi = rng
    return PenScale(max(lo, hi * 1e-6), hi)  # six decades of width; thinner flows share the thinnest pen


# --- title and legend -----------------------------------------------------------------------------
# The legend is a strip under the title, both in the graph's own label: that costs height only, where a
# legend node would widen a rank (and the LR pictures are the wide ones).

_SWATCHES = 9


def _cell(inner, align="LEFT"):
    return f'<TD ALIGN="{align}" VALIGN="TOP">{inner}</TD>'


def _stack(rows):
    """A small table of rows, each row a list of <TD> strings."""
    body = "".join(f"<TR>{''.join(r)}</TR>" for r in rows)
    return f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="0">{body}</TABLE>'


def _text(s, size=None, bold=False):  # noqa: A002
    t = html(s)
    if bold:
        t = f"<B>{t}</B>"
    return f'<FONT POINT-SIZE="{size}">{t}</FONT>' if size else t


def _bar(color, width, height):
    return f'<TD BGCOLOR="{color}" WIDTH="{width}" HEIGHT="{max(1, height)}" FIXEDSIZE="TRUE"></TD>'


def legend_parts(colors, pens, th, *, edge_kinds=(), flow_text="Σ|gradient flow|", notes=(), precision=2):
    """The legend as (columns, notes): the columns are small HTML-like tables (node colour, marks, edge
    width, edge colour), the notes lines of text."""
    parts = []
    if colors.mode != "none" and colors.scale is not None:
        sc = colors.scale
        what = {"grad": "node colour: |grad|, log scale", "norm": "node colour: ‖value‖, log scale"}.get(
            colors.mode, "node colour: value"
        )
        swatches = "".join(_bar(hex_color(colors.color_at(k / (_SWATCHES - 1), th)), 14, 12) for k in range(_SWATCHES))
        lo = numfmt.fixed(sc.vmin, precision)
        if colors.magnitude:
            lo = "≤ " + lo
        ends = (
            f'<TD COLSPAN="4" ALIGN="LEFT">{_text(lo, 9)}</TD><TD></TD>'
            f'<TD COLSPAN="4" ALIGN="RIGHT">{_text(numfmt.fixed(sc.vmax, precision), 9)}</TD>'
        )
        scale = f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>{swatches}</TR><TR>{ends}</TR></TABLE>'
        parts.append(_stack([[_cell(_text(what))], [_cell(scale)]]))
    marks = []
    if colors.magnitude:
        marks.append([_mark(th.zero_fill, th.muted, "dashed"), _cell(_text("grad exactly 0"))])
    marks.append([_mark(th.nonfinite_fill, th.nonfinite_pen, "solid"), _cell(_text("nan or inf"))])
    parts.append(_stack(marks))
    if pens.hi > 0:
        rows = [[_cell(_text(f"edge width: {flow_text}, log"), "LEFT")]]
        samples = [pens.lo, math.sqrt(pens.lo * pens.hi), pens.hi] if pens.hi > pens.lo else [pens.hi]
        line = []
        for f in samples:
            w = int(round(pens.width(f)))
            bar = f'<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>{_bar(th.data, 28, w)}</TR></TABLE>'
            line.append(f'<TD VALIGN="MIDDLE">{bar}</TD><TD ALIGN="LEFT">{_text(numfmt.fixed(f, precision), 9)}</TD>')
        rows.append([f'<TD><TABLE BORDER="0" CELLSPACING="3" CELLPADDING="0"><TR>{"".join(line)}</TR></TABLE></TD>'])
        parts.append(_stack(rows))
    if edge_kinds:
        rows = []
        for color, text in edge_kinds:
            bar = f'<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>{_bar(color, 28, 3)}</TR></TABLE>'
            rows.append([f'<TD VALIGN="MIDDLE">{bar}</TD>', _cell(_text(text))])
        parts.append(_stack(rows))
    return parts, list(notes)


def _mark(fill, pen, style):
    return (
        f'<TD BGCOLOR="{fill}" COLOR="{pen}" BORDER="2" STYLE="{style}" WIDTH="16" HEIGHT="12" FIXEDSIZE="TRUE"></TD>'
    )


LEGEND_SIZE = 10


def title_label(title, legend=None, th=None):
    """The graph label: the title, and under it the legend's columns in one row, the notes below."""
    rows = [f'<TR><TD ALIGN="LEFT">{_text(title, 16)}</TD></TR>']
    if legend:
        columns, notes = legend
        pen = th.cluster_pen if th else "#b8b8b8"
        cells = "".join(f'<TD VALIGN="TOP" ALIGN="LEFT">{c}</TD>' for c in columns)
        note = f'<TR><TD COLSPAN="{len(columns)}" ALIGN="LEFT">{_text("  ·  ".join(notes))}</TD></TR>' if notes else ""
        rows.append(
            f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="{LEGEND_SIZE}"><TABLE BORDER="1" COLOR="{pen}" STYLE="rounded" '
            f'CELLBORDER="0" CELLSPACING="6" CELLPADDING="0"><TR>{cells}</TR>{note}</TABLE></FONT></TD></TR>'
        )
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" CELLPADDING="0">{"".join(rows)}</TABLE>>'


def stacked_title_label(lines, legend=None, th=None):
    """The graph label for a narrow page: the title's `lines`, and under them the legend stacked as
    `legend_node_label` stacks it (in a box), as narrow as its widest line."""
    title = '<BR ALIGN="LEFT"/>'.join(_text(line) for line in lines)
    rows = [f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="16">{title}<BR ALIGN="LEFT"/></FONT></TD></TR>']
    if legend:
        pen = th.cluster_pen if th else "#b8b8b8"
        inner = legend_node_label(legend)[1:-1]  # the HTML-like label without its < >
        rows.append(f'<TR><TD ALIGN="LEFT" BORDER="1" COLOR="{pen}" STYLE="rounded">{inner}</TD></TR>')
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" CELLPADDING="0">{"".join(rows)}</TABLE>>'


def legend_node_label(legend):
    """The legend as a node's label: its columns stacked, then the notes."""
    columns, notes = legend
    rows = "".join(f'<TR><TD ALIGN="LEFT">{c}</TD></TR>' for c in columns)
    if notes:
        rows += f'<TR><TD ALIGN="LEFT">{_stack([[_cell(_text(n))] for n in notes])}</TD></TR>'
    return (
        f'<<FONT POINT-SIZE="{LEGEND_SIZE}"><TABLE BORDER="0" CELLBORDER="0" CELLSPACING="5" CELLPADDING="0">'
        f'<TR><TD ALIGN="LEFT"><B>Legend</B></TD></TR>{rows}</TABLE></FONT>>'
    )
