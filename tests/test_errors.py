"""tunekit's errors (one `TunekitError` base) and its progress output (the `tunekit` logger)."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import logging
import pkgutil
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

import tunekit
from tunekit import _log
from tunekit.coarse_to_fine import cli_message, main
from tunekit.data import Dataset
from tunekit.errors import (
    NoCompletedTrialsError,
    RetrainDivergedError,
    RunConfigError,
    StateFileError,
    TunekitError,
)
from tunekit.manifest import RunManifest, check_writable
from tunekit.workflow import CoarseToFine

ROOT = Path(__file__).resolve().parents[1]

# Where each error was defined before tunekit.errors: those imports keep working.
OLD_HOMES = {
    "StateFileError": "tunekit._io",
    "PortInUseError": "tunekit.distribute.cluster",
    "UsageError": "tunekit.hypermodel_specs",
    "RunConfigError": "tunekit.manifest",
    "RunLockedError": "tunekit.manifest",
    "NoCompletedTrialsError": "tunekit.workflow",
    "WorkerLostError": "tunekit.distribute.chief",
    "WorkerCrashError": "tunekit.distribute.supervisor",
    "ChiefUnreachableError": "tunekit.distribute.worker",
    "WorkerRefusedError": "tunekit.distribute.worker",
    "Interrupted": "tunekit.interrupts",
}


def _exception_classes():
    """Every exception class defined in a tunekit module (imported, so nothing is missed)."""
    for info in pkgutil.iter_modules(tunekit.__path__):
        module = importlib.import_module(f"tunekit.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                yield cls


def test_every_tunekit_exception_is_a_tunekit_error_and_exported():
    classes = set(_exception_classes())
    assert {c.__name__ for c in classes} >= {
        "HyperModelFitError",
        "RunConfigError",
        "Interrupted",
        "RetrainDivergedError",
    }
    for cls in classes:
        if issubclass(cls, Warning):  # DataWarning: a warning, exported, not an error
            assert cls is tunekit.DataWarning and "DataWarning" in tunekit.__all__
            continue
        if cls is tunekit.Interrupted:  # passes `except Exception`, like KeyboardInterrupt
            assert not issubclass(cls, Exception)
            continue
        assert issubclass(cls, TunekitError), cls
        if not cls.__name__.startswith("_"):
            assert cls.__name__ in tunekit.__all__ and getattr(tunekit, cls.__name__) is cls
    for name, module in OLD_HOMES.items():
        assert getattr(importlib.import_module(module), name) is getattr(tunekit, name)


def test_errors_keep_the_builtin_and_kerastuner_bases_users_catch():
    assert issubclass(tunekit.RunConfigError, ValueError)
    assert issubclass(tunekit.UsageError, ValueError)
    assert issubclass(tunekit.PortInUseError, OSError)
    for name in (
        "RunLockedError",
        "StateFileError",
        "NoCompletedTrialsError",
        "RetrainDivergedError",
        "RunNotFinishedError",
        "DataUnavailableError",
    ):
        assert issubclass(getattr(tunekit, name), RuntimeError), name
    # It fails its trial only (KerasTuner's FailedTrialError), and it is tunekit's.
    assert issubclass(tunekit.HyperModelFitError, kt.errors.FailedTrialError)
    assert issubclass(tunekit.HyperModelFitError, ValueError)
    assert not issubclass(tunekit.HyperModelFitError, kt.errors.FatalError)
    assert issubclass(tunekit.Interrupted, BaseException)


@pytest.mark.parametrize(
    "module, error",
    [("data", "DataError"), ("outputs", "OutputShapeError"), ("narrowing", "TooFewTrialsError")],
)
def test_bad_data_a_misfit_model_and_too_few_trials_raise_tunekit_errors(module, error):
    if module == "data":
        call = lambda: Dataset.from_arrays(
            np.zeros((10, 3), "float32"), np.full(10, 1.5), task="classification"
        )  # floats are regression
    elif module == "outputs":
        from tunekit.outputs import check_output_shape

        call = lambda: check_output_shape((None, 5), 10)
    else:
        from tunekit.narrowing import narrow_space

        call = lambda: narrow_space(kt.HyperParameters(), [], direction="max")
    with pytest.raises(getattr(tunekit, error)) as info:
        call()
    assert isinstance(info.value, ValueError)  # what code written before still catches


def test_no_bare_runtime_error_is_raised():
    """A failure tunekit names is a specific `TunekitError`, not a bare RuntimeError.

    (Nor a bare ValueError about the data: a `DataError`.)
    """
    for path in sorted((ROOT / "tunekit").rglob("*.py")):  # packages too (tunekit/plots/)
        if path.name == "_faults.py":  # injected test faults
            continue
        refused = {"RuntimeError", "Exception"} | (
            {"ValueError"} if path.parent.name == "data" else set()
        )
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Raise, ast.Return)) and isinstance(
                node.value if isinstance(node, ast.Return) else node.exc, ast.Call
            ):
                call = node.value if isinstance(node, ast.Return) else node.exc
                assert not (isinstance(call.func, ast.Name) and call.func.id in refused), (
                    f"{path.name}:{node.lineno}"
                )


# -- messages: keywords in Python, flags on the command line -------------------------


def test_library_messages_name_keywords(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(RunConfigError) as info:
        RunManifest.open(tmp_path / "run", {"seed": 0}, overwrite=False)
    message = str(info.value)
    assert "Pass overwrite=True to delete them" in message
    assert "project_name=" in message and "--" not in message
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(RunConfigError, match="Choose another directory= / project_name=") as info:
        check_writable(tmp_path / "a_file" / "runs")
    assert "--" not in str(info.value)


@pytest.mark.parametrize(
    "error, said",
    [
        (
            RunConfigError(
                "Pass overwrite=True to delete them, or choose another project_name= / directory=."
            ),
            "Pass --overwrite to delete them, or choose another --project-name / --directory.",
        ),
        (
            RetrainDivergedError("Pass a smaller final_epochs= or narrow the learning rate."),
            "Pass a smaller --final-epochs or narrow the learning rate.",
        ),
        (
            NoCompletedTrialsError(
                "see `error` in trials_dataframe('runs/x')). Rerun with overwrite=True."
            ),
            "see `error` in trials_dataframe('runs/x')). Rerun with --overwrite.",
        ),
        (
            tunekit.HyperModelFitError(
                "or leave final_epochs='auto': or use fine_tuner='bayesian')."
            ),
            "or leave --final-epochs auto: or use --fine-tuner bayesian).",
        ),
        (
            StateFileError(
                "defaults_first=False, top=0.5 and seed=3; overwrite=False; val_accuracy=0.91"
            ),
            "--no-defaults-first, --top 0.5 and --seed 3; overwrite=False; val_accuracy=0.91",
        ),
        (ValueError("not tunekit's: overwrite=True stays"), "not tunekit's: overwrite=True stays"),
        (  # an argument named in backticks (before, the Python name stayed on the CLI)
            tunekit.UsageError(
                "`data`: class(es) ['2'] only in test. Choose one of those as `objective`; "
                "`hypermodel` builds ..., `epochs` and `val_auc` are not options."
            ),
            "`--data`: class(es) ['2'] only in test. Choose one of those as `--objective`; "
            "`--hypermodel` builds ..., `epochs` and `val_auc` are not options.",
        ),
        (  # both forms named for Python: the command line says its flag once
            tunekit.DataError(
                'Pass task="classification" (--task classification) for classes, or '
                "task='regression' (--task regression) for a quantity."
            ),
            "Pass --task classification for classes, or --task regression for a quantity.",
        ),
        (  # `task=None` (leave it unset) was said as "--task None", which argparse refuses
            tunekit.DataError(
                'Pass task="regression" (or task=None to infer it from the targets).'
            ),
            "Pass --task regression (or leave out --task to infer it from the targets).",
        ),
    ],
)
def test_cli_translates_keywords_to_flags(error, said):
    assert cli_message(error) == said


def _small_npz(path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8),
        y_train=np.arange(60) % 3,
        x_test=rng.integers(0, 255, (30, 8, 8), dtype=np.uint8),
        y_test=np.arange(30) % 3,
    )
    return path


def test_cli_messages_name_flags(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    assert main(["--directory", str(tmp_path / "a_file"), "--backend", "tensorflow"]) == 2
    err = capsys.readouterr().err
    assert "Choose another --directory / --project-name." in err and "directory=" not in err
    (tmp_path / "runs" / "mnist-dense-d").mkdir(parents=True)  # the default: hypermodel-data
    (tmp_path / "runs" / "mnist-dense-d" / "notes.txt").write_text("mine")
    args = [
        "--data",
        str(_small_npz(tmp_path / "d.npz")),
        "--directory",
        str(tmp_path / "runs"),
        "--backend",
        "tensorflow",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        "Pass --overwrite to delete them, or choose another --project-name / --directory." in err
        and "overwrite=True" not in err
    )


# -- progress: the "tunekit" logger ---------------------------------------------------


@pytest.fixture
def fresh_logger():
    """The `tunekit` logger as a new Python process has it (restored afterwards)."""
    logger = logging.getLogger("tunekit")
    saved = logger.level, logger.handlers[:]
    logger.handlers = [logging.NullHandler()]
    logger.setLevel(logging.NOTSET)
    yield logger
    logger.handlers = saved[1]
    logger.setLevel(saved[0])


def _build(hp):
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(hp.Int("units", 4, 16), activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_notebook_sees_progress_and_silences_it_with_the_logger_level(
    fresh_logger, caplog, capsys, tmp_path
):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    data = Dataset.from_arrays(x, (x[:, 0] > 0).astype("int64"))
    run = CoarseToFine(
        _build,
        data,
        directory=tmp_path,
        project_name="p",
        coarse_trials=3,
        coarse_epochs=1,
        fine_tuner="bayesian",
        fine_trials=2,
        batch_size=32,
    )
    run.coarse()  # by default (verbose=1) progress is printed, as plain lines
    out = capsys.readouterr().out
    assert "[coarse] trial 3/3 (id " in out and out.count("[coarse] trial 1/3") == 1
    assert all(r.name.startswith("tunekit.") for r in caplog.records if "[coarse]" in r.message)
    caplog.set_level(logging.WARNING, logger="tunekit")  # what a notebook user writes
    caplog.clear()
    run.narrow()
    run.close()
    # Progress ("Narrowed search space ...") is gone; warnings stay (here the coarse
    # trials at chance: one epoch of 3 steps).
    out = capsys.readouterr().out
    assert "Narrowed search space" not in out
    assert all(r.levelno >= logging.WARNING for r in caplog.records)
    assert out == "".join(f"{r.getMessage()}\n" for r in caplog.records)


def test_verbose_0_reports_nothing_even_to_a_configured_logger(
    fresh_logger, caplog, capsys, tmp_path
):
    caplog.set_level(logging.INFO, logger="tunekit")
    run = CoarseToFine(
        _build,
        Dataset.from_arrays(np.zeros((30, 6), "float32"), np.arange(30) % 2),
        directory=tmp_path,
        project_name="q",
        verbose=0,
    )
    run._say("a progress line")
    assert not caplog.records and capsys.readouterr().out == ""
    run.verbose = 1
    run._say("a progress line")
    assert [r.getMessage() for r in caplog.records] == ["a progress line"]
    # The user's own handler (caplog's, on the root logger) and tunekit's print.
    assert capsys.readouterr().out == "a progress line\n"


@pytest.mark.parametrize("quiet", [False, True])
def test_cli_output_prints_info_on_stdout_and_warnings_on_stderr(fresh_logger, capsys, quiet):
    _log.show_progress()  # a notebook-style handler from an earlier run: not used meanwhile
    with _log.cli_output(quiet=quiet):
        logging.getLogger("tunekit.chief").info("[coarse] waiting for workers")
        logging.getLogger("tunekit.worker").warning("worker w: trial 1 failed")
    captured = capsys.readouterr()
    assert captured.out == ("" if quiet else "[coarse] waiting for workers\n")
    assert captured.err == "worker w: trial 1 failed\n"
    assert fresh_logger.level == logging.INFO  # restored
    assert [type(h) for h in fresh_logger.handlers] == [logging.NullHandler, _log.PrintHandler]


_FIXED = {"on": False}  # the user's fix


def _breaks_past_the_defaults(hp):
    """Builds the defaults (units=4); any other configuration raises in `build` (until fixed)."""
    units = hp.Int("units", 4, 64, default=4)
    if units != 4 and not _FIXED["on"]:
        raise ValueError(f"no room for units={units}")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(units, activation="relu")])
    model.add(keras.layers.Dense(2, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("verbose", [0, 1])
def test_failed_trials_in_a_row_stop_with_a_named_error_and_verbose_0_prints_no_traceback(
    fresh_logger, capfd, tmp_path, verbose
):
    """Before, KerasTuner printed every failed trial's traceback even with verbose=0,
    and its stop was a bare RuntimeError; now it is `TrialsFailedError`, naming the
    last trial's error and where its traceback is, and a rerun resumes."""
    rng = np.random.default_rng(0)
    data = Dataset.from_arrays(rng.normal(size=(60, 6)).astype("float32"), np.arange(60) % 2)
    options = dict(directory=tmp_path, project_name="f", coarse_trials=5, coarse_epochs=1)
    run = CoarseToFine(
        _breaks_past_the_defaults, data, max_consecutive_failed_trials=2, verbose=verbose, **options
    )
    with pytest.raises(tunekit.TrialsFailedError) as info:
        run.run()
    run.close()
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)  # KerasTuner's error was one
    assert "coarse search stopped: 2 trials in a row failed" in message
    assert "the last, coarse trial 3 (id 2), with ValueError: no room for units=" in message
    assert str(tmp_path / "f" / "coarse" / "trial_2" / "trial.json") in message
    saved = json.loads((tmp_path / "f" / "coarse" / "trial_2" / "trial.json").read_text())
    assert saved["status"] == "FAILED" and "Traceback" in saved["message"]
    captured = capfd.readouterr()
    printed = captured.out + captured.err
    if verbose:  # KerasTuner's traceback, and the progress line names the error
        assert "Traceback" in printed
        assert "(id 1): FAILED (ValueError: no room for units=" in printed
    else:
        assert "Traceback" not in printed and "no room" not in printed, printed
    # The rerun resumes: the completed default trial is kept, one more trial is tried.
    rerun = dict(max_consecutive_failed_trials=2, verbose=0, **options)
    with pytest.raises(tunekit.TrialsFailedError, match="3 trials in a row failed"):
        CoarseToFine(_breaks_past_the_defaults, data, **rerun).run()
    # Fixed, the rerun finishes the search. Before, KerasTuner found the old run of
    # failures again after every new trial and stopped each rerun after one trial.
    _FIXED["on"] = True
    try:
        fixed = CoarseToFine(_breaks_past_the_defaults, data, **rerun)
        tuner = fixed.coarse()
        fixed.close()
    finally:
        _FIXED["on"] = False
    statuses = [tuner.oracle.trials[t].status for t in tuner.oracle.end_order]
    assert statuses == ["COMPLETED", "FAILED", "FAILED", "FAILED", "COMPLETED"], statuses
    assert fixed.manifest.is_done("coarse")


def test_a_rerun_may_allow_more_failed_trials_in_a_row_as_the_stop_message_says(tmp_path):
    """Found by a probe: the stop said "allow more failures in a row with
    --max-consecutive-failed-trials; rerunning resumes the search", and the rerun that
    did so was refused as another configuration."""
    rng = np.random.default_rng(0)
    data = Dataset.from_arrays(rng.normal(size=(60, 6)).astype("float32"), np.arange(60) % 2)
    options = dict(directory=tmp_path, project_name="f", coarse_trials=5, coarse_epochs=1)
    run = CoarseToFine(_breaks_past_the_defaults, data, max_consecutive_failed_trials=1, **options)
    with pytest.raises(tunekit.TrialsFailedError, match="allow more failures in a row"):
        run.run()
    run.close()
    more = CoarseToFine(
        _breaks_past_the_defaults, data, max_consecutive_failed_trials=3, verbose=0, **options
    )
    said: list[str] = []
    more.say = said.append  # type: ignore[method-assign] (what it tells, verbose=0 or not)
    with pytest.raises(tunekit.TrialsFailedError, match="3 trials in a row failed"):
        more.coarse()  # resumed: the completed default trial and the failure are kept
    assert "`max_consecutive_failed_trials` (1 -> 3) changed" in " ".join(said)
    oracle = CoarseToFine(_breaks_past_the_defaults, data, verbose=0, **options)._tuner("coarse")
    statuses = [oracle.oracle.trials[t].status for t in oracle.oracle.end_order]
    assert statuses == ["COMPLETED", "FAILED", "FAILED", "FAILED"], statuses


def test_verbose_0_still_shows_a_warning_on_stderr(fresh_logger, capsys, tmp_path):
    """`objective="accuracy"` (measured on the training data) with `verbose=0`: the
    warning went to the logger's NullHandler and no script showed it. Progress stays
    hidden; a later `verbose=1` run shows its lines too."""
    data = Dataset.from_arrays(np.zeros((30, 6), "float32"), np.arange(30) % 2)
    run = CoarseToFine(
        _build, data, objective="accuracy", directory=tmp_path, project_name="q", verbose=0
    )
    run._say("a progress line")
    captured = capsys.readouterr()
    assert "'accuracy' is measured on the training data" in captured.err
    assert captured.out == "" and "a progress line" not in captured.err
    loud = CoarseToFine(_build, data, directory=tmp_path, project_name="loud", verbose=1)
    loud._say("another progress line")
    assert capsys.readouterr().out == "another progress line\n"


def test_keras_words_quoted_in_a_message_are_left_as_they_are():
    """Found by a probe: a failed trial's Keras error, quoted in tunekit's message, had its
    `target` argument rewritten to the CSV flag (`Arguments `--target` and `output`...`)
    for an image folder."""
    from tunekit.errors import raised_line

    keras_error = raised_line(
        'Traceback (most recent call last):\n  File "fit.py", line 3, in <module>\n'
        "ValueError: Arguments `target` and `output` must have the same rank (ndim). "
        "Received: target.shape=(None,), output.shape=(None, 2)\n"
    )
    error = tunekit.TrialsFailedError(
        f"3 trials in a row failed (max_consecutive_failed_trials=3); the last, trial 2, with "
        f"{keras_error} (its traceback: trial.json). Fix the cause, or pass task='regression'."
    )
    said = cli_message(error)
    assert "with ValueError: Arguments `target` and `output` must have the same rank" in said
    assert "Received: target.shape=(None,)" in said
    assert "(--max-consecutive-failed-trials 3)" in said and "--task regression" in said


def test_keras_words_from_a_build_or_a_layer_call_are_quoted_whole_and_as_keras_said_them():
    """Found by a retry: the refusal of a build that raises with its defaults rewrote Keras's
    "Argument `seed` must be an integer. Received: seed=abc" as "`--seed` ... --seed abc",
    and an error inside a layer's call was cut to Keras's wrapper line, losing its cause."""
    from tunekit.default_build import build_error as _default_build_error
    from tunekit.errors import error_line

    try:
        keras.layers.Dropout(0.5, seed="abc")
    except ValueError as raised:
        error = _default_build_error(raised)
    said = cli_message(error)
    assert "Argument `seed` must be an integer. Received: seed=abc" in said
    assert "--seed" not in said and "`--hypermodel`'s build raised ValueError" in said

    class Noisy(keras.layers.Layer):
        def call(self, x):
            return x + keras.random.normal(keras.ops.shape(x), seed="abc")

    try:
        Noisy()(keras.Input((4,)))
    except ValueError as raised:
        line = error_line(raised)
    assert line.startswith("ValueError: Exception encountered when calling Noisy.call(). ")
    assert "Received: seed=abc" in line and "Error encountered:" not in line


@pytest.mark.parametrize(
    "items, limit, options, said",
    [
        # Before: "1, 2, 3, 4, 5, 6, ..., 7 (7 values)": a "..." that hid nothing.
        (range(1, 8), 6, dict(last=True, total="values"), "1, 2, 3, 4, 5, 6, 7"),
        (range(1, 9), 6, dict(last=True, total="values"), "1, 2, 3, 4, 5, 6, ..., 8 (8 values)"),
        (range(1, 6), 5, {}, "1, 2, 3, 4, 5"),
        (range(1, 7), 5, {}, "1, 2, 3, 4, 5, ..."),
        ("abc", 3, dict(more=True, form=repr), "'a', 'b', 'c'"),
        ("abcd", 3, dict(more=True, form=repr), "'a', 'b', 'c' and 1 more"),
        ([], 3, {}, ""),
    ],
)
def test_a_list_in_a_message_is_shortened_only_when_something_is_left_out(
    items, limit, options, said
):
    assert _log.listed(items, limit, **options) == said


def test_messages_say_dots_only_where_values_are_left_out():
    """Each shortened list in a message goes through `_log.listed`; a `...` cut by hand
    ("first six, then the last") printed `..., 7 (7 values)` for 1..7."""
    from tunekit.data._classes import value_labels_refusal
    from tunekit.data._targets import infer_task
    from tunekit.stats import compare_to_baseline

    said = value_labels_refusal("y", np.arange(1, 8))
    assert "holds the whole numbers 1, 2, 3, 4, 5, 6, 7, not the class ids" in said
    with pytest.raises(
        tunekit.DataError, match=r"holds only the whole numbers 1, 2, 3, 4, 5, 6, 7: "
    ):
        infer_task(np.arange(1.0, 8.0), "y")
    with pytest.raises(tunekit.UsageError) as raised:
        compare_to_baseline(np.array([0]), tuned=np.array(["a"]), baseline=np.array(["a"]))
    assert "..." not in str(raised.value), str(raised.value)  # one label each: all shown
