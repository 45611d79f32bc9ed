"""The runtimes a model runs on: the choice (``auto``, ``onnxruntime``, ``openvino``) and OpenVINO's
session, which must read as ONNX Runtime does."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from handocr import runtime
from handocr.cli import main
from handocr.errors import RuntimeUnavailable
from handocr.evaluation.text_metrics import cer
from handocr.models import find_model, load_recognizer
from handocr.runtime import describe_session, make_session, model_metadata, runtime_choice

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "copiste_0212.jpg"
MEASURED = {"precision": "bf16"}  # a model.json's openvino entry


@pytest.fixture
def no_runtime_env(monkeypatch):
    monkeypatch.delenv("HANDOCR_RUNTIME", raising=False)


@pytest.mark.usefixtures("no_runtime_env")
@pytest.mark.parametrize(
    ("requested", "entry", "installed", "expected"),
    [
        (None, None, True, "onnxruntime"),  # auto: a model not measured on OpenVINO stays on ONNX Runtime
        (None, MEASURED, True, "openvino"),
        (None, MEASURED, False, "onnxruntime"),  # auto without OpenVINO installed
        ("auto", MEASURED, True, "openvino"),
        ("onnxruntime", MEASURED, True, "onnxruntime"),
        ("openvino", None, True, "openvino"),  # asked for: every model, measured or not
    ],
)
def test_the_runtime_follows_the_request_the_model_and_what_is_installed(
    monkeypatch, requested, entry, installed, expected
):
    monkeypatch.setattr(runtime, "openvino_installed", lambda: installed)
    assert runtime_choice(requested, entry) == expected


def test_the_environment_chooses_when_the_caller_does_not(monkeypatch):
    monkeypatch.setattr(runtime, "openvino_installed", lambda: True)
    monkeypatch.setenv("HANDOCR_RUNTIME", "onnxruntime")
    assert runtime_choice(None, MEASURED) == "onnxruntime"
    assert runtime_choice("openvino", MEASURED) == "openvino"  # the caller's word first


def test_an_unknown_or_missing_runtime_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HANDOCR_RUNTIME", "tensorrt")
    with pytest.raises(RuntimeUnavailable, match=r"unknown runtime 'tensorrt'.*auto, onnxruntime, openvino"):
        runtime_choice(None, None)
    monkeypatch.setattr(runtime, "openvino_installed", lambda: False)
    with pytest.raises(RuntimeUnavailable, match=r"pip install 'handocr\[openvino\]'"):
        runtime_choice("openvino", None)


def test_the_cli_reports_a_runtime_it_cannot_use_without_a_traceback(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(runtime, "openvino_installed", lambda: False)
    assert main(["read", str(EXAMPLE), "-o", str(tmp_path), "--runtime", "openvino"]) == 3
    assert "cannot load models:" in capsys.readouterr().err and not list(tmp_path.iterdir())
    monkeypatch.setenv("HANDOCR_RUNTIME", "tensorrt")
    assert main(["eval", "--data", str(tmp_path), "--split", "val"]) == 3
    assert "unknown runtime 'tensorrt'" in capsys.readouterr().err


# -- OpenVINO's session (the openvino extra; scripts/test.sh installs it) ------------------------

needs_openvino = pytest.mark.skipif(not runtime.openvino_installed(), reason="needs handocr[openvino]")


@needs_openvino
@pytest.mark.parametrize("name", ["line-recognizer", "line-recognizer-crnn", "line-detector"])
def test_openvino_in_float32_computes_what_onnx_runtime_does(name):
    path = find_model(name).onnx_path
    ours, theirs = make_session(path, 1, "openvino"), make_session(path, 1, "onnxruntime")
    assert describe_session(ours) == "openvino (f32)" and describe_session(theirs) == "onnxruntime"
    assert model_metadata(ours) == model_metadata(theirs)  # charset and geometry travel with the file
    (model_input,) = ours.get_inputs()
    assert model_input.name == theirs.get_inputs()[0].name == "images"
    assert model_input.shape[0] is None and model_input.shape[3] is None  # any batch, any width
    shape = (1, 3, 320, 480) if name == "line-detector" else (3, 1, model_input.shape[2], 296)
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    np.testing.assert_allclose(ours.run(None, {"images": x})[0], theirs.run(None, {"images": x})[0], atol=2e-3)


@needs_openvino
def test_threads_share_one_openvino_session():
    session = make_session(find_model("line-recognizer-crnn").onnx_path, 1, "openvino")
    inputs = [np.random.default_rng(seed).random((2, 1, 32, 160 + 32 * seed), dtype=np.float32) for seed in range(6)]
    alone = [session.run(None, {"images": x})[0] for x in inputs]
    together: list[np.ndarray | None] = [None] * len(inputs)

    def read(k: int) -> None:
        for _ in range(5):
            together[k] = session.run(None, {"images": inputs[k]})[0]

    workers = [threading.Thread(target=read, args=(k,)) for k in range(len(inputs))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a, b)


@needs_openvino
def test_bfloat16_reads_the_page_as_float32_does(tmp_path, monkeypatch):
    """The precision a model.json names is the one it runs at (float32 where the CPU has no
    bfloat16 units); on this page the text comes out nearly the same, and no further from the
    transcription. (With recognizer 0.7.1's case-sensitive LMs 4 of its 20 lines differ by a
    character or two, one of them read right only in bfloat16: lines are too coarse a measure.)"""
    from handocr.pipeline import Reader

    monkeypatch.setenv("HANDOCR_MODELS", str(tmp_path))
    folder = tmp_path / "measured"
    shutil.copytree(find_model("line-recognizer").folder, folder)
    settings = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**settings, "openvino": MEASURED}))
    monkeypatch.delenv("HANDOCR_RUNTIME", raising=False)
    measured = load_recognizer("measured", threads=1)
    import openvino

    bf16 = "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert describe_session(measured.session) == f"openvino ({'bf16' if bf16 else 'f32'})"
    reference = Reader.load(threads=1, runtime="onnxruntime")
    data = EXAMPLE.read_bytes()
    expected = [line.text for line in reference.read(data).pages[0].lines]
    read = [line.text for line in Reader(reference.detector, measured).read(data).pages[0].lines]
    assert len(expected) > 10 and len(read) == len(expected)
    assert cer(["\n".join(expected)], ["\n".join(read)]) < 0.01
    truth = [EXAMPLE.with_suffix(".gt.txt").read_text().strip()]
    assert cer(truth, ["\n".join(read)]) <= cer(truth, ["\n".join(expected)]) + 0.005


@needs_openvino
def test_an_unknown_precision_is_refused():
    with pytest.raises(RuntimeUnavailable, match="unknown OpenVINO precision 'int4'"):
        make_session(find_model("line-recognizer-crnn").onnx_path, 1, "openvino", {"precision": "int4"})


@needs_openvino
def test_lines_reach_openvino_in_widths_it_has_kernels_for():
    """On OpenVINO a batch's width is padded to a multiple of WIDTH_MULTIPLE (the shapes repeat, so
    its kernels are reused); on ONNX Runtime only to the network's downsampling. The padding is
    not read: each line keeps the frames of its own width."""
    from handocr.openvino_session import WIDTH_MULTIPLE

    crops = [np.full((40, width), 255, np.uint8) for width in (90, 233, 301, 517)]
    for crop in crops:
        crop[12:28, 5:-5:7] = 0  # ink strokes
    frames, shapes = {}, {}
    for name in ("onnxruntime", "openvino"):
        recognizer = load_recognizer("line-recognizer-crnn", threads=1, runtime=name)
        seen = shapes[name] = []
        run = recognizer.session.run
        recognizer.session.run = lambda names, feeds, run=run, seen=seen: (
            seen.append(feeds["images"].shape) or run(names, feeds)
        )
        frames[name] = [len(scores) for scores in recognizer.log_probs(crops)]
        assert recognizer.pad_multiple == (WIDTH_MULTIPLE if name == "openvino" else recognizer.downsample)
    assert shapes["openvino"] and all(shape[3] % WIDTH_MULTIPLE == 0 for shape in shapes["openvino"])
    assert not all(shape[3] % WIDTH_MULTIPLE == 0 for shape in shapes["onnxruntime"])
    assert frames["openvino"] == frames["onnxruntime"]


def test_the_service_will_not_start_on_a_runtime_it_cannot_use(monkeypatch):
    pytest.importorskip("fastapi")
    from handocr.service import ServiceConfigError
    from handocr.service.server import check_runtime

    monkeypatch.setenv("HANDOCR_RUNTIME", "tensorrt")
    with pytest.raises(ServiceConfigError, match="HANDOCR_RUNTIME: unknown runtime 'tensorrt'"):
        check_runtime()
    monkeypatch.setenv("HANDOCR_RUNTIME", "openvino")
    monkeypatch.setattr(runtime, "openvino_installed", lambda: False)
    with pytest.raises(ServiceConfigError, match=r"HANDOCR_RUNTIME: .*pip install 'handocr\[openvino\]'"):
        check_runtime()
    monkeypatch.setenv("HANDOCR_RUNTIME", "auto")
    check_runtime()  # auto falls back to ONNX Runtime


@needs_openvino
def test_load_recognizer_takes_openvino_settings_in_place_of_the_model_json_ones():
    import openvino

    bf16 = "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert find_model("line-recognizer-lite").settings["openvino"] == {"precision": "bf16"}
    shipped = load_recognizer("line-recognizer-lite", threads=1, runtime="openvino")
    chosen = load_recognizer("line-recognizer-lite", threads=1, runtime="openvino", openvino={"precision": "f32"})
    assert describe_session(shipped.session) == f"openvino ({'bf16' if bf16 else 'f32'})"
    assert describe_session(chosen.session) == "openvino (f32)"
    assert chosen.pad_multiple == shipped.pad_multiple  # OpenVINO's width multiple, whatever the precision
