"""fit's progress bar inside a Jupyter kernel: a cell is executed by nbclient and its outputs
read back — one display output per epoch, updated in place, nothing on stderr."""
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

import mlpc  # noqa: E402

MLPC_PARENT = str(Path(mlpc.__file__).resolve().parent.parent)

CELL = f"""
import sys
sys.path.insert(0, {MLPC_PARENT!r})
import numpy as np
import mlpc
rng = np.random.default_rng(0)
X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
net = mlpc.Sequential(mlpc.Linear(5, 3), seed=0)
history = mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=2,
                   batch_size=10)
"""


def test_fit_shows_a_live_bar_in_a_notebook_and_progress_false_nothing(kernel_name):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL),
                nbformat.v4.new_code_cell(CELL.replace("batch_size=10)",
                                                       "batch_size=10, progress=False)"))]
    nbclient.NotebookClient(nb, kernel_name=kernel_name, timeout=60).execute()
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"], outputs
    displays = [o for o in outputs if o.output_type == "display_data"]
    # one output per epoch, drawn at the first batch and then replaced by its updates
    # (nbclient applies update_display_data to the output with the same display id): the last
    # state shows the whole epoch
    assert len(displays) == 2, outputs
    for epoch, out in enumerate(displays, 1):
        text, page = out.data["text/plain"], out.data["text/html"]
        assert text.startswith(f"epoch {epoch}/2 [") and "40/40" in text
        assert "cost" in text and "acc" in text and "/s" in text
        assert '<progress value="40" max="40"' in page and f"epoch {epoch}/2" in page
    assert not [o for o in outputs if o.output_type == "stream" and "epoch" in o.text]
    assert nb.cells[1].outputs == []
