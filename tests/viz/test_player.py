"""The player's buttons (viz/player.py): one markup for the explorer and the film, titled in each page's
words, any title written as text."""

from html.parser import HTMLParser

from microtrace.viz.player import ICONS, player_buttons


class Buttons(HTMLParser):
    def __init__(self):
        super().__init__()
        self.buttons, self.icons = [], {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "button":
            self.buttons.append((a["id"], a["title"], a["aria-label"]))
        elif tag == "svg":
            self.icons[self.buttons[-1][0]] = self.icons.get(self.buttons[-1][0], 0) + 1


def test_five_buttons_titled_as_given():
    labels = {b: (f'{b} "<&> title', f"{b}'s label") for b in ICONS}
    p = Buttons()
    p.feed(player_buttons(labels))
    assert p.buttons == [(b, f'{b} "<&> title', f"{b}'s label") for b in ICONS]
    assert p.icons == {"p-start": 1, "p-back": 1, "p-play": 2, "p-next": 1, "p-end": 1}


def test_both_pages_use_it():
    from importlib import resources

    for package in ("microtrace.viz.explore", "microtrace.viz.film"):
        template = resources.files(package).joinpath("template.html").read_text(encoding="utf-8")
        assert "{{player}}" in template and '<button id="p-play"' not in template
