"""`microtrace film`: bad input is one `Error:` line and exit code 2, before any work; nothing of the run
is ever written over."""

import pytest

from conftest import assert_refused, invoke


def test_bad_input(run_dir, tmp_path):
    out = tmp_path / "f.html"
    assert_refused(invoke("film", "--run", run_dir, "--steps", "0:9", "-o", out), "--steps", "past the run")
    assert_refused(invoke("film", "--run", run_dir, "--text", "q{", "-o", out), "--text", "vocabulary")
    assert_refused(invoke("film", "--run", run_dir, "--open", "2,x", "-o", out), "--open")
    assert_refused(invoke("film", "--run", run_dir, "--open", "6", "-o", out), "--open", "steps 0 to 5")
    assert_refused(invoke("film", "--run", tmp_path / "none", "-o", out), "no such run")
    config = (run_dir / "config.json").read_bytes()
    assert_refused(invoke("film", "--run", run_dir, "-o", run_dir / "config.json"), "run")
    assert (run_dir / "config.json").read_bytes() == config
    assert not out.exists()


def test_the_report_links_to_the_film(run_dir, tmp_path):
    result = invoke("report", "--run", run_dir, "--step", 2, "--film", "training.html", "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    assert 'href="training.html#s=2"' in (tmp_path / "r.html").read_text(encoding="utf-8")


@pytest.mark.slow  # an explorer page of its own (~4 CPU-s) for one link: the report's link above stays fast
def test_the_explorer_links_to_the_film_escaped(run_dir, tmp_path, explorer_page):
    odd = 'a"<b>&.html'
    result = invoke("explore", "--run", run_dir, "--step", 2, "--film", odd, "-o", tmp_path / "e.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "e.html").read_text(encoding="utf-8")
    assert 'href="a&quot;&lt;b&gt;&amp;.html#s=2"' in page and odd not in page
    assert 'id="film"' in page and 'id="film"' not in explorer_page.read_text(encoding="utf-8")  # made without
