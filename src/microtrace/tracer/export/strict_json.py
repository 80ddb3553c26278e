"""Strict JSON (RFC 8259) for traces and answers that hold nan and inf.

JSON has no nan or inf. Python writes them as the bare words NaN and Infinity, which Python reads back
but JavaScript's `JSON.parse`, jq, Go, Rust's serde and every strict parser reject. A microtrace JSON
file therefore writes a non-finite number in one of three documented forms (`--nan-as`):

    string   (default) the JSON strings "NaN", "Infinity" and "-Infinity": strict JSON, and what
             JavaScript's Number() turns back into NaN, Infinity and -Infinity
    null     JSON null: strict JSON, nan and inf alike become null (what JSON.stringify itself writes)
    literal  the bare words NaN, Infinity, -Infinity: not JSON; read by Python's json and JSON5

Reading a trace back (`decode_nonfinite`) turns those strings, or null, into floats again in the
fields that hold numbers (NUMBER_FIELDS), and nowhere else: a document may well be the name "NaN".
"""

import json
import math

from microtrace.tracer.model import schema

NAN_AS = ("string", "null", "literal")
_WORDS = schema.NONFINITE

# Every attribute of a trace (docs/trace-format.md) that holds a number which may be nan or inf.
NUMBER_FIELDS = schema.number_fields()


def strict(value, nan_as="string"):
    """`value` with every non-finite float replaced by its `nan_as` form (a copy; lists and dicts
    walked). `literal` returns `value` itself."""
    if nan_as not in NAN_AS:
        raise ValueError(f"nan_as must be one of {', '.join(NAN_AS)}, got {nan_as!r}")
    if nan_as == "literal":
        return value
    null = nan_as == "null"

    def walk(v):
        t = type(v)
        if t is float:
            return v if math.isfinite(v) else (None if null else schema.nonfinite_word(v))
        if t is dict:
            return {k: walk(x) for k, x in v.items()}
        if t is list or t is tuple:
            return [walk(x) for x in v]
        return v

    return walk(value)


def dumps(value, nan_as="string", **options):
    """json.dumps in the `nan_as` form; strict JSON (allow_nan=False checks it) unless `literal`."""
    return json.dumps(strict(value, nan_as), allow_nan=nan_as == "literal", **options)


def decode_nonfinite(value):
    """The inverse of `strict` on a trace's data: "NaN"/"Infinity"/"-Infinity" or null under a key of
    NUMBER_FIELDS becomes the float again (null becomes nan: that form does not tell them apart).
    Changes dicts in place and returns `value`."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in NUMBER_FIELDS and (v is None or (isinstance(v, str) and v in _WORDS)):
                value[k] = math.nan if v is None else _WORDS[v]
            elif isinstance(v, (dict, list)):
                decode_nonfinite(v)
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, (dict, list)):
                decode_nonfinite(v)
    return value
