"""The README runs as written: its ```python blocks, in order, in one namespace, in a temporary
folder (the examples write model files).

Conventions for README authors:
- Every ```python block runs, and later blocks may use the names earlier ones defined.
- An HTML comment on the line just above a block, `<!-- readme-test: skip: REASON -->`, skips
  that block (GitHub does not render the comment); say why. Keep such blocks rare.
- `<!-- readme-test: raises ERROR -->` above a block that shows a failure (a wrong gradient
  caught): the block must raise that exception (by class name); the rest runs on.
- The lecture experiments run with their quick settings: the test makes every experiment's
  QUICK parameters its defaults, so `init_histograms.run(...)` takes a second, not a minute.
- Matplotlib runs headless (Agg); scikit-learn blocks need scikit-learn (the whole test is skipped
  without it, since later blocks may build on them).
"""
import importlib
import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SKIP = re.compile(r"<!-- readme-test: skip: (.+?) -->\n$")
RAISES = re.compile(r"<!-- readme-test: raises (\w+) -->\n$")


def readme_blocks():
    """(line number, code, skip reason or None, expected exception name or None) for every
    ```python block of the README."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    blocks = []
    for m in FENCE.finditer(text):
        before = text[:m.start()]
        line = before.count("\n") + 1
        previous_line = before[before.rstrip("\n").rfind("\n") + 1:]
        skip, raises = SKIP.search(previous_line), RAISES.search(previous_line)
        blocks.append((line, m.group(1), skip.group(1) if skip else None,
                       raises.group(1) if raises else None))
    return blocks


def test_the_readme_has_blocks_and_the_skip_marker_is_recognized():
    blocks = readme_blocks()
    assert len(blocks) >= 6
    assert SKIP.search("<!-- readme-test: skip: too slow -->\n").group(1) == "too slow"
    assert RAISES.search("<!-- readme-test: raises ValueError -->\n").group(1) == "ValueError"


def test_the_readme_python_blocks_run_in_order(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.chdir(tmp_path)
    from mlpc.experiments import EXPERIMENTS
    for name in EXPERIMENTS:
        module = importlib.import_module(f"mlpc.experiments.{name}")
        monkeypatch.setattr(module, "DEFAULTS", {**module.DEFAULTS, **module.QUICK})
    namespace = {"__name__": "__readme__"}
    ran = 0
    try:
        for line, code, skip, raises in readme_blocks():
            if skip:
                continue
            try:
                exec(compile(code, f"README.md, block at line {line}", "exec"), namespace)
            except Exception as e:
                if type(e).__name__ != raises:
                    raise AssertionError(f"the README block at line {line} fails: "
                                         f"{type(e).__name__}: {e}") from e
            else:
                assert raises is None, f"the README block at line {line} should raise {raises}"
            ran += 1
            plt.close("all")
    finally:
        plt.close("all")
    assert ran >= 6


def test_the_readme_states_fits_real_signature():
    """README's `mlpc.fit(...)` line names every parameter with its real default."""
    import inspect
    import mlpc
    with open(README, encoding="utf-8") as f:
        text = f.read()
    documented = re.search(r"`mlpc\.fit\((.*?)\)`", text, re.S).group(1)
    real = ", ".join(name if p.default is p.empty else f"{name}={p.default!r}"
                     for name, p in inspect.signature(mlpc.fit).parameters.items())
    assert re.sub(r"\s+", " ", documented).replace('"', "'") == real
