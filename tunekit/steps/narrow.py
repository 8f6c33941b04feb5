"""The narrow step: the fine phase's space, from where the best coarse trials lie."""

from __future__ import annotations

import dataclasses
import logging

import keras_tuner as kt
from keras_tuner.engine.hyperparameters import Fixed

from tunekit import _io, interrupts
from tunekit.errors import TooFewTrialsError
from tunekit.narrowing import NarrowedSpace, is_usable, narrow_declared
from tunekit.score_text import score_text
from tunekit.steps.base import MIN_COARSE_TRIALS, RunContext
from tunekit.steps.chance import CHANCE_ALPHA, chance_level, chance_test
from tunekit.steps.trial_failures import failure_counts
from tunekit.trial_refusals import said_text

__all__ = ["CHANCE_ALPHA", "NARROWED_SPACE", "NarrowStep", "chance_level", "keep_whole_space"]

NARROWED_SPACE = "narrowed_space.json"
_logger = logging.getLogger(__name__)
#: In the note of a narrowing that left coarse trials at chance out.
LEFT_OUT = "no better than chance"


def _warn_ignored_on_a_stream(ctx: RunContext, tuner: kt.Tuner) -> None:
    """Says the hyperparameters whose values only went to `model.fit` keywords Keras
    ignores for a stream (`tunekit.stream_fit_args`: `batch_size=hp.Choice("bs", ...)` in
    a hypermodel's `fit`, whatever the name), as its trials recorded them."""
    from tunekit.data.streams import StreamData

    recorded = getattr(tuner, "stream_fit_args", None)
    if not isinstance(ctx.data, StreamData) or recorded is None:
        return
    fixed = {hp.name for hp in tuner.oracle.hyperparameters.space if isinstance(hp, Fixed)}
    for key, names in sorted(recorded.tuned().items()):
        tuned = [n for n in names if n not in fixed]
        if tuned:
            _logger.warning(
                "The narrowing includes %s, whose value the hypermodel's fit passed as "
                "%s= to model.fit, which Keras ignores for %s: unless the fit uses it "
                "elsewhere too, every value trained the same %s and its narrowing and "
                "ranking are noise.",
                tuned,
                key,
                "a stream (a tf.data.Dataset or PyDataset)"
                if key == "batch_size"
                else "a tf.data.Dataset (a PyDataset's batches it does shuffle)",
                "batches" if key == "batch_size" else "order",
            )


def keep_whole_space(
    narrowed: NarrowedSpace, space: kt.HyperParameters, note: str
) -> NarrowedSpace:
    """`narrowed` with nothing removed and no trial used: every hyperparameter as in `space`.

    Each change gets the rule `"chance"` and `active=0`; `top` is 0,
    `top_trial_ids` is empty and `top_note` is `note` (what was said of the
    top trials no longer applies).
    """
    whole = kt.HyperParameters()
    whole.merge([hp for hp in space.space if not hp.name.startswith("tuner/")])
    changes = tuple(
        dataclasses.replace(
            c, after=c.before, after_config=c.before_config, rule="chance", active=0, note=""
        )
        for c in narrowed.changes
    )
    return dataclasses.replace(
        narrowed,
        hyperparameters=whole,
        changes=changes,
        top=0,
        top_trial_ids=(),
        top_note=note,
    )


class NarrowStep:
    """`tunekit.narrow_space` from the coarse trials, saved as `narrowed_space.json`.

    Through `narrow_declared`: the coarse trials are tunekit's tuners', which
    keep only the names each build declared, so every value they hold counts.

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
        tuner = ctx.ensure("coarse")
        oracle = tuner.oracle
        interrupts.check()
        _warn_ignored_on_a_stream(ctx, tuner)
        narrowed = self.narrow(ctx, oracle)
        _io.write_text(path, narrowed.to_json())
        manifest.mark(self.name, "done")
        ctx.say(
            f"Narrowed search space ({f'top {narrowed.top}' if narrowed.top else 'none'} of "
            f"{narrowed.usable} coarse trials):\n{narrowed.describe(ctx.said)}"
        )
        return narrowed

    def narrow(self, ctx: RunContext, oracle: kt.Oracle) -> NarrowedSpace:
        """The narrowing of `oracle`'s trials, noting a space the coarse phase exhausted.

        For a classifier scored on validation accuracy or a binary ROC AUC
        (`tunekit.steps.chance.chance_test`), a coarse trial whose score is
        not above chance (always predicting the most frequent class, one-sided
        binomial test; an AUC of 0.5, one-sided Mann-Whitney test; p >=
        `CHANCE_ALPHA`) says nothing about where the good models lie. When such
        trials would be among the top ones, the space is narrowed from the
        trials that beat chance alone; when fewer of those remain than a
        narrowing needs, the whole space is kept (rule `"chance"`). Either is
        noted and logged. Any other objective's note says why its trials were
        not compared with chance.
        """
        trials = list(oracle.trials.values())
        usable_trials = [t for t in trials if is_usable(t)]
        usable = len(usable_trials)
        # KerasTuner's random search stops, without a word, once it draws only
        # configurations it already tried: the only way it ends before `max_trials`.
        exhausted = 0 < len(trials) < ctx.coarse_trials
        min_trials = MIN_COARSE_TRIALS
        if exhausted and usable < MIN_COARSE_TRIALS:
            # Every configuration was tried: narrow from all that completed.
            min_trials = max(1, usable)
        if usable < min_trials:  # a rerun would resume the same trials: say what works
            errors = failure_counts(trials)
            refusal = TooFewTrialsError(
                f"Only {usable} of the {len(trials)} coarse trials completed with a finite "
                "score"
                + (f"; the failed ones: {errors}" if errors else "")
                + " (each failed trial's error and traceback are in coarse/trial_*/trial.json "
                "under the run folder); "
                f"narrowing needs {min_trials}. Resuming as it is would reload the same "
                "trials. "
                + (
                    "If every configuration fails"
                    if exhausted
                    else "If some configurations fail by nature, rerun with a larger "
                    "coarse_trials= (the coarse search goes on with new trials, keeping "
                    "these). If they all fail"
                )
                + ", fix what made them fail, then start the run over with overwrite=True."
            )
            refusal.coarse_trials = None if exhausted else ctx.coarse_trials
            raise refusal
        narrowed = narrow_declared(
            oracle.hyperparameters,
            trials,
            direction=ctx.objective.direction,
            top=ctx.top,
            margin=ctx.margin,
            min_trials=min_trials,
        )
        space_note = ""
        if exhausted:
            space_note = (
                f"the space holds only {len(trials)} distinct configurations, all tried "
                "in the coarse phase"
            )
            note = space_note
            if min_trials < MIN_COARSE_TRIALS:
                note += f": narrowed from all {usable} usable"
            elif narrowed.top_note:
                note += f"; {narrowed.top_note}"
            narrowed = dataclasses.replace(narrowed, top_note=note)
        chance = chance_test(ctx)
        if isinstance(chance, str) or not usable_trials:
            unchecked = (
                f"coarse trials not compared with chance: {chance}"
                if isinstance(chance, str)
                else ""
            )
            top_note = "; ".join(filter(None, [narrowed.top_note, unchecked]))
            return dataclasses.replace(narrowed, top_note=top_note)
        p_value = chance.p_value
        learners = [t for t in usable_trials if p_value(float(t.score)) < CHANCE_ALPHA]
        if len(learners) == len(usable_trials) or narrowed.top <= len(learners):
            # The p-value falls as the score rises: the top trials all beat chance.
            return narrowed
        if len(learners) < min_trials:
            # Narrowing around trials no better than guessing would keep noise.
            best = max(float(t.score) for t in usable_trials)
            first = (
                f"no coarse trial beat chance (best {ctx.objective.name} {score_text(best)}; "
                f"{chance.test} p={p_value(best):.2f})"
                if not learners
                else f"only {len(learners)} of the {usable} usable coarse trials "
                f"beat chance ({chance.test} p < {CHANCE_ALPHA}), fewer than the "
                f"{min_trials} a narrowing needs"
            )
            note = said_text(  # the setting as the run names it: coarse_epochs= / --coarse-epochs
                f"{first}; {chance.level}: the whole space is kept. More coarse epochs "
                "(coarse_epochs=) or a learning-rate range that trains may help",
                ctx.said,
            )
            _logger.warning(f"{note}.")
            kept_note = "; ".join(filter(None, [space_note, note]))
            return keep_whole_space(narrowed, oracle.hyperparameters, kept_note)
        # Chance-level trials would be among the top: narrow from those that learned.
        # The p-value falls as the score rises, so the top trials are every learner
        # and then `narrowed.top - len(learners)` trials at chance.
        in_top = narrowed.top - len(learners)
        were = "was" if in_top == 1 else "were"
        note = (
            f"{in_top} of the top {narrowed.top} coarse trials {were} {LEFT_OUT} ({chance.level}; "
            f"{chance.test} p >= {CHANCE_ALPHA}) and {were} left out: narrowed from the "
            f"{len(learners)} of the {usable} usable trials that beat it"
        )
        # From every trial, the learners as the top ones: the trials at chance still
        # count as having tried their values (a sigmoid that never trained was tried,
        # and lost; a Choice's value no trial tried is kept).
        learned = narrow_declared(
            oracle.hyperparameters,
            trials,
            direction=ctx.objective.direction,
            top=len(learners),
            margin=ctx.margin,
            min_trials=min_trials,
        )
        _logger.warning(f"{note}.")
        # What was asked for, what there was and what was said of it (e.g. "asked for
        # top=10, only 6 usable") stay those of the whole coarse phase.
        return dataclasses.replace(
            learned,
            usable=narrowed.usable,
            requested_top=narrowed.requested_top,
            top_note="; ".join(filter(None, [narrowed.top_note, note])),
        )
