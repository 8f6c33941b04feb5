"""Dense (multi-layer perceptron) hypermodels: classification or regression.

`DenseHyperModel` does both tasks; `MnistDenseHyperModel` is its classifier with
MNIST's defaults, unchanged for existing users.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import keras
import keras_tuner as kt

from hypermodels._checks import (
    check_flag,
    check_input_shape,
    check_label_mode,
    check_num_classes,
    compile_classifier,
)

MAX_EXTRA_LAYERS = 3
CLASSIFICATION = "classification"
REGRESSION = "regression"


class DenseHyperModel(kt.HyperModel):
    """A tunable multi-layer perceptron for classification or regression.

    The model is `Flatten -> Dense(units_0) -> Dropout -> [Dense(units_i) ->
    Dropout] x num_extra_layers -> output`. The output and compilation follow
    the task:

    - classification: `Dense(num_classes, softmax)`, Adam, sparse categorical
      cross-entropy (categorical for one-hot labels, `label_mode="categorical"`),
      the `accuracy` metric (`objective="val_accuracy"` works);
    - regression: `Dense(num_outputs)` with a linear activation, Adam, mean
      squared error loss, the `mae` metric (`objective="val_loss"` is the MSE;
      `"val_mae"` works too). Targets of shape `(n,)` or `(n, num_outputs)`.

    Search space (name: values, default), the same for both tasks:

    - `units_0`: Int 32..512 step 32, default 256. Units of the first layer.
    - `num_extra_layers`: Int 0..3, default 0. Further Dense layers.
    - `units_1`, `units_2`, `units_3`: Int 32..512 step 32, default 256. Units
      of each further layer, declared in a `conditional_scope` on
      `num_extra_layers`, so they are only active (and only recorded as
      mattering) when that layer is built.
    - `activation`: Choice relu / tanh / sigmoid, default relu. Shared by all
      hidden layers.
    - `dropout`: Float 0.0..0.5 step 0.05, default 0.2. After every hidden layer.
    - `learning_rate`: Float 1e-4..1e-2, log sampling, default 1e-3. Adam's.

    Args:
        input_shape: Shape of one input sample, without the batch axis.
        num_classes: Classification: number of classes (integer labels
            `0..num_classes-1`), >= 2. Defaults to None.
        num_outputs: Regression: number of targets per sample `k` (1 for
            targets of shape `(n,)`). Defaults to None (1 when `task="regression"`).
        task: `"classification"`, `"regression"`, or None to take it from which
            of `num_classes` / `num_outputs` is given. Defaults to None.
        label_mode: Classification: `"int"` for class ids `(n,)`, `"categorical"`
            for one-hot rows `(n, num_classes)` (Keras's names, as in
            `keras.utils.image_dataset_from_directory`). Defaults to `"int"`.
        name: Optional name of the hypermodel.
        tunable: Whether its hyperparameters are tunable. Defaults to `True`.

    Raises:
        ValueError: On a bad shape, count or task, a task that contradicts
            `num_classes` / `num_outputs`, or a `label_mode` other than `"int"`
            for regression, or a `tunable` that is not a bool.

    Example:

    ```python
    import keras_tuner as kt
    tuner = kt.RandomSearch(DenseHyperModel(input_shape=(10,), num_outputs=1),
                            objective="val_loss", max_trials=5,
                            directory="runs", project_name="diabetes")
    ```
    """

    model_name = "dense"

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int | None = None,
        *,
        num_outputs: int | None = None,
        task: str | None = None,
        label_mode: str = "int",
        name: str | None = None,
        tunable: bool = True,
    ) -> None:
        owner = type(self).__name__
        super().__init__(name=name, tunable=check_flag(tunable, "tunable", owner=owner))
        self.label_mode = check_label_mode(label_mode, owner=owner)
        self.input_shape = check_input_shape(input_shape, owner=owner)
        self.task = _resolve_task(task, num_classes, num_outputs, owner)
        if self.task == CLASSIFICATION:
            self.num_classes: int | None = check_num_classes(
                num_classes,  # type: ignore[arg-type]
                owner=owner,
            )
            self.num_outputs: int | None = None
        else:
            if label_mode != "int":  # the default: said only when set
                raise ValueError(
                    f"`label_mode` of {owner} is for classification; regression targets "
                    f"have no label mode (leave it 'int'). Received: label_mode={label_mode!r}."
                )
            self.num_classes = None
            self.num_outputs = _check_num_outputs(1 if num_outputs is None else num_outputs, owner)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """Builds and compiles the model for `hp` (see the class docstring)."""
        units_0 = hp.Int("units_0", min_value=32, max_value=512, step=32, default=256)
        num_extra = hp.Int("num_extra_layers", min_value=0, max_value=MAX_EXTRA_LAYERS, default=0)
        extra_units = []
        for i in range(1, MAX_EXTRA_LAYERS + 1):
            # Declared whether or not the layer is built, so the whole space is
            # known from the first build; active only when the layer exists.
            with hp.conditional_scope("num_extra_layers", list(range(i, MAX_EXTRA_LAYERS + 1))):
                units = hp.Int(f"units_{i}", min_value=32, max_value=512, step=32, default=256)
            if i <= num_extra:
                extra_units.append(units)
        activation = hp.Choice("activation", ["relu", "tanh", "sigmoid"], default="relu")
        dropout = hp.Float("dropout", min_value=0.0, max_value=0.5, step=0.05, default=0.2)
        learning_rate = hp.Float(
            "learning_rate", min_value=1e-4, max_value=1e-2, sampling="log", default=1e-3
        )

        inputs = keras.Input(shape=self.input_shape)
        x = keras.layers.Flatten()(inputs)
        for units in [units_0, *extra_units]:
            x = keras.layers.Dense(units, activation=activation)(x)
            if dropout > 0:
                x = keras.layers.Dropout(dropout)(x)
        if self.task == REGRESSION:
            outputs = keras.layers.Dense(self.num_outputs, activation="linear")(x)
            model = keras.Model(inputs, outputs, name=f"{self.model_name}_regression")
            model.compile(
                optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                loss="mean_squared_error",
                metrics=["mae"],
            )
            return model
        outputs = keras.layers.Dense(self.num_classes, activation="softmax")(x)
        model = keras.Model(inputs, outputs, name=self.model_name)
        return compile_classifier(model, learning_rate, self.label_mode)


class MnistDenseHyperModel(DenseHyperModel):
    """A tunable multi-layer perceptron for image (or any tensor) classification.

    `DenseHyperModel` for classification with MNIST's defaults: the model is
    `Flatten -> Dense(units_0) -> Dropout -> [Dense(units_i) -> Dropout] x
    num_extra_layers -> Dense(num_classes, softmax)`, named `"mnist_dense"`,
    compiled with Adam, sparse categorical cross-entropy and the `accuracy`
    metric, so `objective="val_accuracy"` works. The search space is
    `DenseHyperModel`'s. For regression use `DenseHyperModel`.

    Args:
        input_shape: Shape of one input sample, without the batch axis.
            Defaults to `(28, 28)`.
        num_classes: Number of classes (integer labels `0..num_classes-1`).
            Defaults to `10`.
        label_mode: `"int"` for class ids, `"categorical"` for one-hot rows
            (categorical cross-entropy). Defaults to `"int"`.
        name: Optional name of the hypermodel.
        tunable: Whether its hyperparameters are tunable. Defaults to `True`.

    Example:

    ```python
    import keras_tuner as kt
    tuner = kt.Hyperband(MnistDenseHyperModel(input_shape=(28, 28), num_classes=10),
                         objective="val_accuracy", max_epochs=3,
                         directory="runs", project_name="plain")
    ```
    """

    model_name = "mnist_dense"

    def __init__(
        self,
        input_shape: Sequence[int] = (28, 28),
        num_classes: int = 10,
        *,
        label_mode: str = "int",
        name: str | None = None,
        tunable: bool = True,
    ) -> None:
        super().__init__(
            input_shape,
            num_classes,
            task=CLASSIFICATION,
            label_mode=label_mode,
            name=name,
            tunable=tunable,
        )


def _resolve_task(
    task: str | None, num_classes: int | None, num_outputs: int | None, owner: str
) -> str:
    if task not in (None, CLASSIFICATION, REGRESSION):
        raise ValueError(
            f"`task` of {owner} must be 'classification', 'regression' or None. "
            f"Received: task={task!r}."
        )
    if task is None:
        if (num_classes is None) == (num_outputs is None):
            raise ValueError(
                f"{owner} needs exactly one of `num_classes` (classification) or `num_outputs` "
                f"(regression), or `task`. Received: num_classes={num_classes!r}, "
                f"num_outputs={num_outputs!r}."
            )
        return CLASSIFICATION if num_classes is not None else REGRESSION
    if task == CLASSIFICATION and num_outputs is not None:
        raise ValueError(
            f"`num_outputs` of {owner} is for task='regression'; a classifier has "
            f"num_classes outputs. Received: num_outputs={num_outputs!r}."
        )
    if task == REGRESSION and num_classes is not None:
        raise ValueError(
            f"`num_classes` of {owner} is for task='classification'; regression "
            f"has no classes (pass num_outputs=k). Received: "
            f"num_classes={num_classes!r}."
        )
    return task


def _check_num_outputs(num_outputs: int, owner: str) -> int:
    if (
        not isinstance(num_outputs, numbers.Integral)
        or isinstance(num_outputs, bool)
        or num_outputs < 1
    ):
        raise ValueError(
            f"`num_outputs` of {owner} must be an int >= 1 (the number of "
            f"regression targets per sample). Received: num_outputs={num_outputs!r}."
        )
    return int(num_outputs)
