"""Gradient-flow figures, drawn on `viz.draw.canvas` (PNG, SVG or PDF).

`matrices` (one step: per parameter matrix, gradient norm, mean and max |g|, zero share, dead ReLUs,
update/data ratio; `trace_figure`), `rows` (the same turned on its side, one row per matrix, for a
printed width its columns do not fit), `positions` (one step: the gradient per token position and
block, and through the KV cache), `over_steps` (the statistics of `tracer.analysis.gradstats` over a range of steps).

Imports: `microtrace.tracer` and `microtrace.viz.draw`.
"""
