"""A tiny TrueType font with no visible glyphs, embedded under the searchable PDF's text layer.

The text layer is never painted (render mode 3), but a PDF viewer still wants the font program:
without one it looks for a font by name and may warn that it cannot find it. This font has two
empty glyphs (``.notdef`` and a blank), each 500/1000 em wide, ascent 800 and descent -200; the
PDF maps every character code to the blank glyph (see :mod:`handocr.exporters._pdfobjects`).
It holds only the tables a PDF-embedded TrueType font needs (``head``, ``hhea``, ``maxp``,
``hmtx``, ``loca``, ``glyf``) plus a minimal ``name`` and ``post`` for font tools.
"""

from __future__ import annotations

import struct
from functools import cache

UNITS_PER_EM = 1000
ADVANCE = 500
ASCENT = 800
DESCENT = -200
NUM_GLYPHS = 2
FONT_NAME = "HandocrInvisible"


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF


def _tables() -> dict[bytes, bytes]:
    head = struct.pack(
        ">IIIIHHqqhhhhHHhhh",
        0x00010000,  # version
        0x00010000,  # font revision
        0,  # checkSumAdjustment, filled in once the whole font is known
        0x5F0F3CF5,  # magic number
        0x000B,  # flags: baseline at y=0, left sidebearing at x=0, integer scaling
        UNITS_PER_EM,
        0,  # created
        0,  # modified
        0,
        DESCENT,
        ADVANCE,
        ASCENT,  # xMin, yMin, xMax, yMax
        0,  # macStyle
        8,  # lowestRecPPEM
        2,  # fontDirectionHint
        0,  # indexToLocFormat: short offsets
        0,  # glyphDataFormat
    )
    hhea = struct.pack(
        ">IhhhHhhhhhh5hH", 0x00010000, ASCENT, DESCENT, 0, ADVANCE, 0, 0, ADVANCE, 1, 0, 0, 0, 0, 0, 0, 0, NUM_GLYPHS
    )
    maxp = struct.pack(">IH13H", 0x00010000, NUM_GLYPHS, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0)
    hmtx = struct.pack(">HhHh", ADVANCE, 0, ADVANCE, 0)
    loca = struct.pack(">3H", 0, 0, 0)  # both glyphs empty
    glyf = b"\0\0\0\0"  # nothing but padding: a zero-length table upsets some readers
    post = struct.pack(">IIhhIIIII", 0x00030000, 0, 0, 0, 1, 0, 0, 0, 0)  # version 3: no glyph names
    return {
        b"glyf": glyf,
        b"head": head,
        b"hhea": hhea,
        b"hmtx": hmtx,
        b"loca": loca,
        b"maxp": maxp,
        b"name": _name_table(),
        b"post": post,
    }


def _name_table() -> bytes:
    """A ``name`` table (format 0, Windows Unicode) with family, style and PostScript names."""
    names = [(1, FONT_NAME), (2, "Regular"), (6, FONT_NAME)]
    strings = [text.encode("utf-16-be") for _, text in names]
    records, offset = b"", 0
    for (name_id, _), data in zip(names, strings, strict=True):
        records += struct.pack(">6H", 3, 1, 0x409, name_id, len(data), offset)
        offset += len(data)
    return struct.pack(">HHH", 0, len(names), 6 + 12 * len(names)) + records + b"".join(strings)


@cache
def glyphless_font() -> bytes:
    """The font file's bytes (TrueType, ``sfnt`` version 1.0)."""
    tables = dict(sorted(_tables().items()))
    count = len(tables)
    power = 1 << (count.bit_length() - 1)
    header = struct.pack(">IHHHH", 0x00010000, count, power * 16, power.bit_length() - 1, (count - power) * 16)
    offset = len(header) + 16 * count
    directory, body = b"", b""
    for tag, data in tables.items():
        directory += tag + struct.pack(">III", _checksum(data), offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    font = bytearray(header + directory + body)
    head_offset = struct.unpack(">I", directory[directory.index(b"head") + 8 : directory.index(b"head") + 12])[0]
    adjustment = (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF
    font[head_offset + 8 : head_offset + 12] = struct.pack(">I", adjustment)
    return bytes(font)
