"""Image folders (one subfolder per class), decoded with Pillow into memory."""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data._checks import _SPLITS, SCALED_UINT8, _check_fractions, _is_int, _scale_pixels
from tunekit.data._folder_check import FolderCheck
from tunekit.data._folder_check import list_images as list_images  # its home before
from tunekit.data._folder_check import unreadable_image as unreadable_image
from tunekit.data._folder_check import unreadable_images as unreadable_images
from tunekit.data._folders import split_files
from tunekit.data._image_kinds import single_channel
from tunekit.data._notes import noted
from tunekit.data.dataset import Dataset
from tunekit.errors import DataError

__all__ = ["load_image_directory", "listing_changes"]

# color_mode -> (Pillow mode, channels)
COLOR_MODES = {"rgb": ("RGB", 3), "grayscale": ("L", 1)}


@noted
def load_image_directory(
    root: str | os.PathLike[str],
    image_size: tuple[int, int],
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    color_mode: str | None = None,
) -> Dataset:
    """Loads a folder with one subfolder of images per class, split per class.

    `root/<class>/**/*.png|*.jpg|*.jpeg|*.bmp|*.gif` (any case, in folders
    inside a class's too). Hidden entries and files that are not images
    (`README.txt`, `labels.csv`) are ignored; images of another format
    (`.tif`, `.webp`, `.heic`, `.dib`, `.sgi`...: any suffix Pillow knows), files
    whose content is an image under another name (`scan`, `a.png.bak`), and
    images directly in `root` are refused, by name. Each
    class is split into train, validation and test as `image_folder_stream`
    (and so the command line's `--data FOLDER`) splits it: scikit-learn's
    stratified `train_test_split`, seeded with `seed`, or per class when that
    would leave a small class out of a split (see `tunekit.data._folders.split_files`);
    the same folder, fractions and seed give the same files in each split. A
    class needs one image per split (3; 2 with a fraction of 0). A folder of split
    folders (`train/`, `val/`, `test/`, each holding class folders) is refused.
    Images are decoded and resized with Pillow, not with the TensorFlow pipeline
    of `image_folder_stream` (the command line's): a JPEG's pixels, or a resized
    image's, may differ from the run's by a few grey levels (up to about 4/255);
    `image_folder_stream(root).dataset("test")` gives the run's own test pixels.

    Args:
        root: Dataset folder; class names are its sorted subfolder names.
        image_size: `(height, width)` images are resized to (Pillow, bilinear).
        validation_fraction: Fraction of each class for validation, in [0, 1).
        test_fraction: Fraction of each class for testing, in [0, 1).
        seed: Seed of the deterministic split. Defaults to 0, the command
            line's (its test files are those of this `x_test`, in order).
        color_mode: `"rgb"` (h, w, 3) or `"grayscale"` (h, w, 1). Defaults to
            `None`: the folder's own, `"grayscale"` when every image is
            single-channel, else `"rgb"`, as on the command line and in
            `image_folder_stream` (so the command line's saved model takes
            these images).

    Returns:
        A `Dataset` named after the folder. Images are decoded as uint8 and,
        by the module's scaling rule, divided by 255: float32 in [0, 1]
        (`scaling` is `SCALED_UINT8`), exactly as the same pixels saved as a
        uint8 `.npz`. With the bundled `ToonVisionCNNHyperModel` pass
        `rescale=False` (the command line does).

    Raises:
        DataError (a `ValueError`): On bad arguments or a missing folder; else
            naming every problem of the folder at once (fewer than 2 classes,
            empty classes, unreadable images, images of a format Keras cannot
            decode or outside the class folders, a folder of split folders
            (`train/<class>/...`), classes with fewer images than one per split...).

    Example:
    >>> ds = load_image_directory("data/toonvision", image_size=(64, 64))
    """
    check_image_args(image_size, color_mode or "rgb", example="(64, 64)")
    _check_fractions(validation_fraction, test_fraction)
    folder = Path(root)
    check = FolderCheck(folder)  # every problem of the folder named at once, below
    color_mode = color_mode or _folder_mode(folder, check.listing)
    mode, channels = COLOR_MODES[color_mode]
    height, width = int(image_size[0]), int(image_size[1])
    shape = (height, width, channels)
    # Every image decoded first: the unreadable ones are named with the folder's other problems.
    pixels = {}
    for path, _, _ in check.listing:
        image = _read_image(folder / path, mode, shape[:2], check)
        if image is not None:
            pixels[path] = _scale_pixels(image.reshape(shape))
    check.check_split(validation_fraction, test_fraction)
    check.raise_problems()
    # The stream's split (so the command line's): the same files in each split.
    classes, files, labels = split_files(list(pixels), validation_fraction, test_fraction, seed)
    x: dict[str, np.ndarray] = {}
    for split in _SPLITS:
        x[split] = np.empty((len(files[split]), *shape), dtype=np.float32)
        for i, path in enumerate(files[split]):
            x[split][i] = pixels.pop(path)  # one copy of each image at a time
    return Dataset(
        x["train"],
        labels["train"],
        x["val"],
        labels["val"],
        x["test"],
        labels["test"],
        class_names=classes,
        input_shape=shape,
        num_classes=len(classes),
        name=folder.resolve().name,
        scaling=SCALED_UINT8,
    )


def _folder_mode(folder: Path, listing: Sequence[Any]) -> str:
    """`"grayscale"` when every image's header says one channel, else `"rgb"` (headers
    only; an image Pillow cannot open is named when it is decoded)."""
    from PIL import Image

    for path, _, _ in listing:
        try:
            with Image.open(folder / path) as image:
                if not single_channel(image):
                    return "rgb"
        except Exception:  # noqa: BLE001 - named by `_read_image`
            return "rgb"
    return "grayscale"


# Pillow's modes of one channel wider than 8 bits (a 16-bit grayscale PNG opens as one).
_WIDE_GRAY = ("I", "I;16", "I;16B", "I;16L")


def _to_uint8(wide: np.ndarray) -> np.ndarray:
    """16-bit gray levels (0..65535) as 8-bit ones, as TensorFlow's `convert_image_dtype`
    makes them in `image_folder_stream` (`level // 256`): the same pixels either way."""
    return (np.clip(wide.astype(np.int64), 0, 65535) // 256).astype(np.uint8)


def _read_image(
    file: Path, mode: str, size: tuple[int, int], check: FolderCheck | None = None
) -> Any:
    """The image in `file` as uint8 `(height, width[, channels])`, or None when Pillow
    cannot read it (recorded in `check`; without one, raises `unreadable_image`'s
    `DataError`)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            if image.mode in _WIDE_GRAY:  # Pillow's convert clips them at 255: all white
                image = Image.fromarray(_to_uint8(np.asarray(image)), "L")
            image = image.convert(mode).resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        if check is None:
            raise unreadable_image(file, exc) from exc
        check.unreadable(file, exc)
        return None


# What the last bytes of a whole file hold: PNG's IEND chunk, JPEG's end-of-image marker
# (some writers add bytes after them, so the last 64 bytes). GIF and BMP have no such mark.
_ENDINGS = {"PNG": b"IEND", "JPEG": b"\xff\xd9"}


def check_whole(image: Any, file: Path) -> None:
    """Raises `OSError` when an opened image's file was cut short (a header, part of its data).

    Opening reads only the header, so a cut file passed it and failed in the
    first trial's decoding with a message naming no file. A PNG or JPEG is
    whole when its end mark is in its last 64 bytes (and, for a PNG, every
    chunk's checksum holds: Pillow's `verify`, which decodes nothing); any
    other image, or one without the mark (a writer may add its own trailer),
    is decoded in full (Pillow's `load`), so only a file Pillow cannot decode
    is refused. Data damaged between intact marks is found by the stream's
    own decoder before training (`ImageFolderStream.check_decodable`).
    """
    ending = _ENDINGS.get(str(image.format))
    if ending is not None:
        with open(file, "rb") as handle:
            handle.seek(max(0, os.path.getsize(file) - 64))
            whole = ending in handle.read()
        if whole and image.format == "PNG":
            from PIL import Image

            # Every chunk's length and checksum: a damaged or cut chunk before IEND. On a
            # fresh handle: Pillow verifies only an image nothing was read from (reading a
            # palette, as the colour-mode check does, made it raise on a valid PNG).
            try:
                with Image.open(file) as fresh:
                    fresh.verify()
            except (SyntaxError, ValueError, EOFError, struct.error) as e:
                raise OSError(f"broken PNG data: {e}") from e
        if whole:
            return
    image.load()  # raises OSError ("image file is truncated") for a cut file


def check_image_args(image_size: Any, color_mode: Any, *, example: str) -> None:
    """Raises `DataError` unless `image_size` is `(height, width)` and `color_mode` is known."""
    if color_mode not in COLOR_MODES:
        raise DataError(f"Unknown color_mode {color_mode!r}; choose one of {list(COLOR_MODES)}.")
    if (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or not all(_is_int(s) and s > 0 for s in image_size)
    ):
        raise DataError(
            f"image_size must be two positive ints (height, width), got "
            f"{image_size!r}; e.g. image_size={example}."
        )


def inside(folder: Path, path: Path) -> bool:
    """Whether `path` is `folder` or inside it, symbolic links resolved (a run folder
    inside an image folder becomes a class of its plots)."""
    folder, path = folder.resolve(), path.resolve()
    return path == folder or folder in path.parents


def listing_changes(
    old: Sequence[Sequence[Any]], new: Sequence[Sequence[Any]], *, shown: int = 3
) -> str | None:
    """What changed between two `list_images` listings, in words; `None` when nothing did.

    E.g. `"2 images added (cat/9.png, dog/3.png), 1 modified (cat/1.png)"`:
    added, removed, and modified (another size or content digest), each
    naming its first `shown` files in sorted order.
    """
    before = {str(path): (int(size), str(digest)) for path, size, digest in old}
    after = {str(path): (int(size), str(digest)) for path, size, digest in new}
    kinds = [
        ("added", sorted(after.keys() - before.keys())),
        ("removed", sorted(before.keys() - after.keys())),
        ("modified", sorted(p for p in before.keys() & after.keys() if before[p] != after[p])),
    ]
    parts: list[str] = []
    for kind, paths in kinds:
        if not paths:
            continue
        named = _log.listed(paths, shown, more=True)
        noun = "" if parts else (" image" if len(paths) == 1 else " images")
        parts.append(f"{len(paths)}{noun} {kind} ({named})")
    return ", ".join(parts) or None
