"""axe-core, as an accessibility reviewer runs it on a page: npm's pinned copy (the Makefile installs it
into .venv/axe), injected by Playwright into the test's copy of the page; nothing is added to the page."""

from pathlib import Path

import pytest
from explore_browser import tab, untab, window

AXE = Path(__file__).resolve().parents[1] / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
NEEDS_AXE = pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (make test installs it with npm)")
# the rules behind "every control has a name" and "text meets AA contrast"
MUST_RUN = {
    "color-contrast",
    "button-name",
    "link-name",
    "label",
    "select-name",
    "aria-command-name",
    "aria-input-field-name",
}
RUN = "axe.run(document, {resultTypes: ['violations']}).then(r => ({violations: r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))})), ran: [...r.passes, ...r.inapplicable, ...r.violations, ...r.incomplete].map(x => x.id)}))"


SIZES = ((1280, 800), (1024, 768))  # a laptop's window, and a smaller one


def audit(browser, path, act=None, sizes=SIZES):
    """axe's findings on the page at `path` (after `act(page)`, a person's doing), in windows of `sizes`."""
    found = []
    for size in sizes:
        context = window(browser, size=size, audited=True)  # the page's CSP admits its own scripts only
        page = tab(context)
        try:
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            if act:
                act(page)
            page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
            result = page.evaluate(RUN)
            assert MUST_RUN & set(result["ran"]) >= MUST_RUN - {
                "aria-command-name",
                "aria-input-field-name",
                "select-name",
            }
            found += [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        finally:
            untab(page, context, keep=True)
    return found
