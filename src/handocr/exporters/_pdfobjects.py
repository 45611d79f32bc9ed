"""A minimal PDF object writer and the invisible Unicode font of the searchable PDF exporter.

Only what a page image with a hidden text layer needs: numbered objects, streams (Flate or JPEG),
a cross-reference table, and a Type0 font with ``Identity-H`` encoding whose character codes are
UTF-16 code units, so that any text in the Basic Multilingual Plane can be written and extracted
(its ``ToUnicode`` map is the identity). The embedded font program
(:mod:`handocr.exporters._glyphless`) has no visible glyphs, and the text is drawn in render mode
3 (invisible) anyway.
"""

from __future__ import annotations

import zlib

from handocr.exporters._glyphless import ADVANCE, ASCENT, DESCENT, FONT_NAME, glyphless_font


class PdfWriter:
    """Collects numbered objects and writes them as a PDF file."""

    def __init__(self) -> None:
        self._objects: list[bytes | None] = []

    def reserve(self) -> int:
        """A new object number, to be filled in later with :meth:`set`."""
        self._objects.append(None)
        return len(self._objects)

    def set(self, number: int, body: bytes) -> int:
        """Set object ``number``'s body (a PDF value, without ``obj``/``endobj``)."""
        self._objects[number - 1] = body
        return number

    def add(self, body: bytes) -> int:
        """Add an object and return its number."""
        return self.set(self.reserve(), body)

    def add_stream(self, data: bytes, entries: bytes = b"", compress: bool = True) -> int:
        """Add a stream object; ``entries`` are extra dictionary entries (e.g. a ``/Filter``)."""
        if compress:
            data = zlib.compress(data, 6)
            entries += b" /Filter /FlateDecode"
        head = b"<< /Length %d%s >>\nstream\n" % (len(data), entries)
        return self.add(head + data + b"\nendstream")

    def write(self, root: int, info: int) -> bytes:
        """The whole file, with catalog ``root`` and document information ``info``."""
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self._objects, 1):
            if body is None:
                raise ValueError(f"PDF object {number} was reserved but never set")
            offsets.append(len(out))
            out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\n" % (len(offsets) + 1, root, info)
        out += b"startxref\n%d\n%%%%EOF\n" % xref
        return bytes(out)


def text_string(text: str) -> bytes:
    """``text`` as a PDF text string (UTF-16BE with a byte-order mark, in hex)."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def bmp_only(text: str) -> str:
    """``text`` with characters outside the Basic Multilingual Plane replaced by U+FFFD."""
    return "".join(c if ord(c) <= 0xFFFF else "\ufffd" for c in text)


def show_text(text: str) -> bytes:
    """A hex string operand for ``Tj`` with the invisible font: one 2-byte code per character."""
    return b"<" + bmp_only(text).encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _to_unicode_cmap() -> bytes:
    """A ToUnicode CMap mapping every 2-byte code to the same UTF-16 code unit (no surrogates)."""
    ranges = [b"<%02X00> <%02XFF> <%02X00>" % (hi, hi, hi) for hi in range(256) if not 0xD8 <= hi <= 0xDF]
    chunks = [ranges[i : i + 100] for i in range(0, len(ranges), 100)]  # at most 100 per block
    body = b"".join(b"%d beginbfrange\n%s\nendbfrange\n" % (len(c), b"\n".join(c)) for c in chunks)
    return (
        b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        b"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n" + body + b"endcmap\n"
        b"CMapName currentdict /CMap defineresource pop\nend\nend\n"
    )


def add_invisible_font(writer: PdfWriter) -> int:
    """Add the invisible Type0 font (see the module docstring) and return its object number."""
    name = FONT_NAME.encode("ascii")
    program = glyphless_font()
    font_file = writer.add_stream(program, b" /Length1 %d" % len(program))
    descriptor = writer.add(
        b"<< /Type /FontDescriptor /FontName /%s /Flags 5 /FontBBox [0 %d %d %d] /ItalicAngle 0"
        b" /Ascent %d /Descent %d /CapHeight %d /StemV 80 /FontFile2 %d 0 R >>"
        % (name, DESCENT, ADVANCE, ASCENT, ASCENT, DESCENT, ASCENT, font_file)
    )
    cid_to_gid = writer.add_stream(b"\x00\x01" * 65536)  # every CID shows the font's blank glyph 1
    cid_font = writer.add(
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s"
        b" /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
        b" /FontDescriptor %d 0 R /DW %d /CIDToGIDMap %d 0 R >>" % (name, descriptor, ADVANCE, cid_to_gid)
    )
    to_unicode = writer.add_stream(_to_unicode_cmap())
    return writer.add(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H"
        b" /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (name, cid_font, to_unicode)
    )
