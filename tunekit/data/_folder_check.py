"""An image folder's listing, with every problem of its layout and files named in one error.

Each check refused the folder on its own, one after another: a folder with a
loose image in its root, a PNG saved without its suffix and a cut JPEG took
three runs to learn its three problems. `FolderCheck` lists the folder once
and runs every check that can run; each problem found adds its message (the
same wording and fix as when it is the only one), and `raise_problems` names
them all in one `DataError`, grouped by kind: the layout (split folders,
class folder names, fewer than 2 classes, images in no class, a run folder
inside), then the files (subfolders that cannot be listed, unreadable files,
images Keras does not list), then the classes' counts (empty classes, too
few images to split). The loaders add what they find when they read the files
(`unreadable`: Pillow cannot open a file, or its bytes cannot be read) and the
split's refusal (`check_split`: classes too small to split) before raising.

A check that means nothing once another failed is left out: the classes are
not counted when the subfolders are split folders or fewer than 2; a class
whose only files are images of another name or format, or unreadable, is not
called empty (renaming or replacing them fills it); and the split is checked
on every image found in the class folders, readable or not, so a class is not
called too small for files the fix of another problem keeps in it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tunekit import _log
from tunekit.data._folders import check_class_counts, check_not_split_folders
from tunekit.data._image_kinds import IMAGE_SUFFIXES, image_kind, named_images
from tunekit.data._label_text import check_label_texts
from tunekit.errors import DataError

__all__ = ["FolderCheck", "list_images", "unreadable_image", "unreadable_images"]

# The kinds of problem, in the order the error names them: the layout, the files, the counts.
_KINDS = (
    "missing class links",
    "split folders",
    "class names",
    "too few classes",
    "images in no class",
    "run folders",
    "unlisted folders",
    "unreadable files",
    "other formats",
    "empty classes",
    "split",
)


class FolderCheck:
    """An image folder listed as Keras lists it, and the problems found in it.

    Listing runs every check of the folder's layout and file names; the
    loaders then add what reading the files finds (`unreadable`) and the
    split's refusal (`check_split`), and call `raise_problems`.

    Attributes:
        folder: The folder, as given.
        listing: `(class/.../file relative path, size in bytes, mtime in ns)` of
            every image Keras lists, sorted (empty when the folder is missing).

    Raises:
        DataError: At once, when the folder is missing (nothing else can be checked).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._problems: dict[str, list[str]] = {kind: [] for kind in _KINDS}
        self._unreadable: dict[Path, Exception] = {}
        self._unlisted: list[OSError] = []  # subfolders os.walk cannot read: images lost
        self._other_format: list[str] = []  # images Keras cannot decode: left out
        self._found: list[str] = []  # every image in a class folder, listed or not
        self._counted = True  # whether the subfolders are classes whose images count
        self.listing = self._list()

    def unreadable(self, file: Path, error: Exception) -> None:
        """Records an image that cannot be read (its first error is kept)."""
        self._unreadable.setdefault(file, error)

    def check_split(self, validation_fraction: float, test_fraction: float) -> None:
        """Records `check_class_counts`'s refusal (classes too small to split, every one
        named), when the classes count.

        The counts are of every image found in the class folders, listed or
        not, so a class is called too small only if it is so whatever the other
        problems' fixes; past the check, `split_files` puts every class in every
        split, so the check's "at least N each" is all the split needs.
        """
        if not self._counted or not self._found:
            return
        try:
            check_class_counts(self._found, validation_fraction, test_fraction)
        except DataError as e:
            self._problems["split"].append(str(e))

    def problems(self) -> list[str]:
        """Every problem's message, in the order of their kinds."""
        found = dict(self._problems)
        if self._unlisted:
            shown = _log.listed(
                self._unlisted,
                10,
                form=lambda e: f"{e.filename!r} ({e.strerror})",
                sep="; ",
                more=True,
            )
            found["unlisted folders"] = [
                f"Could not list {len(self._unlisted)} folder(s) in {str(self.folder)!r}: "
                f"{shown}. Their images would be left out of the data: make them readable (or "
                "remove them), then rerun."
            ]
        if self._unreadable:
            files = sorted(self._unreadable.items())
            found["unreadable files"] = [str(unreadable_images(files))]
        if self._other_format:
            found["other formats"] = [
                f"{len(self._other_format)} image(s) in {str(self.folder)!r} are in a format "
                f"Keras cannot decode, or under a name it does not list "
                f"({'/'.join(IMAGE_SUFFIXES)}), and would be left out of the data: "
                f"{named_images(self.folder, sorted(self._other_format))}. Convert them to PNG "
                "or JPEG (an image editor's export, or Pillow's Image.save), give a "
                "PNG/JPEG/BMP/GIF image its own suffix, or remove them from the folder (move "
                "them out), then rerun."
            ]
        return [message for kind in _KINDS for message in found[kind]]

    def raise_problems(self) -> None:
        """Raises one `DataError` naming every problem found, if any.

        One problem's message is its own; several are numbered under one line
        naming the folder and how many there are.
        """
        found = self.problems()
        if len(found) == 1:
            raise DataError(found[0])
        if found:
            numbered = "\n".join(f"{i}. {message}" for i, message in enumerate(found, 1))
            raise DataError(
                f"The image folder {str(self.folder)!r} has {len(found)} problems; fix them "
                f"all, then rerun:\n{numbered}"
            )

    def _add(self, kind: str, check: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Runs `check(*args, **kwargs)`, recording a `DataError` it raises as a problem."""
        try:
            check(*args, **kwargs)
        except DataError as e:
            self._problems[kind].append(str(e))

    def _list(self) -> list[tuple[str, int, int]]:
        folder = self.folder
        if not folder.is_dir():
            raise DataError(
                f"Image folder not found: {str(folder)!r}. Expected a directory with "
                "one subfolder of images per class."
            )
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
        if broken := sorted(p.name for p in entries if p.is_symlink() and not p.exists()):
            self._problems["missing class links"].append(
                f"Class folder(s) {broken} in {str(folder)!r} are symbolic links to folders "
                "that do not exist: their images would be left out. Fix or remove the links, "
                "then rerun."
            )
        classes = sorted(p.name for p in entries if p.is_dir())
        self._add("split folders", check_not_split_folders, folder, classes)
        self._counted = not self._problems["split folders"]  # `train/` is no class to count
        self._add(  # `Cat/` and `cat/`, `cat /`: one class, two folders
            "class names",
            check_label_texts,
            classes,
            f"the class folders of the image folder {str(folder)!r}",
            declared=True,
            numbers=False,  # `3.1/` and `3.10/`: two folders, two classes
            fix="Move each class's images into one folder (one folder per class)",
        )
        loose = sorted(p.name for p in entries if not p.is_dir() and image_kind(p))
        if len(classes) < 2 and self._counted:
            self._counted = False
            self._problems["too few classes"].append(
                f"Need at least 2 class subfolders in {str(folder)!r}, found "
                f"{len(classes)}: {classes}"
                + (f", and {len(loose)} image(s) in no class ({_named(loose)})" if loose else "")
                + ". Put each class in its own subfolder."
            )
        elif loose:
            self._problems["images in no class"].append(
                f"{len(loose)} image(s) directly in {str(folder)!r}, in no class subfolder, "
                f"would be left out of the data: {_named(loose)}. Move each into its class's "
                "subfolder (or out of the folder), then rerun."
            )
        listing = []
        empty = []
        for name in classes:
            found, holds = self._list_class(name)
            if not holds:
                empty.append(name)
            listing += sorted(found)
        self._counted = self._counted and not self._unlisted  # unknown images: not counted
        if empty and self._counted:
            self._problems["empty classes"].append(
                f"Class folder {empty[0]!r} in {str(folder)!r} has no images "
                f"({'/'.join(IMAGE_SUFFIXES)}); add images or remove the folder."
                if len(empty) == 1
                else f"Class folders {_named(empty)} in {str(folder)!r} have no images "
                f"({'/'.join(IMAGE_SUFFIXES)}); add images or remove the folders."
            )
        return listing

    def _list_class(self, name: str) -> tuple[list[tuple[str, int, int]], bool]:
        """The listed images of class `name` (in its folder and the folders inside it, as
        Keras's `image_dataset_from_directory` lists them), and whether it may hold an
        image, listed or not (a subfolder it cannot list, or a run in it, may); its
        problems recorded."""
        folder = self.folder
        found = []
        unlisted = len(self._unlisted)
        holds = False
        for parent, folders, files in os.walk(folder / name, onerror=self._unlisted.append):
            folders[:] = sorted(f for f in folders if not f.startswith("."))
            inside = Path(parent).relative_to(folder).as_posix()
            if _holds_a_run(Path(parent), files):
                folders[:] = []  # the run's plots are no images of the class
                holds = True  # moving the run out is the fix, not "add images"
                self._problems["run folders"].append(
                    f"{inside!r} in the image folder {str(folder)!r} holds a tunekit run, not "
                    f"images of class {name!r}: the run's plots would be read as images of "
                    "that class. Move the run's folder out of the image folder, and give the "
                    "runs a folder outside it (directory=), then rerun."
                )
                continue
            for file in files:
                kind = image_kind(Path(parent) / file)
                if kind is not None:
                    holds = True
                    self._found.append(f"{inside}/{file}")
                if kind == "other":
                    self._other_format.append(f"{inside}/{file}")
                elif kind == "keras":
                    try:
                        stat = os.stat(Path(parent) / file)
                    except OSError as e:  # all of them named at once, not one a run
                        self.unreadable(Path(parent) / file, _stat_error(Path(parent) / file, e))
                        continue
                    found.append((f"{inside}/{file}", stat.st_size, stat.st_mtime_ns))
        return found, holds or len(self._unlisted) > unlisted


def list_images(folder: Path) -> list[tuple[str, int, int]]:
    """`(class/file relative path, size in bytes, mtime in ns)` of every image, sorted.

    Classes are the sorted subfolder names; a class's images are those in its
    folder and in the folders inside it, as Keras's `image_dataset_from_directory`
    lists them (hidden entries and files that are not images are ignored). Used
    by the in-memory loader and by `tunekit.image_streams`.

    Raises:
        DataError: Naming every problem found at once (`FolderCheck`): the folder
            is missing, holds split folders of class folders (`train/<class>/...`:
            `check_not_split_folders`), class folders apart only by letter case or
            spaces (`Cat/`, `cat/`), has fewer than 2 class subfolders, classes
            without images, subfolders that cannot be listed, images whose size
            cannot be read (a broken symbolic link), images directly in the
            folder (in no class), a tunekit run in a class folder, or images of
            a format Keras cannot decode or under a name it does not list, naming
            each (up to 10): a suffix Pillow or `mimetypes` knows as an image's,
            or (any other suffix) a file whose header Pillow reads as an image;
            see `tunekit.data._image_kinds`.
    """
    check = FolderCheck(folder)
    check.raise_problems()
    return check.listing


def unreadable_image(file: Path, error: Exception) -> DataError:
    """The error for an image file Pillow cannot open: names the file and the fix."""
    return DataError(
        f"Could not read image {str(file)!r} ({error}). Replace it with a readable "
        f"{'/'.join(IMAGE_SUFFIXES)} image or remove it from the folder, then rerun."
    )


def unreadable_images(files: list[tuple[Path, Exception]]) -> DataError:
    """`unreadable_image` for one file; for several, every one named (up to 10) at once."""
    if len(files) == 1:
        return unreadable_image(*files[0])
    shown = _log.listed(files, 10, form=lambda f: f"{str(f[0])!r} ({f[1]})", sep="; ", more=True)
    return DataError(
        f"Could not read {len(files)} images: {shown}. Replace them with readable "
        f"{'/'.join(IMAGE_SUFFIXES)} images or remove them from the folder, then rerun."
    )


def _stat_error(file: Path, error: OSError) -> Exception:
    """`error`, or for a symbolic link whose target is missing, an error that says so."""
    if file.is_symlink():
        return OSError(f"a symbolic link to {os.readlink(file)!r}, which does not exist")
    return error


def _named(names: Sequence[str], shown: int = 10) -> str:
    """`names` for a message: the first `shown`, then how many more."""
    return _log.listed(names, shown, form=repr, more=True)


def _holds_a_run(parent: Path, files: Sequence[str]) -> bool:
    """Whether `parent` is a tunekit run's folder: a `manifest.json` of tunekit's keys."""
    if "manifest.json" not in files:
        return False
    try:
        state = json.loads((parent / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and {"config", "fingerprint", "steps"} <= set(state)
