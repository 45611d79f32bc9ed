"""Load a folder of annotated pages (ALTO or PAGE-XML) with its train/val split.

A dataset folder holds ``images/`` and either ``alto/*.xml`` or ``page/*.xml``, optionally with a
``split.json`` that lists page stems per split (``{"train": [...], "val": [...]}``); without it,
the split is the deterministic split by page of :mod:`handocr.datasets.splits`. Other layouts
(IAM, line folders, YOLO) are read by their own modules; :func:`load_pages` reads any of them. The known
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
from functools import cached_property
from pathlib import Path

from handocr.datasets.alto import read_alto
from handocr.datasets.linefolder import image_size
from handocr.datasets.pagexml import read_pagexml
from handocr.datasets.records import LineRecord, PageRecord
from handocr.datasets.splits import canonical_split, select_by_group
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


_NOT_PAGE_FILES = {"mets.xml", "metadata.xml", "doc.xml"}


def page_file_kind(path: Path) -> str | None:
    """``"alto"`` or ``"page-xml"`` from the start of an XML file (namespace prefixes allowed), else ``None``."""
    head = path.read_bytes()[:2000].decode("utf-8", "ignore")
    if "<alto" in head or ":alto " in head:
        return "alto"
    if "<PcGts" in head or ":PcGts" in head:
        return "page-xml"
    return None


@dataclass(frozen=True)
class DatasetFolder:
    """A folder of annotated pages (ALTO or PAGE-XML); see the module docstring for its layout.

    Exports are found too: XML files beside their images, a METS export (``mets.xml`` naming the
    page files and images, as Transkribus and OCR-D write them), or page files in sub-folders (one
    per document: ``DOC/page/*.xml`` beside ``DOC/*.jpg``, eScriptorium's ALTO beside its images).
    """

    root: Path

    @property
    def format(self) -> str:
        """``alto`` or ``page-xml`` (from the first page file), with ``+mets`` for a METS export."""
        kind = page_file_kind(self.xml_files()[0]) or "unknown"
        return f"{kind}+mets" if self._mets_images() else kind

    def xml_files(self) -> list[Path]:
        """The page XML files: ``alto/``, ``page/`` or the folder itself, else METS, else below the folder."""
        for sub in ("alto", "page", "."):
            files = [f for f in sorted((self.root / sub).glob("*.xml")) if f.name.lower() not in _NOT_PAGE_FILES]
            if files:
                return files
        mets = self._mets_images()
        if mets:
            return list(mets)
        files = [f for f in sorted(self.root.rglob("*.xml")) if f.name.lower() not in _NOT_PAGE_FILES]
        files = [f for f in files if page_file_kind(f)]
        if files:
            return files
        raise DatasetError(f"{self.root}: no ALTO or PAGE-XML files in alto/, page/, the folder, a mets.xml or below")

    @cached_property
    def _mets(self) -> dict[Path, Path | None]:
        from handocr.datasets.mets import read_mets

        out: dict[Path, Path | None] = {}
        if not self.root.is_dir():
            return out
        for mets in sorted(self.root.rglob("mets.xml")):
            for xml_path, image in read_mets(mets):
                if xml_path.is_file():
                    out[xml_path] = image
        return out

    def _mets_images(self) -> dict[Path, Path | None]:
        has_plain = any(
            f.name.lower() not in _NOT_PAGE_FILES
            for sub in ("alto", "page", ".")
            for f in (self.root / sub).glob("*.xml")
        )
        return {} if has_plain else self._mets

    def split_stems(self, split: str | None) -> set[str] | None:
        """The page stems of ``split``: from ``split.json``, else the deterministic split by page; ``None``
        for every page."""
        if canonical_split(split) is None:
            return None
        split_file = self.root / "split.json"
        if not split_file.is_file():
            stems = [f.stem for f in self.xml_files()]
            return set(select_by_group(stems, lambda stem: stem, split, str(self.root)))
        splits = json.loads(split_file.read_text())
        if split not in splits:
            raise DatasetError(f"{split_file}: no split {split!r} (has {sorted(splits)})")
        return set(splits[split])

    def split_note(self, split: str | None) -> str:
        """Where the split comes from, for reports."""
        if canonical_split(split) is None:
            return "all pages"
        if (self.root / "split.json").is_file():
            return "split.json"
        return "deterministic split by page (seed 0, 10% val)"

    def pages(self, split: str | None = None, errors: list[str] | None = None) -> Iterator[PageRecord]:
        """Yield the pages of ``split`` with the set's conventions applied (see module docstring).

        A missing image or malformed file raises :class:`DatasetError`, or is appended to ``errors``
        (and the page skipped) when a list is given.
        """
        wanted = self.split_stems(split)
        image_dirs = [self.root / "images", self.root]
        mets = self._mets_images()
        for xml_path in self.xml_files():
            if wanted is not None and xml_path.stem not in wanted:
                continue
            known = mets.get(xml_path)
            try:
                page = read_page_file(xml_path, ([known.parent] if known else []) + image_dirs)
                if page.width <= 0 or page.height <= 0:  # no page size in the XML: read it from the image
                    page.width, page.height = image_size(page.image_path)
            except DatasetError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))
                continue
            page.ignore_regions.extend(_ignore_band(page))
            yield page


def read_page_file(xml_path: Path, image_dirs: list[Path] | None = None) -> PageRecord:
    """Read an ALTO or PAGE-XML file, choosing the reader from its root element."""
    kind = page_file_kind(xml_path)
    if kind == "alto":
        return read_alto(xml_path, image_dirs)
    if kind == "page-xml":
        return read_pagexml(xml_path, image_dirs)
    raise DatasetError(f"{xml_path}: neither ALTO nor PAGE-XML")


def load_pages(roots: list[Path], split: str | None, prefer: str | None = None) -> list[PageRecord]:
    """Load the pages of ``split`` from each dataset folder in ``roots``, whatever its format.

    The format is sniffed per folder (see :mod:`handocr.datasets.detect`); ``prefer`` picks the
    view of a folder that has two (IAM: ``"pages"`` for forms, ``"lines"`` for line images).
    """
    from handocr.datasets.detect import open_dataset

    return [page for root in roots for page in open_dataset(Path(root), prefer).pages(split)]


def recognition_lines(page: PageRecord) -> list[tuple[LineRecord, str]]:
    """The lines of ``page`` that a recognizer should read, with their target text."""
    out = []
    for line in page.lines:
        target = recognition_target(line.text)
        if target is not None:
            out.append((line, target))
    return out
