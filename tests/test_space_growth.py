"""A parallel phase whose space grows while trials run is named (warning and report).

With `--workers 2`, a hyperparameter first declared in the hypermodel's `fit`
(`hp.Choice("bs", [16, 64])`) joined the chief's space only when a trial
ended: the trial handed out meanwhile took its default (bs=16 where one
process drew 64) and the later draws shifted, with exit 0 and nothing said.
The chief's servicer is called here in-process, as gRPC would call it.
"""

from __future__ import annotations

import logging

import keras_tuner as kt
import pytest

from tunekit._kerastuner import protos
from tunekit.distribute.chief import OracleServer
from tunekit.distribute.cluster import Cluster
from tunekit.report_top import space_growth_lines
from tunekit.tuners.oracles import DefaultsFirstRandomSearchOracle


class _Context:
    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"

    def abort(self, code, text):  # pragma: no cover - the test fails if it is called
        raise AssertionError(text)


def _chief(tmp_path):
    oracle = DefaultsFirstRandomSearchOracle(
        objective=kt.Objective("score", "max"), max_trials=6, seed=3
    )
    oracle._set_project_dir(str(tmp_path), "coarse")
    space = kt.HyperParameters()
    space.Int("u", 8, 64, step=8)
    oracle.update_space(space)
    server = OracleServer(Cluster(role="chief"), {})
    server.phase = "coarse"
    server._servicer.oracle, server._servicer.stop_triggered = oracle, False
    return server, oracle


def _hand_out(server, oracle, worker):
    trial = oracle.create_trial(f"{worker}@coarse")
    server.handed_out(worker, trial, oracle)
    return trial


def _end(server, oracle, trial, declared=()):
    for name in declared:  # what the hypermodel's fit declared on the worker
        trial.hyperparameters.Choice(name, [16, 64])
    trial.status = "COMPLETED"
    oracle.update_trial(trial.trial_id, {"score": 1.0})
    request = protos.get_service().EndTrialRequest(trial=trial.to_proto())
    server._servicer.EndTrial(request, _Context())


def test_a_name_declared_while_another_trial_ran_is_warned_about_and_kept(tmp_path, caplog):
    server, oracle = _chief(tmp_path)
    first, second = _hand_out(server, oracle, "a"), _hand_out(server, oracle, "b")
    assert "bs" not in second.hyperparameters.values  # drawn without it: one process drew it
    with caplog.at_level(logging.WARNING, logger="tunekit.distribute.chief"):
        _end(server, oracle, second, ["bs"])  # the later trial ends first: still said
        _end(server, oracle, first, ["bs"])
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1, warned  # once per name
    assert "'bs'" in warned[0]  # the later trial, ended first: its line is `trial 1/..`
    assert f"; coarse trial 1 (id {second.trial_id}) drawn while an earlier" in warned[0]
    assert "may differ from one process" in warned[0]
    assert "declare every hyperparameter in build" in warned[0] and "(workers=1)" in warned[0]
    assert server.grown == {"coarse": ["bs"]}


def test_trials_handed_out_one_after_another_say_nothing(tmp_path, caplog):
    # One worker (a chief with trials_per_process): each trial drawn after the last ended.
    server, oracle = _chief(tmp_path)
    with caplog.at_level(logging.WARNING, logger="tunekit.distribute.chief"):
        _end(server, oracle, _hand_out(server, oracle, "a"), ["bs"])
        _end(server, oracle, _hand_out(server, oracle, "a"), ["bs", "extra"])
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert server.grown == {}


@pytest.mark.parametrize(
    ("phases", "said"),
    [
        ({"coarse": {"space_grew": ["bs", "extra"]}, "fine": {"space_grew": None}}, True),
        ({"coarse": {}, "fine": {"space_grew": None}}, False),  # a run from before the key
    ],
)
def test_the_report_has_a_line_for_a_phase_whose_space_grew(phases, said):
    lines = space_growth_lines({"phases": phases})
    assert bool(lines) is said
    if said:
        assert "[coarse]" in lines[1] and "'bs', 'extra'" in lines[1]
        assert "not exactly the one-process run" in lines[1]


def test_the_runners_hand_the_names_to_the_manifest_with_an_earlier_sessions():
    from tunekit.distribute.runner import ChiefRunner, LocalRunner

    assert LocalRunner().space_grew("coarse") == {}
    assert LocalRunner().space_grew("coarse", ["bs"]) == {"space_grew": ["bs"]}
    runner = ChiefRunner(Cluster(role="chief"), {})
    assert runner.space_grew("coarse", ["bs"]) == {"space_grew": ["bs"]}  # not started
    runner.server = OracleServer(Cluster(role="chief"), {})
    runner.server.grown = {"coarse": ["extra"]}
    assert runner.space_grew("coarse", ["bs"]) == {"space_grew": ["bs", "extra"]}
    assert runner.space_grew("fine") == {}
