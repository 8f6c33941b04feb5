"""The default command, measured: test accuracy, wall time, trials run, time split.

Runs `python -m tunekit.coarse_to_fine` as a user would (a fresh process,
default budget unless extra options are given) once per `--backend`, one after
the other in one invocation, and records what each reports.

Usage:
    python -m benchmarks.headline                                  # the README's headline
    python -m benchmarks.headline --backend auto tensorflow        # issue: auto vs TensorFlow
    python -m benchmarks.headline --name cnn -- --hypermodel toonvision-cnn
    python -m benchmarks.headline --from-run runs/s1 runs/s2 --name seeds  # finished runs

Writes `benchmarks/results/<name>.json` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import markdown_table, save


def run_cli(options: list[str], backend: str, directory: Path, name: str | None = None) -> dict:
    """Runs the CLI as a user would; returns what its report says, plus the wall time."""
    name = name or backend
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [
        sys.executable,
        "-m",
        "tunekit.coarse_to_fine",
        "--directory",
        str(directory),
        "--project-name",
        name,
        "--backend",
        backend,
        "--overwrite",
        *options,
    ]
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    report = json.loads((directory / name / "report.json").read_text())
    return {
        **recorded_run(report, seconds),
        "command": "python -m tunekit.coarse_to_fine " + " ".join(args[3:]),
    }


def recorded_run(report: dict, seconds: float | None) -> dict:
    """What a run's `report.json` says, plus the wall time measured outside it (if any)."""
    command = (report.get("command") or {}).get("reproduce")
    if command:  # where the run was is this machine's, not part of the budget
        words = shlex.split(command)
        for option in ("--directory", "--project-name"):
            while option in words:
                at = words.index(option)
                del words[at : at + 2]
        command = shlex.join(words)
    return {
        "command": command,
        "wall_seconds": seconds,
        "test_accuracy": report["test_metrics"]["accuracy"],
        "trials": {p: v["trials"] for p, v in report["phases"].items()},
        "timings": report["timings"],
        "backend": report["backend"],
        "backend_choice": report.get("backend_choice"),
        "num_params": report["best"]["num_params"],
        "best": report["best"],
        "time_split": report.get("time_split"),
        "narrowing": [
            (c["name"], c["before"], c["after"], c["rule"]) for c in report["narrowing"]["changes"]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["auto"])
    parser.add_argument("--name", default="headline")
    parser.add_argument(
        "--from-run",
        nargs="+",
        type=Path,
        help="record these finished run folders instead of running (no wall time: a run "
        "that was paused or shared the machine has none worth keeping)",
    )
    parser.add_argument("options", nargs="*", help="extra CLI options (after --)")
    args = parser.parse_args()
    if args.from_run:
        results = {
            run.name: recorded_run(json.loads((run / "report.json").read_text()), None)
            for run in args.from_run
        }
    else:
        work = Path(tempfile.mkdtemp(prefix="tunekit-headline-"))
        results = {b: run_cli(args.options, b, work) for b in args.backend}
    rows = [
        [
            b,
            r["backend"],
            f"{r['test_accuracy']:.4f}",
            "-" if r["wall_seconds"] is None else f"{r['wall_seconds']:.0f}",
            f"{r['trials']['coarse']} + {r['trials']['fine']}",
            f"{r['num_params']:,}",
            "-" if not r["time_split"] else f"{r['time_split']['outside_training']:.1%}",
        ]
        for b, r in results.items()
    ]
    table = markdown_table(
        [
            "run" if args.from_run else "--backend",
            "ran on",
            "test accuracy",
            "wall s",
            "trials (coarse + fine)",
            "winner params",
            "outside training",
        ],
        rows,
    )
    save(args.name, {"options": args.options, "results": results, "table": table})
    print(table)


if __name__ == "__main__":
    main()
