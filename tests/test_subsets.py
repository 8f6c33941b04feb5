"""`Dataset.subset` and `--quick` take a seeded random sample of each split, stratified by
class. Found by a new-user trial: both kept each split's first N samples, so an `.npz`
saved class by class gave `--quick` a validation split of one class (validation accuracy
1.0, test accuracy 0.33, exit 0), or a training split without a class the file has (the
run refused, blaming the user's y_train)."""

from __future__ import annotations

import numpy as np
import pytest

from tunekit.data import Dataset
from tunekit.errors import DataError


def _sorted_split(per_class: int, classes: int = 3, start: int = 0) -> tuple[np.ndarray, ...]:
    """Samples saved class by class; x's first column is the sample's id (from `start`)."""
    y = np.repeat(np.arange(classes), per_class)
    ids = start + np.arange(len(y), dtype=np.float32)
    return np.stack([ids, y.astype(np.float32)], axis=1), y


def _sorted_dataset(per_class: int = 60, **kwargs) -> Dataset:
    (xt, yt), (xv, yv), (xs, ys) = (_sorted_split(per_class, start=k * 1000) for k in range(3))
    return Dataset(xt, yt, xv, yv, xs, ys, **kwargs)


def test_subset_of_class_sorted_splits_keeps_every_class_in_proportion():
    ds = _sorted_dataset()
    small = ds.subset(num_train=30, num_val=12, num_test=9)
    assert np.bincount(small.y_train).tolist() == [10, 10, 10]
    assert np.bincount(small.y_val).tolist() == [4, 4, 4]
    assert np.bincount(small.y_test).tolist() == [3, 3, 3]
    for split in ("train", "val", "test"):  # x and y stay paired, in the split's order
        x, y = getattr(small, f"x_{split}"), getattr(small, f"y_{split}")
        np.testing.assert_array_equal(x[:, 1], y)
        assert np.all(np.diff(x[:, 0]) > 0)
    assert small.num_classes == 3 and small.class_names == ds.class_names


def test_a_rare_class_keeps_a_sample_and_proportions_hold():
    y = np.repeat([0, 1, 2], [100, 97, 3])
    x = np.arange(len(y), dtype=np.float32)[:, None]
    rare = y[[0, 100, 197]]  # held-out samples apart from training and from each other
    ds = Dataset(x, y, x[:3] + 1000, rare, x[:3] + 2000, rare)
    assert np.bincount(ds.subset(num_train=10).y_train).tolist() == [4, 5, 1]
    assert np.bincount(ds.subset(num_train=40).y_train).tolist() == [20, 19, 1]
    # Fewer samples than classes: no split can hold every class; a seeded random draw
    # (refused for the training split, below)
    assert len(ds.subset(num_val=2).y_val) == 2


def test_subset_is_deterministic_for_a_seed_and_keeps_what_it_cannot_cut():
    ds = _sorted_dataset()
    small = ds.subset(num_train=30, num_val=12)
    assert small.fingerprint() == ds.subset(num_train=30, num_val=12, seed=0).fingerprint()
    other = ds.subset(num_train=30, num_val=12, seed=1)
    assert other.fingerprint() != small.fingerprint()
    assert np.bincount(other.y_val).tolist() == [4, 4, 4]
    whole = ds.subset(num_train=180, num_val=10**6, num_test=None, seed=5)
    assert whole.fingerprint() == ds.fingerprint()
    np.testing.assert_array_equal(whole.x_train, ds.x_train)
    with pytest.raises(DataError, match=r"seed must be an int >= 0, got -1"):
        ds.subset(num_train=5, seed=-1)


def test_one_hot_labels_are_stratified_by_class():
    (xt, yt), (xv, yv), (xs, ys) = (_sorted_split(20, start=k * 1000) for k in range(3))
    hot = np.eye(3, dtype=np.float32)
    ds = Dataset(xt, hot[yt], xv, hot[yv], xs, hot[ys])
    small = ds.subset(num_train=15, num_val=6)
    assert small.label_mode == "categorical" and small.num_classes == 3
    assert np.bincount(small.y_train).tolist() == [5, 5, 5]
    assert np.bincount(small.y_val).tolist() == [2, 2, 2]


def test_regression_targets_sorted_by_value_are_sampled_at_random():
    x = np.arange(200, dtype=np.float32)[:, None]
    y = np.linspace(0.0, 10.0, 200, dtype=np.float32)  # saved sorted by target
    xv, xs = x + 0.5, x + 0.25  # other samples: splits sharing samples are refused
    ds = Dataset(x, y, xv, xv[:, 0] * 10 / 199, xs, xs[:, 0] * 10 / 199, task="regression")
    small = ds.subset(num_train=20, num_val=20, seed=3)
    for split in ("train", "val"):
        kept = getattr(small, f"y_{split}")
        assert len(kept) == 20 and kept.min() < 2.5 and kept.max() > 7.5
        np.testing.assert_allclose(getattr(small, f"x_{split}")[:, 0], kept * 199 / 10, atol=1e-3)
    assert small.fingerprint() == ds.subset(num_train=20, num_val=20, seed=3).fingerprint()


def test_dict_inputs_and_targets_stay_paired():
    n = 90

    def split(start: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        ids = start + np.arange(n, dtype=np.float32)
        x = {"image": np.repeat(ids[:, None], 4, axis=1), "meta": -ids[:, None]}
        return x, {"kind": np.repeat(np.arange(3), 30).astype(np.float32), "size": ids * 0.5}

    # Other samples in each split: splits sharing samples are refused.
    ds = Dataset(*split(0), *split(1000), *split(2000), task="regression")
    small = ds.subset(num_train=12, seed=2)
    kept = small.x_train["image"][:, 0]
    assert len(kept) == 12 and kept.max() >= 12  # not the first 12
    np.testing.assert_array_equal(small.x_train["meta"][:, 0], -kept)
    np.testing.assert_array_equal(small.y_train["size"], kept * 0.5)
    np.testing.assert_array_equal(small.y_train["kind"], kept // 30)


def test_a_training_subset_smaller_than_the_classes_is_refused_when_asked():
    """`subset(num_train=2)` of 3 classes drew 2 samples at random; the run then refused a
    class missing from y_train, as if the data lacked it."""
    ds = _sorted_dataset(per_class=10)
    with pytest.raises(
        DataError, match=r"num_train=2 is fewer than the 3 classes .* at least num_train=3"
    ):
        ds.subset(num_train=2)
    assert np.bincount(ds.subset(num_train=3).y_train).tolist() == [1, 1, 1]
    assert len(ds.subset(num_val=2).y_val) == 2  # a validation split may miss a class
