"""Fewer hidden channels in PP-OCR's blocks: the ``hidden_fraction`` of :class:`PpOcrShape`.

Most of PP-OCRv6 small's multiply-accumulates are in pairs of pointwise convolutions inside its
blocks: the first widens the features (C to 2C channels), a GELU follows, the second narrows them
back (2C to C) before the block's residual sum. The channels between the two are the pair's own:
keeping fewer of them changes the shape of no other layer. :func:`narrow_graph` cuts each pair of
the ONNX graph to the first ``hidden_fraction`` of its hidden channels (shapes; the values are
replaced by trained ones); :func:`narrow_state` chooses which channels a narrowed network keeps from
trained weights: those that carry the most (the largest product of the norms of their row in the
widening weight, bias included, and their column in the narrowing one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

PASSING = frozenset({"Identity", "Add", "Mul", "Div", "Erf"})  # the bias sum and GELU's five operations
MULTIPLE = 8  # hidden widths kept to multiples of 8 (vector widths of the CPU kernels)


@dataclass(frozen=True)
class HiddenPair:
    """The names of one pair's tensors: the widening convolution's weight ``(2C, C, 1, 1)`` and its
    bias ``(1, 2C, 1, 1)``, and the narrowing convolution's weight ``(C, 2C, 1, 1)`` (ONNX initializer
    names, or state-dict keys)."""

    widen: str
    widen_bias: str
    narrow: str


def hidden_pairs(graph) -> list[HiddenPair]:
    """The widening / narrowing pairs of an ONNX graph, in graph order: a pointwise convolution fed
    only through a bias sum and elementwise operations by another pointwise convolution that widens
    its input to the channels the first narrows from, nothing else reading what lies between."""
    initializers = {i.name: i for i in graph.initializer}
    producer = {output: index for index, node in enumerate(graph.node) for output in node.output}
    readers: dict[str, set[int]] = {}
    for index, node in enumerate(graph.node):
        for name in node.input:
            readers.setdefault(name, set()).add(index)
    for output in graph.output:
        readers.setdefault(output.name, set()).add(-1)  # read outside the graph
    pairs = []
    for index, node in enumerate(graph.node):
        if _pointwise(node, initializers):
            found = _widening(graph.node, index, producer, readers, initializers)
            if found is not None:
                pairs.append(found)
    return pairs


def _pointwise(node, initializers: Mapping) -> bool:
    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in initializers:
        return False
    group = next((a.i for a in node.attribute if a.name == "group"), 1)
    return group == 1 and list(initializers[node.input[1]].dims[2:]) == [1, 1]


def _widening(nodes, narrowing: int, producer: Mapping, readers: Mapping, initializers: Mapping) -> HiddenPair | None:
    """The pair that node ``narrowing`` closes, or ``None`` when its input is not one widening's alone."""
    narrow_weight = initializers[nodes[narrowing].input[1]]
    hidden = narrow_weight.dims[1]
    tensors, chain, walk, convolutions, biases = set(), {narrowing}, [nodes[narrowing].input[0]], [], []
    while walk:
        name = walk.pop()
        if name in tensors or name in initializers:
            continue
        if name not in producer:
            return None  # a graph input
        tensors.add(name)
        index = producer[name]
        chain.add(index)
        node = nodes[index]
        if node.op_type == "Conv":
            convolutions.append(node)
            continue
        if node.op_type not in PASSING:
            return None
        biases += [a for a in node.input if a in initializers and list(initializers[a].dims) == [1, hidden, 1, 1]]
        walk.extend(node.input)
    if any(not readers[name] <= chain for name in tensors):
        return None  # something outside the pair reads between its convolutions
    if len(convolutions) != 1 or len(biases) != 1 or not _pointwise(convolutions[0], initializers):
        return None
    widen_dims = list(initializers[convolutions[0].input[1]].dims)
    if widen_dims[:2] != [hidden, narrow_weight.dims[0]]:
        return None
    return HiddenPair(convolutions[0].input[1], biases[0], nodes[narrowing].input[1])


def kept_channels(hidden: int, fraction: float) -> int:
    """Hidden channels a pair of ``hidden`` keeps at ``fraction``: a multiple of :data:`MULTIPLE`."""
    return max(MULTIPLE, round(hidden * fraction / MULTIPLE) * MULTIPLE)


def narrow_graph(graph, fraction: float) -> int:
    """Cut every pair of ``graph`` (in place) to its first :func:`kept_channels` hidden channels;
    return how many pairs were cut. ``ValueError`` when the graph has none."""
    from onnx import numpy_helper

    pairs = hidden_pairs(graph)
    if not pairs:
        raise ValueError("no widening / narrowing convolution pairs in this graph")
    index = {init.name: i for i, init in enumerate(graph.initializer)}
    for pair in pairs:
        hidden = graph.initializer[index[pair.widen]].dims[0]
        keep = kept_channels(hidden, fraction)
        cuts = {pair.widen: np.s_[:keep], pair.widen_bias: np.s_[:, :keep], pair.narrow: np.s_[:, :keep]}
        for name, cut in cuts.items():
            array = numpy_helper.to_array(graph.initializer[index[name]])
            graph.initializer[index[name]].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array[cut]), name))
    return len(pairs)


def narrow_state(
    state: Mapping[str, torch.Tensor], pairs: list[HiddenPair], shapes: Mapping[str, torch.Size]
) -> dict[str, torch.Tensor]:
    """``state`` with each pair (its state-dict keys) cut to the hidden width ``shapes`` gives its
    widening weight, keeping the channels that carry the most; pairs already that wide, and every
    other tensor, are kept as they are. ``ValueError`` when a pair would have to grow."""
    out = dict(state)
    for pair in pairs:
        widen, bias, narrow = state[pair.widen], state[pair.widen_bias], state[pair.narrow]
        keep = shapes[pair.widen][0]
        if widen.shape[0] == keep:
            continue
        if widen.shape[0] < keep:
            raise ValueError(f"{pair.widen}: {widen.shape[0]} hidden channels cannot grow to {keep}")
        rows = torch.cat([widen.flatten(1), bias.reshape(-1, 1)], dim=1).norm(dim=1)
        columns = narrow.flatten(1).norm(dim=0)
        chosen = torch.topk(rows * columns, keep).indices.sort().values
        out[pair.widen] = widen[chosen].clone()
        out[pair.widen_bias] = bias[:, chosen].clone()
        out[pair.narrow] = narrow[:, chosen].clone()
    return out
