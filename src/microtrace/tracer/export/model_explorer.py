"""A trace as Google Model Explorer's graph JSON: scope paths as its namespaces (collapsible layers that
are laid out only when opened), value and gradient as node data.

Built with the `ai-edge-model-explorer` package's own graph classes (`model_explorer.graph_builder`), so
the file is the structure that tool reads, not our reading of its documentation; the package is the
optional extra `pip install 'microtrace[explorer]'`. Open the file in Model Explorer (`model-explorer
step.json`, or drop it on its page): one collection holding one graph, whose nodes are grouped
`pos3 > layer0 > attn > head2 > weights`, each showing its op, value and gradient.
"""

import dataclasses
import math

from microtrace.tracer.export import strict_json
from microtrace.tracer.export.xml_graph import node_label
from microtrace.tracer.model.schema import nonfinite_word
from microtrace.tracer.model.trace import TraceError

INSTALL = "pip install 'microtrace[explorer]'"


def _builder():
    try:
        from model_explorer import graph_builder
    except ImportError:
        raise TraceError(f"the model-explorer export needs the ai-edge-model-explorer package: {INSTALL}") from None
    return graph_builder


def _number(x):
    if isinstance(x, float) and not math.isfinite(x):
        return nonfinite_word(x)
    return repr(x) if isinstance(x, float) else str(x)


def _place(n, d):
    """(namespace, label) of a node: an elementary node sits in its scope, labelled by its op (a parameter
    by its entry); a collapsed node's scope path is its namespace and its own name."""
    if "level" in d:  # a collapsed graph: the node is a scope
        namespace, _, name = str(d["scope"]).rpartition("/")
        return namespace, name
    label = node_label(n, d) if d.get("op") == "param" else str(d["op"])
    return str(d.get("scope", "")), label


def model_explorer_collection(G):
    """G (a step's graph, any view or collapsed level) as a `graph_builder.GraphCollection`."""
    gb = _builder()
    g = G.graph
    step = g.get("step")
    graph = gb.Graph(id=f"step {step}" if step is not None else "trace")
    for n, d in G.nodes(data=True):
        namespace, label = _place(n, d)
        attrs = [
            gb.KeyValue(key=k, value=_value_text(v))
            for k, v in d.items()
            if k not in ("data", "grad", "data_norm", "grad_norm")
        ]
        if "level" in d:  # a scope: the norms of what it holds
            numbers = [
                gb.KeyValue(key="‖value‖", value=_number(d["data_norm"])),
                gb.KeyValue(key="‖grad‖", value=_number(d["grad_norm"])),
            ]
        else:
            numbers = [
                gb.KeyValue(key="value", value=_number(d["data"])),
                gb.KeyValue(key="grad", value=_number(d["grad"])),
            ]
        node = gb.GraphNode(
            id=str(n),
            label=label,
            namespace=namespace,
            attrs=numbers + attrs,
            outputsMetadata=[gb.MetadataItem(id="0", attrs=numbers)],
        )
        node.incomingEdges = [
            gb.IncomingEdge(sourceNodeId=str(u), targetNodeInputId=str(i)) for i, u in enumerate(G.predecessors(n))
        ]
        graph.nodes.append(node)
    doc = g.get("doc")
    label = f"microtrace step {step}" + (f": {doc!r}" if doc is not None else "")
    return gb.GraphCollection(label=label, graphs=[graph])


def _value_text(v):
    if isinstance(v, (dict, list, tuple)):
        return strict_json.dumps(v, separators=(",", ":"))
    return _number(v)


def model_explorer_json(G):
    """The text of the file Model Explorer opens: one graph collection, strict JSON."""
    collection = model_explorer_collection(G)
    from model_explorer.utils import remove_none  # installed: model_explorer_collection checked it

    data = remove_none(dataclasses.asdict(collection))
    return strict_json.dumps(data, separators=(",", ":"))
