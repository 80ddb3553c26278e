"""What the bench scripts share: timing one call, and printing a table of results when run alone."""

import gc
import time


def timed(fn, *args, **kwargs):
    """`(fn(*args, **kwargs), seconds)`. Collects garbage first, so that a call does not pay for the
    garbage of the calls before it."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def print_results(results):
    """One line per result, names aligned: floats with four decimals, anything else as it is."""
    width = max(len(k) for k in results)
    for k, v in results.items():
        print(f"  {k:<{width}}  {v:.4f}" if isinstance(v, float) else f"  {k:<{width}}  {v}")
