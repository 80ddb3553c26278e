"""Budgets of `microtrace explore` (issue 15), measured in headless Chromium on this machine.

Default step (~60,000 elementary nodes), from the run (the engine's fused nodes) and from a trace
file (elementary nodes only, as `trace -o` saves it and as a script is traced): file <= 10 MB, first
paint < 2 s, opening any group < 300 ms, search < 200 ms, the player >= 30 frames per second at block
level, writing the file < 30 s. And a
step of ~500,000 elementary nodes (two layers, n_embd 32) still writes and opens.

Run alone: python bench/bench_explore.py [--big]   (needs /usr/bin/chromium and playwright)
"""

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.timing import print_results, timed  # noqa: E402
from microtrace.engine.data import load_dataset  # noqa: E402
from microtrace.engine.train import TrainConfig, Trainer  # noqa: E402
from microtrace.tracer import load_trace, save_trace, trace_step  # noqa: E402
from microtrace.viz.explore.chromium import ARGS, CHROMIUM  # noqa: E402
from microtrace.viz.explore.page import build_explorer, explorer_graph  # noqa: E402

STEP = 50  # as bench_graph: "wanda" on the default data with seed 42

# In the page: the first contentful paint, then every collapsed view and up to 40 others opened in
# turn (data unpacked, SVG in the DOM, player and colours applied), two searches, and 2 s of playing.
_MEASURE = """async () => {
  const X = window.explorer, views = JSON.parse(document.getElementById('index').textContent).views;
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const out = {paint: paint ? paint.startTime : null, open: []};
  const picks = views.map((v, i) => [v, i]).filter(([v], k) => v.kind !== 'scalar' || k % Math.ceil(views.length / 40) === 0);
  for (const [, i] of picks) { const t = performance.now(); await X.open(i); out.open.push(performance.now() - t); }
  await X.open(0);
  let t = performance.now(); await X.search('wte[0,5]'); out.searchParam = performance.now() - t;
  t = performance.now(); await X.search('pos2/layer0/attn/head1'); out.searchScope = performance.now() - t;
  await X.open(0); X.seek(0);
  let frames = 0; const count = () => { frames++; if (X.state.playing) requestAnimationFrame(count); };
  document.getElementById('p-play').click(); requestAnimationFrame(count);
  await new Promise(r => setTimeout(r, 2000));
  document.getElementById('p-play').click();
  out.fps = frames / 2;
  return out;
}"""


# A double-click on a bare spot of cluster `t` (a position), as a person would; the page says how long
# the layout took (data-relayout-ms: composing the graph, Graphviz, drawing) and the boxes then slide
# for MOVE_MS (js/relayout.js).
_SPOT = """t => { const g = [...document.querySelectorAll('#stage g.cluster')].find(g => g.querySelector(':scope > title').textContent === t);
  const r = g.getBoundingClientRect();
  for (let y = r.y + 3; y < r.bottom; y += 3) for (let x = r.x + 3; x < r.right; x += 3)
    if (document.elementFromPoint(x, y)?.closest('#stage g') === g) return [x, y];
  return null; }"""
MOVE_MS = 250
# the middle of cluster `t` and of the canvas, on the screen
_CENTRES = """t => { const g = [...document.querySelectorAll('#stage g.cluster')].find(g => g.querySelector(':scope > title').textContent === t);
  const r = g.getBoundingClientRect(), c = document.getElementById('canvas').getBoundingClientRect();
  return [[r.x + r.width / 2, r.y + Math.min(r.height / 2, 40)], [c.x + c.width / 2, c.y + c.height / 2]]; }"""
# where a re-layout's time went (js/inplace.js, js/relayout.js): the graph composed, Graphviz's dot, the
# router of the edges that place no node, the drawing put into the page
_PARTS = """() => { const d = document.body.dataset;
  return `compose ${d.relayoutComposeMs}, dot ${d.relayoutDotMs}, route ${d.relayoutRouteMs}, draw ${d.relayoutDrawMs} ms`; }"""


def open_in_place(page, cdp, title):
    """Double-click `title` with the mouse: (ms the page took to lay the view out again, ms of CPU the
    page's main thread spent meanwhile: on a shared machine the first counts the waits, the second not,
    and where the time went); None when it did not open in place."""
    page.keyboard.press("0")  # the whole view on the screen (a tall one: its width, from the top)
    for _ in range(10):  # dragged until the cluster is in sight, as a person would
        spot = page.evaluate(_SPOT, title)
        if spot is not None:
            break
        (x, y), (cx, cy) = page.evaluate(_CENTRES, title)
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx, cy + max(-300, min(300, cy - y)), steps=8)
        page.mouse.up()
    if spot is None:
        return None
    page.evaluate("() => { delete document.body.dataset.relayoutMs; }")
    busy = _busy(cdp)
    page.mouse.dblclick(*spot)
    for _ in range(3000):
        ms = page.evaluate("() => document.body.dataset.relayoutMs")
        if ms is not None:
            cpu = (_busy(cdp) - busy) * 1000
            page.wait_for_timeout(MOVE_MS + 50)
            parts = page.evaluate(_PARTS)
            return float(ms), round(cpu, 1), parts
        page.wait_for_timeout(10)
    return None


def _busy(cdp):
    """Seconds the page's main thread has worked (Chromium's TaskDuration)."""
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")


def measure_relayout(page):
    """The block view laid out again: the first position opened (Graphviz warm from the first paint), then
    position 3 opened after closing it, then every position open."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.evaluate("() => window.explorer.open(0)")
    page.wait_for_timeout(1500)  # the page warms Graphviz up once it has drawn
    first = open_in_place(page, cdp, "cluster_pos3")
    page.keyboard.press("Backspace")
    page.wait_for_timeout(MOVE_MS + 100)
    again = open_in_place(page, cdp, "cluster_pos3")
    every = [open_in_place(page, cdp, f"cluster_pos{p}") for p in (0, 1, 2, 4, 5)]
    return {
        "re-layout, one position open (first time): ms, CPU ms": first,
        "re-layout, one position open: ms, CPU ms": again,
        "re-layout, every position open: ms, CPU ms": every[-1],
        "positions opened": 1 + sum(e is not None for e in every),
        "animation after a re-layout ms": MOVE_MS,
    }


def measure_page(path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(ARGS))
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        (_, t_load) = timed(lambda: (page.goto(Path(path).as_uri()), page.wait_for_selector("body[data-ready]")))
        relayout = measure_relayout(page)
        m = page.evaluate(_MEASURE)
        browser.close()
    opens = sorted(m["open"])
    return {
        "first contentful paint ms": m["paint"],
        "load until the block view is ready s": t_load,
        "open a view: median ms": opens[len(opens) // 2],
        "open a view: slowest ms": opens[-1],
        "views opened": len(opens),
        "search wte[0,5] ms": m["searchParam"],
        "search a scope path ms": m["searchScope"],
        "player frames per second (block level)": m["fps"],
        **relayout,
    }


def measure(trace, label):
    page, t_write = timed(build_explorer, trace)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "step.html"
        path.write_text(page, encoding="utf-8")
        G = explorer_graph(trace)
        out = {
            f"{label}: elementary nodes": trace.graph("elementary").number_of_nodes(),
            f"{label}: nodes shown ({G.graph['view']})": G.number_of_nodes(),
            f"{label}: write the page s": t_write,
            f"{label}: file MB": len(page.encode("utf-8")) / 1e6,
        }
        if Path(CHROMIUM).exists() and importlib.util.find_spec("playwright"):
            out.update({f"{label}: {k}": v for k, v in measure_page(path).items()})
    return out


def default_step():
    return trace_step(Trainer(load_dataset(None).docs, TrainConfig(steps=1000, seed=42)), STEP)


def big_step():
    """About 500,000 elementary nodes: two layers of width 32 reading 12 positions."""
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    docs = [alphabet[i:] + alphabet[:i] for i in range(26)]
    return trace_step(Trainer(docs, TrainConfig(steps=10, seed=1), n_layer=2, n_embd=32, block_size=12), 0)


def saved(trace):
    """The step as `microtrace trace -o` saves it, read back: the elementary view only (so is a script's)."""
    with tempfile.TemporaryDirectory() as d:
        save_trace(trace.graph("elementary"), Path(d) / "step.json")
        return load_trace(Path(d) / "step.json")


def bench_explore():
    """The default step's figures, from the run (fused) and from a trace file (elementary only), for
    bench/run.py; the big step only when run alone with --big."""
    step = default_step()
    return {**measure(step, "default step"), **measure(saved(step), "trace file")}


# issue 20's budgets: (result key ending, limit, "<" or ">=" or "<="); the limits are wall times on an
# idle machine: on a shared one, the CPU figures beside them say what the page itself spent
BUDGETS = (
    ("first contentful paint ms", 2000, "<"),
    ("open a view: slowest ms", 300, "<"),
    ("search wte[0,5] ms", 200, "<"),
    ("search a scope path ms", 200, "<"),
    ("player frames per second (block level)", 30, ">="),
    ("file MB", 10, "<="),
    ("re-layout, one position open: ms, CPU ms", 300, "<"),
    ("re-layout, every position open: ms, CPU ms", 1000, "<"),
)


def print_budgets(results):
    """Each budget with its limit and what was measured (wall ms, and CPU ms where measured)."""
    print(f"  budgets (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    for key, value in results.items():
        for end, limit, op in BUDGETS:
            if key.endswith(end) and value is not None:
                wall = value[0] if isinstance(value, tuple) else value
                ok = {"<": wall < limit, ">=": wall >= limit, "<=": wall <= limit}[op]
                cpu = f"  (page CPU {value[1]:.0f} ms; {value[2]})" if isinstance(value, tuple) else ""
                print(
                    f"    {key.split(': ')[0] if ':' in key else key}: {end.split(': ')[0]} {wall:.1f} {op} {limit}  {'ok' if ok else 'OVER'}{cpu}"
                )


if __name__ == "__main__":
    results = bench_explore()
    print_results(results)
    print_budgets(results)
    if "--big" in sys.argv:
        print_results(measure(big_step(), "big step"))
