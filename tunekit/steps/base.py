"""What a step of the workflow is, and what it may use of the run.

A step is a small unit with a `name`, the steps whose products it needs
(`requires`), the files it writes in the run folder (`outputs`) and one
method, `ensure(ctx)`: run the step, or, when the manifest says it is done,
reload what it made. `CoarseToFine` composes them in order (like the few
lines of scikit-learn's `BaseSuccessiveHalving._run_search`), and records
each step's state, outputs and seconds in the run's `manifest.json`.

A step that the manifest says is done but whose output file is gone runs
again, with every step after it (see `tunekit.steps.redo.outputs_missing`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from tunekit.params import MIN_COARSE_TRIALS, FinalSchedule, FineTuner, ProgressMode

if TYPE_CHECKING:
    import keras
    import keras_tuner as kt

    from tunekit.data import Dataset, StreamData
    from tunekit.distribute.runner import PhaseRunner
    from tunekit.manifest import RunManifest

__all__ = [
    "MIN_COARSE_TRIALS",
    "RunContext",
    "Step",
    "fit_options",
    "test_metrics",
]


class RunContext(Protocol):
    """What steps share: the run's settings, data, manifest and the other steps' products.

    `tunekit.CoarseToFine` is the one implementation.
    """

    hypermodel: kt.HyperModel
    data: Dataset | StreamData
    objective: kt.Objective
    objective_defaulted: bool  # the task's default: the user chose none
    model_file_note: str | None  # what loading the run's .keras files alone needs
    reproduced_note: str | None  # the retrain scored worse on validation than its trial
    run_dir: Path
    coarse_trials: int
    coarse_epochs: int
    defaults_first: bool
    fine_tuner: FineTuner
    fine_trials: int
    max_epochs: int
    factor: int
    top: float | int
    margin: float
    final_epochs: int | Literal["auto"]
    final_schedule: FinalSchedule
    batch_size: int
    executions_per_trial: int
    max_model_size: int | None  # KerasTuner's limit, in parameters, of both searches
    max_retries_per_trial: int
    max_consecutive_failed_trials: int
    cv: int  # cross-validation folds per trial (1: none)
    finalists: int
    finalist_seeds: int
    baseline: bool
    final_seeds: int
    callbacks: list[keras.callbacks.Callback]
    hyperparameters: kt.HyperParameters | None  # KerasTuner's `hyperparameters=`, if given
    tune_new_entries: bool  # KerasTuner's: the hypermodel's other entries are searched too
    allow_new_entries: bool  # KerasTuner's: the hypermodel may declare other entries
    seed: int
    verbose: int | bool  # 0: no progress
    progress: ProgressMode  # how the search phases show progress (tunekit.progress.use_bar)
    class_weights: dict[int, float] | None  # model.fit's class_weight, every trial and retrain
    runner: PhaseRunner
    tuners: dict[str, kt.Tuner]  # each search phase's tuner, once built
    trial_losses: dict[str, str]  # steps.same_loss.check_same_loss: the first trial's loss
    said: Callable[[BaseException], str]  # how errors name settings: str, or the CLI's flags
    given_settings: dict[str, Any]  # some settings as given (None: not given)

    @property
    def manifest(self) -> RunManifest:
        """The run's manifest, opened (and locked) on first use."""
        ...

    def ensure(self, name: str) -> Any:
        """The product of step `name`, running it (and what it needs) first if need be."""
        ...

    def check_model(self) -> None:
        """Checks, before any training, that the hypermodel's output fits the data."""
        ...

    def say(self, text: str) -> None:
        """Logs a progress line unless the run is quiet."""
        ...


def fit_options(ctx: RunContext) -> dict[str, Any]:
    """`model.fit` keywords of the run's data that every trial and the retrain receive.

    `class_weight` when the run weighs its classes (`CoarseToFine(class_weight=...)`);
    nothing otherwise, so a hypermodel's own `fit` sees what it saw before.
    """
    return {} if ctx.class_weights is None else {"class_weight": dict(ctx.class_weights)}


def final_fit_options(ctx: RunContext) -> dict[str, Any]:
    """`model.fit` keywords of every fit on train+validation (retrain, baseline, final seeds).

    `fit_options(ctx)`; `shuffle=False` for a stream: its maker batched (and
    shuffled) it, and Keras cannot shuffle a `tf.data.Dataset` or `PyDataset`;
    and `validation_data` (the validation split, also trained on here; with
    `cv=K` and no validation split, train+validation itself) when the
    hypermodel's own `fit` names it (`takes_validation_data`), with arrays'
    `validation_batch_size` (batches that divide them, as in the search).
    """
    from tunekit.data._targets import length
    from tunekit.data.batches import sample_bytes, validation_batch_size
    from tunekit.data.streams import StreamData
    from tunekit.fitting import takes_validation_data

    data = ctx.data
    options = {**fit_options(ctx), **({"shuffle": False} if isinstance(data, StreamData) else {})}
    if takes_validation_data(ctx.hypermodel):
        if isinstance(data, StreamData):
            options["validation_data"] = data.validation
        elif length(data.y_val, "y_val") == 0:  # cv=K, no validation split: the data itself
            options["validation_data"] = (data.x_train_full, data.model_targets(data.y_train_full))
        else:
            options["validation_data"] = (data.x_val, data.model_targets(data.y_val))
        if not isinstance(data, StreamData):  # no partial batch (see there)
            x_val, y_val = options["validation_data"]
            options["validation_batch_size"] = validation_batch_size(
                length(y_val, "y_val"), ctx.batch_size, sample_bytes(x_val)
            )
    return options


def chosen_hyperparameters(ctx: RunContext) -> Any:
    """The `HyperParameters` of the configuration the retrain trained (its trial's)."""
    retrain = ctx.manifest.step("retrain")
    return ctx.ensure(retrain["phase"]).oracle.trials[retrain["trial_id"]].hyperparameters


def build_lazy(model: Any, ctx: RunContext) -> None:
    """Builds a lazily built model (no `Input`) on two training samples.

    `BackupAndRestore` and the parameter count need weights before `fit`.
    A model that is already built is left as it is.
    """
    from tunekit.outputs import build_on_samples

    build_on_samples(model, ctx.data)


def test_metrics(
    ctx: RunContext, model: keras.Model, batch_size: int, y_pred: Any = None
) -> dict[str, float]:
    """The test metrics of `model`: every seed's and the saved model's, scored alike.

    Keras's `model.evaluate` metrics on the test set (arrays or the stream's
    own batches) and, for regression with one target array, scikit-learn's
    `mse`, `mae`, `rmse` and `r2` of its predictions
    (`tunekit.regression.regression_metrics`); for classification with one output,
    the predicted classes' `accuracy`, whatever the model compiles, and with class
    weights (`ctx.class_weights`) scikit-learn's `balanced_accuracy`, which the verdict
    is then decided on (`tunekit.classification.classification_metrics`): the report's
    intervals, the baseline's comparison and the final seeds give them, so the test
    metrics hold them. A metric the model itself reports under
    one of those names keeps its name and Keras's value (the one the search ranked
    by: a top-2 one called `accuracy`, say); scikit-learn's then goes under
    `sklearn_<name>` unless the two agree within 1e-4 (`own_name`).

    Arrays are evaluated in batches that divide the test split
    (`tunekit.data.batches.evaluation_batch_size`), so that a value the model
    averages per batch (a metric function returning a batch mean) is a mean over samples.

    Args:
        batch_size: The batch size (`tunekit.data.batches.test_batch_size`); one that does
            not divide the test split is replaced by `evaluation_batch_size` of it.
        y_pred: The model's test predictions when already made (their targets
            are `ctx.data.y_test`), else predicted here. Defaults to `None`.

    Returns:
        `{metric name: value}` as floats (`loss`, then the compiled metrics;
        one with a value per threshold, `(k,)`, as `name/0` ... `name/k-1`).

    Raises:
        ValueError: Regression predictions hold NaN or infinite values.
        DataError: A stream's test class ids an output cannot take (`check_class_ids`), or
            its test targets are constant (`tunekit.outputs.predict_test_set`).
    """
    from tunekit.classification import classification_metrics, weighs_classes
    from tunekit.data import REGRESSION
    from tunekit.data._stream_labels import check_stream_outputs
    from tunekit.data._targets import one_hot_rows, several_outputs
    from tunekit.data.streams import StreamData
    from tunekit.outputs import loss_takes_rows, predict_test_set
    from tunekit.regression import beside_keras, regression_metrics
    from tunekit.steps.stream_heads import classifying_outputs
    from tunekit.tuners.callbacks import scalar_logs

    data = ctx.data
    if not getattr(model, "compiled", True):
        return _prediction_metrics(ctx, model, batch_size, y_pred)
    if isinstance(data, StreamData):  # the stream's own batches
        # A dict y's class ids, which no prediction reads: Keras would score (JAX) or fail on
        # (TensorFlow) an id beyond its output.
        check_stream_outputs(data, classifying_outputs(model, data), "test")
        evaluated = model.evaluate(data.test, return_dict=True, verbose=0)
        evaluated.update(_stream_output_losses(model, data.test, evaluated))
    else:
        targets = data.model_targets(data.y_test)  # one-hot rows under label_mode="categorical"
        if loss_takes_rows(ctx.hypermodel, model, data, data.x_test, targets):
            targets = one_hot_rows(targets, data.num_classes)  # as the own fit gave them
        evaluated = _evaluate_arrays(model, data.x_test, targets, batch_size)
    metrics = {k: float(v) for k, v in (scalar_logs(evaluated) or {}).items()}
    if several_outputs(data):
        return metrics
    if y_pred is None:
        y_true, y_pred = predict_test_set(model, data, batch_size=batch_size)
    else:
        y_true = data.y_test
    if isinstance(y_true, Mapping):  # several outputs: Keras's metrics only
        return metrics
    # A metric of the model's own (`rmse`, a weighted `mae`, a top-2 `accuracy`) keeps its name
    # and value, the one the search ranked by: scikit-learn's goes beside it (`own_name`).
    if data.task == REGRESSION:
        metrics.update(beside_keras(metrics, regression_metrics(y_true, y_pred)))
    else:  # the predicted classes' accuracy (balanced too, weighed), as `test_intervals` has it
        own = classification_metrics(y_true, y_pred, weighed=weighs_classes(ctx))
        metrics.update({k: v for k, v in beside_keras(metrics, own).items() if k not in metrics})
    return metrics


def _prediction_metrics(
    ctx: RunContext, model: keras.Model, batch_size: int, y_pred: Any
) -> dict[str, float]:
    """The test metrics of a model never compiled, from its predictions.

    A hypermodel's own training loop (KerasTuner's documented custom-loop
    `fit`) may train a model without compiling it: Keras then has no loss
    and no metrics to evaluate. Classification gets the predicted classes'
    `accuracy` (and `balanced_accuracy` with class weights: `classification_metrics`);
    regression `mse`, `mae`, `rmse` and `r2`.

    Raises:
        ModelCheckError: For a model with several outputs (nothing to score
            them by), or one classifier unit without a sigmoid (a logit or a
            probability?): `tunekit.steps.output_checks.check_scorable_uncompiled`.
    """
    from tunekit.classification import classification_metrics, weighs_classes
    from tunekit.data import REGRESSION
    from tunekit.outputs import model_output_shape, predict_test_set
    from tunekit.regression import regression_metrics
    from tunekit.steps.output_checks import check_scorable_uncompiled

    # Checked before the search on the defaults' model; a trial's may differ (a tuned activation).
    check_scorable_uncompiled(model, model_output_shape(model), ctx.data, "The final model")
    y_true = getattr(ctx.data, "y_test", None)
    if y_pred is None or y_true is None:
        y_true, y_pred = predict_test_set(model, ctx.data, batch_size=batch_size)
    if ctx.data.task == REGRESSION:
        return regression_metrics(y_true, y_pred)
    return classification_metrics(y_true, y_pred, weighed=weighs_classes(ctx))


def _output_losses(model: keras.Model, logs: Mapping[str, Any]) -> list[str]:
    """The per-output loss names (`digit_loss`) in `logs` of a model of several outputs."""
    names = [f"{name}_loss" for name in getattr(model, "output_names", None) or []]
    return [name for name in names if name in logs] if len(names) > 1 else []


def _stream_output_losses(
    model: keras.Model, stream: Any, evaluated: Mapping[str, Any]
) -> dict[str, float]:
    """Each output's test loss over a stream, weighted by the samples of its batches.

    As for arrays (`_evaluate_arrays`): Keras's TensorFlow backend averages the
    per-output losses over batches, so a stream's partial last batch weighed as
    much as a full one (`reg_loss` 0.4588 reported for 0.3412, 66 samples in
    batches of 32). One more pass, batch by batch (`test_on_batch`), each
    batch's loss times its samples; `{}` for a model of one output.
    """
    import keras

    from tunekit.data._stream_lengths import batches_of

    names = _output_losses(model, evaluated)
    if not names:
        return {}
    sums, total = dict.fromkeys(names, 0.0), 0
    for batch in batches_of(stream, "test"):
        weights = batch[2] if len(batch) > 2 else None
        logs = model.test_on_batch(batch[0], batch[1], sample_weight=weights, return_dict=True)
        count = len(keras.tree.flatten(batch[0])[0])
        for name in names:
            sums[name] += float(logs[name]) * count
        total += count
    return {name: sums[name] / total for name in names} if total else {}


def _evaluate_arrays(model: keras.Model, x: Any, y: Any, batch_size: int) -> dict[str, Any]:
    """`model.evaluate` of arrays, each output's loss weighted by its samples.

    A `batch_size` that does not divide the split is replaced by
    `evaluation_batch_size` of it. Where none divides (a prime count over 64
    MiB: the report says so), Keras's TensorFlow backend would still average a
    multi-output model's per-output losses (`digit_loss`) over batches, not
    samples: a partial last batch counts as much as a full one (its total `loss`
    and metrics are right). Then the whole batches and the rest are evaluated
    apart, and the two combined by their sample counts: exact for a loss, a mean per sample.
    """
    import keras

    from tunekit.data.batches import evaluation_batch_size, sample_bytes

    num = len(keras.tree.flatten(x)[0])
    if num % batch_size:  # a partial last batch: a per-batch mean would weigh it as a full one
        batch_size = evaluation_batch_size(num, batch_size, sample_bytes(x))
    evaluated = model.evaluate(x, y, batch_size=batch_size, return_dict=True, verbose=0)
    per_output = _output_losses(model, evaluated)
    rest = num % batch_size
    if not per_output or rest == 0 or num < batch_size:
        return evaluated
    parts = [
        model.evaluate(
            *(keras.tree.map_structure(lambda a: a[rows], arrays) for arrays in (x, y)),
            batch_size=batch_size,
            return_dict=True,
            verbose=0,
        )
        for rows in (slice(None, num - rest), slice(num - rest, None))
    ]
    for name in per_output:
        evaluated[name] = (
            float(parts[0][name]) * (num - rest) + float(parts[1][name]) * rest
        ) / num
    return evaluated


class Step(Protocol):
    """One step of the workflow; see the module docstring."""

    name: str
    requires: tuple[str, ...]
    outputs: tuple[str, ...]

    def ensure(self, ctx: RunContext) -> Any:
        """Runs the step (its `requires` first), or reloads its product when done."""
        ...


def check_splits_used(data: Any, cv: int) -> None:
    """Raises `DataError` for an empty split of a `Dataset` that the run needs.

    The test split scores the final model once; the validation split scores
    every trial unless `cv > 1` (then trials are scored on folds of
    train+validation, which may hold no validation sample).
    """
    from tunekit.data import _targets as tg
    from tunekit.errors import DataError

    fix = {
        "test": "give x_test= / y_test= (Dataset.from_arrays) or a test_fraction > 0",
        "val": "give a validation_fraction > 0, or pass cv=K to score trials on K folds of "
        "train+validation instead",
    }
    for split, what in (("test", "the final model once"), ("val", "every trial")):
        if split == "val" and cv > 1:
            continue
        if tg.length(getattr(data, f"x_{split}"), f"x_{split}") == 0:
            raise DataError(
                f"`data` has an empty {'validation' if split == 'val' else 'test'} split "
                f"({data.summary()}); tunekit scores {what} on it: {fix[split]}."
            )
