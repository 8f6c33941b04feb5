"""One leak verdict whatever path the same data comes in by (`tunekit.data._leak_rule`).

Found by a new-user probe: a folder of 3 classes x 25 grayscale PNGs plus 10
byte-for-byte copies of one image per class. `load_image_directory` warned
(8 of the 16 test samples also in training and validation); the command line's
`--data FOLDER` ran to exit 0 in silence (an image folder's splits were not
compared at all), and `StreamData` over the very same arrays, batched by 16,
accepted them too: continuity was judged on its first batch, under the 20
samples it needs, so the copies' own repeats excused them. Now every path
refuses (`DataError`) with the same counts.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tunekit.coarse_to_fine import main
from tunekit.data import Dataset, StreamData, load_image_directory
from tunekit.errors import DataError
from tunekit.image_streams import image_folder_stream

# The counts every path must give for `_dups` (seed 0 split of 105 files: 16 / 16 held out).
VERDICT = [
    ("validation", 3, 16, 19),
    ("test", 8, 16, 50),
]


def _dups(root: Path, copies: int = 10, images: int = 25) -> Path:
    """3 classes x `images` noisy 16x16 grayscale PNGs, plus `copies` byte-for-byte copies
    of each class's first image (the probe's `data/dups`)."""
    from PIL import Image

    rng = np.random.default_rng(123)
    for c, name in enumerate(["flat", "horiz", "vert"]):
        (root / name).mkdir(parents=True)
        for i in range(images):
            pixels = rng.integers(0, 60, (16, 16)).astype(np.uint8) + np.uint8(60 * c)
            Image.fromarray(pixels).save(root / name / f"g{i}.png")
        for i in range(copies):
            (root / name / f"copy{i}.png").write_bytes((root / name / "g0.png").read_bytes())
    return root


def _counts(message: str) -> list[tuple[str, int, int, int]]:
    """`(split, found, of, percent)` of each leak a refusal names."""
    found = re.findall(
        r"(\d+) of the (\d+) (?:samples|images) of the (validation|test) (?:split|stream) "
        r"\((\d+)%\) are also in",
        message,
    )
    return [(split, int(n), int(of), int(pct)) for n, of, split, pct in found]


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    """The folder's splits decoded as `load_image_directory` decodes them (it refuses them)."""
    from tunekit.data._checks import _scale_pixels
    from tunekit.data.images import _read_image

    stream = image_folder_stream(folder)
    arrays = {}
    for split, paths in stream.files.items():
        images = [_read_image(folder / path, "L", (16, 16))[..., None] for path in paths]
        arrays[f"x_{split}"] = _scale_pixels(np.stack(images))
        arrays[f"y_{split}"] = stream.labels[split]
    return arrays


def test_copies_across_an_image_folders_splits_get_one_verdict_by_every_path(tmp_path, capsys):
    folder = _dups(tmp_path / "dups")
    # The command line: before, exit 0, "73 train / 16 validation / 16 test", no warning.
    code = main(
        [
            "--data",
            str(folder),
            "--hypermodel",
            "toonvision-cnn",
            "--quick",
            "--directory",
            str(tmp_path / "runs"),
            "--backend",
            "tensorflow",
            "--progress",
            "plain",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert _counts(err) == VERDICT, err
    assert not (tmp_path / "runs").exists()  # refused before the run folder is made
    # The stream of the folder (Python): before, accepted without a word.
    with pytest.raises(DataError) as streamed:
        StreamData.from_image_folder(image_folder_stream(folder, batch_size=16))
    message = str(streamed.value)
    assert _counts(message) == VERDICT, message
    assert "byte-identical files of one class" in message and "score is leaked" in message
    assert re.search(
        r"e\.g\. \w+/copy\d\.png \(test\) and \w+/(copy\d|g0)\.png \(training\)", message
    )
    assert "Keep one file of each image" in message
    # Arrays: load_image_directory's Dataset (before: a UserWarning, and it went on).
    with pytest.raises(DataError) as arrays:
        load_image_directory(folder, (16, 16))
    assert _counts(str(arrays.value)) == VERDICT, arrays.value


@pytest.mark.parametrize(("batch", "known"), [(16, True), (64, True), (16, False)])
def test_stream_of_the_same_arrays_gets_the_arrays_verdict_whatever_its_batches(
    tmp_path, batch, known
):
    """Before: batches of 16 were accepted (continuity judged on the first batch, under the
    20 samples it needs), batches of 64 refused, and the `Dataset` only warned. A stream of
    unknown length (`filter`: read whole to count it) is judged on that pass."""
    data = _arrays(_dups(tmp_path / "dups"))
    splits = []
    for s in ("train", "val", "test"):
        split = tf.data.Dataset.from_tensor_slices((data[f"x_{s}"], data[f"y_{s}"]))
        splits.append((split if known else split.filter(lambda x, y: True)).batch(batch))
    with pytest.raises(DataError) as streamed:
        StreamData(*splits, fingerprint="dups", num_classes=3)
    with pytest.raises(DataError) as arrays:
        Dataset(*(data[f"{v}_{s}"] for s in ("train", "val", "test") for v in "xy"))
    assert _counts(str(streamed.value)) == _counts(str(arrays.value)) == VERDICT
    assert str(streamed.value).startswith("StreamData: 3 of the 16 samples of the validation")


def test_copies_a_split_of_few_values_holds_by_nature_pass_by_every_path(tmp_path):
    """Images of one flat level per class (every file of a class the same bytes): equal
    images are the data itself, not copies across splits, and no path refuses them."""
    from PIL import Image

    from tunekit.data._folder_leaks import check_folder_overlap

    for c, name in enumerate(["dark", "light"]):
        (tmp_path / "flat" / name).mkdir(parents=True)
        for i in range(30):
            Image.new("L", (8, 8), 40 + 150 * c).save(tmp_path / "flat" / name / f"{i}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        data = load_image_directory(tmp_path / "flat", (8, 8))
        check_folder_overlap(image_folder_stream(tmp_path / "flat"))  # from_image_folder's
        splits = [
            tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
            for x, y in (
                (data.x_train, data.y_train),
                (data.x_val, data.y_val),
                (data.x_test, data.y_test),
            )
        ]
        assert StreamData(*splits, fingerprint="flat", num_classes=2).num_classes == 2


def test_a_few_copies_below_the_share_are_accepted_by_every_path(tmp_path):
    """One copy of one image per class in 300 images: at most 3 of the 46 held out (7%)."""
    from tunekit.data._folder_leaks import check_folder_overlap

    folder = _dups(tmp_path / "few", copies=1, images=100)
    assert load_image_directory(folder, (16, 16)).num_classes == 3
    check_folder_overlap(image_folder_stream(folder))  # from_image_folder's check


def test_every_row_written_three_times_is_refused_by_every_path(tmp_path):
    """Found by a new-user probe: 150 rows of 8 noise features (3 decimals) with random
    labels, each row written three times, shuffled: exit 0 with a test accuracy of 0.82
    where the labels are noise (68 of 68 test rows also in training and validation). Each
    value's three copies made every feature look discrete, so the copies' own repeats were
    taken for nature. Continuity is judged on the distinct rows now."""
    import pandas as pd

    from tunekit.data import load_csv

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(150, 8)).round(3), columns=[f"f{i}" for i in range(8)])
    frame["label"] = rng.integers(0, 2, 150)
    tripled = pd.concat([frame] * 3).sample(frac=1, random_state=0).reset_index(drop=True)
    tripled.to_csv(tmp_path / "tripled.csv", index=False)
    said = r"are also in the training data .*take too many values for distinct samples to be"
    with pytest.raises(DataError, match=said):
        load_csv(tmp_path / "tripled.csv", target="label")
    x, y = tripled.drop(columns="label").to_numpy("float32"), tripled["label"].to_numpy()
    with pytest.raises(DataError, match=r"samples of the validation split \(\d+%\) are also in"):
        Dataset.from_arrays(x, y, seed=0)
    batches = [
        tf.data.Dataset.from_tensor_slices((x[a:b], y[a:b])).batch(16)
        for a, b in [(0, 300), (300, 375), (375, 450)]
    ]
    with pytest.raises(DataError, match=r"of the validation stream \(\d+%\) are also in"):
        StreamData(*batches, fingerprint="tripled")
    # The same rows once each: no leak.
    unique = frame.drop(columns="label").to_numpy("float32")
    assert Dataset.from_arrays(unique, frame["label"].to_numpy(), seed=0).x_test.shape == (22, 8)


def test_byte_copies_among_many_images_of_few_grey_levels_are_refused(tmp_path):
    """Found by a new-user probe: 3 classes x 60 noisy 16x16 PNGs (60 grey levels) plus a
    byte copy of half of them: exit 0, 23 of 41 test files copies of training files. No
    pixel held more distinct values than half the images (a pixel takes at most 256 levels,
    however many images), so the copies were taken for nature. An image's pixels together
    tell distinct images apart; images equal by nature (one flat image per class) are
    still accepted."""
    from PIL import Image

    rng = np.random.default_rng(1)
    folder = tmp_path / "copies"
    for c, name in enumerate(["horiz", "vert", "box"]):
        (folder / name).mkdir(parents=True)
        for i in range(60):
            pixels = rng.integers(0, 60, (16, 16)).astype(np.uint8)
            pixels[:: 4 if c == 0 else 1, :: 4 if c == 1 else 1] = 255 if c < 2 else pixels[0, 0]
            Image.fromarray(pixels).save(folder / name / f"{i:03d}.png")
            if i % 2:
                (folder / name / f"{i:03d}_copy.png").write_bytes(
                    (folder / name / f"{i:03d}.png").read_bytes()
                )
    with pytest.raises(DataError, match=r"byte-identical files of one class.*copies"):
        StreamData.from_image_folder(image_folder_stream(folder))
    flat = tmp_path / "flat"  # every image of a class the same: equal by nature
    for c, name in enumerate(["dark", "light"]):
        (flat / name).mkdir(parents=True)
        for i in range(40):
            Image.fromarray(np.full((16, 16), 60 + 120 * c, np.uint8)).save(
                flat / name / f"{i}.png"
            )
    assert StreamData.from_image_folder(image_folder_stream(flat)).kind


def test_standardised_one_hot_rows_of_a_few_categories_repeat_by_nature():
    """The variety rule for inputs of 64 values or more must not take one-hot columns for
    independent features: 8 answers of 5 options, one-hot (80 columns) and standardised
    (fractional values), repeat across random splits by nature, and are accepted."""
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    answers = rng.choice(5, size=(600, 8), p=[0.7, 0.15, 0.1, 0.03, 0.02])
    rows = OneHotEncoder(categories=[list(range(5))] * 8).fit_transform(answers).toarray()
    x = StandardScaler().fit_transform(rows).astype("float32")
    assert x.shape == (600, 40)
    y = (answers[:, 0] > 0).astype(int)
    wide = np.concatenate([x, x], axis=1)  # 80 columns: over the 64 of an image's rule
    data = Dataset.from_arrays(wide, y, seed=0)
    assert data.x_test.shape[1] == 80


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: (rng.normal(20, 3, (1000, 1)).round(1), None),  # a temperature to 0.1
        lambda rng: (np.c_[rng.integers(0, 160, 1000) / 2, rng.integers(0, 2, 1000)], None),
        lambda rng: (lambda a, b: (np.c_[a / b, a], None))(
            rng.integers(1, 8, 1000), rng.integers(1, 8, 1000)
        ),
        lambda rng: (lambda x: (x[:, None], np.sin(x)))(rng.uniform(0, 10, 1000).round(1)),
    ],
    ids=["temperature", "age-in-halves-and-sex", "ratio-and-part", "noise-free-sine"],
)
def test_a_few_valued_fractional_feature_repeats_by_nature(make):
    """Found by a retry of the distinct-samples rule: one fractional feature of about 100
    values has more distinct values than half its distinct rows, and was taken for
    continuous: data repeating by nature was refused as copies. The values' variety says
    such repeats are natural (about 7 matches per sample by chance), so they are taken."""
    rng = np.random.default_rng(0)
    x, y = make(rng)
    y = rng.integers(0, 2, len(x)) if y is None else y
    task = "regression" if y.dtype.kind == "f" else None
    assert Dataset.from_arrays(x.astype("float32"), y, task=task, seed=0).x_test.shape[0] == 150


@pytest.mark.parametrize("dtype", ["uint8", "int64", "float32"])
def test_copies_of_whole_number_images_in_arrays_are_refused(dtype):
    """Found by a retry: images of whole numbers (uint8 pixels, digits' 0..16), each twice,
    were accepted as arrays (only fractional values could be continuous) while the same
    images scaled by 1/255, or as a folder of PNGs, were refused. An input of 64 values or
    more is judged by its values' variety, whatever their type."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    twice = np.concatenate([x, x]).astype(dtype)
    with pytest.raises(DataError, match=r"samples of the validation split \(\d+%\) are also in"):
        Dataset.from_arrays(twice, np.concatenate([y, y]), seed=0)
    assert Dataset.from_arrays(x.astype(dtype), y, seed=0).x_train.shape == (1259, 64)
    pixels = np.random.default_rng(0).integers(0, 256, (200, 16, 16, 3)).astype("uint8")
    with pytest.raises(DataError, match=r"are also in the training data"):
        Dataset.from_arrays(np.concatenate([pixels, pixels]), np.arange(400) % 2, seed=0)


@pytest.mark.parametrize("features", [64, 6])
def test_blank_samples_many_of_which_are_equal_are_not_a_leak_by_any_path(features):
    """Probe A: idle sensor windows, exactly all zeros, 20% of the samples, are distinct
    events that are equal; the split `Dataset.from_arrays` made itself was refused as
    leaked ("by nature none would be ... equal samples are copies"), and the fix it gave
    pointed back at `from_arrays`. Such blank samples are atoms of the data, by arrays and
    streams alike; copies of a sample with varied values beside them are still refused."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, features)).astype("float32")
    y = (x[:, : min(8, features)].sum(axis=1) > 0).astype(int) + 1
    idle = rng.random(1000) < 0.2
    x[idle], y[idle] = 0.0, 0
    data = Dataset.from_arrays(x, y, seed=0)
    streams = [
        tf.data.Dataset.from_tensor_slices(
            (getattr(data, f"x_{s}"), getattr(data, f"y_{s}"))
        ).batch(64)
        for s in ("train", "val", "test")
    ]
    StreamData(*streams, fingerprint="idle", num_classes=3)
    active = np.flatnonzero(~idle)[:300]  # 300 active samples written twice
    with pytest.raises(DataError) as copied:
        Dataset.from_arrays(np.r_[x, x[active]], np.r_[y, y[active]], seed=0)
    message = str(copied.value)
    assert "samples of the validation split that are not blank (besides " in message, message
    # Probe A (stop 66): 200 settings measured 5 times each; "by nature none would be" was
    # false for repeated measurements, and their fix is a split by group.
    assert "by chance none would be" in message and "copies or repeated measurements" in message
    assert message.endswith(
        "The data holds repeated samples, which the random split dealt to several splits: "
        "drop repeated samples before splitting, not from one split only (pandas' "
        "drop_duplicates); if they are repeated measurements of one subject, keep each "
        "subject's in one split (scikit-learn's GroupShuffleSplit, then Dataset(x_train, "
        "y_train, x_val, y_val, x_test, y_test))."
    ), message


def test_copies_beside_many_blank_samples_are_still_a_leak():
    """Probe C: half the rows all zeros, and 90 varied training rows copied into a test
    split of 450 (20%): accepted, as arrays and as a stream, because the blank rows made
    every feature look discrete and their share excused the copies. Blank atoms are now
    counted out, and the copies among the rest are copies."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 6)).astype("float32")
    x[rng.random(3000) < 0.5] = 0.0
    y = rng.integers(0, 2, 3000)
    x_test, y_test = x[2550:].copy(), y[2550:].copy()
    varied = np.flatnonzero(np.abs(x[:2100]).sum(axis=1) > 0)[:90]
    x_test[:90], y_test[:90] = x[varied], y[varied]
    splits = [(x[:2100], y[:2100]), (x[2100:2550], y[2100:2550]), (x_test, y_test)]
    with pytest.raises(DataError) as arrays:
        Dataset(*(a for split in splits for a in split))
    streams = [tf.data.Dataset.from_tensor_slices(split).batch(64) for split in splits]
    with pytest.raises(DataError) as streamed:
        StreamData(*streams, fingerprint="blank-and-copies", num_classes=2)
    for message in (str(arrays.value), str(streamed.value)):
        assert re.search(
            r"90 of the \d+ samples of the test (split|stream) that are not blank", message
        )
    x_test[:90] = rng.normal(size=(90, 6))  # new samples instead: accepted
    Dataset(x[:2100], y[:2100], x[2100:2550], y[2100:2550], x_test, y_test)


def test_a_ragged_stream_is_hashed_by_its_values():
    """Probe C: a `tf.data` stream of `tf.ragged.constant` inputs (sequences of other
    lengths) crashed in the split-leak hashing ("setting an array element with a
    sequence"), a traceback instead of a verdict. Its rows are hashed by their values:
    separate samples pass, a test stream of training samples is refused."""
    rng = np.random.default_rng(0)
    sequences = [list(rng.normal(size=rng.integers(2, 6))) for _ in range(192)]
    labels = rng.integers(0, 2, 192)

    def stream(part):
        x = tf.ragged.constant([sequences[i] for i in part], dtype=tf.float32)
        return tf.data.Dataset.from_tensor_slices((x, labels[part])).batch(16)

    train, val, test = np.arange(96), np.arange(96, 144), np.arange(144, 192)
    StreamData(stream(train), stream(val), stream(test), fingerprint="ragged", num_classes=2)
    with pytest.raises(DataError, match=r"48 of the 48 samples of the test stream"):
        StreamData(stream(train), stream(val), stream(train[:48]), fingerprint="r", num_classes=2)


def test_blank_atoms_are_common_values_not_every_constant_row():
    """Probe D: rows each constant but of other values (`[v, v, v]`, flat images of other
    greys) are not one atom: 150 copies among them were accepted; and a black image that
    8 of 1,000 training images and 60 of each 200-image held-out split are is one atom
    (refused as copies before), counted over a split and its reference pooled."""
    rng = np.random.default_rng(0)
    x = np.repeat(rng.normal(size=(1000, 1)), 3, axis=1)
    y = rng.integers(0, 2, 1000)
    x[:150], y[:150] = x[150:300], y[150:300]
    with pytest.raises(DataError, match=r"are also in the training"):
        Dataset.from_arrays(x, y, seed=0)
    parts = [(rng.normal(size=(n, 8, 8)), rng.integers(0, 2, n)) for n in (1000, 200, 200)]
    for (images, labels), black in zip(parts, (8, 60, 60), strict=True):
        images[:black], labels[:black] = 0.0, 0
    Dataset(*(a for part in parts for a in part))


def test_the_fix_for_repeated_samples_fits_the_splits_tunekit_drew_and_the_interface(
    tmp_path, capsys
):
    """Probe C: the command line's CSV, whose splits tunekit drew, was told to "Pass samples
    kept apart (Dataset.from_arrays(x, y) splits them for you)", a Python call; so was
    `from_arrays(x, y, x_test=, y_test=)` whose validation split it drew, which led back to
    the same refusal. A split tunekit drew gets the repeated-samples fix, in the words of
    the interface that loaded it."""
    rng = np.random.default_rng(5)
    settings = rng.normal(size=(200, 4))
    x = np.repeat(settings, 5, axis=0)  # each setting measured 5 times
    y = np.repeat(np.arange(200) % 3, 5)
    x_test, y_test = rng.normal(size=(100, 4)), np.arange(100) % 3
    with pytest.raises(DataError) as info:
        Dataset.from_arrays(x, y, x_test=x_test, y_test=y_test, seed=0)
    said = str(info.value)
    assert "of the validation split" in said and "of the test split" not in said, said
    assert "The data holds repeated samples, which the random split dealt to" in said, said
    assert said.endswith(
        "(scikit-learn's GroupShuffleSplit, then Dataset(x_train, y_train, "
        "x_val, y_val, x_test, y_test))."
    )
    csv = tmp_path / "measured.csv"
    header = "a,b,c,d,label\n"
    csv.write_text(header + "\n".join(",".join(map(str, [*r, t])) for r, t in zip(x, y)))
    assert main(["--data", str(csv), "--target", "label", "--directory", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "The data holds repeated samples, which the random split dealt to" in err, err
    assert "GroupShuffleSplit, then pass an .npz of your own splits (x_train, y_train, " in err
    assert "Dataset.from_arrays" not in err and "Dataset(x_train" not in err


def test_own_splits_that_share_samples_are_told_to_drop_them_once_per_interface(tmp_path, capsys):
    """Note 67: splits the user drew that share samples were told to "Pass samples kept
    apart (an .npz of your own splits ...)" (what they had done) and the `.npz` layout was
    said twice. Their fix is to drop the shared samples from the later split, or split by
    subject, said once, in the interface's words."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(600, 5)), np.arange(600) % 3
    x_val, y_val = rng.normal(size=(100, 5)), np.arange(100) % 3
    x_test, y_test = x[:80].copy(), y[:80].copy()  # 80 training samples again as test
    with pytest.raises(DataError) as info:
        Dataset(x, y, x_val, y_val, x_test, y_test)
    said = str(info.value)
    assert "Your splits share samples: drop them from the later split" in said, said
    assert "random split dealt" not in said and "kept apart" not in said, said
    assert said.count("Dataset(x_train, y_train, x_val, y_val, x_test, y_test)") == 1, said
    own = tmp_path / "own.npz"
    np.savez(own, x_train=x, y_train=y, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test)
    assert main(["--data", str(own), "--directory", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Your splits share samples: drop them from the later split" in err, err
    assert err.count("an .npz of your own splits") == 1 and "Dataset(" not in err, err


@pytest.mark.parametrize("features", [1, 2])
def test_copies_in_data_of_one_or_two_continuous_features_are_refused(features):
    """Note 66: 300 of 1,000 samples of one or two continuous features written again were
    accepted (the squared frequencies say about 1/n of any feature of distinct values, so
    the copies passed as natural repeats). The grid the values lie on says what nature
    gives: none for full-precision floats, float32 too."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, features))
    y = (x.sum(axis=1) > 0).astype(int)
    for values in (x, x.astype("float32")):
        with pytest.raises(DataError, match=r"by chance none would be: the features take"):
            Dataset.from_arrays(np.r_[values, values[:300]], np.r_[y, y[:300]], seed=0)
    with pytest.raises(DataError, match=r"are also in the training"):
        Dataset.from_arrays(
            np.r_[x, x[:300]], np.r_[x.sum(axis=1), x[:300].sum(axis=1)], task="regression"
        )
    category = np.c_[x[:, :1], rng.integers(0, 3, 1000)]  # one continuous, one category
    with pytest.raises(DataError, match=r"are also in the training"):
        Dataset.from_arrays(np.r_[category, category[:300]], np.r_[y, y[:300]], seed=0)
    # Natural repeats of such data are not copies: values to 1 or 2 decimals, a
    # temperature to 0.1 degree, fractions k/97 and k/7, a feature 30% zeros, whole numbers.
    for natural in (
        np.round(x, 1),
        np.round(x, 2),
        np.round(rng.normal(20, 7, size=(1000, features)), 1),
        rng.integers(0, 98, size=(1000, features)) / 97,
        rng.integers(0, 8, size=(1000, features)) / 7,
        np.where(rng.random((1000, features)) < 0.3, 0.0, x),
        rng.integers(0, 1000, size=(1000, features)),
        category,
    ):
        Dataset.from_arrays(natural, y, seed=0)


def test_data_written_k_times_is_refused_whatever_its_features_hold(tmp_path, capsys):
    """Probe B (stop 67): 300 rows of 4 features to 1 decimal and coin-flip labels, each
    row written 3 times, scored 0.75 test accuracy on the command line with exit 0; so
    did iris written 3 times and a table of whole-number columns written twice. The
    copies set the natural share that excused them. Far fewer distinct samples held once
    than a Poisson spread of repeats leaves is data written more than once (probe C: in
    part 3 and 2 times, or with rows trimmed since); repeats by nature are not so even."""
    from sklearn.datasets import load_iris

    rng = np.random.default_rng(0)
    noise = np.round(rng.normal(size=(300, 4)), 1)
    coins = rng.integers(0, 2, 300)
    counts = np.c_[rng.integers(18, 90, 500), rng.integers(0, 20, 500), rng.integers(0, 100, 500)]
    iris = load_iris()
    mixed = np.r_[np.repeat(coins[:200], 3), np.repeat(coins[200:], 2)]
    trimmed = rng.permutation(300)[20:]
    for x, y, k in (
        (np.repeat(noise, 3, axis=0), np.repeat(coins, 3), 3),
        (np.tile(iris.data, (3, 1)), np.tile(iris.target, 3), 3),
        (np.r_[counts, counts], np.tile(rng.integers(0, 2, 500), 2), 2),
        # probe C: written 3 times and 2 times in part, or twice with 20 rows trimmed
        (np.r_[np.repeat(noise[:200], 3, 0), np.repeat(noise[200:], 2, 0)], mixed, 3),
        (np.tile(iris.data, (2, 1))[trimmed], np.tile(iris.target, 2)[trimmed], 2),
    ):
        with pytest.raises(DataError) as caught:
            Dataset.from_arrays(x, y, seed=0)
        said = str(caught.value)
        assert f"nearly every distinct sample is in the data more than once, most {k}" in said
        assert "drop_duplicates" in said
    csv = tmp_path / "written3.csv"
    frame = np.c_[np.repeat(noise, 3, axis=0), np.repeat(coins, 3)]
    csv.write_text("a,b,c,d,label\n" + "\n".join(",".join(f"{v:g}" for v in r) for r in frame))
    assert main(["--data", str(csv), "--target", "label", "--directory", str(tmp_path)]) == 2
    assert "the data was written more than once" in capsys.readouterr().err
    # Repeats by nature are not copies: features of a few values, iris as it is, a grid.
    grid = np.array([[a, b] for a in range(10) for b in range(10)])
    cube = np.array([[a, b, c] for a in range(4) for b in range(4) for c in range(4)])
    for x, y in (
        (rng.integers(0, 4, size=(3000, 5)), rng.integers(0, 2, 3000)),
        (rng.integers(0, 3, size=(3000, 3)), rng.integers(0, 2, 3000)),
        (iris.data, iris.target),
        (grid, (grid.sum(axis=1) > 9).astype(int)),
        (counts, rng.integers(0, 2, 500)),
        (np.minimum(rng.poisson(2, size=(3000, 4)), 9), rng.integers(0, 2, 3000)),
        (np.tile(cube, (5, 1)), np.tile((cube.sum(axis=1) > 4).astype(int), 5)),  # a design
    ):
        Dataset.from_arrays(x, y, seed=0)


def test_an_image_saved_again_at_another_compression_is_a_copy_by_every_path(tmp_path, capsys):
    """Probe B (stop 67): each noise image saved twice, PNG compression 9 and 0 (other
    bytes, the same pixels): the command line's folder check compared bytes only and
    reported test accuracy 0.95 (exit 0) where the images without a twin scored 0.57;
    `load_image_directory` refused the folder. Pixels decide now, by every path."""
    from PIL import Image

    folder = tmp_path / "resaved"
    rng = np.random.default_rng(5)
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        for i in range(40):
            image = Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8))
            image.save(folder / name / f"{i}.png", compress_level=9)
            image.save(folder / name / f"{i}_again.png", compress_level=0)
    assert (folder / "a" / "0.png").read_bytes() != (folder / "a" / "0_again.png").read_bytes()
    args = ["--data", str(folder), "--hypermodel", "dense", "--quick", "--directory"]
    assert main([*args, str(tmp_path / "runs"), "--backend", "tensorflow"]) == 2
    err = capsys.readouterr().err
    assert "images of one class with the same pixels as the model reads them" in err, err
    with pytest.raises(DataError, match=r"same pixels as the model reads them"):
        StreamData.from_image_folder(image_folder_stream(folder, batch_size=16))
    with pytest.raises(DataError, match=r"are also in the training"):
        load_image_directory(folder, (8, 8))
    for again in folder.glob("*/*_again.png"):  # one file of each: accepted
        again.unlink()
    StreamData.from_image_folder(image_folder_stream(folder, batch_size=16))


def test_one_image_in_two_classes_is_warned_of(tmp_path):
    """Probe B (stop 67): 60 byte-identical PNGs in both `digit0/` and `digit1/` passed
    without a word: one image with two labels, a test image whose twin trained under the
    other class."""
    from PIL import Image

    folder = tmp_path / "two_labels"
    rng = np.random.default_rng(6)
    for name in ("digit0", "digit1"):
        (folder / name).mkdir(parents=True)
        for i in range(30):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(
                folder / name / f"{i}.png"
            )
    for i in range(8):
        (folder / "digit1" / f"from0_{i}.png").write_bytes(
            (folder / "digit0" / f"{i}.png").read_bytes()
        )
    with pytest.warns(UserWarning, match=r"holds 8 image\(s\) as byte-identical files in two"):
        StreamData.from_image_folder(image_folder_stream(folder, batch_size=16))
    for i in range(8):
        (folder / "digit1" / f"from0_{i}.png").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        StreamData.from_image_folder(image_folder_stream(folder, batch_size=16))
