"""An image folder whose splits share images: byte-identical files of one class in two splits.

tunekit splits a folder's files at random (stratified per class), so copies of
one image (a scrape that saved it twice, `img.png` and `img (1).png`) land in
several splits, and the test score measures memory of them. Every file's
BLAKE2b digest is read when the folder is listed (its fingerprint), so the
copies cost nothing to find: each file's sample is its digest with its class,
and `check_folder_overlap` asks the rule arrays and streams follow
(`tunekit.data._leak_rule.find_leaks`): the same verdict as
`load_image_directory`'s `Dataset` of the same folder gets for byte copies.
Whether a feature is continuous (which decides how many equal images occur by
nature) is read, only when it decides, from the first 2,000 training images
decoded as `load_image_directory` decodes them (Pillow, scaled to [0, 1]).
A copy saved again (other bytes, the same pixels) is found by the images' decoded pixels
when the bytes show no leak, in folders of up to `PIXEL_FILES` files (as
`load_image_directory`, which compares pixels, finds it); larger folders are compared by
their bytes only.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import numpy as np

from tunekit.data._leak_rule import (
    CONTINUITY_SAMPLES,
    REFERENCE,
    SPLIT_NAMES,
    continuous_of,
    feature_sample,
    find_leaks,
    leak_sentence,
)
from tunekit.data._notes import warn_data
from tunekit.data._row_hashes import row_hashes
from tunekit.errors import DataError

__all__ = ["check_folder_overlap"]

# Folders of up to this many files are also compared by their decoded pixels (one pass of
# decoding: 1.3 s for 10,000 of MNIST's 28x28 PNGs here); larger ones by their bytes only.
PIXEL_FILES = 50_000
# Streams already checked (the command line checks once when listing, once when wrapping).
_CHECKED: weakref.WeakSet[Any] = weakref.WeakSet()


def check_folder_overlap(stream: Any) -> None:
    """Refuses an image folder's split (a `tunekit.image_streams.ImageFolderStream`:
    `root`, `files`, `labels`, `listing`, `input_shape`) whose validation (test) images
    are copies, in the same class, of training (training and validation) images beyond
    what occurs by nature (`find_leaks`): byte-identical files, then (when those show no
    leak, in a folder of up to `PIXEL_FILES` files) images of the same decoded pixels.

    Raises:
        DataError: Naming each leaked split, its share, a copy and what it copies, and the
            fix (keep one file of each).
    """
    if stream in _CHECKED:
        return
    digest = {path: content for path, _, content in stream.listing}
    keys = {
        split: np.asarray([digest[path] for path in stream.files[split]], dtype=object)
        for split in SPLIT_NAMES
    }
    hashes = {
        split: row_hashes(keys[split], np.asarray(stream.labels[split], np.int64))
        for split in SPLIT_NAMES
    }
    equal = "byte-identical files of one class"
    leaks = find_leaks(hashes, lambda: _continuous(stream))
    if not leaks and sum(map(len, stream.files.values())) <= PIXEL_FILES:
        pixels = _pixel_keys(stream)  # a copy saved again: other bytes, the same pixels
        if pixels is not None:
            labels = {s: np.asarray(stream.labels[s], np.int64) for s in keys}
            hashes = {s: row_hashes(pixels[s], labels[s]) for s in keys}
            leaks = find_leaks(hashes, lambda: _continuous(stream))
            equal = "images of one class with the same pixels as the model reads them"
    where = {"val": "training images", "test": "training and validation images"}
    said = [
        leak_sentence(
            leak,
            samples="images",
            unit="split",
            where=where[leak.split],
            equal=f"{equal}, e.g. {_example(stream, hashes, leak)}",
        )
        for leak in leaks
    ]
    if said:
        raise DataError(
            f"The image folder {str(stream.root)!r}: {' '.join(said)} tunekit splits a "
            "folder's files at random, so copies of one image land in several splits. Keep "
            "one file of each image (delete the copies) and rerun."
        )
    _warn_other_classes(stream, keys)
    _CHECKED.add(stream)


def _warn_other_classes(stream: Any, keys: dict[str, np.ndarray]) -> None:
    """Warns (a `DataWarning`) of byte-identical files in two or more classes (probe B:
    60 images in both `digit0/` and `digit1/` passed without a word): one image with two
    labels, which no model can get right in both, and a test image whose twin trained
    under the other class."""
    classes: dict[Any, set[int]] = {}
    files: dict[Any, list[str]] = {}
    for split in SPLIT_NAMES:
        for key, label, path in zip(keys[split], stream.labels[split], stream.files[split]):
            classes.setdefault(key, set()).add(int(label))
            files.setdefault(key, []).append(str(path))
    shared = [key for key, labels in classes.items() if len(labels) > 1]
    if shared:
        example = " and ".join(sorted(files[shared[0]])[:2])
        warn_data(
            f"The image folder {str(stream.root)!r} holds {len(shared)} image(s) as "
            f"byte-identical files in two or more classes (e.g. {example}): one image with "
            "two labels, which no model can get right in both, and which the test split may "
            "hold under one class while training holds it under the other. Keep each image "
            "in its one class (delete the other files) and rerun."
        )


def _pixel_keys(stream: Any) -> dict[str, np.ndarray] | None:
    """Each split's images as digests of their pixels, decoded and resized as
    `load_image_directory` reads them (`_read_image`): equal for a copy saved again at
    another compression (probe B: 106 of 120 test images were such twins, exit 0 with a
    test accuracy of 0.95 where the others scored 0.57). `None` when an image cannot be
    decoded: the decoding check names every such file later (`image_streams`)."""
    import hashlib

    from tunekit.data.images import _read_image

    height, width, channels = stream.input_shape
    mode, root = ("L" if channels == 1 else "RGB"), Path(stream.root)
    keys = {}
    try:
        for split in SPLIT_NAMES:
            pixels = (
                _read_image(root / path, mode, (height, width)) for path in stream.files[split]
            )
            digests = [hashlib.blake2b(p.tobytes(), digest_size=16).hexdigest() for p in pixels]
            keys[split] = np.asarray(digests, dtype=object)
    except DataError:
        return None
    return keys


def _example(stream: Any, hashes: dict[str, np.ndarray], leak: Any) -> str:
    """One file of the leaked split and the earlier file it copies, as `a (split) and b
    (split)`."""
    first: dict[int, str] = {}
    for split in REFERENCE[leak.split]:  # training first: the file named is a training one
        for value, path in zip(hashes[split].tolist(), stream.files[split], strict=True):
            first.setdefault(value, f"{path} ({SPLIT_NAMES[split]})")
    for value, path in zip(hashes[leak.split].tolist(), stream.files[leak.split], strict=True):
        if value in first:
            return f"{path} ({SPLIT_NAMES[leak.split]}) and {first[value]}"
    return "?"  # not reached: a leak holds copies


def _continuous(stream: Any) -> bool:
    """`continuous_of` the first 2,000 training images, decoded as `load_image_directory`
    decodes them (Pillow, resized bilinear, uint8 / 255), only a `feature_sample` of each
    kept."""
    from tunekit.data._checks import _scale_pixels
    from tunekit.data.images import _read_image

    height, width, channels = stream.input_shape
    mode = "L" if channels == 1 else "RGB"
    parts = []
    for path in stream.files["train"][:CONTINUITY_SAMPLES]:
        pixels = _read_image(Path(stream.root) / path, mode, (height, width))
        parts.append(feature_sample(_scale_pixels(pixels.reshape(1, height, width, channels))))
    return continuous_of([np.concatenate(p) for p in zip(*parts, strict=True)] if parts else [])
