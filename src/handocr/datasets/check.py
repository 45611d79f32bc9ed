"""Check a dataset folder before training: what was found, and what would hurt or stop training.

``handocr data check DIR`` prints :func:`format_report` of :func:`check_dataset`. *Problems* would
stop training (no pages, missing or unreadable images, no line to learn from); *warnings* would
not, but cost accuracy (characters the recognizer cannot write yet, a transcription too long for
its line image, boxes outside the image, a page size that disagrees with the image).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from PIL import Image

from handocr.datasets.collection import recognition_target
from handocr.datasets.detect import open_dataset
from handocr.datasets.linefolder import LineFolder, is_line_image
from handocr.datasets.records import LineRecord, PageRecord
from handocr.errors import HandocrError
from handocr.recognition.charset import Charset

EXAMPLES = 5
FRAMES_PER_PIXEL = 1 / 4  # the CTC recognizer emits one frame per 4 columns of a 32 px high line
LINE_HEIGHT = 32
OUTSIDE_TOLERANCE_PX = 2.0


@dataclass
class Finding:
    """One kind of issue: how often it occurred, and a few examples (file, line id, detail)."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str, n: int = 1) -> None:
        """Count ``n`` occurrences, keeping the first few examples."""
        self.count += n
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)


@dataclass
class CheckReport:
    """What :func:`check_dataset` found in one folder (JSON-ready through :meth:`to_dict`)."""

    root: str
    format: str = "unknown"
    split: str = "all"
    split_note: str = ""
    split_pages: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    line_images: int = 0
    lines: int = 0
    lines_with_text: int = 0
    lines_without_text: int = 0
    characters: int = 0
    charset_source: str = ""
    charset_size: int = 0
    unknown_characters: dict[str, int] = field(default_factory=dict)
    problems: dict[str, Finding] = field(default_factory=dict)
    warnings: dict[str, Finding] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """True when nothing would stop training."""
        return not self.problems

    @property
    def usable_for(self) -> list[str]:
        """Which trainers can use the folder: ``detector`` (page boxes) and/or ``recognizer`` (texts)."""
        out = []
        if self.pages > self.line_images and self.lines:
            out.append("detector")
        if self.lines_with_text:
            out.append("recognizer")
        return out

    def problem(self, kind: str, example: str, n: int = 1) -> None:
        """Record an issue that would stop training."""
        self.problems.setdefault(kind, Finding()).add(example, n)

    def warn(self, kind: str, example: str, n: int = 1) -> None:
        """Record an issue that training survives."""
        self.warnings.setdefault(kind, Finding()).add(example, n)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        data = asdict(self)
        data["usable"] = self.usable
        data["usable_for"] = self.usable_for
        return data


def check_dataset(
    root: Path,
    charset: Charset | None = None,
    split: str | None = None,
    charset_source: str = "",
    prefer: str | None = None,
) -> CheckReport:
    """Read ``root`` in whatever layout it has and check every page, line and image.

    ``charset`` is the recognizer's alphabet (default: the shipped recognizer's default charset);
    ``split`` limits the check to one split (default: every page); ``prefer`` picks the view of a
    folder that has two (IAM: ``"pages"`` or ``"lines"``).
    """
    charset = charset or Charset()
    report = CheckReport(
        root=str(root),
        split=split or "all",
        charset_source=charset_source or "handocr default charset",
        charset_size=len(charset.characters),
    )
    try:
        dataset = open_dataset(Path(root), prefer)
        report.format = dataset.format
        report.split_note = dataset.split_note(split)
    except HandocrError as exc:
        report.problem("unreadable dataset", str(exc))
        return report
    errors: list[str] = []
    unknown: Counter[str] = Counter()
    try:
        pages = list(dataset.pages(split, errors))
    except HandocrError as exc:
        report.problem("unreadable dataset", str(exc))
        return report
    for error in errors:
        report.problem("missing or unreadable files", error)
    for page in pages:
        _check_page(page, charset, unknown, report)
    report.unknown_characters = dict(unknown.most_common())
    if unknown:
        shown = " ".join(f"{c!r}x{n}" for c, n in unknown.most_common(12))
        report.warn("characters outside the recognizer's charset", shown, sum(unknown.values()))
    if isinstance(dataset, LineFolder):
        for orphan in dataset.orphan_images():
            report.warn("line images without a .gt.txt", str(orphan))
    if not pages and not errors:
        report.problem("no pages", f"no page or line found for split {report.split!r}")
    elif pages and not report.lines:
        report.problem("no lines", "no page has an annotated line (nothing to learn from)")
    if split is None:
        report.split_pages = _split_sizes(dataset)
    return report


def _split_sizes(dataset) -> dict[str, int]:
    sizes = {}
    for name in ("train", "val", "test"):
        try:
            sizes[name] = sum(1 for _ in dataset.pages(name, []))
        except HandocrError:
            continue
    return sizes


def _check_page(page: PageRecord, charset: Charset, unknown: Counter[str], report: CheckReport) -> None:
    report.pages += 1
    line_image = is_line_image(page)
    report.line_images += int(line_image)
    size = _image_size(page.image_path, report)
    if size is None:
        return
    if size != (page.width, page.height):
        report.warn(
            "page size in the XML differs from the image",
            f"{page.image_path}: {page.width}x{page.height} vs {size[0]}x{size[1]}",
        )
    if not page.lines and not line_image:
        report.warn("pages without lines (used as negatives by the detector)", str(page.image_path))
    for line in page.lines:
        _check_line(page, line, size, charset, unknown, report)


def _image_size(path: Path, report: CheckReport) -> tuple[int, int] | None:
    try:
        with Image.open(path) as image:
            size = image.size
            image.verify()
        return size
    except Exception as exc:  # PIL raises many types for broken files
        report.problem("missing or unreadable files", f"{path}: {exc}")
        return None


def _check_line(
    page: PageRecord,
    line: LineRecord,
    size: tuple[int, int],
    charset: Charset,
    unknown: Counter[str],
    report: CheckReport,
) -> None:
    report.lines += 1
    where = f"{page.image_path.name}:{line.line_id or '?'}"
    x0, y0, x1, y1 = line.box
    w, h = size
    t = OUTSIDE_TOLERANCE_PX
    if x1 - x0 < 1 or y1 - y0 < 1 or x0 >= w or y0 >= h or x1 <= 0 or y1 <= 0:
        report.warn("empty boxes or boxes wholly outside the image (skipped)", f"{where} {line.box}")
        return
    if x0 < -t or y0 < -t or x1 > w + t or y1 > h + t:
        report.warn(
            "boxes reaching outside the image (clipped)", f"{where} {tuple(round(v) for v in line.box)} in {w}x{h}"
        )
    target = recognition_target(line.text)
    if target is None:
        report.lines_without_text += 1
        if line.text.strip():
            return  # a label line or a struck-out passage: skipped on purpose
        if not is_line_image(page):
            return  # a line for detection only
        report.warn("empty transcriptions", where)
        return
    report.lines_with_text += 1
    report.characters += len(target)
    missing = charset.unknown(target)
    for char in target:
        if char in missing:
            unknown[char] += 1
    frames = (x1 - x0) * LINE_HEIGHT / max(1.0, y1 - y0) * FRAMES_PER_PIXEL
    if _ctc_length(target) > frames:
        report.warn(
            "transcriptions too long for their line image (box and text mismatched?)",
            f"{where}: {len(target)} characters in a {round(x1 - x0)}x{round(y1 - y0)} px box"
            + (" (a vertical line?)" if y1 - y0 > x1 - x0 else ""),
        )


def _ctc_length(text: str) -> int:
    """Frames CTC needs for ``text``: one per character plus a blank between repeated characters."""
    return len(text) + sum(1 for a, b in pairwise(text) if a == b)


def format_report(report: CheckReport) -> str:
    """A readable summary of ``report`` (several lines, no trailing newline)."""
    out = [f"handocr data check: {report.root}"]
    rows = [
        ("format", report.format),
        ("split", f"{report.split} ({report.split_note})" if report.split_note else report.split),
    ]
    if report.split_pages:
        rows.append(("split sizes", ", ".join(f"{k} {v}" for k, v in report.split_pages.items())))
    pages = f"{report.pages}" + (f" ({report.line_images} of them line images)" if report.line_images else "")
    rows += [
        ("pages", pages),
        ("lines", f"{report.lines} ({report.lines_with_text} with text to read, {report.lines_without_text} without)"),
        ("characters", str(report.characters)),
        ("charset", f"{report.charset_source} ({report.charset_size} characters)"),
    ]
    if report.unknown_characters:
        shown = " ".join(f"{c!r}x{n}" for c, n in list(report.unknown_characters.items())[:20])
        rows.append(("unknown chars", shown))
    width = max(len(k) for k, _ in rows)
    out += [f"  {k.ljust(width)}  {v}" for k, v in rows]
    for title, findings in (("problems (training would stop)", report.problems), ("warnings", report.warnings)):
        if findings:
            out.append(f"{title}:")
            for kind, finding in findings.items():
                out.append(f"  - {kind}: {finding.count}")
                out += [f"      {example}" for example in finding.examples]
    if report.unknown_characters:
        out.append(
            "note: unknown characters are added to the recognizer as new classes when training; "
            "a few examples of each are too few to learn them well."
        )
    if report.usable:
        out.append(f"verdict: usable for {' and '.join(report.usable_for) or 'nothing'} training")
    else:
        out.append("verdict: NOT usable yet: fix the problems above")
    return "\n".join(out)
