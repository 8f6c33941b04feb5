"""Head to head at equal wall time: tunekit against Optuna and plain KerasTuner Hyperband.

Three tools search the same space (`MnistDenseHyperModel.build`) on the same
backend (JAX, `KERAS_BACKEND`), the same data (MNIST train / 10k
validation / 10k test, see "Budget") and batch size (128), seed by seed:

- `tunekit`: `CoarseToFine` with its defaults except the budget options given
  (`--coarse-trials`, `--max-epochs`; defaults here 6 and 3, see "Budget")
  and `baseline=False` (the baseline retrain is a report-only step after the
  pick: it changes neither the pick nor its test accuracy). Its search time
  is everything up to the pick: coarse, narrowing, fine Hyperband, finalists.
  The pick is retrained and tested by tunekit's own retrain and evaluate steps.
- `optuna`: `TPESampler(seed=seed)` + `HyperbandPruner(min_resource=1,
  max_resource=max_epochs, reduction_factor=factor)`, epochs as the resource.
  The objective builds `hypermodel.build(hp)` with `OptunaHyperParameters`, a
  `kt.HyperParameters` whose `Int`/`Float`/`Choice`/`Boolean` calls become
  `trial.suggest_*` calls (define-by-run: the space is the hypermodel's own,
  conditional hyperparameters are suggested only when active). It reports the
  validation accuracy after every epoch and is pruned when the pruner says
  so; a trial's value is its best epoch's validation accuracy, as in
  KerasTuner.
- `kerastuner`: plain `keras_tuner.Hyperband(max_epochs, factor, seed)` with
  the fine phase's `max_epochs` and `factor`, `hyperband_iterations` unbounded
  so that it searches until the time is up, like Optuna.

Equal wall time, and fairness on a shared machine: the three tools of one seed
run at the same time, in three processes started together, so that each sees
the same contention from the other work on the machine (running them one after
the other would let an hour's drift of the machine's load, which moves wall
times by up to 2x here, decide the comparison; and it would take three times
as long). Their time is then measured in the same wall-clock seconds.
tunekit's search end is not known in advance, so Optuna's `timeout=` cannot be
used: when tunekit has picked its configuration, its process writes a marker
file, and from then on the peers start no new trial (Optuna: `study.stop()`;
KerasTuner: the oracle returns `STOPPED`) and **abort the trial they are
running** at its next check, every 20 batches and at every epoch end (Optuna:
the trial is pruned and marked `cut`; KerasTuner: `FailedTrialError`, the
trial is FAILED). A cut trial never counts toward the pick, so no peer gets
more search time than tunekit (at most 20 batches, a second or two, between
the marker and the check). The three processes first import everything and
load the data, then wait for each other (marker files), so the search clocks
start together too. Each peer's winner (Optuna: `study.best_trial` among
COMPLETE trials; KerasTuner: the best COMPLETED trial) is then retrained by
tunekit's rule (`tunekit.retraining` via
`benchmarks._common.retrain_and_test`: from scratch on train+validation for
the trial's best epoch counted from epoch 0, or `max_epochs` if its best epoch
was its last, with the cosine schedule) and tested once. The three retrains
also run at the same time.

Budget: the default command (20 coarse trials, max_epochs 20, 50,000
training images) searches for about 9 minutes alone on this machine; three
tools at once on a machine shared with other work (load average 15-20 on 2
cores while this was measured) take several times longer, and 3 seeds of it
do not fit the 75 minutes of compute the benchmark may use. So all three
tools get the same scaled budget: `--coarse-trials 6 --max-epochs 3
--num-train 10000` (the first 10,000 training images; validation and test
sets whole; tunekit's fine Hyperband, Optuna's `max_resource` and
KerasTuner's `max_epochs` all 3, factor 3; tunekit's finalists step at its
defaults, 3 finalists x 2 more seeds). Pass `--coarse-trials 20 --max-epochs
20 --num-train 0` for the default budget.

Usage:
    KERAS_BACKEND=jax python -m benchmarks.peers [--seeds 0 1 2] [--coarse-trials 6]
        [--max-epochs 3] [--num-train 10000]

Writes `benchmarks/results/peers.json` after every seed (machine, versions,
date); a seed whose three tools are all recorded is skipped when the command
is run again. Prints a Markdown table. Needs the `bench` extra (Optuna).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import keras_tuner as kt
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from benchmarks._common import RESULTS, load_data, markdown_table, save, spread

TOOLS = ("tunekit", "optuna", "kerastuner")
NAME = "peers"
BATCH_SIZE = 128
FACTOR = 3
OBJECTIVE = "val_accuracy"
CHECK_EVERY = 20  # batches between a peer's checks of the deadline inside an epoch


# -- the space adapter ----------------------------------------------------------------------------


def optuna_distribution(hp: Any) -> Any:
    """The Optuna distribution of one KerasTuner hyperparameter, or None for `Fixed`.

    Args:
        hp: A `keras_tuner` hyperparameter (`Int`, `Float`, `Choice`,
            `Boolean` or `Fixed`).

    Returns:
        `IntDistribution` / `FloatDistribution` with the same bounds, step and
        log sampling, `CategoricalDistribution` of the choices (`[False,
        True]` for `Boolean`), or None for `Fixed` (nothing to suggest).

    Raises:
        ValueError: A hyperparameter type or sampling Optuna has no
            distribution for (e.g. `reverse_log`).
    """
    if isinstance(hp, kt.engine.hyperparameters.Fixed):
        return None
    if isinstance(hp, kt.engine.hyperparameters.Boolean):
        return CategoricalDistribution([False, True])
    if isinstance(hp, kt.engine.hyperparameters.Choice):
        return CategoricalDistribution(list(hp.values))
    if isinstance(hp, (kt.engine.hyperparameters.Int, kt.engine.hyperparameters.Float)):
        sampling = (hp.sampling or "linear").lower()
        if sampling not in ("linear", "log"):
            raise ValueError(
                f"Optuna has no {sampling!r} sampling for hyperparameter {hp.name!r}; "
                "use 'linear' or 'log'."
            )
        log = sampling == "log"
        if isinstance(hp, kt.engine.hyperparameters.Int):
            # Optuna's log sampling takes no step; KerasTuner's log step is a factor.
            int_step = 1 if log or not hp.step else int(hp.step)
            return IntDistribution(int(hp.min_value), int(hp.max_value), log=log, step=int_step)
        float_step = None if log or not hp.step else float(hp.step)
        return FloatDistribution(float(hp.min_value), float(hp.max_value), log=log, step=float_step)
    raise ValueError(
        f"No Optuna distribution for hyperparameter {hp.name!r} ({type(hp).__name__})."
    )


class OptunaHyperParameters(kt.HyperParameters):
    """A `kt.HyperParameters` for `hypermodel.build` whose values an Optuna trial suggests.

    Every `Int`/`Float`/`Choice`/`Boolean` the hypermodel declares calls
    `trial.suggest_*` with the distribution `optuna_distribution` gives, when
    the hyperparameter is active (a conditional one is suggested only when its
    condition holds, as KerasTuner samples only active ones); `Fixed` keeps
    its value. The space is the hypermodel's own: nothing is copied by hand.

    Args:
        trial: An `optuna.trial.Trial`.
    """

    def __init__(self, trial: optuna.trial.Trial) -> None:
        super().__init__()
        self.trial = trial

    def _register(self, hyperparameter: Any, overwrite: bool = False) -> Any:
        value = super()._register(hyperparameter, overwrite=overwrite)
        if not self._conditions_are_active(hyperparameter.conditions):
            return value
        distribution = optuna_distribution(hyperparameter)
        if distribution is None:  # Fixed
            return value
        name = hyperparameter.name
        if isinstance(distribution, CategoricalDistribution):
            value = self.trial.suggest_categorical(name, distribution.choices)
        elif isinstance(distribution, FloatDistribution):
            value = self.trial.suggest_float(
                name,
                distribution.low,
                distribution.high,
                step=distribution.step,
                log=distribution.log,
            )
        else:
            value = self.trial.suggest_int(
                name,
                distribution.low,
                distribution.high,
                step=distribution.step,
                log=distribution.log,
            )
        self.values[name] = value
        return value


# -- the deadline ---------------------------------------------------------------------------------


class Deadline:
    """tunekit's search end, shared through a marker file between the processes of one seed.

    Args:
        marker: Path of the marker file; it exists once tunekit has picked.
    """

    def __init__(self, marker: Path) -> None:
        self.marker = Path(marker)
        self.passed_at: float | None = None

    def passed(self) -> bool:
        """Whether tunekit's search has ended."""
        if self.passed_at is None and self.marker.exists():
            self.passed_at = time.time()
        return self.passed_at is not None

    def mark(self) -> None:
        """Records that the search has ended (tunekit's process)."""
        self.marker.write_text(str(time.time()))

    def start_together(self, tool: str) -> float:
        """Waits until the three tools of the seed are ready (imported, data loaded).

        Returns:
            The common start (`time.perf_counter()` when the last one was ready,
            give or take the 0.2 s poll).
        """
        folder = self.marker.parent
        (folder / f"{self.marker.name}.ready-{tool}").write_text(str(time.time()))
        while not all((folder / f"{self.marker.name}.ready-{t}").exists() for t in TOOLS):
            time.sleep(0.2)
        return time.perf_counter()


def retrain_epochs(best_step: int, ran: int, initial_epoch: int, max_epochs: int) -> int:
    """`tunekit.retraining.final_epochs`'s rule for a trial not run by a tunekit tuner.

    Args:
        best_step: Index of the best epoch within the trial's own fit.
        ran: Epochs the trial's own fit trained.
        initial_epoch: Epochs the trial continued from (Hyperband), else 0.
        max_epochs: The most epochs the search gave any trial.

    Returns:
        The best epoch counted from epoch 0, or at least `max_epochs` if the
        best epoch was the trial's last (it was still improving).
    """
    epochs = initial_epoch + best_step + 1
    return max(epochs, max_epochs) if best_step + 1 >= ran else epochs


# -- one tool, one seed (a worker process) --------------------------------------------------------


def _data(args: argparse.Namespace) -> Any:
    data = load_data()
    if args.num_train and not os.environ.get("TUNEKIT_BENCH_SMOKE"):
        data = data.subset(num_train=args.num_train)
    return data


def run_tunekit(args: argparse.Namespace, deadline: Deadline, work: Path) -> dict[str, Any]:
    """tunekit's default workflow at the budget given; marks the deadline at its pick."""
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    data = _data(args)
    start = deadline.start_together("tunekit")
    run = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=work,
        project_name=f"tunekit-{args.seed}",
        coarse_trials=args.coarse_trials,
        max_epochs=args.max_epochs,
        factor=FACTOR,
        batch_size=BATCH_SIZE,
        baseline=False,
        seed=args.seed,
        overwrite=True,
        verbose=0,
    )
    # The last step before the retrain: finalists when they are on, else the fine search.
    steps = [step.name for step in run.steps]
    run.ensure(steps[steps.index("retrain") - 1])
    search_seconds = time.perf_counter() - start
    deadline.mark()
    result = run.run()
    wall = time.perf_counter() - start
    report = json.loads((run.run_dir / "report.json").read_text())
    oracles = {p: run._tuner(p).oracle for p in ("coarse", "fine")}
    completed = {
        p: sum(t.status == "COMPLETED" for t in o.trials.values()) for p, o in oracles.items()
    }
    epochs = {
        p: sum(
            int(t.metrics.get_last_value("epochs"))
            for t in o.trials.values()
            if t.metrics.exists("epochs")
        )
        for p, o in oracles.items()
    }
    manifest = json.loads((run.run_dir / "manifest.json").read_text())
    finalists = manifest["steps"].get("finalists", {})
    return {
        "test_accuracy": float(result.test_metrics["accuracy"]),
        "best_val": max(float(v["score"]) for v in result.phase_bests.values()),
        "trials_completed": sum(completed.values()),
        "trials": {p: len(o.trials) for p, o in oracles.items()},
        "trials_completed_by_phase": completed,
        "trial_epochs": epochs,
        "num_params": report["best"]["num_params"],
        "winner": report["best"]["hyperparameters"],
        "pick": report["best"]["reason"],
        "final_epochs": report["best"]["final_epochs"],
        "search_seconds": round(search_seconds, 1),
        "wall_seconds": round(wall, 1),
        "timings": report["timings"],
        "time_split": report.get("time_split"),
        "finalists": finalists.get("finalists", finalists.get("records")),
    }


def run_optuna(args: argparse.Namespace, deadline: Deadline, work: Path) -> dict[str, Any]:
    """Optuna TPE + HyperbandPruner until tunekit's pick; the winner retrained by tunekit's rule."""
    import keras

    from benchmarks._common import configured, retrain_and_test
    from hypermodels import MnistDenseHyperModel

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = _data(args)
    hypermodel = MnistDenseHyperModel()
    start = deadline.start_together("optuna")

    class Report(keras.callbacks.Callback):
        def __init__(self, trial: optuna.trial.Trial) -> None:
            super().__init__()
            self.trial = trial
            self.scores: list[float] = []

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if batch % CHECK_EVERY == 0 and deadline.passed():
                self.trial.set_user_attr("cut", True)
                raise optuna.TrialPruned("tunekit's search time is up")

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            score = float((logs or {})[OBJECTIVE])
            self.scores.append(score)
            self.trial.set_user_attr("scores", self.scores)
            if deadline.passed():
                self.trial.set_user_attr("cut", True)
                raise optuna.TrialPruned("tunekit's search time is up")
            self.trial.report(score, epoch)
            if self.trial.should_prune():
                raise optuna.TrialPruned()

    def objective(trial: optuna.trial.Trial) -> float:
        if deadline.passed():
            trial.study.stop()
            trial.set_user_attr("cut", True)
            raise optuna.TrialPruned("tunekit's search time is up")
        keras.backend.clear_session()
        model = hypermodel.build(OptunaHyperParameters(trial))
        report = Report(trial)
        model.fit(
            data.x_train,
            data.y_train,
            validation_data=(data.x_val, data.y_val),
            epochs=args.max_epochs,
            batch_size=BATCH_SIZE,
            verbose=0,
            callbacks=[report],
        )
        return max(report.scores)

    def stop_when_due(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if deadline.passed():
            study.stop()

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=args.seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=args.max_epochs, reduction_factor=FACTOR
        ),
    )
    study.optimize(objective, callbacks=[stop_when_due])
    search_seconds = time.perf_counter() - start
    states = optuna.trial.TrialState
    cut = [t for t in study.trials if t.user_attrs.get("cut")]
    best = study.best_trial
    scores = best.user_attrs["scores"]
    best_step = max(range(len(scores)), key=scores.__getitem__)
    epochs = retrain_epochs(best_step, len(scores), 0, args.max_epochs)
    outcome = retrain_and_test(
        hypermodel,
        configured(hypermodel, best.params),
        data,
        epochs=epochs,
        seed=args.seed,
        batch_size=BATCH_SIZE,
    )
    return {
        "test_accuracy": outcome["test_accuracy"],
        "best_val": float(best.value or 0.0),  # a COMPLETE trial has a value
        "trials_completed": sum(t.state == states.COMPLETE for t in study.trials),
        "trials_pruned": sum(t.state == states.PRUNED for t in study.trials) - len(cut),
        "trials_cut": len(cut),
        "trial_epochs": sum(len(t.user_attrs.get("scores", [])) for t in study.trials),
        "num_params": outcome["num_params"],
        "winner": best.params,
        "final_epochs": epochs,
        "search_seconds": round(search_seconds, 1),
        "retrain_seconds": outcome["seconds"],
        "wall_seconds": round(time.perf_counter() - start, 1),
    }


def run_kerastuner(args: argparse.Namespace, deadline: Deadline, work: Path) -> dict[str, Any]:
    """Plain KerasTuner Hyperband until tunekit's pick; the winner retrained by tunekit's rule."""
    import keras
    from keras_tuner.engine import trial as trial_module

    from benchmarks._common import retrain_and_test
    from hypermodels import MnistDenseHyperModel

    data = _data(args)
    hypermodel = MnistDenseHyperModel()
    start = deadline.start_together("kerastuner")

    class StopAtDeadline(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if batch % CHECK_EVERY == 0 and deadline.passed():
                raise kt.errors.FailedTrialError("tunekit's search time is up")

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if deadline.passed():
                raise kt.errors.FailedTrialError("tunekit's search time is up")

    tuner = kt.Hyperband(
        hypermodel,
        objective=OBJECTIVE,
        max_epochs=args.max_epochs,
        factor=FACTOR,
        hyperband_iterations=None,  # unbounded: search until the time is up
        seed=args.seed,
        directory=str(work),
        project_name=f"kerastuner-{args.seed}",
        overwrite=True,
    )
    populate = tuner.oracle.populate_space

    def populate_until_due(trial_id: str) -> dict[str, Any]:
        if deadline.passed():
            return {"status": trial_module.TrialStatus.STOPPED, "values": None}
        return populate(trial_id)

    tuner.oracle.populate_space = populate_until_due
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[StopAtDeadline()],
    )
    search_seconds = time.perf_counter() - start
    trials = list(tuner.oracle.trials.values())
    completed = [t for t in trials if t.status == "COMPLETED" and t.score is not None]
    best = max(completed, key=lambda t: t.score)
    values = best.hyperparameters.values
    initial = int(values.get("tuner/initial_epoch", 0))
    ran = int(values.get("tuner/epochs", args.max_epochs)) - initial
    epochs = retrain_epochs(int(best.best_step or 0), ran, initial, args.max_epochs)
    outcome = retrain_and_test(
        hypermodel, best.hyperparameters, data, epochs=epochs, seed=args.seed, batch_size=BATCH_SIZE
    )
    return {
        "test_accuracy": outcome["test_accuracy"],
        "best_val": float(best.score),
        "trials_completed": len(completed),
        "trials_cut": sum(t.status == "FAILED" for t in trials),
        "trial_epochs": sum(
            int(t.hyperparameters.values.get("tuner/epochs", 0))
            - int(t.hyperparameters.values.get("tuner/initial_epoch", 0))
            for t in completed
        ),
        "num_params": outcome["num_params"],
        "winner": {k: v for k, v in values.items() if best.hyperparameters.is_active(k)},
        "final_epochs": epochs,
        "search_seconds": round(search_seconds, 1),
        "retrain_seconds": outcome["seconds"],
        "wall_seconds": round(time.perf_counter() - start, 1),
    }


RUNNERS = {"tunekit": run_tunekit, "optuna": run_optuna, "kerastuner": run_kerastuner}


def worker(args: argparse.Namespace) -> None:
    """Runs one tool for one seed; writes its record to `args.out`."""
    work = Path(args.work)
    deadline = Deadline(work / f"search-end-{args.seed}")
    record = RUNNERS[args.worker](args, deadline, work)
    if deadline.passed_at is not None and args.worker != "tunekit":
        record["deadline_seen_at"] = deadline.passed_at
    Path(args.out).write_text(json.dumps(record, indent=2, default=str))


# -- the driver -----------------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())
    return {}


def run_seed(args: argparse.Namespace, seed: int, work: Path, log: Path) -> dict[str, Any]:
    """The three tools of one seed, started together; returns their records."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.setdefault("KERAS_BACKEND", "jax")
    for stale in work.glob(f"search-end-{seed}*"):
        stale.unlink()
    procs = {}
    for tool in TOOLS:
        out = work / f"{tool}-{seed}.json"
        out.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "benchmarks.peers",
            "--worker",
            tool,
            "--seed",
            str(seed),
            "--coarse-trials",
            str(args.coarse_trials),
            "--max-epochs",
            str(args.max_epochs),
            "--num-train",
            str(args.num_train),
            "--work",
            str(work),
            "--out",
            str(out),
        ]
        with open(log.with_name(f"{log.stem}-{tool}-{seed}.log"), "w") as stream:
            procs[tool] = (subprocess.Popen(command, env=env, stdout=stream, stderr=stream), out)
    records = {}
    for tool, (proc, out) in procs.items():
        if proc.wait() != 0:
            Deadline(work / f"search-end-{seed}").mark()  # the others stop searching
            for other, _ in procs.values():
                if other.poll() is None:
                    other.terminate()
                    other.wait()
            raise SystemExit(f"{tool} seed {seed} failed ({proc.returncode}): see {log.parent}")
        records[tool] = json.loads(out.read_text())
    return records


def table(runs: dict[str, list[dict[str, Any]]]) -> str:
    """The README table: one row per tool, medians over seeds and ranges."""
    rows = []
    for tool in TOOLS:
        done = runs.get(tool, [])
        if not done:
            continue
        trials = f"{statistics.median(r['trials_completed'] for r in done):.0f}"
        if all("trials_pruned" in r for r in done):
            pruned = statistics.median(int(r["trials_pruned"]) for r in done)
            trials += f" ({pruned:.0f} pruned)"
        rows.append(
            [
                tool,
                spread([r["test_accuracy"] for r in done]),
                spread([r["best_val"] for r in done]),
                trials,
                f"{statistics.median(r['search_seconds'] for r in done):.0f}",
                f"{statistics.median(r['wall_seconds'] for r in done):.0f}",
                ", ".join(f"{r['num_params']:,}" for r in done),
            ]
        )
    return markdown_table(
        [
            "tool",
            "test accuracy, median [min, max]",
            "best val, median [min, max]",
            "trials completed (median)",
            "search s (median)",
            "wall s (median)",
            "winner params (by seed)",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--coarse-trials", type=int, default=6)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--num-train", type=int, default=10000, help="0: all 50,000")
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument(
        "--name", default=NAME, help=f"results file benchmarks/results/NAME.json (default {NAME})"
    )
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    name = f"smoke_{args.name}" if os.environ.get("TUNEKIT_BENCH_SMOKE") else args.name
    path = RESULTS / f"{name}.json"
    previous = _load(path)
    budget = {
        "coarse_trials": args.coarse_trials,
        "max_epochs": args.max_epochs,
        "factor": FACTOR,
        "num_train": args.num_train or None,
    }
    if previous and previous.get("budget") != budget:
        raise SystemExit(f"{path} holds another budget ({previous.get('budget')}): move it first.")
    runs: dict[str, list[dict[str, Any]]] = previous.get("results", {})
    work = Path(tempfile.mkdtemp(prefix="tunekit-peers-"))
    log = Path(os.environ.get("TUNEKIT_PEERS_LOG", work / "peers.log"))
    for seed in args.seeds:
        if all(any(r["seed"] == seed for r in runs.get(t, [])) for t in TOOLS):
            print(f"seed {seed}: recorded, skipped", flush=True)
            continue
        records = run_seed(args, seed, work, log)
        # Seeds may run in several invocations at once: merge with what they saved meanwhile.
        runs = _load(path).get("results", runs)
        for tool, record in records.items():
            runs[tool] = [r for r in runs.get(tool, []) if r["seed"] != seed]
            runs[tool].append({"seed": seed, **record})
            runs[tool].sort(key=lambda r: r["seed"])
            print(
                f"{tool} seed {seed}: test {record['test_accuracy']:.4f} val "
                f"{record['best_val']:.4f} trials {record['trials_completed']} search "
                f"{record['search_seconds']:.0f}s wall {record['wall_seconds']:.0f}s",
                flush=True,
            )
        save(
            args.name,
            {
                "budget": budget,
                "batch_size": BATCH_SIZE,
                "data": _data(args).summary(),
                "tools": {
                    "tunekit": "CoarseToFine defaults, baseline=False, the budget above",
                    "optuna": "TPESampler(seed) + HyperbandPruner(1, max_epochs, factor)",
                    "kerastuner": "kt.Hyperband(max_epochs, factor, seed), unbounded iterations",
                },
                "results": runs,
                "table": table(runs),
            },
        )
    print(table(runs))


if __name__ == "__main__":
    main()
