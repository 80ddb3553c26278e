"""A contact sheet of the explorer's player, from real screenshots (the README's picture).

    python examples/explorer_contact_sheet.py demo/explore.html docs/gallery/explore-player.png

Opens the page in the system's Chromium (Playwright), shows the block view at six moments of the step
(forward in evaluation order, then backward in reverse) and one head at the scalar level at three,
and lays the screenshots out in a grid, each captioned with the player's own line (where it is).
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import sync_playwright

from microtrace.viz.draw import fonts

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
HEAD = "pos3/layer0/attn/head2"


def moments(N):
    """Times at the block level: t counts the operations done, forward then backward (2N: the end)."""
    return [N // 2, N * 3 // 4, N, N + N // 8, N + N // 2, 2 * N]


def shoot(path, width=1240, height=800):
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
        page.goto(Path(path).resolve().as_uri())
        page.wait_for_selector("body[data-ready]")
        N = page.evaluate("window.explorer.END") // 2
        side = page.locator("#side").bounding_box()
        clip = {"x": 0, "y": 0, "width": side["x"], "height": height}  # the graph and the player, not the side panel
        for t in moments(N):
            page.evaluate("t => window.explorer.open(0).then(() => window.explorer.seek(t))", t)
            page.wait_for_timeout(200)
            shots.append((page.screenshot(clip=clip), page.locator("#p-where").inner_text()))
        page.evaluate(f"window.explorer.search('{HEAD}')")
        page.wait_for_timeout(300)
        first = page.evaluate("Math.min(...Object.keys(window.explorer.state.data.nodes).map(Number))")
        last = page.evaluate("Math.max(...Object.keys(window.explorer.state.data.nodes).map(Number))")
        for t in (first + (last - first) // 2, 2 * N - last + (last - first) // 3, 2 * N):
            page.evaluate(f"window.explorer.seek({t})")
            page.wait_for_timeout(200)
            shots.append((page.screenshot(clip=clip), page.locator("#p-where").inner_text()))
        browser.close()
    return shots


def sheet(shots, columns=3, thumb=600):
    import io

    images = [(Image.open(io.BytesIO(png)).convert("RGB"), caption) for png, caption in shots]
    font = fonts.font(15)
    cells = []
    for img, caption in images:
        img = img.resize((thumb, round(img.height * thumb / img.width)), Image.LANCZOS)
        cell = Image.new("RGB", (thumb, img.height + 28), "white")
        cell.paste(img, (0, 0))
        ImageDraw.Draw(cell).text((4, img.height + 5), caption, fill=(30, 30, 30), font=font)
        cells.append(cell)
    rows = [cells[i : i + columns] for i in range(0, len(cells), columns)]
    heights = [max(c.height for c in row) for row in rows]
    out = Image.new("RGB", (columns * (thumb + 10) + 10, sum(heights) + 10 * (len(rows) + 1)), (220, 220, 216))
    y = 10
    for row, h in zip(rows, heights):
        for k, cell in enumerate(row):
            out.paste(cell, (10 + k * (thumb + 10), y))
        y += h + 10
    return out


if __name__ == "__main__":
    page, target = sys.argv[1], sys.argv[2]
    sheet(shoot(page)).save(target, optimize=True)
    print(f"wrote {target}")
