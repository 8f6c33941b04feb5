"""The base of tunekit's oracles: where KerasTuner's own `Oracle` fails, a clear outcome."""

from __future__ import annotations

from typing import Any

import keras_tuner as kt
from keras_tuner.engine.metrics_tracking import infer_metric_direction

from tunekit.fitting import SearchInputError
from tunekit.objectives import known_direction
from tunekit.trial_length import result_step

__all__ = ["BaseOracle", "check_names_declared_once"]


class BaseOracle(kt.Oracle):
    """KerasTuner's `Oracle`, with a direction for every metric and a clear new-entry error.

    The base of tunekit's oracles (`tunekit.tuners.oracles`).
    """

    def update_space(self, hyperparameters: kt.HyperParameters) -> None:
        """KerasTuner's; with `allow_new_entries=False`, new entries raise `SearchInputError`,
        and so does a name declared again under other conditions.

        KerasTuner raises a bare `RuntimeError` when a trial's build or `fit`
        declared a name `hyperparameters=` does not list, after the trial
        trained; the check before training sees only the defaults' build.

        Raises:
            SearchInputError: Naming the new entries and the two fixes.
        """
        try:
            super().update_space(hyperparameters)
            check_names_declared_once(self.hyperparameters)
        except RuntimeError as e:
            if "allow_new_entries" not in str(e):
                raise
            known = {hp.name for hp in self.hyperparameters.space}
            new = sorted({hp.name for hp in hyperparameters.space} - known)
            raise SearchInputError(
                f"allow_new_entries=False, but a trial's build or fit declared {new}, which "
                "hyperparameters= does not list (a name declared only in some configurations, "
                "e.g. in a loop, or in the hypermodel's fit). List them in hyperparameters "
                "(hp.Fixed(name, value) keeps one as it is), or leave allow_new_entries=True."
            ) from None

    def _record_values(self, trial: Any) -> None:
        """KerasTuner's; with `tune_new_entries=False`, the proposal stays marked as tried.

        KerasTuner records a trial by the hash of all its values, the untuned
        entries' defaults included, and drops the hash of what it proposed
        (the tuned entries only): each configuration was proposed again, the
        space never counted as exhausted, and duplicates were trained (and
        counted as separate evidence by the narrowing). The proposal's hash is
        kept too, so a repeat is a collision, as with every entry tuned.
        """
        super()._record_values(trial)
        if self.tune_new_entries:
            return
        tuned = {hp.name for hp in self.hyperparameters.space}
        values = trial.hyperparameters.values
        proposed = {name: value for name, value in values.items() if name in tuned}
        self._tried_so_far.add(self._compute_values_hash(proposed))

    def reload(self) -> None:
        """KerasTuner's; the trials then in the order they were made, as in the search.

        KerasTuner reads the trials back in the file system's order, and its
        Bayesian oracle fits its Gaussian process on them in that order: the
        sums came out in other roundings, and a resumed search proposed other
        values (a learning rate 0.002331382800 straight through, 0.002331374906
        resumed) than the same search run straight through.
        """
        super().reload()
        trials: dict[str, Any] = vars(self)["trials"]  # KerasTuner's, untyped
        self.trials = dict(sorted(trials.items(), key=lambda item: _trial_order(item[0])))

    def update_trial(self, trial_id: str, metrics: dict[str, Any], step: int = 0) -> Any:
        """KerasTuner's, with tunekit's direction for each Keras metric it knows.

        KerasTuner infers a new metric's direction by deserializing its name
        with Keras. For `mean_io_u`, `io_u`, `one_hot_io_u` and
        `precision_at_recall` that raises a `TypeError` it does not catch, so
        every trial of a model compiled with `MeanIoU` failed after training;
        for `r2_score`, `f1_score`, `binary_io_u` and the correlations it
        says `min`, so each trial's record kept their worst value as the
        best. A metric whose direction tunekit knows (`known_direction`) is
        registered with it first; another is left to KerasTuner, or `min`
        (KerasTuner's default) where its inference crashes.

        A result a fit returned as a dict or one number (`SCORED_AT_END`) is
        filed at the last epoch it trained (`tunekit.trial_length.result_step`),
        so its `best_step` is that epoch, not KerasTuner's 0.
        """
        trial = self.trials.get(trial_id)
        if trial is not None:
            for name in metrics:
                if trial.metrics.exists(name) or _objective_direction(self.objective, name):
                    continue
                if (known := known_direction(name, None)) is not None:  # reported names
                    trial.metrics.register(name, direction=known)
                    continue
                try:
                    infer_metric_direction(name)
                except Exception:  # noqa: BLE001 - KerasTuner's inference crashed on the name
                    trial.metrics.register(name, direction="min")
        # A dict or a number a fit returned was measured after its last epoch: filed there,
        # not at KerasTuner's step 0 (`tunekit.trial_length`).
        return super().update_trial(trial_id, metrics, result_step(metrics, step))


def check_names_declared_once(space: kt.HyperParameters, names: set[str] | None = None) -> None:
    """Raises `SearchInputError` for a name with more than one entry in the space
    (of `names` only, if given).

    A build that declares a name under two conditional scopes (in each pass of a
    loop's `hp.conditional_scope`, or `units` under `model == "a"` and again under
    `model == "b"`) makes KerasTuner keep one entry per scope but one value per
    name: trials that reach the other entry fail with `KeyError: 'units'` (plain
    KerasTuner's too), and a second tuner given the space (the fine phase) fails as
    it is made.
    """
    entries: dict[str, list[Any]] = {}
    for hp in space.space:
        entries.setdefault(hp.name, []).append(hp)
    for name, same in entries.items():
        if len(same) < 2 or (names is not None and name not in names):
            continue
        where = "; ".join(_said(hp.conditions) for hp in same)
        kind = type(same[0]).__name__
        raise SearchInputError(
            f"The hypermodel declares {name!r} more than once, under other conditions "
            f"({where}), e.g. in each pass of a loop's hp.conditional_scope or in two "
            "scopes: KerasTuner keeps an entry per declaration but one value per name, so "
            f"trials fail with KeyError: {name!r} (plain KerasTuner's too). Give each "
            f"declaration its own name (hp.{kind}(f'{name}_{{i}}', ...) in a loop), or "
            "declare it once, outside the scopes. If one of them is an entry of your "
            "hyperparameters=, declare it there inside the same hp.conditional_scope as the "
            "hypermodel does."
        )


def _said(conditions: list[Any]) -> str:
    parts = [f"{c.name} in {list(c.values)}" for c in conditions if hasattr(c, "values")]
    return " and ".join(parts) or "always"


def _objective_direction(objective: Any, name: str) -> str | None:
    """The direction an objective (or one part of KerasTuner's sum) gives `name`, if any."""
    for part in getattr(objective, "objectives", None) or [objective]:
        if getattr(part, "name", None) == name:
            return str(part.direction)
    return None


def _trial_order(trial_id: str) -> tuple[int, str]:
    """The order trials are made in: KerasTuner's ids count up (`"0009"` before `"0010"`)."""
    return (len(trial_id), trial_id)
