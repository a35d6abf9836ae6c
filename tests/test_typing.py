"""The annotations hold: mypy accepts the package, and a user's script written from the README
(tests/typing/user_script.py) passes `mypy --strict` against them. Skipped without mypy."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("mypy")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mypy(*args):
    env = {**os.environ, "MYPYPATH": os.path.join(ROOT, "python")}
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *args], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    return run.returncode, run.stdout + run.stderr


def test_a_users_script_passes_mypy_strict():
    code, out = mypy("--config-file", "tests/typing/mypy.ini", "tests/typing/user_script.py")
    assert code == 0, out


def test_mypy_finds_a_misuse(tmp_path):
    """The check can fail: a wrong call in the same setting is an error."""
    script = tmp_path / "wrong.py"
    script.write_text("import mlpc\nnet = mlpc.Sequential(mlpc.Linear(2, 3))\n"
                      "cost: str = net.cost([[1.0, 2.0]], [0], mlpc.SoftmaxCrossEntropy())\n"
                      "mlpc.Linear(2, 'three')\n")
    code, out = mypy("--config-file", "tests/typing/mypy.ini", str(script))
    assert code == 1 and "wrong.py:3" in out and "wrong.py:4" in out, out
