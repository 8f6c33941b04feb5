"""Image folders (one subfolder per class), decoded with Pillow into memory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tunekit.data._checks import _SPLITS, SCALED_UINT8, _check_fractions, _is_int, _scale_pixels
from tunekit.data._splits import _stratified_split
from tunekit.data.dataset import Dataset
from tunekit.errors import DataError

__all__ = ["load_image_directory"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_COLOR_MODES = {"rgb": ("RGB", 3), "grayscale": ("L", 1)}


def load_image_directory(
    root: str | os.PathLike[str],
    image_size: tuple[int, int],
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    color_mode: str = "rgb",
) -> Dataset:
    """Loads a folder with one subfolder of images per class, split per class.

    `root/<class>/*.png|*.jpg|*.jpeg` (any case). Hidden entries and other files are
    ignored. Each class is shuffled with `seed`; its first `round(n * test_fraction)`
    images (at least 1) go to test, the next to validation, the rest to train.

    Args:
        root: Dataset folder; class names are its sorted subfolder names.
        image_size: `(height, width)` images are resized to (Pillow, bilinear).
        validation_fraction: Fraction of each class for validation, in [0, 1).
        test_fraction: Fraction of each class for testing, in [0, 1).
        seed: Seed of the deterministic split.
        color_mode: `"rgb"` (h, w, 3) or `"grayscale"` (h, w, 1).

    Returns:
        A `Dataset` named after the folder. Images are decoded as uint8 and,
        by the module's scaling rule, divided by 255: float32 in [0, 1]
        (`scaling` is `SCALED_UINT8`), exactly as the same pixels saved as a
        uint8 `.npz`. With the bundled `ToonVisionCNNHyperModel` pass
        `rescale=False` (the command line does).

    Raises:
        DataError (a `ValueError`): On a missing folder, fewer than 2 classes, an empty class, bad
            arguments, an unreadable image or a split that leaves a class empty.

    Example:
    >>> ds = load_image_directory("data/toonvision", image_size=(64, 64))
    """
    if color_mode not in _COLOR_MODES:
        raise DataError(f"Unknown color_mode {color_mode!r}; choose one of {list(_COLOR_MODES)}.")
    if (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or not all(_is_int(s) and s > 0 for s in image_size)
    ):
        raise DataError(
            f"image_size must be two positive ints (height, width), got "
            f"{image_size!r}; e.g. image_size=(64, 64)."
        )
    _check_fractions(validation_fraction, test_fraction)
    folder = Path(root)
    if not folder.is_dir():
        raise DataError(
            f"Image folder not found: {str(folder)!r}. Expected a directory with "
            "one subfolder of images per class."
        )
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DataError(
            f"Need at least 2 class subfolders in {str(folder)!r}, found "
            f"{len(classes)}: {classes}. Put each class in its own subfolder."
        )
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(
            p
            for p in (folder / name).iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in _IMAGE_SUFFIXES
        )
        if not found:
            raise DataError(
                f"Class folder {name!r} in {str(folder)!r} has no images "
                f"({'/'.join(_IMAGE_SUFFIXES)}); add images or remove the folder."
            )
        files += found
        labels += [label] * len(found)
    y = np.asarray(labels, dtype=np.int64)
    mode, channels = _COLOR_MODES[color_mode]
    height, width = int(image_size[0]), int(image_size[1])
    x = np.empty((len(files), height, width, channels), dtype=np.float32)
    for i, file in enumerate(files):
        pixels = _read_image(file, mode, (height, width)).reshape(height, width, channels)
        x[i] = _scale_pixels(pixels)
    idx = _stratified_split(y, validation_fraction, test_fraction, seed, classes)
    splits = [a[idx[s]] for s in _SPLITS for a in (x, y)]
    return Dataset(
        *splits,  # type: ignore[misc]  # six arrays: x_train, y_train, ..., y_test
        class_names=classes,
        input_shape=x.shape[1:],
        num_classes=len(classes),
        name=folder.resolve().name,
        scaling=SCALED_UINT8,
    )


def _read_image(file: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            image = image.convert(mode).resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"Could not read image {str(file)!r}: {exc}. Fix or remove it.") from exc
