"""Imports flow one way: data -> tuners -> narrowing -> steps -> workflow -> CLI.

`distribute/` (KerasTuner's chief/worker engine) sits beside `steps/`: the
workflow reaches it only through `tunekit.distribute.runner.PhaseRunner`, and
nothing outside it speaks gRPC. The results and plots modules come before the
steps because the evaluate step writes the report with them; they read a run
folder and know nothing of the workflow.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tunekit"
PRIVATE = {"_io", "_faults", "_log", "_kerastuner"}  # helpers any module may use
# Packages that are one unit of the order: their files may import each other.
UNITS = {"data", "plots", "stats"}
# Each module may import only modules listed before it (private helpers excepted). A
# subpackage's `__init__` is listed by the package's name, after its modules.
ORDER = [
    "errors",
    "score_text",
    "option_pairs",
    "params",
    "_native_logs",
    "interrupts",
    "processes",
    "hypermodel_kinds",
    "data",
    "stats",
    "image_streams",
    "metric_directions",
    "objectives",
    "loss_reading",
    "prediction_checks",
    "outputs",
    "model_notes",
    "compile_drift",
    "model_files",
    "regression",
    "classification",
    "model_size",
    "hypermodel_options",
    "hypermodel_specs",
    "build_state",
    "hypermodel_code",
    "default_build",
    "model_description",
    "object_settings",
    "hypermodel_state",
    "hypermodel_use",
    "retrain_callbacks",
    "retrain_backup",
    "backend_probe",
    "backends",
    "hparams_results",
    "tensorboard",
    "user_tensorboard",
    "fit_changes",
    "fit_inputs",
    "stream_fit_args",
    "fit_refusals",
    "fit_results",
    "fitting",
    "trial_refusals",
    "trial_skips",
    "trial_names",
    "timing",
    "cv",
    "trial_length",
    "tuners.callbacks",
    "own_loops",
    "tuners.base_oracle",
    "tuners.oracles",
    "tuners.grid_oracle",
    "tuners.size_check",
    "tuners.declared",
    "tuners.machine_errors",
    "tuners.returned",
    "tuners.search_record",
    "tuners.base",
    "tuners.factory",
    "tuners",
    "narrowed_space",
    "trial_records",
    "narrowing_untried",
    "narrowing",
    "state_files",
    "replacing",
    "budgets",
    "run_lock",
    "manifest",
    "hypermodel_changes",
    "run_reads",
    "progress",
    "results",
    "settable_rates",
    "retraining",
    "plots",
    # the command line's options and data, before the command that reproduces a Python run
    "distribute.cluster",
    "cli_once",
    "cli_parser",
    "cli_settings",
    "cli_changes",
    "cli_data",
    "cli_equivalence",
    "reproduce",
    "report_weights",
    "report_top",
    "report_scores",
    "report_verdict",
    "report_trust",
    "report",
    # beside each other: how a phase runs, and the steps of a run
    "distribute.protos",
    "distribute.spec",
    "distribute.supervisor",
    "distribute.space_growth",
    "distribute.refusal",
    "distribute.chief",
    "distribute.worker",
    "distribute.runner",
    "distribute.launch",
    "distribute.worker_main",
    "distribute",
    "steps.metric_reading",
    "steps.vector_objectives",
    "steps.compile_checks",
    "steps.output_checks",
    "steps.input_checks",
    "steps.label_forms",
    "steps.loss_batches",
    "steps.same_loss",
    "steps.value_checks",
    "steps.scaling_checks",
    "steps.pairing_checks",
    "steps.space_builds",
    "steps.space_checks",
    "steps.stream_heads",
    "steps.file_checks",
    "steps.trial_checks",
    "steps.base",
    "steps.redo",
    "steps.final_fit_facts",
    "steps.trial_failures",
    "steps.phase_restart",
    "steps.fine_skips",
    "steps.check",
    "steps.search",
    "steps.chance_metrics",
    "steps.chance",
    "steps.narrow",
    "steps.finalists",
    "steps.retrain",
    "steps.baseline",
    "steps.final_seeds",
    "steps.reproduced",
    "steps.evaluate",
    "steps",
    "workflow",
    "runs",
    "cli_summary",
    "coarse_to_fine",
    "cli_main",
    "__main__",
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[0] in UNITS:
        return parts[0]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, list[Path]]:
    """Every module of the package (subpackages walked), by dotted name without `tunekit.`.

    A package of `UNITS` is one entry holding all its files.
    """
    found: dict[str, list[Path]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" not in path.parts:
            found.setdefault(_module_name(path), []).append(path)
    return found


def _imports(path: Path) -> list[str]:
    """Every module named by an import statement in `path` (function bodies included)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def _tunekit_imports(paths: Path | list[Path]) -> set[str]:
    """The tunekit modules `paths` import, as `ORDER` names them."""
    known = set(_modules())
    found = set()
    names = [n for p in ([paths] if isinstance(paths, Path) else paths) for n in _imports(p)]
    for name in names:
        if name == "tunekit" or not name.startswith("tunekit."):
            continue
        dotted = name.removeprefix("tunekit.")
        # `from tunekit.steps.base import X` names `steps.base.X`: keep the longest module.
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        if dotted:
            found.add(dotted)
    return found


def test_every_module_is_placed_in_the_order():
    modules = set(_modules()) - {""} - PRIVATE
    assert modules == set(ORDER), (sorted(modules - set(ORDER)), sorted(set(ORDER) - modules))


@pytest.mark.parametrize("module", ORDER)
def test_no_module_reaches_back_upstream(module):
    allowed = set(ORDER[: ORDER.index(module)]) | PRIVATE
    imported = _tunekit_imports(_modules()[module]) - {module}
    assert imported <= allowed, f"tunekit.{module} imports {sorted(imported - allowed)}"


def test_only_distribute_speaks_grpc():
    for name, paths in _modules().items():
        uses_grpc = any(m == "grpc" or m.startswith("grpc.") for p in paths for m in _imports(p))
        assert name.startswith("distribute") or not uses_grpc, f"tunekit.{name} imports grpc"


def test_the_workflow_holds_no_server_supervisor_or_worker_loop():
    text = (PACKAGE / "workflow.py").read_text()
    for name in (
        "OracleServer",
        "LocalWorkers",
        "ChiefConnection",
        "oracle_server",
        "supervisor",
        "def work(",
    ):
        assert name not in text, name
    assert "supervisor" not in (PACKAGE / "report.py").read_text()


def test_hypermodels_never_import_tunekit():
    for path in (ROOT / "hypermodels").glob("*.py"):
        assert not _tunekit_imports(path) and "import tunekit" not in path.read_text(), path


def test_light_modules_and_cli_help_do_not_load_keras():
    code = (
        "import sys, tunekit, tunekit.data, tunekit.backends, tunekit.coarse_to_fine, "
        "tunekit.distribute, tunekit.params, tunekit.stats; "
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules; "
        "assert 'grpc' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
