"""The explorer with a real mouse and real keys (issue 20): a click selects, a double-click opens in
place, Enter dives, Escape goes up, a drag pans (and selects nothing where it ends), the wheel zooms about
the pointer, and the keyboard alone reaches every box with a visible focus ring; a re-layout slides the
drawing from where it was, unless the reader asked for reduced motion."""

import pytest
from explore_browser import NEEDS, Opened

pytestmark = NEEDS
STATE = "window.explorer.state"
# the running animations: each one's length (ms), and whether it moves its box (a fade-in does not)
_ANIMATIONS = "document.getAnimations().map(a => [a.effect.getTiming().duration, JSON.stringify(a.effect.getKeyframes()).includes('translate')])"


@pytest.fixture(scope="module")
def opened(browser, explorer_page):
    o = Opened(browser, explorer_page)
    yield o
    assert o.errors == []
    o.close()


def cam(o):
    return o.js(f"({{...{STATE}.cam}})")


def test_a_click_selects_a_box_a_cluster_label_and_a_scalar(opened):
    opened.go("")
    opened.click("pos2/layer0/attn")  # a group of the block view
    opened.until(f"{STATE}.sel === 'pos2/layer0/attn'")
    assert opened.page.locator("#inspector h3").first.inner_text() == "pos2/layer0/attn"
    assert opened.js("document.querySelector('#stage g.sel > title').textContent") == "pos2/layer0/attn"
    opened.click("cluster_pos1")  # a cluster, by its label
    opened.until(f"{STATE}.sel === 'cluster_pos1'")
    opened.go("pos1/layer0/attn/head1")  # the scalar level
    n = next(
        t
        for t in opened.js("[...document.querySelectorAll('#stage g.node > title')].map(t => t.textContent)")
        if t[0] == "n"
    )
    opened.click(n)
    opened.until(f"{STATE}.sel === {n!r}")
    assert opened.page.locator("#inspector h3").first.inner_text() == f"node #{n[1:]}"


def test_a_double_click_opens_in_place_at_two_levels_and_escape_closes(opened):
    opened.go("")
    before = opened.js("document.getElementById('stage').innerHTML")
    opened.dblclick("pos1/layer0/attn")
    opened.until("b => document.getElementById('stage').innerHTML !== b", before)  # laid out again ...
    assert opened.js(_ANIMATIONS) == []  # ... with nothing moving: this window asks for reduced motion
    opened.until(f"{STATE}.opened.length === 1 && {STATE}.view === 0")
    opened.dblclick("pos1/layer0/attn/q")  # a stage inside it, into its scalars
    opened.until(f"{STATE}.opened.length === 2")
    opened.page.keyboard.press("Escape")
    opened.until(f"{STATE}.opened.length === 1")
    opened.page.keyboard.press("Escape")
    opened.until(f"{STATE}.opened.length === 0 && {STATE}.view === 0")


def test_enter_dives_and_escape_goes_up_to_the_group_it_came_from(opened):
    opened.go("")
    opened.open_item("pos2/layer0/mlp")  # click, Enter
    assert opened.view_key() == "pos2/layer0/mlp"
    opened.page.keyboard.press("Escape")
    opened.until(f"{STATE}.view === 0 && {STATE}.sel === 'pos2/layer0/mlp'")
    assert opened.js("document.activeElement.querySelector(':scope > title')?.textContent") == "pos2/layer0/mlp"


def test_a_drag_pans_and_selects_nothing_where_it_ends(opened):
    opened.go("")
    opened.page.keyboard.press("0")
    opened.click("pos0/loss")
    opened.until(f"{STATE}.sel === 'pos0/loss'")
    x, y = opened.point("pos2/layer0/attn")
    c0 = cam(opened)
    opened.drag((x - 60, y - 70), (60, 70))  # from beside the box to onto it
    c1 = cam(opened)
    assert c1["x"] == pytest.approx(c0["x"] + 60) and c1["y"] == pytest.approx(c0["y"] + 70) and c1["k"] == c0["k"]
    assert opened.js(f"{STATE}.sel") == "pos0/loss"  # still the box chosen before the drag


def test_the_wheel_zooms_about_the_pointer(opened):
    opened.go("")
    opened.page.keyboard.press("0")
    c0 = cam(opened)
    left, top = opened.js(
        "(() => { const r = document.getElementById('canvas').getBoundingClientRect(); return [r.left, r.top]; })()"
    )
    x, y = 500, 400
    under = ((x - left - c0["x"]) / c0["k"], (y - top - c0["y"]) / c0["k"])
    opened.page.mouse.move(x, y)
    opened.page.mouse.wheel(0, -300)
    opened.until(f"{STATE}.cam.k > {c0['k'] * 1.2}")
    c1 = cam(opened)
    assert (x - left - c1["x"]) / c1["k"] == pytest.approx(under[0], abs=1) and (y - top - c1["y"]) / c1[
        "k"
    ] == pytest.approx(under[1], abs=1)


def test_the_keyboard_alone_reaches_every_box_with_a_focus_ring(opened):
    opened.go("")
    opened.page.mouse.click(
        *opened.js(
            "(() => { const r = document.getElementById('title').getBoundingClientRect(); return [r.x + 4, r.y + 4]; })()"
        )
    )
    boxes = set(
        opened.js(
            "[...document.querySelectorAll('#stage g.node, #stage g.cluster')].map(g => g.querySelector(':scope > title').textContent).filter(t => t !== 'legend')"
        )
    )
    focus = "document.activeElement.closest('#stage g')?.querySelector(':scope > title')?.textContent ?? null"
    reached = []
    for _ in range(len(boxes) + 40):
        opened.page.keyboard.press("Tab")
        t = opened.js(focus)
        if t is None and reached:
            break
        if t is not None:
            reached.append(t)
    assert set(reached) == boxes and len(reached) == len(boxes)
    # back onto the last box: it is selected, and outlined apart from the selection
    opened.page.keyboard.press("Shift+Tab")
    here = opened.js(focus)
    assert here == reached[-1] and opened.js(f"{STATE}.sel") == here
    ring = opened.js(
        "getComputedStyle(document.activeElement.querySelector(':scope > rect, :scope > path, :scope > polygon, :scope > ellipse')).strokeDasharray"
    )
    assert ring not in ("none", "")
    # the arrows walk to the nearest box that way
    before = opened.js("document.activeElement.getBoundingClientRect().top")
    opened.page.keyboard.press("ArrowUp")
    assert (
        opened.js(focus) not in (None, here)
        and opened.js("document.activeElement.getBoundingClientRect().top") < before
    )


def test_the_inspector_shows_4_significant_digits_and_copies_the_full_value(opened):
    opened.go("")
    opened.click("pos2/layer0/attn")
    fig = opened.page.locator('#inspector td[data-key="grad_norm"] .fig')
    full, shown = fig.get_attribute("title"), fig.inner_text()  # the full value on hover
    assert float(shown) == pytest.approx(float(full), rel=1e-3) and len(shown.replace(".", "").lstrip("0-")) <= 4
    opened.context.grant_permissions(["clipboard-read", "clipboard-write"])
    box = fig.bounding_box()
    opened.page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2, click_count=3)  # a triple click takes the cell
    opened.page.keyboard.press("Control+C")
    assert opened.js("navigator.clipboard.readText()") == full
    row = opened.page.locator('#inspector th:text-is("grad_norm")').bounding_box()  # a drag over the row
    opened.page.mouse.move(row["x"] + 1, row["y"] + 3)
    opened.page.mouse.down()
    opened.page.mouse.move(box["x"] + box["width"] + 20, box["y"] + box["height"] - 3, steps=5)
    opened.page.mouse.up()
    opened.page.keyboard.press("Control+C")
    assert opened.js("navigator.clipboard.readText()") == f"grad_norm\t{full}"


def test_a_relayout_slides_the_drawing_from_where_it_was(browser, explorer_page):
    """Issue 20: opening in place animates from the old positions to the new ones in at most 300 ms (and
    not at all for a reader whose system asks for reduced motion: the double-click test's window)."""
    moving = Opened(browser, explorer_page, motion=True)
    try:
        moving.dblclick("pos1/layer0/attn")
        moving.until("document.getAnimations().length > 0")
        slides = moving.js(_ANIMATIONS)
        assert all(0 < ms <= 300 for ms, _ in slides) and any(moved for _, moved in slides)
        moving.until(f"{STATE}.opened.length === 1 && !document.getAnimations().length")
        assert moving.errors == []
    finally:
        moving.close()
