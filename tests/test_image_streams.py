"""Image folders streamed from disk (issue 16, item 4): `tunekit.image_streams`.

Uses conftest's `image_folder`: 3 classes x 14 PNGs of 24x16 (h x w) RGB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import IMAGE_FOLDER_CLASSES, IMAGE_FOLDER_PER_CLASS, IMAGE_FOLDER_SIZE
from PIL import Image

from tunekit.data import SCALED_UINT8, UNSCALED
from tunekit.errors import DataError
from tunekit.image_streams import ImageFolderStream, folder_format, image_folder_stream

# 0.2 of 42 images -> 9 test (3 per class), 0.25 of the other 33 -> 9 validation (3 per class)
FRACTIONS = dict(validation_fraction=0.2, test_fraction=0.2)


def _all(ds):
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds))
    return np.concatenate(xs), np.concatenate(ys)


def test_splits_are_stratified_disjoint_file_lists(image_folder):
    stream = image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, **FRACTIONS)
    assert stream.class_names == list(IMAGE_FOLDER_CLASSES)
    for split, per_class in (("train", 8), ("val", 3), ("test", 3)):
        classes = Counter(Path(p).parts[0] for p in stream.files[split])
        assert classes == dict.fromkeys(IMAGE_FOLDER_CLASSES, per_class), split
        assert [stream.class_names[k] for k in stream.labels[split]] == [
            Path(p).parts[0] for p in stream.files[split]
        ]
    everything = [p for split in ("train", "val", "test") for p in stream.files[split]]
    assert len(set(everything)) == len(everything) == 3 * IMAGE_FOLDER_PER_CLASS
    # Seeded: the same seed gives the same lists, another seed other ones.
    assert image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, **FRACTIONS).files == stream.files
    other = image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, seed=1, **FRACTIONS)
    assert other.files["test"] != stream.files["test"]


@pytest.mark.parametrize("cache", [True, False])
def test_batches_are_the_files_pixels_scaled_like_tunekit(image_folder, cache):
    stream = image_folder_stream(
        image_folder, IMAGE_FOLDER_SIZE, batch_size=4, cache=cache, **FRACTIONS
    )
    assert stream.cached is cache and stream.scaling == SCALED_UINT8
    assert stream.input_shape == (*IMAGE_FOLDER_SIZE, 3)
    x, y = _all(stream.dataset("test"))  # not shuffled: the order of stream.files["test"]
    expected = np.stack([np.asarray(Image.open(image_folder / p)) for p in stream.files["test"]])
    assert x.dtype == np.float32 and x.shape == (9, *IMAGE_FOLDER_SIZE, 3)
    np.testing.assert_allclose(x, expected / np.float32(255), rtol=1e-6)
    np.testing.assert_array_equal(y, stream.labels["test"])
    first = next(iter(stream.dataset("train")))
    assert tuple(first[0].shape) == (4, *IMAGE_FOLDER_SIZE, 3) and first[1].dtype.name == "int64"


def test_unscaled_stream_keeps_uint8_and_resizes(image_folder):
    stream = image_folder_stream(image_folder, (12, 8), scale=False, batch_size=5, **FRACTIONS)
    x, _ = _all(stream.dataset("val"))
    assert stream.scaling == UNSCALED and x.dtype == np.uint8 and x.shape == (9, 12, 8, 3)
    # A 2x downscale of a near-uniform image keeps its mean colour.
    source = np.asarray(Image.open(image_folder / stream.files["val"][0]), dtype=np.float64)
    np.testing.assert_allclose(x[0].mean(axis=(0, 1)), source.mean(axis=(0, 1)), atol=3)


def test_cache_auto_caches_only_within_the_budget(image_folder):
    size = 3 * IMAGE_FOLDER_PER_CLASS * int(np.prod(IMAGE_FOLDER_SIZE)) * 3
    fits = image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, cache_budget=size)
    too_big = image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, cache_budget=size - 1)
    assert fits.decoded_bytes() == size
    assert fits.cached and not too_big.cached


def test_train_plus_validation_is_the_concatenation_of_both_streams(image_folder):
    stream = image_folder_stream(
        image_folder, IMAGE_FOLDER_SIZE, batch_size=8, cache=False, **FRACTIONS
    )
    both = stream.dataset("train", "val", shuffle=False)
    x, y = _all(both)
    train_x, _ = _all(stream.dataset("train", shuffle=False))
    assert len(both) == 5  # 33 images in batches of 8: cardinality known, nothing materialised
    np.testing.assert_array_equal(y, np.concatenate([stream.labels["train"], stream.labels["val"]]))
    np.testing.assert_array_equal(x[:24], train_x)
    shuffled = _all(stream.dataset("train", "val"))[1]
    assert sorted(shuffled.tolist()) == sorted(y.tolist()) and shuffled.tolist() != y.tolist()


def test_fingerprint_follows_the_files_and_the_definition(image_folder):
    stream = image_folder_stream(image_folder, IMAGE_FOLDER_SIZE)
    config = json.loads(json.dumps(stream.to_config()))  # what a worker receives
    again = ImageFolderStream.from_config(config)
    assert again.fingerprint == stream.fingerprint and again.files == stream.files
    assert image_folder_stream(image_folder, (12, 8)).fingerprint != stream.fingerprint
    assert image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, seed=3).fingerprint != (
        stream.fingerprint
    )
    # The batch size and the cache do not change what the data is.
    assert (
        image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, batch_size=3, cache=False).fingerprint
        == stream.fingerprint
    )

    changed = image_folder / "toon" / "toon_03.png"
    Image.fromarray(np.zeros((*IMAGE_FOLDER_SIZE, 3), np.uint8)).save(changed)
    assert image_folder_stream(image_folder, IMAGE_FOLDER_SIZE).fingerprint != stream.fingerprint
    with pytest.raises(DataError, match="differs from the one that defined the stream"):
        ImageFolderStream.from_config(config)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(image_size=(0, 8)), "image_size must be two positive ints"),
        (dict(cache="yes"), "cache must be 'auto', True or False"),
        (dict(validation_fraction=0.6, test_fraction=0.5), "must be < 1"),
    ],
)
def test_bad_arguments_are_refused_by_name(image_folder, kwargs, message):
    kwargs = {"image_size": IMAGE_FOLDER_SIZE, **kwargs}
    with pytest.raises(DataError, match=message):
        image_folder_stream(image_folder, **kwargs)


FIT_SCRIPT = textwrap.dedent("""
    import json, sys
    import keras
    import tunekit
    from hypermodels import ToonVisionCNNHyperModel
    from tunekit.image_streams import image_folder_stream

    folder, directory = sys.argv[1:3]
    stream = image_folder_stream(folder, (24, 16), batch_size=8, validation_fraction=0.2,
                                 test_fraction=0.2)
    hypermodel = ToonVisionCNNHyperModel(stream.input_shape, stream.num_classes, rescale=False)
    tuner = tunekit.make_tuner("random", hypermodel, objective="val_loss", directory=directory,
                               project_name="p", max_trials=1, seed=0)
    tuner.search(stream.dataset("train"), validation_data=stream.dataset("val"), epochs=1,
                 verbose=0)
    (trial,) = tuner.oracle.trials.values()
    model = tuner.get_best_models(1)[0]
    loss = model.evaluate(stream.dataset("val"), verbose=0, return_dict=True)["loss"]
    print(json.dumps({"backend": keras.backend.backend(), "status": trial.status,
                      "val_loss": trial.metrics.get_last_value("val_loss"), "evaluated": loss,
                      "num_params": trial.metrics.get_last_value("num_params"),
                      "expected_params": model.count_params()}))
""")


def test_a_streamed_folder_trains_a_tunekit_trial(image_folder, tmp_path):
    import tunekit
    from hypermodels import ToonVisionCNNHyperModel

    stream = image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, batch_size=8, **FRACTIONS)
    hypermodel = ToonVisionCNNHyperModel(stream.input_shape, stream.num_classes, rescale=False)
    tuner = tunekit.make_tuner(
        "random",
        hypermodel,
        objective="val_loss",
        directory=str(tmp_path),
        project_name="p",
        max_trials=1,
        seed=0,
    )
    tuner.search(
        stream.dataset("train"), validation_data=stream.dataset("val"), epochs=1, verbose=0
    )
    (trial,) = tuner.oracle.trials.values()
    assert trial.status == "COMPLETED"
    expected = hypermodel.build(trial.hyperparameters).count_params()
    assert trial.metrics.get_last_value("num_params") == expected


@pytest.mark.slow  # a fresh process per backend: 20-60 s on a shared 2-core machine
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_a_streamed_folder_trains_a_trial_on_each_backend(image_folder, tmp_path, backend):
    script = tmp_path / "fit_stream.py"
    script.write_text(FIT_SCRIPT)
    repo = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(script), str(image_folder), str(tmp_path / "t")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend and result["status"] == "COMPLETED"
    assert result["num_params"] == result["expected_params"] > 0
    # The trial's score is the loss of the validation stream, re-measured on the saved model.
    assert result["val_loss"] == pytest.approx(result["evaluated"], rel=1e-4)


def test_a_mixed_folder_is_loaded_with_a_notice_of_each_change(image_folder, caplog):
    import logging

    from tunekit.image_streams import folder_format

    # Before, a folder mixing sizes and colour modes was resized and converted silently.
    with caplog.at_level(logging.INFO, logger="tunekit"):
        assert folder_format(image_folder) == (IMAGE_FOLDER_SIZE, "rgb")
    assert not caplog.messages  # one size, all colour: nothing to say
    Image.new("L", (20, 30)).save(image_folder / "cog" / "gray_small.png")
    Image.new("L", (20, 30)).save(image_folder / "zz" / "gray_small.png")
    with caplog.at_level(logging.INFO, logger="tunekit"):
        assert folder_format(image_folder) == (IMAGE_FOLDER_SIZE, "rgb")
    height, width = IMAGE_FOLDER_SIZE
    total = len(IMAGE_FOLDER_CLASSES) * IMAGE_FOLDER_PER_CLASS
    assert caplog.messages == [
        f"[data] toonvision holds images of 2 sizes ({height}x{width}: {total}, 30x20: 2); "
        "each is resized (bilinear) to the run's image size.",
        f"[data] toonvision mixes 2 single-channel and {total} colour images; the "
        "single-channel ones are converted to 3-channel RGB.",
    ]
    # An alpha channel was dropped without a word.
    caplog.clear()
    Image.new("RGBA", (16, 24), (10, 20, 30, 128)).save(image_folder / "toon" / "see.png")
    Image.new("LA", (16, 24), (10, 128)).save(image_folder / "toon" / "see_gray.png")
    with caplog.at_level(logging.INFO, logger="tunekit"):
        folder_format(image_folder)
    assert caplog.messages[-1] == (
        "[data] toonvision has 2 image(s) with an alpha (transparency) channel; it is "
        "dropped: each pixel keeps its colour channels, however transparent it was."
    )


def test_listing_changes_names_added_removed_and_modified_files() -> None:
    from tunekit.data.images import listing_changes

    old = [("a/1.png", 10, 1), ("a/2.png", 10, 1), ("b/1.png", 10, 1)]
    assert listing_changes(old, list(old)) is None
    new = [("a/1.png", 10, 2), *[(f"b/{i}.png", 10, 1) for i in range(1, 6)]]
    assert listing_changes(new=new, old=old) == (
        "4 images added (b/2.png, b/3.png, b/4.png and 1 more), 1 removed (a/2.png), "
        "1 modified (a/1.png)"
    )


@pytest.mark.parametrize("kept", [1, 2])
def test_a_class_too_small_for_a_split_is_refused_with_a_fix(image_folder, kept):
    """One image: "Classes with too few members are: [1]" (an id), with "lower the
    fractions" (no option on the command line, and no help for one image); two: "from
    Python pass larger fractions". Now the class by name, and one fix for both."""
    small = image_folder / IMAGE_FOLDER_CLASSES[0]
    for path in sorted(small.iterdir())[kept:]:
        path.unlink()
    with pytest.raises(DataError) as refused:
        image_folder_stream(image_folder, IMAGE_FOLDER_SIZE)
    message = str(refused.value)
    images = "1 image" if kept == 1 else f"{kept} images"
    assert f"Too few images to split class(es) '{IMAGE_FOLDER_CLASSES[0]}' ({images})" in message
    assert "Add images to those classes (at least 3 each, one per split)" in message
    assert "or move their folders out of the data folder" in message


def _rgb_folder(root: Path, per_class: int = 8) -> Path:
    rng = np.random.default_rng(0)
    for name in ("bear", "cog"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_files_tensorflow_cannot_decode_are_named_before_training(tmp_path):
    """Pillow's checks while listing passed each of these; TensorFlow's decoder, which the
    stream uses, then stopped the first trial (or the evaluation) naming no file (exit 1)."""
    import struct
    import zlib

    import tensorflow as tf

    from tunekit.data import StreamData

    root = _rgb_folder(tmp_path / "folder")
    whole = (root / "bear" / "0.png").read_bytes()
    (root / "bear" / "no_iend.png").write_bytes(whole[:-12])  # the IEND chunk dropped
    pixels = np.zeros((12, 12, 3), np.uint8)
    Image.fromarray(pixels).save(root / "bear" / "tiff.png", format="TIFF")
    # Compressed data damaged behind a recomputed checksum: only a decoder tells.
    damaged = bytearray(whole)
    start = damaged.index(b"IDAT")
    (length,) = struct.unpack(">I", damaged[start - 4 : start])
    data = bytes(
        b ^ 0x5A if k % 3 == 2 else b for k, b in enumerate(damaged[start + 4 : start + 4 + length])
    )
    damaged[start + 4 : start + 4 + length] = data
    damaged[start + 4 + length : start + 8 + length] = struct.pack(">I", zlib.crc32(b"IDAT" + data))
    (root / "cog" / "scrambled.png").write_bytes(bytes(damaged))
    # A JPEG whose scan was damaged between intact markers (start and end).
    noise = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "cog" / "scan.jpg")
    scan = bytearray((root / "cog" / "scan.jpg").read_bytes())
    start = scan.index(b"\xff\xda")
    scan[start + 30 : start + 32] = b"\xff\xc4"
    for k in range(start + 40, len(scan) - 10, 7):
        scan[k] = 0xFF
    (root / "cog" / "scan.jpg").write_bytes(bytes(scan))
    bad = ("no_iend.png", "tiff.png", "scrambled.png", "scan.jpg")
    folder_format(root)  # Pillow's checks while listing pass them
    for name in bad:
        file = next(root.rglob(name))
        with pytest.raises(tf.errors.InvalidArgumentError):  # what the first trial met
            tf.io.decode_image(tf.io.read_file(str(file)), expand_animations=False)
    stream = image_folder_stream(root)
    with pytest.raises(DataError, match=r"Could not read 4 images: .*TensorFlow's decoder") as e:
        StreamData.from_image_folder(stream)
    for name in bad:
        assert name in str(e.value)
    assert "function_node" not in str(e.value) and "[Op:" not in str(e.value)
    for name in bad:
        next(root.rglob(name)).unlink()
    data = StreamData.from_image_folder(image_folder_stream(root))
    assert data.input_shape == (12, 12, 3)


def test_a_grayscale_bmp_folder_streams_in_one_channel_and_a_bomb_header_is_named(tmp_path):
    """TensorFlow decodes a BMP in 0, 3 or 4 channels only: a grayscale BMP folder failed
    the first batch ("`channels` must be 0, 3 or 4 for BMP"). A header claiming 60000 x 60000
    pixels made Pillow raise its DecompressionBombError, a traceback (exit 1)."""
    import struct
    import zlib

    from tunekit.data import StreamData

    root = tmp_path / "gray"
    rng = np.random.default_rng(0)
    for name in ("bear", "cog"):
        (root / name).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8)).save(
                root / name / f"{i}.bmp"
            )
    stream = image_folder_stream(root)
    data = StreamData.from_image_folder(stream)
    assert data.input_shape == (12, 12, 1)
    x, _ = next(iter(stream.dataset("test")))  # in file order
    file = root / stream.files["test"][0]
    expected = np.asarray(Image.open(file).convert("L"), dtype=np.float32) / 255.0
    np.testing.assert_allclose(np.asarray(x)[0, :, :, 0], expected, atol=1e-6)

    bomb = _rgb_folder(tmp_path / "bomb")
    header = bytearray((bomb / "bear" / "0.png").read_bytes())
    header[16:24] = struct.pack(">II", 60000, 60000)
    header[29:33] = struct.pack(">I", zlib.crc32(bytes(header[12:29])))
    (bomb / "bear" / "0.png").write_bytes(bytes(header))
    with pytest.raises(DataError, match=r"Could not read image .*0\.png.*decompression bomb"):
        image_folder_stream(bomb)


def test_palette_pngs_pass_the_listing(tmp_path):
    """Reading a palette (the colour-mode check) before Pillow's checksum verify made it
    raise "verify must be called directly after open" on valid palette PNGs (exit 2)."""
    from tunekit.data import StreamData

    root = _rgb_folder(tmp_path / "folder")
    rng = np.random.default_rng(1)
    gray = Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8)).convert("P")
    gray.save(root / "bear" / "gray_palette.png")
    colour = Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8))
    colour.convert("P", palette=Image.Palette.ADAPTIVE).save(root / "cog" / "palette.png")
    assert folder_format(root) == ((12, 12), "rgb")
    assert StreamData.from_image_folder(image_folder_stream(root)).input_shape == (12, 12, 3)


def test_broken_links_and_unlistable_folders_are_named_before_training(tmp_path, monkeypatch):
    """A broken symbolic link stopped the run with a bare "[Errno 2] No such file or
    directory", one file a run; a class subfolder os.walk could not read was skipped
    silently, its images left out of the data."""
    from tunekit.data import load_image_directory

    root = _rgb_folder(tmp_path / "folder")
    (root / "bear" / "gone.png").symlink_to(tmp_path / "moved" / "gone.png")
    (root / "cog" / "lost.jpg").symlink_to(tmp_path / "moved" / "lost.jpg")
    loads = (image_folder_stream, folder_format, lambda r: load_image_directory(r, (12, 12)))
    for load in loads:
        with pytest.raises(DataError, match=r"Could not read 2 images") as e:
            load(root)
        message = str(e.value)
        assert "gone.png" in message and "lost.jpg" in message
        assert "a symbolic link to" in message and "which does not exist" in message
    for link in ("bear/gone.png", "cog/lost.jpg"):
        (root / link).unlink()
    (root / "ghost").symlink_to(tmp_path / "moved" / "ghost")  # a class folder: dropped before
    with pytest.raises(DataError, match=r"\['ghost'\].*symbolic links to folders that do not"):
        image_folder_stream(root)
    (root / "ghost").unlink()

    hidden = root / "cog" / "more"
    hidden.mkdir()
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(hidden / "0.png")
    real_scandir = os.scandir

    def scandir(path="."):  # the root user reads any folder: deny this one as a mode 000 would
        if Path(path) == hidden:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(DataError, match=r"Could not list 1 folder.*more.*Permission denied"):
        image_folder_stream(root)
    monkeypatch.setattr(os, "scandir", real_scandir)
    assert len(image_folder_stream(root).files["train"]) > 0


OTHER_FORMATS = [".tif", ".TIFF", ".webp", ".heic", ".avif", ".jfif", ".jp2", ".ppm", ".pgm"]


@pytest.mark.parametrize("suffix", OTHER_FORMATS + [".ico", ".svg", ".HEIF"])
def test_images_keras_cannot_decode_are_named_not_left_out(tmp_path, suffix):
    """A .tif, .webp, .heic... in a class folder was left out of the data without a word
    (exit 0), by the streamed and the in-memory loaders alike."""
    from tunekit.data import load_image_directory

    root = _rgb_folder(tmp_path / "folder", per_class=3)
    (root / "cog" / f"scan{suffix}").write_bytes(b"whatever the format")
    (root / "bear" / "notes").mkdir()
    (root / "bear" / "notes" / f"deep{suffix}").write_bytes(b"x")
    for ignored in ("README.txt", "Thumbs.db", ".DS_Store", "labels.csv", "meta.json"):
        (root / "cog" / ignored).write_text("not an image")
    loads = (image_folder_stream, folder_format, lambda r: load_image_directory(r, (12, 12)))
    for load in loads:
        with pytest.raises(DataError, match=r"2 image\(s\) in .* a format Keras cannot decode"):
            load(root)
    message = str(_refusal(image_folder_stream, root))
    assert f"'bear/notes/deep{suffix}', 'cog/scan{suffix}'" in message
    assert ".png/.jpg/.jpeg/.bmp/.gif" in message and "or remove them" in message


def test_many_images_of_another_format_are_counted_past_ten(tmp_path):
    root = _rgb_folder(tmp_path / "folder")  # a class of 3 was too few to split
    for i in range(13):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "bear" / f"s{i:02d}.tif")
    message = str(_refusal(image_folder_stream, root))
    assert message.startswith("13 image(s) in ")
    assert "'bear/s09.tif' and 3 more." in message and "s10.tif" not in message


def _image(path: Path, **save) -> None:
    Image.fromarray(np.zeros((4, 4, 3), np.uint8) + 90).save(path, **save)


@pytest.mark.parametrize("name", ["a.dib", "b.apng", "c.sgi", "d.rgb", "e.eps", "f.qoi"])
def test_images_of_any_format_pillow_registers_are_named_not_left_out(tmp_path, name):
    """Formats Pillow reads but no hand-written suffix list had were left out of the data
    without a word (exit 0), by both loaders. A BMP as `.dib` or a PNG as `.apng`, which
    TensorFlow's decoder reads, is refused too: Keras's lister leaves it out."""
    from tunekit.data import load_image_directory

    root = _rgb_folder(tmp_path / "folder")  # a class of 3 was too few to split
    save = {"format": {".dib": "BMP", ".apng": "PNG"}.get(Path(name).suffix, None)}
    _image(root / "cog" / name, **({} if save["format"] is None else save))
    loads = (image_folder_stream, folder_format, lambda r: load_image_directory(r, (12, 12)))
    for load in loads:
        message = str(_refusal(load, root))
        assert message.startswith("1 image(s) in ") and f"'cog/{name}'" in message
        assert "Convert them to PNG or JPEG" in message and "move them out" in message
    rename = {"a.dib": "(a BMP: name it .bmp)", "b.apng": "(a PNG: name it .png)"}.get(name)
    assert rename is None or f"'cog/{name}' {rename}" in message


def test_images_under_a_name_that_is_no_image_suffix_are_sniffed_and_named(tmp_path):
    """A PNG saved with no suffix (`cat/scan`) or as `a.png.bak` was left out without a word
    (exit 0); files that are not images, of any name, are still ignored."""
    from tunekit.data import load_image_directory
    from tunekit.data.images import list_images

    root = _rgb_folder(tmp_path / "folder", per_class=3)
    _image(root / "bear" / "scan", format="PNG")
    _image(root / "cog" / "a.png.bak", format="PNG")
    _image(root / "cog" / "photo.jpg.old", format="JPEG")
    (root / "bear" / "cut").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(24))  # a damaged PNG
    ignored = {
        "README.txt": b"not an image",
        "labels.csv": b"file,label\n0.png,bear\n",
        "0.json": b'{"box": [1, 2, 3, 4]}',
        "notes.md": b"# notes\n",
        "Thumbs.db": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),  # an OLE file
        ".DS_Store": b"\x00\x00\x00\x01Bud1" + bytes(64),
        "weights.npy": b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}",
        "png.json": b"\x89PNG\r\n\x1a\n",  # a known kind of file: not opened
        "bmi.log": b"BMI of each sample\n",  # starts as a BMP does
    }
    for file, content in ignored.items():
        (root / "bear" / file).write_bytes(content)
    loads = (image_folder_stream, folder_format, lambda r: load_image_directory(r, (12, 12)))
    for load in loads:
        message = str(_refusal(load, root))
        assert message.startswith("4 image(s) in ")
        assert (
            "'bear/cut' (a PNG: name it .png), 'bear/scan' (a PNG: name it .png), "
            "'cog/a.png.bak' (a PNG: name it .png), "
            "'cog/photo.jpg.old' (a JPEG: name it .jpg)."
        ) in message
        assert not any(file in message for file in ignored)
    for file in ("bear/cut", "bear/scan", "cog/a.png.bak", "cog/photo.jpg.old"):
        (root / file).unlink()
    assert [path for path, _, _ in list_images(root)] == [
        f"{c}/{i}.png" for c in ("bear", "cog") for i in range(3)
    ]


def test_images_beside_the_class_folders_are_named_not_left_out(tmp_path):
    """Images directly in the folder, next to its class subfolders, belong to no class:
    they were left out of the data without a word (exit 0)."""
    from tunekit.data import load_image_directory
    from tunekit.data.images import listing_changes

    root = _rgb_folder(tmp_path / "folder")
    before = image_folder_stream(root).listing
    for ignored in ("README.txt", "Thumbs.db", ".DS_Store", "data.csv", ".hidden.png"):
        (root / ignored).write_text("not an image")
    assert image_folder_stream(root).listing == before  # still ignored, as before
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(root / "stray.png")
    (root / "Stray.TIF").write_bytes(b"x")
    loads = (image_folder_stream, folder_format, lambda r: load_image_directory(r, (12, 12)))
    for load in loads:
        message = str(_refusal(load, root))
        assert message.startswith(f"2 image(s) directly in {str(root)!r}, in no class subfolder")
        assert "'Stray.TIF', 'stray.png'. Move each into its class's subfolder" in message
    # Moved into a class: the listing grows by it, which a resumed run reports.
    (root / "Stray.TIF").unlink()
    (root / "stray.png").rename(root / "cog" / "stray.png")
    after = image_folder_stream(root).listing
    assert listing_changes(before, after) == "1 image added (cog/stray.png)"


def test_a_folder_of_loose_images_is_told_to_make_class_folders(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / f"{i}.jpg")
    message = str(_refusal(image_folder_stream, root))
    assert "found 0: [], and 3 image(s) in no class ('0.jpg', '1.jpg', '2.jpg')" in message
    assert message.endswith("Put each class in its own subfolder.")


def _refusal(load, root):
    with pytest.raises(DataError) as e:
        load(root)
    return e.value


def test_a_streamed_folder_refuses_a_metric_that_takes_one_hot_rows(tmp_path):
    """A folder's labels are class ids: OneHotMeanIoU read them as one-hot rows (exit 0)."""
    import keras

    from tunekit._kerastuner import get_hypermodel
    from tunekit.data import StreamData
    from tunekit.errors import ModelCheckError
    from tunekit.steps.check import check_model

    data = StreamData.from_image_folder(image_folder_stream(_rgb_folder(tmp_path / "folder")))

    def hypermodel(metric):
        def build(hp):
            model = keras.Sequential(
                [keras.Input((12, 12, 3)), keras.layers.Flatten(), keras.layers.Dense(2, "softmax")]
            )
            model.compile(loss="sparse_categorical_crossentropy", metrics=[metric])
            return model

        return get_hypermodel(build)

    with pytest.raises(ModelCheckError, match=r"'OneHotMeanIoU' takes one-hot rows"):
        check_model(hypermodel(keras.metrics.OneHotMeanIoU(num_classes=2)), data)
    check_model(hypermodel(keras.metrics.MeanIoU(num_classes=2, sparse_y_pred=False)), data)


@pytest.mark.long
def test_a_resumed_image_folder_run_trains_as_one_run_straight_through(image_folder, tmp_path):
    """Every fit shared one training stream, whose shuffle continued from the epochs before
    it: a run resumed in a new process trained its later trials and its final model on
    other orders (test loss 0.3377 against 0.2331 for the same command straight through),
    and nothing said so. Resumed here after the coarse phase, with new stream objects as a
    new process has."""
    import keras
    import pandas as pd
    from conftest import RUN_BUDGET

    from hypermodels import DenseHyperModel
    from tunekit import CoarseToFine
    from tunekit.data import StreamData

    def workflow(project: str) -> CoarseToFine:
        stream = image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, batch_size=4, **FRACTIONS)
        hypermodel = DenseHyperModel(input_shape=stream.input_shape, num_classes=3)
        budget = {**RUN_BUDGET, "coarse_trials": 3, "final_epochs": 2, "baseline": False}
        return CoarseToFine(
            hypermodel,
            StreamData.from_image_folder(stream),
            directory=str(tmp_path),
            project_name=project,
            **budget,
        )

    straight = workflow("straight").run()
    workflow("resumed").coarse()
    keras.utils.set_random_seed(12345)  # another process's state: TensorFlow's global seed
    resumed = workflow("resumed").run()

    def scores(result):
        table = pd.read_csv(result.run_dir / "trials.csv", dtype={"trial_id": str})
        return table[["phase", "trial_id", "score"]].to_dict("records")

    assert scores(resumed) == scores(straight)
    assert resumed.test_metrics == straight.test_metrics


def test_the_command_lines_split_is_one_whatever_its_seed(image_folder):
    """`--seed 1` and `--seed 2` tested on different images (the split followed `--seed`),
    and a saved model scored on `image_folder_stream(folder)`'s test split (seed 0) was
    scored partly on its own training images. Now `--seed` moves the shuffling only."""
    from tunekit.cli_data import folder_stream
    from tunekit.cli_parser import build_parser

    default = image_folder_stream(image_folder)
    streams = [
        folder_stream(build_parser().parse_args(["--data", str(image_folder), "--seed", seed]))
        for seed in ("1", "2")
    ]
    for stream in streams:
        assert stream.files == default.files
        assert stream.fingerprint == default.fingerprint
    first, second = (_all(s.dataset("train"))[1] for s in streams)
    assert sorted(first) == sorted(second) and first.tolist() != second.tolist()


def test_a_run_folder_inside_an_image_folder_is_not_read_as_a_class(image_folder, tmp_path):
    """A run written inside the image folder (`--data .` with the default `--directory
    runs`) became a class of its plots on the next run: 4 classes, every image made RGB,
    exit 0. A folder holding a tunekit run is refused by name; another `manifest.json`
    (a dataset's own) is an image folder's business."""
    run = image_folder / "runs" / "mnist-dense-images"
    (run / "plots").mkdir(parents=True)
    for name in ("confusion_matrix", "best_so_far", "sample_images"):
        Image.new("RGB", (16, 24)).save(run / "plots" / f"{name}.png")
    (run / "manifest.json").write_text(json.dumps({"config": {}, "fingerprint": "", "steps": {}}))
    with pytest.raises(DataError, match=r"'runs/mnist-dense-images' .* holds a tunekit run"):
        image_folder_stream(image_folder)
    (run / "manifest.json").write_text(json.dumps({"license": "CC-BY"}))
    assert image_folder_stream(image_folder).num_classes == len(IMAGE_FOLDER_CLASSES) + 1


def test_a_run_folder_inside_an_image_folder_is_refused_from_python(image_folder, tmp_path):
    """Found by a helper: the command line refused it, Python wrote the run into a class
    folder with exit 0, and every later run on the folder was refused."""
    from tunekit import CoarseToFine
    from tunekit.data import StreamData
    from tunekit.errors import RunConfigError

    data = StreamData.from_image_folder(image_folder_stream(image_folder))
    for directory in (image_folder / "cog", image_folder):
        with pytest.raises(RunConfigError, match=r"is inside the image folder"):
            CoarseToFine(lambda hp: None, data, directory=directory, project_name="p")
    assert not (image_folder / "cog" / "p").exists() and not (image_folder / "p").exists()
    CoarseToFine(lambda hp: None, data, directory=tmp_path / "runs", project_name="p")
