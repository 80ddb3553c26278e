"""The fused view of a script's step: each dot product the script spells out as Python's
`sum(a * b for ...)` becomes one `dot` node, as microtrace's own engine makes it.

A script computes with scalars only, so its step has no fused nodes of its own, and every view of it
(the block view, the figures, the explorer) would draw a dot product scalar by scalar, 7x more nodes
than a step of `microtrace train`. Here each chain `0 + p0 + p1 + ...` of products `p = a * x`, where
nothing else uses the products, the constant 0 or the partial sums and all were made in one scope, is
folded into its last sum, which becomes `dot` with operands `a0, x0, a1, x1, ...` (and the products'
local derivatives). That is exactly
what `tracer.model.columns` expands back: the same products, the constant 0 and partial sums, with the
same float additions in the same order, so the elementary view is the script's own, bit for bit, and
the two views agree on every node outside the dot products.
"""


def fuse_dots(values, scopes, marks):
    """Fold the dot-product chains of a recording (its `values`, in the order made, their `scopes` and
    `marks`) in place; returns the number of chains folded."""
    uses, scope_of = {}, {id(v): s for v, s in zip(values, scopes)}
    for v in values:
        for c in v._children:
            uses[id(c)] = uses.get(id(c), 0) + 1
    absorbed = set()  # ids of products, constants and partial sums that a dot now stands for
    folded = 0
    for v in reversed(values):  # a chain's last sum comes first, so its partial sums are folded with it
        if v._op != "+" or id(v) in absorbed:
            continue
        chain = _chain_ending_at(v, uses)
        if chain is None:
            continue
        start, sums, products = chain
        if any(scope_of.get(id(n)) != scope_of[id(v)] for n in (start, *sums, *products)):
            continue  # a sum of terms made elsewhere (the loss over positions) keeps its terms where they were
        pairs = [p._children for p in products]
        locals_ = [p._local_grads for p in products]
        v._children = tuple(x for pair in pairs for x in pair)
        v._local_grads = tuple(x for lg in locals_ for x in lg)
        v._op = "dot"
        absorbed.update(map(id, (start, *sums[:-1], *products)))
        folded += 1
    if absorbed:
        kept = [(v, s) for v, s in zip(values, scopes) if id(v) not in absorbed]
        for v in list(marks):
            if id(v) in absorbed:
                del marks[v]
        values[:] = [v for v, _ in kept]
        scopes[:] = [s for _, s in kept]
    return folded


def _is_product(p, uses):
    return p._op == "*" and len(p._children) == 2 and uses.get(id(p), 0) == 1


def _chain_ending_at(last, uses):
    """(constant 0, partial sums in order, products in order) of the sum chain ending at `last`, or None
    when `last` does not end a chain of microGPT's shape."""
    sums, products = [], []
    s = last
    while True:
        if s._op != "+" or len(s._children) != 2 or tuple(s._local_grads) != (1, 1):
            return None
        left, right = s._children
        sums.append(s)
        if _is_zero(right, uses) and _is_product(left, uses):  # the first term: product + 0
            products.append(left)
            return right, sums[::-1], products[::-1]
        if not (_is_product(right, uses) and left._op == "+" and uses.get(id(left), 0) == 1):
            return None
        products.append(right)
        s = left


def _is_zero(c, uses):
    return not c._children and c._op == "const" and c.data == 0 and uses.get(id(c), 0) == 1
