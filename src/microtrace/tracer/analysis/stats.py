"""Statistics of a group of numbers that never hide a nan or an inf.

A maximum, norm or mean over a matrix (or a scope) with non-finite entries is not the maximum of the
finite rest: Python's `max` keeps a nan only when it comes first, and `math.fsum` raises on inf - inf.
Here every statistic of a group with a nan is nan, of a group with an inf (and no nan) inf, and the
group's count of non-finite entries travels with it, so what is shown reads `nan (80 of 96 non-finite)`.
inspect, gradflow, the CSVs, the report and the collapsed graph views all use this module.
"""

import math
from fractions import Fraction

from microtrace.util import numfmt


def fsum(xs):
    """math.fsum: the correctly rounded sum, with nan where it would raise (inf + -inf), and where only
    its intermediate sums overflow, the exact sum (in fractions) rounded once: inf if it overflows."""
    xs = xs if isinstance(xs, list) else list(xs)
    try:
        return math.fsum(xs)
    except ValueError:
        return math.nan
    except OverflowError:  # (math.fsum raises it also when a nan or an inf is among such terms)
        if any(x != x for x in xs) or (math.inf in xs and -math.inf in xs):
            return math.nan
        if math.inf in xs or -math.inf in xs:
            return math.inf if math.inf in xs else -math.inf
        total = sum(map(Fraction, xs), Fraction(0))
        try:
            return float(total)
        except OverflowError:
            return math.inf if total > 0 else -math.inf


def abs_max(xs):
    """max |x|: nan if any x is nan, whatever its place; 0.0 for no numbers."""
    top = 0.0
    for x in xs:
        a = abs(x)
        if a != a:
            return math.nan
        if a > top:
            top = a
    return top


def norm(xs):
    """The Euclidean norm (inf when a square overflows, nan if any x is nan)."""
    return math.sqrt(fsum(x * x for x in xs))


def count_nonfinite(xs):
    return sum(1 for x in xs if not math.isfinite(x))


def summary(xs):
    """count, nonfinite, norm, abs_mean, abs_max and zero_fraction of the numbers `xs`."""
    xs = list(xs)
    n = len(xs)
    return {
        "count": n,
        "nonfinite": count_nonfinite(xs),
        "norm": norm(xs),
        "abs_mean": fsum(abs(x) for x in xs) / n if n else 0.0,
        "abs_max": abs_max(xs),
        "zero_fraction": sum(1 for x in xs if x == 0) / n if n else 0.0,
    }


def nonfinite_note(nonfinite, count):
    """`(80 of 96 non-finite)`, the words every statistic of a group with nan/inf entries carries."""
    return f"({nonfinite} of {count} non-finite)"


def describe(value, nonfinite=0, count=None, fmt=numfmt.terminal):
    """`value` formatted, followed by how many of the group were not finite when any were:
    `nan (80 of 96 non-finite)`."""
    return f"{fmt(value)} {nonfinite_note(nonfinite, count)}" if nonfinite else fmt(value)
