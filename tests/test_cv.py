"""Cross-validated trials: `cv=K` in `make_tuner`, `CoarseToFine` and `--cv K`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, StratifiedKFold

from tunekit import cv
from tunekit.coarse_to_fine import main
from tunekit.errors import DataError, InvalidParameterError
from tunekit.results import trials_dataframe
from tunekit.tuners import make_tuner


class Recording(kt.HyperModel):
    """A small dense model that records every fit's validation targets and history."""

    def __init__(self, outputs: int, loss: str, metrics: list[str]) -> None:
        super().__init__()
        self.outputs, self.loss, self.metrics = outputs, loss, metrics
        self.fits: list[tuple[np.ndarray, dict[str, list[float]]]] = []

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        units = hp.Int("units", 4, 16, step=4)
        activation = "softmax" if self.outputs > 1 else None
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(self.outputs, activation=activation),
            ]
        )
        model.compile(keras.optimizers.Adam(0.05), self.loss, metrics=self.metrics)
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        history = model.fit(*args, **kwargs)
        y_val = np.asarray(kwargs["validation_data"][1])
        self.fits.append((y_val, {k: list(v) for k, v in history.history.items()}))
        return history


def _classes(n: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three unbalanced classes (90 / 36 / 24), separable on the first feature."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), [n * 6 // 10, n * 24 // 100, n * 16 // 100])
    x = rng.normal(size=(len(y), 8)).astype("float32")
    x[:, 0] += 2 * y
    order = rng.permutation(len(y))
    return x[order], y[order]


def test_fold_indices_are_stratified_for_labels_and_kfold_for_values() -> None:
    y = np.repeat(np.arange(3), [60, 24, 15])
    folds = cv.fold_indices(y, 3, seed=5)
    validation = np.sort(np.concatenate([val for _, val in folds]))
    np.testing.assert_array_equal(validation, np.arange(len(y)))  # a partition
    for train, val in folds:
        assert np.intersect1d(train, val).size == 0
        np.testing.assert_array_equal(np.bincount(y[val], minlength=3), [20, 8, 5])
    values = np.linspace(0.0, 1.0, 99)
    expected = list(KFold(3, shuffle=True, random_state=5).split(values))
    for (train, val), (e_train, e_val) in zip(cv.fold_indices(values, 3, seed=5), expected):
        np.testing.assert_array_equal(val, e_val)
        np.testing.assert_array_equal(train, e_train)
    with pytest.raises(DataError, match=r"cv=3 .* these have fewer: 1 \(2\)\."):
        cv.fold_indices(np.array([0, 0, 0, 1, 1]), 3, seed=0)


def test_combined_score_is_the_best_epoch_of_the_mean_curve() -> None:
    objective = kt.Objective("val_accuracy", "max")
    curves = [[0.5, 0.9, 0.6], [0.7, 0.6, 0.9], [0.6, 0.6, 0.9]]  # mean: 0.6, 0.7, 0.8
    folds = []
    for curve in curves:
        history = keras.callbacks.History()
        history.history = {"val_accuracy": curve, "loss": [1.0, 0.5, 0.25], "epochs": [3.0] * 3}
        folds.append([history])
    combined = cv.combine_folds(folds, objective).history
    assert combined["val_accuracy"] == pytest.approx([0.6, 0.7, 0.8])
    # Each fold's score is taken at the mean curve's best epoch (the last), not its own best.
    assert [combined[f"fold_{k}_score"][0] for k in (1, 2, 3)] == pytest.approx([0.6, 0.9, 0.9])
    assert combined["epochs"] == [3.0] * 3


def test_fold_scores_of_fits_that_return_metric_dicts() -> None:
    objective = kt.Objective("val_loss", "min")
    folds = [[{"val_loss": 1.0, "mae": 0.5}, {"val_loss": 3.0, "mae": 1.5}], [{"val_loss": 4.0}]]
    combined = cv.combine_folds(folds, objective)  # executions averaged, then folds
    assert combined == {"val_loss": 3.0, "fold_1_score": 2.0, "fold_2_score": 4.0}


def test_the_search_steps_stratify_classes_and_use_kfold_for_regression(tmp_path: Path) -> None:
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    rng = np.random.default_rng(0)
    x = rng.random((90, 8), "float32")
    for y, stratify in [(rng.random(90, "float32"), False), (np.arange(90) % 3, None)]:
        data = Dataset.from_arrays(x, y)
        run = CoarseToFine(
            MnistDenseHyperModel(), data, cv=3, fine_tuner="bayesian", directory=tmp_path
        )
        coarse = next(step for step in run.steps if step.name == "coarse")
        tuner = coarse.tuner(run)  # type: ignore[attr-defined]
        assert (tuner.cv, tuner.cv_stratify) == (3, stratify)
        assert run.config()["cv"] == 3


class _RecordingRows(Recording):
    """`Recording` that keeps each fit's validation rows (`x`), to name its samples."""

    def __init__(self, outputs: int, loss: str, metrics: list[str]) -> None:
        super().__init__(outputs, loss, metrics)
        self.rows: list[np.ndarray] = []

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        self.rows.append(np.asarray(kwargs["validation_data"][0]))
        return super().fit(hp, model, *args, **kwargs)


@pytest.mark.parametrize(
    ("task", "seed"),
    [
        ("classification", 0),
        ("regression", 11),
        # About 10 s each: the two cases above cover a zero and a non-zero seed.
        pytest.param("classification", 11, marks=pytest.mark.long),
        pytest.param("regression", 0, marks=pytest.mark.long),
    ],
)
def test_both_phases_cross_validate_on_the_folds_of_the_runs_seed(
    tmp_path: Path, task: str, seed: int
) -> None:
    """The coarse and fine tuners shuffled their folds with their own trial seeds
    (`phase_seed`): two partitions, compared by the final pick, and for a seed other than
    0 neither was `--seed`'s. Every fit of both phases now validates on a fold of
    scikit-learn's splitter shuffled with the run's seed, as the README says."""
    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    if task == "classification":
        x, y = _classes()
        splitter: Any = StratifiedKFold(3, shuffle=True, random_state=seed)
        hypermodel = _RecordingRows(3, "sparse_categorical_crossentropy", ["accuracy"])
    else:
        x = np.random.default_rng(1).normal(size=(120, 8)).astype("float32")
        y = x[:, :2].sum(axis=1).astype("float32")
        splitter = KFold(3, shuffle=True, random_state=seed)
        hypermodel = _RecordingRows(1, "mse", ["mae"])
    data = Dataset.from_arrays(x, y, task=task)
    run = CoarseToFine(
        hypermodel,
        data,
        objective="val_loss",
        directory=tmp_path,
        cv=3,
        coarse_trials=3,
        coarse_epochs=1,
        fine_tuner="bayesian",
        fine_trials=1,
        max_epochs=1,
        seed=seed,
        baseline=False,
        verbose=0,
    )
    run.fine()  # the coarse search, the narrowing and the fine search
    x_full = np.asarray(data.x_train_full)
    index = {row.tobytes(): i for i, row in enumerate(x_full)}
    want = [val for _, val in splitter.split(np.zeros(len(x_full)), data.y_train_full)]
    fits = [np.sort([index[row.tobytes()] for row in rows]) for rows in hypermodel.rows]
    assert len(fits) == 4 * 3  # three coarse trials and one fine trial of three folds
    for start in range(0, len(fits), 3):  # every trial, coarse and fine: the same folds
        for got, expected in zip(fits[start : start + 3], want):
            np.testing.assert_array_equal(got, expected)


def test_cv3_trial_scores_are_the_mean_of_three_stratified_folds(tmp_path: Path) -> None:
    x, y = _classes()
    hypermodel = Recording(3, "sparse_categorical_crossentropy", ["accuracy"])
    tuner = make_tuner(
        "random",
        hypermodel,
        objective="val_accuracy",
        directory=str(tmp_path),
        project_name="coarse",  # the layout of a run folder: trials_dataframe reads it
        max_trials=1,
        seed=0,
        cv=3,
    )
    tuner.search(x[:120], y[:120], validation_data=(x[120:], y[120:]), epochs=2, verbose=0)
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    assert len(hypermodel.fits) == 3 and [t.status for t in trials] == ["COMPLETED"]
    for i, trial in enumerate(trials):
        fits = hypermodel.fits[3 * i : 3 * i + 3]
        # Stratified: each fold validates on a third of every class of train+validation.
        for y_val, _ in fits:
            np.testing.assert_array_equal(np.bincount(y_val, minlength=3), [30, 12, 8])
        mean = np.mean([h["val_accuracy"] for _, h in fits], axis=0)
        best = int(np.argmax(mean))
        folds = [trial.metrics.get_last_value(f"fold_{k}_score") for k in (1, 2, 3)]
        assert folds == pytest.approx([h["val_accuracy"][best] for _, h in fits])
        assert trial.score == pytest.approx(np.mean(folds)) and trial.best_step == best
    frame = trials_dataframe(tmp_path)  # the table: fold columns right after the score
    names = ["fold_1_score", "fold_2_score", "fold_3_score"]
    assert list(frame.columns[4:8]) == ["score", *names]
    assert frame.loc[0, names].tolist() == pytest.approx(folds)


def test_cv_regression_uses_kfold_in_a_bayesian_search(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(90, 8)).astype("float32")
    y = (x[:, :2].sum(axis=1) + 0.1 * rng.normal(size=90)).astype("float32")
    hypermodel = Recording(1, "mse", ["mae"])
    tuner = make_tuner(
        "bayesian",
        hypermodel,
        objective="val_loss",
        directory=str(tmp_path),
        project_name="p",
        max_trials=2,
        num_initial_points=1,
        seed=3,
        cv=3,
    )
    tuner.search(x[:60], y[:60], validation_data=(x[60:], y[60:]), epochs=1, verbose=0)
    expected = [y[val] for _, val in KFold(3, shuffle=True, random_state=3).split(y)]
    for i, trial in enumerate(sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)):
        fits = hypermodel.fits[3 * i : 3 * i + 3]
        for (y_val, _), want in zip(fits, expected):  # the same folds in every trial
            np.testing.assert_array_equal(y_val, want)
        folds = [trial.metrics.get_last_value(f"fold_{k}_score") for k in (1, 2, 3)]
        assert folds == pytest.approx([h["val_loss"][0] for _, h in fits])
        assert trial.score == pytest.approx(np.mean(folds))


def test_cv_refuses_hyperband_and_streams_before_any_trial(tmp_path: Path) -> None:
    common: dict[str, Any] = dict(objective="val_loss", directory=str(tmp_path), seed=0)
    model = Recording(3, "sparse_categorical_crossentropy", [])
    with pytest.raises(ValueError, match="kind='hyperband' cannot cross-validate"):
        make_tuner("hyperband", model, project_name="h", max_epochs=2, cv=3, **common)
    import tensorflow as tf

    x, y = _classes(60)
    stream = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    tuner = make_tuner("random", model, project_name="s", max_trials=1, cv=2, **common)
    with pytest.raises(DataError, match=r"splits the data into folds by sample index.*_\w*Dataset"):
        tuner.search(stream, epochs=1, verbose=0)
    assert not tuner.oracle.trials and not model.fits


def test_coarse_to_fine_cv_with_hyperband_is_refused_naming_the_fix(
    digits_small: Any, tmp_path: Path
) -> None:
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    with pytest.raises(InvalidParameterError, match=r"fine_tuner='bayesian'") as error:
        CoarseToFine(MnistDenseHyperModel(), digits_small, cv=3, directory=tmp_path)
    assert "cv=3 cannot be used with fine_tuner='hyperband' (the default" in str(error.value)
    run = CoarseToFine(MnistDenseHyperModel(), digits_small, directory=tmp_path)
    assert "cv" not in run.config()  # runs from before cv existed resume
    assert "finalists" not in [step.name for step in run.steps]  # off by default (finalists=0)
    assert "finalists" in [
        step.name for step in CoarseToFine(MnistDenseHyperModel(), digits_small, finalists=3).steps
    ]


@pytest.mark.parametrize("finalists", [2, 3])
def test_cv_with_finalists_is_refused_before_any_file(
    digits_small: Any, tmp_path: Path, finalists: int
) -> None:
    """Finalists' extra seeds are scored on the validation split: not comparable with CV.

    Before, the step was switched off with a log line, while the reproduce
    command still carried the finalists the run never had."""
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    with pytest.raises(InvalidParameterError) as error:
        CoarseToFine(
            MnistDenseHyperModel(),
            digits_small,
            cv=3,
            fine_tuner="bayesian",
            finalists=finalists,
            directory=tmp_path,
        )
    assert str(error.value).startswith(f"finalists={finalists} cannot be used with cv=3: ")
    assert "Pass finalists=0 (the default) to cross-validate, or cv=1" in str(error.value)
    assert not any(tmp_path.iterdir())
    for off in (0, 1):  # 0 and 1 both mean "no finalists step"
        run = CoarseToFine(
            MnistDenseHyperModel(),
            digits_small,
            cv=3,
            fine_tuner="bayesian",
            finalists=off,
            directory=tmp_path,
        )
        assert "finalists" not in [step.name for step in run.steps]


def test_cv_with_finalists_on_the_command_line_exits_2_before_loading_data(tmp_path: Path):
    import subprocess
    import sys

    (tmp_path / "unread.npz").write_bytes(b"")  # never read: refused before any data loads
    done = subprocess.run(
        [sys.executable, "-m", "tunekit.coarse_to_fine", "--data", str(tmp_path / "unread.npz")]
        + ["--cv", "2", "--fine-tuner", "bayesian", "--finalists", "2"]
        + ["--directory", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "--finalists 2 cannot be used with --cv 2: " in done.stderr
    assert "Pass --finalists 0 (the default) to cross-validate, or --cv 1" in done.stderr


def test_coarse_to_fine_refuses_a_class_smaller_than_cv_before_any_file(tmp_path: Path) -> None:
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    y = np.repeat(np.arange(3), [40, 40, 6])  # 4 train + 2 validation samples of class 2
    data = Dataset.from_arrays(np.random.default_rng(0).random((86, 8), "float32"), y)
    with pytest.raises(
        DataError, match=r"cv=7 with stratified folds .* these have fewer: '2' \(\d\)\."
    ):
        CoarseToFine(MnistDenseHyperModel(), data, cv=7, fine_tuner="bayesian", directory=tmp_path)
    assert not any(tmp_path.iterdir())


def test_cli_cv_alone_exits_2_before_loading_data(tmp_path: Path, capsys: Any) -> None:
    empty = tmp_path / "empty"  # loading this folder would fail: it holds no images
    empty.mkdir()
    code = main(["--cv", "3", "--directory", str(tmp_path / "runs"), "--data", str(empty)])
    err = capsys.readouterr().err
    assert code == 2 and "--cv 3 cannot be used with --fine-tuner hyperband" in err
    assert "Pass --fine-tuner bayesian" in err and not (tmp_path / "runs").exists()


def _bands_npz(path: Path) -> Path:
    """uint8 8x8 images of 3 classes (bright row band), 40 train and 10 test per class."""
    rng = np.random.default_rng(0)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 3
        x = rng.integers(0, 60, (n, 8, 8)).astype(np.uint8)
        for i, label in enumerate(y):
            x[i, label * 3] = 250
        return x, y

    (x, y), (x_test, y_test) = split(120), split(30)
    np.savez(path, x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    return path


def test_cli_cv_reaches_the_run_and_resuming_with_another_cv_is_refused(
    tmp_path: Path, capsys: Any
) -> None:
    from tunekit.coarse_to_fine import _load_data, _workflow_kwargs, build_parser
    from tunekit.manifest import RunManifest
    from tunekit.workflow import CoarseToFine

    base = [
        "--data",
        str(_bands_npz(tmp_path / "bands.npz")),
        "--directory",
        str(tmp_path / "runs"),
        "--backend",
        "tensorflow",
        "--fine-tuner",
        "bayesian",
    ]
    args = build_parser().parse_args([*base, "--cv", "3"])
    assert _workflow_kwargs(args)["cv"] == 3
    from hypermodels import MnistDenseHyperModel

    data = _load_data(args)
    run = CoarseToFine(MnistDenseHyperModel(), data, **_workflow_kwargs(args))
    assert run.cv == 3 and run.config()["cv"] == 3
    manifest = RunManifest.open(run.run_dir, run.config())  # a run started with --cv 3
    manifest.mark("coarse", "done")  # with a result (a run without any starts over)
    manifest.release()
    assert main([*base, "--cv", "2"]) == 2
    assert "--cv: 3 -> 2" in capsys.readouterr().err
    assert main(base) == 2  # without --cv: cv=1, which the run did not use
    assert "--cv: 3 -> 1" in capsys.readouterr().err


@pytest.mark.slow  # ~20 s idle, 70 s on a loaded machine; the tests above cover its parts
def test_cli_cv3_records_three_fold_scores_whose_mean_is_the_score(
    tmp_path: Path, capsys: Any
) -> None:
    data = _bands_npz(tmp_path / "bands.npz")
    args = [
        "--data",
        str(data),
        "--directory",
        str(tmp_path / "runs"),
        "--project-name",
        "cv",
        "--backend",
        "tensorflow",
        "--batch-size",
        "32",
        "--finalists",
        "0",
        "--no-baseline",
        "--coarse-trials",
        "3",
        "--coarse-epochs",
        "1",
        "--fine-tuner",
        "bayesian",
        "--fine-trials",
        "1",
        "--max-epochs",
        "1",
        "--top",
        "2",
        "--final-epochs",
        "1",
        "--cv",
        "3",
    ]
    assert main(args) == 0, capsys.readouterr().err
    run_dir = tmp_path / "runs" / "cv"
    frame = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    folds = ["fold_1_score", "fold_2_score", "fold_3_score"]
    assert list(frame.columns[4:8]) == ["score", *folds]
    assert (frame.phase == "coarse").sum() == 3 and (frame.phase == "fine").sum() == 1
    np.testing.assert_allclose(frame[folds].mean(axis=1), frame.score, rtol=1e-6)
    for _, row in frame.iterrows():  # the table is the trial's record
        state = json.loads(
            (run_dir / row.phase / f"trial_{row.trial_id}" / "trial.json").read_text()
        )
        recorded = state["metrics"]["metrics"]["fold_2_score"]["observations"][-1]["value"]
        assert recorded[0] == pytest.approx(row.fold_2_score)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["cv"] == 3
    assert main([*args[:-1], "2"]) == 2  # resuming with another cv is refused
    assert "--cv: 3 -> 2" in capsys.readouterr().err


def test_cv_on_an_image_folder_says_how_to_get_arrays(tmp_path: Path) -> None:
    """The command line streams an image folder: the refusal names the way to arrays."""
    from PIL import Image

    from hypermodels import ToonVisionCNNHyperModel
    from tunekit import CoarseToFine
    from tunekit.data import StreamData
    from tunekit.errors import DataError
    from tunekit.image_streams import image_folder_stream

    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(8):
            pixels = (rng.random((16, 40, 3)) * 255).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / "imgs" / name / f"{i}.png")
    stream = image_folder_stream(tmp_path / "imgs", (16, 40), batch_size=4)
    with pytest.raises(DataError, match=r"load_image_directory, or save its images as an \.npz"):
        CoarseToFine(
            ToonVisionCNNHyperModel(input_shape=(16, 40, 3), num_classes=2),
            StreamData.from_image_folder(stream),
            cv=3,
            fine_tuner="bayesian",
            directory=tmp_path / "runs",
        )
    assert not (tmp_path / "runs").exists()  # refused before the run folder


def test_a_class_too_small_for_the_folds_is_named_by_its_name():
    """A text class 'rare' of 3 samples under cv=5 was named by its id: "class(es) [2]
    have [2]"."""
    from tunekit import CoarseToFine, Dataset
    from tunekit.errors import DataError

    x = np.random.default_rng(0).normal(size=(123, 4)).astype("float32")
    y = np.array(["common", "usual"] * 60 + ["rare"] * 3)
    data = Dataset.from_arrays(x, y, seed=0)
    assert list(data.class_names) == ["common", "rare", "usual"]
    with pytest.raises(DataError, match=r"these have fewer: 'rare' \(2\)\. Pass a smaller cv="):
        CoarseToFine(lambda hp: None, data, cv=5, fine_tuner="bayesian")
