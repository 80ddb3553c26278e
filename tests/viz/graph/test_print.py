"""Figures fit for print: heads, positions and parameter matrices in natural order in every view and
rank direction, the dark theme's lowest colour visible, gradients printed in --grad cells (or a note
saying why not), progress bars only on a terminal, and a --steps range that asks for --max-frames."""

import os
import pty
import re
import shlex
import shutil
import subprocess
import sys
import warnings

import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import MINI, NAMES, SMALL
from microtrace.cli import cli, common
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import trace_step
from microtrace.tracer.analysis.attention import read_attention
from microtrace.viz import graph_figure, render
from microtrace.viz.attention.figure import draw, grid_layout_of
from microtrace.viz.draw import colormap
from microtrace.viz.draw.printsize import PRESETS, FitNote, PrintSize
from microtrace.viz.graph import scalar, style
from microtrace.viz.graph.render import RenderError


def _second_step(**model):
    """The trace of the second training step of the SMALL model changed by `model`."""
    trainer = Trainer(NAMES, TrainConfig(steps=6), **{**SMALL, **model})
    trainer.train_step()
    return trace_step(trainer)


@pytest.fixture(scope="module")
def trace():
    return _second_step(n_layer=2)


def _contrast(a, b):
    def lum(rgb):
        def ch(v):
            v /= 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        r, g, b_ = map(ch, rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_dark_theme_lowest_colour_is_visible():
    colors = style.node_colors("grad", [1e-4, 1.0])
    dark = style.theme("dark")
    lowest = colors.color_at(0.0, dark)
    assert _contrast(lowest, colormap.rgb_from_hex(dark.background.lstrip("#"))) >= 3
    fill, _ = colors.fill(1e-4, dark)
    assert fill == colormap.hex_color(lowest)
    assert colors.color_at(0.0, style.theme("light")) == colormap.rgb_from_hex("440154")  # light unchanged


@pytest.fixture(scope="module")
def four_heads():
    return _second_step(n_head=4)


def _across(g, rankdir):
    """Each node's place along its rank in reading order (top to bottom with LR, left to right with TB),
    from the layout of the real `dot` (-Tplain: `node NAME X Y ...`, inches, y up); and its rank."""
    out = subprocess.run(["dot", "-Tplain"], input=g.source, capture_output=True, text=True, check=True).stdout
    at = {}
    for line in out.splitlines():
        f = shlex.split(line)
        if f[0] == "node" and not f[1].startswith("anchor#"):
            x, y = float(f[2]), float(f[3])
            at[f[1]] = (-y, round(x, 2)) if rankdir == "LR" else (x, round(y, 2))
    return at


def _in_order(at, names, key):
    """Whether the nodes `names` of each rank read in the order of `key(name)`."""
    ranks = {}
    for n in names:
        ranks.setdefault(at[n][1], []).append(n)
    return all(sorted(ns, key=lambda n: at[n][0]) == sorted(ns, key=key) for ns in ranks.values())


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
@pytest.mark.parametrize("rankdir", ["LR", "TB"])
@pytest.mark.parametrize(
    "level,focus", [("block", None), ("layer", None), ("stage", None), ("stage", "pos3/layer0/attn")]
)
def test_heads_positions_and_matrices_in_natural_order(four_heads, level, focus, rankdir):
    """Read back from dot's own layout: positions one after the other, the heads of each attention
    block 0, 1, 2, 3 (and the stubs for later positions' heads), and the parameter matrices of one rank
    in model order, in both rank directions (a stage view drew heads 2, 1, 0, 3, and TB listed wo, wv,
    wk, wq)."""
    g = graph_figure(four_heads, level, focus=focus, rankdir=rankdir)
    at = _across(g, rankdir)
    stubs = {}  # the stubs standing for later positions' heads, by what they join
    for m in re.finditer(r"(stub_out\d+) \[label=<to [^<]*/head(\d+)/(\w+)<", g.source):
        stubs.setdefault(m.group(3), []).append((m.group(1), int(m.group(2))))
    assert bool(stubs) == (focus is not None)
    for stage, named in stubs.items():
        head = dict(named)
        assert len(named) == 4 and _in_order(at, list(head), head.get), stage
    by_pos = {}
    for n in at:
        if m := re.match(r"pos(\d+)/", n):
            by_pos.setdefault(int(m.group(1)), []).append(at[n][0])
    spans = [(min(by_pos[p]), max(by_pos[p])) for p in sorted(by_pos)]
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:])), spans  # whole positions, in order
    heads = {}
    for n in at:
        if m := re.match(r"(.*)/head(\d+)/(.*)", n):
            heads.setdefault((m.group(1), m.group(3)), []).append(n)
    assert (level == "stage") == bool(heads)
    for (_, stage), names in heads.items():
        assert len(names) == 4 and _in_order(at, names, lambda n: int(re.search(r"/head(\d+)/", n).group(1))), stage
    order = list(four_heads.graph().graph["param_stats"])
    params = [n for n in at if n.startswith("param/")]
    assert bool(params) == (level != "layer")  # the layer view draws no matrices
    assert _in_order(at, params, lambda n: order.index(n[len("param/") :]))


def _runs_out_of_order(G, g, rankdir):
    """The parallel values of a scalar view `g` of G that dot lays out of order across their rank: those
    of one scope made by one op, in one rank, read by their key or unit, or, without either, in a folded
    view, by the order they were made (a head's output dimensions, whose edges come from another band)."""
    at = _across(g, rankdir)
    runs = {}
    folded = "cluster_fold" in g.source
    for name in at:
        if re.fullmatch(r"n\d+", name):
            d = G.nodes[int(name[1:])]
            index = "key" if "key" in d else "unit" if "unit" in d else "made" if folded else None
            if index and d["op"] not in ("param", "leaf", "const"):
                runs.setdefault((at[name][1], d["scope"], d["op"], index), []).append(name)
    key = {"made": lambda n: int(n[1:])}
    return [
        names
        for (_, _, _, index), names in runs.items()
        if len(names) > 1 and not _in_order(at, names, key.get(index, lambda n: G.nodes[int(n[1:])][index]))
    ], len([names for names in runs.values() if len(names) > 1])


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
@pytest.mark.parametrize("rankdir", ["LR", "TB"])
@pytest.mark.parametrize("view", ["fused", "elementary"])
def test_keys_and_units_in_natural_order_in_scalar_views(four_heads, view, rankdir):
    """Parallel values of a head (one per key of the cache, one per unit of its output) read 0, 1, 2...
    across their rank, folded or not (a softmax's weights came out keys 8 to 0)."""
    G = four_heads.graph(view)
    last = len(G.graph["tokens"]) - 2
    checked = 0
    for focus in ("pos1/layer0/attn/head0", f"pos{last}/layer0/attn/head3"):
        g = graph_figure(four_heads, "scalar", focus=focus, view=view, rankdir=rankdir)
        backwards, runs = _runs_out_of_order(G, g, rankdir)
        assert backwards == [], focus
        checked += runs
    assert checked >= 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
@pytest.mark.parametrize("width", ["column", pytest.param("page", marks=pytest.mark.slow)])
def test_a_head_folded_for_print_keeps_its_output_dimensions_in_order(wide_mlp, width):
    """The demo's head view laid out for a printed width is folded into bands (logits, weights, out): its
    output's dimensions, values that carry no key or unit, read 0, 1, 2... down the "out" box as they
    were made (they came out 0, 2, 3, 1), and each of its clusters is one box."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitNote)  # (wider than a column at 7 pt: said, not asserted here)
        g = graph_figure(wide_mlp, "scalar", focus="pos1/layer0/attn/head0", print_size=PrintSize(PRESETS[width]))
    assert "cluster_fold" in g.source
    backwards, runs = _runs_out_of_order(wide_mlp.graph("fused"), g, "LR")
    assert backwards == [] and runs >= 3
    boxes = re.findall(r'subgraph "?cluster_s_([^"#\s]+)', g.source)
    assert sorted(boxes) == sorted(set(boxes))  # one box a scope


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_a_long_scalar_chain_folds_for_the_width_asked(four_heads):
    """Laid out for a printed width its landscape fold does not fit at 7 pt, the head is folded for that
    width instead: into more bands (cut between its clusters), so drawn narrower."""
    ps = PrintSize(width_pt=PRESETS["column"])

    def drawn(**options):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitNote)  # (still wider than a column: said, not asserted here)
            g = graph_figure(four_heads, "scalar", focus="pos1/layer0/attn/head0", **options)
        return len(set(re.findall(r"cluster_fold(\d+)", g.source))), g

    landscape, _ = drawn()
    printed, g = drawn(print_size=ps)
    assert printed > landscape
    assert float(re.search(r'size="([\d.]+),', g.source).group(1)) < float(
        re.search(r'size="([\d.]+),', drawn(print_size=ps, fold=False)[1].source).group(1)
    )


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_a_long_view_shrunk_to_a_page_is_said_to_be_long(four_heads):
    """`--size` shrinks a view, not its shape: the README's top gradient paths came out 10 x 2.9 in
    (3.4:1) without a word, where the same view without --size was said to be long."""
    with pytest.warns(FitNote, match=r"is 9\.\d+ × [\d.]+ in \(\d+\.\d:1\)"):
        graph_figure(four_heads, "scalar", focus="pos1/layer0/attn/head0", fold=False, size=(10, 7.5))


@pytest.mark.slow  # the landscape page's fold; the fold for a width asked stays fast (test_..._for_the_width_asked)
@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_a_long_scalar_chain_folds_to_fit_a_page(four_heads, tmp_path):
    """The head that `make demo` draws is one long chain (dot product, softmax, weighted sum): unfolded
    its PNG is over 3 times as wide as high; folded, the real PNG's aspect is within 1:3..3:1, the bands
    in order (the first on top), and --ratio still has the last word."""

    def aspect(**options):
        g = graph_figure(four_heads, "scalar", focus="pos1/layer0/attn/head0", **options)
        path = render(g, tmp_path / "head.png")
        with Image.open(path) as im:
            return im.width / im.height, g

    wide, _ = aspect(fold=False)
    assert wide > 3
    folded, g = aspect()
    assert 1 / 3 < folded < 3, folded
    at = _across(g, "LR")
    bands = {}
    for line in g.body:
        if m := re.match(r'\s*subgraph "?cluster_fold(\d+)', line):
            band = int(m.group(1))
        elif (m := re.match(r"\s*([no]\d+) \[", line)) and "band" in locals():
            bands.setdefault(band, []).append(at[m.group(1)][0])
    assert len(bands) >= 2
    spans = [(min(bands[b]), max(bands[b])) for b in sorted(bands)]
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:])), spans
    with Image.open(render(g, tmp_path / "dpi.png", dpi=200)) as im:  # a PNG says its resolution
        assert [round(v) for v in im.info["dpi"]] == [200, 200]
    ratio, g = aspect(ratio=0.2)
    assert "cluster_fold" not in g.source and ratio > 3
    _, tall = aspect(rankdir="TB")
    assert "cluster_fold" not in tall.source  # already fits: not folded


def test_grad_values_are_printed_in_a_compact_unit(trace):
    data = read_attention(trace)
    with_values = draw(data, grad=True, values=True)
    without = draw(data, grad=True)
    assert with_values.tobytes() != without.tobytes()
    layout = grid_layout_of(data, grad=True, values=True)
    assert "in units of" in " ".join(layout.note_lines)
    small = grid_layout_of(data, grad=True, values=True, scale=0.3)
    assert "do not fit" in " ".join(small.note_lines)
    strips = draw(data, per_token=True, values=True)
    assert isinstance(strips, Image.Image)  # and its caption says why there are no numbers


def _stderr_of(args, terminal):
    """Exit code and stderr of the real command line, with stderr a pseudo-terminal or a pipe."""
    command = [sys.executable, "-c", "from microtrace.cli import main; main()", *args]
    if not terminal:
        proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        return proc.returncode, proc.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the command closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=300), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_progress_bars_only_on_a_terminal_also_with_jobs(run_dir, tmp_path):
    """A --steps range over two worker processes: a bar on a terminal that counts every step the
    workers train (they report back as they go), and not a character of it on a pipe."""
    for cmd in (
        ["gradflow", "-o", str(tmp_path / "f.png")],
        ["attention", "--text", "emma", "-o", str(tmp_path / "a.gif")],
    ):
        args = [*cmd, "--run", str(run_dir), "--steps", "0:6", "--jobs", "2"]
        code, err = _stderr_of(args, terminal=True)
        assert code == 0, err
        assert re.search(r"(training through the range|tracing the frames).*6/6", err), err
        code, err = _stderr_of(args, terminal=False)
        assert code == 0 and "/6" not in err and "[" not in err, err


def test_progress_bars_only_on_a_terminal(run_dir, tmp_path, monkeypatch):
    command = ["gradflow", "--run", str(run_dir), "--steps", "0:4", "--jobs", "1", "-o", str(tmp_path / "f.png")]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0 and "training through the range" not in result.stderr
    monkeypatch.setattr(common, "stderr_is_terminal", lambda: True)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0 and "training through the range" in result.stderr


def test_edge_labels_keep_clear_of_arrowheads_and_pages_fit(trace):
    g = graph_figure(trace, "scalar", focus="pos1/layer0/attn/head0/weights", backward=True)
    labels = [line for line in g.body if "->" in line and "label=" in line]
    assert labels and all('label="\u2002' in line for line in labels)
    page = graph_figure(trace, "scalar", focus="pos1/layer0/attn/head0/weights", size=(10, 7.5), ratio=0.7)
    assert 'size="10,7.5"' in page.source and "ratio=0.7" in page.source
    with pytest.raises(ValueError, match="ratio must be"):
        graph_figure(trace, ratio="tall")
    result = CliRunner().invoke(cli, ["graph", "--trace", "x.json", "--size", "10x7", "-o", "x.svg"])
    assert result.exit_code == 2 and "W,H" in result.output


@pytest.mark.slow  # end to end on a pseudo-terminal; the store's progress (below) and the bars' terminal rule stay fast
def test_writing_a_store_shows_a_bar_that_ends_only_on_a_terminal(run_dir, tmp_path):
    """The trace command's slow part after the replay, making the views and writing them, has a bar
    that reaches its end on a terminal, and not a character of it on a pipe."""
    args = ["trace", "--run", str(run_dir), "--step", "3", "-o", str(tmp_path / "s.parquet")]
    code, err = _stderr_of(args, terminal=True)
    assert code == 0, err
    counts = re.findall(r"writing the store.*?(\d+)/(\d+)", err)
    assert counts and counts[-1][0] == counts[-1][1], err
    code, err = _stderr_of([*args[:-1], str(tmp_path / "p.parquet")], terminal=False)
    assert code == 0 and "writing the store" not in err and "[" not in err, err


def test_saving_a_store_reports_its_progress_to_the_end(tmp_path, monkeypatch):
    """Small row groups and few recorded values between reports: many reports, rising from 0 to the
    total, both views in one count."""
    from microtrace.tracer.model import columns
    from microtrace.tracer.storage.io import save_store

    monkeypatch.setattr(columns, "PROGRESS_EVERY", 64)
    seen = []
    counts = save_store(
        _second_step(**MINI), tmp_path / "s.parquet", row_group=256, on_progress=lambda *a: seen.append(a)
    )
    assert counts["elementary"]["nodes"] > 4 * 256
    (total,) = {t for _, t in seen}
    done = [d for d, _ in seen]
    assert len(done) > 10 and done == sorted(done) and done[0] == 0 and done[-1] == total


def test_streamed_exports_report_their_progress_to_the_end(tmp_path, monkeypatch):
    """GraphML and GEXF of a live trace (read once for the types, once to write) and of a store: the
    count rises from 0 to its total, and the text is the same with or without a listener."""
    from microtrace.tracer.storage import io

    monkeypatch.setattr(io._Count, "REPORT_EVERY", 256)
    live = _second_step(**MINI)
    io.save_store(live, tmp_path / "s.parquet")
    for trace, fmt in ((live, "graphml"), (io.load_trace(tmp_path / "s.parquet"), "gexf")):
        seen = []
        text = "".join(io.export_chunks(trace, fmt, on_progress=lambda *a: seen.append(a)))
        (total,) = {t for _, t in seen}
        done = [d for d, _ in seen]
        n, e = trace.size()
        assert total == (2 if trace is live else 1) * (n + e)
        assert done == sorted(done) and done[0] == 0 and done[-1] == total and len(done) > 10
        assert text == "".join(io.export_chunks(trace, fmt))


@pytest.fixture(scope="module")
def wide_mlp():
    return _second_step(n_embd=16)


# TB repeats LR's folding with rows for columns (~1.5 CPU-s); TB's order in a scalar view stays fast above
@pytest.mark.parametrize("rankdir", ["LR", pytest.param("TB", marks=pytest.mark.slow)])
def test_a_wide_scalar_view_wraps_its_units_into_rows_in_order(wide_mlp, tmp_path, rankdir):
    """A ReLU's 64 units lie side by side across one rank: the real PNG is over 2.5 times as long as
    wide unfolded; folded, its parts wrap into rows (columns with LR) within 1:2.5..2.5:1, the units
    read 0, 1, 2... row after row, and --no-fold still draws them in one rank."""

    def aspect(**options):
        g = graph_figure(wide_mlp, "scalar", focus="pos1/layer0/mlp/relu", rankdir=rankdir, **options)
        with Image.open(render(g, tmp_path / "relu.png")) as im:
            return im.width / im.height, g

    wide, _ = aspect(fold=False)
    assert max(wide, 1 / wide) > 2.5, wide
    folded, g = aspect()
    assert 1 / 2.5 < folded < 2.5, folded
    at = _across(g, rankdir)
    G = wide_mlp.graph(wide_mlp.default_view("fused"))
    units = sorted(
        (n for n in at if n[0] == "n" and "unit" in G.nodes[int(n[1:])]), key=lambda n: G.nodes[int(n[1:])]["unit"]
    )
    # reading order: row after row along the ranks (their second coordinate), then across the rank
    rows = sorted({round(at[n][1], 1) for n in units}, reverse=rankdir == "TB")
    assert len(rows) >= 2
    read = sorted(units, key=lambda n: (rows.index(round(at[n][1], 1)), at[n][0]))
    assert read == units
    page = graph_figure(wide_mlp, "scalar", focus="pos1/layer0/mlp/relu", rankdir=rankdir, ratio=0.7)
    assert "cluster_fold" in g.source and "cluster_fold" not in page.source


@pytest.mark.slow  # a command in a pseudo-terminal (~2 CPU-s); the store's bar above keeps the contract fast
def test_the_report_shows_a_bar_that_ends_only_on_a_terminal(run_dir, tmp_path, monkeypatch):
    """The report's sections, one after the other, move its bar from 0 to the end; nothing on a pipe."""
    from microtrace.viz.report.page import build_report

    command = ["report", "--run", str(run_dir), "--step", "2", "-o", str(tmp_path / "r.html")]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0 and "writing the report" not in result.stderr
    monkeypatch.setattr(common, "stderr_is_terminal", lambda: True)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0 and "writing the report" in result.stderr
    seen = []
    build_report(trace_step(run_dir, 2), on_progress=lambda *a: seen.append(a))
    (total,) = {t for _, t in seen}
    assert [d for d, _ in seen] == list(range(total + 1))


def test_a_fold_dot_cannot_lay_out_gives_the_unfolded_view(four_heads, monkeypatch):
    """dot 2.43 cannot rank some folded views ("trouble in init_rank": the README's gradient paths of
    layer0.attn_wq[3,7] at step 120); the figure then comes unfolded instead of not at all."""
    real = scalar.node_places

    def refuses_folds(g):
        if "cluster_fold" in g.source:
            raise RenderError("dot failed to lay out: Error: trouble in init_rank")
        return real(g)

    monkeypatch.setattr(scalar, "node_places", refuses_folds)
    g = graph_figure(four_heads, "scalar", focus="pos1/layer0/attn/head0")
    assert "cluster_fold" not in g.source
    assert g.source == graph_figure(four_heads, "scalar", focus="pos1/layer0/attn/head0", fold=False).source
