"""Figures fit for print: parameter matrices in model order in every rank direction, the dark theme's
lowest colour visible, gradients printed in --grad cells (or a note saying why not), progress bars only
on a terminal, and a --steps range that asks for --max-frames."""

import shutil
import subprocess

import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import NAMES, SMALL
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import trace_step
from microtrace.viz import graph_figure
from microtrace.viz.attention import data as AT
from microtrace.viz.cli import cli, common
from microtrace.viz.draw import colormap
from microtrace.viz.graph import style as gs


@pytest.fixture(scope="module")
def trace():
    trainer = Trainer(NAMES, TrainConfig(steps=6), **{**SMALL, "n_layer": 2})
    trainer.train_step()
    return trace_step(trainer)


def _contrast(a, b):
    def lum(rgb):
        def ch(v):
            v /= 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        r, g, b_ = map(ch, rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_dark_theme_lowest_colour_is_visible():
    colors = gs.node_colors("grad", [1e-4, 1.0])
    dark = gs.theme("dark")
    lowest = colors.color_at(0.0, dark)
    assert _contrast(lowest, colormap.rgb_from_hex(dark.background.lstrip("#"))) >= 3
    fill, _ = colors.fill(1e-4, dark)
    assert fill == colormap.hex_color(lowest)
    assert colors.color_at(0.0, gs.theme("light")) == colormap.rgb_from_hex("440154")  # light unchanged


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_parameter_matrices_in_model_order_in_both_directions(trace, rankdir):
    order = list(trace.graph().graph["param_stats"])
    src = graph_figure(trace, "block", rankdir=rankdir).source
    out = subprocess.run(["dot", "-Tplain"], input=src, capture_output=True, text=True, check=True).stdout
    at = {}
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "node" and parts[1].startswith('"param/'):
            at[parts[1].strip('"')[len("param/") :]] = (float(parts[2]), float(parts[3]))
    # matrices drawn in the same rank (one column in LR, one row in TB) read in model order
    across = 1 if rankdir == "LR" else 0  # the coordinate along a rank
    ranks = {}
    for name, xy in at.items():
        ranks.setdefault(round(xy[1 - across], 2), []).append(name)
    for names in ranks.values():
        drawn = sorted(names, key=lambda n: -at[n][1] if rankdir == "LR" else at[n][0])
        assert drawn == [n for n in order if n in names], (rankdir, drawn)


def test_grad_values_are_printed_in_a_compact_unit(trace):
    data = AT.read_attention(trace)
    with_values = AT.draw(data, grad=True, values=True)
    without = AT.draw(data, grad=True)
    assert with_values.tobytes() != without.tobytes()
    layout = AT.grid_layout_of(data, grad=True, values=True)
    assert "in units of" in " ".join(layout.note_lines)
    small = AT.grid_layout_of(data, grad=True, values=True, scale=0.3)
    assert "do not fit" in " ".join(small.note_lines)
    strips = AT.draw(data, per_token=True, values=True)
    assert isinstance(strips, Image.Image)  # and its caption says why there are no numbers


def test_progress_bars_only_on_a_terminal(tmp_path, monkeypatch):
    run = tmp_path / "run"
    words = tmp_path / "words.txt"
    words.write_text("\n".join(NAMES) + "\n")
    args = [
        "train",
        "--data",
        str(words),
        "--steps",
        "6",
        "--n-embd",
        "8",
        "--n-head",
        "2",
        "--block-size",
        "8",
        "--samples",
        "0",
        "--out",
        str(run),
    ]
    assert CliRunner().invoke(cli, args).exit_code == 0
    command = ["gradflow", "--run", str(run), "--steps", "0:4", "--jobs", "1", "-o", str(tmp_path / "f.png")]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0 and "training through the range" not in result.stderr
    monkeypatch.setattr(common, "stderr_is_terminal", lambda: True)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0 and "training through the range" in result.stderr


def test_edge_labels_keep_clear_of_arrowheads_and_pages_fit(trace):
    g = graph_figure(trace, "scalar", focus="pos1/layer0/attn/head0/weights", backward=True)
    labels = [line for line in g.body if "->" in line and "label=" in line]
    assert labels and all('label="\u2002' in line for line in labels)
    page = graph_figure(trace, "scalar", focus="pos1/layer0/attn/head0/weights", size=(10, 7.5), ratio=0.7)
    assert 'size="10,7.5"' in page.source and "ratio=0.7" in page.source
    with pytest.raises(ValueError, match="ratio must be"):
        graph_figure(trace, ratio="tall")
    result = CliRunner().invoke(cli, ["graph", "--trace", "x.json", "--size", "10x7", "-o", "x.svg"])
    assert result.exit_code == 2 and "W,H" in result.output
