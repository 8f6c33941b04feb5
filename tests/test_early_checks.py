"""Everything checkable is checked before the backend probe and before any data is loaded."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tunekit import coarse_to_fine
from tunekit.coarse_to_fine import main
from tunekit.hypermodel_specs import UsageError, check_spec

# Importing this module would end the test run: the checks must only read it.
USER_MODULE = textwrap.dedent("""
    raise SystemExit("my_models was imported before the backend was chosen")

    import keras

    if True:
        from keras import layers as L

    def build_model(hp):
        return keras.Sequential([L.Dense(10)])

    class Tuned:
        pass

    DEFAULT = Tuned()
""")


@pytest.fixture
def no_probe_no_data(monkeypatch, tmp_path):
    """Fails the test if the backend is probed or data is loaded; runs in a project folder."""

    def fail(*args, **kwargs):
        raise AssertionError("probed or loaded data before checking the arguments")

    monkeypatch.setattr("tunekit.backends.choose_backend", fail)
    monkeypatch.setattr(coarse_to_fine, "_load_data", fail)
    (tmp_path / "my_models.py").write_text(USER_MODULE)
    (tmp_path / "data.npz").write_bytes(b"")
    (tmp_path / "images").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--hypermodel", "my_models:build"],
            "module 'my_models' ({cwd}/my_models.py) has no 'build'; did you mean "
            "my_models:build_model?",
        ),
        (["--hypermodel", "my_models:Tuned_"], "has no 'Tuned_'; did you mean my_models:Tuned?"),
        # A name it imports is no hypermodel of its own: "did you mean my_models:keras?" and
        # my_models:L (`from keras import layers as L`) before.
        (["--hypermodel", "my_models:Ll"], "module 'my_models' ({cwd}/my_models.py) has no 'Ll'."),
        (
            ["--hypermodel", "my_models:kera"],
            "module 'my_models' ({cwd}/my_models.py) has no 'kera'.",
        ),
        (["--hypermodel", "my_model:build_model"], "cannot import 'my_model'"),
        (["--hypermodel", "my_models.sub:build"], "cannot import 'my_models.sub'"),
        (
            ["--directory", "/proc/tunekit-runs"],
            "Cannot create the run folder /proc/tunekit-runs/mnist-dense: "
            "creating a file in /proc fails",
        ),
        (["--directory", "{cwd}/data.npz/runs"], "data.npz is a file, not a folder"),
        (["--data", "{cwd}/missing.npz"], "--data '{cwd}/missing.npz' does not exist"),
        # The run must land where asked: it wrote a whole run outside --directory before.
        (
            ["--project-name", "../escape"],
            "--project-name must be one folder name inside --directory (no '/', not '.' or '..')",
        ),
        (["--project-name", ".."], "--project-name must be one folder name inside --directory"),
        (["--project-name", ""], "--project-name must be a non-empty folder name"),
        (["--directory", ""], "--directory must be a folder path"),
        (
            ["--coarse-trials", "2"],
            "argument --coarse-trials: must be an int >= 3: the narrowing "
            "needs 3 completed coarse trials, got '2'",
        ),
        (["--factor", "1"], "argument --factor: must be an int >= 2"),
        (["--fine-trials", "5"], "--fine-trials only applies to --fine-tuner bayesian"),
        (
            ["--fine-tuner", "bayesian", "--factor", "2"],
            "--factor only applies to --fine-tuner hyperband",
        ),
        (
            ["--data", "{cwd}/data.npz", "--image-size", "32", "32"],
            "--image-size only applies to an image folder",
        ),
        # A folder is streamed: no folds (said before Keras loads).
        (
            ["--data", "{cwd}/images", "--cv", "3", "--fine-tuner", "bayesian"],
            "--cv 3 needs arrays to split into folds; --data '{cwd}/images' is an image "
            "folder, streamed from disk, which cannot be split by index. Leave out --cv, or "
            "save its images as an .npz",
        ),
    ],
)
def test_bad_arguments_exit_2_before_any_probe_or_data(no_probe_no_data, capsys, args, message):
    cwd = str(no_probe_no_data)
    args = [a.format(cwd=cwd) for a in args]
    if "--directory" not in args:
        args += ["--directory", str(no_probe_no_data / "runs")]
    start = time.perf_counter()
    assert main(args + ["--backend", "auto"]) == 2
    assert time.perf_counter() - start < 2.0
    err = capsys.readouterr().err.strip()
    assert message.format(cwd=cwd) in err
    assert len(err.splitlines()) == 1, err
    assert "my_models" not in sys.modules
    assert not (no_probe_no_data / "runs").exists()
    assert not [p for p in Path("/proc").glob("tunekit-runs*")]
    assert not (no_probe_no_data / "escape").exists()


def test_a_good_user_module_passes_the_checks_without_being_imported(no_probe_no_data):
    for spec in (
        "my_models:build_model",
        "my_models:Tuned",
        "my_models:DEFAULT",
        "my_models:L",
        "mnist-dense",
    ):
        check_spec(spec)
    assert "my_models" not in sys.modules


def test_undecidable_modules_are_left_to_the_import(tmp_path, monkeypatch):
    (tmp_path / "star.py").write_text("from os.path import *\n")
    (tmp_path / "lazy.py").write_text("def __getattr__(name):\n    return name\n")
    monkeypatch.chdir(tmp_path)
    check_spec("star:join")
    check_spec("lazy:anything")
    (tmp_path / "broken.py").write_text("def build(hp:\n")
    with pytest.raises(UsageError, match=r"broken.py line 1: .*syntax error"):
        check_spec("broken:build")


def test_the_directory_is_checked_by_a_subprocess_in_a_fraction_of_a_probe(tmp_path):
    # The user-visible command: no probe (15-27 s before), no traceback, exit 2.
    env = {**os.environ, "TUNEKIT_CACHE_DIR": str(tmp_path / "cache")}
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunekit.coarse_to_fine",
            "--quick",
            "--directory",
            "/proc/nope/runs",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: Cannot create the run folder /proc/nope/runs/")
    assert "Errno" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert time.perf_counter() - start < 10
    assert not (tmp_path / "cache").exists()  # never probed


@pytest.mark.slow  # the default suite checks the same on real runs (test_signals.py)
def test_cli_stderr_has_no_tensorflow_start_up_lines(tmp_path):
    import numpy as np

    pixels = np.random.default_rng(0).integers(0, 256, (80, 8, 8)).astype("uint8")
    np.savez(  # pixels of the whole 0-255 range: no data warning on stderr either
        tmp_path / "tiny.npz",
        x_train=pixels[:60],
        y_train=np.arange(60) % 10,
        x_test=pixels[60:],
        y_test=np.arange(20) % 10,
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    # Fails after Keras and TensorFlow have loaded: os.sep is no hypermodel.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunekit.coarse_to_fine",
            "--data",
            "tiny.npz",
            "--hypermodel",
            "os:sep",
            "--backend",
            "tensorflow",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: --hypermodel 'os:sep' is a str, not a keras_tuner.HyperModel class or instance "
        "nor a build(hp) function."
    ], proc.stderr
