"""Progress: a bar per phase on a terminal, one line per trial elsewhere, `--quiet` the summary.

Fast: the rule that picks a bar, the bar and the line drawn from the same
trials, and the same tiny seeded search run with the bar forced
(`progress="bar"`, the rich console writing to the captured stdout) and with
plain lines: both must report the trial counts and best scores of the run's
own trial table; a `verbose=0` resume prints nothing (KerasTuner's
"Reloading Tuner from ..." included). Slow: the same through the command
line, and a `--quiet` rerun that prints the summary and nothing else.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import keras
import keras_tuner as kt
import numpy as np
import pytest
from conftest import digits_as_mnist
from keras_tuner.engine import trial as trial_module
from rich.console import Console

from tunekit.coarse_to_fine import main
from tunekit.data import load_npz
from tunekit.hypermodel_specs import resolve_hypermodel
from tunekit.progress import PhaseProgress, kerastuner_output, use_bar
from tunekit.results import trials_dataframe
from tunekit.workflow import CoarseToFine

# 3 coarse trials and 2 Bayesian fine trials of 1 epoch each, 1 final epoch.
TINY = [
    "--finalists",
    "0",
    "--no-baseline",
    "--coarse-trials",
    "3",
    "--coarse-epochs",
    "1",
    "--top",
    "2",
    "--final-epochs",
    "1",
    "--fine-tuner",
    "bayesian",
    "--fine-trials",
    "2",
    "--max-epochs",
    "1",
    "--backend",
    "tensorflow",
]
PYTHON_BUDGET = dict(
    finalists=0,
    baseline=False,
    coarse_trials=3,
    coarse_epochs=1,
    top=2,
    fine_tuner="bayesian",
    fine_trials=2,
    max_epochs=1,
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PLAIN_LINE = re.compile(r"^\[(\w+)\] trial (\d+)/(\d+) \(id \w+\): .*?, best ([0-9.]+) \|")
BAR_LINE = re.compile(r"^\s*\[(\w+)\].*?\s(\d+)/(\d+) trials best ([0-9.]+)")


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    "mode, tty, env, expected",
    [
        ("auto", True, {"TERM": "xterm-256color"}, True),
        ("auto", False, {"TERM": "xterm-256color"}, False),  # a log file, a pipe, a worker
        ("auto", True, {"TERM": "dumb"}, False),
        ("auto", True, {"TERM": "xterm", "CI": "true"}, False),
        ("bar", False, {"CI": "true"}, True),
        ("plain", True, {"TERM": "xterm"}, False),
    ],
)
def test_use_bar_draws_a_bar_only_on_an_interactive_terminal(
    mode: str, tty: bool, env: dict[str, str], expected: bool
) -> None:
    assert use_bar(mode, _Stream(tty), env) is expected


def test_kerastuner_prints_become_progress_lines() -> None:
    lines: list[str] = []
    with kerastuner_output(lines.append):
        print("Reloading Tuner from runs/x/coarse/tuner0.json")
        print()
    assert lines == ["Reloading Tuner from runs/x/coarse/tuner0.json"]


def _oracle(scores: list[float | None], max_trials: int) -> SimpleNamespace:
    """A stand-in oracle whose trials ended with `scores` (`None`: failed)."""
    trials = {}
    for i, score in enumerate(scores):
        trial = trial_module.Trial(kt.HyperParameters(), trial_id=str(i))
        trial.status = trial_module.TrialStatus.COMPLETED
        if score is None:
            trial.status = trial_module.TrialStatus.FAILED
        trial.score = score
        trials[trial.trial_id] = trial
    return SimpleNamespace(
        trials=trials,
        end_order=list(trials),
        objective=kt.Objective("val_accuracy", "max"),
        max_trials=max_trials,
    )


def test_bar_and_line_show_the_same_status_for_the_same_trials() -> None:
    scores = [0.5, 0.7, None]
    lines: list[str] = []
    plain = PhaseProgress("coarse", write=lines.append)
    console = Console(file=io.StringIO(), record=True, width=120, force_terminal=True)
    bar = PhaseProgress("coarse", write=lines.append, console=console)
    for progress in (plain, bar):
        start = _oracle([], max_trials=4)
        with progress.showing(start):
            for n in range(1, len(scores) + 1):
                oracle = _oracle(scores[:n], max_trials=4)
                progress(SimpleNamespace(oracle=oracle), oracle.trials[str(n - 1)])
    assert [line.split(" (id")[0] for line in lines] == [
        "[coarse] trial 1/4",
        "[coarse] trial 2/4",
        "[coarse] trial 3/4",
    ]
    assert ", best 0.7000 |" in lines[-1] and "FAILED" in lines[-1] and "left" in lines[-1]
    drawn = console.export_text().splitlines()[-1]
    assert re.match(r"\[coarse\] .*3/4 trials best 0\.7000 .*~\d+s left", drawn), drawn


def _last_by_phase(text: str, pattern: re.Pattern[str]) -> dict[str, tuple[int, int, float]]:
    """`{phase: (ended, planned, best)}` of the last progress report of each phase."""
    found: dict[str, tuple[int, int, float]] = {}
    for line in re.split(r"[\r\n]", ANSI.sub("", text)):
        match = pattern.match(line)
        if match:
            phase, ended, total, best = match.groups()
            found[phase] = (int(ended), int(total), float(best))
    return found


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 train / 100 test digits at 28x28."""
    arrays = digits_as_mnist()
    path = tmp_path_factory.mktemp("data") / "digits_tiny.npz"
    np.savez(
        path,
        x_train=arrays["x_train"][:400],
        y_train=arrays["y_train"][:400],
        x_test=arrays["x_test"][:100],
        y_test=arrays["y_test"][:100],
    )
    return path


def _tiny_model(hp: kt.HyperParameters) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(hp.Int("units", 4, 32, step=4), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-3, 3e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _expected(run_dir: Path) -> dict[str, tuple[int, int, float]]:
    """`{phase: (trials, trials, best completed score)}` from the run's own trial table."""
    trials = trials_dataframe(run_dir)
    expected = {}
    for phase, rows in trials.groupby("phase"):
        completed = rows[rows.status == "COMPLETED"]
        expected[str(phase)] = (len(rows), len(rows), round(float(completed.score.max()), 4))
    assert set(expected) == {"coarse", "fine"}
    return expected


@pytest.mark.long
def test_bar_and_plain_searches_report_the_same_trials_and_verbose_0_nothing(
    tmp_path: Path, tiny_npz: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = load_npz(tiny_npz)
    outputs = {}
    for mode in ("plain", "bar", "quiet"):
        run = CoarseToFine(
            _tiny_model,
            data,
            directory=tmp_path,
            project_name="bar" if mode == "quiet" else mode,  # quiet: resumes the bar run
            # verbose=0 shows no progress: progress= is refused with it (option_pairs).
            **({} if mode == "quiet" else {"progress": mode}),
            verbose=0 if mode == "quiet" else 1,
            **PYTHON_BUDGET,
        )
        try:
            run.fine()
        finally:
            run.close()
        outputs[mode] = capsys.readouterr().out

    plain = _last_by_phase(outputs["plain"], PLAIN_LINE)
    bar = _last_by_phase(outputs["bar"], BAR_LINE)
    assert "[coarse] trial 1/3 (id 0)" in outputs["plain"]
    assert "[coarse] trial" not in ANSI.sub("", outputs["bar"]) and "━" in outputs["bar"]
    assert plain == _expected(tmp_path / "plain")
    assert bar == _expected(tmp_path / "bar")
    assert plain == bar  # the same seeded search, reported alike
    # verbose=0 on a resume prints nothing: not KerasTuner's "Reloading Tuner from ..." either.
    assert outputs["quiet"] == ""


@pytest.mark.slow
def test_bar_and_plain_paths_report_the_same_trials_and_quiet_only_the_summary(
    tmp_path: Path, tiny_npz: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The plain path: the command line off a terminal (this test's captured stdout).
    assert use_bar("auto") is False
    common = ["--data", str(tiny_npz), "--directory", str(tmp_path), *TINY]
    assert main([*common, "--project-name", "plain"]) == 0
    outputs = {"plain": capsys.readouterr().out}
    # The bar path: the same search from Python, bars forced, up to the end of the fine phase.
    data = load_npz(tiny_npz)
    bar_run = CoarseToFine(
        resolve_hypermodel("mnist-dense")(data),
        data,
        directory=tmp_path,
        project_name="bar",
        progress="bar",
        **PYTHON_BUDGET,
    )
    try:
        bar_run.fine()
    finally:
        bar_run.close()
    outputs["bar"] = capsys.readouterr().out
    # verbose=0 resuming from Python prints nothing (KerasTuner's reload line included).
    quiet_run = CoarseToFine(
        resolve_hypermodel("mnist-dense")(data),
        data,
        directory=tmp_path,
        project_name="bar",
        verbose=0,
        **PYTHON_BUDGET,
    )
    try:
        quiet_run.fine()
    finally:
        quiet_run.close()
    assert capsys.readouterr().out == ""

    plain = _last_by_phase(outputs["plain"], PLAIN_LINE)
    bar = _last_by_phase(outputs["bar"], BAR_LINE)
    assert "[coarse] trial 1/3 (id 0)" in outputs["plain"]
    assert "[coarse] trial" not in ANSI.sub("", outputs["bar"])  # bars, not lines
    assert "━" in outputs["bar"]
    assert plain == _expected(tmp_path / "plain")
    assert bar == _expected(tmp_path / "bar")
    assert plain == bar  # the same seeded search, reported alike
    for out in outputs.values():
        assert "Search: Running Trial" not in out and "Reloading Tuner" not in out

    # --quiet on the finished run: the summary, and nothing else (no "Reloading Tuner").
    assert main([*common, "--project-name", "plain", "--quiet"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0] == "== Summary ==" and lines[1].startswith("Phases: coarse best")
    assert lines[-1].startswith("Artifacts in ")
    assert "Reloading" not in out and "Objective:" not in out and "Run folder:" not in out
    # The summary also gives the test accuracy's interval and the backend (from report.json).
    report = json.loads((tmp_path / "plain" / "report.json").read_text())
    low, high = report["test_intervals"]["accuracy"]["interval"]
    accuracy = report["test_metrics"]["accuracy"]
    (test_line,) = [line for line in lines if line.startswith("Test: ")]
    expected = f"Test: accuracy {accuracy:.4f} (95% Wilson [{low:.4f}, {high:.4f}])"
    assert test_line.startswith(expected)
    assert f"Backend: {report['backend']}" in lines
    assert not any(line.startswith("Baseline:") for line in lines)  # --no-baseline
    # The narrowing in one line (its table is printed once, when it is made), the changed
    # hyperparameters named; the whole command's wall time beside the steps'.
    changes = report["narrowing"]["changes"]
    changed = [c["name"] for c in changes if c["before"] != c["after"]]
    (narrowing,) = [line for line in lines if line.startswith("Narrowing:")]
    if {c["rule"] for c in changes} == {"chance"}:  # one epoch: a coarse trial at chance
        assert narrowing.startswith("Narrowing: none, the whole space was kept (too few")
    else:
        assert narrowing.startswith(f"Narrowing: {len(changed)} of {len(changes)} hyperparameters")
        assert all(name in narrowing for name in changed[:6])
    assert not any(line.startswith("units_0 ") for line in lines)  # no table
    # The first (plain) run's command did every step: its time covers theirs.
    (time_line,) = [line for line in outputs["plain"].splitlines() if line.startswith("Time: ")]
    total = float(re.search(r"this command (\d+)s in all", time_line).group(1))
    assert total >= sum(report["timings"].values()) - 1


def summarised_result(run_dir: Path, test_metrics: dict[str, float]) -> SimpleNamespace:
    """What the closing summary reads of a `RunResult` (its report.json is `run_dir`'s)."""
    return SimpleNamespace(
        phase_bests={"coarse": {"trial_id": "01", "score": 0.9}},
        test_metrics=test_metrics,
        best_phase="coarse",
        best_trial_id="01",
        selection="best",
        narrowed="(table)",
        final_epochs=1,
        timings={"coarse": 3.0},
        run_dir=run_dir,
        artifacts={},
    )


def test_the_summary_gives_the_baselines_verdict(tmp_path: Path) -> None:
    from tunekit.cli_summary import summary

    verdict = "tuned is better than the baseline: test accuracy 0.99 vs 0.98 (McNemar ...)."
    report = {"backend": "jax", "baseline": {"verdict": verdict}, "test_intervals": None}
    (tmp_path / "report.json").write_text(json.dumps(report))
    result = summarised_result(tmp_path, {"accuracy": 0.99, "loss": 0.1})
    lines = summary(result).splitlines()
    assert "Test: accuracy 0.9900, loss 0.1000" in lines  # no intervals recorded: none shown
    assert f"Baseline: {verdict}" in lines and "Backend: jax" in lines
    assert "Final model: 1 epoch on train+validation" in lines

    # Regression on 4 test examples: no intervals, and the reason said once.
    why = "none: 4 test examples, too few for a bootstrap interval (it needs at least 20)"
    report["test_intervals"] = {
        name: {"value": 0.5, "interval": None, "method": why} for name in ("mse", "r2")
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
    result.test_metrics = {"mse": 0.5, "r2": 0.5}
    (test_line,) = [line for line in summary(result).splitlines() if line.startswith("Test: ")]
    assert test_line == f"Test: mse 0.5000, r2 0.5000 (intervals {why})"

    # Final seeds: the headline metric over seeds, beside the saved model's.
    report["final_seeds"] = {
        "seeds": [0, 1],
        "saved_seed": 0,
        "per_seed": {"0": {"r2": 0.5, "loss": 1.0}, "1": {"r2": 0.25, "loss": 2.0}},
        "summary": {"r2": {"mean": 0.375, "std": 0.1768, "n": 2}, "loss": {}},
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
    lines = summary(result).splitlines()
    assert (
        "Final seeds: r2 mean 0.3750, std 0.1768 over 2 seeds (0.5000, 0.2500); the saved "
        "model is seed 0's"
    ) in lines
    # A run tuned on val_mae leads with mae (it showed r2), when the seeds measured it.
    report["final_seeds"]["per_seed"] = {
        "0": {"r2": 0.5, "mae": 0.3},
        "1": {"r2": 0.25, "mae": 0.5},
    }
    report["final_seeds"]["summary"]["mae"] = {"mean": 0.4, "std": 0.1414, "n": 2}
    (tmp_path / "report.json").write_text(json.dumps(report))
    (tmp_path / "manifest.json").write_text(json.dumps({"config": {"objective": "val_mae"}}))
    lines = summary(result).splitlines()
    assert "Final seeds: mae mean 0.4000, std 0.1414 over 2 seeds (0.3000, 0.5000); the " in (
        "\n".join(lines)
    )


def test_retracing_of_kerass_own_steps_is_not_shown_but_of_a_users_function_is(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # Every trial's new model traces Keras's step functions once: TensorFlow's detector
    # then warns "5 out of the last 5 calls to <function TensorFlowTrainer...> triggered
    # tf.function retracing" on the console of a normal run. The detector is TensorFlow's
    # own, fed the names of a real Keras step function and of a user's function.
    pf = pytest.importorskip("tensorflow.python.eager.polymorphic_function.polymorphic_function")
    import logging

    from tunekit import _log

    trainer = pytest.importorskip("keras.src.backend.tensorflow.trainer").TensorFlowTrainer
    # Every step function Keras's TensorFlow trainer defines (train/test: `_make_function`,
    # predict: `make_predict_function`), as the warning names them.
    keras_steps = [
        f"<function {code.co_qualname} at 0x7f0000000000>"
        for method in vars(trainer).values()
        if callable(method) and hasattr(method, "__code__")
        for code in method.__code__.co_consts
        if hasattr(code, "co_qualname") and "<locals>" in code.co_qualname
    ]
    assert any("_make_function.<locals>.multi_step_on_iterator" in k for k in keras_steps)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])

    def users_step(x: object) -> object:
        return x

    def warnings_for(function: object) -> list[str]:
        caplog.clear()
        detector = pf._FrequentTracingDetector()
        with caplog.at_level(logging.WARNING, logger="tensorflow"):
            for _ in range(pf.FREQUENT_TRACING_WARNING_THRESHOLD):
                name = function if isinstance(function, str) else repr(function)
                detector.called_with_tracing(name, omit_warning=False)
        return [r.getMessage() for r in caplog.records if "retracing" in r.getMessage()]

    tf_logger = logging.getLogger("tensorflow")
    tf_logger.removeFilter(_log._RETRACING_FILTER)
    assert [len(warnings_for(k)) for k in keras_steps] == [1] * len(keras_steps)  # before
    from tunekit.tuners import RandomSearch

    for _ in range(2):  # every tunekit tuner adds the filter, once per process
        RandomSearch(lambda hp: model, objective="loss", max_trials=1, directory=tmp_path)
    assert tf_logger.filters.count(_log._RETRACING_FILTER) == 1
    assert [warnings_for(k) for k in keras_steps] == [[]] * len(keras_steps)
    assert len(warnings_for(users_step)) == 1


@pytest.mark.parametrize(
    "message, reason",
    [
        # JAX appends a note below the exception; it was reported as the trial's error.
        (
            'Traceback (most recent call last):\n  File "x.py", line 1, in f\n'
            "    raise ValueError(\n"
            "ValueError: Missing data for input \"b\". Expected the following keys: ['a', 'b']\n"
            "--------------------\nFor simplicity, JAX has removed its internal frames from the "
            "traceback of the following exception. Set JAX_TRACEBACK_FILTERING=off to include "
            "these.\n",
            "ValueError: Missing data for input \"b\". Expected the following keys: ['a', 'b']",
        ),
        # A message of several lines: its first, the one naming the exception.
        (
            "Traceback (most recent call last):\n  ...\nValueError: Input 0 is incompatible.\n"
            "  expected shape=(None, 8), found shape=(32, 9)\n",
            "ValueError: Input 0 is incompatible.",
        ),
        (
            "Traceback (most recent call last):\n  ...\n"
            "jax.errors.TracerBoolConversionError: Attempted boolean conversion\n",
            "jax.errors.TracerBoolConversionError: Attempted boolean conversion",
        ),
        ("Traceback (most recent call last):\n  ...\nKeyboardInterrupt\n", "KeyboardInterrupt"),
        # Keras wraps a layer's error: the next line says what went wrong.
        (
            "Traceback (most recent call last):\n  ...\nValueError: Exception encountered when "
            'calling Functional.call().\n\n\x1b[1mInput 0 of layer "dense" is incompatible: '
            "expected axis -1 of 13, got 11\x1b[0m\n\nArguments received by Functional.call():\n",
            "ValueError: Exception encountered when calling Functional.call(). Input 0 of layer "
            '"dense" is incompatible: expected axis -1 of 13, got 11',
        ),
        ("something odd happened\n", "something odd happened"),
        (None, ""),
    ],
)
def test_a_failed_trials_reason_is_the_line_naming_its_exception(message, reason):
    from types import SimpleNamespace

    from tunekit.progress import failure_reason

    assert failure_reason(SimpleNamespace(message=message)) == reason
