"""A small ToonVision-style convolutional classifier hypermodel."""

from __future__ import annotations

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

NUM_BLOCKS = 2
MIN_SIDE = 8
MIN_MAP = 2


class ToonVisionCNNHyperModel(kt.HyperModel):
    """A tunable two-block CNN in the style of the ToonVision classifier.

    Source: the ToonVision article series (a Keras CNN classifying Toontown
    screenshots), whose model is two blocks of `Conv2D -> MaxPooling2D ->
    MaxPooling2D -> Dropout` and a softmax on the flattened map, and which
    names the number of layers per block as the next hyperparameter to tune.

    The model is `[Rescaling(1/255)] -> [RandomFlip("horizontal")] -> 2 x
    (convs_i x Conv2D(relu, padding="same") -> MaxPooling2D -> MaxPooling2D
    -> Dropout) -> Flatten -> Dense(num_classes, softmax)`, compiled with
    Adam, sparse categorical cross-entropy and the `accuracy` metric. With
    `batch_norm`, each convolution is `Conv2D(padding="same", use_bias=False)
    -> BatchNormalization -> ReLU` instead. Input `(batch, height, width[,
    channels])`, output `(batch, num_classes)` class probabilities.

    Search space (name: values, default), for block `i` in 1 and 2:

    - `batch_norm`: Boolean, default False (one choice for every convolution).
    - `filters_i`: Int 4..32 step 4, default 16 (both convolutions of a block).
    - `kernel_size_i`: Choice 3 / 5, default 3.
    - `convs_i`: Int 1..2, default 1. Convolutions in block `i`.
    - `pool_a_i`: Int 2..4, default 2. Pool size of the first MaxPooling2D.
    - `pool_b_i`: Int 1..4, default 1. Pool size of the second MaxPooling2D
      (1 is a no-op).
    - `dropout_i`: Float 0.0..0.9 step 0.1, default 0.2.
    - `learning_rate`: Choice 1e-2 / 1e-3 / 1e-4, default 1e-3.

    The defaults build the article's shape (one convolution per block, no
    batch normalisation): 10,330 parameters for 28x28x1 inputs and 10
    classes.

    A pooling layer never shrinks a feature map below 2x2 (and leaves an
    axis under 4 alone): its pool size is clipped to half the current
    feature-map size on each axis, and the layer is skipped where both clip
    to 1. So the model builds for any input of at least 8x8 (MNIST's 28x28x1
    included) whatever the hyperparameters, the defaults' model is the same
    as without the clip, and the pool ranges, made for the article's 600x200
    screenshots, do not collapse small images to a 1x1 map (without this
    floor, 9 of the first 10 random configurations did on MNIST, and those
    scored worst).

    Args:
        input_shape: `(height, width, channels)` of one image, or
            `(height, width)` for single-channel images. Defaults to
            `(600, 200, 3)`.
        num_classes: Number of classes. Defaults to `4`.
        augment: Whether to add a `RandomFlip("horizontal")` layer (active
            only in training). Defaults to `True`.
        rescale: Whether inputs are raw pixels in [0, 255] to rescale by
            1/255. Pass `False` when the data is already scaled to [0, 1],
            as tunekit's loaders give it (they divide uint8 pixels and
            decoded images by 255). Defaults to `True`.
        label_mode: `"int"` for class ids `(n,)` (sparse categorical
            cross-entropy), `"categorical"` for one-hot rows `(n, num_classes)`
            (categorical cross-entropy). Defaults to `"int"`.
        name: Optional name of the hypermodel.
        tunable: Whether its hyperparameters are tunable. Defaults to `True`.

    Raises:
        ValueError: On a shape that is not an image's (or is channels first, or
            smaller than 8x8), fewer than 2 classes, an unknown `label_mode`, or
            an `augment` / `rescale` / `tunable` that is not a bool (`"False"` is true).

    Example:

    ```python
    hypermodel = ToonVisionCNNHyperModel(input_shape=(28, 28, 1), num_classes=10,
                                         augment=False, rescale=False)
    ```
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (600, 200, 3),
        num_classes: int = 4,
        augment: bool = True,
        *,
        rescale: bool = True,
        label_mode: str = "int",
        name: str | None = None,
        tunable: bool = True,
    ) -> None:
        owner = "ToonVisionCNNHyperModel"
        super().__init__(name=name, tunable=check_flag(tunable, "tunable", owner=owner))
        self.label_mode = check_label_mode(label_mode, owner="ToonVisionCNNHyperModel")
        shape = check_input_shape(input_shape, owner="ToonVisionCNNHyperModel")
        if len(shape) not in (2, 3):
            raise ValueError(
                "ToonVisionCNNHyperModel needs images: `input_shape` must be (height, width) or "
                f"(height, width, channels). Received: input_shape={input_shape!r}, which is "
                "not an image shape. For feature vectors use a dense model (e.g. "
                "MnistDenseHyperModel or tunekit's DenseHyperModel)."
            )
        if len(shape) == 3 and shape[0] < MIN_SIDE <= min(shape[1:]):  # (2, 32, 32)
            raise ValueError(
                "`input_shape` of ToonVisionCNNHyperModel must be channels last, (height, "
                f"width, channels). Received: input_shape={input_shape!r}, which looks "
                f"channels first ({shape[0]} channels of {shape[1]}x{shape[2]}): move the "
                "channel axis last, e.g. x = np.moveaxis(x, 1, -1) for arrays of shape "
                "(n, channels, height, width)."
            )
        if min(shape[:2]) < MIN_SIDE:
            raise ValueError(
                "`input_shape` of ToonVisionCNNHyperModel must be (height, width) or "
                f"(height, width, channels) with height and width >= {MIN_SIDE}. "
                f"Received: input_shape={input_shape!r}. Resize the images to at least "
                f"{MIN_SIDE}x{MIN_SIDE} (tunekit's command line: --image-size {MIN_SIDE} "
                f"{MIN_SIDE} or larger)."
            )
        self.input_shape = shape
        self.num_classes = check_num_classes(num_classes, owner="ToonVisionCNNHyperModel")
        self.augment = check_flag(augment, "augment", owner="ToonVisionCNNHyperModel")
        self.rescale = check_flag(rescale, "rescale", owner="ToonVisionCNNHyperModel")

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        inputs = keras.Input(shape=self.input_shape)
        x = inputs
        if len(self.input_shape) == 2:
            x = keras.layers.Reshape((*self.input_shape, 1))(x)
        if self.rescale:
            x = keras.layers.Rescaling(1.0 / 255)(x)
        if self.augment:
            x = keras.layers.RandomFlip("horizontal")(x)
        height, width = self.input_shape[:2]
        batch_norm = hp.Boolean("batch_norm", default=False)
        for i in range(1, NUM_BLOCKS + 1):
            filters = hp.Int(f"filters_{i}", min_value=4, max_value=32, step=4, default=16)
            kernel_size = hp.Choice(f"kernel_size_{i}", [3, 5], default=3)
            convs = hp.Int(f"convs_{i}", min_value=1, max_value=2, default=1)
            pool_a = hp.Int(f"pool_a_{i}", min_value=2, max_value=4, default=2)
            pool_b = hp.Int(f"pool_b_{i}", min_value=1, max_value=4, default=1)
            dropout = hp.Float(f"dropout_{i}", min_value=0.0, max_value=0.9, step=0.1, default=0.2)
            for _ in range(convs):
                x = _convolution(x, filters, kernel_size, batch_norm=batch_norm)
            for pool in (pool_a, pool_b):
                size = (min(pool, max(1, height // MIN_MAP)), min(pool, max(1, width // MIN_MAP)))
                if size != (1, 1):
                    x = keras.layers.MaxPooling2D(pool_size=size)(x)
                    height, width = height // size[0], width // size[1]
            x = keras.layers.Dropout(dropout)(x)
        x = keras.layers.Flatten()(x)
        outputs = keras.layers.Dense(self.num_classes, activation="softmax")(x)
        model = keras.Model(inputs, outputs, name="toonvision_cnn")
        learning_rate = hp.Choice("learning_rate", [1e-2, 1e-3, 1e-4], default=1e-3)
        return compile_classifier(model, learning_rate, self.label_mode)


def _convolution(
    x: keras.KerasTensor, filters: int, kernel_size: int, *, batch_norm: bool
) -> keras.KerasTensor:
    """`Conv2D(relu, padding="same")`; with `batch_norm`, `Conv2D -> BatchNorm -> ReLU`."""
    if not batch_norm:
        return keras.layers.Conv2D(filters, kernel_size, activation="relu", padding="same")(x)
    x = keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.ReLU()(x)
