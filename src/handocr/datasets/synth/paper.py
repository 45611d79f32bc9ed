"""Paper for the synthetic pages: tints, grain, stains, rulings (lined, squared, French Seyès) and stamps."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from handocr.datasets.synth.effects import smooth_noise
from handocr.datasets.synth.fonts import FontFace

PATTERNS = ("plain", "ruled", "squared", "seyes")
TINTS = {
    "white": (247, 247, 244),
    "cream": (243, 236, 216),
    "yellow": (248, 238, 170),
    "aged": (228, 214, 182),
    "grey": (232, 232, 228),
    "blue": (222, 232, 244),
    "pink": (245, 226, 230),
    "green": (226, 242, 224),
}
STAMP_COLOURS = [(175, 35, 45), (40, 60, 160), (110, 50, 140), (30, 30, 30)]


@dataclass
class Paper:
    """A blank sheet: ``rgb`` (H, W, 3) float32, the writing ``pitch`` in pixels, the baselines the
    ruling offers (empty on plain paper) and the x of a printed margin line, if any."""

    rgb: np.ndarray
    pattern: str
    tint: str
    pitch: float
    baselines: list[float] = field(default_factory=list)
    margin_x: float | None = None


def make_paper(rng: np.random.Generator, width: int, height: int, kind: str, top: float, photo: bool) -> Paper:
    """A sheet of ``kind`` (``random``, ``white`` or one of :data:`PATTERNS`); rulings start below ``top``.

    ``white`` is plain, untextured white paper on which ink can be measured (tests).
    """
    mm = height / 290
    if kind == "white":
        rgb = np.full((height, width, 3), 250, np.float32)
        return Paper(rgb, "plain", "white", float(rng.uniform(8, 11) * mm))
    pattern = kind if kind in PATTERNS else str(rng.choice(PATTERNS, p=[0.3, 0.35, 0.15, 0.2]))
    tints = list(TINTS)
    weights = np.array([45, 18, 8, 12, 8, 3, 3, 3], float)
    if photo:
        weights[5:] *= 4
    tint = tints[int(rng.choice(len(tints), p=weights / weights.sum()))]
    base = np.asarray(TINTS[tint], np.float32) + rng.normal(0, 3, 3).astype(np.float32)
    texture = rng.uniform(1, 5) * smooth_noise(rng, height, width, 8) + rng.normal(0, 1.2, (height, width))
    rgb = np.clip(base + texture[..., None], 0, 255).astype(np.float32)
    if tint == "aged" or rng.random() < 0.1:
        stains = np.clip(smooth_noise(rng, height, width, 5) - 1.0, 0, None)
        rgb *= (1 - 0.12 * stains[..., None] * [0.8, 1.0, 1.4]).astype(np.float32)
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    line = max(1, round(rng.uniform(0.15, 0.3) * mm))
    first = top + rng.uniform(0.5, 1.5) * 10 * mm
    baselines: list[float] = []
    margin_x = None
    if pattern == "ruled":
        pitch = rng.choice([7.1, 8.0, 8.7, 10.0]) * mm
        baselines = list(np.arange(first, height - 8 * mm, pitch))
        for y in baselines:
            draw.line([(0, y), (width, y)], fill=255, width=line)
    elif pattern == "squared":
        step = 5 * mm
        for y in np.arange(first % step, height, step):
            draw.line([(0, y), (width, y)], fill=150, width=1)
        for x in np.arange(rng.uniform(0, step), width, step):
            draw.line([(x, 0), (x, height)], fill=150, width=1)
        pitch = 2 * step
        baselines = list(np.arange(first - first % step + step, height - 8 * mm, pitch))
    elif pattern == "seyes":
        pitch = 8 * mm
        baselines = list(np.arange(first, height - 8 * mm, pitch))
        for y in np.arange(first - 2 * pitch, height, pitch / 4):
            draw.line([(0, y), (width, y)], fill=110, width=1)
        for y in baselines:
            draw.line([(0, y), (width, y)], fill=255, width=line)
        for x in np.arange(width * 0.16 + pitch, width, pitch):
            draw.line([(x, 0), (x, height)], fill=110, width=1)
    else:
        pitch = rng.uniform(7.5, 11) * mm
    rule_colour = np.asarray([(120, 160, 215), (140, 140, 200), (150, 150, 150)][int(rng.integers(3))], np.float32)
    _lay(rgb, np.asarray(mask, np.float32) / 255 * rng.uniform(0.5, 0.9), rule_colour)
    if pattern in ("ruled", "seyes") and rng.random() < 0.8:
        margin_x = float(width * rng.uniform(0.1, 0.17))
        margin = Image.new("L", (width, height), 0)
        ImageDraw.Draw(margin).line([(margin_x, 0), (margin_x, height)], fill=255, width=line + 1)
        _lay(rgb, np.asarray(margin, np.float32) / 255 * 0.8, np.asarray((215, 90, 100), np.float32))
    return Paper(rgb, pattern, tint, float(pitch), [float(b) for b in baselines], margin_x)


def _lay(rgb: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    rgb *= 1 - alpha[..., None] * (1 - colour / 255)


def stamp(rng: np.random.Generator, words: list[str], face: FontFace, size: float) -> np.ndarray:
    """An inked rubber stamp (oval or box with one or two lines of capitals), turned and worn; alpha."""
    font = face.at(size)
    widths = [font.getlength(w) for w in words]
    w, h = int(max(widths) + 2.2 * size), int(len(words) * 1.3 * size + 1.6 * size)
    image = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(image)
    border = max(2, int(size / 7))
    if rng.random() < 0.5:
        draw.ellipse((border, border, w - border, h - border), outline=255, width=border)
    else:
        draw.rounded_rectangle((border, border, w - border, h - border), radius=size / 3, outline=255, width=border)
    top = (h - len(words) * 1.3 * size) / 2 + size
    for i, word in enumerate(words):
        draw.text((w / 2, top + i * 1.3 * size), word, font=font, fill=255, anchor="ms")
    image = image.rotate(float(rng.uniform(-30, 30)), resample=Image.Resampling.BILINEAR, expand=True)
    alpha = np.asarray(image, np.float32) / 255
    wear = np.clip(smooth_noise(rng, *alpha.shape, 12) * 0.6 + rng.uniform(0.6, 1.0), 0.2, 1)
    return alpha * wear.astype(np.float32) * float(rng.uniform(0.55, 0.9))
