"""Tests for tunekit.data (numpy + Pillow only; no keras import)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skip_guard import require_mnist

from tunekit import data
from tunekit.data import Dataset, StreamData, load_image_directory, load_mnist, load_npz
from tunekit.errors import DataError
from tunekit.image_streams import folder_format, image_folder_stream

COLORS = {"bear": (200, 30, 30), "cog": (30, 200, 30), "toon": (30, 30, 200)}


@pytest.fixture(scope="module")
def mnist_path():
    """The real MNIST file; skips with the reason without it, fails under CI=true."""
    return require_mnist()


@pytest.fixture(scope="module")
def mnist_raw(mnist_path):
    with np.load(mnist_path) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.fixture(scope="module")
def mnist(mnist_path):
    return load_mnist(mnist_path)


def _rows(x):
    """Set of per-sample byte strings (pixels back to uint8), for set comparisons."""
    pixels = np.rint(np.asarray(x) * 255).astype(np.uint8).reshape(len(x), -1)
    return {row.tobytes() for row in pixels}


def _write_images(root: Path, counts: dict[str, int], size=(16, 12)) -> Path:
    """Writes `counts[name]` solid-colour PNGs of (width, height) `size` per class folder."""
    for name, count in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        color = COLORS.get(name, (128, 128, 128))
        for i in range(count):
            Image.new("RGB", size, color).save(root / name / f"img_{i:02d}.png")
    return root


@pytest.fixture
def image_root(tmp_path):
    """3 classes x 12 images, with a .jpg, an uppercase .PNG and files to ignore."""
    root = _write_images(tmp_path / "toonvision", {name: 11 for name in COLORS})
    Image.new("RGB", (16, 12), COLORS["bear"]).save(root / "bear" / "photo.jpg")
    Image.new("RGB", (16, 12), COLORS["cog"]).save(root / "cog" / "UPPER.PNG")
    Image.new("RGB", (16, 12), COLORS["toon"]).save(root / "toon" / "other.JPEG")
    (root / "bear" / "notes.txt").write_text("not an image")
    Image.new("RGB", (16, 12)).save(root / "cog" / ".hidden.png")
    (root / ".cache").mkdir()
    Image.new("RGB", (16, 12)).save(root / ".cache" / "x.png")
    (root / "README.md").write_text("ignored")
    return root


# --------------------------------------------------------------------------- MNIST


def _check_mnist(ds: Dataset, raw) -> None:
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (50_000, 10_000, 10_000)
    assert ds.x_train.shape[1:] == ds.x_val.shape[1:] == ds.x_test.shape[1:] == (28, 28)
    assert ds.input_shape == (28, 28) and ds.num_classes == 10 and ds.name == "mnist"
    assert ds.class_names == [str(i) for i in range(10)]
    for x in (ds.x_train, ds.x_val, ds.x_test):
        assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    for y in (ds.y_train, ds.y_val, ds.y_test):
        assert y.dtype in (np.int64, np.int32) and set(np.unique(y)) == set(range(10))
    np.testing.assert_array_equal(ds.x_test, raw["x_test"].astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.y_test, raw["y_test"])


def test_load_mnist_from_env_var(monkeypatch, mnist_path, mnist_raw):
    monkeypatch.setenv("TUNEKIT_MNIST_PATH", str(mnist_path))
    ds = load_mnist()
    _check_mnist(ds, mnist_raw)
    assert ds.summary() == (
        "MNIST: 50000 train / 10000 validation / 10000 test, input (28, 28), 10 classes"
    )


def test_load_mnist_from_path(mnist, mnist_raw):
    _check_mnist(mnist, mnist_raw)


def test_mnist_split_is_disjoint_and_covers_train(mnist, mnist_raw):
    train, val = _rows(mnist.x_train), _rows(mnist.x_val)
    assert not train & val
    assert train | val == _rows(mnist_raw["x_train"].astype(np.float32) / 255)
    x_full, y_full = mnist.train_and_validation()
    assert x_full.shape == (60_000, 28, 28) and y_full.shape == (60_000,)
    np.testing.assert_array_equal(np.bincount(y_full), np.bincount(mnist_raw["y_train"]))
    np.testing.assert_array_equal(mnist.x_train_full[-10_000:], mnist.x_val)


def test_mnist_split_deterministic_per_seed(mnist_path, mnist):
    again = load_mnist(str(mnist_path), seed=0)
    np.testing.assert_array_equal(again.y_val, mnist.y_val)
    assert again.fingerprint() == mnist.fingerprint()
    other = load_mnist(mnist_path, seed=1, validation_size=5_000)
    assert len(other.x_val) == 5_000 and len(other.x_train) == 55_000
    assert not np.array_equal(other.y_val, mnist.y_val[:5_000])
    assert other.fingerprint() != mnist.fingerprint()


def test_env_var_ignored_when_path_given(monkeypatch, tmp_path, digits_npz):
    monkeypatch.setenv("TUNEKIT_MNIST_PATH", str(tmp_path / "nope.npz"))
    assert len(load_mnist(path=digits_npz, validation_size=100).x_val) == 100
    with pytest.raises(ValueError, match=r"nope\.npz' \(from \$TUNEKIT_MNIST_PATH\)"):
        load_mnist()


def _fake_mnist(n_train=60, n_test=20):
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8) % 10,
    }


def test_keras_fallback_used_only_without_path_or_env(monkeypatch):
    monkeypatch.delenv("TUNEKIT_MNIST_PATH", raising=False)
    calls = []
    monkeypatch.setattr(data.arrays, "_download_mnist", lambda: calls.append(1) or _fake_mnist())
    ds = load_mnist(validation_size=10)
    assert calls == [1]
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (50, 10, 20)
    assert ds.x_train.dtype == np.float32 and 0.0 <= ds.x_train.min() <= ds.x_train.max() <= 1.0


def test_keras_fallback_failure_is_explained(monkeypatch):
    monkeypatch.delenv("TUNEKIT_MNIST_PATH", raising=False)

    def offline():
        raise OSError("network unreachable")

    fake = types.SimpleNamespace(
        datasets=types.SimpleNamespace(mnist=types.SimpleNamespace(load_data=offline))
    )
    monkeypatch.setitem(sys.modules, "keras", fake)
    with pytest.raises(RuntimeError, match=r"network unreachable.*path=.*TUNEKIT_MNIST_PATH"):
        load_mnist()


def test_keras_fallback_success_with_fake_keras(monkeypatch):
    monkeypatch.delenv("TUNEKIT_MNIST_PATH", raising=False)
    arrays = _fake_mnist()

    def loader():
        return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])

    fake = types.SimpleNamespace(
        datasets=types.SimpleNamespace(mnist=types.SimpleNamespace(load_data=loader))
    )
    monkeypatch.setitem(sys.modules, "keras", fake)
    assert load_mnist(validation_size=5).summary().startswith("MNIST: 55 train / 5 validation")


def test_module_does_not_import_keras_or_tensorflow():
    sources = [p.read_text() for p in Path(data.__file__).parent.glob("*.py")]
    assert len(sources) >= 5  # the package's modules, not only its __init__
    top_level = [
        line
        for source in sources
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    ]
    assert not any(re.search(r"\b(keras|tensorflow)\b", line) for line in top_level)


# --------------------------------------------------------------------------- image folders


def _class_counts(y, num_classes=3):
    return np.bincount(y, minlength=num_classes).tolist()


def test_image_directory_rgb(image_root):
    ds = load_image_directory(image_root, image_size=(8, 10))
    assert ds.class_names == ["bear", "cog", "toon"] and ds.num_classes == 3
    assert ds.name == "toonvision" and ds.input_shape == (8, 10, 3)
    # 12 images per class: round(12 * 0.15) = 2 test, 2 validation, 8 train.
    assert _class_counts(ds.y_train) == [8, 8, 8]
    assert _class_counts(ds.y_val) == [2, 2, 2]
    assert _class_counts(ds.y_test) == [2, 2, 2]
    for x in (ds.x_train, ds.x_val, ds.x_test):
        assert x.dtype == np.float32 and x.shape[1:] == (8, 10, 3)
        assert 0 <= x.min() and x.max() <= 1  # decoded as uint8, divided by 255
    assert ds.scaling == data.SCALED_UINT8
    # Labels match the colour of each class (JPEG within tolerance).
    x_all, y_all = ds.train_and_validation()
    for image, label in zip(x_all, y_all):
        expected = np.asarray(COLORS[ds.class_names[label]]) / 255
        np.testing.assert_allclose(image.mean(axis=(0, 1)), expected, atol=6 / 255)
    assert ds.summary() == (
        "toonvision: 24 train / 6 validation / 6 test, input (8, 10, 3), 3 classes"
    )


def test_image_directory_grayscale_and_determinism(image_root):
    gray = load_image_directory(image_root, (12, 16), color_mode="grayscale", seed=3)
    assert gray.x_train.shape == (24, 12, 16, 1) and gray.input_shape == (12, 16, 1)
    a = load_image_directory(image_root, [6, 6], seed=3)
    b = load_image_directory(image_root, (6, 6), seed=3)
    c = load_image_directory(image_root, (6, 6), seed=4)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    np.testing.assert_array_equal(a.y_train, gray.y_train)


def test_image_directory_takes_a_grayscale_folders_own_mode_as_the_command_line(tmp_path):
    """Found by a probe: `load_image_directory` read a grayscale folder as RGB, so its
    `x_test` (the command line's test images, by the README) did not fit the command
    line's saved model, which takes the folder's one channel."""
    from tunekit.image_streams import image_folder_stream

    x, y = _labelled(2, 10, shape=(6, 6))
    for i, (image, label) in enumerate(zip(x, y)):
        (tmp_path / "gray" / f"class{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, mode="L").save(tmp_path / "gray" / f"class{label}" / f"{i}.png")
    ds = load_image_directory(tmp_path / "gray", (6, 6))
    stream = image_folder_stream(tmp_path / "gray", batch_size=4)
    assert ds.input_shape == (6, 6, 1) == tuple(stream.input_shape)
    np.testing.assert_array_equal(ds.y_test, stream.labels["test"])
    rgb = load_image_directory(tmp_path / "gray", (6, 6), color_mode="rgb")
    assert rgb.input_shape == (6, 6, 3)  # asked for: as given


def test_16_bit_grayscale_pngs_load_as_the_stream_reads_them(tmp_path):
    """Found by a probe: Pillow's `convert("L")` clips 16-bit levels at 255, so every
    16-bit grayscale PNG loaded as solid white (1.0) where `image_folder_stream` read the
    right levels: a model trained on `load_image_directory`'s arrays saw constant images."""
    from tunekit.image_streams import image_folder_stream

    rng = np.random.default_rng(0)
    for label, level in (("dark", 0.1), ("light", 0.6)):
        (tmp_path / "g16" / label).mkdir(parents=True)
        for i in range(6):
            wide = ((level + rng.random((6, 6)) * 0.1) * 65535).astype(np.uint16)
            Image.fromarray(wide).save(tmp_path / "g16" / label / f"{i}.png")
    assert Image.open(tmp_path / "g16" / "dark" / "0.png").mode.startswith("I")
    ds = load_image_directory(tmp_path / "g16", (6, 6), validation_fraction=0.2, test_fraction=0.2)
    assert ds.input_shape == (6, 6, 1)
    means = ds.x_test.reshape(len(ds.x_test), -1).mean(axis=1)
    np.testing.assert_allclose(means, np.where(ds.y_test == 0, 0.15, 0.65), atol=0.03)
    stream = image_folder_stream(tmp_path / "g16", (6, 6), batch_size=4, validation_fraction=0.2,
                                 test_fraction=0.2)  # fmt: skip
    read = np.concatenate([np.asarray(x) for x, _ in StreamData.from_image_folder(stream).test])
    np.testing.assert_allclose(np.sort(read.reshape(len(read), -1).mean(axis=1)),
                               np.sort(means), atol=1e-6)  # fmt: skip
    # Colour asked for: the same levels in three channels.
    rgb = load_image_directory(tmp_path / "g16", (6, 6), color_mode="rgb")
    assert rgb.x_test.shape[-1] == 3 and 0.1 < rgb.x_test.mean() < 0.9


def test_image_directory_custom_fractions(tmp_path):
    root = _write_images(tmp_path / "d", {"bear": 3, "cog": 20}, size=(4, 4))
    ds = load_image_directory(root, (4, 4), validation_fraction=0.25, test_fraction=0.0)
    assert _class_counts(ds.y_train, 2) == [2, 15] and _class_counts(ds.y_val, 2) == [1, 5]
    assert ds.x_test.shape == (0, 4, 4, 3) and ds.y_test.shape == (0,)
    assert len(ds.fingerprint()) == 16  # empty splits hash fine


# --------------------------------------------------------------------------- any .npz


def _labelled(num_classes, per_class, shape=(6, 5), dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(num_classes), per_class)
    if dtype == np.uint8:
        return rng.integers(0, 256, (len(y), *shape), dtype=np.uint8), y
    return rng.normal(size=(len(y), *shape)).astype(dtype), y


def test_load_npz_takes_classes_name_and_scaling_from_the_file(tmp_path):
    x, y = _labelled(3, 20)
    x_test, y_test = _labelled(3, 4, seed=1)
    np.savez(tmp_path / "three_shapes.npz", x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    ds = data.load_npz(tmp_path / "three_shapes.npz")
    assert ds.num_classes == 3 and ds.class_names == ["0", "1", "2"]
    assert ds.name == "three_shapes" and "MNIST" not in ds.summary()
    assert ds.summary().endswith("input (6, 5), 3 classes")
    # No x_val in the file: min(10_000, 60 // 6) = 10 training samples become validation.
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (50, 10, 12)
    assert ds.scaling == data.SCALED_UINT8
    np.testing.assert_array_equal(ds.x_test, x_test / np.float32(255))
    assert _rows(np.concatenate([ds.x_train, ds.x_val])) == _rows(x / 255)


def test_load_npz_twenty_float_classes_with_validation_and_names(tmp_path):
    x, y = _labelled(20, 5, shape=(4,), dtype=np.float32)
    held, held_y = _labelled(20, 3, shape=(4,), dtype=np.float32, seed=1)  # other samples
    names = np.array([f"c{i}" for i in range(20)])
    np.savez(
        tmp_path / "twenty.npz",
        x_train=x,
        y_train=y,
        x_val=held[:20],
        y_val=held_y[:20],
        x_test=held[20:],
        y_test=held_y[20:],
        class_names=names,
    )
    ds = data.load_npz(tmp_path / "twenty.npz", seed=3)
    assert ds.num_classes == 20 and ds.class_names == names.tolist()
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (100, 20, 40)
    assert ds.scaling == data.UNSCALED
    np.testing.assert_array_equal(ds.x_train, x)  # floats: used as they are


def test_npz_and_image_folder_share_one_scaling_rule(tmp_path):
    x, y = _labelled(2, 6, shape=(5, 7, 3))
    for i, (image, label) in enumerate(zip(x, y)):
        (tmp_path / "folder" / f"class{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / "folder" / f"class{label}" / f"{i:02d}.png")
    held = np.isin(np.arange(12), [4, 5, 10, 11])  # the same 12 images, none twice
    np.savez(
        tmp_path / "same.npz", x_train=x[~held], y_train=y[~held], x_test=x[held], y_test=y[held]
    )
    folder = load_image_directory(tmp_path / "folder", image_size=(5, 7))
    npz = data.load_npz(tmp_path / "same.npz", validation_size=2)  # 1 sample: too few
    assert folder.scaling == npz.scaling == data.SCALED_UINT8
    pixels = {row.tobytes() for row in (x / np.float32(255)).astype(np.float32).reshape(12, -1)}
    for ds in (folder, npz):
        every = np.concatenate([ds.x_train, ds.x_val, ds.x_test])
        assert {row.tobytes() for row in every.reshape(len(every), -1)} == pixels


# --------------------------------------------------------------------------- arrays


def test_from_arrays_splits_stratified():
    x = np.arange(100 * 3, dtype=np.int16).reshape(100, 3)
    y = np.repeat(np.arange(4), 25)
    ds = Dataset.from_arrays(x, y, seed=1)
    assert ds.num_classes == 4 and ds.class_names == ["0", "1", "2", "3"]
    assert ds.name == "arrays" and ds.input_shape == (3,) and ds.x_train.dtype == np.float32
    # round(25 * 0.15) = 4 per class in validation and test.
    assert _class_counts(ds.y_val, 4) == _class_counts(ds.y_test, 4) == [4, 4, 4, 4]
    assert _class_counts(ds.y_train, 4) == [17, 17, 17, 17]
    rows = np.concatenate([ds.x_train, ds.x_val, ds.x_test])
    np.testing.assert_array_equal(np.sort(rows[:, 0]), x[:, 0])  # a partition, values kept
    for xs, ys in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        np.testing.assert_array_equal(ys, y[(xs[:, 0] // 3).astype(int)])  # labels aligned
    assert Dataset.from_arrays(x, y, seed=1).fingerprint() == ds.fingerprint()
    assert Dataset.from_arrays(x, y, seed=2).fingerprint() != ds.fingerprint()


def test_from_arrays_with_test_set_and_options():
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 5, 5)), np.arange(40) % 2
    x_test = rng.random((7, 5, 5))
    ds = Dataset.from_arrays(
        x,
        y,
        x_test=x_test,
        y_test=y[:7],
        validation_fraction=0.25,
        test_fraction=0.9,
        num_classes=3,
        class_names=["a", "b", "c"],
    )
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (30, 10, 7)
    assert ds.num_classes == 3 and ds.class_names == ["a", "b", "c"]
    np.testing.assert_array_equal(ds.x_test, x_test.astype(np.float32))
    float_labels = Dataset.from_arrays(x, y.astype(float), validation_fraction=0, test_fraction=0)
    assert float_labels.y_train.dtype == np.int64 and len(float_labels.x_val) == 0


def test_subset_fingerprint_and_readonly():
    x, y = np.random.default_rng(0).random((60, 4)), np.arange(60) % 3
    ds = Dataset.from_arrays(x, y)
    small = ds.subset(num_train=5, num_val=2)
    assert (len(small.x_train), len(small.x_val), len(small.x_test)) == (5, 2, len(ds.x_test))
    assert all(any((row == ds.x_train).all(axis=1)) for row in small.x_train)  # its samples
    assert ds.subset(num_test=10_000).fingerprint() == ds.fingerprint()
    assert small.fingerprint() != ds.fingerprint() and len(ds.fingerprint()) == 16
    assert small.class_names == ds.class_names and small.name == ds.name
    with pytest.raises(ValueError, match="read-only"):
        ds.x_train[0, 0] = 1.0
    x[0, 0] = 5.0  # the caller's array stays writable


# --------------------------------------------------------------------------- errors


def _npz(tmp_path, **arrays):
    path = tmp_path / "partial.npz"
    np.savez(path, **arrays)
    return path


def _folder(tmp_path, counts):
    return _write_images(tmp_path / "imgs", counts, size=(4, 4))


def _corrupt(tmp_path):
    root = _folder(tmp_path, {"bear": 3, "cog": 3})
    (root / "cog" / "broken.png").write_bytes(b"not a png")
    return root


def _corrupt_many(tmp_path):
    root = _corrupt(tmp_path)
    (root / "bear" / "fake.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (root / "bear" / "notes.gif").write_text("GIF? no")
    return root


def _arrays(n=20, classes=2):
    return np.zeros((n, 3)), np.arange(n) % classes


def _direct(**overrides):
    x, y = _arrays()
    kwargs = dict(  # copies: one array passed as two splits is refused (a leaked score)
        x_train=x,
        y_train=y,
        x_val=x.copy(),
        y_val=y,
        x_test=x.copy(),
        y_test=y,
        class_names=["a", "b"],
        input_shape=(3,),
        num_classes=2,
    )
    return Dataset(**{**kwargs, **overrides})


_NAN = np.where(np.eye(20, 3) == 1, np.nan, 0.0)
# Seconds within one day since 1.7e9: float32 keeps whole numbers there 128 apart.
_TIMESTAMPS = 1_700_000_000 + np.sort(np.random.default_rng(0).choice(86400, 140, replace=False))

ERROR_CASES = [
    # MNIST
    (
        "mnist_missing_path",
        lambda t: load_mnist(t / "missing.npz"),
        r"MNIST file not found.*missing\.npz.*path=.*TUNEKIT_MNIST_PATH",
    ),
    (
        "npz_missing_keys",
        lambda t: load_mnist(_npz(t, x_train=np.zeros((3, 2, 2)), y_train=[0, 1, 2])),
        r"missing key\(s\) \['x_test', 'y_test'\]; found \['x_train', 'y_train'\]",
    ),
    (
        "validation_size_zero",
        lambda t: load_mnist(validation_size=0, path=_npz(t, **_fake_mnist())),
        r"1 <= validation_size < 60.*got 0",
    ),
    (
        "validation_size_too_big",
        lambda t: load_mnist(_npz(t, **_fake_mnist()), validation_size=60),
        r"validation_size < 60.*got 60",
    ),
    (
        "validation_size_float",
        lambda t: load_mnist(_npz(t, **_fake_mnist()), validation_size=2.5),
        r"must be an int.*got 2\.5",
    ),
    (
        "mnist_with_twenty_classes",
        lambda t: load_mnist(_npz(t, **{**_fake_mnist(), "y_train": np.arange(60) % 20})),
        r"labels in \[0, 19\], not MNIST's 0\.\.9\. Load other data with load_npz",
    ),
    # any .npz
    (
        "npz_label_gap",
        lambda t: data.load_npz(
            _npz(
                t,
                **{
                    **_fake_mnist(),
                    "y_train": np.arange(60) % 3 + 1,
                    "y_test": np.arange(20) % 3 + 1,
                },
            )
        ),
        r"partial\.npz': y_train / y_test holds the whole numbers 1, 2, 3, not the class ids "
        r"0\.\.2: pass task='classification'.*"
        r"task='regression' if they are a quantity",
    ),
    (
        "npz_mixed_dtypes",
        lambda t: data.load_npz(_npz(t, **{**_fake_mnist(), "x_test": np.zeros((20, 28, 28))})),
        r"mix uint8 and other dtypes .*Save every x array with the same dtype",
    ),
    (
        "npz_only_x_val",
        lambda t: data.load_npz(_npz(t, **{**_fake_mnist(), "x_val": np.zeros((2, 28, 28))})),
        r"not a valid \.npz file: it has only one of x_val",
    ),
    (
        "npz_one_training_sample",
        lambda t: data.load_npz(_npz(t, **_fake_mnist(n_train=1))),
        r"x_train's 1 sample cannot make a training split and a validation split",
    ),
    (
        "npz_negative_labels",
        lambda t: data.load_npz(_npz(t, **{**_fake_mnist(), "y_test": np.arange(20) % 10 - 1})),
        r"holds the whole numbers -1, 0, 1, .*not the class ids 0\.\.10: pass "
        r"task='classification'",
    ),
    # image folders
    (
        "folder_missing",
        lambda t: load_image_directory(t / "nothere", (4, 4)),
        r"Image folder not found.*nothere",
    ),
    (
        "one_class_folder",
        lambda t: load_image_directory(_folder(t, {"bear": 5}), (4, 4)),
        r"at least 2 class subfolders.*found 1: \['bear'\]",
    ),
    (
        "empty_class_folder",
        lambda t: load_image_directory(_folder(t, {"bear": 5, "cog": 0}), (4, 4)),
        r"Class folder 'cog'.*no images",
    ),
    (
        "class_too_small",
        lambda t: load_image_directory(_folder(t, {"bear": 5, "cog": 2}), (4, 4)),
        r"Too few images to split class\(es\) 'cog' \(2 images\) into train, validation and "
        r"test \(a stratified split gives every class a share of each\)",
    ),
    (
        "corrupt_image",
        lambda t: load_image_directory(_corrupt(t), (4, 4)),
        r"Could not read image .*broken\.png.*\. Replace it with a readable "
        r"\.png/\.jpg/\.jpeg/\.bmp/\.gif image or remove it from the folder, then rerun\.",
    ),
    (
        "corrupt_image_streamed",
        lambda t: folder_format(_corrupt(t)),
        r"Could not read image .*broken\.png.*\. Replace it with a readable",
    ),
    (
        # Before, named one a run: fix one, rerun, meet the next.
        "corrupt_images_all_named_at_once",
        lambda t: folder_format(_corrupt_many(t)),
        r"Could not read 3 images: (?=.*broken\.png)(?=.*fake\.jpg)(?=.*notes\.gif).*Replace them",
    ),
    (
        # Before, an explicit size and colour mode skipped the header check: the file was
        # met by the first trial's decoding, after the run had started.
        "corrupt_image_with_size_and_mode_given",
        lambda t: image_folder_stream(_corrupt(t), (4, 4), color_mode="rgb"),
        r"Could not read image .*broken\.png.*\. Replace it with a readable",
    ),
    ("image_size_zero", lambda t: load_image_directory(t, (0, 4)), r"two positive ints.*\(0, 4\)"),
    ("image_size_one_int", lambda t: load_image_directory(t, 64), r"two positive ints.*got 64"),
    ("image_size_float", lambda t: load_image_directory(t, (4.0, 4)), r"two positive ints"),
    ("image_size_three", lambda t: load_image_directory(t, (4, 4, 3)), r"two positive ints"),
    (
        "color_mode",
        lambda t: load_image_directory(t, (4, 4), color_mode="rgba"),
        r"Unknown color_mode 'rgba'; choose one of \['rgb', 'grayscale'\]",
    ),
    (
        "fraction_negative",
        lambda t: load_image_directory(t, (4, 4), validation_fraction=-0.1),
        r"validation_fraction must be a number in \[0, 1\), got -0\.1",
    ),
    (
        "fraction_one",
        lambda t: Dataset.from_arrays(*_arrays(), test_fraction=1.0),
        r"test_fraction must be a number in \[0, 1\), got 1\.0",
    ),
    (
        "fractions_sum",
        lambda t: Dataset.from_arrays(*_arrays(), validation_fraction=0.5, test_fraction=0.5),
        r"must be < 1.*0\.5 \+ 0\.5 = 1\.0",
    ),
    # arrays
    (
        "length_mismatch",
        lambda t: Dataset.from_arrays(np.zeros((10, 3)), np.zeros(9, int)),
        r"x has 10 samples but y has 9 labels",
    ),
    (
        "test_length_mismatch",
        lambda t: Dataset.from_arrays(*_arrays(), x_test=np.zeros((4, 3)), y_test=[0, 1]),
        r"x_test has 4 samples but y_test has 2 labels",
    ),
    (
        "only_x_test",
        lambda t: Dataset.from_arrays(*_arrays(), x_test=np.zeros((4, 3))),
        r"only one of x_test / y_test",
    ),
    (
        "labels_too_big",
        lambda t: Dataset.from_arrays(np.zeros((6, 2)), [0, 1, 2, 5, 0, 1], num_classes=3),
        r"labels in \[0, 5\], expected \[0, 3\)",
    ),
    (
        "labels_negative",
        lambda t: Dataset.from_arrays(np.zeros((6, 2)), [0, 1, -1, 1, 0, 1]),
        r"y holds the whole numbers -1, 0, 1, not the class ids 0\.\.2: pass "
        r"task='classification'",
    ),
    (
        "labels_fractional_as_classification",
        lambda t: Dataset.from_arrays(np.zeros((4, 2)), [0, 0.5, 1, 1], task="classification"),
        r'task="classification" but y holds non-integer values \(e\.g\. 0\.5\).*'
        r'Pass task="regression"',
    ),
    (
        "labels_strings",
        # Text labels are classes (as in a CSV); as regression targets they are refused.
        lambda t: Dataset.from_arrays(np.zeros((2, 2)), ["cat", "dog"], task="regression"),
        r"y holds text \(e\.g\. 'cat'\): regression needs numeric targets",
    ),
    (
        "labels_multi_hot",  # one-hot rows are classes; rows with two 1s are not
        lambda t: Dataset.from_arrays(np.zeros((2, 2)), np.ones((2, 2))),
        r"shape \(2, 2\) and only whole-number values, but its rows are not one-hot.*"
        r'pass task=.*task="regression"',
    ),
    (
        "labels_multi_hot_as_classification",
        lambda t: Dataset.from_arrays(np.zeros((2, 2)), np.ones((2, 2)), task="classification"),
        r"class ids of shape \(n,\) or one-hot rows.*got shape \(2, 2\) with rows that are "
        r"not one-hot.*regression",
    ),
    (
        "unknown_task",
        lambda t: Dataset.from_arrays(*_arrays(), task="ranking"),
        r"Unknown task='ranking'; choose one of \['classification', 'regression'\]",
    ),
    (
        "regression_with_num_classes",
        lambda t: Dataset.from_arrays(*_arrays(), task="regression", num_classes=2),
        r'task="regression" has no classes, got num_classes=2',
    ),
    (
        "regression_3d_targets",
        lambda t: Dataset.from_arrays(np.zeros((20, 2)), np.zeros((20, 2, 2)) + 0.5),
        r"y has shape \(20, 2, 2\): regression targets must have shape \(n,\) or \(n, k\)",
    ),
    (
        "regression_nan_target",
        lambda t: Dataset.from_arrays(np.zeros((20, 2)), np.r_[np.nan, np.full(19, 0.5)]),
        r"y contains 1 non-finite value",
    ),
    (
        "regression_too_few",
        lambda t: Dataset.from_arrays(np.zeros((2, 2)), [0.5, 1.5]),
        r"2 sample\(s\) split 1 validation / 1 test leave none to train on",
    ),
    (
        "dict_x_lengths",
        lambda t: Dataset.from_arrays(
            {"image": np.zeros((20, 4, 4)), "meta": np.zeros((19, 3))}, np.arange(20) % 2
        ),
        r"x\['image'\] has shape \(20, 4, 4\) but x\['meta'\] has shape \(19, 3\)",
    ),
    (
        "dict_x_vs_y",
        lambda t: Dataset.from_arrays(
            {"image": np.zeros((20, 4)), "meta": np.zeros((20, 3))}, np.arange(19) % 2
        ),
        r"x has 20 samples but y has 19 labels",
    ),
    (
        "dict_y_mixed_tasks",
        lambda t: Dataset.from_arrays(
            np.zeros((20, 3)), {"kind": np.arange(20) % 2, "size": np.linspace(0, 1, 20)}
        ),
        r"The outputs of y mix tasks .*Pass task=",
    ),
    (
        "single_class",
        lambda t: Dataset.from_arrays(np.zeros((20, 2)), np.zeros(20, int)),
        r"^y holds one value only \(all 20 are 0\): one class, or a constant quantity\.",
    ),
    (
        "single_value_not_ids",  # probe C: "not the class ids 0..0", then a second refusal
        lambda t: Dataset.from_arrays(np.zeros((20, 2)), np.full(20, 7)),
        r"^y holds one value only \(all 20 are 7\): one class, or a constant quantity\.",
    ),
    (
        "single_float_value",
        lambda t: Dataset.from_arrays(np.zeros((20, 2)), np.ones(20)),
        r"^y holds one value only \(all 20 are 1\): one class",
    ),
    (
        "single_class_too_few_to_split",  # said before the split sizes: more rows won't help
        lambda t: Dataset.from_arrays(
            np.random.rand(9, 2), np.zeros(9, int), class_names=["a", "b"]
        ),
        r"^y holds one value only \(all 9 are 'a', class 0\): one class, or a constant",
    ),
    (
        "class_names_mismatch",
        lambda t: Dataset.from_arrays(*_arrays(), class_names=["a"]),
        r"1 class_names for num_classes=2",
    ),
    (
        "nan_in_x",
        lambda t: Dataset.from_arrays(_NAN, np.arange(20) % 2),
        r"x contains 3 non-finite value\(s\) \(NaN or inf\)",
    ),
    (
        "inf_in_x_test",
        lambda t: Dataset.from_arrays(*_arrays(), x_test=[[np.inf, 0, 0]], y_test=[0]),
        r"x_test contains 1 non-finite",
    ),
    ("nan_in_val_split", lambda t: _direct(x_val=_NAN), r"x_val contains 3 non-finite"),
    (  # finite, but inf in float32: it was called "NaN or inf"
        "beyond_float32",
        lambda t: Dataset.from_arrays(np.full((20, 2), 1e40), np.arange(20) % 2),
        r"x holds 40 finite value\(s\) beyond float32's range \(about 3.4e38\), e\.g\. 1e\+40",
    ),
    (  # 2**40 + {0, 1, 2} are one float32 value: it was called "constant"
        "targets_beyond_float32_precision",
        lambda t: Dataset.from_arrays(
            np.arange(60.0).reshape(30, 2), 2**40 + np.arange(30) % 3, task="regression"
        ),
        r"^y holds whole numbers beyond 2\*\*24 \(16777216\) that float32, in which Keras "
        r"trains, cannot keep apart: 3 distinct values become 1 \(1099511627776 and "
        r"1099511627777 are both 1099511627776\)\. If they are a quantity .* to the "
        r"predictions\.$",
    ),
    (
        "float64_targets_beyond_float32_precision",
        lambda t: Dataset.from_arrays(
            np.arange(60.0).reshape(30, 2), 1e9 + np.linspace(0, 1e-3, 30), task="regression"
        ),
        r"y varies \(1000000000\.0, 1000000000\.0000345, \.\.\.\) only beyond float32",
    ),
    (
        "a_feature_beyond_float32_precision",
        lambda t: Dataset.from_arrays(
            np.c_[np.arange(30.0), 1.7e9 + 0.25 * (np.arange(30) % 3)], np.arange(30) % 2
        ),
        r"x's column 1 varies \(1700000000\.0, 1700000000\.25, \.\.\.\) only beyond",
    ),
    (  # 140 timestamps a day apart at most: float32 (128 s apart there) made them 128
        "int64_timestamp_targets_partly_merged",
        lambda t: Dataset.from_arrays(
            np.arange(280.0).reshape(140, 2), _TIMESTAMPS, task="regression"
        ),
        r"y holds whole numbers beyond 2\*\*24 \(16777216\) that float32, in which Keras "
        r"trains, cannot keep apart: 140 distinct values become 128 \(\d+ and \d+ are both "
        r"\d+\)\. If they are a quantity \(a timestamp, a count\), subtract an offset, the "
        r"same from every split, first \(e\.g\. offset = y\.min\(\) over the training data, "
        r"then y - offset\), and add it back to the predictions\.",
    ),
    (  # a DataFrame is converted as a whole: load_csv refused the same column by name
        "dataframe_timestamp_column_next_to_reals",
        lambda t: Dataset.from_arrays(
            __import__("pandas").DataFrame({"v": np.arange(140) / 7, "ts": _TIMESTAMPS}),
            np.arange(140) % 2,
        ),
        r"x's column 1 \('ts'\) holds whole numbers beyond 2\*\*24 .* 140 distinct values "
        r"become 128 .*offset = x\.min\(axis=0\) over the training data, then x - offset\)\. "
        r"If they are identifiers",
    ),
    (  # whole float64 values (integers stored as floats) next to a real-valued column
        "float64_whole_timestamps_next_to_reals",
        lambda t: Dataset.from_arrays(
            np.c_[np.arange(140) / 7, _TIMESTAMPS.astype(float)], np.arange(140) % 2
        ),
        r"x's column 1 holds whole numbers beyond 2\*\*24 .* 140 distinct values become 128",
    ),
    (  # IDs next to a real column: it was the timestamp advice alone, the IDs shown as floats
        "dataframe_ids_next_to_reals_get_the_identifier_advice",
        lambda t: Dataset.from_arrays(
            __import__("pandas").DataFrame(
                {"cust": 2**40 + np.arange(140) % 9, "amount": np.arange(140) / 7}
            ),
            np.arange(140) % 2,
        ),
        r"^x's column 0 \('cust'\) holds whole .* 9 distinct values become 1 \(1099511627776 and "
        r"1099511627777 are both 1099511627776\)\. .* If they are identifiers, .* or pass them "
        r"apart as an int64 array \(a dict x\) to a keras\.Input of dtype='int64', or drop",
    ),
    (  # NumPy's "could not convert string to float: 'x'" named no column and no fix
        "dataframe_category_and_date_columns",
        lambda t: Dataset.from_arrays(
            __import__("pandas").DataFrame(
                {
                    "a": np.arange(40.0),
                    "c": __import__("pandas").Categorical(["x", "y"] * 20),
                    "d": __import__("pandas").date_range("2020-01-01", periods=40),
                }
            ),
            np.arange(40) % 2,
        ),
        r"^x must be numeric \(convertible to float32\), and its columns 'c' \(category\), "
        r"'d' \(datetime64\[\w+\]\) are not\. Encode them first: .*pandas\.get_dummies.*"
        r"\(d - d\.min\(\)\)\.dt\.days\)\.$",
    ),
    (  # one input of a dict x: its own key, not "a dict x" again
        "a_dict_inputs_timestamps_keep_their_key",
        lambda t: Dataset.from_arrays(
            {"t": np.c_[_TIMESTAMPS.astype(float), np.arange(140) / 7]}, np.arange(140) % 2
        ),
        r"x\['t'\]'s column 0 holds whole .* keep them as an int64 array under their key of x ",
    ),
    (  # each split's own minimum would shift them apart: one offset, named by x
        "test_split_timestamps_get_one_offset_for_every_split",
        lambda t: Dataset.from_arrays(
            np.arange(280.0).reshape(140, 2),
            np.arange(140) % 2,
            x_test=np.c_[np.arange(140) / 7, _TIMESTAMPS.astype(float)],
            y_test=np.arange(140) % 2,
        ),
        r"x_test's column 1 holds whole .*\(e\.g\. offset = x\.min\(axis=0\) over the "
        r"training data, then x - offset\)\. If",
    ),
    (
        "one_output_beyond_float32_precision",
        lambda t: _direct(
            y_train={"a": np.arange(20.0), "b": 2**40 + np.arange(20) % 3},
            y_val={"a": np.arange(20.0), "b": np.arange(20.0)},
            y_test={"a": np.arange(20.0), "b": np.arange(20.0)},
            task="regression",
        ),
        r"y_train\['b'\] holds whole numbers beyond 2\*\*24 .* 3 distinct values become 1 .*"
        r"offset = y\['b'\]\.min\(\) over the training data, then y\['b'\] - offset\), and "
        r"add it back to the predictions\.$",
    ),
    (  # Keras's ignore_class=-1 rows: the fix is to drop them, not to relabel them
        "ignored_rows",
        lambda t: Dataset.from_arrays(np.zeros((30, 2)), np.arange(30) % 3 - 1),
        r"whole numbers -1, 0, 1.* If they mark rows to leave out \(a loss's ignore_class=-1\), "
        r"drop those rows instead.*keep = y >= 0; x, y = x\[keep\], y\[keep\]",
    ),
    (  # one output of several: dropping rows would drop the other outputs' labels
        "ignored_rows_of_one_output",
        lambda t: Dataset.from_arrays(
            np.zeros((30, 2)), {"digit": np.arange(30) % 3 - 1, "parity": np.arange(30) % 2}
        ),
        r"y_train\['digit'\] has labels in \[-1, 1\].* If they mark rows a loss's "
        r"ignore_class=-1 leaves out of this output.*pass task='regression'",
    ),
    (
        "ignored_rows_with_num_classes",
        lambda t: Dataset.from_arrays(np.zeros((30, 2)), np.arange(30) % 3 - 1, num_classes=3),
        r"labels in \[-1, 1\].* If they mark rows to leave out \(a loss's ignore_class=-1\)",
    ),
    (
        "class_too_small_arrays",
        lambda t: Dataset.from_arrays(np.zeros((12, 2)), [0] * 10 + [1] * 2),
        r"1 class of 2 has fewer than 3 samples: '1' \(2 samples\)",
    ),
    (
        "shape_mismatch",
        lambda t: _direct(x_test=np.zeros((20, 4))),
        r"x_test samples have shape \(4,\), expected input_shape \(3,\)",
    ),
    (
        "subset_negative",
        lambda t: _direct().subset(num_val=-1),
        r"num_val must be a non-negative int",
    ),
    ("empty_train", lambda t: _direct().subset(num_train=0), r"training split is empty"),
]


@pytest.mark.parametrize(
    ("case", "message"), [pytest.param(call, msg, id=name) for name, call, msg in ERROR_CASES]
)
def test_errors(case, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        case(tmp_path)


def test_large_values_float32_keeps_apart_are_kept():
    """Timestamps in seconds (float32 keeps them 128 s apart) and large ids that float32
    rounds but does not merge into one value are taken, as Keras takes them."""
    x = np.c_[np.arange(40.0), 1.7e9 + 1000.0 * np.arange(40)]
    data = Dataset.from_arrays(x, 2**40 + 2**20 * np.arange(40), task="regression", seed=0)
    assert np.ptp(data.y_train) > 0
    assert np.ptp(data.x_train[:, 1]) > 0


def test_real_values_float32_rounds_a_little_are_taken_as_keras_takes_them():
    """Real values float32 moves by less than a tenth of their spread are taken as Keras
    takes them: years and a day of fractional timestamps, prices, kelvins, a latitude to
    0.2 m on a spread of 50 m (0.4%, 1,000 values become 452), a city's longitudes; so is a
    column of IDs float32 merges, given as a 64-bit integer array (kept as given, for an
    integer keras.Input: `check_input_precision`)."""
    rng = np.random.default_rng(0)
    n = 1000
    x = np.c_[
        1.6e9 + rng.uniform(0, 3e7, n) + 0.5,
        1.7e9 + rng.uniform(0, 86400, n) + 0.25,
        51.5074 + rng.normal(0, 5e-4, n),
        -73.98 + rng.normal(0, 3e-4, n),
        273.15 + rng.normal(20, 0.01, n),
    ]
    data = Dataset.from_arrays(x, 1.7e9 + rng.uniform(0, 86400, n), task="regression", seed=0)
    assert data.x_train.dtype == np.float32
    ids = (2**40 + np.arange(140) % 50).reshape(-1, 1)
    kept = Dataset.from_arrays(ids, (np.arange(140) // 50) % 2, seed=0)  # not copies
    assert kept.x_train.dtype == np.int64
    assert np.isin(kept.x_train, ids).all() and len(np.unique(kept.x_train)) > 40


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(lambda r: np.round(1.7e9 + 100 * r.normal(size=400)) + 0.5, id="half"),
        pytest.param(lambda r: 1.7e9 + r.normal(0, 300, 400), id="minutes"),
        pytest.param(lambda r: 5000 + 1e-4 * r.normal(size=400), id="tiny-spread"),
        pytest.param(lambda r: 1e20 + r.normal(0, 1e13, 400), id="beyond-2**53"),
        pytest.param(
            lambda r: np.where(r.normal(size=400) > 0, 1.7e9 + 192.1, 1.7e9 + 63.9),
            id="two-levels-not-merged",
        ),
        pytest.param(
            lambda r: np.where(r.normal(size=400) > 0, 1.7e9 + 193, 1.7e9 + 63.0),
            id="two-whole-levels-not-merged",
        ),
    ],
)
def test_values_float32_moves_by_their_spread_are_refused(values):
    """Fractional targets at 1.7e9 + 0.5 were taken while the same whole numbers were
    refused: float32 made 244 distinct values 6, and the run reported an MSE against
    targets moved by up to 63 on a spread of 101 (exit 0). Two levels 128 apart there keep
    apart but move by their whole spread (a reported R² of 1.0 against 0.002 on the given
    values). Values float32 moves by a tenth of their spread or more are refused, as
    targets and as a feature, with the offset fix."""
    column = values(np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(400, 2))
    merged = len(np.unique(column.astype(np.float32))) < len(np.unique(column))
    said = r"\d+ distinct values become \d+" if merged else "it moves them"  # not "2 become 2"
    with pytest.raises(
        DataError,
        match=rf"^y holds values that float32.* cannot keep as they are: {said} \(.*\), each "
        r"moved by up to .*subtract an offset, the same from every",
    ):
        Dataset.from_arrays(x, column, task="regression", seed=0)
    with pytest.raises(DataError, match=r"^x's column 1 holds values that float32"):
        Dataset.from_arrays(np.c_[x[:, 0], column], np.arange(400) % 2, seed=0)


def test_wide_ranging_whole_numbers_float32_rounds_a_little_are_taken():
    """Amounts in cents up to 1e10 and years of timestamps: float32 merges a few of 20,000
    (512 apart at 1e10) but rounds them by a millionth of their spread, harmless, as Keras
    takes them. Only rounding by a thousandth of the spread or more is refused (an offset
    that dwarfs the variation: a day of timestamps, `2**40 + k`)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    cents = rng.integers(10**9, 10**10, 20_000)
    years = 1_500_000_000 + rng.integers(0, 10 * 365 * 86400, 20_000)
    assert len(np.unique(cents.astype(np.float32))) < len(np.unique(cents))  # merged, a few
    labels = np.arange(20_000) % 2
    frame = pd.DataFrame({"cents": cents, "v": rng.random(20_000)})
    for x, y, task in [
        (np.c_[cents.astype(float), rng.random(20_000)], labels, None),
        (frame, labels, None),
        (rng.random((20_000, 2)), cents, "regression"),
        (rng.random((20_000, 2)), years.astype(float), "regression"),
    ]:
        data = Dataset.from_arrays(x, y, task=task, seed=0)
        assert data.x_train.dtype == np.float32


def test_a_dataframe_of_ids_is_kept_as_int64_and_float64_ids_as_given():
    """A DataFrame of integer columns was converted to float32 as a whole (its IDs
    `2**40 + k` refused as "constant"): it is kept as its int64 array, as an int64 array
    is. Whole float64 IDs are kept as given, as the user's own arrays will be at
    prediction (the check before training refuses them for an int64 `Input`, which Keras
    would feed them to as float32: `check_input_precision`)."""
    import pandas as pd

    ids = 2**40 + np.arange(140) % 20
    labels = (np.arange(140) // 20) % 2  # (not each sample 7 times: data written 7 times)
    data = Dataset.from_arrays(pd.DataFrame({"id": ids, "k": ids - 2**40}), labels)
    assert data.x_train.dtype == np.int64 and data.x_train.shape[1:] == (2,)
    assert np.isin(data.x_train[:, 0], ids).all() and len(np.unique(data.x_train[:, 0])) == 20
    floats = Dataset.from_arrays(ids.astype(float).reshape(-1, 1), labels)
    assert floats.x_train.dtype == np.float64


def test_images_cut_short_are_named_before_training_and_whole_ones_pass(tmp_path):
    """A file cut after its header passed the header check; the first trial's decoding then
    failed with a TensorFlow error that named no file (PNG: "Error in PNG stream")."""
    import tensorflow as tf

    root = _folder(tmp_path, {"bear": 3, "cog": 3})
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    for name, fmt in [("a.png", "PNG"), ("b.jpg", "JPEG"), ("c.gif", "GIF"), ("d.bmp", "BMP")]:
        noise.save(root / "bear" / name, fmt)
        whole = (root / "bear" / name).read_bytes()
        (root / "cog" / f"cut_{name}").write_bytes(whole[: len(whole) // 2])
    # A PNG whose data was damaged or cut, its IEND chunk kept: its checksums tell.
    whole = (root / "bear" / "a.png").read_bytes()
    damaged = bytearray(whole)
    start = damaged.index(b"IDAT")
    damaged[start + 20 : start + 60] = bytes(40)
    (root / "cog" / "cut_e.png").write_bytes(bytes(damaged))
    end = whole.index(b"IEND") - 4
    (root / "cog" / "cut_f.png").write_bytes(whole[: end // 2] + whole[end:])
    # A JPEG with bytes after its end mark (as some cameras write) is whole.
    (root / "bear" / "trailer.jpg").write_bytes((root / "bear" / "b.jpg").read_bytes() + bytes(99))
    with pytest.raises(tf.errors.InvalidArgumentError):  # what the first trial met
        tf.io.decode_image(
            tf.io.read_file(str(root / "cog" / "cut_a.png")), expand_animations=False
        )
    tf.io.decode_image(tf.io.read_file(str(root / "bear" / "trailer.jpg")))
    cut = ("cut_a.png", "cut_b.jpg", "cut_c.gif", "cut_d.bmp", "cut_e.png", "cut_f.png")
    with pytest.raises(DataError, match=r"Could not read 6 images: ") as caught:
        folder_format(root)
    for name in cut:
        assert name in str(caught.value)
    for name in cut:
        (root / "cog" / name).unlink()
    assert folder_format(root) == ((4, 4), "rgb")  # the whole files pass


def test_dataset_built_directly_refuses_labels_with_a_gap_as_from_arrays_does():
    """Before, labels 1..3 made 4 classes, class 0 with no sample and a dead output unit."""
    x = np.zeros((30, 3))
    y = np.arange(30) % 3 + 1
    with pytest.raises(
        DataError, match=r"class id\(s\) 0 never occur in the labels.*num_classes=K"
    ):
        Dataset(x[:12], y[:12], x[12:21], y[12:21], x[21:], y[21:])
    # Saying the classes exist is the way to keep an id without samples.
    assert (
        Dataset(x[:12], y[:12], x[12:21], y[12:21], x[21:], y[21:], num_classes=4).num_classes == 4
    )
    named = Dataset(x[:12], y[:12], x[12:21], y[12:21], x[21:], y[21:], class_names="abcd")
    assert named.class_names == ["a", "b", "c", "d"]


def test_a_column_of_labels_is_taken_as_labels(tmp_path):
    # Keras's CIFAR layout: y of shape (n, 1). The old advice (argmax) made every label 0.
    x = np.random.default_rng(0).integers(0, 255, (30, 4, 4), dtype=np.uint8)
    y = (np.arange(30) % 3).reshape(-1, 1)
    x_test = np.random.default_rng(1).integers(0, 255, (9, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "column.npz", x_train=x, y_train=y, x_test=x_test, y_test=y[:9])
    data = load_npz(tmp_path / "column.npz")
    assert data.num_classes == 3
    np.testing.assert_array_equal(
        np.sort(np.concatenate([data.y_train, data.y_val])), np.sort(y[:, 0])
    )


def test_a_class_never_seen_in_training_is_refused_before_any_run(tmp_path):
    from tunekit import CoarseToFine

    rng = np.random.default_rng(0)
    data = Dataset(
        rng.random((8, 3)),
        np.arange(8) % 2,
        rng.random((4, 3)),
        np.arange(4) % 2,
        rng.random((6, 3)),
        np.arange(6) % 3,
        class_names=["a", "b", "c"],
        input_shape=(3,),
        num_classes=3,
    )
    assert data.classes_missing_from_training() == ["c"]
    with pytest.raises(
        ValueError,
        match=r"class\(es\) \['c'\] occur in the validation or "
        r"test labels but never in y_train",
    ):
        CoarseToFine(lambda hp: None, data, directory=tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_list_of_input_arrays_is_told_to_be_a_dict_keyed_by_input_names():
    """Keras takes a list x for a multi-input model; tunekit's splits take a dict."""
    rng = np.random.default_rng(0)
    with pytest.raises(DataError, match="x is a list of 2 input arrays of 40") as caught:
        Dataset.from_arrays([rng.random((40, 5)), rng.random((40, 8))], np.arange(40) % 2)
    assert "as a dict keyed by the names of the model's keras.Input" in str(caught.value)


def test_a_list_of_target_arrays_is_told_to_be_a_dict_keyed_by_output_names():
    """Keras's `fit(x, [y1, y2])` form read as 2 labels ("x has 1797 samples but y has 2
    labels") or as a (2, n) array of rows."""
    x = np.random.default_rng(0).random((50, 4))
    for y in ([np.arange(50) % 2, np.arange(50) % 3], (np.arange(50) % 2, np.linspace(0, 1, 50))):
        with pytest.raises(DataError, match=r"y is a \w+ of 2 target arrays of 50 samples") as e:
            Dataset.from_arrays(x, y)
        assert "y={'digit': y_digit, 'size': y_size} for keras.Model" in str(e.value)
    assert Dataset.from_arrays(x, list(np.arange(50) % 2)).task == "classification"


def test_dataset_task_none_infers_the_task_and_the_error_says_how():
    """`Dataset(..., task=None)` kept `None` as its task (and scored the data as classes);
    the error for real-valued targets advised "leave task= unset", which is classification."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    values, ids = x[:, 0] * 3.5, (x[:, 0] > 0).astype(int)
    splits = lambda y: (x[:40], y[:40], x[40:50], y[40:50], x[50:], y[50:])  # noqa: E731
    assert Dataset(*splits(values), task=None).task == "regression"
    assert Dataset(*splits(ids), task=None).task == "classification"
    one_hot = np.eye(2, dtype="float32")[ids]  # keras.utils.to_categorical's rows
    assert Dataset(*splits(one_hot), task=None).task == "classification"
    with pytest.raises(DataError, match=r'Pass task="regression" \(or task=None to infer it'):
        Dataset(*splits(values))
    assert Dataset(*splits(values), task="regression").task == "regression"


@pytest.mark.parametrize("key", ["x_train", "x_test"])
def test_text_inputs_are_refused_as_the_npz_loader_refuses_them(key):
    """`from_arrays` read numbers written as text as numbers, where a .npz of the same
    arrays was refused ("dtype <U32 ... expected numbers")."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.normal(size=(40, 3)).astype("float32"),
        "x_test": rng.normal(size=(10, 3)).astype("float32"),
    }
    arrays[key] = arrays[key].astype(str) if key == "x_train" else arrays[key].astype(object)
    if key == "x_test":  # text in an object array (which numpy turns into numbers too)
        arrays[key][3, 1] = "1.5"
    with pytest.raises(
        DataError, match=r"holds text \(dtype (<U\d+|object)\), not numbers.*astype"
    ):
        Dataset.from_arrays(
            arrays["x_train"], np.arange(40) % 2, x_test=arrays["x_test"], y_test=np.arange(10) % 2
        )


def test_a_non_finite_input_is_named_in_the_file_s_array_and_row(tmp_path):
    """An inf in x_train of a .npz without x_val was said to be in x_val (the validation
    split taken out of x_train), with no row."""
    rng = np.random.default_rng(0)
    x_train = rng.normal(size=(60, 4)).astype("float32")
    x_train[37, 2] = np.inf
    path = tmp_path / "inf.npz"
    np.savez(
        path,
        x_train=x_train,
        y_train=np.arange(60) % 2,
        x_test=rng.normal(size=(10, 4)).astype("float32"),
        y_test=np.arange(10) % 2,
    )
    with pytest.raises(DataError, match=r"x_train contains 1 non-finite.*sample 37"):
        load_npz(path)


def test_a_split_that_one_sample_per_class_makes_larger_than_asked_says_so():
    """50 classes in 178 samples: validation and test took 50 each (28%, against the 15%
    asked) and training lost 37% of its rows, and nothing said so. A Python warning: the
    caller's script shows it, whether or not it set up logging."""
    import warnings

    x = np.random.default_rng(0).normal(size=(178, 4)).astype("float32")
    with pytest.warns(UserWarning) as said:
        data = Dataset.from_arrays(x, np.arange(178) % 50)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (78, 50, 50)
    text = str(said[0].message)
    assert "of each of the 50 classes in validation and in test" in text
    assert "validation 50 (28%, asked 15%), test 50 (28%, asked 15%)" in text
    assert said[0].filename == __file__  # points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dataset.from_arrays(x, np.arange(178) % 3)  # 124 / 27 / 27: as asked, no warning


def test_integers_float32_cannot_hold_are_kept_as_given():
    """IDs of 2**24 and above (for an `IntegerLookup`) were cast to float32, which made
    16777216 and 16777217 one value: 0.54 test accuracy against 0.95 in plain KerasTuner,
    with exit 0. Small integers are float32 as before."""
    rng = np.random.default_rng(0)
    ids = rng.choice([2**24, 2**24 + 1, 2**25, 2**25 + 1], size=(60, 1)).astype("int64")
    x = {"num": rng.normal(size=(60, 2)), "cat": ids, "small": rng.integers(0, 9, (60, 1))}
    data = Dataset.from_arrays(x, np.arange(60) % 2, seed=0)
    both = np.concatenate([data.x_train["cat"], data.x_val["cat"], data.x_test["cat"]])
    assert both.dtype == np.int64 and sorted(both.ravel()) == sorted(ids.ravel())
    assert data.x_train["num"].dtype == data.x_train["small"].dtype == np.float32
    # The same IDs in a float64 array (as pandas gives a column with a missing value filled)
    # were merged too; an integer Input receives them exactly from Keras.
    data = Dataset.from_arrays({**x, "cat": ids.astype("float64")}, np.arange(60) % 2, seed=0)
    both = np.concatenate([data.x_train["cat"], data.x_val["cat"], data.x_test["cat"]])
    assert len(np.unique(both)) == 4 and sorted(both.ravel()) == sorted(ids.ravel())
    # Large numbers that are not whole, or beyond any integer, are float32 as before.
    for values in (ids + 0.5, ids * 1e30):
        data = Dataset.from_arrays({**x, "cat": values}, np.arange(60) % 2, seed=0)
        assert data.x_train["cat"].dtype == np.float32


def test_an_npz_array_under_a_near_name_is_refused_and_others_are_said(tmp_path, caplog):
    """`x_valid`/`y_valid` (for `x_val`/`y_val`) and `classnames` were left out with exit 0:
    the user's validation split unused, another carved out of x_train in its place."""
    import logging

    from tunekit.data import load_npz

    rng = np.random.default_rng(0)
    arrays = dict(
        x_train=rng.random((60, 4)),
        y_train=np.arange(60) % 3,
        x_test=rng.random((30, 4)),
        y_test=np.arange(30) % 3,
    )
    np.savez(
        tmp_path / "valid.npz", **arrays, x_valid=rng.random((30, 4)), y_valid=np.arange(30) % 3
    )
    with pytest.raises(DataError, match=r"\('x_valid' -> 'x_val', 'y_valid' -> 'y_val'\)"):
        load_npz(tmp_path / "valid.npz")
    np.savez(tmp_path / "names.npz", **arrays, classnames=np.array(["a", "b", "c"]))
    with pytest.raises(DataError, match=r"\('classnames' -> 'class_names'\)"):
        load_npz(tmp_path / "names.npz")
    for x_name, y_name in (
        ("val_x", "val_y"),
        ("x_validation", "y_validation"),
        ("X_dev", "Y_dev"),
    ):
        split = {x_name: rng.random((30, 4)), y_name: np.arange(30) % 3}
        np.savez(tmp_path / "other.npz", **arrays, **split, target_names=np.array(["a", "b", "c"]))
        with pytest.raises(DataError) as refused:
            load_npz(tmp_path / "other.npz")
        message = str(refused.value)
        assert f"'{x_name}' -> 'x_val'" in message and f"'{y_name}' -> 'y_val'" in message
        assert "'target_names' -> 'class_names'" in message
    # Unrelated arrays are no validation split: left out, with a warning.
    for name in ("x_all", "x_cal", "class_ids"):
        np.savez(tmp_path / "unrelated.npz", **arrays, **{name: rng.random((60, 4))})
        load_npz(tmp_path / "unrelated.npz")
    np.savez(
        tmp_path / "extra.npz", **arrays, x_train_raw=rng.random((60, 4)), notes=np.array(["v2"])
    )
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        data = load_npz(tmp_path / "extra.npz")
    assert len(data.x_train) + len(data.x_val) == 60
    assert "['notes', 'x_train_raw'] are not among those tunekit reads" in caplog.text


def test_a_feature_float32_turns_to_zeros_is_refused_and_a_tiny_value_is_not():
    """A column scaled by 1e-60 became all zeros in float32 with exit 0: the feature lost."""
    rng = np.random.default_rng(0)
    x = rng.random((40, 3))
    x[:, 1] *= 1e-60
    with pytest.raises(DataError, match=r"x's feature \(1,\) holds only values too small"):
        Dataset.from_arrays(x, np.arange(40) % 2)
    x[:, 1] *= 1e18  # 1e-42: float32's subnormal range, which TensorFlow flushes to 0
    with pytest.raises(DataError, match=r"x's feature \(1,\) holds only values too small"):
        Dataset.from_arrays(x, np.arange(40) % 2)
    with pytest.raises(DataError, match=r"x's feature \(0,\) holds only values too small"):
        Dataset.from_arrays(rng.random(40) * 1e-60, np.arange(40) % 2)  # one feature, (n,)
    x[:, 1] = rng.random(40)
    x[0, 1] = 1e-60  # one value rounds to 0: nothing lost worth a refusal
    assert Dataset.from_arrays(x, np.arange(40) % 2, seed=0).x_train.dtype == np.float32


def test_a_list_of_input_arrays_of_one_shape_is_told_to_be_a_dict():
    """Found by a helper: `x=[x_a, x_b]` (Keras's list of inputs) of one shape was refused
    as "x has 2 samples but y has 569 labels", which says nothing of the dict to pass."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    with pytest.raises(DataError, match=r"x is a list of 2 input arrays of 569 samples each"):
        Dataset.from_arrays([x[:, :15], x[:, 15:]], y)
    # A list of per-sample arrays is still one array of samples.
    data = Dataset.from_arrays([row for row in x[:60]], y[:60], seed=0)
    assert data.x_train.shape[1:] == (30,)


def test_pandas_rows_paired_by_position_must_share_their_index():
    """A shuffled DataFrame `x` with its target Series kept in index order (a perfect
    function of x by label) was paired by position: test accuracy at chance, exit 0, and
    the report blamed the features' scaling. Each split's pandas indexes must agree (`x`
    and `y`, each array of a dict too); aligned or plain arrays are taken."""
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"f": rng.normal(size=200), "g": rng.normal(size=200)})
    target = (frame["f"] > 0).astype(int)
    shuffled = frame.sample(frac=1, random_state=0)
    align = r"Align them by label first \(y = y\.loc\[x\.index\]\), or, if their positions"
    with pytest.raises(
        DataError,
        match=r"^y's index differs from x's: it holds the same labels "
        r"in another order \(x's first row is 18, y's is 0\)\. .*" + align,
    ):
        Dataset.from_arrays(shuffled, target)
    moved = pd.Series(target.to_numpy(), index=range(1000, 1200))
    with pytest.raises(DataError, match=r"200 of x's index labels are not in y's \(e\.g\. 0\)"):
        Dataset.from_arrays(shuffled, moved)
    with pytest.raises(DataError, match=r"^y_test's index differs from x_test's"):
        Dataset.from_arrays(shuffled, target.loc[shuffled.index], x_test=frame, y_test=moved)
    with pytest.raises(DataError, match=r"^x\['b'\]'s index differs from x\['a'\]'s"):
        Dataset.from_arrays({"a": shuffled, "b": frame}, target.loc[shuffled.index])
    ordered = target.sort_index().loc[shuffled.index]
    with pytest.raises(DataError, match=r"^y_val's index differs from x_val's"):
        Dataset(
            shuffled[:100],
            ordered[:100],
            shuffled[100:150],
            target[100:150],
            shuffled[150:],
            ordered[150:],
        )
    taken = Dataset.from_arrays(shuffled, ordered, seed=0)
    assert taken.x_train.shape == (140, 2)
    # by position as given: f > 0 is the label of each row
    assert np.array_equal(taken.x_train[:, 0] > 0, taken.y_train == 1)
    plain = Dataset.from_arrays(shuffled, target.to_numpy(), seed=0)  # an array has no index
    assert plain.x_train.shape == (140, 2)


@pytest.mark.parametrize("dtype", ["Float64", "Float32", "Int64"])
def test_a_nullable_numeric_series_is_taken_as_its_numbers(dtype):
    """Probe A: a pandas nullable `Float64` (what `convert_dtypes()` and
    `dtype_backend="numpy_nullable"` give), `Float32` or `Int64` Series as regression
    targets crashed with "Cannot interpret 'Float64Dtype()' as a data type"."""
    import pandas as pd

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    values = np.round(x["a"].to_numpy() * 100.0) + 0.25 * (dtype != "Int64")
    y = pd.Series(np.round(values) if dtype == "Int64" else values).astype(dtype)
    data = Dataset.from_arrays(x, y, task="regression", seed=0)
    got = np.concatenate([data.y_train, data.y_val, data.y_test])
    np.testing.assert_allclose(np.sort(got), np.sort(y.to_numpy(dtype=np.float64)), rtol=1e-6)
    assert data.task == "regression"


def test_a_nullable_dataframe_gets_the_float32_checks_of_its_numpy_twin():
    """Probe C: `DataFrame.astype("Float64")` (or `convert_dtypes()`) of timestamps float32
    merges (300 distinct values become 6), or of `Int64` IDs beyond 2**24, was accepted,
    where the same frame of NumPy dtypes was refused by column."""
    import pandas as pd

    rng = np.random.default_rng(0)
    labels = np.arange(300) % 2
    stamps = pd.DataFrame({"a": rng.normal(size=300), "ts": 1.7e9 + rng.uniform(0, 600, 300)})
    ids = pd.DataFrame({"a": rng.normal(size=300), "id": 2**40 + rng.integers(0, 234, 300)})
    for frame, said in ((stamps, r"\('ts'\) holds values that float32"), (ids, r"\('id'\) holds")):
        for given in (frame, frame.convert_dtypes(), frame.astype({frame.columns[1]: "Float64"})):
            with pytest.raises(DataError, match=r"^x's column 1 " + said):
                Dataset.from_arrays(given, labels, seed=0)
    kept = Dataset.from_arrays(stamps.assign(ts=stamps.ts - 1.7e9).convert_dtypes(), labels)
    assert kept.x_train.dtype == np.float32 and kept.x_train.shape[1] == 2
