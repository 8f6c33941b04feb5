"""An image folder's layout and split: one rule for every loader of a folder.

- `check_not_split_folders`: a folder of split folders (`train/`, `val/`,
  `test/`, each holding class folders, the common Keras layout) is refused:
  read as class folders, "train", "val" and "test" became the classes and the
  real classes were mixed, with exit 0.
- `split_files`: the stratified, seeded train / validation / test split of a
  folder's files (scikit-learn's `train_test_split` with `stratify`), used by
  `image_folder_stream` (so the command line's `--data FOLDER`) and by
  `load_image_directory` alike: the same folder, fractions and seed give the
  same files in each split whichever loader reads it.
- `check_class_counts`: its one condition on the classes, at least
  `min_per_class` images each (one per split), every class short of it named
  at once. scikit-learn's split rounds each split's size over the whole
  folder, so a class of a few images (fewer than about 1/fraction: 7 at 15%)
  can miss a split however many the others hold; the check asked for 3, the
  split for 7, and following one refusal's fix met the next. Now such a
  folder is split per class (`tunekit.data._splits.per_class_split`, as a
  CSV's classes are), so every class of `min_per_class` images is in every
  split and the check's number is the split's.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tunekit import _log
from tunekit.data._image_kinds import image_kind
from tunekit.data._splits import min_per_class, per_class_split, warn_if_raised
from tunekit.errors import DataError

__all__ = ["SPLIT_FOLDER_NAMES", "check_class_counts", "check_not_split_folders", "split_files"]

SPLITS = ("train", "val", "test")
# Words (of a folder name cut at `_`, `-`, spaces, digits and camelCase) that name a split of
# the data rather than a class: `train`, `Train_Data`, `seg_train`, `trn`, `TestSet`, `val`,
# and the same in the languages users name folders in (`entrenamiento`, `prueba`, `treino`,
# `validación`, `обучение`, `训练`, `テスト`...). `fold1`, `fold_2`, `split3`: folds of a
# cross-validation.
SPLIT_FOLDER_NAMES = {
    "train": (
        "train", "training", "trainset", "trn", "trainings", "entrenamiento", "entreno",
        "apprentissage", "entrainement", "entraînement", "treino", "treinamento",
        "addestramento", "allenamento", "обучение", "обучающая", "тренировка", "тренировочная",
        "treningowy", "treningowe", "uczący", "latih", "pelatihan", "eğitim", "egitim",
    ),
    "val": (
        "val", "valid", "validation", "valset", "dev", "development", "minival", "validacion",
        "validación", "validacao", "validação", "validazione", "validierung", "валидация",
        "валидационная", "проверка", "проверочная", "walidacyjny", "walidacyjne", "validasi",
        "doğrulama", "dogrulama",
    ),
    "test": (
        "test", "testing", "testset", "tst", "holdout", "pred", "prediction", "prueba",
        "pruebas", "teste", "testes", "тест", "тестовая", "тестирование", "testowy", "testowe",
        "uji", "pengujian",
    ),
}  # fmt: skip
_SPLIT_OF = {word: split for split, words in SPLIT_FOLDER_NAMES.items() for word in words}
# Scripts written without spaces: a split word anywhere in the name (`訓練データ`, `测试集`).
_SPLIT_IN = {
    "训练": "train", "訓練": "train", "学習": "train", "학습": "train", "훈련": "train",
    "验证": "val", "検証": "val", "검증": "val",
    "测试": "test", "テスト": "test", "評価": "test", "테스트": "test",
}  # fmt: skip
_FOLD = re.compile(r"(?:k?fold|split|cv)[ _-]?\d+", re.IGNORECASE)


# A whole name, its separators dropped, that names a split: `traindata`, `HoldOut`, `tests`.
_JOINED = re.compile(
    r"(?P<train>train(?:ings?|val)?|trn)|(?P<val>val(?:id(?:ation)?)?|dev)"
    r"|(?P<test>tests?|testing|tst|holdout|eval(?:uation)?|pred(?:ictions?)?)"
)
_JOINED_NAME = re.compile(
    rf"(?:{_JOINED.pattern})"
    r"(?:data|daten|datos|dados|donnees|dataset|images?|imgs|bilder|sets?|samples|split)?"
)
_log_data = logging.getLogger("tunekit.data")


def _split_of(name: str) -> str | None:
    """The split a folder name names (`"train"`, `"val"`, `"test"`, or `"fold"` for
    `fold1`), or `None` for a class."""
    if _FOLD.fullmatch(name.strip()):
        return "fold"
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", name)
    words += re.findall(r"[^\W\d_]+", name)  # any script: `validación`, `训练集`
    found = next((_SPLIT_OF[w.lower()] for w in words if w.lower() in _SPLIT_OF), None)
    found = found or next((split for word, split in _SPLIT_IN.items() if word in name), None)
    joined = _JOINED_NAME.fullmatch(re.sub(r"[^a-z]", "", name.lower()))
    if found is None and joined is not None:
        found = next(k for k, v in joined.groupdict().items() if v)
    return found


def _entries(folder: Path) -> tuple[list[str], bool]:
    """`(sorted subfolder names, whether it holds an image directly)` of `folder`."""
    try:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    except OSError:
        return [], False  # list_images names a folder it cannot list
    images = any(not p.is_dir() and image_kind(p) for p in entries)
    return sorted(p.name for p in entries if p.is_dir()), images


def _holds_class_folders(folder: Path) -> list[str]:
    """The sorted subfolder names of `folder` when it holds subfolders and no image directly."""
    inner, images = _entries(folder)
    return [] if images else inner


def _listed(names: Sequence[str]) -> str:
    found = [repr(n) for n in names]
    return found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1]


def check_not_split_folders(folder: Path, names: Sequence[str]) -> None:
    """Refuses an image folder whose "class" folders are splits of the data.

    Args:
        folder: The image folder.
        names: Its (non-hidden) subfolder names, the classes it would give.

    Raises:
        DataError: When its subfolders are split folders. A subfolder is
            split-named when a word of its name is `train`/`training`/`trn`,
            `val`/`valid`/`validation`/`dev`, `test`/`testing`/`tst`/`pred`...
            (any case, and the same words in other languages: `entrenamiento`,
            `prueba`, `validación`, `训练`), or its whole name is `fold1`,
            `split_2`... Refused: split-named folders of two different splits
            (`train/` and `test/`, holding class folders, or images directly
            with no other folder beside them: Kaggle's `train/cat.1.jpg`);
            folders that are all split-named and hold subfolders
            (`train/<class>` alone, `fold1/<class>`, `fold2/<class>`); one
            split-named folder holding subfolders beside folders that hold
            none, or that all hold the very same subfolders (`learn/{a,b}`,
            `eval/{a,b}`). A class whose name merely contains such a word
            (`test_tubes/`, nested like its sibling classes in subfolders of
            its own) is a class. The message names the folders and the fix:
            give the training folder (tunekit splits it itself), or merge the
            class folders.

    Logs:
        A warning (logger `tunekit.data`) when every class folder holds the
        same two or more subfolders and no image directly (`a/{x,y}`,
        `b/{x,y}`): the classes may be splits under names not listed here.
    """
    kind = {name: _split_of(name) for name in names}
    named = [name for name in names if kind[name]]
    content = {name: _entries(folder / name) for name in names}
    nested = {name: content[name][0] for name in named if content[name][0]}
    kinds = {kind[name] for name in named}
    others = [n for n in names if not kind[n]]
    # One split name among classes that hold subfolders too (`test_tubes/` beside `devil/`):
    # a class, unless every folder holds the very same subfolders, as splits of the same
    # classes do (`learn/{a,b}`, `eval/{a,b}`).
    a_class = (
        bool(others)
        and all(content[n][0] and not content[n][1] for n in others)
        and len({tuple(content[n][0]) for n in names}) > 1
    )
    flat_classes = not nested and len(named) < len(names)  # `train_ticket/` beside `invoice/`
    if not named or flat_classes or (len(kinds) < 2 and (not nested or a_class)):
        _warn_if_shared_subfolders(folder, names, content)
        return
    if not nested:  # train/*.png, test/*.png: split folders with no class folders in them
        raise DataError(
            f"The image folder {str(folder)!r} holds split folders, not class folders: "
            f"{_listed(named)} hold images directly, so their names would be trained as the "
            "classes. tunekit takes each image's class from the name of its folder: put the "
            "images of each class in one subfolder per class (cat/, dog/, ...) of one folder "
            "(tunekit splits it itself into training, validation and test), and give that "
            "folder. If they really are classes, rename the folders."
        )
    train = next((n for n in nested if kind[n] == "train"), next(iter(nested)))
    given = folder / train
    while len(inner := _holds_class_folders(given)) == 1 and _split_of(inner[0]):
        given = given / inner[0]  # `training_set/training_set/<class>`: the class folders' folder
    classes = _entries(given)[0]
    shown = _log.listed(classes, 6, form=repr, more=True)
    split_names = _listed(list(nested))
    folds = "fold" in kinds
    raise DataError(
        f"The image folder {str(folder)!r} holds split folders, not class folders: "
        f"{split_names} {'hold' if len(nested) > 1 else 'holds'} the class folders {shown}; "
        f"read as they are, {split_names} would be trained as the classes, each mixing the real "
        "ones. tunekit splits one folder of class folders itself (stratified per class and "
        "seeded, by default 15% validation and 15% test, the same images every run), so "
        + (
            "merge the folds' class folders into one folder and give that"
            if folds
            else f"give it the training folder: --data {given} (Python: "
            f"image_folder_stream({str(given)!r}), load_image_directory({str(given)!r}, ...)), "
            "or merge the split folders' class folders into one folder"
        )
        + " (one subfolder per class holding all its images). A separate "
        "validation or test folder is not taken with an image folder; from Python, "
        "StreamData(train, val, test) takes three tf.data streams of your own (e.g. "
        "keras.utils.image_dataset_from_directory on each split folder). If "
        f"{train!r} really is a class whose images sit in subfolders, rename its folder."
    )


def _warn_if_shared_subfolders(
    folder: Path, names: Sequence[str], content: dict[str, tuple[list[str], bool]]
) -> None:
    if len(names) < 2 or any(content[n][1] or not content[n][0] for n in names):
        return
    # the subfolders every class folder holds: the same classes in each split, or the
    # training split with a class more (`zbior_treningowy/{kot,pies,ptak}`, `zbior_testowy/
    # {kot,pies}`: split names in a language not listed)
    shared = sorted(set.intersection(*(set(content[n][0]) for n in names)))
    if len(shared) >= 2:
        _log_data.warning(
            "Every class folder of %r (%s) holds the subfolders %s and no image "
            "directly: the classes are %s. If those folders are splits or folds of the "
            "data rather than classes, and the subfolders the classes, give one folder "
            "of class folders instead (merge them).",
            str(folder),
            _listed(list(names)[:6]),
            _listed(shared[:6]),
            _listed(list(names)[:6]),
        )


def check_class_counts(
    paths: Sequence[str], validation_fraction: float, test_fraction: float
) -> None:
    """Refuses a folder with a class too small to be in every split, naming them all.

    Args:
        paths: `class/.../file` paths relative to the folder; a file's class is
            its first part.
        validation_fraction, test_fraction: The split's fractions, each in [0, 1).

    Raises:
        DataError: Naming every class with fewer than `min_per_class` images
            (3, one per split; 2 when a fraction is 0) and their counts, with
            the fix: add images to reach that number (which `split_files` then
            splits, whatever the other classes hold), or move the folders out.
    """
    counts = dict(sorted(Counter(Path(p).parts[0] for p in paths).items()))
    needed = min_per_class(validation_fraction, test_fraction)
    short = {name: n for name, n in counts.items() if n < needed}
    if short:
        used = ["train"] + ["validation"] * (validation_fraction > 0)
        used += ["test"] * (test_fraction > 0)
        splits = ", ".join(used[:-1]) + " and " + used[-1]
        listed = ", ".join(f"{name!r} ({_log.count(n, 'image')})" for name, n in short.items())
        raise DataError(
            f"Too few images to split class(es) {listed} into {splits} (a stratified split "
            f"gives every class a share of each). Add images to those classes (at least "
            f"{needed} each, one per split), or move their folders out of the data folder. "
            f"Images per class: {counts}."
        )


def split_files(
    paths: Sequence[str], validation_fraction: float, test_fraction: float, seed: int
) -> tuple[list[str], dict[str, list[str]], dict[str, np.ndarray]]:
    """A folder's image files split per class into train / validation / test, seeded.

    scikit-learn's stratified `train_test_split` (test first, then validation
    from the rest, `random_state=seed`). It rounds each split's size over the
    whole folder, which can leave a small class out of a split (one of 6 images
    at 15%, among larger classes); then the whole folder is split per class
    instead, each class its own shares rounded and at least one image in each
    split (`tunekit.data._splits.per_class_split`, a CSV's split), and a warning
    (logger `tunekit.data`) names the classes. Either way every class of
    `min_per_class` images or more is in every split.

    Args:
        paths: `class/.../file` paths relative to the folder (any order: they
            are sorted first, so a listing's order changes nothing); a file's
            class is its first part.
        validation_fraction: Fraction of each class for validation, in [0, 1).
        test_fraction: Fraction of each class for testing, in [0, 1).
        seed: `random_state` of scikit-learn's `train_test_split` (and the
            per-class split's generator).

    Returns:
        `(class_names, files, labels)`: the sorted class names, the paths per
        split (`{"train" | "val" | "test": [path, ...]}`) and their int64 class
        ids per split, aligned with `files`.

    Raises:
        DataError: A class with fewer than `min_per_class` images
            (`check_class_counts`, naming them all).
    """
    check_class_counts(paths, validation_fraction, test_fraction)
    paths = sorted(paths)
    class_names = sorted({Path(p).parts[0] for p in paths})
    label_of = {name: i for i, name in enumerate(class_names)}
    y = np.asarray([label_of[Path(p).parts[0]] for p in paths], dtype=np.int64)
    index = _stratified_split(y, validation_fraction, test_fraction, seed, class_names)
    files = {s: [paths[i] for i in index[s]] for s in SPLITS}
    return class_names, files, {s: y[index[s]] for s in SPLITS}


def _stratified_split(
    y: np.ndarray,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    class_names: Sequence[str],
) -> dict[str, np.ndarray]:
    """Indices per split, stratified by class (scikit-learn), seeded; per class
    (`per_class_split`) when scikit-learn's would leave a class out of a split."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    parts: dict[str, np.ndarray] = {"test": index[:0], "val": index[:0]}
    try:
        rest = index
        if test_fraction > 0:
            rest, parts["test"] = train_test_split(
                index, test_size=test_fraction, stratify=y, random_state=seed
            )
        if validation_fraction > 0:
            share = validation_fraction / (1 - test_fraction)
            rest, parts["val"] = train_test_split(
                rest, test_size=share, stratify=y[rest], random_state=seed
            )
        parts["train"] = rest
    except ValueError as exc:  # a class too small for its rounding (after check_class_counts)
        left_out = f"cannot give every class a share of each split ({str(exc).rstrip('.')})"
    else:
        wanted = {"train": True, "val": validation_fraction > 0, "test": test_fraction > 0}
        missing = {
            split: sorted(set(range(len(class_names))) - set(y[parts[split]].tolist()))
            for split in SPLITS
            if wanted[split]
        }
        if not any(missing.values()):
            return parts
        counts = Counter(y.tolist())
        named = {
            split: ", ".join(f"{class_names[k]!r} ({_log.count(counts[k], 'image')})" for k in ks)
            for split, ks in missing.items()
            if ks
        }
        left_out = "leaves " + " and ".join(
            f"class(es) {names} out of the {'validation' if split == 'val' else split} split"
            for split, names in named.items()
        )
    _log_data.warning(
        "[data] scikit-learn's stratified split, which rounds each split's size over the "
        "whole folder, %s: the folder is split per class instead, as arrays and CSVs are "
        "(each class its own shares, rounded, at least one image in each split). The same "
        "files, fractions and seed give the same split.",
        left_out,
    )
    split = per_class_split(y, validation_fraction, test_fraction, seed)
    asked = {"val": validation_fraction, "test": test_fraction}
    warn_if_raised(split, asked, len(class_names), "add images or merge rare classes")
    return split
