"""What a recognizer's network costs a line: multiply-accumulates (MACs), time, and their rate.

The time a CTC recognizer takes a line is mostly its network's, and a network's time is mostly its
MACs divided by the rate the runtime reaches on the machine. This benchmark counts the MACs of each
recognizer's ONNX network on the batches it really reads (ground-truth lines of ``val``, cut as the
pipeline cuts them, in chunks of ``--batch`` lines, grouped by width and padded as the recognizer
groups and pads them: :meth:`CtcOnnxRecognizer.network_batches`), times the same batches
(``session.run`` only, recognizers in turns, chunk by chunk, after ``--warmup`` untimed passes) and
divides. The last line says how many MACs a line a network could spend and still meet
``--target-ms`` a line at the best rate reached here: the budget of a student network for that
target.

MACs are counted from the shapes of a real run of each distinct input width (every node output
kept), so quantized graphs (QDQ convolutions, ``DynamicQuantizeLSTM``) count like float ones:
convolutions ``output elements x (input channels / groups) x kernel area``, matrix products
``output elements x inner dimension``, recurrent layers ``steps x batch x (weights + recurrent
weights)``. Elementwise work (activations, normalisation, additions) is not counted.

    python -m bench.network_cost --threads 2 \
        --recognizers line-recognizer@onnxruntime,line-recognizer@openvino,line-recognizer-fast

A recognizer is a model name or folder, with ``@runtime`` to run it on that runtime (else
``--runtime``).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    base_parser,
    load_pages,
    machine_description,
    markdown_table,
    output_stem,
    report,
    split_list,
    summarize,
    write_results,
)
from handocr.models import find_model, load_recognizer
from handocr.pipeline import ReadOptions, ground_truth_line_crops
from handocr.runtime import describe_session

CONV_OPS = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}  # op: index of its weight input
MATMUL_OPS = {"MatMul", "MatMulInteger", "Gemm", "FusedMatMul", "QLinearMatMul"}
RECURRENT_OPS = {"LSTM", "GRU", "RNN", "DynamicQuantizeLSTM"}  # inputs: X, W, R, ...
PASS_THROUGH_OPS = {"DequantizeLinear", "QuantizeLinear", "Cast", "Identity", "Transpose", "Reshape"}


class MacCounter:
    """Counts the MACs of an ONNX network for inputs ``(batch, 1, height, width)``, by op type.

    The shapes come from running the network once per distinct width with every node's output kept
    as a graph output (optimisations off, so that no node is fused away); a batch of ``n`` lines
    costs ``n`` times one line of its width.
    """

    def __init__(self, model_path: Path) -> None:
        import onnx
        import onnxruntime as ort

        model = onnx.load(str(model_path))
        graph = model.graph
        self.nodes = list(graph.node)
        self.initializers = {t.name: tuple(t.dims) for t in graph.initializer}
        self.constants = {
            n.output[0]: tuple(a.t.dims) for n in self.nodes if n.op_type == "Constant" for a in n.attribute
        }
        self.producers = {output: node for node in self.nodes for output in node.output}
        self.parameters = sum(math.prod(dims) for dims in self.initializers.values())
        names = [output for node in self.nodes for output in node.output if output]
        del graph.output[:]
        graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in names)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._names = names
        self._cache: dict[tuple[int, int], Counter] = {}

    def line(self, height: int, width: int) -> Counter:
        """MACs by op type for one line of ``height`` x ``width`` input pixels."""
        key = (height, width)
        if key not in self._cache:
            outputs = self._session.run(None, {self._input: np.zeros((1, 1, height, width), np.float32)})
            shapes = {name: tuple(np.shape(value)) for name, value in zip(self._names, outputs, strict=True)}
            self._cache[key] = self._count(shapes)
        return self._cache[key]

    def batch(self, batch: np.ndarray) -> Counter:
        """MACs by op type for a batch ``(n, 1, height, width)``."""
        n, _, height, width = batch.shape
        return Counter({op: n * macs for op, macs in self.line(height, width).items()})

    def _weight_shape(self, name: str, shapes: dict[str, tuple]) -> tuple:
        while name not in self.initializers and name not in self.constants:
            node = self.producers.get(name)
            if node is None or node.op_type not in PASS_THROUGH_OPS:
                return shapes.get(name, ())
            name = node.input[0]
        return self.initializers[name] if name in self.initializers else self.constants[name]

    def _count(self, shapes: dict[str, tuple]) -> Counter:
        macs: Counter = Counter()
        for node in self.nodes:
            op = node.op_type
            if op in CONV_OPS:
                weight = self._weight_shape(node.input[CONV_OPS[op]], shapes)
                macs[op] += math.prod(shapes[node.output[0]]) * math.prod(weight[1:])
            elif op in MATMUL_OPS:
                first = shapes[node.input[0]]
                transposed = op == "Gemm" and any(a.name == "transA" and a.i for a in node.attribute)
                inner = first[0] if transposed else first[-1]
                macs[op] += math.prod(shapes[node.output[0]]) * inner
            elif op in RECURRENT_OPS:
                steps, batch = shapes[node.input[0]][:2]
                weights = math.prod(self._weight_shape(node.input[1], shapes))
                recurrent = math.prod(self._weight_shape(node.input[2], shapes))
                macs[op] += steps * batch * (weights + recurrent)
        return macs


def measure(
    recognizers: dict[str, Any],
    counters: dict[str, MacCounter],
    crops: list[np.ndarray],
    batch: int,
    rounds: int,
    warmup: int = 1,
) -> dict[str, dict]:
    """MACs and network time of every chunk of ``batch`` crops for each recognizer, in turns, after
    ``warmup`` untimed passes (OpenVINO prepares its kernels the first time it meets a shape)."""
    chunks = [crops[start : start + batch] for start in range(0, len(crops), batch)]
    prepared = {
        name: [[inputs for _, inputs, _ in r.network_batches(chunk)] for chunk in chunks]
        for name, r in recognizers.items()
    }
    macs = {name: Counter() for name in recognizers}
    line_macs: dict[str, list[float]] = {name: [] for name in recognizers}
    for name, batches_of_chunks in prepared.items():
        for batches in batches_of_chunks:
            for inputs in batches:
                counted = counters[name].batch(inputs)
                macs[name] += counted
                line_macs[name].extend([sum(counted.values()) / len(inputs)] * len(inputs))
    ms_a_line: dict[str, list[float]] = {name: [] for name in recognizers}
    seconds = dict.fromkeys(recognizers, 0.0)
    for round_ in range(warmup + rounds):
        for k, chunk in enumerate(chunks):
            for name, recognizer in recognizers.items():
                began = time.perf_counter()
                for inputs in prepared[name][k]:
                    recognizer.session.run(None, {"images": inputs})
                elapsed = time.perf_counter() - began
                if round_ >= warmup:
                    seconds[name] += elapsed
                    ms_a_line[name].append(elapsed * 1000 / len(chunk))
    results = {}
    for name in recognizers:
        total = sum(macs[name].values())
        results[name] = {
            "parameters": counters[name].parameters,
            "input_height": recognizers[name].height,
            "width_scale": recognizers[name].width_scale,
            "lines": len(crops),
            "mmacs_per_line": summarize(m / 1e6 for m in line_macs[name]),
            "gmacs_total": total / 1e9,
            "gmacs_by_op": {op: m / 1e9 for op, m in macs[name].most_common()},
            "ms_per_line": summarize(ms_a_line[name]),
            "gmacs_per_second": total * rounds / 1e9 / seconds[name] if seconds[name] else math.nan,
        }
    return results


def main(argv: list[str] | None = None) -> int:
    """Count and time each recognizer's network on the same batches; print and write the table."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--recognizers",
        default="line-recognizer,line-recognizer-fast",
        help="comma-separated CTC recognizers, each NAME or NAME@RUNTIME",
    )
    parser.add_argument("--runtime", default=None, help="onnxruntime, openvino or auto (default: HANDOCR_RUNTIME)")
    parser.add_argument("--batch", type=int, default=20, help="lines per chunk (default 20)")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over all chunks (default 2)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed passes first (default 1)")
    parser.add_argument("--target-ms", type=float, default=5.0, help="network time a line to budget for")
    args = parser.parse_args(argv)
    recognizers, counters, by_file = {}, {}, {}
    for spec in split_list(args.recognizers):
        name, _, runtime = spec.partition("@")
        recognizers[spec] = load_recognizer(name, threads=args.threads, runtime=runtime or args.runtime)
        path = find_model(name).onnx_path  # one counter a network, whatever runtime reads it
        counters[spec] = by_file[path] = by_file.get(path) or MacCounter(path)
    for recognizer in recognizers.values():
        recognizer.batch_size = args.batch
    pages = load_pages(args.data, split_list(args.sets), args.split, args.pages)
    crops = [crop for page in pages for _, crop in ground_truth_line_crops(page.record, ReadOptions.crop_margin)]
    results = measure(recognizers, counters, crops, args.batch, args.rounds, args.warmup)
    best_rate = max(r["gmacs_per_second"] for r in results.values())
    rows = []
    for name, r in results.items():
        r["runtime"] = describe_session(recognizers[name].session)
        r["mmacs_per_line_for_target"] = best_rate * args.target_ms
        by_op = ", ".join(f"{op} {100 * g / r['gmacs_total']:.0f}%" for op, g in r["gmacs_by_op"].items())
        rows.append(
            [
                name,
                r["runtime"],
                f"{r['parameters'] / 1e6:.2f} M",
                r["input_height"],
                r["mmacs_per_line"]["median"],
                r["mmacs_per_line"]["mean"],
                by_op,
                r["ms_per_line"]["median"],
                r["ms_per_line"]["p95"],
                r["gmacs_per_second"],
            ]
        )
    headers = ["recognizer", "runtime", "parameters", "input height", "MMACs a line, median", "mean", "MACs by op"]
    headers += ["ms a line, median", "p95", "GMAC/s"]
    markdown = (
        f"### Network cost, {args.split} ground-truth lines ({len(crops)}), chunks of {args.batch}, "
        f"{args.threads or 'all'} threads, {args.rounds} timed rounds after {args.warmup} untimed\n\n"
        f"{markdown_table(headers, rows)}\n\n"
        f"At the best rate here ({best_rate:.0f} GMAC/s), {args.target_ms:g} ms a line of network time "
        f"buys {best_rate * args.target_ms:.0f} MMACs a line.\n"
    )
    payload = {"machine": machine_description(), "runtime": args.runtime, "results": results}
    files = write_results(output_stem(args.out, "network_cost", args.tag), payload, markdown)
    report(markdown, files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
