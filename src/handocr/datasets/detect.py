"""Recognise a dataset folder's layout and open it with the right reader.

Every reader has the same small interface (:class:`Dataset`): ``format``, ``pages(split, errors)``
and ``split_note(split)``. The order of the checks matters: IAM and YOLO folders are recognised by
files only they have, before the generic line-folder and ALTO/PAGE-XML searches.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from handocr.datasets.collection import DatasetFolder
from handocr.datasets.iam import IamFolder, is_iam
from handocr.datasets.linefolder import LineFolder, is_line_folder
from handocr.datasets.records import PageRecord
from handocr.datasets.yolo import YoloFolder, is_yolo
from handocr.errors import DatasetError

FORMATS = ("iam-forms", "iam-lines", "yolo", "line-folder", "alto", "page-xml")


class Dataset(Protocol):
    """What every dataset reader offers."""

    root: Path

    @property
    def format(self) -> str: ...

    def pages(self, split: str | None = None, errors: list[str] | None = None) -> Iterator[PageRecord]: ...

    def split_note(self, split: str | None) -> str: ...


def open_dataset(root: Path, prefer: str | None = None) -> Dataset:
    """The reader for the folder ``root``.

    ``prefer`` chooses between two views of one folder: ``"pages"`` (page images with line boxes,
    for the detector) or ``"lines"`` (line images, for the recognizer); IAM has both. Raises
    :class:`DatasetError` when the folder is missing or in no known layout.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    if is_iam(root):
        views = IamFolder.views(root)
        if not views:
            raise DatasetError(f"{root}: IAM files found but neither forms*/ + xml/ nor lines/ + ascii/lines.txt")
        return IamFolder(root, prefer if prefer in views else views[0])
    if is_yolo(root):
        return YoloFolder(root)
    has_xml = any((root / sub).is_dir() for sub in ("alto", "page")) or any(root.glob("*.xml"))
    if is_line_folder(root) and not has_xml:
        return LineFolder(root)
    try:
        folder = DatasetFolder(root)
        folder.xml_files()
        return folder
    except DatasetError:
        pass
    raise DatasetError(
        f"{root}: no known dataset layout (ALTO or PAGE-XML files, a METS export, IAM forms/xml or lines/ascii, "
        "a YOLO images/labels folder, or line images with .gt.txt files)"
    )


def detect_format(root: Path, prefer: str | None = None) -> str:
    """The format name of a folder, one of :data:`FORMATS` (``+mets`` for a METS export)."""
    return open_dataset(root, prefer).format
