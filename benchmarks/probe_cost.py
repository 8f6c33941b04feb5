"""What the backend probe of `--backend auto` costs, fresh and reused.

Runs `tunekit.backends.choose_backend` for the default command's hypermodel
and data shape (`mnist-dense`, 28x28, 10 classes, batch 128) in a temporary
cache folder: once fresh (both backends probed) and once more (the cached
verdict reused). Each call's wall time is what a run's `probe` step holds.

Usage: `python -m benchmarks.probe_cost`. Writes `benchmarks/results/probe_cost.json`.
"""

from __future__ import annotations

import os
import tempfile
import time

from benchmarks._common import save


def main() -> None:
    from tunekit import backends

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TUNEKIT_CACHE_DIR"] = tmp
        calls = []
        for label in ("fresh", "reused"):
            start = time.perf_counter()
            choice = backends.choose_backend("mnist-dense", (28, 28), 10, 128, write=print)
            calls.append(
                {
                    "call": label,
                    "wall_seconds": round(time.perf_counter() - start, 2),
                    "cached": choice["cached"],
                    "backend": choice["backend"],
                    "samples_per_second": choice["samples_per_second"],
                }
            )
            print(calls[-1], flush=True)
    path = save(
        "probe_cost",
        {
            "command": "python -m benchmarks.probe_cost",
            "spec": "mnist-dense, input (28, 28), 10 classes, batch 128, 1 process",
            "calls": calls,
        },
    )
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
