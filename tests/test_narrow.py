"""Finding the widening / narrowing convolution pairs that ``hidden_fraction`` cuts."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _graph(extra_reader: bool = False, depthwise_widen: bool = False):
    """x (4 ch) -> Conv 1x1 to 8 -> + bias -> x * 0.5 -> Conv 1x1 to 4 -> y; optionally the hidden
    tensor is also a graph output, or the widening convolution is grouped."""
    rng = np.random.default_rng(0)
    widen = rng.standard_normal((8, 1 if depthwise_widen else 4, 1, 1)).astype(np.float32)
    initializers = [
        numpy_helper.from_array(widen, "widen"),
        numpy_helper.from_array(rng.standard_normal((1, 8, 1, 1)).astype(np.float32), "bias"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(rng.standard_normal((4, 8, 1, 1)).astype(np.float32), "narrow"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "widen"], ["wide"], group=4 if depthwise_widen else 1),
        helper.make_node("Add", ["wide", "bias"], ["biased"]),
        helper.make_node("Mul", ["biased", "half"], ["hidden"]),
        helper.make_node("Conv", ["hidden", "narrow"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 2, 2])]
    if extra_reader:
        outputs.append(helper.make_tensor_value_info("biased", TensorProto.FLOAT, [1, 8, 2, 2]))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2, 2])]
    return helper.make_graph(nodes, "pair", inputs, outputs, initializers)


def test_a_pair_is_found_and_cut_to_its_first_channels():
    from handocr.training.narrow import HiddenPair, hidden_pairs, narrow_graph

    graph = _graph()
    assert hidden_pairs(graph) == [HiddenPair("widen", "bias", "narrow")]
    assert narrow_graph(graph, 0.5) == 1
    dims = {i.name: list(i.dims) for i in graph.initializer}
    assert dims["widen"] == [8, 4, 1, 1] and dims["narrow"] == [4, 8, 1, 1]  # 8 is the fewest kept


def test_no_pair_where_others_read_between_or_the_widening_is_grouped():
    from handocr.training.narrow import hidden_pairs, narrow_graph

    assert hidden_pairs(_graph(extra_reader=True)) == []  # a graph output
    read_by_a_node = _graph()
    read_by_a_node.node.append(helper.make_node("Relu", ["biased"], ["elsewhere"]))
    assert hidden_pairs(read_by_a_node) == []
    assert hidden_pairs(_graph(depthwise_widen=True)) == []
    with pytest.raises(ValueError, match="no widening"):
        narrow_graph(read_by_a_node, 0.5)


def test_kept_channels_are_multiples_of_eight():
    from handocr.training.narrow import kept_channels

    assert [kept_channels(h, f) for h, f in ((192, 0.5), (384, 0.5), (768, 0.25), (192, 0.3), (8, 0.1))] == [
        96,
        192,
        192,
        56,
        8,
    ]
