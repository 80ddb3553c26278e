"""Recognising a script's own scalar autograd class, and reading its nodes without changing them.

Two shapes are known, both kept by what their instances hold (never by the class's name):
- microGPT's: `data`, `grad`, `_children` and `_local_grads` (the local derivatives, stored when the
  node is made). Every edge's local derivative is the script's own number.
- micrograd's: `data`, `grad`, `_prev` (a set of operands), `_op` (a string) and a `_backward` closure;
  no local derivative is stored. For the operations micrograd defines they are computed here from
  the node's values with micrograd's own expressions (`+`, `*`, `**k`, `ReLU`, `tanh`, `exp`); any
  other operation's (a script's own `sigmoid`) are read from its `_backward`, run once with a unit
  gradient (`measured`). Only where that fails is the derivative unknown: NaN on the edge, and
  `local_grad_known: false` (a NaN there would make every gradient path through it NaN, even one
  that a later zero factor, `0 * confidence`, cuts to exactly nothing).
"""

import math

MICROGPT, MICROGRAD = "microGPT", "micrograd"

# operator methods -> the trace's op names; other methods keep their own name (`gelu`, `sigmoid`, ...)
METHOD_OPS = {
    "__add__": "+", "__radd__": "+", "__mul__": "*", "__rmul__": "*", "__pow__": "**",
    "log": "log", "exp": "exp", "relu": "relu", "tanh": "tanh",
}  # fmt: skip
MICROGRAD_OPS = {"+": "+", "*": "*", "ReLU": "relu", "relu": "relu", "tanh": "tanh", "exp": "exp"}


def style_of(node):
    """MICROGPT, MICROGRAD or None: which known shape a node object has."""
    if not (hasattr(node, "data") and hasattr(node, "grad")):
        return None
    if hasattr(node, "_children") and hasattr(node, "_local_grads"):
        return MICROGPT
    if hasattr(node, "_prev") and hasattr(node, "_backward"):
        return MICROGRAD
    return None


def is_candidate(cls):
    """A class that may be a scalar autograd class: it has `backward` and arithmetic."""
    return callable(getattr(cls, "backward", None)) and (hasattr(cls, "__add__") or hasattr(cls, "__mul__"))


def class_codes(cls):
    """The code objects of a class's own functions: frames running them are the engine, not the model."""
    codes = set()
    for klass in cls.__mro__[:-1]:
        for fn in vars(klass).values():
            fn = getattr(fn, "__func__", fn)
            code = getattr(fn, "__code__", None)
            if code is not None:
                codes.add(code)
    return codes


def operands(node, style, op, order):
    """The node's operands, in a deterministic order (micrograd keeps them in a set: creation order).

    micrograd's set holds `x` once for `x + x` and `x * x`: it is given twice, as microGPT stores it.
    """
    if style == MICROGPT:
        return tuple(node._children)
    kids = tuple(sorted(node._prev, key=order))
    return kids * 2 if len(kids) == 1 and op in ("+", "*") else kids


def locals_of(node, style, kids, op, exponent):
    """(local derivatives, known) of a node whose operands are `kids`, in that order."""
    if style == MICROGPT:
        return tuple(node._local_grads), True
    out = node.data
    if op == "+":
        return (1, 1), True
    if op == "*":
        a, b = kids
        return (b.data, a.data), True
    if op == "**":
        (x,) = kids
        return ((exponent * x.data ** (exponent - 1)),), True
    if op == "relu":
        return (float(out > 0),), True
    if op == "tanh":
        return ((1 - out**2),), True
    if op == "exp":
        return (out,), True
    local = measured(node, kids)
    return (local, True) if local is not None else ((math.nan,) * len(kids), False)


def measured(node, kids):
    """The local derivatives of an operation known only by its `_backward` closure: the closure run once
    with the node's gradient 1 and its operands' 0 leaves d node / d operand in each operand's grad
    (micrograd's closures add `local * out.grad` to their operands). Every gradient is put back as it
    was, so the script's step is untouched. None if the closure fails or an operand repeats."""
    if len(set(map(id, kids))) != len(kids):
        return None
    saved = node.grad, [k.grad for k in kids]
    try:
        node.grad = 1.0
        for k in kids:
            k.grad = 0.0
        node._backward()
        local = tuple(float(k.grad) for k in kids)
    except Exception:
        return None
    finally:
        node.grad = saved[0]
        for k, g in zip(kids, saved[1]):
            k.grad = g
    return local


def micrograd_op(node):
    """(op, exponent) from micrograd's `_op` string; None op for a leaf."""
    name = node._op
    if not name:
        return None, None
    if isinstance(name, str) and name.startswith("**"):
        for number in (int, float):
            try:
                return "**", number(name[2:])
            except ValueError:
                pass
        return name, None
    return MICROGRAD_OPS.get(name, str(name)), None
