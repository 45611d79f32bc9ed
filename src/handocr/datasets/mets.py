"""METS containers (Transkribus and OCR-D exports): which PAGE/ALTO file belongs to which image."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from handocr.datasets._xml import namespace_of, parse_xml

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".jp2", ".webp"}


def _local(href: str, base: Path) -> Path:
    parsed = urlparse(href)
    path = unquote(parsed.path) if parsed.scheme in ("file", "") else href
    return Path(path) if Path(path).is_absolute() else base / path


def read_mets(mets_path: Path) -> list[tuple[Path, Path | None]]:
    """``(xml_file, image_file_or_None)`` per page, in the METS page order.

    Pages come from the ``structMap`` divisions whose type mentions a page; each pairs its first XML
    file (one in a file group named like ground truth, ``GT``, when there are several) with its first
    image. Without page divisions, XML files and images are paired by order.
    """
    root = parse_xml(mets_path)
    ns = namespace_of(root)
    base = mets_path.parent
    files: dict[str, tuple[str, Path, str]] = {}  # id -> (kind, path, group)
    for group in root.iter(f"{ns}fileGrp"):
        group_name = f"{group.get('ID', '')} {group.get('USE', '')}".upper()
        for file in group.findall(f"{ns}file"):
            locat = file.find(f"{ns}FLocat")
            href = locat.get(XLINK_HREF) if locat is not None else None
            if not href:
                continue
            path = _local(href, base)
            mime = file.get("MIMETYPE", "")
            kind = "image" if mime.startswith("image") or path.suffix.lower() in _IMAGE_SUFFIXES else ""
            kind = "xml" if "xml" in mime or path.suffix.lower() == ".xml" else kind
            if kind:
                files[file.get("ID", href)] = (kind, path, group_name)
    pages = []
    for div in root.iter(f"{ns}div"):
        if "PAGE" not in div.get("TYPE", "").upper():
            continue
        ids = [el.get("FILEID") for el in div.iter() if el.get("FILEID") in files]
        xmls = [files[i] for i in ids if files[i][0] == "xml"]
        images = [files[i][1] for i in ids if files[i][0] == "image"]
        if xmls:
            xmls.sort(key=lambda f: "GT" not in f[2])
            pages.append((xmls[0][1], images[0] if images else None))
    if pages:
        return pages
    xmls = [f[1] for f in files.values() if f[0] == "xml"]
    images = [f[1] for f in files.values() if f[0] == "image"]
    paired = len(images) == len(xmls)
    return [(x, images[i] if paired else None) for i, x in enumerate(xmls)]
