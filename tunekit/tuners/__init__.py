"""The tuner factory: KerasTuner's tuners with tunekit's trial bookkeeping.

`make_tuner` returns a real KerasTuner tuner (`isinstance(t, kt.Tuner)` holds;
for `"hyperband"` it is a `kt.Hyperband`) whose trials additionally:

- are seeded (`keras.utils.set_random_seed`) from the tuner's seed and the
  trial id, so weight initialisation and shuffling are reproducible;
- record `num_params`, `epochs` (run in this trial) and `seconds` next to the
  model's metrics in the oracle, so they reach `trial.json` (and the chief,
  when tuning is distributed);
- stop at once when the loss becomes NaN or infinite and are marked FAILED
  with the reason, never retried, so they cannot win or drive a narrowing;
- fail (`tunekit.trial_refusals.TrialRefusedError`, the search goes on) when
  their model reports no objective, naming the metrics it does, or when
  `model_check` refuses their built model: the model depends on their values;
- call the hypermodel's own `fit` through `tunekit.fitting.fit_hypermodel`,
  so a `fit` that sets `batch_size`, `epochs`, `callbacks`... itself (as in
  KerasTuner's documentation) works: its values win over `search()`'s;
- log their hyperparameters to TensorBoard's HParams on any Keras backend
  when a `keras.callbacks.TensorBoard` is passed to `search()` (see
  `tunekit.tensorboard`), and when they end, their score and metrics as
  `trials.csv` has them (see `tunekit.hparams_results`);
- with `cv=K` (random, Bayesian and grid search), are cross-validated: K
  folds of train+validation, each a fresh build and fit of the trial's
  model, scored by the mean over the folds, with `fold_<k>_score` per fold
  (see `tunekit.cv`). Hyperband refuses `cv`: it continues a trial from its
  parent's one checkpoint, and a cross-validated trial has K models;
- complete their callbacks' state when the hypermodel's `fit` returns (a
  training loop of its own may call only `on_epoch_end`): the best-epoch
  checkpoint Hyperband continues from, written once; under Hyperband, a trial
  that trained another number of epochs than given is warned about and
  recorded (`tunekit.own_loops`).

KerasTuner's own JSON state is written atomically (see `tunekit._io`), and the
project is saved before the first trial so an interrupted search resumes. What
the search learnt from its trials' fits (numbers returned under a metric's name,
scored or refused) is saved with the tuner's state (`tunekit.tuners.search_record`),
and a grid search rebuilds its walk through the grid on resume
(`tunekit.tuners.grid_oracle`), so a resumed search decides as an uninterrupted one.

KerasTuner is extended through its hooks only: tunekit's oracles are
subclasses of KerasTuner's, passed to a `kt.Tuner` subclass as `oracle=`
(`RandomSearch`, `BayesianOptimization`, `GridSearch`), or KerasTuner's own
tuner is subclassed and built through its constructor (`Hyperband`); tunekit's
settings (seed, phase, listeners, refused `fit` keywords) are constructor
arguments. The KerasTuner internals still used are listed, with the versions
they are checked against, in `tunekit._kerastuner`.

The package, in import order: `callbacks` (`TrialFacts`, `InterruptCheck`, `AnnounceFit`),
`own_loops` (what a hypermodel's own training loop leaves undone under Hyperband, said),
`oracles` (tunekit's oracles, `kerastuner_seed`, `end_failed_search`),
`grid_oracle` (`GridOracle`, KerasTuner's grid oracle, resumable),
`declared` (`declared_only`), `returned` (numbers a `fit` returns, checked),
`search_record` (what a search learnt from its fits, saved with the tuner),
`base` (`TunekitTuner`, the trial bookkeeping
and cross-validated `run_trial`), `factory` (the four tuners, `make_tuner`).
Every public name is importable from `tunekit.tuners`.
"""

from __future__ import annotations

from tunekit.tuners.base import TrialListener
from tunekit.tuners.callbacks import AnnounceFit, InterruptCheck, TrialFacts
from tunekit.tuners.declared import declared_only
from tunekit.tuners.factory import (
    HYPERBAND_EPOCHS,
    TUNER_KINDS,
    BayesianOptimization,
    GridSearch,
    Hyperband,
    RandomSearch,
    make_tuner,
)
from tunekit.tuners.grid_oracle import GridOracle
from tunekit.tuners.oracles import (
    MAX_REJECTED_IN_A_ROW,
    DefaultsFirstRandomSearchOracle,
    FixedSpaceBayesianOracle,
    HyperbandOracle,
    ModelSizeLimit,
    RandomSearchOracle,
    SizeLimitedOracle,
    end_failed_search,
    first_sample,
    kerastuner_seed,
    model_size,
)
from tunekit.tuners.size_check import check_size_limit

__all__ = [
    "HYPERBAND_EPOCHS",
    "MAX_REJECTED_IN_A_ROW",
    "TUNER_KINDS",
    "BayesianOptimization",
    "DefaultsFirstRandomSearchOracle",
    "FixedSpaceBayesianOracle",
    "GridOracle",
    "GridSearch",
    "Hyperband",
    "HyperbandOracle",
    "AnnounceFit",
    "InterruptCheck",
    "ModelSizeLimit",
    "RandomSearch",
    "RandomSearchOracle",
    "SizeLimitedOracle",
    "TrialFacts",
    "TrialListener",
    "check_size_limit",
    "declared_only",
    "end_failed_search",
    "first_sample",
    "kerastuner_seed",
    "make_tuner",
    "model_size",
]
