"""A training run as frames: what the film page (viz/film/) shows at each of a range of steps.

A frame is the numbers of one step, each the very number another command gives for that step:

    params       per matrix: `gradflow --steps` (gradstats.StepStats.params, the trace's param_stats)
    groups       per block-view group: ‖grad‖, ‖value‖, counts (`trace.collapse("block", "fused")`, what
                 the explorer's block view shows), and `flows`, the Σ|gradient| each of its edges carries
    attention    the weights of every head on one text (`attention --run --step --text`, read from
                 `trace_text`), with the model's top-5 next-token predictions there
    health       dead ReLU units, saturated softmax rows, non-finite nodes and `doctor`'s findings

Frames are made by replaying the run from its checkpoints: between frames the steps are trained
untraced; a frame's step is traced (`trace_step`), which trains it exactly as an untraced step would.
With `jobs` > 1 the steps are cut into pieces, each replayed by its own process from its nearest
checkpoint (util/pool.py; `_pieces` cuts them): the same frames, bit for bit. On the way the trainer's state is kept
at the steps worth embedding whole (`notable_steps`, and those asked for): the run remembers them, so
that tracing such a step again for its explorer starts there instead of replaying from a checkpoint.

    frames = film_frames("runs/demo", range(0, 1000, 10), text="emma", jobs=2)
"""

import math
import random
from dataclasses import asdict, dataclass

from microtrace.engine.model import softmax
from microtrace.engine.run import Run, open_run, trainer_state
from microtrace.engine.train import SampleError
from microtrace.tracer.analysis import stats
from microtrace.tracer.analysis.attention import check_text, read_attention, record
from microtrace.tracer.analysis.doctor import (
    SATURATED_P,
    attention_row_maxima,
    checked_graph,
    diagnose,
    output_row_maxima,
)
from microtrace.tracer.analysis.queries import dead_relus
from microtrace.tracer.analysis.step_ranges import pieces_of
from microtrace.tracer.model.trace import DEFAULT_VIEW, trace_step, trace_text
from microtrace.util import pool

VIEW = DEFAULT_VIEW  # the explorer's view and every command's: the engine's own nodes (a dot product is one node)
TOP = 5  # predictions shown per position
SAMPLES = 5  # names sampled from each checkpoint
FRAME_COST = 12  # a frame's traces and reads cost about as much as 12 untraced training steps


@dataclass(frozen=True)
class Frame:
    """One step of the film (0-based `step`); every field is plain JSON-ready data (see the module docs)."""

    step: int
    loss: float
    lr: float
    doc: str  # the step's training document
    chars: list  # its positions' labels, as the block view's clusters name them
    params: dict  # matrix -> param_stats, as `gradflow --steps`
    change: dict  # matrix -> ‖W - W at the previous frame‖ / ‖W at the previous frame‖ (None at the first)
    groups: dict  # block-view group -> its attributes in `trace.collapse` (count, grad_norm, data_norm...; not ops)
    flows: dict  # (group, group) -> Σ|gradient flow| along the block view's edge
    relu: dict  # {"dead": units whose ReLU passed no gradient, "units": all units}
    saturated: dict  # {"attention", "attention_rows", "output", "output_rows"}: rows above SATURATED_P
    nonfinite: int  # nodes of the step whose value or gradient is nan or inf
    findings: list  # doctor's findings, as dicts (severity, check, where, what, hint)
    attention: dict  # attention.record() of the text at this step (before its update)
    predictions: list  # per position of the text: {"next", "p_next", "top": [[label, p], ...]}


def film_frames(run, steps, text=None, jobs=1, on_step=None, keep=()):
    """`Frame`s of `run` (a directory or `Run`) at each of `steps` (ascending 0-based steps), on `text`
    (default: the training document of the first step, cut to block_size). `on_step(k)` after each frame
    (from the workers as they go when `jobs` > 1). A `Run` given remembers the trainer at the notable
    steps and at the steps of `keep` the replay passes (`Run.remember`). RunError/AttentionError (one
    line) for bad input."""
    run = run if isinstance(run, Run) else open_run(run)
    steps = list(steps)
    if not steps or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError("steps must be a non-empty ascending sequence")
    run.check_trained(steps[-1])
    if text is None:
        text = default_text(run, steps[0])
    check_text(run, text)
    pieces = _pieces(steps, jobs, run.checkpoint_steps())
    done = [x for part in pool.in_order(_piece_frames, pieces, jobs, str(run.path), text, steps, set(keep),
                                        on_step=on_step) for x in part]  # fmt: skip
    for _, states in done:
        for state in states:
            run.remember(state)
    return [frame for frame, _ in done]


def default_text(run, step=0):
    """The text a film reads by default: the training document of `step`, cut to block_size (the
    documents' order is fixed at the start: step 0's trainer knows it)."""
    trainer = run.trainer_at(0)
    return trainer.doc_for(step)[: trainer.config.block_size]


def _pieces(steps, jobs, checkpoints):
    """`steps` in pieces as `step_ranges.pieces_of` cuts them, each cut moved by up to an eighth of a piece
    where that costs less: a piece starts from the trainer at the frame before it (`change` needs its
    weights), replayed from the checkpoint before that, so a cut right after a checkpoint replays nothing
    (a 1,000-step film every 10 steps in two: 90 untraced steps less), while a frame moved from one piece
    to the other costs its steps and its traced step in the longer piece."""
    steps = list(steps)
    sizes = [len(p) for p in pieces_of(steps, jobs)]
    reach = len(steps) // (8 * len(sizes))  # pieces stay in order, none empty
    frame = (steps[-1] - steps[0]) / max(1, len(steps) - 1) + FRAME_COST

    def cost(cut, at):
        before = steps[cut - 1]
        return before - max((k for k in checkpoints if k <= before), default=0) + abs(cut - at) * frame

    cuts = [sum(sizes[: i + 1]) for i in range(len(sizes) - 1)]
    moved = [min(range(c - reach, c + reach + 1), key=lambda d, c=c: cost(d, c)) for c in cuts]
    bounds = [0, *moved, len(steps)]
    return [steps[a:b] for a, b in zip(bounds, bounds[1:])]


def _piece_frames(piece, run_dir, text, steps, keep, on_step=None):
    """(frame, [trainer states kept up to it]) of each step of `piece` (a contiguous part of `steps`), from
    one trainer replayed forward; the previous frame's parameters (for `change`) are taken on the way, even
    before the piece. States are kept at the steps of `keep` and at the piece's own notable steps (the
    notable steps of all frames are among those of the pieces), at most four of them at any time."""
    run = open_run(run_dir)
    i = steps.index(piece[0])
    previous = steps[i - 1] if i else None
    trainer = run.trainer_at(previous if previous is not None else piece[0])
    before = _weights(trainer) if previous is not None else None
    frames, kept = [], {}
    for k in piece:
        while trainer.step < k:
            if trainer.step in keep:
                kept[trainer.step] = trainer_state(trainer)
            trainer.train_step()
        kept[k] = trainer_state(trainer)  # before the frame trains the step
        weights = _weights(trainer)
        frames.append(_frame(trainer, text, _change(before, weights)))
        wanted = keep | set(notable_steps(frames))
        kept = {s: state for s, state in kept.items() if s in wanted}
        before = weights
        if on_step:
            on_step(k)
    return [(f, [kept[s] for s in sorted(kept) if s <= f.step and (j == 0 or s > frames[j - 1].step)])
            for j, f in enumerate(frames)]  # fmt: skip


def _frame(trainer, text, change):
    """The frame of the trainer's current step; the step is trained (traced) on the way."""
    k = trainer.step
    read = trace_text(trainer, k, text)  # leaves the trainer as it was
    attention = record(read_attention(read))
    predictions = _predictions(trainer, read.meta["tokens"])
    trace = trace_step(trainer)  # trains step k (and keeps its loss)
    G, nonfinite = checked_graph(trace, VIEW)
    C = trace.collapse("block", VIEW)
    rows, outputs = attention_row_maxima(G).values(), output_row_maxima(G).values()
    dead = dead_relus(G)
    units = {(d["layer"], d["unit"]) for _, d in G.nodes(data=True) if d["op"] == "relu" and "unit" in d}
    return Frame(
        step=k,
        loss=trace.loss,
        lr=trace.meta["lr"],
        doc=trace.meta["doc"],
        chars=list(trace.meta["chars"]),
        params=trace.meta["param_stats"],
        change=change,
        groups={n: {key: v for key, v in d.items() if key != "ops"} for n, d in C.nodes(data=True)},
        flows={(u, v): d["grad_flow_abs"] for u, v, d in C.edges(data=True)},
        relu={"dead": len(dead), "units": len(units)},
        saturated={
            "attention": sum(top > SATURATED_P for top in rows),
            "attention_rows": len(rows),
            "output": sum(share > SATURATED_P for share in outputs),
            "output_rows": len(outputs),
        },
        nonfinite=nonfinite[0],
        findings=[asdict(f) for f in diagnose(G, nonfinite)],
        attention=attention,
        predictions=predictions,
    )


def _predictions(trainer, tokens):
    """What the model predicts after each position of `tokens`: the probability of the true next token
    and the TOP most likely ones (ties by token id), from the same softmax the loss reads."""
    model, tok = trainer.model, trainer.tokenizer
    keys, values = model.new_cache()
    out = []
    for pos in range(len(tokens) - 1):
        probs = [p.data for p in softmax(model.forward(tokens[pos], pos, keys, values))]
        best = sorted(range(len(probs)), key=lambda i: (-probs[i], i))[:TOP]
        out.append(
            {
                "next": tok.label(tokens[pos + 1]),
                "p_next": probs[tokens[pos + 1]],
                "top": [[tok.label(i), probs[i]] for i in best],
            }
        )
    return out


def _weights(trainer):
    """Each matrix's entries, flat: what `change` compares between frames."""
    return {name: [p.data for row in mat for p in row] for name, mat in trainer.model.state_dict.items()}


def _change(before, after):
    """matrix -> ‖after - before‖ / ‖before‖ (None without a previous frame)."""
    if before is None:
        return dict.fromkeys(after)
    out = {}
    for name, now in after.items():
        was = before[name]
        norm = stats.norm(was)
        out[name] = stats.norm([a - b for a, b in zip(now, was)]) / norm if norm else math.inf
    return out


def notable_steps(frames):
    """The steps worth opening whole: the largest gradient (‖grad‖ over all matrices; nan counts as the
    largest), the first frame with a dead ReLU unit, the last frame."""

    def size(f):
        total = math.fsum(p["grad_norm"] ** 2 for p in f.params.values())
        return math.inf if total != total else total

    out = [max(frames, key=size).step]
    dead = next((f.step for f in frames if f.relu["dead"]), None)
    if dead is not None:
        out.append(dead)
    out.append(frames[-1].step)
    return sorted(set(out))


def checkpoint_samples(run, last, count=SAMPLES, temperature=0.5):
    """{completed steps: [names]} from each checkpoint of `run` up to `last` completed steps, each sampled
    with the same fresh random.Random(run's seed), so that the names differ only by what the model learned."""
    out = {}
    for done in run.checkpoint_steps():
        if done > last:
            break
        trainer = run.load(done)
        rng = random.Random(run.train_config.seed)
        names = []
        for _ in range(count):
            try:
                names.append(trainer.sample(temperature, rng))
            except SampleError:  # a model whose probabilities are not finite samples nothing
                break
        out[done] = names
    return out
