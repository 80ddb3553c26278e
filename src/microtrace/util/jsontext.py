"""The project's one way of writing JSON: compact, floats as their repr (an exact round trip), inf and nan
as Infinity and NaN (which `json.loads` reads back), and for files a person may open, one top-level
field per line."""

import json
import math

# The spelling of a number that is not finite wherever microtrace writes one as text (strict JSON, GraphML,
# GEXF, the explorer's data, figures and pages): JavaScript's `Number()`, Java's `Double.parseDouble` and
# Python's `float()` read these three words back. The trace schema (tracer/model/schema.py) names them.
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def nonfinite_word(x):
    """The word of the non-finite float `x`: "NaN", "Infinity" or "-Infinity"."""
    return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")


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
