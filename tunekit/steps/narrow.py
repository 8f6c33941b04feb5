"""The narrow step: the fine phase's space, from where the best coarse trials lie."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
from scipy import stats as scipy_stats  # type: ignore[import-untyped]

from tunekit import _io, interrupts
from tunekit.data import CLASSIFICATION
from tunekit.errors import TooFewTrialsError
from tunekit.narrowing import NarrowedSpace, is_usable, narrow_declared
from tunekit.steps.base import MIN_COARSE_TRIALS, RunContext
from tunekit.steps.metric_reading import accuracy_names
from tunekit.steps.output_checks import outputs_and_compile

__all__ = ["NARROWED_SPACE", "NarrowStep", "chance_level", "keep_whole_space"]

NARROWED_SPACE = "narrowed_space.json"
_logger = logging.getLogger(__name__)
# Keras's accuracy metrics: their chance level is the share of the most frequent class.
_ACCURACIES = ("accuracy", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")
#: Below this one-sided binomial p-value a coarse score is above chance.
CHANCE_ALPHA = 0.05
#: In the note of a narrowing that left coarse trials at chance out.
LEFT_OUT = "no better than chance"


def chance_level(ctx: RunContext) -> tuple[float, int] | None:
    """The validation accuracy of always predicting the most frequent class, and of how many.

    Returns:
        `(share of the most frequent class, number of examples)` in the
        labels the trials are scored on (the validation split; with `cv`,
        train+validation, which the folds cover), or `None` when the
        objective is not a validation accuracy of a classifier, the classes
        are weighed (`class_weight`: plain accuracy is then traded for the
        rare classes, and a model can fall below the majority share on
        purpose) or the labels are unknown (a stream without `labels`; an
        image folder knows them).
    """
    if not _scores_accuracy(ctx):
        return None
    if ctx.class_weights is not None:  # weighed classes trade plain accuracy for the rare ones
        return None
    labels = getattr(ctx.data, "y_train_full" if ctx.cv > 1 else "y_val", None)
    stream_labels = getattr(ctx.data, "labels", None)  # a stream's, when known (image folders)
    if labels is None and isinstance(stream_labels, Mapping) and ctx.cv == 1:
        labels = stream_labels.get("val")
    if isinstance(labels, Mapping):  # several outputs: the objective's output's labels
        labels = labels.get(_objective_output(ctx, labels))
    if not isinstance(labels, np.ndarray) or not labels.size:
        return None
    if labels.ndim == 2 and labels.shape[1] > 1:  # one-hot
        labels = labels.argmax(axis=1)
    labels = labels.reshape(len(labels), -1)[:, 0]
    if not np.issubdtype(labels.dtype, np.number):
        return None
    counts = np.unique(labels, return_counts=True)[1]
    return float(counts.max() / counts.sum()), int(counts.sum())


def _scores_accuracy(ctx: RunContext) -> bool:
    """Whether the objective is a validation accuracy of a classifier (it has a chance
    level): Keras's name for one, or the name of an accuracy the model is compiled with
    (`BinaryAccuracy(name="acc")`, read from the default configuration's model)."""
    name, direction = ctx.objective.name, ctx.objective.direction
    if not (
        direction == "max"
        and name.startswith("val_")
        and getattr(ctx.data, "task", None) == CLASSIFICATION
    ):
        return False
    base = name[len("val_") :]
    hypermodel = getattr(ctx, "hypermodel", None)
    return base in _ACCURACIES or (
        hypermodel is not None
        and base in _compiled_accuracies(hypermodel, getattr(ctx, "hyperparameters", None))
    )


@functools.lru_cache(maxsize=4)
def _compiled_accuracies(hypermodel: Any, hyperparameters: Any) -> frozenset[str]:
    """`accuracy_names` of the model the hypermodel builds with its defaults (by output,
    `digit_accuracy`, for several), or nothing when it cannot be built or read."""
    try:
        model = hypermodel.build(
            kt.HyperParameters() if hyperparameters is None else hyperparameters.copy()
        )
        parts = outputs_and_compile(model)
    except Exception:  # noqa: BLE001 - checked before the search: not this step's business
        return frozenset()
    finally:
        keras.backend.clear_session()
    names = set()
    for part in parts:
        prefix = f"{part.name}_" if len(parts) > 1 else ""
        names |= {prefix + n for n in accuracy_names(part.metrics)}
    return frozenset(names)


def _objective_output(ctx: RunContext, labels: Mapping[str, Any]) -> str | None:
    """The output (a key of `labels`) whose metric the objective is (`val_digit_accuracy`:
    `digit`), or `None`."""
    base = ctx.objective.name.removeprefix("val_")
    return next(
        (k for k in sorted(labels, key=len, reverse=True) if base.startswith(f"{k}_")), None
    )


def _warn_batch_size_on_a_stream(ctx: RunContext, space: kt.HyperParameters) -> None:
    """Says a tuned `batch_size` (a hypermodel's `fit(batch_size=hp...)`) on a stream:
    Keras's `fit` ignores `batch_size` for a `tf.data.Dataset` or a `PyDataset`, whose
    batches are made before it, so every value trained the same batches."""
    from tunekit.data.streams import StreamData

    if not isinstance(ctx.data, StreamData):
        return
    tuned = [
        hp.name
        for hp in space.space
        if "batch_size" in hp.name.lower() and not isinstance(hp, kt.engine.hyperparameters.Fixed)
    ]
    if tuned:
        _logger.warning(
            "The search tunes %s, but the data is a stream (a tf.data.Dataset or "
            "PyDataset): Keras's fit ignores batch_size= for a stream, whose batches are "
            "made before fit, so unless the hypermodel's fit batches the stream itself "
            "(x.unbatch().batch(...)), every value trained the same batches and its "
            "narrowing and ranking are noise. Give arrays (Dataset.from_arrays) to tune "
            "the batch size, or drop the entry.",
            tuned,
        )


def _why_unchecked(ctx: RunContext) -> str:
    """Why an accuracy objective's coarse trials were not compared with chance, or `""`."""
    if not _scores_accuracy(ctx):
        return ""
    labels = getattr(ctx.data, "y_train_full" if ctx.cv > 1 else "y_val", None)
    if ctx.class_weights is not None:
        why = "the classes are weighed (class_weight)"
    elif isinstance(labels, Mapping):
        why = f"{ctx.objective.name!r} names no output of the labels ({', '.join(labels)})"
    elif labels is not None:
        why = "the validation labels are not class ids or one-hot rows"
    else:
        why = "the validation labels are unknown (a stream without labels=)"
    return f"coarse trials not compared with chance: {why}"


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
            c, after=c.before, after_config=c.before_config, rule="chance", active=0
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
        oracle = ctx.ensure("coarse").oracle
        interrupts.check()
        narrowed = self.narrow(ctx, oracle)
        _io.write_text(path, narrowed.to_json())
        manifest.mark(self.name, "done")
        ctx.say(
            f"Narrowed search space ({f'top {narrowed.top}' if narrowed.top else 'none'} of "
            f"{narrowed.usable} coarse trials):\n{narrowed}"
        )
        return narrowed

    def narrow(self, ctx: RunContext, oracle: kt.Oracle) -> NarrowedSpace:
        """The narrowing of `oracle`'s trials, noting a space the coarse phase exhausted.

        For a classifier scored on validation accuracy (`chance_level`), a
        coarse trial whose score is not above always predicting the most
        frequent class (one-sided binomial test, p >= `CHANCE_ALPHA`) says
        nothing about where the good models lie. When such trials would be
        among the top ones, the space is narrowed from the trials that beat
        chance alone; when fewer of those remain than a narrowing needs, the
        whole space is kept (rule `"chance"`). Either is noted and logged.
        """
        _warn_batch_size_on_a_stream(ctx, oracle.hyperparameters)
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
            raise TooFewTrialsError(
                f"Only {usable} of the {len(trials)} coarse trials completed with a finite "
                "score (each failed trial's error is in coarse/trial_*/trial.json under the "
                "run folder); "
                f"narrowing needs {min_trials}. Resuming would reload the same trials: fix "
                "what made them fail, then start the run over with overwrite=True (and, if "
                "some configurations fail by nature, a larger coarse_trials=)."
            )
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
        chance = chance_level(ctx)
        if chance is None or not usable_trials:
            unchecked = _why_unchecked(ctx) if chance is None else ""
            top_note = "; ".join(filter(None, [narrowed.top_note, unchecked]))
            return dataclasses.replace(narrowed, top_note=top_note)
        share, n = chance

        def p_value(score: float) -> float:
            hits = min(n, round(score * n))
            test = scipy_stats.binomtest(hits, n, min(share, 1.0), alternative="greater")
            return float(test.pvalue)

        learners = [t for t in usable_trials if p_value(float(t.score)) < CHANCE_ALPHA]
        if len(learners) == len(usable_trials) or narrowed.top <= len(learners):
            # The p-value falls as the score rises: the top trials all beat chance.
            return narrowed
        majority = f"the most frequent class is {share:.4f} of {n} examples"
        if len(learners) < min_trials:
            # Narrowing around trials no better than guessing would keep noise.
            best = max(float(t.score) for t in usable_trials)
            first = (
                f"no coarse trial beat chance (best {ctx.objective.name} {best:.4f}; "
                f"one-sided binomial p={p_value(best):.2f})"
                if not learners
                else f"only {len(learners)} of the {usable} usable coarse trials "
                f"beat chance, fewer than the {min_trials} a narrowing needs"
            )
            note = (
                f"{first}; {majority}: the whole space is kept. More coarse epochs "
                "(--coarse-epochs, coarse_epochs=) or a learning-rate range that trains may help"
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
            f"{in_top} of the top {narrowed.top} coarse trials {were} {LEFT_OUT} ({majority}; "
            f"one-sided binomial p >= {CHANCE_ALPHA}) and {were} left out: narrowed from the "
            f"{len(learners)} of the {usable} usable trials that beat it"
        )
        learned = narrow_declared(
            oracle.hyperparameters,
            learners,
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
