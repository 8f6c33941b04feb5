"""The checks of a built model against the data: the default configuration's, each trial's.

Split from `tunekit.steps.check` (whose `check_model` runs them on the model built with
the default hyperparameters, before any training) and `tunekit.steps.pairing_checks`.
What a trial's hyperparameters choose can make another model than the default's: a
tuned number of output units, loss, output activation or output name. Each trial's
model goes through the same checks before it trains (`check_trial_model`), and a
refusal there fails that trial only (`tunekit.trial_refusals`), where before a 9-unit
output on 10 classes trained (on JAX to a zero loss, then chosen) because only the
default's 10 units were checked.

Each trial's model is saved as the retrain saves it, once per set of the classes its
file is made of (`tunekit.steps.file_checks.check_trial_file`). Not repeated for each
trial: the pass over a stream's validation batches for their class ids (a stream is not
read again; each trial's width is checked against the classes, or the training and
validation ids its passes found: `check_stream_ids`), and the objective a model of
several outputs reports (each trial's History is checked for it after training,
`tunekit.trial_refusals`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from tunekit.data import CLASSIFICATION, REGRESSION, Dataset, StreamData
from tunekit.data._checks import CATEGORICAL_LABELS
from tunekit.data._float32 import refuse_merged_whole, refuse_moved, wide
from tunekit.data._stream_labels import check_class_ids, ids_beyond, output_classes
from tunekit.errors import DataError, ModelCheckError, OutputShapeError
from tunekit.fitting import SearchInputError
from tunekit.hypermodel_kinds import own_fit
from tunekit.objectives import objective_names
from tunekit.outputs import check_output_shape, training_samples
from tunekit.regression import check_regression_output_shape
from tunekit.steps.file_checks import check_trial_file
from tunekit.steps.input_checks import (
    check_input_names,
    check_input_precision,
    check_input_shape,
    check_output_names,
)
from tunekit.steps.label_forms import (
    check_label_form,
    check_loss_form,
    check_metric_label_form,
    check_output_label_forms,
)
from tunekit.steps.loss_batches import check_output_loss_batches
from tunekit.steps.output_checks import WHAT, check_built_model, model_sample
from tunekit.steps.pairing_checks import check_pairings, check_runs_on, check_text_backend
from tunekit.steps.same_loss import check_same_loss
from tunekit.steps.stream_heads import classifying_outputs
from tunekit.steps.value_checks import value_sample

__all__ = [
    "check_output_fits",
    "check_stream_ids",
    "check_trainable",
    "check_trial_model",
    "trial_model_check",
]


def check_output_fits(
    shape: tuple[int | None, ...] | None,
    data: Dataset | StreamData,
    what: str = WHAT,
    hypermodel: Any = None,
    trial: bool = False,
) -> None:
    """Refuses an output of `shape` that does not fit the targets: a classifier's units
    against `data.num_classes` (`tunekit.outputs.check_output_shape`; one unit on one-hot
    rows), a regression's width against `data.num_outputs`
    (`tunekit.regression.check_regression_output_shape`). An unknown `shape` (`None`: a
    model of several outputs, or one not built) and a dict `y` are left alone. `what`
    names the model; `hypermodel`, if it has `num_classes` (`DenseHyperModel`), is told
    to pass the data's. With `trial=True`, a stream of unknown classes is checked against
    the training and validation ids its passes found (`check_stream_ids`;
    `check_validation_classes` reads the validation stream once, for the default
    configuration's model only).

    Raises:
        OutputShapeError (a `ValueError`): Naming the output's width, the classes or
            targets' width, and the fix.
    """
    if shape is None:
        return
    if isinstance(data, StreamData):
        if data.task == REGRESSION or data.num_classes is None:  # unknown for some streams
            if data.task != REGRESSION and trial and not data.several_outputs:
                check_stream_ids(data, {None: shape})
            return
        targets = ""
    else:
        if isinstance(data.y_train, Mapping):
            return
        targets = (
            f" The labels are one-hot rows over {data.num_classes} classes."
            if data.label_mode == CATEGORICAL_LABELS
            else f" The targets (y_train) have shape {tuple(np.shape(data.y_train))}."
        )
        if data.label_mode == CATEGORICAL_LABELS and shape[-1:] == (1,):
            raise OutputShapeError(
                f"{what} outputs one unit per sample, but the labels are one-hot rows over "
                f"{data.num_classes} classes: give it {data.num_classes} output units "
                "(softmax), or give the labels as class ids for one sigmoid unit."
            )
    try:
        if data.task == REGRESSION:
            assert isinstance(data.num_outputs, int)
            check_regression_output_shape(shape, data.num_outputs, what=what)
        else:
            assert data.num_classes is not None
            check_output_shape(shape, data.num_classes, what=what)
    except OutputShapeError as e:
        fix = ""  # the regression message already names DenseHyperModel's arguments
        if data.task != REGRESSION and hasattr(hypermodel, "num_classes"):
            name = type(hypermodel).__name__
            fix = f" For {name}, pass num_classes={data.num_classes} (and the data's input_shape)."
        width = shape[-1] if len(shape) == 2 else None
        if (
            data.task != REGRESSION
            and isinstance(width, int)
            and width > (data.num_classes or width)
        ):
            fix += (  # as plain Keras trains it: classes without samples
                f" If the data has {width} classes, some with no samples here, pass "
                f"num_classes={width} where the data is made (Dataset.from_arrays, StreamData)."
            )
        raise OutputShapeError(f"{e}{targets}{fix}") from None


_Y = "subtract an offset in the stream: ds.map(lambda x, y: (x, y - offset))"


def check_trainable(
    hypermodel: kt.HyperModel, model: Any, data: Dataset | StreamData, first: Any = None
) -> None:
    """Raises `ModelCheckError` for a model that cannot train on `data` as built.

    Checked without training, each only where it can be known:

    - the model is compiled (unless the hypermodel has its own `fit`, which
      may compile it): KerasTuner trains what `build` returns;
    - a model with one declared `Input`: the input's shape (without the
      batch axis) matches `x_train`'s samples, or a stream's first batch's
      (unless the hypermodel has its own `fit`), where Keras would accept
      them (a missing or extra last axis of size 1 is);
    - a dict of arrays (or a stream's dict `x`), unless the hypermodel has
      its own `fit`: every input of the model has its array, by Keras's
      names (one unnamed `Input` has none);
    - a dict `y` (or a stream's), with an own `fit` too: its keys are the
      names of the model's outputs, no more, no fewer (`check_output_names`);
    - whole numbers beyond 2**24 (IDs, timestamps) in `x` (every split, or a
      stream's first batch) that the dtype of the `Input` they feed merges
      (`check_input_precision`), and a stream's regression targets that float32
      merges (arrays' are refused when the `Dataset` is made);

    `check_model` also checks, once the output shape is known (a lazily
    built model is called on two samples first), that one output unit on
    two classes that tunekit reads as a logit (`tunekit.outputs.
    uses_logits`, the rule `predict_classes` follows) is not measured by an
    accuracy (`"accuracy"`, `BinaryAccuracy`, in `metrics` or
    `weighted_metrics`) that thresholds at 0.5, as for a probability: the
    search would rank trials, and the report print a test accuracy, by a
    count that disagrees with the report's own classes.

    A stream's first batch is read here, unless given as `first` (`(x, y)`, read once
    for every trial's model).

    Raises:
        ModelCheckError (a `ValueError`): Naming what does not fit and the fix.
        DataError: A stream's regression targets float32 merges, with the fix.
    """
    if not isinstance(model, keras.Model):
        return
    # A fit of the hypermodel's own may compile the model, or feed it something else than x.
    fed_as_is = not own_fit(hypermodel)
    if not getattr(model, "compiled", True) and fed_as_is:
        raise ModelCheckError(
            f"{WHAT} is not compiled. Call model.compile(optimizer=..., loss=..., "
            "metrics=[...]) in build before returning the model: KerasTuner trains the "
            "model build returns as it is."
        )
    if isinstance(data, StreamData):
        sample, y = training_samples(data, targets=True) if first is None else first
        # With an own fit too: the test set is predicted as the data holds it.
        if isinstance(sample, Mapping):
            check_input_names(model, sample, fed_as_is)
        if isinstance(y, Mapping):  # with an own fit too: the test set is scored against it
            check_output_names(model, y)
            if fed_as_is:  # the loss of each output takes its labels' form (first batch)
                check_output_label_forms(model, y)
        if data.task == CLASSIFICATION and not isinstance(y, (Mapping, list, tuple)):
            one_hot = np.ndim(y) == 2 and np.shape(y)[-1] > 1
            if fed_as_is:  # an own fit may convert the labels: its loss is not judged
                check_loss_form(model, one_hot)
            check_metric_label_form(model, one_hot)
        check_input_precision(model, {"the stream's first batch": sample})
        if data.task == REGRESSION and hasattr(y, "dtype") and wide(np.asarray(y).dtype):
            targets = np.asarray(y)  # one output's: whole numbers the loss's float32 merges
            for refuse in (refuse_merged_whole, refuse_moved):
                refuse(targets, targets.astype(np.float32), "the stream's y", offset=_Y)
        if not isinstance(sample, (Mapping, list, tuple)):
            check_input_shape(model, tuple(np.shape(sample)), "the stream's first batch")
        return
    if isinstance(data.y_train, Mapping):  # with an own fit too: the test set is scored so
        check_output_names(model, data.y_train)
        if fed_as_is:  # an own fit may convert the labels
            check_output_ids(model, data)
    check_label_form(model, data, hypermodel)
    if isinstance(data.x_train, Mapping):
        check_input_names(model, data.x_train, fed_as_is)
    check_input_precision(model, {s: getattr(data, s) for s in ("x_train", "x_val", "x_test")})
    if isinstance(data.x_train, (Mapping, list, tuple)):
        return
    check_input_shape(model, tuple(np.shape(data.x_train)))


def check_output_ids(model: Any, data: Dataset) -> None:
    """Refuses class ids of a dict `y` (any split) beyond the output that takes them: each
    output compiled with a Keras cross-entropy or hinge loss (`classifying_outputs`) tells
    its units' classes apart (`output_classes`: 2 for one unit). TensorFlow fails every
    trial on such an id; JAX one-hot encodes it to zeros, and the run trained, chose and
    reported a test accuracy on an output that can never predict that class (exit 0). An
    output wider than its ids is left alone: a dict's ids are kept as given, and a class
    may have no samples.

    Raises:
        OutputShapeError (a `ValueError`): Naming the output, its width, the split and the
            id beyond it, and the fix.
    """
    if not isinstance(data.y_train, Mapping):
        return
    task = " and pass task='regression'" if data.task == CLASSIFICATION else ""
    outputs = classifying_outputs(model, SimpleNamespace(output_names=list(data.y_train)))
    for name, shape in outputs.items():
        if (width := output_classes(shape)) is None:
            continue
        for split in ("train", "val", "test"):
            beyond = ids_beyond(getattr(data, f"y_{split}").get(name), width)
            if beyond is None:
                continue
            low, high = beyond
            held = f"the class id {low}" if low < 0 else f"class ids up to {high}"
            fix = (
                "Number its classes 0..K-1"
                if low < 0
                else f"End output {name!r} in Dense({high + 1}) (one unit per class)"
                + (
                    ", activation='softmax', compiled with sparse_categorical_crossentropy"
                    if high >= 2 and width == 2
                    else ""
                )
            )
            raise OutputShapeError(
                f"y_{split}[{name!r}] holds {held}, but the model's output {name!r} tells "
                f"{width} classes apart (class ids 0..{width - 1}; output shape {shape}). "
                "Keras does not check it: a sparse cross-entropy on TensorFlow fails every "
                "trial on such an id; on JAX, and a binary cross-entropy anywhere, trains and "
                f"scores on it as a class the output can never predict. {fix}; if {name!r} is a "
                f"quantity, not class ids, compile it with a regression loss (e.g. 'mse'){task}."
            )


def check_stream_ids(data: StreamData, shapes: Mapping[Any, Any]) -> None:
    """A trial's outputs (`{output name: shape}`; `None`: the one output) against the class
    ids a stream's passes found when it was made: its image folder's labels, or the
    training and validation ids of the leak check's passes (`data.train_classes`,
    `data.validation_classes`): none is read again. The default configuration's output
    was checked against every id before the search (`check_validation_classes`); a trial's
    may be narrower: a dict `y`'s head of 2 units on the id 2 (in training, or in
    validation only: a dict `y`'s splits are not held to the same classes), which
    TensorFlow fails on and JAX one-hot encodes to zeros. (One output's validation ids
    are among its training ids: `refuse_unlearnable_classes` refuses the data otherwise.)

    Raises:
        OutputShapeError: As `check_class_ids` (an id beyond the output), naming the split.
    """
    found = {
        "training": getattr(data, "train_classes", None) or {},
        "validation": getattr(data, "validation_classes", None) or {},
    }
    labels = {"training": "train", "validation": "val"}
    for output, shape in shapes.items():
        for split, classes in found.items():
            given = data.labels.get(labels[split]) if data.labels and output is None else None
            ids = given if given is not None else np.array(sorted(classes.get(output) or ()))
            try:
                check_class_ids(ids, output_classes(shape), split, data, output=output)
            except DataError as e:
                raise OutputShapeError(str(e)) from None


def check_trial_model(
    model: Any,
    what: str,
    *,
    data: Dataset | StreamData,
    sample: Any,
    ctx: Any,
    first: Any = None,
    files: set[frozenset[Any]] | None = None,
) -> None:
    """Each trial's model, before it trains, through the checks the default
    configuration's passed (`tunekit.steps.check.check_model`): `check_trainable` (on
    `first`, a stream's first batch read once), `check_text_backend`, `check_runs_on`,
    `check_built_model` and `check_output_fits` (its output units against the classes or
    targets); then, unless the hypermodel (`ctx.hypermodel`) has a `fit` of its own,
    `check_pairings` and `check_output_loss_batches` with the run's objective
    (`ctx.objective`) and `check_same_loss` (the run's first trial loss kept in
    `ctx.trial_losses`); last, with `files` (the classes of the models whose file passed,
    kept between trials), `check_trial_file`: the `.keras` file the retrain would write.
    `what` names the trial's model (its id and values).

    Raises:
        ModelCheckError (a `ValueError`): Any of those refusals (an `OutputShapeError`
            too), naming this trial's model: it is wrong, so its trial fails
            (`tunekit.trial_refusals`) and the search goes on.
        SearchInputError: As `check_same_loss`, which stops the search: no trial is
            wrong on its own, its loss is not on the earlier trials' scale.
    """
    fed_as_is = not own_fit(ctx.hypermodel)
    try:
        check_trainable(ctx.hypermodel, model, data, first)
        check_text_backend(model, data, what, read_stream=False)
        if fed_as_is:
            check_runs_on(model, sample, what)
        shape = check_built_model(model, what, data, sample)
        check_output_fits(shape, data, what, ctx.hypermodel, trial=True)
        if isinstance(data, StreamData) and data.several_outputs:  # each head's width
            check_stream_ids(data, classifying_outputs(model, data))
    except (ModelCheckError, OutputShapeError) as e:  # some name the default's model
        message = str(e)  # the checks of `check_model` name the default's model: this one
        if what not in message:
            message = message.replace(WHAT, what) if WHAT in message else f"{what}: {message}"
        raise ModelCheckError(message) from None
    if fed_as_is:
        names = objective_names(ctx.objective)
        check_pairings(model, data, names, what, read_stream=False, sample=sample)
        check_output_loss_batches(model, data, names)
        # The training targets, a spread of which a loss of the user's is measured on.
        labels = data.y_train if isinstance(data, Dataset) else None
        samples = lambda: value_sample(data, sample)  # noqa: E731
        try:
            check_same_loss(model, what, names, ctx.trial_losses, samples=samples, labels=labels)
        except ModelCheckError as e:  # the objective, not this trial: stop the search
            raise SearchInputError(str(e)) from None
    if files is not None:  # last: the dearest, and only for a model every other check took
        check_trial_file(model, what, files)


def trial_model_check(ctx: Any) -> Any:
    """`check_trial_model` for a tuner's `model_check`, on the run's data (`ctx.data`),
    with the samples a model is called on read once (a stream's first batch), and the
    `.keras` file checked once per set of classes for the tuner's trials (`files`)."""
    data = ctx.data
    first = training_samples(data, targets=True) if isinstance(data, StreamData) else None
    sample = first[0] if first is not None else model_sample(data)
    return functools.partial(
        check_trial_model, data=data, sample=sample, ctx=ctx, first=first, files=set()
    )
