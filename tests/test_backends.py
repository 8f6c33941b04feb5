"""The backend probe: only successes are cached, under a key that says what they are valid for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tunekit import backends


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flaky_model.py").write_text("def build(hp):\n    pass\n")
    return tmp_path / "cache"


def _fake_probe(results, calls):
    """A probe returning `results[backend]` (a speed or a failure reason) and recording calls."""

    def probe_with_reason(backend, *args, **kwargs):
        calls.append(backend)
        value = results[backend]
        return (0.0, value) if isinstance(value, str) else (value, None)

    return probe_with_reason


def test_a_failed_probe_is_reported_not_cached_and_probed_again(cache_dir, monkeypatch):
    calls, lines = [], []
    results = {"tensorflow": 1000.0, "jax": "ModuleNotFoundError: No module named 'layers_v2'"}
    monkeypatch.setattr(backends, "probe_with_reason", _fake_probe(results, calls))
    args = ("flaky_model:build", (8, 8), 10, 16)

    first = backends.choose_backend(*args, write=lines.append)
    assert first["backend"] == "tensorflow" and first["cached"] is False
    assert first["failures"] == {"jax": results["jax"]}
    assert lines == [
        "Backend: falling back to tensorflow (training samples/s: tensorflow "
        "1,000; jax probe failed: ModuleNotFoundError: No module named "
        "'layers_v2'; not cached, probed again next run)"
    ]
    assert not (cache_dir / "backends.json").exists()

    results["jax"] = 4000.0  # the hypermodel imports now
    second = backends.choose_backend(*args, write=lines.append)
    assert second["backend"] == "jax" and second["cached"] is False
    assert calls == ["tensorflow", "jax", "tensorflow", "jax"]
    cache = json.loads((cache_dir / "backends.json").read_text())
    (entry,) = cache["entries"].values()
    assert entry["backend"] == "jax"
    assert entry["samples_per_second"] == {"tensorflow": 1000.0, "jax": 4000.0}
    key = entry["key"]
    assert key["hypermodel"] == "flaky_model:build" and len(key["hypermodel_source"]) == 16
    assert key["input_shape"] == [8, 8] and key["num_classes"] == 10
    assert key["batch_size"] == 16 and key["processes"] == 1
    assert key["machine"] == backends._machine()
    assert {"keras", "tensorflow", "jax", "tunekit"} <= set(key["versions"])

    third = backends.choose_backend(*args, write=lines.append)
    assert third["backend"] == "jax" and third["cached"] is True
    assert len(calls) == 4  # not probed again
    assert lines[-1].startswith("Backend: jax (training samples/s: tensorflow 1,000, jax 4,000")


def test_one_error_on_every_backend_is_named_the_models(cache_dir, monkeypatch):
    """A hypermodel that raises on both backends read as two failing backends."""
    calls, lines = [], []
    reason = "ValueError: Input 0 of layer 'dense' is incompatible with the layer"
    results = {"tensorflow": reason, "jax": reason}
    monkeypatch.setattr(backends, "probe_with_reason", _fake_probe(results, calls))
    choice = backends.choose_backend("broken:build", (8,), 3, 16, write=lines.append)
    assert choice["backend"] == "tensorflow"
    assert lines == [
        "Backend: falling back to tensorflow (every backend's probe raised the same error, "
        f"the model's: {reason}; not cached, probed again next run)"
    ]


def test_the_key_changes_with_the_hypermodel_source_shape_and_versions(cache_dir, monkeypatch):
    key = backends.cache_key("flaky_model:build", (8, 8), 10, 16)
    assert backends.cache_key("flaky_model:build", (8, 8), 10, 16) == key
    assert backends.cache_key("flaky_model:build", (8, 9), 10, 16) != key
    (cache_dir.parent / "flaky_model.py").write_text("def build(hp):\n    return 1\n")
    assert backends.cache_key("flaky_model:build", (8, 8), 10, 16) != key
    # A built-in hypermodel is keyed on the source of the hypermodels package.
    assert len(backends.cache_key("mnist-dense", (28, 28), 10, 128)["hypermodel_source"]) == 16
    monkeypatch.setattr(backends, "_versions", lambda: {"jax": "99.0"})
    assert backends.cache_key("flaky_model:build", (8, 8), 10, 16)["versions"] == {"jax": "99.0"}


def test_an_old_cache_that_pinned_a_failure_is_ignored(cache_dir, monkeypatch):
    cache_dir.mkdir()
    old_key = f"{backends._machine()}|flaky_model:build|[8, 8]|10|16"
    (cache_dir / "backends.json").write_text(
        json.dumps(
            {
                old_key: {
                    "backend": "tensorflow",
                    "samples_per_second": {"tensorflow": 900.0, "jax": 0.0},
                    "seconds": 20.0,
                }
            }
        )
    )
    calls = []
    monkeypatch.setattr(
        backends, "probe_with_reason", _fake_probe({"tensorflow": 1000.0, "jax": 4000.0}, calls)
    )
    choice = backends.choose_backend("flaky_model:build", (8, 8), 10, 16, write=lambda t: None)
    assert choice["backend"] == "jax" and calls == ["tensorflow", "jax"]


def test_a_real_probe_names_the_exception_of_a_hypermodel_that_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not_ready.py").write_text("raise RuntimeError('weights not downloaded yet')\n")
    speed, reason = backends.probe_with_reason("jax", "not_ready:build", (8, 8), 10, 16, timeout=60)
    assert speed == 0.0
    assert reason.startswith("tunekit.errors.UsageError: --hypermodel 'not_ready:build'")
    assert "importing 'not_ready' raised RuntimeError: weights not downloaded yet" in reason


def test_a_reused_probe_says_from_when_and_refresh_probes_again(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    lines: list[str] = []
    monkeypatch.setattr(
        backends, "probe_with_reason", _fake_probe({"tensorflow": 1000.0, "jax": 4000.0}, calls)
    )
    monkeypatch.setattr(backends.time, "time", lambda: 1_796_000_000.0)  # 2026-11-30 00:53:20 UTC
    args = ("flaky_model:build", (8, 8), 10, 16)
    first = backends.choose_backend(*args, write=lines.append)
    assert first["cached"] is False and first["probed_at"] == "2026-11-30T00:53:20Z"
    second = backends.choose_backend(*args, write=lines.append)
    assert second["cached"] is True and second["probed_at"] == "2026-11-30T00:53:20Z"
    assert calls == ["tensorflow", "jax"]
    assert lines[-1] == (
        "Backend: jax (training samples/s: tensorflow 1,000, jax 4,000; probe reused from "
        "2026-11-30 00:53:20Z; --reprobe probes again)"
    )
    third = backends.choose_backend(*args, refresh=True, write=lines.append)
    assert third["cached"] is False and calls == ["tensorflow", "jax"] * 2


def test_the_cache_follows_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUNEKIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert backends._cache_path() == tmp_path / "xdg" / "tunekit" / "backends.json"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # invalid per the spec: ignored
    assert backends._cache_path() == backends.Path.home() / ".cache" / "tunekit" / "backends.json"
    monkeypatch.setenv("TUNEKIT_CACHE_DIR", str(tmp_path / "own"))
    assert backends._cache_path() == tmp_path / "own" / "backends.json"


@pytest.mark.parametrize("flags, refresh", [([], False), (["--reprobe"], True)])
def test_reprobe_makes_backend_auto_probe_again(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], refresh: bool
) -> None:
    from types import SimpleNamespace

    from tunekit import cli_data
    from tunekit.cli_parser import build_parser

    seen: dict[str, Any] = {}

    def choose(*args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        return {"backend": "jax", "cached": not kwargs["refresh"]}

    monkeypatch.setattr(backends, "choose_backend", choose)
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    args = build_parser().parse_args(flags)
    data = SimpleNamespace(task="classification", input_shape=(8, 8), num_classes=10)
    cli_data.select_backend(args, data)
    assert seen["refresh"] is refresh


@pytest.mark.parametrize(
    "task, input_shape", [("regression", (10,)), ("classification", {"a": (3,), "b": (4,)})]
)
def test_auto_without_a_probe_still_says_which_backend_and_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, task: str, input_shape: Any
) -> None:
    # Before, data the probe does not cover ran on TensorFlow without a Backend line:
    # the reason was only in report.json.
    import argparse
    import logging
    from types import SimpleNamespace

    from tunekit.cli_data import select_backend

    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    args = argparse.Namespace(backend="auto", hypermodel="mnist-dense", batch_size=None)
    data = SimpleNamespace(task=task, input_shape=input_shape, num_classes=3)
    with caplog.at_level(logging.INFO, logger="tunekit"):
        choice = select_backend(args, data)
    assert choice["backend"] == "tensorflow" and choice["requested"] is False
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Backend:")]
    assert lines == [f"Backend: tensorflow ({choice['reason']})"]
    what = "regression data" if task == "regression" else "several inputs"
    assert f"TensorFlow is used for {what} (pass --backend jax" in lines[0]
