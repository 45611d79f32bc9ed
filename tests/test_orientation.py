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

    def recognize(self, crops, language="auto"):
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
    from handocr.orientation import prefers_flipped

    calls = []

    def turned(level):
        def read():
            calls.append(level)
            return [level] * 3

        return read

    assert not prefers_flipped([0.9, 0.9, 0.9], turned(0.2))
    assert calls == []  # sure enough: the turned crops were not read
    assert not prefers_flipped([0.6, 0.6, 0.6], turned(0.6))
    assert calls == [0.6]  # unsure: read turned over (and equal, so no flip)
    assert prefers_flipped([0.3, 0.4], turned(0.8))
    assert not prefers_flipped([], turned(0.8))


def test_an_upright_page_costs_one_recognizer_pass_and_a_flipped_one_a_check_and_a_reread():
    from PIL import Image

    class CountingRecognizer(WideTextConfidence):
        def __init__(self):
            super().__init__()
            self.calls = []

        def recognize(self, crops, language="auto"):
            self.calls.append(len(crops))
            return super().recognize(crops)

    recognizer = CountingRecognizer()
    reader = Reader(InkBandDetector(), recognizer, ReadOptions(auto_rotate=True))
    reader.read_page(Image.fromarray(_page_with_lines(0)))
    assert recognizer.calls == [4]  # 0.9 confident: no turned reading
    recognizer.calls.clear()
    page = reader.read_page(Image.fromarray(_page_with_lines(2)))
    assert page.rotation == 180
    assert recognizer.calls == [4, 4, 4]  # read, the turned check, read again the right way up
    recognizer.calls.clear()
    always = Reader(InkBandDetector(), recognizer, ReadOptions(auto_rotate=True, sure_upright=0.95))
    assert always.read_page(Image.fromarray(_page_with_lines(0))).rotation == 0
    assert recognizer.calls == [4, 4]  # 0.9 is not sure enough at 0.95: the turned check runs


def test_ink_runs_across_upright_lines_and_not_across_turned_ones():
    from handocr.orientation import across_ink_ratio

    gray = _page_with_lines(0)[:, :, 0]
    assert across_ink_ratio(gray) > 1.5
    assert across_ink_ratio(np.ascontiguousarray(np.rot90(gray))) < 1.0
    assert across_ink_ratio(np.full((50, 80), 255, np.uint8)) == 0.0  # blank: no evidence either way


def test_a_sideways_page_with_a_few_wide_boxes_is_still_turned():
    """A detector can find wide boxes on a sideways page; the ink profile still calls for the turned frame."""
    from PIL import Image

    from handocr.detection.base import Detection

    class SpuriousWideBoxes(InkBandDetector):
        def detect(self, image, min_score=None):
            found = super().detect(image, min_score)
            if image.shape[0] > image.shape[1]:  # the sideways frame of our landscape page
                return [Detection((0.0, 10.0, 200.0, 30.0), 0.3), Detection((0.0, 50.0, 200.0, 70.0), 0.3)]
            return found

    reader = Reader(SpuriousWideBoxes(), WideTextConfidence(), ReadOptions(auto_rotate=True))
    page = reader.read_page(Image.fromarray(_page_with_lines(1)))
    assert page.rotation == 270
    assert len(page.lines) == 4
