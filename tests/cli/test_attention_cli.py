"""`microtrace attention` end to end: the numbers are the tracer's, the pixels follow them, files are
deterministic, animations have every frame, and bad input is one line with exit code 2."""

import io
import json
import math
import shutil

import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import invoke
from microtrace.cli import cli
from microtrace.engine.run import open_run
from microtrace.tracer import trace_step, trace_text
from microtrace.tracer.analysis.attention import attention_of, read_attention
from microtrace.viz.attention import png_bytes
from microtrace.viz.attention.figure import attention_figure, attention_over_steps, grid_layout_of
from microtrace.viz.draw import colormap


def attention(*args):
    return invoke("attention", *args)


def ok(*args):
    result = attention(*args)
    assert result.exit_code == 0, result.output
    return result


def weight_nodes(G, field="data"):
    """{(layer, head, query, key): value} of the tracer's attention-weight nodes."""
    return {
        (d["layer"], d["head"], d["pos"], d["key"]): d[field]
        for _, d in G.nodes(data=True)
        if d.get("stage") == "weights" and "key" in d
    }


def as_cells(attention):
    return {
        (li, hi, q, k): v
        for li, layer in enumerate(attention)
        for hi, rows in enumerate(layer)
        for q, row in enumerate(rows)
        for k, v in enumerate(row)
    }


def test_json_is_the_tracers_weight_nodes_and_pixels_follow_them(run_dir, tmp_path):
    ok("--run", run_dir, "--step", 4, "--json", tmp_path / "a.json", "-o", tmp_path / "a.png")
    record = json.loads((tmp_path / "a.json").read_text())
    trace = trace_step(run_dir, 4)
    G = trace.graph()  # the elementary graph of docs/trace-format.md
    assert as_cells(record["attention"]) == weight_nodes(G)  # exactly equal floats, every node
    assert record["step"] == 4 and record["text"] == G.graph["doc"] and record["training"] is True
    assert record["loss"] == G.graph["loss"]
    assert record["tokens"] == G.graph["chars"][: len(record["tokens"])] and record["tokens"][0] == "<BOS>"
    assert len(record["tokens"]) == len(record["attention"][0][0])
    assert "grad" not in record
    for layer in record["attention"]:
        for rows in layer:
            for q, row in enumerate(rows):
                assert len(row) == q + 1 and math.isclose(math.fsum(row), 1.0, abs_tol=1e-12)

    img = Image.open(tmp_path / "a.png").convert("RGB")
    data = read_attention(trace)
    lay = grid_layout_of(data)
    assert img.size == lay.size
    for li, layer in enumerate(record["attention"]):
        for hi, rows in enumerate(layer):
            for q, row in enumerate(rows):
                colours = [img.getpixel(lay.cell_center(li, hi, q, k)) for k in range(q + 1)]
                assert colours == [colormap.viridis(v) for v in row]
                lum = [colormap.luminance(c) for c in colours]
                assert lum[row.index(max(row))] == max(lum)  # the brightest cell is the row's argmax
            # the masked upper triangle is not painted with any weight colour
            for q in range(len(rows) - 1):
                assert img.getpixel(lay.cell_center(li, hi, q, len(rows) - 1)) not in {
                    colormap.viridis(v) for r in rows for v in r
                }


def test_grad_and_text(run_dir, tmp_path):
    ok(
        "--run",
        run_dir,
        "--step",
        3,
        "--text",
        "emma",
        "--grad",
        "--json",
        tmp_path / "g.json",
        "-o",
        tmp_path / "g.png",
    )
    record = json.loads((tmp_path / "g.json").read_text())
    G = trace_text(run_dir, 3, "emma").graph()
    assert record["tokens"] == ["<BOS>", "e", "m", "m", "a"] and record["text"] == "emma"
    assert record["training"] is False and record["step"] == 3
    assert as_cells(record["attention"]) == weight_nodes(G)
    assert as_cells(record["grad"]) == weight_nodes(G, "grad")
    img = Image.open(tmp_path / "g.png").convert("RGB")
    data = read_attention(trace_text(run_dir, 3, "emma"))
    lay = grid_layout_of(data, grad=True)
    vmax = max(abs(v) for v in as_cells(record["grad"]).values())
    for (li, hi, q, k), v in as_cells(record["grad"]).items():
        assert img.getpixel(lay.cell_center(li, hi, q, k)) == colormap.diverging(v, vmax)


def test_trace_file_works_without_the_run_and_matches_it(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    assert (
        CliRunner().invoke(cli, ["trace", "--run", str(copy), "--step", "2", "-o", str(tmp_path / "s2.json")]).exit_code
        == 0
    )
    shutil.rmtree(copy)
    ok("--trace", tmp_path / "s2.json", "--json", tmp_path / "f.json", "-o", tmp_path / "f.png")
    ok("--run", run_dir, "--step", 2, "--json", tmp_path / "r.json", "-o", tmp_path / "r.png")
    # a file's elementary view and a live trace's fused view hold the same weight nodes: same bytes
    assert (tmp_path / "f.json").read_bytes() == (tmp_path / "r.json").read_bytes()
    assert (tmp_path / "f.png").read_bytes() == (tmp_path / "r.png").read_bytes()


def test_per_token_and_values(run_dir, tmp_path):
    for args in (["--per-token"], ["--per-token", "--head", "1", "--grad"], ["--values", "--scale", "1.5"]):
        ok("--run", run_dir, "--step", 1, "--text", "ava", *args, "-o", tmp_path / "p.png")
        assert Image.open(tmp_path / "p.png").format == "PNG"


def test_steps_gif_contact_sheet_json_and_determinism(run_dir, tmp_path):
    for name in ("a", "b"):
        ok(
            "--run",
            run_dir,
            "--steps",
            "1:6:2",
            "--jobs",  # one process: --jobs is tests/cli/test_jobs.py's subject (a worker is a fresh interpreter)
            "1",
            "--text",
            "mia",
            "--grad",
            "-o",
            tmp_path / f"{name}.gif",
            "--json",
            tmp_path / f"{name}.json",
        )
    gif = Image.open(tmp_path / "a.gif")
    assert gif.format == "GIF" and gif.n_frames == len(range(1, 6, 2))
    assert Image.open(tmp_path / "a-sheet.png").format == "PNG"
    for suffix in (".gif", "-sheet.png", ".json"):
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["text"] == "mia" and doc["steps"] == [1, 3, 5]
    assert [f["step"] for f in doc["frames"]] == [1, 3, 5]
    # advancing one trainer between frames gives exactly what a fresh replay to that step gives
    last = trace_text(run_dir, 5, "mia").graph()
    assert as_cells(doc["frames"][-1]["attention"]) == weight_nodes(last)
    assert as_cells(doc["frames"][-1]["grad"]) == weight_nodes(last, "grad")


def test_steps_default_text_is_the_document_of_step_a(run_dir, tmp_path):
    ok("--run", run_dir, "--steps", "2:4", "--jobs", 1, "--json", tmp_path / "d.json")
    doc = json.loads((tmp_path / "d.json").read_text())
    assert doc["text"] == trace_step(run_dir, 2).graph().graph["doc"][:8]
    assert len(doc["frames"]) == 2 and not (tmp_path / "d-sheet.png").exists()


def test_same_inputs_give_identical_png_bytes(run_dir, tmp_path):
    ok("--run", run_dir, "--step", 0, "-o", tmp_path / "1.png")
    ok("--run", run_dir, "--step", 0, "-o", tmp_path / "2.png")
    assert (tmp_path / "1.png").read_bytes() == (tmp_path / "2.png").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.png", "2.png"]  # no temporary files left


@pytest.mark.parametrize(
    "args, message",
    [
        (["--run", "{run}", "--step", "1", "--text", "Emma!", "-o", "{tmp}/x.png"], "'!', 'E'"),
        (["--run", "{run}", "--step", "1", "--text", "emmaemmaem", "-o", "{tmp}/x.png"], "block_size = 8"),
        (["--run", "{run}", "--steps", "0:4", "--text", "emmaemmaem", "-o", "{tmp}/x.gif"], "block_size = 8"),
        (["--run", "{run}", "--step", "6", "-o", "{tmp}/x.png"], "is the trained model"),
        (["--run", "{run}", "--step", "-1", "--text", "ava", "-o", "{tmp}/x.png"], "out of range"),
        (["--run", "{run}", "--steps", "0:8:1", "-o", "{tmp}/x.gif"], "goes past the run"),
        (
            ["--run", "{run}", "--steps", "0:6:1", "--max-frames", "3", "-o", "{tmp}/x.gif"],
            "the limit if you mean 6 frames; raise it with --max-frames",
        ),
        (
            ["--run", "{run}", "--steps", "0:6:1", "--max-frames", "301", "-o", "{tmp}/x.gif"],
            "301 is not in the range 1<=x<=300",
        ),
        (["--run", "{run}", "--steps", "3:3:1", "-o", "{tmp}/x.gif"], "is empty"),
        (["--run", "{run}", "--steps", "0:4:0", "-o", "{tmp}/x.gif"], "at least 1"),
        (["--run", "{run}", "--steps", "-1:4:1", "-o", "{tmp}/x.gif"], "not A:B:S"),
        (["--run", "{run}", "--steps", "0-4", "-o", "{tmp}/x.gif"], "not A:B:S"),
        (["--run", "{run}", "--steps", "0:4", "-o", "{tmp}/x.png"], ".gif"),
        (["--trace", "{tmp}/x.json", "--steps", "0:4", "-o", "{tmp}/x.gif"], "--run"),
        (["--run", "{run}", "--step", "1", "-o", "{tmp}/x.gif"], "needs --steps"),
        (["--run", "{run}", "--step", "1", "-o", "{tmp}/x.jpg"], ".png, .svg or .pdf"),
        (["--run", "{run}", "--step", "1", "--per-token", "--head", "2", "-o", "{tmp}/x.png"], "head 2"),
        (["--run", "{run}", "--step", "1", "--per-token", "--layer", "1", "-o", "{tmp}/x.png"], "layer 1"),
        (["--run", "{run}", "--step", "1", "--scale", "0", "-o", "{tmp}/x.png"], "scale"),
        (["--run", "{run}", "--step", "1"], "nothing to write"),
        (["--trace", "{tmp}/missing.json", "-o", "{tmp}/x.png"], "no such trace file"),
        (["--run", "{tmp}/nope", "--step", "1", "-o", "{tmp}/x.png"], "no such run directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_dir, tmp_path, args, message):
    result = attention(*[a.format(run=run_dir, tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.gif").exists()


def test_library_returns_images(run_dir):
    trace = trace_text(run_dir, 2, "ava")
    attention, labels, meta = attention_of(trace)
    assert labels == ["<BOS>", "a", "v", "a"] and len(meta["grad"]) == len(attention)
    assert isinstance(attention_figure(trace, grad=True), Image.Image)
    frames, labels = attention_over_steps(run_dir, "ava", range(0, 3), per_token=True, head=0)
    assert labels == ["step 0", "step 1", "step 2"] and all(isinstance(f, Image.Image) for f in frames)
    image = Image.open(io.BytesIO(png_bytes(frames[0])))
    assert image.size == frames[0].size


def test_text_reads_with_the_trained_model_after_the_last_update(run_dir, tmp_path):
    """--step STEPS is the model after the last update: the trained model a reader wants to look at."""
    steps = open_run(run_dir).steps
    ok("--run", run_dir, "--step", steps, "--text", "ava", "--json", tmp_path / "final.json")
    doc = json.loads((tmp_path / "final.json").read_text())
    assert doc["step"] == steps
    final = open_run(run_dir).latest()  # the checkpoint written after the last update
    assert final.step == steps
    expected = read_attention(trace_text(final, steps, "ava"))
    assert doc["attention"] == expected.attention
    ok(
        "--run",
        run_dir,
        "--steps",
        f"0:{steps + 1}:{steps}",
        "--jobs",
        1,
        "--text",
        "ava",
        "--json",
        tmp_path / "ends.json",
    )
    assert json.loads((tmp_path / "ends.json").read_text())["steps"] == [0, steps]
