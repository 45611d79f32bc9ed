import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes import FixedTextRecognizer, InkBandDetector
from handocr.orientation import rotate_box_back
from handocr.pipeline import Reader, ReadOptions


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 3),
    st.integers(5, 60),
    st.integers(5, 60),
    st.integers(0, 40),
    st.integers(0, 40),
)
def test_rotate_box_back_matches_numpy_rot90(k, width, height, x, y):
    x, y = min(x, width - 1), min(y, height - 1)
    image = np.zeros((height, width), dtype=np.uint8)
    image[y, x] = 1
    turned = np.rot90(image, k)
    ty, tx = (int(v[0]) for v in np.nonzero(turned))
    box = rotate_box_back((tx, ty, tx + 1, ty + 1), k, width, height)
    assert box == (x, y, x + 1, y + 1)


class WideTextConfidence(FixedTextRecognizer):
    """Confident on crops whose ink is in the top half (our stand-in for upright text)."""

    def recognize(self, crops):
        results = super().recognize(crops)
        for crop, result in zip(crops, results, strict=True):
            dark = crop < 128
            rows = np.nonzero(dark.any(axis=1))[0]
            top_heavy = dark[: crop.shape[0] // 2].sum() > dark[crop.shape[0] // 2 :].sum() if rows.size else True
            result.confidence = 0.9 if top_heavy else 0.3
        return results


def _page_with_lines(turns: int) -> np.ndarray:
    page = np.full((300, 400, 3), 255, np.uint8)
    for i in range(4):
        y = 40 + 60 * i
        page[y : y + 12, 30 : 360 - 20 * i] = 0  # the "x-height" band, at the top of each line
        page[y + 12 : y + 24, 30:40] = 0  # a descender-like stub at the start
    return np.ascontiguousarray(np.rot90(page, turns))


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_turned_pages_are_read_upright_and_boxes_map_back(turns):
    from PIL import Image

    reader = Reader(InkBandDetector(), WideTextConfidence(), ReadOptions(auto_rotate=True))
    upright = reader.read_page(Image.fromarray(_page_with_lines(0)))
    turned_image = _page_with_lines(turns)
    page = reader.read_page(Image.fromarray(turned_image))
    assert page.rotation == (360 - turns * 90) % 360
    assert (page.width, page.height) == (turned_image.shape[1], turned_image.shape[0])
    assert len(page.lines) == len(upright.lines) == 4
    for line in page.lines:
        x0, y0, x1, y1 = line.box
        assert turned_image[y0:y1, x0:x1].min() == 0  # the box lies on ink in the input image


def test_blank_detections_are_discarded(page_image):
    class EverywhereDetector(InkBandDetector):
        def detect(self, image, min_score=None):
            from handocr.detection.base import Detection

            return [*super().detect(image), Detection((0.0, 270.0, 400.0, 299.0), 0.95)]

    reader = Reader(EverywhereDetector(), FixedTextRecognizer())
    assert len(reader.read_page(page_image).lines) == 3


def test_reading_order_rows_and_tall_boxes():
    from handocr.layout import reading_order

    # two boxes side by side on one row, then a line below
    assert reading_order([(300, 0, 500, 20), (0, 2, 200, 22), (0, 40, 500, 60)]) == [1, 0, 2]
    # a tall box spanning two lines must not drag the next line before it
    assert reading_order([(0, 0, 500, 20), (0, 30, 500, 90), (400, 70, 900, 95)]) == [0, 1, 2]


def test_confidently_upright_lines_are_not_read_turned_over():
    from handocr.detection.base import Detection
    from handocr.orientation import prefers_flipped

    gray = np.full((100, 200), 255, np.uint8)
    detections = [Detection((10, 10 + 30 * i, 190, 35 + 30 * i), 0.9) for i in range(3)]
    calls = []

    def confidences(level):
        def read(crops):
            calls.append(len(crops))
            return [level] * len(crops)

        return read

    assert not prefers_flipped(gray, detections, confidences(0.9))
    assert calls == [3]  # sure enough: the turned crops were not read
    calls.clear()
    assert not prefers_flipped(gray, detections, confidences(0.6))
    assert calls == [3, 3]  # unsure: both ways read (and equal, so no flip)
