"""Line crops for recognizer training: cut once from the pages, augmented on the fly."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageFilter

from handocr.datasets.collection import recognition_lines
from handocr.datasets.linefolder import is_line_image
from handocr.datasets.records import PageRecord
from handocr.datasets.synth.effects import smooth_noise
from handocr.detection.boxes import grow_thin_boxes

STORE_HEIGHT = 64
MARGIN = 8


@dataclass
class LineSample:
    """A stored grayscale crop (``STORE_HEIGHT`` rows, ``MARGIN``-scaled context around the box)."""

    gray: np.ndarray
    text: str
    margin_px: int


def cut_lines(pages: list[PageRecord], min_line_height: float = 0.0) -> list[LineSample]:
    """Cut every readable line of ``pages`` (box plus a margin), grayscale, scaled to ``STORE_HEIGHT``.

    Boxes lower than ``min_line_height`` of the page's median line box are grown about their middle
    first, as the reader grows them (:func:`handocr.detection.boxes.grow_thin_boxes`): a thin band
    annotated through a line would otherwise teach the recognizer to read half-cut letters.

    A line image (a record whose single line is the whole image, see
    :mod:`handocr.datasets.linefolder`) has no context around its box: it is padded with its paper
    colour first, so that its crop looks like one cut from a page.
    """
    samples: list[LineSample] = []
    for page in pages:
        image = Image.open(page.image_path).convert("L")
        if is_line_image(page):
            image, page = _pad_line_image(image, page)
        lines = recognition_lines(page)
        grown = grow_thin_boxes([line.box for line, _ in lines], min_line_height)
        for (_, text), (x0, y0, x1, y1) in zip(lines, grown, strict=True):
            box = (
                max(0, int(x0) - MARGIN),
                max(0, int(y0) - MARGIN),
                min(page.width, int(x1) + MARGIN),
                min(page.height, int(y1) + MARGIN),
            )
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue  # a box outside the image (``handocr data check`` reports it)
            crop = image.crop(box)
            scale = STORE_HEIGHT / crop.height
            crop = crop.resize((max(8, int(crop.width * scale)), STORE_HEIGHT), Image.BILINEAR)
            samples.append(LineSample(np.asarray(crop), text, max(1, int(MARGIN * scale))))
    return samples


def _pad_line_image(image: Image.Image, page: PageRecord) -> tuple[Image.Image, PageRecord]:
    """The line image framed by ``MARGIN`` pixels of its median grey, and the record shifted to match."""
    paper = int(np.median(np.asarray(image)))
    padded = Image.new("L", (image.width + 2 * MARGIN, image.height + 2 * MARGIN), paper)
    padded.paste(image, (MARGIN, MARGIN))
    line = page.lines[0]
    box = (float(MARGIN), float(MARGIN), float(MARGIN + image.width), float(MARGIN + image.height))
    shifted = replace(page, width=padded.width, height=padded.height, lines=[replace(line, box=box)])
    return padded, shifted


def base_crop(sample: LineSample) -> np.ndarray:
    """The crop as inference would see it (the detector box plus a small margin), unaugmented."""
    m = sample.margin_px // 2
    return sample.gray[m : STORE_HEIGHT - m, m : sample.gray.shape[1] - m]


ELASTIC_CHANCE = 0.5  # share of augmented crops given an elastic distortion
ELASTIC_SPACING = 0.5  # distance between the distortion's control points, in crop heights
ELASTIC_SHIFT = 0.03  # standard deviation of a control point's shift, in crop heights


def augment(sample: LineSample, rng: random.Random) -> np.ndarray:
    """A randomly perturbed crop: margins, slant, width scale, elastic distortion, stroke width,
    blur, noise, contrast."""
    g = sample.gray
    m = sample.margin_px
    top, bottom = rng.randint(0, m), rng.randint(0, m)
    left, right = rng.randint(0, m), rng.randint(0, m)
    g = g[top : g.shape[0] - bottom, left : g.shape[1] - right]
    image = Image.fromarray(g)
    h, w = g.shape
    shear = rng.uniform(-0.35, 0.35)
    if abs(shear) > 0.05:
        extra = int(abs(shear) * h)
        image = image.transform(
            (w + extra, h),
            Image.AFFINE,
            (1, shear, -extra if shear > 0 else 0, 0, 1, 0),
            Image.BILINEAR,
            fillcolor=int(np.median(g)),
        )
    scale = rng.uniform(0.75, 1.25)
    image = image.resize((max(8, int(image.width * scale)), h), Image.BILINEAR)
    if rng.random() < ELASTIC_CHANCE:
        image = Image.fromarray(elastic(np.asarray(image), rng))
    return _ink_and_noise(image, rng)


def elastic(gray: np.ndarray, rng: random.Random, shift: float = ELASTIC_SHIFT) -> np.ndarray:
    """``gray`` (uint8, ``(h, w)``) warped by a smooth random displacement field, as a hand varies.

    Control points every ``ELASTIC_SPACING`` crop heights each move by a normal shift of standard
    deviation ``shift`` crop heights (about 2 pixels of a 64-row crop), in x and y; the field between
    them is bicubic, so strokes bend and thicken locally but nothing tears. Edge pixels repeat.
    """
    h, w = gray.shape
    step = max(4.0, ELASTIC_SPACING * h)
    grid_rows, grid_columns = round(h / step) + 1, round(w / step) + 1
    noise = np.random.default_rng(rng.randint(0, 2**31))
    dx, dy = (shift * h * smooth_noise(noise, h, w, grid_rows, grid_columns) for _ in range(2))
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    y = np.clip(rows + dy, 0, h - 1)
    x = np.clip(cols + dx, 0, w - 1)
    y0, x0 = np.floor(y).astype(np.intp), np.floor(x).astype(np.intp)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = y - y0, x - x0
    g = gray.astype(np.float32)
    top = g[y0, x0] * (1 - fx) + g[y0, x1] * fx
    bottom = g[y1, x0] * (1 - fx) + g[y1, x1] * fx
    return np.clip(top * (1 - fy) + bottom * fy + 0.5, 0, 255).astype(np.uint8)


def augment_in_place(sample: LineSample, rng: random.Random) -> np.ndarray:
    """:func:`base_crop` with stroke width, blur, contrast and noise perturbed: no pixel moves, so the
    crop keeps its columns (for distillation, where a teacher's frames must still line up)."""
    return _ink_and_noise(Image.fromarray(base_crop(sample)), rng)


def _ink_and_noise(image: Image.Image, rng: random.Random) -> np.ndarray:
    """Thicker or thinner ink, blur, contrast and noise, each at random."""
    r = rng.random()
    if r < 0.15:
        image = image.filter(ImageFilter.MinFilter(3))  # thicker ink
    elif r < 0.3:
        image = image.filter(ImageFilter.MaxFilter(3))  # thinner ink
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    arr = np.asarray(image, dtype=np.float32)
    if rng.random() < 0.5:
        arr = arr * rng.uniform(0.6, 1.0) + rng.uniform(0, 60)
    if rng.random() < 0.4:
        arr = arr + np.random.default_rng(rng.randint(0, 2**31)).normal(0, rng.uniform(2, 12), arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8)
