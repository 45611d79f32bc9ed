"""One synthetic handwritten page with its line boxes and texts: :func:`generate_page`."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from handocr.datasets.synth.effects import background, finish, lighting, mesh_warp, page_geometry
from handocr.datasets.synth.fonts import FontFace, default_printed_faces, load_faces
from handocr.datasets.synth.layout import (
    Label,
    Writer,
    blocks,
    body_layout,
    draw_printed,
    margin_notes,
    plan_header,
    write_body,
)
from handocr.datasets.synth.paper import STAMP_COLOURS, make_paper, stamp
from handocr.datasets.synth.render import Canvas, HandStyle, Pen
from handocr.datasets.synth.text import TextSource


@dataclass(frozen=True)
class SynthOptions:
    """What a page may have. Probabilities are per page; ``geometry`` scales rotation, perspective and
    bending (0: none); ``noise`` turns uneven light, shadows, blur, grain and JPEG on or off;
    ``box_pad`` pads each box by this many x-heights of its line; ``label_printed`` gives printed
    header lines boxes too (stamps never have one)."""

    long_side: int = 1600
    photo_like: bool = False
    paper: str = "random"  # random | white | plain | ruled | squared | seyes
    languages: tuple[str, ...] = ("fr", "en")
    geometry: float = 1.0
    noise: bool = True
    bleed_through: float = 0.25
    header: float = 0.3
    stamp: float = 0.15
    margin_notes: float = 0.25
    two_columns: float = 0.1
    label_printed: bool = False
    box_pad: float = 0.25
    printed_fonts: tuple[str, ...] = ()

    @classmethod
    def clean(cls, **changes) -> SynthOptions:
        """White paper, no bleed-through, header, stamp or photometric noise: every dark pixel is
        handwriting in a box (geometry stays on). For tests and for looking at labels."""
        base = {"paper": "white", "noise": False, "bleed_through": 0.0, "header": 0.0, "stamp": 0.0}
        return cls(**{**base, **changes})


@dataclass(frozen=True)
class SynthLine:
    """A labelled line: ``box`` ``(x0, y0, x1, y1)`` in pixels of the page image, its ``text``, and its
    ``kind``: ``hand`` (body text), ``margin`` (a margin note) or ``printed`` (a header line)."""

    box: tuple[float, float, float, float]
    text: str
    kind: str = "hand"


@dataclass
class SynthPage:
    """A generated page: the RGB ``image``, its ``lines`` in writing order (body, then margin notes;
    printed header lines first when labelled) and what was chosen for it (``meta``)."""

    image: Image.Image
    lines: list[SynthLine]
    meta: dict = field(default_factory=dict)


@lru_cache(maxsize=1)
def default_text_source() -> TextSource:
    """The built-in text source (Faker when installed), made once."""
    return TextSource()


@lru_cache(maxsize=8)
def _printed(names: tuple[str, ...]) -> list[FontFace]:
    return [FontFace(Path(n)) for n in names] if names else default_printed_faces()


def generate_page(
    seed: int | np.random.Generator,
    fonts: list[FontFace] | list[Path | str] | None,
    texts: TextSource | None = None,
    options: SynthOptions | None = None,
) -> SynthPage:
    """Draw one page; the same ``seed`` (and fonts, texts, options) gives the same pixels and labels.

    ``fonts`` are handwriting faces or font files/folders (``None``: Pillow's built-in face).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    opts = options or SynthOptions()
    faces = fonts if fonts and all(isinstance(f, FontFace) for f in fonts) else load_faces(fonts)  # type: ignore[arg-type]
    texts = texts or default_text_source()
    langs = [lang for lang in opts.languages if lang in texts.languages] or list(texts.languages)
    lang = str(rng.choice(langs))
    height = opts.long_side
    width = round(height / rng.choice([1.414, 1.294, 1.35]))
    printed = _printed(opts.printed_fonts)
    header, top = ([], height * rng.uniform(0.04, 0.1))
    if rng.random() < opts.header:
        header, top = plan_header(rng, texts, lang, printed, width, height)
    paper = make_paper(rng, width, height, opts.paper, top, opts.photo_like)
    canvas = Canvas(paper.rgb)
    labels: list[Label] = []
    writer = _writer(rng, faces, paper.pitch, opts.photo_like)
    if rng.random() < opts.bleed_through:
        _bleed_through(canvas, rng, faces, texts, lang, paper.pitch, top)
    draw_printed(canvas, header, labels, opts.label_printed)
    genre, stream = blocks(rng, texts, lang)
    two_columns = genre != "letter" and bool(rng.random() < opts.two_columns)
    body = body_layout(rng, width, height, top, paper.pitch, paper.baselines, paper.margin_x, writer.size, two_columns)
    write_body(canvas, rng, writer, stream, body, labels)
    if rng.random() < opts.margin_notes:
        margin_notes(canvas, rng, writer, texts, lang, body, labels)
    if rng.random() < opts.stamp:
        _stamp(canvas, rng, texts, lang, printed)
    image, ids, scale = _photograph(canvas, rng, opts)
    lines = _boxes(ids, labels, scale * opts.box_pad)
    meta = {
        "language": lang,
        "genre": genre,
        "paper": paper.pattern,
        "tint": paper.tint,
        "font": writer.face.name,
        "size": round(writer.size, 1),
        "photo_like": opts.photo_like,
        "header": bool(header),
    }
    return SynthPage(image, lines, meta)


def _writer(rng: np.random.Generator, faces: list[FontFace], pitch: float, photo: bool) -> Writer:
    """A hand whose size suits the line pitch: between the sizes that give it a usual x-height
    and a usual height from ascenders to descenders (fonts differ a lot in both)."""
    face = faces[int(rng.integers(len(faces)))]
    by_x_height = pitch * rng.uniform(0.24, 0.36) / face.x_height
    by_extent = pitch * rng.uniform(0.65, 0.95) / face.extent
    return Writer(face, float(np.sqrt(by_x_height * by_extent)), HandStyle.random(rng), Pen.random(rng, photo))


def _bleed_through(
    canvas: Canvas,
    rng: np.random.Generator,
    faces: list[FontFace],
    texts: TextSource,
    lang: str,
    pitch: float,
    top: float,
) -> None:
    """The back page's writing, mirrored, blurred and faint; never labelled."""
    width, height = canvas.size
    back = Canvas(np.full((height, width, 3), 255, np.float32))
    writer = _writer(rng, faces, pitch, False)
    body = body_layout(rng, width, height, top, pitch, [], None, writer.size, False)
    write_body(back, rng, writer, blocks(rng, texts, lang)[1], body, None)
    alpha = Image.fromarray((255 - back.rgb[..., 0]).clip(0, 255).astype(np.uint8)[:, ::-1])
    alpha = alpha.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 2.5)))
    colour = (100, 90, 80) if rng.random() < 0.5 else writer.pen.colour
    canvas.ink(np.asarray(alpha, np.float32) / 255 * rng.uniform(0.08, 0.25), 0, 0, colour)


def _stamp(canvas: Canvas, rng: np.random.Generator, texts: TextSource, lang: str, faces: list[FontFace]) -> None:
    width, height = canvas.size
    words = [texts.snippet(rng, lang, "stamp")]
    if rng.random() < 0.6:
        words.append(texts.date(rng, lang).upper())
    face = faces[-1]
    alpha = stamp(rng, [face.drawable(w) for w in words], face, height * rng.uniform(0.014, 0.024))
    x, y = rng.uniform(0, max(1, width - alpha.shape[1])), rng.uniform(0, max(1, height - alpha.shape[0]))
    canvas.ink(alpha, int(x), int(y), STAMP_COLOURS[int(rng.integers(len(STAMP_COLOURS)))])


def _photograph(canvas: Canvas, rng: np.random.Generator, opts: SynthOptions) -> tuple[Image.Image, np.ndarray, float]:
    """Warp (scan or photo), light and degrade the flat page; return the image, the warped line-id map
    and the page's scale in the image."""
    width, height = canvas.size
    photo = opts.photo_like
    out_size = (round(height * 3 / 4), height) if photo else (width, height)
    flat = Image.fromarray(np.clip(canvas.rgb, 0, 255).astype(np.uint8))
    ids_img = Image.fromarray(canvas.ids)
    scale = 1.0
    if photo or opts.geometry > 0:
        to_page, scale = page_geometry(rng, width, height, out_size, max(opts.geometry, 0.0), photo)
        shade_of_bed = int(rng.choice([250, 235, 60])) if opts.noise else 250  # clean pages: only ink is dark
        bed = (shade_of_bed,) * 3
        flat = mesh_warp(flat, out_size, to_page, Image.Resampling.BILINEAR, bed)
        ids_img = mesh_warp(ids_img, out_size, to_page, Image.Resampling.NEAREST, 0)
        if photo:
            mask = mesh_warp(Image.new("L", (width, height), 255), out_size, to_page, Image.Resampling.BILINEAR, 0)
            m = np.asarray(mask, np.float32)[..., None] / 255
            shade = np.asarray(mask.filter(ImageFilter.GaussianBlur(height / 80)), np.float32)[..., None] / 255
            desk = background(rng, *out_size) * (1 - 0.5 * shade)
            flat = Image.fromarray(np.clip(desk * (1 - m) + np.asarray(flat, np.float32) * m, 0, 255).astype(np.uint8))
    rgb = np.asarray(flat, np.float32)
    if opts.noise:
        rgb = lighting(rgb, rng, photo)
    image = finish(Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)), rng, photo, opts.noise)
    return image, np.asarray(ids_img), scale


def _boxes(ids: np.ndarray, labels: list[Label], pad: float) -> list[SynthLine]:
    """Each label's box: its ink pixels' bounds, padded by ``pad`` x-heights, clipped to the image."""
    height, width = ids.shape
    ys, xs = np.nonzero(ids)
    values = ids[ys, xs].astype(np.intp)
    n = len(labels) + 1
    x0, y0 = np.full(n, width), np.full(n, height)
    x1, y1 = np.full(n, -1), np.full(n, -1)
    np.minimum.at(x0, values, xs)
    np.minimum.at(y0, values, ys)
    np.maximum.at(x1, values, xs)
    np.maximum.at(y1, values, ys)
    lines = []
    for i, label in enumerate(labels, 1):
        if x1[i] < 0:
            continue  # nothing of it is left in the image
        p = pad * label.x_height
        box = (max(0.0, x0[i] - p), max(0.0, y0[i] - p), min(width, x1[i] + 1 + p), min(height, y1[i] + 1 + p))
        if box[2] - box[0] >= 3 and box[3] - box[1] >= 3:
            lines.append(SynthLine(tuple(float(v) for v in box), label.text, label.kind))  # type: ignore[arg-type]
    return lines
