"""Splits that share samples are refused before training (`tunekit.data._leaks`).

A validation or test stream carved from one stream shuffled on every pass
(`full.shuffle(n)`, then `take` / `skip`) holds other samples on each pass,
which overlap training: on random labels the test accuracy came out 1.0,
exit 0. The same stream or array passed as two splits was accepted too.
"""

from __future__ import annotations

import itertools
import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tunekit.data import Dataset, StreamData
from tunekit.errors import DataError


def _arrays(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 2, n)


def _split(n: int, seed: int) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices(_arrays(n, seed)).batch(8)


# What a split that draws other samples each pass is said to yield: random draws may hold
# the same labels by chance (0/1 labels: the same count of ones), and then "other inputs".
OTHER = "yields (other samples|the same labels but other inputs)"


def _carved(reshuffle: bool) -> tuple[tf.data.Dataset, ...]:
    """Test, validation and train taken from one stream shuffled with `reshuffle`."""
    full = tf.data.Dataset.from_tensor_slices(_arrays(90)).shuffle(
        90, seed=1, reshuffle_each_iteration=reshuffle
    )
    return full.skip(40).batch(8), full.skip(20).take(20).batch(8), full.take(20).batch(8)


def test_splits_carved_from_a_stream_reshuffled_each_pass_are_refused():
    with pytest.raises(DataError) as caught:
        StreamData(*_carved(reshuffle=True), fingerprint="carved")
    message = str(caught.value)
    assert "validation stream yields other samples on a second pass" in message
    assert "reshuffle_each_iteration=False" in message and "leaked" in message
    assert "split first and shuffle the training split only" in message
    # Shuffled once: the same samples on every pass, accepted.
    assert StreamData(*_carved(reshuffle=False), fingerprint="once").kind == "tf.data"


def test_a_test_stream_reshuffled_each_pass_is_refused():
    train, val, _ = _carved(reshuffle=False)
    moving = tf.data.Dataset.from_tensor_slices(_arrays(90, 5)).shuffle(90).take(20).batch(8)
    with pytest.raises(DataError, match=f"the test stream {OTHER}"):
        StreamData(train, val, moving, fingerprint="moving-test")


def test_a_split_that_only_reorders_itself_each_pass_is_accepted():
    # As keras.utils.image_dataset_from_directory's validation split: the same samples.
    val = tf.data.Dataset.from_tensor_slices(_arrays(40, 1)).shuffle(40).batch(8)
    test = tf.data.Dataset.from_tensor_slices(_arrays(40, 2)).batch(8).shuffle(5)
    data = StreamData(_split(64, 0), val, test, fingerprint="reordered")
    assert data.validation is val


def test_random_augmentation_in_the_validation_map_is_refused_and_named():
    noise = tf.random.Generator.from_seed(1)  # its state moves on: other noise each pass

    def jitter(x, y):
        return x + noise.uniform(tf.shape(x)), y

    val = _split(24, 1).map(jitter)
    with pytest.raises(DataError) as caught:
        StreamData(_split(64, 0), val, _split(24, 2), fingerprint="augmented")
    message = str(caught.value)
    assert "the same labels but other inputs" in message
    assert "augment the training split only" in message
    # Augmenting the training split is fine: it is not read twice.
    assert StreamData(_split(64, 0).map(jitter), _split(24, 1), _split(24, 2), fingerprint="a")


@pytest.mark.parametrize(
    ("positions", "named"),
    [((0, 2), "training and the test"), ((0, 1), "training and the validation")],
)
def test_one_stream_object_passed_as_two_splits_is_refused(positions, named):
    splits = [_split(64, 0), _split(24, 1), _split(24, 2)]
    splits[positions[1]] = splits[positions[0]]
    with pytest.raises(DataError, match=f"same stream object is passed as the {named} split"):
        StreamData(*splits, fingerprint="same")


def test_validation_and_test_streams_of_the_same_samples_are_refused():
    with pytest.raises(DataError, match="validation and test streams hold the same 24 samples"):
        StreamData(_split(64, 0), _split(24, 1), _split(24, 1), fingerprint="twice")


def test_a_py_dataset_drawing_other_samples_each_pass_is_refused():
    class Drawn(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.x, self.y = _arrays(100, 3)

        def __len__(self):
            return 2

        def __getitem__(self, i):
            pick = np.random.default_rng().choice(100, 8, replace=False)
            return self.x[pick], self.y[pick]

    class Fixed(Drawn):
        def __getitem__(self, i):
            return self.x[8 * i : 8 * i + 8], self.y[8 * i : 8 * i + 8]

    with pytest.raises(DataError, match=f"the test stream {OTHER}"):
        StreamData(Fixed(), _Shifted(), Drawn(), fingerprint="drawn")


class _Shifted(keras.utils.PyDataset):
    """Two fixed batches (validation), apart from `Fixed`'s."""

    def __init__(self):
        super().__init__()
        self.x, self.y = _arrays(16, 4)

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return self.x[8 * i : 8 * i + 8], self.y[8 * i : 8 * i + 8]


@pytest.mark.parametrize(
    ("shared", "said"),
    [
        (lambda x, y, xv, yv: (x, y), "X_train and x_test are the same array"),
        (
            lambda x, y, xv, yv: (x.copy()[::-1], y[::-1]),
            "200 of the 200 samples of the test split",
        ),
        (lambda x, y, xv, yv: (x[:50], y[:50]), "50 of the 50 samples of the test split"),
        (
            lambda x, y, xv, yv: (xv.astype("float64"), yv),
            "50 of the 50 samples of the test split .100%. are also in the training and",
        ),
        (  # a row repeated within the test split once turned the check off
            lambda x, y, xv, yv: (x[[*range(50), 0]], y[[*range(50), 0]]),
            "51 of the 51 samples of the test split",
        ),
    ],
)
def test_arrays_shared_between_splits_are_refused(shared, said):
    x, y = _arrays(200)
    xv, yv = _arrays(50, 1)
    with pytest.raises(DataError, match=f"{said}.*score is leaked"):
        Dataset(x, y, xv, yv, *shared(x, y, xv, yv))


def test_arrays_partly_shared_with_training_are_refused_and_repeated_rows_are_not():
    x, y = _arrays(200)
    xt, yt = _arrays(50, 2)
    xt[:10], yt[:10] = x[:10], y[:10]
    with pytest.raises(DataError, match="10 of the 50 samples of the test split .20%."):
        Dataset(x, y, *_arrays(50, 1), xt, yt)
    # Few discrete values: equal rows across splits are expected, not a leak.
    rng = np.random.default_rng(0)
    bits = lambda n: (rng.integers(0, 2, (n, 3)), rng.integers(0, 2, n))  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = Dataset(*bits(200), *bits(50), *bits(50))
    assert data.summary().startswith("arrays: 200 train / 50 validation / 50 test")
    xb, yb = bits(200)
    with pytest.raises(DataError, match="X_train and x_val are the same array"):
        Dataset(xb, yb, xb, yb, *bits(50))  # the same object: even so


def test_copies_are_refused_whatever_repeats_training_holds():
    """Found by a retry: 2% of training rows repeated, or a file of every row twice split
    by `from_arrays`, or 6% of test rows in training and 6% in validation: no warning."""
    x, y = _arrays(300)
    x[:6], y[:6] = x[6:12], y[6:12]  # 2% of the training rows repeated
    with pytest.raises(DataError, match="50 of the 50 samples of the test split"):
        Dataset(x, y, *_arrays(50, 1), x[100:150], y[100:150])
    twice_x, twice_y = np.concatenate([x, x]), np.concatenate([y, y])
    with pytest.raises(DataError, match=r"samples of the (validation|test) split .\d+%. are"):
        Dataset.from_arrays(twice_x, twice_y, seed=0)
    xv, yv = _arrays(50, 1)
    xt, yt = _arrays(50, 2)
    xt[:3], yt[:3], xt[3:6], yt[3:6] = x[200:203], y[200:203], xv[:3], yv[:3]
    with pytest.raises(DataError, match=r"6 of the 50 samples of the test split .12%. are"):
        Dataset(x[200:], y[200:], xv, yv, xt, yt)


def test_row_hashes_tell_rows_apart_and_ignore_order():
    from tunekit.data._leaks import row_hashes

    x, y = _arrays(100)
    hashes = row_hashes(x, y)
    assert len(np.unique(hashes)) == 100
    assert np.array_equal(row_hashes(x[::-1], y[::-1]), hashes[::-1])
    assert not np.array_equal(row_hashes(x, 1 - y), hashes)
    assert np.array_equal(
        row_hashes({"a": x, "b": x[:, :2]}, y), row_hashes({"b": x[:, :2], "a": x}, y)
    )


class _OnePermutation(keras.utils.PyDataset):
    """Splits by position of one permutation that the training split reshuffles after each
    epoch (`on_epoch_end`): the PyDataset form of shuffle + take/skip."""

    order = np.arange(96)

    def __init__(self, start, stop, owner=False):
        super().__init__()
        self.x, self.y = _arrays(96, 5)
        self.start, self.stop, self.owner = start, stop, owner

    def __len__(self):
        return (self.stop - self.start) // 8

    def __getitem__(self, i):
        rows = _OnePermutation.order[self.start + 8 * i : self.start + 8 * i + 8]
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        if self.owner:
            _OnePermutation.order = np.random.default_rng().permutation(96)


def test_py_datasets_over_one_permutation_training_reshuffles_are_refused():
    """Found by a retry: accepted, and a test accuracy of 1.0 on random labels (the passes
    that compare the splits never ended an epoch, as Keras does between them)."""
    splits = (_OnePermutation(32, 96, owner=True), _OnePermutation(0, 16), _OnePermutation(16, 32))
    with pytest.raises(DataError, match=OTHER):
        StreamData(*splits, fingerprint="perm")


def test_labels_of_another_count_than_the_validation_or_test_stream_are_refused():
    """Found by a retry: labels['test'] 100 short were taken, and the report said 100 test
    samples where the confusion matrix counted 200."""
    ids = lambda n, seed: _arrays(n, seed)[1]  # noqa: E731
    labels = {"train": ids(96, 0), "val": ids(32, 1), "test": ids(30, 2)}
    with pytest.raises(DataError, match=r"labels\['test'\] holds 30 class ids, and the test"):
        StreamData(_split(96, 0), _split(32, 1), _split(40, 2), fingerprint="n", labels=labels)
    labels["test"] = ids(40, 2)
    assert StreamData(_split(96, 0), _split(32, 1), _split(40, 2), fingerprint="n", labels=labels)


def _counting_generator(x: np.ndarray, y: np.ndarray, read: list[int]) -> tf.data.Dataset:
    """A stream of unknown length over `(x, y)` in batches of 10, counting the batches read."""

    def batches():
        for i in range(0, len(x), 10):
            read.append(i)
            yield x[i : i + 10], y[i : i + 10]

    spec = (tf.TensorSpec((None, 4), tf.float32), tf.TensorSpec((None,), tf.int64))
    return tf.data.Dataset.from_generator(batches, output_signature=spec)


def test_a_stream_of_unknown_length_is_read_twice_not_three_times():
    # Counting it read it whole once: that pass is the leak check's first.
    read: dict[str, list[int]] = {"val": [], "test": []}
    splits = {}
    for seed, split in enumerate(("train", "val", "test")):
        x, y = _arrays(40, seed)
        splits[split] = _counting_generator(x, y.astype("int64"), read.setdefault(split, []))
    data = StreamData(splits["train"], splits["val"], splits["test"], fingerprint="gen")
    assert data.summary().count("4 batches") == 3
    for split in ("val", "test"):  # 4 batches a pass; a first batch may be peeked at
        assert 2 * 4 <= len(read[split]) < 3 * 4, (split, len(read[split]))


def test_a_stream_of_unknown_length_drawing_other_samples_is_still_refused():
    x, y = _arrays(200, 3)
    rng = np.random.default_rng(0)

    def batches():
        picked = rng.choice(200, 40, replace=False)  # other samples on every pass
        for i in range(0, 40, 10):
            yield x[picked[i : i + 10]], y[picked[i : i + 10]].astype("int64")

    spec = (tf.TensorSpec((None, 4), tf.float32), tf.TensorSpec((None,), tf.int64))
    moving = tf.data.Dataset.from_generator(batches, output_signature=spec)
    with pytest.raises(DataError, match=f"the validation stream {OTHER}"):
        StreamData(_split(64, 0), moving, _split(24, 2), fingerprint="moving-gen")


def test_a_training_stream_holding_validation_or_test_samples_is_refused():
    """`test = ds.take(k); train = ds.shuffle(n).skip(k)`: the shuffle before `skip` moves
    test samples into training, while the test stream is the same on every pass. Before,
    accepted: the test score measured memory of the training data."""
    x, y = _arrays(120, 4)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    val, test = ds.take(20).batch(8), ds.skip(20).take(20).batch(8)
    train = ds.shuffle(120, seed=1).skip(40).batch(8)  # reshuffled: holds val and test samples
    with pytest.raises(DataError) as caught:
        StreamData(train, val, test, fingerprint="trained-on")
    message = str(caught.value)
    assert re.search(
        r"(\d+) of the 20 samples of the validation stream \(\d+%\) are also in "
        r"the training stream",
        message,
    ), message
    assert "shuffle once before take/skip" in message.lower() and "leaked" in message
    # Only the test split trained on (a fixed validation split apart): named the test stream.
    val_apart = tf.data.Dataset.from_tensor_slices(_arrays(20, 5)).batch(8)
    train_with_test = ds.skip(20).batch(8)  # samples 20..119: the test samples among them
    with pytest.raises(
        DataError,
        match=r"20 of the 20 samples of the test stream \(100%\) are "
        r"also in the training and validation streams",
    ):
        StreamData(train_with_test, val_apart, test, fingerprint="test-trained-on")
    # Split first, the training split shuffled alone: accepted.
    apart = ds.skip(40).shuffle(80, seed=1).batch(8)
    assert StreamData(apart, val, test, fingerprint="apart").kind == "tf.data"


def test_samples_repeating_by_nature_in_a_training_stream_are_not_a_leak():
    # 3 binary features take 8 values: every split shares rows with training by nature.
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (300, 3)).astype("float32")
    y = (x.sum(axis=1) > 1).astype("int64")
    parts = [(x[:200], y[:200]), (x[200:250], y[200:250]), (x[250:], y[250:])]
    splits = [tf.data.Dataset.from_tensor_slices(p).batch(16) for p in parts]
    assert StreamData(*splits, fingerprint="binary").kind == "tf.data"


def test_labels_shuffled_apart_from_their_inputs_in_a_validation_stream_are_refused():
    """Found by a retry: `zip(x, y.shuffle())` pairs other labels with the inputs on every
    pass; a pass's sum of row hashes, linear in `x` and `y`, did not see it, and trials were
    ranked on shuffled labels (test accuracy 0.50 for a model at 0.85), exit 0."""
    x, y = _arrays(40, 6)
    xs = tf.data.Dataset.from_tensor_slices(x)
    ys = tf.data.Dataset.from_tensor_slices(y).shuffle(40)  # reshuffled on every pass
    moving = tf.data.Dataset.zip((xs, ys)).batch(8)
    with pytest.raises(DataError, match=f"the validation stream {OTHER}"):
        StreamData(_split(64, 0), moving, _split(24, 2), fingerprint="re-paired")


def test_iid_splits_of_a_few_discrete_features_are_neither_refused_nor_warned_of():
    """Found by a retry: 1,100 i.i.d. rows of 4 features of 5 levels, split 500/300/300 in
    order, were refused ("232 of the 300 test samples (77%) ... 55% repeat within training"):
    the test split was compared with training and validation, but nature measured within
    training alone; small splits vary too (now a binomial allowance)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (1100, 4)).astype("float32")
    y = (x.sum(axis=1) > 8).astype("int64")
    parts = [(x[:500], y[:500]), (x[500:800], y[500:800]), (x[800:], y[800:])]
    splits = [tf.data.Dataset.from_tensor_slices(p).batch(32) for p in parts]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert StreamData(*splits, fingerprint="categorical").kind == "tf.data"
        Dataset(*parts[0], *parts[1], *parts[2])


def test_distinct_rows_of_whole_numbers_as_float64_do_not_collide():
    """Found by a retry: 2,500 distinct rows of 40 binary features as float64 (pandas'
    get_dummies(dtype=float)) hashed to 2,152 values: disjoint splits were refused."""
    from tunekit.data._leaks import row_hashes

    rng = np.random.default_rng(0)
    rows = np.unique(rng.integers(0, 2, (2500, 40)).astype("float64"), axis=0)
    assert len(np.unique(row_hashes(rows))) == len(rows)
    parts = [rows[:1000], rows[1000:2000], rows[2000:]]
    labels = [np.arange(len(p)) % 2 for p in parts]
    splits = [tf.data.Dataset.from_tensor_slices((p, q)).batch(64) for p, q in zip(parts, labels)]
    assert StreamData(*splits, fingerprint="dummies").kind == "tf.data"


@pytest.mark.parametrize("levels", [(-1.0, 1.0), (0.0, 2.0)])
def test_float32_rows_that_differ_in_high_bits_do_not_collide_and_leaks_are_caught(levels):
    """Found by a second retry: two float32 values share a 64-bit cell, and rows of
    {-1, 1} or {0, 2} hashed to 64 or 128 values for 1,024 distinct rows: a stream carved
    with `take` / `shuffle().skip()` from such data was accepted (0/1 was refused)."""
    from tunekit.data._leaks import row_hashes

    rows = np.array(list(itertools.product(levels, repeat=10)), "float32")
    assert len(np.unique(row_hashes(rows))) == len(rows) == 1024
    labels = (rows.sum(axis=1) > rows.mean() * 10).astype("int64")
    full = tf.data.Dataset.from_tensor_slices((rows, labels))
    test, val = full.take(200).batch(32), full.skip(200).take(200).batch(32)
    train = full.shuffle(1024, seed=1).skip(400).batch(32)  # holds test and validation rows
    with pytest.raises(DataError, match="are also in the training stream"):
        StreamData(train, val, test, fingerprint="high-bits")


@pytest.mark.parametrize(
    ("seed", "make"),
    [
        (10, lambda rng, n: rng.integers(0, 6, (n, 3))),  # 3 features of 6 levels
        (4, lambda rng, n: np.c_[rng.integers(0, 100, n), rng.integers(0, 2, n)]),  # age
    ],
)
def test_small_iid_splits_of_whole_number_features_are_not_taken_for_leaks(seed, make):
    """Found by a second retry: 60 training rows of 3 features of 6 levels, all distinct,
    gave a natural share of 0, and 3 chance matches of 20 (15%) were refused; a whole-number
    feature of 100 levels (age) was taken for continuous (natural share 0) and warned of.
    Now the pooled rows dealt at random give the natural share, and only fractional
    features count as continuous."""
    rng = np.random.default_rng(seed)
    x = make(rng, 200).astype("float32")
    y = ((x.sum(axis=1) + rng.integers(0, 2, 200)) % 2).astype("int64")
    cuts = [(0, 100), (100, 150), (150, 200)] if x.shape[1] == 2 else [(0, 60), (60, 80), (80, 100)]
    parts = [(x[a:b], y[a:b]) for a, b in cuts]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dataset(*parts[0], *parts[1], *parts[2])
        splits = [tf.data.Dataset.from_tensor_slices(p).batch(32) for p in parts]
        assert StreamData(*splits, fingerprint="small-iid").kind == "tf.data"
