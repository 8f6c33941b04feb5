"""An option given where it does not apply is refused before any training, not dropped.

Found by a new user: `--finalist-seeds 3` (Python `finalist_seeds=3`) with the finalists
step off ran with exit 0, recorded nowhere, the report saying "Finalists: off";
`CoarseToFine(hm, StreamData(...batched tf.data...), batch_size=16)` ran on the stream's
own batches while report.json's config and the reproduce line said batch_size=16; and
`--fine-tuner hyperband --cv 2` was refused as "(the default fine tuner)" though typed.
Each pairing of `tunekit.option_pairs` (and the fine tuner's, `tunekit.params`) is
checked here in Python and on the command line; all refusals come before the run folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import IMAGE_FOLDER_SIZE

from hypermodels import MnistDenseHyperModel
from tunekit import CoarseToFine
from tunekit.coarse_to_fine import main
from tunekit.data import Dataset, StreamData
from tunekit.errors import InvalidParameterError
from tunekit.option_pairs import reported_config
from tunekit.params import GIVEN_ONLY


@pytest.fixture(scope="module")
def arrays() -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset.from_arrays(rng.random((60, 28, 28), "float32"), np.arange(60) % 3)


def _split(n: int, seed: int) -> tf.data.Dataset:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, 6)) + 2 * y[:, None]).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


@pytest.fixture(scope="module")
def stream() -> StreamData:
    return StreamData(_split(48, 0), _split(16, 1), _split(16, 2), fingerprint="given-v1")


def _refused(tmp_path: Path, data, **kwargs) -> str:
    with pytest.raises(InvalidParameterError) as error:
        CoarseToFine(MnistDenseHyperModel(), data, directory=tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())  # before the run folder
    return str(error.value)


def _cli(tmp_path: Path, capsys, *args: str) -> tuple[int, str]:
    code = main([*args, "--directory", str(tmp_path / "runs"), "--backend", "tensorflow"])
    assert not (tmp_path / "runs").exists()
    return code, capsys.readouterr().err


# -- finalist_seeds only with finalists > 1 -----------------------------------------


@pytest.mark.parametrize("finalists", [None, 0, 1])
def test_finalist_seeds_without_finalists_is_refused(tmp_path, arrays, finalists):
    given = {} if finalists is None else {"finalists": finalists}
    message = _refused(tmp_path, arrays, finalist_seeds=3, **given)
    assert message.startswith("finalist_seeds=3 only applies with finalists= 2 or more")
    assert f"finalists={finalists or 0} turns that step off" in message
    assert "Pass finalists=3" in message and "or leave out finalist_seeds=3." in message


def test_finalist_seeds_with_finalists_is_kept(tmp_path, arrays):
    run = CoarseToFine(
        MnistDenseHyperModel(), arrays, directory=tmp_path, finalists=3, finalist_seeds=3
    )
    assert run.finalist_seeds == 3 and run.config()["finalist_seeds"] == 3


def test_cli_finalist_seeds_without_finalists_is_refused(tmp_path, capsys):
    csv = tmp_path / "diabetes.csv"
    csv.write_text("a,b,target\n" + "".join(f"{i * 3 % 7},{i % 5},{i % 2}\n" for i in range(40)))
    code, err = _cli(tmp_path, capsys, "--data", str(csv), "--target", "target",
                     "--hypermodel", "dense", "--finalist-seeds", "3")  # fmt: skip
    assert code == 2, err
    assert err.startswith("error: --finalist-seeds 3 only applies with --finalists 2 or more"), err
    assert "Pass --finalists 3" in err and "leave out --finalist-seeds 3." in err


# -- batch_size only with arrays ----------------------------------------------------


def test_batch_size_given_for_a_stream_is_refused(tmp_path, stream):
    message = _refused(tmp_path, stream, batch_size=16)
    assert message.startswith("batch_size=16 does not apply to a stream (tf.data or a PyDataset)")
    assert "ignores batch_size=" in message and "not on batches of 16" in message
    assert "Batch the stream yourself (dataset.batch(16)" in message
    assert message.endswith("and leave out batch_size=.")


def test_a_stream_without_batch_size_records_what_it_did_before(tmp_path, stream):
    run = CoarseToFine(MnistDenseHyperModel(), stream, directory=tmp_path)
    # The run folder's record is unchanged (older stream runs resume) ...
    assert run.config()["batch_size"] == 128
    # ... but report.json's config says no batch size tunekit did not use.
    assert reported_config(run.config(), stream, stream=True)["batch_size"] is None
    assert reported_config({"batch_size": 64}, None, stream=False) == {"batch_size": 64}


def test_an_image_folder_stream_takes_only_its_own_batch_size(tmp_path, image_folder):
    from tunekit.image_streams import image_folder_stream

    data = StreamData.from_image_folder(
        image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, batch_size=8)
    )
    runs = tmp_path / "runs"
    run = CoarseToFine(MnistDenseHyperModel(), data, directory=runs, batch_size=8)
    assert run.batch_size == 8  # the command line passes its --batch-size to both
    assert reported_config(run.config(), data, stream=True)["batch_size"] == 8
    with pytest.raises(InvalidParameterError) as error:
        CoarseToFine(MnistDenseHyperModel(), data, directory=runs, batch_size=16)
    message = str(error.value)
    assert message.startswith(
        "batch_size=16 does not apply to this image folder stream, which yields batches of 8"
    )
    assert "image_folder_stream(..., batch_size=16) and leave out batch_size= here." in message


# -- progress only with verbose on --------------------------------------------------


def test_progress_with_verbose_0_is_refused(tmp_path, arrays):
    message = _refused(tmp_path, arrays, progress="bar", verbose=0)
    assert message == (
        "progress='bar' only applies with verbose=1: verbose=0 shows no progress. Leave "
        "out progress=, or pass verbose=1 to see the progress."
    )


def test_cli_progress_with_quiet_is_refused(tmp_path, capsys):
    code, err = _cli(tmp_path, capsys, "--quiet", "--progress", "bar")
    assert code == 2, err
    assert err.startswith(
        "error: --progress bar only applies without --quiet, which shows no progress. "
        "Leave out --progress bar, or --quiet"
    ), err


# -- "the default fine tuner" only when not given -----------------------------------


@pytest.mark.parametrize("given", [False, True])
def test_cv_with_hyperband_says_default_only_when_not_given(tmp_path, arrays, given):
    message = _refused(tmp_path, arrays, cv=2, **({"fine_tuner": "hyperband"} if given else {}))
    assert message.startswith("cv=2 cannot be used with fine_tuner='hyperband'")
    assert ("(the default fine tuner)" in message) is not given


@pytest.mark.parametrize("given", [False, True])
def test_cli_cv_with_hyperband_says_default_only_when_not_given(tmp_path, capsys, given):
    tuner = ["--fine-tuner", "hyperband"] if given else []
    code, err = _cli(tmp_path, capsys, "--cv", "2", *tuner)
    assert code == 2, err
    assert err.startswith("error: --cv 2 cannot be used with --fine-tuner hyperband"), err
    assert ("(the default fine tuner)" in err) is not given


def test_local_workers_get_the_settings_as_given(tmp_path, stream):
    # `tunekit.distribute.launch.local_chief` rebuilds the run from these: a default
    # stream run's workers must not be given batch_size (refused with a stream).
    run = CoarseToFine(MnistDenseHyperModel(), stream, directory=tmp_path, finalists=3)
    assert set(run.given_settings) == set(GIVEN_ONLY)
    assert all(value is None for value in run.given_settings.values())


def test_a_stream_run_recorded_with_a_batch_size_still_resumes(tmp_path, stream):
    """A stream run started with batch_size=16 (accepted before) resumes without it: the
    setting did nothing, and giving it again is refused."""
    import json

    from tunekit.reproduce import python_call

    run = CoarseToFine(MnistDenseHyperModel(), stream, directory=tmp_path, project_name="p")
    config = {**run.config(), "batch_size": 16}  # as the older version recorded it
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "manifest.json").write_text(json.dumps({"config": config}))
    again = CoarseToFine(MnistDenseHyperModel(), stream, directory=tmp_path, project_name="p")
    assert again.config() == config
    assert "batch_size" not in python_call(again)  # never claimed: the stream's batches
