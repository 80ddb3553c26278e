"""Attention figures from plain numbers: heatmap grids, per-token strips, animations, contact sheets.

    from microtrace.viz import attention as A
    image = A.attention_grid(attention, labels, title="step 120")   # a PIL image

Input convention (what the tracer's attention-weight nodes become): `attention[layer][head][query]` is
the list of weights that query position `query` gives to key positions `0..query` (a ragged lower
triangle: row q has q + 1 numbers), and `labels[i]` is the character of the token at position i
(BOS as "<BOS>"). `from_trace_graph` (of `tracer.analysis.attention`) builds both from a trace graph. With `grad=True` the numbers are
d loss / d weight instead. Every figure function returns a `PIL.Image.Image` (RGB) and writes nothing;
`save_png` and `save_gif` write files, atomically and with the same bytes for the same input. A
malformed input raises `ValueError` with a one-line message saying where; nan and inf are drawn in a
grey that neither colour map uses, crossed, with a legend note.

Modules: `inputs` (the input, checked), `parts` (colours, lengths, title and caption, colour bar),
`grid`, `strips`, `frames` (padding, GIF, contact sheet, files), `figure` (figures of real traced steps
and runs, titles and captions; the numbers come from `tracer.analysis.attention`). May import `microtrace.engine`,
`microtrace.tracer` and `microtrace.viz.draw`.
"""

from microtrace.tracer.analysis.attention import from_trace_graph
from microtrace.viz.attention.frames import (
    animate,
    animation_frames,
    contact_sheet,
    pad_to_common_size,
    save_gif,
    save_png,
)
from microtrace.viz.attention.grid import GridLayout, attention_grid, grid_layout
from microtrace.viz.attention.inputs import validate_attention
from microtrace.viz.attention.parts import Fit
from microtrace.viz.attention.strips import StripLayout, per_token_strips, strip_layout
from microtrace.viz.draw.canvas import png_bytes

__all__ = [
    "Fit",
    "GridLayout",
    "StripLayout",
    "animate",
    "animation_frames",
    "attention_grid",
    "contact_sheet",
    "from_trace_graph",
    "grid_layout",
    "pad_to_common_size",
    "per_token_strips",
    "png_bytes",
    "save_gif",
    "save_png",
    "strip_layout",
    "validate_attention",
]
