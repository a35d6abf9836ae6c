"""The package's core modules import one another one way, so a reader can take them in from the
bottom up: layer descriptions → blocks → the network → optimizers → serialization. What an
earlier module needs from a later one (Sequential.train_step's optimizer type, net.save,
net.to_torch, pickling, a layer computing alone in a network) the later one registers in
mlpc._registry when it is imported."""
import ast
import os
import subprocess
import sys

import pytest

import mlpc

ORDER = ["layers", "blocks", "network", "optim", "serialize"]
PACKAGE = os.path.dirname(os.path.abspath(mlpc.__file__))


def is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def package_imports(path):
    """Every mlpc module the file imports, at the top or inside a function, leaving out blocks
    under `if TYPE_CHECKING:` (annotations only, never run)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = set()

    def visit(node):
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] == "mlpc":
            parts = node.module.split(".")
            found.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith("mlpc."))
        for child in ast.iter_child_nodes(node):
            visit(child)
    visit(tree)
    return found


@pytest.mark.parametrize("module", ORDER)
def test_no_module_imports_a_later_one(module):
    later = set(ORDER[ORDER.index(module) + 1:])
    imported = package_imports(os.path.join(PACKAGE, module + ".py"))
    assert not imported & later, \
        f"mlpc.{module} imports {sorted(imported & later)}, which come after it"


def test_the_check_sees_imports_inside_functions_and_skips_type_checking_blocks(tmp_path):
    # the parser on a module written for the purpose
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .optim import X\n"
              "def f():\n    from .serialize import save\n    import mlpc.blocks\n")
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    assert package_imports(path) == {"serialize", "blocks"}


def test_the_modules_import_bottom_up_in_a_fresh_interpreter():
    """Each module imported in turn, lowest first, into an interpreter where mlpc/__init__ (which
    imports everything) has not run: none pulls in a module listed after it."""
    code = f"""
import importlib, sys, types
package = types.ModuleType("mlpc")
package.__path__ = [{PACKAGE!r}]
sys.modules["mlpc"] = package
ORDER = {ORDER!r}
for i, name in enumerate(ORDER):
    importlib.import_module("mlpc." + name)
    loaded = {{m.split(".")[1] for m in sys.modules if m.startswith("mlpc.")}}
    assert not loaded & set(ORDER[i + 1:]), (name, sorted(loaded & set(ORDER[i + 1:])))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
