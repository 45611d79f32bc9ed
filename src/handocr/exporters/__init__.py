"""Exporters: pure functions from the result tree to bytes, registered by format name.

Each exporter takes a :class:`~handocr.schema.Document` and the decoded page images (some formats,
such as the overlay or a searchable PDF, draw on them) and returns the file's bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from handocr.schema import Document

ExportFunction = Callable[[Document, list[Image.Image]], bytes]


@dataclass(frozen=True)
class Exporter:
    """A registered output format: its file suffix, media type and function."""

    name: str
    suffix: str
    media_type: str
    export: ExportFunction


EXPORTERS: dict[str, Exporter] = {}


def register(name: str, suffix: str, media_type: str) -> Callable[[ExportFunction], ExportFunction]:
    """Decorator that registers an export function under ``name``."""

    def decorate(function: ExportFunction) -> ExportFunction:
        EXPORTERS[name] = Exporter(name, suffix, media_type, function)
        return function

    return decorate


def get_exporter(name: str) -> Exporter:
    """The exporter for ``name``; raises ``KeyError`` with the known names."""
    if name not in EXPORTERS:
        raise KeyError(f"unknown format {name!r}; known: {', '.join(sorted(EXPORTERS))}")
    return EXPORTERS[name]


from handocr.exporters import alto as _alto  # noqa: E402,F401  (registers alto)
from handocr.exporters import hocr as _hocr  # noqa: E402,F401  (registers hocr)
from handocr.exporters import json_text as _json_text  # noqa: E402,F401  (registers json, text)
from handocr.exporters import overlay as _overlay  # noqa: E402,F401  (registers overlay)
from handocr.exporters import pagexml as _pagexml  # noqa: E402,F401  (registers page)
from handocr.exporters import pdf as _pdf  # noqa: E402,F401  (registers pdf)
