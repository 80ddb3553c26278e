"""Cost linear in the input (issue 22): a document of any length is quoted shortened in every title, so a
figure of a 50,000-character document is the figure of a 60-character one plus a few characters; a long
word wraps in n log n measurements. Times are bench/bench_long_document.py's, not a test's."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safety import make_run

from conftest import examples
from microtrace.tracer import trace_step
from microtrace.tracer.analysis.attention import read_attention
from microtrace.viz.attention.figure import draw
from microtrace.viz.draw import fonts
from microtrace.viz.draw.text import QUOTED_CHARS, shorten
from microtrace.viz.gradflow.matrices import trace_figure
from microtrace.viz.graph.figure import graph_figure


@given(st.text(max_size=300), st.integers(2, 100))
def test_shorten_keeps_short_text_and_bounds_long_text(text, limit):
    short = shorten(text, limit)
    if len(text) <= limit:
        assert short == text
    else:
        assert short.startswith(text[: limit - 1]) and len(short) <= limit + len(f" ({len(text):,} characters)")


@settings(deadline=None, max_examples=examples(30))
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=400))
def test_a_long_word_wraps_into_lines_that_fit_and_keep_every_character(word):
    size, width = 12, 120
    lines = fonts.wrap(word, size, width)
    assert "".join(lines) == "".join(word.split())
    assert all(fonts.text_width(line, size) <= width or len(line) == 1 for line in lines)


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    """Step 1 of a run on a 50-character document and of one on a 50,000-character one (one word)."""
    rng = random.Random(0)
    out = {}
    for n in (50, 50_000):
        run, _ = make_run(tmp_path_factory.mktemp(f"doc{n}"), ["".join(rng.choice("abcdefghij") for _ in range(n))])
        out[n] = trace_step(run, step=1)
    return out


def test_a_long_document_is_quoted_shortened_in_every_figure(traces):
    short, long = traces[50], traces[50_000]
    grown = len(f"… ({50_000:,} characters)") + QUOTED_CHARS
    assert len(graph_figure(long).source) <= len(graph_figure(short).source) + grown
    for make in (lambda t: draw(read_attention(t), fmt="svg"), lambda t: trace_figure(t, fmt="svg")):
        a, b = str(make(short)), str(make(long))
        assert len(b) <= len(a) + 2 * grown
