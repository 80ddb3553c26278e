"""Attention figures of real training steps: the tracer's softmax weights (`tracer.analysis.attention`) drawn by
`viz.attention`.

    from microtrace.tracer import trace_step
    from microtrace.viz.attention.figure import attention_figure, attention_over_steps
    image = attention_figure(trace_step("runs/demo", 120))          # a PIL image
    frames, labels = attention_over_steps("runs/demo", "emma", range(0, 200, 10))

The numbers are read by `tracer.analysis.attention` and never recomputed here, so what is drawn is exactly what
the step computed. Functions return images; nothing here writes files.
"""

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from PIL import Image

from microtrace.engine.run import Run
from microtrace.tracer import Trace
from microtrace.tracer.analysis.attention import AttentionError, attention_series, read_attention, shared_vmax
from microtrace.tracer.analysis.step_ranges import check_within
from microtrace.util.limits import LimitError
from microtrace.viz.attention.frames import contact_sheet
from microtrace.viz.attention.grid import attention_grid, grid_layout
from microtrace.viz.attention.parts import PRINT_MARGIN, Fit
from microtrace.viz.attention.strips import per_token_strips, strip_layout
from microtrace.viz.draw.printsize import note_if_long, note_too_wide
from microtrace.viz.draw.text import shorten

# Frames of a --steps range: each is a GIF frame and a tile of the contact sheet. Up to DEFAULT_MAX_FRAMES
# the figure stays readable (a 60-frame sheet of the default model at scale 1 is about 8 x 8 tiles,
# ~12 megapixels); beyond it the command asks for --max-frames, up to MAX_FRAMES, since an animation
# holds every frame in memory (~1 MB each at scale 1).
DEFAULT_MAX_FRAMES = 60
MAX_FRAMES = 300


# --- titles and captions ------------------------------------------------------------------------


def _loss_text(loss):
    return f"{loss:.4f}" if isinstance(loss, (int, float)) and math.isfinite(loss) else str(loss)


def title_of(data, grad=False):
    """ "Attention weights · step 120 · training document 'olivia' · loss 2.3101" (or text ...)."""
    m = data.meta
    what = "d loss / d attention weight" if grad else "Attention weights"
    quoted = repr(shorten(m["text"]))
    source = f"training document {quoted}" if m["training"] else f"text {quoted}"
    return f"{what} · step {m['step']} · {source} · loss {_loss_text(m['loss'])}"


def caption_of(data, grad=False):
    m = data.meta
    n_layers, n_heads = len(data.attention), len(data.attention[0])
    layers = f"{n_layers} layer{'s' if n_layers > 1 else ''}"
    heads = f"{n_heads} head{'s' if n_heads > 1 else ''}"
    if m["training"]:
        when = f"the forward and backward pass of training step {m['step']}, before its update"
    else:
        when = f"the model as it is at the start of step {m['step']} (no update is made for this text)"
    if grad:
        parts = [f"Gradient of the loss with respect to each softmax weight of {layers} × {heads}, from {when}."]
    else:
        parts = [f"Softmax weights of {layers} × {heads}, from {when}; each row sums to 1."]
    if m["truncated"]:
        parts.append(
            f"The model reads at most block_size = {m['block_size']} positions; later characters are not shown."
        )
    return " ".join(parts)


# --- figures ------------------------------------------------------------------------------------


def check_layer_head(data, layer, head):
    """AttentionError (one line) unless `layer` exists and `head` is one of its heads or "mean"."""
    n_layers, n_heads = len(data.attention), len(data.attention[0])
    if not 0 <= layer < n_layers:
        raise AttentionError(f"layer {layer} does not exist: this model has layers 0..{n_layers - 1}")
    if head != "mean" and not 0 <= head < n_heads:
        raise AttentionError(f"head {head} does not exist: this model has heads 0..{n_heads - 1} (or 'mean')")


def draw(
    data,
    *,
    grad=False,
    per_token=False,
    layer=0,
    head="mean",
    values=False,
    scale=1.0,
    vmax=None,
    title=None,
    caption=None,
    notes=True,
    fmt="png",
    print_size=None,
):
    """The figure of one `AttentionData`: the heatmap grid (layers x heads), or with `per_token` the
    strips of one layer's `head` (an index or "mean"). `grad` draws d loss / d weight on the diverging
    map, over +-`vmax` when given (a scale shared by several figures), else +-max|grad|. A `PIL.Image`,
    with `fmt="svg"` an SVG document (str), with `fmt="pdf"` a vector `PDF` (bytes).

    `print_size` (a `printsize.PrintSize`) lays the figure out for a printed width instead of `scale`:
    text of its size in points, as many heads per row as fit (or its `cols`), cells shrunk if even one
    head is too wide, title and caption its own; a `printsize.FitNote` warning when it cannot fit."""
    numbers = data.grad if grad else data.attention
    title = title_of(data, grad) if title is None else title
    caption = caption_of(data, grad) if caption is None else caption
    look = dict(title=title, caption=caption, grad=grad, scale=scale, notes=notes, vmax=vmax)
    if print_size is not None:
        look, fit, dpi = _for_print(look, print_size, fmt)
    else:
        fit, dpi = Fit(), None
    if per_token:
        check_layer_head(data, layer, head)
        if values:  # said, not silently dropped
            look["caption"] += (
                " The numbers are not printed on per-token strips: each tile holds its character. "
                "The grid (not per token) prints them."
            )
        lay = strip_layout(numbers, data.labels, layer=layer, head=head, fit=fit, **look)
        _check_fit(lay, fit, print_size, fmt)
        return per_token_strips(numbers, data.labels, layer=layer, head=head, fmt=fmt, fit=fit, dpi=dpi, **look)
    lay = grid_layout(numbers, data.labels, values=values, fit=fit, **look)
    _check_fit(lay, fit, print_size, fmt)
    return attention_grid(numbers, data.labels, values=values, fmt=fmt, fit=fit, dpi=dpi, **look)


def _for_print(look, ps, fmt):
    """The look, `Fit` and DPI of a figure laid out for `ps` (a `PrintSize`)."""
    look = dict(look, scale=ps.scale(fmt))
    if ps.title is not None:
        look["title"] = ps.title
    if not ps.caption:
        look.update(caption="", notes=False)
    return look, Fit(width=ps.width_px(fmt), cols=ps.cols, margin=PRINT_MARGIN), ps.dpi_of(fmt)


def _check_fit(lay, fit, ps, fmt):
    if ps is None:
        return
    if fit.width is not None and lay.content_width > fit.width:
        note_too_wide("the attention figure", lay.content_width, ps, fmt)
    note_if_long("the attention figure", *lay.size, ps, fmt)


def attention_figure(
    trace: Trace,
    grad: bool = False,
    per_token: bool = False,
    *,
    layer: int = 0,
    head: int | str = "mean",
    values: bool = False,
    scale: float = 1.0,
) -> Image.Image:
    """The attention figure of a traced step as a `PIL.Image`: one heatmap per layer and head (query rows,
    key columns, future cells hatched, characters labelled, colour bar), titled with step, document and
    loss. `grad=True` draws d loss / d weight centred on zero; `per_token=True` one strip per query
    over its context, for `layer` and `head` (an index or "mean"). AttentionError for a missing layer/head."""
    return draw(
        read_attention(trace), grad=grad, per_token=per_token, layer=layer, head=head, values=values, scale=scale
    )


def grid_layout_of(data, *, grad=False, values=False, scale=1.0, vmax=None):
    """The `viz.attention.GridLayout` (cell positions) of `draw(data, ...)` for the heatmap grid."""
    return grid_layout(
        data.grad if grad else data.attention,
        data.labels,
        title=title_of(data, grad),
        caption=caption_of(data, grad),
        grad=grad,
        scale=scale,
        values=values,
        vmax=vmax,
    )


# --- across training steps ----------------------------------------------------------------------


def check_steps(steps, total, max_frames=DEFAULT_MAX_FRAMES):
    """StepRangeError unless the range `steps` lies within a run of `total` steps (step `total` is the
    trained model); LimitError when it gives more than `max_frames` frames (AttentionError past MAX_FRAMES,
    the most that fit in memory)."""
    if not 1 <= max_frames <= MAX_FRAMES:
        raise AttentionError(f"the frame limit must be from 1 to {MAX_FRAMES}, got {max_frames}")
    check_within(steps, total, trained_model=True)
    if len(steps) > max_frames:
        text = f"{steps.start}:{steps.stop}:{steps.step}"
        what = f"{text} makes {len(steps)} frames (GIF frames and contact-sheet tiles), more than the limit of {max_frames}"
        if len(steps) > MAX_FRAMES:
            raise AttentionError(f"{what}: raise S; at most {MAX_FRAMES} frames fit in memory", "steps")
        raise LimitError(
            f"{what}: raise S, or the limit if you mean {len(steps)} frames", max_frames, None, "max_frames"
        )


def series_frames(
    series, *, grad=False, per_token=False, layer=0, head="mean", values=False, scale=1.0, notes=True, print_size=None
):
    """`(frames, labels)`: one figure per `AttentionData` of `series`, labels "step K". Weights are on
    the fixed 0..1 scale; with `grad` every frame shares +-max|grad| over all frames, so colours compare."""
    vmax = shared_vmax(series) if grad else None
    frames = []
    for d in series:
        what = "d loss / d attention weight" if grad else "Attention weights"
        title = f"{what} of {d.meta['text']!r} · loss {_loss_text(d.meta['loss'])}"
        caption = caption_of(d, grad) + (" Colour scale shared by all frames." if grad else "")
        frames.append(
            draw(
                d,
                grad=grad,
                per_token=per_token,
                layer=layer,
                head=head,
                values=values,
                scale=scale,
                vmax=vmax,
                title=title,
                caption=caption,
                notes=notes,
                print_size=print_size,
            )
        )
    return frames, [f"step {d.meta['step']}" for d in series]


def attention_over_steps(run: Run, text: str | None, steps: Sequence[int], **options) -> tuple[list, list]:
    """`(frames, labels)`: the attention figure of the same `text` at each of `steps` of `run`, one PIL
    image each, labelled "step K". `options` as `series_frames` (grad, per_token, layer, head, ...)."""
    return series_frames(attention_series(run, text, steps), **options)


def sheet_title(series, grad=False):
    first, last = series[0].meta["step"], series[-1].meta["step"]
    text = shorten(series[0].meta["text"])
    if grad:
        return (
            f"d loss / d attention weight of {text!r} over training, steps {first} to {last} (one colour scale; "
            "red: raising the weight raises the loss, blue: lowers it). Rows: query, columns: key."
        )
    return (
        f"Attention of {text!r} over training, steps {first} to {last}. Rows: query (the token attending), "
        "columns: key (the token attended to); each row sums to 1."
    )


def sheet_columns(count, width, height):
    """Columns that make a sheet of `count` tiles of width x height roughly square (easy to view)."""
    return max(1, min(count, math.ceil(math.sqrt(count * height / width))))


def contact_sheet_of(
    series, *, grad=False, per_token=False, layer=0, head="mean", values=False, scale=1.0, columns=None, print_size=None
):
    """A contact sheet (PIL image) of the series: bare figures (the explanations are said once, in the
    sheet's title), each labelled "step K · loss L", in `columns` columns (default: a roughly square sheet)."""
    vmax = shared_vmax(series) if grad else None
    frames = [
        draw(
            d,
            grad=grad,
            per_token=per_token,
            layer=layer,
            head=head,
            values=values,
            scale=scale,
            vmax=vmax,
            title="",
            caption="",
            notes=False,
            print_size=print_size and replace(print_size, title="", caption=False),
        )
        for d in series
    ]
    labels = [f"step {d.meta['step']} · loss {_loss_text(d.meta['loss'])}" for d in series]
    if columns is None:
        columns = sheet_columns(len(frames), max(f.width for f in frames), max(f.height for f in frames))
    return contact_sheet(frames, labels, columns=columns, scale=scale, title=sheet_title(series, grad))


def sheet_path(gif_path):
    """Where the contact sheet of `out.gif` goes: `out-sheet.png` beside it."""
    p = Path(gif_path)
    return p.with_name(f"{p.stem}-sheet.png")


__all__ = [
    "attention_figure",
    "attention_over_steps",
    "check_steps",
    "contact_sheet_of",
    "draw",
    "series_frames",
]
