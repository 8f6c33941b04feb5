"""Does memory grow trial over trial? Resident memory after each of 200 small trials.

KerasTuner users report RAM creeping up across trials. This runs, each in a
fresh subprocess on the chosen Keras backend:

- `tunekit`: tunekit's coarse phase as the workflow runs it
  (`CoarseToFine(...).ensure("coarse")`: RandomSearch of the dense MNIST
  hypermodel with its TensorBoard scalars and HParams, its listeners and its
  per-trial files), `--trials` trials of 1 epoch;
- `recycled`: the same coarse phase with `trials_per_process=K`
  (`--trials-per-process`, default 10): this process is the chief (it serves
  the oracle and builds no model) and one local worker process runs the
  trials, replaced by a fresh one every K trials; the RSS recorded is the sum
  over the run's processes (chief + live worker), each also kept apart;
- `plain`: plain KerasTuner `RandomSearch` of the same hypermodel, the same
  data, epochs and batch size, with a `keras.callbacks.TensorBoard`
  callback, for reference;

and records the process's resident set size (VmRSS) after every trial. The
growth is the least-squares slope (MiB per trial) over trials 11..N.
Small trials (`--num-train 2000` images, 1 epoch) keep 200 trials at minutes.

Target (issue 18): growth at most 1 MiB per trial after the first 10, on
TensorFlow and on JAX.

Usage: `python -m benchmarks.memory --backend tensorflow [--trials 200]
[--plain-trials N] [--num-train 2000] [--arms tunekit recycled plain]
[--trials-per-process K] [--count-objects] [--max-minutes M]`. Writes
`benchmarks/results/memory_<backend>.json` and prints a summary. Run one
backend at a time, alone on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import save

SKIP = 10  # the first trials warm caches up: the slope is over trials SKIP+1..N


def rss_mib() -> float:
    """This process's resident set size (VmRSS) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_of(pid: int | str) -> float:
    """Process `pid`'s VmRSS in MiB (0 if it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(pid: int) -> list[str]:
    """The ids of `pid`'s child processes, and theirs (Linux `/proc/<pid>/task/*/children`)."""
    found: list[str] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += children.read_text().split()
        except OSError:
            pass
    return found + [d for child in found for d in _descendants(int(child))]


def rss_tree_mib() -> tuple[float, float]:
    """(this process's RSS, the sum over its descendant processes' RSS) in MiB."""
    return _rss_of(os.getpid()), sum(_rss_of(pid) for pid in _descendants(os.getpid()))


def slope(values: list[float], skip: int = SKIP) -> float | None:
    """Least-squares slope (units per trial) of `values[skip:]`; None if fewer than 3."""
    later = np.asarray(values[skip:], dtype=float)
    if len(later) < 3:
        return None
    return float(np.polyfit(np.arange(len(later)), later, 1)[0])


def _object_counts() -> dict[str, int]:
    import gc
    from collections import Counter

    return dict(Counter(type(o).__name__ for o in gc.get_objects()).most_common(40))


def _coarse_run(data: Any, work: Path, trials: int, **settings: Any) -> Any:
    """tunekit's coarse phase of `trials` 1-epoch trials of the dense MNIST hypermodel."""
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    return CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=work,
        project_name="memory",
        coarse_trials=trials,
        coarse_epochs=1,
        seed=0,
        verbose=0,
        **settings,
    )


def _run_arm(
    arm: str,
    trials: int,
    num_train: int,
    count_objects: bool,
    max_minutes: float | None = None,
    out: Path | None = None,
    trials_per_process: int = 10,
) -> dict[str, Any]:
    """One search in this process (its backend set by the parent); per-trial RSS.

    After `max_minutes` the search stops after the running trial; the
    per-trial numbers so far are written to `out` after every trial.
    """
    import shutil

    import keras
    import keras_tuner as kt

    from benchmarks._common import load_data
    from hypermodels import MnistDenseHyperModel

    data = load_data().subset(num_train=num_train, num_val=max(500, num_train // 4))
    work = Path(tempfile.mkdtemp(prefix=f"tunekit-memory-{arm}-"))
    rss: list[float] = []
    chief: list[float] = []  # recycled arm: the chief's own RSS, and its workers'
    workers: list[float] = []
    times: list[float] = []
    objects: list[dict[str, int]] = []
    recycles: dict[str, Any] = {}
    start = time.perf_counter()

    def record(tuner: Any = None, trial: Any = None) -> None:
        if arm == "recycled":
            mine, theirs = rss_tree_mib()
            chief.append(round(mine, 2))
            workers.append(round(theirs, 2))
            rss.append(round(mine + theirs, 2))
        else:
            rss.append(round(rss_mib(), 2))
        times.append(round(time.perf_counter() - start, 2))
        if count_objects and len(rss) % 10 == 0:
            objects.append(_object_counts())
        if out is not None:
            out.write_text(json.dumps({"arm": arm, "rss_mib": rss, "elapsed_s": times}))
        if tuner is not None and max_minutes and times[-1] > 60 * max_minutes:
            tuner.oracle.max_trials = len(tuner.oracle.trials)  # stops after this trial

    if arm == "recycled":
        from tunekit.distribute import chief as chief_module

        served = chief_module.OracleServer.trial_ended

        def trial_ended(
            server: chief_module.OracleServer, trial: Any
        ) -> None:  # the chief's end of each trial
            served(server, trial)
            record(server.tuner, trial)

        chief_module.OracleServer.trial_ended = trial_ended  # type: ignore[method-assign,assignment]
        run = _coarse_run(data, work, trials, trials_per_process=trials_per_process)
        run.ensure("coarse")
        recycles = run.runner.facts() or {}
        run.close()
    elif arm == "tunekit":
        run = _coarse_run(data, work, trials)
        _ = run.manifest  # opened (and checked) before the tuner writes its folder
        tuner = run._tuner("coarse")
        tuner._tunekit_listeners = (*tuner.listeners, record)
        run.ensure("coarse")
        run.close()
    else:

        class Recording(kt.RandomSearch):
            def on_trial_end(self, trial: Any) -> None:
                super().on_trial_end(trial)
                record(self, trial)

        tuner = Recording(
            MnistDenseHyperModel(),
            objective="val_accuracy",
            max_trials=trials,
            seed=0,
            directory=str(work),
            project_name="memory",
        )
        tuner.search(
            data.x_train,
            data.y_train,
            validation_data=(data.x_val, data.y_val),
            epochs=1,
            batch_size=128,
            callbacks=[keras.callbacks.TensorBoard(str(work / "tb"), write_graph=False)],
            verbose=0,
        )
    seconds = time.perf_counter() - start
    shutil.rmtree(work, ignore_errors=True)
    growth = slope(rss)
    return {
        "arm": arm,
        "data": data.summary(),
        "trials": len(rss),
        "seconds": round(seconds, 1),
        "seconds_per_trial": round(seconds / max(1, len(rss)), 2),
        "rss_mib": rss,
        "elapsed_s": times,
        "first": rss[0] if rss else None,
        f"after_{SKIP}": rss[SKIP - 1] if len(rss) >= SKIP else None,
        "last": rss[-1] if rss else None,
        "max": max(rss) if rss else None,
        f"slope_mib_per_trial_after_{SKIP}": None if growth is None else round(growth, 3),
        **(
            {
                "trials_per_process": trials_per_process,
                "recycles": recycles.get("recycles"),
                "chief_rss_mib": chief,
                "workers_rss_mib": workers,
                f"chief_slope_mib_per_trial_after_{SKIP}": slope(chief),
                f"workers_slope_mib_per_trial_after_{SKIP}": slope(workers),
            }
            if arm == "recycled"
            else {}
        ),
        **({"object_counts_every_10": objects} if count_objects else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument(
        "--plain-trials", type=int, default=None, help="trials of the plain arm (default --trials)"
    )
    parser.add_argument("--num-train", type=int, default=2000)
    parser.add_argument("--arms", nargs="+", default=["tunekit", "plain"])
    parser.add_argument(
        "--trials-per-process", type=int, default=10, help="the recycled arm's trials_per_process"
    )
    parser.add_argument("--count-objects", action="store_true")
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="per arm: stop after the trial running then"
    )
    parser.add_argument("--name", default=None, help="results name (default memory_<backend>)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one arm, in the subprocess the parent started
        partial = Path(args.child + ".partial")
        result = _run_arm(
            args.arms[0],
            args.trials,
            args.num_train,
            args.count_objects,
            args.max_minutes,
            partial,
            args.trials_per_process,
        )
        partial.unlink(missing_ok=True)
        Path(args.child).write_text(json.dumps(result))
        return
    os.environ["KERAS_BACKEND"] = args.backend
    arms: dict[str, Any] = {}
    for arm in args.arms:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
            path = Path(out.name)
        command = [sys.executable, "-m", "benchmarks.memory", "--child", str(path)]
        trials = args.plain_trials if arm == "plain" and args.plain_trials else args.trials
        command += ["--arms", arm, "--trials", str(trials)]
        command += ["--num-train", str(args.num_train)]
        command += ["--trials-per-process", str(args.trials_per_process)]
        command += ["--count-objects"] if args.count_objects else []
        command += ["--max-minutes", str(args.max_minutes)] if args.max_minutes else []
        subprocess.run(command, check=True, env={**os.environ, "KERAS_BACKEND": args.backend})
        arms[arm] = json.loads(path.read_text())
        path.unlink()
        key = f"slope_mib_per_trial_after_{SKIP}"
        growth = arms[arm][key]
        print(
            f"[{args.backend}] {arm}: {arms[arm]['trials']} trials in {arms[arm]['seconds']} s; "
            f"RSS {arms[arm]['first']:.0f} MiB after trial 1, {arms[arm]['last']:.0f} MiB after "
            f"the last; slope after trial {SKIP}: "
            + ("too few trials" if growth is None else f"{growth:+.3f} MiB/trial"),
            flush=True,
        )
    save(
        args.name or f"memory_{args.backend}",
        {
            "command": "python -m benchmarks.memory " + " ".join(sys.argv[1:]),
            "target": f"slope over trials {SKIP + 1}..N at most 1 MiB/trial",
            "trials": args.trials,
            "num_train": args.num_train,
            "arms": arms,
            "time_cost_s_per_trial": {arm: arms[arm]["seconds_per_trial"] for arm in arms},
        },
    )


if __name__ == "__main__":
    main()
