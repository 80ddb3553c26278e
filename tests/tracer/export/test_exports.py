"""Exports other tools load: every file is read back by a parser that is not networkx's own (json with
NaN refused, xml.etree against the GraphML and GEXF rules, Model Explorer's own classes)."""

import json
import math
import xml.etree.ElementTree as ET

import networkx as nx
import pytest
from click.testing import CliRunner

from conftest import MINI, ROOT
from microtrace.cli import cli
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import export, load_trace, save_trace, trace_script, trace_step
from microtrace.tracer.export import strict_json
from microtrace.tracer.storage import io, store, store_stream
from microtrace.tracer.storage.io import export_bytes, export_chunks, save_store
from microtrace.util.text import visible

GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"
GEXF = "{http://www.gexf.net/1.2draft}"
JAVA_WORDS = {"NaN", "Infinity", "-Infinity"}


def _refuse(word):
    raise ValueError(f"not strict JSON: {word}")


def strict_loads(text):
    """RFC 8259 only: Python's json accepts NaN and Infinity unless told not to."""
    return json.loads(text, parse_constant=_refuse)


@pytest.fixture(scope="module")
def nan_trace():
    """A step with nan and inf in it, and a document with characters XML and JSON must escape."""
    trainer = Trainer(["ava", "mia", 'a<&"\x01>b'], TrainConfig(steps=4), **MINI)
    trainer.train_step()
    while "\x01" not in trainer.doc_for(trainer.step):
        trainer.train_step()
    trainer.model.state_dict["layer0.attn_wq"][0][0].data = math.inf
    return trace_step(trainer)


def _same(a, b):
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def _assert_same_graph(G, H):
    assert list(G.nodes) == list(H.nodes) and list(G.edges) == list(H.edges)
    for n, d in G.nodes(data=True):
        e = H.nodes[n]
        assert d.keys() == e.keys() and all(_same(d[k], e[k]) for k in d), n
    for u, v, d in G.edges(data=True):
        assert all(_same(x, H.edges[u, v][k]) for k, x in d.items())
    assert G.graph.keys() == H.graph.keys()


# --- JSON ---------------------------------------------------------------------------------------------


def test_trace_file_is_strict_json_and_round_trips_nan_and_inf(nan_trace, tmp_path):
    G = nan_trace.graph()
    assert any(not math.isfinite(d["data"]) for _, d in G.nodes(data=True))
    path = tmp_path / "t.json"
    save_trace(nan_trace, path)
    data = strict_loads(path.read_text())
    values = {d["data"] for d in data["nodes"] if isinstance(d["data"], str)}
    assert values and values <= JAVA_WORDS  # the documented form JavaScript's Number() reads
    assert data["graph"]["doc"] == G.graph["doc"]
    _assert_same_graph(G, load_trace(path).graph())


def test_nan_as_null_literal_and_d3_links(nan_trace, tmp_path):
    G = nan_trace.graph()
    export(G, tmp_path / "null.json", "json", nan_as="null")
    data = strict_loads((tmp_path / "null.json").read_text())
    assert any(d["data"] is None for d in data["nodes"])
    loaded = load_trace(tmp_path / "null.json").graph()
    assert all(math.isnan(loaded.nodes[n]["data"]) for n, d in G.nodes(data=True) if not math.isfinite(d["data"]))
    export(G, tmp_path / "literal.json", "json", nan_as="literal")
    with pytest.raises(ValueError, match="not strict JSON"):
        strict_loads((tmp_path / "literal.json").read_text())
    export(G, tmp_path / "d3.json", "json", edges_key="links")
    data = strict_loads((tmp_path / "d3.json").read_text())
    assert "links" in data and "edges" not in data and len(data["links"]) == G.number_of_edges()
    _assert_same_graph(G, load_trace(tmp_path / "d3.json").graph())


def test_inspect_json_is_strict(nan_trace, tmp_path):
    path = tmp_path / "t.json"
    save_trace(nan_trace, path)
    result = CliRunner().invoke(cli, ["inspect", "--trace", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = strict_loads(result.stdout)
    assert report["first_nonfinite"]["data"] in JAVA_WORDS
    result = CliRunner().invoke(cli, ["inspect", "--trace", str(path), "--json", "--nan-as", "null"])
    assert strict_loads(result.stdout)["first_nonfinite"]["data"] is None


# --- GraphML and GEXF ---------------------------------------------------------------------------------


def _double(text):
    """Java's Double.parseDouble: NaN, Infinity, -Infinity or a decimal (never nan or inf)."""
    assert text in JAVA_WORDS or text.lower() not in ("nan", "inf", "-inf", "infinity", "-infinity"), text
    return float(text)


def test_graphml_by_the_schema_rules(nan_trace, tmp_path):
    G = nan_trace.collapse("block")
    path = tmp_path / "b.graphml"
    export(G, path, "graphml")
    root = ET.parse(path).getroot()  # well-formed XML, whatever the document holds
    assert root.tag == f"{GRAPHML}graphml"
    children = list(root)
    graph_at = [c.tag for c in children].index(f"{GRAPHML}graph")
    keys = {}
    for k in children[:graph_at]:  # every <key> before the <graph>
        assert k.tag == f"{GRAPHML}key" and k.get("for") in ("graph", "node", "edge")
        assert k.get("attr.type") in ("boolean", "int", "long", "float", "double", "string")
        keys[k.get("id")] = (k.get("for"), k.get("attr.name"), k.get("attr.type"))
    graph = children[graph_at]
    assert graph.get("edgedefault") == "directed"

    def read(element, domain):
        out = {}
        for d in element.findall(f"{GRAPHML}data"):
            for_, name, kind = keys[d.get("key")]
            assert for_ == domain
            text = d.text or ""
            out[name] = _double(text) if kind == "double" else int(text) if kind == "long" else text
        return out

    attrs = read(graph, "graph")
    assert attrs["step"] == G.graph["step"] and attrs["doc"] == visible(G.graph["doc"])
    assert json.loads(attrs["config"]) == G.graph["config"] and "param_stats" in attrs
    nodes = {n.get("id"): read(n, "node") for n in graph.findall(f"{GRAPHML}node")}
    assert list(nodes) == list(G.nodes)
    for n, d in G.nodes(data=True):
        assert all(_same(nodes[n][k], d[k]) for k in ("grad_norm", "data_norm", "count", "scope")), n
    assert any(math.isnan(a["grad_norm"]) or math.isinf(a["grad_norm"]) for a in nodes.values())
    edges = graph.findall(f"{GRAPHML}edge")
    assert len(edges) == G.number_of_edges() and all(e.get("source") in nodes for e in edges)


def test_gexf_labels_names_and_graph_attributes(nan_trace, tmp_path):
    G = nan_trace.graph()
    path = tmp_path / "e.gexf"
    export(G, path, "gexf")
    root = ET.parse(path).getroot()
    assert root.tag == f"{GEXF}gexf" and root.get("version") == "1.2"
    meta = json.loads(root.find(f"{GEXF}meta/{GEXF}description").text, parse_constant=_refuse)
    assert {"step", "doc", "loss", "config"} <= meta.keys() and meta["config"] == G.graph["config"]
    graph = root.find(f"{GEXF}graph")
    titles = {
        a.get("id"): (a.get("title"), a.get("type"))
        for a in graph.findall(f"{GEXF}attributes[@class='node']/{GEXF}attribute")
    }
    names = {t for t, _ in titles.values()}
    assert "key" in names and "networkx_key" not in names  # the trace's own attribute names
    assert {"op", "scope", "data", "grad", "index_row", "index_col"} <= names
    nodes = graph.findall(f"{GEXF}nodes/{GEXF}node")
    assert len(nodes) == G.number_of_nodes()
    for node in nodes:
        d = G.nodes[int(node.get("id"))]
        label = node.get("label")
        assert label != node.get("id")
        if d["op"] == "param":
            assert label == f"{d['param']}[{d['index'][0]},{d['index'][1]}]"
        else:
            assert label == f"{d['op']} {d['scope']}"
        for v in node.findall(f"{GEXF}attvalues/{GEXF}attvalue"):
            title, kind = titles[v.get("for")]
            if kind == "double":
                _double(v.get("value"))


def test_any_character_is_valid_xml(tmp_path):
    import networkx as nx

    G = nx.DiGraph(doc='a\x01b\x0bc\ud800\ufffe <&>"')
    G.add_node(0, op="const", scope="x\x02y", data=1.0, grad=0.0)
    for fmt in ("graphml", "gexf"):
        export(G, tmp_path / f"g.{fmt}", fmt)
        root = ET.parse(tmp_path / f"g.{fmt}").getroot()  # well-formed, whatever the text held
        text = ET.tostring(root, encoding="unicode")
        assert "\u2402" in text  # the scope's \x02, shown visibly


# --- Model Explorer -----------------------------------------------------------------------------------


def test_model_explorer_graph_is_what_model_explorer_reads(nan_trace, tmp_path):
    pytest.importorskip("model_explorer")
    dacite = pytest.importorskip("dacite")
    from model_explorer import graph_builder

    C = nan_trace.collapse("stage")
    for G in (C, nan_trace.graph()):
        path = tmp_path / "me.json"
        export(G, path, "model-explorer")
        data = strict_loads(path.read_text())
        # What Model Explorer's page accepts for a dropped .json: a collection with a label and graphs.
        assert isinstance(data["label"], str) and len(data["graphs"]) == 1
        collection = dacite.from_dict(graph_builder.GraphCollection, data)  # the package's own classes
        graph = collection.graphs[0]
        ids = {n.id for n in graph.nodes}
        assert len(ids) == G.number_of_nodes()
        for node in graph.nodes:
            assert all(e.sourceNodeId in ids for e in node.incomingEdges)
            assert len(node.incomingEdges) == G.in_degree(node.id if G is C else int(node.id))
            shown = {kv.key for kv in node.outputsMetadata[0].attrs}
            assert shown in ({"value", "grad"}, {"‖value‖", "‖grad‖"})
    # elementary nodes sit in their scopes: the namespaces are the scope paths
    by_id = {n.id: n for n in graph.nodes}
    for n, d in nan_trace.graph().nodes(data=True):
        assert by_id[str(n)].namespace == d["scope"]


def test_model_explorer_without_the_package_is_one_line(nan_trace, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_explorer(name, *args, **kwargs):
        if name.startswith("model_explorer"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    path = tmp_path / "t.json"
    save_trace(nan_trace, path)
    monkeypatch.setattr(builtins, "__import__", no_explorer)
    result = CliRunner().invoke(
        cli, ["export", "--trace", str(path), "-f", "model-explorer", "-o", str(tmp_path / "m.json")]
    )
    assert result.exit_code == 2 and "pip install 'microtrace[explorer]'" in result.stderr
    assert not (tmp_path / "m.json").exists()


# --- GraphML and GEXF streamed from a store -----------------------------------------------------------


@pytest.mark.parametrize(
    "fmt",
    # the same streaming writer for both formats, its tiny ranges and many passes too: GEXF repeats it (~2 CPU-s)
    ["graphml", pytest.param("gexf", marks=pytest.mark.slow)],
)
def test_graphml_and_gexf_stream_from_a_store_byte_for_byte(nan_trace, tmp_path, monkeypatch, fmt):
    """A store's view is written a node and an edge at a time, the edges sorted by source a range at a
    time (tiny ranges here: many passes), into the very bytes the writer of the whole graph makes."""
    monkeypatch.setattr(store_stream, "EDGE_BUDGET", 40)
    monkeypatch.setattr(store, "ROW_GROUP", 1000)  # several row groups a view
    path = tmp_path / "step.parquet"
    save_store(nan_trace, path)
    for view in ("elementary", "fused"):
        out = tmp_path / f"{view}.{fmt}"
        result = CliRunner().invoke(cli, ["export", "--trace", str(path), "--view", view, "-o", str(out)])
        assert result.exit_code == 0, result.output
        G = load_trace(path).graph(view)
        assert out.read_bytes() == export_bytes(G, fmt)  # what the whole graph's writer makes of it
        root = ET.parse(out).getroot()  # and well-formed XML, the document's \x01 and <&"> included
        ns = GRAPHML if fmt == "graphml" else GEXF
        assert len(root.findall(f".//{ns}node")) == G.number_of_nodes() > 2000
        assert len(root.findall(f".//{ns}edge")) == G.number_of_edges()
        assert "Infinity" in out.read_text() and ">inf<" not in out.read_text()
    live = tmp_path / f"live.{fmt}"
    export(nan_trace, live, fmt)  # a live trace streams from its columns
    assert live.read_bytes() == export_bytes(nan_trace.graph("elementary"), fmt)  # a file keeps microGPT's ops


def test_a_script_trace_streams_byte_for_byte(tmp_path, monkeypatch):
    """A script's nodes carry free-form attributes (source lines, functions): each such node's types
    count, not only the first of its kind."""
    monkeypatch.setattr(store, "ROW_GROUP", 500)
    path = tmp_path / "script.parquet"
    save_store(trace_script(ROOT / "tests" / "scripts" / "micrograd_style" / "train.py", 1), path)
    for fmt in ("graphml", "gexf"):
        assert "".join(export_chunks(load_trace(path), fmt)) == export_bytes(load_trace(path).graph(), fmt).decode()


def test_json_above_the_limit_is_refused_naming_focus_and_a_focused_export_is_the_scope(
    nan_trace, tmp_path, monkeypatch
):
    io.check_export_size(10**9, "graphml")  # streamed: any size
    path = tmp_path / "step.parquet"
    save_store(nan_trace, path)
    monkeypatch.setattr(io, "EXPORT_MAX_NODES", 100)
    result = CliRunner().invoke(cli, ["export", "--trace", str(path), "-o", str(tmp_path / "all.json")])
    assert result.exit_code == 2 and not (tmp_path / "all.json").exists()
    assert result.output.count("\n") == 1 and "too many to export as json" in result.output
    assert "--focus SCOPE" in result.output and "--level" in result.output
    monkeypatch.undo()
    out = tmp_path / "head.json"
    scope = "pos1/layer0/attn/head0"
    result = CliRunner().invoke(cli, ["export", "--trace", str(path), "--focus", scope, "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = strict_loads(out.read_text())
    strict_json.decode_nonfinite(data)  # "NaN", "Infinity" back to numbers
    G = nx.node_link_graph(data, edges="edges")  # (a part of a step: not a trace file, its loss is outside)
    inside = set(nan_trace.scope_nodes(scope, "elementary"))  # the file's own view, which export keeps
    assert inside < set(G) and all(n in inside or set(G.pred[n]) | set(G.succ[n]) for n in G)
    _assert_same_graph(G, load_trace(path).subgraph(inside, "elementary"))  # the scope, its neighbours, their edges


def test_a_focused_export_of_a_json_trace_is_the_scope_as_from_its_store(nan_trace, tmp_path):
    """A JSON trace holds its whole graph once loaded; `--focus` still exports the scope, its neighbours
    and their edges (it exported every node), the same bytes as from the step's store."""
    scope = "pos1/layer0/attn/head0"
    save_trace(nan_trace, tmp_path / "step.json")
    save_store(nan_trace, tmp_path / "step.parquet")
    outs = []
    for name in ("step.json", "step.parquet"):
        out = tmp_path / f"{name}.focus.json"
        result = CliRunner().invoke(cli, ["export", "--trace", str(tmp_path / name), "--focus", scope, "-o", str(out)])
        assert result.exit_code == 0, result.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    n = len(strict_loads(outs[0].decode())["nodes"])
    assert len(nan_trace.scope_nodes(scope)) < n < nan_trace.size("elementary")[0]
