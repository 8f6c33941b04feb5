"""Habits CI enforces (issue 15, item 6): one version, py.typed, ruff and mypy, module sizes.

`.ci/run` runs the tools themselves (ruff check, ruff format --check, mypy and
the end-to-end CLI test on JAX); these fast tests keep their configuration
from quietly going away.
"""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import pytest
from setuptools.config.pyprojecttoml import read_configuration

import tunekit

ROOT = Path(__file__).resolve().parents[1]


def _pyproject(expand: bool) -> dict:
    """pyproject.toml as setuptools reads it for a build (Python 3.10 has no tomllib)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "[tool.setuptools] support is still beta"
        return read_configuration(ROOT / "pyproject.toml", expand=expand)


PYPROJECT = _pyproject(expand=False)
MAX_LINES = 400
# A module may be longer if its docstring says why, in a sentence with these words.
SIZE_REASON = re.compile(r"over 400 lines because", re.IGNORECASE)


def test_version_is_written_once_and_read_by_setuptools():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tunekit.__version__"}
    assert _pyproject(expand=True)["project"]["version"] == tunekit.__version__
    literal = re.compile(rf"['\"]{re.escape(tunekit.__version__)}['\"]")
    holders = [
        path.relative_to(ROOT).as_posix()
        for path in [ROOT / "pyproject.toml", *sorted((ROOT / "tunekit").rglob("*.py"))]
        if literal.search(path.read_text())
    ]
    assert holders == ["tunekit/__init__.py"]


def test_py_typed_marker_ships_with_the_package():
    assert (ROOT / "tunekit" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["tunekit"]


def test_ruff_and_mypy_are_configured_and_installed_by_the_test_extra():
    assert {"I", "UP"} <= set(PYPROJECT["tool"]["ruff"]["lint"]["select"])
    mypy = PYPROJECT["tool"]["mypy"]
    assert mypy["disallow_untyped_defs"] is True
    assert {"tunekit", "hypermodels"} <= set(mypy["files"])
    assert "ignore_missing_imports" not in mypy  # only per module, for untyped libraries
    for override in mypy["overrides"]:
        assert not {"tunekit", "tunekit.*", "hypermodels", "hypermodels.*"} & set(
            override["module"]
        )
    extra = {
        re.split(r"[<>=!~ \[]", r, maxsplit=1)[0]
        for r in PYPROJECT["project"]["optional-dependencies"]["test"]
    }
    assert {"pytest", "ruff", "mypy"} <= extra


def test_ci_runs_the_readme_command_then_every_check():
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[test]" && pytest' in readme  # the README's test command
    lines = [
        shlex.split(line, comments=True)
        for line in (ROOT / ".ci" / "run").read_text().replace("\\\n", " ").splitlines()
    ]
    commands = [" ".join(line) for line in lines if line]
    assert "pytest" in commands  # exactly the README's command
    after = commands[commands.index("pytest") + 1 :]
    for check in ("check ruff check .", "check ruff format --check .", "check mypy"):
        assert check in after, check
    jax = [c for c in after if "KERAS_BACKEND=jax pytest tests/test_cli.py" in c]
    assert len(jax) == 1 and "end_to_end_as_a_subprocess and jax" in jax[0]
    assert "set -euo pipefail" in commands


def test_every_command_line_option_is_in_the_readme():
    from tunekit.cli_parser import build_parser

    readme = (ROOT / "README.md").read_text()
    options = [o for a in build_parser("tunekit run")._actions for o in a.option_strings]
    assert [o for o in options if o.startswith("--") and f"`{o}" not in readme] == []


def test_no_data_file_is_tracked_outside_the_benchmark_results():
    """Scratch data a test or a try left behind (`n0.npz` at the root) is not project code."""
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    data = re.compile(r"\.(npz|npy|h5|hdf5|keras|pkl|pickle|tfrecord)$")
    stray = [p for p in tracked if data.search(p) and not p.startswith("benchmarks/results/")]
    assert stray == []


def _modules() -> list[str]:
    paths = [*(ROOT / "tunekit").rglob("*.py"), *(ROOT / "hypermodels").rglob("*.py")]
    return sorted(p.relative_to(ROOT).as_posix() for p in paths)


@pytest.mark.parametrize("module", _modules())
def test_no_module_over_400_lines_without_a_reason_at_its_top(module):
    text = (ROOT / module).read_text()
    docstring = re.match(r'\s*(?:"""(.*?)"""|\'\'\'(.*?)\'\'\')', text, re.DOTALL)
    reason = docstring is not None and SIZE_REASON.search(docstring.group(0))
    assert len(text.splitlines()) <= MAX_LINES or reason, (
        f"{module} has {len(text.splitlines())} lines: split it along a seam, or say at its "
        f"top why not ('over 400 lines because ...')."
    )


def test_every_test_listed_long_still_exists():
    """`tests/long_tests.txt` (tests measured at 4 s or more, marked `long` by conftest.py)
    names tests that exist: a renamed one would silently fall back into the default suite,
    and the suite's time with it."""
    from conftest import measured_long

    missing = []
    for node in sorted(measured_long()):
        path, _, name = node.partition("::")
        function = name.split("[", 1)[0].split("::")[-1]
        file = ROOT / path
        if not file.is_file() or not re.search(rf"def {re.escape(function)}\(", file.read_text()):
            missing.append(node)
    assert not missing, f"tests/long_tests.txt names tests that no longer exist: {missing[:5]}"
