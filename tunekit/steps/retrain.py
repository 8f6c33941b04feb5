"""The retrain step: the chosen configuration trained from scratch on train+validation."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import numpy as np
from keras_tuner.engine import trial as trial_module

from tunekit import _faults, _io, _log, interrupts, timing
from tunekit.data.streams import StreamData
from tunekit.errors import DataError, RetrainDivergedError
from tunekit.fitting import X_CHANGED_NOTE, Y_CHANGED_NOTE, fit_hypermodel
from tunekit.model_files import load_saved_model, save_keras
from tunekit.replacing import FINAL_LOGS, set_aside
from tunekit.retrain_backup import RetrainBackup
from tunekit.retraining import (
    NOT_STARTED,
    final_epochs_rule,
    restored_epoch,
    schedule_callbacks,
    schedule_note,
)
from tunekit.score_text import score_text
from tunekit.steps.base import RunContext, build_lazy, chosen_hyperparameters, final_fit_options
from tunekit.steps.file_checks import check_retrain_file
from tunekit.steps.final_fit_facts import retrain_facts
from tunekit.steps.finalists import finalist_selection
from tunekit.steps.fine_skips import coarse_pick
from tunekit.steps.search import completed_trials, refused_fit_args
from tunekit.trial_names import trial_name
from tunekit.trial_refusals import said_text
from tunekit.tuners import AnnounceFit, InterruptCheck, TrialFacts
from tunekit.tuners.callbacks import TensorBoard, empty_stream_message
from tunekit.user_tensorboard import phase_callbacks

_logger = logging.getLogger(__name__)

__all__ = [
    "BEST_HYPERPARAMETERS",
    "BEST_MODEL",
    "RetrainStep",
    "Selection",
    "ranked_trials",
    "select",
]

BEST_HYPERPARAMETERS = "best_hyperparameters.json"
BEST_MODEL = "best_model.keras"
_EPOCH_END = "retrain.epoch_end"  # a fault-injection point (`tunekit._faults`)
OWN_LOOP_RULE = (  # a retrain whose `fit` called no `model.fit` (`epochs_trained`: None)
    "epochs={} given to the hypermodel's own training loop, which called no model.fit: "
    "the epochs it ran are its own"
)


class Selection(NamedTuple):
    """The configuration `CoarseToFine.select()` picks; unpacks as `phase, trial, reason`.

    Attributes:
        phase: `"fine"` or `"coarse"`, where the chosen trial comes from.
        trial: The chosen COMPLETED trial (`keras_tuner.engine.trial.Trial`).
        reason: Why that trial was chosen, one sentence (`coarse trial 3 (id 2)`...).
    """

    phase: str
    trial: trial_module.Trial
    reason: str


def select(ctx: RunContext) -> Selection:
    """Picks the best configuration: a `Selection` `(phase, trial, reason)`.

    The best fine trial, unless a coarse trial scored better on the same
    objective or the hypermodel skipped every fine trial (`fine_skips`). Only
    COMPLETED trials with a finite score count; with `finalists` > 1, its pick.
    """
    if ctx.finalists > 1:
        picked = finalist_selection(ctx)
        if picked is not None:
            return Selection(*picked)
    fine, coarse = (completed_trials(ctx.ensure(p).oracle) for p in ("fine", "coarse"))
    best_fine, best_coarse = (trial_name(p, ctx.ensure(p).oracle, t[0].trial_id) if t else ""
        for p, t in (("fine", fine), ("coarse", coarse)))  # fmt: skip
    if not fine:  # every fine trial skipped by the hypermodel's FailedTrialError
        return Selection(*coarse_pick(ctx, coarse))
    better = (lambda a, b: a > b) if ctx.objective.direction == "max" else (lambda a, b: a < b)
    name, ours, theirs = ctx.objective.name, score_text(fine[0].score), ""
    if coarse:
        theirs = score_text(coarse[0].score)
    if coarse and better(coarse[0].score, fine[0].score):
        said = f"{name}={theirs}, better than the best fine trial, {best_fine}, at {ours}"
        return Selection("coarse", coarse[0], said)
    if coarse and coarse[0].score == fine[0].score:
        said = f"{name}={ours}, tied with the best coarse trial, {best_coarse}: on a tie the "
        return Selection("fine", fine[0], said + "fine trial is taken")
    said = f"{name}={ours}, the best of both phases; the best coarse trial, {best_coarse}, "
    return Selection("fine", fine[0], said + f"scored {theirs}")


def ranked_trials(ctx: RunContext) -> list[trial_module.Trial]:
    """The chosen trial (`select`), then every other usable trial of both phases by score
    (on a tie, fine before coarse, then by trial id)."""
    phase, chosen, _ = select(ctx)
    sign = -1 if ctx.objective.direction == "max" else 1
    others = sorted(
        (
            (p, t)
            for p in ("fine", "coarse")
            for t in completed_trials(ctx.ensure(p).oracle)
            if (p, t.trial_id) != (phase, chosen.trial_id)
        ),
        key=lambda pt: (sign * pt[1].score, pt[0] != "fine", pt[1].trial_id),
    )
    return [chosen, *(t for _, t in others)]


class _EpochLogs(keras.callbacks.Callback):
    """Records each finished epoch's logs in the manifest, before `BackupAndRestore` saves it.

    A retrain killed and resumed gets back only the resumed epochs from
    Keras's `History`; these records (by epoch index) keep the whole curve.
    An epoch recorded but not backed up is run again and recorded again.
    With `seconds` (the step's seconds so far, earlier sessions included), each
    record also keeps the step's time, so a stopped session's is not lost.
    """

    def __init__(self, manifest: Any, step: str, seconds: Callable[[], float] | None = None):
        super().__init__()
        self.manifest, self.step, self.seconds = manifest, step, seconds
        self.first_epoch: int | None = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Records a session's first epoch > 0 (`resumed_at`): a fit resumed from its backup
        (once: a session stopped before it ended an epoch adds no new resume point)."""
        if self.first_epoch is None:
            self.first_epoch = epoch
            earlier = self.manifest.step(self.step).get("resumed_at", [])
            if epoch > 0 and epoch not in earlier:
                self.manifest.mark(self.step, "running", resumed_at=[*earlier, epoch])

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        recorded = dict(self.manifest.step(self.step).get("epoch_logs", {}))
        recorded[str(epoch)] = {
            k: number for k, v in (logs or {}).items() if (number := _scalar(v)) is not None
        }
        timing = {} if self.seconds is None else {"seconds": self.seconds()}
        self.manifest.mark(self.step, "running", epoch_logs=recorded, **timing)


def _scalar(value: Any) -> float | None:
    """`value` as a float if it is one number (a Python, NumPy or backend scalar), else None:
    a callback may put anything in an epoch's logs; only numbers are curves (and JSON)."""
    try:
        return float(value) if np.ndim(value) == 0 and not isinstance(value, (str, bytes)) else None
    except (TypeError, ValueError):
        return None


def _curves(history: Any, recorded: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The retrain's metrics per epoch: the recorded epochs, or Keras's `History`.

    The records win when they run from epoch 0 without a gap and cover at
    least as many epochs as `History` (which a resumed fit starts late).
    """
    logs = getattr(history, "history", None) or {}
    ran = max((len(v) for v in logs.values()), default=0)
    n = len(recorded)
    if n and n >= ran and all(str(e) in recorded for e in range(n)):
        return {k: [recorded[str(e)].get(k) for e in range(n)] for k in recorded["0"]}
    curves = {k: [_scalar(v) for v in vs] for k, vs in logs.items()}
    return {k: vs for k, vs in curves.items() if None not in vs}


class RetrainStep:
    """Rebuilds the best configuration and trains it on train+validation.

    Through `hypermodel.fit(hp, model, ...)` with the chosen trial's `hp`, so
    values its own `fit` tunes (e.g. `batch_size`) are those of the trial.
    Writes `best_model.keras` and `best_hyperparameters.json`, which record the
    `epochs` and `batch_size` that `model.fit` received. Resumes by loading the
    saved model (`safe_mode=True`); an interrupted retrain restarts from its
    last epoch (`keras.callbacks.BackupAndRestore`). Its product is the model.
    """

    name = "retrain"
    requires: tuple[str, ...] = ("coarse", "fine")
    outputs: tuple[str, ...] = (BEST_MODEL, BEST_HYPERPARAMETERS)

    def ensure(self, ctx: RunContext) -> keras.Model:
        """Retrains (or loads) the final model.

        Raises:
            RetrainDivergedError: The loss became NaN or infinite (no model is saved).
            NoCompletedTrialsError: A phase ended without a completed trial.
            ModelSaveError: The chosen configuration's model cannot make the `.keras`
                trip (`check_retrain_file`; nothing is trained).
        """
        manifest = ctx.manifest
        path = ctx.run_dir / BEST_MODEL
        if manifest.is_done(self.name):
            return load_saved_model(
                path, ctx.hypermodel, lambda: chosen_hyperparameters(ctx), ctx.data
            )
        phase, trial, reason = select(ctx)
        chosen = trial_name(phase, ctx.ensure(phase).oracle, trial.trial_id)  # as its progress line
        interrupts.check()
        check_retrain_file(ctx, phase, trial)  # its .keras file, before anything trains
        hp = trial.hyperparameters
        epochs, rule = (
            final_epochs_rule(trial, ctx.max_epochs, ctx.final_schedule)
            if ctx.final_epochs == "auto"
            else (int(ctx.final_epochs), "a fixed count, not 'auto'")
        )
        backup = ctx.run_dir / "retrain_backup"
        resuming = backup.exists()
        logs = ctx.run_dir / FINAL_LOGS
        if not resuming and logs.exists():  # an earlier retrain's, from its first epoch
            aside = set_aside(
                ctx.run_dir,
                [FINAL_LOGS],
                {"why": "the retrain started again from its first epoch", "steps": [self.name]},
            )
            ctx.say(
                f"The TensorBoard logs of an earlier retrain ({logs}) are kept in {aside}: "
                "this retrain starts from its first epoch."
            )
        manifest.mark(
            self.name,
            "running",
            phase=phase,
            trial_id=trial.trial_id,
            reason=reason,
            final_epochs=epochs,  # and below, kept only for a retrain resumed from its backup
            epoch_logs=manifest.step(self.name).get("epoch_logs", {}) if resuming else {},
            resumed_at=manifest.step(self.name).get("resumed_at", []) if resuming else [],
        )

        before = float(manifest.step(self.name).get("seconds", 0.0))  # earlier sessions
        start = time.perf_counter()

        def elapsed() -> float:
            return round(before + time.perf_counter() - start, 2)

        facts = TrialFacts()
        scheduled = schedule_callbacks(ctx.final_schedule, epochs, ctx.callbacks, say=True)
        callbacks = [
            *scheduled,  # first: reads the tuned rate
            AnnounceFit(
                ctx.say,
                lambda n: (
                    f"Retraining {chosen} on train+validation for "
                    f"{_log.count(n, 'epoch')} ({reason})."
                ),
                planned=epochs,
            ),
            _EpochLogs(manifest, self.name, elapsed),  # before the backup: no epoch unrecorded
            RetrainBackup(str(backup)),  # Keras's, falling back to the previous epoch's copy
            TensorBoard(  # no graph: under JAX it traces the model again
                log_dir=str(logs),
                histogram_freq=1,
                write_graph=False,
            ),
            facts,
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda *_, **__: _faults.checkpoint(_EPOCH_END)
            ),
            InterruptCheck(),
            # Yours under <log_dir>/final: a resumed retrain appends, a new one sets aside.
            *phase_callbacks(ctx.callbacks, "final", fresh=not resuming),
        ]
        keras.utils.set_random_seed(ctx.seed)
        keras.backend.clear_session()
        model = ctx.hypermodel.build(hp)
        # A StreamData gives (train.concatenate(validation), None): never materialised.
        x, y = ctx.data.train_and_validation()
        build_lazy(model, ctx)
        with timing.timed_fit(ctx.run_dir / timing.TIMING_FILE, self.name, callbacks) as timed:
            fitted = fit_hypermodel(
                ctx.hypermodel,
                hp,
                model,
                x,
                y,
                epochs=epochs,
                batch_size=ctx.batch_size,
                callbacks=timed,
                verbose=0,
                refused=refused_fit_args(ctx),
                final="the retrain",
                before=retrain_facts(ctx, phase, trial, epochs),
                held_out={"test": getattr(ctx.data, "x_test", None)},
                **final_fit_options(ctx),
            )
        history = fitted.results
        notes = [X_CHANGED_NOTE] * fitted.x_changed + [Y_CHANGED_NOTE] * fitted.y_changed
        # the test set is scored as given: say what changed (--overwrite on the command line)
        x_note = said_text(" ".join(notes), ctx.said) if notes else None
        if x_note:
            _logger.warning("%s", x_note)
        # What model.fit received: the hypermodel's fit may set both itself.
        used, staged = fitted.fit_kwargs, len(fitted.stages) > 1  # in stages: epochs= is ours
        if not staged and (
            "epochs" in fitted.set_by_hypermodel or int(used.get("epochs", epochs)) != epochs
        ):
            rule = "set by the hypermodel's own fit"  # (or its fit's own model.fit call)
        epochs = epochs if staged else int(used.get("epochs", epochs))
        if not fitted.stages:  # a training loop of the hypermodel's own: no model.fit call
            rule = OWN_LOOP_RULE.format(epochs)
        # A stream brings its own batches: Keras ignores batch_size for it.
        streamed = isinstance(ctx.data, StreamData)
        batch_size = None if streamed or not used else used.get("batch_size")
        if facts.empty_epoch is not None:
            raise DataError(empty_stream_message(facts, "The final retrain"))
        if facts.nan_at is not None:
            raise RetrainDivergedError(
                f"The final retrain of {phase} trial {trial.trial_id} diverged: the loss "
                f"became NaN or infinite at epoch {facts.nan_at[0] + 1}. No model was saved. "
                "Pass a smaller final_epochs= or narrow the learning rate."
            )
        note = schedule_note(scheduled)  # None: the cosine schedule held (or was not asked)
        annealed = bool(scheduled) and note is None
        curves = _curves(history, manifest.step(self.name).pop("epoch_logs", {}))
        planned = epochs - int(0 if staged else used.get("initial_epoch") or 0)  # a later stage
        trained = planned if staged else max((len(v) for v in curves.values()), default=planned)
        restored = restored_epoch([*ctx.callbacks, *fitted.callbacks])
        saved = trained if restored is None else restored
        restoring = f" (EarlyStopping(restore_best_weights=True) restored epoch {restored}'s)"
        weights = "" if restored is None else restoring
        if trained < planned:  # a callback's model.stop_training (EarlyStopping, ...)
            counts = facts.epoch_batches  # this session's epochs: a stop within the last one
            if len(counts) >= 2 and 0 < counts[-1] < max(counts[:-1]):
                weights += f"; epoch {trained} ran {counts[-1]} of its {max(counts)} batches"
            rule = (
                f"{rule}; a callback stopped training after {trained} of the {planned} "
                f"epochs planned{weights}"
            )
            _logger.warning(
                "The retrain stopped after %s of the %d planned: a callback set "
                "model.stop_training. The saved model is the one after epoch %d%s%s.",
                _log.count(trained, "epoch"),
                planned,
                saved,
                weights,
                "; its learning rate was not annealed to the end" if annealed else "",
            )
        elif restored is not None and restored != epochs - max(0, planned - trained):
            rule = f"{rule}; the saved weights are epoch {restored}'s{weights}"
            _logger.warning(
                "The retrain trained %s, but the saved model is the one after epoch %d%s.",
                _log.count(trained, "epoch"),
                restored,
                weights,
            )
        _io.atomic_write(path, lambda tmp: save_keras(model, tmp))
        _io.write_json(
            ctx.run_dir / BEST_HYPERPARAMETERS,
            {
                "phase": phase,
                "trial_id": trial.trial_id,
                "reason": reason,
                "final_epochs": epochs,  # model.fit's epochs=
                # fewer when stopped; a fit in stages: every model.fit call's epochs
                "epochs_trained": sum(n for _, n in fitted.stages)
                if len(fitted.stages) > 1
                else epochs - max(0, planned - trained)
                if fitted.stages
                else None,  # an own loop's: unknown
                # An EarlyStopping(restore_best_weights=True) of the user's: an earlier epoch.
                "weights_from_epoch": restored,
                "batch_size": batch_size,
                "values": {k: v for k, v in hp.values.items() if hp.is_active(k)},
                # False: the cosine schedule set no rate, or another callback's rates won.
                "schedule_applied": note is None,
                "schedule_note": note,
                "x_note": x_note,
            },
        )
        if note == NOT_STARTED:  # (a reason the schedule knew, it has logged)
            _logger.warning("The retrain ran with %s (final_schedule='cosine').", NOT_STARTED)
        manifest.mark(
            self.name,
            "done",
            seconds=elapsed(),
            history=curves,
            # what the saved model trained, when a callback stopped it (the rule says so)
            final_epochs=epochs - max(0, planned - trained),
            epochs_rule=rule,
            batch_size=batch_size,
            # False: the schedule set no rate (`schedule_note` says why).
            schedule_applied=note is None,
            schedule_note=note,
            x_note=x_note,
            y_changed=fitted.y_changed,  # the fit trained on other targets: the report's note
        )
        return model
