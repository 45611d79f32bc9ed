"""The one composition: image -> detect -> crop -> recognize -> layout -> Page / Document."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from handocr.detection.base import Detection, LineDetector
from handocr.detection.boxes import grow_thin_boxes
from handocr.imageio import Limits, decode_pages
from handocr.layout import paragraphs, reading_order, words_from_chars
from handocr.models import DEFAULT_DETECTOR, DEFAULT_RECOGNIZER, load_detector, load_recognizer
from handocr.orientation import (
    SURE_UPRIGHT,
    across_ink_ratio,
    flip_box,
    flip_check_lines,
    line_score,
    looks_upright,
    prefers_flipped,
    rotate_box_back,
)
from handocr.recognition.base import LineRecognizer, RecognizedLine
from handocr.recognition.language import AUTO, check_language
from handocr.schema import Document, Line, Models, Page, Paragraph, Timings, Word

if TYPE_CHECKING:  # the serving path does not load the dataset readers
    from handocr.datasets.records import PageRecord

CLEARLY_ACROSS = 1.5  # across_ink_ratio over this: no quarter-turn check (val upright pages: median 2.3-2.8)
MIN_LINE_HEIGHT = 0.8  # see ReadOptions.min_line_height


@dataclass(frozen=True)
class ReadOptions:
    """Pipeline settings.

    Attributes:
        crop_margin: pixels added around each detected box before recognition.
        review_below: lines whose confidence is under this are flagged ``needs_review``.
        review_words_below: words whose confidence is under this are flagged ``needs_review``.
            Both review thresholds were chosen on ``val`` with ``handocr eval`` (its ``review``
            section; see the recognizer's model card).
        drop_below: lines whose confidence is under this are dropped (0 keeps every line).
        auto_rotate: detect pages turned by 90, 180 or 270 degrees and read them upright.
        min_ink_contrast: detections whose darkest pixels (1st percentile) are less than this many
            grey levels (0-255) below the page's paper level hold no ink and are discarded.
        sure_upright: with ``auto_rotate``, a page whose sample lines read with a mean confidence
            of at least this is taken as upright without reading them turned over (the 180-degree
            check; see :func:`handocr.orientation.prefers_flipped` and ``bench/orientation.py``).
        min_line_height: a line box lower than this share of the median height of the page's boxes
            is read as if it were that high, grown about its middle (0 reads every box as it is;
            see :func:`handocr.detection.boxes.grow_thin_boxes`). Chosen on ``val`` with
            ``scripts/crop_trim_eval.py --min-line-heights``.
        language: ``"auto"`` guesses each page's language among those the recognizer has a decoder
            for (its LM and lexicon), ``"any"`` reads with its general decoder, a code (``"fr"``,
            ``"en"``) with that language's; see :mod:`handocr.recognition.language`.
    """

    crop_margin: int = 4
    review_below: float = 0.9
    review_words_below: float = 0.7
    drop_below: float = 0.0
    auto_rotate: bool = True
    min_ink_contrast: float = 40.0
    sure_upright: float = SURE_UPRIGHT
    min_line_height: float = MIN_LINE_HEIGHT
    language: str = AUTO


def paper_level(gray: np.ndarray) -> float:
    """The page's paper grey level: the median of a subsample of its pixels."""
    return float(np.median(gray[::4, ::4]))


def has_ink(crop: np.ndarray, paper: float, min_contrast: float) -> bool:
    """Whether a grayscale crop holds ink: its darkest pixels (1st percentile) are well below the paper."""
    if crop.size == 0:
        return False
    return bool(paper - float(np.percentile(crop, 1)) >= min_contrast)


def crop_box(box: Sequence[float], margin: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The integer crop rectangle for a line box with ``margin`` pixels around it, inside the page."""
    x0, y0, x1, y1 = box
    return (
        max(0, int(x0) - margin),
        max(0, int(y0) - margin),
        min(width, int(np.ceil(x1)) + margin),
        min(height, int(np.ceil(y1)) + margin),
    )


def cut_line_crops(
    gray: np.ndarray, boxes: Sequence[Sequence[float]], margin: int, min_line_height: float = 0.0
) -> list[np.ndarray]:
    """The crops a recognizer reads for line ``boxes`` on a grayscale page: each box (grown to
    ``min_line_height``, see :func:`grow_thin_boxes`) with ``margin`` pixels around it, inside the
    page (a box with nothing inside gives a small blank crop)."""
    height, width = gray.shape
    crops = []
    for box in grow_thin_boxes(boxes, min_line_height):
        x0, y0, x1, y1 = crop_box(box, margin, width, height)
        crops.append(gray[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else np.full((8, 8), 255, np.uint8))
    return crops


def ground_truth_line_crops(
    page: PageRecord, margin: int, min_line_height: float = 0.0
) -> list[tuple[str, np.ndarray]]:
    """``(target, crop)`` for each line of an annotated page that a recognizer should read (see
    :func:`handocr.datasets.collection.recognition_lines`), cut on its ground-truth box as
    :func:`cut_line_crops` cuts it; the page image is opened only when it has such lines."""
    from handocr.datasets.collection import recognition_lines

    lines = recognition_lines(page)
    if not lines:
        return []
    gray = np.asarray(Image.open(page.image_path).convert("L"))
    crops = cut_line_crops(gray, [line.box for line, _ in lines], margin, min_line_height)
    return [(target, crop) for (_, target), crop in zip(lines, crops, strict=True)]


class Reader:
    """Reads pages: holds a detector and a recognizer, loaded once, and composes them."""

    def __init__(self, detector: LineDetector, recognizer: LineRecognizer, options: ReadOptions | None = None) -> None:
        self.detector = detector
        self.recognizer = recognizer
        self.options = options or ReadOptions()
        check_language(self.options.language, getattr(recognizer, "languages", ()))

    @classmethod
    def load(
        cls,
        detector: str | Path = DEFAULT_DETECTOR,
        recognizer: str | Path = DEFAULT_RECOGNIZER,
        threads: int | None = None,
        options: ReadOptions | None = None,
        runtime: str | None = None,
    ) -> Reader:
        """A reader with models loaded by name or folder (the shipped defaults if not given), run on
        ``runtime`` (see :mod:`handocr.runtime`; ``None``: ``HANDOCR_RUNTIME`` or ``auto``)."""
        return cls(load_detector(detector, threads, runtime), load_recognizer(recognizer, threads, runtime), options)

    def with_language(self, language: str | None) -> Reader:
        """This reader (``None``, or its own language) or one sharing its models that reads in
        ``language`` (see ``ReadOptions.language``); an unknown language raises ``UnknownLanguage``."""
        if language is None or language == self.options.language:
            return self
        return Reader(self.detector, self.recognizer, replace(self.options, language=language))

    @property
    def models(self) -> Models:
        """The names and versions of the models, for results."""
        return Models(detector=self.detector.info, recognizer=self.recognizer.info)

    def line_crops(self, gray: np.ndarray, boxes: Sequence[Sequence[float]]) -> list[np.ndarray]:
        """The crops the recognizer reads for ``boxes`` on a grayscale page (with the crop margin,
        thin boxes grown to ``min_line_height``)."""
        return cut_line_crops(gray, boxes, self.options.crop_margin, self.options.min_line_height)

    def recognize_boxes(self, gray: np.ndarray, boxes: Sequence[Sequence[float]]) -> list[RecognizedLine]:
        """Recognise the lines at ``boxes`` on a grayscale page ``(h, w)`` uint8."""
        return self.recognizer.recognize(self.line_crops(gray, boxes), language=self.options.language)

    def read_page(self, image: Image.Image, decode_ms: float = 0.0) -> Page:
        """Read one page image; boxes in the result are pixels of ``image`` whatever its rotation.

        Orientation: a page whose lines do not run across is tried a quarter-turn round (a second
        detector pass) before recognition; after recognition, a page read with low confidence is
        checked for being upside down (a few lines read turned over) and read again turned if so.
        """
        start = time.perf_counter()
        rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))  # no copy to copy from
        gray = np.asarray(image.convert("L"))
        detections = self.detector.detect(rgb)
        t_first_detect = time.perf_counter()
        turns, rgb, gray, detections = self._quarter_turn(rgb, gray, detections)
        t_turned = time.perf_counter()
        paper = paper_level(gray)
        detections = [d for d in detections if self._has_ink(gray, d, paper)]
        t_detect = time.perf_counter()
        recognized = self.recognize_boxes(gray, [d.box for d in detections])
        t_recognize = time.perf_counter()
        if self._reads_better_flipped(gray, detections, recognized):
            height, width = gray.shape
            turns += 2
            rgb, gray = np.ascontiguousarray(rgb[::-1, ::-1]), np.ascontiguousarray(gray[::-1, ::-1])
            detections = [Detection(flip_box(d.box, width, height), d.score) for d in detections]
            recognized = self.recognize_boxes(gray, [d.box for d in detections])
        t_flipped = time.perf_counter()
        lines = self._build_lines(detections, recognized, gray.shape)
        order = reading_order([ln.box for ln in lines])
        lines = [lines[i] for i in order]
        language = recognized[0].language if recognized else None  # one decoder reads a whole page
        page = Page(
            width=gray.shape[1], height=gray.shape[0], language=language, lines=lines, paragraphs=paragraphs(lines)
        )
        if turns:
            page = _turn_back(page, turns, image.width, image.height)
        t_layout = time.perf_counter()
        page.timings_ms = Timings(
            decode=round(decode_ms, 2),
            detect=round((t_first_detect - start + t_detect - t_turned) * 1000, 2),
            orient=round((t_turned - t_first_detect + t_flipped - t_recognize) * 1000, 2),
            recognize=round((t_recognize - t_detect) * 1000, 2),
            layout=round((t_layout - t_flipped) * 1000, 2),
            total=round((t_layout - start) * 1000 + decode_ms, 2),
        )
        return page

    def _has_ink(self, gray: np.ndarray, detection: Detection, paper: float) -> bool:
        x0, y0, x1, y1 = crop_box(detection.box, 0, gray.shape[1], gray.shape[0])
        return has_ink(gray[y0:y1, x0:x1], paper, self.options.min_ink_contrast)

    def _quarter_turn(
        self, rgb: np.ndarray, gray: np.ndarray, detections: list[Detection]
    ) -> tuple[int, np.ndarray, np.ndarray, list[Detection]]:
        """Turn a page whose lines do not run across by a quarter; return the turns, images, detections.

        The turned frame is tried when the detections do not look like horizontal lines, or when the
        ink does not clearly run across (a sideways page can yield a few wide boxes); it is taken
        only if its lines look upright and score higher.
        """
        if not self.options.auto_rotate:
            return 0, rgb, gray, detections
        if looks_upright(detections) and across_ink_ratio(gray) >= CLEARLY_ACROSS:
            return 0, rgb, gray, detections
        turned = self.detector.detect(np.ascontiguousarray(np.rot90(rgb, 1)))
        if looks_upright(turned) and line_score(turned) > line_score(detections):
            return 1, np.ascontiguousarray(np.rot90(rgb, 1)), np.ascontiguousarray(np.rot90(gray, 1)), turned
        return 0, rgb, gray, detections

    def _reads_better_flipped(
        self, gray: np.ndarray, detections: list[Detection], recognized: list[RecognizedLine]
    ) -> bool:
        """Whether the page, as read, is upside down: the 180-degree check on its best lines."""
        if not self.options.auto_rotate or not detections:
            return False
        upright, read_turned = self.flip_check(gray, detections, recognized)
        return prefers_flipped(upright, read_turned, sure_upright=self.options.sure_upright)

    def flip_check(
        self, gray: np.ndarray, detections: list[Detection], recognized: list[RecognizedLine]
    ) -> tuple[list[float], Callable[[], list[float]]]:
        """What the 180-degree check compares: the network confidences of its sample lines as read,
        and a function that reads the same lines turned over and returns theirs."""
        picks = flip_check_lines(detections)

        def read_turned() -> list[float]:
            crops = self.line_crops(gray, [detections[i].box for i in picks])
            return self._confidences([np.ascontiguousarray(c[::-1, ::-1]) for c in crops])

        return [recognized[i].network_confidence for i in picks], read_turned

    def _confidences(self, crops: list[np.ndarray]) -> list[float]:
        quick = getattr(self.recognizer, "quick_confidences", None)  # greedy is enough to compare
        if quick is not None:
            return quick(crops)
        return [r.confidence for r in self.recognizer.recognize(crops)]

    def _build_lines(
        self, detections: list[Detection], recognized: list[RecognizedLine], shape: tuple[int, int]
    ) -> list[Line]:
        height, width = shape
        lines = []
        for det, rec in zip(detections, recognized, strict=True):
            if rec.confidence < self.options.drop_below:
                continue
            box = [int(det.box[0]), int(det.box[1]), int(np.ceil(det.box[2])), int(np.ceil(det.box[3]))]
            crop = crop_box(det.box, self.options.crop_margin, width, height)
            words = words_from_chars(
                rec.text, rec.char_confidences, rec.char_spans, crop, box, self.options.review_words_below
            )
            lines.append(
                Line(
                    box=box,
                    text=rec.text,
                    confidence=float(np.clip(rec.confidence, 0.0, 1.0)),
                    det_score=float(np.clip(det.score, 0.0, 1.0)),
                    words=words,
                    needs_review=rec.confidence < self.options.review_below,
                )
            )
        return lines

    def read_images(self, images: Sequence[Image.Image], source: str | None = None, decode_ms: float = 0.0) -> Document:
        """Read already-decoded page images into one Document."""
        pages = [self.read_page(image, decode_ms if i == 0 else 0.0) for i, image in enumerate(images)]
        return Document(model=self.models, source=source, pages=pages)

    def read(self, source: str | Path | bytes, limits: Limits | None = None) -> Document:
        """Decode a file path or bytes (every page) and read it."""
        start = time.perf_counter()
        images = decode_pages(source, limits or Limits())
        decode_ms = (time.perf_counter() - start) * 1000
        name = None if isinstance(source, bytes | bytearray) else Path(source).name
        return self.read_images(images, source=name, decode_ms=decode_ms)


def _turn_back(page: Page, turns: int, width: int, height: int) -> Page:
    """Map every box of a page read in the frame ``rot90(image, turns)`` back to the image."""

    def back(box: list[int]) -> list[int]:
        x0, y0, x1, y1 = rotate_box_back(box, turns, width, height)
        return [int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1))]

    lines = [
        line.model_copy(
            update={
                "box": back(line.box),
                "words": [Word(box=back(w.box), text=w.text, confidence=w.confidence) for w in line.words],
            }
        )
        for line in page.lines
    ]
    paras = [Paragraph(box=back(p.box), lines=p.lines) for p in page.paragraphs]
    rotation = (turns % 4) * 90
    return Page(width=width, height=height, lines=lines, paragraphs=paras, rotation=rotation, language=page.language)
