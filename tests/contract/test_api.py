"""The public API a notebook user reads (docs/api.md): microtrace.viz exports the figure functions, and
each returns an object a notebook displays."""

import shutil

import graphviz
import pytest
from PIL import Image

from conftest import NAMES, SMALL
from microtrace import viz
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import trace_step


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
