"""Tiny training runs: a few steps of each trainer, then export and load through ONNX Runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handocr.datasets import DatasetFolder
from handocr.schema import ModelInfo

pytest.importorskip("torch")

SHARED_HOOKER = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real" / "hooker"


@pytest.fixture(scope="module")
def two_pages():
    if not SHARED_HOOKER.is_dir():
        pytest.skip("../shared/data/real is not beside the checkout")
    return list(DatasetFolder(SHARED_HOOKER).pages("train"))[:2]


def test_recognizer_trains_exports_and_runs(tmp_path, two_pages):
    from handocr.recognition.ctc_onnx import CtcOnnxRecognizer
    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer, export_recognizer

    config = RecognizerTrainConfig(out_dir=tmp_path / "rec", max_steps=3, batch=4, holdout_fraction=0.5, epochs=1)
    trainer = RecognizerTrainer(two_pages, config)
    best = trainer.train()
    assert best.is_file() and trainer.step == 3
    resumed = RecognizerTrainer(two_pages, config)
    assert resumed.resume() and resumed.step == 3
    onnx_path = export_recognizer(best, tmp_path / "model" / "model.onnx")
    recognizer = CtcOnnxRecognizer(onnx_path, ModelInfo(name="smoke", version="0"), threads=1)
    crops = [np.full((40, 200), 255, np.uint8), np.full((30, 90), 200, np.uint8), np.full((50, 400), 90, np.uint8)]
    for batch in (crops, crops[:1]):  # exported with batch 2: other batch sizes must work too
        results = recognizer.recognize(batch)
        assert len(results) == len(batch) and all(0.0 <= r.confidence <= 1.0 for r in results)


def test_detector_trains_and_exports(tmp_path, two_pages, monkeypatch):
    pytest.importorskip("ultralytics")
    monkeypatch.chdir(tmp_path)
    from handocr.detection.boxes import letterbox
    from handocr.detection.yolo_onnx import YoloOnnxDetector
    from handocr.training.detector import DetectorTrainConfig, export_detector, train_detector, write_yolo_dataset

    data_yaml = write_yolo_dataset(two_pages, tmp_path / "data", holdout_fraction=0.5, seed=0)
    labels = sorted((tmp_path / "data" / "labels").rglob("*.txt"))
    assert len(labels) == 2 and all(len(p.read_text().splitlines()) > 5 for p in labels)
    config = DetectorTrainConfig(out_dir=tmp_path / "det", imgsz=128, epochs=1, batch=2)
    best = train_detector(data_yaml, config)
    beside = best.with_suffix(".onnx")
    beside.write_bytes(b"shipped model")  # as models/line-detector/model.onnx sits beside model.pt
    onnx_path = export_detector(best, tmp_path / "model" / "model.onnx", imgsz=128)
    assert beside.read_bytes() == b"shipped model"
    assert json.loads(onnx_path.with_suffix(".train.json").read_text())["imgsz"] == 128
    detector = YoloOnnxDetector(onnx_path, ModelInfo(name="smoke", version="0"), threads=1, imgsz=128)
    assert (detector.size, detector.stride) == (128, 32)  # dynamic: the page's own shape, padded to 32
    canvas, _ = letterbox(np.full((300, 200, 3), 255, np.uint8), detector.size, stride=detector.stride)
    assert canvas.shape == (128, 96, 3)
    assert isinstance(detector.detect(np.full((300, 200, 3), 255, np.uint8)), list)
    square = export_detector(best, tmp_path / "square" / "model.onnx", imgsz=128, dynamic=False)
    detector = YoloOnnxDetector(square, ModelInfo(name="smoke", version="0"), threads=1, imgsz=640)
    assert (detector.size, detector.stride) == (128, 0)  # a fixed input wins over model.json's imgsz
    assert isinstance(detector.detect(np.full((300, 200, 3), 255, np.uint8)), list)


def test_a_weight_average_is_kept_measured_checkpointed_resumed_and_exported(tmp_path, two_pages):
    import torch

    from handocr.training.finetune import read_weights
    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer

    config = RecognizerTrainConfig(
        out_dir=tmp_path / "ema", max_steps=4, batch=4, holdout_fraction=0.5, epochs=1, ema_decay=0.5
    )
    trainer = RecognizerTrainer(two_pages, config)
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    raw, ema = trainer.model.state_dict(), trainer.ema_model.state_dict()
    name = next(k for k, v in raw.items() if v.dtype.is_floating_point and not torch.equal(v, start[k]))
    # decay min(0.5, (1 + n) / (10 + n)): 0.1, 0.167, 0.25 of the last average, the rest the step's weights
    assert not torch.equal(ema[name], raw[name]) and not torch.equal(ema[name], start[name])
    assert trainer.ema_updates == trainer.step >= 2
    saved = torch.load(tmp_path / "ema" / "last.ckpt", weights_only=False)
    assert torch.equal(saved["ema"][name], ema[name]) and torch.equal(saved["model"][name], raw[name])
    assert torch.equal(read_weights(tmp_path / "ema" / "last.ckpt").state[name], ema[name])  # exports read it
    resumed = RecognizerTrainer(two_pages, config)
    assert resumed.resume() and resumed.ema_updates == trainer.step
    assert torch.equal(resumed.ema_model.state_dict()[name], ema[name])
    assert torch.equal(resumed.model.state_dict()[name], raw[name])
    with torch.no_grad():
        for value in resumed.ema_model.parameters():
            value.zero_()
        for value in resumed.model.parameters():
            value.fill_(1.0)
    resumed.ema_updates = 100  # past the warm-up: the decay is the configured 0.5
    resumed._update_ema()
    assert all(torch.allclose(v, torch.full_like(v, 0.5)) for v in resumed.ema_model.parameters())


def test_without_a_weight_average_checkpoints_hold_none(tmp_path, two_pages):
    import torch

    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer

    config = RecognizerTrainConfig(out_dir=tmp_path / "plain", max_steps=2, batch=4, holdout_fraction=0.5, epochs=1)
    trainer = RecognizerTrainer(two_pages, config)
    trainer.train()
    assert trainer.ema_model is None and "ema" not in torch.load(tmp_path / "plain" / "last.ckpt", weights_only=False)
