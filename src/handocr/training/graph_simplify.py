"""Rewrites of an ``onnx2torch`` graph that compute the same function with fewer tensors.

``onnx2torch`` converts an ONNX graph node by node. For training that costs time and memory that
the function does not need: every ``Identity`` becomes a module that copies its input
(``OnnxCopyIdentity``), an exact GELU arrives as five elementwise operations (``x / √2``, ``erf``,
``+ 1``, ``× x``, ``× 0.5``), each keeping its output for the backward pass, and a convolution
whose bias PaddleOCR's exporter wrote as a separate ``Add`` writes its output twice. On
PP-OCRv6 small (:mod:`handocr.training.ppocr`) these rewrites take a training step to about half
the peak memory and, over a range of line widths, well under the time (``python -m
bench.train_step``; the recognizer's model card, "Training speed", has the figures).

Each rewrite matches its pattern exactly (constants included) and leaves anything else as it is;
no parameter or buffer is removed or renamed, so the state dict, checkpoints and the mapping to
the ONNX initializers stay valid. Only training needs this: exported models are PP-OCR's own graph.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, fx, nn

GELU_SCALE = math.sqrt(2.0)  # GELU(x) = x * 0.5 * (1 + erf(x / √2))


def simplify(graph_module: fx.GraphModule) -> dict[str, int]:
    """Apply every rewrite to ``graph_module`` in place; return how many places each changed."""
    counts = {
        "identities": drop_copy_identities(graph_module),
        "gelu": fuse_erf_gelu(graph_module),
        "conv_bias": fold_conv_bias(graph_module),
    }
    graph_module.graph.eliminate_dead_code()  # the constants' get_attr nodes (the tensors stay)
    graph_module.graph.lint()
    graph_module.recompile()
    return counts


def drop_copy_identities(graph_module: fx.GraphModule) -> int:
    """Remove each ``OnnxCopyIdentity`` (a copy of its input), its users reading the input itself.

    No converted module writes into its input, so the copies protect nothing."""
    count = 0
    for node in list(graph_module.graph.nodes):
        if _is_module(graph_module, node, "OnnxCopyIdentity"):
            node.replace_all_uses_with(node.args[0])
            graph_module.graph.erase_node(node)
            count += 1
    return count


def fuse_erf_gelu(graph_module: fx.GraphModule) -> int:
    """Replace each ``(x * (erf(x / √2) + 1)) * 0.5`` chain, whose intermediate values have no other
    users, with one exact ``F.gelu(x)``."""
    graph = graph_module.graph
    count = 0
    for erf in list(graph.nodes):
        if not _is_module(graph_module, erf, "OnnxErf"):
            continue
        div = erf.args[0]
        if not (_is_binary(graph_module, div, "div") and _is_constant(graph_module, div.args[1], GELU_SCALE)):
            continue
        x = div.args[0]
        add = _only_user(erf)
        if not (_is_binary(graph_module, add, "add") and _is_constant(graph_module, add.args[1], 1.0)):
            continue
        product = _only_user(add)
        if not (_is_binary(graph_module, product, "mul") and set(product.args) == {x, add}):
            continue
        half = _only_user(product)
        if not (_is_binary(graph_module, half, "mul") and _is_constant(graph_module, half.args[1], 0.5)):
            continue
        if len(div.users) != 1:
            continue
        with graph.inserting_before(half):
            gelu = graph.call_function(F.gelu, (x,))
        half.replace_all_uses_with(gelu)
        for node in (half, product, add, erf, div):
            graph.erase_node(node)
        count += 1
    return count


def fold_conv_bias(graph_module: fx.GraphModule) -> int:
    """Replace each bias-free ``Conv2d`` followed only by ``+ b`` (``b`` of shape ``(1, C, 1, 1)``)
    with one convolution that adds ``b`` itself; ``b`` stays where it is (a parameter of the
    graph's initializers), so the state dict keeps its keys."""
    graph = graph_module.graph
    count = 0
    for conv in list(graph.nodes):
        if not _is_module(graph_module, conv, "Conv2d"):
            continue
        module = graph_module.get_submodule(conv.target)
        add = _only_user(conv)
        if module.bias is not None or module.padding_mode != "zeros" or not _is_binary(graph_module, add, "add"):
            continue
        bias = add.args[1]
        if add.args[0] is not conv or getattr(bias, "op", None) != "get_attr":
            continue
        if tuple(graph_attribute(graph_module, bias.target).shape) != (1, module.out_channels, 1, 1):
            continue
        with graph.inserting_before(add):
            weight = graph.get_attr(f"{conv.target}.weight")
            flat = graph.call_method("flatten", (bias,))
            args = (conv.args[0], weight, flat, module.stride, module.padding, module.dilation, module.groups)
            fused = graph.call_function(F.conv2d, args)
        add.replace_all_uses_with(fused)
        graph.erase_node(add)
        graph.erase_node(conv)
        count += 1
    return count


def attribute_owner(graph_module: nn.Module, target: str) -> tuple[nn.Module, str]:
    """The submodule of ``graph_module`` that holds attribute path ``target``
    (``"initializers.onnx_initializer_9"``, a ``get_attr`` node's target), and the attribute's name there."""
    prefix, _, name = target.rpartition(".")
    return (graph_module.get_submodule(prefix) if prefix else graph_module), name


def graph_attribute(graph_module: nn.Module, target: str) -> Tensor:
    """The tensor at attribute path ``target`` of ``graph_module`` (see :func:`attribute_owner`)."""
    owner, name = attribute_owner(graph_module, target)
    return getattr(owner, name)


def _is_module(graph_module: fx.GraphModule, node: object, class_name: str) -> bool:
    return (
        isinstance(node, fx.Node)
        and node.op == "call_module"
        and type(graph_module.get_submodule(node.target)).__name__ == class_name
    )


def _is_binary(graph_module: fx.GraphModule, node: object, operation: str) -> bool:
    """Whether ``node`` is an ``onnx2torch`` binary operation computing ``operation`` (add, mul, div)."""
    if not _is_module(graph_module, node, "OnnxBinaryMathOperation"):
        return False
    function = graph_module.get_submodule(node.target).math_op_function
    return getattr(function, "__name__", "").lstrip("_").removeprefix("onnx_") == operation


def _is_constant(graph_module: fx.GraphModule, node: object, value: float) -> bool:
    """Whether ``node`` reads a one-element tensor equal to ``value`` (to float32 precision)."""
    if not isinstance(node, fx.Node) or node.op != "get_attr":
        return False
    tensor = graph_attribute(graph_module, node.target)
    return tensor.numel() == 1 and math.isclose(float(tensor), value, rel_tol=1e-6)


def _only_user(node: fx.Node) -> fx.Node | None:
    users = list(node.users)
    return users[0] if len(users) == 1 else None
