"""The one check of a trace read from disk, before anything trusts it (docs/trace-format.md).

`validate_trace(data)` takes the parsed node-link JSON and raises `TraceError` with one line naming the
first thing wrong (`node 412: no 'grad'`, `edge 7 (3 -> 9): 'local_grad' should be a number, got 'x'`).
What passes is what every command may assume: the graph attributes and each node's and edge's
attributes present with their types, node ids 0..N-1, edges between existing nodes and pointing forward
(operand before result, so the graph has no cycle), positions inside the document, parameter indices
inside their matrix. Other stores of traces validate with the same function, or with its conventions:
messages say where (`graph`, `node N`, `edge N (U -> V)`) and then what.
"""

import re

from microtrace.engine.model import is_number, is_whole
from microtrace.tracer.model import schema
from microtrace.tracer.model.trace import FORMAT, TraceError

VIEWS = schema.VIEWS
OPS = schema.OPS
# A trace of a user's script (graph attribute `conventions`, tracer/capture/script.py) may also hold its own
# operations (`tanh`, `sigmoid`, `pow`), no run config, seed or learning rate, no known tokens, and an
# update without Adam's moments.
_POSITION_SCOPE = re.compile(r"pos(\d+)/")
# Scopes and the names in them are microtrace's own (`pos3/layer0/attn/head2/weights`, `param/wte`):
# plain names, so that they can be node ids and cluster names in DOT and paths in messages as they are.
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_SCOPE = re.compile(r"[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")

# What a value of each of the schema's types must be, as messages say it (tracer/model/schema.py).
_NUMBER = "a number"
_WHOLE = "a whole number"
_NATURAL = "a whole number, 0 or more"
_TEXT = "a string"
_BOOL = "true or false"
_OBJECT = "an object"
_KIND = {"number": _NUMBER, "int": _WHOLE, "natural": _NATURAL, "str": _TEXT, "name": _TEXT, "bool": _BOOL,
         "dict": _OBJECT}  # fmt: skip
# The rules of the tables: (name, what it must be, required); lists and a parameter's index are checked
# on their own.
_NODE_RULES = [(f.name, _KIND[f.type], f.required) for f in schema.NODES if f.type in _KIND]
_NAMES = tuple(f.name for f in schema.NODES if f.type == "name")  # plain names, as scopes are made of
_GRAPH_RULES = [(f.name, _KIND[f.type], f.required) for f in schema.GRAPH
                if f.type in _KIND and f.name not in ("format", "param_stats")]  # fmt: skip
_STATS_RULES = [(f.name, _KIND[f.type], f.required) for f in schema.PARAM_STATS if f.type in _KIND]
_EDGE_RULES = [(f.name, _KIND[f.type], f.required) for f in schema.EDGES]


# each kind's test, looked up once per rule rather than per value (a file's every node and edge meets
# them); the JSON parser's own floats and ints pass on their type alone (bool is neither: type() is exact)
_FITS = {
    _NUMBER: lambda value: type(value) in (float, int) or is_number(value),
    _WHOLE: lambda value: type(value) is int or is_whole(value),
    _NATURAL: lambda value: is_whole(value) and value >= 0,
    _BOOL: lambda value: isinstance(value, bool),
    _OBJECT: lambda value: isinstance(value, dict),
    _TEXT: lambda value: isinstance(value, str),
}


def _fits(value, kind):
    return _FITS[kind](value)


def shown(value):
    """A value as a message shows it: short, on one line."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check(where, attrs, name, kind, required=True):
    if name not in attrs:
        if required:
            raise TraceError(f"{where}: no {name!r}")
        return
    if not _fits(attrs[name], kind):
        raise TraceError(f"{where}: {name!r} should be {kind}, got {shown(attrs[name])}")


def _check_all(where, attrs, rules):
    """`_check` of each (name, test, kind, required) of `rules`, inlined: it runs for every node and edge.
    `where` is a function of nothing that names the place, called only for a message."""
    for name, fits, kind, required in rules:
        if name in attrs:
            if not fits(attrs[name]):
                raise TraceError(f"{where()}: {name!r} should be {kind}, got {shown(attrs[name])}")
        elif required:
            raise TraceError(f"{where()}: no {name!r}")


_NODE_TESTS = [(name, _FITS[kind], kind, required) for name, kind, required in _NODE_RULES]
_EDGE_TESTS = [(name, _FITS[kind], kind, required) for name, kind, required in _EDGE_RULES]


def validate_trace(data):
    """Raise TraceError (one line) unless `data`, parsed node-link JSON, is a trace every command can use."""
    if not isinstance(data, dict):
        raise TraceError(f"not a trace: the JSON is {type(data).__name__}, not an object")
    graph = data.get("graph")
    if not isinstance(graph, dict) or "format" not in graph:
        raise TraceError("not a microtrace trace file (no format field)")
    if graph["format"] != FORMAT:
        raise TraceError(f"trace format {shown(graph['format'])}, this microtrace reads format {FORMAT}")
    if data.get("directed") is not True or data.get("multigraph") not in (False, None):
        raise TraceError("not a trace: a trace is a directed graph, not a multigraph")
    nodes, edges = data.get("nodes"), data.get("edges")
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise TraceError("not a trace: it needs a list of 'nodes' and a list of 'edges'")
    _check_graph(graph, len(nodes))
    rules = NodeRules(graph)
    for i, node in enumerate(nodes):
        _check_node(i, node, rules)
    _check_edges(edges, len(nodes))


def _is_script(graph):
    return isinstance(graph.get("conventions"), dict)


def validate_graph(graph, n_nodes):
    """Raise TraceError (one line) unless `graph`, a trace's graph attributes (with its `view` and
    `loss_node`), is what every command may assume of a graph of `n_nodes` nodes. The store checks its
    metadata with it (tracer/storage/store.py), as `validate_trace` checks a JSON file's."""
    _check_graph(graph, n_nodes)


def _check_graph(graph, n_nodes):
    where = "graph"
    script = _is_script(graph)
    for name, kind, required in _GRAPH_RULES:
        _check(where, graph, name, kind, required=required and not (script and name in schema.GRAPH_NOT_OF_SCRIPTS))
    if graph["view"] not in VIEWS:
        raise TraceError(f"graph: 'view' should be one of {', '.join(VIEWS)}, got {shown(graph['view'])}")
    tokens, chars = graph.get("tokens"), graph.get("chars")
    if script and tokens == [] and chars == []:
        pass  # a script whose tokens were not recognised
    elif not (isinstance(tokens, list) and len(tokens) >= 2 and all(_fits(t, _NATURAL) for t in tokens)):
        raise TraceError("graph: 'tokens' should be a list of at least 2 token ids")
    if not (isinstance(chars, list) and len(chars) == len(tokens) and all(isinstance(c, str) for c in chars)):
        raise TraceError("graph: 'chars' should be a list of strings, one per token")
    if graph["loss_node"] >= n_nodes:
        raise TraceError(f"graph: 'loss_node' {graph['loss_node']} is not a node (there are {n_nodes})")
    stats = graph.get("param_stats")
    if not isinstance(stats, dict) or not (stats or script):  # a script's step may use no parameters
        raise TraceError("graph: 'param_stats' should be an object with one entry per parameter matrix")
    for name, s in stats.items():
        where = f"graph: param_stats {shown(name)}"
        if not _NAME.fullmatch(name):
            raise TraceError(f"{where}: a matrix name should be letters, digits, '_', '.' or '-'")
        if not isinstance(s, dict):
            raise TraceError(f"{where} should be an object")
        shape = s.get("shape")
        if not (isinstance(shape, list) and len(shape) == 2 and all(is_whole(x) and x >= 1 for x in shape)):
            raise TraceError(f"{where}: 'shape' should be [rows, cols]")
        for key, kind, required in _STATS_RULES:
            _check(where, s, key, kind, required=required or (graph["update"] and key in schema.UPDATE_STATS))
        _check_moved(where, s.get("moved_without_grad", {}), shape)
    return stats


_ENTRY = re.compile(r"(0|[1-9][0-9]*),(0|[1-9][0-9]*)")


def _check_moved(where, moved, shape):
    """`moved_without_grad`: entries "row,col" inside the matrix, each [before, after], finite numbers."""
    for key, pair in moved.items():
        m = _ENTRY.fullmatch(key)
        if not (m and int(m[1]) < shape[0] and int(m[2]) < shape[1]):
            raise TraceError(
                f'{where}: moved_without_grad {shown(key)} is not an entry "row,col" of its {shape[0]}x{shape[1]} matrix'
            )
        if not (isinstance(pair, list) and len(pair) == 2 and all(is_number(x) and x - x == 0 for x in pair)):
            raise TraceError(
                f"{where}: moved_without_grad {key} should be [value before, value after], two finite numbers"
            )


def _check_node(i, node, rules):
    if not isinstance(node, dict):
        raise TraceError(f"node {i}: should be an object, got {shown(node)}")
    if node.get("id") != i or not is_whole(node.get("id")):
        raise TraceError(f"node {i}: its id is {shown(node.get('id'))}; node ids are 0, 1, 2, ... in file order")
    rules.node(f"node {i}", node)


def _positions(graph):
    return len(graph["tokens"]) - 1 if graph["tokens"] else float("inf")


def check_op(op, graph):
    """TraceError unless `op` is an operation the node rules allow (a script's trace: any plain name)."""
    if not (isinstance(op, str) and (op in OPS or (_is_script(graph) and _NAME.fullmatch(op)))):
        raise TraceError(f"unknown op {shown(op)}")


def check_scope(scope, graph):
    """TraceError unless `scope` is a path of plain names whose position (`pos3/...`) is in the document.
    The store and the JSON validator check each scope with it once (`NodeRules`)."""
    if not (isinstance(scope, str) and _SCOPE.fullmatch(scope)):
        raise TraceError(f"'scope' should be a path of names such as pos3/layer0/attn, got {shown(scope)}")
    m, positions = _POSITION_SCOPE.match(scope), _positions(graph)
    if m and int(m.group(1)) >= positions:
        raise TraceError(
            f"'pos' {int(m.group(1))} does not fit its scope {scope!r} and the document's {positions} positions"
        )


def _check_edges(edges, n_nodes):
    seen = set()
    for i, edge in enumerate(edges):
        if not isinstance(edge, dict):
            raise TraceError(f"edge {i}: should be an object, got {shown(edge)}")
        u, v = edge.get("source"), edge.get("target")
        if not (is_whole(u) and is_whole(v)):
            raise TraceError(f"edge {i}: 'source' and 'target' should be node ids, got {shown(u)} and {shown(v)}")
        if not (0 <= u < v < n_nodes) or (u, v) in seen:  # (the one test of a good edge; then which rule broke)
            _bad_ends(f"edge {i} ({u} -> {v})", u, v, n_nodes, seen)
        seen.add((u, v))
        _check_all(lambda: f"edge {i} ({u} -> {v})", edge, _EDGE_TESTS)  # noqa: B023 (called at once)


def _bad_ends(where, u, v, n_nodes, seen):
    """The TraceError of an edge u -> v whose ends break a rule: a node that is not there, an edge that
    points backwards, a second edge between the same nodes (checked in this order)."""
    for end in (u, v):
        if not 0 <= end < n_nodes:
            raise TraceError(f"{where}: {end} is not a node (there are {n_nodes})")
    if u >= v:
        raise TraceError(
            f"{where}: points backwards (an operand comes before its result), so the graph would have a cycle"
        )
    raise TraceError(f"{where}: a second edge between the same nodes")


class NodeRules:
    """The node rules (docs/trace-format.md) for the nodes of one trace whose graph attributes `graph` are
    valid: each op and scope checked once (`op`, `scope`), a node's attributes in full (`node`). The JSON
    validator holds a file's nodes to them, the store its columns as it reads them
    (tracer/storage/store.py)."""

    def __init__(self, graph):
        self.graph, self.stats, self._ok = graph, graph["param_stats"], set()
        self.positions = _positions(graph)
        self.adam = [
            (name, not (_is_script(graph) and name in schema.SCRIPT_ADAM_OPTIONAL))
            for name in (schema.ADAM if graph["update"] else ())
        ]

    def op(self, op):
        if ("op", op) not in self._ok:
            check_op(op, self.graph)
            self._ok.add(("op", op))

    def scope(self, scope):
        if ("scope", scope) not in self._ok:
            check_scope(scope, self.graph)
            self._ok.add(("scope", scope))

    def node(self, where, node):
        """Raise TraceError (`where`: ...) unless the attributes `node` (a dict, its id aside) keep the node
        rules: each attribute of its type, a plain scope, a known op, a parameter inside its matrix, a
        position inside the document."""
        _check_all(lambda: where, node, _NODE_TESTS)
        for check, value in ((self.scope, node["scope"]), (self.op, node["op"])):
            try:
                check(value)
            except TraceError as e:
                raise TraceError(f"{where}: {e}") from None
        for name in _NAMES:
            if name in node and not _NAME.fullmatch(node[name]):
                raise TraceError(
                    f"{where}: {name!r} should be a name of letters, digits, '_', '.' or '-', got {shown(node[name])}"
                )
        op = node["op"]
        if op == "**":
            _check(where, node, "exponent", _NUMBER)
        if op == "param":
            self._param(where, node)
        m = _POSITION_SCOPE.match(node["scope"])
        if m:
            _check(where, node, "pos", _NATURAL)
        if "pos" in node and (node["pos"] >= self.positions or (m and node["pos"] != int(m.group(1)))):
            raise TraceError(
                f"{where}: 'pos' {node['pos']} does not fit its scope {node['scope']!r} "
                f"and the document's {self.positions} positions"
            )
        if "key" in node:
            for name in ("pos", "layer", "head"):
                _check(where, node, name, _NATURAL)
            if node["key"] > node["pos"]:
                raise TraceError(f"{where}: attention key {node['key']} comes after its query position {node['pos']}")

    def _param(self, where, node):
        """A parameter's entry: a matrix of the graph's param_stats, an index inside it, Adam's moments."""
        _check(where, node, "param", _TEXT)
        if node["param"] not in self.stats:
            raise TraceError(f"{where}: parameter {node['param']!r} is not in the graph's param_stats")
        index, (rows, cols) = node.get("index"), self.stats[node["param"]]["shape"]
        if not (
            isinstance(index, list)
            and len(index) == 2
            and all(is_whole(x) for x in index)
            and 0 <= index[0] < rows
            and 0 <= index[1] < cols
        ):
            raise TraceError(f"{where}: 'index' should be [row, col] inside the {rows}x{cols} {node['param']}")
        for name, required in self.adam:
            _check(where, node, name, _NUMBER, required=required)
