"""Shared fixtures: small page images drawn by the tests and a reader built from fakes."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))

from fakes import fake_reader

# Every model on ONNX Runtime, as scripts/test.sh sets it, when pytest is run directly too: with
# OpenVINO installed the default models would run in bfloat16, whose results differ from CPU to CPU.
# The OpenVINO tests ask for it by name.
os.environ.setdefault("HANDOCR_RUNTIME", "onnxruntime")

REPO = Path(__file__).resolve().parent.parent
SHARED_REAL = REPO.parent / "shared" / "data" / "real"


def draw_page(lines: int = 3, size: tuple[int, int] = (400, 300)) -> Image.Image:
    """A white page with ``lines`` black bars standing in for lines of ink."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for i in range(lines):
        y = 40 + i * 70
        draw.rectangle((30, y, size[0] - 40 - 20 * i, y + 25), fill="black")
    return image


def run_training_cli(argv: list[str]) -> int:
    """Run ``handocr train|export ...`` in process (the training commands only); its exit code."""
    import argparse

    from handocr.training_cli import add_training_commands

    parser = argparse.ArgumentParser(prog="handocr")
    add_training_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def write_generated_pages(root: Path, pages: int, seed: int, long_side: int) -> Path:
    """A YOLO folder of ``pages`` small generated pages with their line texts (split ``train``),
    drawn in DejaVu Sans when the system has it, else in Pillow's built-in face."""
    from handocr.datasets.synth import SynthOptions, load_faces, write_dataset

    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    faces = load_faces([font] if font.is_file() else None)
    write_dataset(root, pages, seed=seed, fonts=faces, options=SynthOptions(long_side=long_side), val_fraction=0)
    return root


@pytest.fixture(scope="module")
def two_page_set(tmp_path_factory) -> Path:
    """Two hooker ``train`` pages copied into a folder of their own (PAGE-XML beside images, no split file)."""
    hooker = SHARED_REAL / "hooker"
    if not hooker.is_dir():
        pytest.skip("../shared/data/real is not beside the checkout")
    import shutil

    from handocr.datasets import DatasetFolder

    root = tmp_path_factory.mktemp("two") / "set"
    (root / "page").mkdir(parents=True)
    for page in list(DatasetFolder(hooker).pages("train"))[:2]:
        shutil.copy(page.image_path, root / page.image_path.name)
        shutil.copy(hooker / "page" / f"{page.stem}.xml", root / "page" / f"{page.stem}.xml")
    return root


@pytest.fixture
def page_image() -> Image.Image:
    """A 400x300 page with three ink bars."""
    return draw_page()


@pytest.fixture
def page_png(page_image: Image.Image) -> bytes:
    """The page image as PNG bytes."""
    buffer = io.BytesIO()
    page_image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def reader():
    """A Reader made of deterministic fakes (no model files needed)."""
    return fake_reader()
