"""Image folders streamed from disk: stratified file lists and batched `tf.data` pipelines.

Over 400 lines because it is one pipeline (list, split, decode, cache,
define for other processes) whose parts share one config and its checks.

`load_image_directory` decodes a whole folder into one float32 array, which
for ToonVision-size images (600x200x3) costs 1.4 MB per image. An
`ImageFolderStream` keeps only the file lists in memory: each split is a
`tf.data` pipeline that reads, decodes (uint8), resizes and batches images on
the fly, and caches the decoded uint8 images in memory only when they fit a
stated budget (`cache="auto"`). `tf.data` feeds Keras models on the TensorFlow
and the JAX backend alike.

- Splits are stratified per class (scikit-learn's `train_test_split` with
  `stratify`; per class when that would leave a small class out of a split),
  seeded, and made on FILE lists: `stream.files["train"]`; one
  function (`tunekit.data._folders.split_files`) splits a folder for
  `load_image_directory` too, so both give the same files in each split.
- The retrain's train+validation stream is the `concatenate` of the two
  streams (`stream.dataset("train", "val")`), never materialised.
- Scaling follows tunekit's rule (see `tunekit.data`): uint8 pixels are
  divided by 255 to float32 in [0, 1] (`scaling` is `SCALED_UINT8`), unless
  `scale=False` (batches stay uint8, for a model with its own
  `Rescaling(1/255)`; `scaling` is `UNSCALED`).
- `stream.fingerprint` digests what defines the stream: the relative paths,
  sizes and contents (a BLAKE2 digest of each file's bytes, read once when the
  stream is made) of its files, the image size, colour mode, fractions and
  seed. A resumed run compares it: any edit is detected, while a copy, a
  `touch` or a checkout that leaves the bytes alone is the same data.
- `stream.to_config()` is a JSON-able definition; `ImageFolderStream.from_config`
  rebuilds the same stream in another process (a worker) and refuses it if
  the files on that machine differ.
"""

from __future__ import annotations

import hashlib
import json
import logging
import numbers
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data import SCALED_UINT8, UNSCALED, StreamData
from tunekit.data._folder_check import FolderCheck, unreadable_images
from tunekit.data._folders import split_files
from tunekit.data._image_kinds import single_channel as is_single_channel
from tunekit.data.images import COLOR_MODES, check_image_args, check_whole
from tunekit.errors import DataError

__all__ = [
    "DEFAULT_CACHE_BUDGET",
    "ImageFolderStream",
    "folder_format",
    "image_folder_data",
    "image_folder_stream",
]

SPLITS = ("train", "val", "test")
DEFAULT_CACHE_BUDGET = 256 * 2**20  # bytes of decoded uint8 images kept in memory
_CHANNELS = {mode: channels for mode, (_, channels) in COLOR_MODES.items()}
_FORMAT = 1


class ImageFolderStream:
    """One image folder as batched `tf.data` streams per split (see the module docstring).

    Build it with `image_folder_stream(...)` or `ImageFolderStream.from_config`.

    Attributes:
        root: The folder (absolute path).
        class_names: Sorted class subfolder names; label `i` is `class_names[i]`.
        files: `{"train" | "val" | "test": [relative path, ...]}`.
        labels: `{split: int64 array}` aligned with `files`.
        input_shape: `(height, width, channels)` of one image.
        num_classes: Number of classes.
        task: Always `"classification"` (one class per subfolder).
        scaling: `SCALED_UINT8` or `UNSCALED`, as `tunekit.data.Dataset.scaling`.
        fingerprint: Digest of the stream's definition (16 hex digits).
        listing: `[(relative path, bytes, content digest), ...]` of every image, sorted.
    """

    def __init__(self, config: dict[str, Any], listing: list[tuple[str, int, str]]) -> None:
        self._config = config
        self.root = Path(config["root"])
        self.listing = [(str(p), int(s), str(d)) for p, s, d in listing]
        # One split for every loader of a folder (load_image_directory's too).
        self.class_names, self.files, self.labels = split_files(
            [path for path, _, _ in listing],
            config["validation_fraction"],
            config["test_fraction"],
            config["seed"],
        )
        height, width = config["image_size"]
        self.input_shape = (height, width, _CHANNELS[config["color_mode"]])
        self.num_classes = len(self.class_names)
        self.task = "classification"  # one class per subfolder
        self.scaling = SCALED_UINT8 if config["scale"] else UNSCALED
        self.batch_size = int(config["batch_size"])
        self.fingerprint = _digest(
            {
                k: v
                for k, v in config.items()
                if k not in ("root", "batch_size", "cache", "cache_budget", "shuffle_seed")
            },
            listing,
        )
        self._decoded: dict[str, Any] = {}

    # --- what it costs ------------------------------------------------------------------
    def decoded_bytes(self, *splits: str) -> int:
        """Bytes the decoded uint8 images of `splits` (default: all) take in memory."""
        per_image = int(np.prod(self.input_shape))
        return per_image * sum(len(self.files[s]) for s in (splits or SPLITS))

    @property
    def cached(self) -> bool:
        """Whether decoded images are kept in memory after the first pass (see `cache`)."""
        cache, budget = self._config["cache"], self._config["cache_budget"]
        if cache == "auto":
            return self.decoded_bytes() <= budget
        return bool(cache)

    # --- the streams --------------------------------------------------------------------
    def dataset(self, *splits: str, shuffle: bool | None = None) -> Any:
        """A batched `tf.data.Dataset` of `(images, labels)` over the given splits, in order.

        Args:
            *splits: One or more of `"train"`, `"val"`, `"test"`. Several are
                concatenated (`tf.data.Dataset.concatenate`): `dataset("train",
                "val")` is the retrain's stream.
            shuffle: Whether to reshuffle every epoch (seeded). Defaults to
                `True` when `"train"` is among `splits`.

        Returns:
            A `tf.data.Dataset` yielding `(images, labels)`: images of shape
            `(batch, *input_shape)`, float32 in [0, 1] (uint8 with
            `scale=False`), labels int64 of shape `(batch,)`; the last batch
            may be smaller. Its cardinality is known (`len()` works).

        Raises:
            DataError: On an unknown split name.
        """
        import tensorflow as tf

        unknown = [s for s in splits if s not in SPLITS]
        if not splits or unknown:
            raise DataError(
                f"dataset() takes split names among {list(SPLITS)}, got "
                f"{list(splits)}; e.g. stream.dataset('train', 'val')."
            )
        if shuffle is None:
            shuffle = "train" in splits
        seed = int(self._config.get("shuffle_seed", self._config["seed"]))
        total = sum(len(self.files[s]) for s in splits)
        if self.cached:
            ds = self._cached(splits[0])
            for split in splits[1:]:
                ds = ds.concatenate(self._cached(split))
            if shuffle:  # the cache holds the decoded tensors; the buffer shares them
                ds = ds.shuffle(max(total, 1), seed=seed, reshuffle_each_iteration=True)
        else:
            ds = self._files(splits[0])
            for split in splits[1:]:
                ds = ds.concatenate(self._files(split))
            if shuffle:  # shuffling file names costs nothing; images are decoded after
                ds = ds.shuffle(max(total, 1), seed=seed, reshuffle_each_iteration=True)
            ds = ds.map(self._decode, num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.batch(self.batch_size)
        if self._config["scale"]:
            ds = ds.map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y))
        return ds.prefetch(tf.data.AUTOTUNE)

    def _files(self, split: str) -> Any:
        import tensorflow as tf

        paths = [str(self.root / p) for p in self.files[split]]
        return tf.data.Dataset.from_tensor_slices(
            (tf.constant(paths, dtype=tf.string), tf.constant(self.labels[split], tf.int64))
        )

    def check_decodable(self) -> None:
        """Decodes every image once, with the pipeline's own decoder, before any training.

        Pillow reads each header (and checks each file's end) while the folder
        is listed, but TensorFlow's decoder, which the pipeline uses, refuses
        some files Pillow reads: a PNG without its `IEND` chunk, TIFF data
        under a `.png` name, a 1-bit BMP, data damaged behind intact
        checksums. Such a file stopped the first trial, or the test evaluation
        after the whole search, with a traceback naming no file. When the
        decoded images are cached (`cached`), this pass fills the cache the
        first epoch would fill; otherwise it costs one pass of decoding (on
        2 cores about 2 ms a 500x375 PNG, 0.6 ms a JPEG).

        Raises:
            DataError: Naming every file TensorFlow cannot decode, and why.
        """
        import tensorflow as tf

        try:
            for split in SPLITS:
                decoded = (
                    self._cached(split)
                    if self.cached
                    else self._files(split).map(self._decode, num_parallel_calls=tf.data.AUTOTUNE)
                )
                decoded.reduce(np.int64(0), lambda count, _: count + 1)
            return
        except tf.errors.OpError:
            self._decoded.clear()  # a cache left half full is not used again
        failed: list[tuple[Path, Exception]] = []
        for path, _, _ in self.listing:
            try:
                self._decode(tf.constant(str(self.root / path)), tf.constant(0, tf.int64))
            except tf.errors.OpError as e:
                failed.append((self.root / path, ValueError(_decoder_error(e))))
        if failed:
            raise unreadable_images(failed)

    def _cached(self, split: str) -> Any:
        """The split's decoded images, cached in memory on the first pass (one cache per split)."""
        import tensorflow as tf

        if split not in self._decoded:
            self._decoded[split] = (
                self._files(split).map(self._decode, num_parallel_calls=tf.data.AUTOTUNE).cache()
            )
        return self._decoded[split]

    def _decode(self, path: Any, label: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        height, width, channels = self.input_shape
        contents = tf.io.read_file(path)
        if channels == 1:  # TF decodes a GIF or a BMP in 3 channels only (gray palettes)
            image = tf.cond(
                (tf.strings.substr(contents, 0, 3) == "GIF")
                | (tf.strings.substr(contents, 0, 2) == "BM"),
                lambda: _gray(tf.io.decode_image(contents, channels=3, expand_animations=False)),
                lambda: tf.io.decode_image(contents, channels=1, expand_animations=False),
            )
        else:
            image = tf.io.decode_image(contents, channels=channels, expand_animations=False)
        if image.dtype != tf.uint8:  # a 16-bit PNG
            image = tf.image.convert_image_dtype(image, tf.uint8, saturate=True)
        size = tf.shape(image)[:2]
        image = tf.cond(
            tf.reduce_all(size == (height, width)),
            lambda: image,
            lambda: tf.cast(
                tf.clip_by_value(
                    tf.round(
                        tf.image.resize(image, (height, width), method="bilinear", antialias=True)
                    ),
                    0,
                    255,
                ),
                tf.uint8,
            ),
        )
        image.set_shape(self.input_shape)
        return image, label

    # --- definition for other processes ---------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """The stream's definition (JSON-able), with its fingerprint, for `from_config`."""
        return {**self._config, "format": _FORMAT, "fingerprint": self.fingerprint}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ImageFolderStream:
        """Rebuilds a stream from `to_config()` (in a worker), checking its files are the same.

        Raises:
            DataError: If the folder's files here differ (added, removed,
                resized or modified files) from those that defined the stream.
        """
        fields = {k: v for k, v in config.items() if k not in ("format", "fingerprint")}
        fields["image_size"] = tuple(fields["image_size"])
        root = fields.pop("root")
        stream = image_folder_stream(root, **fields)
        expected = config.get("fingerprint")
        if expected is not None and stream.fingerprint != expected:
            raise DataError(
                f"The image folder {root!r} here differs from the one that defined the stream "
                f"(fingerprint {stream.fingerprint}, expected {expected}): a file was added, "
                "removed or changed. Give every process the same copy of the folder."
            )
        return stream

    def __repr__(self) -> str:
        counts = ", ".join(f"{s} {len(self.files[s])}" for s in SPLITS)
        return (
            f"ImageFolderStream({str(self.root)!r}, {counts}, input_shape={self.input_shape},"
            f" cached={self.cached})"
        )


def image_folder_stream(
    root: str | os.PathLike[str],
    image_size: tuple[int, int] | None = None,
    *,
    batch_size: int = 32,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    shuffle_seed: int | None = None,
    color_mode: str | None = None,
    scale: bool = True,
    cache: bool | str = "auto",
    cache_budget: int = DEFAULT_CACHE_BUDGET,
) -> ImageFolderStream:
    """Streams a folder with one subfolder of images per class from disk.

    Files are listed and read once here, for the fingerprint (their sizes and
    a digest of their bytes); no image is decoded until a dataset is iterated.

    Args:
        root: Dataset folder; class names are its sorted subfolder names.
            Images are `*.png|*.jpg|*.jpeg|*.bmp|*.gif` (any case), in the
            class folders and the folders inside them; hidden entries are
            ignored.
        image_size: `(height, width)` images are resized to (bilinear,
            antialiased; images already that size are used as they are).
            Defaults to `None`: the folder's own, its most common size (see
            `folder_format`), as on the command line.
        batch_size: Batch size of every split's dataset. Defaults to 32.
        validation_fraction: Fraction of each class for validation, in
            [0, 1). Defaults to 0.15.
        test_fraction: Fraction of each class for testing, in [0, 1).
            Defaults to 0.15.
        seed: Seed of the stratified split (and of the shuffling, unless
            `shuffle_seed` is given). Defaults to 0, the command line's split
            whatever its `--seed`: one test set for every run on the folder.
        shuffle_seed: Seed of the training batches' shuffling. Defaults to
            `None`: `seed`. The command line passes its `--seed`.
        color_mode: `"rgb"` (3 channels) or `"grayscale"` (1). Defaults to
            `None`: the folder's own, `"grayscale"` when every image is
            single-channel, else `"rgb"` (see `folder_format`), as on the
            command line.
        scale: Whether batches are float32 in [0, 1] (uint8 / 255, tunekit's
            rule) rather than uint8. Defaults to `True`.
        cache: `"auto"` keeps the decoded uint8 images in memory after the
            first epoch when all splits together fit `cache_budget` bytes;
            `True` always, `False` never (every epoch decodes from disk).
            Defaults to `"auto"`.
        cache_budget: Bytes of decoded images `cache="auto"` may keep.
            Defaults to 256 MiB.

    Returns:
        An `ImageFolderStream`.

    Raises:
        DataError (a `ValueError`): On bad arguments or a missing folder;
            else naming every problem of the folder at once:
            fewer than 2 classes, empty classes, unreadable images, images of
            another format or in no class, split folders, classes with
            fewer images than one per split (3; 2 with a fraction of 0)...

    Example:
    >>> stream = image_folder_stream("data/toonvision", (600, 200), batch_size=16)
    >>> model.fit(stream.dataset("train"), validation_data=stream.dataset("val"))
    """
    if not _is_int(batch_size) or batch_size < 1:
        raise DataError(f"batch_size must be a positive int, got {batch_size!r}.")
    if cache not in ("auto", True, False):
        raise DataError(f"cache must be 'auto', True or False, got {cache!r}.")
    if not _is_int(cache_budget) or cache_budget < 0:
        raise DataError(f"cache_budget must be a number of bytes >= 0, got {cache_budget!r}.")
    for name, value in (
        ("validation_fraction", validation_fraction),
        ("test_fraction", test_fraction),
    ):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value < 1:
            raise DataError(f"{name} must be a number in [0, 1), got {value!r}.")
    if validation_fraction + test_fraction >= 1:
        raise DataError(
            "validation_fraction + test_fraction must be < 1 to leave training data,"
            f" got {validation_fraction} + {test_fraction}."
        )
    folder = Path(root).resolve()
    # Every problem of the folder named at once: its layout and names, every image's header
    # (a file Pillow cannot open is refused now, not by the first trial's decoding), every
    # file's bytes (the fingerprint's), and the split.
    check = FolderCheck(folder)
    headers = _headers(check)
    listing = _content_listing(check)
    check.check_split(validation_fraction, test_fraction)
    check.raise_problems()
    # The folder's own size and mode unless given, as the command line's.
    native_size, native_mode = _native_format(folder, headers)
    _FORMATS[(str(folder), _digest({}, listing))] = (native_size, native_mode)
    image_size = native_size if image_size is None else image_size
    color_mode = native_mode if color_mode is None else color_mode
    check_image_args(image_size, color_mode, example="(600, 200)")
    config = {
        "root": str(folder),
        "image_size": [int(image_size[0]), int(image_size[1])],
        "batch_size": int(batch_size),
        "validation_fraction": float(validation_fraction),
        "test_fraction": float(test_fraction),
        "seed": int(seed),
        "shuffle_seed": int(seed if shuffle_seed is None else shuffle_seed),
        "color_mode": color_mode,
        "scale": bool(scale),
        "cache": cache,
        "cache_budget": int(cache_budget),
    }
    return ImageFolderStream(config, listing)


def _content_listing(check: FolderCheck) -> list[tuple[str, int, str]]:
    """`(relative path, bytes, BLAKE2b digest of the bytes)` of every image, sorted.

    Contents, not modification times: a copied, touched or checked-out folder
    with the same bytes is the same data, and any edit is another. A file
    whose bytes cannot be read is recorded in `check`.
    """
    folder = check.folder
    listing = []
    for path, size, _ in check.listing:
        digest = hashlib.blake2b(digest_size=16)
        try:
            with open(folder / path, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
        except OSError as e:
            check.unreadable(folder / path, e)
            continue
        listing.append((path, size, digest.hexdigest()))
    return listing


def image_folder_data(config: dict[str, Any]) -> StreamData:
    """The `StreamData` of a stream's `to_config()`: what a worker calls to rebuild it.

    Raises:
        DataError: The folder's files differ from those of `config`'s fingerprint.
    """
    # The chief decoded every file before training; the fingerprint says these are the same.
    return StreamData.from_image_folder(ImageFolderStream.from_config(config), check_files=False)


_logger = logging.getLogger(__name__)


def _decoder_error(error: Any) -> str:
    """TensorFlow's message for a file it cannot decode, without its op and graph names."""
    message = re.sub(r"\{\{[^}]*\}\}\s*", "", str(getattr(error, "message", error)))
    message = re.sub(r"\s*\[Op:[^\]]*\].*$", "", message.strip().splitlines()[0])
    return f"TensorFlow's decoder: {message.strip() or type(error).__name__}"


def _gray(rgb: Any) -> Any:
    """`(h, w, 3)` uint8 RGB to `(h, w, 1)` uint8 luma, rounded (a gray pixel keeps its value).

    The weights are ITU-R BT.601's, as `tf.image.rgb_to_grayscale`'s.
    """
    import tensorflow as tf

    luma = tf.tensordot(tf.cast(rgb, tf.float32), tf.constant([0.2989, 0.587, 0.114]), 1)
    return tf.cast(tf.clip_by_value(tf.round(luma), 0, 255), tf.uint8)[..., None]


def folder_format(
    root: str | os.PathLike[str], listing: list[tuple[str, int, str]] | None = None
) -> tuple[tuple[int, int], str]:
    """The folder's native `(height, width)` and colour mode, from its images' headers.

    The size is the most common one among the images (others are resized to
    it); the colour mode is `"grayscale"` when every image is single-channel
    (Pillow modes L, 1, I, F...), else `"rgb"`. Only headers are read.

    Args:
        root: The folder, one subfolder per class.
        listing: The `listing` of an `ImageFolderStream` made from `root` in
            this process (the files whose bytes it read): the format found
            then, with no header read again. Defaults to `None` (read them).

    Raises:
        DataError: As `image_folder_stream` for a missing folder or class, or
            images Pillow cannot open (naming each file), every problem of the
            folder named at once.
    """
    folder = Path(root).resolve()
    if listing is not None and (str(folder), _digest({}, listing)) in _FORMATS:
        return _FORMATS[(str(folder), _digest({}, listing))]
    check = FolderCheck(folder)
    headers = _headers(check)
    check.raise_problems()
    return _native_format(folder, headers)


# The native format of each stream's files made in this process: `{(folder, digest): format}`.
_FORMATS: dict[tuple[str, str], tuple[tuple[int, int], str]] = {}


def _headers(check: FolderCheck) -> tuple[Counter[tuple[int, int]], int, int, int]:
    """`(image sizes, single-channel images, images with alpha, images)` from the headers
    of `check.listing`; an image Pillow cannot open (or whose file was cut) is recorded
    in `check`, all of them rather than the first."""
    from PIL import Image, UnidentifiedImageError

    sizes: Counter[tuple[int, int]] = Counter()
    single_channel = with_alpha = 0
    for path, _, _ in check.listing:
        file = check.folder / path
        try:
            with Image.open(file) as image:
                width, height = image.size
                gray = is_single_channel(image)
                alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
                    "transparency" in image.info
                )
                check_whole(image, file)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as e:
            check.unreadable(file, e)
            continue
        sizes[(height, width)] += 1
        single_channel += gray
        with_alpha += alpha
    return sizes, single_channel, with_alpha, len(check.listing)


def _native_format(
    folder: Path, headers: tuple[Counter[tuple[int, int]], int, int, int]
) -> tuple[tuple[int, int], str]:
    """The most common size and the colour mode of readable `headers` (`_headers`); logs
    how a mixed folder is changed on load."""
    sizes, single_channel, with_alpha, images = headers
    grayscale = single_channel == images
    # Nothing is refused, but a mixed folder is changed on load: say how, once.
    if len(sizes) > 1:
        shown = _log.listed(
            sizes.most_common(), 4, form=lambda s: f"{s[0][0]}x{s[0][1]}: {s[1]}", more=True
        )
        _logger.info(
            "[data] %s holds images of %d sizes (%s); each is resized (bilinear) to the "
            "run's image size.",
            folder.name,
            len(sizes),
            shown,
        )
    if 0 < single_channel < images:
        _logger.info(
            "[data] %s mixes %d single-channel and %d colour images; the single-channel ones "
            "are converted to 3-channel RGB.",
            folder.name,
            single_channel,
            images - single_channel,
        )
    if with_alpha:
        _logger.info(
            "[data] %s has %d image(s) with an alpha (transparency) channel; it is dropped: "
            "each pixel keeps its colour channels, however transparent it was.",
            folder.name,
            with_alpha,
        )
    return sizes.most_common(1)[0][0], "grayscale" if grayscale else "rgb"


def _digest(definition: dict[str, Any], listing: list[tuple[str, int, str]]) -> str:
    text = json.dumps({"definition": definition, "files": listing}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
