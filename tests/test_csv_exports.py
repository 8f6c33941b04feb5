"""CSVs as spreadsheets and lab software export them, and `.npz` files of object arrays.

Found by a new-user probe: a named pandas index used as a feature (a leak, exit 0), an
empty column refused as missing values to drop by row (every row), `;`/tab files whose
column names hold commas, Excel's `sep=;` line, UTF-16 text, preamble lines, and
object arrays in an `.npz`. Each refusal names the fix, and the fix given loads the file.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from tunekit.coarse_to_fine import main
from tunekit.data import load_csv, load_npz
from tunekit.errors import DataError

GERMAN = ["Länge, Kelch", "Breite, Kelch", "Länge, Blüte", "Breite, Blüte", "Art"]


def _iris(n: int = 60) -> pd.DataFrame:
    """`n` rows of iris sorted by class (as load_iris gives them), `species` as text."""
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame["species"] = np.array(data.target_names)[data.target]
    return frame.iloc[np.r_[0:20, 50:70, 100:120][:n]].reset_index(drop=True)


def _follow(message: str, path) -> None:
    """Runs the pandas call the message gives, as given."""
    found = re.search(r"pandas: (pd\.read_csv\(path.*?\.to_csv\(path, index=False\))", message)
    assert found, message
    exec(found.group(1), {"pd": pd, "path": path})


def _refused_then_fixed(path, match: str, *said: str) -> str:
    """`load_csv(path, target="species")` is refused (`match`, and each of `said` in the
    message); the pandas call the message gives (`_follow`) makes the file load. Returns
    the message."""
    with pytest.raises(DataError, match=match) as caught:
        load_csv(path, target="species")
    message = str(caught.value)
    for text in said:
        assert text in message, message
    _follow(message, path)
    assert load_csv(path, target="species").input_shape == (4,)
    return message


@pytest.mark.parametrize(
    ("name", "start"),
    [("Sample", 1), ("Patient", 0), ("order", 1)],
    ids=["Sample", "Patient_from_0", "order"],
)
def test_a_first_column_of_the_row_numbers_is_refused_under_any_name(tmp_path, name, start):
    """`d.index.name = "Sample"; d.to_csv(p)`: the row numbers of a file sorted by class were
    a feature (exit 0, a leak); only names like `id`/`row` were refused."""
    frame = _iris()
    frame.index = frame.index + start
    frame.index.name = name
    path = tmp_path / "x.csv"
    frame.to_csv(path)
    _refused_then_fixed(
        path,
        rf"its first column, '{name}', holds exactly the row numbers {start}\.\.{start + 59} "
        r"in row order: a pandas index saved.*pd\.read_csv\(path, index_col=0\)\.to_csv",
    )


@pytest.mark.parametrize(
    "name", ["t", "day", "Time (s)", "year", "frame", "timestamp", "iteration", "distance_m"]
)
def test_a_first_column_0_to_n_named_as_a_time_is_a_feature_warned_of_when_sorted(tmp_path, name):
    """Note 67: a first column `t` of exactly 0..n-1 beside a noisy target was refused as a
    pandas index, and the fix (`index_col=0`) dropped the user's time column. Named as a
    time it is a feature; the counter warning still says both readings when the target is
    sorted in its order (a day beside cumulative cases, or a row number named `day`)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({name: np.arange(80), "a": rng.normal(size=80)})
    frame["b"], frame["y"] = rng.normal(size=80), rng.normal(size=80) + 0.05 * frame[name]
    frame.to_csv(tmp_path / "noisy.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: the target does not follow the rows
        assert load_csv(tmp_path / "noisy.csv", target="y", task="regression").input_shape == (3,)
    frame["y"] = np.cumsum(rng.random(80))  # cumulative: sorted in the column's order
    frame.to_csv(tmp_path / "sorted.csv", index=False)
    with pytest.warns(UserWarning, match=rf"column '{re.escape(name)}' counts the rows"):
        load_csv(tmp_path / "sorted.csv", target="y", task="regression")


@pytest.mark.parametrize(
    "values",
    [np.arange(2, 62), np.arange(60)[::-1], np.r_[0:30, 31:61], np.arange(60) % 7],
    ids=["from_2", "reversed", "a_gap", "repeats"],
)
def test_a_first_column_not_exactly_the_row_numbers_is_a_feature(tmp_path, values):
    frame = _iris()
    frame.insert(0, "dose", values)
    frame.to_csv(tmp_path / "ok.csv", index=False)
    assert load_csv(tmp_path / "ok.csv", target="species").input_shape == (5,)


def test_an_empty_column_is_refused_as_one_to_drop(tmp_path):
    """'Unnamed: 5' of nothing was "missing values: ... drop those rows (dropna)": every row."""
    path = tmp_path / "e.csv"
    _iris().assign(**{"Unnamed: 5": np.nan}).to_csv(path, index=False)
    with pytest.raises(
        DataError,
        match=r"column\(s\) 'Unnamed: 5' have no values at all \(every one of the 60 cells is "
        r"missing\).*pd\.read_csv\(path\)\.drop\(columns=\['Unnamed: 5'\]\)\.to_csv",
    ) as caught:
        load_csv(path, target="species")
    assert "dropna" not in str(caught.value)
    found = re.search(r"pandas: (pd\.read_csv\(path\)\.drop.*?index=False\))", str(caught.value))
    exec(found.group(1), {"pd": pd, "path": path})
    assert load_csv(path, target="species").input_shape == (4,)


def test_a_trailing_separator_on_every_line_is_told_and_the_fix_loads(tmp_path):
    """`;` at the end of each line: the advice sep=';' wrote an empty 'Unnamed: 5', then
    refused as missing values whose rows to drop (all of them)."""
    path = tmp_path / "t.csv"
    lines = _iris().to_csv(sep=";", index=False).splitlines()
    path.write_text("".join(line + ";\n" for line in lines))
    _refused_then_fixed(path, r"ends every line with ';'.*dropna\(axis=1")
    pd.read_csv(path).assign(**{"Unnamed: 5": np.nan}).to_csv(path, index=False)  # sep= alone
    with pytest.raises(DataError, match=r"'Unnamed: 5' have no values at all.*drop\(columns="):
        load_csv(path, target="species")


@pytest.mark.parametrize(
    ("sep", "decimal", "said", "call"),
    [
        (
            ";",
            ",",
            r"with ';' and to write numbers with decimal commas \(5,1\)",
            "sep=';', decimal=','",
        ),
        (";", ".", r"with ';', not commas", "sep=';'"),
        (
            "\t",
            ",",
            r"with '\\t' and to write numbers with decimal commas",
            r"sep='\\t', decimal=','",
        ),
        ("\t", ".", r"with '\\t', not commas", r"sep='\\t'"),
    ],
    ids=["semicolon_decimal_commas", "semicolon", "tab_decimal_commas", "tab"],
)
def test_another_separator_is_found_when_the_names_hold_commas(tmp_path, sep, decimal, said, call):
    """'Länge, Kelch;Breite, Kelch;...' read with commas gave ' Kelch;Breite' and "target
    'Art' is not a column", no word of the separator."""
    frame = _iris()
    frame.columns = GERMAN
    path = tmp_path / "de.csv"
    frame.to_csv(path, sep=sep, decimal=decimal, index=False)
    with pytest.raises(
        DataError, match=rf"de\.csv' seems to separate its columns {said}"
    ) as caught:
        load_csv(path, target="Art")
    message = str(caught.value)
    assert f"pd.read_csv(path, {call.replace(chr(92) * 2, chr(92))})" in message
    assert "'Länge, Kelch'" in message  # the columns read with its separator
    _follow(message, path)
    ds = load_csv(path, target="Art")
    assert ds.input_shape == (4,) and ds.class_names == ["setosa", "versicolor", "virginica"]


@pytest.mark.parametrize("sep", [";", ","], ids=["semicolon", "comma"])
def test_excels_sep_line_is_skipped_in_the_advice(tmp_path, sep):
    """A first line `sep=;` got pd.read_csv(path, sep=';'), which made 'sep=' the header."""
    path = tmp_path / "excel.csv"
    path.write_text(f"sep={sep}\n" + _iris().to_csv(sep=sep, index=False))
    said = f"pd.read_csv(path, sep='{sep}', skiprows=1)"
    _refused_then_fixed(path, rf"starts with Excel's line 'sep={sep}'", said)


@pytest.mark.parametrize(
    ("sep", "call"),
    [("\t", "sep='\\t', encoding='utf-16'"), (",", "encoding='utf-16'")],
    ids=["unicode_text_tabs", "commas"],
)
def test_utf16_text_is_told_with_its_encoding(tmp_path, sep, call):
    """Excel's "Unicode Text" (UTF-16, tabs) got encoding='latin-1', which reads garbage."""
    path = tmp_path / "u16.csv"
    _iris().to_csv(path, sep=sep, index=False, encoding="utf-16")
    match = r"it is UTF-16 text \(it starts with a UTF-16 byte order"
    message = _refused_then_fixed(path, match, f"pd.read_csv(path, {call})")
    assert "latin-1" not in message


@pytest.mark.parametrize(
    ("preamble", "call"),
    [
        ("# exported from LabSys\n# units: cm\n", "comment='#'"),
        ("Exported from LabSys\nunits: cm\n\n", "skiprows=3"),
        ("# exported from LabSys, #42\n", "skiprows=1"),
    ],
    ids=["comment_lines", "text_lines_and_a_blank", "comment_with_hash_in_data"],
)
def test_lines_before_the_header_are_told_with_the_argument_to_skip_them(tmp_path, preamble, call):
    """Only "Error tokenizing data. C error: Expected 1 fields in line 3, saw 5", no fix."""
    path = tmp_path / "lab.csv"
    frame = _iris()
    if "#42" in preamble:  # a '#' in the data: comment='#' would cut those rows
        frame["species"] = frame["species"] + "#1"
    path.write_text(preamble + frame.to_csv(index=False))
    _refused_then_fixed(path, r"line\(s\) before its header", f"pd.read_csv(path, {call})")


@pytest.mark.parametrize(
    ("sep", "call"),
    [(";", "sep=';', skiprows=1"), (",", "skiprows=1")],
    ids=["semicolons", "commas"],
)
@pytest.mark.parametrize(
    "title", ["Messreihe 3{sep}{sep}{sep}{sep}", "Probe{sep}17{sep}{sep}{sep}"]
)
def test_a_title_row_padded_with_separators_is_told_as_a_line_to_skip(tmp_path, sep, call, title):
    """`Messreihe 3;;` (a title row as Excel writes it, padded to the table's width) or
    `Probe,17,,` (a key and its value) was taken as the header: `;` got sep=';' without
    skiprows, `,` got "column(s) 2, 3 have no name in the header"."""
    path = tmp_path / "titled.csv"
    path.write_text(title.format(sep=sep) + "\n" + _iris().to_csv(sep=sep, index=False))
    _refused_then_fixed(path, r"1 line\(s\) before its header", f"pd.read_csv(path, {call})")


@pytest.mark.parametrize(
    ("key", "fix"),
    [
        ("y_train", "y_train=np.asarray(y_train).astype(str)"),
        ("class_names", "class_names=np.asarray(class_names).astype(str)"),
        ("x_train", "x_train=np.asarray(x_train, dtype=np.float32)"),
    ],
)
def test_an_npz_of_object_arrays_names_the_key_and_the_fix(tmp_path, key, fix):
    """np.savez(..., y_train=df['species'].values) was "not a valid .npz ... Expected ...
    numeric arrays", no key's fix."""
    frame = _iris()
    x = frame.iloc[:, :4].to_numpy(np.float32)
    test = x + np.float32(0.05)  # other rows: splits sharing rows are refused
    arrays = dict(x_train=x, y_train=np.arange(60) % 3, x_test=test, y_test=np.arange(60) % 3)
    if key == "y_train":
        arrays[key] = frame["species"].to_numpy(dtype=object)
        arrays["y_test"] = frame["species"].to_numpy(dtype=str)
    elif key == "class_names":
        arrays[key] = np.array(["setosa", "versicolor", "virginica"], dtype=object)
    else:
        arrays[key] = np.array(list(x), dtype=object)
    np.savez(tmp_path / "o.npz", **arrays)
    with pytest.raises(
        DataError, match=rf"array '{key}' is an object array \(dtype=object.*does not load pickles"
    ) as caught:
        load_npz(tmp_path / "o.npz")
    assert fix in str(caught.value)
    arrays[key] = eval(fix.split("=", 1)[1], {"np": np, key: arrays[key]})  # the fix given
    np.savez(tmp_path / "o.npz", **arrays)
    assert load_npz(tmp_path / "o.npz").input_shape == (4,)


def test_the_command_line_exits_2_with_the_message(tmp_path, capsys):
    frame = _iris()
    frame.columns = GERMAN
    frame.to_csv(tmp_path / "de.csv", sep=";", decimal=",", index=False)
    args = ["--data", str(tmp_path / "de.csv"), "--target", "Art", "--quick"]
    assert main([*args, "--directory", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "seems to separate its columns with ';'" in err
    assert "pd.read_csv(path, sep=';', decimal=',')" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("trial*"))


def test_an_only_feature_of_0_to_n_is_kept(tmp_path):
    """`y = 2x + 1` over x = 0, 1, 2, ...: no row numbers beside other features."""
    x = np.arange(40)
    pd.DataFrame({"x": x, "y": 2.0 * x + 1}).to_csv(tmp_path / "line.csv", index=False)
    assert load_csv(tmp_path / "line.csv", target="y").input_shape == (1,)


def test_a_first_line_as_wide_as_the_header_names_the_line_that_holds_the_target(tmp_path):
    """`Probe,17,ok,x,y` above the names (no empty field to tell it from a header): only
    "target 'species' is not a column"; it now names the line that holds the target."""
    path = tmp_path / "probe.csv"
    path.write_text("Probe,17,ok,x,y\n" + _iris().to_csv(index=False))
    said = ("Line 2 names 'species'", "pd.read_csv(path, skiprows=1)")
    _refused_then_fixed(path, r"is not a column", *said)
