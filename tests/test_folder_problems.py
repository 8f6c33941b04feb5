"""Every problem of an image folder is named in one error, not one a run.

The checks of a folder refused it one after another: a loose image in its root,
a PNG saved without its suffix and an unreadable file took three runs (exit 2
each) to learn. Now every loader (the command line, `image_folder_stream`,
`folder_format`, `load_image_directory`) names them all at once, each with its
own fix, in the order of their kinds; one problem alone keeps its own message.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tunekit.coarse_to_fine import main
from tunekit.data import load_image_directory
from tunekit.errors import DataError
from tunekit.image_streams import folder_format, image_folder_stream

LOADERS = {
    "image_folder_stream": image_folder_stream,
    "folder_format": folder_format,
    "load_image_directory": lambda root: load_image_directory(root, (6, 6)),
}
LOOSE = "1 image(s) directly in"
UNREADABLE = "Could not read image"
RENAME = "'flat/scan' (a PNG: name it .png)"


def _images(folder: Path, count: int, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("L", (6, 6), (start + 5 * i) % 256).save(folder / f"{i}.png")


def _three_problems(root: Path) -> Path:
    """A loose image in the root, a PNG without its suffix, and a file Pillow cannot read."""
    for start, name in enumerate(("flat", "round", "square")):
        _images(root / name, 8, start=40 * start)
    Image.new("L", (6, 6), 9).save(root / "loose.png")
    Image.new("L", (6, 6), 99).save(root / "flat" / "scan", format="PNG")
    (root / "round" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(30))
    return root


def _refusal(load, root) -> str:
    with pytest.raises(DataError) as e:
        load(root)
    return str(e.value)


@pytest.mark.parametrize("loader", list(LOADERS))
def test_a_folder_with_three_problems_is_refused_naming_all_three(tmp_path, loader):
    root = _three_problems(tmp_path / "f")
    message = _refusal(LOADERS[loader], root)
    lines = message.splitlines()
    assert lines[0] == f"The image folder {str(root)!r} has 3 problems; fix them all, then rerun:"
    # The layout, the files, then the names Keras does not list: each with its own fix.
    assert lines[1].startswith(f"1. {LOOSE} {str(root)!r}") and "'loose.png'. Move" in lines[1]
    assert lines[2].startswith(f"2. {UNREADABLE} {str(root / 'round' / 'bad.png')!r}")
    assert "Replace it with a readable" in lines[2]
    assert lines[3].startswith("3. 1 image(s) in ") and RENAME in lines[3]
    assert "give a PNG/JPEG/BMP/GIF image its own suffix" in lines[3] and len(lines) == 4


def test_cli_names_every_problem_of_the_folder_in_one_refusal(tmp_path, capsys):
    root = _three_problems(tmp_path / "f")
    args = ["--data", str(root), "--backend", "tensorflow", "--directory", str(tmp_path / "runs")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: The image folder {str(root)!r} has 3 problems"), err
    for said in (LOOSE, UNREADABLE, RENAME):
        assert err.count(said) == 1, err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("loader", list(LOADERS))
def test_too_few_images_and_every_empty_class_are_named_with_the_files_problems(tmp_path, loader):
    """The classes' counts are checked with the files: a class too small to split and
    every empty class (the first only, before) beside an unreadable file."""
    root = tmp_path / "f"
    _images(root / "many", 8)
    _images(root / "few", 1)
    (root / "many" / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "void").mkdir()
    (root / "blank").mkdir()
    message = _refusal(LOADERS[loader], root)
    split = loader != "folder_format"  # which asks for no split
    assert f"has {3 if split else 2} problems" in message.splitlines()[0]
    assert f"1. {UNREADABLE} {str(root / 'many' / 'cut.png')!r}" in message
    assert f"2. Class folders 'blank', 'void' in {str(root)!r} have no images" in message
    assert ("3. Too few images to split class(es) 'few' (1 image)" in message) is split


def test_a_class_whose_only_images_need_a_rename_is_not_called_empty(tmp_path):
    """Renaming fills it: the rename is the only problem, said as it always was."""
    root = tmp_path / "f"
    _images(root / "a", 8)
    _images(root / "b", 8)
    (root / "c").mkdir()
    for i in range(8):
        Image.new("L", (6, 6), 3 * i).save(root / "c" / f"scan{i}", format="PNG")
    for load in LOADERS.values():
        message = _refusal(load, root)
        assert message.startswith("8 image(s) in ") and "'c/scan0' (a PNG: name it .png)" in message


def test_split_folders_are_named_with_a_loose_image_not_as_too_few_classes(tmp_path):
    root = tmp_path / "f"
    for split in ("train", "test"):
        for name in ("cat", "dog"):
            _images(root / split / name, 6)
    Image.new("L", (6, 6), 9).save(root / "stray.png")
    message = _refusal(image_folder_stream, root)
    assert "has 2 problems" in message.splitlines()[0]
    assert "1. The image folder" in message and "holds split folders, not class folders" in message
    assert f"2. {LOOSE}" in message and "'stray.png'" in message
    assert "Need at least 2 class subfolders" not in message and "Too few images" not in message
