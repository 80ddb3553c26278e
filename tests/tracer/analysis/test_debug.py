"""Gradient-flow debugging: `gradflow` figures and CSV, `gradcheck`, `doctor`, and their bad input."""

import io
import math
import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from conftest import MINI, NAMES, SMALL, as_options, invoke
from microtrace.engine.data import load_dataset
from microtrace.engine.run import open_run
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.engine.value import Value, _exp
from microtrace.tracer import save_trace, trace_step
from microtrace.tracer.analysis.doctor import DEAD_RELU_SHARE, STATE_CHECKS, diagnose
from microtrace.tracer.analysis.gradcheck import gradcheck, relative_error
from microtrace.tracer.analysis.gradstats import range_stats, read_stats_csv
from microtrace.tracer.analysis.queries import dead_relu_counts, dead_relus
from microtrace.tracer.analysis.step_ranges import parse_steps
from microtrace.viz.gradflow import matrices
from microtrace.viz.gradflow.positions import position_data, positions_layout


def _train(tmp, name, *extra):
    data = tmp / "names.txt"
    data.write_text("\n".join(NAMES) + "\n")
    out = tmp / name
    result = invoke(
        "train",
        "--data",
        data,
        "--steps",
        6,
        *as_options(MINI),
        "--checkpoint-every",
        3,
        "--samples",
        0,
        "--out",
        out,
        *extra,
    )
    return out, result


@pytest.fixture(scope="module")
def huge_lr_run(tmp_path_factory):
    out, result = _train(tmp_path_factory.mktemp("huge"), "run", "--lr", "1e6")
    assert result.exit_code == 1 and "training stopped" in result.output  # diverged, checkpoints kept
    return out


def _png(path):
    return Image.open(path).convert("RGB")


# --- gradflow -------------------------------------------------------------------------------------------


def test_gradflow_png_size_content_and_tallest_bar(run_dir, tmp_path):
    out = tmp_path / "flow.png"
    result = invoke("gradflow", "--run", run_dir, "--step", 2, "-o", out)
    assert result.exit_code == 0, result.output
    image = _png(out)
    data = matrices.flow_data(trace_step(run_dir, 2).graph())
    layout = matrices.gradflow_layout(data)
    assert image.size == (layout.width, layout.height)
    assert len(image.getcolors(1 << 24)) > 20  # not blank
    # The bar of the matrix with the largest gradient norm reaches highest: scan each bar's left edge
    # (beside the mean dot, under the max tick's ends) from the top of the plot for the bar colour.
    tops = []
    for i, name in enumerate(layout.names):
        x0, y_top, _, y_bottom = layout.bar_box(i)
        x = x0 + 1
        y = next(
            (y for y in range(layout.grad_box[1], y_bottom) if image.getpixel((x, y)) == matrices.NORM_COLOR), None
        )
        assert y is not None, name
        assert abs(y - y_top) <= 4, name  # where the layout says the bar ends
        tops.append(y)
    norms = [data.stats[n]["grad_norm"] for n in layout.names]
    assert tops.index(min(tops)) == norms.index(max(norms))


def test_gradflow_svg_is_xml_with_every_matrix(run_dir, tmp_path):
    out = tmp_path / "flow.svg"
    assert invoke("gradflow", "--run", run_dir, "--step", 2, "-o", out).exit_code == 0
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = " ".join(t for t in root.itertext())
    names = open_run(run_dir).trainer_at(0).model.state_dict
    for name in names:
        assert name in text, name  # the bars' tooltips hold the full names
        assert name.split(".")[-1] in [e.text for e in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "1e-3 guide" in text


def test_gradflow_is_deterministic(run_dir, tmp_path):
    for suffix in ("png", "svg"):
        a, b = tmp_path / f"a.{suffix}", tmp_path / f"b.{suffix}"
        assert invoke("gradflow", "--run", run_dir, "--step", 4, "-o", a).exit_code == 0
        assert invoke("gradflow", "--run", run_dir, "--step", 4, "-o", b).exit_code == 0
        assert a.read_bytes() == b.read_bytes()


def test_gradflow_steps_csv_equals_the_traced_param_stats(run_dir, tmp_path):
    out = tmp_path / "steps.png"
    result = invoke("gradflow", "--run", run_dir, "--steps", "1:6:2", "--jobs", 1, "-o", out)  # one process: test_jobs
    assert result.exit_code == 0, result.output
    assert _png(out).size[0] > 400
    rows = read_stats_csv((tmp_path / "steps.csv").read_text())
    assert sorted({r["step"] for r in rows}) == [1, 3, 5]
    G = trace_step(run_dir, 3).graph()
    traced = G.graph["param_stats"]
    mine = {r["matrix"]: r for r in rows if r["step"] == 3}
    assert list(mine) == list(traced)  # model order
    for name, stats in traced.items():
        for key, value in stats.items():
            if key != "moved_without_grad":  # entries, not a statistic: no column of the CSV
                assert mine[name][key] == value, (name, key)  # bit for bit
    assert mine["wte"]["loss"] == G.graph["loss"] and mine["wte"]["lr"] == G.graph["lr"]
    # --csv names the file; the SVG of the range is XML too
    svg, csv_path = tmp_path / "s.svg", tmp_path / "deep" / "numbers.csv"
    assert (
        invoke("gradflow", "--run", run_dir, "--steps", "0:2", "--jobs", 1, "-o", svg, "--csv", csv_path).exit_code == 0
    )
    ET.parse(svg)
    assert {r["step"] for r in read_stats_csv(csv_path.read_text())} == {0, 1}


def test_range_stats_leave_the_run_as_training_does(run_dir):
    stats = range_stats(run_dir, range(0, 6, 5))
    assert [s.step for s in stats] == [0, 5]
    losses = open_run(run_dir).losses()
    assert [s.loss for s in stats] == [losses[0], losses[5]]


def test_gradflow_per_position(run_dir, tmp_path):
    trace = trace_step(run_dir, 3)
    data = position_data(trace.collapse("block"))
    n = len(data.labels)
    assert data.labels == tuple(trace.meta["chars"][:n])
    assert data.rows == ("loss", "lm_head", "layer0 mlp", "layer0 attn", "embed")
    # the KV cache carries gradient from every later position back to every earlier one
    for i in range(n):
        for j in range(n):
            value = data.kv[0][i][j]
            assert (value is not None and value > 0) if i < j else value is None
    out = tmp_path / "pos.png"
    assert invoke("gradflow", "--run", run_dir, "--step", 3, "--per-position", "-o", out).exit_code == 0
    layout = positions_layout(data)
    assert _png(out).size == (layout.width, layout.height)
    assert invoke("gradflow", "--run", run_dir, "--step", 3, "--per-position", "-o", tmp_path / "p.svg").exit_code == 0
    ET.parse(tmp_path / "p.svg")


def test_gradflow_from_a_trace_file_and_nonfinite_values(huge_lr_run, tmp_path):
    path = tmp_path / "s1.json"
    save_trace(trace_step(huge_lr_run, 1).graph(), path)
    out = tmp_path / "nan.png"
    result = invoke("gradflow", "--trace", path, "-o", out)
    assert result.exit_code == 0, result.output
    image = _png(out)
    assert matrices.NONFINITE_COLOR in {c for _, c in image.getcolors(1 << 24)}  # nan gradients: grey bars


# --- gradcheck ------------------------------------------------------------------------------------------


def _max_error(output):
    return float(re.search(r"max relative error (\S+)", output).group(1))


def test_gradcheck_passes_on_a_healthy_step(run_dir):
    result = invoke("gradcheck", "--run", run_dir, "--step", 3, "--samples", 2)
    assert result.exit_code == 0, result.output
    assert _max_error(result.output) < 1e-4 and "OK" in result.output
    table = [line for line in result.output.splitlines() if re.match(r"^\S+\s+\[\d+,\d+\]", line)]
    assert {line.split()[0] for line in table} == set(open_run(run_dir).trainer_at(0).model.state_dict)
    assert len(table) == 2 * 9


def test_gradcheck_catches_a_wrong_derivative(run_dir, monkeypatch):
    # exp's local derivative 1% off: the forward pass (and the numeric gradient) is unchanged,
    # every gradient through a softmax is wrong.
    exp = _exp

    def wrong_exp(self):
        return Value(exp(self.data), (self,), (exp(self.data) * 1.01,), "exp")

    monkeypatch.setattr(Value, "exp", wrong_exp)
    result = invoke("gradcheck", "--run", run_dir, "--step", 3, "--samples", 2)
    assert result.exit_code == 1, result.output
    assert _max_error(result.output) > 1e-3 and "FAILED" in result.output


@pytest.mark.slow
def test_gradcheck_samples_only_entries_in_the_step_and_restores_them():
    trainer = Trainer(NAMES, TrainConfig(steps=3), **SMALL)
    before = [(p.data, p.grad) for p in trainer.model.params]
    result = gradcheck(trainer, samples=20, seed=1)
    assert [(p.data, p.grad) for p in trainer.model.params] == before
    tokens = trainer.tokens_for(0)
    n = min(trainer.config.block_size, len(tokens) - 1)
    for c in result.checks:
        if c.matrix == "wte":
            assert c.index[0] in tokens[:n]
        if c.matrix == "wpe":
            assert c.index[0] < n
    assert result.passed(1e-4)
    assert gradcheck(trainer, samples=20, seed=1) == result  # deterministic
    assert relative_error(0.0, 0.0, 1e-5) == 0 and math.isnan(relative_error(math.nan, 1.0, 1e-5))


def test_gradcheck_refuses_an_eps_that_makes_the_floor_meaningless():
    trainer = Trainer(NAMES, TrainConfig(steps=3), **SMALL)
    with pytest.raises(ValueError, match="floor would be 10"):
        gradcheck(trainer, eps=1e-12)
    # At a sensible eps the floor is below the gradients, so a 3% error fails the default tolerance.
    result = gradcheck(trainer, samples=2)
    assert result.floor == pytest.approx(1e-5)
    assert relative_error(0.103, 0.1, result.floor) > 1e-4


# --- doctor ---------------------------------------------------------------------------------------------


def test_doctor_healthy_step(run_dir):
    result = invoke("doctor", "--run", run_dir, "--step", 2)
    assert result.exit_code == 0, result.output
    assert "healthy: no findings" in result.output


def test_doctor_and_gradflow_count_the_same_dead_relus(run_dir):
    """A healthy step with a few dead ReLU units: doctor says healthy and how many are dead, the count
    gradflow's 'dead ReLU' row shows (it said only "healthy" while gradflow showed 4 of 64 dead)."""
    steps = [trace_step(run_dir, k).graph() for k in range(6)]
    G = next(G for G in steps if dead_relu_counts(G)[0][0] > 0)
    dead, units = dead_relu_counts(G)[0]
    assert 0 < dead < DEAD_RELU_SHARE * units and dead == len(dead_relus(G))
    assert matrices.flow_data(G).dead == {"layer0": (dead, units)}
    result = invoke("doctor", "--run", run_dir, "--step", G.graph["step"])
    assert result.exit_code == 0 and "healthy: no findings" in result.output
    assert f"dead ReLU units (no gradient at any position): {dead} of {units} in layer0" in result.output


@pytest.mark.slow
def test_doctor_default_model_has_no_false_alarm():
    # The default model and data, early steps of a 1000-step run (where update ratios are largest).
    trainer = Trainer(load_dataset(None).docs, TrainConfig(steps=1000))
    for step in (0, 1, 12):
        G = trace_step(trainer, step).graph()
        assert diagnose(G) == [], step


def test_doctor_flags_a_huge_learning_rate(huge_lr_run):
    result = invoke("doctor", "--run", huge_lr_run, "--step", 1)
    assert result.exit_code == 1, result.output
    assert "ERROR" in result.output and "non-finite" in result.output
    first = invoke("doctor", "--run", huge_lr_run, "--step", 0, "--json")  # the update that blew it up
    assert first.exit_code == 1 and '"update_high"' in first.output


def test_doctor_flags_a_zero_initialised_matrix(tmp_path):
    trainer = Trainer(NAMES, TrainConfig(steps=3), **MINI)
    for row in trainer.model.state_dict["layer0.mlp_fc1"]:
        for p in row:
            p.data = 0.0
    G = trace_step(trainer).graph()
    checks = {(f.check, f.where) for f in diagnose(G)}
    assert ("dead_relu", "layer0/mlp") in checks
    assert ("zero_weights", "layer0.mlp_fc1") in checks and ("no_grad", "layer0.mlp_fc2") in checks
    path = tmp_path / "zero.json"
    save_trace(G, path)
    result = invoke("doctor", "--trace", path)
    assert result.exit_code == 1 and "all 16 ReLU units are dead" in result.output


def test_doctor_blames_nonfinite_weights_not_what_follows_from_them():
    trainer = Trainer(NAMES, TrainConfig(steps=3), **SMALL)
    trainer.train_step()
    for p in trainer.model.state_dict["layer0.mlp_fc1"][0]:
        p.data = math.nan
    findings = diagnose(trace_step(trainer).graph())
    checks = {f.check for f in findings}
    assert "weights_nonfinite" in checks and "nonfinite" in checks
    # Every ReLU after a nan weight looks dead; that is a consequence, not the initialisation's fault.
    assert not checks & {"dead_relu", "saturated_attention", "saturated_softmax"}
    assert not any("initialis" in f.hint for f in findings)


def test_doctor_at_step_0_does_not_blame_the_learning_rate():
    trainer = Trainer(NAMES, TrainConfig(steps=3), **SMALL)
    for row in trainer.model.state_dict["layer0.mlp_fc1"]:
        for p in row:
            p.data = 0.0
    at_0 = diagnose(trace_step(trainer).graph())
    dead = [f for f in at_0 if f.check == "dead_relu"]
    assert dead and all("lower the learning rate" not in f.hint and "initialisation" in f.hint for f in dead)
    assert all("lower the learning rate" not in f.hint for f in at_0 if f.check in STATE_CHECKS)
    trainer.train_step()
    later = [f for f in diagnose(trace_step(trainer).graph()) if f.check == "dead_relu"]
    assert later and any("lower the learning rate" in f.hint for f in later)  # after an update it may be


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["gradflow", "--run", "{run}", "--steps", "1-4", "-o", "{tmp}/f.png"], "A:B"),
        (["gradflow", "--run", "{run}", "--steps", "0:99", "-o", "{tmp}/f.png"], "goes past the run"),
        (["gradflow", "--run", "{run}", "--steps", "4:2", "-o", "{tmp}/f.png"], "empty"),
        (["gradflow", "--run", "{run}", "--steps", "0:4:0", "-o", "{tmp}/f.png"], "stride"),
        (["gradflow", "--run", "{huge}", "--steps", "0:4", "-o", "{tmp}/f.png"], "never trained"),
        (["gradflow", "--run", "{run}", "--steps", "0:4", "--per-position", "-o", "{tmp}/f.png"], "--per-position"),
        (["gradflow", "--run", "{run}", "--step", "6", "-o", "{tmp}/f.png"], "is the trained model"),
        (["gradflow", "--run", "{tmp}/nope", "--step", "1", "-o", "{tmp}/f.png"], "no such run"),
        (["gradflow", "--trace", "{tmp}/missing.json", "-o", "{tmp}/f.png"], "no such trace file"),
        (["gradflow", "--run", "{run}", "--step", "1", "-o", "{tmp}/f.jpg"], ".png, .svg or .pdf"),
        (["gradcheck", "--run", "{run}", "--step", "1", "--samples", "0"], "--samples"),
        (["gradcheck", "--run", "{run}", "--step", "1", "--eps", "0"], "--eps"),
        (["gradcheck", "--run", "{run}", "--step", "9"], "out of range"),
        (["gradcheck", "--run", "{run}", "--step", "6"], "is the trained model"),
        (["gradcheck", "--run", "{run}", "--step", "1", "--eps", "1e-12"], "floor would be 10"),
        (["gradcheck", "--run", "{run}", "--step", "1", "--eps", "0.5"], "too large"),
        (["gradcheck", "--run", "{tmp}/nope", "--step", "0"], "no such run"),
        (["doctor", "--run", "{run}", "--step", "-1"], "out of range"),
        (["doctor", "--trace", "{tmp}/missing.json"], "no such trace file"),
        (["doctor"], "--run"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_dir, huge_lr_run, tmp_path, args, message):
    result = invoke(*[a.format(run=run_dir, huge=huge_lr_run, tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output


def test_parse_steps():
    assert parse_steps("0:10:3", 10) == range(0, 10, 3)
    assert parse_steps(" 2 : 5 ") == range(2, 5)
    with pytest.raises(ValueError):
        parse_steps("0:11", 10)


def test_figures_render_at_another_scale(run_dir):
    data = matrices.flow_data(trace_step(run_dir, 1).graph())
    small, big = matrices.gradflow_figure(data), matrices.gradflow_figure(data, scale=2)
    assert big.size[0] > 1.8 * small.size[0]
    assert io.BytesIO(matrices.gradflow_figure(data, fmt="svg").encode()).read(5) == b"<?xml"
