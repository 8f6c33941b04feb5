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
a numeric range's values are never all tried.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keras_tuner.engine import hyperparameters as hp_module

__all__ = ["UNTRIED_RULES", "untried_note", "untried_values"]

# The rules under which a value no usable trial tried was kept (and is said).
UNTRIED_RULES = ("untried", "subset")


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


def untried_note(hp: hp_module.HyperParameter, tried: Sequence[Any], rule: str) -> str:
    """The words for the values kept because no usable trial tried them.

    Args:
        hp: A hyperparameter of the coarse space.
        tried: The values of every usable trial in which `hp` was active.
        rule: The rule the narrowing applied to `hp` (`Change.rule`).

    Returns:
        E.g. `"'tanh', 'selu' never tried (6 usable trials): kept"`, or `""`
        when no value was kept for that reason (every value tried, or a rule
        that keeps the whole hyperparameter anyway, e.g. `"sparse"`).
    """
    untried = untried_values(hp, tried) if rule in UNTRIED_RULES else []
    if not untried:
        return ""
    trials = f"{len(tried)} usable trial" + ("" if len(tried) == 1 else "s")
    return f"{', '.join(map(repr, untried))} never tried ({trials}): kept"
