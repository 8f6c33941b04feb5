"""No silent skips in CI: the MNIST file's lookup and a session check (a pytest plugin).

The default suite needs no data file: tests that only want "some small image
classification data" use scikit-learn's bundled `load_digits` (see
`conftest.py`). Tests about MNIST itself find the file at `$TUNEKIT_MNIST_PATH`,
else at `<repo>/../shared/data/mnist.npz`. When it is missing they skip with the
reason on a contributor's machine, and fail with that reason under `CI=true`.

Under `CI=true` the session also fails when any test was skipped, whatever the
reason (a missing file, a missing optional package, a `skipif`), listing them:
CI must never silently test less than it claims.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The repository is <parent>/<repo>; the shared MNIST copy is <parent>/shared/data.
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def in_ci() -> bool:
    """True when `$CI` is true (GitHub Actions, GitLab CI and `.ci/run` set `CI=true`)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def mnist_path() -> Path | None:
    """The MNIST `.npz`: `$TUNEKIT_MNIST_PATH`, else `<repo>/../shared/data/mnist.npz`, or None."""
    configured = os.environ.get("TUNEKIT_MNIST_PATH")
    path = Path(configured) if configured else SHARED_MNIST
    return path if path.is_file() else None


def missing_data(reason: str):
    """Skips the calling test with `reason`, or fails it under `CI=true`. Never returns."""
    if in_ci():
        pytest.fail(f"{reason} CI must not skip this test (CI=true).", pytrace=False)
    pytest.skip(reason)


def require_mnist() -> Path:
    """The MNIST file's path, or skips (fails in CI) naming where it was looked for."""
    path = mnist_path()
    if path is None:
        configured = os.environ.get("TUNEKIT_MNIST_PATH")
        where = (
            f"TUNEKIT_MNIST_PATH={configured!r} is not a file"
            if configured
            else f"TUNEKIT_MNIST_PATH is unset and {SHARED_MNIST} does not exist"
        )
        missing_data(
            f"MNIST is unavailable: {where}. Set TUNEKIT_MNIST_PATH to a Keras-layout "
            "mnist.npz (e.g. from keras.datasets.mnist) to run the MNIST tests."
        )
    return path


class SkipGuard:
    """Records every skipped test; under `CI=true`, fails the session if there was one."""

    def __init__(self) -> None:
        self.skipped: list[tuple[str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            self.skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:  # a whole module, e.g. `pytest.importorskip` of a missing package
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            self.skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not in_ci() or not self.skipped:
            return
        lines = "\n".join(f"  {nodeid}: {reason}" for nodeid, reason in self.skipped)
        message = (
            f"CI=true but {len(self.skipped)} test(s) were skipped; CI must run every "
            f"test it claims to run. Skipped:\n{lines}"
        )
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", "skipped tests under CI=true", red=True)
            reporter.write_line(message)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    """Registers the `SkipGuard` (as a plugin module: `-p skip_guard`, or from `conftest.py`)."""
    if not config.pluginmanager.has_plugin("tunekit-skip-guard"):
        config.pluginmanager.register(SkipGuard(), "tunekit-skip-guard")
