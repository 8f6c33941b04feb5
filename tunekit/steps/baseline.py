"""The baseline step: the hypermodel's default configuration, retrained like the winner.

The number a reader wants next to a tuned model is what the untuned one
scores. The baseline is `hypermodel.build(kt.HyperParameters())`: every
hyperparameter at the default it declares (for a build function, the
`default=` of each `hp.*` call, else KerasTuner's: a range's minimum, a
choice's first value), or those of the run's `hyperparameters=` where it
gives them (KerasTuner's override). It is trained by the winner's rule: the same epochs
as the winner's retrain, the same `final_schedule`, batch size and seed, on
train+validation, through the hypermodel's own `fit`. Saved as
`baseline_model.keras`; the evaluate step compares both saved models on the
test set (`tunekit.stats.compare_to_baseline`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt

from tunekit import _io, _log, interrupts, timing
from tunekit.fit_inputs import TrainedBefore
from tunekit.fitting import fit_hypermodel
from tunekit.model_files import save_keras
from tunekit.model_size import param_count
from tunekit.report_trust import BASELINE_MODEL
from tunekit.retraining import schedule_callbacks
from tunekit.steps.base import RunContext, build_lazy, final_fit_options
from tunekit.steps.final_fit_facts import baseline_facts
from tunekit.steps.search import refused_fit_args
from tunekit.tuners import AnnounceFit, InterruptCheck, TrialFacts
from tunekit.user_tensorboard import phase_callbacks

__all__ = ["BASELINE_MODEL", "BaselineStep", "FinalFit", "train_like_winner"]


@dataclass
class FinalFit:
    """One model trained by the final retrain's rule.

    Attributes:
        model: The trained model.
        seconds: Wall time of build and fit.
        epochs: The epochs `model.fit` received.
        diverged_at: The epoch (from 1) at which the loss became NaN or
            infinite, or `None`.
    """

    model: keras.Model
    seconds: float
    epochs: int
    diverged_at: int | None


def train_like_winner(
    ctx: RunContext,
    hp: kt.HyperParameters,
    *,
    epochs: int,
    seed: int,
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
    step: str = "baseline",
    log_parts: tuple[str, ...] | None = None,
    before: TrainedBefore | None = None,
) -> FinalFit:
    """Builds `hp` and trains it on train+validation by the final retrain's rule.

    `final_schedule`'s learning-rate callbacks, `batch_size`, the
    hypermodel's own `fit`, the run's class weights (`fit_options`), a
    stream left unshuffled, and `seed` for initialisation and shuffling.

    Args:
        ctx: The run.
        hp: The configuration (`kt.HyperParameters()` for the defaults).
        epochs: Epochs of the fit (the winner's retrain's).
        seed: Seed set before building.
        extra_callbacks: Callbacks after tunekit's. Defaults to none.
        step: The step whose time the fit is (its row in the run's
            `timing.csv`). Defaults to `"baseline"`.
        log_parts: The subfolder of a TensorBoard callback of yours
            (`tunekit.user_tensorboard`), e.g. `("final_seeds", "seed3")`.
            Defaults to `(step,)`.
        before: What trained before this fit, for the message of its failure
            (`tunekit.fit_inputs.TrainedBefore`). Defaults to `None`.

    Returns:
        A `FinalFit`.
    """
    start = time.perf_counter()
    facts = TrialFacts()
    callbacks = [
        *schedule_callbacks(
            ctx.final_schedule, epochs, ctx.callbacks
        ),  # first: reads the tuned rate
        facts,
        InterruptCheck(),
        *(extra_callbacks or []),
        *phase_callbacks(ctx.callbacks, *(log_parts or (step,)), fresh=True),
    ]
    keras.utils.set_random_seed(seed)
    keras.backend.clear_session()
    model = ctx.hypermodel.build(hp)
    x, y = ctx.data.train_and_validation()
    build_lazy(model, ctx)
    with timing.timed_fit(ctx.run_dir / timing.TIMING_FILE, step, callbacks) as timed:
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
            final=f"the {step.replace('_', ' ')} (seed {seed})",
            before=before,
            held_out={"test": getattr(ctx.data, "x_test", None)},
            **final_fit_options(ctx),
        )
    used = int(fitted.fit_kwargs.get("epochs", epochs)) if fitted.fit_kwargs else epochs
    diverged = None if facts.nan_at is None else facts.nan_at[0] + 1
    return FinalFit(model, time.perf_counter() - start, used, diverged)


class BaselineStep:
    """Trains the hypermodel's default configuration by the winner's rule (see the module).

    Its product is the manifest record: `epochs`, `seconds` (training),
    `num_params`, `diverged_at`, `hyperparameters` (the defaults used).
    """

    name = "baseline"
    requires: tuple[str, ...] = ("retrain",)
    outputs: tuple[str, ...] = (BASELINE_MODEL,)

    def ensure(self, ctx: RunContext) -> dict[str, Any]:
        """Trains and saves the baseline (unless done); returns its record."""
        manifest = ctx.manifest
        ctx.ensure("retrain")
        if manifest.is_done(self.name):
            return manifest.step(self.name)
        interrupts.check()
        epochs = int(manifest.step("retrain")["final_epochs"])
        manifest.mark(self.name, "running")
        hp = kt.HyperParameters() if ctx.hyperparameters is None else ctx.hyperparameters.copy()
        announce = AnnounceFit(
            ctx.say,
            lambda count: (
                "Training the baseline (the hypermodel's default configuration) on "
                f"train+validation for {_log.count(count, 'epoch')}, like the chosen configuration."
            ),
            planned=epochs,
        )
        fit = train_like_winner(
            ctx,
            hp,
            epochs=epochs,
            seed=ctx.seed,
            extra_callbacks=[announce],
            before=baseline_facts(ctx, epochs, ctx.seed),
        )
        _io.atomic_write(ctx.run_dir / BASELINE_MODEL, lambda tmp: save_keras(fit.model, tmp))
        manifest.mark(
            self.name,
            "done",
            epochs=fit.epochs,
            seconds=round(fit.seconds, 2),
            num_params=param_count(fit.model),
            diverged_at=fit.diverged_at,
            hyperparameters={k: v for k, v in hp.values.items() if hp.is_active(k)},
        )
        if manifest.is_done("evaluate"):  # a run finished before this step: report it again
            manifest.mark("evaluate", "running")
        return manifest.step(self.name)
