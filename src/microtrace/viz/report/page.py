"""One self-contained HTML page that explains one training step, for a student reading along.

    from microtrace.tracer import trace_step
    from microtrace.viz.report.page import build_report
    html = build_report(trace_step("runs/demo", 120))   # str: write it anywhere, open it offline

The page holds everything it shows: figures are PNG data URIs (drawn at twice their displayed size, so
they stay sharp on high-density screens), the block graph is inline SVG (its hover tooltips kept), the
CSS is inline, and there is no JavaScript and no network access. The same trace gives the same bytes
(nothing depends on the clock or the machine). Without Graphviz's `dot` the graph section is a note.
"""

import base64
import html
import math
import re
from importlib import resources

from microtrace.tracer import Trace, TraceError
from microtrace.tracer.analysis.doctor import checked_graph, dead_relus_said, diagnose
from microtrace.tracer.analysis.queries import best_links, follow_links
from microtrace.tracer.analysis.stats import nonfinite_note
from microtrace.util import numfmt
from microtrace.util.text import visible
from microtrace.viz.attention.figure import attention_figure
from microtrace.viz.draw.canvas import png_bytes
from microtrace.viz.draw.text import shorten
from microtrace.viz.gradflow.matrices import flow_data, gradflow_figure
from microtrace.viz.graph.block import block_diagram
from microtrace.viz.graph.render import DotNotFound, RenderError, render_bytes
from microtrace.viz.page_safety import CSP_PLACEHOLDER, checked_link, seal

# Section id, heading and the one sentence under it. The order is the story of a step: what the model
# read, how wrong it was, how the computation ran forward and the gradient back, and what to make of it.
SECTIONS = (
    (
        "tokens",
        "The document and its tokens",
        "The model reads the document one character (token) at a time, starting from BOS, the token that "
        "marks the start and the end of every document; at each position it must predict the next token.",
    ),
    (
        "loss",
        "The loss, position by position",
        "At each position the model gives every possible next token a probability; the loss there is "
        "−log of the probability it gave the right one (0 when it was sure and right), and the step's loss "
        "is the mean over the positions.",
    ),
    (
        "graph",
        "The computation graph",
        "Every scalar operation of the step grouped into blocks, one row per position: boxes are coloured by "
        "the size of their gradient and arrows are as wide as the gradient flowing back along them (hover a "
        "box or an arrow for its numbers).",
    ),
    (
        "attention",
        "Attention weights",
        "How strongly each position (a row) looks at itself and each earlier position (the columns), for "
        "every head; each row sums to 1.",
    ),
    (
        "attention-grad",
        "Gradient of the attention weights",
        "d loss / d weight for the same cells: the sign says whether raising that weight would raise or "
        "lower the loss, the strength of the colour by how much.",
    ),
    (
        "gradflow",
        "Gradient flow",
        "How large the gradient of each parameter matrix is (top, log scale) and how much this step's Adam "
        "update changes the matrix compared with its size (bottom).",
    ),
    (
        "params",
        "Parameter gradients in numbers",
        "The statistics behind the gradient-flow figure, one row per matrix: ‖g‖ is the gradient's L2 norm, "
        "zero grad the share of entries that got no gradient, and update ratio ‖update‖ / ‖weights‖.",
    ),
    (
        "paths",
        "Where the largest gradients come from",
        "For the entry with the largest |gradient| in each matrix, the chain of operations (by scope) along "
        "which the most gradient reaches it from the loss; a path carries the product of the local "
        "derivatives along it, and all paths together add up to the entry's gradient.",
    ),
    (
        "doctor",
        "Health check",
        "Automatic checks for the usual training problems: nan or inf values, exploding or vanishing "
        "gradients, updates out of proportion, dead ReLU units and saturated softmaxes.",
    ),
)

FIGURE_SCALE = 2.0  # PNGs are drawn at 2x and shown at 1x CSS pixels
PATHS_PER_TARGET = 3


def build_report(trace: Trace, explorer: str | None = None, on_progress=None, film: str | None = None) -> str:
    """The HTML page (str) of one `Trace` (from `trace_step` or `load_trace`): the document and its
    tokens, the loss per position, the block graph, attention weights and their gradient, gradient flow,
    per-matrix gradient statistics, the largest-gradient paths and the doctor's findings. `explorer`:
    where the step's explorer page is (`microtrace explore`; a path relative to the report, or a URL),
    linked from the graph section; `film`: where the film of its run is (`microtrace film`), linked at this
    step. `on_progress(done, total)` follows the sections (for a progress bar)."""
    for link in (explorer, film):
        if link:
            checked_link(link)  # before any work: UnsafeLink for javascript:, data:, file:, //host ...
    tell = on_progress or (lambda done, total: None)
    total = len(SECTIONS) + 1
    tell(0, total)
    view = trace.default_view()  # the explorer's and every command's (tracer.model.trace.DEFAULT_VIEW)
    G, nonfinite = checked_graph(trace, view)  # the nodes the doctor reads: ReLUs, softmaxes, matrices
    m = G.graph
    findings = diagnose(G, nonfinite)
    tell(1, total)
    makers = {
        "tokens": lambda: _tokens_section(m),
        "loss": lambda: _loss_section(trace.select(view, stages=("logits",), around=trace.stage_nodes(("nll",), view))),
        "graph": lambda: _graph_section(trace) + _explorer_link(explorer) + _film_link(film, m["step"]),
        "attention": lambda: _attention_section(trace, grad=False),
        "attention-grad": lambda: _attention_section(trace, grad=True),
        "gradflow": lambda: _gradflow_section(G),
        "params": lambda: _params_section(m),
        "paths": lambda: _paths_section(trace, view),
        "doctor": lambda: _doctor_section(findings, dead_relus_said(G)),
    }
    bodies = {}
    for done, (sid, make) in enumerate(makers.items(), 2):
        bodies[sid] = make()
        tell(done, total)
    sections = "\n".join(_section(sid, heading, why, bodies[sid]) for sid, heading, why in SECTIONS)
    title = f"microtrace · step {m['step']} · “{shorten(m['doc'])}” · loss {numfmt.fixed(m['loss'], 4)}"
    page = _resource("page.html").format(
        csp=CSP_PLACEHOLDER,
        title=_e(title),
        css=_resource("report.css").strip(),
        header=_header(m, findings),
        toc=_toc(),
        sections=sections,
        footer=_footer(m),
    )
    return seal(page)


def _e(text):
    """Any text in the page, escaped, with control characters shown (util.text.visible)."""
    return html.escape(visible(text), quote=True)


def _num(x, precision=3):
    return numfmt.fixed(float(x), precision).replace("-", "−")


def _token(label):
    return "BOS" if label == "<BOS>" else label


def _tok_chip(label, extra=""):
    cls = "tok bos" if label == "<BOS>" else "tok"
    shown = _token(label)
    if shown == " ":
        shown = "␣"  # a space would be an empty chip
    return f'<span class="{cls}">{_e(shown)}{extra}</span>'


def _section(sid, heading, why, body):
    return f'<section id="{sid}">\n<h2>{_e(heading)}</h2>\n<p class="why">{_e(why)}</p>\n{body}\n</section>'


def _toc():
    items = "".join(f'<li><a href="#{sid}">{_e(heading)}</a></li>' for sid, heading, _ in SECTIONS)
    return f'<nav aria-label="sections"><ol>{items}</ol></nav>'


def _note(text):
    return f'<p class="note">{_e(text)}</p>'


def _image(png, alt):
    """An <img> of PNG bytes drawn at FIGURE_SCALE, shown at its 1x size (and narrower if it must)."""
    w, h = _png_size(png)
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="{src}" alt="{_e(alt)}" width="{round(w / FIGURE_SCALE)}" '
            f'height="{round(h / FIGURE_SCALE)}"></figure>')  # fmt: skip


def _png_size(png):
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the IHDR chunk


# --- header, footer -----------------------------------------------------------------------------------


def _settings(m):
    """(model, training) settings: a run's config nests them, a Trainer's is one flat dict."""
    cfg = m.get("config") or {}
    return cfg.get("model", cfg), cfg.get("training", cfg)


def _header(m, findings):
    steps = _settings(m)[1].get("steps")
    if m.get("update", True):
        h1 = f"Training step {m['step']}" + (f" of a {steps}-step run" if steps else "")
    else:
        h1 = f"A forward and backward pass at step {m['step']} (no update)"
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    if findings:
        parts = [f"{n} {w}{'s' * (n != 1)}" for n, w in ((errors, "error"), (warnings, "warning")) if n]
        health = f'<a href="#doctor" class="{"bad" if errors else "warn"}">{", ".join(parts)}</a>'
    else:
        health = '<a href="#doctor" class="ok">healthy</a>'
    facts = [
        ("document", f"“{_e(m['doc'])}”"),
        ("loss", f'<data id="loss" value="{m["loss"]!r}">{_num(m["loss"], 4)}</data>'),
        ("learning rate", _num(m["lr"]) if "lr" in m else "—"),
        ("health check", health),
    ]
    dl = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)
    did = "took this step on one document" if m.get("update", True) else "read this text, with no update"
    return (f'<h1>{_e(h1)}</h1>\n<dl class="facts">{dl}</dl>\n'
            f'<p class="lede">microGPT, Karpathy\'s GPT in pure Python, {did}. microtrace recorded every '
            f'scalar operation of it, forward and backward; this page explains it section by section.</p>')  # fmt: skip


def _footer(m):
    model, training = _settings(m)
    keys = [("n_layer", model), ("n_head", model), ("n_embd", model), ("block_size", model), ("steps", training),
            ("lr", training), ("beta1", training), ("beta2", training), ("seed", training)]  # fmt: skip
    cells = "".join(f"<div><dt>{k}</dt><dd>{_e(src[k])}</dd></div>" for k, src in keys if k in src)
    data = ((m.get("config") or {}).get("data") or {}).get("source")
    source = f" on the <code>{_e(data)}</code> data" if data else ""
    return (f'<footer><p>Model and training settings{source}, microtrace {_e(m.get("version", "?"))}, '
            f'trace format {_e(m.get("format", "?"))} ({_e(m.get("view", ""))} view):</p>'
            f'<dl class="facts small">{cells}</dl></footer>')  # fmt: skip


# --- sections -----------------------------------------------------------------------------------------


def _tokens_section(m):
    chips = "".join(
        _tok_chip(label, f"<small>{pos} · id {tid}</small>")
        for pos, (label, tid) in enumerate(zip(m["chars"], m["tokens"]))
    )
    return f'<p class="tokens">{chips}</p>'


def position_losses(G):
    """Per position: (nll, rank of the target among all tokens by logit, 1 = the model's first choice),
    read off the graph's `pos*/loss/nll` results and `lm_head` logits."""
    nll, logits = {}, {}
    for n, d in G.nodes(data=True):
        scope = d["scope"]
        if scope.endswith("/loss/nll") and any(G.nodes[s]["scope"] != scope for s in G.successors(n)):
            nll[d["pos"]] = d["data"]  # the position's result: the node leaving the scope
        elif d.get("block") == "lm_head" and d.get("stage") == "logits" and "unit" in d:
            logits.setdefault(d["pos"], {})[d["unit"]] = d["data"]
    tokens = G.graph["tokens"]
    out = []
    for pos in sorted(nll):
        row = logits.get(pos, {})
        target = row.get(tokens[pos + 1]) if pos + 1 < len(tokens) else None
        rank = None if target is None else 1 + sum(v > target for v in row.values())
        out.append((nll[pos], rank, len(row)))
    return out


def _loss_section(G):
    m = G.graph
    rows = position_losses(G)
    if not rows:
        return _note("This trace has no per-position loss nodes (pos*/loss/nll).")
    top = max((r[0] for r in rows if math.isfinite(r[0])), default=1.0) or 1.0
    chars = m["chars"]
    body = []
    for pos, (nll, rank, vocab) in enumerate(rows):
        width = 100 * nll / top if math.isfinite(nll) and nll > 0 else 0
        rank_text = f"{rank} of {vocab}" if rank else "—"
        body.append(
            f"<tr><td>{pos}</td><td>{_tok_chip(chars[pos])}</td><td>{_tok_chip(chars[pos + 1])}</td>"
            f"<td class=num>{_num(math.exp(-nll))}</td><td class=num>{rank_text}</td>"
            f'<td class=num>{_num(nll, 4)}</td><td><span class="track"><span class="bar" style="width:{width:.1f}%"></span></span></td></tr>'
        )
    mean = f'<tr class="total"><td colspan="5">mean over {len(rows)} positions = the step\'s loss</td>' \
           f'<td class=num>{_num(m["loss"], 4)}</td><td></td></tr>'  # fmt: skip
    head = ("<tr><th>position</th><th>reads</th><th>must predict</th><th class=num>p(right token)</th>"
            "<th class=num>its rank</th><th class=num>loss = −log p</th><th></th></tr>")  # fmt: skip
    return _table(head, body + [mean], "losses")


def _table(head, rows, cls=""):
    return (
        f'<div class="tablewrap"><table class="{cls}"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def _explorer_link(href):
    if not href:
        return ""
    return (
        f'<p class="explore"><a href="{_e(href)}">Walk this step in the explorer</a>: open any box down to '
        "its single scalars, search a parameter, and play the forward and the backward pass.</p>"
    )


def _film_link(href, step):
    if not href:
        return ""
    return (
        f'<p class="explore"><a href="{_e(href)}#s={step}">Watch the whole training run in its film</a>, '
        "from this step: the loss, the graph's gradients, attention and predictions, step after step.</p>"
    )


def _graph_section(trace):
    C = trace.collapse("block", trace.default_view())  # the explorer's block view, count for count
    try:
        svg = render_bytes(block_diagram(C, what="block view"), "svg").decode("utf-8")
    except DotNotFound:
        return _note("The graph needs Graphviz's dot program, which is not installed here "
                     "(sudo apt-get install graphviz, or brew install graphviz); the rest of the report is complete.")  # fmt: skip
    except RenderError as e:
        return _note(f"The graph could not be drawn: {e}")
    return f'<figure class="graph">{inline_svg(svg, "block graph of the step: hover a box or an arrow for its numbers")}</figure>'


_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)  # XML declaration, doctype and generator comments
_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')
_A_TITLE = re.compile(r'<a xlink:title="([^"]*)">')
_GRAPH_TITLE = re.compile(r'(<g id="graph0" class="graph"[^>]*>\s*<title>)[^<]*(</title>)')


def inline_svg(svg, label):
    """Graphviz's SVG document made fit for inlining in HTML: no prolog, no fixed size (it scales to the
    page, but never beyond its natural size), and each tooltip also as a <title> child, which every
    browser shows on hover (Graphviz writes them as xlink:title only)."""
    svg = _PROLOG.sub("", svg, count=1)
    size = _SIZE.search(svg)
    if size:
        width_px = float(size.group(1)) * 4 / 3
        svg = svg.replace(
            size.group(0), f'<svg role="img" aria-label="{_e(label)}" style="max-width:{width_px:.0f}px"', 1
        )
    svg = _A_TITLE.sub(lambda mt: f"{mt.group(0)}<title>{mt.group(1)}</title>", svg)
    return _GRAPH_TITLE.sub(lambda mt: f"{mt.group(1)}{_e(label)}{mt.group(2)}", svg, count=1).strip()


def _gradflow_section(G):
    try:
        image = gradflow_figure(flow_data(G), scale=FIGURE_SCALE)
    except TraceError as e:  # a script's step that uses no parameters: the section says so
        return _note(str(e))
    return _image(png_bytes(image), "gradient flow per parameter matrix")


def _attention_section(trace, grad):
    try:
        image = attention_figure(trace, grad=grad, scale=FIGURE_SCALE)
    except TraceError as e:
        return _note(str(e))
    return _image(png_bytes(image), "gradient of the attention weights" if grad else "attention weights per head")


_STATS = (
    ("grad_norm", "‖g‖"),
    ("grad_abs_mean", "mean |g|"),
    ("grad_abs_max", "max |g|"),
    ("zero_fraction", "zero grad"),
    ("update_ratio", "update ratio"),
)


def _params_section(m):
    stats = m["param_stats"]
    # a trace of any text (no update) has no update ratio
    columns = [(k, t) for k, t in _STATS if any(k in st for st in stats.values())]
    head = (
        "<tr><th>matrix</th><th class=num>shape</th>"
        + "".join(f"<th class=num>{_e(t)}</th>" for _, t in columns)
        + "</tr>"
    )
    rows = []
    for name, st in stats.items():
        cells = []
        for key, _ in columns:
            if key not in st:
                cells.append("<td class=num>—</td>")
            elif key == "zero_fraction":
                cells.append(f"<td class=num>{100 * st[key]:.0f} %</td>")
            elif st.get("nonfinite") and key.startswith("grad_"):
                # nan (80 of 96 non-finite): never a number that looks like the whole matrix's
                n = st["shape"][0] * st["shape"][1]
                cells.append(f"<td class=num>{_num(st[key])} <small>{nonfinite_note(st['nonfinite'], n)}</small></td>")
            else:
                cells.append(f"<td class=num>{_num(st[key])}</td>")
        shape = "×".join(str(s) for s in st["shape"])
        rows.append(f"<tr><td><code>{_e(name)}</code></td><td class=num>{shape}</td>{''.join(cells)}</tr>")
    return _table(head, rows, "params")


def largest_entries(G):
    """Per matrix (model order): the node of its entry with the largest |grad| (the first such entry
    in node order on a tie, so the choice is deterministic)."""
    best = {}
    for n in sorted(G.nodes):
        d = G.nodes[n]
        if d["op"] == "param":
            g = abs(d["grad"]) if d["grad"] == d["grad"] else math.inf
            if d["param"] not in best or g > best[d["param"]][0]:
                best[d["param"]] = (g, n)
    return [(name, best[name][1]) for name in G.graph["param_stats"] if name in best]


def scope_chain(scope_of, nodes):
    """The scopes a path passes through, consecutive repeats merged (`scope_of(node)`: its scope)."""
    chain = []
    for n in nodes:
        scope = scope_of(n)
        if not chain or chain[-1] != scope:
            chain.append(scope)
    return chain


def _paths_section(trace, view):
    cards = []
    gd = trace.data(view)
    P = trace.select(view, ops=("param",))  # the parameter entries, with their attributes
    # one pass over the columns from the loss down serves every matrix's entry (no networkx graph)
    links = best_links(gd.successors, gd.loss, range(len(gd)), PATHS_PER_TARGET)
    for name, node in largest_entries(P):
        d = P.nodes[node]
        entry = f"{name}[{d['index'][0]},{d['index'][1]}]"
        paths = follow_links(links, node)
        if not paths:
            cards.append(f'<div class="path"><p><code>{_e(entry)}</code>: no path to the loss</p></div>')
            continue
        best = paths[0]
        chain = scope_chain(gd.scope_of, best["nodes"])[1:]  # the first scope is the matrix itself
        # an arrow stays on the line of the scope it points to
        chips = "".join(
            f'<span class="hop"><span class="arrow">→</span><span class="scope">{_e(s)}</span></span>' for s in chain
        )
        others = ", ".join(_num(p["contribution"]) for p in paths[1:])
        rest = f" (the next best: {others})" if others else ""
        cards.append(
            f'<div class="path"><p><code>{_e(entry)}</code>: gradient <b>{_num(d["grad"])}</b>; its '
            f"strongest path contributes <b>{_num(best['contribution'])}</b>{rest}</p>"
            f'<p class="chain"><span class="scope entry">{_e(entry)}</span>{chips}</p></div>'
        )
    return "\n".join(cards)


def _doctor_section(findings, dead):
    said = f"<p>{_e(dead[0].upper() + dead[1:])}.</p>" if dead else ""  # the count gradflow's figure shows
    if not findings:
        return f'<p class="finding ok"><b>Healthy</b>: none of the checks found a problem in this step.</p>{said}'
    items = []
    for f in findings:
        items.append(
            f'<li class="finding {"bad" if f.severity == "error" else "warn"}"><b>{_e(f.severity)}</b> '
            f'<code>{_e(f.where)}</code> {_e(f.what)}.<br><span class="hint">What to try: {_e(f.hint)}</span></li>'
        )
    return f'<ul class="findings">{"".join(items)}</ul>{said}'


# --- page ---------------------------------------------------------------------------------------------


def _resource(name):
    """A file of this package (the page's template and style sheet are package data, not Python strings)."""
    return resources.files("microtrace.viz.report").joinpath(name).read_text(encoding="utf-8")
