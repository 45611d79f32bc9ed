"""Reader for PAGE-XML files (2013 and 2019 schemas): text lines with polygon, box and text."""

from __future__ import annotations

from pathlib import Path

from handocr.datasets._xml import namespace_of, parse_points, parse_xml, resolve_image
from handocr.datasets.records import LineRecord, PageRecord, polygon_box
from handocr.errors import DatasetError


def read_pagexml(xml_path: Path, image_dirs: list[Path] | None = None) -> PageRecord:
    """Read one PAGE-XML file into a :class:`PageRecord`.

    Lines are taken in document order (which PAGE exporters write in reading order). A line's text
    is its own ``TextEquiv/Unicode`` (not its words'); its box is the bounding box of ``Coords``.
    """
    root = parse_xml(xml_path)
    ns = namespace_of(root)
    page = root.find(f"{ns}Page")
    if page is None:
        raise DatasetError(f"{xml_path}: no <Page> element")
    image_path = resolve_image(xml_path, page.get("imageFilename", xml_path.stem), image_dirs or [])
    record = PageRecord(
        image_path=image_path,
        width=int(page.get("imageWidth", 0)),
        height=int(page.get("imageHeight", 0)),
        page_id=xml_path.stem,
    )
    for line in page.iter(f"{ns}TextLine"):
        coords = line.find(f"{ns}Coords")
        polygon = parse_points(coords.get("points") if coords is not None else None)
        if not polygon:
            continue
        baseline_el = line.find(f"{ns}Baseline")
        baseline = parse_points(baseline_el.get("points")) if baseline_el is not None else []
        text = line.findtext(f"{ns}TextEquiv/{ns}Unicode") or ""
        record.lines.append(
            LineRecord(
                box=polygon_box(polygon),
                text=text.strip(),
                polygon=tuple(polygon),
                baseline=tuple(baseline),
                line_id=line.get("id", ""),
            )
        )
    return record
