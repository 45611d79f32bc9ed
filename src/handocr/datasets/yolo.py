"""YOLO detection folders: boxes for detector training, and line texts when a ``texts/`` folder has them.

Layouts: ``images/{train,val}`` with ``labels/{train,val}`` (Ultralytics), or ``{train,valid}/images``
with ``{train,valid}/labels`` (Roboflow exports), with an optional ``data.yaml`` whose ``train:`` and
``val:`` keys name the image folders. A label file has one row per object, ``class cx cy w h``
normalised to the image, or ``class x1 y1 x2 y2 ...`` for a polygon; every class counts as a line.
An image without a label file has no lines (a negative page). A ``texts/`` folder beside ``labels/``
(as :mod:`handocr.datasets.synth` writes) gives each line its text: one row per label row, in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from handocr.datasets.linefolder import image_size
from handocr.datasets.records import LineRecord, PageRecord, polygon_box
from handocr.datasets.splits import canonical_split
from handocr.errors import DatasetError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
_SPLIT_NAMES = {"train": ("train", "training"), "val": ("val", "valid", "validation"), "test": ("test",)}


def is_yolo(root: Path) -> bool:
    """True when ``root`` has a YOLO ``data.yaml`` or ``labels/`` beside ``images/`` (either nesting)."""
    if (root / "data.yaml").is_file() or ((root / "images").is_dir() and (root / "labels").is_dir()):
        return True
    return any((root / name / "images").is_dir() and (root / name / "labels").is_dir() for name in _all_names())


def _all_names() -> list[str]:
    return [n for names in _SPLIT_NAMES.values() for n in names]


def _yaml_paths(data_yaml: Path) -> dict[str, str]:
    """``path``, ``train``, ``val``, ``test`` string values of a data.yaml (lists keep their first entry)."""
    text = data_yaml.read_text(encoding="utf-8")
    try:
        import yaml

        data = yaml.safe_load(text) or {}
    except ImportError:  # PyYAML is not a core dependency: read the simple `key: value` lines
        data = dict(re.findall(r"^(path|train|val|test)\s*:\s*['\"]?([^'\"#\n]*?)['\"]?\s*$", text, re.MULTILINE))
    out = {}
    for key in ("path", "train", "val", "test"):
        value = data.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value.strip():
            out[key] = value.strip()
    return out


def sibling_path(image: Path, folder: str) -> Path:
    """Ultralytics' rule: the last ``/images/`` in the path becomes ``/<folder>/``, the suffix ``.txt``."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = folder
            break
    return Path(*parts).with_suffix(".txt")


def label_path(image: Path) -> Path:
    """The label file of an image (``/images/`` -> ``/labels/``)."""
    return sibling_path(image, "labels")


def texts_path(image: Path) -> Path:
    """The line-texts file of an image (``/images/`` -> ``/texts/``), one text per label row."""
    return sibling_path(image, "texts")


def with_texts(lines: list[LineRecord], path: Path) -> list[LineRecord]:
    """``lines`` with the texts of ``path`` (one row per line, in order) when that file exists.

    Raises :class:`DatasetError` when it does not have one row per line.
    """
    if not path.is_file():
        return lines
    rows = path.read_text(encoding="utf-8").split("\n")[:-1]
    if len(rows) != len(lines):
        raise DatasetError(f"{path}: {len(rows)} texts for {len(lines)} label rows")
    return [replace(line, text=text) for line, text in zip(lines, rows, strict=True)]


def read_yolo_labels(path: Path, width: int, height: int) -> list[LineRecord]:
    """Line records (no text) from a YOLO label file, in pixels of a ``width`` x ``height`` image."""
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        values = raw.split()
        if not values:
            continue
        try:
            numbers = [float(v) for v in values[1:]]
        except ValueError as exc:
            raise DatasetError(f"{path}:{number}: not a YOLO label row ({exc})") from exc
        if len(numbers) == 4:
            cx, cy, w, h = numbers
            box = ((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height)
            polygon: tuple = ()
        elif len(numbers) >= 6 and len(numbers) % 2 == 0:
            points = [(x * width, y * height) for x, y in zip(numbers[0::2], numbers[1::2], strict=True)]
            box, polygon = polygon_box(points), tuple(points)
        else:
            raise DatasetError(f"{path}:{number}: expected 'class cx cy w h' or a polygon, got {len(values)} values")
        lines.append(LineRecord(box=box, text="", polygon=polygon, line_id=f"{path.stem}:{number}:class{values[0]}"))
    return lines


@dataclass(frozen=True)
class YoloFolder:
    """A YOLO detection dataset folder; see the module docstring."""

    root: Path
    format: str = "yolo"

    def image_dir(self, split: str) -> Path | None:
        """The image folder of ``split`` (``train``, ``val`` or ``test``), or ``None``."""
        data_yaml = self.root / "data.yaml"
        if data_yaml.is_file():
            paths = _yaml_paths(data_yaml)
            base = self.root / paths.get("path", ".") if not Path(paths.get("path", ".")).is_absolute() else None
            value = paths.get(split)
            if value:
                for candidate in ([base / value] if base else []) + [self.root / value, Path(value)]:
                    if candidate.is_dir():
                        return candidate
        for name in _SPLIT_NAMES.get(split, (split,)):
            for candidate in (self.root / "images" / name, self.root / name / "images"):
                if candidate.is_dir():
                    return candidate
        return None

    def split_note(self, split: str | None) -> str:
        """Where the split comes from, for reports."""
        wanted = canonical_split(split)
        if wanted is None:
            return "every split folder"
        folder = self.image_dir(wanted)
        source = "data.yaml" if (self.root / "data.yaml").is_file() else "folder names"
        return f"{folder.relative_to(self.root) if folder else 'no folder'} ({source})"

    def images(self, split: str | None) -> list[Path]:
        """The image files of ``split`` (every split for ``None``/``all``), sorted."""
        wanted = canonical_split(split)
        if wanted is None:
            dirs = list(dict.fromkeys(d for s in _SPLIT_NAMES if (d := self.image_dir(s)) is not None))
            if not dirs and (self.root / "images").is_dir():
                dirs = [self.root / "images"]
        else:
            folder = self.image_dir(wanted)
            if folder is None:
                raise DatasetError(f"{self.root}: no image folder for split {split!r}")
            dirs = [folder]
        return sorted(p for d in dirs for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())

    def pages(self, split: str | None = None, errors: list[str] | None = None) -> Iterator[PageRecord]:
        """Yield a page per image of ``split``: boxes, and texts where a ``texts/`` file has them."""
        for image in self.images(split):
            try:
                width, height = image_size(image)
                labels = label_path(image)
                lines = read_yolo_labels(labels, width, height) if labels.is_file() else []
                lines = with_texts(lines, texts_path(image))
                yield PageRecord(image_path=image, width=width, height=height, lines=lines, page_id=image.stem)
            except DatasetError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))
