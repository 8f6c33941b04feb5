"""Imports flow one way: data -> hypermodel -> tuner -> narrowing -> ... -> CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Each module may import only modules listed before it (private helpers excepted).
ORDER = ["errors", "_native_logs", "interrupts", "data", "objectives", "outputs",
         "hypermodel_specs", "cluster", "backends", "tensorboard", "fitting", "tuners",
         "narrowing", "manifest", "progress", "chief", "worker", "supervisor", "results",
         "retraining", "plots", "report", "workflow", "coarse_to_fine"]


def _tunekit_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tunekit"):
            if node.module == "tunekit":
                found |= {alias.name for alias in node.names}
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("tunekit.")}
    return found


def test_every_module_is_placed_in_the_order():
    modules = {p.stem for p in (ROOT / "tunekit").glob("*.py")}
    assert modules - {"__init__", "_io", "_faults", "_log", "_kerastuner"} == set(ORDER)


@pytest.mark.parametrize("module", ORDER)
def test_no_module_reaches_back_upstream(module):
    allowed = set(ORDER[:ORDER.index(module)]) | {"_io", "_faults", "_log", "_kerastuner"}
    imported = _tunekit_imports(ROOT / "tunekit" / f"{module}.py")
    assert imported <= allowed, f"tunekit.{module} imports {sorted(imported - allowed)}"


def test_hypermodels_never_import_tunekit():
    for path in (ROOT / "hypermodels").glob("*.py"):
        assert not _tunekit_imports(path) and "import tunekit" not in path.read_text(), path


def test_light_modules_and_cli_help_do_not_load_keras():
    code = ("import sys, tunekit, tunekit.data, tunekit.backends, tunekit.coarse_to_fine; "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
