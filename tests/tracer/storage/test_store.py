"""The trace store (Parquet): what is read back equals what was traced, collapsed statistics from the
store equal those of the full graph, commands read a big step in bounded memory, and a damaged store
is refused in one line."""

import functools
import json
import math
import subprocess
import sys
from collections import defaultdict
from fractions import Fraction
from unittest import mock

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import MINI, NAMES, ROOT, SMALL, examples
from microtrace.cli import cli
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import load_trace, save_trace, trace_script, trace_step, trace_text
from microtrace.tracer.analysis.collapse import LEVELS
from microtrace.tracer.model.columns import GraphData
from microtrace.tracer.model.scopes import prefix
from microtrace.tracer.model.trace import Trace
from microtrace.tracer.storage import store, store_collapse
from microtrace.tracer.storage.io import save_store
from microtrace.tracer.storage.store_write import write_store


def _same(a, b):
    """Equality where nan equals nan (a float attribute may be nan)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def assert_same_graph(G, H, operand_order=True):
    assert G.graph == H.graph or _same(G.graph, H.graph)
    assert list(G.nodes) == list(H.nodes)
    for n, d in G.nodes(data=True):
        assert _same(d, H.nodes[n]), n
    assert list(G.edges) == list(H.edges)
    for u, v, d in G.edges(data=True):
        assert _same(d, H.edges[u, v]), (u, v)
    for n in G.nodes if operand_order else ():  # it decides how an expression is written
        assert list(G.pred[n]) == list(H.pred[n])


def _default_trace(**model):
    t = Trainer(NAMES, TrainConfig(steps=10, seed=0), **model)
    t.train_step()
    return trace_step(t, 1)


def _small_trace():
    return _default_trace(**SMALL)


def _two_layers():
    return trace_step(Trainer(NAMES, TrainConfig(steps=5, seed=1), **{**MINI, "n_layer": 2}), 0)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_default_trace, marks=pytest.mark.slow),  # the default-size step (~5 s): .ci/run's
        pytest.param(_two_layers, marks=pytest.mark.slow),  # a bigger size of the MINI steps below (~1 CPU-s)
        lambda: trace_text(Trainer(NAMES, TrainConfig(steps=5, seed=1), **MINI), 0, "ava"),  # no Adam columns
        lambda: trace_step(Trainer(NAMES, TrainConfig(steps=5, seed=0, lr=1e6), **MINI), 3),  # nan and inf
        lambda: trace_script(ROOT / "tests" / "scripts" / "micrograd_style" / "train.py", 1),  # source lines, own ops
    ],
    ids=["default", "two-layers", "text", "nonfinite", "script"],
)
def test_store_round_trip_is_the_traced_graph(make, tmp_path):
    trace = make()
    path = tmp_path / "step.trace"  # any name: the content says it is a store
    save_store(trace, path)
    loaded = load_trace(path)
    assert loaded.views() == ("elementary", "fused")
    for view in loaded.views():
        assert loaded.size(view) == trace.size(view)
        assert_same_graph(trace.graph(view), loaded.graph(view))
    for view in loaded.views():  # the partial reads: a fresh store, nothing but what each asks is read
        gd, fresh = trace.data(view), load_trace(path)
        assert fresh.nonfinite(view) == trace.nonfinite(view)
        assert fresh.stage_nodes(("weights", "nll"), view) == trace.stage_nodes(("weights", "nll"), view)
        assert fresh.data(view).ids_with_op("relu") == gd.ids_with_op("relu")
        doubled = [gd.dst[e] for e in list(gd.multiplicity)[:3]]  # x * x: an edge of multiplicity 2
        found = [n for n in (trace.nonfinite(view)[0],) if n is not None]
        nodes = [gd.loss, 0, len(gd) // 2, *doubled, *found, *trace.stage_nodes(("nll",), view)[:5]]
        columns = Trace(trace.meta, sources={view: gd})  # (trace.subgraph gives the whole graph once it is built)
        fresh = load_trace(path)
        assert_same_graph(columns.subgraph(nodes, view), fresh.subgraph(nodes, view))
        assert not {"src", "data", "extra"} & set(vars(fresh.data(view)))  # no whole column but ids was read
        with mock.patch.object(store_collapse, "BATCH", 997):  # aggregated in Arrow, across batches
            for level in LEVELS:
                assert_same_graph(columns.collapse(level, view), fresh.collapse(level, view), operand_order=False)
        assert not {"src", "data", "extra"} & set(vars(fresh.data(view)))  # nor did collapse read all


@pytest.mark.slow  # a bigger model than the streaming test below, which reads many row groups back too
def test_a_store_of_many_row_groups_reads_back_the_traced_graph(tmp_path, monkeypatch):
    """Edges are read a row group at a time: their indices (multiplicities are keyed by them) and
    results carry across groups."""
    monkeypatch.setattr(store, "ROW_GROUP", 1000)
    trace = trace_step(Trainer(NAMES, TrainConfig(steps=5, seed=1), **{**SMALL, "n_layer": 2}), 0)
    save_store(trace, tmp_path / "s.parquet")
    loaded = load_trace(tmp_path / "s.parquet")
    for view in loaded.views():
        assert trace.data(view).multiplicity and len(trace.data(view)) > 5000
        assert_same_graph(trace.graph(view), loaded.graph(view))


def test_a_store_is_deterministic_and_json_still_loads(tmp_path):
    trace = _small_trace()
    save_store(trace, tmp_path / "a.parquet")
    save_store(_small_trace(), tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    save_trace(trace.graph("fused"), tmp_path / "fused.json")
    loaded = load_trace(tmp_path / "fused.json")
    assert loaded.views() == ("fused",)
    assert_same_graph(
        trace.graph("fused"), loaded.graph("fused"), operand_order=False
    )  # node-link lists edges by source


def test_the_recorder_streams_the_store_a_row_group_at_a_time(tmp_path):
    """A live step is written while it is expanded, a row group at a time: the same bytes as the view
    written whole, deterministic, and the same graph read back."""
    rows = 1000  # ~11k elementary nodes and ~3k fused: several row groups, the last one short
    trace = _two_layers()
    pieces = list(trace.pieces("elementary", rows))
    assert [len(p) for p in pieces[:-1]] == [rows] * (len(pieces) - 1) and 0 < len(pieces[-1]) <= rows
    assert [p.base for p in pieces] == [k * rows for k in range(len(pieces))]
    assert sum(p.n_edges() for p in pieces) == trace.size("elementary")[1]
    assert [p.loss for p in pieces[:-1]] == [None] * (len(pieces) - 1)
    fresh = _two_layers()
    save_store(fresh, tmp_path / "streamed.parquet", row_group=rows)
    assert not fresh._sources  # nothing of either view was kept
    again = _two_layers()
    save_store(again, tmp_path / "again.parquet", row_group=rows)
    whole = [(view, [again.data(view)]) for view in again.views()]  # each view made whole first
    write_store(tmp_path / "whole.parquet", again.meta, whole, row_group=rows)
    streamed = (tmp_path / "streamed.parquet").read_bytes()
    assert streamed == (tmp_path / "again.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    assert pq.ParquetFile(tmp_path / "streamed.parquet").metadata.num_row_groups == sum(
        -(-again.size(view)[0] // rows) for view in again.views()
    )
    save_store(load_trace(tmp_path / "streamed.parquet"), tmp_path / "resaved.parquet", row_group=rows)
    assert (tmp_path / "resaved.parquet").read_bytes() == streamed  # a store read and written again
    loaded = load_trace(tmp_path / "streamed.parquet")
    for view in loaded.views():
        assert_same_graph(again.graph(view), loaded.graph(view))
        nodes = [0, rows - 1, rows, 2 * rows + 7, again.data(view).loss]  # either side of a row group's edge
        fresh = load_trace(tmp_path / "streamed.parquet")
        assert_same_graph(
            Trace(again.meta, sources={view: again.data(view)}).subgraph(nodes, view), fresh.subgraph(nodes, view)
        )
    with pytest.raises(ValueError, match="must start a row group"):  # pieces that are not whole row groups
        write_store(tmp_path / "bad.parquet", again.meta, [("fused", _two_layers().pieces("fused", rows // 2))], rows)


def test_the_store_is_plain_parquet(tmp_path):
    """What docs/trace-format.md promises a reader without microtrace."""
    trace = _small_trace()
    save_store(trace, tmp_path / "s.parquet")
    table = pq.read_table(tmp_path / "s.parquet", filters=[("view", "=", "elementary")])
    rows = table.to_pylist()
    G = trace.graph("elementary")
    assert len(rows) == G.number_of_nodes()
    row = rows[G.graph["loss_node"]]
    assert row["data"] == G.graph["loss"] and row["scope"] == "loss/mean" and row["id"] == G.graph["loss_node"]
    assert sum(len(r["operands"]) for r in rows) == G.number_of_edges()
    meta = json.loads(pq.ParquetFile(tmp_path / "s.parquet").metadata.metadata[b"microtrace"])
    assert meta["step"] == 1 and meta["views"]["fused"]["nodes"] == trace.size("fused")[0]


# -- collapsed statistics: store against the full graph ---------------------------------------------

SCOPES = ["pos0/embed/add", "pos0/layer0/attn/head0/weights", "pos0/layer0/attn/head1/q", "pos1/layer0/mlp/relu",
          "pos1/lm_head/logits", "pos1/loss/nll", "loss/mean", "param/wte", "param/layer0.attn_wq"]  # fmt: skip
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1.0, 1e308]))


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 40))
    gd = GraphData()
    for _ in range(n):
        gd.add(
            draw(st.sampled_from(["+", "*", "exp", "param", "const"])),
            draw(FLOATS),
            draw(FLOATS),
            draw(st.sampled_from(SCOPES)),
        )
    for v in range(1, n):
        for u in sorted(draw(st.sets(st.integers(0, v - 1), max_size=3))):
            gd.edge(u, v, draw(FLOATS), draw(FLOATS))
    gd.loss = n - 1
    return gd


@functools.cache
def _real_meta():
    return _small_trace().meta


def reference_collapse(G, level):
    """Collapse statistics straight from the full networkx graph, as the docs define them."""
    nodes, edges = defaultdict(list), defaultdict(list)
    group = {n: prefix(d["scope"], level) for n, d in G.nodes(data=True)}
    for n, d in G.nodes(data=True):
        nodes[group[n]].append(d)
    internal = defaultdict(int)
    for u, v, d in G.edges(data=True):
        if group[u] == group[v]:
            internal[group[u]] += 1
        else:
            edges[group[u], group[v]].append(d["grad_flow"])

    def fsum(xs):  # the exact sum, rounded once (Fraction), with IEEE's nan and inf
        xs = list(xs)
        if any(math.isnan(x) for x in xs) or (math.inf in xs and -math.inf in xs):
            return math.nan
        if math.inf in xs or -math.inf in xs:
            return math.inf if math.inf in xs else -math.inf
        total = sum(map(Fraction, xs), Fraction(0))
        try:
            return float(total)
        except OverflowError:
            return math.inf if total > 0 else -math.inf

    out = {}
    for key, ds in nodes.items():
        grads = [d["grad"] for d in ds if d["op"] != "const"]  # constants' gradients are left out (the docs)
        out[key] = {
            "count": len(ds),
            "grad_norm": math.sqrt(fsum(g * g for g in grads)),
            "grad_abs_sum": fsum(abs(g) for g in grads),
            "data_norm": math.sqrt(fsum(d["data"] * d["data"] for d in ds)),
            "nonfinite": sum(not (math.isfinite(d["data"]) and math.isfinite(d["grad"])) for d in ds),
            "zero_grad": sum(d["grad"] == 0 for d in ds),
            "internal_edges": internal[key],
        }
    for (a, b), flows in edges.items():
        out[a, b] = {"count": len(flows), "grad_flow": fsum(flows), "grad_flow_abs": fsum(abs(f) for f in flows)}
    return out


@settings(max_examples=examples(40), deadline=None)
@given(gd=graphs(), level=st.sampled_from(LEVELS))
def test_collapsed_statistics_from_the_store_equal_the_full_graphs(gd, level, tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "g.parquet"
    meta = _real_meta()  # graph attributes a store must have to open
    write_store(path, meta, [("elementary", [gd])])
    stored = load_trace(path)
    with mock.patch.object(store_collapse, "BATCH", 3):  # Arrow's partial sums of batches, added exactly
        C = stored.collapse(level, "elementary")
    assert_same_graph(C, Trace(meta, sources={"elementary": gd}).collapse(level, "elementary"), operand_order=False)
    expected = reference_collapse(Trace(meta, sources={"elementary": gd}).graph("elementary"), level)
    got = {n: {k: d[k] for k in expected[n]} for n, d in C.nodes(data=True)}
    got.update({(u, v): {k: d[k] for k in expected[u, v]} for u, v, d in C.edges(data=True)})
    assert got.keys() == expected.keys()
    for key, stats in expected.items():
        assert repr(got[key]) == repr(stats), key  # repr: nan equals nan


# -- memory and damage ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    """A ~300k-node step: 2 layers x 16 wide x 16 positions on long documents."""
    docs = ["internationalization" + "characteristically"[i:] for i in range(8)]
    trainer = Trainer(docs, TrainConfig(steps=3, seed=0), n_embd=16, n_head=4, n_layer=2, block_size=16)
    trace = trace_step(trainer, 0)
    path = tmp_path_factory.mktemp("big") / "big.parquet"
    save_store(trace, path)
    return path, trace.size("elementary")[0]  # the view inspect and export stream from the store


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    """The SMALL model's step: two views of a few thousand nodes, each its own row groups."""
    path = tmp_path_factory.mktemp("small") / "small.parquet"
    save_store(_small_trace(), path)
    return path


def _peak_mb(args):
    """Peak memory (MB) of `microtrace ARGS` in a fresh process: its VmHWM (ru_maxrss would carry over
    the parent's peak across exec)."""
    code = (
        "import re\n"
        "from click.testing import CliRunner\n"
        "from microtrace.cli import cli\n"
        f"r = CliRunner().invoke(cli, {[str(a) for a in args]!r})\n"
        "assert r.exit_code == 0, r.output\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


@pytest.mark.slow  # ~5 s: a 300k-node step made, then read in a fresh process
def test_inspect_of_a_big_store_stays_in_bounded_memory(big_store):
    path, nodes = big_store
    assert nodes > 250_000
    peak_mb = _peak_mb(["inspect", "--trace", path, "--scope", "pos3/layer1/attn/head0/weights"])
    # the whole networkx graph alone would take ~2.5 KB a node (~750 MB here)
    assert peak_mb < 300, f"inspect peaked at {peak_mb} MB for {nodes} nodes"


@pytest.mark.slow  # ~15 s: 250k nodes and 500k edges written as XML
def test_a_graphml_export_of_a_big_store_streams_in_bounded_memory(big_store, tmp_path):
    path, nodes = big_store
    out = tmp_path / "big.graphml"
    peak_mb = _peak_mb(["export", "--trace", path, "-o", out])
    assert out.stat().st_size > 100 * nodes  # every node and edge is there (~600 bytes a node)
    # the whole networkx graph alone would take ~2.5 KB a node (~750 MB here): the stream holds a row
    # group of nodes and a range of edges at a time
    assert peak_mb < 300, f"export peaked at {peak_mb} MB for {nodes} nodes"


def _damaged(path, tmp_path, how):
    data = bytearray(path.read_bytes())
    out = tmp_path / f"{how}.parquet"
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "flipped":  # bytes inside the first row group of each view: whichever a command reads
        md = pq.ParquetFile(path).metadata
        for k in (0, md.num_row_groups - 1):
            start = md.row_group(k).column(3).data_page_offset + 40  # the `data` column's first page
            for i in range(start, start + 32):
                data[i] ^= 0x5A
    elif how == "empty":
        data = b""
    elif how == "meta":  # a store whose graph attributes lost their per-matrix statistics
        table = pq.read_table(path)
        meta = json.loads(pq.ParquetFile(path).metadata.metadata[b"microtrace"])
        del meta["param_stats"]
        n = meta["views"]["elementary"]["nodes"]
        table = table.replace_schema_metadata({"microtrace": json.dumps(meta)})
        with pq.ParquetWriter(out, table.schema) as writer:  # row groups of one view each, as the store has
            writer.write_table(table.slice(0, n), row_group_size=65_536)
            writer.write_table(table.slice(n), row_group_size=65_536)
        return out
    elif how == "foreign":
        import pyarrow as pa

        pq.write_table(pa.table({"x": [1, 2]}), out)
        return out
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("how, message", [
    ("truncated", "not a readable trace store"),
    ("flipped", "corrupt trace store"),
    ("empty", "not a trace file"),
    ("foreign", "not a microtrace trace store"),
    ("meta", "'param_stats' should be an object"),
])  # fmt: skip
def test_a_damaged_store_is_refused_in_one_line(small_store, tmp_path, how, message):
    bad = _damaged(small_store, tmp_path, how)
    for args in (
        ["inspect"],
        ["graph", "-o", str(tmp_path / "g.svg")],
        ["doctor"],
        ["attention", "-o", str(tmp_path / "a.png")],
    ):
        result = CliRunner().invoke(cli, [*args, "--trace", str(bad)])
        assert result.exit_code == 2, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], (args, result.output)
        assert "Traceback" not in result.output


def test_damage_met_while_streaming_an_export_leaves_nothing_written(tmp_path, monkeypatch):
    """A GraphML export has written its nodes when it meets a damaged page among the edges: one line,
    exit 2, and the file that was there is as it was."""
    monkeypatch.setattr(store, "ROW_GROUP", 1000)
    trace = trace_step(Trainer(NAMES, TrainConfig(steps=5, seed=1), **{**SMALL, "n_layer": 2}), 0)
    path = tmp_path / "s.parquet"
    save_store(trace, path)
    md = pq.ParquetFile(path).metadata
    column = md.schema.to_arrow_schema().get_field_index("grad_flows")
    data = bytearray(path.read_bytes())
    start = md.row_group(md.num_row_groups // 3).column(column).data_page_offset + 40  # an elementary group
    for i in range(start, start + 32):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    out = tmp_path / "g.graphml"
    out.write_text("the user's file")
    result = CliRunner().invoke(cli, ["export", "--trace", str(path), "-o", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "corrupt trace store" in lines[0], result.output
    assert out.read_text() == "the user's file" and sorted(p.name for p in tmp_path.iterdir()) == [
        "g.graphml",
        "s.parquet",
    ]
