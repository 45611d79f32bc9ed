"""ALTO v4 exporter: one ``Page`` per page in ``Layout``, a ``TextBlock`` per paragraph.

Positions are integer pixels of the page image (``MeasurementUnit`` ``pixel``): ``HPOS``/``VPOS``
are the top-left corner, ``WIDTH``/``HEIGHT`` the size. ``WC`` is the word confidence in [0, 1].
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from PIL import Image

from handocr.exporters import register
from handocr.exporters._tree import SOFTWARE, SOFTWARE_VERSION, blocks, line_words, xml_text
from handocr.schema import Document, Page

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_XSD = "http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


def _position(box: list[int]) -> dict[str, str]:
    x0, y0, x1, y1 = box
    return {"HPOS": str(x0), "VPOS": str(y0), "WIDTH": str(x1 - x0), "HEIGHT": str(y1 - y0)}


def _description(root: ET.Element, source: str | None) -> None:
    description = ET.SubElement(root, "Description")
    ET.SubElement(description, "MeasurementUnit").text = "pixel"
    if source:
        info = ET.SubElement(description, "sourceImageInformation")
        ET.SubElement(info, "fileName").text = xml_text(source)
    processing = ET.SubElement(description, "Processing", {"ID": "proc_1"})
    ET.SubElement(processing, "processingStepDescription").text = "contentGeneration"
    software = ET.SubElement(processing, "processingSoftware")
    ET.SubElement(software, "softwareName").text = SOFTWARE
    ET.SubElement(software, "softwareVersion").text = SOFTWARE_VERSION


def _page(layout: ET.Element, page: Page, number: int) -> None:
    size = {"WIDTH": str(page.width), "HEIGHT": str(page.height)}
    page_el = ET.SubElement(layout, "Page", {"ID": f"page_{number}", "PHYSICAL_IMG_NR": str(number), **size})
    print_space = ET.SubElement(page_el, "PrintSpace", {"HPOS": "0", "VPOS": "0", **size})
    for b, block in enumerate(blocks(page), 1):
        language = {"LANG": page.language} if page.language else {}
        block_el = ET.SubElement(
            print_space, "TextBlock", {"ID": f"block_{number}_{b}", **_position(block.box), **language}
        )
        for index in block.lines:
            line = page.lines[index]
            line_id = f"line_{number}_{index + 1}"
            line_el = ET.SubElement(block_el, "TextLine", {"ID": line_id, **_position(line.box)})
            words = line_words(line)
            for w, word in enumerate(words, 1):
                if w > 1:
                    previous = words[w - 2].box
                    gap = max(0, word.box[0] - previous[2])
                    sp_attrs = {"HPOS": str(previous[2]), "VPOS": str(line.box[1]), "WIDTH": str(gap)}
                    ET.SubElement(line_el, "SP", sp_attrs)
                attributes = {"ID": f"{line_id}_{w}", **_position(word.box), "WC": f"{word.confidence:.4g}"}
                ET.SubElement(line_el, "String", {**attributes, "CONTENT": xml_text(word.text)})


@register("alto", ".alto.xml", "application/xml")
def to_alto(document: Document, images: list[Image.Image] | None = None) -> bytes:
    """The Document as UTF-8 ALTO v4 XML, every page a ``Page`` of one ``Layout``.

    ``sourceImageInformation/fileName`` is ``Document.source`` when it is set. A line in no
    paragraph gets a ``TextBlock`` of its own; a line without word boxes is one ``String``.
    ``images`` are not used.
    """
    root = ET.Element(
        "alto",
        {"xmlns": ALTO_NS, "xmlns:xsi": XSI_NS, "xsi:schemaLocation": f"{ALTO_NS} {ALTO_XSD}"},
    )
    _description(root, document.source)
    layout = ET.SubElement(root, "Layout")
    for number, page in enumerate(document.pages, 1):
        _page(layout, page, number)
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
