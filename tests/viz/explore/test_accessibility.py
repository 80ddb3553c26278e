"""The explorer and the report as an accessibility reviewer checks them: axe-core (npm, pinned in the
Makefile, installed into .venv/axe by `make test`; injected by Playwright into the test's copy of the
page, nothing added to the page itself): no violation of impact serious or critical, and the checks that
matter here were run (every control has a name, text colours meet WCAG AA contrast)."""

import shutil
from pathlib import Path

import pytest
from explore_browser import NEEDS

from conftest import small_trace
from microtrace.viz.report.page import build_report

AXE = Path(__file__).resolve().parents[3] / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = [
    *NEEDS,
    pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (make test installs it with npm)"),
]
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


@pytest.fixture(scope="module")
def pages(explorer_page, tmp_path_factory):
    d = tmp_path_factory.mktemp("a11y")
    shutil.copyfile(explorer_page, d / "explore.html")
    (d / "report.html").write_text(build_report(small_trace(), explorer="explore.html"), encoding="utf-8")
    return d


def audit(browser, path, act=None):
    """axe's findings on the page at `path` (after `act(page)`, a person's doing), 1280x800 and 1024x768."""
    found = []
    for size in ({"width": 1280, "height": 800}, {"width": 1024, "height": 768}):
        context = browser.new_context(viewport=size, bypass_csp=True)  # the page's CSP admits its own scripts only
        try:
            page = context.new_page()
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
            context.close()
    return found


def test_the_explorer_has_no_serious_violation(browser, pages):
    def choose_a_box(page):
        page.wait_for_selector("body[data-ready]")
        page.locator("#stage g.node[tabindex]").nth(3).click()  # the inspector shows its numbers and links
        page.wait_for_selector("#inspector table")

    assert audit(browser, pages / "explore.html", choose_a_box) == []


def test_the_report_has_no_serious_violation(browser, pages):
    assert audit(browser, pages / "report.html") == []


def test_the_audit_finds_a_nameless_button_and_grey_on_white(browser, tmp_path):
    """The harness sees what it is there for."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html lang="en"><title>t</title><main><button></button><p style="color:#bbb">faint</p></main></html>'
    )
    assert {v["id"] for v in audit(browser, bad)} == {"button-name", "color-contrast"}
