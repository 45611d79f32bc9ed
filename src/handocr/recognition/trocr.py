"""A TrOCR recognizer: any Hugging Face ``VisionEncoderDecoderModel`` read from a local folder.

Needs the ``trocr`` extra (``transformers`` and ``torch``). The folder is what
``model.save_pretrained(dir)`` and ``processor.save_pretrained(dir)`` write (``config.json``, the
weights, the image processor and tokenizer files); nothing is ever downloaded. See ``docs/trocr.md``.

TrOCR has no character alignment, so ``char_spans`` is empty; confidences come from the decoder's
token probabilities.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from handocr.errors import ModelNotFound
from handocr.recognition.base import RecognizedLine
from handocr.recognition.language import AUTO, check_language
from handocr.recognition.preprocess import is_blank
from handocr.schema import ModelInfo

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
IMAGE_PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "sentencepiece.bpe.model", "spiece.model")


@contextmanager
def offline() -> Iterator[None]:
    """Set ``HF_HUB_OFFLINE=1`` for the duration (restoring the previous value), so the Hub is never asked."""
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


def check_model_dir(model_dir: Path) -> None:
    """Raise :class:`ModelNotFound` unless ``model_dir`` holds a config, weights, image processor and tokenizer."""
    if not model_dir.is_dir():
        raise ModelNotFound(f"TrOCR model folder {model_dir} does not exist")
    wanted = {
        "config.json": ("config.json",),
        "weights": WEIGHT_FILES,
        "image processor config": IMAGE_PROCESSOR_FILES,
        "tokenizer": TOKENIZER_FILES,
    }
    missing = [what for what, names in wanted.items() if not any((model_dir / n).is_file() for n in names)]
    if missing:
        raise ModelNotFound(
            f"TrOCR model folder {model_dir} is incomplete (missing {', '.join(missing)}); "
            "save both the model and its processor there with save_pretrained (see docs/trocr.md)"
        )


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a CUDA device is available, else ``cpu``; any other value is kept."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def token_budget(width: int, height: int, per_height: float = 2.0, extra: int = 10, limit: int = 256) -> int:
    """New tokens allowed for a crop ``width x height`` pixels: ``width / height * per_height + extra``, clamped.

    A handwritten character is roughly half a line height wide, so a line holds ~``2 * w / h``
    characters; BPE tokens carry ~3 characters each, so this leaves room for character-level tokenizers too.
    """
    ratio = width / max(1, height)
    return int(min(limit, max(16, math.ceil(ratio * per_height) + extra)))


def repeated_tail(text: str, min_repeats: int = 4, max_unit: int = 24) -> int:
    """The length of ``text`` to keep when it ends in a unit repeated ``min_repeats`` or more times.

    One copy of the unit is kept (``"ab cd cd cd cd"`` -> ``"ab cd"``); single-character units must
    repeat ``2 * min_repeats`` times (``"....."`` is often real). Returns ``len(text)`` when no tail repeats.
    """
    best = len(text)
    for unit in range(1, min(max_unit, len(text) // 2) + 1):
        tail = text[-unit:]
        if not tail.strip():
            continue
        count = 1
        while count * unit + unit <= len(text) and text[-(count + 1) * unit : -count * unit] == tail:
            count += 1
        needed = 2 * min_repeats if unit == 1 else min_repeats
        if count >= needed:
            best = min(best, len(text) - (count - 1) * unit)
    return best


def spread_to_chars(tokenizer: Any, token_ids: Sequence[int], probs: Sequence[float]) -> tuple[str, list[float]]:
    """Decode ``token_ids`` and give each character the probability of the token that produced it.

    Decodes growing prefixes, so a character split over several byte-level BPE tokens is credited to
    the token that completes it. Special tokens produce no characters.
    """
    text = tokenizer.decode(list(token_ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)
    char_probs: list[float] = []
    for k, p in enumerate(probs):
        if len(char_probs) >= len(text):
            break
        prefix = tokenizer.decode(
            list(token_ids[: k + 1]), skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        agreed = _common_prefix_length(prefix, text)
        char_probs.extend([float(p)] * max(0, agreed - len(char_probs)))
    fill = char_probs[-1] if char_probs else (float(probs[-1]) if len(probs) else 0.0)
    char_probs.extend([fill] * (len(text) - len(char_probs)))
    return text, char_probs


class TrOCRRecognizer:
    """Recognises line crops with a TrOCR-style encoder-decoder loaded from a local folder.

    Args:
        model_dir: folder written by ``save_pretrained`` (model and processor).
        info: name and version reported in results.
        device: ``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda``, ``cuda:1``, ...
        batch_size: crops per ``generate`` call (crops are sorted by width first).
        num_beams: 1 is greedy; more is beam search (slower, sometimes better).
        max_new_tokens: a fixed token limit; ``None`` derives it from each batch's widest aspect ratio.
        threads: torch intra-op threads (process-wide in torch); ``None`` leaves torch's setting alone.
        no_repeat_ngram_size: forbid repeating any n-gram of tokens; ``None`` picks 4 for BPE vocabularies
            and 0 (off) for small character-level ones, where short repeats are ordinary text.
        repetition_penalty: Hugging Face's repetition penalty (1.0 = off: it also penalises legitimately
            repeated letters).
        degenerate_penalty: confidence factor for lines whose repeated tail was cut or that hit the token limit.
    """

    languages: tuple[str, ...] = ()  # no language-specific decoders

    def __init__(
        self,
        model_dir: Path,
        info: ModelInfo,
        device: str = "auto",
        batch_size: int = 8,
        num_beams: int = 1,
        max_new_tokens: int | None = None,
        threads: int | None = None,
        no_repeat_ngram_size: int | None = None,
        repetition_penalty: float = 1.0,
        degenerate_penalty: float = 0.5,
    ) -> None:
        model_dir = Path(model_dir)
        check_model_dir(model_dir)
        self.info = info
        self.batch_size = max(1, batch_size)
        self.num_beams = max(1, num_beams)
        self.max_new_tokens = max_new_tokens
        self.repetition_penalty = repetition_penalty
        self.degenerate_penalty = degenerate_penalty
        with offline():
            try:
                import torch
                from transformers import VisionEncoderDecoderModel
            except ImportError as exc:
                raise ModelNotFound(
                    f"the TrOCR backend needs transformers and torch: pip install 'handocr[trocr]' ({exc})"
                ) from exc
            if threads is not None:
                torch.set_num_threads(max(1, threads))
            self.device = resolve_device(device)
            try:
                self.processor = _load_processor(model_dir)
                model = VisionEncoderDecoderModel.from_pretrained(model_dir, local_files_only=True)
            except Exception as exc:  # OSError, ValueError, SafetensorError, ...: any unreadable folder
                raise ModelNotFound(f"TrOCR model folder {model_dir} could not be loaded: {exc}") from exc
        self.model = model.to(self.device).eval()
        self.tokenizer = self.processor.tokenizer
        self.eos_token_id = self.model.generation_config.eos_token_id
        if self.eos_token_id is None:
            self.eos_token_id = self.tokenizer.eos_token_id
        if no_repeat_ngram_size is None:
            no_repeat_ngram_size = 4 if len(self.tokenizer) > 1000 else 0
        self.no_repeat_ngram_size = no_repeat_ngram_size
        positions = getattr(self.model.config.decoder, "max_position_embeddings", None) or 512
        self.token_limit = max(16, min(256, int(positions) - 2))

    def recognize(self, crops: list[np.ndarray], language: str = AUTO) -> list[RecognizedLine]:
        """Recognise grayscale uint8 crops ``(h, w)``; one result per crop, in order; no character
        spans. ``language`` may only be ``"auto"`` or ``"any"`` (both read the same). A blank crop
        (:func:`~handocr.recognition.preprocess.is_blank`) reads as empty text at confidence 0."""
        check_language(language, self.languages)
        results: list[RecognizedLine] = [RecognizedLine("", 0.0) for _ in crops]
        usable = [i for i, crop in enumerate(crops) if crop.ndim >= 2 and not is_blank(crop)]
        # Sorting by width groups lines of similar length, so a batch stops generating at about the same step.
        order = sorted(usable, key=lambda i: crops[i].shape[1] / max(1, crops[i].shape[0]))
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            for i, line in zip(index, self._recognize_batch([crops[i] for i in index]), strict=True):
                results[i] = line
        return results

    def _recognize_batch(self, crops: list[np.ndarray]) -> list[RecognizedLine]:
        import torch

        images = [Image.fromarray(np.ascontiguousarray(crop, dtype=np.uint8)).convert("RGB") for crop in crops]
        pixel_values = self.processor(images=images, return_tensors="pt").pixel_values.to(self.device)
        limit = self.max_new_tokens or max(
            token_budget(crop.shape[1], crop.shape[0], limit=self.token_limit) for crop in crops
        )
        with torch.inference_mode():
            out = self.model.generate(
                pixel_values,
                max_new_tokens=limit,
                num_beams=self.num_beams,
                do_sample=False,
                no_repeat_ngram_size=self.no_repeat_ngram_size,
                repetition_penalty=self.repetition_penalty,
                output_logits=True,
                return_dict_in_generate=True,
            )
            # Raw logits, not the processed scores: the model's own belief, before the repetition guard edits it.
            log_probs = self.model.compute_transition_scores(
                out.sequences, out.logits, getattr(out, "beam_indices", None), normalize_logits=True
            )
        steps = log_probs.shape[1]
        tokens = out.sequences[:, -steps:].cpu().tolist()
        probs = log_probs.float().exp().cpu().numpy()
        return [self._to_result(tokens[k], probs[k], limit) for k in range(len(crops))]

    def _to_result(self, tokens: list[int], probs: np.ndarray, limit: int) -> RecognizedLine:
        """One line from its generated tokens (up to and including the first end token) and their probabilities."""
        eos = self.eos_token_id
        eos_ids = set(eos) if isinstance(eos, list) else {eos}
        end = next((k + 1 for k, t in enumerate(tokens) if t in eos_ids), None)
        finished = end is not None
        end = end if end is not None else len(tokens)
        tokens, token_probs = tokens[:end], np.clip(probs[:end], 1e-12, 1.0)
        if not tokens:
            return RecognizedLine("", 0.0)
        confidence = float(np.exp(np.mean(np.log(token_probs))))
        text, char_probs = spread_to_chars(self.tokenizer, tokens, token_probs.tolist())
        keep = repeated_tail(text, min_repeats=4 if finished else 3)
        if keep < len(text) or (not finished and len(tokens) >= limit):
            confidence *= self.degenerate_penalty
        text, char_probs = text[:keep], char_probs[:keep]
        lead = len(text) - len(text.lstrip())
        text = text.strip()
        char_probs = char_probs[lead : lead + len(text)]
        return RecognizedLine(text, float(np.clip(confidence, 0.0, 1.0)), [float(p) for p in char_probs], [])


def _common_prefix_length(a: str, b: str) -> int:
    """How many leading characters ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _load_processor(model_dir: Path) -> Any:
    """The folder's processor: ``AutoProcessor`` if it resolves to one with an image processor and a
    tokenizer, else a ``TrOCRProcessor`` assembled from ``AutoImageProcessor`` and ``AutoTokenizer``."""
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer, TrOCRProcessor

    try:
        processor = AutoProcessor.from_pretrained(model_dir, local_files_only=True)
        if hasattr(processor, "tokenizer") and hasattr(processor, "image_processor"):
            return processor
    except (OSError, ValueError, KeyError, TypeError):
        pass
    image_processor = AutoImageProcessor.from_pretrained(model_dir, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    return TrOCRProcessor(image_processor=image_processor, tokenizer=tokenizer)
