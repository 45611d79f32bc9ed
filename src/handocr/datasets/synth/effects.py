"""Geometry and photometry of the synthetic pages: warps, light, shadows, blur, noise, JPEG.

Every geometric change is one map from output pixels to page pixels (a homography for rotation
and perspective, after a smooth elastic displacement), applied to the page image and to its
line-id map by the same Pillow mesh transform, so the labels follow the ink exactly.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

PointMap = Callable[[np.ndarray], np.ndarray]


def smooth_noise(
    rng: np.random.Generator, height: int, width: int, cells: int = 6, columns: int | None = None
) -> np.ndarray:
    """A smooth random field of shape ``(height, width)``, float32, about zero mean and unit spread:
    normal values on a coarse grid of ``cells`` rows (and ``columns`` columns, by default as many
    as keep the cells square), resized bicubic."""
    gh = max(2, cells)
    gw = max(2, columns if columns is not None else round(cells * width / max(height, 1)))
    coarse = Image.fromarray(rng.standard_normal((gh, gw)).astype(np.float32), mode="F")
    return np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 matrix that maps the four points ``src`` (4x2) onto ``dst`` (4x2)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    h = np.linalg.solve(np.asarray(rows, float), np.asarray(rhs, float))
    return np.append(h, 1.0).reshape(3, 3)


def apply_homography(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points`` (Nx2) mapped by ``matrix``."""
    ones = np.ones((len(points), 1))
    out = np.hstack([points, ones]) @ matrix.T
    return out[:, :2] / out[:, 2:3]


def page_geometry(
    rng: np.random.Generator, width: int, height: int, out_size: tuple[int, int], strength: float, photo: bool
) -> tuple[PointMap, float]:
    """A random map from output pixels to page pixels, and the page's mean scale in the output.

    ``strength`` (0 = none, 1 = the usual amount) scales rotation, perspective and the elastic bend.
    In photo mode the page shrinks into the frame, turns up to 8 degrees and leans in strong
    perspective; otherwise it stays a scan: up to 1.5 degrees and a slight keystone.
    """
    ow, oh = out_size
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], float)
    scale = min(ow / width, oh / height) * (rng.uniform(0.72, 0.92) if photo else 1.0)
    angle = np.radians(rng.normal(0, 3.0 if photo else 0.6) * strength)
    angle = float(np.clip(angle, -np.radians(8 if photo else 1.5), np.radians(8 if photo else 1.5)))
    centred = (corners - [width / 2, height / 2]) * scale
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = centred @ rot.T + [ow / 2, oh / 2]
    jitter = (0.07 if photo else 0.006) * strength * min(ow, oh)
    dst = dst + rng.uniform(-jitter, jitter, (4, 2))
    if photo:  # a photo seen from below or above: one edge shorter than the other
        lean = rng.uniform(-0.08, 0.08) * strength * ow
        dst[:2, 0] += [lean, -lean]
        dst += rng.uniform(-0.04, 0.04, 2) * [ow, oh] * strength
        centre = np.array([ow / 2, oh / 2])
        reach = np.max(np.abs(dst - centre) / (centre * 0.98))
        if reach > 1:  # keep the whole sheet in the picture: no line is cut by the frame
            dst = centre + (dst - centre) / reach
            scale /= reach
    back = np.linalg.inv(homography(corners, dst))
    amp = rng.uniform(0.0, 0.006 if photo else 0.0025) * strength * max(width, height)
    waves = [
        (rng.uniform(0.3, 1.6, 2) * rng.choice([-1, 1], 2), rng.uniform(0, 2 * np.pi), rng.normal(0, 1, 2))
        for _ in range(3)
    ]

    def to_page(points: np.ndarray) -> np.ndarray:
        flat = apply_homography(back, points)
        u, v = flat[:, 0] / width, flat[:, 1] / height
        for freq, phase, direction in waves:
            wave = np.sin(2 * np.pi * (freq[0] * u + freq[1] * v) + phase)
            flat = flat + amp / 3 * wave[:, None] * direction
        return flat

    return to_page, scale


def mesh_warp(
    image: Image.Image, out_size: tuple[int, int], to_page: PointMap, resample: Image.Resampling, fill, cell: int = 32
) -> Image.Image:
    """``image`` seen through ``to_page`` (output pixel -> source pixel), piecewise bilinear on a grid."""
    ow, oh = out_size
    xs = np.unique(np.append(np.arange(0, ow, cell), ow))
    ys = np.unique(np.append(np.arange(0, oh, cell), oh))
    gx, gy = np.meshgrid(xs, ys)
    src = to_page(np.stack([gx.ravel(), gy.ravel()], axis=1).astype(float)).reshape(len(ys), len(xs), 2)
    mesh = []
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            quad = (*src[j, i], *src[j + 1, i], *src[j + 1, i + 1], *src[j, i + 1])
            mesh.append(((int(xs[i]), int(ys[j]), int(xs[i + 1]), int(ys[j + 1])), tuple(float(q) for q in quad)))
    return image.transform(out_size, Image.Transform.MESH, mesh, resample=resample, fillcolor=fill)


def background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A desk or table under a photographed page: a dull colour with grain and streaks, float32 RGB."""
    base = np.array(
        [(120, 85, 55), (60, 60, 64), (180, 170, 150), (35, 35, 38), (150, 110, 70), (200, 200, 195)][
            int(rng.integers(6))
        ],
        np.float32,
    )
    streaks = smooth_noise(rng, height, max(2, width // 40), cells=40)
    streaks = np.asarray(Image.fromarray(streaks, mode="F").resize((width, height)), np.float32)
    field = 12 * smooth_noise(rng, height, width, 4) + 6 * streaks + rng.normal(0, 3, (height, width))
    return np.clip(base + field[..., None], 0, 255).astype(np.float32)


def lighting(rgb: np.ndarray, rng: np.random.Generator, photo: bool) -> np.ndarray:
    """Uneven light (a gradient and soft blobs), sometimes a shadow with a soft edge; float32 RGB."""
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(ang) * (xx / w - 0.5) + np.sin(ang) * (yy / h - 0.5)).astype(np.float32)
    light = 1 + ramp * rng.uniform(0.0, 0.35 if photo else 0.1) + 0.04 * smooth_noise(rng, h, w, 3)
    if photo:
        r2 = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2
        light *= 1 - rng.uniform(0.1, 0.35) * r2  # vignetting
    if rng.random() < (0.7 if photo else 0.15):
        a = rng.uniform(0, 2 * np.pi)
        edge = np.cos(a) * (xx - rng.uniform(0.2, 0.8) * w) + np.sin(a) * (yy - rng.uniform(0.2, 0.8) * h)
        soft = rng.uniform(0.01, 0.08) * max(h, w)
        shadow = 1 / (1 + np.exp(-edge / soft))
        light *= 1 - rng.uniform(0.2, 0.5 if photo else 0.25) * shadow
    out = rgb * light[..., None]
    if photo:
        out *= rng.uniform(0.9, 1.08, 3).astype(np.float32)  # white balance
    return out


def finish(image: Image.Image, rng: np.random.Generator, photo: bool, noise: bool) -> Image.Image:
    """Blur, sensor noise and JPEG compression (only blur and JPEG-free output when ``noise`` is off)."""
    if not noise:
        return image
    radius = rng.uniform(0.0, 1.0 if photo else 0.8)
    if radius > 0.25:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    arr = np.asarray(image, np.float32)
    sigma = rng.uniform(1.0, 7.0 if photo else 3.5)
    grain = rng.standard_normal(arr.shape[:2], dtype=np.float32)[..., None] * sigma
    grain = grain + rng.standard_normal(arr.shape, dtype=np.float32) * (sigma / 3)
    image = Image.fromarray(np.clip(arr + grain, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(45 if photo else 60, 96)))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")
