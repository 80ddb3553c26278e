"""What the two vector writers (`canvas.SvgCanvas`, `pdf.PdfCanvas`) share: text and token labels placed
by the same arithmetic as Pillow's (`fonts.draw_text`, `fonts.draw_token`), so that a layout measured
for the PNG fits the SVG and the PDF. A writer supplies five primitives:

    _run(x, baseline, text, size, fill)        one line of text, its baseline's left end at (x, baseline)
    _turned_run(x, baseline, text, size, fill) the same written upwards, turned about (x, baseline)
    _badge(x0, y0, w, h, radius, fill)         a rounded rectangle
    _turn(cx, cy) / _unturn()                  what is drawn between them is turned 90 degrees
                                               counter-clockwise about (cx, cy)
"""

from microtrace.viz.draw import fonts


class VectorText:
    def text(self, xy, text, size, fill, anchor="la"):
        """`text` with its box anchored at `xy` as `fonts.draw_text` does; returns the box."""
        w, h = fonts.text_size(text, size)
        x, y = xy
        x -= {"m": w / 2, "r": w}.get(anchor[0], 0)
        y -= {"m": h / 2, "d": h}.get(anchor[1], 0)
        x, y = int(round(x)), int(round(y))
        self._run(x, y + fonts.ascent(size), text, size, fill)
        return (x, y, x + w, y + h)

    def vtext(self, center, text, size, fill):
        """Text written upwards, centred on `center`."""
        w, h = fonts.text_size(text, size)
        # Turned about its baseline's start: the baseline sits ascent - h/2 to the right of the centre.
        self._turned_run(center[0] - h / 2 + fonts.ascent(size), center[1] + w / 2, text, size, fill)

    def token(self, center, label, size, fill):
        """A token label centred on `center`: its text, the BOS badge, or a whitespace marker."""
        badge = fonts.badge_text(label)
        cx, cy = center
        if badge is not None:
            w, h = fonts.badge_box_size(badge, size)
            x0, y0 = round(cx - w / 2), round(cy - h / 2)
            self._badge(x0, y0, w, h, max(1, h // 4), fonts.BOS_BADGE_FILL)
            self.text((x0 + w / 2, y0 + h / 2), badge, fonts.badge_size(size), fonts.BOS_BADGE_TEXT_FILL, anchor="mm")
        elif label == " ":
            points, width = fonts.space_marker(center, size)
            self.line(points, fill, width)
        else:
            self.text(center, label, size, fill, anchor="mm")

    def vtoken(self, top_center, label, size, fill):
        """A token label written upwards: centred on x = top_center[0], its top at top_center[1]."""
        w = fonts.token_width(label, size) + 2
        center = (top_center[0], top_center[1] + w / 2)
        self._turn(*center)
        self.token(center, label, size, fill)
        self._unturn()
