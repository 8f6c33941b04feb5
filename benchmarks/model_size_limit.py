"""How much of the ToonVision CNN space does a 20,000-parameter limit reject, and at what cost?

Draws random configurations of `ToonVisionCNNHyperModel` (28x28x1, 10
classes, as `--hypermodel toonvision-cnn` builds it for MNIST) the way the
coarse RandomSearch does (KerasTuner's `RandomSearchOracle`, seeded), builds
each model without training exactly as `max_model_size` checks a proposal
(`tunekit.tuners.model_size`), and records its parameter count and the time
the build took. No data is loaded and nothing trains (well under a minute).

Usage: `KERAS_BACKEND=tensorflow python -m benchmarks.model_size_limit
[--configs 200] [--limit 20000] [--seed 0]`. Writes
`benchmarks/results/model_size_limit.json` and prints a summary.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import keras_tuner as kt

from benchmarks._common import save
from hypermodels import ToonVisionCNNHyperModel
from tunekit.tuners import kerastuner_seed, model_size


def measure(configs: int, limit: int, seed: int) -> dict[str, Any]:
    """Sizes and build times of `configs` random configurations (see the module docstring)."""
    hypermodel = ToonVisionCNNHyperModel(input_shape=(28, 28, 1), num_classes=10)
    space = kt.HyperParameters()
    hypermodel.build(space)  # declares the space, as KerasTuner's first trial does
    oracle = kt.oracles.RandomSearchOracle(
        objective="val_accuracy", max_trials=configs, seed=kerastuner_seed(seed)
    )
    oracle.hyperparameters = space
    sizes: list[int] = []
    seconds: list[float] = []
    model_size(hypermodel, space.copy())  # the first build pays for imports and tracing
    for _ in range(configs):
        hp = space.copy()
        hp.values = oracle._random_values() or {}
        start = time.perf_counter()
        size = model_size(hypermodel, hp)
        seconds.append(time.perf_counter() - start)
        assert size is not None
        sizes.append(size)
    over = sum(size > limit for size in sizes)
    return {
        "hypermodel": "ToonVisionCNNHyperModel(input_shape=(28, 28, 1), num_classes=10)",
        "configs": configs,
        "limit": limit,
        "seed": seed,
        "over_limit": over,
        "over_limit_fraction": over / configs,
        "smallest": min(sizes),
        "median": statistics.median(sizes),
        "largest": max(sizes),
        "build_seconds_median": statistics.median(seconds),
        "build_seconds_max": max(seconds),
        "build_seconds_total": sum(seconds),
        "sizes": sizes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=200)
    parser.add_argument("--limit", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = measure(args.configs, args.limit, args.seed)
    path = save("model_size_limit", result)
    print(
        f"{result['over_limit']} of {result['configs']} random configurations "
        f"({result['over_limit_fraction']:.0%}) exceed {result['limit']:,} parameters "
        f"(smallest {result['smallest']:,}, median {result['median']:,.0f}, largest "
        f"{result['largest']:,}); rejecting one costs a build of "
        f"{result['build_seconds_median'] * 1000:.0f} ms (median; max "
        f"{result['build_seconds_max'] * 1000:.0f} ms). Written to {path}."
    )


if __name__ == "__main__":
    main()
