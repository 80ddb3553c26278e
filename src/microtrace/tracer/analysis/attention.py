"""The attention of a traced step as plain numbers: the tracer's softmax weights (and d loss / d weight)
per layer, head, query and key, read from the weight nodes (stage "weights" with a `key`,
docs/trace-format.md), for one step, a text, or the same text across training steps.

    from microtrace.tracer.analysis.attention import read_attention, attention_series
    data = read_attention(trace_step("runs/demo", 120))      # AttentionData
    series = attention_series("runs/demo", "emma", range(0, 200, 10))

The numbers are never recomputed: what `viz.attention` draws is exactly what the step computed.
Nothing here draws.
"""

import math
from dataclasses import dataclass

from microtrace.tracer.analysis.step_ranges import in_pieces
from microtrace.tracer.model.trace import FORMAT, Trace, TraceError, trace_text
from microtrace.util.errors import BadInput


class AttentionError(BadInput, ValueError):
    """Attention that cannot be read or drawn as asked (a graph without its weights, a text the model
    cannot read, no such layer or head, too many frames); one line for the user."""


@dataclass(frozen=True)
class AttentionData:
    """The attention of one traced sequence, ready to draw (see `attention_of`, `viz.attention`)."""

    attention: list  # [layer][head][query] -> weights of keys 0..query
    grad: list  # same shape: d loss / d weight
    labels: list  # one label per query position ("<BOS>" for BOS)
    meta: dict  # step, text, training (bool), loss, tokens (ids), truncated (bool), block_size


def _graph_for_attention(trace):
    """The attention-weight nodes of the smallest view the trace gives (a live trace builds the fused
    view, 7x fewer nodes; its weights are the very same engine values as in the elementary view)."""
    return trace.select(trace.default_view(), stages=("weights",))


def read_attention(trace: Trace) -> AttentionData:
    """`AttentionData` of a `Trace` (from `trace_step`, `trace_text` or `load_trace`).

    Raises TraceError (one line) when the trace has no readable attention-weight nodes."""
    found = trace.meta.get("conventions")
    if found is not None and not found.get("attention"):
        raise TraceError(f"no attention weights in this trace: {_why_no_attention(found)}")
    G = _graph_for_attention(trace)
    try:
        attention, labels = from_trace_graph(G, "data")
        grad, _ = from_trace_graph(G, "grad")
    except AttentionError as e:
        raise TraceError(f"cannot read attention from this trace: {e}") from None
    g = G.graph
    tokens = list(g.get("tokens", []))
    text = g.get("doc", "")
    meta = {
        "step": g.get("step"),
        "text": text,
        "training": bool(g.get("update", True)),  # a training step's own document, or trace_text
        "loss": g.get("loss"),
        "tokens": tokens[: len(labels)],
        "truncated": len(text) + 1 > len(labels),  # positions stop at block_size
        "block_size": _block_size(g.get("config", {})),
    }
    return AttentionData(attention, grad, labels, meta)


def _why_no_attention(found):
    """Why a script's trace has no attention weights, from the conventions it records."""
    missing = [
        f"the {kind}"
        for kind, loop in (("position", "pos"), ("layer", "layer"), ("head", "head"))
        if not found.get(loop)
    ]
    if missing:
        return (f"no loop over {' or '.join(missing)} was recognised in the script (a loop over range(n_layer), "
                "range(n_head) or range(block_size), or one named as microGPT names it: pos_id, li, h)")  # fmt: skip
    return (
        "no function named softmax is called inside a head with one output per key position up to the "
        "query's own (a causal attention, as microGPT's: a bidirectional one is not drawn)"
    )


def _block_size(config):
    """block_size from a trace's config, which is flat (from a Trainer) or nested (from a run)."""
    if isinstance(config, dict):
        if "block_size" in config:
            return config["block_size"]
        if isinstance(config.get("model"), dict):
            return config["model"].get("block_size")
    return None


def attention_of(trace):
    """`(attention, labels, meta)` of a trace: attention[layer][head][query] lists the weights query
    gives keys 0..query, exactly the tracer's softmax output values; labels[i] is position i's
    character; meta holds step, text, training, loss, tokens, truncated, block_size and `grad` (d loss /
    d weight, the same shape as attention)."""
    data = read_attention(trace)
    return data.attention, data.labels, {**data.meta, "grad": data.grad}


def record(data, grad=False):
    """The JSON-ready numbers of a figure: step, text, training, loss, tokens (labels, "<BOS>" for BOS),
    token_ids, attention[layer][head][query] = weights of keys 0..query, and with `grad` the gradients
    in the same shape."""
    m = data.meta
    out = {
        "step": m["step"],
        "text": m["text"],
        "training": m["training"],
        "loss": m["loss"],
        "tokens": list(data.labels),
        "token_ids": list(m["tokens"]),
        "attention": data.attention,
    }
    if grad:
        out["grad"] = data.grad
    return out


def _run(run):
    from microtrace.engine.run import Run, open_run

    return run if isinstance(run, Run) else open_run(run)


def attention_series(run, text, steps, jobs=1, on_step=None):
    """`AttentionData` of the same `text` at each step of `steps` (ascending 0-based steps of `run`, a
    run directory or `Run`); `text=None` takes the training document of the first step.

    One Trainer is rebuilt at the first step and trained forward between frames (`trace_text` leaves it
    unchanged), so the cost is one replay plus the steps in between, not a replay per frame; `on_step(k)`
    after each frame (for a progress bar; with `jobs` > 1 as the workers make them). With `jobs` > 1 the
    steps are cut into pieces computed by as many processes, each from its nearest checkpoint: the same
    frames, bit for bit. Raises TraceError or RunError/DataError (one line) for bad input."""
    run = _run(run)
    steps = list(steps)
    if not steps or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError("steps must be a non-empty ascending sequence")
    run.check_trained(steps[-1])
    if text is not None:
        check_text(run, text)
    if jobs > 1:
        if text is None:  # the documents' order is fixed at the start: step 0's trainer knows it
            trainer = run.trainer_at(0)
            text = trainer.doc_for(steps[0])[: trainer.config.block_size]
        return in_pieces(_piece_series, steps, jobs, str(run.path), text, on_step=on_step)
    trainer = run.trainer_at(steps[0])
    if text is None:
        text = trainer.doc_for(steps[0])[: trainer.config.block_size]  # what the model reads of it
    series = []
    for k in steps:
        while trainer.step < k:
            trainer.train_step()
        series.append(read_attention(trace_text(trainer, k, text)))
        if on_step:
            on_step(k)
    return series


def _piece_series(steps, run_dir, text, on_step=None):
    """attention_series of one piece of the steps, in a worker process."""
    return attention_series(run_dir, text, steps, on_step=on_step)


def shared_vmax(series):
    """max |d loss / d weight| over all frames (finite values), so every frame uses one colour scale."""
    finite = [
        abs(v) for d in series for layer in d.grad for rows in layer for row in rows for v in row if math.isfinite(v)
    ]
    best = max(finite, default=0.0)
    return best if best > 0 else None


def check_text(run, text):
    """AttentionError (one line) unless the model of `run` can read `text`: not empty, every character in
    its vocabulary (the unknown ones are named), at most block_size characters. Checked before any
    replay, so a typo fails at once."""
    from microtrace.engine.data import Tokenizer

    run = _run(run)
    if not text:
        raise AttentionError("the text is empty: give at least one character")
    block = run.model_options["block_size"]
    if len(text) > block:  # first: a huge text is refused without looking at each character
        raise AttentionError(
            f"{_preview(text)} has {len(text)} characters; this model reads at most block_size = {block}"
        )
    vocabulary = set(Tokenizer.from_docs(run.dataset().docs).chars)
    unknown = sorted(set(text) - vocabulary)
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown)
        raise AttentionError(f"{text!r} has characters outside the model's vocabulary: {shown}")
    return run


def _preview(text, limit=40):
    """`text` as a message quotes it: its repr, cut to about `limit` characters."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def text_trace(run, step, text):
    """`trace_text` of `text` at `step` of `run` (directory or `Run`), after `check_text`."""
    return trace_text(check_text(run, text), step, text)


def from_trace_graph(graph, field="data"):
    """`(attention, labels)` from a trace graph (format `FORMAT`, see docs/trace-format.md).

    Attention-weight nodes are those with stage "weights" and a `key` attribute; `field` is "data"
    (the weights) or "grad" (d loss / d weight, for `grad=True`). Labels are the graph's `chars` for
    the query positions. Works with a networkx graph or anything with `.graph` and `.nodes(data=True)`."""
    if field not in ("data", "grad"):
        raise AttentionError(f"field must be 'data' or 'grad', got {field!r}")
    attrs = getattr(graph, "graph", None)
    if not isinstance(attrs, dict):
        raise AttentionError("not a trace graph: it has no graph attributes")
    if attrs.get("format") != FORMAT:
        raise AttentionError(f"unsupported trace format {attrs.get('format')!r} (this reader knows format {FORMAT})")
    chars = attrs.get("chars")
    if not isinstance(chars, (list, tuple)):
        raise AttentionError("the trace graph has no 'chars' attribute")
    found = {}
    for _, d in graph.nodes(data=True):
        if d.get("stage") != "weights" or "key" not in d:
            continue
        try:
            key = (int(d["layer"]), int(d["head"]), int(d["pos"]), int(d["key"]))
        except (KeyError, TypeError, ValueError):
            raise AttentionError("an attention-weight node lacks layer, head, pos or key") from None
        if field not in d:
            raise AttentionError(f"an attention-weight node has no {field!r}")
        found[key] = d[field]
    if not found:
        raise AttentionError("the trace graph has no attention-weight nodes (stage 'weights' with a 'key')")
    n_layers = max(k[0] for k in found) + 1
    n_heads = max(k[1] for k in found) + 1
    n = max(k[2] for k in found) + 1
    if not chars:  # a trace of a script whose tokens are unknown: positions are labelled by number
        chars = [str(i) for i in range(n)]
    if len(chars) < n:
        raise AttentionError(f"the trace graph has {len(chars)} chars for {n} positions")
    attention = []
    for li in range(n_layers):
        layer = []
        for hi in range(n_heads):
            rows = []
            for q in range(n):
                row = []
                for k in range(q + 1):
                    if (li, hi, q, k) not in found:
                        raise AttentionError(
                            f"the trace graph lacks the weight of layer {li} head {hi} query {q} key {k}"
                        )
                    row.append(found[(li, hi, q, k)])
                rows.append(row)
            layer.append(rows)
        attention.append(layer)
    return attention, list(chars[:n])
