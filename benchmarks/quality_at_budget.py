"""Does coarse-to-fine beat single-phase search at an equal budget of training epochs?

Two problems (`--problem`), the same arms on each, run over `--seeds` seeds,
seeds outermost so that all arms of one seed run side by side (the machine is
shared: they see similar load). Each arm gets the same budget, 36 training
epochs of a 5,000-image training subset (1,000 validation images; the 10,000
test images untouched):

- `dense` (the default): the dense MNIST hypermodel, JAX;
- `cnn`: `ToonVisionCNNHyperModel` on MNIST 28x28x1 (no flip, no rescaling:
  tunekit's loader scales pixels), TensorFlow (faster than JAX for this model
  on CPU, `benchmarks/results/cnn.json`).

Arms:

- `random`: RandomSearch, 12 trials x 3 epochs = 36 epochs;
- `bayesian`: BayesianOptimization, 12 trials x 3 epochs = 36;
- `hyperband`: Hyperband, max_epochs 6, factor 3 = 36 planned epochs;
- `c2f-bayesian`: coarse 10 x 1 = 10 (first trial the defaults), then
  Bayesian 6 x 4 = 24 (34); no finalists;
- `c2f-hyperband`: coarse 10 x 1 = 10, then Hyperband max_epochs 4, factor 3
  = 26 (36), then tunekit's default finalists step (top 3 configurations x 2
  more seeds at their trial's budget, up to 24 more epochs). One run gives two
  arms: `c2f-hyperband` (the best single trial retrained, as with
  `finalists=0`: the search is the same) and `c2f-hyperband+finalists` (the
  finalists' pick);
- `c2f-hyperband-long` (dense only): no finalists, the fine phase given more
  epochs instead (Hyperband max_epochs 6, factor 2), to set the finalists'
  extra epochs against more search.

The full-MNIST budget of the first version (72 epochs of 50,000 images per
arm, `quality_at_budget_v1.json` and `_v2.json`, 3 seeds) did not fit the shared machine for 5 seeds
and two problems.

Every arm's best configuration is retrained from scratch on train+validation
with the workflow's rule (`tunekit.retraining`: the best trial's best epoch
count from epoch 0, or the arm's longest trial if the winner was still
improving at its last epoch; cosine learning rate) and evaluated once on the
test set.

Each finished arm-seed is written to the results file at once; a rerun with
the same settings skips the arm-seeds already there (a crash loses only the
arm in progress). The summary (per-arm median and spread, paired Wilcoxon
signed-rank and sign tests from `tunekit.stats.paired_test`, the finalists'
effect and cost) is recomputed from the results each time.

Usage: `KERAS_BACKEND=jax python -m benchmarks.quality_at_budget --seeds 5`
and `KERAS_BACKEND=tensorflow python -m benchmarks.quality_at_budget --problem cnn --seeds 5`.
Writes `benchmarks/results/quality_at_budget.json` (`_cnn.json`), a best-so-far
plot next to it, and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import RESULTS, load_data, markdown_table, retrain_and_test, save, spread
from hypermodels import MnistDenseHyperModel, ToonVisionCNNHyperModel
from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.progress import planned_epochs
from tunekit.retraining import final_epochs
from tunekit.stats import paired_test
from tunekit.tuners import make_tuner
from tunekit.workflow import completed_trials

BATCH_SIZE = 128
FINALISTS = "c2f-hyperband+finalists"  # the second arm of a c2f run with finalists

# The same arms on both problems: 36 epochs of the training subset each.
SINGLE: dict[str, dict[str, Any]] = {
    "random": dict(kind="random", max_trials=12, epochs=3),
    "bayesian": dict(kind="bayesian", max_trials=12, epochs=3, num_initial_points=4),
    "hyperband": dict(kind="hyperband", max_epochs=6, factor=3),
}
C2F: dict[str, dict[str, Any]] = {
    "c2f-bayesian": dict(
        coarse_trials=10,
        coarse_epochs=1,
        fine_tuner="bayesian",
        fine_trials=6,
        max_epochs=4,
        finalists=0,
    ),
    "c2f-hyperband": dict(
        coarse_trials=10,
        coarse_epochs=1,
        fine_tuner="hyperband",
        max_epochs=4,
        factor=3,
        finalists=3,
        finalist_seeds=2,
    ),
    "c2f-hyperband-long": dict(
        coarse_trials=10,
        coarse_epochs=1,
        fine_tuner="hyperband",
        max_epochs=6,
        factor=2,
        finalists=0,
    ),
}
SUBSET = dict(num_train=5_000, num_val=1_000)
PROBLEMS: dict[str, dict[str, Any]] = {
    "dense": {
        "results": "quality_at_budget",
        "budget_epochs": 36,
        "subset": SUBSET,
        "single": SINGLE,
        "c2f": C2F,
    },
    "cnn": {
        "results": "quality_at_budget_cnn",
        "budget_epochs": 36,
        "subset": SUBSET,
        "single": SINGLE,
        "c2f": {k: v for k, v in C2F.items() if k != "c2f-hyperband-long"},
    },
}


def _hypermodel(problem: str) -> Any:
    if problem == "cnn":
        return ToonVisionCNNHyperModel(
            input_shape=(28, 28, 1), num_classes=10, augment=False, rescale=False
        )
    return MnistDenseHyperModel()


def _data(problem: str) -> Dataset:
    data = load_data()
    subset = PROBLEMS[problem].get("subset")
    if subset and not os.environ.get("TUNEKIT_BENCH_SMOKE"):
        data = data.subset(**subset)
    return data


def _curve(oracles: list[Any]) -> list[tuple[float, float]]:
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


def _retrain(
    hypermodel: Any, trial: Any, data: Dataset, seed: int, max_epochs: int
) -> tuple[float, int, int]:
    """The workflow's rule: rebuild, train on train+validation for the `"auto"` epoch
    count with the default (cosine) learning rate schedule."""
    epochs = final_epochs(trial, max_epochs)
    result = retrain_and_test(
        hypermodel, trial.hyperparameters, data, epochs=epochs, seed=seed, batch_size=BATCH_SIZE
    )
    return result["test_accuracy"], epochs, result["num_params"]


def run_single(problem: str, name: str, data: Dataset, seed: int, work: Path) -> dict[str, Any]:
    settings = dict(PROBLEMS[problem]["single"][name])
    kind, epochs = settings.pop("kind"), settings.pop("epochs", None)
    hypermodel = _hypermodel(problem)
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
        "epochs_spent": _curve([tuner.oracle])[-1][0],
        "planned_epochs": planned_epochs(tuner.oracle) or epochs * settings["max_trials"],
    }


def run_c2f(
    problem: str, name: str, data: Dataset, seed: int, work: Path
) -> dict[str, dict[str, Any]]:
    """One coarse-to-fine run; with finalists, two arms: without (`name`) and with them."""
    settings = PROBLEMS[problem]["c2f"][name]
    hypermodel = _hypermodel(problem)
    start = time.perf_counter()
    run = CoarseToFine(
        hypermodel,
        data,
        directory=work,
        project_name=f"{name}-{seed}",
        batch_size=BATCH_SIZE,
        seed=seed,
        overwrite=True,
        verbose=0,
        baseline=False,
        **settings,
    )
    result = run.run()
    seconds = time.perf_counter() - start
    oracles = [run._tuner("coarse").oracle, run._tuner("fine").oracle]
    curve = _curve(oracles)
    best_val = max(v["score"] for v in result.phase_bests.values())
    report = json.loads((run.run_dir / "report.json").read_text())
    common = {
        "best_val": best_val,
        "seconds": seconds,
        "trials": sum(len(o.trials) for o in oracles),
        "curve": curve,
        "epochs_spent": curve[-1][0],
        "timings": report.get("timings"),
    }
    picked = {
        "test_accuracy": result.test_metrics["accuracy"],
        "final_epochs": result.final_epochs,
        "num_params": report["best"]["num_params"],
        "best_phase": result.best_phase,
        "trial_id": report["best"].get("trial_id"),
    }
    section = report.get("finalists")
    if not section:
        return {name: {**common, **picked}}
    # The finalists are ranked by their trial's score (fine first on a tie, as
    # `select` ranks without finalists): the first is the pick without the step.
    rows = section["finalists"]
    single, chosen = rows[0], next(r for r in rows if r["chosen"])
    moved = (single["phase"], single["trial_id"]) != (chosen["phase"], chosen["trial_id"])
    finalist_seconds = float((report.get("timings") or {}).get("finalists", 0.0))
    finalist_epochs = sum(r["epochs"] * (len(r["scores"]) - 1) for r in rows)
    if moved:  # retrain the best single trial by the same rule and seed as the workflow
        trial = run._tuner(single["phase"]).oracle.trials[single["trial_id"]]
        rt_start = time.perf_counter()
        accuracy, epochs_run, params = _retrain(
            hypermodel, trial, data, seed, int(settings["max_epochs"])
        )
        without = {
            "test_accuracy": accuracy,
            "final_epochs": epochs_run,
            "num_params": params,
            "best_phase": single["phase"],
            "trial_id": single["trial_id"],
            "extra_retrain_seconds": time.perf_counter() - rt_start,
        }
    else:
        without = dict(picked)
    finalists = {
        "moved": moved,
        "seconds": finalist_seconds,
        "epochs": finalist_epochs,
        "share_of_wall": finalist_seconds / seconds,
        "rows": rows,
        "pick_reason": section["pick"].get("reason"),
    }
    return {
        name: {
            **common,
            **without,
            "seconds": seconds - finalist_seconds,
            "epochs_spent": curve[-1][0],
        },
        FINALISTS: {
            **common,
            **picked,
            "epochs_spent": curve[-1][0] + finalist_epochs,
            "finalists": finalists,
        },
    }


def _arms(problem: str) -> list[str]:
    arms = [*PROBLEMS[problem]["single"]]
    for name, settings in PROBLEMS[problem]["c2f"].items():
        arms.append(name)
        if settings.get("finalists", 0) > 1:
            arms.append(FINALISTS)
    return arms


def _paired(results: dict[str, list[dict[str, Any]]], a: str, b: str) -> dict[str, Any] | None:
    """Paired tests of arm `a` against arm `b` over the seeds both finished."""
    by_seed = {r["seed"]: r for r in results.get(b, [])}
    pairs = [(r, by_seed[r["seed"]]) for r in results.get(a, []) if r["seed"] in by_seed]
    if len(pairs) < 2:
        return None
    out: dict[str, Any] = {"a": a, "b": b, "seeds": [ra["seed"] for ra, _ in pairs]}
    for key in ("test_accuracy", "best_val"):
        test = paired_test([ra[key] for ra, _ in pairs], [rb[key] for _, rb in pairs])
        out[key] = {
            "n": test.n,
            "mean_difference": test.mean_difference,
            "median_difference": test.median_difference,
            "wins": test.a_higher,
            "ties": test.ties,
            "losses": test.b_higher,
            "wilcoxon_p": test.wilcoxon_p_value,
            "sign_p": test.sign_p_value,
        }
    return out


def _iqr(values: list[float]) -> str:
    q1, q3 = np.percentile(values, [25, 75])
    return f"[{q1:.4f}, {q3:.4f}]"


def summarize(problem: str, results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per-arm spread, paired comparisons and the finalists' effect, as tables and numbers."""
    arms = [a for a in _arms(problem) if results.get(a)]
    rows = []
    for arm in arms:
        runs = results[arm]
        tests = [r["test_accuracy"] for r in runs]
        rows.append(
            [
                arm,
                len(runs),
                spread([r["best_val"] for r in runs]),
                spread(tests),
                _iqr(tests),
                f"{statistics.median(r['epochs_spent'] for r in runs):.0f}",
                f"{statistics.median(r['seconds'] for r in runs):.0f}",
                f"{statistics.median(r['num_params'] for r in runs):,.0f}",
            ]
        )
    arm_table = markdown_table(
        [
            "arm",
            "seeds",
            "best val accuracy, median [min, max]",
            "test accuracy, median [min, max]",
            "test IQR",
            "epochs spent (median)",
            "wall s (median)",
            "winner params (median)",
        ],
        rows,
    )
    singles = [a for a in PROBLEMS[problem]["single"] if results.get(a)]
    best_single = (
        max(singles, key=lambda a: statistics.median(r["test_accuracy"] for r in results[a]))
        if singles
        else None
    )
    c2f_arms = [a for a in arms if a.startswith("c2f")]
    pairs = [(a, "hyperband") for a in c2f_arms]
    if best_single and best_single != "hyperband":
        pairs += [(a, best_single) for a in c2f_arms]
    if results.get(FINALISTS):
        pairs += [(FINALISTS, "c2f-hyperband")]
        if results.get("c2f-hyperband-long"):
            pairs += [(FINALISTS, "c2f-hyperband-long"), ("c2f-hyperband-long", "c2f-hyperband")]
    comparisons = [c for c in (_paired(results, a, b) for a, b in pairs) if c]
    test_rows = []
    for c in comparisons:
        for key in ("test_accuracy", "best_val"):
            t = c[key]
            test_rows.append(
                [
                    f"{c['a']} vs {c['b']}",
                    "test" if key == "test_accuracy" else "val",
                    t["n"],
                    f"{t['median_difference']:+.4f}",
                    f"{t['mean_difference']:+.4f}",
                    f"{t['wins']}/{t['ties']}/{t['losses']}",
                    f"{t['wilcoxon_p']:.3f}",
                    f"{t['sign_p']:.3f}",
                ]
            )
    test_table = markdown_table(
        [
            "A vs B (paired by seed)",
            "accuracy",
            "seeds",
            "median A-B",
            "mean A-B",
            "A wins/ties/losses",
            "Wilcoxon p",
            "sign p",
        ],
        test_rows,
    )
    finalists: dict[str, Any] | None = None
    if results.get(FINALISTS):
        with_runs = results[FINALISTS]
        without = {r["seed"]: r for r in results.get("c2f-hyperband", [])}
        moved = [r["finalists"]["moved"] for r in with_runs]
        gains = [
            r["test_accuracy"] - without[r["seed"]]["test_accuracy"]
            for r in with_runs
            if r["seed"] in without
        ]
        secs = [r["finalists"]["seconds"] for r in with_runs]
        finalists = {
            "picks_moved": int(sum(moved)),
            "runs": len(moved),
            "test_gain_per_seed": gains,
            "mean_test_gain": float(np.mean(gains)) if gains else None,
            "seconds_median": statistics.median(secs),
            "seconds_per_seed": secs,
            "share_of_wall_median": statistics.median(
                r["finalists"]["share_of_wall"] for r in with_runs
            ),
            "epochs_median": statistics.median(r["finalists"]["epochs"] for r in with_runs),
            "test_gain_per_extra_minute": (
                float(np.mean(gains)) / (statistics.mean(secs) / 60) if gains else None
            ),
        }
    return {
        "arm_table": arm_table,
        "test_table": test_table,
        "best_single_phase_arm": best_single,
        "comparisons": comparisons,
        "finalists": finalists,
    }


def _plot(results: dict[str, list[dict[str, Any]]], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    arms = [a for a in results if a != FINALISTS and results[a]]
    finals = [y for a in arms for r in results[a] for _, y in r["curve"][-1:]]
    for arm in arms:
        for i, run in enumerate(results[arm]):
            xs, ys = zip(*run["curve"]) if run["curve"] else ((), ())
            ax.step(
                xs,
                ys,
                where="post",
                alpha=0.8,
                label=arm if i == 0 else None,
                color=f"C{arms.index(arm)}",
            )
    if finals:
        ax.set_ylim(min(finals) - 0.02, max(finals) + 0.005)
    ax.set_xlabel("training epochs spent (search phases)")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_title("Best-so-far validation accuracy by epochs spent (one line per seed)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _load_previous(path: Path, settings: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Finished arm-seeds of an earlier run with the same settings (else none)."""
    if not path.exists():
        return {}
    previous = json.loads(path.read_text())
    if previous.get("settings") != settings:
        return {}
    return previous.get("results", {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--problem", choices=sorted(PROBLEMS), default="dense")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--arms", nargs="*", default=None, help="Search arms to run (default: all)."
    )
    args = parser.parse_args(argv)
    problem = PROBLEMS[args.problem]
    runs = args.arms or [*problem["single"], *problem["c2f"]]
    settings = json.loads(
        json.dumps({"problem": args.problem, "single": problem["single"], "c2f": problem["c2f"]})
    )
    name = problem["results"]
    smoke = "smoke_" if os.environ.get("TUNEKIT_BENCH_SMOKE") else ""
    path = RESULTS / f"{smoke}{name}.json"
    results: dict[str, list[dict[str, Any]]] = _load_previous(path, settings)
    data = _data(args.problem)
    work = Path(tempfile.mkdtemp(prefix="tunekit-quality-"))
    started = time.strftime("%Y-%m-%dT%H:%M:%S")

    def write(complete: bool) -> None:
        summary = summarize(args.problem, results)
        save(
            name,
            {
                "command": f"python -m benchmarks.quality_at_budget --problem {args.problem} "
                f"--seeds {args.seeds}",
                "complete": complete,
                "started": started,
                "budget_epochs": problem["budget_epochs"],
                "batch_size": BATCH_SIZE,
                "data": data.summary(),
                "seeds": args.seeds,
                "settings": settings,
                "summary": summary,
                "results": results,
            },
        )

    for seed in range(args.seeds):  # seeds outermost: the arms of one seed run side by side
        for arm in runs:
            if any(r["seed"] == seed for r in results.get(arm, [])):
                continue
            load = os.getloadavg()[0]
            if arm in problem["c2f"]:
                outcomes = run_c2f(args.problem, arm, data, seed, work)
            else:
                outcomes = {arm: run_single(args.problem, arm, data, seed, work)}
            for arm_name, outcome in outcomes.items():
                results.setdefault(arm_name, []).append(
                    {"seed": seed, "load_before": round(load, 2), **outcome}
                )
                print(
                    f"{arm_name} seed {seed}: val {outcome['best_val']:.4f} test "
                    f"{outcome['test_accuracy']:.4f} {outcome['seconds']:.0f}s "
                    f"(load {load:.1f})",
                    flush=True,
                )
            write(complete=False)
            shutil.rmtree(work / f"{arm}-{seed}", ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    write(complete=True)
    _plot(results, RESULTS / f"{smoke}{name}.png")
    summary = summarize(args.problem, results)
    print(summary["arm_table"], summary["test_table"], sep="\n\n")
    print(json.dumps(summary["finalists"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
