"""A scalar autograd engine in micrograd's style, with two fused operations for speed.

Every `Value` stores its operands (`_children`) and the local derivative with respect to each
(`_local_grads`), computed when it is made, exactly as microGPT does. Backward visits the nodes in the
reverse of microGPT's depth-first post-order and does `child.grad += local_grad * grad`, so gradients
come out bit-for-bit the same.

Fused operations replace long chains of elementary nodes without changing a single bit:
- `dot(a, b)` is `sum(a[j] * b[j] for j)`: one node whose local gradients are the other operand's value.
- `linear(x, w)` makes one such node per row of w (op `lin`).
- `vsum(xs)` is `sum(xs)`: one node (op `sum`), every local gradient 1.
The partial sums and products they stand for are never needed for training; the tracer rebuilds them
from `dot_pairs`, the one place that knows how a fused product lays out its operands.

Arithmetic that overflows or leaves the real line gives inf or nan instead of raising, so a diverging
run can still be stepped through and traced.
"""

import math
from functools import reduce
from itertools import chain
from operator import add, attrgetter, mul

from microtrace.engine import hooks

INF = math.inf
NAN = math.nan


def _pow(x, k):
    """x ** k on floats, with inf/nan where Python would raise or go complex."""
    try:
        r = x**k
    except ZeroDivisionError:  # 0.0 ** negative
        odd = float(k).is_integer() and int(k) % 2 == 1
        return math.copysign(INF, x) if odd else INF
    except OverflowError:
        odd = float(k).is_integer() and int(k) % 2 == 1
        return -INF if (odd and x < 0) else INF
    return NAN if isinstance(r, complex) else r


def _recip(x):
    try:
        return 1 / x
    except ZeroDivisionError:
        return math.copysign(INF, x)


def _log(x):
    if x > 0:
        return math.log(x)
    return -INF if x == 0 else NAN


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return INF


class Value:
    """A scalar with a gradient. `data` and `grad` are plain Python numbers."""

    __slots__ = ("data", "grad", "_children", "_local_grads", "_op")

    def __init__(self, data, children=(), local_grads=(), op=""):
        self.data = data
        self.grad = 0
        self._children = children
        self._local_grads = local_grads
        self._op = op
        if hooks.observer is not None:
            hooks.observer(self)

    def __repr__(self):
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    # -- elementary operations, with microGPT's local derivatives ------------------------------------

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other, op="const")
        return Value(self.data + other.data, (self, other), (1, 1), "+")

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other, op="const")
        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __pow__(self, k):
        if not isinstance(k, (int, float)):
            raise TypeError("Value ** k takes a plain int or float exponent")
        return Value(_pow(self.data, k), (self,), (k * _pow(self.data, k - 1),), f"**{k!r}")

    def log(self):
        return Value(_log(self.data), (self,), (_recip(self.data),), "log")

    def exp(self):
        return Value(_exp(self.data), (self,), (_exp(self.data),), "exp")

    def relu(self):
        # max(0, x) is microGPT's form: the integer 0 below zero, and 0 for nan too.
        return Value(max(0, self.data), (self,), (float(self.data > 0),), "relu")

    # -- derived forms, written as microGPT writes them (they decide the rounding) ----------------------

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    # -- backward -----------------------------------------------------------------------------------------

    def backward(self):
        """Fill `.grad` of every node this one depends on (gradients accumulate, as in microGPT)."""
        self.grad = 1
        for node in reversed(topological_order(self)):
            g = node.grad
            children = node._children
            # Reversed operands: for a fused node this is microGPT's order (last product first). Most
            # nodes have one or two operands: spelled out, they skip building three iterators each.
            if len(children) == 2:
                a, b = children
                la, lb = node._local_grads
                b.grad += lb * g
                a.grad += la * g
            elif len(children) == 1:
                children[0].grad += node._local_grads[0] * g
            else:
                for child, local_grad in zip(reversed(children), reversed(node._local_grads)):
                    child.grad += local_grad * g


def topological_order(root):
    """microGPT's order: depth-first from `root`, operands in order, each node after its operands.

    Iterative, so a graph of any depth works. Leaves are left out: they pass no gradient on. The rows
    of one `linear` share their input vector: its elements are searched from the first row only (the
    later rows would find every one of them visited already, so skipping them changes nothing).
    """
    order = []
    visited = {root}
    searched = set()  # ids of the input tuples of `linear` calls already searched
    stack = [(root, iter(root._children))]
    while stack:
        node, operands = stack[-1]
        for child in operands:
            if child._children and child not in visited:
                visited.add(child)
                if child._op == "lin":
                    xs = child._inputs
                    if id(xs) in searched:
                        order.append(child)
                        continue
                    searched.add(id(xs))
                    stack.append((child, iter(xs)))
                else:
                    stack.append((child, iter(child._children)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def dot(a, b):
    """sum(a[j] * b[j] for j) as one node, same value and same gradients as the elementary chain."""
    ad = [v.data for v in a]
    bd = [v.data for v in b]
    children = tuple(chain.from_iterable(zip(a, b)))
    local_grads = tuple(chain.from_iterable(zip(bd, ad)))
    return Value(reduce(add, map(mul, ad, bd), 0), children, local_grads, "dot")


def linear(x, w):
    """[dot(row, x) for row in w]: a linear layer without bias, rows of w times the vector x.

    When every weight is a leaf and every input is not (a model's layer), each row is stored as one
    `lin` node with operands `row + x` instead of interleaved pairs. Nothing changes but speed: the
    depth-first search skips leaves, so it meets the inputs in the same order, and a weight and an input
    can never be the same node, so the order of their accumulations cannot matter.
    """
    x = tuple(x)
    if not all(map(_CHILDREN, x)):
        return [dot(row, x) for row in w]
    xd = [v.data for v in x]
    xdt = tuple(xd)
    out = []
    for row in w:
        if any(map(_CHILDREN, row)):
            out.append(dot(row, x))
            continue
        rd = [v.data for v in row]
        out.append(_Lin(reduce(add, map(mul, rd, xd), 0), (*row, *x), xdt + tuple(rd), x))
    return out


def dot_pairs(node):
    """The products of a fused `dot` or `lin` node: a list of (a_j, b_j, local_grad_a, local_grad_b).

    The two fused products lay out `_children` (and `_local_grads`, in step) differently:
    - `dot` interleaves: `a0, b0, a1, b1, ...`, the order microGPT's depth-first search meets them;
    - `lin` concatenates: `w_row + x`, all weights first, then the shared input vector (see `linear`).
    """
    children, local_grads = node._children, node._local_grads
    if node._op == "dot":
        return [(children[j], children[j + 1], local_grads[j], local_grads[j + 1]) for j in range(0, len(children), 2)]
    if node._op == "lin":
        n = len(children) // 2
        return list(zip(children[:n], children[n:], local_grads[:n], local_grads[n:]))
    raise ValueError(f"dot_pairs takes a 'dot' or 'lin' node, not {node._op!r}")


class _Lin(Value):
    """A row of `linear`: a dot product whose operands are `row + x`, with `x` kept as one shared tuple."""

    __slots__ = ("_inputs",)

    def __init__(self, data, children, local_grads, inputs):
        # Value.__init__ spelled out: this runs for every row of every layer, a call saved counts.
        self.data = data
        self.grad = 0
        self._children = children
        self._local_grads = local_grads
        self._op = "lin"
        self._inputs = inputs
        if hooks.observer is not None:
            hooks.observer(self)


def vsum(xs):
    """sum(xs) (Python's, from the integer 0) as one node."""
    xs = tuple(xs)
    return Value(reduce(add, [v.data for v in xs], 0), xs, (1,) * len(xs), "sum")


_CHILDREN = attrgetter("_children")
