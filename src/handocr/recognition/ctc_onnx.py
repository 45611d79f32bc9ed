"""The default recognizer: a CTC line model run with ONNX Runtime on width-bucketed batches."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from handocr.recognition.base import RecognizedLine
from handocr.recognition.beam import CtcDecoder
from handocr.recognition.charset import Charset
from handocr.recognition.ctc import DecodedLine, greedy_decode
from handocr.recognition.language import ANY, AUTO, check_language, guess_language
from handocr.recognition.preprocess import WIDTH_SCALES, is_blank, normalise_line, pad_batch, trim_rows
from handocr.runtime import default_threads, make_session, model_metadata
from handocr.schema import ModelInfo

MAX_WIDTH_RATIO = 1.5  # widest / narrowest line of a batch; chosen on val (see width_buckets)


def width_buckets(widths: list[int], batch_size: int, max_ratio: float = MAX_WIDTH_RATIO) -> list[list[int]]:
    """Indices of lines grouped into batches by width: in order of width, at most ``batch_size`` a
    batch, and a new batch as soon as a line is more than ``max_ratio`` times the batch's narrowest.

    Padding changes what the network reads: on 12 Hooker `val` pages read page by page, batches of
    up to 16 whatever their widths gave 22.0% line CER, batches within a width ratio of 1.5 21.3%
    (2.0: 21.4%, 1.25: 21.4%), at 2.5 times as many, smaller, batches.
    """
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    batches: list[list[int]] = []
    for i in order:
        current = batches[-1] if batches else None
        if current is None or len(current) >= batch_size or widths[i] > max_ratio * widths[current[0]]:
            batches.append([i])
        else:
            current.append(i)
    return batches


class CtcOnnxRecognizer:
    """Recognises line crops with a CTC ONNX model whose metadata carries its charset and geometry.

    ``decoder`` turns each line's posteriors into text (greedy by default, or beam search with a
    character language model); its ``temperature`` rescales posteriors before confidences are read.
    ``crop_trim`` is the share of each crop's height left out at the top and at the bottom before
    reading (``crop_trim`` in ``model.json``): detected boxes run taller than the annotated boxes a
    model was trained on and take in the ascenders and descenders of the lines around, which a
    trimmed crop leaves out (see the recognizer's model card). ``width_scale`` (``width_scale`` in
    ``model.json``) squeezes each line to that share of its width before reading: fewer CTC frames,
    so less time, for a model that reads narrow lines as well (see the recognizer's model card).
    ``language_decoders`` holds a decoder per language code (``languages`` in ``model.json``),
    each with that language's LM and lexicon: see :mod:`handocr.recognition.language`.
    The lines of a page are decoded on ``threads`` threads at once (the C beam search runs without
    the GIL). ``runtime`` and ``openvino`` (the model's ``openvino`` entry) choose where the network
    runs (see :mod:`handocr.runtime`).
    """

    def __init__(
        self,
        path: Path,
        info: ModelInfo,
        threads: int | None = None,
        batch_size: int = 16,
        temperature: float = 1.0,
        decoder: CtcDecoder | None = None,
        max_width_ratio: float = MAX_WIDTH_RATIO,
        crop_trim: float = 0.0,
        width_scale: float = 1.0,
        runtime: str | None = None,
        openvino: dict | None = None,
    ) -> None:
        if not 0.0 <= crop_trim < 0.5:
            raise ValueError(f"crop_trim must be in [0, 0.5), not {crop_trim}")
        if not WIDTH_SCALES[0] <= width_scale <= WIDTH_SCALES[1]:
            raise ValueError(f"width_scale must be in [{WIDTH_SCALES[0]}, {WIDTH_SCALES[1]}], not {width_scale}")
        self.threads = threads or default_threads()
        self.session = make_session(path, self.threads, runtime, openvino)
        self._decoding = ThreadPoolExecutor(self.threads, thread_name_prefix="handocr-decode")  # threads start on use
        self.info = info
        meta = model_metadata(self.session)
        self.charset = Charset.from_json(meta["charset"])
        self.height = int(meta.get("line_height", 32))
        self.downsample = int(meta.get("downsample", 4))
        # batches are padded to widths the runtime reads fastest (OpenVINO: openvino_session.WIDTH_MULTIPLE)
        self.pad_multiple = math.lcm(self.downsample, getattr(self.session, "width_multiple", 1))
        self.batch_size = batch_size
        self.max_width_ratio = max_width_ratio
        self.crop_trim = crop_trim
        self.width_scale = width_scale
        self.decoder = decoder or CtcDecoder(self.charset.characters)
        if decoder is None:
            self.decoder.temperature = temperature
        self.language_decoders: dict[str, CtcDecoder] = {}

    @property
    def languages(self) -> tuple[str, ...]:
        """The language codes this recognizer has a decoder of its own for."""
        return tuple(self.language_decoders)

    def page_language(self, page_log_probs: list[np.ndarray], language: str = AUTO) -> str | None:
        """The language whose decoder reads one page's lines (their log-probabilities): the named
        one, ``None`` (the general decoder) for ``"any"``, and for ``"auto"`` the guessed one
        (``None`` when the guess is unclear or the recognizer has no language decoders)."""
        characters = self.charset.characters
        return self._language_of((greedy_decode(lp, characters).text for lp in page_log_probs), language)

    def _language_of(self, best_path_texts: Iterable[str], language: str) -> str | None:
        """:meth:`page_language` from the page's greedy texts (a generator is read only to guess)."""
        check_language(language, self.languages)
        if language == ANY or not self.language_decoders:
            return None
        if language != AUTO:
            return language
        lexicons = {code: d.lexicon for code, d in self.language_decoders.items() if d.lexicon is not None}
        return guess_language(best_path_texts, lexicons)

    def page_decoder(self, page_log_probs: list[np.ndarray], language: str = AUTO) -> CtcDecoder:
        """The decoder for one page's lines: that of :meth:`page_language`, or the general one."""
        return self._decoder_of(self.page_language(page_log_probs, language))

    def _decoder_of(self, code: str | None) -> CtcDecoder:
        return self.decoder if code is None else self.language_decoders[code]

    def line_input(self, crop: np.ndarray) -> np.ndarray:
        """The network's input ``(height, width)`` for a grayscale crop: trimmed (``crop_trim``),
        resized to the line height and squeezed to ``width_scale`` (see :func:`normalise_line`)."""
        return normalise_line(trim_rows(crop, self.crop_trim), self.height, self.width_scale)

    def network_batches(self, crops: list[np.ndarray]) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """The batches the network reads for ``crops``: for each group of lines of similar width
        (:func:`width_buckets`), their indices in ``crops``, the batch ``(n, 1, height, W)`` padded
        to the runtime's width multiple, and the lines' own widths."""
        inputs = [self.line_input(crop) for crop in crops]
        for index in width_buckets([x.shape[1] for x in inputs], self.batch_size, self.max_width_ratio):
            yield index, *pad_batch([inputs[i] for i in index], multiple=self.pad_multiple)

    def log_probs(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Per-crop ``(frames, classes)`` log-probabilities at temperature 1."""
        results: list[np.ndarray | None] = [None] * len(crops)
        for index, batch, widths in self.network_batches(crops):
            output = self.session.run(None, {"images": batch})[0]
            for k, i in enumerate(index):
                frames = max(1, int(widths[k]) // self.downsample)
                results[i] = output[k, :frames]
        return [r for r in results if r is not None]

    def has_writing(self, crop: np.ndarray) -> bool:
        """Whether the part of a crop the network reads (``crop_trim``) is not blank (see
        :func:`~handocr.recognition.preprocess.is_blank`); a blank crop reads as no text."""
        return not is_blank(trim_rows(crop, self.crop_trim))

    def _written_log_probs(self, crops: list[np.ndarray]) -> tuple[list[int], list[np.ndarray]]:
        """The indices of the crops that hold writing (:meth:`has_writing`) and their log-probabilities."""
        written = [i for i, crop in enumerate(crops) if self.has_writing(crop)]
        return written, self.log_probs([crops[i] for i in written])

    def recognize(self, crops: list[np.ndarray], language: str = AUTO) -> list[RecognizedLine]:
        """Recognise grayscale uint8 crops ``(h, w)``, the lines of one page, in ``language`` (see
        :meth:`page_decoder`); character spans are in crop pixels. A crop without ink
        (not :meth:`has_writing`) reads as empty text at confidence 0, without the network."""
        written, page_log_probs = self._written_log_probs(crops)  # none for no crops
        characters = self.charset.characters
        best_paths = [greedy_decode(lp, characters) for lp in page_log_probs]  # once: language guess and decoder
        code = self._language_of((path.text for path in best_paths), language)  # checks it, crops or not
        decoded = self._decode_lines(self._decoder_of(code), page_log_probs, best_paths)
        out = [RecognizedLine("", 0.0, uncalibrated_confidence=0.0, language=code) for _ in crops]
        for i, scores, text in zip(written, page_log_probs, decoded, strict=True):
            line = self._to_result(text, crops[i].shape, scores.shape[0])
            line.language = code
            out[i] = line
        return out

    def _decode_lines(
        self, decoder: CtcDecoder, page_log_probs: list[np.ndarray], best_paths: list[DecodedLine] | None = None
    ) -> list[DecodedLine]:
        """Each line decoded, in order: on the decoding threads when there are several of both.
        ``best_paths``: the lines' greedy readings, when the caller has them (see :class:`CtcDecoder`)."""
        paths = best_paths if best_paths is not None else [None] * len(page_log_probs)
        if self.threads < 2 or len(page_log_probs) < 2:
            return [decoder(scores, path) for scores, path in zip(page_log_probs, paths, strict=True)]
        return list(self._decoding.map(decoder, page_log_probs, paths))

    def quick_confidences(self, crops: list[np.ndarray]) -> list[float]:
        """Line confidences from greedy decoding (no beam, no language model): for cheap checks."""
        characters = self.charset.characters
        confidences = [0.0] * len(crops)
        for i, scores in zip(*self._written_log_probs(crops), strict=True):
            confidences[i] = greedy_decode(scores, characters).confidence
        return confidences

    def _to_result(self, decoded: DecodedLine, crop_shape: tuple[int, ...], frames: int) -> RecognizedLine:
        _crop_h, crop_w = crop_shape[:2]
        input_width = max(1, frames * self.downsample)
        x_per_column = crop_w / input_width
        spans = [
            (t0 * self.downsample * x_per_column, min(crop_w, (t1 + 1) * self.downsample * x_per_column))
            for t0, t1 in decoded.spans
        ]
        return RecognizedLine(
            decoded.text, decoded.confidence, decoded.char_confidences, spans, decoded.uncalibrated_confidence
        )
