"""Crops without writing read as no text: the network never sees them, the language model cannot
make words of their paper grain."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from handocr.models import load_recognizer
from handocr.recognition.preprocess import MIN_INK_CONTRAST, ink_contrast, is_blank


def paper(shape: tuple[int, int], grain: int, seed: int = 0, level: int = 235) -> np.ndarray:
    """Blank paper at ``level`` with uniform grain of ``grain`` grey levels."""
    rng = np.random.default_rng(seed)
    return (level - rng.integers(0, grain + 1, shape)).astype(np.uint8)


def written_line(text: str = "the garden in June", seed: int = 1) -> np.ndarray:
    """A line of dark text drawn on grainy paper."""
    image = Image.fromarray(paper((40, 360), 12, seed))
    ImageDraw.Draw(image).text((8, 8), text, fill=30, font_size=22)
    return np.asarray(image)


@pytest.mark.parametrize("grain", [0, 5, 12])
def test_blank_paper_is_blank(grain: int) -> None:
    assert is_blank(paper((40, 500), grain))


def test_an_empty_crop_is_blank() -> None:
    assert is_blank(np.zeros((0, 30), np.uint8))
    assert is_blank(np.zeros((20, 0), np.uint8))


def test_a_written_line_and_a_single_faint_stroke_are_not_blank() -> None:
    assert not is_blank(written_line())
    crop = paper((40, 300), 5)
    crop[10:30, 100:104] = 235 - MIN_INK_CONTRAST - 10  # a faint pencil stroke, 4 columns of 300
    assert not is_blank(crop)


def test_the_floor_is_the_contrast_between_the_ink_percentiles() -> None:
    crop = np.full((40, 100), 200, np.uint8)
    crop[:, :10] = 200 - MIN_INK_CONTRAST  # a tenth of the crop: inside the upper ink percentile
    assert ink_contrast(crop) == MIN_INK_CONTRAST
    assert not is_blank(crop)
    crop[:, :10] = 200 - MIN_INK_CONTRAST + 1
    assert is_blank(crop)


def test_other_dtypes_are_left_for_normalise_line_to_refuse_unless_empty() -> None:
    assert not is_blank(np.zeros((10, 10), np.float32))
    assert is_blank(np.zeros((0, 10), np.float32))


@pytest.fixture(scope="module")
def recognizer():
    return load_recognizer("line-recognizer-lite", threads=1, runtime="onnxruntime")


def test_blank_crops_read_as_no_text_beside_a_written_line(recognizer) -> None:
    line = written_line()
    alone = recognizer.recognize([line])[0]
    assert alone.text.strip()  # the written line reads as something
    crops = [paper((40, 500), 0), line, paper((36, 700), 12, seed=3), paper((2, 400), 8)]
    read = recognizer.recognize(crops)
    assert [r.text for r in read] == ["", alone.text, "", ""]
    assert read[1].confidence == pytest.approx(alone.confidence)
    for blank in (read[0], read[2], read[3]):
        assert blank.confidence == 0.0 and blank.network_confidence == 0.0
        assert blank.char_confidences == [] and blank.char_spans == []
    assert read[0].language == read[1].language  # the page's language, guessed from the written line


def test_blank_crops_never_reach_the_network(recognizer, monkeypatch) -> None:
    batches = []
    run = recognizer.session.run
    monkeypatch.setattr(recognizer.session, "run", lambda names, feeds: batches.append(feeds) or run(names, feeds))
    assert [r.text for r in recognizer.recognize([paper((40, 500), 10), paper((30, 200), 4)])] == ["", ""]
    assert recognizer.quick_confidences([paper((40, 500), 10)]) == [0.0]
    assert batches == []


def test_the_contrast_script_reports_lines_and_blank_paper(tmp_path, capsys) -> None:
    import importlib.util
    from pathlib import Path

    from conftest import write_generated_pages

    pages = write_generated_pages(tmp_path / "pages", 2, seed=6, long_side=700)
    script = Path(__file__).resolve().parent.parent / "scripts" / "ink_contrast.py"
    spec = importlib.util.spec_from_file_location("ink_contrast", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--data", str(pages), "--pages", "2", "--samples", "30"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(f"MIN_INK_CONTRAST = {MIN_INK_CONTRAST}")
    assert out[1].startswith("pages: ") and " lines, 0 under the floor" in out[1]  # generated ink is dark
    assert out[2].startswith("pages: ") and " blank crops, " in out[2]
