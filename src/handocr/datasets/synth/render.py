"""Drawing ink: handwriting lines glyph by glyph or word by word, printed lines, and the page canvas.

The canvas keeps the page colours and, beside them, a map of which labelled line each ink pixel
belongs to (0: none), which later geometry moves together with the picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from handocr.datasets.synth.fonts import FontFace

INK_COLOURS = {
    "blue": (25, 45, 150),
    "black": (22, 22, 28),
    "royal": (30, 60, 170),
    "navy": (18, 28, 85),
    "brown": (85, 58, 32),
    "sepia": (110, 80, 50),
    "pencil": (85, 85, 90),
    "green": (20, 90, 50),
    "red": (170, 30, 35),
}
LABEL_ALPHA = 0.35  # ink at least this opaque belongs to its line's label


@dataclass
class Pen:
    """How a pen leaves ink: colour (RGB), opacity (0..1), ``gamma`` (<1 fatter, >1 thinner edges),
    ``thicken`` (0, 1 or 2 dilation steps) and pencil grain."""

    colour: tuple[int, int, int]
    opacity: float = 0.95
    gamma: float = 1.0
    thicken: int = 0
    pencil: bool = False

    @classmethod
    def random(cls, rng: np.random.Generator, photo: bool = False) -> Pen:
        names = list(INK_COLOURS)
        weights = np.array([30, 25, 10, 10, 6, 4, 8, 3, 4], float)
        name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        pencil = name == "pencil"
        return cls(
            colour=INK_COLOURS[name],
            opacity=float(rng.uniform(0.65, 0.85) if pencil else rng.uniform(0.85, 1.0)),
            gamma=float(rng.uniform(0.6, 1.5)),
            thicken=int(rng.choice(3, p=[0.6, 0.3, 0.1])),
            pencil=pencil,
        )


@dataclass
class HandStyle:
    """A writer's habits for one page; lengths are in ems of the font size unless said otherwise."""

    per_glyph: bool = False  # glyph by glyph (jitter inside words) or word by word (keeps ligatures)
    slant: float = 0.0  # shear, x shift per pixel of height (positive leans right)
    slope: float = 0.0  # baseline rise per pixel of length
    wave: float = 0.0  # baseline wave amplitude
    wave_period: float = 8.0
    jitter: float = 0.0  # per-unit vertical jitter
    size_jitter: float = 0.0  # per-unit relative size jitter
    spacing: float = 0.0  # word spaces vary by up to this share of a space (and a quarter of it narrower)

    @classmethod
    def random(cls, rng: np.random.Generator) -> HandStyle:
        return cls(
            per_glyph=bool(rng.random() < 0.5),
            slant=float(np.clip(rng.normal(0.08, 0.12), -0.2, 0.4)),
            slope=float(rng.normal(0, 0.006)),
            wave=float(rng.uniform(0, 0.08)),
            wave_period=float(rng.uniform(4, 14)),
            jitter=float(rng.uniform(0, 0.04)),
            size_jitter=float(rng.uniform(0, 0.06)),
            spacing=float(rng.uniform(0, 0.8)),
        )


class Canvas:
    """The flat page: ``rgb`` (H, W, 3) float32 in 0..255 and ``ids`` (H, W) uint8 line labels."""

    def __init__(self, rgb: np.ndarray):
        self.rgb = rgb
        self.ids = np.zeros(rgb.shape[:2], np.uint8)

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    def ink(self, alpha: np.ndarray, x: int, y: int, colour: tuple[int, int, int], line_id: int = 0) -> None:
        """Lay ``alpha`` (h, w, 0..1) at ``(x, y)`` in ``colour`` (multiplied, like ink on paper); pixels
        at least :data:`LABEL_ALPHA` opaque take ``line_id`` when it is not 0."""
        h, w = alpha.shape
        x0, y0, x1, y1 = max(0, x), max(0, y), min(self.size[0], x + w), min(self.size[1], y + h)
        if x1 <= x0 or y1 <= y0:
            return
        a = alpha[y0 - y : y1 - y, x0 - x : x1 - x]
        tint = np.asarray(colour, np.float32) / 255
        region = self.rgb[y0:y1, x0:x1]
        region *= 1 - a[..., None] * (1 - tint)
        if line_id:
            self.ids[y0:y1, x0:x1][a >= LABEL_ALPHA] = line_id


def render_line(
    text: str, face: FontFace, size: float, style: HandStyle, pen: Pen, rng: np.random.Generator
) -> tuple[np.ndarray, int, int]:
    """Handwrite ``text`` at ``size`` px; return ``(alpha, dx, dy)``: the ink (float32, 0..1) and where
    its top-left corner goes relative to the line's start on the baseline."""
    font = face.at(size)
    ascent, descent = font.getmetrics()
    length = font.getlength(text)
    drift = abs(style.slope) * length + style.wave * size + 3 * style.jitter * size
    pad = int(0.3 * size + abs(style.slant) * (ascent + descent) + drift) + 4
    spaces = text.count(" ") * font.getlength(" ") * style.spacing
    width = int(length * (1 + 4 * style.size_jitter) + spaces + 2 * pad)
    height = int(ascent + descent + 2 * pad)
    base = pad + ascent
    image = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(image)
    phase = rng.uniform(0, 2 * np.pi)
    extra = 0.0
    space = font.getlength(" ")
    for start, unit in _units(text, style.per_glyph):
        if unit == " ":
            extra += space * float(rng.uniform(-0.25, 1.0)) * style.spacing
            continue
        at = font.getlength(text[:start]) + extra
        unit_font = face.at(size * (1 + rng.normal(0, style.size_jitter))) if style.size_jitter else font
        extra += max(0.0, unit_font.getlength(unit) - font.getlength(unit))  # a bigger word pushes the next one
        dy = style.slope * at + style.wave * size * np.sin(2 * np.pi * at / (style.wave_period * size) + phase)
        dy += rng.normal(0, style.jitter * size)
        dx = rng.normal(0, 0.015 * size) if style.per_glyph else 0.0
        draw.text((pad + at + dx, base + dy), unit, font=unit_font, fill=255, anchor="ls")
    if style.slant:
        image = image.transform(
            image.size,
            Image.Transform.AFFINE,
            (1, style.slant, -style.slant * base, 0, 1, 0),
            Image.Resampling.BILINEAR,
        )
    for _ in range(min(pen.thicken, int(size / 30))):
        image = image.filter(ImageFilter.MaxFilter(3))
    alpha = (np.asarray(image, np.float32) / 255) ** pen.gamma
    pressure = 1 - 0.15 * (0.5 + 0.5 * np.sin(np.arange(width) / (rng.uniform(2, 6) * size) + phase))
    alpha *= pen.opacity * pressure[None, :].astype(np.float32)
    if pen.pencil:
        alpha *= rng.uniform(0.55, 1.0, alpha.shape).astype(np.float32)
    return alpha, -pad, -base


def _units(text: str, per_glyph: bool) -> list[tuple[int, str]]:
    """``(start index, piece)``: single characters, or words and the single spaces between them."""
    if per_glyph:
        return list(enumerate(text))
    units, start = [], 0
    for i, char in enumerate(text + " "):
        if char == " ":
            if i > start:
                units.append((start, text[start:i]))
            if i < len(text):
                units.append((i, " "))
            start = i + 1
    return units


def render_printed(text: str, face: FontFace, size: float) -> tuple[np.ndarray, int, int]:
    """A printed line of ``text``: ``(alpha, dx, dy)`` as :func:`render_line`, no variation."""
    font = face.at(size)
    x0, y0, x1, y1 = font.getbbox(text, anchor="ls")
    image = Image.new("L", (int(x1 - x0) + 4, int(y1 - y0) + 4), 0)
    ImageDraw.Draw(image).text((2 - x0, 2 - y0), text, font=font, fill=255, anchor="ls")
    return np.asarray(image, np.float32) / 255, int(x0) - 2, int(y0) - 2
