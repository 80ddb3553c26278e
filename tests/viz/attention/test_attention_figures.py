"""Attention figures: pixels of real PNG/GIF bytes, sizes, determinism and input validation."""

import io
import os
import random
import xml.etree.ElementTree as ET

import pytest
from attention_data import labels_for, random_attention
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import examples
from microtrace.tracer import FORMAT
from microtrace.util import numfmt
from microtrace.viz.attention import (
    animate,
    animation_frames,
    attention_grid,
    contact_sheet,
    from_trace_graph,
    grid_layout,
    parts,
    per_token_strips,
    png_bytes,
    save_gif,
    save_png,
    strip_layout,
)
from microtrace.viz.draw import colormap, fonts
from microtrace.viz.draw.canvas import PillowCanvas

BG = parts.BACKGROUND


def reopen(image):
    """The image as a reader of the PNG file sees it."""
    return Image.open(io.BytesIO(png_bytes(image))).convert("RGB")


def cell_pixels(img, box):
    x0, y0, x1, y1 = box
    return [img.getpixel((x, y)) for y in range(y0 + 2, y1 - 1) for x in range(x0 + 2, x1 - 1)]


def centre(img, box):
    return img.getpixel(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2))


def luminance(rgb):
    return colormap.luminance(rgb)


# --- colour maps ----------------------------------------------------------------------------------


def test_viridis_ends_and_monotone_luminance():
    assert colormap.viridis(0.0) == (0x44, 0x01, 0x54)
    assert colormap.viridis(1.0) == (0xFD, 0xE7, 0x25)
    assert colormap.viridis(128 / 255) == (0x21, 0x91, 0x8C)  # a control point
    lums = [luminance(colormap.viridis(i / 100)) for i in range(101)]
    assert all(b > a for a, b in zip(lums, lums[1:]))
    assert colormap.viridis(-3) == colormap.viridis(0) and colormap.viridis(7) == colormap.viridis(1)
    assert colormap.viridis(float("nan")) == colormap.NAN_COLOR


def test_diverging_is_centred_on_zero():
    assert colormap.diverging(0.0, 0.3) == colormap.DIVERGING_CENTER == (247, 247, 247)
    blue, red = colormap.diverging(-1.0), colormap.diverging(1.0)
    assert blue == (0x05, 0x30, 0x61) and red == (0x67, 0x00, 0x1F)
    assert colormap.diverging(-0.5)[2] > colormap.diverging(-0.5)[0]  # negative is blue
    assert colormap.diverging(0.5)[0] > colormap.diverging(0.5)[2]  # positive is red
    assert colormap.diverging(5.0, 0.0) == colormap.DIVERGING_CENTER
    assert colormap.diverging(float("inf")) == colormap.NAN_COLOR


def test_log_helpers_and_ticks():
    assert colormap.log_position(1e-3, 1e-4, 1e-2) == pytest.approx(0.5)
    assert colormap.log_position(0, 1e-4, 1e-2) == 0.0
    assert colormap.symlog_position(-1e-2, 1e-4, 1e-2) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        colormap.log_position(1, 0, 1)
    scale = colormap.log_scale(1e-5, 1e-1)
    assert [label for _, label in scale.ticks][0] == "1e-05"
    sym = colormap.symmetric_scale(0.0185)
    values = [v for v, _ in sym.ticks]
    assert values[0] == -0.0185 and values[-1] == 0.0185 and 0.0 in values
    assert numfmt.short(0.25) == "0.25" and numfmt.short(3.2e-5) == "3.2e-05"


def test_colorbar_has_gradient_and_fits_its_labels():
    scale = colormap.weight_scale()
    width = colormap.colorbar_width(scale, thickness=fonts.px(16, 1), label="attention weight")
    canvas = PillowCanvas(width, 200 + 2 * colormap.colorbar_pad())
    assert colormap.draw_colorbar(canvas, scale, (0, 0), length=200, label="attention weight") == canvas.height
    bar = canvas.result()
    pad = colormap.colorbar_pad()
    # the label, written upwards, fits inside the bar's width
    assert any(bar.getpixel((width - 3, y)) != (255, 255, 255) for y in range(bar.height))
    # top row = maximum, bottom row = minimum (the outermost rows are the outline)
    assert bar.getpixel((5, pad + 1)) == colormap.viridis(1 - 1 / 199)
    assert bar.getpixel((5, pad + 198)) == colormap.viridis(1 / 199)
    assert bar.getpixel((0, pad + 100)) == colormap.MUTED_INK


# --- the heatmap grid -----------------------------------------------------------------------------


def crafted(n):
    """Row q gives most weight to key (2q + 1) % (q + 1), a little to the rest, all distinct."""
    rows = []
    for q in range(n):
        top = (2 * q + 1) % (q + 1)
        rest = [0.3 * (k + 1) / (q + 1) ** 2 for k in range(q + 1)]
        row = [0.0 if k == top else rest[k] for k in range(q + 1)]
        row[top] = 1 - sum(row)
        rows.append(row)
    return rows


def test_brightest_cell_of_each_row_is_its_argmax():
    n = 8
    heads = [crafted(n), [list(reversed(r)) for r in crafted(n)]]
    attention = [heads]
    labels = labels_for(n)
    img = reopen(attention_grid(attention, labels, title="crafted"))
    lay = grid_layout(attention, labels, title="crafted")
    assert img.size == lay.size
    for h, rows in enumerate(heads):
        for q, row in enumerate(rows):
            colours = [centre(img, lay.cell_box(0, h, q, k)) for k in range(q + 1)]
            assert colours == [colormap.viridis(v) for v in row]
            lum = [luminance(c) for c in colours]
            assert lum.index(max(lum)) == row.index(max(row))


def test_masked_cells_have_the_background_colour():
    n = 6
    attention = random_attention(n, 2, 3, seed=1)
    for grad in (False, True):
        data = (
            attention if not grad else [[[[v - 0.2 for v in r] for r in rows] for rows in layer] for layer in attention]
        )
        img = reopen(attention_grid(data, labels_for(n), grad=grad))
        lay = grid_layout(data, labels_for(n), grad=grad)
        for layer in range(2):
            for head in range(3):
                for q in range(n):
                    for k in range(q + 1, n):
                        pixels = cell_pixels(img, lay.cell_box(layer, head, q, k))
                        share = pixels.count(BG) / len(pixels)
                        assert share > 0.7, (grad, layer, head, q, k, share)
                        assert set(pixels) <= {BG, parts.HATCH}
        zero = colormap.viridis(0.0) if not grad else colormap.DIVERGING_CENTER
        assert zero != BG


def test_size_follows_tokens_heads_layers_and_scale():
    def size(n, layers, heads, scale=1.0):
        return attention_grid(random_attention(n, layers, heads), labels_for(n), notes=False, scale=scale).size

    c = fonts.px(parts.CELL, 1)
    w8, h8 = size(8, 2, 3)
    w16, h16 = size(16, 2, 3)
    assert (w16 - w8, h16 - h8) == (3 * 8 * c, 2 * 8 * c)  # doubling tokens: +H*n*c, +L*n*c
    lay = grid_layout(random_attention(8, 2, 3), labels_for(8), notes=False)
    pw, ph = lay.panel_size
    gap = fonts.px(parts.PANEL_GAP, 1)
    assert size(8, 2, 4)[0] - w8 == pw + gap
    assert size(8, 3, 3)[1] - h8 == ph + gap
    # the documented formula, term by term
    s = fonts.sizes(1.0)
    lq = c + fonts.px(parts.LABEL_PAD, 1)
    lk = fonts.line_height(s.label) + fonts.px(parts.LABEL_PAD, 1)
    hh = fonts.line_height(s.header) + fonts.px(parts.HEADER_PAD, 1)
    axis_w = fonts.line_height(s.axis) + fonts.px(parts.LABEL_PAD, 1)
    key_h = fonts.line_height(s.axis) + fonts.px(2, 1)
    n = 8
    assert (pw, ph) == (lq + n * c, hh + n * c + lk)
    bar_w = colormap.colorbar_width(colormap.weight_scale(), thickness=fonts.px(16, 1), label="attention weight")
    m = fonts.px(parts.MARGIN, 1)
    assert w8 == 2 * m + axis_w + 3 * pw + 2 * gap + fonts.px(parts.BAR_GAP, 1) + bar_w
    assert h8 == 2 * m + 2 * ph + gap + key_h
    # scale: every length grows with it
    w2, h2 = size(8, 2, 3, scale=2.0)
    assert 1.8 * w8 < w2 < 2.2 * w8 and 1.8 * h8 < h2 < 2.2 * h8


def test_a_column_holds_two_by_two_heads_with_the_colour_bar_under_them():
    # four heads of a 7-token document at 3.25 in and 7 pt (the scale `--width column` gives a PNG):
    # beside the bar only one head fits a row (a figure 12 in long); with the bar lying under the grid,
    # two heads a row, cells that still hold a label, and no wider than asked
    scale, width = 7 / 7.5 * 300 / 96, round(3.25 * 300)
    attention, labels = random_attention(7, 1, 4), labels_for(7)
    lay = grid_layout(attention, labels, scale=scale, fit=parts.Fit(width=width, margin=parts.PRINT_MARGIN))
    rows = sorted({y for layer in lay.heatmap_origins for _, y in layer})
    assert len(rows) == 2 and lay.bar_below > 0 and lay.size[0] == width
    assert lay.cell >= fonts.line_height(fonts.sizes(scale).small)
    assert lay.colorbar_origin[1] > rows[-1] + 7 * lay.cell  # under the last row of heads
    image = attention_grid(attention, labels, scale=scale, fit=parts.Fit(width=width, margin=parts.PRINT_MARGIN))
    assert image.size == lay.size
    one = grid_layout(attention, labels, scale=scale, fit=parts.Fit(width=width, cols=1, margin=parts.PRINT_MARGIN))
    assert len({y for layer in one.heatmap_origins for _, y in layer}) == 4  # --cols 1 is still one a row


def test_grad_mode_zero_is_the_centre_colour_and_signs_have_sides():
    n = 4
    rows = [[0.0], [0.02, -0.01], [-0.04, 0.0, 0.01], [0.005, 0.0, -0.002, 0.03]]
    attention = [[rows]]
    img = reopen(attention_grid(attention, labels_for(n), grad=True))
    lay = grid_layout(attention, labels_for(n), grad=True)
    zero = centre(img, lay.cell_box(0, 0, 0, 0))
    assert zero == colormap.DIVERGING_CENTER and min(zero) > 240
    most_negative = centre(img, lay.cell_box(0, 0, 2, 0))
    assert most_negative == colormap.diverging(-1.0)  # the scale is symmetric at max |grad| = 0.04
    positive = centre(img, lay.cell_box(0, 0, 3, 3))
    assert positive[0] > positive[2] and positive == colormap.diverging(0.03, 0.04)
    # a shared vmax (for animations) changes the mapping
    lay2 = grid_layout(attention, labels_for(n), grad=True, vmax=0.08)
    img2 = reopen(attention_grid(attention, labels_for(n), grad=True, vmax=0.08))
    assert centre(img2, lay2.cell_box(0, 0, 2, 0)) == colormap.diverging(-0.5)


def test_bos_is_drawn_as_a_badge_and_explained():
    attention = random_attention(3, 1, 1)
    lay = grid_layout(attention, ["<BOS>", "a", "b"])
    img = reopen(attention_grid(attention, ["<BOS>", "a", "b"]))
    x0, y0, x1, y1 = lay.cell_box(0, 0, 0, 0)
    gutter = [img.getpixel((x, y)) for x in range(x0 - lay.row_label_width, x0) for y in range(y0, y1 + 1)]
    assert fonts.BOS_BADGE_FILL in gutter
    assert any("BOS" in line for line in lay.note_lines)
    lay_plain = grid_layout(attention, ["x", "a", "b"])
    assert not any("BOS" in line for line in lay_plain.note_lines)


def test_nan_cells_get_the_nan_colour_and_a_legend_note():
    attention = random_attention(4, 1, 2)
    attention[0][1][2][1] = float("nan")
    attention[0][0][3][0] = float("inf")
    img = reopen(attention_grid(attention, labels_for(4)))
    lay = grid_layout(attention, labels_for(4))
    for head, q, k in ((1, 2, 1), (0, 3, 0)):
        x0, y0, x1, y1 = lay.cell_box(0, head, q, k)
        assert img.getpixel((x0 + 2, (y0 + y1) // 2)) == colormap.NAN_COLOR  # left of the cross
        assert img.getpixel(((x0 + x1) // 2, (y0 + y1) // 2)) == parts.NAN_MARK  # the cross
    assert any("nan" in line for line in lay.note_lines)


def test_values_are_printed_when_cells_are_large_enough_else_omitted():
    attention = [[[[1.0], [0.25, 0.75]]]]
    labels = ["<BOS>", "a"]
    big = reopen(attention_grid(attention, labels, values=True, scale=2.0))
    lay = grid_layout(attention, labels, values=True, scale=2.0)
    pixels = cell_pixels(big, lay.cell_box(0, 0, 1, 0))  # 0.25: dark cell, white text
    assert (255, 255, 255) in pixels
    pixels = cell_pixels(big, lay.cell_box(0, 0, 0, 0))  # 1.0: yellow cell, dark text
    assert any(luminance(p) < 0.05 for p in pixels)
    tiny_on = reopen(attention_grid(attention, labels, values=True, scale=0.5))
    tiny_off = reopen(attention_grid(attention, labels, values=False, scale=0.5))
    tiny = grid_layout(attention, labels, values=True, scale=0.5)
    for q, k in ((0, 0), (1, 0), (1, 1)):  # too small for numbers: none printed, and the notes say why
        assert cell_pixels(tiny_on, tiny.cell_box(0, 0, q, k)) == cell_pixels(tiny_off, tiny.cell_box(0, 0, q, k))
    assert "do not fit" in " ".join(tiny.note_lines)


def test_long_labels_and_text_are_not_clipped():
    attention = random_attention(3, 1, 1)
    labels = ["<BOS>", "longlabel", "é"]
    title = "a long title " * 12
    lay = grid_layout(attention, labels, title=title, caption="caption " * 30)
    img = attention_grid(attention, labels, title=title, caption="caption " * 30)
    assert lay.rotate_col_labels
    assert len(lay.title_lines) > 1 and len(lay.caption_lines) > 1
    m = fonts.px(parts.MARGIN, 1)
    s = fonts.sizes(1)
    assert all(fonts.text_width(line, s.title) <= img.width - 2 * m for line in lay.title_lines)
    # the right and bottom margins stay empty
    assert all(img.getpixel((x, y)) == BG for x in range(img.width - m + 1, img.width) for y in range(img.height))
    assert all(img.getpixel((x, y)) == BG for y in range(img.height - m + 1, img.height) for x in range(img.width))


def test_same_input_gives_identical_png_bytes(tmp_path):
    attention = random_attention(7, 1, 4, seed=3)
    labels = labels_for(7)
    a = png_bytes(attention_grid(attention, labels, title="step 120 · doc 'olivia' · loss 2.31"))
    b = png_bytes(attention_grid(attention, labels, title="step 120 · doc 'olivia' · loss 2.31"))
    assert a == b
    path = tmp_path / "fig.png"
    save_png(attention_grid(attention, labels, title="step 120 · doc 'olivia' · loss 2.31"), path)
    assert path.read_bytes() == a
    assert os.listdir(tmp_path) == ["fig.png"]  # no temporary file left behind
    save_png(attention_grid(attention, labels), path)  # replaces
    assert path.read_bytes() != a


def test_png_carries_the_dpi_of_its_scale():
    attention, labels = random_attention(3, 1, 1, seed=1), labels_for(3)
    for scale, dpi in ((1.0, 96), (2.0, 192)):
        png = Image.open(io.BytesIO(png_bytes(attention_grid(attention, labels, scale=scale))))
        assert [round(v) for v in png.info["dpi"]] == [dpi, dpi]


def test_svg_is_the_same_figure_as_the_png():
    attention, labels = random_attention(5, 1, 2, seed=4), labels_for(5)
    image = attention_grid(attention, labels, title="a <title> & more")
    svg = attention_grid(attention, labels, title="a <title> & more", fmt="svg")
    assert svg == attention_grid(attention, labels, title="a <title> & more", fmt="svg")  # deterministic
    root = ET.fromstring(svg.encode("utf-8"))
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert (int(root.get("width")), int(root.get("height"))) == image.size
    assert root.find("s:title", ns).text == "a <title> & more"
    hatched = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if (r.get("fill") or "").startswith("url(#")]
    assert len(hatched) == 2 * (5 - 1)  # one band of masked cells per query row but the last, per head
    tips = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert sum(1 for t in tips if t.startswith("query ")) == 2 * sum(range(1, 6))  # every cell has its value
    lay = grid_layout(attention, labels, title="a <title> & more")
    x0, y0, x1, y1 = lay.cell_box(0, 1, 4, 2)
    cell = next(
        r
        for r in root.iter("{http://www.w3.org/2000/svg}rect")
        if (r.get("x"), r.get("y")) == (str(x0), str(y0)) and r.find("s:title", ns) is not None
    )
    assert cell.get("fill") == colormap.hex_color(image.getpixel((x0 + 3, y0 + 3)))


@pytest.mark.parametrize(
    "attention, labels, kwargs, message",
    [
        ([[[[1.0], [0.5]]]], ["a", "b"], {}, "query 1 must have 2"),
        ([[[[1.0], [0.5, 0.5, 0.0]]]], ["a", "b"], {}, "query 1 must have 2"),
        ([[[[1.0], [0.5, 0.5]]]], ["a", "b", "c"], {}, "3 labels"),
        ([[[[1.0], [0.5, "x"]]]], ["a", "b"], {}, "not a number"),
        ([[[[1.0], [0.5, True]]]], ["a", "b"], {}, "not a number"),
        ([[[[1.0], [1.5, -0.5]]]], ["a", "b"], {}, "not an attention weight"),
        ([[[[1.0]]], [[[1.0]], [[1.0]]]], ["a"], {}, "heads"),
        ([], ["a"], {}, "non-empty"),
        ([[]], ["a"], {}, "non-empty"),
        ([[[[1.0]]]], [], {}, "labels"),
        ([[[[1.0]]]], "a", {}, "labels"),
        ([[[[1.0]]]], [""], {}, "labels[0]"),
        ([[[[1.0]]]], ["a"], {"scale": 0}, "scale"),
        ([[[[1.0]]]], ["a"], {"scale": float("nan")}, "scale"),
        ([[[[1.0]]]], ["a"], {"grad": True, "vmax": -1.0}, "vmax"),
    ],
)
def test_bad_input_raises_a_one_line_value_error(attention, labels, kwargs, message):
    with pytest.raises(ValueError) as info:
        attention_grid(attention, labels, **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_grad_mode_accepts_any_sign_and_nonfinite():
    attention, labels = [[[[-3.0], [2.0, float("nan")]]]], ["<BOS>", "a"]
    img = reopen(attention_grid(attention, labels, grad=True))
    lay = grid_layout(attention, labels, grad=True)
    scale = colormap.symmetric_scale(3.0)  # +-max|finite value|: -3 is the blue end

    def inside(q, k):  # a pixel of the cell clear of its borders and of the nan cross
        x0, y0, _, _ = lay.cell_box(0, 0, q, k)
        return img.getpixel((x0 + 3, y0 + 3))

    assert inside(0, 0) == tuple(scale.color(-3.0)) and inside(1, 0) == tuple(scale.color(2.0))
    assert inside(0, 0) != inside(1, 0)
    assert inside(1, 1) == colormap.NAN_COLOR
    x0, y0, x1, y1 = lay.cell_box(0, 0, 1, 1)
    assert img.getpixel(((x0 + x1) // 2, (y0 + y1) // 2)) == parts.NAN_MARK  # the cross


@settings(max_examples=examples(20), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 7),
    heads=st.integers(1, 3),
    layers=st.integers(1, 2),
    seed=st.integers(0, 10**6),
)
def test_random_ragged_attention_builds_and_argmax_is_brightest(n, heads, layers, seed):
    rng = random.Random(seed)
    attention = []
    for _ in range(layers):
        layer = []
        for _ in range(heads):
            rows = []
            for q in range(n):
                raw = [rng.random() + 1e-3 for _ in range(q + 1)]
                top = rng.randrange(q + 1)
                raw[top] += 2.0  # a clear winner (at least twice any other), so colour rounding cannot tie it
                total = sum(raw)
                rows.append([v / total for v in raw])
            layer.append(rows)
        attention.append(layer)
    labels = labels_for(n)
    img = reopen(attention_grid(attention, labels, scale=0.5))
    lay = grid_layout(attention, labels, scale=0.5)
    assert img.size == lay.size
    for li in range(layers):
        for hi in range(heads):
            for q, row in enumerate(attention[li][hi]):
                lum = [luminance(centre(img, lay.cell_box(li, hi, q, k))) for k in range(q + 1)]
                assert lum.index(max(lum)) == row.index(max(row))


# --- per-token strips -----------------------------------------------------------------------------


def test_per_token_strips_shade_tiles_and_outline_the_query():
    n = 5
    attention = random_attention(n, 2, 3, seed=4)
    labels = labels_for(n)
    img = reopen(per_token_strips(attention, labels, layer=1, head=2, title="strips"))
    lay = strip_layout(attention, labels, layer=1, head=2, title="strips")
    assert img.size == lay.size
    rows = attention[1][2]
    for q in range(n):
        for k in range(q + 1):
            x0, y0, x1, y1 = lay.tile_box(q, k)
            inside = img.getpixel((x0 + 4, y0 + 4))
            if k < q:
                assert inside == colormap.viridis(rows[q][k])
        x0, y0, x1, y1 = lay.tile_box(q, q)
        assert img.getpixel((x0, (y0 + y1) // 2)) == parts.ACCENT
        if q + 1 < n:  # nothing right of the query's tile
            x0, y0, x1, y1 = lay.tile_box(q, q + 1)
            assert set(cell_pixels(img, (x0, y0, x1, y1))) == {BG}
    # the mean over heads
    mean = strip_layout(attention, labels, layer=0, head="mean")
    img = reopen(per_token_strips(attention, labels, layer=0, head="mean"))
    expected = sum(attention[0][h][3][1] for h in range(3)) / 3
    x0, y0, _, _ = mean.tile_box(3, 1)
    assert img.getpixel((x0 + 4, y0 + 4)) == colormap.viridis(expected)
    # size grows with tokens
    bigger = strip_layout(random_attention(2 * n, 1, 1), labels_for(2 * n), notes=False)
    smaller = strip_layout(random_attention(n, 1, 1), labels_for(n), notes=False)
    assert bigger.size[0] > smaller.size[0] and bigger.size[1] > smaller.size[1]


@pytest.mark.parametrize("kwargs", [{"layer": 2}, {"layer": -1}, {"head": 3}, {"head": "max"}, {"layer": True}])
def test_per_token_strips_reject_missing_layer_or_head(kwargs):
    with pytest.raises(ValueError):
        per_token_strips(random_attention(3, 2, 3), labels_for(3), **kwargs)


# --- animation and contact sheet ------------------------------------------------------------------


def small_frames(count):
    return [
        attention_grid(random_attention(3 + i % 3, 1, 2, seed=i), labels_for(3 + i % 3), notes=False)
        for i in range(count)
    ]


def test_gif_has_every_frame_padded_to_one_size_and_is_deterministic(tmp_path):
    frames = small_frames(5)
    assert len({f.size for f in frames}) > 1
    labels = [f"step {100 * i}" for i in range(5)]
    data = animate(frames, labels, duration_ms=250)
    assert data == animate(frames, labels, duration_ms=250)
    gif = Image.open(io.BytesIO(data))
    assert gif.n_frames == 5
    assert gif.info.get("duration") == 250
    padded = animation_frames(frames, labels)
    assert len({f.size for f in padded}) == 1 and gif.size == padded[0].size
    path = tmp_path / "anim.gif"
    save_gif(frames, path, 250, labels=labels)
    assert path.read_bytes() == data and os.listdir(tmp_path) == ["anim.gif"]
    # the last frame still shows the top-left of the smallest figure in place
    gif.seek(4)
    assert gif.convert("RGB").getpixel((0, 0)) == BG


def test_gif_input_validation():
    frames = small_frames(2)
    with pytest.raises(ValueError):
        animate([], None)
    with pytest.raises(ValueError):
        animate(frames, ["only one"])
    with pytest.raises(ValueError):
        animate(frames, None, duration_ms=0)
    with pytest.raises(ValueError):
        animate(frames + ["not an image"], None)


def test_contact_sheet_labels_and_size():
    frames = small_frames(5)
    labels = [f"step {100 * i}" for i in range(5)]
    sheet = contact_sheet(frames, labels, columns=2)
    tw = max(f.width for f in frames)
    th = max(f.height for f in frames)
    m, gap = fonts.px(parts.MARGIN, 1), fonts.px(16, 1)
    label_h = fonts.line_height(fonts.sizes(1).header) + fonts.px(6, 1)
    assert sheet.size == (2 * m + 2 * (tw + 2) + gap, 2 * m + 3 * (label_h + th + 2) + 2 * gap)
    thumbs = contact_sheet(frames, labels, columns=5, tile_width=200)
    assert thumbs.width == 2 * m + 5 * 202 + 4 * gap
    assert png_bytes(sheet) == png_bytes(contact_sheet(frames, labels, columns=2))
    with pytest.raises(ValueError):
        contact_sheet(frames, labels, columns=0)


# --- from a trace graph ---------------------------------------------------------------------------


class FakeGraph:
    def __init__(self, graph, nodes):
        self.graph = graph
        self._nodes = nodes

    def nodes(self, data=False):
        return list(enumerate(self._nodes))


def test_from_trace_graph_reads_weight_nodes():
    attention = random_attention(3, 1, 2, seed=7)
    nodes = [{"stage": "weights", "op": "exp", "pos": 0, "layer": 0, "head": 0, "data": 9.0, "grad": 0.0}]
    for h in range(2):
        for q in range(3):
            for k in range(q + 1):
                nodes.append(
                    {
                        "stage": "weights",
                        "key": k,
                        "pos": q,
                        "layer": 0,
                        "head": h,
                        "data": attention[0][h][q][k],
                        "grad": -attention[0][h][q][k],
                    }
                )
    g = FakeGraph({"format": FORMAT, "chars": ["<BOS>", "a", "b", "<BOS>"]}, nodes)
    got, labels = from_trace_graph(g)
    assert got == attention and labels == ["<BOS>", "a", "b"]
    grads, _ = from_trace_graph(g, field="grad")
    assert grads[0][1][2][0] == -attention[0][1][2][0]
    with pytest.raises(ValueError):
        from_trace_graph(FakeGraph({"format": 2, "chars": []}, nodes))
    with pytest.raises(ValueError):
        from_trace_graph(FakeGraph({"format": FORMAT, "chars": ["a"]}, nodes[:-1]))
