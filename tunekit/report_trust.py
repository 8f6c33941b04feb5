"""The report's sections on how far to trust the result: finalists, baseline, final seeds.

Issue 17, items 1-3: `report.json` gets `finalists` (each finalist's
validation scores over seeds, mean, standard deviation and the pick),
`baseline` (the tuned model against the hypermodel's default configuration
on the test set: each metric with its 95% interval, parameter counts,
training seconds, McNemar's exact test for classification and the verdict of
`tunekit.stats.compare_to_baseline`) and `final_seeds` (the winner's test
metrics over seeds); `report.md` renders them, and `trials.csv` marks the
finalists. A section is `None` when its step is off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from tunekit.data._targets import several_outputs
from tunekit.data.batches import test_batch_size
from tunekit.errors import UsageError
from tunekit.model_files import load_saved_model
from tunekit.model_size import param_count
from tunekit.outputs import predict_test_set
from tunekit.regression import own_name
from tunekit.report_verdict import beside_note, objective_comparison, relabel_decided
from tunekit.report_weights import shown
from tunekit.score_text import score_text
from tunekit.stats import compare_to_baseline, summarize_scores
from tunekit.trial_names import recorded_number

__all__ = [
    "BASELINE_MODEL",
    "baseline_section",
    "final_seeds_section",
    "finalist_columns",
    "finalists_section",
    "render_trust_markdown",
]

BASELINE_MODEL = "baseline_model.keras"  # written by `tunekit.steps.BaselineStep`


def _predictions(model: keras.Model, data: Any, batch_size: int) -> np.ndarray:
    """The baseline's class ids (classification) or values (regression) on the test set.

    A stream's test set is predicted whole; its labels must come in the order
    `data.y_test` recorded when the tuned model predicted it, or the two
    models' predictions cannot be paired.
    """
    from tunekit.data.streams import StreamData

    y_true, y_pred = predict_test_set(model, data, batch_size=batch_size)
    if isinstance(data, StreamData) and not np.array_equal(
        np.asarray(y_true).reshape(-1), np.asarray(data.y_test).reshape(-1)
    ):
        raise UsageError(
            "the test stream yields its examples in another order on each pass (is it "
            "shuffled?), so the two models' predictions cannot be paired"
        )
    return y_pred


def finalists_section(run: Any) -> dict[str, Any] | None:
    """The finalists step's record for `report.json`, or `None` when it did not run.

    Returns:
        `{"seeds_per_finalist", "pick", "finalists": [{phase, trial_id,
        scores (the trial's first), mean, std, num_params, epochs, chosen}]}`.
    """
    record = run.manifest.state["steps"].get("finalists", {})
    pick = record.get("pick")
    if not pick:
        return None
    rows = [
        {
            "phase": f["phase"],
            "trial_id": f["trial_id"],
            "scores": f.get("scores"),
            "mean": f.get("mean"),
            "std": f.get("std"),
            "num_params": f.get("num_params"),
            "epochs": f["epochs"],
            "chosen": (f["phase"], f["trial_id"]) == (pick["phase"], pick["trial_id"]),
        }
        for f in record["finalists"]
    ]
    return {"seeds_per_finalist": run.finalist_seeds + 1, "pick": pick, "finalists": rows}


def baseline_section(
    run: Any,
    model: keras.Model,
    report: dict[str, Any] | None = None,
    tuned_pred: np.ndarray | None = None,
    score: Callable[[keras.Model], dict[str, float]] | None = None,
) -> dict[str, Any] | None:
    """The tuned model against `baseline_model.keras` on the test set, or `None` without one.

    Both saved models predict the test set; `tunekit.stats.compare_to_baseline`
    gives each metric with its 95% interval (Wilson for accuracy, bootstrap for
    regression and balanced accuracy), McNemar's exact test (classification)
    and the verdict, decided on test accuracy, or balanced accuracy when the
    classes were weighed (`run.class_weights`: as the report's usefulness note
    judges them), or MSE (the sentence names it and its test). When the
    search's objective ranks by another metric (`val_recall`, `val_mae`), the
    verdict adds both models' test values of it (the tuned model's from
    `report["test_metrics"]`, the baseline's from `score`, scored alike) and the
    table a row of it (no interval). A row of tunekit's value beside a metric of
    the model's own of that name and another value is `sklearn_<name>`
    (`tunekit.regression.own_name`), and the verdict names it so (`test
    sklearn_accuracy`, `relabel_decided`). When the chosen hyperparameters
    (`report["best"]`) are the defaults the baseline used, `same_configuration`
    is true and the verdict says so (the search found nothing better than the
    defaults). `tuned_pred`: the tuned model's test predictions when already
    made (the evaluate step's), else predicted here. The verdict says which
    model is no better than a constant guess (`GuessCheck`); when the report
    already warns so of the tuned model (`report["test_note"]`), the verdict
    leaves its own note out, and when the baseline is no better either, it
    says that neither is. Classes are named by `run.data.class_names`, as in
    the report's note (`'5'` for labels 3/4/5, not the class id `'2'`).
    """
    report = report or {}
    weighed = getattr(run, "class_weights", None) is not None
    chosen = (report.get("best") or {}).get("hyperparameters")
    noted = bool(report.get("test_note"))
    record = run.manifest.state["steps"].get("baseline", {})
    path = run.run_dir / BASELINE_MODEL
    if record.get("status") != "done" or not path.exists():
        return None
    baseline = load_saved_model(path, run.hypermodel, kt.HyperParameters, run.data)
    data = run.data
    batch_size = test_batch_size(run.data, run.batch_size)  # whole batches
    try:
        if several_outputs(data):  # a dict y of arrays, or a stream's
            raise UsageError(
                "the model has several outputs, scored by Keras's metrics only, which pair no "
                "predictions; evaluate baseline_model.keras on the test set to compare by hand"
            )
        if tuned_pred is None:
            tuned_pred = _predictions(model, data, batch_size)
        baseline_pred = _predictions(baseline, data, batch_size)
        task = getattr(data, "task", None)
        compared = compare_to_baseline(
            data.y_test,
            tuned_pred,
            baseline_pred,
            task=task,
            # as the report's usefulness note judges it: weighed classes trade plain accuracy
            metric="balanced_accuracy" if weighed and task == "classification" else None,
            seed=run.seed,
            class_names=getattr(data, "class_names", None),  # 'cat', not its id '0'
        ).to_dict()
    except UsageError as error:  # e.g. a diverged baseline predicting NaN values
        compared = {"error": str(error), "verdict": f"no comparison: {error}"}
    beside_note(compared, noted)  # the report's own note on the tuned model: not twice
    tuned_metrics = dict(report.get("test_metrics") or {})
    for row in compared.get("metrics", ()):  # beside the model's own metric of that name
        row["name"] = own_name(row["name"], row["tuned"], tuned_metrics)
    relabel_decided(compared)  # `test sklearn_mse 1.692 vs 1.847`, as the table names it
    baseline_metrics = _scored(score, baseline)
    said = objective_comparison(run.objective, compared, tuned_metrics, baseline_metrics)
    if said:
        compared["verdict"] = _then(compared["verdict"], said)
    defaults = record.get("hyperparameters", {})
    same = (
        chosen is not None
        and bool(defaults)
        and all(chosen.get(name) == value for name, value in defaults.items())
    )
    if same:
        compared["verdict"] = _then(
            compared["verdict"],
            "The chosen configuration is the hypermodel's default one, the baseline's: "
            "the search found nothing better than the defaults on validation.",
        )
    retrain = run.manifest.state["steps"]["retrain"]
    return {
        **compared,
        "same_configuration": same,
        "tuned_model": {
            "num_params": param_count(model),
            "training_seconds": retrain.get("seconds"),
            "epochs": retrain.get("final_epochs"),
        },
        "baseline_model": {
            "file": BASELINE_MODEL,
            "num_params": param_count(baseline),
            "training_seconds": record.get("seconds"),
            "epochs": record.get("epochs"),
            "diverged_at": record.get("diverged_at"),
            "hyperparameters": record.get("hyperparameters", {}),
            "test_metrics": baseline_metrics or None,  # scored as the tuned model's
        },
    }


def _then(verdict: str, sentence: str) -> str:
    """`verdict`, then `sentence` (a verdict ending in a question keeps its mark)."""
    verdict = verdict.rstrip()
    return f"{verdict if verdict.endswith(('.', '?')) else verdict + '.'} {sentence}"


def _scored(score: Callable[[keras.Model], dict[str, float]] | None, model: Any) -> dict:
    """`score(model)`, or `{}` without `score` or when the model cannot be scored (NaN)."""
    try:
        return dict(score(model)) if score is not None else {}
    except ValueError:  # a diverged baseline: the comparison above says so
        return {}


def final_seeds_section(run: Any) -> dict[str, Any] | None:
    """The test metrics of the winner over `final_seeds` seeds, or `None` for one seed.

    Returns:
        `{"seeds": [...], "per_seed": {seed: metrics}, "summary": {metric:
        {"mean", "std"}}, "saved_seed"}`; the saved model is `saved_seed`'s.
    """
    record = run.manifest.state["steps"].get("final_seeds", {})
    if record.get("status") != "done":
        return None
    per_seed = {
        str(run.seed): run.manifest.state["steps"]["evaluate"]["test_metrics"],
        **record["seeds"],
    }
    names = list(per_seed[str(run.seed)])
    summary = {}
    for name in names:
        values = [m[name] for m in per_seed.values() if name in m]
        result = summarize_scores(values)
        summary[name] = {"mean": result.mean, "std": result.std, "n": result.n}
    return {
        "seeds": [int(s) for s in per_seed],
        "per_seed": per_seed,
        "summary": summary,
        "saved_seed": run.seed,
    }


def finalist_columns(frame: Any, run: Any) -> Any:
    """`frame` (trials) with each finalist's `finalist_scores`, `finalist_mean`, `finalist_std`."""
    section = finalists_section(run)
    if section is None or frame.empty:
        return frame
    frame = frame.copy()
    frame["finalist_scores"] = ""
    frame["finalist_mean"] = np.nan
    frame["finalist_std"] = np.nan
    for row in section["finalists"]:
        mask = (frame["phase"] == row["phase"]) & (frame["trial_id"].astype(str) == row["trial_id"])
        scores = row["scores"] or []
        frame.loc[mask, "finalist_scores"] = " ".join(
            "nan" if s is None else f"{s:.6g}" for s in scores
        )
        frame.loc[mask, "finalist_mean"] = row["mean"]
        frame.loc[mask, "finalist_std"] = row["std"]
    return frame


def _interval_text(value: float, interval: Any) -> str:
    if interval is None:  # too few examples for one: the table's note says why
        return score_text(value)
    low, high = interval
    return f"{score_text(value)} [{score_text(low)}, {score_text(high)}]"


def render_trust_markdown(report: dict[str, Any]) -> list[str]:
    """`report.md`'s finalists, baseline and final-seeds sections (empty when off)."""
    lines: list[str] = []
    finalists = report.get("finalists")
    if finalists:
        lines += [
            "## Finalists (validation, more seeds)",
            "",
            f"Each finalist trained {finalists['seeds_per_finalist']} times (its trial, then "
            "other seeds) on train, scored on validation; the pick is the best mean.",
            "",
            "| phase | trial (id) | scores (trial first) | mean | std | parameters | chosen |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in finalists["finalists"]:
            scores = ", ".join("diverged" if s is None else score_text(s) for s in row["scores"])
            mean = "n/a" if row["mean"] is None else score_text(row["mean"])
            std = "n/a" if row["std"] is None else score_text(row["std"])
            params = "?" if row["num_params"] is None else f"{row['num_params']:,}"
            number = recorded_number(report["run_dir"], row["phase"], row["trial_id"])
            trial = (
                f"(id {row['trial_id']})" if number is None else f"{number} (id {row['trial_id']})"
            )
            lines.append(
                f"| {row['phase']} | {trial} | {scores} | {mean} | {std} | {params} | "
                f"{'yes' if row['chosen'] else ''} |"
            )
        lines += ["", f"Why: {finalists['pick']['reason']}.", ""]
    elif report.get("config", {}).get("cv", 1) <= 1:
        lines += [
            "## Finalists (validation, more seeds)",
            "",
            "Off: the pick is the best single trial, whose score is partly its seed. "
            "`--finalists 3` (`finalists=3`) retrains the top 3 with more seeds and picks "
            "the best mean.",
            "",
        ]
    baseline = report.get("baseline")
    if baseline:
        tuned, base = baseline["tuned_model"], baseline["baseline_model"]
        pct = f"{baseline.get('confidence', 0.95):.0%}"
        lines += [
            "## Tuned against the baseline (test set)",
            "",
            "The baseline is the hypermodel's default configuration, trained by the same rule "
            "(epochs, learning-rate schedule, train+validation, seed).",
            "",
            "| | tuned | baseline |",
            "|---|---|---|",
        ]
        for metric in baseline.get("metrics", ()):
            method = metric.get("interval_method") or baseline.get("interval_method", "")
            kind = "" if metric.get("tuned_interval") is None else f" ({pct} {method} interval)"
            kind += " (the search's objective)" if metric.get("objective") else ""
            lines.append(
                f"| test {shown(metric['name'], report)}{kind} | "
                f"{_interval_text(metric['tuned'], metric['tuned_interval'])} | "
                f"{_interval_text(metric['baseline'], metric['baseline_interval'])} |"
            )

        def count(value: int | None) -> str:
            return "?" if value is None else f"{value:,}"

        lines += [
            f"| parameters | {count(tuned['num_params'])} | {count(base['num_params'])} |",
            f"| training seconds | {tuned['training_seconds']} | {base['training_seconds']} |",
            f"| epochs | {tuned['epochs']} | {base['epochs']} |",
            "",
        ]
        test = baseline.get("mcnemar")
        if test:
            decided = str((baseline.get("metrics") or [{}])[0].get("name", ""))
            on = " on plain accuracy" if decided.endswith("balanced_accuracy") else ""
            lines += [
                f"McNemar's exact test{on}: p = {test['p_value']:.4g}; only the tuned model right "
                f"on {test['b']}, only the baseline right on {test['c']} of "
                f"{baseline['n_examples']} test examples.",
                "",
            ]
        lines += [f"Verdict: {baseline['verdict']}", ""]
    elif report.get("config", {}).get("baseline") is False:
        lines += [
            "## Tuned against the baseline (test set)",
            "",
            "Off (`--no-baseline`, `baseline=False`): nothing here says what tuning bought over "
            "the hypermodel's default configuration. Run without `--no-baseline` to compare.",
            "",
        ]
    seeds = report.get("final_seeds")
    if seeds:
        lines += [
            "## Final model over seeds (test set)",
            "",
            f"The chosen configuration retrained with seeds {seeds['seeds']}. The saved model "
            f"is seed {seeds['saved_seed']}'s; nothing was chosen on the test set.",
            "",
            "| metric | mean | std | per seed |",
            "|---|---|---|---|",
        ]
        for name, value in seeds["summary"].items():
            per = ", ".join(score_text(m[name]) for m in seeds["per_seed"].values() if name in m)
            std = "n/a" if value["std"] is None else score_text(value["std"])
            lines.append(f"| {shown(name, report)} | {score_text(value['mean'])} | {std} | {per} |")
        lines.append("")
    return lines
