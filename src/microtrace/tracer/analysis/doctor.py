"""What is wrong with a training step: non-finite numbers, exploding or vanishing gradients, updates out of
proportion, dead ReLUs and saturated softmaxes, read off one step's trace graph.

    G, nonfinite = checked_graph(trace, "elementary")
    print(report(G, diagnose(G, nonfinite)))   # one line per finding; "healthy" when there is none

Every threshold below is a module constant with the reason for its value. They were chosen so that a
default run (n_embd 16, 4 heads, 1 layer, the default names data, lr 1e-2) raises nothing at any of its
1000 steps, while the failures they exist for (a huge learning rate, a matrix initialised to zero) are
caught on their first steps. The numbers quoted are from that default run.
"""

import math
from collections import defaultdict
from dataclasses import dataclass

from microtrace.tracer.analysis.queries import dead_relu_counts, first_nonfinite, nonfinite_count
from microtrace.util.numfmt import terminal

# Gradient norm of one matrix above which it is exploding. The default run's largest is 3.7 (lm_head)
# and gradient clipping is customarily set around 1; 100 is well past both, and a diverging step (lr 1e6)
# goes far beyond it.
EXPLODE_GRAD_NORM = 1e2
# A matrix whose gradient norm is below this fraction of the step's largest is vanishing: it learns
# nothing next to the others. In the default run the smallest share is 3e-3 (attn_wq at step 0, when
# attention is still uniform); 1e-5 leaves a factor of 300.
VANISH_RATIO = 1e-5
# Update-to-data ratio ||update|| / ||data|| of the step's Adam update. The customary healthy value is
# about 1e-3, but microGPT's own settings run higher: Adam's first step moves every entry by lr (1e-2)
# against weights of std 0.08, so the default run starts at 0.13 and settles at 1e-2 .. 5e-2. Above 0.5 a
# single step changes a matrix by half of itself.
UPDATE_HIGH = 0.5
# Below 1e-5 a matrix has stopped learning. Not checked in the last 1% of a linearly decaying learning
# rate, where tiny steps are the schedule's intent (the default run's last step is at 1.1e-5).
UPDATE_LOW = 1e-5
LOW_LR_SHARE = 0.01
# Share of a matrix's entries taking part in the step whose gradient is exactly 0. Only for matrices
# whose zeros are not dead ReLU units (fc1/fc2 zeros are reported as dead ReLUs instead).
ZERO_GRAD_SHARE = 0.5
# Share of an MLP's units whose ReLU passed no gradient at any position of the step. Short documents kill
# many units for one step: the default run reaches 81% on a 3-character name. 90% is beyond any healthy
# step; 100% means the MLP passes no gradient at all (an error).
DEAD_RELU_SHARE = 0.9
# A softmax row is saturated when its largest probability exceeds 0.99: the softmax's derivative
# p(1 - p) is then below 0.01, so almost no gradient gets through to the logits. One such row is
# normal; a head (or the output) with at least half of its rows saturated, and at least 2, has stopped
# learning where to look (what to predict). The default run's largest attention weight over 1000
# steps is 0.984; its output softmax passes 0.99 at single positions late in training.
SATURATED_P = 0.99
SATURATED_SHARE = 0.5
SATURATED_MIN_ROWS = 2

SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class Finding:
    """One problem: how bad (`error` or `warning`), which check, where, what was seen, what to try."""

    severity: str
    check: str
    where: str
    what: str
    hint: str

    def line(self):
        return f"{self.severity.upper():<7}  {self.where:<22}  {self.what}. Hint: {self.hint}"


def diagnose(G, nonfinite=None):
    """The findings for one step's trace graph (elementary or fused view), errors first. G may hold
    only the nodes the checks read (`checked_graph`); then `nonfinite` gives the whole step's
    (non-finite nodes, nodes).

    Causes, not their consequences: once a weight is nan or inf, every ReLU after it looks dead and every
    softmax saturated, so those checks are left out (the non-finite weights are the finding). And before
    step 0's update nothing has been learned: what the forward and backward pass show then comes from
    the initialisation and the data, so no hint blames the learning rate.
    """
    findings = []
    findings += _nonfinite(G, nonfinite)
    findings += _matrices(G)
    if not _weights_nonfinite(G):
        findings += _dead_relus(G)
        findings += _saturated_attention(G)
        findings += _saturated_output(G)
    if G.graph.get("step") == 0:
        findings = [_before_any_update(f) for f in findings]
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


CHECKED_OPS = ("param", "relu", "exp")  # what the checks below read: matrices, ReLUs, softmaxes
CHECKED_STAGES = ("weights",)  # attention weights


def checked_graph(trace, view):
    """The nodes of a step the checks read, and where nan/inf starts with its neighbours, as a small
    graph: `diagnose(G, nonfinite)` on it equals `diagnose` of the whole step, at any size."""
    found, count = trace.nonfinite(view)
    G = trace.select(view, ops=CHECKED_OPS, stages=CHECKED_STAGES, around=[found] if found is not None else ())
    return G, (count, trace.size(view)[0])


# Checks about the step's forward and backward pass (the model as it stands), not about its update.
STATE_CHECKS = (
    "nonfinite",
    "explode",
    "grad_nonfinite",
    "vanish",
    "dead_relu",
    "saturated_attention",
    "saturated_softmax",
)
STEP0_HINT = (
    "no update has run before step 0, so the learning rate is not the cause: look at the "
    "initialisation (init_std) and the data"
)


STEP0_HINTS = {
    "dead_relu": "no update has run before step 0: fc1's initialisation (zeros? init_std?) puts its "
    "pre-activations at or below 0",
    "saturated_attention": "no update has run before step 0: the initialisation makes the attention logits "
    "too large (init_std)",
    "saturated_softmax": "no update has run before step 0: the initialisation makes the logits too large (init_std)",
}


def _before_any_update(f):
    if f.check in STATE_CHECKS and "the learning rate" in f.hint:
        return Finding(f.severity, f.check, f.where, f.what, STEP0_HINTS.get(f.check, STEP0_HINT))
    return f


def _weights_nonfinite(G):
    return any(not math.isfinite(s["data_norm"]) for s in G.graph["param_stats"].values())


def report(G, findings):
    """Plain text: a header line, then one line per finding (or 'healthy')."""
    g = G.graph
    loss = g.get("loss")
    loss_text = f"{loss:.4f}" if isinstance(loss, float) and math.isfinite(loss) else str(loss)
    head = f"step {g.get('step')}  doc {g.get('doc')!r}  loss {loss_text}"
    dead = dead_relus_said(G)
    if not findings:
        return (
            f"{head}\nhealthy: no findings (checks: non-finite values, exploding/vanishing gradients, "
            "update ratios, zero gradients, dead ReLUs, saturated softmaxes)" + (f"\n{dead}" if dead else "")
        )
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITIES}
    summary = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
    return "\n".join([f"{head}  ->  {summary}"] + [f.line() for f in findings] + ([dead] if dead else []))


def dead_relus_said(G):
    """The dead ReLU units of each layer as counted (gradflow's 'dead ReLU' row shows the same), and from
    what share they are a finding: a healthy step has some ("" without an MLP)."""
    counts = dead_relu_counts(G)
    if not counts or _weights_nonfinite(G):
        return ""
    each = ", ".join(f"{k} of {n} in layer{layer}" for layer, (k, n) in counts.items())
    return (
        f"dead ReLU units (no gradient at any position): {each}; a finding from {DEAD_RELU_SHARE:.0%} "
        "(a short document leaves many units unused for one step)"
    )


# --- checks -----------------------------------------------------------------------------------------


def _fmt(x):
    return terminal(x, 3)


def _expression(G, bad):
    """The failing operation written out, e.g. `log(0) = -inf` or `1e+300 * 1e+300 = inf`."""
    op, ops = bad["op"], [_fmt(o["data"]) for o in bad["operands"]]
    result = _fmt(bad["data"])
    if op in ("log", "exp", "relu") and len(ops) == 1:
        return f"{op}({ops[0]}) = {result}"
    if op == "**" and len(ops) == 1:
        return f"({ops[0]}) ** {_fmt(G.nodes[bad['node']].get('exponent'))} = {result}"
    if op in ("+", "*") and len(ops) == 2:
        return f"{ops[0]} {op} {ops[1]} = {result}"
    if op == "param":
        return f"the parameter is {result}"
    shown = ", ".join(ops[:4]) + (", ..." if len(ops) > 4 else "")
    return f"{op}({shown}) = {result}"


def _nonfinite(G, counts):
    bad = first_nonfinite(G)
    if bad is None:
        return []
    total, nodes = counts or (nonfinite_count(G), G.number_of_nodes())
    where = bad.get("param") or bad["scope"]
    if bad["what"] == "value":
        what = f"first non-finite value, node {bad['node']}: {_expression(G, bad)}"
    else:
        what = f"first non-finite gradient (from the loss down), node {bad['node']} ({bad['op']}): grad {bad['grad']}"
    view = f" of the {G.graph['view']} view" if G.graph.get("view") else ""  # node ids and counts are per view
    what += f"; {total:,} of {nodes:,} nodes{view} are non-finite"
    return [Finding("error", "nonfinite", where, what, _nonfinite_hint(bad))]


def _nonfinite_hint(bad):
    op, operands = bad["op"], bad["operands"]
    if op == "param":
        return "the parameters are already not finite: an earlier update diverged, look at earlier steps"
    if op == "log" and any(o["data"] == 0 for o in operands):
        return "a probability underflowed to 0 because the logits are huge: lower the learning rate"
    if op == "exp":
        return "exp overflowed on a huge input: lower the learning rate"
    if op.startswith("**") and any(o["data"] == 0 for o in operands):
        return "division by zero (a norm or a sum of 0): look at what feeds this node"
    if bad["what"] == "gradient":
        return "the backward pass overflowed: some local derivative is huge; lower the learning rate"
    return "an operand is already huge: the model's numbers blew up, lower the learning rate"


def _base_lr_share(G):
    """lr of this step / the run's lr (1 - step / steps under linear decay), or None if unknown."""
    cfg = G.graph.get("config") or {}
    training = cfg.get("training", cfg)
    lr, lr_t = training.get("lr"), G.graph.get("lr")
    if not lr or lr_t is None:
        return None
    return lr_t / lr


def _participating(G):
    """Per matrix: (entries taking part in the step, of them with gradient exactly 0)."""
    counts = defaultdict(lambda: [0, 0])
    for _, d in G.nodes(data=True):
        if d["op"] == "param":
            c = counts[d["param"]]
            c[0] += 1
            c[1] += d["grad"] == 0
    return counts


HINTS = {
    "weights_nonfinite": "an earlier update diverged: look at earlier steps, lower the learning rate",
    "zero_weights": "initialise it with small random values (init_std), not zeros",
    "explode": "lower the learning rate; the weights or activations have grown too large",
    "grad_nonfinite": "it follows from the first non-finite value: fix that one",
    "no_grad": "something upstream passes no gradient (dead ReLUs, a zero matrix): see the other findings",
    "vanish": "look for saturated softmaxes or dead ReLUs between it and the loss",
    "zero_grad": "something between it and the loss blocks the gradient",
    "update_high": "the step rewrites the matrix: lower the learning rate",
    "update_low": "raise the learning rate, or look for a vanishing gradient",
}
# Said once for several matrices (values: their numbers), when 3 or more share a finding.
GROUPED = {
    "weights_nonfinite": lambda v: "weights are not finite",
    "zero_weights": lambda v: "every weight is exactly 0",
    "explode": lambda v: f"gradient norms {_span(v)} > {EXPLODE_GRAD_NORM:g} (exploding)",
    "grad_nonfinite": lambda v: "gradient norm is not finite",
    "no_grad": lambda v: "no gradient reaches them: every entry's gradient is 0",
    "vanish": lambda v: f"gradient norms {_span(v)}, below {VANISH_RATIO:g} x the step's largest (vanishing)",
    "zero_grad": lambda v: f"{_span(v, pct=True)} of the entries taking part have gradient exactly 0",
    "update_high": lambda v: f"update/data ratios {_span(v)} > {UPDATE_HIGH:g} (customary ~1e-3)",
    "update_low": lambda v: f"update/data ratios {_span(v)} < {UPDATE_LOW:g} (customary ~1e-3): stopped learning",
}
GROUP_AT = 3


def _span(values, pct=False):
    f = (lambda x: f"{x:.0%}") if pct else _fmt
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < len(values):
        return "nan/inf" if not finite else f"{f(min(finite))} .. {f(max(finite))} and nan/inf"
    lo, hi = min(values), max(values)
    return f(lo) if f(lo) == f(hi) else f"{f(lo)} .. {f(hi)}"


def _matrix_issues(G):
    """Per matrix: (severity, check, matrix, value, what) for each problem of its statistics."""
    stats = G.graph["param_stats"]
    norms = [s["grad_norm"] for s in stats.values() if math.isfinite(s["grad_norm"])]
    largest = max(norms, default=0.0)
    share = _base_lr_share(G)
    taking_part = _participating(G)
    out = []
    for name, s in stats.items():
        norm, data_norm, ratio = s["grad_norm"], s["data_norm"], s.get("update_ratio")
        if not math.isfinite(data_norm):
            out.append(("error", "weights_nonfinite", name, data_norm, f"weights are not finite (norm {data_norm})"))
            continue
        if data_norm == 0:
            out.append(
                (
                    "error",
                    "zero_weights",
                    name,
                    0.0,
                    "every weight is exactly 0, so all its units compute the "
                    "same thing and get the same (here no) gradient",
                )
            )
        if not math.isfinite(norm):
            # nan/inf gradients follow from the first non-finite value, reported above; so does the update.
            out.append(("error", "grad_nonfinite", name, norm, f"gradient norm is {norm}"))
            continue
        if norm > EXPLODE_GRAD_NORM:
            out.append(
                (
                    "error",
                    "explode",
                    name,
                    norm,
                    f"gradient norm {norm:.3g} > {EXPLODE_GRAD_NORM:g} (exploding; max |g| {_fmt(s['grad_abs_max'])})",
                )
            )
        elif norm == 0:
            out.append(("error", "no_grad", name, 0.0, "no gradient reaches it: every entry's gradient is 0"))
            continue  # its update is Adam's momentum or nothing: not a separate problem
        elif largest > 0 and norm < VANISH_RATIO * largest:
            out.append(
                (
                    "warning",
                    "vanish",
                    name,
                    norm,
                    f"gradient norm {norm:.3g} is below {VANISH_RATIO:g} x the "
                    f"step's largest ({largest:.3g}): vanishing",
                )
            )
        elif not name.split(".")[-1].startswith("mlp_"):
            total, zeros = taking_part.get(name, (0, 0))
            if total and zeros / total > ZERO_GRAD_SHARE:
                out.append(
                    (
                        "warning",
                        "zero_grad",
                        name,
                        zeros / total,
                        f"{zeros} of the {total} entries taking part "
                        f"have gradient exactly 0 ({zeros / total:.0%} > {ZERO_GRAD_SHARE:.0%})",
                    )
                )
        if ratio is None or data_norm == 0:
            continue
        if not math.isfinite(ratio) or ratio > UPDATE_HIGH:
            out.append(
                (
                    "error" if not ratio <= 1 else "warning",
                    "update_high",
                    name,
                    ratio,
                    f"update/data ratio {ratio:.3g} > {UPDATE_HIGH:g} (customary ~1e-3)",
                )
            )
        elif ratio < UPDATE_LOW and (share is None or share >= LOW_LR_SHARE):
            out.append(
                (
                    "warning",
                    "update_low",
                    name,
                    ratio,
                    f"update/data ratio {ratio:.3g} < {UPDATE_LOW:g} (customary ~1e-3): it has stopped learning",
                )
            )
    return out


def _matrices(G):
    """Findings of the matrix statistics; a problem shared by 3 or more matrices is one line."""
    issues = _matrix_issues(G)
    n_matrices = len(G.graph["param_stats"])
    groups = defaultdict(list)
    for issue in issues:
        groups[issue[:2]].append(issue)
    out = []
    for (severity, check), members in groups.items():
        if len(members) < GROUP_AT:
            out += [Finding(severity, check, name, what, HINTS[check]) for _, _, name, _, what in members]
            continue
        names = [m[2] for m in members]
        where = f"all {n_matrices} matrices" if len(names) == n_matrices else ", ".join(names)
        what = GROUPED[check]([m[3] for m in members])
        if len(names) == n_matrices:
            what = what.replace("them", "any matrix")
        else:
            what += f" in {len(names)} matrices"
        out.append(Finding(severity, check, where, what, HINTS[check]))
    return out


def _dead_relus(G):
    out = []
    for layer, (k, n) in dead_relu_counts(G).items():
        if k == n:
            out.append(
                Finding(
                    "error",
                    "dead_relu",
                    f"layer{layer}/mlp",
                    f"all {n} ReLU units are dead: the MLP passes no gradient at any position",
                    "its fc1 pre-activations are all <= 0: check fc1's initialisation (zeros?) or lower the learning rate",
                )
            )
        elif k >= DEAD_RELU_SHARE * n:
            out.append(
                Finding(
                    "warning",
                    "dead_relu",
                    f"layer{layer}/mlp",
                    f"{k} of {n} ReLU units are dead ({k / n:.0%} >= {DEAD_RELU_SHARE:.0%})",
                    "a large update pushed fc1's pre-activations below 0: lower the learning rate",
                )
            )
    return out


def attention_row_maxima(G):
    """(layer, head, query) -> the largest weight of that attention row, for rows of at least 2 keys (with
    one key the weight is 1 by construction): a row is saturated when it is above SATURATED_P."""
    rows = defaultdict(list)  # (layer, head, query) -> weights
    for _, d in G.nodes(data=True):
        if d.get("stage") == "weights" and "key" in d:
            rows[(d["layer"], d["head"], d["pos"])].append(d["data"])
    return {key: max(weights) for key, weights in rows.items() if len(weights) >= 2}


def output_row_maxima(G):
    """position -> the largest share of the output softmax there (nan when its numbers are not finite)."""
    exps = defaultdict(list)
    for _, d in G.nodes(data=True):
        if d["op"] == "exp" and d.get("block") == "loss" and d.get("stage") == "softmax":
            exps[d["pos"]].append(d["data"])
    out = {}
    for pos, values in exps.items():
        total = math.fsum(values) if all(map(math.isfinite, values)) else math.nan
        out[pos] = max(values) / total if total > 0 else math.nan
    return out


def _saturated_attention(G):
    heads = defaultdict(lambda: [0, 0])  # (layer, head) -> [rows with >= 2 keys, saturated rows]
    for (layer, head, _), top in attention_row_maxima(G).items():
        h = heads[(layer, head)]
        h[0] += 1
        h[1] += top > SATURATED_P
    by_layer = defaultdict(list)
    for (layer, head), (n, k) in sorted(heads.items()):
        if k >= SATURATED_MIN_ROWS and k >= SATURATED_SHARE * n:
            by_layer[layer].append((head, n, k))
    out = []
    hint = "the attention logits are too large: lower the learning rate"
    for layer, hits in sorted(by_layer.items()):
        if len(hits) < GROUP_AT:
            for head, n, k in hits:
                out.append(
                    Finding(
                        "warning",
                        "saturated_attention",
                        f"layer{layer}/attn/head{head}",
                        f"{k} of {n} attention rows put more than {SATURATED_P:g} on one key: the softmax "
                        "is saturated and passes almost no gradient to q and k",
                        hint,
                    )
                )
            continue
        n, k = sum(h[1] for h in hits), sum(h[2] for h in hits)
        heads_text = ", ".join(str(h[0]) for h in hits)
        out.append(
            Finding(
                "warning",
                "saturated_attention",
                f"layer{layer}/attn heads {heads_text}",
                f"{k} of {n} attention rows put more than {SATURATED_P:g} on one key: the softmaxes are "
                "saturated and pass almost no gradient to q and k",
                hint,
            )
        )
    return out


def _saturated_output(G):
    shares = output_row_maxima(G).values()
    n, k = len(shares), sum(share > SATURATED_P for share in shares)
    if k >= SATURATED_MIN_ROWS and k >= SATURATED_SHARE * n:
        return [
            Finding(
                "warning",
                "saturated_softmax",
                "lm_head/softmax",
                f"at {k} of {n} positions the output softmax puts more than {SATURATED_P:g} on one token: "
                "it is saturated, gradients through it are tiny (or huge where it is wrong)",
                "the logits are too large: lower the learning rate",
            )
        ]
    return []
