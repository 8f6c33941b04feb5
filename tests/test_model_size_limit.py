"""KerasTuner's `max_model_size` (and failure settings) in tunekit: every phase, CLI, resume.

An oversized configuration is rejected when an oracle proposes it (built,
not trained): it never becomes a trial, so the coarse budget counts trained
trials, Hyperband and Bayesian never see a failed trial, and no model over
the limit can win.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import pytest

from tunekit import CoarseToFine
from tunekit.cli_summary import summary as cli_summary
from tunekit.coarse_to_fine import _workflow_kwargs, build_parser, main
from tunekit.data import Dataset
from tunekit.errors import InvalidParameterError, ModelSizeLimitError, RunConfigError
from tunekit.manifest import RunManifest
from tunekit.params import PARAMETERS
from tunekit.report import _size_limit_lines
from tunekit.tuners import (
    DefaultsFirstRandomSearchOracle,
    FixedSpaceBayesianOracle,
    HyperbandOracle,
    ModelSizeLimit,
    RandomSearchOracle,
    make_tuner,
)

LIMIT = 20_000
# Flatten(784) -> Dense(units) -> Dense(10): 795 * units + 10 parameters. Units 4..64 step 4:
# 3,190 .. 50,890 parameters; LIMIT keeps units <= 24 (6 of 16 values); the default (48,
# 38,170 parameters) is over it, so the coarse phase's first proposal is rejected.
_TINY_DENSE = """
    import keras

    def tiny_dense(hp):
        units = hp.Int("units", 4, 64, step=4, default=48)
        rate = hp.Choice("learning_rate", [1e-3, 3e-3, 1e-2], default=3e-3)
        model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                                  keras.layers.Dense(units, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer=keras.optimizers.Adam(rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
"""


def tiny_dense(hp: kt.HyperParameters) -> keras.Model:
    """The build function of `_TINY_DENSE` (also written to a module for the CLI)."""
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(_TINY_DENSE), namespace)  # noqa: S102 (the test's own text)
    return namespace["tiny_dense"](hp)


def _size(units: int) -> int:
    return 795 * units + 10


def _num_params(trial: Any) -> int:
    return int(trial.metrics.get_last_value("num_params"))


FAST: dict[str, Any] = dict(
    coarse_trials=3,
    coarse_epochs=1,
    max_epochs=2,
    factor=2,
    top=0.5,
    final_epochs=1,
    seed=0,
    verbose=0,
    finalists=0,
    baseline=False,
)


def test_the_table_has_kerastuners_settings_with_kerastuners_defaults() -> None:
    assert PARAMETERS["max_model_size"].default is None
    assert PARAMETERS["max_retries_per_trial"].default == 0
    assert PARAMETERS["max_consecutive_failed_trials"].default == 3
    with pytest.raises(InvalidParameterError, match=r"`max_model_size` must be an int >= 1"):
        PARAMETERS["max_model_size"].check(0)
    with pytest.raises(InvalidParameterError, match="max_consecutive_failed_trials"):
        PARAMETERS["max_consecutive_failed_trials"].check(0)
    assert PARAMETERS["max_retries_per_trial"].check(0) == 0


def _lazy_dense(hp: kt.HyperParameters) -> keras.Model:
    return lazy_dense(hp)


# `lazy_dense` has no Input: before, its default (48 units, 38,170 parameters) trained and
# then FAILED, counting against the budget; now it is rejected when proposed, as with one.
@pytest.mark.parametrize("build", [tiny_dense, _lazy_dense], ids=["with-input", "no-input"])
def test_the_coarse_phase_trains_its_budget_within_the_limit(
    tmp_path: Path, digits_small: Dataset, build: Any
) -> None:
    run = CoarseToFine(
        build, digits_small, directory=tmp_path, project_name="r", max_model_size=LIMIT, **FAST
    )
    try:
        oracle = run.coarse().oracle
        trials = list(oracle.trials.values())
        assert len(trials) == FAST["coarse_trials"]  # the budget counts trained trials
        assert all(t.status == "COMPLETED" and _num_params(t) <= LIMIT for t in trials)
        assert oracle.rejected_oversized >= 1  # the default configuration (48 units) at least
        assert run.manifest.step("coarse")["rejected_oversized"] == oracle.rejected_oversized
    finally:
        run.close()


def test_report_md_says_how_many_configurations_each_phase_rejected() -> None:
    phases = {"coarse": {"rejected_oversized": 7}, "fine": {"rejected_oversized": None}}
    lines = _size_limit_lines({"config": {"max_model_size": LIMIT}, "phases": phases})
    assert lines[-1] == (
        "Model size limit: 20,000 parameters (max_model_size); configurations rejected as "
        "larger before training: coarse 7, fine 0."
    )
    assert _size_limit_lines({"config": {}, "phases": phases}) == []


@pytest.mark.slow  # ~25 s: a whole run; the fast variants are the oracle and coarse tests
def test_coarse_and_hyperband_train_only_models_within_the_limit(
    tmp_path: Path, digits_small: Dataset
) -> None:
    run = CoarseToFine(
        tiny_dense, digits_small, directory=tmp_path, project_name="r", max_model_size=LIMIT, **FAST
    )
    result = run.run()
    coarse, fine = run.tuners["coarse"].oracle, run.tuners["fine"].oracle
    for oracle in (coarse, fine):
        trials = list(oracle.trials.values())
        assert trials and all(t.status == "COMPLETED" for t in trials)  # none failed for size
        assert all(_num_params(t) <= LIMIT for t in trials)
        assert all(_size(t.hyperparameters.values["units"]) <= LIMIT for t in trials)
    assert len(coarse.trials) == FAST["coarse_trials"]  # the budget counts trained trials
    assert coarse.rejected_oversized >= 1  # the default configuration (48 units) at least
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["phases"]["coarse"]["rejected_oversized"] == coarse.rejected_oversized
    assert report["phases"]["fine"]["rejected_oversized"] == fine.rejected_oversized
    assert report["config"]["max_model_size"] == LIMIT
    assert report["best"]["num_params"] <= LIMIT
    assert result.best_hyperparameters.values["units"] <= 24
    # The command line's summary says it too (before, only report.json and report.md did).
    rejected = {"coarse": coarse.rejected_oversized, "fine": fine.rejected_oversized}
    assert {p: v["rejected_oversized"] for p, v in result.phase_bests.items()} == rejected
    summary = cli_summary(result)
    for phase, best in result.phase_bests.items():
        assert (
            f"{phase} best {best['score']:.4f} (id {best['trial_id']}; "
            f"{rejected[phase]} larger than --max-model-size rejected)"
        ) in summary
    markdown = (run.run_dir / "report.md").read_text()
    assert (
        f"Model size limit: 20,000 parameters (max_model_size); configurations rejected as "
        f"larger before training: coarse {coarse.rejected_oversized}, fine "
        f"{fine.rejected_oversized}." in markdown
    )


@pytest.mark.slow  # ~15 s; the fast variant is test_oracles_never_start_a_trial_over_the_limit
def test_bayesian_proposals_over_the_limit_are_replaced(
    tmp_path: Path, digits_small: Dataset
) -> None:
    x = digits_small.x_train[:300]
    y = digits_small.y_train[:300]

    def make() -> Any:
        return make_tuner(
            "bayesian",
            tiny_dense,
            objective="val_accuracy",
            directory=str(tmp_path),
            project_name="bayes",
            max_trials=4,
            num_initial_points=1,
            seed=0,
            max_model_size=LIMIT,
        )

    tuner = make()
    tuner.search(
        x, y, validation_data=(digits_small.x_val, digits_small.y_val), epochs=1, verbose=0
    )
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 4 and all(t.status == "COMPLETED" for t in trials)
    assert all(_num_params(t) <= LIMIT for t in trials)
    assert tuner.oracle.rejected_oversized >= 1
    # Saved with the oracle: a resumed search keeps the count.
    reloaded = make()
    assert reloaded.oracle.rejected_oversized == tuner.oracle.rejected_oversized


def _space() -> kt.HyperParameters:
    """`tiny_dense`'s space, declared by one build."""
    space = kt.HyperParameters()
    tiny_dense(space)
    return space


def _oracle(oracle_class: type[kt.Oracle], tmp_path: Path, limit: int, **kwargs: Any) -> Any:
    """An oracle over `tiny_dense`'s space whose limit measures sizes by formula (no build)."""
    oracle = oracle_class(
        objective=kt.Objective("val_accuracy", "max"), seed=1, hyperparameters=_space(), **kwargs
    )
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.size_limit = ModelSizeLimit(limit, lambda hp: _size(hp.values["units"]))
    return oracle


@pytest.mark.parametrize(
    "oracle_class, kwargs, planned",
    [
        (RandomSearchOracle, {"max_trials": 8}, 8),
        (DefaultsFirstRandomSearchOracle, {"max_trials": 8}, 8),
        (HyperbandOracle, {"max_epochs": 8, "factor": 2}, None),
    ],
    ids=["random", "defaults-first", "hyperband"],
)
def test_oracles_never_start_a_trial_over_the_limit(
    tmp_path: Path, oracle_class: type[kt.Oracle], kwargs: dict[str, Any], planned: int | None
) -> None:
    # Scores grow with the size, so Hyperband promotes the largest models; every trial the
    # oracle starts must still be within the limit.
    oracle = _oracle(oracle_class, tmp_path, LIMIT, **kwargs)
    _run_oracle(oracle)
    trials = list(oracle.trials.values())
    assert all(t.status == "COMPLETED" for t in trials)
    if planned is not None:
        assert len(trials) == planned  # max_trials counts started (trained) trials only
    assert oracle.rejected_oversized >= 1
    assert oracle.get_state()["tunekit_rejected_oversized"] == oracle.rejected_oversized


def _run_oracle(oracle: Any) -> None:
    """Runs the oracle's search with scores growing with the model's size (no training)."""
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status == "STOPPED":
            break
        units = trial.hyperparameters.values["units"]
        assert _size(units) <= LIMIT, trial.hyperparameters.values
        oracle.update_trial(trial.trial_id, {"val_accuracy": units / 64})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)


def test_a_model_based_proposal_over_the_limit_is_replaced_by_a_random_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # KerasTuner's Gaussian process (seconds per proposal) replaced by one that always
    # proposes the largest model, as it does when scores grow with size.
    def propose_largest(self: Any, trial_id: str) -> dict[str, Any]:
        return {"status": "RUNNING", "values": {"units": 64, "learning_rate": 1e-2}}

    monkeypatch.setattr(kt.oracles.BayesianOptimizationOracle, "populate_space", propose_largest)
    oracle = _oracle(FixedSpaceBayesianOracle, tmp_path, LIMIT, max_trials=4)
    _run_oracle(oracle)
    trials = list(oracle.trials.values())
    assert len(trials) == 4 and all(t.status == "COMPLETED" for t in trials)
    assert oracle.rejected_oversized >= 4  # each proposal of 64 units, then random ones


def test_an_oracle_stops_naming_the_limit_when_nothing_fits(tmp_path: Path) -> None:
    oracle = _oracle(RandomSearchOracle, tmp_path, 3000, max_trials=8)
    with pytest.raises(ModelSizeLimitError, match=r"max_model_size=3000 .*smallest had 3,190"):
        oracle.create_trial("tuner0")
    assert not oracle.trials
    # A space too large to exhaust stops after MAX_REJECTED_IN_A_ROW rejections in a row.
    oracle = _oracle(RandomSearchOracle, tmp_path / "in_a_row", 3000, max_trials=8)
    oracle.size_limit = ModelSizeLimit(3000, lambda hp: 10**6, max_in_a_row=5)
    with pytest.raises(ModelSizeLimitError, match="the last 5 configurations proposed"):
        oracle.create_trial("tuner0")


def test_cli_flags_reach_the_run_and_exit_2_below_every_model(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    small_npz: Path,
) -> None:
    (tmp_path / "size_models.py").write_text(textwrap.dedent(_TINY_DENSE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    args = [
        "--hypermodel",
        "size_models:tiny_dense",
        "--data",
        str(small_npz),
        "--directory",
        str(tmp_path / "runs"),
        "--backend",
        "tensorflow",
        "--max-model-size",
        "3000",
        "--max-retries-per-trial",
        "1",
        "--max-consecutive-failed-trials",
        "5",
    ]
    kwargs = _workflow_kwargs(build_parser().parse_args(args))
    assert (kwargs["max_model_size"], kwargs["max_retries_per_trial"]) == (3000, 1)
    assert kwargs["max_consecutive_failed_trials"] == 5
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "--max-model-size 3000 rejects" in err and "smallest had 3,190" in err, err
    assert not list((tmp_path / "runs").glob("*/coarse"))  # nothing trained
    assert main([*args[:-6], "--max-model-size", "0"]) == 2
    assert "--max-model-size" in capsys.readouterr().err


def _with_a_finished_step(manifest: RunManifest) -> None:
    """A run with a result to keep (a run without any starts over when settings change).

    Its coarse project folder exists, as a finished search's does (a done search whose
    folder is gone runs again).
    """
    (manifest.run_dir / "coarse").mkdir(exist_ok=True)
    manifest.mark("coarse", "done")
    manifest.release()


@pytest.mark.long
def test_resume_refuses_a_changed_limit_and_accepts_a_run_from_before_the_settings(
    tmp_path: Path, digits_small: Dataset
) -> None:
    def run(**kwargs: Any) -> CoarseToFine:
        return CoarseToFine(
            tiny_dense, digits_small, directory=tmp_path, project_name="r", **FAST, **kwargs
        )

    limited = run(max_model_size=LIMIT, max_retries_per_trial=1)
    assert limited.config()["max_model_size"] == LIMIT
    _with_a_finished_step(RunManifest.open(limited.run_dir, limited.config()))
    with pytest.raises(RunConfigError, match="max_model_size"):
        run(max_model_size=30_000, max_retries_per_trial=1).open()
    # The failure tolerances change no ended trial: a rerun takes them from there on.
    retried = run(max_model_size=LIMIT)
    assert "`max_retries_per_trial` (1 -> 0) changed" in " ".join(retried.open().notices)
    retried.close()
    same = run(max_model_size=LIMIT, max_retries_per_trial=1)
    same.open()
    same.close()
    # A manifest written before these settings existed has none of their keys: it is what
    # the defaults record, so such a run resumes.
    default = run(overwrite=True)
    old = {k: v for k, v in default.config().items()}
    for key in ("max_model_size", "max_retries_per_trial", "max_consecutive_failed_trials"):
        assert key not in old
    _with_a_finished_step(RunManifest.open(default.run_dir, old, overwrite=True))
    resumed = run(max_model_size=None, max_retries_per_trial=0, max_consecutive_failed_trials=3)
    resumed.open()
    resumed.close()
    with pytest.raises(RunConfigError, match="max_model_size"):
        run(max_model_size=LIMIT).open()


@pytest.mark.slow  # ~60 s: a chief and two worker processes
def test_two_local_workers_train_only_models_within_the_limit(
    tmp_path: Path, digits_small: Dataset
) -> None:
    from hypermodels import MnistDenseHyperModel

    limit = 60_000  # units_0 of 32 or 64 (of 32..512) with few extra units: most is over
    run = CoarseToFine(
        MnistDenseHyperModel(),
        digits_small,
        directory=tmp_path,
        project_name="p",
        coarse_trials=3,
        coarse_epochs=1,
        fine_tuner="bayesian",
        fine_trials=2,
        max_epochs=1,
        final_epochs=1,
        baseline=False,
        verbose=0,
        workers=2,
        max_model_size=limit,
    )
    run.run()
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert report["distributed"]["local_workers"] == 2
    assert report["phases"]["coarse"]["rejected_oversized"] >= 1  # the default (256 units)
    assert report["best"]["num_params"] <= limit
    for phase, planned in (("coarse", 3), ("fine", 2)):
        oracle = json.loads((tmp_path / "p" / phase / "oracle.json").read_text())
        assert len(oracle["end_order"]) == planned
        for trial_dir in (tmp_path / "p" / phase).glob("trial_*"):
            trial = json.loads((trial_dir / "trial.json").read_text())
            assert trial["status"] == "COMPLETED"
            num_params = trial["metrics"]["metrics"]["num_params"]["observations"][0]["value"]
            assert num_params[0] <= limit


def lazy_dense(hp: kt.HyperParameters) -> keras.Model:
    """`tiny_dense` without an `Input`: the model has no weights until its first call."""
    units = hp.Int("units", 4, 64, step=4, default=48)
    model = keras.Sequential(
        [
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_model_without_input_is_measured_on_one_sample_when_proposed() -> None:
    import numpy as np

    from tunekit.tuners.oracles import first_sample, model_size

    x = np.zeros((5, 28, 28), "float32")
    assert first_sample(x).shape == (1, 28, 28)
    pair = first_sample({"a": x, "b": [x, x]})
    assert pair["a"].shape == (1, 28, 28) and pair["b"][1].shape == (1, 28, 28)
    assert first_sample(iter([x])) is None and first_sample({"a": x, "b": None}) is None

    class Lazy(kt.HyperModel):
        def build(self, hp: kt.HyperParameters) -> keras.Model:
            return lazy_dense(hp)

    hp = kt.HyperParameters()
    lazy_dense(hp)
    assert model_size(Lazy(), hp) is None  # no sample: unknown, checked after a batch
    assert model_size(Lazy(), hp, sample=first_sample(x)) == _size(48)
    # A sample the model cannot take is not an error here: the size stays unknown.
    assert model_size(Lazy(), hp, sample=np.zeros((1, 3), "float32")) in (None, 3 * 48 + 48 + 490)


def _rejections_until_the_stop(tmp_path: Path, interrupt_at: int | None) -> list[int]:
    """Units measured (all rejected) until the in-a-row stop of 5; with `interrupt_at`, the
    search is interrupted at that measurement, its oracle saved, and resumed from disk."""
    measured: list[int] = []

    def measure(hp: kt.HyperParameters) -> int:
        measured.append(hp.values["units"])
        if len(measured) == interrupt_at:
            raise KeyboardInterrupt
        return 10**6

    def oracle() -> Any:
        made = _oracle(RandomSearchOracle, tmp_path, 3000, max_trials=8)
        made.size_limit = ModelSizeLimit(3000, measure, max_in_a_row=5)
        return made

    first = oracle()
    if interrupt_at is not None:
        with pytest.raises(KeyboardInterrupt):
            first.create_trial("tuner0")
        first.save()  # the state as a save amid the rejections leaves it
        first = oracle()
        first.reload()
    with pytest.raises(ModelSizeLimitError, match="the last 5 configurations proposed"):
        first.create_trial("tuner0")
    return measured


def test_the_oversized_in_a_row_count_survives_a_resume(tmp_path: Path) -> None:
    """Before, the count in a row was kept in memory only: a search whose state was saved
    amid a run of rejections started it again at zero on resume, so it stopped later than
    the same search run straight through (after 4 + 5 rejections instead of 5)."""
    straight = _rejections_until_the_stop(tmp_path / "straight", None)
    resumed = _rejections_until_the_stop(tmp_path / "resumed", 3)
    assert len(straight) == 5
    # 2 rejected before the interruption, 3 after it: 5 in a row (the configuration being
    # measured when it came is not counted); before, 2 + 5
    assert len(resumed) == 1 + 5, (resumed, straight)
    assert resumed[:2] == straight[:2]
