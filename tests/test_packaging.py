"""What an installed mlpc carries besides code: its own license and the bundled OpenBLAS's."""
import os
import re

import pytest

import mlpc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.dirname(mlpc._core.__file__)


def test_the_bundled_openblas_has_its_license_beside_it():
    if not os.path.exists(os.path.join(PACKAGE, "libscipy_openblas.so")):
        pytest.skip("built against a system OpenBLAS (MLPC_BLAS=system): nothing is bundled")
    with open(os.path.join(PACKAGE, "OPENBLAS_LICENSE.txt"), encoding="utf-8") as f:
        text = f.read()
    assert "Name: OpenBLAS" in text and "BSD" in text and "libgfortran" in text


def test_the_license_file_is_the_mit_license_pyproject_names():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        assert re.search(r'^license = "MIT"$', f.read(), re.M)
    with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as f:
        text = f.read()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_the_type_information_ships_with_the_package():
    assert os.path.exists(os.path.join(PACKAGE, "py.typed"))
    assert os.path.exists(os.path.join(PACKAGE, "_core.pyi"))
