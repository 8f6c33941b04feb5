"""Data in which every sample is written the same number of times: copies, by their count.

The split-leak rule (`tunekit.data._leak_rule`) excuses as many equal samples across
splits as occur by nature, measured on the data itself. When every sample was written
twice or three times (a file exported twice, a bad merge) the copies set that measure and
excuse themselves: a probe's CSV of 300 rows of coin-flip labels, each row written three
times, scored 0.75 test accuracy with exit 0, and so did iris written three times and a
table of whole-number columns written twice. Samples that repeat by nature (a few values
per feature) repeat a varying number of times; the same count for nearly every distinct
sample is what writing the data `k` times gives.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["REGULAR_SHARE", "written_times"]

# The share of distinct samples held exactly `k` times from which the data was written `k`
# times; and the fewest distinct samples that say so.
REGULAR_SHARE = 0.9
MIN_DISTINCT = 20


def written_times(hashes: Mapping[str, np.ndarray]) -> int:
    """`k` when the data (every split's sample hashes, pooled) holds nearly every distinct
    sample exactly `k` >= 2 times (`REGULAR_SHARE`, 90%, of at least `MIN_DISTINCT`
    distinct samples), else 0.

    A random spread of natural repeats (features of few values) gives counts that vary
    from sample to sample; 300 rows each written three times give 3 for every one, and
    iris written three times gives 3 for 144 of its 147 distinct rows (its natural twins
    6)."""
    pooled = [h for h in hashes.values() if len(h)]
    if not pooled:
        return 0
    counts = np.unique(np.concatenate(pooled), return_counts=True)[1]
    if len(counts) < MIN_DISTINCT:
        return 0
    sizes, number = np.unique(counts, return_counts=True)
    k = int(sizes[np.argmax(number)])
    return k if k >= 2 and number.max() >= REGULAR_SHARE * len(counts) else 0
