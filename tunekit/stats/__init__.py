"""How sure a result is: intervals, paired tests and the tuned-against-baseline verdict.

Pure functions on arrays and scores (issue 17, item 2) for the finalists,
baseline and final-seeds steps and the report. These modules, all names
importable from `tunekit.stats` itself:

- `tunekit.stats.intervals`: `wilson_interval`, a 95% interval for an
  accuracy (Wilson 1927), and `bootstrap_interval`, a BCa bootstrap interval
  for a regression metric that resamples test examples (Efron 1987);
  `balanced_accuracy_interval` (in `tunekit.stats.classified`) the same for a
  classifier's balanced accuracy.
- `tunekit.stats.paired`: `mcnemar_exact`, McNemar's exact test on two
  classifiers' paired test predictions (McNemar 1947, in the exact binomial
  form of statsmodels' `mcnemar(exact=True)`); `summarize_scores` (mean and
  spread over seeds) and `paired_test` (Wilcoxon signed-rank and sign test of
  two arms over the same seeds).
- `tunekit.stats.baseline`: `compare_to_baseline`, each test metric with its
  interval for the tuned model and the baseline, McNemar's test for
  classification (a paired bootstrap for balanced accuracy, for weighed
  classes: `tunekit.stats.classified`), and a plain verdict ("better",
  "indistinguishable", "worse") for the report, with its result types in
  `tunekit.stats.comparison`.
- `tunekit.stats.guess`: `constant_guess` and `GuessCheck`, each model against a
  constant guess (the report's usefulness check), which the verdict names; on a
  test set where the guess is perfect (one class, targets all equal) they say
  that the test set cannot tell. Classes are named by `class_names` (`class_name`).

Bad input raises `tunekit.errors.UsageError` (a `ValueError`) naming the
argument. Built on numpy, scipy and scikit-learn; imports no Keras.

Example:

```python
comparison = compare_to_baseline(y_test, tuned_labels, baseline_labels)
print(comparison.verdict)
json.dumps(comparison.to_dict())
```
"""

from __future__ import annotations

from tunekit.stats.baseline import compare_to_baseline
from tunekit.stats.classified import balanced_accuracy_interval
from tunekit.stats.comparison import BaselineComparison, MetricComparison
from tunekit.stats.guess import GuessCheck, constant_guess
from tunekit.stats.intervals import Interval, bootstrap_interval, wilson_interval
from tunekit.stats.paired import (
    McNemarResult,
    PairedTestResult,
    ScoreSummary,
    mcnemar_exact,
    paired_test,
    summarize_scores,
)

__all__ = [
    "BaselineComparison",
    "GuessCheck",
    "Interval",
    "McNemarResult",
    "MetricComparison",
    "PairedTestResult",
    "ScoreSummary",
    "balanced_accuracy_interval",
    "bootstrap_interval",
    "compare_to_baseline",
    "constant_guess",
    "mcnemar_exact",
    "paired_test",
    "summarize_scores",
    "wilson_interval",
]
