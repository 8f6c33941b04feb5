"""The narrow step: the fine phase's space, from where the best coarse trials lie."""

from __future__ import annotations

import dataclasses

import keras_tuner as kt

from tunekit import _io, interrupts
from tunekit.narrowing import NarrowedSpace, is_usable, narrow_space
from tunekit.steps.base import MIN_COARSE_TRIALS, RunContext

__all__ = ["NARROWED_SPACE", "NarrowStep"]

NARROWED_SPACE = "narrowed_space.json"


class NarrowStep:
    """`tunekit.narrow_space` from the coarse trials, saved as `narrowed_space.json`.

    Resumes by reading that file back. Its product is the `NarrowedSpace`.
    """

    name = "narrow"
    requires: tuple[str, ...] = ("coarse",)
    outputs: tuple[str, ...] = (NARROWED_SPACE,)

    def ensure(self, ctx: RunContext) -> NarrowedSpace:
        """Narrows the space from the coarse trials (or reloads the saved narrowing).

        Raises:
            tunekit.errors.StateFileError: The saved narrowing is corrupt.
        """
        manifest = ctx.manifest
        path = ctx.run_dir / NARROWED_SPACE
        if manifest.is_done(self.name):
            text = path.read_text(encoding="utf-8")
            try:
                return NarrowedSpace.from_json(text)
            except ValueError as e:
                raise _io.StateFileError(
                    f"The narrowing {path} is corrupt ({e}). Nothing was changed on disk; "
                    "rerun with overwrite=True to start over."
                ) from None
        oracle = ctx.ensure("coarse").oracle
        interrupts.check()
        narrowed = self.narrow(ctx, oracle)
        _io.write_text(path, narrowed.to_json())
        manifest.mark(self.name, "done")
        ctx.say(
            f"Narrowed search space (top {narrowed.top} of {narrowed.usable} coarse "
            f"trials):\n{narrowed}"
        )
        return narrowed

    def narrow(self, ctx: RunContext, oracle: kt.Oracle) -> NarrowedSpace:
        """The narrowing of `oracle`'s trials, noting a space the coarse phase exhausted."""
        trials = list(oracle.trials.values())
        usable = sum(1 for t in trials if is_usable(t))
        # KerasTuner's random search stops, without a word, once it draws only
        # configurations it already tried: the only way it ends before `max_trials`.
        exhausted = 0 < len(trials) < ctx.coarse_trials
        min_trials = MIN_COARSE_TRIALS
        if exhausted and usable < MIN_COARSE_TRIALS:
            # Every configuration was tried: narrow from all that completed.
            min_trials = max(1, usable)
        narrowed = narrow_space(
            oracle.hyperparameters,
            trials,
            direction=ctx.objective.direction,
            top=ctx.top,
            margin=ctx.margin,
            min_trials=min_trials,
        )
        if exhausted:
            note = (
                f"the space holds only {len(trials)} distinct configurations, all tried "
                "in the coarse phase"
            )
            if min_trials < MIN_COARSE_TRIALS:
                note += f": narrowed from all {usable} usable"
            elif narrowed.top_note:
                note += f"; {narrowed.top_note}"
            narrowed = dataclasses.replace(narrowed, top_note=note)
        return narrowed
