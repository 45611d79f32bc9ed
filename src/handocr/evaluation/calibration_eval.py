"""Calibration of a CTC recognizer's confidences on a dataset split, and fitting its temperature.

Lines are read on ground-truth boxes (as ``handocr eval`` reads them) and decoded once; confidences
are then recomputed at any temperature from the same frames (:class:`SpanConfidences`). Three levels:

- characters: a predicted character is correct when a minimum-edit alignment matches it to the same
  reference character;
- words: a predicted word is correct when the word-level alignment matches it to an identical
  reference word; its confidence is its lowest character's (``word_rule="min"``, as the result tree
  computes it today) or the product of its characters' (``"product"``: the probability that every
  character is right, which needs no separate calibration when characters are calibrated);
- lines: the confidence (geometric mean of its characters') against ``max(0, 1 - CER)`` of the line.

The temperature is fitted on word correctness by default (words are what users filter on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handocr.datasets.collection import DatasetFolder
from handocr.datasets.records import PageRecord
from handocr.evaluation.text_metrics import edit_distance
from handocr.pipeline import ReadOptions, ground_truth_line_crops
from handocr.recognition.calibration import (
    TEMPERATURE_GRID,
    IsotonicCalibrator,
    SpanConfidences,
    align_matches,
    binary_nll,
    expected_calibration_error,
    fit_temperature,
    reliability_table,
    word_confidences,
)
from handocr.recognition.ctc import DecodedLine, greedy_decode

Decoder = Callable[[np.ndarray, str], DecodedLine]
LEVELS = ("char", "word", "line")


@dataclass
class LineSample:
    """One line read on its ground-truth box: page id, target text and ``(T, C)`` log-probabilities
    at temperature 1."""

    page: str
    reference: str
    log_probs: np.ndarray
    _decoded: DecodedLine | None = field(default=None, repr=False)
    _spans: SpanConfidences | None = field(default=None, repr=False)


def collect_samples(
    recognizer,
    folder: Path | str | None = None,
    split: str | None = "val",
    limit_pages: int | None = None,
    pages: Iterable[PageRecord] | None = None,
    crop_margin: int = ReadOptions.crop_margin,
    min_line_height: float = ReadOptions.min_line_height,
) -> list[LineSample]:
    """Run ``recognizer.log_probs`` (a :class:`CtcOnnxRecognizer`) on every scored line of ``pages``
    (or of ``folder``'s ``split``), at temperature 1, cut as the reader cuts them (``crop_margin``;
    thin boxes grown to ``min_line_height``, see :func:`handocr.detection.boxes.grow_thin_boxes`)."""
    if pages is None:
        if folder is None:
            raise ValueError("give a dataset folder or pages")
        pages = DatasetFolder(Path(folder)).pages(split)
    saved = getattr(recognizer, "temperature", 1.0)
    recognizer.temperature = 1.0
    samples: list[LineSample] = []
    try:
        for n, page in enumerate(pages):
            if limit_pages is not None and n >= limit_pages:
                break
            lines = ground_truth_line_crops(page, crop_margin, min_line_height)
            if not lines:
                continue
            for (target, _), scores in zip(lines, recognizer.log_probs([c for _, c in lines]), strict=True):
                samples.append(LineSample(Path(page.image_path).stem, target, np.asarray(scores, np.float32)))
    finally:
        recognizer.temperature = saved
    return samples


def _prepare(sample: LineSample, characters: str, decode: Decoder) -> tuple[DecodedLine, SpanConfidences]:
    if sample._decoded is None or sample._spans is None:
        decoded = decode(sample.log_probs, characters)
        index = {c: i + 1 for i, c in enumerate(characters)}
        labels = [index[c] for c in decoded.text]
        sample._decoded = decoded
        sample._spans = SpanConfidences(sample.log_probs, labels, decoded.spans)
    return sample._decoded, sample._spans


def _targets(samples: Sequence[LineSample], characters: str, decode: Decoder) -> dict[str, np.ndarray]:
    """Correctness per character, per word and per line (fixed: the text does not change with T)."""
    chars, words, lines = [], [], []
    for sample in samples:
        decoded, _ = _prepare(sample, characters, decode)
        chars.extend(align_matches(sample.reference, decoded.text))
        words.extend(align_matches(sample.reference.split(), decoded.text.split()))
        cer = edit_distance(sample.reference, decoded.text) / max(len(sample.reference), 1)
        lines.append(max(0.0, 1.0 - cer))
    return {"char": np.array(chars, float), "word": np.array(words, float), "line": np.array(lines, float)}


def _confidences(
    samples: Sequence[LineSample],
    characters: str,
    decode: Decoder,
    temperature: float,
    word_rule: str = "min",
    char_map: IsotonicCalibrator | None = None,
) -> dict:
    chars, words, lines = [], [], []
    for sample in samples:
        decoded, spans = _prepare(sample, characters, decode)
        conf = spans.at(temperature)
        if char_map is not None and len(conf):
            conf = char_map(conf)
        chars.append(conf)
        words.extend(c for _, c in word_confidences(decoded.text, conf, word_rule))
        lines.append(float(np.exp(np.mean(np.log(np.clip(conf, 1e-6, 1.0))))) if len(conf) else 1.0)
    return {
        "char": np.concatenate(chars) if chars else np.zeros(0),
        "word": np.array(words),
        "line": np.array(lines),
    }


def calibration_report(
    samples: Sequence[LineSample],
    characters: str,
    temperature: float = 1.0,
    decode: Decoder = greedy_decode,
    bins: int = 10,
    isotonic: dict[str, IsotonicCalibrator] | None = None,
    word_rule: str = "min",
    char_map: IsotonicCalibrator | None = None,
) -> dict[str, dict]:
    """Per level: ``n``, mean ``confidence``, ``accuracy``, ``ece``, ``nll`` and the ``reliability`` table
    at ``temperature`` (character confidences mapped by ``char_map`` before words and lines are
    scored from them; each level's then mapped by ``isotonic[level]`` when given)."""
    targets = _targets(samples, characters, decode)
    confs = _confidences(samples, characters, decode, temperature, word_rule, char_map)
    out = {}
    for level in LEVELS:
        conf, y = confs[level], targets[level]
        if isotonic and level in isotonic:
            conf = isotonic[level](conf)
        out[level] = {**_figures(conf, y, bins), "reliability": reliability_table(conf, y, bins)}
    return out


def _figures(conf: np.ndarray, y: np.ndarray, bins: int = 10) -> dict:
    """``n``, mean ``confidence``, ``accuracy``, ``ece`` and ``nll`` of confidences against targets."""
    return {
        "n": len(y),
        "confidence": float(conf.mean()) if len(conf) else None,
        "accuracy": float(y.mean()) if len(y) else None,
        "ece": expected_calibration_error(conf, y, bins),
        "nll": binary_nll(conf, y),
    }


def fit_temperature_on_samples(
    samples: Sequence[LineSample],
    characters: str,
    level: str = "word",
    objective: str = "nll",
    grid: Sequence[float] = TEMPERATURE_GRID,
    decode: Decoder = greedy_decode,
    word_rule: str = "min",
) -> float:
    """The temperature (from ``grid``) that best calibrates ``level`` confidences on ``samples``."""
    targets = _targets(samples, characters, decode)[level]
    return fit_temperature(
        lambda t: _confidences(samples, characters, decode, t, word_rule)[level],
        targets,
        grid=grid,
        objective=objective,
    )


def fit_isotonic_on_samples(
    samples: Sequence[LineSample],
    characters: str,
    temperature: float = 1.0,
    decode: Decoder = greedy_decode,
    word_rule: str = "min",
) -> dict[str, IsotonicCalibrator]:
    """Isotonic maps (one per level) from confidences at ``temperature`` to observed accuracy."""
    targets = _targets(samples, characters, decode)
    confs = _confidences(samples, characters, decode, temperature, word_rule)
    return {level: IsotonicCalibrator.fit(confs[level], targets[level]) for level in LEVELS}


def _summary(
    fit: Sequence[LineSample], test: Sequence[LineSample], characters: str, decode: Decoder, word_rule: str
) -> dict:
    temperature = fit_temperature_on_samples(fit, characters, decode=decode, word_rule=word_rule)
    isotonic = fit_isotonic_on_samples(fit, characters, temperature=1.0, decode=decode, word_rule=word_rule)
    return {
        "temperature": temperature,
        "word_rule": word_rule,
        "fit_lines": len(fit),
        "test_lines": len(test),
        "before": calibration_report(test, characters, 1.0, decode, word_rule=word_rule),
        "after": calibration_report(test, characters, temperature, decode, word_rule=word_rule),
        "isotonic": calibration_report(test, characters, 1.0, decode, isotonic=isotonic, word_rule=word_rule),
        "isotonic_maps": {level: iso.to_dict() for level, iso in isotonic.items()},
    }


def cross_fit_report(
    samples: Sequence[LineSample], characters: str, decode: Decoder = greedy_decode, word_rule: str = "min"
) -> dict:
    """Fit on every other page (half A), report before/after on the rest (half B)."""
    pages = sorted({s.page for s in samples})
    half_a = set(pages[::2])
    fit = [s for s in samples if s.page in half_a]
    test = [s for s in samples if s.page not in half_a] or fit
    return _summary(fit, test, characters, decode, word_rule)


def evaluate_calibration(
    recognizer,
    folder: Path | str,
    split: str = "val",
    fit_folder: Path | str | None = None,
    fit_split: str | None = None,
    limit_pages: int | None = None,
    decode: Decoder = greedy_decode,
    word_rule: str = "min",
) -> dict:
    """Calibration of ``recognizer`` on ``folder``'s ``split`` before and after a fitted temperature.

    The temperature (and the isotonic alternative) is fitted on ``fit_folder``'s ``fit_split`` when
    given (e.g. ``fit_split="train"``), else on half of the pages of ``split`` and reported on the other.
    """
    samples = collect_samples(recognizer, folder, split, limit_pages=limit_pages)
    characters = recognizer.charset.characters
    if fit_split is None:
        report = cross_fit_report(samples, characters, decode, word_rule)
        report["fit_on"] = f"{folder} [{split}], half of the pages"
        return report
    fit = collect_samples(recognizer, fit_folder or folder, fit_split, limit_pages=limit_pages)
    report = _summary(fit, samples, characters, decode, word_rule)
    report["fit_on"] = f"{fit_folder or folder} [{fit_split}]"
    return report


def fit_char_map(
    samples: Sequence[LineSample],
    characters: str,
    decode: Decoder,
    max_points: int = 100,
    floor: float = 0.001,
) -> IsotonicCalibrator:
    """One isotonic map for character confidences (at temperature 1) of ``decode``'s text, as a
    decoder applies it (:class:`handocr.recognition.beam.CtcDecoder`): at most ``max_points`` points,
    calibrated values kept within ``[floor, 1 - floor]`` (no character is ever certain)."""
    targets = _targets(samples, characters, decode)["char"]
    raw = _confidences(samples, characters, decode, 1.0)["char"]
    fitted = IsotonicCalibrator.fit(raw, targets)
    keep = np.unique(np.linspace(0, len(fitted.x) - 1, min(max_points, len(fitted.x))).round().astype(int))
    x = [round(float(fitted.x[i]), 5) for i in keep]
    y = [round(float(np.clip(fitted.y[i], floor, 1 - floor)), 5) for i in keep]
    return IsotonicCalibrator(x, y)


def char_map_report(samples: Sequence[LineSample], characters: str, decode: Decoder) -> dict:
    """Two-fold cross-fit of :func:`fit_char_map` by page: each half's lines scored with the map
    fitted on the other half. ``before`` and ``after`` hold per level (char, word as the product of
    its characters, line) the pooled held-out ``calibration_report`` figures (without the tables)."""
    pages = sorted({s.page for s in samples})
    halves = [set(pages[::2]), set(pages[1::2])]
    parts = [[s for s in samples if s.page in half] for half in halves]
    before: dict[str, list] = {level: [] for level in LEVELS}
    after: dict[str, list] = {level: [] for level in LEVELS}
    for fit, test in ((parts[0], parts[1]), (parts[1], parts[0])):
        if not fit or not test:
            continue
        char_map = fit_char_map(fit, characters, decode)
        targets = _targets(test, characters, decode)
        raw = _confidences(test, characters, decode, 1.0, "product")
        mapped = _confidences(test, characters, decode, 1.0, "product", char_map)
        for level in LEVELS:
            before[level].append((raw[level], targets[level]))
            after[level].append((mapped[level], targets[level]))

    def pooled(pairs: dict[str, list]) -> dict:
        out = {}
        for level, chunks in pairs.items():
            conf = np.concatenate([c for c, _ in chunks]) if chunks else np.zeros(0)
            y = np.concatenate([t for _, t in chunks]) if chunks else np.zeros(0)
            out[level] = _figures(conf, y)
        return out

    return {"pages": len(pages), "lines": len(samples), "before": pooled(before), "after": pooled(after)}
