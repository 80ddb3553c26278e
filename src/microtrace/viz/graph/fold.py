"""Folding a long scalar view so that it fits a page: the ranks of a long chain cut into bands drawn one
under the other (rankdir LR) or side by side (TB), like lines of text.

Graphviz lays every rank of a chain in one row: a head's softmax at the last position made a drawing
15,830 pixels wide and 1,082 high. `bands` estimates the drawing's extent from the nodes' sizes (and
measures it with dot when the estimate is not plainly short) and, when the long side is more than
`FOLD_ABOVE` times the short one, cuts the ranks into as many bands as bring it near `PAGE_ASPECT`. The diagram then draws each band in an invisible cluster of its own, the edges
between bands unconstrained (so each band starts again at the first rank), and keeps the bands in order
as it keeps sibling clusters in order (`diagram.Clusters.order_siblings`).

A view of many parallel parts (a ReLU's units, lm_head's logits) is wide across its ranks instead:
`rows` cuts the parts into rows that follow each other along the ranks.
"""

import math

# The extent Graphviz gives a scalar view's nodes (inches, font size 10) by their DOT name's first
# letter: a value box ("#1234 key 3", data, grad), an op ellipse, a stub; and the view's spacing
SIZES = {"n": (1.2, 0.62), "o": (0.5, 0.3), "s": (1.9, 0.5)}
RANKSEP, NODESEP = 0.16, 0.10
PAGE_ASPECT = 1.4  # long side / short side to aim for: a landscape page
FOLD_ABOVE = 2.5  # fold a drawing whose long side is more than this many times its short side
MAYBE_ABOVE = 1.5  # an estimate below this many times is not measured: it fits


def ranks(successors):
    """The rank of each node of a DAG (`successors`: node -> the nodes its edges go to, every node a
    key), as Graphviz would give it: the longest path from a source, a source placed just before its
    first consumer (it minimises edge lengths)."""
    preds = {n: [] for n in successors}
    for u, vs in successors.items():
        for v in vs:
            preds[v].append(u)
    rank = {}
    for n in _topological(successors, preds):
        rank[n] = max((rank[u] + 1 for u in preds[n]), default=0)
    for n in successors:
        if not preds[n] and successors[n]:
            rank[n] = max(0, min(rank[v] for v in successors[n]) - 1)
    return rank


def _topological(successors, preds):
    waiting = {n: len(ps) for n, ps in preds.items()}
    ready = [n for n, k in waiting.items() if k == 0]
    order = []
    while ready:
        n = ready.pop()
        order.append(n)
        for v in successors[n]:
            waiting[v] -= 1
            if waiting[v] == 0:
                ready.append(v)
    return order


def _extent(rank, sizes, rankdir):
    """The drawing's estimated extent from its nodes' sizes: (along the ranks, across them, each rank's
    length along)."""
    along_axis = 0 if rankdir == "LR" else 1  # the axis the ranks follow each other on
    n_ranks = max(rank.values(), default=-1) + 1
    lengths = [0.0] * n_ranks  # each rank's extent along the ranks
    across = [0.0] * n_ranks  # and across them
    for n, r in rank.items():
        size = sizes[n]
        lengths[r] = max(lengths[r], size[along_axis])
        across[r] += size[1 - along_axis] + NODESEP
    return sum(lengths) + RANKSEP * max(0, n_ranks - 1), max(across, default=0.0), lengths


def _too_long(along, wide, measure, rankdir, long_side):
    """(along the ranks, across them) in inches of a drawing whose `long_side` ("along" or "across") is too
    long for a page, else None. The estimate (`along`, `wide`) tells which are plainly fine; the others
    are measured (when `measure` can): too long is more than FOLD_ABOVE times the other side."""

    def ratio(along, wide):
        return along / wide if long_side == "along" else wide / along

    if ratio(along, wide) <= MAYBE_ABOVE:
        return None
    extent = measure() if measure else None
    if extent is not None:
        along, wide = extent if rankdir == "LR" else extent[::-1]
        if ratio(along, wide) <= FOLD_ABOVE:
            return None
    return along, wide


def bands(rank, sizes, rankdir, measure=None, groups=None, longest=None):
    """node -> its band (0, 1, ...) when the drawing needs folding, else {}. `rank`: node -> rank
    (`ranks`); `sizes`: node -> (width, height) in inches; `measure()`: the unfolded drawing's real
    (width, height) in inches, or None. The estimate from the sizes tells which views are plainly short
    enough; the others are measured (when `measure` can) before they are cut. `groups`: node -> the
    clusters it is drawn in; a cut never goes through one (a cluster cut in two was two boxes of one
    name, joined by long loops back), so the cuts move to the nearest ranks between clusters, and a view
    with none is not folded. `longest` (LR): the longest a band may run along the ranks, in inches (a
    printed width): a drawing longer is cut into as many bands as bring each within it."""
    along, wide, lengths = _extent(rank, sizes, rankdir)
    n_ranks = len(lengths)
    extent = None if n_ranks < 4 else _too_long(along, wide, measure, rankdir, "along")
    if longest is not None and rankdir == "LR" and n_ranks >= 4:
        extent = (measure() if measure else None) or (along, wide)
        extent = extent if extent[0] > longest else None
    if extent is None:
        return {}
    lengths = [x * extent[0] / along for x in lengths]  # as measured
    along, wide = extent
    # k bands: about along / k long and k * wide across, so the aspect is along / (k * k * wide)
    k = max(2, round(math.sqrt(along / (PAGE_ASPECT * wide))))
    if longest is not None and rankdir == "LR":
        k = max(2, math.ceil(along / longest))
    k = min(n_ranks // 2, k)
    band_of_rank, done = [], 0.0
    for r in range(n_ranks):
        band_of_rank.append(min(k - 1, int(done / along * k)))
        done += lengths[r] + RANKSEP
    if groups:
        band_of_rank = _between_clusters(band_of_rank, rank, groups)
    if len(set(band_of_rank)) < 2:
        return {}
    return {n: band_of_rank[r] for n, r in rank.items()}


def _between_clusters(band_of_rank, rank, groups):
    """The bands' cuts (the first rank of each band but the first) moved to the nearest rank that starts
    no cluster's middle: each cut goes where no group spans it."""
    spans = {}
    for n, inside in groups.items():
        for g in inside if n in rank else ():
            lo, hi = spans.get(g, (rank[n], rank[n]))
            spans[g] = (min(lo, rank[n]), max(hi, rank[n]))
    free = [c for c in range(1, len(band_of_rank)) if not any(lo < c <= hi for lo, hi in spans.values())]
    wanted = [r for r in range(1, len(band_of_rank)) if band_of_rank[r] != band_of_rank[r - 1]]
    cuts = sorted({min(free, key=lambda c: (abs(c - w), c)) for w in wanted} if free else set())
    return [sum(r >= c for c in cuts) for r in range(len(band_of_rank))]


def rows(rank, sizes, rankdir, parts, measure=None):
    """node -> its row (0, 1, ...) when a drawing of many parallel parts is too wide across its ranks,
    else {}. `parts`: the view's independent parts (lists of nodes), in their natural order (units,
    keys). Graphviz puts parallel parts side by side across the ranks (a ReLU's 64 units in one column);
    cut into k rows of consecutive parts, each row after the one before along the ranks, the parts take
    k times their length along the ranks and 1/k of the width across, like a newspaper's columns (LR)
    or lines of text (TB). k makes the page nearest PAGE_ASPECT landscape. `rank`, `sizes`, `measure`
    as in `bands`."""
    if len(parts) < 4:
        return {}
    along, wide, lengths = _extent(rank, sizes, rankdir)
    extent = _too_long(along, wide, measure, rankdir, "across")
    if extent is None:
        return {}
    along, wide = extent
    spanned = sorted({rank[n] for part in parts for n in part})
    part_along = sum(lengths[r] for r in range(spanned[0], spanned[-1] + 1)) + RANKSEP * len(spanned)
    rest = max(0.0, along - part_along)  # title, legend, stubs: not repeated by the rows

    def off_page(k):  # how far from a landscape page k rows are (a log ratio)
        long, across = rest + k * part_along, wide / k
        width, height = (long, across) if rankdir == "LR" else (across, long)
        return abs(math.log(width / height / PAGE_ASPECT))

    k = min(range(2, len(parts) // 2 + 1), key=off_page)
    per = -(-len(parts) // k)  # full rows (the last may be shorter): the j-th parts make one column
    return {n: i // per for i, part in enumerate(parts) for n in part}
