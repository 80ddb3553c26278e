"""The explorer (alone and split to compare two steps) and the report as an accessibility reviewer checks them: axe-core (npm, pinned in the
Makefile, installed into .venv/axe by `make test`; injected by Playwright into the test's copy of the
page, nothing added to the page itself): no violation of impact serious or critical, and the checks that
matter here were run (every control has a name, text colours meet WCAG AA contrast)."""

import shutil

import pytest
from a11y import NEEDS_AXE, SIZES, audit
from explore_browser import NEEDS

from conftest import small_trace
from microtrace.viz.report.page import build_report

pytestmark = [*NEEDS, NEEDS_AXE]


@pytest.fixture(scope="module")
def pages(explorer_page, tmp_path_factory):
    """explore.html (the session's explorer_page) in a folder of its own, where `report` writes report.html."""
    d = tmp_path_factory.mktemp("a11y")
    shutil.copyfile(explorer_page, d / "explore.html")
    return d


@pytest.fixture
def report(pages):
    """report.html beside explore.html, linking to it: made only by the (slow) test that audits it."""
    (pages / "report.html").write_text(build_report(small_trace(), explorer="explore.html"), encoding="utf-8")
    return pages / "report.html"


# the smaller window repeats the audit (~2 CPU-s): the slow tier
@pytest.mark.parametrize("size", [SIZES[0], pytest.param(SIZES[1], marks=pytest.mark.slow)], ids=["1280", "1024"])
def test_the_explorer_has_no_serious_violation(browser, pages, size):
    def choose_a_box(page):
        page.wait_for_selector("body[data-ready]")
        page.locator("#stage g.node[tabindex]").nth(3).click()  # the inspector shows its numbers and links
        page.wait_for_selector("#inspector table")

    assert audit(browser, pages / "explore.html", choose_a_box, [size]) == []


@pytest.mark.slow  # an audit costs ~3 CPU-s (two window sizes); the explorer's own audit stays in make test
def test_the_split_compare_view_has_no_serious_violation(browser, compare_page):
    def split(page):
        page.wait_for_selector("body[data-ready]")
        page.locator("#split-on").click()  # the split view's box, with the mouse
        page.wait_for_selector("#stage2")

    assert audit(browser, compare_page, split) == []


@pytest.mark.slow  # an audit costs ~3 CPU-s (two window sizes); the explorer's own audit stays in make test
def test_the_report_has_no_serious_violation(browser, report):
    assert audit(browser, report) == []


@pytest.mark.slow  # checks the harness, not the product (~2 CPU-s): run with every change to tests/a11y.py
def test_the_audit_finds_a_nameless_button_and_grey_on_white(browser, tmp_path):
    """The harness sees what it is there for."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html lang="en"><title>t</title><main><button></button><p style="color:#bbb">faint</p></main></html>'
    )
    assert {v["id"] for v in audit(browser, bad)} == {"button-name", "color-contrast"}
