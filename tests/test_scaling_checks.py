"""A model that scales inputs already in [0, 1] a second time is refused before training,
whoever scaled them first (`tunekit.steps.scaling_checks`).

Found by a new-user probe: `--hypermodel <a module's CNN with Rescaling(1/255)>` on float32
digits in [0, 1] (`load_digits().images / 16`) trained every trial at 0.07-0.10 accuracy,
exit 0: tunekit refused the double scaling only when it had divided uint8 pixels itself.
"""

from __future__ import annotations

import textwrap

import keras
import numpy as np
import pytest

from hypermodels import ToonVisionCNNHyperModel
from tunekit._kerastuner import get_hypermodel
from tunekit.cli_parser import cli_message
from tunekit.data import SCALED_UINT8, UNSCALED, Dataset, StreamData
from tunekit.errors import ModelCheckError
from tunekit.steps.check import check_model


def _data(kind: str, n: int = 90) -> Dataset:
    """8x8 one-channel images, 3 classes: `unit` float32 in [0, 1], `raw` float32 in
    [0, 255], `standard` standardised (negative values), `binary` 0/1 features."""
    rng = np.random.default_rng(0)
    x = rng.random((n, 8, 8, 1))
    x = {
        "unit": x,
        "raw": x * 255,
        "standard": (x - x.mean()) / x.std(),
        "binary": (x > 0.5).astype(float),
        # [0, 1] with two pixels a resize overshot (a probe's case: refused only exactly)
        "overshoot": np.where(np.arange(x.size).reshape(x.shape) == 0, 1.02, x)
        - 0.01 * (np.arange(x.size).reshape(x.shape) == 1),
    }[kind].astype("float32")
    data = Dataset.from_arrays(x, np.arange(n) % 3, seed=0)
    assert data.scaling == UNSCALED
    return data


def _compiled(inputs, outputs) -> keras.Model:
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _scaled(how: str):
    """A model whose first layers scale its inputs `how`, then Flatten, Dense(3)."""

    def build(hp):
        inputs = keras.Input((8, 8, 1))
        scale = {
            "rescaling": keras.layers.Rescaling(1 / 255),
            "centred": keras.layers.Rescaling(1 / 127.5, offset=-1.0),
            "nested": keras.Sequential([keras.layers.Rescaling(1 / 255)]),
            "op": lambda t: t / 255.0,
            "lambda": keras.layers.Lambda(lambda t: t * (1.0 / 255)),
            "none": lambda t: t,
        }[how]
        hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4))(
            keras.layers.Flatten()(scale(inputs))
        )
        return _compiled(inputs, keras.layers.Dense(3, activation="softmax")(hidden))

    return get_hypermodel(build)


def _refusal(hypermodel, data) -> ModelCheckError:
    with pytest.raises(ModelCheckError) as error:
        check_model(hypermodel, data)
    return error.value


@pytest.mark.parametrize("how", ["rescaling", "centred", "nested", "op", "lambda"])
def test_inputs_already_in_0_1_scaled_again_are_refused(how):
    """Before: no check (the data was UNSCALED), every trial at chance with exit 0."""
    error = _refusal(_scaled(how), _data("unit"))
    message = str(error)
    assert "starts by rescaling its inputs by 0.00" in message
    assert "the data's values already lie in [0, 1] (" in message
    assert "in the training x, all but 0.2% of them, used as given)" in message
    assert "uint8" not in message  # tunekit divided nothing
    assert "into a range 0.00" in message and "every trial would train on inputs" in message
    assert "Remove the scaling from the model" in message
    assert "(the bundled ToonVisionCNNHyperModel: pass rescale=False)" in message
    assert "give tunekit the raw pixels in [0, 255]" in message
    # the command line's words: a fix it can give
    said = cli_message(error)
    assert "--hypermodel toonvision-cnn builds it without its Rescaling layer" in said
    assert "rescale=False" not in said and "image_folder_stream" not in said
    assert "give --data an .npz of float32 pixels in [0, 255] (used as given" in said


def test_a_few_values_just_outside_0_1_do_not_end_the_check():
    """Before: two pixels at 1.02 and -0.01 among all others in [0, 1] (a resize's
    overshoot) let Rescaling(1/255) train at chance with exit 0."""
    assert "already lie in [0, 1] (" in str(_refusal(_scaled("rescaling"), _data("overshoot")))


def test_binary_features_divided_by_255_are_refused_too():
    """0/1 features divided by 255 are squeezed as much as pixels in [0, 1]."""
    assert "already lie in [0, 1] (0 to 1 in" in str(
        _refusal(_scaled("rescaling"), _data("binary"))
    )


@pytest.mark.parametrize("kind", ["raw", "standard"])
@pytest.mark.parametrize("how", ["rescaling", "op", "lambda"])
def test_inputs_not_in_0_1_are_the_models_to_scale(kind, how):
    """Raw pixels in [0, 255] are what `Rescaling(1/255)` is for; standardised data
    (negative values) is not in [0, 1] either: both accepted."""
    check_model(_scaled(how), _data(kind))


def test_inputs_in_0_1_without_a_scaling_are_accepted():
    check_model(_scaled("none"), _data("unit"))


def test_the_bundled_cnn_on_data_given_in_0_1():
    data = _data("unit")
    error = _refusal(ToonVisionCNNHyperModel((8, 8, 1), 3, augment=False), data)
    assert "already lie in [0, 1]" in str(error) and "pass rescale=False" in str(error)
    check_model(ToonVisionCNNHyperModel((8, 8, 1), 3, augment=False, rescale=False), data)


def test_the_uint8_refusal_gives_the_command_line_a_command_line_fix(tmp_path):
    """Before: "pass rescale=False" on the command line too, which has no such option."""
    from tunekit.data import load_npz

    x = (np.random.default_rng(0).random((90, 8, 8, 1)) * 255).astype("uint8")
    path = tmp_path / "pixels.npz"
    y = np.arange(90) % 3
    np.savez(path, x_train=x[:60], y_train=y[:60], x_test=x[60:], y_test=y[60:])
    data = load_npz(path)
    assert data.scaling == SCALED_UINT8
    error = _refusal(_scaled("rescaling"), data)
    assert "tunekit has already divided the data's uint8 pixels by 255" in str(error)
    assert "(the bundled ToonVisionCNNHyperModel: pass rescale=False)" in str(error)
    said = cli_message(error)
    assert "--hypermodel toonvision-cnn builds it without its Rescaling layer" in said
    assert "rescale=False" not in said and "an .npz of float32" in said


class _Dividing(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flat = keras.layers.Flatten()
        self.out = keras.layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.out(self.flat(x / 255.0))


def test_a_subclassed_models_call_dividing_inputs_in_0_1_is_refused():
    def build(hp):
        model = _Dividing()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    assert "in its call, by its values" in str(_refusal(get_hypermodel(build), _data("unit")))
    check_model(get_hypermodel(build), _data("raw"))


def _two_inputs(scaled: str):
    """Inputs `image` (8, 8, 1) and `extra` (5,); the one named `scaled` rescaled by 1/255."""

    def build(hp):
        image, extra = keras.Input((8, 8, 1), name="image"), keras.Input((5,), name="extra")
        flat = keras.layers.Flatten()(image)
        rescale = keras.layers.Rescaling(1 / 255)
        flat, extra_in = (rescale(flat), extra) if scaled == "image" else (flat, rescale(extra))
        joined = keras.layers.Concatenate()([flat, extra_in])
        out = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(4)(joined))
        return _compiled({"image": image, "extra": extra}, out)

    return get_hypermodel(build)


@pytest.mark.parametrize(("scaled", "refused"), [("image", True), ("extra", False)])
def test_each_input_of_several_is_judged_by_its_own_values(scaled, refused):
    """`image` in [0, 1], `extra` standardised: only a scaling of `image` is refused."""
    rng = np.random.default_rng(0)
    x = {
        "image": rng.random((90, 8, 8, 1)).astype("float32"),
        "extra": rng.normal(size=(90, 5)).astype("float32"),
    }
    data = Dataset.from_arrays(x, np.arange(90) % 3, seed=0)
    if not refused:
        check_model(_two_inputs(scaled), data)
        return
    assert "in input 'image' of the training x" in str(_refusal(_two_inputs(scaled), data))


def test_a_stream_in_0_1_is_judged_by_its_first_batch():
    import tensorflow as tf

    rng = np.random.default_rng(0)

    def split(n):
        x = rng.random((n, 8, 8, 1)).astype("float32")
        return tf.data.Dataset.from_tensor_slices((x, np.arange(n) % 3)).batch(16)

    stream = StreamData(split(48), split(24), split(24), fingerprint="unit", num_classes=3)
    error = _refusal(_scaled("rescaling"), stream)
    assert "in the stream's first batch, all but 0.2% of them, used as given)" in str(error)


def test_the_command_line_refuses_a_module_cnn_on_an_npz_in_0_1(tmp_path, capsys, monkeypatch):
    """The probe's case: `--hypermodel module:build` with Rescaling(1/255), an .npz of
    float32 in [0, 1]: exit 2 before any trial, the fix in the command line's words."""
    from tunekit.coarse_to_fine import main

    rng = np.random.default_rng(0)
    x, y = rng.random((120, 8, 8, 1)).astype("float32"), np.arange(120) % 3
    path = tmp_path / "unit.npz"
    np.savez(path, x_train=x[:90], y_train=y[:90], x_test=x[90:], y_test=y[90:])
    (tmp_path / "my_cnn.py").write_text(
        textwrap.dedent(
            """
            import keras

            def build(hp):
                model = keras.Sequential([
                    keras.Input((8, 8, 1)),
                    keras.layers.Rescaling(1 / 255),
                    keras.layers.Flatten(),
                    keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                    keras.layers.Dense(3, activation="softmax"),
                ])
                model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
                return model
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    args = ["--hypermodel", "my_cnn:build", "--data", str(path), "--backend", "tensorflow"]
    assert main([*args, "--directory", str(tmp_path / "runs"), "--coarse-trials", "3"]) == 2
    err = capsys.readouterr().err
    assert "the data's values already lie in [0, 1]" in err
    assert "--hypermodel toonvision-cnn builds it without its Rescaling layer" in err
    assert "rescale=False" not in err
    assert not list((tmp_path / "runs").rglob("trial.json"))  # before any trial


@pytest.mark.parametrize("top", [1, 16, 31])
def test_a_uint8_npz_of_few_low_levels_is_divided_with_a_warning(tmp_path, top):
    """Note 70's gap: `load_digits().images` saved as uint8 (0..16), or a 0/1 mask, was
    divided by 255 to [0, 0.063] with no word; pixels reach far higher."""
    from sklearn.datasets import load_digits

    from tunekit.data import load_npz

    x = (load_digits().images * top // 16).astype(np.uint8)  # 0..top
    y = load_digits().target
    path = tmp_path / "digits_uint8.npz"
    np.savez(path, x_train=x[:1400], y_train=y[:1400], x_test=x[1400:], y_test=y[1400:])
    with pytest.warns(UserWarning, match=rf"x_train is uint8 with values only in \[0, {top}\]"):
        data = load_npz(path)
    assert data.scaling == SCALED_UINT8
    assert data.x_train.max() == pytest.approx(top / 255)


def test_a_uint8_npz_of_pixels_is_divided_without_a_warning(tmp_path, recwarn):
    x = np.random.default_rng(0).integers(0, 256, (300, 8, 8)).astype(np.uint8)
    y = np.arange(300) % 3
    path = tmp_path / "pixels.npz"
    np.savez(path, x_train=x[:240], y_train=y[:240], x_test=x[240:], y_test=y[240:])
    assert load_npz_scaling(path) == SCALED_UINT8
    assert not [w for w in recwarn if "uint8 with values only" in str(w.message)]


def load_npz_scaling(path):
    from tunekit.data import load_npz

    return load_npz(path).scaling
