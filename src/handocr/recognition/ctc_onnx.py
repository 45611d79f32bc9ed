"""The default recognizer: a CTC line model run with ONNX Runtime on width-bucketed batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handocr.recognition.base import RecognizedLine
from handocr.recognition.beam import CtcDecoder
from handocr.recognition.charset import Charset
from handocr.recognition.ctc import DecodedLine, greedy_decode
from handocr.recognition.preprocess import normalise_line, pad_batch
from handocr.runtime import make_session, model_metadata
from handocr.schema import ModelInfo


class CtcOnnxRecognizer:
    """Recognises line crops with a CTC ONNX model whose metadata carries its charset and geometry.

    ``decoder`` turns each line's posteriors into text (greedy by default, or beam search with a
    character language model); its ``temperature`` rescales posteriors before confidences are read.
    """

    def __init__(
        self,
        path: Path,
        info: ModelInfo,
        threads: int | None = None,
        batch_size: int = 16,
        temperature: float = 1.0,
        decoder: CtcDecoder | None = None,
    ) -> None:
        self.session = make_session(path, threads)
        self.info = info
        meta = model_metadata(self.session)
        self.charset = Charset.from_json(meta["charset"])
        self.height = int(meta.get("line_height", 32))
        self.downsample = int(meta.get("downsample", 4))
        self.batch_size = batch_size
        self.decoder = decoder or CtcDecoder(self.charset.characters)
        if decoder is None:
            self.decoder.temperature = temperature

    def log_probs(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Per-crop ``(frames, classes)`` log-probabilities at temperature 1."""
        inputs = [normalise_line(crop, self.height) for crop in crops]
        order = sorted(range(len(inputs)), key=lambda i: inputs[i].shape[1])
        results: list[np.ndarray | None] = [None] * len(inputs)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            batch, widths = pad_batch([inputs[i] for i in index], multiple=self.downsample)
            output = self.session.run(None, {"images": batch})[0]
            for k, i in enumerate(index):
                frames = max(1, int(widths[k]) // self.downsample)
                results[i] = output[k, :frames]
        return [r for r in results if r is not None]

    def recognize(self, crops: list[np.ndarray]) -> list[RecognizedLine]:
        """Recognise grayscale uint8 crops ``(h, w)``; character spans are in crop pixels."""
        if not crops:
            return []
        out = []
        for crop, scores in zip(crops, self.log_probs(crops), strict=True):
            decoded = self.decoder(scores)
            out.append(self._to_result(decoded, crop.shape, scores.shape[0]))
        return out

    def quick_confidences(self, crops: list[np.ndarray]) -> list[float]:
        """Line confidences from greedy decoding (no beam, no language model): for cheap checks."""
        characters = self.charset.characters
        return [greedy_decode(scores, characters).confidence for scores in self.log_probs(crops)]

    def _to_result(self, decoded: DecodedLine, crop_shape: tuple[int, ...], frames: int) -> RecognizedLine:
        _crop_h, crop_w = crop_shape[:2]
        input_width = max(1, frames * self.downsample)
        x_per_column = crop_w / input_width
        spans = [
            (t0 * self.downsample * x_per_column, min(crop_w, (t1 + 1) * self.downsample * x_per_column))
            for t0, t1 in decoded.spans
        ]
        return RecognizedLine(decoded.text, decoded.confidence, decoded.char_confidences, spans)
