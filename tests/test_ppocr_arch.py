"""The ppocrv6-small recognizer: PP-OCRv6 from the rapidocr wheel made trainable, fine-tuned, exported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx2torch")
pytest.importorskip("rapidocr")

import onnxruntime as ort
import torch

from handocr.recognition.charset import Charset
from handocr.schema import ModelInfo

SHARED_HOOKER = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real" / "hooker"


@pytest.fixture(scope="module")
def model():
    from handocr.training.ppocr import PpOcrRecognizer

    torch.manual_seed(0)
    return PpOcrRecognizer(Charset("abcdefgh ?¡")).eval()


def _ink(batch: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, 1, 48, width), dtype=np.float32)


def test_converted_model_reproduces_ppocr_on_our_characters(model):
    """Same scores as PP-OCR's own ONNX (run by ONNX Runtime) for every character both know."""
    from handocr.training.ppocr import _head_columns, _load_graph, source_path

    _, dictionary = _load_graph(source_path())
    columns = _head_columns(Charset("abcdefgh ?¡"), dictionary)
    assert columns[0] == 0 and columns[-1] is None  # blank kept; '¡' is not in PP-OCR's dictionary
    known = [i for i, c in enumerate(columns) if c is not None]
    ink = _ink(2, 160)
    session = ort.InferenceSession(str(source_path()), providers=["CPUExecutionProvider"])
    probs = session.run(None, {"x": np.repeat(1.0 - 2.0 * ink, 3, axis=1)})[0]
    reference = np.log(probs[..., [columns[i] for i in known]])
    with torch.no_grad():
        ours = model(torch.from_numpy(ink)).numpy()[..., known]
    assert ours.shape == (2, 20, len(known))
    # logits and log-probabilities differ by a per-frame constant
    np.testing.assert_allclose(reference - reference[..., :1], ours - ours[..., :1], atol=1e-3)


def test_every_weight_is_trainable_and_mapped_to_the_graph(model):
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    weights_left = {n for n, b in model.named_buffers() if torch.is_floating_point(b) and b.numel() > 1}
    assert sum(p.numel() for p in model.parameters()) > 2_500_000
    assert all("running_" in name for name in weights_left)  # only BatchNorm statistics (and scalars) stay constant
    assert trainable <= set(model.onnx_names)
    weight, bias = model.classifier_keys()
    state = model.state_dict()
    assert state[weight].shape[1] == state[bias].shape[0] == Charset("abcdefgh ?¡").num_classes


def test_export_writes_the_trained_weights_for_any_batch_and_width(model, tmp_path):
    from handocr.training.ppocr import export_onnx

    tuned = type(model)(Charset("abcdefgh ?¡"))
    tuned.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    tuned.eval()
    export_onnx(tuned, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    for batch, width in ((1, 64), (3, 400)):
        ink = _ink(batch, width, seed=width)
        exported = session.run(None, {"images": ink})[0]
        with torch.no_grad():
            expected = torch.log_softmax(tuned(torch.from_numpy(ink)), dim=-1).numpy()
        assert exported.shape == (batch, width // 8, 12)
        np.testing.assert_allclose(exported, expected, atol=5e-3)


def test_classifier_grows_along_its_class_dimension():
    from handocr.training.finetune import adapt_classifier

    old, new = Charset("ab"), Charset("abc")
    state = {"w": torch.randn(4, old.num_classes), "b": torch.randn(old.num_classes)}
    grown = adapt_classifier(state, old, new, keys=("w", "b"), class_dim=1)
    assert grown["w"].shape == (4, new.num_classes) and grown["b"].shape == (new.num_classes,)
    assert torch.equal(grown["w"][:, : old.num_classes], state["w"])


def test_trainer_fine_tunes_exports_and_reads(tmp_path):
    if not SHARED_HOOKER.is_dir():
        pytest.skip("../shared/data/real is not beside the checkout")
    from handocr.datasets import DatasetFolder
    from handocr.recognition.ctc_onnx import CtcOnnxRecognizer
    from handocr.training.finetune import read_weights
    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer, export_recognizer

    pages = list(DatasetFolder(SHARED_HOOKER).pages("train"))[:2]
    config = RecognizerTrainConfig(
        out_dir=tmp_path / "run", max_steps=1, batch=4, holdout_fraction=0.5, arch="ppocrv6-small", lr=1e-4
    )
    trainer = RecognizerTrainer(pages, config)
    best = trainer.train()
    assert trainer.step == 1 and trainer.history[-1]["holdout_cer"] < 0.9  # pretrained: reads from the start
    onnx_path = export_recognizer(best, tmp_path / "model" / "model.onnx")
    assert read_weights(onnx_path.with_name("model.pt")).architecture == "ppocrv6-small"
    recognizer = CtcOnnxRecognizer(onnx_path, ModelInfo(name="ppocr", version="0"), threads=1)
    assert (recognizer.height, recognizer.downsample) == (48, 8)
    crops = [trainer.holdout_samples[0].gray, np.full((50, 400), 255, np.uint8)]
    results = recognizer.recognize(crops)
    assert len(results) == 2 and results[0].text and all(0.0 <= r.confidence <= 1.0 for r in results)
    resumed = RecognizerTrainer(pages, config)
    assert resumed.resume() and resumed.arch.name == "ppocrv6-small"
