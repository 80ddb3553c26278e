"""Browser tests stand for a person: they act through Playwright's input devices (page.mouse,
page.keyboard, touch through CDP's Input.dispatchTouchEvent), never by a synthetic event on an element or
a call into the page's functions where a person would click or type (issue 20: the explorer's tests all
passed while a real click did nothing, because they fired `dispatchEvent` on the box). Reading the page
(the DOM, window.explorer.state, a pure lookup such as pathFrom) to check what happened is fine."""

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# what a test must not do in the page, by name (this file names them, so it is skipped)
SYNTHETIC = {
    "an event fired on an element": re.compile(
        r"dispatchEvent|dispatch_event|\bnew (Mouse|Pointer|Keyboard|Touch|Wheel|Focus|Input)Event\b"
    ),
    "a click, focus or submit called in the page": re.compile(
        r"\.(click|dblclick|focus|blur|submit|requestSubmit)\(\)\s*[;)\"'`]"
    ),
    "a page function that acts": re.compile(r"explorer\.(open|search|seek|select|play|pause|step)\("),
    "a handler called or a value set in the page": re.compile(r"\.on\w+\s*\(|\.(value|checked)\s*=[^=]|\.onclick\b"),
}
# Playwright's own shortcuts that skip the input devices
SHORTCUTS = re.compile(
    r"(?:page|\))\.(fill|select_option|set_input_files|set_checked|check|uncheck|dispatch_event|evaluate_handle)\("
)


def js_strings(text):
    """The string literals of a Python source (what page.evaluate runs is one of them)."""
    return re.findall(r'"""(?:.|\n)*?"""|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'', text)


def offences(text):
    out = [name for name, rx in SYNTHETIC.items() if any(rx.search(s) for s in js_strings(text))]
    out += [f"Playwright's {m.group(1)}" for m in SHORTCUTS.finditer(text)]
    return out


def test_no_browser_test_fires_a_synthetic_event():
    me = Path(__file__).resolve()
    found = {}
    for path in sorted(TESTS.rglob("*.py")):
        if path.resolve() == me:
            continue
        bad = offences(path.read_text(encoding="utf-8"))
        if bad:
            found[str(path.relative_to(TESTS))] = bad
    assert found == {}


def test_the_scan_finds_each_kind_of_synthetic_input():
    """The scan would have caught the tests of before issue 20, and each other way round a device."""
    old = """self.js("([t, e]) => { g.dispatchEvent(new MouseEvent(e, {bubbles: true})); }", [title, event])"""
    assert offences(old) == ["an event fired on an element"]
    assert offences("opened.js(\"window.explorer.open(0).then(() => window.explorer.select('a'))\")") == [
        "a page function that acts"
    ]
    assert offences("o.js(\"document.querySelector('#p-play').click()\")") == [
        "a click, focus or submit called in the page"
    ]
    assert offences("o.js(\"document.getElementById('p-t').value = 5\")") == [
        "a handler called or a value set in the page"
    ]
    assert offences('o.page.fill("#q", "wte[3,5]")') == ["Playwright's fill"]
    assert (
        offences('o.page.locator("#q").click()\no.page.keyboard.type("wte")\no.js("window.explorer.state.sel")') == []
    )
