"""`microtrace trace`, `export` and `inspect` through click's runner: files, formats, bad input."""

import json
import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from conftest import invoke
from microtrace.tracer import load_trace


def test_trace_writes_a_loadable_file_with_the_run_step(run_dir, tmp_path):
    out = tmp_path / "deep" / "s4.json"
    result = invoke("trace", "--run", run_dir, "--step", 4, "-o", out)
    assert result.exit_code == 0, result.output
    trace = load_trace(out)
    G = trace.graph("elementary")  # what the file holds; graph() would derive the fused view from it
    assert G.graph["step"] == 4 and G.graph["format"] == 1
    losses = (run_dir / "losses.csv").read_text().splitlines()
    assert losses[5] == f"5,{G.graph['loss']!r}"  # the header, then steps 1..6; bit-identical loss
    fused = tmp_path / "f.json"
    assert invoke("trace", "--run", run_dir, "--step", 4, "-o", fused, "--view", "fused").exit_code == 0
    assert load_trace(fused).graph("fused").number_of_nodes() < G.number_of_nodes()


@pytest.mark.slow
def test_export_formats_from_run_or_trace_file(run_dir, tmp_path):
    trace_file = tmp_path / "s2.json"
    assert invoke("trace", "--run", run_dir, "--step", 2, "-o", trace_file).exit_code == 0
    for name in ("g.graphml", "g.gexf"):
        result = invoke("export", "--trace", trace_file, "-o", tmp_path / name)
        assert result.exit_code == 0, result.output
        ET.parse(tmp_path / name)
    H = nx.read_graphml(tmp_path / "g.graphml")
    assert H.number_of_nodes() == load_trace(trace_file).graph("elementary").number_of_nodes()  # the file's view
    result = invoke(
        "export", "--run", run_dir, "--step", 2, "--level", "block", "-f", "json", "-o", tmp_path / "b.json"
    )
    assert result.exit_code == 0, result.output
    blocks = json.loads((tmp_path / "b.json").read_text())
    assert any(n["id"] == "pos0/layer0/attn" for n in blocks["nodes"])


def test_inspect_reports_and_answers(run_dir):
    result = invoke(
        "inspect",
        "--run",
        run_dir,
        "--step",
        1,
        "--json",
        "--paths",
        "layer0.attn_wv[0,0]",
        "-k",
        2,
        "--scope",
        "pos1/layer0/attn/head0/weights",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["first_nonfinite"] is None and len(report["paths"]) == 2
    weights = [d for d in report["scope"] if "key" in d]
    assert sorted(d["key"] for d in weights) == [0, 1]
    assert sum(d["data"] for d in weights) == pytest.approx(1.0)
    text = invoke("inspect", "--run", run_dir, "--step", 1)
    assert "layer0.mlp_fc1" in text.output and "all values and gradients are finite" in text.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["trace", "--run", "{run}", "--step", "6", "-o", "{tmp}/x.json"], "is the trained model"),
        (["trace", "--run", "{run}", "--step", "-1", "-o", "{tmp}/x.json"], "out of range"),
        (["trace", "--run", "{tmp}/nope", "--step", "1", "-o", "{tmp}/x.json"], ""),
        (["trace", "--run", "{run}", "-o", "{tmp}/x.json"], "--step"),
        (["trace", "-o", "{tmp}/x.json"], "--run"),
        (["export", "--trace", "{tmp}/missing.json", "-o", "{tmp}/x.graphml"], "no such trace file"),
        (["export", "--run", "{run}", "--step", "1", "-o", "{tmp}/x.png"], "format"),
        (["inspect", "--run", "{run}", "--step", "1", "--scope", "pos42"], "no scope"),
        (["inspect", "--run", "{run}", "--step", "1", "--paths", "wte[99,0]"], "does not take part"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_dir, tmp_path, args, message):
    result = invoke(*[a.format(run=run_dir, tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert message in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0]  # one line saying what is wrong


def test_trace_file_of_another_format_version(run_dir, tmp_path):
    path = tmp_path / "s.json"
    assert invoke("trace", "--run", run_dir, "--step", 0, "-o", path).exit_code == 0
    data = json.loads(path.read_text())
    data["graph"]["format"] = 2
    path.write_text(json.dumps(data))
    result = invoke("inspect", "--trace", path)
    assert result.exit_code == 2 and "format 2" in result.output
