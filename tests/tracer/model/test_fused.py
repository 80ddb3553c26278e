"""The fused view derived from any elementary view (tracer/model/fused.py): a run's step saved with the
elementary view only and read back has the fused view captured with it, node for node, bit for bit."""

import struct

import pytest

from microtrace.tracer import load_trace, trace_step
from microtrace.tracer.model.fused import fuse
from microtrace.tracer.storage.io import save_store, save_trace


def bits(x):
    return struct.pack("<d", x)  # a float's bits: nan == nan, -0.0 != 0.0


def view_of(gd):
    """Every node (op, bits of value and gradient, scope, attributes) and every edge (its ends, bits of
    local derivative and gradient flow, multiplicity): a view as its readers see it (a JSON file lists a
    node's operands by id, so edges are compared as a set)."""
    nodes = [(d["op"], bits(d["data"]), bits(d["grad"]), d["scope"], sorted((k, repr(v)) for k, v in d.items()
              if k not in ("op", "data", "grad", "scope"))) for _, d in gd.nodes()]  # fmt: skip
    edges = sorted(
        (u, v, bits(d["local_grad"]), bits(d["grad_flow"]), d.get("multiplicity", 1)) for u, v, d in gd.edges()
    )
    return nodes, edges, gd.loss


@pytest.fixture(scope="module")
def step(run_dir):
    return trace_step(run_dir, step=4)


@pytest.mark.parametrize("kind", ["json", "store"])
def test_a_runs_step_saved_elementary_only_reads_back_with_the_fused_view_captured_directly(step, tmp_path, kind):
    if kind == "json":
        path = tmp_path / "step.json"
        save_trace(step.graph("elementary"), path)
    else:
        pytest.importorskip("pyarrow")
        path = tmp_path / "step.parquet"
        save_store(step, path, views=["elementary"])
    loaded = load_trace(path)
    assert loaded.views() == ("elementary", "fused")
    captured, derived = view_of(step.data("fused")), view_of(loaded.data("fused"))
    assert derived == captured
    ops = {op for op, *_ in captured[0]}
    assert {"dot", "lin", "sum"} <= ops  # every kind of fused node is derived, not only one
    assert loaded.size("fused") == step.size("fused")
    assert loaded.collapse("block", "fused").nodes(data=True) == step.collapse("block", "fused").nodes(data=True)


def test_folding_takes_only_chains_nothing_else_uses(step):
    """A chain whose partial sum is also used elsewhere, or that does not start at the constant 0, is left
    as it is: the derived view keeps every value the elementary view has outside the folded chains."""
    el = step.data("elementary")
    fused = fuse(el)
    assert len(fused) < len(el) / 3
    assert fused.data[fused.loss] == el.data[el.loss]
    assert sorted(bits(x) for x in fused.grad if x) != []  # gradients carried, not zeroed
    # folding the fused view again changes nothing: it has no chain left
    assert view_of(fuse(fused)) == view_of(fused)
