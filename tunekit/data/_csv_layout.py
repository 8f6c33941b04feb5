"""How a CSV is laid out when `pd.read_csv(path)`'s defaults misread it, and the call that reads it.

Excel and lab software write CSVs that pandas's defaults read wrongly or not at
all: UTF-16 text (Excel's "Unicode Text", which starts with a byte order mark),
`;` or tabs between columns (whose names may hold commas, so that a comma split
looks plausible), a first line `sep=;` that names the separator, and comment or
preamble lines before the header. `misread` reads the first lines as written and
returns what it found (`Layout.said`) and the `pd.read_csv` call that reads the
file (`Layout.advice`), or None when the defaults fit.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tunekit import _log

__all__ = ["Layout", "misread"]

_BOMS = [  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_LINES = 50  # the first lines read
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+")
_GROUPED = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?")
_SEP_LINE = re.compile(r'"?sep=(.)"?')


@dataclass
class Layout:
    """What `misread` found: `said` (phrases for "it ..."), the `pd.read_csv` keyword
    arguments that read the file (`arguments`), and its columns read so (`columns`)."""

    said: list[str] = field(default_factory=list)
    arguments: dict[str, str | int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    then: str = ""  # what to do with the frame read, before saving it

    @property
    def told(self) -> str:
        """`said` as one phrase after "it"."""
        return ", and it ".join(self.said)

    @property
    def advice(self) -> str:
        """How to save the file so that the defaults read it, with the call that reads it."""
        given = "".join(f", {key}={value!r}" for key, value in self.arguments.items())
        wants = ["commas between columns (DataFrame.to_csv's default)"]
        wants += ["points in numbers"] if "decimal" in self.arguments else []
        wants += (
            ["the header on the first line"]
            if {"skiprows", "comment"} & set(self.arguments)
            else []
        )
        wants += ["as UTF-8"] if "encoding" in self.arguments else []
        return (
            f"Save it with {', '.join(wants[:-1]) + ' and ' if len(wants) > 1 else ''}"
            f"{wants[-1]}, e.g. pandas: pd.read_csv(path{given}){self.then}"
            ".to_csv(path, index=False)."
        )


def misread(file: Path, utf8: bool = True) -> Layout | None:
    """The layout of `file` when `pd.read_csv(file)` misreads it (see the module), or None.

    `utf8=False` says pandas failed to decode the file as UTF-8: without a byte order
    mark, the call given then reads it as Latin-1 (when anything else was found).
    """
    try:
        with open(file, "rb") as handle:
            head = handle.read(4)
        encoding = next((name for bom, name in _BOMS if head.startswith(bom)), None)
        with open(file, encoding=encoding or "utf-8-sig", errors="replace", newline="") as text:
            lines = [line.rstrip("\r\n") for line in itertools.islice(text, _LINES)]
    except OSError:
        return None
    rows = [(i, line) for i, line in enumerate(lines) if line.strip()]
    sep_line = _SEP_LINE.fullmatch(rows[0][1].strip()) if rows else None
    if sep_line:  # Excel's `sep=;`: the separator, then the header
        rows = rows[1:]
    if not rows:
        return None
    seps = [sep_line.group(1)] if sep_line else [",", ";", "\t", "|"]
    sep, start, numbers = max((_reading(rows, s) for s in seps), key=lambda r: r[2])
    if not (encoding or sep_line or start or sep != ","):
        return None
    layout = Layout()
    if encoding:
        name = encoding.upper()
        layout.said.append(
            f"is {name} text (it starts with a {name} byte order mark, as Excel's "
            '"Unicode Text" writes), not UTF-8'
        )
    elif not utf8:
        layout.said.append("is not UTF-8 text")
    if sep_line:
        layout.said.append(
            f"starts with Excel's line {sep_line.group(0)!r}, "
            "which names the separator and is not the header"
        )
    fields = [f.strip() for _, line in rows[start + 1 :] for f in _fields(line, sep)]
    decimal = next((f for f in fields if _DECIMAL_COMMA.fullmatch(f)), None) if sep != "," else None
    if sep != ",":
        layout.said.append(
            f"seems to separate its columns with {sep!r}"
            + (
                f" and to write numbers with decimal commas ({decimal})"
                if decimal
                else ", not commas"
            )
        )
    if sep != "," or sep_line:
        layout.arguments["sep"] = sep
    if decimal:
        layout.arguments["decimal"] = ","
        if any(_GROUPED.fullmatch(f) for f in fields):  # 1.234,5: points between thousands
            layout.arguments["thousands"] = "."
    header = rows[start][0]  # lines (of the file, blank ones too) before the header
    before = [line for _, line in rows[:start]]
    if before:
        comments = all(line.lstrip().startswith("#") for line in before)
        comments = comments and not sep_line and all("#" not in line for _, line in rows[start:])
        shown = _log.listed(before, 1, form=lambda s: repr(s if len(s) <= 40 else s[:37] + "..."))
        layout.said.append(
            f"has {len(before)} line(s) before its header ({shown}), which are not part of the "
            "table"
        )
    if before and comments:
        layout.arguments["comment"] = "#"
    elif header:
        layout.arguments["skiprows"] = header
    if encoding or not utf8:
        layout.arguments["encoding"] = encoding or "latin-1"
    layout.columns = _fields(rows[start][1], sep)
    if sep != "," and all(_fields(line, sep)[-1:] == [""] for _, line in rows[start:]):
        layout.said.append(f"ends every line with {sep!r}, which adds an empty last column")
        layout.then = ".dropna(axis=1, how='all')"
    return layout


def _fields(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep), [])


def _reading(rows: list[tuple[int, str]], sep: str) -> tuple[str, int, tuple[int, int]]:
    """`rows` split at `sep`: the separator, the position of the header among the rows
    (the first row with as many fields as most rows, when it reads as names), and a score:
    the data cells that read as numbers, then whether the rows have more than one field."""
    counts = [len(_fields(line, sep)) for _, line in rows]
    most = max(Counter(counts).items(), key=lambda item: (item[1], item[0]))[0]
    if sep != "," and (most < 2 or counts.count(most) * 5 < len(counts) * 4):
        return sep, 0, (-1, 0)  # not this file's separator
    start = counts.index(most)
    while start + 1 < len(rows) and counts[start + 1] == most and _padded(rows, start, sep):
        start += 1
    names = _fields(rows[start][1], sep)
    commented = all(line.lstrip().startswith("#") for _, line in rows[:start])
    if start and not commented and any(_is_number(n, sep) for n in names):
        start = 0  # a row of numbers is data: rows longer than the header, not a preamble
    cells = [f for _, line in rows[start + 1 :] for f in _fields(line, sep)]
    return sep, start, (sum(_is_number(f, sep) for f in cells), int(most > 1))


def _padded(rows: list[tuple[int, str]], start: int, sep: str) -> bool:
    """Whether row `start` is a line before the header padded to its width: a title
    (`Messreihe 3;;`, as Excel writes it), or a key and value (`Probe,17,`) above a row of
    names, none empty and none a number."""
    line, after = _fields(rows[start][1], sep), _fields(rows[start + 1][1], sep)
    if not any(f.strip() for f in line[1:]):
        return True
    names = all(f.strip() and not _is_number(f, sep) for f in after)
    return names and any(not f.strip() for f in line) and not _is_number(line[0], sep)


def _is_number(text: str, sep: str) -> bool:
    text = text.strip()
    return bool(_NUMBER.fullmatch(text) or (sep != "," and _DECIMAL_COMMA.fullmatch(text)))
