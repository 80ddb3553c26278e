"""The explorer's pages in the system's Chromium (Playwright), for tests/test_explore*.py: one browser
per module (the `browser` fixture), pages opened from disk with every request intercepted (a page that
reaches for anything but its own file fails).

A test acts as a person does, with Playwright's input devices: the mouse (click, double-click, drag,
wheel), the keyboard, touch through CDP. It reads the page (the DOM, `window.explorer.state`) to check
what happened, never calls the page's functions to make it happen (tests/contract/test_real_input.py)."""

import shutil
import time
from pathlib import Path

import pytest

from microtrace.viz.explore.chromium import ARGS, CHROMIUM

playwright = pytest.importorskip(
    "playwright.sync_api", reason="playwright is in the test extra: pip install -e '.[test]'"
)

NEEDS = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium (.ci/run installs it)"),
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed"),
]


def launch():
    """The system's Chromium, headless (the `browser` fixture of tests/conftest.py)."""
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=list(ARGS))
        yield b
        b.close()


_windows: dict = {}  # (browser, touch, motion, size, audited) -> (the browser, the context its pages open in)


def window(browser, touch=False, motion=False, size=(1280, 800), audited=False):
    """The context (a browser window of `size`, with touch or not) that `Opened` opens its pages in: one
    per browser and kind, as a person opens each page in a new tab (a new context starts processes of its
    own, ~0.2 CPU-s more a page). Pages share nothing of each other's but the window's permissions (the
    pages keep no storage, no cookies). The window asks for reduced motion, as some readers' systems do,
    unless `motion`: a re-layout then shows its result at once, the same drawing it slides into otherwise
    (each slide costs the browser ~0.3 CPU-s); test_explore_input tests the slide itself. `audited`: the
    pages' Content-Security-Policy is not enforced, so that an auditor's script can be put in (tests/a11y)."""
    key = (id(browser), touch, motion, size, audited)
    if key not in _windows or not _windows[key][0].is_connected():
        _windows[key] = (browser, browser.new_context(viewport={"width": size[0], "height": size[1]}, has_touch=touch,
                                                      reduced_motion=None if motion else "reduce",
                                                      bypass_csp=audited))  # fmt: skip
    return _windows[key][1]


_tabs: dict = {}  # id(window) -> (the window, its tabs in use, its tabs that closed pages left blank)
_heard: dict = {}  # id(tab) -> the listeners its page was opened with


def _tabs_of(context):
    owner, *lists = _tabs.get(id(context), (None, [], []))
    if owner is not context:  # (a window that was closed left the id to this one)
        _tabs[id(context)] = (context, *(lists := [[], []]))
    return lists


def tab(context, heard=None):
    """A tab of the window `context` to open a page in, in front, listening with `heard` ({event: listener},
    until `untab`): one a closed page left blank, as a person opens the next page in the tab they have, else
    a new one. A new tab starts a renderer process of its own: ~0.5 CPU-s more than loading the page into
    an open tab (0.79 against 0.28 for a blank page)."""
    used, idle = _tabs_of(context)
    page = idle.pop() if idle else context.new_page()
    page.bring_to_front()  # a tab behind another gets no animation frames, and the page draws in them
    used.append(page)
    _heard[id(page)] = heard or {}
    for event, listen in _heard[id(page)].items():
        page.on(event, listen)
    return page


def untab(page, context, keep):
    """`page`'s tab done with: left blank for the next page (`keep`), or closed; the tab opened before it
    comes to the front again, as when a person closes a tab."""
    used, idle = _tabs_of(context)
    used.remove(page)
    for event, listen in _heard.pop(id(page)).items():
        page.remove_listener(event, listen)
    if keep:
        page.mouse.move(0, 0)  # (the pointer would hover over the next page)
        page.goto("about:blank")
        idle.append(page)
    else:
        page.close()
    if used:
        used[-1].bring_to_front()


class Opened:
    """A page opened from disk in a tab (`tab`), with the console errors and the requests it made."""

    def __init__(self, browser, path, hash="", touch=False, motion=False):
        self.errors, self.requests, self.touched = [], [], touch
        self.context = window(browser, touch, motion)
        self.page = tab(self.context, {
            "console": lambda m: m.type == "error" and self.errors.append(m.text),
            "pageerror": lambda e: self.errors.append(str(e)),
        })  # fmt: skip
        self.page.set_default_timeout(10_000)
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri() + hash)
        self.until("!!document.body.dataset.ready")

    def _route(self, route):
        url = route.request.url
        self.requests.append(url)
        if url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    def js(self, code, arg=None):
        return self.page.evaluate(code, arg)

    def point(self, title):
        """Where a person puts the pointer to reach the item titled `title`: the middle of a box, a
        cluster's label; the canvas dragged first if it is out of sight. Checked: the item is what is there.
        First the drawing stops moving (after a group opens in place the boxes slide for a moment)."""
        self.until("!document.getAnimations().length")
        for _ in range(3):
            x, y, c = self.js(_POINT, title)
            dx = min(0, c[2] - 40 - x) or max(0, c[0] + 40 - x)
            dy = min(0, c[3] - 40 - y) or max(0, c[1] + 40 - y)
            if not (dx or dy):
                break
            self.drag(((c[0] + c[2]) / 2, (c[1] + c[3]) / 2), (dx, dy))
        hit = self.js(_HIT, [x, y])
        assert hit == title, f"the pointer at {x:.0f},{y:.0f} is on {hit!r}, not on {title!r}"
        return x, y

    def click(self, title):
        self.page.mouse.click(*self.point(title))

    def dblclick(self, title):
        self.page.mouse.dblclick(*self.point(title))

    def drag(self, start, by, steps=8):
        """Press the mouse at `start`, move it by `by` in `steps`, release."""
        m = self.page.mouse
        m.move(*start)
        m.down()
        for k in range(1, steps + 1):
            m.move(start[0] + by[0] * k / steps, start[1] + by[1] * k / steps)
        m.up()

    def open_item(self, title):
        """Click the item (group or cluster) titled `title` and press Enter: its view replaces this one
        (a double-click opens a group in place); wait for it."""
        before = self.js("document.body.dataset.opens")
        self.click(title)
        self.page.keyboard.press("Enter")
        self.until("b => document.body.dataset.opens !== b && !document.querySelector('#stage.zooming')", before)

    def search(self, text):
        """Type `text` into the search box and press Enter."""
        self.page.locator("#q").click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(text)
        self.page.keyboard.press("Enter")

    def go(self, key):
        """The view of `key` (a scope path; "" the block view), as a person gets there: up with Escape to
        the block view, then by search."""
        self.page.mouse.click(*self.js(_TITLE))  # off the search box: keys go to the page
        while self.js("window.explorer.state.view !== 0 || window.explorer.state.opened.length > 0"):
            before = self.js("[window.explorer.state.view, window.explorer.state.opened.length]")
            self.page.keyboard.press("Escape")
            self.until(
                "b => window.explorer.state.view !== b[0] || window.explorer.state.opened.length !== b[1]", before
            )
        if key:
            self.search(key)
            self.until(
                "k => window.explorer.state.view >= 0 && JSON.parse(document.getElementById('index').textContent).views[window.explorer.state.view].key === k",
                key,
            )
        self.until("!document.querySelector('#stage.zooming')")

    def seek(self, t):
        """The player's time to `t`: a click on the slider near it, then the arrow keys to exactly it."""
        box = self.page.locator("#p-t").bounding_box()
        end = self.js("window.explorer.END")
        thumb = 8  # the thumb's half width: its centre runs from box.x + 8 to box.x + width - 8
        self.page.mouse.click(box["x"] + thumb + (box["width"] - 2 * thumb) * t / end, box["y"] + box["height"] / 2)
        for _ in range(200):
            now = self.js("window.explorer.state.t")
            if now == t:
                return
            self.page.keyboard.press("ArrowRight" if now < t else "ArrowLeft")
        raise AssertionError(f"the slider did not reach {t} (at {now})")

    def until(self, code, arg=None, timeout=10.0):
        """Wait until `code` is true in the page (polled from here: the page's CSP forbids the eval
        that Playwright's wait_for_function uses)."""
        end = time.monotonic() + timeout
        while not self.js(code, arg):
            assert time.monotonic() < end, f"timed out waiting for {code}"
            time.sleep(0.02)

    def view_key(self):
        return self.js(
            "window.explorer.state.view >= 0 && JSON.parse(document.getElementById('index').textContent).views[window.explorer.state.view].key"
        )

    def inspector(self, key):
        return self.value(f'#inspector td[data-key="{key}"]')

    def value(self, selector):
        """The text of a cell as copied: a number's full value (it shows 4 significant digits)."""
        cell = self.page.locator(selector).first
        fig = cell.locator(".fig")
        return fig.get_attribute("title") if fig.count() else cell.inner_text()

    def close(self):
        """Leave the tab blank for the next page, as it was made: no listener, no route, nothing of this
        page's document left. A tab a test drove through a CDP session of its own (touch) is closed
        instead: what it set there would stay."""
        self.page.unroute("**/*", self._route)
        untab(self.page, self.context, keep=not self.touched)


# the middle of an item's box (a node), or of its label (a cluster, a group open in place: what is inside
# lies over their middle); and the canvas
_POINT = """t => {
  const g = [...document.querySelectorAll('#stage g')].find(g => g.querySelector(':scope > title')?.textContent === t);
  if (!g) throw new Error('no item ' + t + ' in the view');
  const part = g.matches('.cluster, .opened') ? g.querySelector(':scope > text') || g : g.querySelector(':scope > rect, :scope > ellipse, :scope > polygon, :scope > path') || g;
  const r = part.getBoundingClientRect(), c = document.getElementById('canvas').getBoundingClientRect();
  return [r.x + r.width / 2, r.y + r.height / 2, [c.left, c.top, c.right, c.bottom]];
}"""
# the item under a point, as the page names it
_HIT = """([x, y]) => {
  const g = document.elementFromPoint(x, y)?.closest('#stage g.node, #stage g.cluster, #stage g.edge');
  return g ? g.querySelector(':scope > title').textContent : null;
}"""
# somewhere to click that is no control: the page's title
_TITLE = """() => { const r = document.getElementById('title').getBoundingClientRect(); return [r.x + 4, r.y + r.height / 2]; }"""
