"""The explorer's pages in the system's Chromium (Playwright), for tests/test_explore*.py: one browser
per module (the `browser` fixture), pages opened from disk with every request intercepted (a page that
reaches for anything but its own file fails)."""

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


class Opened:
    """A page opened from disk, with the console errors and the requests it made."""

    def __init__(self, browser, path, hash="", touch=False):
        self.errors, self.requests = [], []
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, has_touch=touch)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
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

    def open_item(self, title):
        """Select the item (group or cluster) whose SVG title is `title` and press Enter: its view
        replaces this one (a double-click opens a group in place); wait for it."""
        before = self.js("document.body.dataset.opens")
        self.fire(title, "click")
        self.page.locator("#canvas").press("Enter")
        self.until("b => document.body.dataset.opens !== b && !document.querySelector('#stage.zooming')", before)

    def fire(self, title, event):
        """A mouse event on the SVG item whose title is `title` (a cluster lies under its nodes)."""
        found = self.js(
            "([t, e]) => { const g = [...document.querySelectorAll('#stage g')].find(g => g.querySelector(':scope > title')?.textContent === t);"
            " if (g) g.dispatchEvent(new MouseEvent(e, {bubbles: true})); return !!g; }",
            [title, event],
        )
        assert found, f"no item {title!r} in the view"

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
        return self.page.locator(f'#inspector td[data-key="{key}"]').first.inner_text()

    def close(self):
        self.context.close()
