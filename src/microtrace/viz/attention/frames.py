"""Many figures as one: frames padded to one size, an animated GIF, a contact sheet; and the files."""

import io
import os
from collections.abc import Sequence

from PIL import Image, ImageDraw

from microtrace.util.atomic import write_atomic  # the project's one atomic writer
from microtrace.viz.attention import parts as P
from microtrace.viz.draw import fonts
from microtrace.viz.draw.canvas import DPI, PillowCanvas, png_bytes


def _check_images(images, what="images"):
    if isinstance(images, Image.Image) or not isinstance(images, (list, tuple)) or not images:
        raise ValueError(f"{what} must be a non-empty list of PIL images")
    for i, image in enumerate(images):
        if not isinstance(image, Image.Image):
            raise ValueError(f"{what}[{i}] is not a PIL image: {type(image).__name__}")
    return [image.convert("RGB") for image in images]


def _check_frame_labels(labels, count):
    if labels is None:
        return None
    if isinstance(labels, str) or not isinstance(labels, (list, tuple)):
        raise ValueError("labels must be a list of strings, one per image")
    if len(labels) != count:
        raise ValueError(f"got {len(labels)} labels for {count} images")
    for i, label in enumerate(labels):
        if not isinstance(label, str):
            raise ValueError(f"labels[{i}] must be a string, got {label!r}")
    return list(labels)


def pad_to_common_size(images, background=P.BACKGROUND):
    """The images on canvases of the largest width and height among them, each at the top-left
    (so that the parts of figures that share a layout stay put from frame to frame)."""
    images = _check_images(images)
    w = max(image.width for image in images)
    h = max(image.height for image in images)
    out = []
    for image in images:
        if image.size == (w, h):
            out.append(image)
            continue
        canvas = Image.new("RGB", (w, h), background)
        canvas.paste(image, (0, 0))
        out.append(canvas)
    return out


def _label_band(image, label, scale):
    """`image` with a band above it holding `label` (the frame's name, e.g. "step 100")."""
    s = fonts.sizes(scale)
    pad = fonts.px(8, scale)
    lines = fonts.wrap(label, s.title, max(image.width - 2 * pad, fonts.px(40, scale)))
    band_h = fonts.block_height(lines, s.title) + 2 * pad
    width = max(image.width, fonts.block_width(lines, s.title) + 2 * pad)
    canvas = Image.new("RGB", (width, image.height + band_h), P.BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    fonts.draw_lines(draw, (pad, pad), lines, s.title, P.INK)
    draw.line([(0, band_h - 1), (width - 1, band_h - 1)], fill=(225, 225, 225))
    canvas.paste(image, (0, band_h))
    return canvas


def animation_frames(images, labels=None, *, scale=1.0):
    """The frames `animate` encodes: each image with its label in a band on top, padded to one size."""
    fonts.check_scale(scale)
    images = _check_images(images)
    labels = _check_frame_labels(labels, len(images))
    if labels is not None:
        images = [_label_band(image, label, scale) for image, label in zip(images, labels)]
    return pad_to_common_size(images)


def animate(
    images: Sequence[Image.Image],
    labels: Sequence[str] | None = None,
    *,
    duration_ms: int | Sequence[int] = 600,
    loop: int = 0,
    scale: float = 1.0,
) -> bytes:
    """An animated GIF (bytes) of `images`, one frame each, `duration_ms` per frame (an int, or a list
    with one per frame), looping forever (loop=0) or `loop` times. Frames of different sizes are
    padded to the largest (top-left aligned); `labels` (one string per image, e.g. "step 100") are
    drawn in a band above each frame. Each frame is reduced to its own 256-colour palette without
    dithering (flat cells stay flat). The same input gives the same bytes. GIF merges a frame that is
    identical to the one before it into it (adding the durations); distinct labels keep every frame."""
    frames = animation_frames(images, labels, scale=scale)
    if isinstance(duration_ms, (list, tuple)):
        if len(duration_ms) != len(frames):
            raise ValueError(f"got {len(duration_ms)} durations for {len(frames)} frames")
        durations = list(duration_ms)
    else:
        durations = [duration_ms] * len(frames)
    for d in durations:
        if isinstance(d, bool) or not isinstance(d, int) or d < 10:
            raise ValueError(f"frame durations must be integers of at least 10 ms, got {d!r}")
    if isinstance(loop, bool) or not isinstance(loop, int) or loop < 0:
        raise ValueError(f"loop must be a non-negative integer, got {loop!r}")
    paletted = [
        frame.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE) for frame in frames
    ]
    buf = io.BytesIO()
    paletted[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=paletted[1:],
        duration=durations if len(paletted) > 1 else durations[0],
        loop=loop,
        optimize=False,
        disposal=1,
    )
    return buf.getvalue()


def contact_sheet(
    images: Sequence[Image.Image],
    labels: Sequence[str] | None = None,
    *,
    columns: int = 4,
    scale: float = 1.0,
    title: str = "",
    tile_width: int | None = None,
) -> Image.Image:
    """One image with `images` in a grid of `columns` columns (rows as needed), each tile the size of
    the largest image (smaller ones centred), framed, with its label (e.g. "step 100") above it.
    `tile_width` (pixels) first shrinks every image wider than that, keeping its aspect ratio.

    Size at scale s with tiles of w x h, k images, C = min(columns, k) columns and R = ceil(k / C) rows:
    width = 2 * px(20) + C * (w + 2) + (C - 1) * px(16), height = 2 * px(20) + title block +
    R * (label line + px(6) + h + 2) + (R - 1) * px(16), where label line = line_height(px(15)) when
    labels are given (0 otherwise)."""
    fonts.check_scale(scale)
    images = _check_images(images)
    labels = _check_frame_labels(labels, len(images))
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns!r}")
    if tile_width is not None:
        if isinstance(tile_width, bool) or not isinstance(tile_width, int) or tile_width < 16:
            raise ValueError(f"tile_width must be an integer of at least 16 pixels, got {tile_width!r}")
        images = [
            image.resize((tile_width, max(1, round(image.height * tile_width / image.width))), Image.Resampling.LANCZOS)
            if image.width > tile_width
            else image
            for image in images
        ]
    s = fonts.sizes(scale)
    m = fonts.px(P.MARGIN, scale)
    gap = fonts.px(16, scale)
    tw = max(image.width for image in images)
    th = max(image.height for image in images)
    cols = min(columns, len(images))
    rows = -(-len(images) // cols)
    label_h = fonts.line_height(s.header) + fonts.px(6, scale) if labels is not None else 0
    if labels is not None:  # a label wider than its tile widens every tile
        tw = max(tw, max(fonts.text_width(label, s.header) for label in labels))
    grid_w = cols * (tw + 2) + (cols - 1) * gap
    title_lines, _, _, text_w = P.text_block(title, "", "", grid_w, scale)
    width = 2 * m + max(grid_w, text_w)
    top = m + P.title_height(title_lines, scale)
    height = top + rows * (label_h + th + 2) + (rows - 1) * gap + m
    sheet = PillowCanvas(width, height, P.BACKGROUND, dpi=round(DPI * scale))
    P.top_block(title_lines, scale).draw(sheet, m, m)
    for i, image in enumerate(images):
        r, col = divmod(i, cols)
        x = m + col * (tw + 2 + gap)
        y = top + r * (label_h + th + 2 + gap)
        if labels is not None:
            sheet.text((x, y), labels[i], s.header, P.INK)
        fy = y + label_h
        sheet.rect((x, fy, x + tw + 1, fy + th + 1), outline=(200, 200, 200))
        sheet.image.paste(image, (x + 1 + (tw - image.width) // 2, fy + 1 + (th - image.height) // 2))
    return sheet.result()


def save_png(image: Image.Image, path: str | os.PathLike) -> str:
    """Write `image` as a PNG at `path` atomically, with deterministic bytes (see `png_bytes`)."""
    write_atomic(path, png_bytes(image))
    return os.fspath(path)


def save_gif(
    images: Sequence[Image.Image],
    path: str | os.PathLike,
    duration_ms: int = 600,
    labels: Sequence[str] | None = None,
    *,
    loop: int = 0,
    scale: float = 1.0,
) -> str:
    """Write the animated GIF of `animate(images, labels, ...)` to `path` atomically."""
    write_atomic(path, animate(images, labels, duration_ms=duration_ms, loop=loop, scale=scale))
    return os.fspath(path)
