"""Tests for `tunekit.plots`: every plot renders and shows what it claims."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tunekit import plots
from tunekit.narrowing import NarrowedSpace

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAMES = [
    "parallel_coordinates",
    "score_vs_hyperparameters",
    "best_so_far",
    "narrowing",
    "score_vs_params",
    "confusion_matrix",
    "training_curves",
]


def _row(phase, trial_id, status, score, units, activation, lr, units_3=None, params=1e4):
    return {
        "phase": phase,
        "trial_id": trial_id,
        "status": status,
        "score": score,
        "best_step": 0,
        "epochs": 1.0,
        "initial_epoch": 0,
        "seconds": 1.0,
        "num_params": params,
        "val_accuracy": score,
        "hp_units": units,
        "hp_activation": activation,
        "hp_learning_rate": lr,
        "hp_dropout": 0.1,
        "hp_units_3": units_3,
        "hp_never": None,
        "error": "" if status != "FAILED" else "boom",
    }


@pytest.fixture
def frame() -> pd.DataFrame:
    """5 coarse (1 FAILED, 1 RUNNING) and 4 fine trials; 7 COMPLETED."""
    nan = float("nan")
    rows = [
        _row("coarse", "0", "COMPLETED", 0.30, 32, "relu", 1e-5, 16, 2e3),
        _row("coarse", "1", "FAILED", nan, 64, "tanh", 1e-2),
        _row("coarse", "2", "COMPLETED", 0.80, 128, "tanh", 3e-3, None, 5e4),
        _row("coarse", "3", "RUNNING", nan, 96, "relu", 1e-3),
        _row("coarse", "4", "COMPLETED", 0.60, 64, "sigmoid", 1e-4, 32, 1e4),
        _row("fine", "0000", "COMPLETED", 0.82, 128, "tanh", 2e-3, None, 5e4),
        _row("fine", "0001", "FAILED", 0.99, 112, "tanh", 4e-3),  # score ignored: failed
        _row("fine", "0002", "COMPLETED", 0.78, 96, "tanh", 1e-3, None, 3e4),
        _row("fine", "0003", "COMPLETED", 0.85, 128, "relu", 3e-3, None, 5e4),
    ]
    df = pd.DataFrame(rows)
    df["hp_never"] = df["hp_never"].astype(object)
    return df


def _hp(class_name, name, **config):
    return {"class_name": class_name, "config": {"name": name, "conditions": [], **config}}


def _change(name, before, after, before_text, after_text, rule):
    return {
        "name": name,
        "kind": before["class_name"],
        "before": before_text,
        "after": after_text,
        "rule": rule,
        "active": 3,
        "before_config": before,
        "after_config": after,
    }


@pytest.fixture(scope="module")
def narrowed() -> NarrowedSpace:
    """A condensed copy of a real `narrowed_space.json` (MNIST dense run)."""
    lr = dict(default=1e-3, step=None, sampling="log")
    changes = [
        _change(
            "units_0",
            _hp(
                "Int",
                "units_0",
                default=256,
                min_value=32,
                max_value=512,
                step=32,
                sampling="linear",
            ),
            _hp(
                "Int",
                "units_0",
                default=480,
                min_value=160,
                max_value=512,
                step=32,
                sampling="linear",
            ),
            "Int [32, 512] step 32",
            "Int [160, 512] step 32",
            "range",
        ),
        _change(
            "num_extra_layers",
            _hp(
                "Int",
                "num_extra_layers",
                default=0,
                min_value=0,
                max_value=3,
                step=1,
                sampling="linear",
            ),
            _hp("Fixed", "num_extra_layers", value=2),
            "Int [0, 3]",
            "Fixed 2",
            "unanimous",
        ),
        _change(
            "activation",
            _hp(
                "Choice",
                "activation",
                default="relu",
                values=["relu", "tanh", "sigmoid"],
                ordered=False,
            ),
            _hp("Choice", "activation", default="relu", values=["relu", "tanh"], ordered=False),
            "Choice ['relu', 'tanh', 'sigmoid']",
            "Choice ['relu', 'tanh']",
            "subset",
        ),
        _change(
            "dropout",
            _hp(
                "Float",
                "dropout",
                default=0.2,
                min_value=0.0,
                max_value=0.5,
                step=0.05,
                sampling="linear",
            ),
            _hp("Fixed", "dropout", value=0.05),
            "Float [0, 0.5] step 0.05",
            "Fixed 0.05",
            "unanimous",
        ),
        _change(
            "learning_rate",
            _hp("Float", "learning_rate", min_value=1e-4, max_value=1e-2, **lr),
            _hp("Float", "learning_rate", min_value=0.001029943711, max_value=0.01, **lr),
            "Float [1e-04, 1e-02] log",
            "Float [1.0299e-03, 1e-02] log",
            "range",
        ),
        _change(
            "use_bn",
            _hp("Boolean", "use_bn", default=False),
            _hp("Boolean", "use_bn", default=False),
            "Boolean",
            "Boolean",
            "kept",
        ),
        _change(
            "seed",
            _hp("Fixed", "seed", value=7),
            _hp("Fixed", "seed", value=7),
            "Fixed 7",
            "Fixed 7",
            "fixed",
        ),
    ]
    return NarrowedSpace.from_dict(
        {
            "format": "tunekit.narrowed_space",
            "version": 1,
            "direction": "max",
            "top": 3,
            "usable": 4,
            "top_trial_ids": ["3", "1", "2"],
            "margin": 0.1,
            "hyperparameters": {"space": [c["after_config"] for c in changes], "values": {}},
            "changes": changes,
        }
    )


def _axes(fig: Figure):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def _assert_labelled(fig: Figure) -> None:
    axes = _axes(fig)
    assert axes
    for ax in axes:
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip()
    assert plots.figure_to_png(fig).startswith(PNG_MAGIC)


def _gids(fig: Figure) -> list[str]:
    return [line.get_gid() for ax in fig.axes for line in ax.get_lines() if line.get_gid()]


def test_parallel_coordinates_one_line_per_completed_trial(frame):
    fig = plots.parallel_coordinates(frame)
    _assert_labelled(fig)
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_gid()]
    assert sorted(ln.get_gid() for ln in lines) == sorted(
        f"{p}/{t}" for p, t in frame[frame.status == "COMPLETED"][["phase", "trial_id"]].values
    )
    assert {ln.get_linestyle() for ln in lines} == {"--", "-"}
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["units", "activation", "learning_rate", "dropout", "units_3", "score"]
    for line in lines:  # All values in [0, 1]; inactive ones are NaN (segment skipped).
        ys = np.asarray(line.get_ydata(), float)
        assert np.all((ys[~np.isnan(ys)] >= 0) & (ys[~np.isnan(ys)] <= 1))
    by_gid = {ln.get_gid(): np.asarray(ln.get_ydata(), float) for ln in lines}
    assert math.isnan(by_gid["fine/0000"][4]) and not math.isnan(by_gid["coarse/0"][4])
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"relu", "sigmoid", "tanh", "1e-05", "0.003"} <= texts  # a log axis
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)


def test_parallel_coordinates_only_coarse_and_constant_column(frame):
    fig = plots.parallel_coordinates(frame[frame.phase == "coarse"])
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_gid()]
    assert len(lines) == 3 and {ln.get_linestyle() for ln in lines} == {"--"}
    dropout = [t.get_text() for t in fig.axes[0].get_xticklabels()].index("dropout")
    assert all(ln.get_ydata()[dropout] == 0.5 for ln in lines)


def test_boolean_mixed_and_empty_columns():
    df = pd.DataFrame(
        {
            "phase": ["coarse", "coarse", "fine"],
            "trial_id": ["0", "1", "0"],
            "status": ["COMPLETED"] * 3,
            "score": [0.2, 0.4, 0.4],
            "num_params": [1e3, 2e3, 2e3],
            "hp_bn": [True, None, False],
            "hp_width": [32, "auto", 64],
            "hp_none": [None, None, None],
        }
    )
    fig = plots.parallel_coordinates(df)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"False", "True", "32", "64", "auto"} <= texts
    assert len(_gids(fig)) == 3
    fig = plots.score_vs_hyperparameters(df)
    _assert_labelled(fig)
    assert any(t.get_text() == "never active" for ax in fig.axes for t in ax.texts)
    with pytest.raises(ValueError, match="No completed"):
        plots.parallel_coordinates(df.assign(status="FAILED"))


def test_score_vs_hyperparameters_one_panel_per_hp(frame):
    fig = plots.score_vs_hyperparameters(frame)
    _assert_labelled(fig)
    axes = _axes(fig)
    hp_columns = [c for c in frame.columns if c.startswith("hp_")]
    assert [ax.get_xlabel() for ax in axes] == [c[3:] for c in hp_columns]
    completed = int((frame.status == "COMPLETED").sum())
    activation = axes[hp_columns.index("hp_activation")]
    assert sum(len(c.get_offsets()) for c in activation.collections) == completed
    assert [t.get_text() for t in activation.get_xticklabels()] == ["relu", "sigmoid", "tanh"]
    assert axes[hp_columns.index("hp_learning_rate")].get_xscale() == "log"
    assert fig.legends and {t.get_text() for t in fig.legends[0].get_texts()} == {"coarse", "fine"}


def test_numeric_axes_follow_the_declared_sampling(frame):
    """A linear Int whose values span a decade (units 32..512) was drawn on a log axis with
    overlapping labels; a log Float within a decade on a linear one."""
    frame = frame.assign(hp_units=frame.hp_units * 4)  # 128..512: within a decade
    frame.loc[frame.index[0], "hp_units"] = 16  # 16..512: over a decade
    fig = plots.score_vs_hyperparameters(frame)
    axes = {ax.get_xlabel(): ax for ax in _axes(fig)}
    assert axes["units"].get_xscale() == "log"  # not declared: spans over a decade
    frame.attrs["sampling"] = {"units": "linear", "dropout": "log", "learning_rate": "log"}
    axes = {ax.get_xlabel(): ax for ax in _axes(plots.score_vs_hyperparameters(frame))}
    assert axes["units"].get_xscale() == "linear"
    assert axes["learning_rate"].get_xscale() == "log"
    assert axes["dropout"].get_xscale() == "log"
    # over decades, minor ticks unlabelled: labels never overlap
    ax = axes["learning_rate"]
    assert not [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
    fig = plots.parallel_coordinates(frame)
    at = {t.get_text(): t.get_position()[1] for ax in fig.axes for t in ax.texts}
    assert at["256"] == pytest.approx((256 - 16) / (512 - 16))  # linear: not log's 0.8


def test_best_so_far_draws_each_trials_dot_above_the_step_lines(frame):
    """A fine trial's dot under the coarse phase's dashed line could not be seen."""
    ax = _axes(plots.best_so_far(frame, direction="max"))[0]
    assert min(c.get_zorder() for c in ax.collections) > max(ln.get_zorder() for ln in ax.lines)


def test_best_so_far_table_is_monotone_and_ignores_failed(frame):
    table = plots.best_so_far_table(frame, "max")
    assert list(table.columns) == [
        "phase",
        "trial_index",
        "trial_id",
        "status",
        "score",
        "best_so_far",
    ]
    for _, part in table.groupby("phase"):
        assert list(part.trial_index) == list(range(1, len(part) + 1))
        assert part.best_so_far.is_monotonic_increasing
    fine = table[table.phase == "fine"].set_index("trial_id")
    assert fine.loc["0001", "best_so_far"] == pytest.approx(0.82)  # the failed 0.99 is ignored
    assert fine.best_so_far.max() == pytest.approx(0.85)
    coarse = table[table.phase == "coarse"].set_index("trial_id")
    assert list(coarse.best_so_far) == pytest.approx([0.3, 0.3, 0.8, 0.8, 0.8])
    low = plots.best_so_far_table(frame, "min")
    for _, part in low.groupby("phase"):
        assert part.best_so_far.is_monotonic_decreasing
    assert low[low.phase == "coarse"].best_so_far.iloc[-1] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="direction"):
        plots.best_so_far_table(frame, "up")


def test_best_so_far_orders_trial_ids_numerically():
    df = pd.DataFrame(
        {
            "phase": ["coarse"] * 3,
            "trial_id": ["10", "9", "2"],
            "status": ["COMPLETED"] * 3,
            "score": [0.9, 0.1, 0.5],
        }
    )
    table = plots.best_so_far_table(df)
    assert list(table.trial_id) == ["2", "9", "10"]
    fig = plots.best_so_far(df, direction="max")
    _assert_labelled(fig)
    assert _gids(fig) == ["best/coarse"]


def test_best_so_far_figure_has_one_curve_per_phase(frame):
    fig = plots.best_so_far(frame, direction="max")
    _assert_labelled(fig)
    assert sorted(_gids(fig)) == ["best/coarse", "best/fine"]


def test_score_vs_params_one_point_per_completed_trial(frame):
    fig = plots.score_vs_params(frame)
    _assert_labelled(fig)
    ax = _axes(fig)[0]
    assert ax.get_xscale() == "log"
    points = {c.get_gid(): len(c.get_offsets()) for c in ax.collections}
    assert points == {"params/coarse": 3, "params/fine": 3}


def test_confusion_matrix_counts_and_accuracy():
    y_true = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 0])
    y_pred = np.array([0, 1, 1, 1, 0, 2, 2, 1, 2, 0])
    fig = plots.confusion_matrix(y_true, y_pred, ["cat", "dog", "eel"])
    _assert_labelled(fig)
    ax = _axes(fig)[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    cells = [int(t.get_text()) for t in ax.texts]
    assert len(cells) == 9 and sum(cells) == len(y_true)
    assert "70.00%" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "eel"]
    one_hot = np.eye(3)[y_pred]
    same = plots.confusion_matrix(y_true, one_hot, ["cat", "dog", "eel"])
    assert [t.get_text() for t in _axes(same)[0].texts] == [t.get_text() for t in ax.texts]


def test_narrowing_one_row_per_change(narrowed):
    fig = plots.narrowing(narrowed)
    _assert_labelled(fig)
    ax = _axes(fig)[0]
    names = [c.name for c in narrowed.changes]
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    gids = [a.get_gid() for a in [*ax.collections, *ax.get_lines()] if a.get_gid()]
    assert sorted(gids) == sorted(f"row/{n}" for n in names)
    texts = [t.get_text() for t in ax.texts]
    for change in narrowed.changes:
        assert any(t.startswith(f"{change.before} -> {change.after}") for t in texts)
    # The log-sampled learning rate: [1.03e-3, 1e-2] of [1e-4, 1e-2] starts half way.
    row = names.index("learning_rate")
    (lr_dark,) = [
        c.get_paths()[0].vertices
        for c in ax.collections
        if abs(c.get_paths()[0].vertices[:, 1].max() - (row + 0.2)) < 1e-6
    ]
    assert lr_dark[:, 0].min() == pytest.approx(0.5 + math.log10(1.029943711) / 2, abs=1e-3)


def test_training_curves_one_line_per_key():
    history = {
        "loss": [1.0, 0.6, 0.5],
        "val_loss": [1.1, 0.8, 0.7],
        "accuracy": [0.5, 0.7, 0.8],
        "val_accuracy": [0.4, 0.6, 0.7],
    }
    fig = plots.training_curves(history)
    _assert_labelled(fig)
    assert sorted(_gids(fig)) == sorted(history)
    assert len(_axes(fig)) == 2
    only_loss = plots.training_curves({"loss": [1.0, 0.5]})
    assert _gids(only_loss) == ["loss"] and len(_axes(only_loss)) == 1


def test_training_curves_give_each_quantity_its_own_axis():
    """The learning rate (1e-3) is not drawn on the accuracy axis as a flat line at 0."""
    history = {
        "loss": [1.0, 0.6, 0.5],
        "accuracy": [0.5, 0.7, 0.8],
        "learning_rate": [1e-3, 5e-4, 1e-4],
        "val_loss": [1.1, 0.8, 0.7],
        "val_accuracy": [0.4, 0.6, 0.7],
    }
    fig = plots.training_curves(history)
    _assert_labelled(fig)
    panels = {ax.get_ylabel(): sorted(ln.get_gid() for ln in ax.get_lines()) for ax in _axes(fig)}
    assert panels == {
        "loss": ["loss", "val_loss"],
        "accuracy": ["accuracy", "val_accuracy"],
        "learning_rate": ["learning_rate"],
    }
    rate_axis = next(ax for ax in _axes(fig) if ax.get_ylabel() == "learning_rate")
    low, high = rate_axis.get_ylim()
    assert low < 1e-4 and 1e-3 < high < 0.01  # scaled to the rate, not to [0, 1]


def test_objective_plots_name_the_objective_and_direction(frame, narrowed):
    named = dict(objective_name="val_f1_score", direction="max")
    label = "val_f1_score (max)"
    fig = plots.parallel_coordinates(frame, **named)
    assert fig.axes[0].get_xticklabels()[-1].get_text() == "val_f1_score"
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"] == [label]
    fig = plots.score_vs_hyperparameters(frame, **named)
    assert {ax.get_ylabel() for ax in _axes(fig)} == {label}
    assert plots.best_so_far(frame, **named).axes[0].get_ylabel() == f"best {label} so far"
    assert plots.score_vs_params(frame, **named).axes[0].get_ylabel() == label
    for fig in (plots.parallel_coordinates(frame), plots.score_vs_params(frame)):
        texts = [ax.get_ylabel() for ax in fig.axes] + [
            t.get_text() for ax in fig.axes for t in ax.get_xticklabels()
        ]
        assert "score" in texts  # without a name: the column's
    frame.attrs.update(objective="val_loss", direction="min")  # as trials_dataframe sets them
    assert plots.score_vs_params(frame).axes[0].get_ylabel() == "val_loss (min)"
    assert (
        plots.best_so_far(frame, direction="min").axes[0].get_ylabel()
        == "best val_loss (min) so far"
    )


def test_save_run_plots_writes_seven_pngs(tmp_path, frame, narrowed):
    out = tmp_path / "plots"
    paths = plots.save_run_plots(
        out,
        frame,
        direction="max",
        narrowed=narrowed,
        y_true=[0, 1, 1],
        y_pred=[0, 1, 0],
        class_names=["a", "b"],
        history={"loss": [1.0, 0.5], "accuracy": [0.5, 0.8]},
    )
    assert sorted(paths) == sorted(NAMES)
    for name, path in paths.items():
        assert path == str(out / f"{name}.png")
        data = (out / f"{name}.png").read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_MAGIC)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in NAMES)


def test_save_run_plots_skips_missing_data(tmp_path, frame, narrowed):
    coarse = frame[frame.phase == "coarse"]
    paths = plots.save_run_plots(tmp_path / "a", coarse, narrowed=narrowed, history={})
    assert sorted(paths) == sorted(set(NAMES) - {"training_curves", "confusion_matrix"})
    empty = pd.DataFrame(
        columns=[
            "phase",
            "trial_id",
            "status",
            "score",
            "best_step",
            "epochs",
            "initial_epoch",
            "seconds",
            "num_params",
        ]
    )
    assert plots.save_run_plots(tmp_path / "b", empty, history={"loss": []}) == {}
    failed = frame.assign(status="FAILED")
    assert plots.save_run_plots(tmp_path / "c", failed, y_true=[], y_pred=[]) == {}
    assert (tmp_path / "c").is_dir()


def test_every_plot_imports_from_tunekit_plots_and_from_its_module():
    import tunekit
    from tunekit.plots import final_model, trials
    from tunekit.plots import narrowed as narrowed_plots

    assert set(plots.__all__) == {
        "parallel_coordinates",
        "score_vs_hyperparameters",
        "best_so_far",
        "best_so_far_table",
        "narrowing",
        "score_vs_params",
        "confusion_matrix",
        "predicted_vs_true",
        "residuals",
        "training_curves",
        "figure_to_png",
        "save_run_plots",
    }
    homes = {
        trials: [
            "parallel_coordinates",
            "score_vs_hyperparameters",
            "best_so_far",
            "best_so_far_table",
            "score_vs_params",
        ],
        narrowed_plots: ["narrowing"],
        final_model: ["confusion_matrix", "predicted_vs_true", "residuals", "training_curves"],
    }
    for module, names in homes.items():
        assert set(module.__all__) == set(names)
        for name in names:
            assert getattr(plots, name) is getattr(module, name)
    assert tunekit.plots is plots and callable(plots.narrowing)  # the function, not the module


@pytest.mark.parametrize(
    "span", [(1.2e-3, 8.5e-3), (1.5e-3, 2e-2), (17, 36), (1.1e-3, 1.9e-3), (40, 60), (1e-3, 9e-3)]
)
def test_a_log_axis_within_about_a_decade_keeps_tick_labels(frame, span):
    """A log hyperparameter whose values lie within a decade (units 17..36, a learning rate
    narrowed to 1e-3..9e-3) got an axis with no label at all: the minor labels were hidden
    and no power of ten fell inside; with one power of ten inside, one label."""
    frame = frame.assign(hp_learning_rate=np.geomspace(*span, len(frame)))
    frame.attrs["sampling"] = {"learning_rate": "log"}
    fig = plots.score_vs_hyperparameters(frame)
    plots.figure_to_png(fig)  # draws: tick labels are made then
    (ax,) = [ax for ax in _axes(fig) if ax.get_xlabel() == "learning_rate"]
    lo, hi = ax.get_xlim()
    shown = [
        t.get_text()
        for t in ax.get_xticklabels() + ax.get_xticklabels(minor=True)
        if t.get_text() and lo <= t.get_position()[0] <= hi
    ]
    assert ax.get_xscale() == "log" and 2 <= len(shown) <= 5, shown  # readable, not a mash
    assert len(set(shown)) == len(shown)


def test_parallel_coordinates_keep_a_log_scale_for_hyperparameters_spanning_decades(frame):
    """The objective's linear axis made every hyperparameter without a declared sampling
    linear too: a learning rate of 1e-2, 1e-3, 1e-4 put 1e-4 and 1e-3 together."""
    fig = plots.parallel_coordinates(frame)  # hp_learning_rate: 1e-5..1e-2, no attrs
    at = {t.get_text(): t.get_position()[1] for ax in fig.axes for t in ax.texts}
    lows = frame.loc[frame.status == "COMPLETED", "hp_learning_rate"]
    span = math.log10(lows.max()) - math.log10(lows.min())
    assert at["0.003"] == pytest.approx(
        (math.log10(3e-3) - math.log10(lows.min())) / span, abs=0.02
    )


def test_parallel_coordinates_draw_the_objective_on_a_linear_scale(frame):
    """Scores spanning over a decade (0.04..0.6) were put on a log axis, squeezing the high
    scores that matter together."""
    frame = frame.assign(score=frame.score.where(frame.score != 0.30, 0.04))
    fig = plots.parallel_coordinates(frame)
    lines = {ln.get_gid(): np.asarray(ln.get_ydata(), float) for ln in _axes(fig)[0].get_lines()}
    completed = frame[frame.status == "COMPLETED"]
    lo, hi = completed.score.min(), completed.score.max()
    for phase, trial, score in completed[["phase", "trial_id", "score"]].values:
        assert lines[f"{phase}/{trial}"][-1] == pytest.approx((score - lo) / (hi - lo))
