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


def _ink(batch: int, width: int, seed: int = 0, height: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, 1, height, width), dtype=np.float32)


def _export_matches_torch(model, tmp_path: Path, height: int, downsample: int) -> np.ndarray:
    """Export a copy of ``model`` with every weight nudged (as training moves them), check that ONNX
    Runtime reads two batch sizes and widths as torch does, and return the last output."""
    from handocr.training.ppocr import export_onnx

    tuned = type(model)(Charset("abcdefgh ?¡"), shape=model.shape)
    tuned.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    tuned.eval()
    export_onnx(tuned, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    for batch, width in ((1, 64), (3, 400)):
        ink = _ink(batch, width, seed=width, height=height)
        exported = session.run(None, {"images": ink})[0]
        with torch.no_grad():
            expected = torch.log_softmax(tuned(torch.from_numpy(ink)), dim=-1).numpy()
        assert exported.shape == (batch, width // downsample, 12)
        np.testing.assert_allclose(exported, expected, atol=5e-3)
    return exported


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
    _export_matches_torch(model, tmp_path, height=48, downsample=8)


def _variant_from(parent, name: str):
    """The PP-OCR variant ``name`` started from ``parent``'s weights, as ``--from ... --arch NAME`` starts it."""
    from handocr.training.architectures import get_architecture
    from handocr.training.grow import reshape_ppocr_state

    charset = Charset("abcdefgh ?¡")
    variant = get_architecture(name).build(charset)
    variant.load_state_dict(reshape_ppocr_state(parent.state_dict(), name, charset))
    return variant.eval()


@pytest.fixture(scope="module")
def lite(model):
    """The ppocrv6-lite variant started from ``model``'s weights."""
    return _variant_from(model, "ppocrv6-lite")


def test_the_lite_variant_reads_32_rows_into_a_frame_every_4_columns_from_the_same_weights(model, lite):
    from handocr.training.architectures import PPOCR_V6_LITE

    assert (PPOCR_V6_LITE.line_height, PPOCR_V6_LITE.downsample) == (32, 4)
    shape = PPOCR_V6_LITE.ppocr_shape
    assert (shape.line_height, shape.downsample) == (PPOCR_V6_LITE.line_height, PPOCR_V6_LITE.downsample)
    parent, own = model.state_dict(), lite.state_dict()
    assert set(own) - set(parent) == {"body.frame_split.weight", "body.frame_split.bias"}
    assert all(torch.equal(own[key], value) for key, value in parent.items())
    ink = torch.from_numpy(_ink(2, 200, seed=1, height=32))
    with torch.no_grad():
        logits = lite(ink)
    assert logits.shape == (2, 50, 12)
    torch.testing.assert_close(logits[:, 0::2], logits[:, 1::2])  # the split starts as copies
    with pytest.raises(RuntimeError):
        model(ink)  # PP-OCR's pooling folds 3 rows: it cannot read lines cut for the variant


def test_the_lite_variant_exports_its_own_graph_with_the_trained_split(lite, tmp_path):
    exported = _export_matches_torch(lite, tmp_path, height=32, downsample=4)
    assert not np.allclose(exported[:, 0::2], exported[:, 1::2], atol=1e-3)  # the trained split tells frames apart


def test_the_lite_variant_costs_about_a_quarter_of_the_macs_of_a_line(model, lite, tmp_path):
    from bench.network_cost import MacCounter

    from handocr.training.ppocr import export_onnx

    export_onnx(model, tmp_path / "small.onnx")
    export_onnx(lite, tmp_path / "lite.onnx")
    small = sum(MacCounter(tmp_path / "small.onnx").line(48, 720).values())
    cheap = sum(MacCounter(tmp_path / "lite.onnx").line(32, 480).values())  # the same line at 32 rows
    assert 0.2 < cheap / small < 0.33


@pytest.fixture(scope="module")
def slim(lite):
    """The ppocrv6-slim variant started from ``lite``'s weights."""
    return _variant_from(lite, "ppocrv6-slim")


def test_the_graph_has_eleven_widening_and_narrowing_pairs():
    import onnx

    from handocr.training.narrow import hidden_pairs
    from handocr.training.ppocr import source_path

    graph = onnx.load(str(source_path())).graph
    dims = {i.name: list(i.dims) for i in graph.initializer}
    pairs = hidden_pairs(graph)
    assert len(pairs) == 11
    for pair in pairs:
        hidden, channels = dims[pair.widen][:2]
        assert hidden == 2 * channels
        assert dims[pair.widen_bias] == [1, hidden, 1, 1] and dims[pair.narrow] == [channels, hidden, 1, 1]


def test_the_slim_variant_is_the_lite_one_without_its_weakest_hidden_channels(lite, slim):
    """Every tensor is lite's but the pairs', which keep half their hidden channels: the same rows of
    all three tensors, so slim computes what lite computes with the other channels' outputs unused."""
    pairs = {key for pair in slim.hidden_pairs for key in (pair.widen, pair.widen_bias, pair.narrow)}
    own, parent = slim.state_dict(), lite.state_dict()
    assert own.keys() == parent.keys() and len(pairs) == 33
    assert all(torch.equal(own[key], parent[key]) for key in own if key not in pairs)
    unused = {key: value.clone() for key, value in parent.items()}
    for pair in slim.hidden_pairs:
        full, kept = parent[pair.widen].flatten(1), own[pair.widen].flatten(1)
        assert kept.shape[0] == full.shape[0] // 2
        chosen = [int(torch.nonzero((full == row).all(dim=1))[0]) for row in kept]
        assert chosen == sorted(chosen)
        assert torch.equal(own[pair.widen_bias], parent[pair.widen_bias][:, chosen])
        assert torch.equal(own[pair.narrow], parent[pair.narrow][:, chosen])
        dropped = sorted(set(range(full.shape[0])) - set(chosen))
        unused[pair.narrow][:, dropped] = 0
    reference = type(lite)(Charset("abcdefgh ?¡"), shape=lite.shape).eval()
    reference.load_state_dict(unused)
    ink = torch.from_numpy(_ink(2, 160, seed=2, height=32))
    with torch.no_grad():
        torch.testing.assert_close(slim(ink), reference(ink), atol=1e-4, rtol=1e-4)


def test_the_slim_variant_exports_and_costs_about_two_thirds_of_the_lite_macs(lite, slim, tmp_path):
    from bench.network_cost import MacCounter

    from handocr.training.ppocr import export_onnx

    _export_matches_torch(slim, tmp_path, height=32, downsample=4)
    export_onnx(lite, tmp_path / "lite.onnx")
    ratio = sum(MacCounter(tmp_path / "model.onnx").line(32, 480).values()) / sum(
        MacCounter(tmp_path / "lite.onnx").line(32, 480).values()
    )
    assert 0.6 < ratio < 0.72


def test_hidden_channels_are_only_ever_cut(slim, lite):
    from handocr.training.architectures import PpOcrShape
    from handocr.training.narrow import narrow_state
    from handocr.training.ppocr import _load_graph, source_path

    wide = {key: value.shape for key, value in lite.state_dict().items()}
    with pytest.raises(ValueError, match="cannot grow"):
        narrow_state(slim.state_dict(), slim.hidden_pairs, wide)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="hidden_fraction"):
            _load_graph(source_path(), PpOcrShape(line_height=32, hidden_fraction=bad))


def test_graph_edits_check_the_line_height():
    from handocr.training.architectures import PpOcrShape
    from handocr.training.ppocr import _load_graph, source_path

    graph, _ = _load_graph(source_path(), PpOcrShape(line_height=32, late_column_stride=2))
    pool = next(n for n in graph.graph.node if n.op_type == "AveragePool")
    assert [list(a.ints) for a in pool.attribute if a.name in ("kernel_shape", "strides")] == [[2, 1], [2, 1]]
    for bad in (PpOcrShape(line_height=40), PpOcrShape(late_column_stride=3)):
        with pytest.raises(ValueError):
            _load_graph(source_path(), bad)


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
