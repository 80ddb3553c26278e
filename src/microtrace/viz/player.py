"""The player's buttons: one markup for the two pages that play something, the explorer (a step's forward
and backward pass, node by node) and the film (a training run, frame by frame). Each page titles the
buttons in its own words and wires them in its own script, by their ids (p-start, p-back, p-play, p-next,
p-end); their look is in each page's CSS (`#p-play.playing` shows the pause icon).

    player_buttons({"p-start": ("first frame (Home)", "first frame"), ...})   # str: HTML, one button a line
"""

from html import escape

# Each button's icons, drawn in a 12x12 box (class, SVG path): a font without the glyph would show a box
ICONS = {
    "p-start": [("", "M1 1h2v10H1zM11 1v10L4 6z")],
    "p-back": [("", "M8 1v10L1 6zM9 1h2v10H9z")],
    "p-play": [("i-play", "M2 1v10l9-5z"), ("i-pause", "M2 1h3v10H2zM7 1h3v10H7z")],
    "p-next": [("", "M1 1h2v10H1zM4 1v10l7-5z")],
    "p-end": [("", "M1 1v10l7-5zM9 1h2v10H9z")],
}
NOTE = "<!-- the buttons' icons are drawn, not characters: a font without the glyph would show a box -->"


def player_buttons(labels: dict, indent: str = "  ") -> str:
    """The five buttons, in ICONS' order, each with `labels[id]` = (title, aria-label); one a line, the
    lines after the first indented by `indent` (the template's placeholder stands where the first goes)."""
    lines = [NOTE]
    for button, icons in ICONS.items():
        title, aria = labels[button]
        svgs = "".join(_icon(cls, path) for cls, path in icons)
        lines.append(f'<button id="{button}" title="{escape(title)}" aria-label="{escape(aria)}">{svgs}</button>')
    return ("\n" + indent).join(lines)


def _icon(cls, path):
    named = f' class="{cls}"' if cls else ""
    return f'<svg viewBox="0 0 12 12"{named}><path d="{path}"/></svg>'
