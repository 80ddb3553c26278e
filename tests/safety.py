"""Helpers of the safety tests (tests/test_safety_*.py): a small run and trace made once (the contract's
check of a refused command, `assert_refused`, is in conftest.py)."""

from conftest import invoke

# Short documents and a 4-wide model: a traced step of ~2,000 nodes, which every command reads in a blink.
DOCS = ["ava", "mia", "eve", "zoe", "amy", "ivy"]
SMALL_RUN = ["--steps", "3", "--n-embd", "4", "--n-head", "2", "--block-size", "8", "--samples", "0"]


def make_run(folder, docs=DOCS):
    """A 3-step run of a tiny model in `folder`/run, trained on `docs`; returns (run dir, data file)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "docs.txt"
    data.write_text("\n".join(docs) + "\n", encoding="utf-8")
    run = folder / "run"
    result = invoke("train", "--data", data, "--out", run, *SMALL_RUN)
    assert result.exit_code == 0, result.output
    return run, data


def make_trace(run, path, step=1):
    result = invoke("trace", "--run", run, "--step", step, "-o", path)
    assert result.exit_code == 0, result.output
    return path
