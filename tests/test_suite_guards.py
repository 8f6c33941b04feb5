"""The suite itself: no silent skips under `CI=true` (`skip_guard.py`), no machine paths."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

INNER_TESTS = """
import pytest
from skip_guard import require_mnist


def test_runs():
    assert True


def test_optional():
    pytest.skip("needs something this machine lacks")


def test_about_mnist():
    require_mnist()
"""


def _inner_pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    """Runs INNER_TESTS in a fresh pytest with the `skip_guard` plugin and no MNIST file."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    (tmp_path / "test_inner_module.py").write_text(
        "import pytest\n\npytest.importorskip('no_such_package_for_tunekit')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env |= {"PYTHONPATH": str(TESTS), "TUNEKIT_MNIST_PATH": str(tmp_path / "no-mnist.npz")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "skip_guard",
            "-p",
            "no:cacheprovider",
            "-rs",
            "test_inner.py",
            "test_inner_module.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_ci_a_missing_mnist_file_skips_naming_the_variable(tmp_path):
    done = _inner_pytest(tmp_path, ci=None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 3 skipped" in done.stdout
    assert re.search(
        r"SKIPPED .*MNIST is unavailable: TUNEKIT_MNIST_PATH='.*no-mnist\.npz' is "
        r"not a file\. Set TUNEKIT_MNIST_PATH",
        done.stdout,
    ), done.stdout


def test_under_ci_a_missing_mnist_file_fails_and_any_skip_fails_the_session(tmp_path):
    done = _inner_pytest(tmp_path, ci="true")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "1 failed, 1 passed, 2 skipped" in out
    assert re.search(
        r"_ test_about_mnist _+\nMNIST is unavailable: TUNEKIT_MNIST_PATH=.* is not a "
        r"file\. .* CI must not skip this test \(CI=true\)\.",
        out,
    ), out
    assert "CI=true but 2 test(s) were skipped" in out
    assert "test_inner.py::test_optional: needs something this machine lacks" in out
    assert "test_inner_module.py: could not import 'no_such_package_for_tunekit'" in out


def test_under_ci_a_session_that_only_skips_is_not_green(tmp_path):
    """`CI=1` counts as CI too; a skip alone (no failure) turns the exit code to 1."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_inner.py").write_text(
        "import pytest\n\n\ndef test_a():\n    pytest.skip('no data')\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"},
        "PYTHONPATH": str(TESTS),
        "CI": "1",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "skip_guard",
            "-p",
            "no:cacheprovider",
            "test_inner.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "CI=true but 1 test(s) were skipped" in done.stdout


def test_no_test_file_holds_an_absolute_machine_path():
    pattern = re.compile(r"""["'](/work|/home|/Users|/mnt|/data)/""")
    offenders = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(TESTS.glob("*.py"))
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, "absolute machine paths in tests:\n" + "\n".join(offenders)
