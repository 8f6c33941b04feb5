"""The one rule for splits that share samples: arrays, streams and image folders alike.

A `Dataset`'s arrays (`tunekit.data._leaks.check_array_overlap`), a
`StreamData`'s streams (`check_stream_splits`) and an image folder's files
(`tunekit.data._folder_leaks`) each hash their samples (`(x, y)` rows; a
folder: each file's BLAKE2b digest with its class) and ask `find_leaks`, so
the same data gets the same verdict by any path, and each refuses it
(`DataError`) with `leak_sentence`'s words.

A validation split is compared with training, a test split with training and
validation (the final model trains on both). It is leaked when at least
`LEAK_SHARE` (10%) of its samples are found there, `LEAK_SHARE` more than
occur by nature (`natural_share`), and more than chance gives (one-sided
binomial test, p < `LEAK_ALPHA` = 0.001: small splits vary). By nature: when a
training feature is continuous (`continuous_of`: equal samples are then copies),
only those equal to a blank value many training samples hold (an atom: all-zero
idle windows); else the larger of how often training's samples repeat among
themselves and how often the pooled samples dealt to the splits at random
would match (3 binary features take 8 values: equal rows across splits are
expected).

It is judged on distinct samples (copies do not make a feature look discrete), and only
where the features' values are too varied for distinct samples to agree on all of them by
nature; an input of `MANY_FEATURES` values or more (an image) by that variety alone.
Whether a feature is continuous is read from the first `CONTINUITY_SAMPLES` (2,000)
training samples, at most `CONTINUITY_FEATURES` (1,024) features of
each input, evenly spaced (`feature_sample`): a stream keeps that much of its
training pass (about 8 MB of float32), not the pass. It is only read when it
decides (copies found that a discrete feature's repeats could excuse): an
image folder decodes its first training images for it then.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from tunekit.data._copies import written_times
from tunekit.data._row_hashes import leaves

__all__ = [
    "CONTINUITY_FEATURES",
    "CONTINUITY_SAMPLES",
    "LEAK_ALPHA",
    "SPLIT_NAMES",
    "LEAK_SHARE",
    "Leak",
    "blank_rows",
    "continuous_of",
    "feature_sample",
    "find_leaks",
    "leak_sentence",
    "natural_share",
]

SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}
# Share of a validation or test split's samples found in its reference from which it leaks.
LEAK_SHARE = 0.1
# Below this one-sided binomial p-value, more samples are shared than nature gives.
LEAK_ALPHA = 1e-3
# The training samples, and features per input, whose values say if a feature is continuous.
CONTINUITY_SAMPLES = 2000
CONTINUITY_FEATURES = 1024
# An input of this many values per sample or more (an image) is judged by its values'
# variety alone; below `NATURAL_MATCH` expected natural matches per sample, equal samples
# are copies (`continuous_of`).
MANY_FEATURES = 64
NATURAL_MATCH = 1e-3
# A blank value (each input one value) held by this many samples of a continuous
# reference, and this share of them, is an atom of its distribution (`_atoms`).
ATOM_COUNT = 5
ATOM_SHARE = 0.01
# The reference each split is compared with: the final model trains on training and validation.
REFERENCE = {"val": ("train",), "test": ("train", "val")}


class Leak(NamedTuple):
    """A validation or test split found leaked: `found` of its `samples` are in its
    reference (`REFERENCE`), where `natural` (a share) would be by nature; `continuous`:
    whether a training feature is (then `natural` is 0, and `blank` samples equal to a
    blank atom were counted out of `samples`)."""

    split: str
    found: int
    samples: int
    natural: float
    continuous: bool
    blank: int = 0  # blank samples of the split counted out (`_atoms`), not in `samples`
    written: int = 0  # the data written more than once: its most common count (`written_times`)

    @property
    def share(self) -> float:
        """`found / samples`."""
        return self.found / self.samples if self.samples else 0.0


def find_leaks(
    hashes: Mapping[str, np.ndarray],
    continuous: Callable[[], bool],
    blank: np.ndarray | None = None,
) -> list[Leak]:
    """The validation and test splits that share samples with their reference beyond nature.

    Args:
        hashes: One uint64 per sample (equal samples hash alike) by split, keyed
            `"train"`, `"val"`, `"test"`.
        continuous: Whether a training feature is continuous (`continuous_of`); called
            at most once, and only when the verdict depends on it.
        blank: The hashes of samples whose every input holds one value throughout
            (`blank_rows`: all zeros), which may be atoms (`_atoms`), counted out of the
            splits where a feature is continuous. Defaults to none.

    Returns:
        The leaked splits (`Leak`), validation first; `[]` when none is.
    """
    found = {}
    for split, earlier in REFERENCE.items():
        seen = np.concatenate([hashes[e] for e in earlier])
        found[split] = (_found(hashes[split], seen), seen)
    # A larger natural share only excuses more: leaked at 0 is needed to be leaked at all.
    if not any(_leaked(n, len(hashes[s]), 0.0) for s, (n, _) in found.items()):
        return []
    is_continuous = bool(continuous())
    written = written_times(hashes)  # the data written k times: its repeats are copies
    leaks = []
    for split, (number, seen) in found.items():
        rows = hashes[split]
        if is_continuous:  # equal samples are copies, blank atoms apart (counted out)
            rows = rows[~np.isin(rows, _atoms(np.concatenate([seen, rows]), blank))]
            number = _found(rows, seen)
        natural = 0.0 if written else natural_share(is_continuous, seen, rows)
        if _leaked(number, len(rows), natural):
            out = len(hashes[split]) - len(rows)
            leaks.append(Leak(split, number, len(rows), natural, is_continuous, out, written))
    return leaks


def leak_sentence(leak: Leak, *, samples: str, unit: str, where: str, equal: str) -> str:
    """One leak said as every path says it, e.g. "8 of the 16 samples of the test split
    (50%) are also in the training and validation data (equal x and y; by nature none
    would be: ...): the test score is leaked (...)". `samples`: what a sample is called;
    `unit`: "split" or "stream"; `where`: what the split is compared with ("training
    data"); `equal`: what equal means here."""
    name = SPLIT_NAMES[leak.split]
    if leak.written and not leak.continuous:
        nature = (
            f"nearly every distinct sample is in the data more than once, most {leak.written} "
            "times, far more evenly than repeats by nature are: the data was written more "
            "than once, so equal samples are copies or repeated measurements"
        )
    elif leak.continuous:
        nature = (
            "by chance none would be: the features take too many values for distinct "
            "samples to be equal, so equal samples are copies or repeated measurements"
        )
    else:
        nature = (
            f"by nature about {leak.natural:.0%} would be, as often as the training ones "
            "repeat or a random split of them all would match"
        )
    others = (
        f" that are not blank (besides {leak.blank} of one value throughout, such as all "
        "zeros, which many training samples are by nature)"
        if leak.blank
        else ""
    )
    return (
        f"{leak.found} of the {leak.samples} {samples} of the {name} {unit}{others} "
        f"({leak.share:.0%}) "
        f"are also in the {where} ({equal}; {nature}): the {name} score is leaked (it "
        f"measures memory of the {where}, not how the model does on new data)."
    )


def _found(rows: np.ndarray, seen: np.ndarray) -> int:
    """How many of `rows` (hashes) are in `seen`."""
    return int(np.isin(rows, seen).sum()) if len(rows) and len(seen) else 0


def _leaked(found: int, count: int, natural: float) -> bool:
    """Whether `found` of `count` samples found in a reference split is a leak: at least
    `LEAK_SHARE` of them, `LEAK_SHARE` more than the `natural` share, and more than chance
    gives (one-sided binomial test at `natural`, p < `LEAK_ALPHA`: small splits of a few
    discrete features vary)."""
    from scipy import stats  # type: ignore[import-untyped]  # noqa: PLC0415 - slow to import

    share = found / count if count else 0.0
    if not found or share < LEAK_SHARE or share < natural + LEAK_SHARE:
        return False
    if natural <= 0:
        return True
    return float(stats.binomtest(found, count, natural, alternative="greater").pvalue) < LEAK_ALPHA


def natural_share(continuous: bool, seen: np.ndarray, rows: np.ndarray) -> float:
    """A new sample's chance to equal a sample of a reference split by nature (`seen`: the
    reference's hashes; `rows`: the split compared with it; `continuous`: whether a
    training feature is). 0 when a feature is continuous (equal samples are then copies;
    `find_leaks` counts out the blank atoms first, `_atoms`). Else the larger
    of the reference's `_twin_share` and `_pooled_share` (the reference alone says 0 when
    its samples are all distinct: a small or deduplicated training split of a few
    discrete features, whose values a new sample still hits)."""
    if continuous:
        return 0.0
    return max(_twin_share(seen), _pooled_share(seen, rows))


def _atoms(seen: np.ndarray, blank: np.ndarray | None) -> np.ndarray:
    """The blank values (`blank`: the hashes of samples whose inputs each hold one value,
    such as all zeros) that many samples of `seen` are (a split and its reference pooled:
    8 black images of 1,000 in training beside 60 of 200 in each held-out split are one
    atom): at least `ATOM_COUNT` and `ATOM_SHARE` of them. Such a value is an atom of a
    continuous distribution: idle sensor windows of all zeros, 20% of the samples, are
    distinct events that are equal (a probe's were refused as leaked by the split tunekit
    made itself). They are counted out of a split, not excused by share: copies of varied
    samples beside them are still copies (a probe's 90 copied rows in a test split of 50%
    blank rows). Copies of a sample with varied values are never atoms."""
    if blank is None or not len(blank) or not len(seen):
        return np.zeros(0, np.uint64)
    values, counts = np.unique(seen, return_counts=True)
    frequent = values[counts >= max(ATOM_COUNT, ATOM_SHARE * len(seen))]
    return frequent[np.isin(frequent, blank)]


def _common_blank(values: np.ndarray) -> np.ndarray:
    """Which rows of `values` (`(n, features)`) are blank (one value throughout) and equal
    to at least `ATOM_COUNT` and `ATOM_SHARE` of the rows: `(n,)` bool. Rows that are each
    constant but differ from one another (`[v, v, v]`, flat images of other greys) are not
    one atom (a probe's copies of such rows hid behind them)."""
    blank = (values == values[:, :1]).all(axis=1) if values.shape[1] else np.zeros(0, bool)
    common = np.zeros(len(values), bool)
    if blank.any():
        _, inverse, counts = np.unique(
            values[blank], axis=0, return_inverse=True, return_counts=True
        )
        many = counts[inverse.reshape(-1)] >= max(ATOM_COUNT, ATOM_SHARE * len(values))
        common[np.flatnonzero(blank)[many]] = True
    return common


def blank_rows(x: Any) -> np.ndarray:
    """Which samples of `x` (an array, or a dict, list or tuple of them) hold one value
    throughout each numeric input (all zeros, a saturated reading): `(n,)` bool. An input
    of another kind (text) makes no sample blank."""
    found: np.ndarray | None = None
    for leaf in leaves(x):
        values = np.asarray(leaf)
        if values.dtype.kind not in "fiub" or values.ndim < 1:
            return np.zeros(len(values) if values.ndim else 0, bool)
        flat = values.reshape(len(values), -1) if len(values) else np.zeros((0, 1))
        same = (flat == flat[:, :1]).all(axis=1) if flat.shape[1] else np.ones(len(flat), bool)
        found = same if found is None else found & same
    return np.zeros(0, bool) if found is None else found


def _twin_share(hashes: np.ndarray) -> float:
    """The share of samples with an equal one elsewhere in `hashes`: a leave-one-out
    estimate of a new sample's chance to equal one of them (Good-Turing's coverage,
    1 - singletons / samples), for a reference of the same size."""
    if len(hashes) < 2:
        return 0.0
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    return float((counts[inverse] > 1).mean())


def _pooled_share(seen: np.ndarray, rows: np.ndarray) -> float:
    """The share of `rows` expected to equal a sample of `seen` if the pooled samples had
    been dealt to the two at random (no leak): a value held `c` times, `k` of them dealt to
    `rows` (hypergeometric), counts `k` unless `k = c`; so `sum(c m / N - c P(k = c))`
    over the distinct values, divided by the `m` rows (`N` pooled)."""
    m, pooled = len(rows), len(seen) + len(rows)
    if not m or not len(seen):
        return 0.0
    counts = np.unique(np.concatenate([seen, rows]), return_counts=True)[1]
    sizes, values = np.unique(counts, return_counts=True)  # a few sizes: each computed once
    expected = 0.0
    for c, number in zip(sizes.tolist(), values.tolist(), strict=True):
        # P(k = c) = C(m, c) / C(N, c): every one of the c dealt to `rows`.
        alone = (
            math.exp(
                math.lgamma(m + 1)
                - math.lgamma(m - c + 1)
                - math.lgamma(pooled + 1)
                + math.lgamma(pooled - c + 1)
            )
            if c <= m
            else 0.0
        )
        expected += number * c * (m / pooled - alone)
    return expected / m


def feature_sample(x: Any, limit: int = CONTINUITY_SAMPLES) -> list[np.ndarray]:
    """The first `limit` samples of each input of `x` (an array, or a dict, list or tuple
    of them, as `row_hashes` takes) as `(samples, features)`, at most
    `CONTINUITY_FEATURES` features, evenly spaced; `(samples, 0)` for an input whose
    values are not numbers."""
    sampled = []
    for leaf in leaves(x):
        values = np.asarray(leaf)[:limit]
        if values.ndim == 0:
            values = values.reshape(1)
        if values.dtype.kind not in "fiu" or not values.size:  # no sample (or feature) either
            sampled.append(np.zeros((len(values), 0), np.float32))
            continue
        values = values.reshape(len(values), -1)
        width = values.shape[1]
        if width > CONTINUITY_FEATURES:
            values = values[:, np.linspace(0, width - 1, CONTINUITY_FEATURES).astype(np.int64)]
        sampled.append(np.array(values))  # a copy: a batch's array is not kept alive
    return sampled


def continuous_of(sampled: list[np.ndarray]) -> bool:
    """Whether some input of `feature_sample`'s (at least 20 distinct samples) makes equal
    samples copies: its values are too varied for two distinct samples to agree on all of
    them by nature (`_agreement`: fewer than `NATURAL_MATCH` of its samples would find an
    equal one among the others, were its features independent), and either a feature of
    fractional values holds more distinct ones than half the distinct samples, or the
    input has `MANY_FEATURES` values or more per sample (an image, whole numbers too).

    Distinct samples, not samples: the copies the rule looks for must not make a feature
    look discrete (every row of a CSV of continuous features written three times gave each
    value 3 samples, fewer than half: not continuous, so the copies' own repeats set the
    natural share and excused them, exit 0 on a leaked test score). The variety condition
    keeps one feature of few values (a temperature to 0.1 degree) discrete, whose repeats
    are natural; a pixel takes at most 256 levels however many images there are, and an
    image's pixels together tell distinct images apart. Blank samples (one value throughout:
    half of a probe's rows were all zeros, which made every feature look discrete and
    excused 90 copied rows) are set aside: `find_leaks` counts them out as atoms."""
    import pandas as pd  # noqa: PLC0415 - pandas is slow to import

    for values in sampled:
        if not values.shape[1]:
            continue
        values = values[~_common_blank(values)]  # blank atoms apart (`_atoms`)
        rows = np.unique(values, axis=0)
        if len(rows) < 20:
            continue
        if _agreement(values) + math.log(len(values)) >= math.log(NATURAL_MATCH):
            continue  # repeats by nature are likely: the copies' count says nothing
        if values.shape[1] >= MANY_FEATURES:
            return True
        fractional = (rows != np.round(rows)).any(axis=0)
        if fractional.any() and (pd.DataFrame(rows[:, fractional]).nunique() > len(rows) / 2).any():
            return True
    return False


def _agreement(rows: np.ndarray) -> float:
    """The log of the chance that two of `rows` (samples, `(n, features)`) drawn at random
    agree on every feature, were the features independent: the sum over features of the
    log of the sum of their values' squared frequencies (copies, which multiply every
    value's count alike, hardly change them), or of `_grid_agreement` where that is less.
    Features of two values are left out: one-hot columns (standardised or not) are not
    independent of each other, and 60 of them would make rows of a few categories look too
    varied to repeat by nature."""
    total = 0.0
    for column in rows.T:
        values, counts = np.unique(column, return_counts=True)
        if len(counts) > 2:
            chance = float(np.sum((counts / len(column)) ** 2))
            if 2 * len(values) >= len(column):  # most samples distinct: the values' grid
                chance = min(chance, _grid_agreement(column, values))
            total += math.log(max(chance, 1e-300))
    return total


def _grid_agreement(column: np.ndarray, values: np.ndarray) -> float:
    """The chance that two samples of a feature of many distinct values (`column`; its
    distinct `values`, sorted) agree by nature: the width of the grid its values lie on
    (`10**-d` for the fewest decimals `d` <= 6 that write every value, float32's
    resolution at its largest value when none does) times its density's squared integral
    (a histogram of `sqrt(n)` bins). The squared frequencies say about `1/n` of any such
    feature, however fine its values, so the copies of data of one or two continuous
    features passed as natural repeats (note 66); a temperature to 0.1 degree still gets
    its natural repeats here (its grid is 0.1)."""
    span = float(values[-1] - values[0])
    if not np.isfinite(span) or span <= 0:
        return 1.0
    scaled = values.astype(np.float64)
    grid = float(np.max(np.abs(scaled))) * 2.0**-23  # float32's resolution there
    for decimals in range(7):
        shifted = scaled * 10.0**decimals
        if np.all(np.abs(shifted - np.round(shifted)) <= 1e-6 * np.maximum(1, np.abs(shifted))):
            grid = 10.0**-decimals
            break
    bins = max(1, math.isqrt(len(column)))
    shares = np.histogram(column.astype(np.float64), bins=bins)[0] / len(column)
    return min(1.0, grid * float(np.sum(shares**2)) / (span / bins))
