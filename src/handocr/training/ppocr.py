"""A pretrained starting point for the recognizer: PP-OCRv6's line recognizer, made trainable in torch.

The ``rapidocr`` wheel (PyPI, Apache-2.0) ships PaddleOCR's PP-OCRv6 small line recognizer as an
ONNX file, trained by Baidu on a large printed and handwritten corpus. This module converts that
graph to torch (``onnx2torch``), turns its constant weights into trainable parameters, keeps only
the classifier columns of our charset, and wraps it to take our line input, so that it can be
fine-tuned on handwriting like the compact CRNN. Nothing is downloaded: the file comes with the
package. Only training needs this (``handocr[train]``); the exported ONNX model runs alone.

Input ``(N, 1, 48, W)`` float in [0, 1], ink high (see :mod:`handocr.recognition.preprocess`);
output ``(N, W/8, C)`` logits, class 0 the CTC blank. A :class:`PpOcrShape` other than the default
edits the graph before the conversion (fewer rows, the last stages at half the columns, more CTC
frames a column: ``ppocrv6-lite`` in :mod:`handocr.training.architectures`), and the export makes
the same edits, so the exported network is still PP-OCR's own graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from handocr.errors import ModelNotFound
from handocr.recognition.charset import Charset
from handocr.training.architectures import PpOcrShape
from handocr.training.graph_simplify import attribute_owner, graph_attribute, simplify
from handocr.training.narrow import HiddenPair, hidden_pairs, narrow_graph

ARCHITECTURE = "ppocrv6-small"
SOURCE_FILE = "PP-OCRv6_rec_small.onnx"
PPOCR_SHAPE = PpOcrShape()  # PP-OCR's graph as it is


def source_path() -> Path:
    """The PP-OCRv6 small recognizer ONNX inside the installed ``rapidocr`` package."""
    try:
        import rapidocr
    except ImportError as exc:
        raise ModelNotFound("the PP-OCRv6 starting point needs the 'rapidocr' package (handocr[train])") from exc
    path = Path(rapidocr.__file__).parent / "models" / SOURCE_FILE
    if not path.is_file():
        raise ModelNotFound(f"{path} is missing: this rapidocr version does not ship {SOURCE_FILE}")
    return path


def _load_graph(path: Path, shape: PpOcrShape = PPOCR_SHAPE):
    """The ONNX graph with explicit padding (onnx2torch reads no ``SAME_UPPER``), a logits output
    (the final Softmax dropped), edited to ``shape`` (:func:`_reshape_graph`), and the PP-OCR
    dictionary read from its metadata."""
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        auto_pad = next((a for a in node.attribute if a.name == "auto_pad"), None)
        if auto_pad is None or auto_pad.s in (b"NOTSET", b"VALID"):
            continue
        strides = _ints(node, "strides", [1, 1])
        if auto_pad.s != b"SAME_UPPER" or any(s != 1 for s in strides):
            raise ValueError(f"{node.name}: unsupported padding {auto_pad.s!r} with strides {strides}")
        kernel = _ints(node, "kernel_shape")
        node.attribute.remove(auto_pad)
        _set_ints(node, "pads", [(k - 1) // 2 for k in kernel] + [(k - 1) - (k - 1) // 2 for k in kernel])
    last = model.graph.node[-1]
    if last.op_type == "Softmax":
        logits = last.input[0]
        model.graph.node.remove(last)
        output = model.graph.output[0]
        output.name = logits
    _reshape_graph(model.graph, shape)
    meta = {p.key: p.value for p in model.metadata_props}
    dictionary = meta["character"].split("\n")
    return model, dictionary


def _reshape_graph(graph, shape: PpOcrShape) -> None:
    """Edit PP-OCR's graph in place to read ``shape.line_height`` rows, with
    ``shape.late_column_stride`` 2 to halve the columns where the third stage halves the rows, and
    with ``shape.hidden_fraction`` below 1 to keep fewer hidden channels (:func:`narrow_graph`).

    PP-OCR halves the rows only (stride (2, 1)) at the opening of its last two stages, and its
    average pooling in front of the neck folds the last rows into one and halves the columns
    (kernel and stride (3, 2) at 48 rows). The frames a column (``frames_per_column``) are not here:
    they are a layer of their own (:class:`FrameSplit`)."""
    if shape.line_height % 16:
        raise ValueError(f"a PP-OCR line height must be a multiple of 16, not {shape.line_height}")
    if shape.late_column_stride not in (1, 2):
        raise ValueError(f"late_column_stride must be 1 or 2, not {shape.late_column_stride}")
    if not 0 < shape.hidden_fraction <= 1:
        raise ValueError(f"hidden_fraction must be in (0, 1], not {shape.hidden_fraction}")

    row_only = [n for n in graph.node if n.op_type == "Conv" and _ints(n, "strides", [1, 1]) == [2, 1]]
    pools = [n for n in graph.node if n.op_type == "AveragePool"]
    if len(row_only) != 2 or len(pools) != 1:
        raise ValueError("unexpected PP-OCR graph: not two row-only downsampling convolutions and one pooling")
    if shape.late_column_stride == 2:
        _set_ints(row_only[0], "strides", [2, 2])
    pool = [shape.line_height // 16, 2 // shape.late_column_stride]
    _set_ints(pools[0], "kernel_shape", pool)
    _set_ints(pools[0], "strides", pool)
    if shape.hidden_fraction < 1:
        narrow_graph(graph, shape.hidden_fraction)


def _ints(node, name: str, default: list[int] | None = None) -> list[int]:
    """The integers of ONNX ``node``'s attribute ``name``; ``default`` when it has none."""
    found = next((list(a.ints) for a in node.attribute if a.name == name), default)
    if found is None:
        raise ValueError(f"{node.name}: no {name} attribute")
    return found


def _set_ints(node, name: str, values: list[int]) -> None:
    """Give ONNX ``node`` the attribute ``name`` = ``values``, in place of any it had."""
    from onnx import helper

    for attribute in [a for a in node.attribute if a.name == name]:
        node.attribute.remove(attribute)
    node.attribute.append(helper.make_attribute(name, values))


class FrameSplit(nn.Module):
    """Splits each column's features ``(N, T, F)`` into ``frames`` columns ``(N, T * frames, F)`` by
    a learned linear map, so that the classifier behind emits ``frames`` CTC frames a column.
    Starts as copies: each new column is the old one, and the network reads as before the split."""

    def __init__(self, features: int, frames: int) -> None:
        super().__init__()
        self.frames = frames
        self.weight = nn.Parameter(torch.eye(features).repeat(1, frames))  # (F, frames * F), as PP-OCR's MatMul
        self.bias = nn.Parameter(torch.zeros(frames * features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, T, F)`` -> ``(N, T * frames, F)``."""
        n, t, f = x.shape
        return (x @ self.weight + self.bias).reshape(n, t * self.frames, f)


def _head_columns(charset: Charset, dictionary: list[str]) -> list[int | None]:
    """For the blank and each character of ``charset``, its column in the PP-OCR classifier.

    PP-OCR's classes are the blank, its dictionary, then the space; characters it lacks get ``None``.
    """
    index = {c: i + 1 for i, c in enumerate(dictionary)}
    index.setdefault(" ", len(dictionary) + 1)
    return [0] + [index.get(c) for c in charset.characters]


class PpOcrRecognizer(nn.Module):
    """PP-OCRv6 small (converted graph) behind our input convention, with a classifier for ``charset``."""

    def __init__(
        self,
        charset: Charset,
        source: Path | None = None,
        simplified: bool = True,
        channels_last: bool = True,
        shape: PpOcrShape = PPOCR_SHAPE,
    ) -> None:
        """``shape``: the variant (:class:`PpOcrShape`; PP-OCR's own graph by default).
        ``simplified``: rewrite the converted graph to compute the same in less time and memory
        (:mod:`handocr.training.graph_simplify`); ``channels_last``: keep the weights and feature maps
        channels-last in memory, which torch's CPU convolutions read faster. Both change how, not
        what, the network computes; off only to compare (``bench.train_step``)."""
        super().__init__()
        from onnx2torch import convert

        self.source = source or source_path()
        self.shape = shape
        graph, dictionary = _load_graph(self.source, shape)
        self.body = convert(graph, attach_onnx_mapping=True)
        self.onnx_names = _onnx_names(self.body, graph)
        keys = {name: key for key, name in self.onnx_names.items()}
        self.hidden_pairs = [  # state-dict keys of the pairs narrow_state may cut
            HiddenPair(keys[p.widen], keys[p.widen_bias], keys[p.narrow]) for p in hidden_pairs(graph.graph)
        ]
        _make_trainable(self.body)
        self._slice_head(_head_columns(charset, dictionary))
        if shape.frames_per_column > 1:
            self._split_frames(shape.frames_per_column)
        if simplified:
            simplify(self.body)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def classifier_keys(self) -> tuple[str, str]:
        """State-dict keys of the classifier weight ``(hidden, C)`` and bias ``(C,)``."""
        weight, bias = _head_targets(self.body)
        return f"body.{weight}", f"body.{bias}"

    def _slice_head(self, columns: list[int | None]) -> None:
        weight_target, bias_target = _head_targets(self.body)
        weight = (weight_target, graph_attribute(self.body, weight_target))
        bias = (bias_target, graph_attribute(self.body, bias_target))
        with torch.no_grad():
            known = [c for c in columns if c is not None]
            mean_w, mean_b = weight[1][:, known].mean(dim=1), bias[1][known].mean()
            new_w = torch.stack([weight[1][:, c] if c is not None else mean_w for c in columns], dim=1)
            new_b = torch.stack([bias[1][c] if c is not None else mean_b - 2.0 for c in columns])
        _replace(self.body, weight[0], nn.Parameter(new_w.contiguous()))
        _replace(self.body, bias[0], nn.Parameter(new_b.contiguous()))

    def _split_frames(self, frames: int) -> None:
        """Put a :class:`FrameSplit` (module ``frame_split``) in front of the classifier."""
        matmul, _ = _head_nodes(self.body)
        features = matmul.args[0]
        width = graph_attribute(self.body, matmul.args[1].target).shape[0]
        self.body.add_module("frame_split", FrameSplit(width, frames))
        with self.body.graph.inserting_before(matmul):
            split = self.body.graph.call_module("frame_split", (features,))
        matmul.replace_input_with(features, split)
        self.body.recompile()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, W // d, C)`` for ink-high images ``(N, 1, H, W)`` (``H`` the shape's line height,
        ``d`` its downsample, ``W`` a multiple of 8)."""
        x = (1.0 - 2.0 * images).expand(-1, 3, -1, -1)  # PP-OCR: RGB scaled to [-1, 1], paper bright
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.body(x)


def _constant_targets(graph_module: nn.Module) -> list[str]:
    """Attribute paths of the graph's constants (onnx2torch keeps ONNX initializers as attributes)."""
    return [node.target for node in graph_module.graph.nodes if node.op == "get_attr"]


def _head_nodes(graph_module: nn.Module):
    """The classifier's ``MatMul`` and ``Add`` nodes: the graph ends ``MatMul(x, W) + b``."""
    node = next(n for n in graph_module.graph.nodes if n.op == "output").args[0]
    while node.op == "call_module" and node.target.startswith("Identity"):
        node = node.args[0]
    add = node
    matmul = add.args[0]
    if not (add.target.startswith("Add") and matmul.target.startswith("MatMul")):
        raise ValueError("unexpected end of the PP-OCR graph: no MatMul + Add classifier")
    return matmul, add


def _head_targets(graph_module: nn.Module) -> tuple[str, str]:
    """Attribute paths of the classifier's weight and bias."""
    matmul, add = _head_nodes(graph_module)
    return matmul.args[1].target, add.args[1].target


def _replace(module: nn.Module, target: str, value: nn.Parameter) -> None:
    owner, name = attribute_owner(module, target)
    if name in owner._buffers:
        del owner._buffers[name]
    if name in owner._parameters:
        del owner._parameters[name]
    owner.register_parameter(name, value)


def _make_trainable(graph_module: nn.Module) -> None:
    """Turn the graph's constant float weights (MatMul weights, biases, norm scales) into parameters.

    onnx2torch keeps initializers that feed generic ops as buffers; BatchNorm statistics stay buffers.
    """
    for target in _constant_targets(graph_module):
        tensor = graph_attribute(graph_module, target)
        if isinstance(tensor, nn.Parameter) or not torch.is_floating_point(tensor) or tensor.numel() < 2:
            continue
        _replace(graph_module, target, nn.Parameter(tensor.detach().clone()))


def _onnx_names(body: nn.Module, graph) -> dict[str, str]:
    """State-dict key (under ``body.``) -> name of the ONNX initializer it was converted from."""
    names: dict[str, str] = {}
    calls = [n for n in body.graph.nodes if n.op == "call_module"]
    if len(calls) != len(graph.graph.node):
        raise ValueError("the converted graph does not have one module per ONNX node")
    for call, node in zip(calls, graph.graph.node, strict=True):
        module = body.get_submodule(call.target)
        for sub_name, sub in module.named_modules():  # a Conv may sit in a Sequential behind its padding
            prefix = f"body.{call.target}" + (f".{sub_name}" if sub_name else "")
            if isinstance(sub, nn.Conv2d):
                names[f"{prefix}.weight"] = node.input[1]
                if len(node.input) > 2 and node.input[2]:
                    names[f"{prefix}.bias"] = node.input[2]
            elif isinstance(sub, nn.modules.batchnorm._BatchNorm):
                for key, name in zip(("weight", "bias", "running_mean", "running_var"), node.input[1:], strict=True):
                    names[f"{prefix}.{key}"] = name
        mapping = getattr(module, "onnx_mapping", None)
        if mapping is None:
            continue
        for arg, value_name in zip(call.args, mapping.inputs, strict=False):
            if getattr(arg, "op", None) == "get_attr":
                names[f"body.{arg.target}"] = value_name
    return names


def export_onnx(model: PpOcrRecognizer, target: Path) -> None:
    """Write ``model`` as ONNX: PP-OCR's own graph (which ONNX Runtime runs with any width), edited to
    the model's shape, with the fine-tuned weights written into its initializers, our input
    convention in front (``images (N, 1, H, W)``, ink high), the frame split (if any) in front of the
    classifier and a LogSoftmax behind."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph_model, _ = _load_graph(model.source, model.shape)
    graph = graph_model.graph
    state = model.state_dict()
    by_name = {init.name: i for i, init in enumerate(graph.initializer)}
    for key, onnx_name in model.onnx_names.items():
        array = state[key].detach().cpu().contiguous().numpy()  # weights may be channels-last
        old = graph.initializer[by_name[onnx_name]]
        graph.initializer[by_name[onnx_name]].CopyFrom(numpy_helper.from_array(array.astype(_dtype(old)), onnx_name))
    image_input = graph.input[0].name
    logits = graph.output[0].name
    scale = numpy_helper.from_array(_np_scalar(-2.0), "handocr_scale")
    one = numpy_helper.from_array(_np_scalar(1.0), "handocr_one")
    graph.initializer.extend([scale, one])
    front = [
        helper.make_node("Mul", ["images", "handocr_scale"], ["handocr_scaled"]),
        helper.make_node("Add", ["handocr_scaled", "handocr_one"], ["handocr_paper_bright"]),
        helper.make_node("Concat", ["handocr_paper_bright"] * 3, [image_input], axis=1),
    ]
    back = [helper.make_node("LogSoftmax", [logits], ["log_probs"], axis=-1)]
    if model.shape.frames_per_column > 1:
        _export_frame_split(graph, model, state)
    nodes = front + list(graph.node) + back
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:]
    height = model.shape.line_height
    graph.input.append(helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 1, height, "width"]))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, ["batch", "frames", None]))
    del graph.value_info[:]
    del graph_model.metadata_props[:]  # PP-OCR's 18,708-character dictionary: ours goes in instead
    onnx.checker.check_model(graph_model)
    onnx.save(graph_model, str(target))


def _export_frame_split(graph, model: PpOcrRecognizer, state: dict) -> None:
    """Insert the model's :class:`FrameSplit` (``MatMul``, ``Add``, ``Reshape``) in front of the
    classifier's ``MatMul`` in ``graph``, with the trained weights."""
    from onnx import helper, numpy_helper

    weight_key, _ = model.classifier_keys()
    classifier_weight = model.onnx_names[weight_key]
    index, matmul = next(
        (i, n) for i, n in enumerate(graph.node) if n.op_type == "MatMul" and n.input[1] == classifier_weight
    )
    weight = state["body.frame_split.weight"].detach().cpu().numpy()
    bias = state["body.frame_split.bias"].detach().cpu().numpy()
    shape = np.array([0, -1, weight.shape[0]], dtype=np.int64)  # 0: the batch, as it is
    graph.initializer.extend(
        [
            numpy_helper.from_array(weight, "handocr_split_weight"),
            numpy_helper.from_array(bias, "handocr_split_bias"),
            numpy_helper.from_array(shape, "handocr_split_shape"),
        ]
    )
    features = matmul.input[0]
    split = [
        helper.make_node("MatMul", [features, "handocr_split_weight"], ["handocr_split_mm"]),
        helper.make_node("Add", ["handocr_split_mm", "handocr_split_bias"], ["handocr_split_sum"]),
        helper.make_node("Reshape", ["handocr_split_sum", "handocr_split_shape"], ["handocr_split"]),
    ]
    matmul.input[0] = "handocr_split"
    for offset, node in enumerate(split):
        graph.node.insert(index + offset, node)


def _dtype(initializer):
    from onnx import helper

    return helper.tensor_dtype_to_np_dtype(initializer.data_type)


def _np_scalar(value: float):
    return np.array(value, dtype=np.float32)
