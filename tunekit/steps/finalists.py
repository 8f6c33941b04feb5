"""The finalists step: the top configurations retrained with other seeds, the pick by mean score.

One training run says little: retrained with another seed, one MNIST
configuration moves by about as much as the top fine trials differ. So the
top `finalists` configurations by score, across both phases (one trial per
distinct configuration), are each trained `finalist_seeds` more times from
scratch, with seeds `seed + 1, seed + 2, ...`, on the training split at the
budget their trial had (the fine phase's `max_epochs` for a Bayesian or a
full Hyperband trial, `tuner/epochs` for a shorter Hyperband trial,
`coarse_epochs` for a coarse trial), and scored on the validation split the
way KerasTuner scores a trial (the objective's best epoch). The trial's own
score counts as one seed. The pick is the best mean; equal means go to the
smaller model (parameter count). The test set is never read.

Every finished fit is recorded in the manifest (written atomically) before
the next starts: a run killed inside the step re-runs only the fit it was in.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import keras
from keras_tuner.engine import trial as trial_module

from tunekit import _faults, _kerastuner, interrupts, timing
from tunekit.data import StreamData
from tunekit.data import _targets as tg
from tunekit.data.batches import sample_bytes, validation_batch_size
from tunekit.fitting import fit_hypermodel
from tunekit.model_size import param_count
from tunekit.score_text import score_text
from tunekit.stats import summarize_scores
from tunekit.steps.base import RunContext, fit_options
from tunekit.steps.fine_skips import ALL_SKIPPED, skipped_note
from tunekit.steps.search import completed_trials, refused_fit_args
from tunekit.trial_names import trial_name
from tunekit.tuners import InterruptCheck
from tunekit.user_tensorboard import phase_callbacks

__all__ = ["FinalistsStep", "finalist_selection", "pick_finalist"]


def _values(trial: trial_module.Trial) -> dict[str, Any]:
    hp = trial.hyperparameters
    return {k: v for k, v in hp.values.items() if hp.is_active(k) and not k.startswith("tuner/")}


def _trial_epochs(ctx: RunContext, phase: str, trial: trial_module.Trial) -> int:
    """The epochs the trial trained: its budget, so the seeds' scores compare with its own."""
    if phase == "coarse":
        return int(ctx.coarse_epochs)
    return int(trial.hyperparameters.values.get("tuner/epochs", ctx.max_epochs))


def candidates(ctx: RunContext) -> list[dict[str, Any]]:
    """The top `ctx.finalists` distinct configurations of both phases, best first.

    Returns:
        One record per finalist: `phase`, `trial_id`, `values` (active
        hyperparameters, without Hyperband's `tuner/` bookkeeping),
        `epochs`, `trial_score` and an empty `seeds` mapping.
    """
    trials = [
        (phase, trial)
        for phase in ("fine", "coarse")
        for trial in completed_trials(ctx.ensure(phase).oracle)
    ]
    sign = -1.0 if ctx.objective.direction == "max" else 1.0
    # Fine first on equal scores: its trials trained longer.
    trials.sort(key=lambda pt: sign * pt[1].score)
    chosen: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    for phase, trial in trials:
        values = _values(trial)
        if values in seen:  # a Hyperband trial continued in a later round: one configuration
            continue
        seen.append(values)
        chosen.append(
            {
                "phase": phase,
                "trial_id": trial.trial_id,
                "values": values,
                "epochs": _trial_epochs(ctx, phase, trial),
                "trial_score": float(trial.score),
                "seeds": {},
            }
        )
        if len(chosen) == ctx.finalists:
            break
    return chosen


def pick_finalist(records: list[dict[str, Any]], direction: str) -> dict[str, Any]:
    """The finalist with the best mean score; equal means go to fewer parameters.

    Args:
        records: Finalists, each with `trial_score`, `seeds` (seed -> score or
            `None` for a diverged fit) and `num_params` (or `None`).
        direction: `"max"` or `"min"`, the objective's direction.

    Returns:
        The chosen record. A finalist with a diverged seed ranks last.
    """

    def key(record: dict[str, Any]) -> tuple[float, float]:
        scores = [record["trial_score"], *record["seeds"].values()]
        if any(s is None or not math.isfinite(s) for s in scores):
            mean = math.inf
        else:
            mean = summarize_scores(scores).mean
            mean = -mean if direction == "max" else mean
        params = record.get("num_params")
        return (round(mean, 12), math.inf if params is None else float(params))

    return min(records, key=key)


def summarize(record: dict[str, Any]) -> dict[str, Any]:
    """`scores` (the trial's first), `mean` and `std` (`None` for one score) of a finalist."""
    scores = [record["trial_score"], *record["seeds"].values()]
    finite = all(s is not None and math.isfinite(s) for s in scores)
    summary = summarize_scores(scores) if finite else None
    return {
        "scores": scores,
        "mean": summary.mean if summary else None,
        "std": summary.std if summary else None,
    }


class FinalistsStep:
    """Retrains the top configurations with other seeds and picks by mean score.

    See the module docstring. Its product is the manifest record of the step:
    `finalists` (each with its seeds' scores) and `pick` (`phase`,
    `trial_id`, `reason`), or `pick` `None` when the step did not choose
    (a run whose retrain finished before the step existed).
    """

    name = "finalists"
    requires: tuple[str, ...] = ("coarse", "fine")
    outputs: tuple[str, ...] = ()  # recorded in the manifest, fit by fit

    def ensure(self, ctx: RunContext) -> dict[str, Any]:
        """Runs the remaining finalist fits (or reloads them) and returns the record."""
        manifest = ctx.manifest
        for name in self.requires:
            ctx.ensure(name)
        record = manifest.step(self.name)
        if manifest.is_done(self.name):
            return record
        if manifest.is_done("retrain") and "finalists" not in record:
            # A run from before this step: its retrain already chose; keep that choice.
            manifest.mark(self.name, "done", pick=None, finalists=[], seconds=0.0)
            return manifest.step(self.name)
        finalists = record.get("finalists") or candidates(ctx)
        manifest.mark(self.name, "running", finalists=finalists)
        start = time.perf_counter()
        seconds = float(record.get("seconds", 0.0))
        seeds = [ctx.seed + i for i in range(1, ctx.finalist_seeds + 1)]
        todo = sum(1 for f in finalists for s in seeds if str(s) not in f["seeds"])
        if todo:
            ctx.say(
                f"[finalists] retraining the top {len(finalists)} configurations with "
                f"{len(seeds)} more seed(s) each ({todo} fits) to pick by mean "
                f"{ctx.objective.name}."
            )
        for finalist in finalists:
            for seed in seeds:
                if str(seed) in finalist["seeds"]:
                    continue  # finished before a restart
                interrupts.check()
                score, params = self._fit(ctx, finalist, seed)
                finalist["seeds"][str(seed)] = score
                finalist.setdefault("fits", {})[str(seed)] = {"pid": os.getpid(), "at": time.time()}
                if params is not None:
                    finalist["num_params"] = params
                elapsed = seconds + time.perf_counter() - start
                manifest.mark(self.name, "running", finalists=finalists, seconds=round(elapsed, 2))
                _faults.checkpoint("finalists.fit_end")
        best = pick_finalist(finalists, ctx.objective.direction)
        summaries = {(f["phase"], f["trial_id"]): summarize(f) for f in finalists}
        chosen = summaries[(best["phase"], best["trial_id"])]
        top = finalists[0]
        reason = (
            f"best mean {ctx.objective.name} over {len(chosen['scores'])} seeds among "
            f"{len(finalists)} finalists: {_named(ctx, best)} "
            f"{_mean_text(chosen)}"
        )
        if best is not top:
            reason += (
                f"; the best single trial, {_named(ctx, top)} "
                f"({score_text(top['trial_score'])}), averaged "
                f"{_mean_text(summaries[(top['phase'], top['trial_id'])])}"
            )
        skipped = manifest.step("fine").get(ALL_SKIPPED)
        if skipped:
            reason += f"; {skipped_note(skipped)}, so every finalist is a coarse trial"
        for finalist in finalists:
            finalist.update(summarize(finalist))
        pick = {"phase": best["phase"], "trial_id": best["trial_id"], "reason": reason}
        manifest.mark(
            self.name,
            "done",
            finalists=finalists,
            pick=pick,
            seconds=round(seconds + time.perf_counter() - start, 2),
        )
        ctx.say(f"[finalists] chose {_named(ctx, best)}: {reason}.")
        return manifest.step(self.name)

    def _fit(
        self, ctx: RunContext, finalist: dict[str, Any], seed: int
    ) -> tuple[float | None, int | None]:
        """Trains one finalist with one seed on train; returns its validation score and size."""
        phase, trial_id = finalist["phase"], finalist["trial_id"]
        trial = ctx.ensure(phase).oracle.trials[trial_id]
        hp = trial.hyperparameters
        keras.utils.set_random_seed(seed)
        keras.backend.clear_session()
        model = ctx.hypermodel.build(hp)
        data = ctx.data
        extra: dict[str, Any] = {}
        if isinstance(data, StreamData):  # streams go as they are, batched by their maker
            x, y, validation = data.fresh_train(), None, data.validation
            extra["shuffle"] = False  # a stream shuffles itself (Keras warns otherwise)
        else:
            x, y = data.x_train, data.model_targets(data.y_train)
            validation = (data.x_val, data.model_targets(data.y_val))
            num_val = tg.length(data.y_val, "y_val")
            extra["validation_batch_size"] = validation_batch_size(
                num_val, ctx.batch_size, sample_bytes(data.x_val)
            )
        callbacks = [
            InterruptCheck(),
            *phase_callbacks(
                ctx.callbacks, self.name, f"{phase}_{trial_id}", f"seed{seed}", fresh=True
            ),
        ]
        with timing.timed_fit(ctx.run_dir / timing.TIMING_FILE, self.name, callbacks) as timed:
            fitted = fit_hypermodel(
                ctx.hypermodel,
                hp,
                model,
                x,
                y,
                validation_data=validation,
                **fit_options(ctx),
                epochs=finalist["epochs"],
                batch_size=ctx.batch_size,
                callbacks=timed,
                verbose=0,
                refused=refused_fit_args(ctx),
                held_out={"test": getattr(ctx.data, "x_test", None)},
                **extra,
            )
        metrics = _kerastuner.convert_to_metrics_dict(fitted.results, ctx.objective)
        value = metrics.get(ctx.objective.name)
        score = float(value) if value is not None and math.isfinite(float(value)) else None
        ctx.say(
            f"[finalists] {_named(ctx, finalist)}, seed {seed}: {ctx.objective.name}="
            + ("diverged" if score is None else f"{score_text(score)}")
        )
        return score, param_count(model)


def _named(ctx: RunContext, finalist: dict[str, Any]) -> str:
    """`"coarse trial 3 (id 2)"`: a finalist named as its progress line named it."""
    phase = finalist["phase"]
    return trial_name(phase, ctx.ensure(phase).oracle, finalist["trial_id"], ended_only=True)


def _mean_text(summary: dict[str, Any]) -> str:
    if summary["mean"] is None:
        return "(a seed diverged)"
    std = "" if summary["std"] is None else f" ± {score_text(summary['std'])}"
    scores = ", ".join(f"{score_text(s)}" for s in summary["scores"])
    return f"{score_text(summary['mean'])}{std} ({scores})"


def finalist_selection(ctx: RunContext) -> tuple[str, trial_module.Trial, str] | None:
    """The finalists step's pick as `(phase, trial, reason)`, or `None` if it did not choose."""
    pick = ctx.ensure("finalists").get("pick")
    if not pick:
        return None
    trial = ctx.ensure(pick["phase"]).oracle.trials[pick["trial_id"]]
    return pick["phase"], trial, pick["reason"]
