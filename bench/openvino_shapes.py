"""How OpenVINO's time and memory for the default recognizer depend on the input shapes it meets.

OpenVINO prepares kernels for each input shape and keeps them in a cache. This benchmark reads the
ground-truth line crops of ``--warmup-pages`` ``train`` pages a set (as a long run would have met
them) and then those of the ``val`` pages, network only, batched as the recognizer batches them
(width buckets of up to 16 lines), with each batch's width padded to a multiple of each of
``--multiples`` and OpenVINO's cache bounded to each of ``--cache-entries``. Each configuration
runs in a fresh process (memory is not given back between them) and reports the ``val`` time a
line and the process's resident memory after the session is made, after the warm-up and at the
end. Run from the repository root, with nothing else running:

    .venv/bin/python -m bench.openvino_shapes --threads 2 --multiples 8,32,64,128,256 --cache-entries 1000
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    base_parser,
    cores_available,
    machine_description,
    markdown_table,
    output_stem,
    report,
    split_list,
    write_results,
)


def line_batches(data: Path, sets: list[str], split: str, pages: int, multiple: int) -> list[np.ndarray]:
    """The recognizer's input batches for the ground-truth lines of the first ``pages`` pages of
    ``split`` of each set, each batch padded to a width that is a multiple of ``multiple``."""
    from handocr.datasets.detect import open_dataset
    from handocr.models import load_recognizer
    from handocr.pipeline import ReadOptions, ground_truth_line_crops
    from handocr.recognition.ctc_onnx import width_buckets
    from handocr.recognition.preprocess import pad_batch

    recognizer = load_recognizer("line-recognizer", threads=1, runtime="onnxruntime")  # its line_input only
    batches = []
    for set_name in sets:
        records = list(open_dataset(data / set_name, prefer="pages").pages(split))
        for record in records[:pages] if pages > 0 else records:
            inputs = [recognizer.line_input(c) for _, c in ground_truth_line_crops(record, ReadOptions.crop_margin)]
            for index in width_buckets([x.shape[1] for x in inputs], recognizer.batch_size):
                batches.append(pad_batch([inputs[i] for i in index], multiple=multiple)[0])
    return batches


def resident_mib() -> float:
    """This process's resident memory, MiB."""
    import resource

    page = resource.getpagesize()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * page / 2**20


def measure(config: dict[str, Any]) -> dict[str, Any]:
    """One configuration (``multiple``, ``cache_entries``), in its own process."""
    from handocr.models import find_model
    from handocr.openvino_session import OpenVinoSession

    data, sets = Path(config["data"]), config["sets"]
    warmup = line_batches(data, sets, "train", config["warmup_pages"], config["multiple"])
    measured = line_batches(data, sets, config["split"], config["pages"], config["multiple"])
    before = resident_mib()
    path = find_model("line-recognizer").onnx_path
    session = OpenVinoSession(path, config["threads"], "bf16", config["cache_entries"])
    made = resident_mib()
    for batch in warmup:
        session.run(None, {"images": batch})
    warm = resident_mib()
    lines, start = sum(len(b) for b in measured), time.perf_counter()
    for batch in measured:
        session.run(None, {"images": batch})
    seconds = time.perf_counter() - start
    return {
        **{k: config[k] for k in ("multiple", "cache_entries")},
        "precision": session.precision,
        "lines": lines,
        "shapes_warmup": len({b.shape for b in warmup}),
        "shapes_measured": len({b.shape for b in measured}),
        "shapes_new": len({b.shape for b in measured} - {b.shape for b in warmup}),
        "ms_per_line": 1000 * seconds / lines,
        "mib_session": made - before,
        "mib_after_warmup": warm - before,
        "mib_end": resident_mib() - before,
    }


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--warmup-pages", type=int, default=30, help="train pages a set read first (default 30)")
    parser.add_argument("--multiples", default="8,64,128,256", help="batch width multiples to compare")
    parser.add_argument("--cache-entries", default="1000", help="OpenVINO runtime cache bounds to compare")
    args = parser.parse_args(argv)
    threads = args.threads or cores_available()
    base = {
        "data": str(args.data),
        "sets": split_list(args.sets),
        "split": args.split,
        "pages": args.pages,
        "warmup_pages": args.warmup_pages,
        "threads": threads,
    }
    configs = [
        {**base, "multiple": int(m), "cache_entries": int(c)}
        for c in split_list(args.cache_entries)
        for m in split_list(args.multiples)
    ]
    context = multiprocessing.get_context("spawn")
    rows = []
    for config in configs:
        with context.Pool(1) as pool:
            rows.append(pool.apply(measure, (config,)))
        print(rows[-1], flush=True)
    headers = ["width multiple", "cache entries", "val shapes (new)", "ms a line", "MiB: session", "+ warm-up", "end"]
    table = [
        [
            r["multiple"],
            r["cache_entries"],
            f"{r['shapes_measured']} ({r['shapes_new']})",
            r["ms_per_line"],
            r["mib_session"],
            r["mib_after_warmup"],
            r["mib_end"],
        ]
        for r in rows
    ]
    markdown = (
        f"# OpenVINO and input shapes: the default recognizer's network ({threads} threads, "
        f"{rows[0]['precision'] if rows else '?'}, {args.warmup_pages} train pages a set first)\n\n"
        + markdown_table(headers, table, digits=1)
    )
    payload = {"benchmark": "openvino_shapes", "machine": machine_description(), "config": vars(args), "rows": rows}
    stem = output_stem(args.out, "openvino_shapes", args.tag)
    report(markdown, write_results(stem, payload, markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
