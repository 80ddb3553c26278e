"""The tables of docs/trace-format.md, written from the schema (`schema`): the page's prose is a person's,
its tables are the schema's. Each table sits between `<!-- schema:NAME -->` and `<!-- /schema:NAME -->`.

    python -m microtrace.tracer.model.schema_doc docs/trace-format.md   rewrites them in place

tests/contract/test_trace_format.py checks that the page in the repository is current.
"""

import re
import sys

from microtrace.tracer.model import schema
from microtrace.util.atomic import write_atomic

# Our types as the docs name them (Python's names): a whole number is an int, a number a float.
_DOC_TYPE = {"natural": "int", "number": "float", "name": "str", "index": "list[int]"}
_STORE_TYPE = {"text": "string (dictionary)"}


def _code(name):
    return f"`{name}`"


def _rows(header, rows):
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _graph():
    return _rows(
        ("name", "type", "meaning"), [(_code(f.name), _DOC_TYPE.get(f.type, f.type), f.doc) for f in schema.GRAPH]
    )


def _nodes():
    return _rows(("name", "on", "meaning"), [(_code(f.name), f.on, f.doc) for f in schema.NODES])


def _edges():
    return _rows(("name", "meaning"), [(_code(f.name), f.doc) for f in schema.EDGES])


def _collapsed_nodes():
    shared = (", ".join(map(_code, schema.SCOPE_IMPLIED)), "as above where the whole group shares them")
    rows = [(_code(f.name), f.doc) for f in schema.COLLAPSED_NODES]
    return _rows(("node attribute", "meaning"), rows[:3] + [shared] + rows[3:])


def _collapsed_edges():
    return _rows(("edge attribute", "meaning"), [(_code(f.name), f.doc) for f in schema.COLLAPSED_EDGES])


def _store():
    return _rows(
        ("column", "type", "meaning"), [(_code(n), _STORE_TYPE.get(t, t), d) for n, t, d in schema.store_columns()]
    )


TABLES = {
    "graph": _graph,
    "nodes": _nodes,
    "edges": _edges,
    "collapsed-nodes": _collapsed_nodes,
    "collapsed-edges": _collapsed_edges,
    "store": _store,
}


def rewrite(text):
    """`text` (the page) with each marked table written again from the schema; ValueError when a table's
    markers are missing."""
    for name, make in TABLES.items():
        pattern = re.compile(rf"(<!-- schema:{name} -->\n).*?(<!-- /schema:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"no <!-- schema:{name} --> ... <!-- /schema:{name} --> in the page")
        text = pattern.sub(lambda m: m.group(1) + "\n".join(make()) + "\n" + m.group(2), text)
    return text


def main(path):
    with open(path, encoding="utf-8") as f:
        old = f.read()
    new = rewrite(old)
    if new != old:
        write_atomic(path, new)
    print(f"{path}: {'rewritten' if new != old else 'current'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/trace-format.md")
