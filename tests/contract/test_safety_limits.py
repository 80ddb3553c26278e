"""Limits before allocation (issue 22): every numeric option and environment variable is checked as a number
in range before anything is built from it, and running out of memory anyway is one line and exit 2.

The commands run in a subprocess whose address space is capped (RLIMIT_AS, as `ulimit -v` sets it), so a
number that slipped through to an allocation shows as a MemoryError or a kill, not as a machine that swaps.
"""

import math
import os
import resource
import shutil
import subprocess
import sys

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safety import make_run, make_trace

from microtrace.cli import cli
from microtrace.engine.model import GPTConfig, matrix_shapes, num_params
from microtrace.tracer.analysis.step_ranges import pieces_of
from microtrace.util.limits import FILE_ENV, MEMORY_ENV, MOST, LimitError, env_number
from microtrace.viz.graph.render import MOST_MEGAPIXELS, PIXELS_ENV

MEMORY = 3 * 2**30  # the address space each command gets: a few times what the tiny runs here need
ENVIRONMENT = (FILE_ENV, MEMORY_ENV, PIXELS_ENV)

# Numbers as a hostile or mistaken user types them: huge, negative, zero, fractional, nan, inf, 1e300.
NUMBERS = st.one_of(
    st.integers(-(10**40), 10**40).map(str),
    st.integers(10**6, 10**40).map(str),
    st.floats().map(repr),
    st.sampled_from(["1e300", "-1e300", "1e-320", "0", "-0", "nan", "inf", "-inf", "0x10", "1_000", "", " 5"]),
)


def run_capped(args, cwd, env=None, timeout=120, memory=MEMORY):
    """`microtrace ARGS` in a subprocess with its address space capped at `memory` bytes."""
    return subprocess.run(
        [sys.executable, "-c", "from microtrace.cli import main; main()", *map(str, args)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (memory, memory)),
    )


def assert_one_line_or_success(result):
    """The contract: success (0, or 1 for a finding), or one `Error:` line and exit 2; never a traceback."""
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (0, 1, 2), (result.returncode, result.stderr[-2000:])
    if result.returncode == 2:
        lines = result.stderr.strip().splitlines()
        assert lines and lines[-1].startswith("Error: ") and sum(x.startswith("Error") for x in lines) == 1, lines


# --- the checks themselves, in this process ---------------------------------------------------------


@settings(deadline=None)
@given(st.integers(1, 10**6), st.integers(1, 50), st.integers(1, 64), st.integers(1, 64), st.integers(1, 8))
def test_the_parameter_count_is_the_sum_over_the_shapes(vocab, n_layer, n_embd, block, heads):
    config = GPTConfig(vocab_size=vocab, n_embd=n_embd * heads, n_head=heads, n_layer=n_layer, block_size=block)
    assert num_params(config) == sum(rows * cols for _, rows, cols in matrix_shapes(config))


@settings(deadline=None)
@given(st.integers(0, 10**4), st.integers(1, 10**40))
def test_a_range_is_cut_into_no_more_pieces_than_steps(n, jobs):
    pieces = pieces_of(range(n), jobs)
    assert len(pieces) <= min(n, jobs) and [s for p in pieces for s in p] == list(range(n))


@settings(deadline=None)
@given(NUMBERS, st.sampled_from(ENVIRONMENT))
def test_an_environment_number_is_in_range_or_refused(value, name):
    most = MOST.get(name, MOST_MEGAPIXELS)
    os.environ[name] = value
    try:
        number = env_number(name, 1.0, most)
    except LimitError as e:
        assert name in str(e)
    else:
        assert 0 < number <= most and math.isfinite(number)
    finally:
        del os.environ[name]


# --- the commands, in a capped subprocess ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 3-step run of a tiny model and a trace of its step 1."""
    folder = tmp_path_factory.mktemp("limits")
    run, data = make_run(folder)
    return folder, run, data, make_trace(run, folder / "step.json")


def bases(folder, run, data, trace):
    """A quick, valid invocation of each command: the option under test is appended (click's last wins)."""
    out = folder / "out"
    model = ["--n-embd", "4", "--n-head", "2", "--block-size", "8"]
    return {
        "train": ["--data", data, "--out", out / "run", "--force", "--steps", "2", *model, "--samples", "0"],
        "sample": ["--run", run, "-n", "2"],
        "trace": ["--run", run, "--step", "1", "-o", out / "t.json"],
        "export": ["--trace", trace, "-o", out / "e.graphml"],
        "inspect": ["--trace", trace],
        "graph": ["--trace", trace, "-o", out / "g.png"],
        "attention": ["--run", run, "--steps", "0:3", "--text", "ava", "-o", out / "a.gif"],
        "gradflow": ["--run", run, "--steps", "0:3", "-o", out / "f.png"],
        "gradcheck": ["--run", run, "--step", "1", "--samples", "1"],
        "doctor": ["--trace", trace],
        "report": ["--trace", trace, "-o", out / "r.html"],
        "explore": ["--run", run, "--step", "1", "-o", out / "x.html"],
        "film": ["--run", run, "--steps", "0:3", "-o", out / "film.html"],
    }


# Options that take numbers in a structure of their own, and how the test writes three numbers into one.
STRUCTURED = {"StepRange": "{0}:{1}:{2}", "PageSize": "{0},{1}", "Ratio": "{0}", "StepList": "{0},{1}", "Head": "{0}"}


def numeric_options():
    """(command, option, format) for every option of every command that takes numbers: the format writes
    three generated numbers into the option's value."""
    numeric = (click.types.IntParamType, click.types.FloatParamType)
    found = []
    for name, command in cli.commands.items():
        for p in command.params:
            kind = type(p.type).__name__
            if isinstance(p, click.Option) and (isinstance(p.type, numeric) or kind in STRUCTURED):
                found.append((name, max(p.opts, key=len), STRUCTURED.get(kind, "{0}")))
    return sorted(found)


# Options that ask for an amount of work, done one step or one name at a time in constant memory: a huge
# one is a long run, as asked (the test stops it), not an allocation.
WORK = {("train", "--steps"), ("train", "--samples"), ("sample", "--num"), ("gradcheck", "--samples")}


@pytest.mark.slow
@pytest.mark.parametrize("command, option, form", numeric_options())
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.tuples(NUMBERS, NUMBERS, NUMBERS))
def test_any_number_in_any_numeric_option_is_one_line_or_success(tiny, command, option, form, values):
    folder, run, data, trace = tiny
    (folder / "out").mkdir(exist_ok=True)
    args = [command, *bases(folder, run, data, trace)[command], option, form.format(*values)]
    try:
        result = run_capped(args, folder, timeout=60)
    except subprocess.TimeoutExpired:
        assert (command, option) in WORK, f"{args} ran for a minute"
        return
    assert_one_line_or_success(result)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(ENVIRONMENT), value=NUMBERS)
def test_any_number_in_any_environment_variable_is_one_line_or_success(tiny, name, value):
    folder, run, data, trace = tiny
    (folder / "out").mkdir(exist_ok=True)
    command = ["graph", "--trace", trace, "-o", folder / "out" / "g.png"]
    if name == MEMORY_ENV:
        command = ["train", *bases(folder, run, data, trace)["train"]]
    assert_one_line_or_success(run_capped(command, folder, env={name: value}))


def test_running_out_of_memory_is_one_line_and_exit_2(tiny):
    """A model the limit allows but the (capped) machine cannot hold: the real MemoryError, one line."""
    folder, _, data, _ = tiny
    args = ["train", "--data", data, "--out", folder / "big", "--n-embd", "2048", "--max-memory", "1000"]
    result = run_capped([*args, "--samples", "0", "--steps", "1"], folder, memory=2**30)
    assert_one_line_or_success(result)
    assert result.returncode == 2 and "out of memory" in result.stderr
    assert not (folder / "big").exists()


def test_every_command_has_a_quick_invocation(tmp_path):
    assert set(cli.commands) <= set(bases(tmp_path, "run", "data", "trace")), "add the command to bases()"


@pytest.mark.parametrize("where", ["losses.csv", "makemore"])
def test_a_fifo_that_gives_nothing_is_refused_not_waited_on(tiny, tmp_path, where):
    """A FIFO nobody writes, as a run's losses.csv (read by every --run command) or as the makemore
    download (MICROTRACE_MAKEMORE_URL=file://...): one line and exit 2 at once; both hung before."""
    _, run, _, _ = tiny
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    if where == "losses.csv":
        copy = tmp_path / "run"
        shutil.copytree(run, copy)
        (copy / "losses.csv").unlink()
        os.mkfifo(copy / "losses.csv")
        args, env = ["inspect", "--run", copy, "--step", "1"], {}
    else:
        args = ["train", "--data", "makemore", "--out", tmp_path / "r", "--steps", "1", "--samples", "0"]
        env = {"MICROTRACE_MAKEMORE_URL": fifo.as_uri(), "MICROTRACE_CACHE": str(tmp_path / "cache")}
    result = run_capped(args, tmp_path, env=env, timeout=60)
    assert_one_line_or_success(result)
    assert result.returncode == 2 and "not a regular file" in result.stderr
