"""The notebooks in `notebooks/`: each runs headless end to end, and is committed clean.

Each notebook is executed in a fresh `python3` kernel with the tiny budget
(`TUNEKIT_NOTEBOOK_BUDGET=tiny`), its runs under the test's `tmp_path`
(`TUNEKIT_NOTEBOOK_DIR`), which is also the kernel's working folder. A cell
error fails the test (nbclient raises `CellExecutionError` with the cell's
traceback). The executed copy is written to `tmp_path` for inspection.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from skip_guard import require_mnist

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
CELL_TIMEOUT = 300  # seconds

# name -> (run folder under TUNEKIT_NOTEBOOK_DIR, texts that must appear, minimum PNG outputs)
NOTEBOOKS = {
    "01_mnist_coarse_to_fine.ipynb": (
        "notebook-mnist-dense",
        [
            "MNIST: 300 train / 100 validation / 200 test",
            "->",
            "Test metrics:",
            "tensorboard --logdir",
        ],
        5,  # narrowing, parallel coordinates, best so far, confusion matrix, training curves
    ),
    "02_toonvision_cnn.ipynb": (
        "notebook-toonvision-cnn",
        ["Classes: ['circle', 'square', 'triangle']", "->", "Test metrics:"],
        5,  # sample strip, narrowing, parallel coordinates, best so far, confusion matrix
    ),
    "03_your_own_hypermodel.ipynb": (
        "notebook-own-build",
        ["hp_conv_filters", "->", "Test metrics:"],
        2,  # narrowing, score vs hyperparameters
    ),
}
NEEDS_MNIST = {"01_mnist_coarse_to_fine.ipynb", "03_your_own_hypermodel.ipynb"}


def _read(name: str):
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def _outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def _text(nb) -> str:
    """Everything the notebook printed or displayed as text."""
    parts = []
    for out in _outputs(nb):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
            parts.append(out.data.get("text/html", ""))
    return "\n".join(parts)


def _png_count(nb) -> int:
    return sum(
        1
        for out in _outputs(nb)
        if out.output_type in ("execute_result", "display_data") and "image/png" in out.data
    )


def test_every_notebook_is_listed():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_is_committed_clean(name):
    nb = _read(name)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, f"{name} has no code cell"
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{name}: cells {dirty} have outputs or execution counts; clear them"
    assert "parameters" in code[0].metadata.get("tags", []), (
        f"{name}: the first code cell must be the parameters cell (tag `parameters`)"
    )
    assert "TUNEKIT_NOTEBOOK_BUDGET" in code[0].source
    assert "TUNEKIT_NOTEBOOK_DIR" in code[0].source


@pytest.mark.long
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs(name, tmp_path):
    if name in NEEDS_MNIST:
        require_mnist()  # skips with the reason, or fails under CI=true
    run_folder, texts, min_pngs = NOTEBOOKS[name]
    env = {
        **os.environ,
        "TUNEKIT_NOTEBOOK_BUDGET": "tiny",
        "TUNEKIT_NOTEBOOK_DIR": str(tmp_path),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    env.pop("TUNEKIT_IMAGE_DIR", None)  # notebook 02 writes and uses its synthetic folder
    nb = _read(name)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute(cwd=str(tmp_path), env=env)
    finally:
        nbformat.write(nb, tmp_path / name)

    text = _text(nb)
    for expected in texts:
        assert expected in text, f"{name}: {expected!r} not in the notebook's output"
    assert _png_count(nb) >= min_pngs, f"{name}: fewer than {min_pngs} images displayed"
    errors = [out for out in _outputs(nb) if out.output_type == "error"]
    assert not errors
    assert (tmp_path / run_folder / "best_model.keras").is_file()
    assert (tmp_path / run_folder / "report.json").is_file()
