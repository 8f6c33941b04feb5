"""A Python run's "same settings on the command line" reproduces it, or says there is none.

The rule, for every setting of `tunekit.params.PARAMETERS`, every kind of data
and the hypermodel: the command in `report.json` (`command.cli_equivalent`)
parses with the command line's own parser and, read back as the command line
reads it (its data loader on the run's data saved as DATA, its hypermodel, its
keyword arguments), makes the same run: `CoarseToFine.config()` equal, which
holds the data's fingerprint (arrays, class names, task, label form). Else
there is no command, and `no_cli_equivalent` names the setting it cannot say.
No training: the commands are read, not run.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tunekit.cli_parser import build_parser
from tunekit.coarse_to_fine import _folder_stream, _load_data, _workflow_kwargs
from tunekit.data import Dataset, load_npz
from tunekit.hypermodel_specs import resolve_hypermodel
from tunekit.reproduce import CLI_PROGRAM, cli_equivalent


def _save_splits(data: Dataset, path: Path) -> None:
    """DATA: the run's splits as they are, labels as the model trains on them, class names."""
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"x_{split}"] = np.asarray(getattr(data, f"x_{split}"))
        arrays[f"y_{split}"] = np.asarray(data.model_targets(getattr(data, f"y_{split}")))
    if data.task == "classification":
        arrays["class_names"] = np.asarray(data.class_names, dtype=str)
    np.savez(path, **arrays)


def _read_back(command: str, run: Any, tmp_path: Path) -> Any:
    """The `CoarseToFine` the command line makes of `command` (on the run's data as DATA)."""
    from tunekit import CoarseToFine

    words = shlex.split(command)
    assert " ".join(words[:3]) == CLI_PROGRAM
    try:
        args = build_parser().parse_args(words[3:])
    except SystemExit:
        pytest.fail(f"the command line refuses the printed command: {command}")
    if args.data == "DATA":
        assert isinstance(run.data, Dataset), "DATA stands for arrays; this run's data is none"
        args.data = str(tmp_path / "data.npz")
        _save_splits(run.data, Path(args.data))
    loaded = _load_data(args)
    if not isinstance(loaded, Dataset):  # an image folder's stream
        from tunekit.data import StreamData

        loaded = StreamData.from_image_folder(loaded)
    hypermodel = resolve_hypermodel(args.hypermodel, augment=args.augment)(loaded)
    again = CoarseToFine(hypermodel, loaded, **_workflow_kwargs(args))
    assert args.workers == run.workers
    return again


def _check_rule(run: Any, tmp_path: Path, *, none_naming: str | None = None) -> str | None:
    """Asserts the rule for `run`; `none_naming`: there must be no command, and the reason
    must name this. Returns the command."""
    command = cli_equivalent(run, "jax")  # what report.json's command.cli_equivalent holds
    if none_naming is None:
        assert command is not None, cli_command(run, "jax")[1]
        again = _read_back(command, run, tmp_path)
        assert again.config() == run.config(), command
        assert (again.data.task, again.data.num_classes) == (run.data.task, run.data.num_classes)
    else:
        assert command is None, f"a command that does not reproduce the run: {command}"
        assert none_naming in cli_command(run, "jax")[1]
    return command


def _features(n: int = 240, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 8), dtype=np.float32)


def _dense(data: Dataset) -> Any:
    """The bundled dense hypermodel as `--hypermodel dense` builds it for `data`."""
    from hypermodels import DenseHyperModel

    if data.task == "regression":
        return DenseHyperModel(data.input_shape, num_outputs=data.num_outputs, task="regression")
    label_mode = getattr(data, "label_mode", "int")
    return DenseHyperModel(data.input_shape, data.num_classes, label_mode=label_mode)


def _run(data: Dataset, tmp_path: Path, hypermodel: Any = None, **settings: Any) -> Any:
    from tunekit import CoarseToFine

    hypermodel = _dense(data) if hypermodel is None else hypermodel
    return CoarseToFine(hypermodel, data, directory=tmp_path / "runs", project_name="r", **settings)


def cli_command(run: Any, backend: str) -> tuple[str | None, str | None]:
    """`tunekit.reproduce.cli_command`: imported when called, so that a test of the rule
    fails on code without it by its assertion on `cli_equivalent`, not on the import."""
    from tunekit.reproduce import cli_command

    return cli_command(run, backend)


def test_whole_number_counts_tuned_as_regression_get_task_regression(tmp_path):
    # Counts 0..4 given task="regression": the command line infers 5 classes from them.
    x = _features(600)
    counts = np.clip(np.round(x[:, 0] * 4), 0, 4).astype(float)
    data = Dataset.from_arrays(x, counts, task="regression")
    command = _check_rule(_run(data, tmp_path), tmp_path)
    assert "--task regression" in command


@pytest.mark.parametrize(
    "labels",
    ["one-hot", "text", "values 3..8", "class ids"],
)
def test_labels_of_every_form_come_back_as_the_run_had_them(tmp_path, labels):
    import keras

    x = _features(300)
    ids = (x[:, 0] * 3).astype(int)
    y = {
        "one-hot": keras.utils.to_categorical(ids, 3),
        "text": np.array(["cat", "dog", "emu"])[ids],
        "values 3..8": ids + 3,
        "class ids": ids,
    }[labels]
    data = Dataset.from_arrays(x, y, task="classification" if labels == "values 3..8" else None)
    command = _check_rule(_run(data, tmp_path), tmp_path)
    assert "--task classification" in command


def test_a_class_without_samples_has_no_command(tmp_path):
    # num_classes=3 with labels 0 and 1 only: an .npz's classes are the labels it holds.
    x = _features()
    data = Dataset.from_arrays(x, (x[:, 0] > 0.5).astype(int), num_classes=3)
    _check_rule(_run(data, tmp_path), tmp_path, none_naming="class_names")


def build_two_outputs(hp: Any) -> Any:
    """A build(hp) of two regression outputs (for dict targets)."""
    import keras

    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4))(inputs)
    outputs = {name: keras.layers.Dense(1, name=name)(hidden) for name in ("a", "b")}
    model = keras.Model(inputs, outputs)
    model.compile("adam", {"a": "mse", "b": "mse"})
    return model


def test_dict_targets_have_no_command(tmp_path):
    x = _features()
    data = Dataset.from_arrays(x, {"a": x[:, 1] * 2.5, "b": x[:, 2]}, task="regression")
    _check_rule(_run(data, tmp_path, build_two_outputs), tmp_path, none_naming="dicts")


def test_data_named_mnist_is_not_taken_for_the_command_lines_mnist(tmp_path, digits_small):
    import dataclasses

    from hypermodels import MnistDenseHyperModel

    # Named "mnist" (a subset of MNIST keeps the name) but not the MNIST the command line loads.
    data = dataclasses.replace(digits_small, name="mnist")
    command = _check_rule(_run(data, tmp_path, MnistDenseHyperModel()), tmp_path)
    assert "--data DATA" in command


def test_the_command_lines_own_mnist_needs_no_data_option(tmp_path, mnist):
    from hypermodels import MnistDenseHyperModel

    command = cli_equivalent(_run(mnist, tmp_path, MnistDenseHyperModel()), "jax")
    assert command is not None and "--data" not in command


# One non-default value of every setting with a flag (and `workers`), with what it needs;
# a value no flag takes is named in the reason instead. A new setting must be added here.
SETTING_CASES: dict[str, list[dict[str, Any]]] = {
    "coarse_trials": [dict(coarse_trials=5)],
    "coarse_epochs": [dict(coarse_epochs=3)],
    "defaults_first": [dict(defaults_first=False)],
    "fine_tuner": [dict(fine_tuner="bayesian")],
    "fine_trials": [dict(fine_tuner="bayesian", fine_trials=4)],
    "max_epochs": [dict(max_epochs=7)],
    "factor": [dict(factor=2)],
    "top": [dict(top=3), dict(top=0.3)],
    "margin": [dict(margin=1), dict(margin=0.0)],
    "final_epochs": [dict(final_epochs=4)],
    "final_schedule": [dict(final_schedule="constant")],
    "batch_size": [dict(batch_size=64)],
    "executions_per_trial": [dict(executions_per_trial=2)],
    "max_model_size": [dict(max_model_size=10**6)],
    "max_retries_per_trial": [dict(max_retries_per_trial=1)],
    "max_consecutive_failed_trials": [dict(max_consecutive_failed_trials=5)],
    "cv": [dict(fine_tuner="bayesian", cv=2)],
    "seed": [dict(seed=7)],
    "progress": [dict(progress="plain")],
    "finalists": [dict(finalists=3)],
    "finalist_seeds": [dict(finalists=3, finalist_seeds=4)],
    "baseline": [dict(baseline=False)],
    "final_seeds": [dict(final_seeds=2)],
    "workers": [dict(workers=2)],
    "trials_per_process": [dict(trials_per_process=5)],
    "class_weight": [dict(class_weight="balanced"), dict(class_weight={0: 1.0, 1: 3.0})],
}
# Values the command line has no flag value for: no command, the setting named.
PYTHON_ONLY = {"class_weight": [{0: 1.0, 1: 3.0}]}


def test_every_setting_with_a_flag_has_a_case():
    from tunekit.params import PARAMETERS

    flagged = {name for name, p in PARAMETERS.items() if p.flag} - {"overwrite"}
    assert flagged | {"workers"} == set(SETTING_CASES)


@pytest.mark.parametrize(
    "settings",
    [case for cases in SETTING_CASES.values() for case in cases],
    ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()),
)
def test_every_setting_is_reproduced_or_named(tmp_path, settings):
    x = _features()
    data = Dataset.from_arrays(x, (x[:, 0] > 0.5).astype(int))
    run = _run(data, tmp_path, **settings)
    python_only = [k for k, v in settings.items() if v in PYTHON_ONLY.get(k, [])]
    _check_rule(run, tmp_path, none_naming=f"{python_only[0]}=" if python_only else None)


def test_a_hypermodel_built_with_other_arguments_has_no_command(tmp_path, monkeypatch):
    # --hypermodel module:Class builds Class(input_shape=..., num_classes=...): units=64
    # given in Python is not in the command, which would tune a network of 32 units.
    (tmp_path / "wide_hm.py").write_text(
        "import keras, keras_tuner as kt\n"
        "class Wide(kt.HyperModel):\n"
        "    def __init__(self, input_shape=(8,), num_classes=2, units=32):\n"
        "        super().__init__()\n"
        "        self.input_shape, self.num_classes, self.units = input_shape, num_classes, units\n"
        "    def build(self, hp):\n"
        "        model = keras.Sequential([keras.Input(self.input_shape),\n"
        "            keras.layers.Dense(hp.Int('u', 1, self.units)),\n"
        "            keras.layers.Dense(self.num_classes, activation='softmax')])\n"
        "        model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "        return model\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import wide_hm

    x = _features()
    data = Dataset.from_arrays(x, (x[:, 0] > 0.5).astype(int))
    _check_rule(_run(data, tmp_path, wide_hm.Wide((8,), 2)), tmp_path)
    wide = _run(data, tmp_path, wide_hm.Wide((8,), 2, units=64))
    _check_rule(wide, tmp_path, none_naming="units=64")
    sys.modules.pop("wide_hm", None)


def test_an_image_folder_stream_is_its_folder_when_split_as_the_command_line_splits(
    tmp_path, image_folder
):
    from tunekit.data import StreamData
    from tunekit.image_streams import image_folder_stream

    def stream(**kwargs: Any) -> StreamData:
        return StreamData.from_image_folder(image_folder_stream(image_folder, **kwargs))

    words = shlex.split(cli_equivalent(_run(stream(batch_size=8), tmp_path), "jax") or "")[3:]
    assert words[words.index("--data") + 1] == str(image_folder.resolve())
    args = build_parser().parse_args(words)
    made = _folder_stream(args).to_config()
    assert made == image_folder_stream(image_folder, batch_size=8).to_config()
    # Another split, or shuffled by another seed than the run's: the command line cannot.
    for kwargs, named in (
        (dict(validation_fraction=0.3), "validation_fraction"),
        (dict(seed=2), "seed"),
        (dict(shuffle_seed=5), "shuffle_seed"),
    ):
        _check_rule(_run(stream(**kwargs), tmp_path), tmp_path, none_naming=named)


def test_an_image_folder_run_is_read_back_without_reading_its_headers_again(
    tmp_path, image_folder, monkeypatch
):
    """The stream read every image's header when it was made: the command line's read-back
    takes the folder's format found then (a big folder's headers cost seconds per run)."""
    from tunekit import image_streams
    from tunekit.data import StreamData

    run = _run(
        StreamData.from_image_folder(image_streams.image_folder_stream(image_folder)), tmp_path
    )
    opened: list[Any] = []
    read = image_streams._headers
    monkeypatch.setattr(image_streams, "_headers", lambda check: opened.append(1) or read(check))
    assert cli_equivalent(run, "jax") is not None
    assert opened == []
    # Files other than the stream's (another folder's listing) are read.
    other = [(p, s, "0" * 32) for p, s, _ in run.data.files]
    assert image_streams.folder_format(image_folder, other)[1] == "rgb" and opened == [1]


def test_the_report_names_what_has_no_command_line(tmp_path):
    from tunekit.report_top import reproduce_markdown
    from tunekit.reproduce import command_section

    x = _features()
    data = Dataset.from_arrays(x, (x[:, 0] > 0.5).astype(int))
    run = _run(data, tmp_path, class_weight={0: 1.0, 1: 3.0})
    markdown = "\n".join(reproduce_markdown(command_section(run, "jax")))
    assert "There is no equivalent command line: class_weight={0: 1.0, 1: 3.0}" in markdown
    # A command with DATA says how to write it.
    run = _run(data, tmp_path, class_weight="balanced")
    markdown = "\n".join(reproduce_markdown(command_section(run, "jax")))
    assert "tunekit.data.save_npz(data, 'data.npz')" in markdown


@pytest.mark.parametrize("labels", ["one-hot", "text", "regression"])
def test_save_npz_writes_what_load_npz_reads_back_as_the_dataset(tmp_path, labels):
    import keras

    from tunekit.data import save_npz

    x = _features(300)
    ids = (x[:, 0] * 3).astype(int)
    y = {
        "one-hot": keras.utils.to_categorical(ids, 3),
        "text": np.array(["cat", "dog", "emu"])[ids],
        "regression": np.round(x[:, 1] * 4),
    }[labels]
    data = Dataset.from_arrays(x, y, task="regression" if labels == "regression" else None)
    save_npz(data, tmp_path / "data.npz")
    again = load_npz(tmp_path / "data.npz", task=data.task)
    assert again.fingerprint() == data.fingerprint()
    assert (again.num_classes, again.class_names, again.label_mode) == (
        data.num_classes,
        data.class_names,
        data.label_mode,
    )
    with pytest.raises(ValueError, match="dicts"):
        save_npz(Dataset.from_arrays(x, {"a": x[:, 1], "b": x[:, 2]}), tmp_path / "two.npz")
