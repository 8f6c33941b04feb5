"""`--augment` / `--no-augment`: toonvision-cnn's RandomFlip is the user's choice, off by default.

It was chosen from the data's name (`augment=data.name != "mnist"`): an MNIST slice saved
as `mnist_small.npz`, or any folder of digits, trained on left-right flipped images,
and a folder named `mnist` lost it; nothing on the command line said so.
These tests resolve and build the hypermodel as the command line does, without training.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit.coarse_to_fine import _load_data, _workflow_kwargs, build_parser, main
from tunekit.hypermodel_specs import resolve_hypermodel


def _npz(path: Path) -> Path:
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    x = rng.integers(0, 255, (90, 12, 12)).astype(np.uint8)
    np.savez(path, x_train=x[:60], y_train=y[:60], x_test=x[60:], y_test=y[60:])
    return path


def _folder(path: Path) -> Path:
    from PIL import Image

    for name in ("a", "b"):
        (path / name).mkdir(parents=True)
        for i in range(6):
            shade = 20 * i + (100 if name == "b" else 0)
            Image.new("L", (12, 12), shade).save(path / name / f"{i}.png")
    return path


def _flips(hypermodel) -> bool:
    model = hypermodel.build(kt.HyperParameters())
    return any(isinstance(layer, keras.layers.RandomFlip) for layer in model.layers)


def _cli_hypermodel(argv: list[str]):
    """The hypermodel the command line builds for `argv` (parsed, data loaded, resolved)."""
    args = build_parser().parse_args(argv)
    data = _load_data(args)
    options = {"augment": args.augment} if "augment" in vars(args) else {}
    return resolve_hypermodel(args.hypermodel, **options)(data), data


def test_the_data_name_never_turns_augmentation_on_or_off(tmp_path):
    """An .npz or folder named mnist, one named otherwise, a symlink: all the same model."""
    paths = [
        _npz(tmp_path / "mnist.npz"),
        _npz(tmp_path / "mnist_small.npz"),  # was flipped: a slice of MNIST digits
        _npz(tmp_path / "digits.npz"),
        _folder(tmp_path / "mnist"),  # was not flipped: a folder of anything named mnist
        _folder(tmp_path / "letters"),  # was flipped
    ]
    link = tmp_path / "my_digits.npz"
    link.symlink_to(paths[0])  # took its target's name
    paths.append(link)
    for path in paths:
        hypermodel, data = _cli_hypermodel(["--hypermodel", "toonvision-cnn", "--data", str(path)])
        assert hypermodel.augment is False, path
        assert not _flips(hypermodel), path


@pytest.mark.parametrize("name", ["mnist.npz", "letters.npz"])
def test_augment_adds_the_random_flip_and_no_augment_leaves_it_out(tmp_path, name):
    path = str(_npz(tmp_path / name))
    on, _ = _cli_hypermodel(["--hypermodel", "toonvision-cnn", "--data", path, "--augment"])
    assert on.augment is True and _flips(on)
    off, _ = _cli_hypermodel(["--hypermodel", "toonvision-cnn", "--data", path, "--no-augment"])
    assert off.augment is False and not _flips(off)


@pytest.mark.parametrize(
    "hypermodel, flag, said",
    [
        ("dense", "--augment", "--hypermodel dense has no augmentation. Drop --augment."),
        ("mnist-dense", "--no-augment", "--hypermodel mnist-dense has no augmentation."),
        ("os.path:join", "--augment", "--hypermodel os.path:join is your own hypermodel"),
    ],
)
def test_augment_with_a_hypermodel_without_augmentation_exits_2(
    tmp_path, capsys, hypermodel, flag, said
):
    argv = ["--hypermodel", hypermodel, flag, "--directory", str(tmp_path / "runs")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: {flag} only applies to --hypermodel toonvision-cnn" in err
    assert said in err
    assert not (tmp_path / "runs").exists()  # before anything loads or is written


@pytest.mark.parametrize("flags", [["--augment", "--no-augment"], ["--no-augment", "--augment"]])
def test_augment_and_no_augment_together_exit_2(tmp_path, capsys, flags):
    # argparse lets the last switch win: the run went on with one of them, silently.
    argv = ["--hypermodel", "toonvision-cnn", *flags, "--directory", str(tmp_path / "runs")]
    assert main(argv) == 2
    assert "--augment and --no-augment both given" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_the_opening_lines_say_whether_the_cnn_augments(tmp_path):
    from tunekit.cli_summary import opening
    from tunekit.workflow import CoarseToFine

    path = str(_npz(tmp_path / "shapes.npz"))
    for flag, said in [
        ("--no-augment", "Hypermodel: toonvision-cnn; augmentation off (--augment: "),
        ("--augment", "Hypermodel: toonvision-cnn; augmentation on (RandomFlip horizontal"),
    ]:
        hypermodel, data = _cli_hypermodel(["--hypermodel", "toonvision-cnn", "--data", path, flag])
        run = CoarseToFine(hypermodel, data, directory=tmp_path / "runs")
        assert said in opening(run, data, "toonvision-cnn")
    hypermodel, data = _cli_hypermodel(["--hypermodel", "dense", "--data", path])
    run = CoarseToFine(hypermodel, data, directory=tmp_path / "runs")
    assert opening(run, data, "dense").endswith("\nHypermodel: dense")


def test_a_run_recorded_with_augmentation_resumes_only_with_augment(tmp_path, capsys):
    """Runs made before augmentation was off by default recorded augment=True for a folder or
    an .npz not named mnist: resumed without --augment, the refusal names the change."""
    from tunekit.manifest import RunManifest
    from tunekit.workflow import CoarseToFine

    path = str(_npz(tmp_path / "shapes.npz"))
    base = ["--hypermodel", "toonvision-cnn", "--data", path, "--directory", str(tmp_path)]
    base += ["--backend", "tensorflow"]
    args = build_parser().parse_args([*base, "--augment"])
    data = _load_data(args)
    old = CoarseToFine(
        resolve_hypermodel(args.hypermodel, augment=True)(data), data, **_workflow_kwargs(args)
    )
    assert old.config()["hypermodel"]["augment"] is True
    manifest = RunManifest.open(old.run_dir, old.config())
    manifest.mark("coarse", "done")  # a finished step: refused, not started over
    manifest.release()
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "hypermodel augment: True -> False" in err, err
    # With --augment it is the same run: the manifest opens (a resume), nothing refused.
    again = CoarseToFine(
        resolve_hypermodel(args.hypermodel, augment=args.augment)(data),
        data,
        **_workflow_kwargs(args),
    )
    assert again.config() == old.config()
    RunManifest.open(again.run_dir, again.config()).release()
    state = json.loads((again.run_dir / "manifest.json").read_text())
    assert state["steps"]["coarse"]["status"] == "done"


def test_the_cli_equivalent_of_a_python_cnn_run_carries_augment(tmp_path, digits_small):
    from hypermodels import ToonVisionCNNHyperModel
    from tunekit.reproduce import CLI_PROGRAM, cli_equivalent
    from tunekit.workflow import CoarseToFine

    data = digits_small
    for augment in (True, False):
        hypermodel = ToonVisionCNNHyperModel(
            data.input_shape, data.num_classes, augment=augment, rescale=False
        )
        run = CoarseToFine(hypermodel, data, directory=tmp_path)
        command = cli_equivalent(run, "tensorflow")
        assert command is not None and command.startswith(CLI_PROGRAM)
        assert ("--augment" in shlex.split(command)) == augment
        args = build_parser().parse_args(shlex.split(command)[len(CLI_PROGRAM.split()) :])
        again = resolve_hypermodel(args.hypermodel, augment=args.augment)(data)
        assert again.augment == augment
    # The command line always builds it with rescale=False: no command for rescale=True.
    hypermodel = ToonVisionCNNHyperModel(data.input_shape, data.num_classes, augment=False)
    assert cli_equivalent(CoarseToFine(hypermodel, data, directory=tmp_path), "jax") is None


def test_readme_and_help_name_the_option():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "`--augment`" in readme
    assert "--augment, --no-augment" in build_parser().format_help()


def test_cli_message_says_augment_as_its_switch():
    from tunekit.cli_parser import cli_message
    from tunekit.errors import UsageError

    said = cli_message(UsageError("pass augment=True, or augment=False to leave it out"))
    assert said == "pass --augment, or --no-augment to leave it out"
