"""Line preprocessing: the contrast range from a histogram, the same values as before, bit for bit."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.preprocess import reference_normalise_line  # the float pipeline normalise_line replaced

from handocr.recognition.preprocess import INK_PERCENTILES, ink_percentiles, normalise_line

PERCENTILES = st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=4).map(tuple)


@settings(max_examples=300, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 300))), PERCENTILES)
def test_ink_percentiles_are_numpys_bit_for_bit(ink: np.ndarray, percentiles: tuple[float, ...]) -> None:
    expected = np.percentile(ink.astype(np.float32), percentiles)
    assert ink_percentiles(ink, percentiles) == tuple(expected.tolist())


@pytest.mark.parametrize("seed", range(40))
def test_ink_percentiles_of_lines_with_little_ink(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ink = np.zeros((48, int(rng.integers(16, 1600))), np.uint8)
    ink[rng.random(ink.shape) < rng.uniform(0.001, 0.2)] = rng.integers(1, 256)
    expected = np.percentile(ink.astype(np.float32), INK_PERCENTILES)
    assert ink_percentiles(ink, INK_PERCENTILES) == tuple(expected.tolist())


@pytest.mark.parametrize(("ink", "percentile"), [([0, 255], 62.9), ([0, 255, 255], 37.3), ([250, 3] * 5, 62.9)])
def test_ink_percentiles_interpolate_from_the_nearer_end_as_numpy_does(ink: list[int], percentile: float) -> None:
    # here a + (b - a) * t and b - (b - a) * (1 - t) differ in the last bit; numpy takes the second for t >= 0.5
    array = np.array([ink], np.uint8)
    expected = np.percentile(array.astype(np.float32), (percentile,))  # a tuple, as normalise_line asks: float64
    assert ink_percentiles(array, (percentile,)) == tuple(expected.tolist())


def test_ink_percentiles_refuse_an_empty_array() -> None:
    with pytest.raises(ValueError, match="no pixels"):
        ink_percentiles(np.zeros((0, 5), np.uint8), (5,))


@pytest.mark.parametrize("seed", range(30))
def test_normalise_line_gives_the_values_it_gave_before(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 120)), int(rng.integers(1, 2000)))
    gray = np.clip(rng.normal(rng.uniform(60, 240), rng.uniform(1, 80), shape), 0, 255).astype(np.uint8)
    if seed % 5 == 0:
        gray[:] = 200  # blank: all paper
    for height in (32, 48):
        line = normalise_line(gray, height)
        assert line.dtype == np.float32
        np.testing.assert_array_equal(line, reference_normalise_line(gray, height, 1.0))


def test_normalise_line_takes_only_grey_levels() -> None:
    with pytest.raises(TypeError, match="uint8"):
        normalise_line(np.full((20, 100), 200.0), 32)
