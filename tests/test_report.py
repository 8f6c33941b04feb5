"""report.md as a reader sees it: what was chosen, plots linked and inline, how to reproduce it."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from conftest import RUN_BUDGET

from tunekit.cli_parser import build_parser
from tunekit.coarse_to_fine import _workflow_kwargs
from tunekit.data import SCALED_UINT8
from tunekit.hypermodel_specs import resolve_hypermodel
from tunekit.reproduce import CLI_PROGRAM, cli_equivalent

_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _links(markdown: str) -> list[str]:
    return _LINK.findall(markdown)


def _code_blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)\n```", markdown, flags=re.S)


def _same_run(command: str, data, run_dir: Path):
    """The `CoarseToFine` the command line builds from `command` (a `python -m ...` line)."""
    from tunekit import CoarseToFine

    words = shlex.split(command)
    assert " ".join(words[:3]) == CLI_PROGRAM
    args = build_parser().parse_args(words[3:])
    hypermodel = resolve_hypermodel(args.hypermodel, augment=args.augment)(data)
    run = CoarseToFine(hypermodel, data, **_workflow_kwargs(args))
    return args, run


def test_python_run_report_links_plots_and_gives_the_call_and_command(finished_run):
    run, result = finished_run
    markdown = (run.run_dir / "report.md").read_text()
    report = json.loads((run.run_dir / "report.json").read_text())
    links = _links(markdown)
    # Every plot the run wrote is linked, relative to the run folder, and every link resolves.
    for name in report["plots"]:
        assert f"(plots/{name}.png)" in markdown, name
    for link in links:
        assert not Path(link).is_absolute() and (run.run_dir / link).is_file(), link
    # The chosen hyperparameters and the three most useful plots come first.
    top = markdown.split("## Run\n")[0]
    assert "## Chosen hyperparameters" in top
    inline = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", top)
    assert inline == ["plots/best_so_far.png", "plots/narrowing.png", "plots/confusion_matrix.png"]
    # A Python run: the CoarseToFine call with its non-default arguments...
    assert report["command"]["interface"] == "python"
    (call,) = _code_blocks(markdown, "python")
    for name in ("coarse_trials=4", "max_epochs=2", "factor=2", "top=0.5", "baseline=False"):
        assert name in call, name
    assert "verbose" not in call and "fine_trials" not in call  # ignored by a Hyperband run
    # ...and the command line with the same settings, which parses back to the same run.
    (command,) = [b for b in _code_blocks(markdown, "sh") if b.startswith(CLI_PROGRAM)]
    assert command == report["command"]["cli_equivalent"]
    args, again = _same_run(command, run.data, run.run_dir)
    assert args.data == "DATA" and args.backend == report["backend"]
    assert again.config() == run.config() and again.run_dir == run.run_dir


def test_cli_equivalent_carries_every_non_default_setting(digits_small, tmp_path):
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    data = digits_small
    run = CoarseToFine(
        MnistDenseHyperModel(data.input_shape, data.num_classes),
        data,
        directory=tmp_path / "my runs",
        project_name="it's",
        objective="val_loss",
        coarse_trials=5,
        defaults_first=False,
        fine_tuner="bayesian",
        fine_trials=3,
        top=0.3,
        margin=0.25,
        final_epochs=4,
        final_schedule="constant",
        batch_size=64,
        cv=2,
        seed=7,
        class_weight="balanced",
        baseline=False,
        final_seeds=2,
    )
    command = cli_equivalent(run, "jax")
    assert command is not None
    args, again = _same_run(command, data, run.run_dir)
    assert again.config() == run.config() and again.run_dir == run.run_dir
    assert args.backend == "jax" and "--finalists" not in command  # off with cv


def test_hypermodel_the_command_line_cannot_name_has_no_cli_equivalent(digits_small, tmp_path):
    import keras

    from tunekit import CoarseToFine

    def build(hp):
        model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
        model.add(keras.layers.Dense(10, activation="softmax"))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    run = CoarseToFine(build, digits_small, directory=tmp_path, **RUN_BUDGET)
    assert cli_equivalent(run, "tensorflow") is None  # a function local to this test


@pytest.mark.long
def test_cli_run_of_a_three_class_npz_reports_it_and_the_command_as_typed(
    tmp_path, capsys, monkeypatch
):
    import keras
    from sklearn.metrics import confusion_matrix
    from test_cli import TINY, _shapes_npz

    from tunekit.cli_main import main

    monkeypatch.chdir(tmp_path)
    data = _shapes_npz(tmp_path / "bands 3.npz", num_classes=3)
    argv = ["--data", "bands 3.npz", "--project-name", "b", "--backend", "tensorflow", *TINY]
    argv += ["--batch-size", "32", "--seed", "3"]
    assert main(["run", *argv]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert (
        "Data: bands 3: 100 train / 20 validation / 30 test, input (8, 8), 3 classes; "
        "x scaling: uint8 pixels divided by 255 to [0, 1]"
    ) in out
    # tunekit's progress (the "tunekit" logger) printed as plain lines, each once.
    assert out.count("\n[coarse] trial 1/3 (id ") == 1 and out.count("Narrowed search space") == 1
    assert out.count("\nRetraining ") == 1
    assert "\nFinal model: 1 epoch on train+validation (a fixed count, not 'auto')\n" in out
    assert "MNIST" not in out and "10 classes" not in out
    run_dir = tmp_path / "runs" / "b"
    # A three-class file gives a three-way model and a 3x3 confusion matrix, sklearn's.
    model = keras.models.load_model(run_dir / "best_model.keras", safe_mode=True)
    assert model.output_shape == (None, 3)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["dataset"]["num_classes"] == 3 and report["dataset"]["name"] == "bands 3"
    assert report["dataset"]["scaling"] == "uint8 pixels divided by 255 to [0, 1]"
    counts = np.array(report["confusion_matrix"]["counts"])
    assert counts.shape == (3, 3) and counts.sum() == 30
    test = np.load(data)
    y_pred = model.predict(test["x_test"] / np.float32(255), verbose=0).argmax(-1)
    np.testing.assert_array_equal(counts, confusion_matrix(test["y_test"], y_pred))
    markdown = (run_dir / "report.md").read_text()
    scaled = (
        "x scaling: uint8 pixels divided by 255 to [0, 1] "
        "(best_model.keras takes x so scaled: `x.astype('float32') / 255`)\n"
    )
    assert markdown.count("uint8 pixels divided by 255") == 1 and scaled in markdown
    assert (
        "; retrained 1 epoch (a fixed count, not 'auto') on train+validation at batch size 32"
        in markdown
    )
    for link in _links(markdown):
        assert (run_dir / link).is_file(), link
    # The program as typed: `tunekit run` (it was always `python -m tunekit.coarse_to_fine`,
    # which another shell's `python` may not run).
    assert CLI_PROGRAM not in markdown
    (block,) = [b for b in _code_blocks(markdown, "sh") if "tunekit run" in b]
    cd, command = block.split("\n")
    assert shlex.split(cd) == ["cd", str(tmp_path)]  # pasted anywhere, it resumes this run
    words = shlex.split(command)
    assert words[:2] == ["tunekit", "run"] and words[2:] == argv  # quoted for a shell
    assert vars(build_parser().parse_args(words[2:])) == vars(build_parser().parse_args(argv))
    assert f"from the folder `{tmp_path}`" in markdown
    assert report["command"] == {
        "interface": "cli",
        "argv": argv,
        "cwd": str(tmp_path),
        "program": "tunekit run",
        "reproduce": command,
    }
    # The test accuracy's Wilson interval, with the baseline off (TINY): from the
    # confusion matrix's diagonal, the test examples the saved model got right.
    from tunekit.stats import wilson_interval

    counts = np.asarray(report["confusion_matrix"]["counts"])
    found = report["test_intervals"]["accuracy"]
    assert report["baseline"] is None and found["method"] == "Wilson"
    assert found["value"] == pytest.approx(np.trace(counts) / counts.sum())
    assert found["interval"] == pytest.approx(list(wilson_interval(np.trace(counts), counts.sum())))
    low, high = found["interval"]
    assert f"| [{low:.4f}, {high:.4f}] (Wilson) |" in markdown


def _minimal_report(plots: dict[str, str]) -> dict:
    return {
        "run_dir": "runs/r",
        "config": {
            "hypermodel": {"class": "m.M"},
            "objective": "val_loss",
            "direction": "min",
            "seed": 0,
        },
        "best": {
            "phase": "fine",
            "trial_id": "0001",
            "reason": "",
            "final_epochs": 1,
            "num_params": 10,
        },
        "data": "d",
        "dataset": {"scaling": "s", "task": "regression"},
        "backend": "jax",
        "versions": {},
        "test_metrics": {"mse": 0.5},
        "phases": {},
        "timings": {},
        "plots": plots,
    }


@pytest.mark.parametrize(
    ("written", "inline"),
    [
        (  # regression: predicted against true values instead of a confusion matrix
            ["parallel_coordinates", "best_so_far", "narrowing", "predicted_vs_true", "residuals"],
            ["best_so_far", "narrowing", "predicted_vs_true"],
        ),
        (  # several outputs: neither; the next most useful plot
            ["parallel_coordinates", "best_so_far", "narrowing", "training_curves"],
            ["best_so_far", "narrowing", "parallel_coordinates"],
        ),
    ],
)
def test_the_three_most_useful_plots_the_run_wrote_are_inline(written, inline):
    from tunekit.report import render_markdown

    plots = {name: f"runs/r/plots/{name}.png" for name in written}
    markdown = render_markdown(_minimal_report(plots), "")
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown) == [f"plots/{n}.png" for n in inline]
    assert [link for link in _links(markdown) if link.startswith("plots/")] == [
        *(f"plots/{n}.png" for n in inline),
        *(f"plots/{n}.png" for n in written),
    ]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--seed", "1"], "Rerun from anywhere (it goes to that folder first), it resumes"),
        (["--overwrite", "--seed", "1"], "deletes this run folder and trains it all again"),
    ],
)
def test_cli_reproduce_says_what_a_rerun_does(argv, said):
    from tunekit.report import render_markdown

    report = _minimal_report({})
    report["command"] = {
        "interface": "cli",
        "argv": argv,
        "cwd": "/somewhere",
        "reproduce": f"{CLI_PROGRAM} {shlex.join(argv)}",
    }
    markdown = render_markdown(report, "")
    assert f"```sh\ncd /somewhere\n{CLI_PROGRAM} {shlex.join(argv)}\n```" in markdown
    assert said in markdown
    report["command"]["cwd"] = "/my runs/it's here"
    (block,) = [b for b in _code_blocks(render_markdown(report, ""), "sh") if CLI_PROGRAM in b]
    assert shlex.split(block.split("\n")[0]) == ["cd", "/my runs/it's here"]


def test_the_dashboard_command_is_relative_to_the_run_folder_like_the_links():
    """`runs/my run` was the path from the folder the run started in, not from report.md's."""
    from tunekit.report import render_markdown

    report = _minimal_report({})
    report["run_dir"] = "runs/my run"
    markdown = render_markdown(report, "")
    assert "from this run folder" in markdown
    assert "tensorboard --logdir tensorboard" in _code_blocks(markdown, "sh")
    assert "runs/my run/tensorboard" not in markdown


def test_with_weighed_classes_the_note_judges_balanced_accuracy():
    """The helper's case: balanced weights found every minority sample (confusion
    [[234, 44], [0, 22]]); plain accuracy 0.853 < the majority's 0.927 is the price."""
    from tunekit.report_scores import usefulness_note

    y = np.array([0] * 278 + [1] * 22)
    pred = np.array([0] * 234 + [1] * 44 + [1] * 22)
    assert usefulness_note(y, pred, "classification") is not None  # plain accuracy: noted
    assert usefulness_note(y, pred, "classification", weighed=True) is None  # balanced 0.92
    note = usefulness_note(y, np.zeros_like(y), "classification", weighed=True)
    assert note is not None and note.startswith(
        "Note: test balanced accuracy 0.5000 (the classes were weighed) is no better than a "
        "constant guess's (0.5000)"
    )


def test_an_output_no_better_than_a_constant_guess_is_said_so():
    """Found by a helper: a model of two outputs tested at `rare_accuracy` 0.48 on an output
    whose most frequent class is 0.92 of the test set, with no note."""
    from types import SimpleNamespace

    from tunekit.report_scores import outputs_usefulness_note

    def note(y_test, metrics):
        return outputs_usefulness_note(SimpleNamespace(y_test=y_test, scaling=None), metrics)

    y_test = {"digit": np.arange(90) % 10, "rare": (np.arange(90) % 10 == 0).astype(int)}
    metrics = {"digit_accuracy": 0.9, "rare_accuracy": 0.4778, "loss": 1.0}
    said = note(y_test, metrics)
    assert said is not None and said.startswith(
        "Note: test rare_accuracy 0.4778 is no better than always predicting output 'rare''s "
        "most frequent class (0.9000 of the test set)"
    )
    assert "digit_accuracy" not in said  # 0.90 against a share of 0.10
    assert note(y_test, {**metrics, "rare_accuracy": 0.95}) is None
    assert "'digit'" in note({"digit": np.eye(10)[np.arange(90) % 10]}, {"digit_accuracy": 0.1})
    assert note({"size": np.linspace(0, 1, 90)}, {"size_accuracy": 0.0}) is None
    assert note(np.arange(90) % 10, {"accuracy": 0.0}) is None  # one output: usefulness_note's


def test_a_model_no_better_than_a_constant_guess_is_said_so():
    # Unscaled CSV features gave 0.37 accuracy, every example the minority class, with
    # no warning (and regression R² < 0 was noted only inside the baseline's verdict).
    from tunekit.report import render_markdown
    from tunekit.report_scores import usefulness_note

    y = np.array([0] * 54 + [1] * 32)
    note = usefulness_note(y, np.ones_like(y), "classification", ["benign", "malignant"])
    assert note is not None and note.startswith(
        "Note: test accuracy 0.3721 is no better than always predicting the most frequent "
        "class ('benign', 0.6279 of the test set)"
    )
    assert "are the features scaled" in note
    assert usefulness_note(y, np.zeros_like(y), "classification") is not None  # = majority
    # Images tunekit scaled itself (an image folder, MNIST): not asked to scale them.
    pixels = usefulness_note(y, np.ones_like(y), "classification", scaling=SCALED_UINT8)
    assert "scaled (e.g." not in pixels and "the pixels were scaled to [0, 1]" in pixels
    good = y.copy()
    good[:5] = 1
    assert usefulness_note(y, good, "classification") is None  # 0.94 > 0.63
    values = np.linspace(0.0, 1.0, 50)
    assert "test R² -" in usefulness_note(values, values[::-1], "regression")
    assert "far from unit scale" not in usefulness_note(values, values[::-1], "regression")
    hundreds = 150.0 + 70.0 * values
    scale = usefulness_note(hundreds, hundreds[::-1], "regression")
    assert "far from unit scale (the test targets' mean 185, std 20.62): standardise" in scale
    assert "keras.layers.Rescaling(std, offset=mean) (the training targets'" in scale
    assert "with a bundled hypermodel (the command line's), scale the target column" in scale
    millionths = 1e-6 * values  # a new user's targets: the note asked only about features
    tiny = usefulness_note(millionths, millionths[::-1], "regression")
    assert "far from unit scale (the test targets' mean 5e-07, std 2.945e-07)" in tiny
    assert "far from unit scale" not in usefulness_note(
        0.02 * values, values[::-1] / 50, "regression"
    )
    assert usefulness_note(values, values + 0.01, "regression") is None
    assert usefulness_note(y, None, "classification") is None

    report = {**_minimal_report({}), "test_note": "Note: test R² -2 is no better ..."}
    assert "\nNote: test R² -2 is no better ...\n" in render_markdown(report, "")


@pytest.mark.parametrize("n, withheld", [(4, True), (19, True), (20, False)])
def test_regression_intervals_are_withheld_on_a_handful_of_test_examples(
    n: int, withheld: bool
) -> None:
    """4 test examples gave R² 'from -1508 to 0': an artefact, not an uncertainty."""
    from tunekit.report_scores import interval_cell, test_intervals

    rng = np.random.default_rng(0)
    y_true = rng.normal(size=n)
    y_pred = y_true + rng.normal(scale=0.5, size=n)
    intervals = test_intervals(y_true, y_pred, "regression")
    assert set(intervals) == {"mse", "mae", "rmse", "r2"}
    for name, found in intervals.items():
        assert np.isfinite(found["value"])
        cell = interval_cell(intervals, name)
        if withheld:
            assert found["interval"] is None
            assert found["method"] == (
                f"none: {n} test examples, too few for a bootstrap interval (it needs at least 20)"
            )
            assert cell == found["method"]
        else:
            low, high = found["interval"]
            assert low <= found["value"] <= high
            assert cell.startswith("[") and cell.endswith("(BCa bootstrap)")
    # Classification keeps Wilson's interval at any size: it is exact enough for small n.
    few = test_intervals(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), "classification")
    assert few["accuracy"]["interval"] is not None
