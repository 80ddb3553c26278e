"""The input of the attention figures, checked: nested lists of weights (or gradients) and one label per
position (from a trace: `tracer.analysis.attention`).

A malformed input raises `AttentionInputError` (a ValueError) with a one-line message saying where.
Numbers that are nan or inf are allowed (the trace may hold them).
"""

import math
from numbers import Real

from microtrace.util.errors import BadInput

WEIGHT_TOLERANCE = 1e-6  # weights may stray this far outside [0, 1] from rounding


class AttentionInputError(BadInput, ValueError):
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
