"""The film: one self-contained HTML page that plays a whole training run on one time axis.

    from microtrace.tracer.analysis.film import film_frames
    from microtrace.viz.film.page import build_film
    frames = film_frames("runs/demo", range(0, 200, 10), jobs=2)
    html = build_film(open_run("runs/demo"), frames)      # str: write it anywhere, open it offline

The loss of every step with a cursor; the block view laid out once and coloured at the cursor's frame;
the attention of one text with the model's predictions; per-matrix gradient lines; dead ReLUs,
saturated softmaxes, non-finite numbers and doctor's findings pinned to their steps; samples from the
checkpoints; and whole explorer pages (viz/explore/) of a few steps, embedded gzipped and opened in an
<iframe> on demand. Like the explorer the page makes no request (its Content-Security-Policy forbids
every one), so it works from disk, offline and inside an <iframe>. Its code is js/*.js (in SCRIPTS
order, in one function scope), film.css and template.html beside this file.
"""

import base64
import gzip
import re
from html import escape
from importlib import resources

from microtrace.tracer.analysis.film import VIEW
from microtrace.util.jsontext import compact
from microtrace.viz.draw import colormap
from microtrace.viz.draw.colormap import hex_color
from microtrace.viz.explore.payload import json_ready
from microtrace.viz.film.block import METRICS, block_svg, edge_widths, frame_colours, union_graph
from microtrace.viz.graph import style as gs
from microtrace.viz.page_safety import script_json, seal
from microtrace.viz.player import player_buttons

SCRIPTS = (
    "data.js",  # the film's data, numbers as text, the embedded explorers unpacked
    "charts.js",  # the loss curve and the lines over steps, with their cursors
    "frame.js",  # one frame drawn: the block view's colours, attention, predictions, numbers
    "player.js",  # the cursor: play, pause, step, scrub, speed, the URL
    "page.js",  # the start: everything wired to the keys and the mouse
)


SHOWN = ("grad_norm", "update_ratio")  # of each matrix's param_stats: what the page draws (moved_without_grad
# alone, the entries a step moved without a gradient, would be 58 KB a frame)


def build_film(run, frames, text=None, samples=None, explorers=None, commands=None, theme="light"):
    """The film page (str) of `run` (a `Run`) from its `frames` (tracer.analysis.film.film_frames).

    `samples`: {completed steps: [names]} (`checkpoint_samples`); `explorers`: {step: explorer page html}
    embedded whole; `commands`: {step: the command that writes its explorer}, shown for the steps not
    embedded."""
    C = union_graph(frames)
    colours, palette = frame_colours(frames, C, theme)
    edges, widths, pens = edge_widths(frames, C)
    th = gs.theme(theme)
    data = {
        "title": _title(run, frames),
        "steps": run.steps,
        "stopped": run.stopped_at(),
        "losses": run.losses(),
        "frames": [_frame(f) for f in frames],
        "text": frames[0].attention["text"] if text is None else text,
        "groups": list(C),
        "edges": edges,
        "palette": palette,
        "colours": colours,
        "metrics": {k: list(v) for k, v in METRICS.items()},
        "widths": widths,
        "pens": pens,
        "kinds": [[th.stream, "residual stream"], [th.kv, "KV cache: earlier position → later"],
                  [th.data, "other data flow"]],
        "samples": [[k, names] for k, names in sorted((samples or {}).items())],
        "embedded": sorted(explorers or {}),
        "commands": {str(k): cmd for k, cmd in (commands or {}).items()},
        "view": VIEW,
        "viridis": [hex_color(colormap.viridis(k / 63)) for k in range(64)],  # attention weights, as `attention`
    }  # fmt: skip
    blobs = "\n".join(
        f'<script type="application/x-gzip-base64" id="explorer-{k}">{_pack(html)}</script>'
        for k, html in sorted((explorers or {}).items())
    )
    return _html(data, block_svg(C), blobs, list((explorers or {}).values()))


# the player's buttons (viz/player.py), in the words of frames: (title, aria-label)
PLAYER = {
    "p-start": ("first frame (Home)", "first frame"),
    "p-back": ("frame back (←)", "frame back"),
    "p-play": ("play / pause (Space)", "play or pause"),
    "p-next": ("frame on (→)", "frame on"),
    "p-end": ("last frame (End)", "last frame"),
}


def _title(run, frames):
    first, last = frames[0].step, frames[-1].step
    return f"{run.path.name} · training steps {first}–{last} ({len(frames)} frames of {run.steps} steps)"


def _frame(f):
    return {
        "step": f.step,
        "loss": f.loss,
        "lr": f.lr,
        "doc": f.doc,
        "chars": f.chars,
        "params": {name: {k: p[k] for k in SHOWN if k in p} for name, p in f.params.items()},
        "change": f.change,
        "relu": f.relu,
        "saturated": f.saturated,
        "nonfinite": f.nonfinite,
        "findings": f.findings,
        "attention": {k: f.attention[k] for k in ("tokens", "attention", "loss")},
        "predictions": f.predictions,
    }


def _pack(text):
    """gzip + base64 of a page (mtime 0: the same bytes each time), unpacked by the browser on opening."""
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")


def _resource(name):
    return resources.files("microtrace.viz.film").joinpath(name).read_text(encoding="utf-8")


def _html(data, svg, blobs, framed):
    parts = {
        "{{title}}": escape(data["title"]),
        "{{css}}": _resource("film.css"),
        "{{data}}": script_json(compact(json_ready(data))),
        "{{svg}}": svg,
        "{{explorers}}": blobs,
        "{{js}}": "\n".join(_resource("js/" + name) for name in SCRIPTS),
        "{{player}}": player_buttons(PLAYER, indent="    "),
    }
    # one pass, so that nothing substituted is itself searched for a placeholder
    page = re.sub(r"\{\{(title|css|data|svg|explorers|js|player)\}\}", lambda m: parts[m.group(0)], _page())
    # last: the policy allows the page's scripts, and the embedded explorers' (an <iframe srcdoc> runs
    # under its parent's policy as well as its own), by the hash of their final text; and, when it
    # embeds explorers, the WebAssembly their Graphviz compiles (viz/explore/page.py)
    return seal(page, framed=framed, wasm=bool(framed))


def _page():
    return _resource("template.html")
