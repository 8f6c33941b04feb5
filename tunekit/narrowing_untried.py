"""Values of a `Choice` or `Boolean` that no usable coarse trial tried, and the words for them.

A narrowing removes a value only on evidence: some usable (COMPLETED, finite
score) trial in which the hyperparameter was active tried it, and the top
trials did not keep it. A value no such trial drew (KerasTuner's seeded
random draws can cluster: six trials all drawing `"relu"` of `["relu",
"tanh", "selu"]`) says nothing either way, so `tunekit.narrowing` keeps it;
this module says which values those are, and how the narrowing's record
(`Change.note`, the table, `report.md`) words them.

Only unordered `Choice`s and `Boolean`s are judged so: an ordered (numeric)
`Choice` is narrowed like a range, to the span of the top trials' values, and
a numeric range's values are never all tried. A range of which every usable
trial tried the same value (seeded draws at its minimum, beside the default
configuration's trial) is kept whole too (`one_value_tried`): one value says
nothing about the others. Nor is a value the top trials agree on fixed when
most usable trials tried it anyway (`agreement_p`): trials at 16, 16, 16 and 32
would put 16 in the top three whatever `units` did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine.trial import TrialStatus

from tunekit.trial_records import MISSING, active_value, is_usable

__all__ = [
    "AGREEMENT_ALPHA",
    "UNTRIED_RULES",
    "agreement_p",
    "common_note",
    "failed_values",
    "is_range",
    "one_value_tried",
    "untried_note",
    "untried_values",
]

# The rules under which a value no usable trial tried was kept (and is said).
UNTRIED_RULES = ("untried", "subset")

# Top trials' agreement at least this likely by chance is not evidence (rule `common`).
AGREEMENT_ALPHA = 0.05


def agreement_p(values: Sequence[Any], tried: Sequence[Any]) -> float:
    """How likely the top trials would all hold `values[0]` if the value did not matter.

    With `n` usable trials (`tried`: their values where the hyperparameter was
    active), `m` of them at `values[0]`, and `k = len(values)` top trials (all at
    `values[0]`), the probability that `k` trials drawn at random from the `n`
    are all among the `m`: the hypergeometric `P(X = k)`, computed by
    `scipy.stats.hypergeom`. Trials at 16, 16, 16 and 32, the top three at
    16: `3/4 * 2/3 * 1/2 = 0.25`; 5 of 20 trials at one value, the top five:
    `1/15504`.

    Returns:
        A probability in (0, 1]; 1.0 when every usable trial tried `values[0]`.
    """
    from scipy import stats  # type: ignore[import-untyped]  # noqa: PLC0415 - slow to import

    k, n, m = len(values), len(tried), sum(1 for v in tried if v == values[0])
    return float(stats.hypergeom(n, m, k).pmf(k))


def common_note(values: Sequence[Any], tried: Sequence[Any]) -> str:
    """The words for a value the top trials agree on but kept open (rule `common`), e.g.
    `"16 in 3 of 4 usable trials: the top 3 hold it by chance with p = 0.25
    (hypergeometric): kept"`."""
    m = sum(1 for v in tried if v == values[0])
    return (
        f"{values[0]!r} in {m} of {len(tried)} usable trials: the top {len(values)} hold it "
        f"by chance with p = {agreement_p(values, tried):.2g} (hypergeometric): kept"
    )


def untried_values(hp: hp_module.HyperParameter, tried: Sequence[Any]) -> list[Any]:
    """The values of `hp` that no usable trial tried, in `hp`'s order.

    Args:
        hp: A hyperparameter of the coarse space.
        tried: The values of every usable trial in which `hp` was active.

    Returns:
        For a `Boolean` or an unordered `Choice`: its values not in `tried`
        (`[]` when every value was tried). For any other hyperparameter, `[]`:
        an ordered `Choice` and a numeric range are narrowed by their span.
    """
    if isinstance(hp, hp_module.Boolean):
        values: list[Any] = [False, True]
    elif isinstance(hp, hp_module.Choice) and not hp.ordered:
        values = list(hp.values)
    else:
        return []
    return [v for v in values if v not in tried]


def one_value_tried(hp: hp_module.HyperParameter, tried: Sequence[Any]) -> bool:
    """Whether `hp` is a numeric range (`Int`, `Float`, an ordered `Choice`) of more than
    one value and every usable trial (`tried`: their values where it was active) tried the
    same one of them: then the trials say nothing of its other values."""
    if not is_range(hp) or not tried or any(v != tried[0] for v in tried):
        return False
    if isinstance(hp, hp_module.Choice):
        return len(set(hp.values)) > 1
    return bool(hp.max_value > hp.min_value)


def is_range(hp: hp_module.HyperParameter) -> bool:
    """Whether `hp` is narrowed as a range: an `Int`, a `Float`, an ordered `Choice`."""
    if isinstance(hp, hp_module.Choice):
        return bool(hp.ordered)
    return isinstance(hp, hp_module.Int | hp_module.Float)


def failed_values(hp: hp_module.HyperParameter, trials: Sequence[Any]) -> list[Any]:
    """The values of `hp` in the trials that ran with it active but are not usable.

    Args:
        hp: A hyperparameter of the coarse space.
        trials: KerasTuner `Trial`s, all of them (usable or not).

    Returns:
        The values, in the trials' order, of each trial that ended (not
        RUNNING nor IDLE) without being usable (FAILED, or a non-finite score)
        and in which `hp` was active: tried, but without evidence.
    """
    ended = [
        t
        for t in trials
        if t.status not in (TrialStatus.RUNNING, TrialStatus.IDLE)
        and t.hyperparameters is not None
        and not is_usable(t)
    ]
    return [v for v in (active_value(t, hp) for t in ended) if v is not MISSING]


def untried_note(
    hp: hp_module.HyperParameter,
    tried: Sequence[Any],
    rule: str,
    failed: Sequence[Any] = (),
) -> str:
    """The words for the values kept because no usable trial tried them.

    Args:
        hp: A hyperparameter of the coarse space.
        tried: The values of every usable trial in which `hp` was active.
        rule: The rule the narrowing applied to `hp` (`Change.rule`).
        failed: The values of every trial in which `hp` was active but that is
            not usable (FAILED, or a non-finite score). Defaults to `()`.

    Returns:
        E.g. `"'tanh', 'selu' never tried (6 usable trials): kept"`, or, for
        values only such trials tried, `"'gelu' never tried; 'tanh' tried only
        by failed trials (5 usable trials): kept"`; `""` when no value was kept
        for that reason (every value tried, or a rule that keeps the whole
        hyperparameter anyway, e.g. `"sparse"`).
    """
    trials = f"{len(tried)} usable trial" + ("" if len(tried) == 1 else "s")
    if rule == "untried" and one_value_tried(hp, tried):
        return f"only {tried[0]!r} tried ({trials}): kept"
    untried = untried_values(hp, tried) if rule in UNTRIED_RULES else []
    if not untried:
        return ""
    never = [v for v in untried if v not in failed]
    only_failed = [v for v in untried if v in failed]
    parts = [f"{', '.join(map(repr, never))} never tried"] if never else []
    if only_failed:
        parts.append(f"{', '.join(map(repr, only_failed))} tried only by failed trials")
    return f"{'; '.join(parts)} ({trials}): kept"
