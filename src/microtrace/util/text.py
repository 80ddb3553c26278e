"""Text shown to a person: every control character made visible, so that a document, a title or a name
is safe in a terminal and in DOT, XML or HTML text (the engine's tokens, the tracer's exports and viz's
labels all show text through `visible`)."""

# Characters that act instead of showing (a terminal's escape sequences, a DOT or XML parser's
# forbidden characters): C0 controls and DEL become their Unicode control pictures (U+2400..U+2421),
# C1 controls U+2426 (a reversed question mark, "substitute"), and what XML 1.0 forbids besides
# (U+FFFE, U+FFFF, lone surrogates) U+FFFD. Each stays one visible character.
_VISIBLE = {c: 0x2400 + c for c in range(0x20)}
_VISIBLE.update({0x7F: 0x2421, 0xFFFE: 0xFFFD, 0xFFFF: 0xFFFD})
_VISIBLE.update({c: 0x2426 for c in range(0x80, 0xA0)})
_VISIBLE.update({c: 0xFFFD for c in range(0xD800, 0xE000)})


def visible(text):
    """`text` with every control character (and what XML cannot hold) shown as a visible stand-in,
    so that a document is safe to print to a terminal and to put in DOT, XML or HTML text."""
    return str(text).translate(_VISIBLE)
