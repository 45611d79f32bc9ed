"""Tests of safe decoding: every supported type, multi-page inputs, orientation and every limit."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, features

from handocr.errors import HandocrError, ImageTooLarge, InvalidImage, UnsupportedMediaType
from handocr.imageio import SUPPORTED_TYPES, Limits, decode_pages, iter_pages, read_source, sniff_type

ORIENTATION = 0x0112


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image`` saved in Pillow format ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def marked(size: tuple[int, int] = (40, 20)) -> Image.Image:
    """A white image with a red top-left corner, to see where the image was turned."""
    image = Image.new("RGB", size, "white")
    image.paste((255, 0, 0), (0, 0, 4, 4))
    return image


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk claiming ``width`` x ``height``, with no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def pdf_bytes(sizes: list[tuple[int, int]], resolution: float = 100.0) -> bytes:
    """A PDF with one page per image size, written by Pillow at ``resolution`` dpi."""
    images = [marked(size) for size in sizes]
    return encode(images[0], "PDF", save_all=True, append_images=images[1:], resolution=resolution)


FORMATS = ["JPEG", "PNG", "BMP"] + (["WEBP"] if features.check("webp") else [])


@pytest.mark.parametrize("fmt", FORMATS)
def test_single_image_formats_decode_to_rgb(fmt: str) -> None:
    data = encode(marked((40, 20)), fmt)
    assert sniff_type(data) == f"image/{fmt.lower()}"
    pages = list(iter_pages(data))
    assert len(pages) == 1
    assert pages[0].mode == "RGB"
    assert pages[0].size == (40, 20)
    red, green, _ = pages[0].getpixel((1, 1))
    assert red > 200 and green < 80


def test_supported_types_are_the_sniffed_ones() -> None:
    assert set(SUPPORTED_TYPES) == {
        "image/jpeg",
        "image/png",
        "image/tiff",
        "image/webp",
        "image/bmp",
        "application/pdf",
    }


def test_multi_page_tiff_gives_one_upright_image_per_frame() -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    frames = [marked((40, 20)), marked((30, 10)), marked((16, 8))]
    data = encode(frames[0], "TIFF", save_all=True, append_images=frames[1:], exif=exif)
    assert sniff_type(data) == "image/tiff"
    pages = list(iter_pages(data))
    assert [p.size for p in pages] == [(20, 40), (10, 30), (8, 16)]  # every frame turned
    assert all(p.mode == "RGB" for p in pages)


def test_upright_rgb_frames_outlive_the_file_and_the_frames_after_them() -> None:
    """With nothing to turn or convert, each frame is still its own image: later frames and the
    closed file leave the earlier ones as they were."""
    colours = [(200, 0, 0), (0, 200, 0), (0, 0, 200)]
    frames = [Image.new("RGB", (30 - 5 * i, 12), colour) for i, colour in enumerate(colours)]
    data = encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    pages = decode_pages(data)
    assert [p.size for p in pages] == [(30, 12), (25, 12), (20, 12)]
    assert [p.getpixel((3, 3)) for p in pages] == colours
    assert [np.asarray(p).reshape(-1, 3).std(axis=0).max() for p in pages] == [0, 0, 0]


def test_jpeg_exif_orientation_6_comes_back_rotated() -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # stored image must be turned 90 degrees clockwise to display
    data = encode(marked((40, 20)), "JPEG", exif=exif, quality=95)
    (page,) = iter_pages(data)
    assert page.size == (20, 40)
    red, green, _ = page.getpixel((18, 1))  # the top-left mark is now top-right
    assert red > 200 and green < 80
    assert page.getpixel((1, 1))[1] > 200


def test_pdf_pages_are_rendered_one_image_each() -> None:
    pytest.importorskip("pypdfium2")
    data = pdf_bytes([(200, 100), (100, 150), (50, 50)], resolution=100)
    assert sniff_type(data) == "application/pdf"
    pages = decode_pages(data)
    assert len(pages) == 3
    assert pages[0].size == (400, 200)  # 2 inches by 1 inch at 200 dpi
    assert pages[1].size == (200, 300)
    assert all(p.mode == "RGB" for p in pages)
    assert pages[0].info["dpi"] == pytest.approx((200, 200))
    red, green, _ = pages[0].getpixel((3, 3))
    assert red > 200 and green < 80


def test_large_pdf_page_is_rendered_smaller_to_fit_the_pixel_limit() -> None:
    pytest.importorskip("pypdfium2")
    data = pdf_bytes([(200, 100)], resolution=100)  # 400x200 = 80000 px at 200 dpi
    (page,) = iter_pages(data, Limits(max_pixels=20_000))
    assert page.width * page.height <= 20_000
    assert page.info["dpi"][0] < 200


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", InvalidImage),
        (b"hello, this is not an image at all", UnsupportedMediaType),
        (bytes(range(256)) * 4, UnsupportedMediaType),
        (b"%PDF-1.4\nnot really a pdf", InvalidImage),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, InvalidImage),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 garbage", InvalidImage),
        (b"BM" + b"\xff" * 60, InvalidImage),
    ],
)
def test_bad_input_raises_typed_errors(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        list(iter_pages(data))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_raises_invalid_image(fmt: str) -> None:
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8))
    data = encode(noisy, fmt)
    with pytest.raises(InvalidImage):
        list(iter_pages(data[: len(data) // 2]))


def test_truncated_jpeg_raises_even_when_pillow_is_told_to_accept_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = encode(marked((200, 200)), "JPEG")
    with pytest.raises(InvalidImage):
        list(iter_pages(data[: len(data) // 2]))
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is left as it was


def test_decompression_bomb_is_too_large_before_decoding() -> None:
    with pytest.raises(ImageTooLarge):
        list(iter_pages(png_header_only(100_000, 100_000)))


def test_limit_above_pillows_bomb_warning_is_honoured() -> None:
    header = png_header_only(10_000, 9_000)  # 90 Mpx: over Pillow's warning threshold, under its error
    with pytest.raises(ImageTooLarge):
        list(iter_pages(header))  # over our default limit
    with pytest.raises(InvalidImage) as caught:
        list(iter_pages(header, Limits(max_pixels=100_000_000)))  # allowed, then fails: no pixel data
    assert not isinstance(caught.value, ImageTooLarge)


def test_pixel_limit() -> None:
    data = encode(marked((100, 100)), "PNG")
    with pytest.raises(ImageTooLarge):
        list(iter_pages(data, Limits(max_pixels=9_999)))
    assert len(list(iter_pages(data, Limits(max_pixels=10_000)))) == 1


def test_byte_limit_for_bytes_and_paths(tmp_path: Path) -> None:
    data = encode(marked(), "PNG")
    path = tmp_path / "page.png"
    path.write_bytes(data)
    small = Limits(max_bytes=len(data) - 1)
    for source in (data, path, str(path)):
        with pytest.raises(ImageTooLarge):
            read_source(source, small)
        with pytest.raises(ImageTooLarge):
            decode_pages(source, small)
    with pytest.raises(ImageTooLarge):
        list(iter_pages(data, small))
    assert read_source(path, Limits(max_bytes=len(data))) == data
    assert len(decode_pages(path)) == 1


def test_missing_file_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidImage):
        decode_pages(tmp_path / "nothing.png")
    with pytest.raises(InvalidImage):
        decode_pages(tmp_path)  # a folder is not an image file


def test_page_limit_for_tiff_and_pdf() -> None:
    frames = [marked(), marked(), marked()]
    tiff = encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageTooLarge):
        list(iter_pages(tiff, Limits(max_pages=2)))
    assert len(list(iter_pages(tiff, Limits(max_pages=3)))) == 3
    pytest.importorskip("pypdfium2")
    pdf = pdf_bytes([(20, 20)] * 3)
    with pytest.raises(ImageTooLarge):
        list(iter_pages(pdf, Limits(max_pages=2)))


def test_transparent_png_is_flattened_on_white() -> None:
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    image.putpixel((5, 5), (0, 0, 0, 255))
    (page,) = iter_pages(encode(image, "PNG"))
    assert page.getpixel((0, 0)) == (255, 255, 255)
    assert page.getpixel((5, 5)) == (0, 0, 0)


def test_sixteen_bit_grey_is_scaled_to_eight_bits() -> None:
    values = np.full((10, 10), 60000, dtype=np.uint16)
    values[0, 0] = 0
    image = Image.fromarray(values)
    (page,) = iter_pages(encode(image, "PNG"))
    assert page.mode == "RGB"
    assert page.getpixel((5, 5))[0] > 200
    assert page.getpixel((0, 0)) == (0, 0, 0)


_MAGIC = st.sampled_from(
    [b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"BM", b"%PDF-", b"RIFF\x00\x00\x00\x00WEBP"]
)


@settings(max_examples=200, deadline=None)
@given(prefix=_MAGIC, tail=st.binary(max_size=512))
def test_arbitrary_bytes_raise_only_handocr_errors(prefix: bytes, tail: bytes) -> None:
    try:
        for page in iter_pages(prefix + tail, Limits(max_pixels=1_000_000)):
            assert page.mode == "RGB"
    except HandocrError:
        pass
