"""What the data loaders warn of is kept with the data and written into the run's report.

Probe H: a uint8 `x_train` of a few levels (counts, a mask) was warned of on stderr only,
so `report.md`, what a user keeps, said nothing. Probe G: whole-number float targets
`0.0..K-1` (a count of 0..4, a rating) were taken as classes with no word at all.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tunekit import DataWarning
from tunekit.data import Dataset, load_csv, load_npz


def _counts(n: int = 90, levels: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features and a target of whole numbers `0..levels-1` (a count) that they predict."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = np.arange(n) % levels
    x[:, 0] += y
    return x, y


def _warned(call):
    """`call()`'s result and the `DataWarning`s it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        made = call()
    return made, [w for w in caught if issubclass(w.category, DataWarning)]


@pytest.mark.parametrize("levels", [3, 5, 10])
def test_whole_number_float_targets_taken_as_classes_are_warned_of_and_noted(levels):
    x, y = _counts(levels=levels)
    data, said = _warned(lambda: Dataset.from_arrays(x, y.astype("float64")))
    assert data.task == "classification" and data.num_classes == levels
    assert len(said) == 1 and said[0].filename == __file__  # the line that called the loader
    text = str(said[0].message)
    assert f"taken as the class ids 0..{levels - 1} of {levels} classes" in text
    assert 'task="regression"' in text and "0.0" in text
    assert data.notes == (text,)
    assert data.subset(num_train=30).notes == (text,)  # a sample of the same data


def test_float_targets_of_a_dataset_built_directly_are_noted_too():
    x, y = _counts(levels=4)
    y = y.astype("float32")
    data, said = _warned(
        lambda: Dataset(x[:60], y[:60], x[60:75], y[60:75], x[75:], y[75:], task=None)
    )
    assert data.task == "classification" and len(said) == 1 and said[0].filename == __file__
    assert len(data.notes) == 1 and "class ids 0..3" in data.notes[0]


@pytest.mark.parametrize(
    ("y", "task", "expected"),
    [
        (np.arange(90) % 2 * 1.0, None, "classification"),  # 0.0 / 1.0: a binary label
        (np.arange(90) % 5 * 1.0, "classification", "classification"),  # said: no guess
        (np.arange(90) % 5 * 1.0, "regression", "regression"),
        (np.arange(90) % 5, None, "classification"),  # integers are class ids
    ],
)
def test_no_warning_where_nothing_was_guessed(y, task, expected):
    x, _ = _counts()
    data, said = _warned(lambda: Dataset.from_arrays(x, y, task=task))
    assert data.task == expected and said == [] and data.notes == ()


def test_regression_on_the_warned_targets_tunes_their_values():
    x, y = _counts(levels=5)
    data = Dataset.from_arrays(x, y.astype("float64"), task="regression")
    assert data.task == "regression" and data.y_train.dtype == np.float32
    assert set(np.unique(data.y_train).tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}


def test_a_csv_of_float_class_ids_is_noted(tmp_path):
    x, y = _counts(levels=3)
    rows = ["a,b,c,d,y", *(",".join(f"{v:.4f}" for v in r) + f",{t:.1f}" for r, t in zip(x, y))]
    path = tmp_path / "counts.csv"
    path.write_text("\n".join(rows) + "\n")
    data, said = _warned(lambda: load_csv(path, "y"))
    assert data.task == "classification" and len(said) == 1
    assert len(data.notes) == 1 and "class ids 0..2" in data.notes[0]


def _few_levels_npz(path, levels: int = 4):
    """uint8 8x8 'images' of the values 0..levels-1 (counts), the class in row 0."""
    rng = np.random.default_rng(0)

    def split(n):
        y = np.arange(n) % 3
        x = rng.integers(0, levels, (n, 8, 8)).astype(np.uint8)
        x[:, 0, :] = (y * (levels - 1) // 2)[:, None]
        return x, y

    (x, y), (x_test, y_test) = split(120), split(30)
    np.savez(path, x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    return path


def test_a_uint8_file_of_a_few_levels_is_noted(tmp_path):
    path = _few_levels_npz(tmp_path / "counts.npz")
    data, said = _warned(lambda: load_npz(path))
    assert len(said) == 1 and said[0].filename == __file__
    assert len(data.notes) == 1 and "x_train is uint8 with values only in [0, 3]" in data.notes[0]


def test_a_loader_that_refuses_still_shows_what_it_warned_of(tmp_path):
    """A warning given before a refusal is not swallowed by the loader's note keeping."""
    from tunekit import DataError

    x, y = _counts(levels=3)
    x[5, 1] = np.nan  # refused after the task was inferred
    with pytest.warns(DataWarning, match="class ids 0..2"), pytest.raises(DataError, match="NaN"):
        Dataset.from_arrays(x, y.astype("float64"))


def test_the_report_gives_the_data_warnings():
    from test_report import _minimal_report

    from tunekit.report import render_markdown

    report = _minimal_report({}) | {"data_notes": ["y holds only the whole-number floats 0.0"]}
    markdown = render_markdown(report, "")
    assert "\n- Data warning: y holds only the whole-number floats 0.0\n" in markdown


def test_a_cli_run_on_a_few_levels_file_says_it_in_its_report(tmp_path, capsys, monkeypatch):
    from test_cli import TINY

    from tunekit.cli_main import main

    monkeypatch.chdir(tmp_path)
    _few_levels_npz(tmp_path / "counts.npz")
    argv = ["--data", "counts.npz", "--project-name", "c", "--backend", "tensorflow", *TINY]
    assert main(["run", *argv]) == 0, capsys.readouterr().err
    assert "[data] the .npz 'counts': x_train is uint8" in capsys.readouterr().err
    run_dir = tmp_path / "runs" / "c"
    report = json.loads((run_dir / "report.json").read_text())
    (note,) = report["data_notes"]
    assert "x_train is uint8 with values only in [0, 3]" in note
    assert f"- Data warning: {note}\n" in (run_dir / "report.md").read_text()


def test_a_dataset_built_directly_without_task_reads_float_targets_as_from_arrays_does():
    """Probe J: `Dataset(...)` (default task) took 0.0..11.0 as 12 classes and 0.0..4.0 as
    5 classes with no word, where `from_arrays` refuses the first and warns of the second."""
    from tunekit import DataError

    x = np.random.default_rng(0).normal(size=(300, 4)).astype("float32")

    def built(levels, **kwargs):
        y = (np.arange(300) % levels).astype("float64")
        return Dataset(x[:200], y[:200], x[200:250], y[200:250], x[250:], y[250:], **kwargs)

    with pytest.raises(DataError, match="class labels or a quantity"):
        built(12)
    data, said = _warned(lambda: built(5))
    assert data.task == "classification" and data.num_classes == 5
    assert len(said) == 1 and said[0].filename == __file__ and "class ids 0..4" in data.notes[0]
    for kwargs in ({"task": "classification"}, {}):  # said, or a binary label: no guess
        data, said = _warned(lambda kwargs=kwargs: built(12 if kwargs else 2, **kwargs))
        assert data.task == "classification" and said == [] and data.notes == ()


def test_every_loader_warning_points_at_the_users_line(tmp_path):
    """Probe J: `load_csv`'s warning of a stratified split larger than asked pointed at a
    line inside tunekit (`tabular.py`), where `from_arrays`' points at the caller's."""
    import pandas as pd

    y = np.r_[np.repeat(np.arange(50), 3), np.zeros(28, int)]
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(178, 4)), columns=list("abcd"))
    frame["y"] = y
    frame.to_csv(tmp_path / "many.csv", index=False)
    for load in (
        lambda: load_csv(tmp_path / "many.csv", "y"),
        lambda: Dataset.from_arrays(frame[list("abcd")].to_numpy(), y),
    ):
        data, said = _warned(load)
        assert [w.filename for w in said] == [__file__] and "stratified split" in data.notes[0]


def test_the_uint8_check_reads_the_files_whole_x_train(tmp_path):
    """Probe J: a value of 32 drawn into the validation sixth left the training part below
    32, and the warning called that part the file's `x_train` ("only in [0, 31]")."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 32, (120, 8, 8)).astype(np.uint8)
    x[:, 0, 0] = 0
    x[5, 0, 0] = 32  # one value at 32 in the file
    y = np.arange(120) % 3
    x_test = rng.integers(0, 32, (30, 8, 8)).astype(np.uint8)
    np.savez(tmp_path / "edge.npz", x_train=x, y_train=y, x_test=x_test, y_test=y[:30])
    for seed in range(6):  # wherever the draw puts sample 5
        data, said = _warned(lambda seed=seed: load_npz(tmp_path / "edge.npz", seed=seed))
        assert said == [] and data.notes == ()


@pytest.mark.parametrize("said", [{"class_names": list("abcde")}, {"num_classes": 5}])
def test_classes_named_or_counted_are_no_guess(said):
    """Probe K: `class_names=` or `num_classes=` say the floats are classes, as `task=`
    does; they were warned of as a possible count all the same."""
    x, y = _counts(levels=5)
    data, warned = _warned(lambda: Dataset.from_arrays(x, y.astype("float64"), **said))
    assert data.task == "classification" and warned == [] and data.notes == ()
    y = y.astype("float64")
    data, warned = _warned(
        lambda: Dataset(x[:60], y[:60], x[60:75], y[60:75], x[75:], y[75:], **said)
    )
    assert data.num_classes == 5 and warned == [] and data.notes == ()


def test_a_dataset_built_directly_reads_the_float_targets_of_every_split():
    """Probe K: ids 0..2 in `y_train` and 0..11 in `y_test` made 12 classes while the note
    said 3; as `from_arrays` (which reads `y` and `y_test`), the whole run is refused."""
    from tunekit import DataError

    x = np.random.default_rng(0).normal(size=(300, 4)).astype("float32")
    a, b, c = (np.arange(n) % k * 1.0 for n, k in ((200, 3), (50, 5), (50, 12)))
    with pytest.raises(DataError, match="class labels or a quantity"):
        Dataset(x[:200], a, x[200:250], b, x[250:], c)


def test_the_command_line_says_the_float_ids_fix_by_its_flag(tmp_path, caplog):
    import logging

    from tunekit.cli_data import load_data
    from tunekit.cli_parser import build_parser

    x, y = _counts(levels=4)
    rows = ["a,b,c,d,label", *(",".join(f"{v:.4f}" for v in r) + f",{t:.1f}" for r, t in zip(x, y))]
    (tmp_path / "cli.csv").write_text("\n".join(rows) + "\n")
    args = build_parser().parse_args(["--data", str(tmp_path / "cli.csv"), "--target", "label"])
    with caplog.at_level(logging.WARNING, logger="tunekit.data"):
        data = load_data(args)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[data] ")]
    assert len(said) == 1 and "pass --task regression to tune one" in said[0], said
    assert 'task="regression"' not in said[0] and len(data.notes) == 1


def test_an_image_folder_split_larger_than_asked_is_warned_of_and_noted(tmp_path):
    """Probe K: 12 classes of 4 images made validation and test 25% each (15% asked) with
    only a log line that gave no sizes; arrays of the same labels were warned of."""
    from PIL import Image

    from tunekit.data import load_image_directory

    rng = np.random.default_rng(0)
    for label in range(12):
        (tmp_path / "many" / f"c{label:02d}").mkdir(parents=True)
        for i in range(4):
            image = rng.integers(0, 255, (8, 8), dtype=np.uint8)
            Image.fromarray(image).save(tmp_path / "many" / f"c{label:02d}" / f"{i}.png")
    data, said = _warned(lambda: load_image_directory(tmp_path / "many", (8, 8)))
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (24, 12, 12)
    assert len(said) == 1 and said[0].filename == __file__
    assert "validation 12 (25%, asked 15%), test 12 (25%, asked 15%)" in data.notes[0]
    assert data.notes[0].endswith("add images or merge rare classes.")
