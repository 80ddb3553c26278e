"""The explorer's player from real screenshots: a contact sheet and a short looping GIF (the README's).

    python examples/explorer_contact_sheet.py demo/explore.html docs/gallery/explore-player.png \\
        docs/gallery/explore-player.gif

Opens the page in the system's Chromium (Playwright) and screenshots its graph at moments of the player:
the block view through the forward pass (in evaluation order) and the backward pass (as the engine's
backward completes the gradients), then one head at the scalar level. The sheet lays six block moments
and three scalar ones out in a grid; the GIF plays a few seconds of the same, frame by frame. Each
picture is captioned with the player's own line (where it is). The same page gives the same files.
"""

import io
import sys
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import sync_playwright

from microtrace.viz.draw import fonts
from microtrace.viz.explore.chromium import ARGS, CHROMIUM

HEAD = "pos3/layer0/attn/head2"


@contextmanager
def opened(path, width=1240, height=800):
    """The page in Chromium, and a function that screenshots its graph at time t: (PNG, player's line)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(ARGS))
        page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
        page.goto(Path(path).resolve().as_uri())
        page.wait_for_selector("body[data-ready]")
        canvas = page.locator("#canvas").bounding_box()

        def at(t):
            page.evaluate("t => window.explorer.seek(t)", t)
            # two frames drawn after the seek, then a pause: the picture is the settled one
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            page.wait_for_timeout(300)
            box = page.locator("#stage svg").bounding_box()  # the graph, not the white around it
            x0, y0 = max(box["x"], canvas["x"]) - 6, max(box["y"], canvas["y"]) - 6
            x1 = min(box["x"] + box["width"], canvas["x"] + canvas["width"]) + 6
            y1 = min(box["y"] + box["height"], canvas["y"] + canvas["height"]) + 6
            clip = {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}
            return page.screenshot(clip=clip), page.locator("#p-where").inner_text()

        try:
            yield page, at
        finally:
            browser.close()


def head_span(page):
    """Open HEAD: (first, last) forward time and (first, last) backward time of the nodes it draws."""
    page.evaluate(f"window.explorer.search('{HEAD}')")  # awaited: the head's view is open
    return page.evaluate(
        """() => {
        const [fwd, bwd] = window.explorer.order(), N = fwd.length;
        const ids = new Set(Object.keys(window.explorer.state.data.nodes).map(Number));
        const f = fwd.flatMap((n, i) => (ids.has(n) ? [i + 1] : [])), b = bwd.flatMap((n, i) => (ids.has(n) ? [N + i + 1] : []));
        return [f[0], f[f.length - 1], b[0], b[b.length - 1]];
    }"""
    )


def spread(a, b, k):
    """k times from a to b, evenly."""
    return [a + (b - a) * i // (k - 1) for i in range(k)]


def paced(page, fractions):
    """The times at which these fractions of the step's operations are done (0 to 1 forward, 1 to 2
    backward), as the player paces them: a parameter read takes no time of its own."""
    return page.evaluate(
        """fs => { const e = window.explorer, fwd = e.opsAt(e.END / 2), all = e.opsAt(e.END);
        return fs.map(f => e.timeAtOps(Math.max(1, Math.round(f <= 1 ? f * fwd : fwd + (f - 1) * (all - fwd))))); }""",
        fractions,
    )


def contact_shots(path):
    """Six moments of the block view, three of one head."""
    shots = []
    with opened(path) as (page, at):
        N = page.evaluate("window.explorer.END") // 2
        page.evaluate("window.explorer.open(0)")
        for t in paced(page, [0.5, 0.75, 1, 1.125, 1.5]) + [2 * N]:
            shots.append(at(t))
        fa, fb, ba, bb = head_span(page)
        for t in ((fa + fb) // 2, ba + (bb - ba) // 3, 2 * N):
            shots.append(at(t))
    return shots


def gif_shots(path, block=8, scalar=5):
    """The GIF's frames and how long each shows (ms): the block view forward then backward, then the
    head forward then backward; each pass's last frame held."""
    frames = []
    with opened(path) as (page, at):
        N = page.evaluate("window.explorer.END") // 2
        page.evaluate("window.explorer.open(0)")
        steps = [(k + 1) / block for k in range(block)]
        for times in (paced(page, steps), paced(page, [1 + f for f in steps[:-1]]) + [2 * N]):
            frames += [(at(t), 180) for t in times]
            frames[-1] = (frames[-1][0], 700)
        fa, fb, ba, bb = head_span(page)
        for times in (spread(fa, fb, scalar), spread(ba, bb, scalar)):
            frames += [(at(t), 260) for t in times]
            frames[-1] = (frames[-1][0], 800)
    return frames


def framed(png, caption, size):
    """A screenshot fitted into `size` (w, h) on white, the player's line under it."""
    w, h = size
    img = Image.open(io.BytesIO(png)).convert("RGB")
    scale = min(w / img.width, h / img.height)
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    cell = Image.new("RGB", (w, h + 28), "white")
    cell.paste(img, ((w - img.width) // 2, (h - img.height) // 2))
    ImageDraw.Draw(cell).text((6, h + 5), caption, fill=(30, 30, 30), font=fonts.font(15))
    return cell


def sheet(shots, columns=3, thumb=(600, 420)):
    cells = [framed(png, caption, thumb) for png, caption in shots]
    rows = [cells[i : i + columns] for i in range(0, len(cells), columns)]
    heights = [max(c.height for c in row) for row in rows]
    out = Image.new("RGB", (columns * (thumb[0] + 10) + 10, sum(heights) + 10 * (len(rows) + 1)), (220, 220, 216))
    y = 10
    for row, h in zip(rows, heights):
        for k, cell in enumerate(row):
            out.paste(cell, (10 + k * (thumb[0] + 10), y))
        y += h + 10
    return out


def save_gif(frames, target, size=(800, 460)):
    """Pillow's GIF writer: one palette of at most 128 colours per frame, no dithering (flat UI colours
    stay flat and small), looping forever; Pillow stores only the part of a frame that changed."""
    images = [framed(png, caption, size) for (png, caption), _ in frames]
    images = [im.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE) for im in images]
    durations = [ms for _, ms in frames]
    images[0].save(target, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=True)


if __name__ == "__main__":
    page, target = sys.argv[1], sys.argv[2]
    sheet(contact_shots(page)).save(target, optimize=True)
    print(f"wrote {target}")
    if len(sys.argv) > 3:
        save_gif(gif_shots(page), sys.argv[3])
        print(f"wrote {sys.argv[3]}")
