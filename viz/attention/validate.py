"""The input of the attention figures, checked: nested lists of weights (or gradients) and one label per
position, given directly or read from a trace graph (`from_trace_graph`).

A malformed input raises `AttentionInputError` (a ValueError) with a one-line message saying where.
Numbers that are nan or inf are allowed (the trace may hold them).
"""

import math
from numbers import Real

from microtrace.tracer import FORMAT

WEIGHT_TOLERANCE = 1e-6  # weights may stray this far outside [0, 1] from rounding


class AttentionInputError(ValueError):
    """Numbers or labels the attention figures cannot be drawn from; the message says where."""


def is_number(x):
    return isinstance(x, Real) and not isinstance(x, bool)


def _check_labels(labels):
    if isinstance(labels, str) or not isinstance(labels, (list, tuple)):
        raise AttentionInputError(f"labels must be a list of strings (one per position), got {type(labels).__name__}")
    if not labels:
        raise AttentionInputError("labels is empty: need one label per token position")
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not label:
            raise AttentionInputError(f"labels[{i}] must be a non-empty string, got {label!r}")
    return list(labels)


def _check_rows(rows, n, where, grad):
    """One head's ragged rows as lists of floats; `where` names it in messages."""
    if isinstance(rows, (str, bytes)) or not isinstance(rows, (list, tuple)):
        raise AttentionInputError(f"{where} must be a list of rows, got {type(rows).__name__}")
    if len(rows) != n:
        raise AttentionInputError(
            f"{where} has {len(rows)} query rows but there are {n} labels (one per query position)"
        )
    out = []
    for q, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not isinstance(row, (list, tuple)):
            raise AttentionInputError(f"{where}[{q}] must be a list of numbers, got {type(row).__name__}")
        if len(row) != q + 1:
            raise AttentionInputError(
                f"{where}[{q}] has {len(row)} values; query {q} must have {q + 1} (keys 0..{q}): "
                "rows are the ragged lower triangle, lengths 1..n in order"
            )
        values = []
        for k, v in enumerate(row):
            if not is_number(v):
                raise AttentionInputError(f"{where}[{q}][{k}] is not a number: {v!r}")
            v = float(v)
            if not grad and math.isfinite(v) and not (-WEIGHT_TOLERANCE <= v <= 1 + WEIGHT_TOLERANCE):
                raise AttentionInputError(
                    f"{where}[{q}][{k}] = {v!r} is not an attention weight in [0, 1] (use grad=True for gradients)"
                )
            values.append(v)
        out.append(values)
    return out


def validate_attention(attention, labels, grad=False):
    """`(attention as nested lists of floats, labels as a list)`, or AttentionInputError saying what is wrong.

    attention[layer][head] must each hold len(labels) rows; row q holds q + 1 numbers; every layer has
    the same number of heads; weights (grad=False) lie in [0, 1] unless nan or inf."""
    labels = _check_labels(labels)
    n = len(labels)
    if isinstance(attention, (str, bytes)) or not isinstance(attention, (list, tuple)) or not attention:
        raise AttentionInputError("attention must be a non-empty list of layers, each a list of heads")
    out = []
    n_heads = None
    for li, layer in enumerate(attention):
        if isinstance(layer, (str, bytes)) or not isinstance(layer, (list, tuple)) or not layer:
            raise AttentionInputError(f"attention[{li}] must be a non-empty list of heads")
        if n_heads is None:
            n_heads = len(layer)
        elif len(layer) != n_heads:
            raise AttentionInputError(f"attention[{li}] has {len(layer)} heads but attention[0] has {n_heads}")
        out.append([_check_rows(rows, n, f"attention[{li}][{hi}]", grad) for hi, rows in enumerate(layer)])
    return out, labels


def all_values(attention):
    return [v for layer in attention for rows in layer for row in rows for v in row]


def has_nonfinite(values):
    return any(not math.isfinite(v) for v in values)


def from_trace_graph(graph, field="data"):
    """`(attention, labels)` from a trace graph (format `FORMAT`, see docs/trace-format.md).

    Attention-weight nodes are those with stage "weights" and a `key` attribute; `field` is "data"
    (the weights) or "grad" (d loss / d weight, for `grad=True`). Labels are the graph's `chars` for
    the query positions. Works with a networkx graph or anything with `.graph` and `.nodes(data=True)`."""
    if field not in ("data", "grad"):
        raise AttentionInputError(f"field must be 'data' or 'grad', got {field!r}")
    attrs = getattr(graph, "graph", None)
    if not isinstance(attrs, dict):
        raise AttentionInputError("not a trace graph: it has no graph attributes")
    if attrs.get("format") != FORMAT:
        raise AttentionInputError(
            f"unsupported trace format {attrs.get('format')!r} (this reader knows format {FORMAT})"
        )
    chars = attrs.get("chars")
    if not isinstance(chars, (list, tuple)):
        raise AttentionInputError("the trace graph has no 'chars' attribute")
    found = {}
    for _, d in graph.nodes(data=True):
        if d.get("stage") != "weights" or "key" not in d:
            continue
        try:
            key = (int(d["layer"]), int(d["head"]), int(d["pos"]), int(d["key"]))
        except (KeyError, TypeError, ValueError):
            raise AttentionInputError("an attention-weight node lacks layer, head, pos or key") from None
        if field not in d:
            raise AttentionInputError(f"an attention-weight node has no {field!r}")
        found[key] = d[field]
    if not found:
        raise AttentionInputError("the trace graph has no attention-weight nodes (stage 'weights' with a 'key')")
    n_layers = max(k[0] for k in found) + 1
    n_heads = max(k[1] for k in found) + 1
    n = max(k[2] for k in found) + 1
    if not chars:  # a trace of a script whose tokens are unknown: positions are labelled by number
        chars = [str(i) for i in range(n)]
    if len(chars) < n:
        raise AttentionInputError(f"the trace graph has {len(chars)} chars for {n} positions")
    attention = []
    for li in range(n_layers):
        layer = []
        for hi in range(n_heads):
            rows = []
            for q in range(n):
                row = []
                for k in range(q + 1):
                    if (li, hi, q, k) not in found:
                        raise AttentionInputError(
                            f"the trace graph lacks the weight of layer {li} head {hi} query {q} key {k}"
                        )
                    row.append(found[(li, hi, q, k)])
                rows.append(row)
            layer.append(rows)
        attention.append(layer)
    return attention, list(chars[:n])
