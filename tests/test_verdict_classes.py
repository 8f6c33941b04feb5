"""The verdict names classes as the report does; a test set that cannot tell says so.

A retry probe of the baseline verdict found:

1. Labels 3/4/5 (`class_names` '3', '4', '5'), a baseline that learned nothing: "it is no
   better than always predicting the most frequent class ('2', 0.8333 of the test set)",
   and `baseline.guess.guess_class: '2'`, for the class named '5' (the report's own note
   named it right). An image folder's verdict would say '0' for 'cat'.
2. 12 test examples all of class 1, a perfect tuned model under class weights: "test
   balanced accuracy 1.0000 (the classes were weighed) is no better than a constant guess's
   (1.0000): are the features scaled? ... enough epochs?" and "Neither model is better than
   a constant guess (... one over the 1 classes)", and nothing before training said that
   the test split held one class.
3. The README did not say that under class weights the verdict's "too small to tell" is
   below 20 classification test examples (its paired bootstrap), not 6.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tunekit.report_scores import usefulness_note
from tunekit.stats import compare_to_baseline

ROOT = Path(__file__).resolve().parents[1]
# Ids 0, 1, 2 of the labels 3, 4, 5: 3, 2 and 25 test examples; '5' is 0.8333 of them.
Y_345 = np.array([0] * 3 + [1] * 2 + [2] * 25)
NAMES_345 = ["3", "4", "5"]
ONE_CLASS = np.ones(12, dtype=np.int64)  # the probe's 12 test examples, all malignant
NAMES_BIN = ["benign", "malignant"]


def _section(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    y: np.ndarray,
    tuned: np.ndarray,
    baseline: np.ndarray,
    class_weights: dict[int, float] | None,
    class_names: list[str],
) -> tuple[str | None, dict[str, Any]]:
    """The report's test note and baseline section for a run of `class_names` whose saved
    models predict `tuned` and `baseline` (loading and predicting stubbed out)."""
    import tunekit.report_trust as trust

    (tmp_path / trust.BASELINE_MODEL).write_text("")
    monkeypatch.setattr(trust, "load_saved_model", lambda *args: "baseline")
    monkeypatch.setattr(trust, "_predictions", lambda model, data, batch_size: baseline)
    monkeypatch.setattr(trust, "param_count", lambda model: 10)
    steps = {"baseline": {"status": "done", "hyperparameters": {"units": 8}}, "retrain": {}}
    data = SimpleNamespace(
        x_test=np.zeros((len(y), 1)),
        y_test=y,
        y_train=y,
        task="classification",
        class_names=class_names,
    )
    run = SimpleNamespace(
        manifest=SimpleNamespace(state={"steps": steps}),
        run_dir=tmp_path,
        hypermodel=None,
        data=data,
        batch_size=32,
        seed=0,
        objective=SimpleNamespace(name="val_accuracy", direction="max"),
        class_weights=class_weights,
    )
    weighed = class_weights is not None
    note = usefulness_note(y, tuned, "classification", class_names, weighed=weighed)
    report = {"best": {"hyperparameters": {"units": 16}}, "test_note": note, "test_metrics": {}}
    return note, trust.baseline_section(run, "tuned", report, tuned)


# -- 1. classes by name


def test_the_verdict_names_the_most_frequent_class_by_its_name_not_its_id() -> None:
    from tunekit.stats.guess import class_name

    baseline = np.zeros_like(Y_345)  # always '3': 0.1 of the test set
    compared = compare_to_baseline(Y_345, Y_345, baseline, class_names=NAMES_345)
    assert compared.guess is not None and compared.guess.guess_class == "5"
    assert compared.note == (
        "Note: the baseline's test accuracy is 0.1000 (the tuned model's 1.0000): it is no "
        "better than always predicting the most frequent class ('5', 0.8333 of the test set)."
    )
    assert compared.to_dict()["guess"]["guess_class"] == "5"
    # Both of no use: the tuned model always predicts the id 2, the class '5'.
    both = compare_to_baseline(Y_345, np.full_like(Y_345, 2), baseline, class_names=NAMES_345)
    assert "('5', 0.8333 of the test set), nor is the baseline" in both.note
    # Without names, and for labels that are names already, the labels as they are.
    assert compare_to_baseline(Y_345, Y_345, baseline).guess.guess_class == "2"
    text = np.asarray(NAMES_BIN)[np.r_[np.zeros(20, int), np.ones(5, int)]]
    assert compare_to_baseline(text, text, text[::-1]).guess.guess_class == "benign"
    assert class_name(np.int64(2), NAMES_345) == "5"
    assert class_name("cat", ["dog"]) == "cat" and class_name(True, NAMES_345) == "True"


def test_the_reports_verdict_and_note_name_the_class_alike(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The probe's `run1.py A none`: the report's note said '5', its verdict '2'."""
    baseline = np.zeros_like(Y_345)
    note, section = _section(monkeypatch, tmp_path, Y_345, Y_345, baseline, None, NAMES_345)
    assert note is None  # the tuned model is of use
    assert section["guess"]["guess_class"] == "5"
    assert section["verdict"].endswith(
        "always predicting the most frequent class ('5', 0.8333 of the test set)."
    )
    assert "'2'" not in section["verdict"]
    # The tuned model of no use too: the report's note and the verdict name the same class.
    always = np.full_like(Y_345, 2)
    note, section = _section(monkeypatch, tmp_path, Y_345, always, baseline, None, NAMES_345)
    assert note is not None and "('5', 0.8333 of the test set)" in note
    assert section["verdict"].endswith(
        "Neither model is better than always predicting the most frequent class (test "
        "accuracy 0.8333, the baseline's 0.1000; that class is 0.8333 of the test set)."
    )


# -- 2. a test set on which a constant guess is perfect


def test_a_test_set_of_one_class_says_it_cannot_tell_instead_of_blaming_the_model() -> None:
    perfect, wrong = ONE_CLASS, np.zeros_like(ONE_CLASS)
    for metric in ("accuracy", "balanced_accuracy"):
        compared = compare_to_baseline(
            ONE_CLASS, perfect, wrong, metric=metric, class_names=NAMES_BIN
        )
        label = metric.replace("_", " ")
        assert compared.guess.perfect and compared.guess.guess_class == "malignant"
        assert compared.note == (
            "Note: the test set holds one class only ('malignant'): always predicting it "
            f"scores 1.0000, so test {label} (the tuned model's 1.0000, the baseline's 0.0000) "
            "cannot tell a model that learned from a constant guess; use a test set holding "
            "every class."
        )
        assert compared.verdict.endswith(compared.note)
        for blame in ("are the features scaled", "one over the 1 classes", "no better than"):
            assert blame not in compared.verdict
    # The report's own note on the saved model, with and without class weights.
    for weighed, label in ((True, "balanced accuracy"), (False, "accuracy")):
        note = usefulness_note(ONE_CLASS, perfect, "classification", NAMES_BIN, weighed=weighed)
        assert note == (
            "Note: the test set holds one class only ('malignant', all 12 examples): always "
            f"predicting it scores 1.0000, so the test {label} (1.0000) cannot tell whether "
            "the model learned anything; use a test set holding every class."
        )
    one = usefulness_note(ONE_CLASS[:1], wrong[:1], "classification", NAMES_BIN)
    assert one is not None and "('malignant', the one example)" in one
    assert "(0.0000) cannot tell" in one
    # A test set of two classes keeps its usual note.
    two = np.r_[ONE_CLASS, 0]
    assert "no better than" in usefulness_note(two, np.ones_like(two), "classification")


def test_a_regression_test_set_of_equal_targets_says_it_cannot_tell() -> None:
    """One test example (a Dataset refuses equal targets from two on): the mean is exact."""
    from tunekit.stats import constant_guess

    note = usefulness_note(np.array([1.5]), np.array([1.2]), "regression")
    assert note == (
        "Note: the test set holds one example only: predicting the targets' mean is exact, so "
        "the test R² (0) cannot tell whether the model learned anything; use a test set whose "
        "targets vary."
    )
    compared = compare_to_baseline([1.5], [1.2], [1.5], task="regression")
    assert compared.guess.perfect
    assert compared.note.startswith("Note: the test targets are all equal: predicting the")
    assert constant_guess(np.linspace(0, 1, 30), "r2") == (0.0, None)
    assert constant_guess(np.array([[1.0, 2.0], [1.0, 3.0]]), "r2") == (0.5, None)


def test_the_reports_verdict_on_a_test_set_of_one_class(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The probe's `run2.py G balanced '"val_loss"' bin tiny`: the report's note and the
    verdict blamed a perfect tuned model."""
    wrong = np.zeros_like(ONE_CLASS)
    note, section = _section(
        monkeypatch, tmp_path, ONE_CLASS, ONE_CLASS, wrong, {0: 5.0, 1: 0.55}, NAMES_BIN
    )
    assert note is not None and note.startswith(
        "Note: the test set holds one class only ('malignant', all 12 examples)"
    )
    assert section["verdict"].endswith(
        "Neither model can be told from a constant guess: the test set holds one class only "
        "('malignant'); use a test set holding every class."
    )
    assert "one over the 1 classes" not in section["verdict"]
    assert section["verdict"].count("one class only") == 1  # the report's note says the rest


def _dataset(y_test: np.ndarray) -> Any:
    from tunekit.data import Dataset

    rng = np.random.default_rng(0)
    return Dataset(
        rng.random((9, 3)),
        np.arange(9) % 3,
        rng.random((6, 3)),
        np.arange(6) % 3,
        rng.random((len(y_test), 3)),
        y_test,
        class_names=["ant", "bee", "cat"],
        input_shape=(3,),
    )


def test_a_test_split_lacking_training_classes_is_said_before_training(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tunekit import CoarseToFine

    def warned(y_test: np.ndarray) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="tunekit"):
            CoarseToFine(lambda hp: None, _dataset(y_test), directory=tmp_path, verbose=0)
        return [r.getMessage() for r in caplog.records if "test split" in r.getMessage()]

    (one,) = warned(np.ones(6, dtype=np.int64))
    assert one.startswith(
        "The test split holds one class only, 'bee' (6 examples), of the 3 classes in y_train: "
        "always predicting 'bee' scores a test accuracy of 1.0, so the test set cannot tell a "
        "model that learned from a constant guess"
    )
    assert "Use a test set holding every class: add examples of every class to x_test" in one
    assert "Dataset.from_arrays" in one
    (some,) = warned(np.arange(6) % 2)
    assert some.startswith(
        "The test split holds no example of class(es) 'cat' (1 of the 3 classes in y_train): "
        "the test scores say nothing of how the model does on them"
    )
    assert warned(np.arange(6) % 3) == []
    assert not any(tmp_path.iterdir())  # said when the run is made, before anything is written


# -- 3. the README


def test_the_readme_gives_the_too_small_rule_under_class_weights() -> None:
    from tunekit.stats.intervals import MIN_BOOTSTRAP_EXAMPLES

    readme = " ".join((ROOT / "README.md").read_text().split())
    rule = re.search(r"Below 20 regression test examples \(.*?\) the verdict says", readme)
    assert rule is not None and MIN_BOOTSTRAP_EXAMPLES == 20
    said = rule.group(0)
    assert "below 6 classification ones" in said
    assert "under class weights below 20 classification ones too" in said
