"""Cross-validated trials: K folds of train+validation, each a fresh build of the trial's model.

With `cv=K` a trial is scored on K folds instead of one validation split
(learnt from KerasTuner's documented way to cross-validate, overriding
`Tuner.run_trial` to fit once per fold). tunekit's tuners do that in
`tunekit.tuners`; this module holds the parts that know nothing of a tuner:

- `fold_indices`: scikit-learn's `StratifiedKFold` for class labels (every
  fold keeps the class proportions), `KFold` for regression targets (and
  for dicts of targets), both shuffled with the run's seed, so every trial of
  a run sees the same folds.
- `check_splittable`: only arrays (or dicts of arrays) can be split by
  index; a stream (`tf.data.Dataset`, `keras.utils.PyDataset`, a
  generator) is refused before any trial.
- `combine_folds`: the trial's result. Its learning curve is the per-epoch
  mean of the folds' curves (over the epochs every fold ran); the trial's
  best epoch is the best epoch of that mean curve, its score the mean curve's
  value there, and `fold_<k>_score` (k from 1) is fold k's objective at that
  same epoch, so the mean of the fold scores is the score. The retrain is
  unchanged: its `"auto"` epochs come from that mean curve (its length, or its
  best epoch under a constant schedule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from tunekit.data import _targets as tg
from tunekit.errors import DataError

__all__ = [
    "FOLD_SCORE",
    "check_splittable",
    "combine_folds",
    "fold_indices",
    "fold_score_name",
    "is_class_labels",
]

#: Name of the metric holding fold k's score (k from 1): `FOLD_SCORE.format(k)`.
FOLD_SCORE = "fold_{}_score"


def fold_score_name(fold: int) -> str:
    """The metric (and trials table column) of fold `fold`'s score; `fold` counts from 0."""
    return FOLD_SCORE.format(fold + 1)


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or (
        hasattr(value, "shape") and hasattr(value, "__getitem__") and hasattr(value, "__len__")
    )


def check_splittable(value: Any, name: str) -> None:
    """Refuses data that cannot be split into folds by index.

    Args:
        value: `x`, `y` or a validation split: an array or a dict of arrays.
        name: How the message calls it (`"x"`, `"validation_data"`).

    Raises:
        DataError: `value` is a stream (a `tf.data.Dataset`, a
            `keras.utils.PyDataset`, a generator...) or another object
            without sample indexing.
    """
    items = list(value.values()) if isinstance(value, Mapping) else [value]
    if items and all(_is_array(item) for item in items):
        return
    raise DataError(
        f"Cross-validation (cv=K) splits the data into folds by sample index, which {name} "
        f"({type(value).__name__}) does not allow: it is a stream or an object without "
        "indexing. Pass arrays (or dicts of arrays), or leave cv=1 to score trials on the "
        "validation split."
    )


def is_class_labels(y: Any) -> bool:
    """Whether `y` holds class ids (integer or bool labels, shape `(n,)` or `(n, 1)`)."""
    if isinstance(y, Mapping):
        return False
    array = np.asarray(y)
    if array.dtype.kind not in "iub":
        return False
    return array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1)


def fold_indices(
    y: Any,
    k: int,
    *,
    seed: int | None,
    stratify: bool | None = None,
    class_names: Sequence[str] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The K (train indices, validation indices) pairs of a cross-validation.

    Args:
        y: The targets of all samples (train+validation): an array of shape
            `(n,)` or `(n, k)`, or a dict of them.
        k: Number of folds, >= 2.
        seed: Seed of the shuffle (tunekit's seed; `None`: not reproducible).
        stratify: `True`: `StratifiedKFold` on the class ids in `y` (of
            one-hot rows: their argmax); `False`: `KFold`. `None` (the
            default): stratified when `y` holds class ids (see
            `is_class_labels`) or one-hot rows.
        class_names: The classes' names by id, for the message of a class too
            small for the folds (default `None`: named by their ids).

    Returns:
        K pairs of sorted index arrays; the validation indices of the folds
        partition `range(n)`.

    Raises:
        DataError: Fewer samples than folds, (stratified) a class with fewer
            samples than folds, or (not stratified) fewer than 2 samples per fold.
    """
    n = tg.length(y, "y")
    if n < k:
        raise DataError(
            f"cv={k} needs at least {k} samples (one per fold); the data has {n}. "
            "Pass a smaller cv=."
        )
    hot = tg.one_hot_ids(y)  # one-hot rows (label_mode="categorical"): their class ids
    stratified = (is_class_labels(y) or hot is not None) if stratify is None else stratify
    placeholder = np.zeros(n)
    if stratified:
        labels = hot[0] if hot is not None else np.asarray(y).reshape(n)
        values, counts = np.unique(labels, return_counts=True)
        if counts.min() < k:
            names = list(class_names or [])
            small = ", ".join(  # by name where the classes have names
                f"{names[v] if isinstance(v, int) and 0 <= v < len(names) else v!r} ({n})"
                for v, n in zip(values[counts < k].tolist(), counts[counts < k].tolist())
            )
            raise DataError(
                f"cv={k} with stratified folds needs at least {k} samples of each class in "
                f"train+validation; these have fewer: {small}. Pass a smaller cv= or collect "
                "more samples of those classes."
            )
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return [(tr, va) for tr, va in splitter.split(placeholder, labels)]
    if n < 2 * k:  # a fold of 1 validation sample: its score (R2: undefined) chooses nothing
        raise DataError(
            f"cv={k} splits the {n} samples of train+validation into folds of "
            f"{n // k} or {-(-n // k)}: a fold of 1 validation sample cannot be scored (R2 is "
            f"undefined on 1 sample, an accuracy is 0 or 1). Each fold needs at least 2; pass "
            f"cv={n // 2} or fewer (at least 2), or give more samples."
            if n >= 4
            else f"cv={k} needs at least {2 * k} samples (2 per fold); the data has {n}. "
            "Give more samples."
        )
    splitter_kf = KFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, va) for tr, va in splitter_kf.split(placeholder)]


def _result_metrics(result: Any, objective: kt.Objective) -> dict[str, float]:
    """What one fit returned (a `History`'s best epoch is not used: see `combine_folds`)."""
    if isinstance(result, dict):
        return {str(k): float(v) for k, v in result.items()}
    return {objective.name: float(result)}


def combine_folds(folds: Sequence[Sequence[Any]], objective: kt.Objective) -> Any:
    """One trial result from the results of its folds.

    Args:
        folds: Per fold, what each execution's fit returned (KerasTuner's
            `Tuner.run_trial` list): `keras.callbacks.History` objects, or
            metric dicts / objective values (a hypermodel's own `fit`).
        objective: The search's objective.

    Returns:
        A `keras.callbacks.History` whose `history` is the mean curve over
        folds (and executions) of every metric all of them report,
        truncated to the epochs every fold ran, `epochs` set to that length,
        and `fold_<k>_score` constant per epoch; or, when a fit returned no
        `History`, a metrics dict of the means with the fold scores.
    """
    runs = [list(results) for results in folds]
    if all(isinstance(r, keras.callbacks.History) for results in runs for r in results):
        return _combine_histories(runs, objective)
    per_fold: list[dict[str, float]] = []
    for results in runs:
        metrics = [
            _result_metrics(_best_epoch_metrics(r, objective), objective)
            if isinstance(r, keras.callbacks.History)
            else _result_metrics(r, objective)
            for r in results
        ]
        names = set.intersection(*(set(m) for m in metrics))
        per_fold.append({n: float(np.mean([m[n] for m in metrics])) for n in names})
    names = set.intersection(*(set(m) for m in per_fold))
    combined = {n: float(np.mean([m[n] for m in per_fold])) for n in names}
    for fold, fold_metrics in enumerate(per_fold):
        combined[fold_score_name(fold)] = float(objective.get_value(fold_metrics))
    return combined


def _best_epoch_metrics(
    history: keras.callbacks.History, objective: kt.Objective
) -> dict[str, float]:
    curves = history.history
    length = min(len(v) for v in curves.values())
    epochs = [{k: float(v[e]) for k, v in curves.items()} for e in range(length)]
    return epochs[_best_epoch([objective.get_value(m) for m in epochs], objective)]


def _best_epoch(values: Sequence[float], objective: kt.Objective) -> int:
    """The first epoch whose value no later epoch beats (KerasTuner's rule)."""
    best = 0
    for epoch, value in enumerate(values):
        if objective.better_than(value, values[best]):
            best = epoch
    return best


def _combine_histories(
    runs: list[list[keras.callbacks.History]], objective: kt.Objective
) -> keras.callbacks.History:
    histories = [h for results in runs for h in results]
    names = set.intersection(*(set(h.history) for h in histories))
    length = min(len(h.history[n]) for h in histories for n in names)
    # Per fold, the mean over its executions; then the mean over folds.
    fold_curves = [
        {
            n: np.mean([np.asarray(h.history[n][:length], float) for h in results], axis=0)
            for n in names
        }
        for results in runs
    ]
    mean = {n: np.mean([c[n] for c in fold_curves], axis=0) for n in names}
    per_epoch = [{n: float(mean[n][e]) for n in names} for e in range(length)]
    best = _best_epoch([objective.get_value(m) for m in per_epoch], objective)
    combined = keras.callbacks.History()
    combined.history = {n: [float(v) for v in mean[n]] for n in sorted(names)}
    if "epochs" in combined.history:  # tunekit's count: the epochs the mean curve spans
        combined.history["epochs"] = [float(length)] * length
    for fold, curves in enumerate(fold_curves):
        score = objective.get_value({n: float(curves[n][best]) for n in names})
        combined.history[fold_score_name(fold)] = [float(score)] * length
    return combined
