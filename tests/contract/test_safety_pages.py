"""Pages that no string can break (issue 22): data embedded in a page cannot end or open a script, links are
http(s) or relative, and the report and the explorer run only their own scripts (a hash each in their
Content-Security-Policy). The documents are generated from the fragments an attacker would use."""

import html.parser
import itertools
import json
import re

import pytest
from explore_browser import NEEDS, Opened
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from safety import SMALL_RUN

from conftest import assert_refused, invoke
from microtrace.viz.page_safety import UnsafeLink, checked_link, policy, script_hash, script_json, seal

# What ends, opens or comments out a script, an element or a template placeholder; what runs if it is
# parsed as markup (each sets window.pwned); and characters JavaScript or JSON treat specially.
FRAGMENTS = [
    "<!--", "-->", "<!--<script", "<script>", "</script>", "</SCRIPT >", "<script>window.pwned=1</script>",
    "<img src=x onerror=window.pwned=1>", "<svg onload=window.pwned=1>", "</title>", "</style>", "<style>",
    "<![CDATA[", "]]>", "<a href='javascript:window.pwned=1'>", "{{content-security-policy}}", "{{js}}",
    "{{index}}", "{csp}", "${window.pwned=1}", "\u2028", "\u2029", "&lt;", "&", "'", '"', "`", "\\", "/",
]  # fmt: skip
DOCUMENT = st.lists(st.sampled_from(FRAGMENTS) | st.text("ab<>!-/", min_size=1, max_size=3), min_size=1, max_size=8)


class Scripts(html.parser.HTMLParser):
    """The script elements of a page as an HTML parser sees them: (attributes, text)."""

    def __init__(self):
        super().__init__()
        self.found, self._open = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open = (dict(attrs), [])

    def handle_data(self, data):
        if self._open:
            self._open[1].append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._open:
            self.found.append((self._open[0], "".join(self._open[1])))
            self._open = None


@settings(deadline=None)
@given(st.text())
def test_embedded_json_has_no_character_that_can_end_a_script_and_reads_back_the_same(text):
    embedded = script_json(json.dumps({"doc": text}, ensure_ascii=False))
    assert not re.search("[<>&\u2028\u2029]", embedded)
    assert json.loads(embedded) == {"doc": text}


@settings(deadline=None)
@given(st.lists(st.text(), max_size=3))
def test_a_sealed_page_allows_exactly_its_runnable_scripts(texts):
    scripts = [t.replace("<", "\\u003c") for t in texts]  # script text as a page holds it: no `<`
    body = "".join(f"<script>{s}</script>" for s in scripts)
    data = '<script type="application/json">{}</script>'
    page = seal(f'<head><meta content="{{{{content-security-policy}}}}"></head>{data}{body}')
    assert f'content="{policy(scripts)}"' in page
    assert "'unsafe-inline'" not in policy(scripts).split("script-src")[1].split(";")[0]
    for s in scripts:
        assert script_hash(s) in page


SCHEMES = st.sampled_from(["javascript", "data", "vbscript", "file", "blob", "about", "chrome"])
# What a browser drops when it reads a scheme: leading spaces and controls; tabs and newlines anywhere.
LEAD = st.text("\t\n\r \x00\x01\x1f", max_size=2)
INSIDE = st.text("\t\n\r", max_size=2)


@settings(deadline=None)
@given(SCHEMES, LEAD, INSIDE, st.booleans(), st.text(max_size=20))
def test_links_with_a_dangerous_scheme_are_refused_however_they_are_spelled(scheme, lead, inner, upper, rest):
    cut = len(scheme) // 2
    href = lead + scheme[:cut] + inner + scheme[cut:] + ":" + rest
    with pytest.raises(UnsafeLink):
        checked_link(href.upper() if upper else href)


@settings(deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=":\\"), max_size=30))
def test_relative_paths_and_http_addresses_are_links(path):
    path = path.lstrip("/")
    assert checked_link(path) == path
    assert checked_link("https://example.org/" + path)


def test_the_report_refuses_a_javascript_link(tmp_path, trace_file):
    result = invoke("report", "--trace", trace_file, "-o", tmp_path / "r.html", "--explorer", "javascript:alert(1)")
    assert_refused(result, "--explorer", "http(s)")
    assert not (tmp_path / "r.html").exists()


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory):
    from safety import make_run, make_trace

    run, _ = make_run(tmp_path_factory.mktemp("pages"))
    return make_trace(run, run.parent / "step.json")


@pytest.mark.slow
@pytest.mark.parametrize("page", ["explore", "report"])
@settings(
    max_examples=3,
    deadline=None,
    phases=[Phase.generate],  # shrinking a page made by training and a browser would take many minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(fragments=DOCUMENT)
def test_a_page_made_from_a_hostile_document_starts_and_runs_nothing_injected(browser, tmp_path, page, fragments):
    doc = "".join(fragments).strip() or "<!--<script"
    folder = tmp_path / f"case{next(CASES)}"
    folder.mkdir()
    (folder / "docs.txt").write_text(doc + "\n", encoding="utf-8")
    run = folder / "run"
    assert invoke("train", "--data", folder / "docs.txt", "--out", run, *SMALL_RUN).exit_code == 0
    out = folder / f"{page}.html"
    extra = ["--explorer", "explore.html"] if page == "report" else []
    result = invoke(page, "--run", run, "--step", 1, "-o", out, *extra)
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    parser = Scripts()
    parser.feed(text)
    # The parser sees the page's own scripts, whole: none ends early, none is opened by the document (which
    # is inside the data scripts, as JSON text, and nowhere else).
    runnable = [body for attrs, body in parser.found if attrs.get("type") not in DATA_TYPES]
    # (the explorer runs two: its own, and the Graphviz it carries)
    assert len(runnable) == (2 if page == "explore" else 0) and not any("pwned" in body for body in runnable)
    opened = Opened(browser, out) if page == "explore" else _Loaded(browser, out)
    try:
        assert opened.errors == [], opened.errors  # a blocked script or handler is a console error
        assert opened.js("window.pwned === undefined")
        assert doc.split()[0] in opened.js("document.title")  # shown as text, whatever it holds
        assert all(url.startswith("file://") for url in opened.requests)
    finally:
        opened.close()


for mark in NEEDS:
    test_a_page_made_from_a_hostile_document_starts_and_runs_nothing_injected = mark(
        test_a_page_made_from_a_hostile_document_starts_and_runs_nothing_injected
    )
CASES = itertools.count()
DATA_TYPES = ("application/json", "application/x-gzip-base64")


class _Loaded(Opened):
    """The report, which has no script of its own (so no `ready` flag): opened and left to load."""

    def until(self, code, arg=None, timeout=10.0):
        self.page.wait_for_load_state("load")
