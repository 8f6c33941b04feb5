"""Numbers as a run holds them, shown and read back: exact, and one type in every process.

Before: (1) `tunekit ls` showed a regression run's best score 21744179200.0 as
21744180000.0: a whole number written in float32's shortest form reads back 800 off,
and looks exact. (2) `RunResult.phase_bests[...]["score"]` was an `np.float64` in the
process that ran the search (a hypermodel `fit` returning a dict or a float) and a
Python `float` when read back in a new one.
"""

from __future__ import annotations

import numpy as np
import pytest

from tunekit.cli_main import _cell_text
from tunekit.manifest import RunManifest
from tunekit.results import format_value


@pytest.mark.parametrize(
    "value, text",
    [
        (21744179200.0, "21744179200.0"),  # float32-exact: its shortest form is 2.174418e+10
        (np.float32(21744179200.0), "21744179200.0"),
        (123456792.0, "123456792.0"),
        (3.0, "3.0"),
        (np.float32(0.975), "0.975"),  # a Keras metric: no binary noise
        (0.1 + 0.05, "0.15"),
    ],
)
def test_a_value_is_written_as_a_number_that_reads_back_as_it(value, text):
    assert format_value(value) == text
    assert _cell_text(float(value)) in (text, f"{float(value):.4g}")
    if float(value).is_integer():
        assert float(_cell_text(float(value))) == float(value)


def test_a_step_records_numpy_scalars_as_python_numbers(tmp_path):
    manifest = RunManifest.open(tmp_path / "r", {"seed": 0})
    manifest.mark(
        "coarse",
        "done",
        best_score=np.float64(0.904),
        scores={"a": np.float32(1.5), "b": [np.int64(3)]},
    )
    step = manifest.step("coarse")
    assert type(step["best_score"]) is float and step["best_score"] == 0.904
    assert type(step["scores"]["a"]) is float and type(step["scores"]["b"][0]) is int
    manifest.release()
    again = RunManifest.open(tmp_path / "r", {"seed": 0})
    assert again.step("coarse")["scores"] == {"a": 1.5, "b": [3]}  # as held before
    again.release()
