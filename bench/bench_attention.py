"""Speed of attention figures on the default model and data (bench/run.py calls `bench_attention`).

Targets: one step's figure in < 1 s once its trace exists; a 20-frame GIF across a whole 1000-step run
in < 60 s (one Trainer advanced between frames, never a replay per frame).

Run alone: python bench/bench_attention.py
"""

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.timing import print_results, timed  # noqa: E402
from microtrace.engine.data import load_dataset  # noqa: E402
from microtrace.engine.run import create_run  # noqa: E402
from microtrace.engine.train import TrainConfig  # noqa: E402
from microtrace.tracer import load_trace, save_trace, trace_step  # noqa: E402
from microtrace.tracer.analysis.attention import attention_series  # noqa: E402
from microtrace.viz.attention import animate, png_bytes  # noqa: E402
from microtrace.viz.attention.figure import attention_figure, contact_sheet_of, series_frames  # noqa: E402

RUN_STEPS = 1000
FRAMES = range(0, RUN_STEPS, RUN_STEPS // 20)  # 20 frames spanning the whole run
TEXT = "emma"


def bench_attention():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # A fresh run holds only its step-0 checkpoint: every frame's state comes from training, the
        # worst case for --steps (a trained run would start from its nearest checkpoint instead).
        run = create_run(tmp / "run", load_dataset(None), TrainConfig(steps=RUN_STEPS, seed=42))
        trace = trace_step(run, 0)
        image, t_figure = timed(attention_figure, trace)
        png, t_png = timed(png_bytes, image)
        save_trace(trace.graph(), tmp / "s0.json")
        loaded = load_trace(tmp / "s0.json")
        loaded.graph()
        _, t_file_figure = timed(attention_figure, loaded)
        _, t_grad = timed(attention_figure, trace, grad=True)

        series, t_series = timed(attention_series, run, TEXT, FRAMES)
        (frames, labels), t_frames = timed(series_frames, series)
        gif, t_gif = timed(animate, frames, labels)
        sheet, t_sheet = timed(contact_sheet_of, series)
        _, t_sheet_png = timed(png_bytes, sheet)
    total = t_series + t_frames + t_gif + t_sheet + t_sheet_png
    return {
        "figure s, live trace (read + draw, < 1)": t_figure,
        "figure s, from a trace file (< 1)": t_file_figure,
        "grad figure s": t_grad,
        "PNG encode s": t_png,
        "PNG KB": len(png) / 1e3,
        f"GIF: {len(FRAMES)} frames over {RUN_STEPS} steps, total s (< 60)": total,
        "  trainer + traces s (1000 steps trained once)": t_series,
        "  frames drawn s": t_frames,
        "  GIF encode s": t_gif,
        "  contact sheet s": t_sheet + t_sheet_png,
        "GIF MB": len(gif) / 1e6,
    }


if __name__ == "__main__":
    print_results(bench_attention())
