"""Graphviz figures of a traced step (`microtrace graph`): rendered with the real `dot`, read back.

Small model (n_embd 4, 2 heads) and one traced step shared by the module, so the whole file runs in
seconds. Tests that render need Graphviz's `dot` and skip without it (the missing-dot path is tested by
emptying PATH).
"""

import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import networkx as nx
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import MINI, assert_refused, invoke
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import save_trace, trace_step
from microtrace.util import numfmt
from microtrace.viz.graph import style
from microtrace.viz.graph.block import block_diagram, edge_kind
from microtrace.viz.graph.render import DotNotFound, RenderError, fix_pdf_dates, render, render_bytes
from microtrace.viz.graph.scalar import scalar_diagram
from microtrace.viz.graph.select import ViewTooLarge, check_size, collapse_paths, focus_collapsed

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
HEAD = "pos2/layer0/attn/head1"

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


@pytest.fixture(scope="module")
def trace():
    trainer = Trainer(["olivia", "emma", "ava"], TrainConfig(steps=4, seed=1), **MINI)
    return trace_step(trainer, 0)


@pytest.fixture(scope="module")
def files(trace, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("traces")
    save_trace(trace.graph("elementary"), tmp / "elementary.json")
    save_trace(trace.graph("fused"), tmp / "fused.json")
    return tmp


def graph(*args):
    return invoke("graph", *args)


def svg_parts(path):
    root = ET.parse(path).getroot()
    nodes, edges, clusters = {}, {}, []
    for g in root.iter(f"{SVG}g"):
        cls = g.get("class")
        title = g.find(f"{SVG}title")
        if cls == "node":
            a = g.find(f".//{SVG}a")
            texts = " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
            nodes[title.text] = {"tooltip": a.get(f"{XLINK}title") if a is not None else "", "text": texts}
        elif cls in ("edge", "edge kv"):  # kv: drawn in lanes (viz/graph/lanes.py)
            path = g.find(f".//{SVG}path")
            a = g.find(f".//{SVG}a")
            edges[re.sub(r":(n|ne|e|se|s|sw|w|nw)(?=->|$)", "", title.text)] = {  # ports: a:e->b:e
                "width": float(path.get("stroke-width", "1")),
                "tooltip": a.get(f"{XLINK}title") if a is not None else "",
            }
        elif cls == "cluster":
            clusters.append(title.text)
    return nodes, edges, clusters


# --- collapsed views ------------------------------------------------------------------------------


@needs_dot
def test_block_view_svg_has_every_scope_cluster_and_tooltip(trace, files, tmp_path):
    out = tmp_path / "block.svg"
    result = graph("--trace", files / "elementary.json", "-o", out)
    assert result.exit_code == 0, result.output
    C = trace.collapse("block", "fused")  # the file's fused view, folded from its elementary one
    nodes, edges, clusters = svg_parts(out)
    assert set(nodes) == set(C.nodes) | {"legend"}
    n_pos = len(C.graph["tokens"]) - 1
    # a cluster per position, per layer inside it, and the parameters' cluster with its layer cluster
    assert len(clusters) == 2 * n_pos + 2
    assert sum(1 for c in clusters if re.fullmatch(r"cluster_pos\d+", c)) == n_pos
    drawn = [(u, v) for u, v in C.edges if not u.startswith("param/")]
    assert set(edges) == {f"{u}->{v}" for u, v in drawn}
    d = C.nodes["pos1/layer0/attn"]
    tip = nodes["pos1/layer0/attn"]["tooltip"]
    assert (
        f"grad_norm: {d['grad_norm']!r}" in tip and f"nodes: {d['count']:,}" in tip and "scope: pos1/layer0/attn" in tip
    )
    assert "attn" in nodes["pos1/layer0/attn"]["text"] and f"{d['count']:,} ops" in nodes["pos1/layer0/attn"]["text"]
    assert numfmt.fixed(d["grad_norm"]) in nodes["pos1/layer0/attn"]["text"]
    # the KV cache: every earlier position's attention feeds every later one
    kv = [e for e in drawn if edge_kind(C, *e) == "kv"]
    assert len(kv) == n_pos * (n_pos - 1) // 2


@needs_dot
def test_edge_pen_width_grows_with_the_gradient_flow(trace, files, tmp_path):
    out = tmp_path / "stage.svg"
    assert graph("--trace", files / "elementary.json", "--level", "stage", "-o", out).exit_code == 0
    C = trace.collapse("stage")
    _, edges, _ = svg_parts(out)
    pairs = sorted(
        (C.edges[u, v]["grad_flow_abs"], edges[f"{u}->{v}"]["width"]) for u, v in C.edges if f"{u}->{v}" in edges
    )
    assert len(pairs) > 100
    widths = [w for _, w in pairs]
    assert all(a <= b + 1e-9 for a, b in zip(widths, widths[1:]))
    assert widths[-1] > 4 * widths[0]  # the scale is used, not flat


def test_pen_scale_is_monotone_and_bounded():
    pens = style.pen_scale([1e-9, 1e-3, 0.5, 2.0, 0.0])
    flows = [0, 1e-12, 1e-9, 1e-6, 1e-4, 1e-3, 0.01, 0.5, 1, 2, 5]
    widths = [pens.width(f) for f in flows]
    assert widths == sorted(widths) and widths[0] == style.MIN_PEN and widths[-1] == style.MAX_PEN
    assert pens.width(math.nan) == style.MAX_PEN and pens.width(-2.0) == pens.width(2.0)


def test_block_diagram_backward_highlight_and_params(trace):
    C = trace.collapse("block")
    G = trace.graph()
    paths = collapse_paths(G, [p["nodes"] for p in trace.top_paths("layer0.attn_wq[1,2]", 2)], "block")
    assert paths and paths[0][0] == "param/layer0.attn_wq" and paths[0][-1] == "loss"
    assert all(a != b for p in paths for a, b in zip(p, p[1:]))
    src = block_diagram(C, backward=True, highlight=paths).source
    assert src.count("dir=back") == sum(1 for u, _ in C.edges if not u.startswith("param/"))
    assert style.LIGHT.highlight in src
    hidden = block_diagram(C, params=False).source
    assert "param/" not in hidden and "param/wte" in block_diagram(C).source
    by_value = block_diagram(C, color="value").source
    assert "‖value‖, log scale" in by_value and "‖v‖" in by_value
    biggest = max((n for n in C if not n.startswith("param/")), key=lambda n: C.nodes[n]["data_norm"])
    assert numfmt.fixed(C.nodes[biggest]["data_norm"], 2) in by_value


def test_block_view_of_layers_and_a_dark_top_to_bottom_theme(trace):
    L = trace.collapse("layer")
    src = block_diagram(L, rankdir="TB", theme="dark").source
    assert "rankdir=TB" in src and style.DARK.background in src
    for n in L:
        assert f'"{n}"' in src or f"\t{n} " in src


def test_focused_collapsed_view_keeps_its_boundary_as_stubs(trace):
    C = trace.collapse("stage")
    H = focus_collapsed(C, "pos2")
    assert all(n.startswith(("pos2/", "param/")) for n in H)
    src = block_diagram(H).source
    stubs = [line for line in src.splitlines() if line.strip().startswith("stub_in") and "label=" in line]
    assert any("from pos0,1/layer0/attn/k" in line for line in stubs)  # the KV cache, one stub
    assert any("to loss/mean" in line for line in src.splitlines() if line.strip().startswith("stub_out"))
    kv_in = [line for line in src.splitlines() if "stub_in" in line and "->" in line]
    assert kv_in and all(style.LIGHT.kv in line for line in kv_in)


# --- scalar views ---------------------------------------------------------------------------------


@needs_dot
def test_scalar_view_of_a_head_shows_values_grads_ops_and_stubs(trace, files, tmp_path):
    out = tmp_path / "head.svg"
    result = graph("--trace", files / "fused.json", "--level", "scalar", "--focus", HEAD, "-o", out)
    assert result.exit_code == 0, result.output
    F = trace.graph("fused")
    inside = set(trace.scope_nodes(HEAD, "fused"))
    nodes, edges, clusters = svg_parts(out)
    values = {int(k[1:]) for k in nodes if k.startswith("n")}
    ops = {int(k[1:]) for k in nodes if k.startswith("o")}
    consts = {n for n in inside if F.nodes[n]["op"] == "const"}
    assert values == inside - consts  # constants are written in their op
    assert ops == {n for n in inside if F.nodes[n]["op"] not in ("param", "const", "leaf")}
    stubs = [k for k in nodes if k.startswith("stub_")]
    outside_in = {
        F.nodes[u]["scope"].split("/", 1)[1]
        for n in inside
        for u in F.predecessors(n)
        if u not in inside and F.nodes[u]["op"] != "const"
    }
    assert sum(k.startswith("stub_in") for k in stubs) == len(outside_in)  # q, k, v: one stub each
    assert any("to pos2/layer0/attn/wo" in nodes[k]["text"] for k in stubs)
    # a folded view draws a scope in each band it reaches ("...#1"), each band in a cluster_fold
    assert {c.split("/")[-1].split("#")[0] for c in clusters if "/" in c} == {"logits", "weights", "out"}
    # a known node: value and gradient in its label, every attribute in its tooltip
    n = next(n for n in sorted(values) if "key" in F.nodes[n])
    d = F.nodes[n]
    tip, text = nodes[f"n{n}"]["tooltip"], nodes[f"n{n}"]["text"]
    assert f"data {numfmt.fixed(d['data'])}" in text and f"grad {numfmt.fixed(d['grad'])}" in text
    for key in ("op", "scope", "pos", "head", "key"):
        assert f"{key}: {d[key]}" in tip
    assert f"data: {d['data']!r}" in tip and f"grad: {d['grad']!r}" in tip
    # an operand edge carries its gradient flow in the tooltip
    u, v = next((u, v) for u, v in F.in_edges(n) if u in values)
    assert f"grad_flow: {F.edges[u, v]['grad_flow']!r}" in edges[f"n{u}->o{v}"]["tooltip"]


@needs_dot
def test_scalar_view_around_a_parameter_entry(trace, files, tmp_path):
    out = tmp_path / "around.svg"
    result = graph(
        "--trace", files / "elementary.json", "--level", "scalar", "--around", "wpe[1,1]", "--hops", 1, "-o", out
    )
    assert result.exit_code == 0, result.output
    G = trace.graph()
    p = next(n for n, d in G.nodes(data=True) if d.get("param") == "wpe" and d["index"] == [1, 1])
    nodes, _, _ = svg_parts(out)
    tip = nodes[f"n{p}"]["tooltip"]
    for key in ("param: wpe", "index: [1, 1]", "new_data:", "adam_m:", "adam_v:", "update_ratio:"):
        assert key in tip
    assert "wpe[1,1]" in nodes[f"n{p}"]["text"]
    assert set(trace.around("wpe[1,1]", 1)) == {p, *G.successors(p)}
    assert trace.around(p, 0) == [p] and set(trace.around(p, 2)) > set(trace.around(p, 1))


def test_scalar_diagram_marks_nan_inf_and_zero_gradients():
    G = nx.DiGraph(view="elementary", step=0, loss=math.nan)
    G.add_node(0, op="param", data=1.0, grad=0.0, scope="param/wte", param="wte", index=[0, 0])
    G.add_node(1, op="const", data=2.0, grad=0.0, scope="pos0/embed/add")
    G.add_node(2, op="*", data=math.inf, grad=math.nan, scope="pos0/embed/add")
    G.add_edge(0, 2, local_grad=2.0, grad_flow=math.nan)
    G.add_edge(1, 2, local_grad=1.0, grad_flow=0.0)
    src = scalar_diagram(G, [0, 1, 2]).source
    zero = next(line for line in src.splitlines() if line.strip().startswith("n0 ["))
    bad = next(line for line in src.splitlines() if line.strip().startswith("n2 ["))
    assert "dashed" in zero and style.LIGHT.zero_fill in zero
    assert "penwidth=3" in bad and style.LIGHT.nonfinite_pen in bad and "data inf" in bad and "grad nan" in bad
    assert "× 2.00" in src  # the constant, written in its op
    assert "n1 [" not in src
    value = scalar_diagram(G, [0, 1, 2], color="value", backward=True, precision=5).source
    assert "dir=back" in value and "data 1.0000" in value


def test_guard_refuses_big_scalar_views_with_a_narrower_focus(trace):
    nodes = trace.scope_nodes("pos1", "elementary")
    with pytest.raises(ViewTooLarge, match=r"has [\d,]+ nodes, more than the limit of 500; pos1/\S+ fits") as e:
        check_size(trace.data("elementary").scope_of, nodes, 500, "pos1")
    assert e.value.narrower.startswith("pos1/") and e.value.count == len(nodes) and e.value.limit == 500
    check_size(trace.data("elementary").scope_of, nodes, len(nodes), "pos1")


def test_guard_through_the_command(files, tmp_path):
    args = [
        "--level",
        "scalar",
        "--focus",
        "pos1",
        "--view",
        "elementary",
        "--max-nodes",
        "500",
        "-o",
        tmp_path / "x.svg",
    ]
    line = assert_refused(graph("--trace", files / "elementary.json", *args), alone=True)
    assert "nodes, more than --max-nodes 500" in line and "--focus pos1/" in line and "--level block" in line
    assert not (tmp_path / "x.svg").exists()


# --- output formats and determinism ---------------------------------------------------------------


@needs_dot
def test_a_png_past_the_pixel_limit_is_refused_before_it_is_drawn(files, tmp_path, monkeypatch):
    """The layout's size at --dpi is checked before cairo allocates the image (one line, exit 2)."""
    monkeypatch.setenv("MICROTRACE_MAX_PIXELS", "0.5")  # half a megapixel: the block view at 1200 dpi is far more
    result = graph("--trace", files / "elementary.json", "-o", tmp_path / "big.png", "--dpi", "1200")
    line = assert_refused(result, alone=True)
    assert "pixels at 1200 dpi, above the limit of 0.5 megapixels" in line and "MICROTRACE_MAX_PIXELS" in line
    assert not (tmp_path / "big.png").exists()
    width, height = (float(x.replace(",", "")) for x in re.search(r"be ([\d,]+) x ([\d,]+) pixels", line).groups())
    # The size it refused is the size dot draws (less the page's padding): at 36 dpi the PNG has about
    # those pixels / (1200/36).
    monkeypatch.setenv("MICROTRACE_MAX_PIXELS", "1000")
    result = graph("--trace", files / "elementary.json", "-o", tmp_path / "small.png", "--dpi", "36")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "small.png") as im:
        assert 1 <= im.width / (width * 36 / 1200) < 1.05 and 1 <= im.height / (height * 36 / 1200) < 1.05


@needs_dot
def test_png_and_pdf_are_valid_files(trace, tmp_path):
    g = block_diagram(trace.collapse("block"))
    png = render(g, tmp_path / "b.png", dpi=60)
    with Image.open(png) as im:
        im.load()
        assert im.format == "PNG" and im.width > 300 and im.height > 300
        colors = im.convert("RGB").getcolors(maxcolors=1 << 20)
        assert len(colors) > 50  # drawn, not blank
    big = render(g, tmp_path / "b2.png", dpi=120)
    with Image.open(big) as im2:
        assert im2.width > 1.8 * Image.open(png).width  # --dpi scales the picture
    pdf = render(g, tmp_path / "b.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    assert re.search(rb"/CreationDate \(D:19700101000000", pdf)


@needs_dot
def test_same_input_gives_identical_bytes(trace, tmp_path):
    C = trace.collapse("stage")
    F = trace.graph("fused")
    for fmt in ("svg", "png", "pdf"):
        a = render_bytes(block_diagram(C), fmt, dpi=50)
        b = render_bytes(block_diagram(trace.collapse("stage")), fmt, dpi=50)
        assert a == b, fmt
    head = trace.scope_nodes(HEAD, "fused")
    s1 = render_bytes(scalar_diagram(F, head), "svg")
    s2 = render_bytes(scalar_diagram(F, list(reversed(head))), "svg")
    assert s1 == s2


def test_pdf_dates_are_fixed_in_place():
    raw = b"%PDF-1.5\n<< /Producer (cairo) /CreationDate (D:20261125032033+01'00') >>\nxref 123"
    fixed = fix_pdf_dates(raw)
    assert len(fixed) == len(raw) and b"(D:19700101000000+00'00')" in fixed


def test_dot_output_is_the_source(trace, files, tmp_path):
    out = tmp_path / "b.dot"
    assert graph("--trace", files / "elementary.json", "--no-params", "-o", out).exit_code == 0
    assert out.read_text() == block_diagram(trace.collapse("block", "fused"), params=False).source


# --- errors ---------------------------------------------------------------------------------------


def test_missing_dot_writes_the_source_and_exits_3(files, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = graph("--trace", files / "elementary.json", "-o", tmp_path / "fig.svg")
    line = assert_refused(result, code=3, alone=True)
    assert "sudo apt-get install graphviz" in line and "brew install graphviz" in line
    assert (tmp_path / "fig.dot").read_text().startswith("digraph")
    assert not (tmp_path / "fig.svg").exists()
    with pytest.raises(DotNotFound):
        render_bytes("digraph { a }", "png")


@pytest.mark.slow  # the test above end to end, in a process of its own (~0.7 CPU-s)
def test_missing_dot_through_the_installed_command(files, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty))
    code = "from microtrace.cli import main; main()"
    args = [
        sys.executable,
        "-c",
        code,
        "graph",
        "--trace",
        str(files / "elementary.json"),
        "-o",
        str(tmp_path / "f.png"),
    ]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert (tmp_path / "f.dot").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--level", "blocks"], "Invalid value for '--level'"),
        (["--level", "scalar", "--focus", "pos9/layer0"], "no scope 'pos9/layer0'"),
        (["--level", "stage", "--focus", "pos9"], "no scope 'pos9'"),
        (["--level", "scalar", "--around", "wq[99,0]"], "no parameter matrix 'wq'"),
        (["--level", "scalar"], "--level scalar needs --focus"),
        (["--around", "3"], "--around draws scalar nodes"),
        (["--highlight", "2"], "--highlight K needs --target"),
        (["--rankdir", "RL"], "Invalid value for '--rankdir'"),
    ],
)
def test_bad_options_are_one_line_exit_2(files, tmp_path, args, message):
    result = graph("--trace", files / "elementary.json", "-o", tmp_path / "x.svg", *args)
    assert message in assert_refused(result, alone=True)


def test_a_file_of_the_fused_view_has_no_elementary_one_but_a_file_of_the_elementary_view_has_both(files, tmp_path):
    scalar = ["--level", "scalar", "--focus", HEAD, "-o", tmp_path / "x.svg"]
    refused = graph("--trace", files / "fused.json", *scalar, "--view", "elementary")
    assert "holds the fused view" in assert_refused(refused, alone=True)
    result = graph("--trace", files / "elementary.json", *scalar, "--view", "fused")  # folded from it
    assert result.exit_code == 0, result.output


def test_bad_extension_is_refused_before_tracing(tmp_path):
    result = graph("--run", tmp_path / "no-such-run", "--step", 1, "-o", tmp_path / "x.jpg")
    assert ".jpg is not a figure format" in assert_refused(result, alone=True)
    with pytest.raises(RenderError, match="use .svg, .png, .pdf, .dot"):
        render("digraph { a }", tmp_path / "x")


@needs_dot
def test_works_from_a_run_directory(tmp_path):
    from microtrace.cli import cli

    data = tmp_path / "names.txt"
    data.write_text("emma\nolivia\nava\n")
    train = ["train", "--data", data, "--steps", "3", "--n-embd", "8", "--n-head", "2", "--block-size", "8",
             "--samples", "0", "--out", tmp_path / "run"]  # fmt: skip
    result = CliRunner().invoke(cli, [str(a) for a in train])
    assert result.exit_code == 0, result.output
    out = tmp_path / "s.svg"
    args = [
        "graph",
        "--run",
        tmp_path / "run",
        "--step",
        1,
        "--level",
        "scalar",
        "--focus",
        "pos1/layer0/attn/head0",
        "-o",
        out,
    ]
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    nodes, _, _ = svg_parts(out)
    assert any(k.startswith("o") for k in nodes)  # fused by default: dot nodes
    assert "(fused view)" in out.read_text()
