"""The KerasTuner internals tunekit needs: the only module that imports `keras_tuner.src`.

Everything else uses KerasTuner's public API (`keras_tuner.HyperParameters`,
`keras_tuner.Objective`, `keras_tuner.Tuner`, `keras_tuner.oracles.*`,
`keras_tuner.engine.trial.Trial` / `TrialStatus`,
`keras_tuner.engine.hyperparameters.Fixed`, `keras_tuner.errors`...).
`tests/test_kerastuner_hooks.py` enforces that no other module imports
`keras_tuner.src`.

Each name below has no public equivalent in KerasTuner 1.4; each was checked
against KerasTuner 1.4.7 and 1.4.8 (same module, same name, same signature).
When upgrading KerasTuner, check this list first.

Used by the tuners and the workflow:

- `utils`: the module whose `save_json` KerasTuner calls to write
  `oracle.json`, `trial.json` and the tuner state; `tunekit._io` replaces that
  module attribute with an atomic write (KerasTuner offers no hook), and the
  tuners call it to save a trial's build config as KerasTuner does.
- `multi_backend()`: whether Keras 3 is in use; KerasTuner's
  `Tuner._build_and_fit_model` saves the build config only then, and tunekit's
  copy of that method must do the same for Hyperband to reload checkpoints.
- `validate_trial_results()`: KerasTuner's check (and error message) of what
  `HyperModel.fit` returned, called by tunekit's `_build_and_fit_model`.
- `convert_to_metrics_dict()`: KerasTuner's reading of what a fit returned
  (a History, a dict or a number) as `{metric: value}` at the objective's
  best epoch, used to score the finalists' extra seeds exactly as trials are
  scored.
- `SaveBestEpoch`: the callback KerasTuner's `Tuner.run_trial` adds to write a
  trial's best-epoch weights; `tunekit.timing` times it as checkpoint writes.
- `MultiObjective`: the objective KerasTuner makes of a list of objectives
  (`create_objective`), the sum of the parts; `tunekit.objectives` builds it
  from a list whose parts it has checked.
- `get_hypermodel()`: wraps a `build(hp)` function in a `HyperModel`, exactly
  as KerasTuner's tuners do, so the workflow builds and fits the same object.
- `config`: the module whose `DEBUG` flag (`True` as shipped) makes
  `BaseTuner._try_run_and_update_trial` print each failed trial's traceback
  to stderr, whatever the verbosity; `failed_trial_tracebacks(False)` turns
  it off for a search run with `verbose=0` (the traceback stays in the
  trial's `message`, in `trial.json`).

Used by distributed tuning only (KerasTuner loads `grpc` and `protos` on
import anyway, so importing them here costs nothing more):

- `protos`: KerasTuner's gRPC messages and service (`get_proto`,
  `get_service`, `get_service_grpc`), spoken by the chief.
- `conditions`: the module of `Parent`, whose `to_proto` prints a stray debug
  line in 1.4.7 and 1.4.8 (`quiet_condition_protos` replaces it).
- `oracle_client`: KerasTuner's `OracleClient` (subclassed by the worker) and
  its module-level `TIMEOUT` (set by the worker: no argument exists); its
  `_oracle`, the worker's own copy of the oracle, scores a trial's record from
  the chief as the chief does (`TunekitTuner._ended_results`).
- `oracle_chief`: KerasTuner's `OracleServicer`, subclassed by the chief.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from keras_tuner.src import config, protos, utils
from keras_tuner.src.backend.config import multi_backend
from keras_tuner.src.distribute import oracle_chief, oracle_client
from keras_tuner.src.engine import conditions
from keras_tuner.src.engine.hypermodel import get_hypermodel
from keras_tuner.src.engine.objective import MultiObjective
from keras_tuner.src.engine.tuner_utils import (
    SaveBestEpoch,
    convert_to_metrics_dict,
    validate_trial_results,
)

__all__ = [
    "CHECKED_VERSIONS",
    "MultiObjective",
    "SaveBestEpoch",
    "conditions",
    "config",
    "failed_trial_tracebacks",
    "convert_to_metrics_dict",
    "get_hypermodel",
    "multi_backend",
    "oracle_chief",
    "oracle_client",
    "protos",
    "utils",
    "validate_trial_results",
]

#: The KerasTuner versions every name above was checked against.
CHECKED_VERSIONS = ("1.4.7", "1.4.8")


@contextlib.contextmanager
def failed_trial_tracebacks(shown: bool) -> Iterator[None]:
    """Whether KerasTuner prints a failed trial's traceback meanwhile (`config.DEBUG`).

    Restores the flag's previous value when the block ends, however it ends.
    """
    before = config.DEBUG
    config.DEBUG = shown
    try:
        yield
    finally:
        config.DEBUG = before
