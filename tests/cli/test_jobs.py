"""--jobs: step-range work cut into pieces for several processes gives the bytes of one process."""

import json

from click.testing import CliRunner

from microtrace.cli import cli
from microtrace.tracer.analysis.gradstats import range_stats, stats_csv
from microtrace.tracer.analysis.step_ranges import in_pieces


def _squares(piece, offset):
    return [k * k + offset for k in piece]


def _squares_told(piece, offset, on_step):
    for k in piece:
        on_step(k)
    return _squares(piece, offset)


def test_pieces_join_in_step_order():
    steps = range(3, 40, 4)
    assert in_pieces(_squares, steps, 2, 1) == _squares(steps, 1)
    assert in_pieces(_squares, range(0, 1), 4, 0) == [0]  # fewer steps than jobs: one piece, no pool


def test_the_workers_progress_reaches_this_process():
    heard = []
    assert in_pieces(_squares_told, range(3, 40, 4), 2, 1, on_step=heard.append) == _squares(range(3, 40, 4), 1)
    assert sorted(heard) == list(range(3, 40, 4))


def test_gradflow_and_attention_over_steps_are_the_same_with_two_processes(run_dir, tmp_path):
    steps = range(1, 5)
    assert stats_csv(range_stats(run_dir, steps, jobs=2)) == stats_csv(range_stats(run_dir, steps))
    out = {}
    for jobs in (1, 2):
        result = CliRunner().invoke(cli, ["attention", "--run", str(run_dir), "--steps", "0:4:1", "--text", "emma",
                                          "--jobs", str(jobs), "--json", str(tmp_path / f"a{jobs}.json")])  # fmt: skip
        assert result.exit_code == 0, result.output
        out[jobs] = json.loads((tmp_path / f"a{jobs}.json").read_text())
    assert out[1] == out[2] and len(out[1]["frames"]) == 4
