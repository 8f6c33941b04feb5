"""The end-of-run report: `trials.csv`, `report.json` and `report.md`."""

from __future__ import annotations

import platform
import time
from typing import Any

import keras
import numpy as np
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from tunekit import _io, plots
from tunekit.manifest import STEPS, versions
from tunekit.model_size import param_count
from tunekit.outputs import predict_classes
from tunekit.results import format_value, trials_csv, trials_dataframe
from tunekit.stats import compare_to_baseline, summarize_scores
from tunekit.steps.baseline import BASELINE_MODEL
from tunekit.tensorboard import log_images

__all__ = ["write_report", "render_markdown"]


def _report(
    run, model: keras.Model, num_trials: dict[str, int], distributed: dict[str, Any] | None
) -> dict[str, Any]:
    steps = run.manifest.state["steps"]
    retrain = steps["retrain"]
    chosen = _io.read_json(run.run_dir / "best_hyperparameters.json", what="best hyperparameters")
    hyperparameters = {k: v for k, v in chosen["values"].items() if not k.startswith("tuner/")}
    return {
        "run_dir": str(run.run_dir),
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime()),
        "config": run.manifest.state["config"],
        "data": run.data.summary(),
        "dataset": {
            "name": run.data.name,
            "num_classes": run.data.num_classes,
            "class_names": list(run.data.class_names),
            "input_shape": list(run.data.input_shape),
            "scaling": run.data.scaling,
        },
        "versions": {**versions(), "python": platform.python_version()},
        "backend": keras.backend.backend(),
        "backend_choice": run.backend_choice
        or {"backend": keras.backend.backend(), "source": "KERAS_BACKEND or Keras default"},
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
        "distributed": distributed,
        "phases": {
            phase: {
                "trials": num_trials[phase],
                "best_trial_id": steps[phase]["best_trial_id"],
                "best_score": steps[phase]["best_score"],
                "seconds": steps[phase].get("seconds"),
            }
            for phase in ("coarse", "fine")
        },
        "narrowing": run.narrow().to_dict(),
        "best": {
            "phase": retrain["phase"],
            "trial_id": retrain["trial_id"],
            "reason": retrain["reason"],
            "final_epochs": retrain["final_epochs"],
            "batch_size": retrain.get("batch_size"),
            "num_params": param_count(model),  # None: a lazy model never called
            "hyperparameters": hyperparameters,
        },
        "test_metrics": steps["evaluate"]["test_metrics"],
        "timings": {s: steps[s]["seconds"] for s in STEPS if "seconds" in steps.get(s, {})},
    }


def render_markdown(report: dict[str, Any], narrowing_table: str) -> str:
    """The report as Markdown for a person."""
    config = report["config"]
    best = report["best"]
    lines = [
        f"# tunekit run: {report['run_dir']}",
        "",
        f"- Data: {report['data']}; x scaling: {report['dataset']['scaling']} (uint8 "
        "pixels are divided by 255, other dtypes used as they are)",
        f"- Hypermodel: `{config['hypermodel']['class']}`; objective `{config['objective']}` "
        f"({config['direction']}: {'higher' if config['direction'] == 'max' else 'lower'} "
        f"is better); seed {config['seed']}",
        f"- Backend: {report['backend']}; versions: "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        "",
        "## Test set",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {v:.4f} |" for k, v in report["test_metrics"].items()],
        "",
        "## Phases",
        "",
        "| phase | trials | best trial | best score | seconds |",
        "|---|---|---|---|---|",
        *[
            f"| {p} | {v['trials']} | {v['best_trial_id']} | {v['best_score']:.4f} | "
            f"{v['seconds']} |"
            for p, v in report["phases"].items()
        ],
        "",
        f"Chosen: {best['phase']} trial {best['trial_id']} ({best['reason']}); retrained "
        f"{best['final_epochs']} epochs on train+validation"
        + (f" at batch size {best['batch_size']}" if best.get("batch_size") else "")
        + " "
        f"({config.get('final_schedule', 'constant')} learning rate); "
        + (
            f"{best['num_params']:,} parameters."
            if best["num_params"] is not None
            else "parameter count unknown (model not built)."
        ),
        "",
        "## Chosen hyperparameters",
        "",
        "| hyperparameter | value |",
        "|---|---|",
        *[f"| {k} | {format_value(v)} |" for k, v in best.get("hyperparameters", {}).items()],
        "",
        "## Narrowing",
        "",
        "```",
        narrowing_table,
        "```",
        "",
        "## Timings (seconds)",
        "",
        *[f"- {k}: {v}" for k, v in report["timings"].items()],
        "",
    ]
    return "\n".join(lines)


def _sample_images(x: np.ndarray, count: int = 8) -> np.ndarray:
    """The first `count` inputs as `(n, h, w, c)` images in [0, 1], if they are images."""
    images = np.asarray(x[:count], dtype="float32")
    if images.ndim == 3:
        images = images[..., None]
    if images.max(initial=0.0) > 1.0:
        images = images / 255.0
    return np.clip(images, 0.0, 1.0)


def write_report(
    run, model: keras.Model, y_pred: np.ndarray, *, distributed: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Writes `trials.csv`, `report.json`, `report.md`, the plots and final images of `run`.

    Args:
        run: The `CoarseToFine` whose retrain step is done.
        model: The saved final model.
        y_pred: Its predicted class per test sample (`tunekit.predict_classes`).
        distributed: How the trials were run (`PhaseRunner.facts()`): `None`
            for one process, else the chief's address, the workers seen, the
            local workers and their restarts. Defaults to `None`.
    """
    frame = finalist_columns(trials_dataframe(run.run_dir), run)
    _io.write_text(run.run_dir / "trials.csv", trials_csv(frame))
    num_trials = frame.groupby("phase").size().to_dict()
    report = _report(
        run, model, {p: int(num_trials.get(p, 0)) for p in ("coarse", "fine")}, distributed
    )
    report["finalists"] = finalists_section(run)
    report["baseline"] = baseline_section(run, model)
    report["final_seeds"] = final_seeds_section(run)
    data = run.data
    history = run.manifest.step("retrain").get("history", {})
    report["plots"] = plots.save_run_plots(
        run.run_dir / "plots",
        frame,
        direction=run.objective.direction,
        objective_name=run.objective.name,
        narrowed=run.narrow(),
        y_true=data.y_test,
        y_pred=y_pred,
        class_names=data.class_names,
        history=history,
    )
    report["confusion_matrix"] = {  # rows: true class, columns: predicted, in class order
        "class_names": list(data.class_names),
        "counts": sk_confusion_matrix(
            data.y_test, y_pred, labels=np.arange(data.num_classes)
        ).tolist(),
    }
    matrix = plots.confusion_matrix(data.y_test, y_pred, data.class_names)
    images = [("confusion_matrix", plots.figure_to_png(matrix))]
    if len(data.input_shape) in (2, 3):
        images.append(("test_samples", _sample_images(data.x_test)))
    log_images(run.run_dir / "tensorboard" / "final" / "test", images)
    _io.write_json(run.run_dir / "report.json", report)
    markdown = render_markdown(report, str(run.narrow()))
    _io.write_text(run.run_dir / "report.md", markdown + "\n".join(render_trust_markdown(report)))
    return report


# -- finalists, baseline and final seeds (issue 17) ----------------------------------


def _predictions(model: keras.Model, data: Any, batch_size: int) -> np.ndarray:
    """Class ids (classification) or predicted values (regression) on the test set."""
    if getattr(data, "task", "classification") == "regression":
        return np.asarray(model.predict(data.x_test, batch_size=batch_size, verbose=0))
    return predict_classes(model, data.x_test, batch_size=batch_size)


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


def baseline_section(run: Any, model: keras.Model) -> dict[str, Any] | None:
    """The tuned model against `baseline_model.keras` on the test set, or `None` without one.

    Both saved models predict the test set; `tunekit.stats.compare_to_baseline`
    gives each metric with its 95% interval (Wilson for accuracy, bootstrap for
    regression), McNemar's exact test (classification) and the verdict.
    """
    record = run.manifest.state["steps"].get("baseline", {})
    path = run.run_dir / BASELINE_MODEL
    if record.get("status") != "done" or not path.exists():
        return None
    baseline = keras.models.load_model(path, safe_mode=True)
    data = run.data
    batch_size = max(run.batch_size, 256)
    tuned_pred = _predictions(model, data, batch_size)
    baseline_pred = _predictions(baseline, data, batch_size)
    comparison = compare_to_baseline(
        data.y_test, tuned_pred, baseline_pred, task=getattr(data, "task", None), seed=run.seed
    )
    retrain = run.manifest.state["steps"]["retrain"]
    return {
        **comparison.to_dict(),
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
        },
    }


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
    low, high = interval
    return f"{value:.4f} [{low:.4f}, {high:.4f}]"


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
            "| phase | trial | scores (trial first) | mean | std | parameters | chosen |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in finalists["finalists"]:
            scores = ", ".join("diverged" if s is None else f"{s:.4f}" for s in row["scores"])
            mean = "n/a" if row["mean"] is None else f"{row['mean']:.4f}"
            std = "n/a" if row["std"] is None else f"{row['std']:.4f}"
            params = "?" if row["num_params"] is None else f"{row['num_params']:,}"
            lines.append(
                f"| {row['phase']} | {row['trial_id']} | {scores} | {mean} | {std} | {params} | "
                f"{'yes' if row['chosen'] else ''} |"
            )
        lines += ["", f"Why: {finalists['pick']['reason']}.", ""]
    baseline = report.get("baseline")
    if baseline:
        tuned, base = baseline["tuned_model"], baseline["baseline_model"]
        pct = f"{baseline['confidence']:.0%}"
        lines += [
            "## Tuned against the baseline (test set)",
            "",
            "The baseline is the hypermodel's default configuration, trained by the same rule "
            "(epochs, learning-rate schedule, train+validation, seed).",
            "",
            "| | tuned | baseline |",
            "|---|---|---|",
        ]
        for metric in baseline["metrics"]:
            lines.append(
                f"| test {metric['name']} ({pct} {baseline['interval_method']} interval) | "
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
            lines += [
                f"McNemar's exact test: p = {test['p_value']:.4g}; only the tuned model right "
                f"on {test['b']}, only the baseline right on {test['c']} of "
                f"{baseline['n_examples']} test examples.",
                "",
            ]
        lines += [f"Verdict: {baseline['verdict']}", ""]
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
            per = ", ".join(f"{m[name]:.4f}" for m in seeds["per_seed"].values() if name in m)
            std = "n/a" if value["std"] is None else f"{value['std']:.4f}"
            lines.append(f"| {name} | {value['mean']:.4f} | {std} | {per} |")
        lines.append("")
    return lines
