"""How far ink stands above paper in real line crops and in blank paper: the evidence for
``handocr.recognition.preprocess.MIN_INK_CONTRAST``.

    python scripts/ink_contrast.py [--data DIR ...] [--split train] [--pages 60] [--samples 40]

For each dataset folder, the ink contrast (``ink_contrast``: what ``normalise_line`` stretches to
the full range) of every ground-truth line crop of the
split, cut as ``handocr eval`` cuts them, and of random crops of line size that keep 10 pixels
clear of every annotated line box on the first ``--pages`` pages (blank paper, bleed-through,
printed matter the sets leave unannotated). Prints percentiles of both and the faintest lines.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from handocr.datasets.detect import open_dataset
from handocr.pipeline import ReadOptions, ground_truth_line_crops
from handocr.recognition.preprocess import MIN_INK_CONTRAST, ink_contrast

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"
PERCENTILES = (0.1, 1, 5, 25, 50, 75, 90, 95, 99)


def clear_of(box: tuple[int, int, int, int], boxes: list, gap: int = 10) -> bool:
    """Whether ``box`` (x0, y0, x1, y1) keeps ``gap`` pixels away from every one of ``boxes``."""
    x0, y0, x1, y1 = box
    return all(x1 < b[0] - gap or x0 > b[2] + gap or y1 < b[1] - gap or y0 > b[3] + gap for b in boxes)


def blank_crops(pages: list, samples: int, seed: int) -> list[np.ndarray]:
    """Random crops of line size (25-60 by 100-600 pixels) clear of the pages' annotated lines."""
    rng = np.random.default_rng(seed)
    crops = []
    for page in pages:
        gray = np.asarray(Image.open(page.image_path).convert("L"))
        height, width = gray.shape
        boxes = [line.box for line in page.lines]
        for _ in range(samples):
            h, w = int(rng.integers(25, 60)), int(rng.integers(100, 600))
            if h >= height or w >= width:
                continue
            y, x = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
            if clear_of((x, y, x + w, y + h), boxes):
                crops.append(gray[y : y + h, x : x + w])
    return crops


def spread(values: np.ndarray) -> str:
    """The least value and the :data:`PERCENTILES` of ``values`` (or that there are none)."""
    if not len(values):
        return "none"
    return f"min {values.min():.0f}, percentiles {np.percentile(values, PERCENTILES).round(1).tolist()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, action="append", help="dataset folder (repeatable)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--pages", type=int, default=60, help="pages to sample blank crops from")
    parser.add_argument("--samples", type=int, default=40, help="blank crops tried a page")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"percentiles {PERCENTILES}; MIN_INK_CONTRAST = {MIN_INK_CONTRAST}")
    for folder in args.data or [DEFAULT_DATA / "copiste", DEFAULT_DATA / "hooker"]:
        pages = list(open_dataset(folder, prefer="pages").pages(args.split))
        lines = [
            (ink_contrast(crop), target)
            for page in pages
            for target, crop in ground_truth_line_crops(page, ReadOptions.crop_margin, ReadOptions.min_line_height)
        ]
        blanks = np.array([ink_contrast(crop) for crop in blank_crops(pages[: args.pages], args.samples, args.seed)])
        values = np.array([c for c, _ in lines])
        faint, dark = int((values < MIN_INK_CONTRAST).sum()), int((blanks >= MIN_INK_CONTRAST).sum())
        print(f"{folder.name}: {len(values)} lines, {faint} under the floor; {spread(values)}")
        print(f"{folder.name}: {len(blanks)} blank crops, {dark} at or over the floor; {spread(blanks)}")
        for value, target in sorted(lines, key=lambda item: item[0])[:3]:
            print(f"  faintest: {value:.0f} {target[:50]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
