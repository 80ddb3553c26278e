"""The same trace gives the same explorer page, byte for byte, whatever the process: written twice by
`microtrace explore` in two processes with different hash seeds (set and dict orders, the order a
pool's workers finish in), from a trace file and from a run.

What made the bytes differ: Graphviz 2.43's dot read past the end of a table in its second crossing
minimisation (valgrind: dot_mincross, left2right) when a cluster shared a rank with a top-level chain
of invisible edges, so a few stage views were laid out one of two ways at random; the diagrams now
ask dot for no second pass (viz/graph/diagram.py, `remincross`).
"""

import os
import subprocess
import sys

import pytest
from explore_browser import NEEDS

from conftest import MINI
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import save_trace, trace_step

pytestmark = NEEDS
CLI = "from microtrace.cli import main; main()"


def write_twice(tmp_path, *source):
    pages = []
    for seed in ("1", "2"):
        out = tmp_path / f"page{seed}.html"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        cmd = [sys.executable, "-c", CLI, "explore", *map(str, source), "-o", str(out)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        pages.append(out.read_bytes())
    return pages


@pytest.mark.slow  # two explorer pages in two processes (~7 CPU-s); figures and the report keep determinism fast
def test_a_trace_files_page_is_the_same_bytes_in_any_process(tmp_path):
    # the elementary view only, as `trace -o` saves it: the page of many views, drawn node by node
    trace = trace_step(Trainer(["ava"], TrainConfig(steps=1, seed=1), **MINI), 0)
    save_trace(trace.graph("elementary"), tmp_path / "step.json")
    first, second = write_twice(tmp_path, "--trace", tmp_path / "step.json")
    assert first == second


@pytest.mark.slow  # a run's step holds every view twice (fused and elementary): 15 s
def test_a_runs_page_is_the_same_bytes_in_any_process(run_dir, tmp_path):
    first, second = write_twice(tmp_path, "--run", run_dir, "--step", 3)
    assert first == second
