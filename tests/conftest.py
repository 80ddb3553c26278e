"""Shared fixtures: small datasets, a small run made by the command line, and where the microGPT
reference files live. bench/ (microGPT's plain engine, the yardstick) is importable through pytest's
`pythonpath` setting in pyproject.toml."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from microtrace.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MAKEMORE = SHARED / "makemore-names.txt"
PUBLISHED_LOG = SHARED / "microgpt-published.log"

NAMES = ["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper", "evelyn", "abigail"]
WORDS = NAMES + ["liam", "noah", "oliver", "elijah", "james"]
SMALL = dict(n_embd=8, n_head=2, n_layer=1, block_size=8)
MINI = dict(n_embd=4, n_head=2, n_layer=1, block_size=8)  # a step of a few thousand nodes: for tests of files


def as_options(model):
    """A model's sizes as `microtrace train` options."""
    return [x for key, value in model.items() for x in (f"--{key.replace('_', '-')}", str(value))]


TINY = as_options(SMALL)


@pytest.fixture
def names():
    return list(NAMES)


@pytest.fixture
def data_file(tmp_path):
    """A file of 15 names, one per line."""
    path = tmp_path / "words.txt"
    path.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """A run of 6 steps of the MINI model on NAMES, checkpoints every 3 steps, made by `microtrace train`.
    Shared by the whole session: tests read it and never change it (copy it first)."""
    tmp = tmp_path_factory.mktemp("run")
    data = tmp / "names.txt"
    data.write_text("\n".join(NAMES) + "\n")
    args = [
        "train",
        "--data",
        str(data),
        "--steps",
        "6",
        *as_options(MINI),
        "--checkpoint-every",
        "3",
        "--samples",
        "0",
        "--out",
        str(tmp / "run"),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return tmp / "run"


def invoke(*args, env=None):
    """`microtrace ARGS...` in this process (click's runner); every argument str()'d."""
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def assert_refused(result, *words, code=2, alone=False):
    """The contract for bad input: exit `code` (2), one `Error:` line on stderr naming `words`, no
    traceback (and with `alone`, nothing else printed at all); returns that line."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    if alone:
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("Error: "), result.stderr
    assert sum(line.startswith("Error") for line in lines) == 1 and "Traceback" not in result.output
    for word in words:
        assert word in lines[-1], (word, lines[-1])
    return lines[-1]


def needs_shared():
    return pytest.mark.skipif(
        not (MAKEMORE.exists() and PUBLISHED_LOG.exists()),
        reason="microGPT's dataset and published log are not beside the project (../shared/data)",
    )


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per module that asks for it (tests/explore_browser.py)."""
    from explore_browser import launch

    yield from launch()
