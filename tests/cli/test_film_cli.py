"""`microtrace film`: bad input is one `Error:` line and exit code 2, before any work; nothing of the run
is ever written over."""

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
