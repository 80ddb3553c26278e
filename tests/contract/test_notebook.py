"""examples/notebook.ipynb runs top to bottom in a real kernel (nbclient) and shows every figure inline:
the figure functions return objects a notebook displays, not bare strings or files."""

import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.ipynb"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_the_example_notebook_runs_and_shows_every_figure(tmp_path):
    # imported here, not at collection: a `make test` worker would pay for them without running this
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    shown = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source
        kinds = {k for o in cell.outputs if o.output_type in ("execute_result", "display_data") for k in o.data}
        shown.append((cell.source, kinds))
    figures = [(src, kinds) for src, kinds in shown if "figure(" in src.splitlines()[-1]]
    assert len(figures) >= 7
    for src, kinds in figures:
        assert kinds & {"image/png", "image/svg+xml"}, src  # a picture, not text
    trace_cell = next(kinds for src, kinds in shown if src.rstrip().endswith("trace"))
    assert "text/html" in trace_cell  # Trace._repr_html_
