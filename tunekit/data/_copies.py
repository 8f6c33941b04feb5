"""Data whose samples nearly all repeat, more evenly than repeats by nature do: copies.

The split-leak rule (`tunekit.data._leak_rule`) excuses as many equal samples across
splits as occur by nature, measured on the data itself. When the data was written twice
or three times (a file exported twice, a bad merge, some rows trimmed since) the copies
set that measure and excuse themselves: a probe's CSV of 300 rows of coin-flip labels,
each row written three times, scored 0.75 test accuracy with exit 0, and so did iris
written twice or three times and a table of whole-number columns written twice.

Repeats by nature follow how often each value occurs: with `m` samples per distinct
sample on average, a Poisson spread of counts (truncated at 1, `lambda` solving
`m = lambda / (1 - exp(-lambda))`) leaves a share `lambda exp(-lambda) / (1 -
exp(-lambda))` of the distinct samples held once (31% for `m` = 2.3), and uneven
frequencies leave more. Data written `k` times holds almost none once. `written_times`
says so when far fewer are held once than that share gives (one-sided binomial test, p <
`LEAK_ALPHA`); repeats below 1.5 per distinct sample (some rows written twice) are left
to the rule's measure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = ["MIN_DISTINCT", "MIN_REPEATS", "written_times"]

# The fewest distinct samples, and the fewest samples per distinct sample on average,
# from which the counts say whether the data was written several times.
MIN_DISTINCT = 20
MIN_REPEATS = 1.5
_ALPHA = 1e-3  # the leak rule's `LEAK_ALPHA`


def written_times(hashes: Mapping[str, np.ndarray]) -> int:
    """The most common count of the data's distinct samples (every split's sample hashes,
    pooled), at least 2, when far fewer of them are held once than repeats by nature
    leave (see the module docstring); else 0.

    Examples: 300 rows each written three times gives 3; iris written twice with 20
    rows trimmed (20 of 147 distinct rows held once, where about 63 would be), 2;
    1,024 cells of 5 features of 4 values over 3,000 samples (Poisson counts), 0.
    """
    from scipy import stats  # type: ignore[import-untyped]

    pooled = [h for h in hashes.values() if len(h)]
    if not pooled:
        return 0
    counts = np.unique(np.concatenate(pooled), return_counts=True)[1]
    mean = float(counts.mean()) if len(counts) else 0.0
    if len(counts) < MIN_DISTINCT or mean < MIN_REPEATS:
        return 0
    rate = _poisson_rate(mean)
    once = rate * math.exp(-rate) / -math.expm1(-rate)
    if stats.binom.cdf(int((counts == 1).sum()), len(counts), once) >= _ALPHA:
        return 0
    sizes, number = np.unique(counts[counts > 1], return_counts=True)
    return int(sizes[np.argmax(number)])


def _poisson_rate(mean: float) -> float:
    """The `lambda` of a Poisson spread truncated at 1 whose mean is `mean` (> 1):
    `mean = lambda / (1 - exp(-lambda))`, by bisection."""
    low, high = 1e-9, mean
    for _ in range(100):
        middle = (low + high) / 2
        if middle / -math.expm1(-middle) < mean:
            low = middle
        else:
            high = middle
    return (low + high) / 2
