"""The project's one way of writing JSON: compact, floats as their repr (an exact round trip), inf and nan
as Infinity and NaN (which `json.loads` reads back), and for files a person may open, one top-level
field per line."""

import json


def compact(value):
    """`value` as JSON without spaces."""
    return json.dumps(value, separators=(",", ":"))


def fields_by_line(obj, expand=()):
    """The dict `obj` as a JSON document with one top-level field per line, each compact; the fields
    named in `expand` (a dict or a list) get one item per line. Readable by eye and diffable, without a
    line per number."""
    lines = []
    for key, value in obj.items():
        if key not in expand:
            text = compact(value)
        elif isinstance(value, dict):
            text = "{\n" + ",\n".join(f"  {compact(k)}: {compact(v)}" for k, v in value.items()) + "\n }"
        else:
            text = "[\n" + ",\n".join(f"   {compact(v)}" for v in value) + "\n ]"
        lines.append(f" {compact(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
