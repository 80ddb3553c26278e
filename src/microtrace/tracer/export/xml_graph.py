"""GraphML and GEXF that Gephi, yEd, Cytoscape and any XML parser read as they are.

Written by hand rather than by networkx's writers, which (as of 3.x) write nan and inf as `nan` and
`inf` (Java's Double.parseDouble, and so Gephi and yEd, read only `NaN`, `Infinity`, `-Infinity`), drop
the graph's attributes from GEXF, label GEXF nodes by their id and rename an attribute called `key`.
Here:

- a double that is not finite is `NaN`, `Infinity` or `-Infinity`;
- every attribute keeps the trace's name (docs/trace-format.md), lists and dicts as JSON strings, a
  parameter's index as `index_row` and `index_col` (`flat_attrs`);
- GraphML keeps the graph's attributes as `<data>` of the `<graph>`; GEXF, which has no graph
  attributes, keeps them in `<meta>`: `<description>` as one strict JSON object, `<keywords>` as text;
- GEXF node labels say what a node is: `op scope` (`* pos3/layer0/attn/head2/weights`), `wte[3,5]` for a
  parameter, a collapsed node's own label;
- any character is valid XML: control characters and what XML 1.0 forbids are shown as visible
  stand-ins (`util.text.visible`, the project's one such function: U+0001 becomes U+2401).
"""

import math
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from microtrace.tracer.export import strict_json
from microtrace.tracer.model import schema
from microtrace.util.text import visible


@lru_cache(maxsize=1 << 16)  # scopes and ops repeat on every node of a stream
def _text(s):
    return escape(visible(s))


@lru_cache(maxsize=1 << 16)
def _attr(s):
    return quoteattr(visible(s))


def _id(n):
    """A node id as a quoted attribute (a scalar node's is an int: nothing to escape)."""
    return f'"{n}"' if type(n) is int else _attr(str(n))


def _text_of(v, kind):
    """A value as element text: only a string can hold a character to escape (a number never does)."""
    s = _value(v, kind)
    return _text(s) if kind == "string" else s


def _attr_of(v, kind):
    """A value as a quoted attribute, as `_text_of`."""
    s = _value(v, kind)
    return _attr(s) if kind == "string" else f'"{s}"'


def flat_attrs(d):
    """Scalar attributes only, as GraphML and GEXF require: `index` -> index_row, index_col; lists and
    dicts -> strict JSON strings."""
    out = {}
    for k, v in d.items():
        if k == "index" and isinstance(v, (list, tuple)) and len(v) == 2:
            out["index_row"], out["index_col"] = v
        elif isinstance(v, (dict, list, tuple)):
            out[k] = strict_json.dumps(v, separators=(",", ":"))
        else:
            out[k] = v
    return out


def _kind(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "long"
    if isinstance(v, float):
        return "double"
    return "string"


def attr_types(dicts, domain):
    """attribute name -> type, in order of first appearance, of the attributes of `domain` ("graph",
    "node" or "edge"): the schema's type for a trace's own attribute (tracer/model/schema.py), else
    the values' (ints and floats under one name: double)."""
    types, known = {}, schema.xml_types(domain)
    for d in dicts:
        for k, v in d.items():
            t, seen = known.get(k) or _kind(v), types.get(k)
            if seen is None or seen == t:
                types[k] = t
            elif {seen, t} == {"long", "double"}:
                types[k] = "double"
            else:
                types[k] = "string"
    return types


def _value(v, kind):
    if kind == "double":
        x = float(v)
        return repr(x) if math.isfinite(x) else schema.nonfinite_word(x)
    if kind == "boolean":
        return "true" if v else "false"
    if kind == "long":
        return str(int(v))
    return str(v)


def types_of(G):
    """(node types, edge types) of a networkx graph's attributes, as the writers declare them."""
    return attr_types((flat_attrs(d) for _, d in G.nodes(data=True)), "node"), attr_types(
        (flat_attrs(d) for *_, d in G.edges(data=True)), "edge"
    )


GRAPHML_HEAD = (
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">'
)


def graphml(G):
    """G as GraphML text (directed; graph, node and edge attributes typed as the values are)."""
    return "".join(graphml_chunks(G.graph, *types_of(G), G.nodes(data=True), G.edges(data=True)))


def graphml_chunks(graph, node_types, edge_types, nodes, edges):
    """GraphML text piece by piece, a node or an edge at a time, for a writer that streams: `graph` the
    graph's attributes, `nodes` (id, attrs) and `edges` (u, v, attrs) iterables whose flattened
    attributes (`flat_attrs`) have the types `node_types` and `edge_types` (`types_of`)."""
    graph = flat_attrs(graph)
    domains = {"graph": attr_types([graph], "graph"), "node": node_types, "edge": edge_types}
    ids = {}
    head = ['<?xml version="1.0" encoding="UTF-8"?>', GRAPHML_HEAD]
    for domain, types in domains.items():
        for name, kind in types.items():
            ids[domain, name] = key = f"d{len(ids)}"
            head.append(f'  <key id="{key}" for="{domain}" attr.name={_attr(name)} attr.type="{kind}"/>')

    def data(domain, d, indent):
        types = domains[domain]
        return [f'{indent}<data key="{ids[domain, k]}">{_text_of(v, types[k])}</data>' for k, v in d.items()]

    head.append('  <graph id="G" edgedefault="directed">')
    head += data("graph", graph, "    ")
    yield _lines(head)
    for n, d in nodes:
        yield _lines([f"    <node id={_id(n)}>", *data("node", flat_attrs(d), "      "), "    </node>"])
    for u, v, d in edges:
        yield _lines(
            [f"    <edge source={_id(u)} target={_id(v)}>", *data("edge", flat_attrs(d), "      "),
             "    </edge>"]
        )  # fmt: skip
    yield _lines(["  </graph>", "</graphml>"])


def _lines(lines):
    return "\n".join(lines) + "\n"


GEXF_HEAD = (
    '<gexf xmlns="http://www.gexf.net/1.2draft" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.gexf.net/1.2draft http://www.gexf.net/1.2draft/gexf.xsd" version="1.2">'
)


def node_label(n, d):
    """What a node is, for a person: a collapsed node's label, `wte[3,5]`, or `op scope`."""
    if "label" in d:
        return str(d["label"])
    if "param" in d and "index" in d:
        return f"{d['param']}[{d['index'][0]},{d['index'][1]}]"
    if "op" in d:
        return f"{d['op']} {d.get('scope', '')}".strip()
    return str(n)


def _keywords(g):
    parts = [f"step {g['step']}"] if "step" in g else []
    if "doc" in g:
        parts.append(f"doc {g['doc']!r}")
    if "loss" in g:
        parts.append(f"loss {g['loss']}")
    for k in ("view", "level"):
        if k in g:
            parts.append(f"{k} {g[k]}")
    return ", ".join(parts)


def gexf(G):
    """G as GEXF 1.2 text: labelled nodes, typed attributes, the graph's attributes in <meta>."""
    return "".join(gexf_chunks(G.graph, *types_of(G), G.nodes(data=True), G.edges(data=True)))


def gexf_chunks(graph, node_types, edge_types, nodes, edges):
    """GEXF text piece by piece, as `graphml_chunks` (the same arguments)."""
    version = graph.get("version", "")
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        GEXF_HEAD,
        "  <meta>",
        f"    <creator>{_text(f'microtrace {version}'.strip())}</creator>",
        f"    <keywords>{_text(_keywords(graph))}</keywords>",
        f"    <description>{_text(strict_json.dumps(dict(graph), separators=(',', ':')))}</description>",
        "  </meta>",
        '  <graph defaultedgetype="directed" mode="static">',
    ]
    for cls, types in (("node", node_types), ("edge", edge_types)):
        if types:
            head.append(f'    <attributes class="{cls}" mode="static">')
            head += [
                f'      <attribute id="{i}" title={_attr(k)} type="{t}"/>' for i, (k, t) in enumerate(types.items())
            ]
            head.append("    </attributes>")
    index = {cls: {k: i for i, k in enumerate(types)} for cls, types in (("node", node_types), ("edge", edge_types))}

    def attvalues(cls, types, d, indent):
        if not d:
            return []
        rows = [f'{indent}  <attvalue for="{index[cls][k]}" value={_attr_of(v, types[k])}/>' for k, v in d.items()]
        return [f"{indent}<attvalues>", *rows, f"{indent}</attvalues>"]

    head.append("    <nodes>")
    yield _lines(head)
    for n, raw in nodes:
        yield _lines(
            [f"      <node id={_id(n)} label={_attr(node_label(n, raw))}>",
             *attvalues("node", node_types, flat_attrs(raw), "        "), "      </node>"]
        )  # fmt: skip
    yield _lines(["    </nodes>", "    <edges>"])
    for i, (u, v, d) in enumerate(edges):
        yield _lines(
            [f'      <edge id="{i}" source={_id(u)} target={_id(v)}>',
             *attvalues("edge", edge_types, flat_attrs(d), "        "), "      </edge>"]
        )  # fmt: skip
    yield _lines(["    </edges>", "  </graph>", "</gexf>"])
