"""Helpers of the safety tests (tests/test_safety_*.py): a small run and trace made once, and the
contract's check of a refused command (one `Error:` line on stderr, exit 2, no traceback)."""

from click.testing import CliRunner

from microtrace.viz.cli import cli

# Short documents and a 4-wide model: a traced step of ~2,000 nodes, which every command reads in a blink.
DOCS = ["ava", "mia", "eve", "zoe", "amy", "ivy"]
SMALL_RUN = ["--steps", "3", "--n-embd", "4", "--n-head", "2", "--block-size", "8", "--samples", "0"]


def run_cli(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def make_run(folder, docs=DOCS):
    """A 3-step run of a tiny model in `folder`/run, trained on `docs`; returns (run dir, data file)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "docs.txt"
    data.write_text("\n".join(docs) + "\n", encoding="utf-8")
    run = folder / "run"
    result = run_cli("train", "--data", data, "--out", run, *SMALL_RUN)
    assert result.exit_code == 0, result.output
    return run, data


def make_trace(run, path, step=1):
    result = run_cli("trace", "--run", run, "--step", step, "-o", path)
    assert result.exit_code == 0, result.output
    return path


def assert_refused(result, *words):
    """The contract for bad input: exit 2, one `Error:` line naming `words`, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("Error: "), result.stderr
    assert sum(line.startswith("Error") for line in lines) == 1 and "Traceback" not in result.output
    for word in words:
        assert word in lines[-1], (word, lines[-1])
    return lines[-1]
