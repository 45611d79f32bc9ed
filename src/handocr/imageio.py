"""Safe image decoding: type by magic bytes, byte and pixel limits, EXIF orientation, page iteration.

Every failure raises a typed error from :mod:`handocr.errors`, never a bare Pillow exception:
:class:`~handocr.errors.UnsupportedMediaType` for bytes of a type we do not read,
:class:`~handocr.errors.InvalidImage` for empty, truncated or corrupt input and
:class:`~handocr.errors.ImageTooLarge` for input over a :class:`Limits` bound. Pixel limits are
checked from the header, before any pixel is decoded; a truncated file raises instead of
returning a partly grey image.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from PIL import Image, ImageFile, ImageOps

from handocr.errors import HandocrError, ImageTooLarge, InvalidImage, UnsupportedMediaType

if TYPE_CHECKING:
    import pypdfium2 as pdfium

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_PIXELS = 60_000_000
MAX_PAGES = 500
PDF_DPI = 200
MIN_PDF_DPI = 50

_SIGNATURES: list[tuple[bytes, int, str]] = [
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"WEBP", 8, "image/webp"),
    (b"%PDF-", 0, "application/pdf"),
    (b"BM", 0, "image/bmp"),
]
T = TypeVar("T")
SUPPORTED_TYPES = sorted({mime for _, _, mime in _SIGNATURES})
_PILLOW_FORMATS = {
    "image/jpeg": ["JPEG"],
    "image/png": ["PNG"],
    "image/tiff": ["TIFF"],
    "image/webp": ["WEBP"],
    "image/bmp": ["BMP"],
}


@dataclass(frozen=True)
class Limits:
    """Input limits: total bytes, pixels per page, pages per input."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_pages: int = MAX_PAGES


def sniff_type(data: bytes) -> str:
    """The media type of ``data`` from its magic bytes (one of :data:`SUPPORTED_TYPES`).

    Raises :class:`InvalidImage` for empty input and :class:`UnsupportedMediaType` otherwise.
    """
    if not data:
        raise InvalidImage("empty input")
    for signature, offset, mime in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            if mime == "image/webp" and not data.startswith(b"RIFF"):
                continue
            return mime
    raise UnsupportedMediaType("not a supported image type (JPEG, PNG, TIFF, WebP, BMP or PDF)")


def read_source(source: str | Path | bytes, limits: Limits = Limits()) -> bytes:
    """The bytes of a file path or a bytes-like object, enforcing ``limits.max_bytes``."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            if not path.is_file():
                raise InvalidImage(f"no such file: {path}")
            size = path.stat().st_size
            if size > limits.max_bytes:
                raise ImageTooLarge(f"{size} bytes is over the limit of {limits.max_bytes}")
            with path.open("rb") as handle:
                data = handle.read(limits.max_bytes + 1)  # the file may have grown since stat()
        except OSError as exc:
            raise InvalidImage(f"cannot read {path}: {exc}") from exc
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"{len(data)} bytes is over the limit of {limits.max_bytes}")
    return data


def iter_pages(data: bytes, limits: Limits = Limits()) -> Iterator[Image.Image]:
    """Decode every page of an image (or PDF) held in ``data`` as an upright RGB image.

    One image per frame of a multi-page TIFF, one per page of a PDF (rendered at
    :data:`PDF_DPI`, lower if needed to fit ``limits.max_pixels``; the image's ``info["dpi"]``
    says which). EXIF orientation is applied to every frame; transparent areas become white.
    Raises :class:`InvalidImage`, :class:`UnsupportedMediaType` or :class:`ImageTooLarge`.
    """
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"{len(data)} bytes is over the limit of {limits.max_bytes}")
    mime = sniff_type(data)
    if mime == "application/pdf":
        yield from _iter_pdf_pages(data, limits)
        return
    image = _guarded(_open, data, mime)
    frames = _guarded(lambda: getattr(image, "n_frames", 1))
    if frames > limits.max_pages:
        raise ImageTooLarge(f"{frames} pages is over the limit of {limits.max_pages}")
    try:
        for index in range(frames):
            yield _guarded(_decode_frame, image, index, limits)
    finally:
        image.close()


def decode_pages(source: str | Path | bytes, limits: Limits = Limits()) -> list[Image.Image]:
    """All pages of a file path or bytes, decoded (see :func:`iter_pages`)."""
    return list(iter_pages(read_source(source, limits), limits))


def _guarded(function: Callable[..., T], *args: object) -> T:
    """Call ``function(*args)``, turning any decoder failure into a typed handocr error.

    Pillow's plugins raise many kinds of exceptions on corrupt input (``OSError``,
    ``SyntaxError``, ``struct.error``, ``IndexError``, ...), so everything but our own errors is
    reported as :class:`InvalidImage`. Pillow's warnings (damaged metadata, and its
    decompression-bomb warning: our own pixel limit is checked before decoding) are silenced;
    its ``DecompressionBombError`` (over twice ``Image.MAX_IMAGE_PIXELS``) is :class:`ImageTooLarge`.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")  # e.g. corrupt EXIF
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # _check_pixels decides
            return function(*args)
    except HandocrError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"image has too many pixels ({exc})") from exc
    except MemoryError as exc:
        raise ImageTooLarge("image needs more memory than is available to decode") from exc
    except Exception as exc:
        raise InvalidImage(f"cannot decode image: {exc}") from exc


def _open(data: bytes, mime: str) -> Image.Image:
    """Open (not decode) ``data`` with only the Pillow plugin its magic bytes name."""
    return Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS[mime])


def _decode_frame(image: Image.Image, index: int, limits: Limits) -> Image.Image:
    """Frame ``index`` of ``image``: pixel limit checked, fully decoded, upright, RGB.

    ``exif_transpose`` returns a new image (turned, or a copy), which outlives the file and its next
    frames; an RGB frame is not copied again (one copy less than before: about 5 ms a page).
    """
    image.seek(index)
    _check_pixels(image.size, limits)
    _load_strict(image)
    return to_rgb(ImageOps.exif_transpose(image))


def _load_strict(image: Image.Image) -> None:
    """Decode ``image`` now, so that a truncated file raises instead of coming back part grey.

    Pillow's default (``ImageFile.LOAD_TRUNCATED_IMAGES = False``) is what we need; if other code
    in the process has turned it on, it is turned off for this call only.
    """
    if not ImageFile.LOAD_TRUNCATED_IMAGES:
        image.load()
        return
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image.load()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = True


def to_rgb(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit RGB (itself if it is already): 16-bit and float grey scaled down,
    transparency over white."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float32)
        high = float(values.max()) if values.size else 0.0
        if high > 255:
            values = values * (255 / high)
        return Image.fromarray(values.clip(0, 255).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _check_pixels(size: tuple[int, int], limits: Limits) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise InvalidImage("image has no pixels")
    if width * height > limits.max_pixels:
        raise ImageTooLarge(f"{width}x{height} pixels is over the limit of {limits.max_pixels}")


def _pdf_scale(width_pt: float, height_pt: float, limits: Limits) -> float:
    """Pixels per point to render a page at: :data:`PDF_DPI`, or less to fit the pixel limit."""
    if not (width_pt > 0 and height_pt > 0 and math.isfinite(width_pt * height_pt)):
        raise InvalidImage(f"PDF page has no area ({width_pt}x{height_pt} pt)")
    scale = min(PDF_DPI / 72, math.sqrt(limits.max_pixels / (width_pt * height_pt)) * 0.999)
    if scale < MIN_PDF_DPI / 72:
        raise ImageTooLarge(f"PDF page of {width_pt:.0f}x{height_pt:.0f} pt is too large to render")
    return scale


def _iter_pdf_pages(data: bytes, limits: Limits) -> Iterator[Image.Image]:
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:
        raise UnsupportedMediaType("PDF input needs the 'pdf' extra: pip install 'handocr[pdf]'") from exc
    try:
        pdf = pdfium.PdfDocument(data)
    except Exception as exc:
        raise InvalidImage(f"cannot open PDF: {exc}") from exc
    try:
        count = _guarded(len, pdf)
        if count > limits.max_pages:
            raise ImageTooLarge(f"{count} pages is over the limit of {limits.max_pages}")
        if count == 0:
            raise InvalidImage("PDF has no pages")
        for index in range(count):
            yield _guarded(_render_pdf_page, pdf, index, limits)
    finally:
        pdf.close()


def _render_pdf_page(pdf: pdfium.PdfDocument, index: int, limits: Limits) -> Image.Image:
    page = pdf[index]
    try:
        scale = _pdf_scale(*page.get_size(), limits)
        image = page.render(scale=scale).to_pil()
        _check_pixels(image.size, limits)
        image = image.convert("RGB")
        image.info["dpi"] = (scale * 72, scale * 72)
        return image
    finally:
        page.close()
