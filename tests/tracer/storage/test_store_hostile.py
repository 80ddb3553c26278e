"""A store is validated as a JSON trace is (issue 22): damaged the way a hostile file would be (metadata
of the wrong types, JSON nested past the bound, forged footer counts, columns that disagree with each other
or with the node rules, `extra` overriding core columns: tests/hostile_stores.py), every reading command
says so in one line on stderr with exit 2, no traceback, under a `ulimit -v` of a few GB, or, when it does
not read what was damaged, gives exactly what the good store gives: never a silently different figure."""

import random

import pytest

pytest.importorskip("pyarrow")

import hostile_stores  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import MINI, NAMES  # noqa: E402
from microtrace.engine.train import TrainConfig, Trainer  # noqa: E402
from microtrace.tracer import load_trace, trace_step  # noqa: E402
from microtrace.tracer.model.trace import TraceError  # noqa: E402
from microtrace.tracer.storage.io import save_store  # noqa: E402

COMMANDS = sorted(hostile_stores.COMMANDS)
KINDS = sorted(hostile_stores.KINDS)
_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "step.parquet"
    save_store(trace_step(Trainer(NAMES, TrainConfig(steps=3, seed=1), **MINI), 1), path)
    return path


@pytest.fixture(scope="module")
def expected(good, tmp_path_factory):
    """What each command gives for the good store (computed when first asked)."""
    cache, work = {}, tmp_path_factory.mktemp("expected")

    def of(command):
        if command not in cache:
            code, err, made = hostile_stores.run(command, good, work)
            assert code in (0, 1), err
            cache[command] = made
        return cache[command]

    return of


def _check(good, expected, tmp_path, kind, command, seed):
    bad = tmp_path / f"bad-{seed}.parquet"
    hostile_stores.damage(good, bad, kind, random.Random(seed))
    wrong = hostile_stores.verdict(*hostile_stores.run(command, bad, tmp_path), expected(command))
    assert wrong is None, f"{kind} / {command}: {wrong}"


@given(kind=st.sampled_from(KINDS), command=st.sampled_from(COMMANDS), seed=st.integers(0, 2**16))
@settings(max_examples=2, **_SETTINGS)  # two damaged stores through commands here; 150 in the slow sweep
def test_a_damaged_store_is_refused_in_one_line_by_every_command(good, expected, tmp_path, kind, command, seed):
    _check(good, expected, tmp_path, kind, command, seed)


@pytest.mark.slow  # every kind, a command each, several times over (~10 minutes)
@given(kind=st.sampled_from(KINDS), command=st.sampled_from(COMMANDS), seed=st.integers(0, 2**16))
@settings(max_examples=150, **_SETTINGS)
def test_many_damaged_stores_are_refused_in_one_line_by_every_command(good, expected, tmp_path, kind, command, seed):
    _check(good, expected, tmp_path, kind, command, seed)


def _read_everything(trace):
    """What the commands read of a store, through the library: every column of both views."""
    for view in trace.views():
        gd = trace.data(view)
        list(gd.nodes())
        list(gd.edges())
        trace.collapse("block", view=view)


@pytest.mark.parametrize("kind", KINDS)
def test_the_library_refuses_each_kind_of_damage_with_a_trace_error(good, tmp_path, kind):
    """In process, every kind: reading all of a damaged store raises TraceError (one line), nothing else."""
    bad = tmp_path / "bad.parquet"
    hostile_stores.damage(good, bad, kind, random.Random(0))
    with pytest.raises(TraceError) as e:
        _read_everything(load_trace(bad))
    assert "\n" not in str(e.value) and str(bad) in str(e.value)
