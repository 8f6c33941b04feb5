"""A local worker of `CoarseToFine(..., workers=N)`: `python -m tunekit.distribute.worker_main`.

Started by the chief's `LocalWorkers` with KerasTuner's variables and a SPEC path; rebuilds
the run from `SPEC` (`<run>/workers/spec.pkl`, see `tunekit.distribute.spec`)
and runs trials until the chief has none. Exit codes as `tunekit.distribute.launch.work`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from tunekit import _log, _native_logs
from tunekit.processes import apply_process_limits


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one worker; returns its exit code."""
    _log.open_closed_streams()  # a closed stdout or stderr: output dropped, the worker runs
    apply_process_limits()  # its cores, and it dies with its chief
    _native_logs.quiet_environment()
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m tunekit.distribute.worker_main SPEC", file=sys.stderr)
        return 2
    from tunekit.distribute.cluster import cluster_from  # noqa: PLC0415
    from tunekit.distribute.launch import work  # noqa: PLC0415
    from tunekit.distribute.spec import load_spec  # noqa: PLC0415

    with _log.output_kept_safe(), _log.cli_output(quiet=False):  # a closed pipe: dropped
        try:
            factory, kwargs = load_spec(args[0])
            run = factory(**kwargs)
        except Exception as e:  # noqa: BLE001 (reported: exit code 2, not restarted)
            print(
                f"error: cannot rebuild the run from {args[0]}: {type(e).__name__}: {e}",
                file=sys.stderr,
            )
            return 2
        cluster = cluster_from(os.environ)
        return work(run, cluster, f"python -m tunekit.distribute.worker_main {args[0]}")


if __name__ == "__main__":
    raise SystemExit(main())
