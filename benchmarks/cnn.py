"""The CNN target: `--hypermodel toonvision-cnn` at the default budget, winner and baseline.

Runs `python -m tunekit.coarse_to_fine --hypermodel toonvision-cnn` (the default
budget; extra CLI options after `--`) as a user would, and records the winner's
test accuracy and parameter count, its hyperparameters, and the baseline step's
model (the hypermodel's defaults trained by the winner's rule) with its test
accuracy and size. Target: at least 99.2% MNIST test accuracy with fewer than
20,000 parameters.

Usage: `python -m benchmarks.cnn [--backend auto] [--name cnn] [-- extra CLI options]`
Writes `benchmarks/results/<name>.json` and prints a Markdown table.
`python -m benchmarks.cnn --from-run <run folder> [--wall-seconds S]` records a
finished run started by hand (the run's own command is kept).
`python -m benchmarks.cnn --partial <run directory>` records the trials a run
(finished or not) has so far, with each model's parameter count and final
feature-map size, in `benchmarks/results/<name>_partial.json`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._common import markdown_table, save
from benchmarks.headline import recorded_run, run_cli

TARGET_ACCURACY = 0.992
MAX_PARAMS = 20_000


def _baseline(report: dict[str, Any]) -> dict[str, Any] | None:
    """The baseline model's test accuracy and size from a run's `report.json`, if it ran."""
    section = report.get("baseline")
    if not section:
        return None
    accuracy = next((m for m in section.get("metrics", []) if m.get("name") == "accuracy"), None)
    return {
        "test_accuracy": accuracy.get("baseline") if accuracy else None,
        "num_params": section["baseline_model"]["num_params"],
        "hyperparameters": section["baseline_model"]["hyperparameters"],
        "verdict": section.get("verdict"),
        "section": section,
    }


def _map_side(model: Any) -> list[int]:
    """Height and width of the feature map the classifier head sees."""
    import keras

    flatten = next(layer for layer in model.layers if isinstance(layer, keras.layers.Flatten))
    return [int(n) for n in flatten.input.shape[1:3]]


def partial(run_dir: Path, name: str) -> None:
    """Writes the trials of `run_dir` (a `--directory/--project-name` folder) so far."""
    import keras_tuner as kt

    from hypermodels import ToonVisionCNNHyperModel

    hypermodel = ToonVisionCNNHyperModel((28, 28), 10, augment=False, rescale=False)
    trials = []
    for path in sorted(run_dir.glob("*/trial_*/trial.json")):
        trial = json.loads(path.read_text())
        hp = kt.HyperParameters.from_config(trial["hyperparameters"])
        model = hypermodel.build(hp)
        trials.append(
            {
                "phase": path.parent.parent.name,
                "trial_id": trial["trial_id"],
                "status": trial["status"],
                "val_accuracy": trial.get("score"),
                "epochs": hp.values.get("tuner/epochs"),
                "num_params": int(model.count_params()),
                "map": _map_side(model),
                "values": {k: v for k, v in hp.values.items() if not k.startswith("tuner/")},
            }
        )
    done = [t for t in trials if t["val_accuracy"] is not None]
    small = [t for t in done if t["num_params"] < MAX_PARAMS]
    rows = [
        [
            t["phase"],
            t["trial_id"],
            t["epochs"] or "",
            f"{t['val_accuracy']:.4f}",
            f"{t['num_params']:,}",
            "x".join(map(str, t["map"])),
        ]
        for t in sorted(done, key=lambda t: -t["val_accuracy"])[:10]
    ]
    table = markdown_table(
        ["phase", "trial", "epochs", "val accuracy", "parameters", "final map"], rows
    )
    save(
        f"{name}_partial",
        {
            "run_dir": str(run_dir),
            "trials_done": len(done),
            "trials_with_1x1_map": sum(t["map"] == [1, 1] for t in done),
            "best": max(done, key=lambda t: t["val_accuracy"], default=None),
            "best_under_max_params": max(small, key=lambda t: t["val_accuracy"], default=None),
            "trials": trials,
            "table": table,
        },
    )
    print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--name", default="cnn")
    parser.add_argument("--partial", type=Path, help="record a run directory's trials so far")
    parser.add_argument(
        "--from-run",
        type=Path,
        help="record a finished run folder of the CLI instead of starting one (e.g. a run "
        "that was resumed); its command must be the default budget with --hypermodel "
        "toonvision-cnn",
    )
    parser.add_argument(
        "--wall-seconds", type=float, help="with --from-run: the wall time measured outside"
    )
    parser.add_argument("options", nargs="*", help="extra CLI options (after --)")
    args = parser.parse_args()
    if args.partial:
        partial(args.partial, args.name)
        return
    if args.from_run:
        run_dir = args.from_run
        report = json.loads((run_dir / "report.json").read_text())
        result = recorded_run(report, args.wall_seconds)
        options = result["command"].split()[3:]
    else:
        options = ["--hypermodel", "toonvision-cnn", *args.options]
        work = Path(tempfile.mkdtemp(prefix="tunekit-cnn-"))
        result = run_cli(options, args.backend, work)
        run_dir = work / args.backend
        report = json.loads((run_dir / "report.json").read_text())
    hyperparameters = json.loads((run_dir / "best_hyperparameters.json").read_text())
    baseline = _baseline(report)
    met = result["test_accuracy"] >= TARGET_ACCURACY and result["num_params"] < MAX_PARAMS
    rows = [
        [
            "winner",
            f"{result['test_accuracy']:.4f}",
            f"{result['num_params']:,}",
            "?" if result["wall_seconds"] is None else f"{result['wall_seconds']:.0f}",
        ]
    ]
    if baseline:
        rows.append(
            [
                "baseline (defaults)",
                f"{baseline['test_accuracy']:.4f}" if baseline["test_accuracy"] else "?",
                f"{baseline['num_params']:,}",
                "",
            ]
        )
    table = markdown_table(["model", "test accuracy", "parameters", "wall s"], rows)
    save(
        args.name,
        {
            "options": options,
            "target": {"test_accuracy": TARGET_ACCURACY, "max_params": MAX_PARAMS, "met": met},
            "results": {args.backend: result},
            "winner_hyperparameters": hyperparameters,
            "baseline": baseline,
            "report_test_metrics": report.get("test_metrics"),
            "table": table,
        },
    )
    print(table)
    print(f"target met: {met}")


if __name__ == "__main__":
    main()
