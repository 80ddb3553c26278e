"""Shared fixtures and helpers. bench/ (microGPT's plain engine, the yardstick) is importable through
pytest's `pythonpath` setting in pyproject.toml.

`make test` runs on two xdist workers and must stay under a minute: what is expensive is made once and
shared, never made again per module. Read-only, so a test that changes one copies it first:

- `run_dir` (session): a 6-step run of the MINI model on NAMES, checkpoints every 3 steps.
- `browser` (session): one headless Chromium per worker (tests/explore_browser.py's `Opened` opens a
  page in a fresh context of it).
- `small_trace()`: the step most page tests read (SMALL model, DOCS, step 1); cheap, made per call.
- `explorer_page` (session): `build_explorer(small_trace(), limit=40)` written to a file once for the
  whole run, whichever worker asks first (`shared_file`).
- `compare_page` (session): `explore --compare` of steps 2 and 0 of a MINI run on DOCS ("olivia" here,
  "emma" there: two documents), made once, as `explorer_page`.
- `heads_page` (session): the page of step 0 of a 4-head model (microGPT's heads, 7 positions), made
  once, as `explorer_page`; the slow tier's relayout and KV-lane tests read it.
- `shared_file(name, make)`: the same for anything else slow to make (a page, a store, a run): `make(path)`
  writes `path` once per `make test`, under a lock, and every worker reads that file.

Helpers: `invoke` (the command line in this process), `assert_refused` (the bad-input contract),
`as_options` (a model's sizes as `train` options), `needs_shared` (skip without ../shared/data),
`examples(n)` (a property test's number of examples: a quarter of `n` in the fast tier).

The fast tier (`-m "not slow"`, what `make test` runs) loads the hypothesis profile "fast": a quarter of
the examples of every property test, each still generated afresh; `make test-all` runs them all. Which
tests are slow and why: docs/architecture.md, "Tests"."""

import fcntl
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from microtrace.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MAKEMORE = SHARED / "makemore-names.txt"
PUBLISHED_LOG = SHARED / "microgpt-published.log"

NAMES = ["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper", "evelyn", "abigail"]
WORDS = NAMES + ["liam", "noah", "oliver", "elijah", "james"]
SMALL = dict(n_embd=8, n_head=2, n_layer=1, block_size=8)
MINI = dict(n_embd=4, n_head=2, n_layer=1, block_size=8)  # a step of a few thousand nodes: for tests of files
DOCS = ["olivia", "emma", "lola"]  # small_trace's documents: step 1 reads "lola" (wte row 3, "l", takes part)


FAST_SHARE = 4  # the fast tier runs 1/FAST_SHARE of each property test's examples
settings.register_profile("fast", max_examples=settings.default.max_examples // FAST_SHARE)
_fast = False


def pytest_configure(config):
    """The fast tier, told by the mark expression that skips the slow tests, runs fewer examples. xdist
    hands out files in the order collected (below), not sorted by how many tests each holds (its default,
    which sent the files with many cheap tests first and the few heavy ones, the pages, last)."""
    global _fast
    _fast = "not slow" in (config.getoption("markexpr") or "")
    if _fast:
        settings.load_profile("fast")
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist's --no-loadscope-reorder
        config.option.loadscopereorder = False


# The costliest files of the fast tier that open no page (worker-seconds measured on 7 December): run
# right after those that do, so that they too start early.
HEAVY = ("test_script.py", "test_print_sizes.py", "test_print.py", "test_graph_figures.py", "test_child.py",
         "test_store.py", "test_forks.py", "test_tracer.py", "test_exports.py")  # fmt: skip


def pytest_collection_modifyitems(items):
    """The files that open pages in Chromium run first, in the order collected, then the HEAVY files, then
    the rest: xdist gives each worker a file at a time, so the heaviest files start early and no worker is
    left with one of them at the end while the other waits."""
    in_browser = {
        item.path
        for item in items
        if "browser" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("slow")
    }

    def rank(item):
        return 0 if item.path in in_browser else 1 if item.path.name in HEAVY else 2

    items.sort(key=rank)  # stable: each file's own order is kept


def examples(n):
    """A property test's number of examples: `n`, or a quarter of it (at least 2) in the fast tier."""
    return max(2, n // FAST_SHARE) if _fast else n


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


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per xdist worker, started when a test first asks for it (a launch costs
    about a second); tests open pages in contexts of their own (tests/explore_browser.py's `Opened`)."""
    from explore_browser import launch

    yield from launch()


def small_trace(lr=0.01):
    """Step 1 of the SMALL model on DOCS (4 steps, seed 1): what the explorer's page tests read. A trace
    costs a few milliseconds: made per call, so a test may change what it gets."""
    from microtrace.engine.train import TrainConfig, Trainer
    from microtrace.tracer import trace_step

    return trace_step(Trainer(DOCS, TrainConfig(steps=4, seed=1, lr=lr), **SMALL), 1)


@pytest.fixture(scope="session")
def shared_file(tmp_path_factory):
    """`shared_file(name, make)`: the path of a file made once for the whole test run, whichever xdist
    worker asks first; `make(path)` writes it (the others wait on a lock, then read the same file). The
    folder is the run's own (xdist's workers share their base temp's parent), so nothing outlives the run
    or leaks into another engineer's. Read it, never change it."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"
    folder.mkdir(exist_ok=True)

    def get(name, make):
        path = folder / name
        with open(folder / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or if this worker dies
            if not path.exists():
                part = folder / f"{name}.part"
                make(part)
                part.rename(path)  # whole or not there: a worker that dies mid-way leaves no half file
        return path

    return get


@pytest.fixture(scope="session")
def explorer_page(shared_file):
    """The explorer's page of `small_trace()` (limit 40: every level, block view to scalars), made once."""

    def make(path):
        from microtrace.viz.explore.page import build_explorer

        path.write_text(build_explorer(small_trace(), limit=40), encoding="utf-8")

    return shared_file("explorer.html", make)


@pytest.fixture(scope="session")
def compare_page(shared_file):
    """The explorer's page of step 2 compared with step 0 of a MINI run on DOCS (8 steps, seed 1): steps
    that read different documents ("olivia" here, "emma" there), made once."""

    def make(path):
        from microtrace.engine.train import TrainConfig, Trainer
        from microtrace.tracer import trace_step
        from microtrace.viz.explore.page import build_explorer

        trainer = Trainer(DOCS, TrainConfig(steps=8, seed=1), **MINI)
        zero, two = trace_step(trainer, 0), trace_step(trainer, 2)
        path.write_text(build_explorer(two, zero, limit=40), encoding="utf-8")

    return shared_file("compare.html", make)


HEADS = dict(n_embd=8, n_head=4, n_layer=1, block_size=8)  # microGPT's 4 heads


@pytest.fixture(scope="session")
def heads_page(shared_file):
    """The explorer's page of step 0 of a 4-head model on "olivia" and "emma" (limit 40), made once."""

    def make(path):
        from microtrace.engine.train import TrainConfig, Trainer
        from microtrace.tracer import trace_step
        from microtrace.viz.explore.page import build_explorer

        trace = trace_step(Trainer(["olivia", "emma"], TrainConfig(steps=3, seed=1), **HEADS), 0)
        path.write_text(build_explorer(trace, limit=40), encoding="utf-8")

    return shared_file("heads.html", make)
