"""Rewrites of onnx2torch graphs (handocr.training.graph_simplify): the same function, fewer tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx2torch")

import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

from handocr.training.graph_simplify import simplify


def _scalar(name: str, value: float):
    return numpy_helper.from_array(np.array(value, dtype=np.float32), name)


def _gelu_nodes(x: str, out: str, prefix: str, half: str) -> list:
    """``x * (erf(x / √2) + 1) * <half>`` as PaddleOCR's exporter writes an exact GELU."""
    return [
        helper.make_node("Div", [x, "sqrt2"], [f"{prefix}_div"]),
        helper.make_node("Erf", [f"{prefix}_div"], [f"{prefix}_erf"]),
        helper.make_node("Add", [f"{prefix}_erf", "one"], [f"{prefix}_add"]),
        helper.make_node("Mul", [x, f"{prefix}_add"], [f"{prefix}_mul"]),
        helper.make_node("Mul", [f"{prefix}_mul", half], [out]),
    ]


def _toy_model() -> onnx.ModelProto:
    """Conv -> +bias -> Identity -> GELU (fusable); the same with 0.4 for 0.5 (not a GELU); a conv
    whose output is also read elsewhere (its bias cannot be folded in)."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(size=(4, 2, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(size=(1, 4, 1, 1)).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(size=(4, 4, 1, 1)).astype(np.float32), "w2"),
        numpy_helper.from_array(rng.normal(size=(1, 4, 1, 1)).astype(np.float32), "b2"),
        _scalar("sqrt2", math.sqrt(2.0)),
        _scalar("one", 1.0),
        _scalar("half", 0.5),
        _scalar("not_half", 0.4),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c1", "b1"], ["a1"]),
        helper.make_node("Identity", ["a1"], ["i1"]),
        *_gelu_nodes("i1", "g1", "first", "half"),
        *_gelu_nodes("g1", "g2", "second", "not_half"),
        helper.make_node("Conv", ["g2", "w2"], ["c2"]),
        helper.make_node("Add", ["c2", "b2"], ["a2"]),
        helper.make_node("Add", ["a2", "c2"], ["y"]),  # c2 read twice: its bias stays an Add
    ]
    graph = helper.make_graph(
        nodes,
        "toy",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5, 7])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _call_module_types(graph_module) -> set[str]:
    return {
        type(graph_module.get_submodule(n.target)).__name__ for n in graph_module.graph.nodes if n.op == "call_module"
    }


def test_each_rewrite_fires_only_on_its_exact_pattern_and_keeps_the_function():
    from onnx2torch import convert

    model = _toy_model()
    body = convert(model)
    keys = list(body.state_dict())
    x = np.random.default_rng(1).normal(size=(1, 2, 5, 7)).astype(np.float32)
    reference = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})

    counts = simplify(body)

    assert counts == {"identities": 1, "gelu": 1, "conv_bias": 1}  # not the 0.4 chain, not the shared conv
    assert "OnnxCopyIdentity" not in _call_module_types(body)
    assert "OnnxErf" in _call_module_types(body)  # the chain with 0.4 is left as it was
    assert list(body.state_dict()) == keys
    with torch.no_grad():
        np.testing.assert_allclose(body(torch.from_numpy(x)).numpy(), reference[0], rtol=1e-5, atol=1e-5)


def test_ppocr_as_trained_computes_the_converted_function_and_gradients():
    pytest.importorskip("rapidocr")
    from handocr.recognition.charset import Charset
    from handocr.training.ppocr import PpOcrRecognizer

    charset = Charset("abcdefgh ?")
    plain = PpOcrRecognizer(charset, simplified=False, channels_last=False)
    simple = PpOcrRecognizer(charset)  # as trained: simplified, channels-last
    assert list(plain.state_dict()) == list(simple.state_dict())  # checkpoints load either way
    simple.load_state_dict(plain.state_dict())
    assert not {"OnnxCopyIdentity", "OnnxErf"} & _call_module_types(simple.body)
    x = torch.from_numpy(np.random.default_rng(2).random((2, 1, 48, 96), dtype=np.float32))
    for mode in ("eval", "train"):
        plain.train(mode == "train")
        simple.train(mode == "train")
        expected, got = plain(x), simple(x)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
        expected.logsumexp(-1).mean().backward()
        got.logsumexp(-1).mean().backward()
        for (name, p), q in zip(plain.named_parameters(), simple.parameters(), strict=True):
            scale = float(p.grad.abs().max())
            if scale > 1e-5:  # a bias just before a BatchNorm in training has a gradient of 0 (float noise)
                torch.testing.assert_close(q.grad, p.grad, rtol=0, atol=1e-3 * scale, msg=name)
        plain.zero_grad()
        simple.zero_grad()
