"""The default command, this version against an older one, side by side.

For each seed the two versions' default commands (`python -m
tunekit.coarse_to_fine --seed S`, plus any extra options after `--`) start at
the same moment in two processes, so both see the same machine load, and the
script records each one's wall time, test accuracy, phase timings and winner.
The old version runs from a `git worktree` of `--old` (default: 7c651b4, the
last commit before the issues of this wave, whose default command the speed
issue timed at 682 s); the new one from this checkout. Each process gets an
empty `TUNEKIT_CACHE_DIR` and `XDG_CACHE_HOME`, so both pay for the backend
probe and for JAX's compilation as from a fresh clone (a cache warm from
earlier runs of the same seed skips most compilation).

Usage: `python -m benchmarks.versions [--seeds 0 1 2] [--old REV] [--work DIR]
[--arm NAME=OPTIONS ...] [--no-new] [--keep-cache] [-- extra CLI options]`. With
`--keep-cache` each arm keeps one cache folder from seed to seed: the first seed
runs as from a fresh clone, the later ones as a user's later runs. Rerunning with the same
`--work` skips the pairs that finished. Writes `benchmarks/results/<name>.json` and
prints a Markdown table.
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

from benchmarks._common import markdown_table, save

ROOT = Path(__file__).resolve().parent.parent
OLD = "7c651b4"


def _tree(rev: str, work: Path) -> Path:
    """A worktree of `rev` under `work` (made once)."""
    tree = work / f"tree-{rev}"
    if not tree.exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
            check=True,
            capture_output=True,
        )
    return tree


def _start(tree: Path, out: Path, seed: int, options: list[str], cache: Path) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "XDG_CACHE_HOME": str(cache),
        "TUNEKIT_CACHE_DIR": str(cache / "tunekit"),
    }
    args = [sys.executable, "-m", "tunekit.coarse_to_fine", "--directory", str(out)]
    args += ["--project-name", "run", "--seed", str(seed), "--overwrite", *options]
    log = (out / "log.txt").open("w")
    return subprocess.Popen(args, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)


def _result(out: Path, seconds: float, returncode: int) -> dict[str, Any]:
    if returncode != 0:
        tail = (out / "log.txt").read_text()[-2000:]
        raise SystemExit(f"the run in {out} failed ({returncode}):\n{tail}")
    report = json.loads((out / "run" / "report.json").read_text())
    return {
        "wall_seconds": seconds,
        "test_accuracy": report["test_metrics"]["accuracy"],
        "backend": report.get("backend"),
        "trials": {p: v.get("trials") for p, v in report.get("phases", {}).items()},
        "timings": report.get("timings"),
        "num_params": report["best"]["num_params"],
        "winner": report["best"].get("hyperparameters"),
        "time_split": report.get("time_split"),
    }


def _share(value: float | None) -> str:
    """A share as a percentage; "-" for a version whose report has none."""
    return "-" if value is None else f"{value:.1%}"


def run_pair(
    seed: int, arms: dict[str, tuple[Path, list[str]]], work: Path, keep_cache: bool = False
) -> dict:
    """Every arm's command for `seed`, started together; their results.

    Each run's caches are empty (`<work>/<arm>/seed<S>/cache`), or with `keep_cache`
    the arm's own (`<work>/<arm>/cache`), as earlier seeds left them."""
    done = work / f"seed{seed}.json"
    if done.exists():
        pair = json.loads(done.read_text())
        if set(pair) == set(arms):
            return pair
    start = time.perf_counter()
    procs = {
        v: _start(
            tree,
            work / v / f"seed{seed}",
            seed,
            options,
            work / v / "cache" if keep_cache else work / v / f"seed{seed}" / "cache",
        )
        for v, (tree, options) in arms.items()
    }
    ended: dict[str, float] = {}
    while len(ended) < len(procs):
        for version, proc in procs.items():
            if version not in ended and proc.poll() is not None:
                ended[version] = time.perf_counter() - start
        time.sleep(1)
    pair = {v: _result(work / v / f"seed{seed}", ended[v], procs[v].returncode) for v in procs}
    done.write_text(json.dumps(pair, indent=2))
    return pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--old", default=OLD, help=f"the older commit (default {OLD})")
    parser.add_argument("--work", type=Path, help="work folder (rerun with it to resume)")
    parser.add_argument("--name", default="versions")
    parser.add_argument(
        "--arm",
        action="append",
        default=[],
        metavar="NAME=OPTIONS",
        help="a further arm: this checkout with these extra CLI options (e.g. "
        "'short=--max-epochs 10'); repeatable",
    )
    parser.add_argument(
        "--no-new",
        action="store_true",
        help="leave out this checkout's default command (e.g. measured in an earlier run)",
    )
    parser.add_argument(
        "--keep-cache",
        action="store_true",
        help="one cache folder per arm, kept from seed to seed (the backend probe's verdict, "
        "JAX's compilations): the first seed runs as from a fresh clone, the later ones as a "
        "user's later runs on the same machine. Default: an empty cache for every run",
    )
    parser.add_argument("options", nargs="*", help="extra CLI options for all (after --)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="tunekit-versions-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", flush=True)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    arms = {"old": (_tree(args.old, work), args.options)}
    if not args.no_new:
        arms["new"] = (ROOT, args.options)
    for arm in args.arm:
        name, _, options = arm.partition("=")
        arms[name] = (ROOT, [*args.options, *options.split()])
    pairs = {}
    for seed in args.seeds:
        pairs[seed] = run_pair(seed, arms, work, args.keep_cache)
        walls = {arm: round(r["wall_seconds"]) for arm, r in pairs[seed].items()}
        print(f"seed {seed}: wall seconds {walls}", flush=True)
    rows = []
    for seed, pair in pairs.items():
        for arm, r in pair.items():
            ratio = r["wall_seconds"] / pair["old"]["wall_seconds"]
            rows.append(
                [
                    seed,
                    arm,
                    " ".join(arms[arm][1]) or "(default)",
                    f"{r['test_accuracy']:.4f}",
                    f"{r['wall_seconds']:.0f}",
                    f"{ratio:.2f}",
                    f"{r['num_params']:,}",
                    _share((r.get("time_split") or {}).get("outside_training")),
                ]
            )
    ratios = {
        arm: [p[arm]["wall_seconds"] / p["old"]["wall_seconds"] for p in pairs.values()]
        for arm in arms
    }
    medians = {
        arm: statistics.median(p[arm]["test_accuracy"] for p in pairs.values()) for arm in arms
    }
    table = markdown_table(
        [
            "seed",
            "arm",
            "options",
            "test accuracy",
            "wall s",
            "wall / old",
            "winner params",
            "outside training",
        ],
        rows,
    )
    save(
        args.name,
        {
            "old": args.old,
            "new": head,
            "keep_cache": args.keep_cache,
            # Which checkout ran each arm (its commit), not where it was on this machine.
            "arms": {
                arm: {"commit": args.old if arm == "old" else head, "options": o}
                for arm, (_, o) in arms.items()
            },
            "pairs": {str(s): p for s, p in pairs.items()},
            "median_test_accuracy": medians,
            "wall_ratio_over_old": {
                arm: {"median": statistics.median(r), "each": r} for arm, r in ratios.items()
            },
            "table": table,
        },
    )
    print(table)
    for arm in arms:
        print(
            f"{arm}: median test accuracy {medians[arm]:.4f}, "
            f"median wall / old {statistics.median(ratios[arm]):.2f}"
        )


if __name__ == "__main__":
    main()
