"""hOCR exporter: XHTML with ``ocr_page``, ``ocr_carea``, ``ocr_par``, ``ocr_line``, ``ocrx_word``.

Boxes are ``bbox x0 y0 x1 y1`` in pixels of the page image; word (and line) confidences are
``x_wconf`` in 0-100. See http://kba.github.io/hocr-spec/1.2/.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from PIL import Image

from handocr.exporters import register
from handocr.exporters._tree import SOFTWARE, SOFTWARE_VERSION, blocks, line_words, xml_text
from handocr.schema import Document, Page

XHTML = "http://www.w3.org/1999/xhtml"
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"'
    ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
)
CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf"


def _el(parent: ET.Element, tag: str, attrib: dict[str, str] | None = None) -> ET.Element:
    return ET.SubElement(parent, tag, attrib or {})


def _bbox(box: list[int]) -> str:
    return "bbox {} {} {} {}".format(*box)


def _wconf(confidence: float) -> str:
    return f"x_wconf {round(confidence * 100)}"


def _quoted(value: str) -> str:
    """A value for an hOCR property that needs double quotes (backslash-escaped inside)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _page(body: ET.Element, page: Page, number: int, image_name: str | None) -> None:
    title = f"{_bbox([0, 0, page.width, page.height])}; ppageno {number - 1}"
    if image_name:
        title = f"image {_quoted(xml_text(image_name))}; {title}"
    language = {"lang": page.language} if page.language else {}
    page_el = _el(body, "div", {"class": "ocr_page", "id": f"page_{number}", "title": title, **language})
    for b, block in enumerate(blocks(page), 1):
        area = _el(page_el, "div", {"class": "ocr_carea", "id": f"block_{number}_{b}", "title": _bbox(block.box)})
        par = _el(area, "p", {"class": "ocr_par", "id": f"par_{number}_{b}", "title": _bbox(block.box)})
        for index in block.lines:
            line = page.lines[index]
            line_id = f"line_{number}_{index + 1}"
            title = f"{_bbox(line.box)}; {_wconf(line.confidence)}"
            line_el = _el(par, "span", {"class": "ocr_line", "id": line_id, "title": title})
            for w, word in enumerate(line_words(line), 1):
                title = f"{_bbox(word.box)}; {_wconf(word.confidence)}"
                word_el = _el(line_el, "span", {"class": "ocrx_word", "id": f"word_{number}_{index + 1}_{w}"})
                word_el.set("title", title)
                word_el.text = xml_text(word.text)


@register("hocr", ".hocr", "text/html; charset=utf-8")
def to_hocr(document: Document, images: list[Image.Image] | None = None) -> bytes:
    """The Document as UTF-8 XHTML hOCR, one ``ocr_page`` per page (``images`` are not used).

    Paragraphs become ``ocr_carea`` > ``ocr_par``; a line in no paragraph gets its own. A line
    without word boxes is written as one ``ocrx_word`` over the whole line.
    """
    html = ET.Element("html", {"xmlns": XHTML, "xml:lang": "und", "lang": "und"})
    head = _el(html, "head")
    _el(head, "title").text = xml_text(document.source or "handocr")
    _el(head, "meta", {"http-equiv": "Content-Type", "content": "text/html; charset=utf-8"})
    _el(head, "meta", {"name": "ocr-system", "content": f"{SOFTWARE} {SOFTWARE_VERSION}"})
    _el(head, "meta", {"name": "ocr-capabilities", "content": CAPABILITIES})
    _el(head, "meta", {"name": "ocr-number-of-pages", "content": str(len(document.pages))})
    body = _el(html, "body")
    for number, page in enumerate(document.pages, 1):
        _page(body, page, number, document.source)
    ET.indent(html, space=" ")
    return (_HEAD + ET.tostring(html, encoding="unicode") + "\n").encode("utf-8")
