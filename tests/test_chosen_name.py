"""The chosen trial is named as its progress line named it: phase, number and id.

Before: the summary's and report.md's `Chosen:` line said `fine trial (id 3)`, so the
trial was found in what the run printed only by reading every line's id.
"""

from __future__ import annotations

import json

from tunekit.trial_names import chosen_name


def test_the_chosen_trial_has_the_number_of_its_progress_line(tmp_path):
    (tmp_path / "fine").mkdir()
    state = {"end_order": ["2", "0", "1"], "start_order": ["0", "1", "2"]}
    (tmp_path / "fine" / "oracle.json").write_text(json.dumps(state))
    assert chosen_name(tmp_path, "fine", "0") == "fine trial 2 (id 0)"
    assert chosen_name(tmp_path, "fine", "2") == "fine trial 1 (id 2)"
    assert chosen_name(tmp_path, "fine", "7") == "fine trial (id 7)"  # never ended: no number


def test_a_run_without_its_oracle_file_names_the_trial_by_id(tmp_path):
    assert chosen_name(tmp_path, "coarse", "3") == "coarse trial (id 3)"
    (tmp_path / "coarse").mkdir()
    (tmp_path / "coarse" / "oracle.json").write_text("{truncated")
    assert chosen_name(tmp_path, "coarse", "3") == "coarse trial (id 3)"
