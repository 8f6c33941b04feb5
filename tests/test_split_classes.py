"""A validation split lacking classes is said before training, by the test split's rule.

Before, only a test split lacking classes of the training split was warned about
(`tunekit.data._split_classes`, then `_test_split`). A validation split of one's own
(`x_val=` / `y_val=`, an `.npz`'s), one `load_npz` draws at random (`validation_size=`),
a `Dataset.subset(num_val=)` or a stream's, without some class, or of one class only,
said nothing: every trial was scored (`val_accuracy`, `val_loss`) and one chosen on a
set that cannot measure those classes, with exit 0. And with `cv=K`, where the
validation samples join the folds and the retrain, a class only the validation split
held was refused as one "a model cannot learn".
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import BAYES_BUDGET
from tunekit.errors import DataError

NAMES = ["ant", "bee", "cat"]
VAL_CAT_MISSING = (
    "The validation split holds no example of class(es) 'cat' (1 of the 3 classes in y_train): "
    "the search compares the trials and chooses one by their scores on it (the objective, e.g. "
    "val_accuracy or val_loss) without a word on how they do on those classes. Use a "
    "validation set holding every class: add examples of every class to x_val/y_val"
)


def _dataset(y_val: Any, y_test: Any = None, y_train: Any = None, **kwargs: Any) -> Any:
    from tunekit.data import Dataset

    rng = np.random.default_rng(0)
    y_train = np.arange(12) % 3 if y_train is None else y_train
    y_test = np.arange(6) % 3 if y_test is None else y_test
    return Dataset(
        rng.random((len(y_train), 3)),
        y_train,
        rng.random((len(y_val), 3)),
        y_val,
        rng.random((len(y_test), 3)),
        y_test,
        **{"class_names": NAMES, "input_shape": (3,), **kwargs},
    )


def _said(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, data: Any, **settings: Any
) -> list[str]:
    """The warnings about splits lacking classes, logged when the run is made."""
    from tunekit import CoarseToFine

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        run = CoarseToFine(lambda hp: None, data, directory=tmp_path, verbose=0, **settings)
    said = [r.getMessage() for r in caplog.records if " split holds " in r.getMessage()]
    assert said == run.split_notes  # what the report carries
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # before anything is written
    return said


def test_a_validation_split_lacking_a_class_is_said_before_training(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (some,) = _said(caplog, tmp_path, _dataset(np.arange(6) % 2))
    assert some.startswith(VAL_CAT_MISSING)
    for advice in ("validation_size=", "Dataset.from_arrays", "cv=K", "num_val="):
        assert advice in some
    (one,) = _said(caplog, tmp_path, _dataset(np.ones(6, np.int64)))
    assert one.startswith(
        "The validation split holds one class only, 'bee' (6 examples), of the 3 classes in "
        "y_train: always predicting 'bee' scores a validation accuracy of 1.0, so the search "
        "compares the trials and chooses one by their scores on a set (the objective, e.g. "
        "val_accuracy or val_loss) that cannot tell a model that learned from a constant guess. "
        "Use a validation set holding every class"
    )
    # Both splits lacking classes: one warning each, validation first.
    both = _said(caplog, tmp_path, _dataset(np.arange(6) % 2, np.arange(6) % 2))
    assert [n.split(" split")[0] for n in both] == ["The validation", "The test"]
    assert _said(caplog, tmp_path, _dataset(np.arange(6) % 3)) == []


def test_regression_targets_and_several_outputs_are_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    whole = (np.arange(12) % 3).astype("float32")  # whole numbers, as classes would be
    data = _dataset(
        np.array([0.0, 1.0] * 3, "float32"),
        np.array([0.0, 1.0] * 3, "float32"),
        whole,
        task="regression",
        class_names=None,
    )
    assert data.task == "regression"
    assert _said(caplog, tmp_path, data) == []


def test_cv_judges_the_test_split_against_the_folds_and_not_the_validation_split(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With cv=K the validation samples join the stratified folds and the retrain: a
    validation split lacking a class is no fault, one holding a class training lacks
    neither; a test class missing from both still is refused."""
    cv = dict(cv=2, fine_tuner="bayesian")
    assert _said(caplog, tmp_path, _dataset(np.arange(6) % 2), **cv) == []
    (test,) = _said(caplog, tmp_path, _dataset(np.arange(6) % 3, np.arange(6) % 2), **cv)
    assert test.startswith(
        "The test split holds no example of class(es) 'cat' (1 of the 3 classes in y_train "
        "and y_val)"
    )
    # Class 'cat' in validation only: 4 samples in the folds, learned there and retrained on.
    only_val = _dataset(np.arange(6) % 3, y_train=np.arange(12) % 2)
    assert _said(caplog, tmp_path, only_val, **cv) == []
    with pytest.raises(DataError, match=r"\['cat'\] occur in the validation or test labels") as e:
        _said(caplog, tmp_path, only_val)  # cv=1: no trial learns it
    assert "A class only the validation split holds is learnt under cv=K" in str(e.value)
    only_test = _dataset(np.arange(6) % 2, np.arange(6) % 3, np.arange(12) % 2)
    with pytest.raises(DataError) as info:
        _said(caplog, tmp_path, only_test, **cv)
    assert "class(es) ['cat'] occur in the test labels but never in y_train or y_val" in str(
        info.value
    )
    assert "learnt under cv=K" not in str(info.value)


def test_an_npz_validation_split_lacking_a_class_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Its own x_val / y_val, and the random validation_size= draw from x_train."""
    from tunekit.data import load_npz

    rng = np.random.default_rng(1)
    y_train = np.r_[np.zeros(20, np.int64), np.ones(20, np.int64), [2, 2, 2]]
    arrays = dict(
        x_train=rng.random((43, 4)),
        y_train=y_train,
        x_test=rng.random((6, 4)),
        y_test=np.arange(6) % 3,
        class_names=np.array(NAMES),
    )
    own = tmp_path / "own.npz"
    np.savez(own, **arrays, x_val=rng.random((6, 4)), y_val=np.arange(6) % 2)
    (said,) = _said(caplog, tmp_path / "a", load_npz(own))
    assert said.startswith(VAL_CAT_MISSING)
    drawn = tmp_path / "drawn.npz"
    np.savez(drawn, **arrays)
    data = load_npz(drawn, validation_size=4, seed=1)
    assert 2 not in data.y_val  # the draw is random, not per class
    (said,) = _said(caplog, tmp_path / "b", data)
    assert said.startswith(VAL_CAT_MISSING)
    assert "validation_size= samples of x_train drawn at random" in said


def test_a_subset_of_fewer_validation_samples_than_classes_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = _dataset(np.arange(9) % 3).subset(num_val=2)
    (said,) = _said(caplog, tmp_path, data)
    assert "The validation split holds " in said and "num_val=" in said


def test_splits_tunekit_makes_hold_every_class(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, image_folder: Path
) -> None:
    """A CSV's, arrays' and an image folder's own split is stratified: nothing said."""
    import pandas as pd

    from tunekit.data import Dataset, StreamData, load_csv
    from tunekit.image_streams import image_folder_stream

    rng = np.random.default_rng(2)
    y = np.r_[np.zeros(30, np.int64), np.ones(30, np.int64), np.full(3, 2)]
    frame = pd.DataFrame(rng.random((len(y), 3)), columns=["a", "b", "c"]).assign(label=y)
    frame.to_csv(tmp_path / "rows.csv", index=False)
    assert _said(caplog, tmp_path / "a", load_csv(tmp_path / "rows.csv", "label")) == []
    arrays = Dataset.from_arrays(rng.random((len(y), 3)), y)
    assert _said(caplog, tmp_path / "b", arrays) == []
    folder = StreamData.from_image_folder(image_folder_stream(image_folder, image_size=(8, 8)))
    assert folder.labels  # known from the file lists
    assert _said(caplog, tmp_path / "c", folder) == []


def test_a_stream_validation_split_lacking_a_class_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """By its labels=, or by the class ids StreamData read in its passes when made."""
    import tensorflow as tf

    from tunekit.data import StreamData

    rng = np.random.default_rng(3)

    def split(y: np.ndarray) -> Any:
        x = rng.random((len(y), 4)).astype("float32")
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)

    ids = np.arange(24) % 3
    val = np.arange(12) % 2
    labelled = StreamData(
        split(ids),
        split(val),
        split(ids[:12]),
        fingerprint="a",
        class_names=NAMES,
        labels={"train": ids, "val": val, "test": ids[:12]},
    )
    (said,) = _said(caplog, tmp_path / "a", labelled)
    assert said.startswith(
        "The validation split holds no example of class(es) 'cat' (1 of the 3 classes in the "
        "training labels (labels['train'])): the search compares the trials"
    )
    assert "stratify=labels" in said and "labels=" in said and "x_val" not in said
    unlabelled = StreamData(
        split(ids), split(val), split(ids[:12]), fingerprint="b", class_names=NAMES
    )
    (said,) = _said(caplog, tmp_path / "b", unlabelled)
    assert said.startswith(
        "The validation split holds no example of class(es) 'cat' (1 of the 3 classes in the "
        "training stream)"
    )
    assert "stratify=labels" in said and "labels=" not in said


def test_the_report_top_shows_the_split_notes() -> None:
    from tunekit.report_top import top_markdown

    report = {
        "best": {"phase": "fine", "trial_id": "3", "hyperparameters": {}},
        "test_metrics": {},
        "split_notes": [VAL_CAT_MISSING],
        "run_dir": "runs/x",
    }
    lines = top_markdown(report)
    assert f"> **Warning:** {VAL_CAT_MISSING}" in lines
    assert lines.index(f"> **Warning:** {VAL_CAT_MISSING}") < lines.index(
        "## Chosen hyperparameters"
    )
    report["split_notes"] = []
    assert not [line for line in top_markdown(report) if "Warning" in line]


@pytest.mark.long
def test_a_run_carries_the_validation_warning_into_its_report(tmp_path: Path) -> None:
    import keras

    from tunekit import CoarseToFine

    def build(hp: Any) -> keras.Model:
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(hp.Int("units", 2, 4)), keras.layers.Dense(3)]
        )
        model.compile(
            "adam",
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    data = _dataset(np.arange(6) % 2, y_train=np.arange(30) % 3)
    run = CoarseToFine(build, data, directory=tmp_path, project_name="p", **BAYES_BUDGET)
    run.run()
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    (note,) = report["split_notes"]
    assert note.startswith(VAL_CAT_MISSING)
    assert f"> **Warning:** {note}" in (tmp_path / "p" / "report.md").read_text()
