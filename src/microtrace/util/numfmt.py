"""Numbers as text, the project's one set of formats (figures, diagrams, the report, the terminal).

    short(x)      ticks and cells: as few characters as read well   '0', '0.25', '-0.0031', '1.2e-05'
    fixed(x, p)   p significant digits, zeros kept so columns align  '0.500', '-0.00312', '1.20e-05'
    weight(v)     an attention weight in a cell                     '.25', '0', '1'
    count(n)      a count                                          '59,647'
    coordinate(x) a length in an SVG or PDF file                   '12', '0.5', '-3.25'
    terminal(x)   the terminal's tables and findings (inspect, doctor)  '0.001234', 'nan', '-'
nan and inf are spelled out by all of them. Here, below both, so that the tracer and viz share them.
"""

import math


def short(value, digits=3):
    """Short text for a tick or cell value: '0', '0.25', '-0.0031', '1.2e-05'."""
    if not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    if value == 0:
        return "0"
    a = abs(value)
    if 1e-3 <= a < 1e4:
        text = f"{value:.{digits}g}"
        if "e" not in text:
            return text
    mantissa, exponent = f"{value:.{max(1, digits - 1)}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent):+03d}"


def fixed(x, precision=3):
    """`x` with `precision` significant digits, trailing zeros kept so that columns of numbers line up:
    0.500, -0.00312, 12.3, 1.20e-05, 0; nan and inf spelled out."""
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    p = max(1, int(precision))
    a = abs(x)
    if 1e-3 <= a < 10 ** max(p, 4):
        return f"{x:#.{p}g}".rstrip(".")
    mantissa, exponent = f"{x:.{max(0, p - 1)}e}".split("e")
    return f"{mantissa}e{int(exponent):+03d}"


def count(n):
    """An integer with thousands separators: 59,647."""
    return f"{n:,}"


def weight(v):
    """An attention weight in at most 3 characters: .25, 0, 1, nan."""
    if not math.isfinite(v):
        return "nan" if v != v else "inf"
    text = f"{v:.2f}"
    if text in ("0.00", "-0.00"):
        return "0"
    if text == "1.00":
        return "1"
    return text.replace("0.", ".", 1) if text.startswith("0.") else text


def coordinate(x):
    """A coordinate in an SVG or PDF file: at most two decimals, no trailing zeros, never '-0'."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def terminal(x, digits=4):
    """A number as a person reads it in the terminal (inspect's tables, the doctor's findings): `digits`
    significant digits, nan/inf as such, anything else (a missing value's '-') as str()."""
    if isinstance(x, float) and math.isfinite(x):
        return f"{x:.{digits}g}"
    return str(x)
