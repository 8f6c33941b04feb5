"""Does coarse-to-fine beat single-phase search at an equal budget of training epochs?

Six arms, each given the same budget in training epochs of the dense MNIST
hypermodel on the full real MNIST (50k train / 10k validation), `--seeds`
seeds each:

- `random`: RandomSearch, 12 trials x 6 epochs = 72 epochs;
- `random-defaults`: the same, first trial the hypermodel's defaults (as the
  coarse phase does since `defaults_first`);
- `bayesian`: BayesianOptimization, 12 trials x 6 epochs = 72;
- `hyperband`: Hyperband, max_epochs 12, factor 4 = 72 planned epochs;
- `c2f-bayesian`: coarse 12 x 2 = 24 (first trial the defaults), then
  Bayesian 8 x 6 = 48 (72);
- `c2f-hyperband`: coarse 12 x 2 = 24, then Hyperband max_epochs 8, factor 3 = 49 (73).

Every arm's best configuration is retrained from scratch on train+validation
with the workflow's rule (`tunekit.retraining`: the best trial's best epoch
count from epoch 0, or the arm's longest trial if the winner was still
improving at its last epoch; cosine learning rate) and evaluated once on the
test set.

Usage: `KERAS_BACKEND=jax python -m benchmarks.quality_at_budget [--seeds 3]`
Writes `benchmarks/results/quality_at_budget.json`, a best-so-far plot
`benchmarks/results/quality_at_budget.png`, and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import RESULTS, load_data, markdown_table, retrain_and_test, save, spread
from hypermodels import MnistDenseHyperModel
from tunekit import CoarseToFine
from tunekit.progress import planned_epochs
from tunekit.retraining import final_epochs
from tunekit.tuners import make_tuner
from tunekit.workflow import completed_trials

BATCH_SIZE = 128
SINGLE = {
    "random": dict(kind="random", max_trials=12, epochs=6),
    "random-defaults": dict(kind="random", max_trials=12, epochs=6, defaults_first=True),
    "bayesian": dict(kind="bayesian", max_trials=12, epochs=6, num_initial_points=4),
    "hyperband": dict(kind="hyperband", max_epochs=12, factor=4),
}
C2F = {
    "c2f-bayesian": dict(
        coarse_trials=12, coarse_epochs=2, fine_tuner="bayesian", fine_trials=8, max_epochs=6
    ),
    "c2f-hyperband": dict(
        coarse_trials=12, coarse_epochs=2, fine_tuner="hyperband", max_epochs=8, factor=3
    ),
}


def _curve(oracles) -> list[tuple[float, float]]:
    """(epochs spent, best validation score so far), trial by trial, phases in order."""
    spent, best, points = 0.0, -np.inf, []
    for oracle in oracles:
        for trial_id in oracle.end_order:
            trial = oracle.trials[trial_id]
            if trial.metrics.exists("epochs"):
                spent += trial.metrics.get_last_value("epochs")
            if trial.status == "COMPLETED" and trial.score is not None:
                best = max(best, trial.score)
            if np.isfinite(best):
                points.append((spent, float(best)))
    return points


def _retrain(hypermodel, trial, data, seed: int, max_epochs: int) -> tuple[float, int, int]:
    """The workflow's rule: rebuild, train on train+validation for the `"auto"` epoch
    count with the default (cosine) learning rate schedule."""
    epochs = final_epochs(trial, max_epochs)
    result = retrain_and_test(
        hypermodel, trial.hyperparameters, data, epochs=epochs, seed=seed, batch_size=BATCH_SIZE
    )
    return result["test_accuracy"], epochs, result["num_params"]


def run_single(name: str, data, seed: int, work: Path) -> dict[str, Any]:
    settings = dict(SINGLE[name])
    kind, epochs = settings.pop("kind"), settings.pop("epochs", None)
    hypermodel = MnistDenseHyperModel()
    start = time.perf_counter()
    tuner = make_tuner(
        kind,
        hypermodel,
        objective="val_accuracy",
        directory=str(work),
        project_name=f"{name}-{seed}",
        seed=seed,
        overwrite=True,
        **settings,
    )
    fit = {"epochs": epochs} if epochs else {}
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        batch_size=BATCH_SIZE,
        verbose=0,
        **fit,
    )
    best = completed_trials(tuner.oracle)[0]
    accuracy, epochs_run, params = _retrain(
        hypermodel, best, data, seed, settings.get("max_epochs") or epochs
    )
    return {
        "best_val": best.score,
        "test_accuracy": accuracy,
        "final_epochs": epochs_run,
        "num_params": params,
        "seconds": time.perf_counter() - start,
        "trials": len(tuner.oracle.trials),
        "curve": _curve([tuner.oracle]),
        "planned_epochs": planned_epochs(tuner.oracle) or epochs * settings["max_trials"],
    }


def run_c2f(name: str, data, seed: int, work: Path) -> dict[str, Any]:
    start = time.perf_counter()
    run = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=work,
        project_name=f"{name}-{seed}",
        batch_size=BATCH_SIZE,
        seed=seed,
        overwrite=True,
        verbose=0,
        **C2F[name],
    )
    result = run.run()
    oracles = [run._tuner("coarse").oracle, run._tuner("fine").oracle]
    best_val = max(v["score"] for v in result.phase_bests.values())
    report = json.loads((run.run_dir / "report.json").read_text())
    return {
        "best_val": best_val,
        "test_accuracy": result.test_metrics["accuracy"],
        "final_epochs": result.final_epochs,
        "num_params": report["best"]["num_params"],
        "seconds": time.perf_counter() - start,
        "trials": sum(len(o.trials) for o in oracles),
        "curve": _curve(oracles),
        "best_phase": result.best_phase,
    }


def _plot(results: dict[str, list[dict[str, Any]]], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for arm, runs in results.items():
        for i, run in enumerate(runs):
            xs, ys = zip(*run["curve"]) if run["curve"] else ((), ())
            ax.step(
                xs,
                ys,
                where="post",
                alpha=0.8,
                label=arm if i == 0 else None,
                color=f"C{list(results).index(arm)}",
            )
    ax.set_xlabel("training epochs spent (of 50k samples)")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_ylim(0.95, 0.99)
    ax.set_title("Best-so-far validation accuracy by epochs spent (one line per seed)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--arms", nargs="*", default=[*SINGLE, *C2F])
    args = parser.parse_args()
    data = load_data()
    work = Path(tempfile.mkdtemp(prefix="tunekit-quality-"))
    results: dict[str, list[dict[str, Any]]] = {arm: [] for arm in args.arms}
    for seed in range(args.seeds):  # seeds outermost: arms interleave over the run
        for arm in args.arms:
            runner = run_c2f if arm in C2F else run_single
            outcome = runner(arm, data, seed, work)
            results[arm].append({"seed": seed, **outcome})
            print(
                f"{arm} seed {seed}: val {outcome['best_val']:.4f} test "
                f"{outcome['test_accuracy']:.4f} {outcome['seconds']:.0f}s",
                flush=True,
            )
    shutil.rmtree(work, ignore_errors=True)
    rows = []
    for arm, runs in results.items():
        rows.append(
            [
                arm,
                spread([r["best_val"] for r in runs]),
                spread([r["test_accuracy"] for r in runs]),
                f"{statistics.median(r['seconds'] for r in runs):.0f}",
                f"{statistics.median(r['num_params'] for r in runs):,.0f}",
            ]
        )
    table = markdown_table(
        [
            "arm",
            "best val accuracy, median [min, max]",
            "test accuracy, median [min, max]",
            "wall s (median)",
            "winner params (median)",
        ],
        rows,
    )
    save(
        "quality_at_budget",
        {
            "budget_epochs": 72,
            "batch_size": BATCH_SIZE,
            "data": data.summary(),
            "seeds": args.seeds,
            "arms": {**SINGLE, **C2F},
            "results": results,
            "table": table,
        },
    )
    _plot(results, RESULTS / "quality_at_budget.png")
    print(table)


if __name__ == "__main__":
    main()
