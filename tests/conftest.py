"""Fixtures shared by several test files."""
import os
import sys

import pytest

import mlpc


@pytest.fixture
def no_training(monkeypatch):
    """Any network built fails the test: a bad parameter must be refused before training."""
    def refuse(*args, **kwargs):
        raise AssertionError("a network was built before the parameters were checked")
    monkeypatch.setattr(mlpc, "Sequential", refuse)


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A "python3" kernel spec for sys.executable, first on JUPYTER_PATH for this module (the
    notebook tests run their cells in this interpreter, with this test run's mlpc)."""
    pytest.importorskip("ipykernel")
    from ipykernel.kernelspec import write_kernel_spec
    base = tmp_path_factory.mktemp("jupyter")
    write_kernel_spec(base / "kernels" / "python3")
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(base)] + ([old] if old else []))
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        spec = KernelSpecManager().get_kernel_spec("python3")
        assert spec.argv[0] == sys.executable, spec.argv
        yield "python3"
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
