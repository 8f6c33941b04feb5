"""TensorBoard logs of a real run, read back with TensorBoard's own readers and server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def _accumulator(path: Path) -> event_accumulator.EventAccumulator:
    acc = event_accumulator.EventAccumulator(str(path), size_guidance={"tensors": 0, "images": 0})
    acc.Reload()
    return acc


def _session_values(session_dir: Path) -> dict:
    acc = _accumulator(session_dir)
    content = acc.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = hparams_metadata.parse_session_start_info_plugin_data(content)
    return {name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
            for name, value in info.hparams.items()}


def test_every_trial_has_its_hparams_session(finished_run):
    run, _ = finished_run
    for phase in ("coarse", "fine"):
        oracle = run._tuner(phase).oracle
        for trial_id, trial in oracle.trials.items():
            session = run.run_dir / "tensorboard" / phase / trial_id / "execution0"
            values = _session_values(session)
            assert values["phase"] == phase
            hp = trial.hyperparameters
            active = {k: v for k, v in hp.values.items()
                      if not k.startswith("tuner/") and hp.is_active(k)}
            assert set(values) == {*active, "phase"}
            for name, value in active.items():
                assert values[name] == pytest.approx(value), name
            assert "epoch_accuracy" in _accumulator(session / "validation").Tags()["tensors"]


def test_each_phase_declares_its_experiment_with_its_domains(finished_run):
    run, result = finished_run
    narrowed = {hp.name: hp.get_config() for hp in result.narrowed.hyperparameters.space}
    for phase in ("coarse", "fine"):
        acc = _accumulator(run.run_dir / "tensorboard" / phase)
        content = acc.SummaryMetadata(hparams_metadata.EXPERIMENT_TAG).plugin_data.content
        experiment = hparams_metadata.parse_experiment_plugin_data(content)
        infos = {info.name: info for info in experiment.hparam_infos}
        assert infos["phase"].domain_discrete.values[0].string_value == phase
        metrics = {(m.name.group, m.name.tag) for m in experiment.metric_infos}
        assert ("validation", "epoch_accuracy") in metrics and ("train", "epoch_loss") in metrics
        if phase == "fine":
            config = narrowed["learning_rate"]
            if "min_value" in config:
                interval = infos["learning_rate"].domain_interval
                assert interval.min_value == pytest.approx(config["min_value"])
                assert interval.max_value == pytest.approx(config["max_value"])


def test_final_model_logs_confusion_matrix_samples_and_histograms(finished_run):
    run, _ = finished_run
    final = run.run_dir / "tensorboard" / "final"
    test_tags = _accumulator(final / "test").Tags()
    assert {"confusion_matrix", "test_samples"} <= set(test_tags["tensors"])
    acc = _accumulator(final / "test")
    image = acc.Tensors("confusion_matrix")[0].tensor_proto
    assert image.string_val and image.string_val[2].startswith(b"\x89PNG")
    train = _accumulator(final / "train").Tags()["tensors"]
    assert "epoch_loss" in train
    assert any(tag.endswith("/histogram") for tag in train)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, route: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/data/plugin/hparams/{route}",
        data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_tensorboard_server_shows_every_trial_in_hparams(finished_run):
    run, _ = finished_run
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(run.run_dir / "tensorboard"),
         "--host", "127.0.0.1", "--port", str(port), "--load_fast", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                experiment = _post(port, "experiment", {"experimentName": ""})
                if experiment.get("hparamInfos"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "tensorboard did not answer within 60 s"
            time.sleep(0.5)
        columns = [{"hparam": h["name"], "includeInResult": True}
                   for h in experiment["hparamInfos"]]
        columns += [{"metric": m["name"], "includeInResult": True}
                    for m in experiment["metricInfos"]]
        groups = _post(port, "session_groups", {
            "experimentName": "", "startIndex": 0, "sliceSize": 1000, "colParams": columns,
            "aggregationType": "AGGREGATION_AVG", "allowedStatuses": STATUSES,
        })["sessionGroups"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    by_name = {g["name"]: g for g in groups}
    expected = {f"{phase}/{trial_id}" for phase in ("coarse", "fine")
                for trial_id in run._tuner(phase).oracle.trials}
    assert set(by_name) == expected
    for phase in ("coarse", "fine"):
        for trial_id, trial in run._tuner(phase).oracle.trials.items():
            group = by_name[f"{phase}/{trial_id}"]
            assert group["hparams"]["phase"] == phase
            assert group["hparams"]["units_0"] == trial.hyperparameters.values["units_0"]
            metrics = {(m["name"]["group"], m["name"]["tag"]): m["value"]
                       for m in group["metricValues"]}
            assert ("validation", "epoch_accuracy") in metrics
