"""The IAM Handwriting Database in its official layout.

Two views of the same set:

- *pages*: ``forms/*.png`` (or ``formsA-D/``, ``formsE-H/``, ``formsI-Z/``) with ``xml/*.xml``; a
  line's box is the union of its word components (``<cmp x y width height>``), its text the line's
  ``text`` attribute. The machine-printed text above the handwriting and the name field below it
  are not annotated: they are ignore regions (neither positives nor negatives for the detector).
  Usable by the detector and the recognizer.
- *lines*: ``lines/a01/a01-000u/a01-000u-00.png`` with ``ascii/lines.txt``
  (``a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from``; ``|`` is a space).
  Lines whose segmentation is ``err`` are skipped (in the pages view they keep their box but lose
  their text, so they count for detection only). Usable by the recognizer only.

Split: the standard lists when present anywhere below the root (Aachen ``train.uttlist``,
``validation.uttlist``, ``test.uttlist``, Laia's ``tr.lst``/``va.lst``/``te.lst``, or the
large-writer-independent task's ``trainset.txt``, ``validationset1.txt``, ``validationset2.txt``,
``testset.txt``), whose entries are line or form ids; else the deterministic split by writer (from
the form XML; by form when there is no XML).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from handocr.datasets._xml import parse_xml
from handocr.datasets.linefolder import line_image_record
from handocr.datasets.records import LineRecord, PageRecord
from handocr.datasets.splits import canonical_split, select_by_group
from handocr.errors import DatasetError

SPLIT_FILES = {
    "train": ("train.uttlist", "tr.lst", "trainset.txt"),
    "val": ("validation.uttlist", "valid.uttlist", "va.lst", "validationset1.txt", "validationset2.txt"),
    "test": ("test.uttlist", "te.lst", "testset.txt"),
}


IGNORE_GAP_PX = 10.0


def form_id(item_id: str) -> str:
    """The form id of a form, line or word id: ``a01-000u-00-01`` → ``a01-000u``."""
    return "-".join(item_id.split("-")[:2])


def is_iam(root: Path) -> bool:
    """True when ``root`` holds IAM form XML (``xml/``) or ``ascii/lines.txt``."""
    if (root / "ascii" / "lines.txt").is_file():
        return True
    first = next(iter(sorted((root / "xml").glob("*.xml"))), None) if (root / "xml").is_dir() else None
    return first is not None and "<form" in first.read_bytes()[:400].decode("latin-1")


def read_iam_form(xml_path: Path, image_dirs: list[Path], skip_text: set[str] = frozenset()) -> PageRecord:
    """Read one IAM form XML into a page record (lines of the handwritten part, boxes from components).

    Line ids in ``skip_text`` keep their box but get an empty text (``err`` segmentation).
    """
    root = parse_xml(xml_path)
    if root.tag != "form":
        raise DatasetError(f"{xml_path}: not an IAM form XML (root <{root.tag}>)")
    fid = root.get("id", xml_path.stem)
    image_path = next(
        (d / f"{fid}{ext}" for d in image_dirs for ext in (".png", ".jpg") if (d / f"{fid}{ext}").is_file()), None
    )
    if image_path is None:
        raise DatasetError(f"{xml_path}: form image {fid}.png not found in {[d.name for d in image_dirs]}")
    page = PageRecord(
        image_path=image_path, width=int(root.get("width", 0)), height=int(root.get("height", 0)), page_id=fid
    )
    for line in root.iter("line"):
        box = _union_of_components(line)
        if box is None:
            continue
        lid = line.get("id", "")
        text = "" if lid in skip_text else html.unescape(line.get("text", ""))
        page.lines.append(LineRecord(box=box, text=text, line_id=lid))
    if page.lines:  # the printed text above and the name field below are not annotated: ignore them
        top = min(ln.box[1] for ln in page.lines) - IGNORE_GAP_PX
        bottom = max(ln.box[3] for ln in page.lines) + IGNORE_GAP_PX
        if top > 0:
            page.ignore_regions.append((0.0, 0.0, float(page.width), top))
        if bottom < page.height:
            page.ignore_regions.append((0.0, bottom, float(page.width), float(page.height)))
    return page


def _union_of_components(line: ET.Element) -> tuple[float, float, float, float] | None:
    boxes = []
    for cmp in line.iter("cmp"):
        try:
            x, y = float(cmp.get("x")), float(cmp.get("y"))
            w, h = float(cmp.get("width")), float(cmp.get("height"))
        except (TypeError, ValueError):
            continue
        boxes.append((x, y, x + w, y + h))
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


@dataclass(frozen=True)
class IamLine:
    """One row of ``ascii/lines.txt``."""

    line_id: str
    ok: bool
    box: tuple[float, float, float, float]
    text: str


def parse_lines_txt(path: Path) -> list[IamLine]:
    """Rows of IAM's ``lines.txt`` (comments skipped; ``|`` in the transcription is a space)."""
    rows = []
    for number, raw in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split(" ")
        if len(parts) < 9:
            raise DatasetError(f"{path}:{number}: expected 9 fields, got {len(parts)}")
        try:
            x, y, w, h = (float(v) for v in parts[4:8])
        except ValueError as exc:
            raise DatasetError(f"{path}:{number}: bad box ({exc})") from exc
        text = html.unescape(" ".join(parts[8:]).replace("|", " "))
        rows.append(IamLine(parts[0], parts[1] == "ok", (x, y, x + w, y + h), " ".join(text.split())))
    return rows


@dataclass(frozen=True)
class IamFolder:
    """An IAM folder; ``view`` is ``"pages"`` (forms + XML) or ``"lines"`` (line images + lines.txt)."""

    root: Path
    view: str = "pages"

    @property
    def format(self) -> str:
        """``iam-forms`` or ``iam-lines``."""
        return "iam-forms" if self.view == "pages" else "iam-lines"

    @staticmethod
    def views(root: Path) -> list[str]:
        """The views this folder supports, pages first."""
        out = []
        if sorted((root / "xml").glob("*.xml")) and _form_dirs(root):
            out.append("pages")
        if (root / "ascii" / "lines.txt").is_file() and (root / "lines").is_dir():
            out.append("lines")
        return out

    @cached_property
    def split_lists(self) -> dict[str, set[str]]:
        """Ids listed per split by the standard split files found below the root."""
        found: dict[str, set[str]] = {}
        for split, names in SPLIT_FILES.items():
            for name in names:
                for path in sorted(self.root.rglob(name)):
                    ids = {ln.split()[0] for ln in path.read_text(encoding="latin-1").splitlines() if ln.strip()}
                    found.setdefault(split, set()).update(ids)
        return found

    @cached_property
    def writers(self) -> dict[str, str]:
        """Form id → writer id, from the form XML (empty without ``xml/``)."""
        out = {}
        for path in sorted((self.root / "xml").glob("*.xml")):
            head = path.read_bytes()[:600].decode("latin-1")
            fid, writer = re.search(r'\bid="([^"]+)"', head), re.search(r'writer-id="([^"]+)"', head)
            if fid and writer:
                out[fid.group(1)] = writer.group(1)
        return out

    @cached_property
    def lines_txt(self) -> list[IamLine]:
        """Rows of ``ascii/lines.txt`` (empty when absent)."""
        path = self.root / "ascii" / "lines.txt"
        return parse_lines_txt(path) if path.is_file() else []

    def split_note(self, split: str | None) -> str:
        """Where the split comes from, for reports."""
        wanted = canonical_split(split)
        if wanted is None:
            return "all"
        if self.split_lists:
            return f"standard IAM split lists ({', '.join(sorted(self.split_lists))})"
        basis = "writer (form XML)" if self.writers else "form"
        return f"deterministic split by {basis} (seed 0, 10% val)"

    def _keep(self, ids: list[str], split: str | None) -> set[str]:
        """Which of ``ids`` (line ids, or form ids) belong to ``split``."""
        wanted = canonical_split(split)
        if wanted is None:
            return set(ids)
        if self.split_lists:
            if wanted not in self.split_lists:
                raise DatasetError(f"{self.root}: no IAM split list for {split!r} (has {sorted(self.split_lists)})")
            listed = self.split_lists[wanted]
            listed_forms = {form_id(x) for x in listed}
            return {i for i in ids if i in listed or form_id(i) in listed or (i == form_id(i) and i in listed_forms)}
        writers = self.writers
        return set(select_by_group(ids, lambda i: writers.get(form_id(i), form_id(i)), split, str(self.root)))

    def pages(self, split: str | None = None, errors: list[str] | None = None) -> Iterator[PageRecord]:
        """Yield the records of ``split`` in this folder's view (see the module docstring)."""
        if self.view == "lines":
            yield from self._line_records(split, errors)
            return
        err_lines = {row.line_id for row in self.lines_txt if not row.ok}
        xml_files = sorted((self.root / "xml").glob("*.xml"))
        keep = self._keep([p.stem for p in xml_files], split)
        image_dirs = _form_dirs(self.root)
        for xml_path in xml_files:
            if xml_path.stem not in keep:
                continue
            try:
                yield read_iam_form(xml_path, image_dirs, err_lines)
            except DatasetError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))

    def _line_records(self, split: str | None, errors: list[str] | None) -> Iterator[PageRecord]:
        rows = [row for row in self.lines_txt if row.ok]
        keep = self._keep([row.line_id for row in rows], split)
        for row in rows:
            if row.line_id not in keep:
                continue
            try:
                yield line_image_record(self._line_image(row.line_id), row.text, row.line_id)
            except DatasetError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))

    def _line_image(self, line_id: str) -> Path:
        parts = line_id.split("-")
        lines = self.root / "lines"
        for candidate in (lines / parts[0] / form_id(line_id) / f"{line_id}.png", lines / f"{line_id}.png"):
            if candidate.is_file():
                return candidate
        raise DatasetError(f"{lines}: line image of {line_id} not found")


def _form_dirs(root: Path) -> list[Path]:
    return sorted(d for d in root.glob("forms*") if d.is_dir())
