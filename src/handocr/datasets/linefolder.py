"""Line folders (Kraken, Tesseract, Calamari, OCRopus): ``NAME.png`` beside ``NAME.gt.txt``.

Each line image becomes a *line record*: a :class:`PageRecord` whose single line covers the whole
image. Recognizer training cuts it like any other line (padding the missing margin with paper, see
:func:`handocr.training.line_data.cut_lines`); the detector cannot train on it.

Layout: the pairs may sit flat in the folder or in sub-folders (OCRopus writes one folder per page).
Split: ``split.json`` (line stems per split), else ``train/`` and ``val/`` sub-folders, else the
deterministic split by page folder (lines in per-page sub-folders) or by line (a flat folder).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from handocr.datasets.records import LineRecord, PageRecord
from handocr.datasets.splits import canonical_split, select_by_group
from handocr.errors import DatasetError

GT_SUFFIX = ".gt.txt"
LINE_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bin.png", ".nrm.png", ".webp", ".bmp")
_SPLIT_DIRS = {"train": ("train", "training"), "val": ("val", "valid", "validation", "dev"), "test": ("test",)}


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` read from the image header, raising :class:`DatasetError` when unreadable."""
    try:
        with Image.open(path) as image:
            return image.size
    except Exception as exc:  # PIL (and libraries that patch Image.open) raise many types for bad files
        raise DatasetError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from exc


def line_image_record(
    image_path: Path, text: str, line_id: str = "", size: tuple[int, int] | None = None
) -> PageRecord:
    """A record for one line image: a page whose single line is the whole image."""
    width, height = size or image_size(image_path)
    line = LineRecord(box=(0.0, 0.0, float(width), float(height)), text=text, line_id=line_id or image_path.stem)
    return PageRecord(image_path=image_path, width=width, height=height, lines=[line], page_id=line_id)


def is_line_image(page: PageRecord) -> bool:
    """True for a record made by :func:`line_image_record` (one line covering the whole image)."""
    return len(page.lines) == 1 and page.lines[0].box == (0.0, 0.0, float(page.width), float(page.height))


def gt_image(gt_path: Path) -> Path | None:
    """The line image beside a ``.gt.txt`` file, or ``None``."""
    base = gt_path.name[: -len(GT_SUFFIX)]
    for suffix in LINE_IMAGE_SUFFIXES:
        candidate = gt_path.with_name(base + suffix)
        if candidate.is_file():
            return candidate
    return None


def read_gt(gt_path: Path) -> str:
    """The transcription in a ``.gt.txt`` file: its lines joined by a space, whitespace collapsed."""
    try:
        text = gt_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{gt_path}: unreadable transcription ({exc})") from exc
    return " ".join(text.split())


def is_line_folder(root: Path) -> bool:
    """True when ``root`` (or its sub-folders) holds ``*.gt.txt`` files."""
    return next(root.rglob(f"*{GT_SUFFIX}"), None) is not None


@dataclass(frozen=True)
class LineFolder:
    """A folder of line images with ``.gt.txt`` transcriptions; see the module docstring."""

    root: Path
    format: str = "line-folder"

    def gt_files(self) -> list[Path]:
        """Every ``.gt.txt`` file under the folder, sorted."""
        files = sorted(self.root.rglob(f"*{GT_SUFFIX}"))
        if not files:
            raise DatasetError(f"{self.root}: no *.gt.txt files")
        return files

    def orphan_images(self) -> list[Path]:
        """Line images with no ``.gt.txt`` beside them (reported by ``handocr data check``)."""
        out = []
        for path in sorted(self.root.rglob("*")):
            if path.suffix.lower() not in {".png", ".jpg", ".jpeg", ".tif", ".tiff"} or not path.is_file():
                continue
            stem = path.name
            for suffix in sorted(LINE_IMAGE_SUFFIXES, key=len, reverse=True):
                if stem.lower().endswith(suffix):
                    stem = stem[: -len(suffix)]
                    break
            if not (path.parent / f"{stem}{GT_SUFFIX}").is_file():
                out.append(path)
        return out

    def split_note(self, split: str | None) -> str:
        """Where the split comes from, for reports."""
        if canonical_split(split) is None:
            return "all lines"
        if (self.root / "split.json").is_file():
            return "split.json"
        if self._split_dir(split) is not None:
            return f"{self._split_dir(split).name}/ sub-folder"
        return "deterministic split by page folder, or by line in a flat folder (seed 0, 10% val)"

    def _split_dir(self, split: str | None) -> Path | None:
        for name in _SPLIT_DIRS.get(canonical_split(split) or "", ()):
            if (self.root / name).is_dir():
                return self.root / name
        return None

    def _selected(self, split: str | None) -> list[Path]:
        wanted = canonical_split(split)
        files = self.gt_files()
        if wanted is None:
            return files
        split_file = self.root / "split.json"
        if split_file.is_file():
            splits = json.loads(split_file.read_text())
            key = next((k for k in splits if canonical_split(k) == wanted), None)
            if key is None:
                raise DatasetError(f"{split_file}: no split {split!r} (has {sorted(splits)})")
            stems = set(splits[key])
            return [f for f in files if f.name[: -len(GT_SUFFIX)] in stems or _rel_stem(f, self.root) in stems]
        split_dir = self._split_dir(split)
        if split_dir is not None:
            return [f for f in files if split_dir in f.parents]
        return select_by_group(
            files, lambda f: _rel_stem(f.parent, self.root) or _rel_stem(f, self.root), split, str(self.root)
        )

    def pages(self, split: str | None = None, errors: list[str] | None = None) -> Iterator[PageRecord]:
        """Yield one line record per ``.gt.txt`` with an image.

        A missing or unreadable image raises :class:`DatasetError`, or is appended to ``errors``
        (and skipped) when a list is given.
        """
        for gt_path in self._selected(split):
            try:
                image = gt_image(gt_path)
                if image is None:
                    raise DatasetError(f"{gt_path}: no line image beside it")
                yield line_image_record(image, read_gt(gt_path), _rel_stem(gt_path, self.root))
            except DatasetError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))


def _rel_stem(path: Path, root: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return rel[: -len(GT_SUFFIX)] if rel.endswith(GT_SUFFIX) else ("" if rel == "." else rel)
