"""Budgets of `microtrace film` (issue 24), measured on this machine: a 1,000-step default run filmed every
10 steps (100 frames) with 3 steps embedded whole (the automatic ones), `--jobs 2`: written < 60 s, page
<= 15 MB, first paint < 2 s, scrubbing to any frame < 50 ms, playing >= 30 frames per second.

Each budget is printed with its limit and the machine's load average (`os.getloadavg()`, 1, 5 and 15
minutes) beside it, since the machine is shared: the writing's CPU time (the command, its workers and
their `dot`s) does not depend on the load, its wall time does (on two idle cores it is about half the CPU
time). In the page the figures come from real input (the mouse on the loss curve, a click on play): a
scrub is timed from the input's timestamp to the next paint (the browser's Event Timing, as
Interaction to Next Paint is; shorter than 16 ms is not reported and counts as 16) and, for what the
load does not change, by the CPU time of the renderer's main thread and its rasterisation per scrub
(Chromium's tracing); playing at 60 frames per second by requestAnimationFrame's timestamps.

Run alone: python bench/bench_film.py [--run RUN_DIR | --page FILM.html]   (a 1,000-step run is trained
first without one; --page measures a page already written; needs /usr/bin/chromium and playwright for the
page's figures)
"""

import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.timing import print_results  # noqa: E402
from microtrace.viz.explore.chromium import ARGS, CHROMIUM  # noqa: E402

STEPS = "0:1000:10"
MICROTRACE = [str(Path(sys.executable).parent / "microtrace")]
SCRUBS = 30
# budget -> (limit, "<" or ">=")
BUDGETS = {
    "written with --jobs 2: wall s": (60, "<"),
    "page MB": (15, "<="),
    "first contentful paint ms": (2000, "<"),
    "scrub to a frame, input to painted: median ms": (50, "<"),
    "playing at 60 fps: frames shown per s": (30, ">="),
}

# The page's own clocks: every interaction's time from input to the next paint (Event Timing), and the
# timestamps of the animation frames while it plays.
_WATCH = """() => {
  window.__inp = [];
  new PerformanceObserver(l => { for (const e of l.getEntries()) if (e.name === 'pointerdown') __inp.push(e.duration); })
    .observe({type: 'event', durationThreshold: 16, buffered: false});
  window.__frames = [];
  const f = t => { __frames.push([t, document.body.dataset.step]); requestAnimationFrame(f); };
  requestAnimationFrame(f);
}"""
_FRAMES = """() => { const a = __frames; __frames = []; return a; }"""
_PLAYING = "() => document.getElementById('p-play').classList.contains('playing')"


def train(run_dir):
    subprocess.run([*MICROTRACE, "train", "--steps", "1000", "--samples", "0", "--out", str(run_dir)],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def write(run_dir, out):
    """The command, timed: (wall s, CPU s of it, its workers and their children, load averages before)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()
    t0 = time.perf_counter()
    subprocess.run([*MICROTRACE, "film", "--run", str(run_dir), "--steps", STEPS, "--jobs", "2", "-o", str(out)],
                   check=True)  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, load


def measure_page(path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(ARGS))
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(Path(path).as_uri())
        page.wait_for_selector("body[data-ready]")
        paint = page.evaluate("() => performance.getEntriesByName('first-contentful-paint')[0].startTime")
        page.evaluate(_WATCH)
        ceiling = _still(page)
        scrub, cpu = _scrubs(browser, page)
        playing = _play(browser, page)
        browser.close()
    return {
        "first contentful paint ms": paint,
        "scrub to a frame, input to painted: median ms": scrub[len(scrub) // 2],
        "scrub: slowest ms": scrub[-1],
        "scrub: renderer CPU per scrub, main thread ms": cpu["main"],
        "scrub: renderer CPU per scrub, rasterising ms": cpu["raster"],
        "playing at 60 fps: frames shown per s": playing["shown"],
        "playing: animation frames per s": playing["animation"],
        "playing: renderer CPU per animation frame, main thread ms": playing["main"],
        "playing: renderer CPU per animation frame, rasterising ms": playing["raster"],
        "a still page: animation frames per s (the machine's ceiling now)": ceiling,
    }


def _still(page):
    page.evaluate(_FRAMES)
    page.wait_for_timeout(1000)
    stamps = [t for t, _ in page.evaluate(_FRAMES)]
    return (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1000)


def _scrubs(browser, page):
    """SCRUBS clicks on the loss curve, to frames spread over the run: each one's input to next paint (ms,
    sorted); then as many again, traced, for the renderer's CPU time per click (main thread, rasterising):
    tracing costs the page time of its own, so it is not on while the times are taken."""
    box = page.locator("#loss").bounding_box()

    def clicks():
        for k in range(SCRUBS):
            x = box["x"] + 60 + (box["width"] - 90) * ((k * 37) % SCRUBS) / (SCRUBS - 1)
            page.mouse.click(x, box["y"] + box["height"] / 2)
            page.wait_for_timeout(80)

    page.evaluate("() => { __inp = []; }")
    clicks()
    shown = page.evaluate("() => __inp")
    times = sorted(shown + [16.0] * (SCRUBS - len(shown)))  # not reported: under 16 ms
    browser.start_tracing(page=page, categories=["devtools.timeline", "disabled-by-default-devtools.timeline"])
    clicks()
    return times, _renderer_cpu(json.loads(browser.stop_tracing())["traceEvents"])


def _renderer_cpu(events, count=SCRUBS):
    """CPU ms per scrub (or `count` of anything) of the renderer's main thread (its top-level tasks) and
    of rasterising (tdur: the thread's own time, whatever else the machine runs)."""
    main = {
        (e["pid"], e["tid"]) for e in events if e.get("name") == "thread_name" and e["args"]["name"] == "CrRendererMain"
    }
    cpu = {"main": 0.0, "raster": 0.0}
    for e in events:
        if e.get("ph") != "X" or "tdur" not in e:
            continue
        if e["name"] == "RunTask" and (e["pid"], e["tid"]) in main:
            cpu["main"] += e["tdur"] / 1000 / count
        elif e["name"] == "RasterTask":
            cpu["raster"] += e["tdur"] / 1000 / count
    return cpu


def _play(browser, page):
    """Play at 60 frames per second from the first frame to the last (the mouse on play): animation frames
    per second and distinct frames shown per second, from requestAnimationFrame's timestamps; then played
    again, traced, for the renderer's CPU per animation frame."""
    page.select_option("#p-speed", "60")
    page.keyboard.press("Tab")  # off the select: Home goes to the page
    out = {}
    for traced in (False, True):
        page.keyboard.press("Home")
        if traced:
            browser.start_tracing(page=page, categories=["devtools.timeline", "disabled-by-default-devtools.timeline"])
        page.locator("#p-play").click()
        page.wait_for_function(_PLAYING)
        page.evaluate(_FRAMES)
        page.wait_for_function(f"() => !({_PLAYING})()", timeout=120_000)
        frames = page.evaluate(_FRAMES)
        if traced:
            out.update(_renderer_cpu(json.loads(browser.stop_tracing())["traceEvents"], len(frames)))
        else:
            seconds = (frames[-1][0] - frames[0][0]) / 1000
            out.update(animation=(len(frames) - 1) / seconds, shown=len({s for _, s in frames}) / seconds)
    return out


def budgets(results, load):
    """Each budget: measured, its limit, met or not, and the load it was measured at."""
    out = {}
    for name, (limit, sense) in BUDGETS.items():
        if name in results:
            v = results[name]
            met = {"<": v < limit, "<=": v <= limit, ">=": v >= limit}[sense]
            out[f"BUDGET {name}"] = f"{v:.1f} (limit {sense} {limit}: {'met' if met else 'MISSED'}; load {load})"
    return out


def bench_film(run_dir=None):
    with tempfile.TemporaryDirectory() as d:
        if run_dir is None:
            run_dir = Path(d) / "run"
            train(run_dir)
        out = Path(d) / "training.html"
        wall, cpu, load = write(run_dir, out)
        results = {
            "written with --jobs 2: wall s": wall,
            "written: CPU s (the command, its workers, their dot)": cpu,
            "load average (1, 5, 15 min) before writing": _load(load),
            "page MB": out.stat().st_size / 1e6,
        }
        if Path(CHROMIUM).exists() and importlib.util.find_spec("playwright"):
            results.update(measure_page(out))
    return results


def _load(load):
    return ", ".join(f"{x:.1f}" for x in load)


def main():
    if "--page" in sys.argv:
        results = measure_page(sys.argv[sys.argv.index("--page") + 1])
    else:
        results = bench_film(sys.argv[sys.argv.index("--run") + 1] if "--run" in sys.argv else None)
    load = _load(os.getloadavg())
    print_results({**results, "load average (1, 5, 15 min) at the end": load})
    print_results(budgets(results, load))


if __name__ == "__main__":
    main()
