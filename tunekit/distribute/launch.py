"""Starting a chief or a worker: the command line's and `CoarseToFine(workers=N)`'s entry.

- `cli_chief`: the `ChiefRunner` of `python -m tunekit.coarse_to_fine --workers N`
  (or of a process started with `KERASTUNER_TUNER_ID=chief`), whose local
  workers rerun the same command;
- `local_chief`: the `ChiefRunner` of `CoarseToFine(..., workers=N)`, whose
  local workers rebuild the run from the spec it writes (`tunekit.distribute.spec`);
- `work`: a worker's whole life (greet the chief, run its trials, exit when it
  has none), the same for both.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tunekit import interrupts
from tunekit.distribute.cluster import EXIT_RECYCLE, PHASES, RECYCLE_ENV, Cluster
from tunekit.distribute.runner import ChiefRunner
from tunekit.distribute.spec import worker_env, write_spec
from tunekit.errors import UsageError
from tunekit.params import GIVEN_ONLY, PARAMETERS

__all__ = ["cli_chief", "local_chief", "run_trials", "work"]

WORKER_MODULE = "tunekit.distribute.worker_main"


def cli_chief(
    run: Any, cluster: Cluster, argv: Sequence[str], backend: str, *, quiet: bool
) -> ChiefRunner:
    """The chief of the command line; its local workers run the chief's options.

    Args:
        run: The `CoarseToFine` whose phases the chief serves.
        cluster: The chief's `Cluster`.
        argv: The chief's command-line options (`--overwrite` is dropped for workers,
            and `--backend`: they get the backend the chief chose).
        backend: The Keras backend the chief chose, forced on local workers.
        quiet: Print no status line.
    """
    worker_argv: list[str] = []
    skip = False
    for arg in argv:  # the chief's choice replaces a --backend given (auto included)
        # argparse takes an abbreviation (--back jax); a second --backend would be refused.
        flag, equals, _ = arg.partition("=")
        backend_flag = len(flag) > 3 and "--backend".startswith(flag)
        if skip or arg == "--overwrite" or (backend_flag and equals):
            skip = False
            continue
        if backend_flag:
            skip = True
            continue
        worker_argv.append(arg)
    return ChiefRunner(
        cluster,
        run.config(),
        command_line=run.said is not str,  # its warnings name flags (`--workers 1`)
        argv=argv,
        log_dir=run.run_dir / "workers",
        backend=backend,
        worker_command=["-m", "tunekit.coarse_to_fine", *worker_argv, "--backend", backend],
        trials_per_process=run.trials_per_process,
        write=(lambda text: None) if quiet else (lambda text: print(text, flush=True)),
    )


# The constructor arguments a worker's `CoarseToFine` gets from the chief's, as they are:
# the objective and every row of the argument table but the chief's own (a worker never
# overwrites, and runs no workers of its own: its supervisor tells it its trials_per_process).
CHIEF_ONLY = ("overwrite", "workers", "trials_per_process")
SETTINGS = ("objective", *(name for name in PARAMETERS if name not in CHIEF_ONLY))


def local_chief(run: Any, workers: int, objects: dict[str, Any]) -> ChiefRunner:
    """The chief of `CoarseToFine(..., workers=N)`: 127.0.0.1, a free port, N local workers.

    Writes `<run>/workers/data.npz` and `spec.pkl` (see `tunekit.distribute.spec`)
    for the workers to rebuild the run from.

    Args:
        run: The `CoarseToFine` (its class is what workers call).
        workers: Local worker processes.
        objects: The constructor's objects (hypermodel, callbacks), pickled by
            reference.

    Raises:
        UsageError: An object cannot reach a worker (see `check_reaches_workers`).
    """
    import keras  # noqa: PLC0415 (the backend workers must use)

    settings = {name: getattr(run, name) for name in SETTINGS}
    # As the run was given them (None: not given), so that a setting refused where it does
    # not apply (`tunekit.option_pairs`: batch_size with a stream, ...) is not given here.
    settings.update({name: run.given_settings[name] for name in GIVEN_ONLY})
    settings.update(directory=str(run.run_dir.parent.resolve()), project_name=run.run_dir.name)
    spec = write_spec(run.run_dir / "workers", run.data, type(run), objects, settings)
    cluster = Cluster(role="chief", tuner_id="chief", ip="127.0.0.1", port=0, workers=workers)
    return ChiefRunner(
        cluster,
        run.config(),
        command_line=run.said is not str,  # its warnings name flags (`--workers 1`)
        log_dir=run.run_dir / "workers",
        backend=keras.backend.backend(),
        env=worker_env(),
        worker_command=["-m", WORKER_MODULE, str(spec)],
        trials_per_process=run.trials_per_process,
        write=run.say,
    )


def run_trials(run: Any, connection: Any) -> None:
    """Runs trials for a chief, phase after phase, until the chief has no more.

    The worker's tuner of each phase takes its trials (with their
    hyperparameters, the narrowed ones in the fine phase) from the chief. A
    worker never opens or locks the run's manifest, never narrows and never
    deletes anything.

    Args:
        run: The worker's `CoarseToFine`.
        connection: A `tunekit.distribute.worker.ChiefConnection`, already greeted.
    """
    steps = {step.name: step for step in run.steps}
    for phase in PHASES:
        step = steps[phase]
        tuner = step.tuner(run, worker=True)
        connection.client(tuner, phase)
        run.say(f"[{phase}] asking the chief at {connection.cluster.address} for trials")
        step.search(run, tuner)


def work(
    run: Any,
    cluster: Cluster,
    resume: str,
    *,
    message: Callable[[BaseException], str] = str,
    argv: Sequence[str] | None = None,
) -> int:
    """A worker's whole life: greet the chief, run its trials, exit when it has none.

    Args:
        run: The worker's `CoarseToFine` (the chief's settings and data).
        cluster: This worker's `Cluster`.
        resume: The command that restarts this worker, printed when it stops.
        message: How an error is said (the command line names flags).
        argv: This worker's command line, sent to the chief: a refusal of its settings
            names the options typed otherwise (`tunekit.distribute.refusal`).

    A local worker whose supervisor set `TUNEKIT_TRIALS_PER_PROCESS` stops
    after that many trials (`tunekit.distribute.worker.RecycleProcess`) and
    exits with `EXIT_RECYCLE`; the supervisor starts a fresh one.

    Returns:
        The exit code: 0 done, 2 refused by the chief, 1 a failure, 130 / 143
        interrupted, `EXIT_RECYCLE` (75) its trials per process run.
    """
    from tunekit.distribute.worker import (  # noqa: PLC0415 (gRPC)
        ChiefConnection,
        ChiefUnreachableError,
        RecycleProcess,
        WorkerRefusedError,
    )

    limit = os.environ.get(RECYCLE_ENV)
    connection = ChiefConnection(
        cluster,
        run.config(),
        trials_per_process=int(limit) if limit else None,
        argv=None if argv is None else list(argv),
    )
    try:
        connection.hello()
    except WorkerRefusedError as e:
        print(f"error: worker {cluster.tuner_id}: {message(e)}", file=sys.stderr)
        return 2
    except ChiefUnreachableError as e:
        print(f"error: {message(e)}", file=sys.stderr)
        return 1
    connection.start_heartbeat()
    print(
        f"Worker {cluster.tuner_id}: joined the chief at {cluster.address}; run folder "
        f"{run.run_dir} (never deleted by a worker).",
        flush=True,
    )
    try:
        run_trials(run, connection)
    except RecycleProcess as e:
        print(f"Worker {cluster.tuner_id}: {e}; exiting.", flush=True)
        return EXIT_RECYCLE
    except (KeyboardInterrupt, interrupts.Interrupted) as e:
        print(
            f"\nworker {cluster.tuner_id} interrupted; its trial goes back to the chief's "
            f"queue when it restarts:\n  {resume}",
            file=sys.stderr,
        )
        return e.exit_code if isinstance(e, interrupts.Interrupted) else 130
    except Exception as e:  # noqa: BLE001 (reported: exit code 1, or 2 for the input's)
        import grpc  # noqa: PLC0415
        from keras_tuner import errors as kt_errors  # noqa: PLC0415

        if isinstance(e, (kt_errors.FatalValueError, UsageError)):  # e.g. a refused objective:
            print(  # every process would stop so, so the supervisor does not restart it
                f"error: worker {cluster.tuner_id} stopped: {type(e).__name__}: {message(e)}",
                file=sys.stderr,
            )
            return 2
        if isinstance(e, grpc.RpcError):
            print(f"error: {connection.lost_message(e, waited=False)}\n  {resume}", file=sys.stderr)
        else:
            print(
                f"error: worker {cluster.tuner_id} failed: {type(e).__name__}: {message(e)}",
                file=sys.stderr,
            )
        return 1
    finally:
        connection.close()
    print(f"Worker {cluster.tuner_id}: the chief has no more trials; done.", flush=True)
    return 0
