"""``handocr quantize recognizer``: a model folder with int8 convolutions that reads as the source does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from handocr.cli import main
from handocr.evaluation.text_metrics import edit_distance
from handocr.models import find_model, load_detector, load_recognizer
from handocr.pipeline import cut_line_crops

SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "copiste_0212.jpg"
pytestmark = pytest.mark.skipif(not SHARED_REAL.is_dir(), reason="no shared data")


def _quantize(source: str | Path, out: Path, *extra: str) -> int:
    argv = ["quantize", "recognizer", "--recognizer", str(source), "--out", str(out), "--threads", "1"]
    return main([*argv, "--data", str(SHARED_REAL / "copiste"), "--pages", "3", "--every", "1", *extra])


@pytest.fixture(scope="module")
def example_crops() -> list[np.ndarray]:
    image = Image.open(EXAMPLE)
    boxes = [d.box for d in load_detector(threads=1).detect(np.asarray(image.convert("RGB")))]
    return cut_line_crops(np.asarray(image.convert("L")), boxes, 4, 0.8)


@pytest.fixture(scope="module")
def float_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fast recognizer's folder with its float network (exported from its ``model.pt``)."""
    from handocr.training.recognizer import export_recognizer

    shipped = find_model("line-recognizer-fast")
    folder = tmp_path_factory.mktemp("float") / "fast-float"
    shutil.copytree(shipped.folder, folder)
    export_recognizer(shipped.folder / "model.pt", folder / "model.onnx")
    settings = {k: v for k, v in shipped.settings.items() if k != "int8"}
    (folder / "model.json").write_text(json.dumps(settings))
    return folder


@pytest.fixture(scope="module")
def quantized(float_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("int8") / "fast-int8"
    assert _quantize(float_source, out, "--version", "9.9.9") == 0
    return out


def test_the_folder_holds_an_int8_network_and_the_source_decoder(float_source: Path, quantized: Path) -> None:
    import onnx

    source = json.loads((float_source / "model.json").read_text())
    settings = json.loads((quantized / "model.json").read_text())
    assert settings["version"] == "9.9.9" and settings["name"] == source["name"]
    assert settings["int8"]["percentile"] == 99.99 and "[train]" in settings["int8"]["calibrated_on"]
    assert settings["int8"]["quantized"].startswith("Conv, Relu, MaxPool")
    assert {k: v for k, v in settings.items() if k not in ("version", "int8")} == {
        k: v for k, v in source.items() if k != "version"
    }
    assert {"char-lm.npz", "lexicon.txt.gz", "model.pt"} <= {p.name for p in quantized.iterdir()}
    assert not (quantized / "README.md").exists()  # the source's card does not describe this model
    model = onnx.load(str(quantized / "model.onnx"))
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Conv") == 5 and ops.count("QuantizeLinear") >= 5 and ops.count("LSTM") == 2
    metadata = {p.key: p.value for p in model.metadata_props}
    assert metadata["architecture"] == "crnn-wide" and "charset" in metadata


def test_onnx_runtime_runs_the_whole_convolutional_front_in_int8(quantized: Path, tmp_path: Path) -> None:
    """Each convolution, its ReLU and the pooling after it stay in bytes: the only conversions left
    are the image in, and the front's output and a weight out (as ONNX Runtime optimises the graph)."""
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    ort.InferenceSession(str(quantized / "model.onnx"), options, providers=["CPUExecutionProvider"])
    ops = [node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node]
    assert ops.count("QLinearConv") == 5 and ops.count("QuantizeLinear") == 1 and ops.count("DequantizeLinear") <= 2


def test_the_int8_recognizer_reads_lines_as_the_float_one(
    float_source: Path, quantized: Path, example_crops: list[np.ndarray]
) -> None:
    float_read = load_recognizer(float_source, threads=1).recognize(example_crops)
    int8_read = load_recognizer(quantized, threads=1).recognize(example_crops)
    reference = "\n".join(r.text for r in float_read)
    assert len(reference) > 300
    assert edit_distance(reference, "\n".join(r.text for r in int8_read)) / len(reference) < 0.05


def test_an_int8_source_is_quantized_again_from_its_float_weights(
    quantized: Path, tmp_path: Path, example_crops: list[np.ndarray]
) -> None:
    """As the shipped fast recognizer is reproduced: from the int8 folder, through its ``model.pt``."""
    again = tmp_path / "again"
    assert _quantize(quantized, again) == 0
    first, second = load_recognizer(quantized, threads=1), load_recognizer(again, threads=1)
    for a, b in zip(first.log_probs(example_crops[:6]), second.log_probs(example_crops[:6]), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_the_source_folder_is_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _quantize(find_model("line-recognizer-fast").folder, find_model("line-recognizer-fast").folder) == 2
    assert "another folder" in capsys.readouterr().err
    assert _quantize("line-detector", tmp_path / "x") == 2
    assert "only CTC recognizers" in capsys.readouterr().err
