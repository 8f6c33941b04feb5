"""The rule of the final retrain: how many epochs, and at what learning rate.

One rule for every caller (the workflow and the benchmarks' single-search
arms), so configurations found by different searches are compared fairly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import keras

from tunekit.results import trial_epochs
from tunekit.retrain_callbacks import RATE_SETTERS, rate_setters, restored_epoch
from tunekit.settable_rates import OWN_SCHEDULE, SET_FAILURES, failed, no_effect, rate_not_settable
from tunekit.trial_length import EPOCHS, main_epochs, scored_length, stages_note
from tunekit.tuners.base import BEST_EPOCH

_logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from keras_tuner.engine.trial import Trial

__all__ = [
    "SCHEDULES",
    "final_epochs",
    "final_epochs_rule",
    "CosineDecayCallback",
    "schedule_callbacks",
    "RATE_SETTERS",
    "resumed_note",
    "restored_epoch",
    "schedule_text",
    "NOT_STARTED",
    "schedule_note",
    "rate_not_settable",
    "OWN_SCHEDULE",
]

SCHEDULES = ("cosine", "constant")


def final_epochs(trial: Trial, max_epochs: int, schedule: str = "cosine") -> int:
    """The `"auto"` epoch count of the retrain of a chosen trial.

    Under a `"constant"` schedule: the trial's best epoch counted from epoch 0
    (`tuner/initial_epoch + best_step + 1`; a Hyperband trial continues
    another). Past it, training at the tuned rate made the validation score
    worse. Under `"cosine"` (the default): the whole length the trial trained
    (`tuner/initial_epoch` plus the epochs it ran), because the schedule ends at
    a learning rate near 0 and the annealed last epochs are where it gains; cut
    to the best epoch, a cosine retrain spends its low-rate epochs too early (the
    default-budget CNN's winner: 99.17% retrained for its best epoch, 14, against
    99.30% for its length, 20; `benchmarks/results/cnn_space_winner_e*.json`).

    Either way, a trial whose best epoch was its last one was still improving
    when its budget stopped it: its count says where the budget ended, not where
    the curve peaked, so the retrain gets `max_epochs`, the longest training the
    search allowed any trial (never fewer than the count itself).

    A fit that returned a dict or a number, or no epoch: `trial_length.scored_length`.

    Args:
        trial: A completed `keras_tuner` trial.
        max_epochs: The most epochs the search gave any trial.
        schedule: The retrain's learning rate schedule, one of `SCHEDULES`.

    Raises:
        ValueError: `schedule` is not one of `SCHEDULES`.
    """
    return final_epochs_rule(trial, max_epochs, schedule)[0]


def final_epochs_rule(trial: Trial, max_epochs: int, schedule: str = "cosine") -> tuple[int, str]:
    """`final_epochs(trial, max_epochs, schedule)` and which part of the rule gave it.

    Returns:
        `(epochs, rule)`, e.g. `(20, "the length the trial trained, under the
        cosine schedule")`: the rule in words, for the report and the summary.

    Raises:
        ValueError: `schedule` is not one of `SCHEDULES`.
    """
    if schedule not in SCHEDULES:
        raise ValueError(
            f"The retrain schedule must be one of {SCHEDULES}. Received: {schedule!r}."
        )
    epochs, rule = _length_rule(trial, max_epochs, schedule)
    return epochs, rule + stages_note(epochs, trial.metrics)


def _length_rule(trial: Trial, max_epochs: int, schedule: str) -> tuple[int, str]:
    """`final_epochs_rule`'s length and rule before a fit in stages is said."""
    values = trial.hyperparameters.values
    metrics = trial.metrics
    best_step = trial.best_step  # several executions: their mean curve's best epoch
    if metrics.exists(BEST_EPOCH):
        best_step = int(metrics.get_last_value(BEST_EPOCH))
    epochs = trial_epochs(best_step, values)
    if (own := scored_length(metrics, values)) is not None:  # a score, or no epoch count
        return own
    if not metrics.exists(EPOCHS):  # not run by a tunekit tuner: no epoch count to compare
        return epochs, "the trial's best epoch (its length is unknown)"
    ran = main_epochs(int(metrics.get_last_value(EPOCHS)), metrics)  # a fit in stages: given
    if int(best_step or 0) + 1 >= ran:  # still improving
        if max_epochs >= epochs:
            return max_epochs, "max_epochs: the trial was still improving at its last epoch"
        return epochs, "the trial's length, longer than max_epochs: still improving at its end"
    if schedule == "cosine":
        length = int(values.get("tuner/initial_epoch", 0)) + ran
        return length, "the length the trial trained, under the cosine schedule"
    return epochs, "the trial's best epoch, under the constant schedule"


class CosineDecayCallback(keras.callbacks.Callback):
    """Anneals the optimizer's learning rate along a half cosine, once per epoch.

    Epoch `e` of `epochs` trains at `base * (1 + cos(pi * (e + 0.5) / epochs)) / 2`,
    where `base` is the learning rate the model was compiled with: close to
    `base` in the first epoch, close to 0 in the last. Per epoch (like
    `keras.callbacks.LearningRateScheduler`, which it uses) so that it works
    the same on every backend and resumes with `BackupAndRestore`; put it first
    in the callback list so it reads `base` before anything restores the
    optimizer. An optimizer whose rate cannot be set (`rate_not_settable`:
    its own `LearningRateSchedule` or a callable, also inside a
    `LossScaleOptimizer`, or a rate that setting fails on or does not change) is left
    alone, with a warning, before any epoch; a set that fails or does not take later
    stops the schedule there (`overridden` says so), never the fit.

    Another callback that sets the rate (a `LearningRateScheduler` or
    `ReduceLROnPlateau` of yours, one that assigns `model.optimizer.learning_rate`)
    wins: at each epoch's end, and at the next epoch's begin (before this one sets
    its rate; before the first, a rate set by another callback's `on_train_begin`),
    a rate other than the one it set stops the schedule for the rest of
    the fit, with a warning; `overridden` then says so. A rate changed and put
    back within one epoch is not seen (checking every batch would cost a read of
    the rate per batch).

    Args:
        epochs: Total epochs of the fit, counted from epoch 0. The `epochs`
            of the `fit` it is passed to wins when they differ (a
            hypermodel's own `fit` may set it, see `tunekit.fitting`).
        setters: Names of callbacks that might set the rate (the user's), for
            the warning. Defaults to none.
        waiting: `(name, monitor)` of callbacks that set the rate only once an
            epoch's logs hold `monitor` (a `ReduceLROnPlateau` on `val_loss`:
            `rate_setters`' `waiting`). At the end of the first epoch whose logs
            hold one (its `model.fit` got validation data), the schedule stops and
            puts the compiled rate back before that callback acts, as in a fit
            without the schedule (`overridden` says so). Defaults to none.
    """

    def __init__(
        self, epochs: int, setters: Sequence[str] = (), waiting: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__()
        self.epochs = int(epochs)
        self.setters = tuple(setters)
        self.waiting = tuple(waiting)
        self.base: float | None = None
        self._scheduler: keras.callbacks.LearningRateScheduler | None = None
        # Whether it set a rate: a hypermodel's own loop may never call on_train_begin.
        self.applied = False
        # Why it set none, when it knew (no optimizer, or the optimizer's own schedule).
        self.skipped: str | None = None
        #: Why the schedule stopped holding (another callback set the rate), or None.
        self.overridden: str | None = None
        self._set: float | None = None  # the rate it set last, as the optimizer holds it
        self._later = False  # a later model.fit of a fit in stages: the rate found is ours

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.epochs = int((self.params or {}).get("epochs") or self.epochs)
        optimizer = getattr(self.model, "optimizer", None)
        self.skipped, self._later = None, self.applied  # (each stage anneals from the base)
        self._set = None  # a later model.fit may compile another optimizer: not a setter
        if self.overridden is not None:  # a later model.fit of the same hypermodel fit
            self._scheduler = None
            return
        if optimizer is None:  # a hypermodel's own training loop, on a model it never compiled
            self.skipped = (
                "the model has no optimizer (the hypermodel's own fit trains it without "
                "compiling it), so no rate could be set"
            )
        else:
            self.skipped = rate_not_settable(optimizer)
        if self.skipped is not None or optimizer is None:
            _logger.warning("The cosine retrain schedule was not applied: %s.", self.skipped)
            return
        if self.base is None:
            self.base = self._current()
        self._scheduler = keras.callbacks.LearningRateScheduler(self.rate)
        self._scheduler.set_model(self.model)

    def _current(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def _held(self) -> bool:
        """Whether the optimizer still has the rate this callback set; if not, gives way."""
        if self._scheduler is None or self._set is None:
            return self._scheduler is not None
        current = self._current()
        if math.isclose(current, self._set, rel_tol=1e-6, abs_tol=1e-12):
            return True
        names = (
            ", ".join(self.setters)
            if self.setters
            else "not one of `callbacks=`: perhaps the hypermodel's own fit"
        )
        self.overridden = (
            f"the cosine learning-rate schedule did not hold: another callback sets the "
            f"learning rate ({names}); your rates were kept"
        )
        _logger.warning(
            "%s (the rate was %.3g where the schedule set %.3g).",
            self.overridden[0].upper() + self.overridden[1:],
            current,
            self._set,
        )
        self._scheduler = None
        return False

    def rate(self, epoch: int, lr: float | None = None) -> float:
        """The learning rate of `epoch` (0-based).

        Args:
            epoch: The epoch, from 0.
            lr: The base rate, used only before `on_train_begin` has read the
                compiled one. Defaults to `None`.

        Raises:
            ValueError: If no base rate is known yet and `lr` is `None`.
        """
        base = self.base if self.base is not None else lr
        if base is None:
            raise ValueError(
                "CosineDecayCallback.rate() before training needs the base rate: "
                f"pass `lr` (the compiled learning rate). Received: lr={lr!r}."
            )
        return base * 0.5 * (1.0 + math.cos(math.pi * (epoch + 0.5) / self.epochs))

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._set is None and self._scheduler and self.base is not None and not self._later:
            # Before its first rate: the compiled one, or one of the schedule's that a
            # BackupAndRestore put back; any other was set by a callback's on_train_begin.
            known = (self.base, *(self.rate(e) for e in range(self.epochs)))
            current = self._current()
            if not any(math.isclose(current, r, rel_tol=1e-6, abs_tol=1e-12) for r in known):
                self._set = self.base  # so `_held` gives way, naming the rate found
        # A setter acting at an epoch's end after this one (ReduceLROnPlateau) is seen here.
        if self._held() and self._scheduler is not None:
            try:
                self._scheduler.on_epoch_begin(epoch, logs)
            except SET_FAILURES as e:  # a setter that fails only now: keep the rate
                self._give_up(epoch, failed(self.model.optimizer, e))
                return
            self._set = self._current()
            if (why := no_effect(self.model.optimizer, self.rate(epoch), self._set)) is not None:
                self._give_up(epoch, why)
                return
            self.applied = True

    def _give_up(self, epoch: int, why: str) -> None:
        """Stops the schedule when setting the rate raised or had no effect (the fit goes
        on, at the rate the optimizer holds), with the note `why` and a warning."""
        self._scheduler = None
        if not self.applied:
            self.skipped = why
            _logger.warning("The cosine retrain schedule was not applied: %s.", why)
            return
        self.overridden = f"the cosine learning-rate schedule stopped at epoch {epoch + 1}: {why}"
        _logger.warning("The cosine retrain schedule stopped at epoch %d: %s.", epoch + 1, why)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # A setter at an epoch's (or a batch's) begin after this one is seen here.
        if self._held() and self._scheduler is not None:
            self._scheduler.on_epoch_end(epoch, logs)  # records `learning_rate` in the logs
            acting = [f"{n}(monitor={m!r})" for n, m in self.waiting if m in (logs or {})]
            if acting:  # runs before the user's callbacks: they find the compiled rate
                self._scheduler = None
                try:
                    self.model.optimizer.learning_rate = self.base
                except SET_FAILURES:  # (it was set each epoch: not expected)
                    pass
                self.overridden = (
                    f"the cosine learning-rate schedule stopped after epoch {epoch + 1}: "
                    f"{', '.join(acting)} acts in this fit, whose logs hold its validation "
                    "quantity (its model.fit got validation data); the compiled rate was put "
                    "back, and your callbacks' rates were kept"
                )
                _logger.warning("%s.", self.overridden[0].upper() + self.overridden[1:])


def schedule_callbacks(
    schedule: str,
    epochs: int,
    callbacks: Iterable[keras.callbacks.Callback] = (),
    *,
    say: bool = False,
) -> list[keras.callbacks.Callback]:
    """The callbacks that apply `schedule` ("cosine" or "constant") to a fit of `epochs`.

    Args:
        schedule: One of `SCHEDULES`.
        epochs: The fit's epochs.
        callbacks: The user's callbacks of the fit. With a `LearningRateScheduler`
            or a `ReduceLROnPlateau` on a quantity the fit logs (`loss`) among them
            (`rate_setters`' `acting`), no schedule is applied: the returned
            callback only records why (`schedule_note`). A `ReduceLROnPlateau` on
            a `val_*` quantity sets no rate in a fit without validation data: the
            schedule is applied, and gives way to it if the fit's logs hold its
            quantity after all (a hypermodel's fit that passes validation data on).
            Defaults to none.
        say: Whether to log that, once. Defaults to `False`.
    """
    if schedule not in SCHEDULES:
        raise ValueError(
            f"The retrain schedule must be one of {SCHEDULES}. Received: {schedule!r}."
        )
    if schedule != "cosine":
        return []
    found = rate_setters(callbacks)
    if found.acting:
        skipped = _Skipped(
            f"your callbacks set the learning rate ({', '.join(found.acting)}); your rates "
            "were kept"
        )
        if say:
            _logger.warning("The cosine retrain schedule is not applied: %s.", skipped.skipped)
        return [skipped]
    return [CosineDecayCallback(epochs, found.suspects, found.waiting)]


class _Skipped(keras.callbacks.Callback):
    """Stands for a cosine schedule not added (see `schedule_callbacks`): says why."""

    applied = False

    def __init__(self, skipped: str) -> None:
        super().__init__()
        self.skipped = skipped


NOT_STARTED = "the cosine schedule not applied: the hypermodel's own fit never started it"


def schedule_note(callbacks: list[keras.callbacks.Callback]) -> str | None:
    """Why the schedule of `callbacks` (`schedule_callbacks`) set no rate, or `None` if it
    did (or there was none to set): e.g. `NOT_STARTED`."""
    for callback in callbacks:
        overridden = getattr(callback, "overridden", None)
        if overridden:
            return str(overridden)
        if not getattr(callback, "applied", True):
            why = getattr(callback, "skipped", None)
            return f"the cosine schedule not applied: {why}" if why else NOT_STARTED
    return None


def schedule_text(schedule: str, best: Mapping[str, Any]) -> str:
    """The retrain's learning rate as it was, e.g. `cosine learning rate`, or why not.

    Args:
        schedule: The run's `final_schedule`.
        best: `report.json["best"]`; its `schedule_applied` is `False` when a
            hypermodel's own training loop never called the callbacks' hooks
            that start the schedule (`on_train_begin`).
    """
    if best.get("schedule_applied", True):
        return f"{schedule} learning rate"
    return str(best.get("schedule_note") or NOT_STARTED)


def resumed_note(resumed_at: list[int] | None, final_epochs: int) -> str | None:
    """What a retrain stopped and resumed from its backup means for its result, or `None`.

    `keras.callbacks.BackupAndRestore` restores the weights, the optimizer and
    the epoch, but not the random streams: the epochs after a resume shuffle
    the data and drop units otherwise than the same command run straight
    through, so the model and its test metrics may differ slightly from an
    uninterrupted run's (the searches' trials, resumed, are the same).

    Args:
        resumed_at: The 0-based epochs each later session started at (the
            manifest's `retrain.resumed_at`); empty or `None` for one session.
        final_epochs: The retrain's length in epochs.
    """
    if not resumed_at:
        return None
    after = ", ".join(str(e) for e in resumed_at)
    return (
        f"The retrain was stopped and resumed after epoch {after} of {final_epochs}. Its "
        "later epochs drew other random numbers (data order, dropout) than the same command "
        "run straight through, so the model and its test metrics may differ slightly from an "
        "uninterrupted run's. To retrain it in one session, delete best_model.keras and rerun "
        "the same command (only the retrain and what follows run again)."
    )
