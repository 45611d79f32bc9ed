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
    assert (
        settings["int8"]["quantized"].startswith("Conv, Relu, MaxPool")
        and "; LSTM (dynamic)" in settings["int8"]["quantized"]
    )
    assert {k: v for k, v in settings.items() if k not in ("version", "int8")} == {
        k: v for k, v in source.items() if k != "version"
    }
    assert "model.pt" in {p.name for p in quantized.iterdir()}  # the float weights, to quantize again
    from handocr.models import decoder_settings, find_model

    decoder = decoder_settings(find_model(quantized))  # the LM and lexicon the source's folder shares
    assert Path(decoder["lm"]).is_file() and Path(decoder["lexicon"]).is_file()
    assert not (quantized / "README.md").exists()  # the source's card does not describe this model
    model = onnx.load(str(quantized / "model.onnx"))
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Conv") == 5 and ops.count("QuantizeLinear") >= 5
    assert ops.count("DynamicQuantizeLSTM") == 2 and "LSTM" not in ops  # both LSTMs run on int8 weights
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


def test_the_calibration_holds_one_batch_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX Runtime's histogram calibrator keeps every intermediate tensor of the batches it is given
    in one call (11 GB for the fast recognizer's 552 crops): it must be given one batch a call."""
    from onnxruntime.quantization import calibrate

    batches_per_call: list[int] = []
    collect = calibrate.HistogramCalibrater.collect_data

    def counting_collect(self: calibrate.HistogramCalibrater, reader: calibrate.CalibrationDataReader) -> None:
        count = 0

        class Counting(calibrate.CalibrationDataReader):
            def get_next(self) -> dict | None:
                nonlocal count
                item = reader.get_next()
                count += item is not None
                return item

        collect(self, Counting())
        batches_per_call.append(count)

    monkeypatch.setattr(calibrate.HistogramCalibrater, "collect_data", counting_collect)
    assert _quantize(_opset11_recognizer(tmp_path / "tiny"), tmp_path / "tiny-int8") == 0
    assert len(batches_per_call) >= 3 and set(batches_per_call) == {1}


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


def test_a_model_onnx_runtime_cannot_load_is_not_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from handocr.training import quantize

    source = _opset11_recognizer(tmp_path / "tiny")
    monkeypatch.setattr(quantize, "MIN_OPSET", 0)  # no conversion: per-channel weights at opset 11 do not load
    assert _quantize(source, tmp_path / "tiny-int8") == 2
    assert "does not load in ONNX Runtime" in capsys.readouterr().err
    assert not (tmp_path / "tiny-int8" / "model.onnx").exists() and not (tmp_path / "tiny-int8" / "model.json").exists()


def test_the_source_folder_is_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _quantize(find_model("line-recognizer-fast").folder, find_model("line-recognizer-fast").folder) == 2
    assert "another folder" in capsys.readouterr().err
    assert _quantize("line-detector", tmp_path / "x") == 2
    assert "only CTC recognizers" in capsys.readouterr().err


def _opset11_recognizer(folder: Path) -> Path:
    """A tiny CTC recognizer exported at opset 11 (as PP-OCR's graph is): conv, ReLU, pooling, a
    conv that reads the whole height, log-softmax over 3 classes."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    weights = {
        "w1": rng.normal(size=(4, 1, 3, 3)),
        "b1": np.zeros(4),
        "w2": rng.normal(size=(3, 4, 8, 1)),
        "b2": np.zeros(3),
    }
    nodes = [
        helper.make_node("Conv", ["images", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"]),
        helper.make_node("Squeeze", ["c2"], ["s"], axes=[2]),
        helper.make_node("Transpose", ["s"], ["t"], perm=[0, 2, 1]),
        helper.make_node("LogSoftmax", ["t"], ["log_probs"], axis=2),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["n", 1, 32, "w"])],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, ["n", "t", 3])],
        [helper.make_tensor(k, TensorProto.FLOAT, v.shape, v.astype(np.float32).ravel()) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    helper.set_model_props(model, {"charset": json.dumps({"characters": "ab"}), "line_height": "32", "downsample": "4"})
    folder.mkdir(parents=True)
    onnx.save(model, str(folder / "model.onnx"))
    settings = {"name": "tiny", "version": "0.0.1", "file": "model.onnx", "kind": "recognizer", "backend": "ctc-onnx"}
    (folder / "model.json").write_text(json.dumps(settings))
    return folder


def test_a_graph_older_than_opset_13_is_converted_before_quantizing(tmp_path: Path) -> None:
    import onnx

    source = _opset11_recognizer(tmp_path / "tiny")
    assert _quantize(source, tmp_path / "tiny-int8") == 0
    model = onnx.load(str(tmp_path / "tiny-int8" / "model.onnx"))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 13
    assert [n.op_type for n in model.graph.node].count("QuantizeLinear") >= 2
    settings = json.loads((tmp_path / "tiny-int8" / "model.json").read_text())
    assert "LSTM" not in settings["int8"]["quantized"]  # it has none to quantize
    crops = [np.full((40, 200), 230, np.uint8)]
    crops[0][10:30, 20:180:9] = 20
    log_probs = load_recognizer(tmp_path / "tiny-int8", threads=1).log_probs(crops)[0]
    assert log_probs.shape[1] == 3 and np.allclose(np.exp(log_probs).sum(axis=1), 1, atol=1e-3)
