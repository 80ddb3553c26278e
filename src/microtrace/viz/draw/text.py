"""Blocks of text on a figure (a title, a caption, notes): wrapped to a width, measured, and drawn on a
canvas. The one title-and-caption code of every figure drawn on `canvas` (gradient flow, attention).

A block is paragraphs of lines; lines are px(2) apart, paragraphs px(6), and a block may keep a margin
above or below it (px(14) between a figure's title and its content).
"""

from dataclasses import dataclass

from microtrace.viz.draw import colormap, fonts

INK = colormap.INK
MUTED_INK = colormap.MUTED_INK
LINE_GAP = 2
PARAGRAPH_GAP = 6
TITLE_GAP = 14  # between a figure's title (or caption) block and its content


@dataclass(frozen=True)
class Words:
    """A figure's own words as a caller wants them: its `title` (None: the figure's own; "" none), and
    its caption and notes or none (a paper has its own caption)."""

    title: str | None = None
    caption: bool = True

    def title_of(self, default):
        return default if self.title is None else self.title

    def caption_of(self, text):
        return text if self.caption else ""


@dataclass(frozen=True)
class TextBlock:
    """Wrapped paragraphs, each `(lines, size, fill)`; `above` and `below` are margins in pixels."""

    paragraphs: tuple
    scale: float
    above: int = 0
    below: int = 0

    @property
    def height(self):
        """The block's height with its margins; 0 for a block with no text."""
        if not self.paragraphs:
            return 0
        gap = fonts.px(LINE_GAP, self.scale)
        body = sum(fonts.block_height(list(lines), size, gap) for lines, size, _ in self.paragraphs)
        body += fonts.px(PARAGRAPH_GAP, self.scale) * (len(self.paragraphs) - 1)
        return self.above + body + self.below

    @property
    def width(self):
        """The widest line."""
        return max((fonts.block_width(list(lines), size) for lines, size, _ in self.paragraphs), default=0)

    def draw(self, canvas, x, y):
        """Draw the block with its top margin at `y`."""
        gap = fonts.px(LINE_GAP, self.scale)
        y += self.above
        for lines, size, fill in self.paragraphs:
            for line in lines:
                canvas.text((x, y), line, size, fill)
                y += fonts.line_height(size) + gap
            y += fonts.px(PARAGRAPH_GAP, self.scale) - gap


# How many characters of a document (or any text from the data) a title or a caption quotes: a title costs
# the same to lay out whatever the document's length (a 50,000-character name took minutes to wrap, and
# dot refuses a label over 16,384); the whole text stays in the trace, the report and the explorer.
QUOTED_CHARS = 60


def shorten(text, limit=QUOTED_CHARS):
    """`text` as a title quotes it: at most `limit` characters, the cut marked with an ellipsis and the
    length (“abcd…” (50,000 characters)), so that no title grows with its data."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters)"


def text_block(paragraphs, width, scale, above=0, below=0):
    """A `TextBlock` of `paragraphs`, each `(text, size, fill)`, wrapped to `width` pixels; empty texts
    are left out."""
    wrapped = tuple((tuple(fonts.wrap(text, size, width)), size, fill) for text, size, fill in paragraphs if text)
    return TextBlock(wrapped, scale, above if wrapped else 0, below if wrapped else 0)


def heading(title, caption, width, scale):
    """A figure's title (ink) and caption (muted) above its content."""
    s = fonts.sizes(scale)
    return text_block(
        [(title, s.title, INK), (caption, s.caption, MUTED_INK)], width, scale, below=fonts.px(TITLE_GAP, scale)
    )


def note(text, width, scale):
    """A figure's footnote: `text` set like a heading's caption."""
    return text_block([(text, fonts.sizes(scale).caption, MUTED_INK)], width, scale)
