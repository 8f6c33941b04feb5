"""The final-seeds step: the winner retrained with more seeds, each scored on the test set.

How much of the test metric is the configuration and how much the seed:
`final_seeds=N` trains the chosen configuration N - 1 more times (seeds
`seed + 1, ...`) by the retrain's rule and evaluates each on the test set;
the report gives the mean and standard deviation over all N, the saved
`best_model.keras` (seed `seed`) first. Nothing is chosen on these numbers:
the saved model stays the first seed's. Each finished seed is recorded in
the manifest before the next starts (a kill re-runs only the seed it was in).
"""

from __future__ import annotations

import time
from typing import Any

from tunekit import _faults, _log, interrupts
from tunekit.data.batches import test_batch_size
from tunekit.errors import PredictionsNotFiniteError
from tunekit.steps.base import RunContext, test_metrics
from tunekit.steps.baseline import train_like_winner
from tunekit.steps.final_fit_facts import seed_facts
from tunekit.tuners import AnnounceFit

__all__ = ["FinalSeedsStep"]


class FinalSeedsStep:
    """Retrains the winner with seeds `seed + 1, ...` and records each one's test metrics.

    Its product is the manifest record: `seeds` (seed -> test metrics).
    """

    name = "final_seeds"
    requires: tuple[str, ...] = ("retrain",)
    outputs: tuple[str, ...] = ()  # recorded in the manifest, seed by seed

    def ensure(self, ctx: RunContext) -> dict[str, Any]:
        """Trains the remaining seeds (unless done); returns the record."""
        manifest = ctx.manifest
        ctx.ensure("retrain")
        if manifest.is_done(self.name):
            return manifest.step(self.name)
        retrain = manifest.step("retrain")
        trial = ctx.ensure(retrain["phase"]).oracle.trials[retrain["trial_id"]]
        epochs = int(retrain["final_epochs"])
        record = manifest.step(self.name)
        done: dict[str, Any] = dict(record.get("seeds", {}))
        seconds = float(record.get("seconds", 0.0))
        start = time.perf_counter()
        manifest.mark(self.name, "running", seeds=done)
        batch_size = test_batch_size(ctx.data, ctx.batch_size)  # whole batches
        for seed in range(ctx.seed + 1, ctx.seed + ctx.final_seeds):
            if str(seed) in done:
                continue
            interrupts.check()

            def line(count: int, seed: int = seed) -> str:
                epochs_said = _log.count(count, "epoch")
                return f"Retraining the chosen configuration with seed {seed} ({epochs_said})."

            announce = AnnounceFit(ctx.say, line, planned=epochs)
            fit = train_like_winner(
                ctx,
                trial.hyperparameters,
                epochs=epochs,
                seed=seed,
                extra_callbacks=[announce],
                step=self.name,
                log_parts=(self.name, f"seed{seed}"),
                before=seed_facts(ctx, epochs, seed),
            )
            try:
                done[str(seed)] = test_metrics(ctx, fit.model, batch_size)
            except PredictionsNotFiniteError as e:
                raise e.about(f"The final model retrained with seed {seed}") from None
            elapsed = seconds + time.perf_counter() - start
            manifest.mark(self.name, "running", seeds=done, seconds=round(elapsed, 2))
            _faults.checkpoint("final_seeds.fit_end")
        manifest.mark(
            self.name, "done", seeds=done, seconds=round(seconds + time.perf_counter() - start, 2)
        )
        return manifest.step(self.name)
