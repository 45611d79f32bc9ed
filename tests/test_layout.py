"""Reading order (XY cut over columns and blocks, rows inside) and paragraphs across columns."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from handocr.layout import paragraphs, reading_order, row_order
from handocr.schema import Line


def _column(x0: int, x1: int, top: int, rows: int, pitch: int = 40, height: int = 30) -> list[tuple]:
    return [(x0, top + r * pitch, x1, top + r * pitch + height) for r in range(rows)]


def test_two_columns_are_read_one_after_the_other_even_when_their_rows_line_up():
    left, right = _column(50, 450, 100, 5), _column(550, 950, 100, 5)
    boxes = [b for pair in zip(left, right, strict=True) for b in pair]  # interleaved input
    order = reading_order(boxes)
    assert [boxes[i] for i in order] == left + right
    assert row_order(boxes) != order  # rows alone would read across the gutter


def test_a_header_above_two_columns_comes_first_and_a_footer_last():
    header = (50, 20, 950, 60)
    left, right = _column(50, 450, 100, 4), _column(550, 950, 100, 4)
    footer = (50, 300, 950, 340)
    boxes = [*right, footer, *left, header]
    read = [boxes[i] for i in reading_order(boxes)]
    assert read == [header, *left, *right, footer]


def test_a_note_in_the_margin_is_kept_apart_from_the_body():
    body = _column(300, 950, 100, 6)
    note = (20, 140, 200, 250)  # beside rows 2-4
    boxes = [*body, note]
    read = [boxes[i] for i in reading_order(boxes)]
    assert read in ([note, *body], [*body, note])  # never inside the body's lines


def test_word_gaps_are_not_gutters():
    # one column whose lines the detector split at the same place: a gap narrower than 1.5 line heights
    boxes = [
        box for r in range(4) for box in ((50, 100 + 40 * r, 400, 130 + 40 * r), (430, 100 + 40 * r, 900, 130 + 40 * r))
    ]
    read = [boxes[i] for i in reading_order(boxes)]
    assert read == boxes  # row by row, left to right


def test_words_inserted_above_a_line_are_read_before_it():
    lines = _column(50, 900, 100, 3)
    insertion = (400, 128, 520, 158)  # written above the second line, overlapping most of its height
    boxes = [*lines, insertion]
    assert row_order([lines[1], insertion]) == [1, 0]  # one row, yet the upper box comes first
    read = [boxes[i] for i in reading_order(boxes)]
    assert read == [lines[0], insertion, lines[1], lines[2]]
    beside = (920, 145, 990, 165)  # beside the second line, not over it: left to right as before
    assert row_order([lines[1], beside]) == [0, 1]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 900), st.integers(0, 900), st.integers(5, 300), st.integers(5, 60)), max_size=25)
)
def test_reading_order_is_a_permutation(raw):
    boxes = [(x, y, x + w, y + h) for x, y, w, h in raw]
    assert sorted(reading_order(boxes)) == list(range(len(boxes)))


def test_a_new_column_starts_a_new_paragraph():
    def line(box):
        return Line(box=list(box), text="x", confidence=0.9, det_score=0.9)

    left, right = _column(50, 450, 100, 3), _column(550, 950, 100, 3)
    groups = paragraphs([line(b) for b in left + right])
    assert [g.lines for g in groups] == [[0, 1, 2], [3, 4, 5]]


def test_a_line_split_in_two_boxes_stays_in_its_paragraph():
    def line(box):
        return Line(box=list(box), text="x", confidence=0.9, det_score=0.9)

    boxes = [(50, 100, 400, 130), (430, 98, 900, 128), (50, 140, 900, 170)]
    assert [g.lines for g in paragraphs([line(b) for b in boxes])] == [[0, 1, 2]]
