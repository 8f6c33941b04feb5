"""A refused command-line rerun says what differs by the options, whatever made it differ.

Before:

- with no option typed otherwise, the refusal listed the settings as the run records
  them: a data file changed since as `--data: fingerprint X -> Y; the default model
  differs: ...; hypermodel num_classes: 3 -> 4`, asking to "Rerun with the original
  settings" (they were); `--backend auto` resolved otherwise as `--backend: auto -> auto`;
  a default that differs with no word that it was not typed, nor what to pass;
- a worker refused by its chief (`--workers`, or a chief with remote workers) got
  `seed: chief 0, worker 1` and the settings' keys (`hypermodel_settings`), the text
  that travels over gRPC, not the options;
- a changed `--target` was named, then again as "the data differs from the data the run
  started with (its fingerprint changed ...)".
- an option typed in the run and left out in the rerun was said by the value in effect,
  `--fine-trials: 2 -> 10`, a 10 nobody typed (the default; `--quick`'s for
  `--max-epochs`), and every option typed otherwise asked to "Rerun with the original
  settings": now `--fine-trials: 2 -> not given (default 10)`, "Pass --fine-trials 2".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tunekit.coarse_to_fine import main

WHERE = ["--directory", "runs", "--project-name", "p", "--quiet"]
TF = ["--backend", "tensorflow"]
END = "pass --overwrite to start over, or choose another --project-name.\n"


def _npz(path: Path, classes: int = 3) -> None:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = (x[:200] * 15).astype("uint8"), y[:200] % classes  # pixels 0..240
    np.savez(path, x_train=x[:150], y_train=y[:150], x_test=x[150:], y_test=y[150:])


def _started(monkeypatch, args: list[str]) -> tuple[Path, dict]:
    """Runs the command until its run folder is opened; marks its coarse search done."""
    from tunekit.workflow import CoarseToFine

    def stop(self):
        raise KeyboardInterrupt  # after the manifest is written, before any training

    with monkeypatch.context() as patched:
        patched.setattr(CoarseToFine, "run", stop)
        assert main(args) == 130
    path = Path("runs/p/manifest.json")
    state = json.loads(path.read_text())
    state["steps"] = {"coarse": {"status": "done"}}
    path.write_text(json.dumps(state))
    return path, state


@pytest.fixture
def npz(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _npz(tmp_path / "d.npz")
    return ["--data", "d.npz"]


def _refused(capsys, args: list[str]) -> str:
    capsys.readouterr()
    assert main(args) == 2
    return capsys.readouterr().err


def test_a_default_that_differs_is_said_by_its_option_and_what_to_pass(npz, monkeypatch, capsys):
    """A run recorded with another value of an option typed neither time (another
    default): before, `--coarse-trials: 3 -> 20`, and "Rerun with the original settings"."""
    from tunekit.manifest import fingerprint

    path, state = _started(monkeypatch, [*WHERE, *npz, *TF])
    state["config"]["coarse_epochs"] = 3
    state["fingerprint"] = fingerprint(state["config"])
    path.write_text(json.dumps(state))
    err = _refused(capsys, [*WHERE, *npz, *TF])
    assert err == (
        "error: The run in runs/p was started with another configuration (--coarse-epochs "
        "not given: now 2, the run used 3). Pass --coarse-epochs 3 to resume, " + END
    ), err


def test_a_budget_that_differs_once_the_narrowing_is_made_is_said_with_why(
    npz, monkeypatch, capsys
):
    """A search's budget may change until a step after it has finished (the search goes
    on, `tunekit.budgets.adopt_budgets`); after, the refusal says why."""
    from tunekit.manifest import fingerprint

    path, state = _started(monkeypatch, [*WHERE, *npz, *TF])
    state["config"]["coarse_trials"] = 3
    state["steps"]["narrow"] = {"status": "done"}
    state["fingerprint"] = fingerprint(state["config"])
    path.write_text(json.dumps(state))
    err = _refused(capsys, [*WHERE, *npz, *TF])
    assert err.startswith(
        "error: The run in runs/p was started with another configuration (--coarse-trials "
        "not given: now 20, the run used 3). Pass --coarse-trials 3 to resume, "
    ), err
    assert (
        "(`--coarse-trials` may change only until a step after its search has finished: "
        "the steps after it were made from its trials.)"
    ) in err, err


def test_backend_auto_resolved_otherwise_is_said_with_why(npz, monkeypatch, capsys):
    """`--backend auto` typed both times, resolved otherwise (Keras already loaded in this
    process): before, `--backend: auto -> auto`."""
    import keras

    path, state = _started(monkeypatch, [*WHERE, *npz, *TF])  # not probed: as if auto
    state["command"]["argv"] = [*WHERE, *npz, "--backend", "auto"]
    other = "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"
    state["backend"] = other  # the run started on the other one
    path.write_text(json.dumps(state))
    err = _refused(capsys, [*WHERE, *npz, "--backend", "auto"]).splitlines()[-1]
    loaded = keras.backend.backend()
    assert err == (
        f"error: The run in runs/p was started with another configuration (--backend auto: "
        f"resolved to {loaded}, the run used {other} (Keras was already loaded with {loaded} "
        f"in this process)). Resume it on {other} (--backend {other}, or auto), " + END.strip()
    ), err


def test_a_data_file_changed_since_is_said_once_by_its_option(npz, monkeypatch, capsys):
    """The same --data file, now of 4 classes: before, its fingerprint, the default model
    and the hypermodel's classes that follow from it, and the data sentence after them."""
    _started(monkeypatch, [*WHERE, *npz, *TF])
    _npz(Path("d.npz"), classes=4)
    err = _refused(capsys, [*WHERE, *npz, *TF])
    assert re.fullmatch(
        r"error: The run in runs/p was started with another configuration \(--data: d\.npz "
        r"\(its content changed: fingerprint \w+ -> \w+\)\)\. Restore the data the run "
        r"started with to resume, " + re.escape(END),
        err,
    ), err


def test_a_typed_target_is_not_said_again_as_the_data(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rows = ["a,b,target,other"] + [f"{i % 7},{i % 5},{i % 2},{i % 3 // 2}" for i in range(200)]
    Path("c.csv").write_text("\n".join(rows) + "\n")
    csv = ["--data", "c.csv", "--target"]
    _started(monkeypatch, [*WHERE, *TF, *csv, "target"])
    err = _refused(capsys, [*WHERE, *TF, *csv, "other"])
    assert err == (
        "error: The run in runs/p was started with another configuration (--target: target "
        "-> other). Pass --target target to resume, " + END
    ), err


@pytest.mark.parametrize(
    "first, rerun, said, remedy",
    [
        (
            ["--fine-tuner", "bayesian", "--fine-trials", "2", "--coarse-epochs", "1"],
            ["--fine-tuner", "bayesian"],
            "--coarse-epochs: 1 -> not given (default 2); --fine-trials: 2 -> not given "
            "(default 10)",
            "Pass --coarse-epochs 1 and --fine-trials 2",
        ),
        (  # (a budget alone may change: `adopt_budgets`; --coarse-epochs may not)
            ["--fine-tuner", "bayesian"],
            ["--fine-tuner", "bayesian", "--coarse-epochs", "1"],
            "--coarse-epochs: not given (default 2) -> 1",
            "Leave out --coarse-epochs",
        ),
        (["--seed", "3"], [], "--seed: 3 -> not given (default 0)", "Pass --seed 3"),
        (
            ["--quick", "--max-epochs", "5"],
            ["--quick"],
            "--max-epochs: 5 -> not given (3, from --quick)",
            "Pass --max-epochs 5",
        ),
        (
            ["--max-epochs", "5"],
            ["--quick"],
            "--max-epochs: 5 -> not given (3, from --quick); --quick: not given -> given",
            "Pass --max-epochs 5 and leave out --quick",
        ),
        (
            ["--fine-tuner", "bayesian", "--fine-trials", "2"],
            ["--factor", "3"],
            "--fine-tuner: bayesian -> not given (default hyperband); --fine-trials: 2 -> "
            "not given; --factor: not given -> 3",
            "Pass --fine-tuner bayesian and --fine-trials 2 and leave out --factor",
        ),
    ],
)
def test_an_option_left_out_is_said_as_not_given_with_its_value_and_what_to_pass(
    npz, monkeypatch, capsys, first, rerun, said, remedy
):
    """An option typed in the run and left out in the rerun (or the reverse): before,
    `--fine-trials: 2 -> 10` (a 10 nobody typed: the default) and `--max-epochs: 5 -> 3`
    (`--quick`'s), with "Rerun with the original settings"."""
    _started(monkeypatch, [*WHERE, *npz, *TF, *first])
    err = _refused(capsys, [*WHERE, *npz, *TF, *rerun]).split(" (`")[0]
    assert err.rstrip() == (
        f"error: The run in runs/p was started with another configuration ({said}). "
        f"{remedy} to resume, " + END.strip()
    ), err


class _Context:
    def peer(self) -> str:
        return "ipv4:127.0.0.1:5000"


def test_a_refused_worker_is_told_by_the_options_typed(npz, monkeypatch, capsys):
    """A worker typed with `--seed 1` beside a chief of `--workers 2`: the chief's and the
    worker's lines name `--seed` as a one-process rerun's refusal does, exit 2."""
    from tunekit.distribute.chief import OracleServer
    from tunekit.distribute.cluster import Cluster
    from tunekit.distribute.worker import ChiefConnection

    chief_argv = [*WHERE, *npz, *TF, "--workers", "2"]
    _, state = _started(monkeypatch, [*WHERE, *npz, *TF])
    lines: list[str] = []
    server = OracleServer(Cluster(role="chief"), state["config"], write=lines.append)
    server.command_line, server.argv = True, chief_argv

    def call(self, name, message, *, timeout, wait=False):
        assert name == "Hello"
        return json.loads(json.dumps(server._hello(message, _Context())))  # as gRPC sends it

    monkeypatch.setattr(ChiefConnection, "_call", call)
    for name, value in [("KERASTUNER_TUNER_ID", "tuner9"), ("KERASTUNER_ORACLE_IP", "127.0.0.1")]:
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "5999")
    err = _refused(capsys, [*WHERE, *npz, *TF, "--seed", "1"])
    said = (
        "this worker's settings differ from the chief's, each said as the chief's -> the "
        "worker's (--seed: not given (default 0) -> 1). Start every worker with the chief's "
        "options (--seed, --data, budget)."
    )
    assert err.splitlines()[-1] == f"error: worker tuner9: {said}", err
    assert lines == [f"Refused worker tuner9 (ipv4:127.0.0.1:5000): {said}"], lines
