"""The film page playing, as a short looping GIF from real screenshots (the README's).

    microtrace film --run demo/run --steps 0:200:5 --text emma -o demo/training.html
    python examples/film_gif.py demo/training.html docs/gallery/film.gif

Opens the page in the system's Chromium (Playwright) at 1280x800 and moves its cursor as a reader does,
with the keyboard (→ a frame on), screenshotting the loss curve and the block view at each of about 20
frames spread over the run. The same page gives the same file.
"""

import io
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from microtrace.viz.explore.chromium import ARGS, CHROMIUM

FRAMES = 20
WIDTH = 800  # of the GIF: the page's 1280 pixels scaled down, still legible in a README


def screenshots(path):
    """PNG screenshots of the timeline and the block view at FRAMES frames of the page's film."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(ARGS))
        page = browser.new_page(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
        page.goto(Path(path).resolve().as_uri())
        page.wait_for_selector("body[data-ready]")
        count = int(page.locator("#p-scrub").get_attribute("max")) + 1
        every = max(1, round(count / FRAMES))
        top = page.locator("#timeline").bounding_box()
        graph = page.locator("#graph").bounding_box()
        clip = {"x": 0, "y": top["y"], "width": 1280, "height": graph["y"] + graph["height"] - top["y"]}
        page.keyboard.press("Home")
        shots = []
        for _ in range(0, count, every):
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            shots.append(page.screenshot(clip=clip))
            for _ in range(every):
                page.keyboard.press("ArrowRight")
        browser.close()
    return shots


def make_gif(shots, out):
    frames = []
    for png in shots:
        im = Image.open(io.BytesIO(png)).convert("RGB")
        im = im.resize((WIDTH, round(im.height * WIDTH / im.width)), Image.LANCZOS)
        frames.append(im.quantize(colors=96, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    durations = [350] * len(frames)
    durations[-1] = 1500  # a pause at the end before it loops
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=durations, loop=0, optimize=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python examples/film_gif.py PAGE.html OUT.gif")
    make_gif(screenshots(sys.argv[1]), sys.argv[2])
    print(f"wrote {sys.argv[2]}")
