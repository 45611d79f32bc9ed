"""Load a folder of annotated pages (ALTO or PAGE-XML) with its train/val split.

A dataset folder holds ``images/`` and either ``alto/*.xml`` or ``page/*.xml``, optionally with a
``split.json`` that lists page stems per split (``{"train": [...], "val": [...]}``). The known
conventions of the shipped real sets are applied here, in one place:

- a page-id label line (``wikitexte_NNNN``) is a line for detection but not text to read, and the
  unannotated printed band above the first handwritten line is an ignore region;
- editorial marks that are not ink (``[sic]``, ``[?]``, the insertion caret ``^``) are removed from
  recognition targets; crossed-out (``>word<``) or unreadable (``><``) lines are not scored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from handocr.datasets.alto import read_alto
from handocr.datasets.pagexml import read_pagexml
from handocr.datasets.records import LineRecord, PageRecord
from handocr.errors import DatasetError

PAGE_ID_LABEL = re.compile(r"^(imp_)?wikitexte_\d+")
_EDITORIAL = re.compile(r"\[(sic|\?)\]")
_STRUCK_OR_UNREADABLE = re.compile(r">[^<]*<")


def is_label_line(text: str) -> bool:
    """True for a page-id label line, which is detected but never read or scored."""
    return bool(PAGE_ID_LABEL.match(text.strip()))


def recognition_target(text: str) -> str | None:
    """Return the text a recognizer should produce for a line, or ``None`` to skip the line.

    Skips empty lines, page-id labels and lines with crossed-out or unreadable passages; removes
    editorial marks that are not written on the page and collapses whitespace.
    """
    text = text.strip()
    if not text or is_label_line(text) or _STRUCK_OR_UNREADABLE.search(text):
        return None
    text = _EDITORIAL.sub("", text).replace("^", "")
    text = " ".join(text.split())
    return text or None


def _ignore_band(page: PageRecord) -> list[tuple[float, float, float, float]]:
    """The unannotated printed band at the top of a page that carries a page-id label line.

    It runs from the top of the page to the first handwritten content line, across the page;
    the label line inside it stays a positive.
    """
    if not any(is_label_line(line.text) for line in page.lines):
        return []
    content_tops = [ln.box[1] for ln in page.lines if not is_label_line(ln.text)]
    if not content_tops:
        return []
    return [(0.0, 0.0, float(page.width), min(content_tops))]


@dataclass(frozen=True)
class DatasetFolder:
    """A folder of annotated pages; see the module docstring for its layout."""

    root: Path

    def xml_files(self) -> list[Path]:
        """The page XML files, sorted by name."""
        for sub in ("alto", "page", "."):
            files = sorted((self.root / sub).glob("*.xml"))
            if files:
                return files
        raise DatasetError(f"{self.root}: no ALTO or PAGE-XML files in alto/, page/ or the folder itself")

    def split_stems(self, split: str | None) -> set[str] | None:
        """The page stems of ``split`` from ``split.json``, or ``None`` for every page."""
        if split is None or split == "all":
            return None
        split_file = self.root / "split.json"
        if not split_file.is_file():
            raise DatasetError(f"{self.root}: split {split!r} asked for but split.json is missing")
        splits = json.loads(split_file.read_text())
        if split not in splits:
            raise DatasetError(f"{split_file}: no split {split!r} (has {sorted(splits)})")
        return set(splits[split])

    def pages(self, split: str | None = None) -> Iterator[PageRecord]:
        """Yield the pages of ``split`` with the set's conventions applied (see module docstring)."""
        wanted = self.split_stems(split)
        image_dirs = [self.root / "images", self.root]
        for xml_path in self.xml_files():
            if wanted is not None and xml_path.stem not in wanted:
                continue
            page = read_page_file(xml_path, image_dirs)
            page.ignore_regions.extend(_ignore_band(page))
            yield page


def read_page_file(xml_path: Path, image_dirs: list[Path] | None = None) -> PageRecord:
    """Read an ALTO or PAGE-XML file, choosing the reader from its root element."""
    head = xml_path.read_bytes()[:2000].decode("utf-8", "ignore")
    if "<alto" in head:
        return read_alto(xml_path, image_dirs)
    if "<PcGts" in head:
        return read_pagexml(xml_path, image_dirs)
    raise DatasetError(f"{xml_path}: neither ALTO nor PAGE-XML")


def load_pages(roots: list[Path], split: str | None) -> list[PageRecord]:
    """Load the pages of ``split`` from each dataset folder in ``roots``."""
    return [page for root in roots for page in DatasetFolder(Path(root)).pages(split)]


def recognition_lines(page: PageRecord) -> list[tuple[LineRecord, str]]:
    """The lines of ``page`` that a recognizer should read, with their target text."""
    out = []
    for line in page.lines:
        target = recognition_target(line.text)
        if target is not None:
            out.append((line, target))
    return out
