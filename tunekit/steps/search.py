"""The search steps: the coarse RandomSearch and the fine Hyperband / Bayesian search.

Each phase is a KerasTuner project in `<run>/<phase>` (KerasTuner resumes
it); its trials run through the run's `PhaseRunner`: in this process, or on
workers a chief serves.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

from tunekit import _faults, interrupts
from tunekit._kerastuner import failed_trial_tracebacks
from tunekit.data import CLASSIFICATION, Dataset
from tunekit.data import _targets as tg
from tunekit.data.batches import full_batches, pads_trials, sample_bytes, validation_batch_size
from tunekit.data.streams import StreamData
from tunekit.errors import NoCompletedTrialsError
from tunekit.narrowing import is_usable
from tunekit.objectives import objective_names
from tunekit.own_loops import budget_ignored, epoch_budget_note
from tunekit.progress import (
    PhaseProgress,
    bar_console,
    exhausted_note,
    kerastuner_output,
)
from tunekit.steps.base import RunContext, fit_options
from tunekit.steps.fine_skips import ALL_SKIPPED, fine_all_skipped, skipped_note
from tunekit.steps.phase_restart import restart_if_nothing_completed
from tunekit.steps.trial_checks import trial_model_check
from tunekit.steps.trial_failures import failed_with, raise_if_failing, rerun_note
from tunekit.tensorboard import experiment_metrics, write_experiment
from tunekit.tuners import HYPERBAND_EPOCHS, make_tuner
from tunekit.tuners.callbacks import EpochTensorBoard
from tunekit.tuners.oracles import phase_seed
from tunekit.user_tensorboard import phase_callbacks, set_aside_logs

__all__ = [
    "HParamsExperiment",
    "SearchStep",
    "completed_trials",
    "cv_stratify",
    "phase_seed",
    "refused_fit_args",
]


def completed_trials(oracle: kt.Oracle) -> list[trial_module.Trial]:
    """The oracle's COMPLETED trials with a finite score, best first."""
    trials = [t for t in oracle.trials.values() if is_usable(t)]
    reverse = oracle.objective.direction == "max"
    return sorted(trials, key=lambda t: (-t.score if reverse else t.score, t.trial_id))


def cv_stratify(data: Dataset | StreamData) -> bool | None:
    """How a cross-validated run's folds split `data` (`cv_stratify=` of the tuners).

    Classification: `None`, stratified when the targets are class ids (a
    dict of targets is not). Regression: `False` (`KFold`).
    """
    return None if data.task == CLASSIFICATION else False


def refused_fit_args(ctx: RunContext) -> dict[str, str]:
    """`model.fit` keywords the hypermodel's own `fit` may not set in this run.

    A `fit` that sets `epochs` decides the epochs of every trial and of the
    retrain; that cannot be with Hyperband (its budget is epochs) or with
    an explicit `final_epochs`. A `fit` that sets `batch_size` decides the
    batches of every trial and of the retrain; that cannot be with an explicit
    `batch_size` (of arrays), which the run would otherwise drop while its
    report and reproduce line gave it. Refused from the first coarse trial on,
    before any training, rather than after the coarse phase.
    """
    refused: dict[str, str] = {}
    batch_size = ctx.given_settings.get("batch_size")
    if batch_size is not None and not isinstance(ctx.data, StreamData):
        refused["batch_size"] = (
            f"batch_size={batch_size} sets the batch size of every trial and of the retrain. "
            "Remove `batch_size` from the hypermodel's fit, or leave out batch_size= (the "
            "trials and the retrain then train in the batches the fit sets)."
        )
    if ctx.fine_tuner == "hyperband":
        return {**refused, "epochs": HYPERBAND_EPOCHS, "initial_epoch": HYPERBAND_EPOCHS}
    if ctx.final_epochs != "auto":
        refused["epochs"] = (
            f"final_epochs={ctx.final_epochs} sets the epochs of the retrain. Remove "
            "`epochs` from the hypermodel's fit, or leave final_epochs='auto': the "
            "retrain then trains the epochs the fit sets."
        )
    return refused


def num_initial_points(space: kt.HyperParameters, fine_trials: int) -> int:
    """Random points before the Gaussian process takes over: one more than the number of
    hyperparameters still tuned, at least 2, at most half the fine budget (but at least 1).
    KerasTuner's default, 3 x the space's size with Fixed values, can exceed the budget."""
    tuned = sum(1 for hp in space.space if not isinstance(hp, kt.engine.hyperparameters.Fixed))
    return max(1, min(max(2, tuned + 1), fine_trials // 2))


class HParamsExperiment:
    """The run's one TensorBoard HParams experiment, with every hyperparameter seen.

    The coarse space first (its domains cover the narrowed ones), then the
    fine space, then those of every trial (e.g. values a `HyperModel.fit`
    declared, which a fine oracle does not add to its space); the file is
    rewritten only when that adds something.
    """

    def __init__(self) -> None:
        self.names: set[str] | None = None

    def declare(self, ctx: RunContext, tuners: Sequence[kt.Tuner]) -> None:
        """Writes the experiment if `tuners` hold a hyperparameter not declared yet."""
        oracles = [tuner.oracle for tuner in tuners]
        entries = [hp for oracle in oracles for hp in oracle.hyperparameters.space]
        entries += [
            hp
            for oracle in oracles
            for trial in oracle.trials.values()
            for hp in trial.hyperparameters.space
        ]
        names = {hp.name for hp in entries}
        if names == self.names:
            return
        classification = ctx.data.task == CLASSIFICATION  # the objective's columns first:
        columns = experiment_metrics(objective_names(ctx.objective), classification=classification)
        write_experiment(ctx.run_dir / "tensorboard", entries, ("coarse", "fine"), columns)
        self.names = names


class SearchStep:
    """One search phase: `"coarse"` (RandomSearch) or `"fine"` (the narrowed space).

    Each searches its `hyperparameters=` (the run's, then the narrowed ones) and,
    unless `tune_new_entries=False`, a name it never met over its full range
    (`units_2` of a third layer no coarse trial built). Its product is the tuner.

    Args:
        phase: `"coarse"` or `"fine"`.
        experiment: The HParams experiment both phases declare into.
    """

    def __init__(self, phase: str, experiment: HParamsExperiment) -> None:
        self.name = phase
        # The KerasTuner project, resumed by KerasTuner; deleted, the search runs again.
        self.outputs: tuple[str, ...] = (phase,)
        self.requires: tuple[str, ...] = ("narrow",) if phase == "fine" else ()
        self.experiment = experiment
        self._listeners: tuple[Callable[[Any, Any], None], ...] = ()  # of the running search

    def _trial_ended(self, tuner: kt.Tuner, trial: trial_module.Trial) -> None:
        """The listener the phase's tuner is built with: tells the running search's listeners."""
        for listener in self._listeners:
            listener(tuner, trial)

    def epochs(self, ctx: RunContext) -> int:
        """Epochs of each trial (Hyperband's `max_epochs` in a Hyperband fine phase)."""
        return ctx.coarse_epochs if self.name == "coarse" else ctx.max_epochs

    def budget(self, ctx: RunContext) -> int:
        """Trials planned (0: Hyperband plans its own)."""
        if self.name == "coarse":
            return ctx.coarse_trials
        return ctx.fine_trials if ctx.fine_tuner == "bayesian" else 0

    def tuner(self, ctx: RunContext, *, worker: bool = False) -> kt.Tuner:
        """The phase's tuner; a worker's takes its trials (and their space) from the chief."""
        if self.name in ctx.tuners:
            return ctx.tuners[self.name]
        space = None if worker or self.name == "fine" else ctx.hyperparameters  # the user's
        if self.name == "fine" and not worker:
            space = ctx.ensure("narrow").hyperparameters
        # KerasTuner prints "Reloading Tuner from ..." whatever its verbosity: a progress line.
        with kerastuner_output(ctx.say):
            tuner = self._make_tuner(ctx, space, worker=worker)
        ctx.tuners[self.name] = tuner
        return tuner

    def _make_tuner(
        self, ctx: RunContext, space: kt.HyperParameters | None, *, worker: bool
    ) -> kt.Tuner:
        common: dict[str, Any] = dict(
            objective=ctx.objective,
            directory=str(ctx.run_dir),
            project_name=self.name,
            seed=phase_seed(ctx.seed, self.name),
            executions_per_trial=ctx.executions_per_trial,
            max_model_size=ctx.max_model_size,
            max_retries_per_trial=ctx.max_retries_per_trial,
            max_consecutive_failed_trials=ctx.max_consecutive_failed_trials,
            cv=ctx.cv,
            cv_stratify=cv_stratify(ctx.data),
            cv_seed=ctx.seed,  # both phases' folds: the run's seed, as the up-front check
            refused_fit_args=refused_fit_args(ctx),
            objective_defaulted=ctx.objective_defaulted,
            model_check=trial_model_check(ctx),
            listeners=(self._trial_ended,),
            hyperparameters=None if space is None else space.copy(),
            # the defaults' refusal stops the run; a narrowed space's defaults are not them
            stop_on_default_refusal=self.name == "coarse",
            said=ctx.said,  # a trial's refusal names the settings as the run does
        )
        if not worker:  # KerasTuner's space settings
            common.update(
                tune_new_entries=ctx.tune_new_entries, allow_new_entries=ctx.allow_new_entries
            )
        if self.name == "coarse":
            tuner = make_tuner(
                "random",
                ctx.hypermodel,
                max_trials=ctx.coarse_trials,
                defaults_first=ctx.defaults_first,
                **common,
            )
        else:
            if ctx.fine_tuner == "hyperband":
                tuner = make_tuner(
                    "hyperband",
                    ctx.hypermodel,
                    max_epochs=ctx.max_epochs,
                    factor=ctx.factor,
                    **common,
                )
            else:
                initial = 1 if space is None else num_initial_points(space, ctx.fine_trials)
                tuner = make_tuner(
                    "bayesian",
                    ctx.hypermodel,
                    max_trials=ctx.fine_trials,
                    num_initial_points=initial,
                    **common,
                )
        return tuner

    def search(self, ctx: RunContext, tuner: kt.Tuner) -> None:
        """`tuner.search` on the training data, validated on the validation split.

        Arrays (or dicts of arrays) go as `x, y`, the training ones padded to
        whole batches (`full_batches`) unless the hypermodel has its own `fit`
        (which may pair `x` with arrays of its own, e.g. sample weights); a
        `StreamData`'s train and validation streams go as they are
        (`tf.data.Dataset` / PyDataset).
        """
        # No graph per trial (under JAX as costly as two MNIST epochs); no per-batch hook.
        callbacks = [
            EpochTensorBoard(
                log_dir=str(ctx.run_dir / "tensorboard" / self.name), write_graph=False
            )
        ]
        data = ctx.data
        extra: dict[str, Any] = {}
        if isinstance(data, StreamData):  # streams go as they are, batched by their maker
            x, y, validation = data.train, None, data.validation
            extra["shuffle"] = False  # a stream shuffles itself (Keras warns otherwise)
            tuner.fresh_x = data.fresh_train if data.reopen_train else None  # order by seed
        else:
            x, y = data.x_train, data.model_targets(data.y_train)
            validation = (data.x_val, data.model_targets(data.y_val))
            if ctx.cv == 1:  # cross-validation's folds are of other sizes
                num_val = tg.length(data.y_val, "y_val")
                extra["validation_batch_size"] = validation_batch_size(
                    num_val, ctx.batch_size, sample_bytes(data.x_val)
                )
            if pads_trials(ctx):  # not for a hypermodel's own fit: it may count x
                x, y, _ = full_batches(x, y, ctx.batch_size, ctx.seed)
        tuner.search(
            x,
            y,
            validation_data=validation,
            epochs=self.epochs(ctx),
            batch_size=ctx.batch_size,  # Keras ignores it for tf.data and PyDataset
            # Yours under <log_dir>/<phase>: trial ids restart in each search.
            callbacks=callbacks + phase_callbacks(ctx.callbacks, self.name),
            verbose=0,
            **fit_options(ctx),
            **extra,
        )

    def declare_experiment(self, ctx: RunContext) -> None:
        """Declares every hyperparameter the phases' tuners have seen so far."""
        ordered = [ctx.tuners[p] for p in ("coarse", "fine") if p in ctx.tuners]
        self.experiment.declare(ctx, ordered)

    def ensure(self, ctx: RunContext) -> kt.Tuner:
        """Runs (or resumes) the phase's search; returns its tuner.

        Raises:
            NoCompletedTrialsError: No trial completed with a finite score (but a fine
                phase whose every trial the hypermodel skipped with FailedTrialError is
                done, with no best: `tunekit.steps.fine_skips`).
            TrialsFailedError: `max_consecutive_failed_trials` trials in a row FAILED.
        """
        manifest = ctx.manifest
        if not manifest.is_done(self.name):
            ctx.check_model()
        for name in self.requires:
            ctx.ensure(name)
        if self.name == "fine":
            ctx.ensure("coarse")  # declared first in the HParams experiment
        restart_if_nothing_completed(ctx, self.name)  # e.g. every trial failed by chance
        tuner = self.tuner(ctx)
        if manifest.is_done(self.name):
            return tuner
        interrupts.check()
        if not tuner.oracle.trials:  # from its first trial: earlier logs in your log_dir go aside
            set_aside_logs(ctx.callbacks, self.name)
        self.declare_experiment(ctx)
        # Earlier sessions' seconds, then this one's, recorded after every trial (kept on a stop).
        before = float(manifest.step(self.name).get("seconds", 0.0))
        manifest.mark(self.name, "running", seconds=before)
        start = time.perf_counter()

        def elapsed() -> float:
            return round(before + time.perf_counter() - start, 2)

        console = bar_console(ctx.progress) if ctx.verbose else None
        progress = PhaseProgress(self.name, write=ctx.say, console=console)
        listeners: tuple[Callable[[Any, Any], None], ...] = (
            progress,
            lambda tuner, trial: self.declare_experiment(ctx),
            lambda tuner, trial: manifest.mark(self.name, "running", seconds=elapsed()),
        )
        self._listeners = listeners
        try:
            # verbose=0: no KerasTuner traceback per failed trial (trial.json keeps it).
            with progress.showing(tuner.oracle), failed_trial_tracebacks(bool(ctx.verbose)):
                try:
                    ctx.runner.run_phase(
                        self.name, tuner, lambda: self.search(ctx, tuner), listeners
                    )
                except RuntimeError as e:
                    raise_if_failing(self.name, ctx, tuner, e)
                    raise
        except BaseException:
            # Stopped (Ctrl-C, SIGTERM, an error): keep this session's time for the rerun. A
            # manifest that cannot be written now (a full disk) must not hide the first error.
            with contextlib.suppress(OSError):
                manifest.mark(self.name, "running", seconds=elapsed())
            raise
        finally:
            self._listeners = ()
        best = completed_trials(tuner.oracle)
        ran = len(tuner.oracle.trials)
        budget = self.budget(ctx)
        rejected = getattr(tuner.oracle, "rejected_oversized", 0)
        note = exhausted_note(self.name, tuner.oracle, budget, ctx.max_model_size)
        if note:
            ctx.say(note)
        if ignored := budget_ignored(tuner.oracle.trials.values()):  # an own fit's epochs
            ctx.say(epoch_budget_note(self.name, ignored, command_line=ctx.said is not str))
        skipped = 0 if best else fine_all_skipped(ctx, self.name, tuner.oracle)
        if skipped:  # the hypermodel skipped each fine trial: the pick is the best coarse one
            ctx.say(
                f"The fine phase ends: {skipped_note(skipped)}; the best coarse trial is chosen."
            )
        elif not best:
            failed = [t for t in map(tuner.oracle.trials.get, tuner.oracle.end_order) if t]
            failed = [t for t in failed if t.status == trial_module.TrialStatus.FAILED]
            last = f" The last failed, {failed_with(ctx, tuner, failed[-1])}" if failed else ""
            raise NoCompletedTrialsError(
                f"No {self.name} trial completed with a finite {ctx.objective.name} "
                f"({ran} ran; see `error` in trials_dataframe('{ctx.run_dir}')).{last} If it "
                "does not depend on chance, fix what it names (the hypermodel, its ranges or "
                "the data), then rerun (a changed hypermodel starts over: pass "
                "overwrite=True); if it is transient (a file or a server that did not answer, "
                f"out of memory), {rerun_note(ctx, self.name, restarts=True, more_failures=False)}"
            )
        manifest.mark(
            self.name,
            "done",
            seconds=elapsed(),
            best_trial_id=best[0].trial_id if best else None,
            best_score=best[0].score if best else None,  # None: all skipped (`fine_skips`)
            num_trials=ran,
            **({ALL_SKIPPED: skipped} if skipped else {}),
            **({"rejected_oversized": rejected} if ctx.max_model_size is not None else {}),
            **({"epoch_budget_ignored": ignored} if ignored else {}),
            **ctx.runner.space_grew(self.name, manifest.step(self.name).get("space_grew", [])),
        )
        _faults.checkpoint("phase.end")
        interrupts.check()
        return tuner
