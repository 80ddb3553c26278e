"""The film's frames (tracer/analysis/film.py): each frame's numbers are exactly those of `gradflow
--steps` (range_stats), `attention --steps` (attention_series) and the trace of that step."""

import math

import pytest

from conftest import invoke
from microtrace.engine.run import open_run
from microtrace.tracer import trace_step
from microtrace.tracer.analysis.attention import AttentionError, attention_series, record
from microtrace.tracer.analysis.film import checkpoint_samples, film_frames, notable_steps
from microtrace.tracer.analysis.gradstats import range_stats, read_stats_csv

STEPS = range(1, 6, 2)  # across the checkpoint at step 3


@pytest.fixture(scope="module")
def frames(run_dir):
    return film_frames(run_dir, STEPS, text="emma")


def test_params_are_gradflow_steps(run_dir, frames, tmp_path):
    stats = range_stats(run_dir, STEPS)
    assert [f.params for f in frames] == [s.params for s in stats]
    assert [f.loss for f in frames] == [s.loss for s in stats] == [open_run(run_dir).losses()[k] for k in STEPS]
    # and what the command writes
    result = invoke("gradflow", "--run", run_dir, "--steps", "1:6:2", "-o", tmp_path / "flow.png", "--jobs", "1")
    assert result.exit_code == 0, result.output
    rows = read_stats_csv((tmp_path / "flow.csv").read_text())
    for row in rows:
        frame = frames[list(STEPS).index(row["step"])]
        assert frame.params[row["matrix"]]["grad_norm"] == row["grad_norm"]
        assert frame.params[row["matrix"]]["update_ratio"] == row["update_ratio"]


def test_attention_is_attention_series(run_dir, frames):
    series = attention_series(run_dir, "emma", list(STEPS))
    assert [f.attention for f in frames] == [record(d) for d in series]


def test_block_groups_are_the_trace(run_dir, frames):
    for f in frames:
        C = trace_step(run_dir, f.step).collapse("block", "fused")
        assert f.groups == {n: {k: v for k, v in d.items() if k != "ops"} for n, d in C.nodes(data=True)}
        assert f.flows == {(u, v): d["grad_flow_abs"] for u, v, d in C.edges(data=True)}
        assert f.doc == trace_step(run_dir, f.step).meta["doc"]


def test_predictions_give_the_texts_loss(frames):
    for f in frames:
        p = [x["p_next"] for x in f.predictions]
        assert len(p) == len("emma") + 1
        assert math.isclose(sum(-math.log(x) for x in p) / len(p), f.attention["loss"], rel_tol=1e-12)
        for x in f.predictions:
            top = [q for _, q in x["top"]]
            assert top == sorted(top, reverse=True) and len(top) == 5
            assert (x["next"] in [label for label, _ in x["top"]]) == (x["p_next"] >= top[-1])


def test_change_is_relative_to_the_previous_frame(run_dir, frames):
    assert all(v is None for v in frames[0].change.values())
    before, after = open_run(run_dir).trainer_at(1), open_run(run_dir).trainer_at(3)
    for name, mat in after.model.state_dict.items():
        was = [p.data for row in before.model.state_dict[name] for p in row]
        now = [p.data for row in mat for p in row]
        diff = math.sqrt(math.fsum((a - b) ** 2 for a, b in zip(now, was)))
        assert math.isclose(frames[1].change[name], diff / math.sqrt(math.fsum(x * x for x in was)), rel_tol=1e-9)


def test_pieces_give_the_same_frames(run_dir, frames):
    assert film_frames(run_dir, STEPS, text="emma", jobs=2) == frames


def test_notable_steps_and_samples(run_dir, frames):
    steps = notable_steps(frames)
    assert frames[-1].step in steps and set(steps) <= set(STEPS)
    samples = checkpoint_samples(open_run(run_dir), 6)
    assert sorted(samples) == [0, 3, 6] and all(len(names) == 5 for names in samples.values())


def test_text_outside_the_vocabulary(run_dir):
    with pytest.raises(AttentionError, match="vocabulary"):
        film_frames(run_dir, STEPS, text="zz{")


def test_the_run_remembers_the_steps_worth_embedding(run_dir, frames):
    """The states the frames kept (the notable steps, and those asked for) give the very trace a
    checkpoint's replay gives, without replaying."""
    run = open_run(run_dir)
    assert film_frames(run, STEPS, text="emma", jobs=2, keep=[4]) == frames
    for k in [*notable_steps(frames), 4]:
        replayed = []
        kept = trace_step(run, k, on_step=lambda done, total: replayed.append(done))
        fresh = trace_step(run_dir, k)
        assert replayed == [] and kept.meta == fresh.meta
        a, b = kept.data("fused"), fresh.data("fused")
        for column in ("op", "scope", "data", "grad", "src", "dst", "local", "flow"):
            assert getattr(a, column).tobytes() == getattr(b, column).tobytes()
        assert (a.extra, a.multiplicity, a.scopes) == (b.extra, b.multiplicity, b.scopes)


def test_pieces_start_after_a_checkpoint_where_it_is_cheaper():
    """A piece replays from the checkpoint before its previous frame: the bench's film in two is cut
    after step 500's checkpoint (nothing replayed), every piece kept, none empty, nothing lost."""
    from microtrace.tracer.analysis.film import _pieces

    checkpoints = range(0, 1001, 100)
    assert [p[0] for p in _pieces(range(0, 1000, 10), 2, checkpoints)] == [0, 510]
    for steps, jobs in [(range(0, 1000, 10), 3), (range(0, 6), 6), (range(1, 6, 2), 2), (range(0, 40), 4)]:
        pieces = _pieces(steps, jobs, checkpoints)
        assert [k for p in pieces for k in p] == list(steps) and all(pieces)
        assert len(pieces) == min(jobs, len(steps))
