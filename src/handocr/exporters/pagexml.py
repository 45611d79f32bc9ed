"""PAGE-XML (2019-07-15 schema) exporter: a ``TextRegion`` per paragraph, in a ``ReadingOrder``.

Coordinates are integer pixels of the page image; boxes are written as four-point polygons
(clockwise from the top-left corner). ``conf`` attributes are confidences in [0, 1].

PAGE-XML holds exactly one ``Page`` per file, so :func:`to_pagexml` (the registered ``page``
format, one file per input) writes the first page of a multi-page document and notes the others
in an XML comment; :func:`pagexml_pages` gives one file per page for callers that can write them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from PIL import Image

from handocr.exporters import register
from handocr.exporters._tree import SOFTWARE, SOFTWARE_VERSION, blocks, line_words, polygon_points, xml_text
from handocr.schema import Document, Line, Page

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
PAGE_XSD = f"{PAGE_NS}/pagecontent.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
# Page/@primaryLanguage takes the schema's language names; codes without one here are left out
PAGE_LANGUAGES = {
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "la": "Latin",
    "nl": "Dutch",
    "pt": "Portuguese",
}


def _conf(confidence: float) -> str:
    return f"{confidence:.4g}"


def _text_equiv(parent: ET.Element, text: str, confidence: float | None = None) -> None:
    equiv = ET.SubElement(parent, "TextEquiv", {} if confidence is None else {"conf": _conf(confidence)})
    ET.SubElement(equiv, "Unicode").text = xml_text(text)


def _line(region: ET.Element, line: Line, line_id: str) -> None:
    line_el = ET.SubElement(region, "TextLine", {"id": line_id})
    ET.SubElement(line_el, "Coords", {"points": polygon_points(line.box)})
    for w, word in enumerate(line_words(line), 1):
        word_el = ET.SubElement(line_el, "Word", {"id": f"{line_id}_w{w}"})
        ET.SubElement(word_el, "Coords", {"points": polygon_points(word.box)})
        _text_equiv(word_el, word.text, word.confidence)
    _text_equiv(line_el, line.text, line.confidence)


def _page(root: ET.Element, page: Page, image_name: str) -> None:
    attributes = {"imageFilename": image_name, "imageWidth": str(page.width), "imageHeight": str(page.height)}
    if page.language in PAGE_LANGUAGES:
        attributes["primaryLanguage"] = PAGE_LANGUAGES[page.language]
    page_el = ET.SubElement(root, "Page", attributes)
    page_blocks = blocks(page)
    if page_blocks:
        order = ET.SubElement(page_el, "ReadingOrder")
        group = ET.SubElement(order, "OrderedGroup", {"id": "ro_1", "caption": "Regions reading order"})
        for b in range(1, len(page_blocks) + 1):
            ET.SubElement(group, "RegionRefIndexed", {"index": str(b - 1), "regionRef": f"r{b}"})
    for b, block in enumerate(page_blocks, 1):
        region = ET.SubElement(page_el, "TextRegion", {"id": f"r{b}", "type": "paragraph"})
        ET.SubElement(region, "Coords", {"points": polygon_points(block.box)})
        for index in block.lines:
            _line(region, page.lines[index], f"r{b}_l{index + 1}")
        _text_equiv(region, "\n".join(page.lines[i].text for i in block.lines))


def page_document(document: Document, index: int = 0) -> ET.Element:
    """The ``PcGts`` element for page ``index`` of ``document`` (raises ``IndexError`` if none)."""
    page = document.pages[index]
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    root = ET.Element("PcGts", {"xmlns": PAGE_NS, "xmlns:xsi": XSI_NS, "xsi:schemaLocation": f"{PAGE_NS} {PAGE_XSD}"})
    metadata = ET.SubElement(root, "Metadata")
    ET.SubElement(metadata, "Creator").text = f"{SOFTWARE} {SOFTWARE_VERSION}"
    ET.SubElement(metadata, "Created").text = now
    ET.SubElement(metadata, "LastChange").text = now
    _page(root, page, xml_text(document.source or "image"))
    return root


def _serialize(root: ET.Element) -> bytes:
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def pagexml_pages(document: Document) -> list[bytes]:
    """One UTF-8 PAGE-XML file per page of ``document``, in page order."""
    return [_serialize(page_document(document, i)) for i in range(len(document.pages))]


@register("page", ".page.xml", "application/xml")
def to_pagexml(document: Document, images: list[Image.Image] | None = None) -> bytes:
    """The first page of the Document as UTF-8 PAGE-XML (see the module docstring for why).

    ``imageFilename`` is ``Document.source`` (``"image"`` when unset). A line in no paragraph gets
    a ``TextRegion`` of its own; a line without word boxes gets one ``Word`` over the whole line.
    ``images`` are not used. Raises ``ValueError`` for a document without pages.
    """
    if not document.pages:
        raise ValueError("document has no pages to write")
    root = page_document(document, 0)
    if len(document.pages) > 1:
        note = f" {len(document.pages) - 1} more page(s) not written: PAGE-XML holds one page per file "
        root.insert(0, ET.Comment(note))
    return _serialize(root)
