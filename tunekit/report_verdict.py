"""The baseline's verdict as the report says it: beside the report's note, named as the table.

`beside_note` keeps the verdict from repeating the report's own note that the
tuned model is no better than a constant guess, and says when neither model
is better than one; `relabel_decided` names tunekit's values as the table
names them; `objective_comparison` adds the objective's test metric when the
verdict does not speak of it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from tunekit.objectives import objective_parts
from tunekit.regression import OWN_PREFIX
from tunekit.stats import GuessCheck

__all__ = ["beside_note", "objective_comparison", "relabel_decided"]


def beside_note(compared: dict[str, Any], noted: bool) -> None:
    """`compared["verdict"]` (in place) beside the report's own note on the tuned model.

    `compared`: `tunekit.stats.compare_to_baseline(...).to_dict()`, whose verdict
    ends in its `note` naming the model(s) no better than a constant guess
    (`compared["guess"]`, on the quantity the report's usefulness note judges).
    `noted`: the report's test note says so of the tuned model. The verdict then
    leaves its own note out and, when the baseline is no better either, says
    that neither model is (`GuessCheck.neither`): a "better" between two models
    of no use is no model of use. A verdict that would read as good without its
    note (a "better" tuned model no better than a guess, beside a useful
    baseline) keeps it. On a test set that cannot tell (`GuessCheck.perfect`: one
    class), the report's note says so of the tuned model and the verdict that
    neither model can be told from a constant guess.
    """
    found = compared.get("guess")
    guess = GuessCheck(**found) if found else None
    if not (noted and guess and guess.tuned_no_better and compared.get("note")):
        return
    if guess.baseline_no_better or compared.get("outcome") != "better":
        kept = str(compared["verdict"]).removesuffix(compared["note"]).rstrip()
        compared["verdict"] = f"{kept} {guess.neither()}".rstrip()


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "r2": "R²"}


def relabel_decided(compared: dict[str, Any]) -> None:
    """Names tunekit's values in `compared["verdict"]` (in place) as the table names them.

    The verdict says `test accuracy` / `test MSE` (`R²`, ...) for tunekit's
    values (scikit-learn's, of the predictions); when the model reports its
    own metric of that name and another value, the table's row of tunekit's
    is `sklearn_<name>` (`tunekit.regression.own_name`), and so is the
    verdict's: `test sklearn_accuracy 0.5556 vs 0.3704`, never the name of the
    model's own 0.7037.
    """
    verdict = str(compared.get("verdict", ""))
    for row in compared.get("metrics") or ():
        plain = str(row["name"]).removeprefix(OWN_PREFIX)
        if row["name"] == plain:
            continue
        label = _LABELS.get(plain, plain.upper())
        verdict = re.sub(rf"\btest {re.escape(label)}(?!\w)", f"test {row['name']}", verdict)
    if "verdict" in compared:
        compared["verdict"] = verdict


def objective_comparison(
    objective: Any, compared: dict[str, Any], tuned: dict[str, Any], baseline: dict[str, Any]
) -> str:
    """A sentence on the objective's test metric when the verdict does not speak of it.

    The verdict is decided on test accuracy, balanced accuracy or MSE
    (`compared["metrics"][0]`), and beside balanced accuracy gives plain
    accuracy with McNemar's test; a search on `val_recall` ranked by recall,
    which may tell another story (0.0 for the baseline against 0.333 with
    accuracies 0.93 and 0.84). Each part of the objective whose test metric
    both `tuned` and `baseline` (their test metrics) hold and that is not a
    metric the verdict speaks of (by name, or by value: a `loss` that is the
    MSE) gets its values in the sentence and a row in `compared["metrics"]` (in
    place; no interval, `"objective": true`). A part of the plain name of such
    a metric when the verdict gives tunekit's `sklearn_<name>` is the model's
    own metric of that name: the sentence says so, not "another metric".

    Returns:
        The sentence, or `""`.
    """
    rows = list(compared.get("metrics") or [])
    if "metrics" in compared:
        compared["metrics"] = rows  # a tuple from `BaselineComparison.to_dict`
    # What the verdict speaks of: the deciding metric, and plain accuracy (McNemar's) beside it.
    spoken = rows[:1] + [
        row
        for row in rows[1:]
        if compared.get("mcnemar") and str(row["name"]).removeprefix(OWN_PREFIX) == "accuracy"
    ]
    parts = objective_parts(objective) or [[objective.name, objective.direction]]
    said, own = [], []
    for full, direction in parts:
        name = full.removeprefix("val_")
        if not all(_finite(m.get(name)) for m in (tuned, baseline)):
            continue
        ours, theirs = float(tuned[name]), float(baseline[name])
        if any(
            name == row["name"]
            or (
                math.isclose(ours, float(row["tuned"]), rel_tol=1e-4)
                and math.isclose(theirs, float(row["baseline"]), rel_tol=1e-4)
            )
            for row in spoken
        ):
            continue
        if not any(row["name"] == name for row in rows):
            rows.append(
                {
                    "name": name,
                    "tuned": ours,
                    "tuned_interval": None,
                    "baseline": theirs,
                    "baseline_interval": None,
                    "lower_is_better": direction == "min",
                    "objective": True,
                }
            )
        better = "higher" if direction == "max" else "lower"
        values = f"test {name} {ours:.4g} vs {theirs:.4g}"
        tunekits = [row for row in spoken if row["name"] == OWN_PREFIX + name]
        if tunekits:  # the model's own metric of the plain name
            how = "is decided on" if tunekits[0] is spoken[0] else "gives"
            own.append(
                f"The search's objective, {full} ({better} is better), is your model's own "
                f"`{name}`, not scikit-learn's `{tunekits[0]['name']}` the verdict {how}: "
                f"{values} (tuned vs baseline; no significance test on it)."
            )
        else:
            said.append(f"{full} ({better} is better): {values}")
    if said:  # "another" than the verdict's, when it speaks of one (probe E: it had none)
        lead = "ranks by another metric, " if spoken else "on the test set: "
        own.append(
            f"The search's objective {lead}{'; '.join(said)} (tuned vs "
            "baseline; no significance test on it)."
        )
    return " ".join(own)
