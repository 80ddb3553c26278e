"""`microtrace film`: the page in the system's Chromium, driven by the keyboard and the mouse only.

One page of the session's MINI run (6 steps, every step a frame, step 2 embedded whole), one browser for
the module. Every request the page makes is intercepted: a page that reaches for anything but its own
file fails.

The whole module is in the slow tier: the film is a page of its own, written from a run (~5 CPU-s, most of it
the embedded step's explorer), and driving it costs as much again. What makes the film is checked fast
in tests/tracer/analysis/test_film.py and tests/cli/test_film_cli.py, the embedding of its documents in
tests/contract/test_safety_pages.py, and the explorer it embeds by the explorer's own page tests.
"""

import json
import re

import pytest
from a11y import NEEDS_AXE, audit
from explore_browser import NEEDS, Opened

from conftest import MINI, as_options, invoke
from microtrace.cli.film import explore_command
from microtrace.tracer.analysis.attention import attention_series, record
from microtrace.tracer.analysis.gradstats import range_stats

pytestmark = [*NEEDS, pytest.mark.slow]


@pytest.fixture(scope="module")
def film(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("film") / "training.html"
    result = invoke("film", "--run", run_dir, "--steps", "0:6", "--text", "emma", "--open", "2", "--no-auto-open",
                    "--jobs", "1", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def embedded_data(path):
    text = path.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="film">(.*?)</script>', text, re.S).group(1))


@pytest.fixture
def opened(browser, film):
    o = Opened(browser, film)
    yield o
    assert o.errors == []
    assert o.requests == [film.as_uri()]
    o.close()


def fills(o):
    return o.js(
        "[...document.querySelectorAll('#svgbox g.node')].map(g => g.querySelector('path, polygon').getAttribute('fill'))"
    )


def cursor(o):
    return o.js("document.querySelector('#loss .cursor').getAttribute('x1')")


def test_play_moves_the_cursor_and_the_colours(opened, film):
    before, x = fills(opened), cursor(opened)
    assert opened.js("document.body.dataset.step") == "0"
    opened.page.keyboard.press("Space")
    opened.until("document.body.dataset.step === '5' && !document.querySelector('#p-play.playing')")
    assert cursor(opened) != x
    assert fills(opened) != before
    opened.until("location.hash === '#s=5'")
    # while playing the numbers are written a few times a second; where it stops, they are the frame's
    data = embedded_data(film)
    shown = opened.js("[...document.querySelectorAll('#numbers tr[data-matrix]')].map(tr => "
                      "+tr.querySelector('[data-key=grad_norm]').dataset.value)")  # fmt: skip
    assert shown == [p["grad_norm"] for p in data["frames"][5]["params"].values()]
    boxes = opened.js("Object.fromEntries([...document.querySelectorAll('#svgbox g.node')].map(g => "
                      "[g.querySelector('title').textContent, [...g.querySelectorAll('text')].map(t => t.textContent)"
                      ".find(t => t.startsWith('‖g‖'))]).filter(([, t]) => t))")  # fmt: skip
    frame = dict(zip(data["groups"], data["colours"]["grad"]["text"][5]))
    assert boxes and boxes == {name: f"‖g‖ {frame[name]}" for name in boxes}


def test_keys_and_the_url(browser, film):
    o = Opened(browser, film, hash="#s=3")
    assert o.js("document.body.dataset.step") == "3"
    o.page.keyboard.press("ArrowRight")
    assert o.js("document.body.dataset.step") == "4"
    o.until("location.hash === '#s=4'")
    o.page.keyboard.press("Home")
    assert o.js("document.body.dataset.step") == "0"
    assert o.errors == []
    o.close()


def test_a_frames_numbers_are_gradflows_and_attentions(opened, run_dir, film):
    opened.page.keyboard.press("ArrowRight")
    opened.page.keyboard.press("ArrowRight")
    assert opened.js("document.body.dataset.step") == "2"
    shown = opened.js("[...document.querySelectorAll('#numbers tr[data-matrix]')].map(tr => [tr.dataset.matrix, "
                      "tr.querySelector('[data-key=grad_norm]').dataset.value, tr.querySelector('[data-key=update_ratio]').dataset.value])")  # fmt: skip
    stats = range_stats(run_dir, range(2, 3))[0].params
    assert [(m, float(g), float(u)) for m, g, u in shown] == [
        (m, p["grad_norm"], p["update_ratio"]) for m, p in stats.items()
    ]
    data = embedded_data(film)
    series = attention_series(run_dir, "emma", range(6))
    assert [f["attention"]["attention"] for f in data["frames"]] == [record(d)["attention"] for d in series]
    assert [f["attention"]["tokens"] for f in data["frames"]] == [record(d)["tokens"] for d in series]
    p_next = opened.js("[...document.querySelectorAll('#pred td.p')].map(td => td.title)")
    assert [float(p) for p in p_next] == [x["p_next"] for x in data["frames"][2]["predictions"]]


def test_open_an_embedded_step_shows_its_explorer(opened):
    opened.page.keyboard.press("ArrowRight")
    opened.page.keyboard.press("ArrowRight")
    opened.page.locator("#open").click()  # the mouse, at the button
    opened.until("!!document.body.dataset.viewer")
    frame = opened.page.frame_locator("#frame")
    frame.locator("body[data-ready]").wait_for()
    assert "step 2" in frame.locator("#title").inner_text()
    opened.page.keyboard.press("Escape")
    frame_box = opened.page.locator("#viewer")
    assert not frame_box.is_visible()


def test_another_step_shows_the_command(opened, run_dir):
    opened.page.keyboard.press("ArrowRight")
    opened.page.locator("#open").click()
    assert opened.page.locator("#command").inner_text() == explore_command(run_dir, 1)


def test_drag_on_the_loss_curve_scrubs(opened):
    box = opened.page.locator("#loss").bounding_box()
    opened.page.mouse.move(box["x"] + box["width"] - 30, box["y"] + box["height"] / 2)
    opened.page.mouse.down()
    opened.page.mouse.up()
    assert opened.js("document.body.dataset.step") == "5"


def test_its_policy_runs_only_its_own_scripts_and_its_explorers(film):
    page = film.read_text(encoding="utf-8")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)
    assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert policy.count("'sha256-") >= 2  # the film's script and the embedded explorer's


# a run and a film of their own (~4 CPU-s)
def test_documents_that_look_like_markup(browser, tmp_path):
    """A run whose documents hold what could end a script, open a comment or a tag: the page starts, shows
    them as text, runs nothing else."""
    docs = ["a</script><b>", "<!--<script>", "x&amp;y'\"", "<img src=x onerror=alert(1)>"]
    data = tmp_path / "docs.txt"
    data.write_text("\n".join(docs) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    result = invoke(
        "train", "--data", data, "--steps", 4, *as_options(MINI), "--block-size", 16, "--samples", 0, "--out", run
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "f.html"
    result = invoke("film", "--run", run, "--steps", "0:4", "--no-auto-open", "--jobs", 1, "-o", out)
    assert result.exit_code == 0, result.output
    o = Opened(browser, out)
    assert o.js("document.querySelector('#text').textContent") in docs
    assert o.js("document.querySelectorAll('img').length") == 0
    assert o.errors == [] and o.requests == [out.as_uri()]
    o.close()


# an audit costs ~3 CPU-s (two window sizes)
@NEEDS_AXE
def test_the_film_has_no_serious_violation(browser, film):
    """axe-core on the film page as a reader finds it, and after a step forward with the keyboard."""

    def step(page):
        page.wait_for_selector("body[data-ready]")
        page.keyboard.press("ArrowRight")

    assert audit(browser, film, step) == []
