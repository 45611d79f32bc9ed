"""The TrOCR backend, on a tiny TrOCR-architecture model built from configs (random weights, offline)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from handocr.errors import ModelNotFound
from handocr.models import find_model, load_recognizer
from handocr.recognition.trocr import TrOCRRecognizer, repeated_tail, spread_to_chars, token_budget
from handocr.schema import ModelInfo

INFO = ModelInfo(name="tiny-trocr", version="0")
WORDS = ["the quick brown fox jumps over the lazy dog", "hello world", "Handwriting, 1926: élan café"]


def save_tiny_trocr(path: Path) -> Path:
    """Write a tiny TrOCR (2-layer ViT encoder + 2-layer TrOCR decoder, byte-level BPE) to ``path``.

    The same files ``save_pretrained`` writes for ``microsoft/trocr-base-handwritten``, at ~100k parameters.
    """
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        RobertaTokenizer,
        TrOCRConfig,
        TrOCRProcessor,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    path.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe.train_from_iterator(WORDS, vocab_size=300, min_frequency=1, special_tokens=specials, show_progress=False)
    vocab = json.loads(bpe.to_str())["model"]["vocab"]
    merges = [
        tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in json.loads(bpe.to_str())["model"]["merges"]
    ]
    # transformers 5 ignores vocab_file= / merges_file=; vocab= and merges= are the keywords that work.
    tokenizer = RobertaTokenizer(vocab=vocab, merges=merges)

    torch.manual_seed(0)
    encoder = ViTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8
    )
    ids = {
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "decoder_start_token_id": tokenizer.bos_token_id,
    }
    decoder = TrOCRConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        decoder_layers=2,
        decoder_attention_heads=2,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        **ids,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    for key, value in ids.items():
        setattr(config, key, value)
    model = VisionEncoderDecoderModel(config=config)
    for key, value in ids.items():
        setattr(model.generation_config, key, value)
    image_processor = ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    model.save_pretrained(path)
    TrOCRProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


def line_crop(width: int, height: int = 32, seed: int = 0) -> np.ndarray:
    """A grayscale uint8 line crop: white with random dark strokes."""
    rng = np.random.default_rng(seed)
    crop = np.full((height, width), 255, np.uint8)
    for x in rng.integers(0, max(1, width - 3), size=max(1, width // 6)):
        crop[height // 4 : 3 * height // 4, x : x + 2] = rng.integers(0, 80)
    return crop


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_trocr(tmp_path_factory.mktemp("tiny-trocr"))


@pytest.fixture(scope="module")
def recognizer(tiny_dir: Path) -> TrOCRRecognizer:
    return TrOCRRecognizer(tiny_dir, INFO, device="cpu", batch_size=2, threads=1)


def check_line(line) -> None:
    assert isinstance(line.text, str)
    assert 0.0 <= line.confidence <= 1.0
    assert len(line.char_confidences) == len(line.text)
    assert all(0.0 <= c <= 1.0 for c in line.char_confidences)
    assert line.char_spans == []


def test_recognizes_a_batch_of_different_widths(recognizer: TrOCRRecognizer) -> None:
    crops = [line_crop(300, seed=1), line_crop(40, seed=2), line_crop(150, 48, seed=3), np.full((8, 8), 255, np.uint8)]
    lines = recognizer.recognize(crops)
    assert len(lines) == len(crops)
    for line in lines:
        check_line(line)
    assert recognizer.info == INFO
    assert recognizer.device == "cpu"
    assert recognizer.recognize([]) == []


def test_results_do_not_depend_on_batching(tiny_dir: Path, recognizer: TrOCRRecognizer) -> None:
    crops = [line_crop(w, seed=w) for w in (90, 200, 60)]
    one_by_one = TrOCRRecognizer(tiny_dir, INFO, device="cpu", batch_size=1, max_new_tokens=recognizer_limit(crops))
    batched = TrOCRRecognizer(tiny_dir, INFO, device="cpu", batch_size=3, max_new_tokens=recognizer_limit(crops))
    a, b = one_by_one.recognize(crops), batched.recognize(crops)
    assert [x.text for x in a] == [x.text for x in b]
    assert np.allclose([x.confidence for x in a], [x.confidence for x in b], atol=1e-4)


def recognizer_limit(crops: list[np.ndarray]) -> int:
    return max(token_budget(c.shape[1], c.shape[0]) for c in crops)


def test_beam_search(tiny_dir: Path) -> None:
    beams = TrOCRRecognizer(tiny_dir, INFO, device="cpu", num_beams=2, max_new_tokens=12)
    lines = beams.recognize([line_crop(120), line_crop(64, seed=5)])
    assert len(lines) == 2
    for line in lines:
        check_line(line)


def test_missing_or_incomplete_folder_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="does not exist"):
        TrOCRRecognizer(tmp_path / "nowhere", INFO)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotFound, match=r"incomplete.*weights"):
        TrOCRRecognizer(tmp_path, INFO)


def test_corrupt_folder_is_model_not_found(tmp_path: Path, tiny_dir: Path) -> None:
    for name in os.listdir(tiny_dir):
        (tmp_path / name).write_bytes((tiny_dir / name).read_bytes())
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelNotFound, match="could not be loaded"):
        TrOCRRecognizer(tmp_path, INFO, device="cpu")


def test_no_network_during_load_and_recognize(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    model = TrOCRRecognizer(tiny_dir, INFO, device="auto", max_new_tokens=8)
    assert len(model.recognize([line_crop(100)])) == 1
    assert "HF_HUB_OFFLINE" not in os.environ  # restored after loading


def test_model_json_folder(tiny_dir: Path) -> None:
    settings = {"name": "tiny-trocr", "version": "0.1", "kind": "recognizer", "backend": "trocr", "file": "config.json"}
    (tiny_dir / "model.json").write_text(json.dumps(settings))
    spec = find_model(tiny_dir)
    assert spec.settings["backend"] == "trocr"
    model = TrOCRRecognizer(spec.folder, spec.info, device="cpu", max_new_tokens=8)
    assert model.info == ModelInfo(name="tiny-trocr", version="0.1")
    check_line(model.recognize([line_crop(80)])[0])
    try:
        loaded = load_recognizer(tiny_dir, threads=1)
    except ModelNotFound as exc:
        if "unknown recognizer backend" in str(exc):
            pytest.skip("handocr.models.load_recognizer has no 'trocr' branch yet")
        raise
    assert isinstance(loaded, TrOCRRecognizer)
    check_line(loaded.recognize([line_crop(80)])[0])


def test_confidence_is_the_geometric_mean_and_spread_to_characters(recognizer: TrOCRRecognizer) -> None:
    tokenizer = recognizer.tokenizer
    ids = tokenizer("hello world", add_special_tokens=False).input_ids
    eos = tokenizer.eos_token_id
    probs = np.array([0.5] * len(ids) + [1.0, 0.01])
    line = recognizer._to_result([*ids, eos, tokenizer.pad_token_id], probs, limit=64)
    assert line.text == "hello world"
    assert line.confidence == pytest.approx(0.5 ** (len(ids) / (len(ids) + 1)))
    assert line.char_confidences == [0.5] * len("hello world")


def test_degenerate_repeated_tail_is_cut_and_penalised(recognizer: TrOCRRecognizer) -> None:
    tokenizer = recognizer.tokenizer
    ids = tokenizer("hello world world world world world", add_special_tokens=False).input_ids
    line = recognizer._to_result(ids, np.full(len(ids), 0.9), limit=len(ids))
    assert line.text == "hello world"
    assert line.confidence == pytest.approx(0.9 * recognizer.degenerate_penalty)
    assert len(line.char_confidences) == len(line.text)


def test_repeated_tail() -> None:
    assert repeated_tail("ab cd cd cd cd") == len("ab cd")
    assert repeated_tail("abc abc", min_repeats=4) == len("abc abc")
    assert repeated_tail("wait.....") == len("wait.....")  # 5 dots: real punctuation
    assert repeated_tail("no" + "o" * 12) == len("no")
    assert repeated_tail("") == 0


def test_token_budget_grows_with_width_and_is_clamped() -> None:
    assert token_budget(32, 32) == 16
    assert token_budget(640, 32) == 50
    assert token_budget(100_000, 32) == 256
    assert token_budget(100_000, 32, limit=100) == 100


def test_spread_to_chars_credits_multibyte_characters(recognizer: TrOCRRecognizer) -> None:
    tokenizer = recognizer.tokenizer
    ids = tokenizer("café élan", add_special_tokens=False).input_ids
    probs = [0.1 * (k + 1) for k in range(len(ids))]
    text, char_probs = spread_to_chars(tokenizer, ids, probs)
    assert text == "café élan"
    assert len(char_probs) == len(text)
    assert char_probs == sorted(char_probs)  # each character takes the probability of a later-or-same token


def test_blank_crops_read_as_no_text_without_generating(recognizer: TrOCRRecognizer, monkeypatch) -> None:
    sent: list[np.ndarray] = []
    original = recognizer._recognize_batch
    monkeypatch.setattr(recognizer, "_recognize_batch", lambda crops: sent.extend(crops) or original(crops))
    lines = recognizer.recognize([np.full((32, 200), 250, np.uint8), line_crop(120, seed=4)])
    assert lines[0].text == "" and lines[0].confidence == 0.0
    assert [crop.shape for crop in sent] == [(32, 120)]
