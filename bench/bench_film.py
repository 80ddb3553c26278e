"""Budgets of `microtrace film` (issue 24), measured on this machine: a 1,000-step default run filmed every
10 steps (100 frames) with 3 steps embedded whole (the automatic ones), `--jobs 2`: written < 60 s, page
<= 15 MB, first paint < 2 s, scrubbing to any frame < 50 ms, playing >= 30 frames per second.

The writing time is wall-clock and CPU time of the command in its own process (its workers included), with
the machine's load average beside it: on a shared machine the wall time is the CPU time spread over what
the other processes leave.

Run alone: python bench/bench_film.py [--run RUN_DIR | --page FILM.html]   (a 1,000-step run is trained
first without one; --page measures a page already written; needs /usr/bin/chromium and playwright for the
page's figures)
"""

import importlib.util
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

# In the page: the first contentful paint; 30 scrubs to frames spread over the run (the slider moved, the
# frame drawn and painted: until the second animation frame after the input); then playing at 60 frames
# per second from the first frame to the last, counting the frames shown and the animation frames.
_MEASURE = """async () => {
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const out = {paint: paint ? paint.startTime : null, scrub: [], script: []};
  const slider = document.getElementById('p-scrub'), n = +slider.max + 1;
  const painted = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  for (let k = 0; k < 30; k++) {
    const i = (k * 37) % n, t = performance.now();
    slider.value = i; slider.dispatchEvent(new Event('input'));
    out.script.push(performance.now() - t);
    await painted();
    out.scrub.push(performance.now() - t);
  }
  // what the browser gives a still page: the ceiling of any animation on this machine right now
  let idle = 0; const t0 = performance.now();
  await new Promise(r => { const f = () => { idle++; if (performance.now() - t0 < 1000) requestAnimationFrame(f); else r(); }; requestAnimationFrame(f); });
  out.idle = idle / ((performance.now() - t0) / 1000);
  return out;
}"""

_PLAY = """async () => {
  let shown = 0, frames = 0, playing = true;
  new MutationObserver(() => shown++).observe(document.body, {attributes: true, attributeFilter: ['data-step']});
  const count = () => { frames++; if (playing) requestAnimationFrame(count); };
  requestAnimationFrame(count);
  const t = performance.now();
  while (document.getElementById('p-play').classList.contains('playing')) await new Promise(r => setTimeout(r, 20));
  playing = false;
  const s = (performance.now() - t) / 1000;
  return {shown: shown / s, animation: frames / s};
}"""


def train(run_dir):
    subprocess.run([*MICROTRACE, "train", "--steps", "1000", "--samples", "0", "--out", str(run_dir)],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def write(run_dir, out):
    """The command, timed: (wall s, CPU s of it and its workers, load average before, after)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    subprocess.run([*MICROTRACE, "film", "--run", str(run_dir), "--steps", STEPS, "--jobs", "2", "-o", str(out)],
                   check=True)  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, load0, os.getloadavg()[0]


def measure_page(path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(ARGS))
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        t0 = time.perf_counter()
        page.goto(Path(path).as_uri())
        page.wait_for_selector("body[data-ready]")
        t_load = time.perf_counter() - t0
        m = page.evaluate(_MEASURE)
        page.select_option("#p-speed", "60")
        page.keyboard.press("Home")
        page.locator("#p-play").click()
        play = page.evaluate(_PLAY)
        browser.close()
    scrub, script = sorted(m["scrub"]), sorted(m["script"])
    return {
        "first contentful paint ms": m["paint"],
        "load until ready s": t_load,
        "scrub to a frame: median ms": scrub[len(scrub) // 2],
        "scrub to a frame: slowest ms": scrub[-1],
        "scrub: the page's script alone, median ms": script[len(script) // 2],
        "playing at 60 fps: frames shown per s": play["shown"],
        "playing: animation frames per s": play["animation"],
        "a still page: animation frames per s (the machine's ceiling)": m["idle"],
    }


def bench_film(run_dir=None):
    with tempfile.TemporaryDirectory() as d:
        if run_dir is None:
            run_dir = Path(d) / "run"
            train(run_dir)
        out = Path(d) / "training.html"
        wall, cpu, load0, load1 = write(run_dir, out)
        results = {
            "write (100 frames, 3 embedded, --jobs 2): wall s": wall,
            "write: CPU s (with its workers)": cpu,
            "load average (1 min) before, after": f"{load0:.1f}, {load1:.1f}",
            "page MB": out.stat().st_size / 1e6,
        }
        if Path(CHROMIUM).exists() and importlib.util.find_spec("playwright"):
            results.update(measure_page(out))
    return results


if __name__ == "__main__":
    if "--page" in sys.argv:
        print_results(measure_page(sys.argv[sys.argv.index("--page") + 1]))
        sys.exit()
    given = sys.argv[sys.argv.index("--run") + 1] if "--run" in sys.argv else None
    print_results(bench_film(given))
