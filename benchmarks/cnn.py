"""The CNN target: `--hypermodel toonvision-cnn` at the default budget, winner and baseline.

Runs `python -m tunekit.coarse_to_fine --hypermodel toonvision-cnn` (the default
budget; extra CLI options after `--`) as a user would, and records the winner's
test accuracy and parameter count, its hyperparameters, and the baseline step's
model (the hypermodel's defaults trained by the winner's rule) with its test
accuracy and size. Target: at least 99.2% MNIST test accuracy with fewer than
20,000 parameters.

Usage: `python -m benchmarks.cnn [--backend auto] [--name cnn] [-- extra CLI options]`
Writes `benchmarks/results/<name>.json` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._common import markdown_table, save
from benchmarks.headline import run_cli

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--name", default="cnn")
    parser.add_argument("options", nargs="*", help="extra CLI options (after --)")
    args = parser.parse_args()
    options = ["--hypermodel", "toonvision-cnn", *args.options]
    work = Path(tempfile.mkdtemp(prefix="tunekit-cnn-"))
    result = run_cli(options, args.backend, work)
    report = json.loads((work / args.backend / "report.json").read_text())
    hyperparameters = json.loads((work / args.backend / "best_hyperparameters.json").read_text())
    baseline = _baseline(report)
    met = result["test_accuracy"] >= TARGET_ACCURACY and result["num_params"] < MAX_PARAMS
    rows = [
        [
            "winner",
            f"{result['test_accuracy']:.4f}",
            f"{result['num_params']:,}",
            f"{result['wall_seconds']:.0f}",
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
