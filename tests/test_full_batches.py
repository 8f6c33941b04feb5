"""The search's trials train on whole batches: no partial last batch to compile again."""

from __future__ import annotations

import types

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit.data.batches import MAX_PADDING, full_batches


def test_mnist_sized_training_split_gets_whole_batches_and_keeps_every_sample():
    x = np.arange(50_000 * 3, dtype="float32").reshape(50_000, 3)
    y = np.arange(50_000) % 10
    padded_x, padded_y, repeated = full_batches(x, y, 128, seed=0)
    assert repeated == 48 and len(padded_x) == len(padded_y) == 50_048
    assert len(padded_x) % 128 == 0
    np.testing.assert_array_equal(padded_x[:50_000], x)  # every sample, in its place
    np.testing.assert_array_equal(padded_y[:50_000], y)
    rows = padded_x[50_000:, 0].astype(int) // 3  # which samples were repeated
    assert len(set(rows)) == 48  # 48 different ones, each once more
    np.testing.assert_array_equal(padded_y[50_000:], y[rows])  # each with its own label
    again = full_batches(x, y, 128, seed=0)[0]
    np.testing.assert_array_equal(again, padded_x)  # the seed fixes the draw
    assert not np.array_equal(full_batches(x, y, 128, seed=1)[0][50_000:], padded_x[50_000:])


def test_dict_and_list_inputs_and_dict_targets_are_padded_alike():
    n = 10_000
    x = {"image": np.arange(n * 2).reshape(n, 2), "side": np.arange(n)}
    y = {"a": np.arange(n), "b": np.arange(n).reshape(n, 1) * 2}
    padded_x, padded_y, repeated = full_batches(x, y, 64, seed=3)
    assert repeated == 48  # 10,000 = 156 x 64 + 16
    assert {len(v) for v in (*padded_x.values(), *padded_y.values())} == {10_048}
    np.testing.assert_array_equal(padded_x["side"], padded_y["a"])  # rows stay aligned
    np.testing.assert_array_equal(padded_y["b"][:, 0], padded_y["a"] * 2)
    listed, _, _ = full_batches([x["image"], x["side"]], y["a"], 64, seed=3)
    assert isinstance(listed, list)
    np.testing.assert_array_equal(listed[1], padded_x["side"])


@pytest.mark.parametrize(
    ("n", "batch_size", "why"),
    [
        (51_200, 128, "no partial batch"),
        (100, 128, "one batch per epoch"),
        (128, 128, "one batch per epoch"),
        (1_000, 128, "24 repeats would be 2.4% of the samples"),
    ],
)
def test_nothing_is_repeated_where_it_would_not_help_or_would_weigh(n, batch_size, why):
    x, y = np.zeros((n, 2)), np.zeros(n)
    same_x, same_y, repeated = full_batches(x, y, batch_size, seed=0)
    assert repeated == 0, why
    assert same_x is x and same_y is y


def test_at_most_one_percent_is_repeated():
    n = 12_700  # 99 batches of 128 and 28: 100 repeats, 0.79%
    assert full_batches(np.zeros((n, 1)), np.zeros(n), 128, seed=0)[2] == 100
    assert 100 <= MAX_PADDING * n
    n = 9_000  # 70 batches and 40: 88 repeats would be 0.98%; 6,000 and 16: 112 are 1.9%
    assert full_batches(np.zeros((n, 1)), np.zeros(n), 128, seed=0)[2] == 88
    assert full_batches(np.zeros((6_016, 1)), np.zeros(6_016), 128, seed=0)[2] == 0


class _TracedBatches(keras.layers.Layer):
    """Records the batch size of each training trace of the model."""

    seen: list = []

    def call(self, inputs, training=None):
        if training:
            _TracedBatches.seen.append(inputs.shape[0])
        return inputs


def _model(hp):
    model = keras.Sequential(
        [
            keras.Input((4,)),
            _TracedBatches(),
            keras.layers.Dense(hp.Int("units", 4, 8, step=4)),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class _OwnFit(kt.HyperModel):
    """A hypermodel whose `fit` pairs `x` with per-sample weights of its own."""

    def __init__(self, weights):
        super().__init__()
        self.weights = weights
        self.lengths = []

    def build(self, hp):
        return _model(hp)

    def fit(self, hp, model, x, y, **kwargs):
        self.lengths.append(len(x))
        return model.fit(x, y, sample_weight=self.weights, **kwargs)


def _search(tmp_path, hypermodel, n):
    from tunekit.steps.search import SearchStep
    from tunekit.tuners import make_tuner

    rng = np.random.default_rng(0)
    data = types.SimpleNamespace(
        x_train=rng.normal(size=(n, 4)).astype("float32"),
        y_train=rng.integers(0, 3, n),
        x_val=rng.normal(size=(60, 4)).astype("float32"),
        y_val=rng.integers(0, 3, 60),
        model_targets=lambda y: y,  # class ids, as the model trains on them
    )
    tuner = make_tuner(
        "random",
        hypermodel,
        objective="val_accuracy",
        max_trials=1,
        directory=str(tmp_path),
        project_name="coarse",
        seed=0,
    )
    ctx = types.SimpleNamespace(
        data=data,
        hypermodel=tuner.hypermodel,
        run_dir=tmp_path,
        cv=1,
        batch_size=32,
        seed=0,
        coarse_epochs=2,
        callbacks=[],
        class_weights=None,
    )
    SearchStep("coarse", experiment=None).search(ctx, tuner)
    assert tuner.oracle.get_best_trials()[0].status == "COMPLETED"


def test_a_search_trial_traces_its_training_step_for_full_batches_only(tmp_path):
    """The coarse step's trials see the padded split: one training trace, of `batch_size`."""
    _TracedBatches.seen.clear()
    _search(tmp_path, _model, n=200 * 32 + 10)  # 200 batches of 32 and a partial one of 10
    # Unpadded, JAX traces a second step for the batch of 10 and TensorFlow traces twice
    # with an unknown batch size ([None, None]); padded, both trace once, for 32.
    assert _TracedBatches.seen and set(_TracedBatches.seen) == {32}


def test_a_hypermodel_with_its_own_fit_gets_the_training_split_as_it_is(tmp_path):
    n = 200 * 32 + 10
    hypermodel = _OwnFit(np.ones(n))  # its weights fit the split, not a padded copy
    _search(tmp_path, hypermodel, n=n)
    assert hypermodel.lengths == [n]


def test_the_report_says_how_many_samples_the_trials_repeated():
    from tunekit.data.batches import trial_repeats
    from tunekit.report import _repeats_note

    arrays = types.SimpleNamespace(y_train=np.zeros(50_000))
    run = types.SimpleNamespace(data=arrays, cv=1, batch_size=128, hypermodel=kt.HyperModel())
    assert trial_repeats(run) == 48
    assert "trained on 48 of the training samples twice per epoch" in _repeats_note(48)
    assert _repeats_note(0) == ""
    # Not padded: cross-validation, a hypermodel's own fit.
    assert trial_repeats(types.SimpleNamespace(**{**vars(run), "cv": 3})) == 0
    own = types.SimpleNamespace(**{**vars(run), "hypermodel": _OwnFit(None)})
    assert trial_repeats(own) == 0


def test_a_finished_run_reports_its_repeats(finished_run):
    import json

    run, result = finished_run
    report = json.loads((result.run_dir / "report.json").read_text())
    # 1,000 training digits in batches of 128 would need 24 repeats (2.4%): none.
    assert report["dataset"]["trial_repeats"] == 0
    assert "twice per epoch" not in (result.run_dir / "report.md").read_text()


def test_a_multi_output_models_test_losses_weigh_a_partial_last_batch_by_its_samples():
    """Keras's TensorFlow backend averages per-output losses over batches: with 270 test
    samples at batch 256 the 14 of the last batch counted as much as the 256 before, and
    the report's `digit_loss` was 0.79 for a true 0.87 (exit 0). The total `loss` was right."""
    from tunekit.steps.base import _evaluate_arrays

    rng = np.random.default_rng(0)
    x = {"pixels": rng.normal(size=(270, 8)).astype("float32")}
    y = {"digit": rng.integers(0, 3, 270), "big": rng.integers(0, 2, 270).astype("float32")}
    inputs = keras.Input((8,), name="pixels")
    model = keras.Model(
        inputs,
        {
            "digit": keras.layers.Dense(3, activation="softmax", name="digit")(inputs),
            "big": keras.layers.Dense(1, activation="sigmoid", name="big")(inputs),
        },
    )
    model.compile(
        "adam",
        loss={"digit": "sparse_categorical_crossentropy", "big": "binary_crossentropy"},
        metrics={"digit": ["accuracy"]},
    )
    predicted = model.predict(x, verbose=0)
    true = {
        "digit_loss": np.mean(
            keras.ops.convert_to_numpy(
                keras.losses.sparse_categorical_crossentropy(y["digit"], predicted["digit"])
            )
        ),
        "big_loss": np.mean(
            keras.ops.convert_to_numpy(
                keras.losses.binary_crossentropy(y["big"][:, None], predicted["big"])
            )
        ),
    }
    evaluated = _evaluate_arrays(model, x, y, 256)
    for name, value in true.items():
        assert evaluated[name] == pytest.approx(value, rel=1e-4)
    assert evaluated["loss"] == pytest.approx(sum(true.values()), rel=1e-4)
    keras_own = model.evaluate(x, y, batch_size=256, return_dict=True, verbose=0)
    assert evaluated["digit_accuracy"] == keras_own["digit_accuracy"]  # the rest as Keras has it
    if keras.backend.backend() == "tensorflow":  # what tunekit reported before
        assert keras_own["digit_loss"] != pytest.approx(true["digit_loss"], rel=1e-3)
