"""NaN-aware statistics: one module (tracer/analysis/stats.py) for inspect, gradflow, the CSVs, the report and the
collapsed views; a group with non-finite entries never shows the finite maximum of the rest."""

import math

from click.testing import CliRunner

from conftest import MINI, NAMES, SMALL
from microtrace.cli import cli
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import save_trace, trace_step
from microtrace.tracer.analysis import stats
from microtrace.tracer.analysis.gradstats import StepStats, read_stats_csv, stats_csv

NAN, INF = math.nan, math.inf


def test_a_nan_anywhere_makes_the_statistic_nan():
    for xs in ([NAN, 1.0, -3.0], [1.0, NAN, -3.0], [1.0, -3.0, NAN]):  # max() keeps a nan only when first
        s = stats.summary(xs)
        assert math.isnan(s["abs_max"]) and math.isnan(s["norm"]) and math.isnan(s["abs_mean"])
        assert s["nonfinite"] == 1 and s["count"] == 3
    assert stats.abs_max([1.0, -INF, 2.0]) == INF and stats.norm([INF, -INF]) == INF
    assert stats.summary([0.0, 3.0, -4.0]) == {
        "count": 3,
        "nonfinite": 0,
        "norm": 5.0,
        "abs_mean": 7 / 3,
        "abs_max": 4.0,
        "zero_fraction": 1 / 3,
    }
    assert stats.describe(NAN, 80, 96) == "nan (80 of 96 non-finite)"
    assert stats.describe(0.12345) == "0.1235"


def _poisoned_trace():
    """A step whose lm_head[0] row of weights is nan: every gradient of the other rows stays finite at
    first, so a maximum that skips nan would look like a real number."""
    trainer = Trainer(NAMES, TrainConfig(steps=3), **MINI)
    trainer.train_step()
    trainer.model.state_dict["lm_head"][0][0].data = NAN
    return trace_step(trainer)


def test_param_stats_say_how_many_entries_are_not_finite(tmp_path):
    trace = _poisoned_trace()
    G = trace.graph()
    grads = {}
    for _, d in G.nodes(data=True):
        if d["op"] == "param":
            grads.setdefault(d["param"], []).append(d["grad"])
    for name, s in G.graph["param_stats"].items():
        bad = sum(1 for g in grads[name] if not math.isfinite(g))
        assert s["nonfinite"] >= bad  # entries not taking part are in the matrix too (gradient 0)
        if s["nonfinite"]:
            assert math.isnan(s["grad_abs_max"]) or math.isinf(s["grad_abs_max"])
            assert not math.isfinite(s["grad_norm"])
    assert any(s["nonfinite"] for s in G.graph["param_stats"].values())
    # The CSV keeps the count next to the nan.
    g = G.graph
    rows = read_stats_csv(stats_csv([StepStats(g["step"], g["loss"], g["lr"], g["param_stats"])]))
    assert [r["nonfinite"] for r in rows] == [s["nonfinite"] for s in g["param_stats"].values()]
    # inspect says it on the matrix's line
    path = tmp_path / "nan.json"
    save_trace(trace, path)
    result = CliRunner().invoke(cli, ["inspect", "--trace", str(path)])
    lines = {
        line.split()[0]: line for line in result.output.splitlines() if line.startswith(("lm_head", "layer0", "w"))
    }
    for name, s in g["param_stats"].items():
        if s["nonfinite"]:
            n = s["shape"][0] * s["shape"][1]
            assert f"({s['nonfinite']} of {n} non-finite)" in lines[name]


def test_collapsed_gradient_norms_leave_constants_out():
    trainer = Trainer(NAMES, TrainConfig(steps=3), **SMALL)
    trainer.train_step()
    trace = trace_step(trainer)
    G, C = trace.graph(), trace.collapse("stage")
    by_scope = {}
    for _, d in G.nodes(data=True):
        if d["op"] != "const":
            by_scope.setdefault(d["scope"], []).append(d["grad"])
    for scope, d in C.nodes(data=True):
        grads = by_scope.get(scope, [])
        assert d["grad_norm"] == stats.norm(grads), scope
        assert d["grad_abs_max"] == stats.abs_max(grads), scope
    # the mean's 1/n constant has the largest gradient of its scope; it does not set the norm
    consts = [d["grad"] for _, d in G.nodes(data=True) if d["op"] == "const" and d["scope"] == "loss/mean"]
    assert consts and max(map(abs, consts)) > C.nodes["loss/mean"]["grad_abs_max"]


def test_report_and_gradflow_say_how_many_entries_are_not_finite():
    from microtrace.viz.gradflow.matrices import trace_figure
    from microtrace.viz.report.page import build_report

    trace = _poisoned_trace()
    stats_ = trace.graph().graph["param_stats"]
    page = build_report(trace)
    for s in stats_.values():
        if s["nonfinite"]:
            assert f"({s['nonfinite']} of {s['shape'][0] * s['shape'][1]} non-finite)" in page
    svg = trace_figure(trace, "svg")
    text = svg if isinstance(svg, str) else getattr(svg, "data", str(svg))
    bad = next(name for name, s in stats_.items() if s["nonfinite"])
    assert f"{bad}: nan ({stats_[bad]['nonfinite']} of" in text or f"{bad}: inf ({stats_[bad]['nonfinite']} of" in text
