"""JAX processes that tunekit starts compile with XLA's optimisation level 1, unless told otherwise.

Each trial of a search builds a new model, and on JAX every new shape compiles
(the initialisers, the train and test steps). XLA's level 1 compiles them
faster with the same numbers (`benchmarks/results/xla_flags.json`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tunekit import backends
from tunekit.distribute.cluster import Cluster
from tunekit.distribute.supervisor import LocalWorkers
from tunekit.processes import FAST_COMPILE_FLAG, fast_compile_flags

LEVEL = "--xla_backend_optimization_level"


@pytest.mark.parametrize(
    ("backend", "flags", "expected"),
    [
        ("jax", "", f"{LEVEL}=1"),
        (
            "jax",
            "--xla_cpu_multi_thread_eigen=false",
            f"--xla_cpu_multi_thread_eigen=false {LEVEL}=1",
        ),
        ("jax", f"{LEVEL}=3", f"{LEVEL}=3"),  # the user's level wins
        ("jax", f"--xla_dump_to=/tmp/x {LEVEL}=0", f"--xla_dump_to=/tmp/x {LEVEL}=0"),
        ("tensorflow", "", ""),  # TensorFlow's own graphs are left alone
        ("tensorflow", "--xla_dump_to=/tmp/x", "--xla_dump_to=/tmp/x"),
        (None, "", ""),
    ],
)
def test_the_fast_compile_level_is_added_for_jax_only_and_never_over_the_users(
    backend: str | None, flags: str, expected: str
) -> None:
    assert FAST_COMPILE_FLAG == f"{LEVEL}=1"
    assert fast_compile_flags(backend, flags) == expected


def _flags_module(tmp_path: Path) -> None:
    # A "hypermodel" whose import fails with the child's XLA_FLAGS as the message: the
    # probe reports a failed child's last error line, so it shows the child's environment.
    (tmp_path / "show_flags.py").write_text(
        "import os\nraise RuntimeError('XLA_FLAGS=' + os.environ.get('XLA_FLAGS', ''))\n"
    )


def test_the_probe_times_jax_with_the_flags_the_run_will_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One real JAX probe (about 10 s): which flags a user's XLA_FLAGS yields is
    # `fast_compile_flags`' test above.
    monkeypatch.chdir(tmp_path)
    _flags_module(tmp_path)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    speed, reason = backends.probe_with_reason("jax", "show_flags:build", (8, 8), 10, 16)
    assert speed == 0.0
    assert reason == f"RuntimeError: XLA_FLAGS={LEVEL}=1"


def test_the_probe_cache_key_follows_xla_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    plain = backends.cache_key("mnist-dense", (28, 28), 10, 128)
    assert plain["xla_flags"] == f"{LEVEL}=1"
    monkeypatch.setenv("XLA_FLAGS", f"{LEVEL}=3")
    own = backends.cache_key("mnist-dense", (28, 28), 10, 128)
    assert own["xla_flags"] == f"{LEVEL}=3" and own != plain


@pytest.mark.parametrize(("backend", "expected"), [("jax", f"{LEVEL}=1"), ("tensorflow", "")])
def test_local_workers_get_the_flags_of_their_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str, expected: str
) -> None:
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    out = tmp_path / "flags.txt"
    script = (
        f"import os, pathlib; pathlib.Path({str(out)!r})"
        ".write_text(os.environ.get('XLA_FLAGS', ''))"
    )
    cluster = Cluster(role="chief", tuner_id="chief", workers=1)
    workers = LocalWorkers(
        cluster, ["-c", script], tmp_path, backend=backend, write=lambda text: None
    ).start()
    workers.procs["local0"].wait(60)
    workers.check()
    flags = out.read_text()
    # One core per worker on a 1-core share adds XLA's single-thread flags as well.
    assert (expected in flags) if expected else (LEVEL not in flags)
    workers.stop(timeout=0)


def test_a_command_line_run_on_jax_sets_the_flags_before_keras_compiles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `select_backend` sets XLA_FLAGS with KERAS_BACKEND; in this test process Keras is
    # loaded already, so only the variable is checked (the JAX end-to-end test in
    # test_cli.py checks a real run's report).
    import argparse

    import keras

    from tunekit.cli_data import select_backend

    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())
    args = argparse.Namespace(backend=keras.backend.backend(), overwrite=False)
    choice = select_backend(args, None)
    flags = os.environ.get("XLA_FLAGS", "")
    if choice["backend"] == "jax":
        assert flags == f"{LEVEL}=1"
    else:
        assert LEVEL not in flags
    assert sys.modules.get("keras") is keras
