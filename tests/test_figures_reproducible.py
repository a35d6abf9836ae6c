"""The committed figures regenerate byte-identically: an experiment gives the same numbers on
every run and for any thread count, and a drawn figure gives the same PNG bytes (no time stamp,
no state left over from an earlier figure). Across machines OpenBLAS's CPU-specific kernels
round differently: benchmarks/make_figures.py pins one (see its docstring)."""
import hashlib
import io

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")

import mlpc  # noqa: E402
from mlpc.experiments import EXPERIMENTS  # noqa: E402


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_batchnorm_run_and_its_curves_repeat_for_any_thread_count():
    # η = 0.5 with batch norm is the run that amplifies round-off into a visibly different curve
    params = dict(quick=True, lrs=(0.5,), steps=8, hist_steps=(0,), eval_every=4, seed=1,
                  eval_size=200, val_size=200, train_size=400)
    before = mlpc.get_num_threads()
    runs = []
    try:
        for threads in (1, 2, 1):
            mlpc.set_num_threads(threads)
            r = EXPERIMENTS["batchnorm_cifar"](**params)
            png = io.BytesIO()
            r.curves_figure().savefig(png, dpi=40, format="png")
            runs.append((r.to_json(), png.getvalue()))
    finally:
        mlpc.set_num_threads(before)
    assert runs[1] == runs[0] and runs[2] == runs[0]


def test_png_files_carry_no_time_or_version_that_changes(tmp_path):
    epochs = int(np.random.default_rng().integers(5, 30))
    r = EXPERIMENTS["slow_learning"](quick=True, epochs=epochs)
    r.save(tmp_path / "a", dpi=30)
    r.save(tmp_path / "b", dpi=30)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    data = (tmp_path / "a" / "slow_learning_curves.png").read_bytes()
    assert b"tIME" not in data                    # no PNG time chunk
