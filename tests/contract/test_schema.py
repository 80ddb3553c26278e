"""Everything that knows the trace format agrees with the one schema (tracer/model/schema.py): the JSON
validator, the store's columns, strict JSON's number fields, the XML types, the docs' tables and the
explorer page's decoder. A field added to the schema reaches them all, or this fails."""

import json
import math
import re
from pathlib import Path

import pytest

from conftest import MINI, NAMES
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import trace_step
from microtrace.tracer.export import strict_json, xml_graph
from microtrace.tracer.model import schema
from microtrace.tracer.model.columns import NODE_EXTRAS
from microtrace.tracer.model.trace import TraceError
from microtrace.tracer.storage import store
from microtrace.tracer.storage.validate import validate_trace
from microtrace.viz.explore.payload import num

ROOT = Path(__file__).resolve().parents[2]
DATA_JS = ROOT / "src" / "microtrace" / "viz" / "explore" / "js" / "data.js"


@pytest.fixture(scope="module")
def tiny_trace():
    return trace_step(Trainer(NAMES, TrainConfig(steps=3, seed=1), **MINI), 1)


def test_strict_json_decodes_exactly_the_schemas_number_fields():
    assert strict_json.NUMBER_FIELDS == schema.number_fields()
    assert {"data", "grad", "local_grad", "loss", "grad_norm", "contribution"} <= strict_json.NUMBER_FIELDS
    assert not {"op", "scope", "doc", "step", "pos"} & strict_json.NUMBER_FIELDS


def test_the_stores_columns_are_the_schemas():
    pytest.importorskip("pyarrow")
    arrow = store._schema()
    assert arrow.names == list(schema.STORE_ORDER)
    for name, kind, _ in schema.store_columns():
        assert arrow.field(name).type == store._arrow(kind), name
    with_column = {f.name for f in schema.NODES if f.column}
    assert with_column | set(schema.STORE_OWN) == set(schema.STORE_ORDER)
    # the sparse columns are the node attributes a node's dict lists after op, data, grad and scope
    sparse = {"index" if n in ("row", "col") else n for n in store._EXTRAS if n != "extra"}
    assert sparse == set(NODE_EXTRAS)


def test_xml_types_are_the_schemas(tiny_trace):
    G = tiny_trace.graph("elementary")
    node_types, edge_types = xml_graph.types_of(G)
    for domain, types in (("node", node_types), ("edge", edge_types)):
        known = schema.xml_types(domain)
        assert types and all(types[k] == known[k] for k in types), (domain, types)
    text = xml_graph.graphml(G)
    declared = dict(re.findall(r'for="graph" attr.name="([^"]+)" attr.type="([^"]+)"', text))
    known = schema.xml_types("graph")
    assert declared and all(declared[k] == known[k] for k in declared)


def test_one_spelling_of_nan_and_inf_in_files_and_pages():
    words = set(schema.NONFINITE)
    assert {strict_json.dumps(x) for x in (math.nan, math.inf, -math.inf)} == {json.dumps(w) for w in words}
    assert {num(x) for x in (math.nan, math.inf, -math.inf)} == words
    assert {xml_graph._value(x, "double") for x in (math.nan, math.inf, -math.inf)} == words
    # the explorer's decoder reads back exactly these words
    line = next(line for line in DATA_JS.read_text().splitlines() if line.startswith("const SPECIAL"))
    keys = set(re.findall(r'"?(-?\w+)"?\s*:', line.split("=", 1)[1].split(";")[0]))
    assert keys == words


@pytest.fixture(scope="module")
def json_trace(tiny_trace):
    from microtrace.tracer.storage.io import to_json

    data = json.loads(to_json(tiny_trace.graph("elementary")))
    strict_json.decode_nonfinite(data)
    validate_trace(data)
    return data


def _first_node_with(data, name):
    return next(i for i, n in enumerate(data["nodes"]) if name in n)


def _to_change(data, part, i=None):
    """A copy of the trace `data` in which `part` ("graph", or item `i` of "nodes" or "edges") may be
    changed; the rest is shared with `data` (the validator only reads), not copied node by node."""
    out = dict(data)
    if i is None:
        out[part] = dict(data[part])
    else:
        out[part] = list(data[part])
        out[part][i] = dict(data[part][i])
    return out


@pytest.mark.parametrize("field", [f for f in schema.NODES if f.name in ("op", "data", "grad", "scope", "stage", "pos",
                                   "layer", "head", "key", "unit", "param", "new_data", "exponent")],
                         ids=lambda f: f.name)  # fmt: skip
def test_the_validator_holds_each_node_field_to_its_type(json_trace, field):
    i = _first_node_with(json_trace, field.name)
    data = _to_change(json_trace, "nodes", i)
    wrong = "x" if field.type in ("number", "natural", "int") else 7
    data["nodes"][i][field.name] = wrong
    with pytest.raises(TraceError, match=rf"node {i}: .*{field.name}"):
        validate_trace(data)
    if field.required:
        del data["nodes"][i][field.name]
        with pytest.raises(TraceError, match=rf"node {i}: no '{field.name}'"):
            validate_trace(data)


@pytest.mark.parametrize("field", [f for f in schema.GRAPH if f.required and f.name != "format"], ids=lambda f: f.name)
def test_the_validator_requires_each_required_graph_field(json_trace, field):
    data = _to_change(json_trace, "graph")
    del data["graph"][field.name]
    with pytest.raises(TraceError, match=field.name):
        validate_trace(data)


@pytest.mark.parametrize("field", schema.EDGES, ids=lambda f: f.name)
def test_the_validator_holds_each_edge_field_to_its_type(json_trace, field):
    i = next((i for i, e in enumerate(json_trace["edges"]) if field.name in e), 0)
    data = _to_change(json_trace, "edges", i)
    data["edges"][i][field.name] = "x"
    with pytest.raises(TraceError, match=rf"edge {i} .*{field.name}"):
        validate_trace(data)
