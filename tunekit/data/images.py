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
from tunekit.data._folders import check_not_split_folders, split_files
from tunekit.data._image_kinds import IMAGE_SUFFIXES, image_kind, named_images, single_channel
from tunekit.data._label_text import check_label_texts
from tunekit.data.dataset import Dataset
from tunekit.errors import DataError

__all__ = ["load_image_directory", "listing_changes"]

# color_mode -> (Pillow mode, channels)
COLOR_MODES = {"rgb": ("RGB", 3), "grayscale": ("L", 1)}


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
    stratified `train_test_split`, seeded with `seed`; the same folder,
    fractions and seed give the same files in each split. A folder of split
    folders (`train/`, `val/`, `test/`, each holding class folders) is refused.

    Args:
        root: Dataset folder; class names are its sorted subfolder names.
        image_size: `(height, width)` images are resized to (Pillow, bilinear).
        validation_fraction: Fraction of each class for validation, in [0, 1).
        test_fraction: Fraction of each class for testing, in [0, 1).
        seed: Seed of the deterministic split. Defaults to 0, the command
            line's (its test images are this `x_test`).
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
        DataError (a `ValueError`): On a missing folder, fewer than 2 classes, an empty class, bad
            arguments, an unreadable image, an image of a format Keras cannot
            decode or outside the class folders, a folder of split folders
            (`train/<class>/...`), or a split that leaves a class empty.

    Example:
    >>> ds = load_image_directory("data/toonvision", image_size=(64, 64))
    """
    check_image_args(image_size, color_mode or "rgb", example="(64, 64)")
    _check_fractions(validation_fraction, test_fraction)
    folder = Path(root)
    listing = list_images(folder)
    color_mode = color_mode or _folder_mode(folder, listing)
    mode, channels = COLOR_MODES[color_mode]
    height, width = int(image_size[0]), int(image_size[1])
    shape = (height, width, channels)
    # Every image decoded first (an unreadable one is named before a split is refused).
    pixels = {
        path: _scale_pixels(_read_image(folder / path, mode, shape[:2]).reshape(shape))
        for path, _, _ in listing
    }
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


def _read_image(file: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            if image.mode in _WIDE_GRAY:  # Pillow's convert clips them at 255: all white
                image = Image.fromarray(_to_uint8(np.asarray(image)), "L")
            image = image.convert(mode).resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise unreadable_image(file, exc) from exc


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


def unreadable_image(file: Path, error: Exception) -> DataError:
    """The error for an image file Pillow cannot open: names the file and the fix."""
    return DataError(
        f"Could not read image {str(file)!r} ({error}). Replace it with a readable "
        f"{'/'.join(IMAGE_SUFFIXES)} image or remove it from the folder, then rerun."
    )


def unreadable_images(files: list[tuple[Path, Exception]]) -> DataError:
    """`unreadable_image` for one file; for several, every one named (up to 10) at once."""
    if len(files) == 1:
        return unreadable_image(*files[0])
    shown = _log.listed(files, 10, form=lambda f: f"{str(f[0])!r} ({f[1]})", sep="; ", more=True)
    return DataError(
        f"Could not read {len(files)} images: {shown}. Replace them with readable "
        f"{'/'.join(IMAGE_SUFFIXES)} images or remove them from the folder, then rerun."
    )


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


def _stat_error(file: Path, error: OSError) -> Exception:
    """`error`, or for a symbolic link whose target is missing, an error that says so."""
    if file.is_symlink():
        return OSError(f"a symbolic link to {os.readlink(file)!r}, which does not exist")
    return error


def list_images(folder: Path) -> list[tuple[str, int, int]]:
    """`(class/file relative path, size in bytes, mtime in ns)` of every image, sorted.

    Classes are the sorted subfolder names; a class's images are those in its
    folder and in the folders inside it, as Keras's `image_dataset_from_directory`
    lists them (hidden entries and files that are not images are ignored). Used
    by the in-memory loader and by `tunekit.image_streams`.

    Raises:
        DataError: The folder is missing, holds split folders of class folders
            (`train/<class>/...`: `check_not_split_folders`), class folders apart only by
            letter case or spaces (`Cat/`, `cat/`), has fewer than 2 class subfolders, a
            class without images, a subfolder that cannot be listed, an image
            whose size cannot be read (a broken symbolic link), images directly
            in the folder (in no class), or images of a format Keras cannot
            decode or under a name it does not list, naming each (up to 10): a
            suffix Pillow or `mimetypes` knows as an image's, or (any other
            suffix) a file whose header Pillow reads as an image; see
            `tunekit.data._image_kinds`.
    """
    if not folder.is_dir():
        raise DataError(
            f"Image folder not found: {str(folder)!r}. Expected a directory with "
            "one subfolder of images per class."
        )
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if broken := sorted(p.name for p in entries if p.is_symlink() and not p.exists()):
        raise DataError(
            f"Class folder(s) {broken} in {str(folder)!r} are symbolic links to folders that "
            "do not exist: their images would be left out. Fix or remove the links, then rerun."
        )
    classes = sorted(p.name for p in entries if p.is_dir())
    check_not_split_folders(folder, classes)  # train/<class>/..., before "2 classes"
    check_label_texts(  # `Cat/` and `cat/`, `cat /`: one class, two folders
        classes,
        f"the class folders of the image folder {str(folder)!r}",
        declared=True,
        fix="Move each class's images into one folder (one folder per class)",
    )
    loose = sorted(p.name for p in entries if not p.is_dir() and image_kind(p))
    if len(classes) < 2:
        raise DataError(
            f"Need at least 2 class subfolders in {str(folder)!r}, found "
            f"{len(classes)}: {classes}"
            + (f", and {len(loose)} image(s) in no class ({_named(loose)})" if loose else "")
            + ". Put each class in its own subfolder."
        )
    if loose:
        raise DataError(
            f"{len(loose)} image(s) directly in {str(folder)!r}, in no class subfolder, would be "
            f"left out of the data: {_named(loose)}. Move each into its class's subfolder (or "
            "out of the folder), then rerun."
        )
    listing = []
    unlisted: list[OSError] = []  # a subfolder os.walk cannot read: its images would be lost
    unreadable: list[tuple[Path, Exception]] = []
    other_format: list[str] = []  # images Keras cannot decode, which would be left out
    empty = []
    for name in classes:
        found = []
        # Subfolders of a class folder too, as Keras's image_dataset_from_directory lists them.
        for parent, folders, files in os.walk(folder / name, onerror=unlisted.append):
            folders[:] = sorted(f for f in folders if not f.startswith("."))
            inside = Path(parent).relative_to(folder).as_posix()
            if _holds_a_run(Path(parent), files):
                raise DataError(
                    f"{inside!r} in the image folder {str(folder)!r} holds a tunekit run, not "
                    f"images of class {name!r}: the run's plots would be read as images of that "
                    "class. Move the run's folder out of the image folder, and give the runs a "
                    "folder outside it (--directory, directory=), then rerun."
                )
            for file in files:
                kind = image_kind(Path(parent) / file)
                if kind == "other":
                    other_format.append(f"{inside}/{file}")
                elif kind == "keras":
                    try:
                        stat = os.stat(Path(parent) / file)
                    except OSError as e:  # all of them named at once, not one a run
                        unreadable.append(
                            (Path(parent) / file, _stat_error(Path(parent) / file, e))
                        )
                        continue
                    found.append((f"{inside}/{file}", stat.st_size, stat.st_mtime_ns))
        if not found:
            empty.append(name)
        listing += sorted(found)
    if unlisted:
        shown = _log.listed(
            unlisted, 10, form=lambda e: f"{e.filename!r} ({e.strerror})", sep="; ", more=True
        )
        raise DataError(
            f"Could not list {len(unlisted)} folder(s) in {str(folder)!r}: {shown}. Their "
            "images would be left out of the data: make them readable (or remove them), "
            "then rerun."
        )
    if unreadable:
        raise unreadable_images(unreadable)
    if other_format:
        raise DataError(
            f"{len(other_format)} image(s) in {str(folder)!r} are in a format Keras cannot "
            f"decode, or under a name it does not list ({'/'.join(IMAGE_SUFFIXES)}), and would "
            f"be left out of the data: {named_images(folder, sorted(other_format))}. Convert "
            "them to PNG or JPEG (an image editor's export, or Pillow's Image.save), give a "
            "PNG/JPEG/BMP/GIF image its own suffix, or remove them from the folder (move them "
            "out), then rerun."
        )
    if empty:
        raise DataError(
            f"Class folder {empty[0]!r} in {str(folder)!r} has no images "
            f"({'/'.join(IMAGE_SUFFIXES)}); add images or remove the folder."
        )
    return listing


def _named(names: Sequence[str], shown: int = 10) -> str:
    """`names` for a message: the first `shown`, then how many more."""
    return _log.listed(names, shown, form=repr, more=True)


def inside(folder: Path, path: Path) -> bool:
    """Whether `path` is `folder` or inside it, symbolic links resolved (a run folder
    inside an image folder becomes a class of its plots)."""
    folder, path = folder.resolve(), path.resolve()
    return path == folder or folder in path.parents


def _holds_a_run(parent: Path, files: Sequence[str]) -> bool:
    """Whether `parent` is a tunekit run's folder: a `manifest.json` of tunekit's keys."""
    import json

    if "manifest.json" not in files:
        return False
    try:
        state = json.loads((parent / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and {"config", "fingerprint", "steps"} <= set(state)


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
