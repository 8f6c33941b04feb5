"""Which files in an image folder are images: by their suffix, else by their first bytes.

Keras's `image_dataset_from_directory` lists `.png/.jpg/.jpeg/.bmp/.gif` files
only; an image of any other name was left out of the data without a word. The
other images are found with the libraries, not a list of our own: every suffix
Pillow registers for a format it opens (`.dib`, `.apng`, `.sgi`, `.qoi`,
`.eps`, `.tif`...), every suffix Python's `mimetypes` calls an image
(`.svg`, `.heic`...), and `OTHER_IMAGE_SUFFIXES` (formats neither knows, such
as camera raw files). A file of any other suffix is an image when Pillow
recognises its first bytes (a PNG saved as `scan` or `a.png.bak`), unless
`mimetypes` knows the suffix as another kind of file (`.txt`, `.csv`,
`.json`, `.xml`, `.pdf`, `.mp4`), whose files are not opened: a folder of
images with an annotation beside each is listed without reading the
annotations.

A BMP saved as `.dib` or a PNG as `.apng` is refused too, though
TensorFlow's decoder reads it: Keras's lister leaves it out, so the same
folder would give other data there; the message says to give it its suffix.
"""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunekit import _log

__all__ = [
    "IMAGE_SUFFIXES",
    "OTHER_IMAGE_SUFFIXES",
    "image_kind",
    "named_images",
    "single_channel",
]

# The formats Keras's image_dataset_from_directory lists.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# Images neither Pillow nor mimetypes names (Pillow's and mimetypes' suffixes are added).
OTHER_IMAGE_SUFFIXES = (
    *(".tif", ".tiff", ".webp", ".heic", ".heif", ".avif", ".jfif", ".jpe", ".jxl"),
    *(".jp2", ".j2k", ".jpf", ".jpx", ".ppm", ".pgm", ".pbm", ".pnm", ".pfm", ".ico"),
    *(".icns", ".cur", ".svg", ".svgz", ".tga", ".dds", ".pcx", ".psd", ".xbm", ".xpm"),
    *(".exr", ".hdr", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf"),
)
# The signatures of Keras's formats long enough to name a file an image though Pillow cannot
# read it (BMP's "BM" is not: a text file may start with it).
_SIGNATURES = {"PNG": b"\x89PNG\r\n\x1a\n", "JPEG": b"\xff\xd8\xff", "GIF": b"GIF8"}
# Pillow's names of the formats Keras reads: such a file under another name needs a rename.
_KERAS_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "DIB": ".bmp", "GIF": ".gif"}


@functools.cache
def _pillow() -> tuple[frozenset[str], tuple[str, ...]]:
    """The suffixes of the formats Pillow opens (stubs such as HDF5 left out), and those
    formats that Pillow recognises by a signature in the first bytes."""
    from PIL import Image, ImageFile

    Image.init()
    stub = ImageFile.StubImageFile  # JPEG's opener is a function, not a class
    opened = {
        f for f, (k, _) in Image.OPEN.items() if not isinstance(k, type) or stub not in k.mro()
    }
    suffixes = {s.lower() for s, f in Image.registered_extensions().items() if f in opened}
    signed = tuple(f for f in Image.OPEN if f in opened and Image.OPEN[f][1] is not None)
    return frozenset(suffixes), signed


@functools.cache
def _mimetypes() -> mimetypes.MimeTypes:
    return mimetypes.MimeTypes()  # Python's own table, the same on every machine


def image_kind(path: Path) -> str | None:
    """`"keras"` for an image Keras lists, `"other"` for an image it leaves out, else None.

    Hidden files are None. A file whose suffix is no image's is opened only
    when `mimetypes` does not know the suffix, and then only its first 16 bytes
    are read (and its header, when they are an image format's signature).
    """
    name = path.name
    if name.startswith("."):
        return None
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "keras"
    if suffix in OTHER_IMAGE_SUFFIXES or suffix in _pillow()[0]:
        return "other"
    kind, encoding = _mimetypes().guess_type(name, strict=False)
    if kind is not None and encoding is None:
        if kind.startswith("image/"):
            return "other"
        return None  # a text, JSON, PDF, video... file: not opened
    return "other" if sniffed_format(path) else None


def sniffed_format(path: Path) -> str | None:
    """Pillow's name of the format of the image in `path` (from its header), or None.

    Reads the first 16 bytes and asks each format's signature check (Pillow's own
    `Image.open` does the same); the file is opened as an image only when one matches.
    """
    import warnings

    from PIL import Image

    formats = _pillow()[1]
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(16)
    except OSError:
        return None
    if not any(_accepts(f, prefix) for f in formats):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path, formats=formats) as image:
                return str(image.format)
    except Image.DecompressionBombError:
        return "an image"
    except Exception:  # noqa: BLE001 - any file Pillow cannot recognise is no image...
        # ...unless it starts with a long signature of a format Keras reads (a damaged PNG)
        return next((f for f, mark in _SIGNATURES.items() if prefix.startswith(mark)), None)


def _accepts(fmt: str, prefix: bytes) -> bool:
    """Whether Pillow's signature check of `fmt` takes `prefix` (some raise on a short one)."""
    import struct

    from PIL import Image

    try:
        return bool(Image.OPEN[fmt][1](prefix))  # type: ignore[misc]
    except (SyntaxError, IndexError, TypeError, ValueError, struct.error):
        return False


def named_images(folder: Path, names: Sequence[str], shown: int = 10) -> str:
    """`names` (relative to `folder`) for a message, the first `shown`, then how many more;
    a PNG, JPEG, BMP or GIF under another name is said with the suffix it needs."""

    def said(name: str) -> str:
        fmt = sniffed_format(folder / name)
        rename = _KERAS_FORMATS.get(fmt or "")
        return f"{name!r} (a {fmt}: name it {rename})" if rename else repr(name)

    return _log.listed(names, shown, form=said, more=True)


# Pillow modes of one channel (with or without alpha).
_GRAYSCALE_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def single_channel(image: Any) -> bool:
    """Whether a Pillow image holds one channel: a single-channel mode, or a palette of grays.

    A grayscale GIF (and some PNGs) is stored as a palette (mode `P`) whose
    colours are all gray: it holds no colour. The palette is in the header.
    """
    if image.mode in _GRAYSCALE_MODES:
        return True
    if image.mode != "P":
        return False
    palette = image.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3))
