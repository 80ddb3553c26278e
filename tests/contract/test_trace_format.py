"""docs/trace-format.md is the contract: a schema is read from its tables, and real traces (a training
step, a text, the fused view, every collapsed level, a saved file) must match it field by field, both
ways: nothing undocumented in a trace, nothing documented missing from one."""

import json
import re
from pathlib import Path

import pytest

from conftest import NAMES, SMALL
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import save_trace, trace_step, trace_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "trace-format.md"
TYPES = {"int": int, "str": str, "float": float, "bool": bool, "dict": dict, "list[int]": list, "list[str]": list}


def _tables(text):
    """section title -> list of tables, each a list of rows (lists of cells), header and rule dropped."""
    sections, title, table = {}, None, None
    for line in text.splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            table = None
        elif line.startswith("|") and title:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if table is None:
                table = []
                sections.setdefault(title, []).append(table)
                continue  # the header
            if set("".join(cells)) <= set("- "):
                continue  # the rule under the header
            table.append(cells)
        else:
            table = None
    return sections


def _names(cell):
    return re.findall(r"`([^`]+)`", cell)


@pytest.fixture(scope="module")
def schema():
    t = _tables(DOC.read_text())
    graph = {}
    for name, kind, meaning in t["Graph attributes (`G.graph`)"][0]:
        for n in _names(name):
            graph[n] = (TYPES[kind], meaning)
    nodes, on_all = set(), set()
    for name, on, meaning in t["Nodes"][0]:
        nodes |= set(_names(name))
        if on == "all":
            on_all |= set(_names(name))
    ops = set(_names(next(m for n, _, m in t["Nodes"][0] if n == "`op`")))
    edges = {n for row in t["Edges (operand -> result)"][0] for n in _names(row[0])}
    c_nodes = {n for row in t["Collapsed graphs (`trace.collapse(level)`)"][0] for n in _names(row[0])}
    c_edges = {n for row in t["Collapsed graphs (`trace.collapse(level)`)"][1] for n in _names(row[0])}
    stats = set(_names(graph["param_stats"][1]))
    return dict(
        graph=graph, nodes=nodes, on_all=on_all, ops=ops, edges=edges, c_nodes=c_nodes, c_edges=c_edges, stats=stats
    )


@pytest.fixture(scope="module")
def traces():
    trainer = Trainer(NAMES, TrainConfig(steps=5), **SMALL)
    trainer.train_step()
    step = trace_step(trainer)
    text = trace_text(trainer, trainer.step, "mia")
    return step, text


def _check_graph_attrs(G, schema, exact):
    documented = schema["graph"]
    assert set(G.graph) <= set(documented), set(G.graph) - set(documented)
    if exact:
        some_traces_only = {"level", "conventions", "script"}  # collapsed graphs, traces of a script
        assert set(documented) - some_traces_only <= set(G.graph), set(documented) - set(G.graph)
    for k, v in G.graph.items():
        kind = documented[k][0]
        assert isinstance(v, kind) and not (kind is int and isinstance(v, bool)), (k, v)
    for name, s in G.graph["param_stats"].items():
        assert set(s) <= schema["stats"], set(s) - schema["stats"]
        if G.graph["update"]:
            assert set(s) == schema["stats"], schema["stats"] - set(s)
    if G.graph["update"]:  # the traced step reads a few rows of wte: Adam moves the others
        assert "moved_without_grad" in G.graph["param_stats"]["wte"]


def test_every_field_of_a_trace_is_documented_and_every_documented_field_is_there(schema, traces):
    step, text = traces
    for trace, exact in ((step, True), (text, False)):
        for view in ("elementary", "fused"):
            G = trace.graph(view)
            _check_graph_attrs(G, schema, exact)
            seen = set()
            for n, d in G.nodes(data=True):
                assert set(d) <= schema["nodes"], (n, set(d) - schema["nodes"])
                assert schema["on_all"] <= set(d) or d["op"] == "const", (n, schema["on_all"] - set(d))
                assert d["op"] in schema["ops"], d["op"]
                seen |= set(d)
            if exact and view == "elementary":
                script_only = {"function", "local_grad_known", "source"}  # traces of a script
                assert seen == schema["nodes"] - script_only, schema["nodes"] - script_only - seen
            for u, v, d in G.edges(data=True):
                assert set(d) <= schema["edges"], set(d) - schema["edges"]


def test_collapsed_graphs_match_their_tables(schema, traces):
    step, _ = traces
    shared = {"pos", "layer", "block", "head", "stage"}
    for level in ("block", "stage", "layer"):
        C = step.collapse(level)
        _check_graph_attrs(C, schema, exact=False)
        assert C.graph["level"] == level
        for n, d in C.nodes(data=True):
            assert set(d) <= schema["c_nodes"] | shared, set(d) - schema["c_nodes"] - shared
        for u, v, d in C.edges(data=True):
            assert set(d) == schema["c_edges"]


def test_the_saved_file_is_the_documented_node_link_json(schema, traces, tmp_path):
    step, _ = traces
    path = tmp_path / "t.json"
    save_trace(step, path)
    data = json.loads(path.read_text(), parse_constant=lambda w: pytest.fail(f"not strict JSON: {w}"))
    assert set(data) == {"directed", "multigraph", "graph", "nodes", "edges"}
    assert data["directed"] is True and data["multigraph"] is False
    assert data["nodes"][0]["id"] == 0 and {"source", "target"} <= set(data["edges"][0])
    assert set(data["graph"]) <= set(schema["graph"])


def test_the_pages_tables_are_the_schemas():
    """docs/trace-format.md's tables are written from tracer/model/schema.py: regenerate them with
    `python -m microtrace.tracer.model.schema_doc docs/trace-format.md` after changing the schema."""
    from microtrace.tracer.model import schema_doc

    text = DOC.read_text()
    assert schema_doc.rewrite(text) == text
    assert "| `local_grad` |" in text and "| `grad_flows` | list<double> |" in text
