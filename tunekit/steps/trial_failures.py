"""A search stopped by failed trials in a row: the error tunekit raises, and its advice.

KerasTuner stops a search after `max_consecutive_failed_trials` FAILED trials
in a row; the search step names that stop (`raise_if_failing`). tunekit
cannot tell an error of the code or settings (a rerun meets it again) from
a transient one (a rerun may not): the same error in every trial may be
either (a flaky data server raises one message too), and no exception type
says which. So the message is true in both cases:

- Every failed trial of that run raised the same error (`same_error`): it is
  quoted, and the advice covers all three: if every configuration meets it,
  rerunning or allowing more failures fails the same way (fix what it
  names); if only some values cause it, more failures allowed let the others
  complete; if it is transient, what a rerun does (`rerun_note`).
- They were all fit calls tunekit or Keras refuses (`HyperModelFitError`,
  before training; `tunekit.fit_refusals`), or trials tunekit refuses for
  their model or what their fit reported (`TrialRefusedError`;
  `tunekit.trial_refusals`): not chance, so the advice is the error's own fix.
- Otherwise (errors that differ between trials, e.g. a range of the space
  that cannot be built): fix the cause or allow more failures; what a rerun
  does.

What a rerun does depends on the phase. One with a completed trial resumes
with new trials, each seeded from `seed` and its own id. One with none is
started again (`tunekit.steps.phase_restart`) with the same trials: the same
hyperparameters and the same seeds (`TunekitTuner._trial_seed` seeds Python's
`random`, NumPy and Keras for each trial, and a KerasTuner retry of a trial
gets its seed again). So an error drawn from those generators (`random.random()
< 0.5` in a `fit`) fails the same trials on every rerun, and the advice says
so and names the ways out (`seeded_repeat`): another `seed` with
`overwrite=True`, code that chance does not fail, or more failures allowed.
Only an error from outside them (a file or a server that did not answer, out
of memory) can pass on a rerun as it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

from tunekit.data._stream_labels import label_range_fix
from tunekit.data.streams import StreamData
from tunekit.errors import TrialsFailedError
from tunekit.narrowing import is_usable
from tunekit.params import MIN_COARSE_TRIALS
from tunekit.progress import failure_reason
from tunekit.steps.base import RunContext
from tunekit.trial_names import trial_name, trial_record
from tunekit.trial_refusals import refusal_kind
from tunekit.trial_skips import failed_in_a_row

__all__ = [
    "advice",
    "budget_note",
    "failed_with",
    "failure_counts",
    "raise_if_failing",
    "rerun_note",
    "same_error",
    "seeded_repeat",
]

# The error of a fit call tunekit (or Keras, through tunekit) refuses: `tunekit.fitting`.
_REFUSED = "HyperModelFitError"
# A trial tunekit refuses for its model or what its fit reported: `tunekit.trial_refusals`.
_TRIAL_REFUSED = "TrialRefusedError"


def same_error(trials: Sequence[trial_module.Trial]) -> str | None:
    """The error line all of `trials` failed with, or None.

    Args:
        trials: Failed trials (KerasTuner keeps each one's traceback in `trial.message`).

    Returns:
        E.g. `"ValueError: You cannot ..."` when there are two trials or more
        and every one failed with that same line (type and message); None
        otherwise (one trial, or differing errors).
    """
    reasons = {failure_reason(trial) for trial in trials}
    if len(trials) < 2 or len(reasons) != 1:
        return None
    return reasons.pop() or None


def failure_counts(trials: Sequence[trial_module.Trial], shown: int = 3) -> str:
    """The errors of the FAILED ones of `trials`, most frequent first, with their counts.

    Args:
        trials: Any trials; those not FAILED are left out.
        shown: How many distinct errors are quoted; the others are counted.

    Returns:
        E.g. `'3 trials with "ValueError: ..."; 1 trial with "KeyError: ..."'`, or `""`
        when none of `trials` FAILED. A refusal that names its trial's values counts as
        one error over trials of other values, quoted as its first trial said it
        (`"... with errors like ..."`).
    """
    failed = [t for t in trials if t.status == trial_module.TrialStatus.FAILED]
    lines = [failure_reason(t) or "no message" for t in failed]
    first: dict[str, str] = {}
    for line in lines:
        first.setdefault(refusal_kind(line), line)
    counts = Counter(refusal_kind(line) for line in lines).most_common()
    said = []
    for kind, n in counts[:shown]:
        like = " like" if any(refusal_kind(x) == kind and x != first[kind] for x in lines) else ""
        said.append(
            f"{n} trial{'s' if n != 1 else ''} with{' errors' if like else ''}{like} "
            f'"{first[kind]}"'
        )
    if len(counts) > shown:
        rest = sum(n for _, n in counts[shown:])
        others = len(counts) - shown
        said.append(
            f"{rest} more with " + ("another error" if others == 1 else f"{others} other errors")
        )
    return "; ".join(said)


def _refused(trials: Sequence[trial_module.Trial], kinds: tuple[str, ...] = (_REFUSED,)) -> bool:
    """Whether every one of `trials` failed on a refusal of `kinds` (error class names): by
    default a fit call tunekit refuses (before training)."""
    names = [failure_reason(t).partition(":")[0].rpartition(".")[2] for t in trials]
    return bool(names) and all(name in kinds for name in names)


def seeded_repeat(ctx: RunContext, phase: str, more_failures: bool) -> str:
    """Why a rerun of `phase`, started again, fails a seeded random error the same way.

    Args:
        ctx: The run's context (its `seed`).
        phase: `"coarse"` or `"fine"`: a phase with no completed trial.
        more_failures: Whether to name a higher `max_consecutive_failed_trials`
            as a way out (a stop after failures in a row; not when the phase's
            whole budget failed).

    Returns:
        Sentences in keywords (`seed=1 with overwrite=True`), which the command
        line says as flags (`--seed 1 with --overwrite`).
    """
    more = (
        ", or allow more failures in a row (max_consecutive_failed_trials=, which a rerun may "
        "change): those trials fail again and the ones after them run with their own seeds"
        if more_failures
        else ""
    )
    return (
        f"But a rerun with the same settings runs the {phase} search's trials again with the "
        "same hyperparameters and the same seeds (tunekit seeds Python's random, NumPy and "
        f"Keras for each trial from seed={ctx.seed} and the trial's id, for KerasTuner's "
        "retries of a trial too), so an error drawn from those generators (e.g. "
        "`random.random() < 0.5` in build or fit) fails the same trials on every rerun: start "
        f"over with another seed (seed={ctx.seed + 1} with overwrite=True), or fix the "
        f"randomness in the code (a changed hypermodel starts over: overwrite=True){more}."
    )


def rerun_note(
    ctx: RunContext,
    phase: str,
    restarts: bool,
    more_failures: bool = True,
    left: int | None = None,
    usable: int = 0,
) -> str:
    """What rerunning as it is does after failed trials in `phase` (see the module docstring).

    Args:
        ctx: The run's context.
        phase: `"coarse"` or `"fine"`.
        restarts: Whether the phase has no completed trial (a rerun starts it again).
        more_failures: See `seeded_repeat`.
        left: How many trials of the phase's budget (`coarse_trials`, `fine_trials`) are
            not run yet; `None` when unknown (Hyperband) or the phase restarts.
        usable: The phase's completed trials with a finite score.

    Returns:
        E.g. `"rerun as it is: the fine search starts again from its first trial, the steps
        before it kept. But a rerun with the same settings ..."`, for a phase with a
        completed trial `"rerunning resumes the search with new trials, ..."`, or, its
        budget used up, what a rerun does with the trials it has (`budget_note`).
    """
    if not restarts and left == 0:
        return budget_note(ctx, phase, usable)
    if not restarts:
        return (
            "rerunning resumes the search with new trials (the failed ones are not run again; "
            "each new trial has its own seed, from seed= and its id)."
        )
    return (
        f"rerun as it is: the {phase} search starts again from its first trial, the steps "
        f"before it kept. {seeded_repeat(ctx, phase, more_failures)}"
    )


def budget_note(ctx: RunContext, phase: str, usable: int) -> str:
    """What a rerun does when the failed trial used the last of `phase`'s budget: no new
    trial runs, whatever failures it allows; the run goes on with the `usable` completed
    trials, unless the narrowing needs more (coarse), which only a fresh start gives."""
    budget = f"{phase}_trials={getattr(ctx, f'{phase}_trials', '')}"
    if phase == "coarse" and usable < MIN_COARSE_TRIALS:
        return (
            f"the coarse search's budget is used up ({budget}), so a rerun runs no new trial, "
            f"whatever failures it allows, and its narrowing stops: it needs "
            f"{MIN_COARSE_TRIALS} completed coarse trials and has {usable}. If some "
            "configurations fail by nature, rerun with a larger coarse_trials= (the search "
            "goes on, keeping its trials); else start the run over (overwrite=True, or a new "
            "project_name=) once the cause is fixed."
        )
    return (
        f"the {phase} search's budget is used up ({budget}), so rerunning runs no new trial "
        f"(allowing more failures changes nothing): it goes on with the {usable} completed "
        f"{phase} trial{'s' if usable != 1 else ''}."
    )


def _starts_over() -> str:
    """The fresh start a changed hypermodel or data needs (a rerun refuses them)."""
    return (
        "a changed hypermodel (its values, ranges or code) or changed data is another "
        "configuration, which a rerun refuses: start the run over (overwrite=True, or a new "
        "project_name=)"
    )


def advice(trials: Sequence[trial_module.Trial], rerun: str, more_failures: bool = True) -> str:
    """What to do after a stop on the failed `trials` (the run in a row), true whether the
    error is of the code, transient or drawn at random; see the module docstring.

    Args:
        trials: The failed trials of that run, oldest first.
        rerun: What rerunning as it is does (`rerun_note`), which this advice ends with.
        more_failures: Whether allowing more failures in a row lets a rerun run new trials
            (not when the phase's budget is used up).

    Returns:
        Sentences that name which remedies resume the run (more failures allowed, a
        transient error) and which start it over (a fixed hypermodel or data).
    """
    if _refused(trials):
        return (
            "tunekit refused each trial's fit call before it trained (not chance): rerunning "
            "or allowing more failures meets it again in the trials that make that call. Fix "
            f"the hypermodel's fit as the error says; {_starts_over()}."
        )
    if _refused(trials, (_REFUSED, _TRIAL_REFUSED)):
        return (
            "tunekit refused each trial for its model, its fit call or what its fit reported "
            "(not chance): rerunning or allowing more failures meets it again in the trials "
            "whose values do that. Do what the error says (in the hypermodel, or its "
            f"objective); {_starts_over()}."
        )
    if same_error(trials):
        some = (
            " If only some values cause it, allowing more failures in a row "
            "(max_consecutive_failed_trials=, which a rerun may change) lets the others "
            "complete."
            if more_failures
            else ""
        )
        return (
            "If every configuration meets that error (neither chance nor some values cause "
            "it), rerunning or allowing more failures fails the same way: fix what it names "
            f"(the hypermodel's build or fit, the data or a setting); {_starts_over()}.{some} "
            f"If it is transient (a file or a server that did not answer, out of memory), "
            f"{rerun}"
        )
    more = (
        "To keep this run's trials, allow more failures in a row instead "
        "(max_consecutive_failed_trials=, which a rerun may change): "
        if more_failures
        else "As it is, "
    )
    return (
        "Fixing the cause in the hypermodel, its ranges or the data means starting over: "
        f"{_starts_over()}. {more}{rerun}"
    )


def raise_if_failing(phase: str, ctx: RunContext, tuner: kt.Tuner, error: RuntimeError) -> None:
    """Raises `TrialsFailedError` if `error` is KerasTuner's stop after failed trials in a row.

    The oracle raises it (`TrialsFailedError`, KerasTuner's message) when
    `max_consecutive_failed_trials` trials in a row FAILED; the oracle's end
    order (`failed_in_a_row`) tells it apart from any other `RuntimeError`,
    which is left to propagate as it is. The error raised here names the
    phase, the last trial's error and its `trial.json`, and what to do
    (`advice`, ending with `rerun_note`); its `restarts` says whether the phase
    had no completed trial (a rerun starts it again, with the same seeds).
    """
    oracle = tuner.oracle
    failed = failed_in_a_row(oracle)  # the hypermodel's skips passed over
    in_a_row = len(failed)
    if not in_a_row or in_a_row < ctx.max_consecutive_failed_trials:
        return
    each = ", each with the same error" if same_error(failed) else ""
    usable = sum(is_usable(t) for t in oracle.trials.values())
    restarts = not usable
    budget = getattr(oracle, "max_trials", None)  # None: Hyperband's budget is its epochs
    left = max(0, budget - len(oracle.trials)) if isinstance(budget, int) else None
    more = restarts or left != 0  # allowing more failures lets a rerun run new trials
    note = rerun_note(ctx, phase, restarts, left=None if restarts else left, usable=usable)
    stop = TrialsFailedError(
        f"The {phase} search stopped: {in_a_row} trials in a row failed "
        f"(max_consecutive_failed_trials={ctx.max_consecutive_failed_trials}){each}; the "
        f"last, {failed_with(ctx, tuner, failed[-1])} "
        f"{advice(failed, note, more_failures=more)}"
    )
    stop.restarts = restarts
    stop.trials_left = None if restarts else left
    stop.starts_over = not restarts and left == 0 and phase == "coarse"
    stop.starts_over = stop.starts_over and usable < MIN_COARSE_TRIALS
    stop.max_failed = ctx.max_consecutive_failed_trials
    raise stop from error


def failed_with(ctx: RunContext, tuner: kt.Tuner, trial: trial_module.Trial) -> str:
    """`"coarse trial 4 (id 3), with <its error line> (its traceback: <trial.json>)"`: the
    phase, the progress line's number and KerasTuner's id (`tunekit.trial_names`), and,
    for a class id beyond the output's width (TensorFlow's message), what to do."""
    reason = failure_reason(trial)
    where = trial_record(tuner.project_dir, trial.trial_id)
    fix = label_range_fix(reason, isinstance(ctx.data, StreamData))
    phase = getattr(tuner, "phase", None) or Path(tuner.project_dir).name
    name = trial_name(phase, tuner.oracle, trial.trial_id)
    return f"{name}, with {reason or 'no message'} (its traceback: {where}).{fix}"
