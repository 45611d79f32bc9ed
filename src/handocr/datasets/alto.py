"""Reader for ALTO v4 (and v2/v3) page files: text lines with polygon, box and text."""

from __future__ import annotations

from pathlib import Path

from handocr.datasets._xml import namespace_of, parse_points, parse_xml, resolve_image
from handocr.datasets.records import LineRecord, PageRecord, polygon_box
from handocr.errors import DatasetError


def read_alto(xml_path: Path, image_dirs: list[Path] | None = None) -> PageRecord:
    """Read one ALTO file into a :class:`PageRecord`.

    A line's text is its ``String/@CONTENT`` values joined by single spaces (``SP`` elements are
    implied). Its polygon comes from ``Shape/Polygon`` when present; its box from
    ``HPOS/VPOS/WIDTH/HEIGHT``, else from the polygon.
    """
    root = parse_xml(xml_path)
    ns = namespace_of(root)
    page = root.find(f".//{ns}Page")
    if page is None:
        raise DatasetError(f"{xml_path}: no <Page> element")
    file_name = root.findtext(f".//{ns}sourceImageInformation/{ns}fileName") or xml_path.stem
    image_path = resolve_image(xml_path, file_name, image_dirs or [])
    record = PageRecord(
        image_path=image_path,
        width=int(float(page.get("WIDTH", 0))),
        height=int(float(page.get("HEIGHT", 0))),
        page_id=xml_path.stem,
    )
    for line in page.iter(f"{ns}TextLine"):
        words = [s.get("CONTENT", "") for s in line.findall(f"{ns}String")]
        text = " ".join(w for w in words if w)
        polygon = parse_points(line.findtext(f"{ns}Shape/{ns}Polygon") or _polygon_attr(line, ns))
        baseline = parse_points(line.get("BASELINE")) if line.get("BASELINE") else []
        box = _alto_box(line) or (polygon_box(polygon) if polygon else None)
        if box is None:
            continue
        record.lines.append(
            LineRecord(box=box, text=text, polygon=tuple(polygon), baseline=tuple(baseline), line_id=line.get("ID", ""))
        )
    return record


def _polygon_attr(line, ns: str) -> str | None:
    polygon = line.find(f"{ns}Shape/{ns}Polygon")
    return polygon.get("POINTS") if polygon is not None else None


def _alto_box(line) -> tuple[float, float, float, float] | None:
    try:
        x, y = float(line.get("HPOS")), float(line.get("VPOS"))
        w, h = float(line.get("WIDTH")), float(line.get("HEIGHT"))
    except (TypeError, ValueError):
        return None
    return (x, y, x + w, y + h)
