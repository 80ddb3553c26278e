"""The README and docs/ stay true: docs/cli.md is click's current help, every image and every local link
points at a file that exists, and the README stays a page one reads (at most 300 lines)."""

import re

from conftest import ROOT
from microtrace.cli.reference import reference_markdown

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]


def test_command_reference_is_current():
    assert (DOCS / "cli.md").read_text() == reference_markdown(), "run: python -m microtrace.cli.reference"


def test_the_readme_is_short():
    assert len(README.read_text().splitlines()) <= 300


def test_every_image_and_local_link_exists():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address, or a heading of the same page
            path, _, anchor = target.partition("#")
            linked = page.parent / path
            assert linked.exists(), f"{page.name}: {target}"
            if anchor and linked.suffix == ".md":
                assert anchor in anchors(linked), f"{page.name}: {target}: no such heading"


def anchors(page):
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as dashes."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
