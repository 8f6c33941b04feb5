"""A dense (multi-layer perceptron) classifier hypermodel, sized for MNIST."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import keras_tuner as kt

from hypermodels._checks import check_input_shape, check_num_classes, compile_classifier

MAX_EXTRA_LAYERS = 3


class MnistDenseHyperModel(kt.HyperModel):
    """A tunable multi-layer perceptron for image (or any tensor) classification.

    The model is `Flatten -> Dense(units_0) -> Dropout -> [Dense(units_i) ->
    Dropout] x num_extra_layers -> Dense(num_classes, softmax)`, compiled with
    Adam, sparse categorical cross-entropy and the `accuracy` metric, so
    `objective="val_accuracy"` works.

    Search space (name: values, default):

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
            Defaults to `(28, 28)`.
        num_classes: Number of classes (integer labels `0..num_classes-1`).
            Defaults to `10`.
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

    def __init__(
        self,
        input_shape: Sequence[int] = (28, 28),
        num_classes: int = 10,
        *,
        name: str | None = None,
        tunable: bool = True,
    ) -> None:
        super().__init__(name=name, tunable=tunable)
        self.input_shape = check_input_shape(input_shape, owner="MnistDenseHyperModel")
        self.num_classes = check_num_classes(num_classes, owner="MnistDenseHyperModel")

    def build(self, hp: kt.HyperParameters) -> keras.Model:
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
        outputs = keras.layers.Dense(self.num_classes, activation="softmax")(x)
        model = keras.Model(inputs, outputs, name="mnist_dense")
        return compile_classifier(model, learning_rate)
