"""The public API a notebook user reads (docs/api.md): microtrace.viz exports the figure functions, and
each returns an object a notebook displays."""

import shutil

import graphviz
import pytest
from PIL import Image

from conftest import NAMES, SMALL, invoke
from microtrace import viz
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import load_trace, save_trace, trace_step


@pytest.fixture(scope="module")
def trace():
    trainer = Trainer(NAMES, TrainConfig(steps=4), **SMALL)
    trainer.train_step()
    return trace_step(trainer)


def test_every_documented_export_is_there():
    for name in viz.__all__:
        assert callable(getattr(viz, name)), name
    with pytest.raises(AttributeError):
        viz.no_such_figure  # noqa: B018


def test_figures_are_notebook_objects(trace):
    assert isinstance(viz.graph_figure(trace), graphviz.Digraph)
    assert isinstance(viz.graph_figure(trace, "scalar", focus="pos1/layer0/attn/head0"), graphviz.Digraph)
    assert isinstance(viz.attention_figure(trace), Image.Image)
    assert isinstance(viz.gradflow_figure(trace), Image.Image)
    svg = viz.gradflow_figure(trace, "svg")
    assert isinstance(svg, viz.SVG) and svg._repr_svg_().startswith("<?xml") and "<svg" in svg
    assert viz.figure_bytes(svg) == str(svg).encode("utf-8")


def test_trace_repr_and_html(trace):
    assert repr(trace).startswith(f"<Trace step 1 doc {trace.meta['doc']!r} loss ")
    html = trace._repr_html_()
    assert "microtrace Trace" in html and "<code>layer0.attn_wq</code>" in html and "max |g|" in html


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_a_digraph_renders_for_a_notebook(trace):
    assert "<svg" in viz.graph_figure(trace)._repr_image_svg_xml()


def test_a_notebook_counts_in_the_view_the_commands_count_in(trace, tmp_path):
    """`trace.graph()` and the other methods, their view left out, give the view `inspect`, the report and
    the explorer count in (issue 20's one set of numbers), for a live trace and for a file that holds the
    elementary view only (the fused one is derived from it)."""
    save_trace(trace, tmp_path / "step.json")
    line = invoke("inspect", "--trace", tmp_path / "step.json").output.splitlines()[0]  # the same file: once
    for t in (trace, load_trace(tmp_path / "step.json")):
        nodes, edges = t.size()
        assert t.graph().graph["view"] == t.collapse("block").graph["view"] == t.default_view() == "fused"
        assert t.graph().number_of_nodes() == nodes < t.size("elementary")[0]
        assert f"({nodes:,} nodes, {edges:,} edges, fused view" in line
