"""Ctrl-C and SIGTERM: every signal ends the CLI with 130 / 143 and a state that resumes."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tunekit import interrupts

BUILD = textwrap.dedent("""
    import keras

    def build(hp):
        model = keras.Sequential([
            keras.Input((8, 8)), keras.layers.Flatten(),
            keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-2, sampling="log")),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
""")
COARSE_EPOCHS = 2
ARGS = [
    "--hypermodel",
    "my_models:build",
    "--data",
    "tiny.npz",
    "--directory",
    "runs",
    "--finalists",
    "0",
    "--no-baseline",
    "--coarse-trials",
    "3",
    "--coarse-epochs",
    str(COARSE_EPOCHS),
    "--max-epochs",
    "2",
    "--factor",
    "2",
    "--top",
    "2",
    "--final-epochs",
    "1",
    "--batch-size",
    "16",
]
NOISE = ("absl::InitializeLog", "oneDNN", "cuda", "cuInit", "cpu_feature_guard", "I0000")


@pytest.fixture
def signal_project(tmp_path):
    """A folder with `my_models.py` (a tiny dense build) and `tiny.npz` (8x8 images, 10 classes)."""
    rng = np.random.default_rng(0)

    def arrays(n):
        y = np.arange(n) % 10
        x = (rng.random((n, 8, 8)) * 60 + y[:, None, None] * 19).astype("uint8")
        return x, y

    (x_train, y_train), (x_test, y_test) = arrays(600), arrays(100)
    np.savez(tmp_path / "tiny.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    (tmp_path / "my_models.py").write_text(BUILD)
    return tmp_path


def _env(quiet=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEKIT_FAULT")}
    if not quiet:  # the CLI itself must quiet TensorFlow
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def _interrupt_once(cwd: Path, backend: str, signum: int, delay: float) -> tuple[int | None, str]:
    """Starts the CLI, sends `signum` `delay` s after it prints its run folder; (code, stderr).

    The code is None when the run had finished (printed its summary) before the
    signal arrived: it may then exit 0, or die of the signal while the
    interpreter shuts down (-signum, 130 / 143 in a shell); either is right.
    """
    err_path = cwd / "stderr.txt"
    with open(err_path, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tunekit.coarse_to_fine", *ARGS, "--backend", backend],
            cwd=cwd,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            for line in proc.stdout:
                if line.startswith("Run folder:"):
                    break
            time.sleep(delay)
            if proc.poll() is not None:
                proc.communicate(timeout=60)
                return None, err_path.read_text()
            proc.send_signal(signum)
            out, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    if "== Summary ==" in out:
        assert proc.returncode in (0, -signum, 128 + signum), (proc.returncode, delay)
        return None, err_path.read_text()
    return proc.returncode, err_path.read_text()


def _completed(run_dir: Path, phase: str) -> list[dict]:
    trials = [json.loads(p.read_text()) for p in (run_dir / phase).glob("trial_*/trial.json")]
    return [t for t in trials if t["status"] == "COMPLETED"]


def _signals_then_resume(cwd: Path, backend: str, signals: list[int], max_delay: float):
    rng = random.Random()
    outcomes = []
    for signum in signals:
        delay = round(rng.uniform(0.0, max_delay), 2)
        code, err = _interrupt_once(cwd, backend, signum, delay)
        what = f"{signal.Signals(signum).name} after {delay} s on {backend}"
        outcomes.append((what, code))
        if code is None:  # finished before the signal: start afresh for the next one
            assert "Traceback" not in err, (what, err[-2000:])
            shutil.rmtree(cwd / "runs")
            continue
        assert code == 128 + signum, (what, code, err[-3000:])
        assert "Exception ignored" not in err and "Traceback" not in err, (what, err[-3000:])
        assert "Resume with:" in err, (what, err[-3000:])
    # Every interrupted state resumes, and the TensorFlow start-up lines stay quiet.
    final = subprocess.run(
        [sys.executable, "-m", "tunekit.coarse_to_fine", *ARGS, "--backend", backend],
        cwd=cwd,
        env=_env(quiet=False),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert final.returncode == 0, (outcomes, final.stderr[-3000:])
    assert "== Summary ==" in final.stdout
    assert not [w for w in NOISE if w in final.stderr], final.stderr[-3000:]
    run_dir = cwd / "runs" / "my_models-build-tiny"
    coarse = _completed(run_dir, "coarse")
    assert len(coarse) == 3
    # No interrupted trial was recorded as COMPLETED with the score of its first epoch.
    for trial in coarse:
        epochs = trial["metrics"]["metrics"]["epochs"]["observations"][0]["value"][0]
        assert epochs == COARSE_EPOCHS, trial
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert all(step["status"] == "done" for step in manifest["steps"].values())
    return outcomes


@pytest.mark.parametrize(
    "backend, signum", [("tensorflow", signal.SIGINT), ("jax", signal.SIGTERM)]
)
@pytest.mark.long
def test_a_signal_at_a_random_moment_ends_130_or_143_and_the_run_resumes(
    signal_project, backend, signum
):
    outcomes = _signals_then_resume(signal_project, backend, [signum], max_delay=2.0)
    assert outcomes[0][1] == 128 + signum, outcomes  # the first run cannot finish in 2 s


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_thirty_random_sigints_and_some_sigterms_per_backend_end_130_143_and_resume(
    signal_project, backend
):
    signals = [signal.SIGINT] * 30 + [signal.SIGTERM] * 6
    random.shuffle(signals)
    outcomes = _signals_then_resume(signal_project, backend, signals, max_delay=4.0)
    landed = [code for _, code in outcomes if code is not None]
    assert len(landed) >= 0.8 * len(signals), outcomes


# -- in-process: the handler, the Keras callback, and the Python API ---------------------------


def test_handler_records_the_signal_and_check_raises_with_its_exit_code():
    for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        with interrupts.handle_signals():
            interrupts.check()  # nothing pending
            os.kill(os.getpid(), signum)  # recorded, not raised here
            assert interrupts.pending() == signum
            with pytest.raises(interrupts.Interrupted) as raised:
                interrupts.check()
            assert raised.value.exit_code == code
        assert interrupts.pending() is None
    # Outside the block Python's own behaviour is back: Ctrl-C raises KeyboardInterrupt.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)


@pytest.mark.parametrize("resume", [None, "tunekit run --seed 1"])
def test_second_signal_while_one_is_pending_exits_immediately(monkeypatch, capfd, resume):
    exits = []

    def fake_exit(code):
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    with interrupts.handle_signals(resume):
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(SystemExit):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert exits == [130]
    err = capfd.readouterr().err
    assert "SIGINT again: exiting now." in err
    # The impatient user still learns how to resume (the command line passes its command).
    if resume is None:
        assert "Resume with" not in err
    else:
        assert f"Resume with:\n  {resume}\n" in err


def test_interrupt_check_stops_fit_at_the_next_batch_by_raising():
    import keras

    from tunekit.tuners import InterruptCheck

    class SignalAtBatch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batches = 0

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1
            if self.batches == 3:
                os.kill(os.getpid(), signal.SIGINT)

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    counter = SignalAtBatch()
    x = np.zeros((64, 4), "float32")
    with interrupts.handle_signals(), pytest.raises(interrupts.Interrupted):
        model.fit(
            x, x[:, :1], batch_size=4, epochs=3, verbose=0, callbacks=[counter, InterruptCheck()]
        )
    assert counter.batches == 3  # not one batch more


def test_cli_restores_the_previous_handlers(tmp_path):
    from tunekit.coarse_to_fine import main

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert main(["--coarse-trials", "2", "--directory", str(tmp_path)]) == 2
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
