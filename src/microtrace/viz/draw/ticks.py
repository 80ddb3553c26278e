"""Round tick values: the one rule every axis and colour bar of the project uses, steps of 1, 2, 2.5 or
5 times a power of ten."""

import math

_MANTISSAS = (1, 2, 2.5, 5, 10)


def nice_step(x):
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= x (x > 0)."""
    exponent = math.floor(math.log10(x))
    for m in _MANTISSAS:
        if m * 10.0**exponent >= x * (1 - 1e-12):
            return m * 10.0**exponent
    return 10.0 ** (exponent + 1)


def nice_ticks(vmin, vmax, max_ticks=6):
    """Round tick values (1, 2, 2.5 or 5 x 10^k apart) inside [vmin, vmax]."""
    if not (vmax > vmin):
        return [vmin]
    step = nice_step((vmax - vmin) / max(1, max_ticks - 1))
    first = math.ceil(vmin / step - 1e-9) * step
    out, k = [], 0
    while first + k * step <= vmax + step * 1e-9:
        out.append(round(first + k * step, 12))
        k += 1
    return out
