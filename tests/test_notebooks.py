"""Execute every notebook in notebooks/ top to bottom with QUICK = True (nbclient, headless).

The notebooks are stored without outputs. Each is run in a fresh python3 kernel of *this*
interpreter: a kernel spec pointing at sys.executable is written to a temporary directory that
is put first on JUPYTER_PATH (so a user-level "python3" kernel of another Python cannot be
picked up), and the injected first cell puts this test run's mlpc first on sys.path, selects
the Agg backend and sets QUICK = True (placed after the notebook's "parameters" cell, which
papermill would use the same way).
"""
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

import mlpc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01_backprop_gradcheck", "02_init_activations", "03_gradient_bounds",
            "04_batch_normalization", "05_slow_learning_cross_entropy",
            "06_capacity_regularization", "07_optimization_schedules"]
# the directory that holds the mlpc package this test imports (in-place build or install)
MLPC_PARENT = str(Path(mlpc.__file__).resolve().parent.parent)


def injected_source():
    return (f"import sys\n"
            f"sys.path.insert(0, {MLPC_PARENT!r})\n"
            f"import matplotlib\n"
            f"matplotlib.use('Agg')\n"
            f"QUICK = True")


def _is_parameters(cell):
    return cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", [])


def test_every_topic_has_a_notebook():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_clean(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "no code cells"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, "stored with outputs"
    # a QUICK parameter first, then `import mlpc`, and some explanation
    assert _is_parameters(code[0]) and "QUICK" in code[0].source
    assert any("import mlpc" in c.source or "from mlpc" in c.source for c in code)
    assert nb.cells[0].cell_type == "markdown"
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, kernel_name):
    nb = nbformat.read(str(path), as_version=4)
    params = [i for i, c in enumerate(nb.cells) if _is_parameters(c)]
    at = params[0] + 1 if params else 0
    nb.cells.insert(at, nbformat.v4.new_code_cell(injected_source()))
    client = nbclient.NotebookClient(nb, kernel_name=kernel_name, timeout=120,
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()        # raises CellExecutionError (with the traceback) if a cell fails
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors


def test_figures_show_once_in_a_notebook(kernel_name):
    """Jupyter's inline backend shows every figure pyplot knows at the end of a cell, and a
    Figure that is the cell's value once more: mlpc's figures must appear exactly once."""
    cells = [
        f"import sys\nsys.path.insert(0, {MLPC_PARENT!r})\nimport numpy as np\nimport mlpc\n"
        f"import mlpc.plot\nrng = np.random.default_rng(0)\n"
        f"X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)\n"
        f"net = mlpc.Sequential(mlpc.Linear(5, 3), seed=0)\n"
        f"h = mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=2, "
        f"batch_size=10, progress=False)",
        "h.plot()",                                              # a Figure as the cell's value
        "fig = mlpc.plot.line_plot(None, {'a': [1.0, 2.0]})",    # assigned: not shown
        "fig",                                                   # shown when asked
        "from mlpc.experiments import EXPERIMENTS\n"
        "r = EXPERIMENTS['gradient_bounds'](quick=True)\nr.plot()",   # each figure once
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbclient.NotebookClient(nb, kernel_name=kernel_name, timeout=120).execute()

    def images(cell):
        assert not [o for o in cell.outputs if o.output_type == "error"]
        return sum("image/png" in o.get("data", {}) for o in cell.outputs)

    assert [images(c) for c in nb.cells] == [0, 1, 0, 1, 2]
