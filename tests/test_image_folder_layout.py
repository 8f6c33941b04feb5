"""One image folder, one reading: its layout and its split, whichever loader reads it.

- A folder of split folders (`f/{train,val,test}/{classes}`, Keras's common
  layout) was trained as the classes "test", "train", "val" with exit 0; it is
  refused by every loader (Python: DataError; CLI: exit 2), naming the fix.
- `load_image_directory` split a folder differently from `image_folder_stream`
  and the command line (round(n * fraction) per class after a shuffle, against
  scikit-learn's stratified split): a saved model scored on its `x_test` was
  scored mostly on training images. Both use one split now.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tunekit.cli_data import folder_stream
from tunekit.coarse_to_fine import main
from tunekit.data import load_image_directory
from tunekit.errors import DataError
from tunekit.image_streams import folder_format, image_folder_stream

LOADERS = {
    "image_folder_stream": image_folder_stream,
    "folder_format": folder_format,
    "load_image_directory": lambda root: load_image_directory(root, (6, 6)),
}


def _images(folder: Path, count: int, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("L", (6, 6), (start + 5 * i) % 256).save(folder / f"{i}.png")


def _split_layout(root: Path, splits: tuple[str, ...], classes=("0", "1", "2")) -> Path:
    for split in splits:
        for name in classes:
            _images(root / split / name, 6)
    return root


@pytest.mark.parametrize(
    "splits, given",
    [
        pytest.param(("train", "val", "test"), "train", id="train_val_test"),
        pytest.param(("Training", "Validation", "Testing"), "Training", id="any_case"),
        pytest.param(("train", "test"), "train", id="train_test"),
        pytest.param(("training_set", "test_set"), "training_set", id="kaggle_sets"),
        pytest.param(("valid", "test"), "test", id="no_train_folder"),
        # One nested level only: was "at least 2 class subfolders, found 1: ['train']".
        pytest.param(("train",), "train", id="train_alone"),
        # Names a list missed (helper retry): a word of the name names the split.
        pytest.param(("seg_train", "seg_test"), "seg_train", id="prefixed"),
        pytest.param(("Train_Data", "Test_Data"), "Train_Data", id="suffixed"),
        pytest.param(("trn", "tst"), "trn", id="abbreviated"),
        pytest.param(("TrainSet", "ValSet"), "TrainSet", id="camel_case"),
        # Words joined (second retry): `traindata`, `HoldOut`, `tests`, `eval`.
        pytest.param(("traindata", "testdata"), "traindata", id="joined"),
        pytest.param(("trainval", "Hold_Out"), "trainval", id="holdout"),
        pytest.param(("learn", "eval"), "eval", id="eval"),
        pytest.param(("trainimages", "tests"), "trainimages", id="plural"),
    ],
)
@pytest.mark.parametrize("loader", list(LOADERS))
def test_a_folder_of_split_folders_is_refused_by_every_loader(tmp_path, splits, given, loader):
    root = _split_layout(tmp_path / "f", splits)
    with pytest.raises(DataError) as caught:
        LOADERS[loader](root)
    message = str(caught.value)
    assert "holds split folders, not class folders" in message
    assert "the class folders '0', '1', '2'" in message
    assert f"--data {root / given} (Python: image_folder_stream(" in message
    assert "merge the split folders' class folders into one folder" in message
    assert "A separate validation or test folder is not taken" in message
    assert "StreamData(train, val, test)" in message


def test_a_split_folder_beside_ordinary_classes_is_refused(tmp_path):
    """One split name holding class folders, next to class folders of images."""
    root = tmp_path / "f"
    _images(root / "cat", 6)
    _images(root / "dog", 6)
    _split_layout(root, ("test",), classes=("cat", "dog"))
    with pytest.raises(DataError, match=r"'test' holds the class folders 'cat', 'dog'"):
        image_folder_stream(root)


def test_a_split_named_folder_of_images_among_classes_stays_a_class(tmp_path):
    """A class named 'test' (or 'train', the vehicle) whose images sit in it directly,
    beside other classes, is a class."""
    root = tmp_path / "f"
    _images(root / "test", 6)
    _images(root / "cat", 6, start=100)
    _images(root / "other" / "nested", 6, start=50)  # not a split name: nested is allowed
    assert image_folder_stream(root).class_names == ["cat", "other", "test"]
    assert load_image_directory(root, (6, 6)).class_names == ["cat", "other", "test"]


@pytest.mark.parametrize(
    "names",
    [("test", "train"), ("test", "valid"), ("test1", "train")],
    ids=["train_test", "test_valid", "kaggle_dogs_vs_cats"],
)
@pytest.mark.parametrize("loader", list(LOADERS))
def test_split_folders_of_images_with_no_class_folders_are_refused(tmp_path, names, loader):
    """`train/cat.1.jpg`, `test1/1.jpg` (Kaggle's dogs vs cats): trained as the classes
    'test' and 'train', exit 0 (test accuracy at chance)."""
    root = tmp_path / "f"
    for i, name in enumerate(names):
        _images(root / name, 6, start=40 * i)
    with pytest.raises(DataError) as caught:
        LOADERS[loader](root)
    message = str(caught.value)
    assert "holds split folders, not class folders" in message
    assert f"{names[0]!r} and {names[1]!r} hold images directly" in message
    assert "one subfolder per class" in message


def test_split_folders_holding_class_folders_and_a_few_loose_images_are_refused(tmp_path):
    root = _split_layout(tmp_path / "f", ("train", "test"), classes=("cat", "dog"))
    _images(root / "train", 2, start=200)  # a few images left beside the class folders
    _images(root / "test", 2, start=220)
    with pytest.raises(DataError, match=r"'test' and 'train' hold the class folders 'cat', 'dog'"):
        image_folder_stream(root)


@pytest.mark.parametrize(
    "splits, fix",
    [
        (("fold1", "fold2", "fold3"), "merge the folds' class folders into one folder"),
        (("Fold_1", "fold-2"), "merge the folds' class folders into one folder"),
        (("entrenamiento", "prueba"), "--data {root}/entrenamiento"),
        (("treino", "validação", "teste"), "--data {root}/treino"),
        (("Trainingsdaten", "Testdaten"), "--data {root}/Trainingsdaten"),
        (("apprentissage", "test"), "--data {root}/apprentissage"),
        (("训练集", "测试集"), "--data {root}/训练集"),
        (("обучение", "тест"), "--data {root}/обучение"),
        (("訓練データ", "テスト"), "--data {root}/訓練データ"),
        (("학습", "검증"), "--data {root}/학습"),
        (("train", "Development"), "--data {root}/train"),
        (("train", "minival"), "--data {root}/train"),
    ],
)
def test_folds_and_split_names_in_other_languages_are_refused(tmp_path, splits, fix):
    """Names a word list in English missed (third retry): `fold1/<class>`, `prueba/`..."""
    root = _split_layout(tmp_path / "f", splits)
    with pytest.raises(DataError) as caught:
        image_folder_stream(root)
    assert "holds split folders, not class folders" in str(caught.value)
    assert fix.format(root=root) in str(caught.value)


def test_a_class_named_with_a_split_word_nested_like_its_siblings_is_a_class(tmp_path):
    """`test_tubes/{a,b}` beside `pretest/{a,b}`, `devil/{a,b}`: a class whose images sit in
    subfolders like every other class's (refused before, and told it was the training
    folder)."""
    root = tmp_path / "f"
    inner = {"pretest": ("2019", "2020"), "devil": ("wild", "zoo"), "test_tubes": ("a", "b")}
    for i, (name, sources) in enumerate(inner.items()):
        for j, source in enumerate(sources):
            _images(root / name / source, 6, start=30 * i + 3 * j)
    assert image_folder_stream(root).class_names == ["devil", "pretest", "test_tubes"]
    # the same subfolders in every folder: splits of the same classes (`learn/`, `eval/`)
    for name in ("devil", "pretest"):
        for source in ("a", "b"):
            _images(root / name / source, 6)
        for source in inner[name]:
            shutil.rmtree(root / name / source)
    with pytest.raises(DataError, match="holds split folders, not class folders"):
        image_folder_stream(root)


def test_classes_that_all_hold_the_same_subfolders_are_loaded_with_a_warning(tmp_path, caplog):
    """`a/{x,y}`, `b/{x,y}`: classes with subfolders by source, or splits under an unknown
    name? Loaded as classes, with a warning that says how to tell."""
    root = tmp_path / "f"
    for name in ("dogs", "cats"):
        for source in ("indoor", "outdoor"):
            _images(root / name / source, 6, start=len(name + source))
    with caplog.at_level("WARNING", logger="tunekit.data"):
        assert image_folder_stream(root).class_names == ["cats", "dogs"]
    assert "holds the subfolders 'indoor' and 'outdoor' and no image directly" in caplog.text
    assert "splits or folds of the data rather than classes" in caplog.text


def test_cli_exits_2_on_a_folder_of_split_folders(tmp_path, capsys):
    root = _split_layout(tmp_path / "f", ("train", "val", "test"))
    args = ["--data", str(root), "--backend", "tensorflow", "--directory", str(tmp_path / "runs")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "holds split folders, not class folders" in err
    assert f"--data {root / 'train'}" in err
    assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def _distinct_images(root: Path, counts: dict[str, int]) -> Path:
    """One gray level per image (its id), so a split's images name its files."""
    level = 0
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.new("L", (4, 4), level).save(root / name / f"{i:02d}.png")
            level += 3
    return root


@pytest.mark.parametrize(
    "fractions, seed",
    [
        ({}, 0),
        ({"validation_fraction": 0.2, "test_fraction": 0.25}, 7),
        ({"test_fraction": 0.3}, 3),
    ],
)
def test_every_loader_splits_a_folder_into_the_same_files(tmp_path, fractions, seed):
    # 'a' and 'a-b': sorted paths ('a-b/..' < 'a/..') and sorted classes differ in order.
    root = _distinct_images(tmp_path / "f", {"a": 13, "a-b": 20, "c": 9, "d": 31})
    levels = {
        path: int(np.asarray(Image.open(root / path))[0, 0])
        for path in (p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    }
    stream = image_folder_stream(root, seed=seed, **fractions)
    memory = load_image_directory(root, (4, 4), seed=seed, color_mode="grayscale", **fractions)
    assert memory.class_names == stream.class_names == ["a", "a-b", "c", "d"]
    for split in ("train", "val", "test"):
        x, y = getattr(memory, f"x_{split}"), getattr(memory, f"y_{split}")
        loaded = sorted(np.rint(x[:, 0, 0, 0] * 255).astype(int).tolist())
        assert loaded == sorted(levels[p] for p in stream.files[split]), split
        assert sorted(y.tolist()) == sorted(stream.labels[split].tolist())
    if not fractions:  # the command line's split: seed 0 whatever --seed
        args = argparse.Namespace(
            data=str(root), directory=str(tmp_path / "runs"), batch_size=None, image_size=None,
            seed=5,
        )  # fmt: skip
        assert folder_stream(args).files == stream.files


def test_the_kaggle_intel_layout_of_split_folders_twice_nested_is_refused(tmp_path):
    """`seg_train/seg_train/<class>`, `seg_pred/seg_pred/*.png`: trained with exit 0 as the
    classes 'seg_pred', 'seg_test', 'seg_train' before."""
    root = tmp_path / "intel"
    for split in ("seg_train", "seg_test"):
        _split_layout(root / split, (split,))
    _images(root / "seg_pred" / "seg_pred", 6)
    with pytest.raises(DataError, match="holds split folders, not class folders") as caught:
        image_folder_stream(root)
    # The folder that holds the class folders, not its split-named parent (which is refused).
    assert f"--data {root / 'seg_train' / 'seg_train'} (Python" in str(caught.value)
    assert "the class folders '0', '1', '2'" in str(caught.value)


@pytest.mark.parametrize("name", ["trainers", "contest", "latest", "devil", "evaluation_kit"])
def test_class_folders_whose_names_only_contain_a_split_word_load(tmp_path, name):
    root = tmp_path / "f"
    _images(root / "cat" / "indoor", 6)  # nested class folders: images in subfolders
    _images(root / name / "indoor", 6, start=100)
    assert sorted(image_folder_stream(root).class_names) == sorted(["cat", name])


def test_split_folders_under_unlisted_names_with_a_class_more_are_warned_about(tmp_path, caplog):
    """`zbior_treningowy/{kot,pies,ptak}`, `zbior_testowy/{kot,pies}`: the training split with
    a class more (names not listed then) loaded as two classes with no warning at all."""
    root = tmp_path / "f"
    for split, classes in (("zbior_a", ("kot", "pies", "ptak")), ("zbior_b", ("kot", "pies"))):
        for i, name in enumerate(classes):
            _images(root / split / name, 6, start=20 * i)
    with caplog.at_level("WARNING", logger="tunekit.data"):
        assert image_folder_stream(root).class_names == ["zbior_a", "zbior_b"]
    assert "holds the subfolders 'kot' and 'pies' and no image directly" in caplog.text


@pytest.mark.parametrize(
    "splits",
    [("zbior_treningowy", "zbior_testowy"), ("latih", "uji"), ("eğitim", "doğrulama")],
    ids=["polish", "indonesian", "turkish"],
)
def test_more_languages_split_names_are_refused(tmp_path, splits):
    root = _split_layout(tmp_path / "f", splits)
    with pytest.raises(DataError, match="holds split folders, not class folders"):
        image_folder_stream(root)


def test_flat_class_folders_with_split_words_beside_other_classes_load(tmp_path):
    """`train_ticket/`, `test_report/` beside `invoice/`, all images directly: document
    classes, refused as split folders."""
    root = tmp_path / "f"
    for i, name in enumerate(("train_ticket", "test_report", "invoice")):
        _images(root / name, 6, start=30 * i)
    assert image_folder_stream(root).class_names == ["invoice", "test_report", "train_ticket"]
