"""Distributed tuning: KerasTuner's chief/worker engine behind one small interface.

The workflow runs each search phase through a `PhaseRunner`
(`tunekit.distribute.runner`): `LocalRunner` searches in this process,
`ChiefRunner` serves the phase's oracle to worker processes. Everything that
speaks gRPC lives in this package (`chief`, `worker`) and loads only when a
chief or worker starts:

- `cluster`: who this process is (single, chief, worker) and the wire format;
- `chief`: KerasTuner's oracle service, one phase at a time;
- `worker`: a worker's line to the chief (hello, heartbeat, failed-trial text);
- `supervisor`: local worker processes, started, limited, restarted;
- `protos`: a fix to KerasTuner's gRPC protos;
- `spec`: what local workers of `CoarseToFine(..., workers=N)` rebuild the run from;
- `launch`: starting a chief or a worker (command line and Python API).
"""

from __future__ import annotations

from tunekit.distribute.runner import ChiefRunner, LocalRunner, PhaseRunner

__all__ = ["ChiefRunner", "LocalRunner", "PhaseRunner"]
