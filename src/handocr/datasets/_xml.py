"""Small helpers shared by the XML readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlparse

from handocr.datasets.records import Point
from handocr.errors import DatasetError


def parse_xml(path: Path) -> ET.Element:
    """Parse ``path`` and return its root element, raising :class:`DatasetError` when malformed."""
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise DatasetError(f"{path}: cannot parse XML ({exc})") from exc


def namespace_of(element: ET.Element) -> str:
    """Return ``{uri}`` for an element's namespace, or ``""`` when it has none."""
    tag = element.tag
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


def parse_points(text: str | None) -> list[Point]:
    """Parse a points string: ``"x,y x,y"`` (PAGE) or ``"x y x y"`` (ALTO)."""
    if not text:
        return []
    if "," in text:
        pairs = [p.split(",") for p in text.split()]
        return [(float(x), float(y)) for x, y in pairs]
    values = [float(v) for v in text.split()]
    if len(values) % 2:
        raise ValueError(f"odd number of coordinates in {text[:40]!r}")
    return list(zip(values[0::2], values[1::2], strict=True))


def resolve_image(xml_path: Path, file_name: str, image_dirs: list[Path]) -> Path:
    """Find the image that an XML file names: beside the XML, or in one of ``image_dirs``.

    Also tried: the name as a path relative to the XML (``../images/p1.jpg``) or absolute, a
    ``file://`` URI, Windows paths (by their last component), and the folder above the XML's (a
    Transkribus export keeps ``page/*.xml`` below the images); then an image with the XML's stem.
    """
    cleaned = file_name.strip().replace("\\", "/")
    if cleaned.startswith("file://"):
        cleaned = unquote(urlparse(cleaned).path)
    name = Path(cleaned).name
    relative = Path(cleaned) if Path(cleaned).is_absolute() else xml_path.parent / cleaned
    candidates = (
        [xml_path.parent / name, *(d / name for d in image_dirs), relative, xml_path.parent.parent / name]
        if name
        else []
    )
    stem_matches = [
        d / f"{xml_path.stem}{ext}" for d in [xml_path.parent, *image_dirs] for ext in (".jpg", ".png", ".tif", ".jpeg")
    ]
    for candidate in candidates + stem_matches:
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{xml_path}: image {file_name!r} not found beside the XML or in {image_dirs}")
