"""The command line's settings of its bundled hypermodels: `--augment` / `--no-augment`.

A setting of a built-in `--hypermodel` is the user's explicit choice, never chosen
from the data (its name, its file's or folder's name): `toonvision-cnn`'s
`RandomFlip("horizontal")` layer is added only with `--augment`, since a flip keeps
the label of some images and not of others (a digit, text). Given with a hypermodel
that has no augmentation, the switch is refused (`check_augment`), before anything
loads. Imports nothing from Keras.
"""

from __future__ import annotations

from typing import Any

from tunekit.errors import UsageError

__all__ = [
    "AUGMENTING",
    "BUILTIN_HYPERMODELS",
    "augmentation_text",
    "builtin_name",
    "check_augment",
    "hypermodel_text",
]

# `--hypermodel`'s built-in names (`tunekit.hypermodel_specs` resolves them).
BUILTIN_HYPERMODELS = ("mnist-dense", "dense", "toonvision-cnn")
# The built-in hypermodels that take `--augment` / `--no-augment` (their `augment=`).
AUGMENTING = ("toonvision-cnn",)
_CNN_CLASS = "hypermodels.cnn.ToonVisionCNNHyperModel"
# The bundled classes by the `module:attribute` paths that reach them, and their names.
_BUNDLED_PATHS = {
    **{
        f"{module}:{cls}": name
        for module in ("hypermodels", "hypermodels.dense")
        for cls, name in (("MnistDenseHyperModel", "mnist-dense"), ("DenseHyperModel", "dense"))
    },
    **{
        f"{m}:ToonVisionCNNHyperModel": "toonvision-cnn" for m in ("hypermodels", "hypermodels.cnn")
    },
}


def builtin_name(spec: str) -> str:
    """The built-in name of a `--hypermodel` path to a bundled class, else `spec` as given.

    `hypermodels:ToonVisionCNNHyperModel` (or `hypermodels.cnn:...`) is
    `toonvision-cnn`, and is built as it: with `input_shape`, `num_classes`
    and `label_mode` from the data, `rescale=False` and `augment` from
    `--augment`. Built as another class of yours instead, its plain-KerasTuner
    defaults (`rescale=True`, `augment=True`) would divide pixels tunekit keeps
    as given by 255 a second time and flip them, and train at chance, exit 0.
    Likewise `hypermodels:DenseHyperModel` is `dense`, `...:MnistDenseHyperModel`
    is `mnist-dense`. An instance or a subclass of yours is yours.
    """
    return _BUNDLED_PATHS.get(spec.strip(), spec)


def check_augment(spec: str, augment: bool | None) -> None:
    """Refuses `--augment` / `--no-augment` (`augment` not `None`) with a hypermodel that
    has no augmentation to turn on or off, in the command line's words.

    Args:
        spec: The `--hypermodel` value.
        augment: `True` for `--augment`, `False` for `--no-augment`, `None` if neither.

    Raises:
        UsageError: `augment` is given and `spec` is not in `AUGMENTING`.
    """
    if augment is None or builtin_name(spec) in AUGMENTING:
        return
    flag = "--augment" if augment else "--no-augment"
    what = (
        "has no augmentation"
        if builtin_name(spec) in BUILTIN_HYPERMODELS
        else (
            "is your own hypermodel, which tunekit passes no augmentation setting (add "
            "augmentation layers in its build, e.g. keras.layers.RandomFlip)"
        )
    )
    raise UsageError(
        f"{flag} only applies to --hypermodel {' / '.join(AUGMENTING)} (a RandomFlip layer); "
        f"--hypermodel {spec} {what}. Drop {flag}."
    )


def augmentation_text(described: Any) -> str | None:
    """The augmentation of a recorded `toonvision-cnn` (`config["hypermodel"]`) in words
    (`"augmentation off (--augment: ...)"`), or `None` for another hypermodel."""
    if not isinstance(described, dict) or described.get("class") != _CNN_CLASS:
        return None
    if described.get("augment"):
        return "augmentation on (RandomFlip horizontal: random left-right flips in training)"
    return "augmentation off (--augment: random left-right flips in training)"


def hypermodel_text(described: Any) -> str:
    """A recorded hypermodel (`config["hypermodel"]`) for `report.md`: its class in
    backquotes, then its augmentation for a `toonvision-cnn` (`augmentation_text`)."""
    augmentation = augmentation_text(described)
    return f"`{described['class']}`" + (f"; {augmentation}" if augmentation else "")
