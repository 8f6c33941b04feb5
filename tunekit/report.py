"""The end-of-run report: `trials.csv`, `report.json` and `report.md`."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from tunekit import _io, _log, hypermodel_options, plots, report_top, timing
from tunekit.data import REGRESSION, SCALED_UINT8
from tunekit.data.batches import trial_repeats, uneven_test_note
from tunekit.data.streams import StreamData
from tunekit.hypermodel_kinds import own_fit
from tunekit.manifest import STEPS, versions
from tunekit.model_size import param_count
from tunekit.objectives import objective_formula, objective_parts
from tunekit.option_pairs import reported_config
from tunekit.report_scores import (
    beside_metrics,
    outputs_usefulness_note,
    regression_sentence,
    test_intervals,
    test_table,
    usefulness_note,
)
from tunekit.report_top import relative_paths, run_location, space_growth_lines, top_markdown
from tunekit.report_trust import (
    baseline_section,
    final_seeds_section,
    finalist_columns,
    finalists_section,
    render_trust_markdown,
)
from tunekit.report_weights import class_weight_lines, weights_note
from tunekit.reproduce import command_section
from tunekit.results import trials_csv, trials_dataframe
from tunekit.retraining import resumed_note, schedule_text
from tunekit.tensorboard import log_images, sample_images
from tunekit.trial_names import chosen_name
from tunekit.trial_refusals import said_text

__all__ = ["render_markdown", "write_report"]


def _repeats_note(repeated: int | None) -> str:
    """`report.md`'s word on the samples the search trials repeated (see `full_batches`)."""
    if not repeated:
        return ""
    return (
        f"; the search trials trained on {repeated} of the training samples twice per epoch, "
        "to fill their last batch"
    )


def _targets_changed(retrain: Mapping[str, Any]) -> bool | None:
    """Whether the retrain's own fit trained on other targets than `y` (`None`: not known,
    it passed model.fit other inputs, e.g. a stream it built: `usefulness_note`)."""
    return True if retrain.get("y_changed") else (None if retrain.get("x_note") else False)


def _shape(shape: Any) -> Any:
    """An input shape for JSON: a list, or a dict of lists (several inputs)."""
    if isinstance(shape, Mapping):
        return {str(k): list(v) for k, v in shape.items()}
    return list(shape)


def _report(
    run: Any, model: keras.Model, num_trials: dict[str, int], distributed: dict[str, Any] | None
) -> dict[str, Any]:
    steps = run.manifest.state["steps"]
    retrain = steps["retrain"]
    chosen = _io.read_json(run.run_dir / "best_hyperparameters.json", what="best hyperparameters")
    hyperparameters = {k: v for k, v in chosen["values"].items() if not k.startswith("tuner/")}
    return {
        **run_location(run.run_dir),  # run_dir, run_dir_absolute, paths_relative_to
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime()),
        "config": reported_config(  # a stream's batch_size: its own batches'
            run.manifest.state["config"], run.data, stream=isinstance(run.data, StreamData)
        ),
        "data": run.data.summary(),
        "split_notes": list(getattr(run, "split_notes", ())),  # splits lacking classes
        # The loader's warnings (a uint8 x of a few levels, class ids saved as floats...).
        "data_notes": list(getattr(run.data, "notes", ())),
        "dataset": {
            "name": run.data.name,
            "task": run.data.task,
            "num_classes": run.data.num_classes,
            "class_names": list(run.data.class_names or ()),
            "num_outputs": run.data.num_outputs,
            "input_shape": _shape(run.data.input_shape),
            # A stream (tf.data, PyDataset, image folder) batches itself: no batch_size.
            "stream": isinstance(run.data, StreamData),
            "scaling": run.data.scaling,
            # Training samples each search trial saw twice per epoch, to fill its last batch.
            "trial_repeats": trial_repeats(run),
        },
        # What every trial's and the retrain's model.fit received (None: no weighting).
        "class_weight": {
            "mode": run.class_weight,
            "weights": None
            if run.class_weights is None
            else {str(k): v for k, v in run.class_weights.items()},
            # "model.fit", or "own fit": kwargs['class_weight'], applied as that fit applies it.
            "passed_to": "own fit" if own_fit(run.hypermodel) else "model.fit",
        },
        "versions": {**versions(), "python": platform.python_version()},
        "backend": keras.backend.backend(),
        "xla_flags": os.environ.get("XLA_FLAGS") or None,  # this process's (xla_flags.py)
        # What loading best_model.keras alone needs, when load_model(path) cannot (else None).
        "model_file_note": getattr(run, "model_file_note", None),
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
                # Configurations over max_model_size, rejected before training (None: no limit).
                "rejected_oversized": steps[phase].get("rejected_oversized"),
                **{k: steps[phase].get(k) for k in report_top.PHASE_KEYS},
            }
            for phase in ("coarse", "fine")
        },
        "narrowing": run.narrow().to_dict(),
        "best": {
            "phase": retrain["phase"],
            "trial_id": retrain["trial_id"],
            "reason": retrain["reason"],
            "final_epochs": retrain["final_epochs"],
            "final_epochs_rule": retrain.get("epochs_rule"),  # None: a run from before it
            "retrain_note": resumed_note(retrain.get("resumed_at"), retrain["final_epochs"]),
            "schedule_applied": retrain.get("schedule_applied", True),
            "schedule_note": retrain.get("schedule_note"),  # why not applied, when known
            "x_note": retrain.get("x_note"),  # the hypermodel's fit transformed x: see it
            # the final model scored worse on validation than its trial: `steps.reproduced`
            "reproduced_note": getattr(run, "reproduced_note", None),
            "batch_size": retrain.get("batch_size"),
            "num_params": param_count(model),  # None: a lazy model never called
            "hyperparameters": hyperparameters,
        },
        "test_metrics": steps["evaluate"]["test_metrics"],
        **_timings(run, steps),
    }


# What a user's own scoring of best_model.keras must give it (probe B scored raw uint8).
_SCALED_INPUT = " (best_model.keras takes x so scaled: `x.astype('float32') / 255`)"


def _timings(run: Any, steps: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`report.json`'s `timings` (seconds per step) and `time_split` from the manifest's `steps`."""
    return {
        "timings": {s: steps[s]["seconds"] for s in STEPS if "seconds" in steps.get(s, {})},
        "time_split": timing.time_split(run.run_dir, steps, **timing.session(run.backend_choice)),
    }


def render_markdown(report: dict[str, Any], narrowing_table: str) -> str:
    """The report as Markdown for a person, readable on a code host or in a browser.

    It opens with the chosen hyperparameters, the three most useful plots inline
    (best score so far, the narrowed space, the confusion matrix or predicted-vs-
    true values), links to every plot and file (relative to the run folder), the
    TensorBoard command and the run's reproducing command (`report["command"]`);
    then data, test metrics, phases, narrowing, timings.

    Args:
        report: The `report.json` content (`write_report`).
        narrowing_table: The narrowed space as text (`str(NarrowedSpace)`).

    Returns:
        The Markdown text.
    """
    config = report["config"]
    best = report["best"]
    lines = [
        f"# tunekit run: {report['run_dir']}",
        "",
        *top_markdown(report),
        "## Run",
        "",
        f"- Data: {report['data']}; x scaling: {report['dataset']['scaling']}"
        + (_SCALED_INPUT if report["dataset"]["scaling"] == SCALED_UINT8 else "")
        + _repeats_note(report["dataset"].get("trial_repeats")),
        *[f"- Data warning: {note}" for note in report.get("data_notes", ())],
        *([f"- Model file: {report['model_file_note']}"] if report.get("model_file_note") else []),
        f"- Hypermodel: {hypermodel_options.hypermodel_text(config['hypermodel'])}; objective "
        f"`{objective_formula(config['objective'], config.get('objectives'))}` "
        f"({config['direction']}: {'higher' if config['direction'] == 'max' else 'lower'} "
        f"is better); seed {config['seed']}",
        f"- Backend: {report['backend']}"
        + (f" (XLA_FLAGS `{report['xla_flags']}`)" if report.get("xla_flags") else "")
        + "; versions: "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        *class_weight_lines(report),
        *(
            [
                f"- Cross-validation: every trial's score is the mean of {config['cv']} folds of "
                "train+validation (`fold_<k>_score` in trials.csv); the finalists step is off "
                "(a cross-validated score already averages several fresh models)."
            ]
            if config.get("cv", 1) > 1
            else []
        ),
        "",
        "## Test set",
        "",
        *(
            [
                regression_sentence(report),
                "",
            ]
            # one target: several outputs are scored by Keras's metrics only, without plots
            if report["dataset"].get("task") == REGRESSION and "r2" in report["test_metrics"]
            else []
        ),
        *test_table(report),
        *[n for k in ("test_note", "test_batches_note") if report.get(k) for n in ("", report[k])],
        *[n for k in ("x_note", "reproduced_note") if best.get(k) for n in ("", best[k])],
        "",
        "## Phases",
        "",
        *report_top.phase_rows(report),
        *_size_limit_lines(report),
        *space_growth_lines(report),
        "",
        f"Chosen: {chosen_name(report['run_dir'], best['phase'], best['trial_id'])}: "
        f"{best['reason']}; retrained "
        f"{_log.count(best['final_epochs'], 'epoch')}"
        + (f" ({best['final_epochs_rule']})" if best.get("final_epochs_rule") else "")
        + " on train+validation"
        + (
            f" at batch size {best['batch_size']}"
            if best.get("batch_size")
            else " in the stream's own batches"
            if report["dataset"].get("stream")
            else ""
        )
        + " "
        f"({schedule_text(config.get('final_schedule', 'constant'), best)}); "
        + (
            f"{best['num_params']:,} parameters."
            if best["num_params"] is not None
            else "parameter count unknown (model not built)."
        )
        + (f" {best['retrain_note']}" if best.get("retrain_note") else ""),
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


def _size_limit_lines(report: dict[str, Any]) -> list[str]:
    """report.md's line on `max_model_size`: configurations rejected per phase (or none)."""
    limit = report["config"].get("max_model_size")
    if limit is None:
        return []
    counts = ", ".join(
        f"{p} {v.get('rejected_oversized') or 0}" for p, v in report["phases"].items()
    )
    return [
        "",
        f"Model size limit: {limit:,} parameters (max_model_size); configurations rejected "
        f"as larger before training: {counts}.",
    ]


def write_report(
    run: Any,
    model: keras.Model,
    y_pred: np.ndarray | None,
    *,
    distributed: dict[str, Any] | None = None,
    started: float | None = None,
    score: Callable[[keras.Model], dict[str, float]] | None = None,
) -> dict[str, Any]:
    """Writes `trials.csv`, `report.json`, `report.md`, the plots and final images of `run`.

    Classification gets a confusion matrix (in `report.json` and as a plot);
    regression gets the plots of predicted against true values and of the
    residuals instead. A model with several outputs (a dict `y`) gets
    neither: its test metrics are Keras's.

    Args:
        run: The `CoarseToFine` whose retrain step is done.
        model: The saved final model.
        y_pred: Its predicted class per test sample (`tunekit.predict_classes`),
            its predicted values (regression, the targets' shape), or `None`
            (several outputs).
        distributed: How the trials were run (`PhaseRunner.facts()`): `None`
            for one process, else the chief's address, the workers seen, the
            local workers and their restarts. Defaults to `None`.
        started: The evaluate step's `time.perf_counter()` at its start: its
            time in `timings` and `time_split` then runs to the writing of
            `report.json` (the plots and images included), not only to the
            test predictions. `None`: the manifest's evaluate seconds as they are.
        score: Scores the baseline as the saved model was (`test_metrics`). Defaults to None.
    """
    frame = finalist_columns(trials_dataframe(run.run_dir), run)
    _io.write_text(run.run_dir / "trials.csv", trials_csv(frame))
    num_trials = frame.groupby("phase").size().to_dict()
    report = _report(
        run, model, {p: int(num_trials.get(p, 0)) for p in ("coarse", "fine")}, distributed
    )
    failed = frame["status"].isin(["FAILED", "INVALID"])  # trials that trained no model
    for phase, counts in report["phases"].items():
        counts["failed"] = int(((frame["phase"] == phase) & failed).sum())
    report["finalists"] = finalists_section(run)
    data, weighed = run.data, run.class_weights is not None  # weighed: balanced accuracy too
    y_test = None if y_pred is None else data.y_test  # several outputs: none (nor a stream's)
    found = test_intervals(y_test, y_pred, data.task, seed=run.seed, weighed=weighed)
    report["test_intervals"] = beside_metrics(found, report["test_metrics"])  # under its metric
    test_note = (
        outputs_usefulness_note(data, report["test_metrics"])
        if y_pred is None
        else usefulness_note(
            data.y_test,
            y_pred,
            data.task,
            getattr(data, "class_names", None),
            getattr(data, "scaling", None),
            weighed=weighed,
            targets_changed=_targets_changed(run.manifest.step("retrain")),
        )
    )
    report["test_note"] = test_note and said_text(test_note, run.said)  # task= or --task
    report["test_batches_note"] = uneven_test_note(data, run.batch_size)  # a partial batch
    report["baseline"] = baseline_section(run, model, report, y_pred, score)
    report["final_seeds"] = final_seeds_section(run)
    # Keras's test loss and weighted_metrics: weighted by a test stream's weights, else by none
    weights_note(report, model, frame, weighted=getattr(data, "test_weighted", False))
    report["command"] = command_section(run, report["backend"])
    history = run.manifest.step("retrain").get("history", {})
    regression = data.task == REGRESSION
    report["plots"] = relative_paths(
        plots.save_run_plots(
            run.run_dir / "plots",
            frame,
            direction=run.objective.direction,
            objective_name=objective_formula(run.objective.name, objective_parts(run.objective)),
            narrowed=run.narrow(),
            y_true=None if y_pred is None else data.y_test,
            y_pred=y_pred,
            class_names=data.class_names,
            history=history,
            regression=regression,
        ),
        run.run_dir,
    )
    images: list[tuple[str, Any]] = []  # (tag, PNG bytes or an image array)
    if y_pred is not None and regression:
        figure = plots.predicted_vs_true(data.y_test, y_pred)
        images.append(("predicted_vs_true", plots.figure_to_png(figure)))
    elif y_pred is not None:
        report["confusion_matrix"] = {  # rows: true class, columns: predicted, in class order
            "class_names": list(data.class_names),
            "counts": sk_confusion_matrix(
                data.y_test, y_pred, labels=np.arange(data.num_classes)
            ).tolist(),
        }
        matrix = plots.confusion_matrix(data.y_test, y_pred, data.class_names)
        images.append(("confusion_matrix", plots.figure_to_png(matrix)))
    # a stream's x_test is its first test batch, read with the predictions (none: not read)
    if (samples := sample_images(getattr(data, "x_test", None), data.input_shape)) is not None:
        images.append(("test_samples", samples))
    if images:
        log_images(run.run_dir / "tensorboard" / "final" / "test", images)  # FINAL_LOGS
    if started is not None:  # the evaluate step so far: this report's own work included
        steps = dict(run.manifest.state["steps"])
        seconds = round(time.perf_counter() - started, 2)
        steps["evaluate"] = {**steps.get("evaluate", {}), "seconds": seconds}
        report.update(_timings(run, steps))
    _io.write_json(run.run_dir / "report.json", report)
    markdown = render_markdown(report, run.narrow().describe(run.said))  # as the run names them
    trust = render_trust_markdown(report)
    if trust:  # each section after a blank line (Markdown headings need one)
        markdown = markdown.rstrip("\n") + "\n\n" + "\n".join(trust)
    _io.write_text(run.run_dir / "report.md", markdown)
    return report
