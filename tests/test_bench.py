"""Fast tests of the benchmarks' pure helpers (no benchmark is run, no server is started)."""

from __future__ import annotations

import itertools
import json
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BenchPage,
    corpus_rates,
    edit_distance,
    fmt,
    interleave_by_set,
    markdown_table,
    normalize_ws,
    percentile,
    read_results,
    summarize,
    text_scores,
    turn_order,
    write_results,
)
from bench.latency import CallProbe, probe_fields
from bench.peers import best_tesseract, ratios
from bench.serving import arrival_times, free_port, max_rate_within
from bench.soak import growth

from handocr.evaluation.text_metrics import edit_distance as reference_edit_distance

# -- statistics ----------------------------------------------------------------------------------


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0, 100))
def test_percentile_matches_numpy(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-6)


def test_percentile_small_cases() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0], 95) == 10.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summarize() -> None:
    s = summarize(range(1, 101))
    assert s["n"] == 100
    assert s["median"] == 50.5
    assert s["p95"] == pytest.approx(95.05)
    assert s["min"] == 1 and s["max"] == 100
    assert summarize([])["n"] == 0 and math.isnan(summarize([])["median"])


# -- tables and output ---------------------------------------------------------------------------


def test_fmt() -> None:
    assert fmt(1.23456, 2) == "1.23"
    assert fmt(float("nan")) == "-"
    assert fmt(None) == "-"
    assert fmt(True) == "yes"
    assert fmt(7) == "7"


def test_markdown_table_aligns_and_right_aligns_numbers() -> None:
    text = markdown_table(["name", "ms"], [["handocr", 12.345], ["tesseract", float("nan")]])
    lines = text.splitlines()
    assert lines[0] == "| name      |   ms |"
    assert lines[1] == "|-----------|-----:|"
    assert lines[2] == "| handocr   | 12.3 |"
    assert lines[3] == "| tesseract |    - |"
    assert len({len(line) for line in lines}) == 1


def test_markdown_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError):
        markdown_table(["a", "b"], [[1]])


def test_write_results_turns_nan_into_null(tmp_path: Path) -> None:
    files = write_results(tmp_path / "x", {"v": float("nan"), "a": np.float32(1.5), "p": tmp_path}, "| t |")
    assert [f.suffix for f in files] == [".json", ".md"]
    data = json.loads(files[0].read_text())
    assert data == {"v": None, "a": 1.5, "p": str(tmp_path)}
    assert files[1].read_text() == "| t |\n"


def test_write_results_puts_the_detail_apart_and_read_results_restores_it(tmp_path: Path) -> None:
    rows = [{"system": "a", "ms": 1.5, "cer": float("nan")}, {"system": "b", "ms": np.float64(2.0), "cer": 0.1}]
    files = write_results(tmp_path / "peers", {"summary": {"a": 1}, "rows": rows}, "| t |", detail="rows")
    assert [f.name for f in files] == ["peers.json", "peers.md", "peers.rows.json.gz"]
    assert json.loads(files[0].read_text()) == {"summary": {"a": 1}, "rows_file": "peers.rows.json.gz"}
    restored = read_results(files[0])
    assert restored == {"summary": {"a": 1}, "rows": [{"system": "a", "ms": 1.5, "cer": None}, {**rows[1], "ms": 2.0}]}
    first = files[2].read_bytes()
    write_results(tmp_path / "peers", {"summary": {"a": 1}, "rows": rows}, "| t |", detail="rows")
    assert files[2].read_bytes() == first  # no time stamp in the gzip header: the same file each run


def test_write_results_without_the_detail_entry_writes_one_json(tmp_path: Path) -> None:
    files = write_results(tmp_path / "x", {"summary": {}}, "t", detail="rows")
    assert [f.name for f in files] == ["x.json", "x.md"]
    assert read_results(files[0]) == {"summary": {}}


# -- text metrics --------------------------------------------------------------------------------

text = st.text(alphabet="ab cé\n", max_size=40)


@given(text, text)
def test_edit_distance_matches_the_project_metric(a: str, b: str) -> None:
    assert edit_distance(a, b) == reference_edit_distance(a, b)
    assert edit_distance(a.split(), b.split()) == reference_edit_distance(a.split(), b.split())


def test_edit_distance_examples() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "") == 3
    assert edit_distance("same", "same") == 0


def test_text_scores_whitespace_and_case() -> None:
    scores = text_scores("Le chat\nnoir", "le chat noir")
    assert scores["cer_errors"] == 2  # 'L'->'l' and '\n'->' '
    assert scores["cer_ws_errors"] == 1  # only the case
    assert scores["cer_ws_ci_errors"] == 0
    assert scores["wer_errors"] == 1
    assert scores["cer"] == pytest.approx(2 / 12)
    assert normalize_ws("  a \n\n b\tc ") == "a b c"


def test_corpus_rates_sum_counts_not_rates() -> None:
    rows = [text_scores("aaaa", "aaab"), text_scores("bb", "bb")]
    assert corpus_rates(rows)["cer"] == pytest.approx(1 / 6)
    assert math.isnan(corpus_rates([])["cer"])


# -- page order and peers ------------------------------------------------------------------------


def test_interleave_by_set() -> None:
    pages = [BenchPage(s, None, "") for s in ["a", "a", "a", "b"]]
    assert [p.set_name for p in interleave_by_set(pages)] == ["a", "b", "a", "a"]


def test_turn_order_is_a_repeatable_shuffle_where_no_system_always_follows_the_same_one() -> None:
    systems = ["a", "b", "c", "rapidocr"]
    orders = [turn_order(systems, i) for i in range(400)]
    assert all(sorted(order) == sorted(systems) for order in orders)
    assert orders == [turn_order(systems, i) for i in range(400)]
    assert turn_order([], 3) == []
    after_rapidocr = Counter(o[o.index("rapidocr") + 1] for o in orders if o[-1] != "rapidocr")
    assert set(after_rapidocr) == {"a", "b", "c"} and min(after_rapidocr.values()) > 70
    firsts = Counter(order[0] for order in orders)
    assert set(firsts) == set(systems) and min(firsts.values()) > 70


def _system(ms: float, cer_ws: float) -> dict:
    return {"ms": {"median": ms, "p95": 2 * ms}, "cer_ws": cer_ws}


def test_ratios_use_the_best_tesseract_psm() -> None:
    per = {
        "handocr": _system(100, 0.1),
        "tesseract-psm4": _system(400, 0.5),
        "tesseract-psm6": _system(200, 0.3),
        "rapidocr": _system(1000, 0.05),
    }
    assert best_tesseract(per) == "tesseract-psm6"
    assert ratios(per) == {"handocr/tesseract": 0.5, "handocr/rapidocr": 0.1}
    assert ratios(per, stat="p95")["handocr/tesseract"] == 0.5
    per["handocr:line-recognizer-fast"] = _system(50, 0.3)
    assert ratios(per)["handocr:line-recognizer-fast/rapidocr"] == 0.05
    assert ratios(per)["handocr:line-recognizer-fast/tesseract"] == 0.25 and len(ratios(per)) == 4


def test_another_recognizer_runs_beside_the_default_under_its_own_name(monkeypatch) -> None:
    from types import SimpleNamespace

    from bench.peers import build_systems

    monkeypatch.setenv("HANDOCR_RUNTIME", "onnxruntime")  # the default models would run on OpenVINO where installed
    args = SimpleNamespace(systems="handocr,handocr:line-recognizer-crnn", mode="lines", rapidocr_cls=False)
    default, other = build_systems(args, threads=1)
    assert (default.name, other.name) == ("handocr", "handocr:line-recognizer-crnn")
    assert other.config["models"]["recognizer"]["name"] == "handocr-line-recognizer-crnn"
    assert default.config["models"]["recognizer"]["name"] == "handocr-line-recognizer"
    assert default.config["runtimes"] == {"detector": "onnxruntime", "recognizer": "onnxruntime"}
    with pytest.raises(SystemExit, match=r"handocr\[:RECOGNIZER\]\[@RUNTIME\]"):
        build_systems(SimpleNamespace(systems="nothing", mode="lines"), threads=1)


def test_a_system_may_name_the_runtime_it_runs_on() -> None:
    from types import SimpleNamespace

    from bench.peers import build_systems

    pytest.importorskip("openvino")
    args = SimpleNamespace(systems="handocr:line-recognizer-crnn@openvino,handocr@onnxruntime", mode="lines")
    on_openvino, on_onnxruntime = build_systems(args, threads=1)
    assert (on_openvino.name, on_onnxruntime.name) == ("handocr:line-recognizer-crnn@openvino", "handocr@onnxruntime")
    assert on_openvino.config["runtimes"]["recognizer"].startswith("openvino (")
    assert on_openvino.config["models"]["recognizer"]["name"] == "handocr-line-recognizer-crnn"
    assert on_onnxruntime.config["runtimes"]["recognizer"] == "onnxruntime"


# -- open-loop schedule and load verdict ---------------------------------------------------------


def test_uniform_arrivals_are_evenly_spaced() -> None:
    times = arrival_times(4, duration_s=2.0)
    assert times == pytest.approx([0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75])


def test_arrivals_capped_by_count() -> None:
    assert len(arrival_times(100, duration_s=10, max_requests=7)) == 7


def test_poisson_arrivals_are_seeded_increasing_and_near_the_rate() -> None:
    times = arrival_times(5, duration_s=200, process="poisson", seed=3)
    assert times == arrival_times(5, duration_s=200, process="poisson", seed=3)
    assert times[0] == 0 and all(b > a for a, b in itertools.pairwise(times))
    assert all(t < 200 for t in times)
    assert len(times) / 200 == pytest.approx(5, rel=0.1)


def test_arrivals_reject_bad_input() -> None:
    with pytest.raises(ValueError):
        arrival_times(0, 1)
    with pytest.raises(ValueError):
        arrival_times(1, 1, process="bursty")


def test_max_rate_within_slo() -> None:
    rows = [
        {"rate": 1.0, "p95_ms": 300.0, "failure_rate": 0.0},
        {"rate": 2.0, "p95_ms": 450.0, "failure_rate": 0.0},
        {"rate": 3.0, "p95_ms": 200.0, "failure_rate": 0.5},  # fast only because it refused work
        {"rate": 4.0, "p95_ms": 900.0, "failure_rate": 0.0},
        {"rate": 5.0, "p95_ms": None, "failure_rate": 1.0},
    ]
    assert max_rate_within(rows, 500, 0.01) == 2.0
    assert max_rate_within(rows[3:], 500, 0.01) is None


def test_free_port_is_a_port() -> None:
    assert 0 < free_port() < 65536


# -- soak ----------------------------------------------------------------------------------------


def test_growth_after_warmup() -> None:
    samples = [{"requests": n, "rss": 100.0 + (50 if n else 0) + n * 0.1} for n in range(0, 1001, 100)]
    result = growth(samples, warmup=200)
    assert result["start"] == pytest.approx(170.0)
    assert result["end"] == pytest.approx(250.0)
    assert result["relative"] == pytest.approx(250 / 170 - 1)
    assert result["slope_bytes_per_request"] == pytest.approx(0.1)
    assert result["max"] == pytest.approx(250.0)


# -- latency probes ------------------------------------------------------------------------------


def test_call_probe_records_calls_on_one_instance_only() -> None:
    class Model:
        def recognize(self, crops: list, language: str = "auto") -> list:
            return [len(c) for c in crops]

    model, other = Model(), Model()
    probe = CallProbe(model, "recognize")
    assert model.recognize(["ab", "c"]) == [2, 1]
    other.recognize(["x"])
    calls = probe.take()
    assert [n for _, n in calls] == [2]
    assert probe.take() == []


def test_probe_fields_split_main_work_from_orientation() -> None:
    fields = probe_fields([(50.0, 1), (40.0, 1)], [(5.0, 5), (6.0, 5), (30.0, 12)])
    assert fields["detector_calls"] == 2
    assert fields["recognizer_crops"] == 22
    assert fields["orientation_ms"] == pytest.approx(40.0 + 11.0)
    assert probe_fields([(50.0, 1)], [(30.0, 12)])["orientation_ms"] == 0


def test_detectors_scores_each_system_on_the_same_pages_and_ignores_the_ignore_band(tmp_path: Path) -> None:
    from bench.detectors import run, tables
    from PIL import Image

    from handocr.datasets.records import LineRecord, PageRecord

    image = tmp_path / "page.png"
    Image.new("RGB", (200, 100), "white").save(image)
    lines = [LineRecord(box=(10, 10, 190, 30), text="a"), LineRecord(box=(10, 50, 190, 70), text="b")]
    record = PageRecord(image_path=image, width=200, height=100, lines=lines, ignore_regions=[(0, 80, 200, 100)])
    pages = [BenchPage("set", record, "a\nb")]

    class Fixed:
        def __init__(self, name: str, boxes: list, scores: list) -> None:
            self.name, self.boxes, self.scores, self.operating_threshold = name, boxes, scores, 0.5

        def detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            assert rgb.shape == (100, 200, 3)
            return np.array(self.boxes, dtype=float).reshape(-1, 4), np.array(self.scores, dtype=float)

    perfect = Fixed("good", [(10, 10, 190, 30), (10, 50, 190, 70), (0, 85, 200, 99)], [0.9, 0.8, 0.9])
    half = Fixed("half", [(10, 10, 190, 30), (10, 45, 100, 75)], [0.9, 0.3])
    results = run([perfect, half], pages)
    good, partial = results["set"]["good"], results["set"]["half"]
    assert (good["precision"], good["recall"], good["map50"]) == (1.0, 1.0, 1.0)  # the box in the band is ignored
    assert (partial["precision"], partial["recall"]) == (1.0, 0.5)
    assert partial["map50"] == pytest.approx(0.5)
    assert good["ms"]["n"] == partial["ms"]["n"] == 1
    assert "good / half time per page" in tables(results, ["good", "half"])


def test_box_bias_measures_each_side_in_detected_heights() -> None:
    from bench.box_bias import side_offsets

    predicted = np.array([[90.0, 95.0, 520.0, 135.0]])  # 40 high; annotated box [100, 100, 500, 130]
    gt = np.array([[100.0, 100.0, 500.0, 130.0]])
    np.testing.assert_allclose(side_offsets(predicted, gt), [[0.25, 0.125, 0.5, 0.125]])
    inside = np.array([[110.0, 102.0, 490.0, 128.0]])  # sides inside the annotation: negative
    assert (side_offsets(inside, gt) < 0).all()


def test_the_orientation_bench_scores_each_sure_upright_value() -> None:
    from bench.orientation import decide

    rows = [
        {"page": "a", "rotation": 0, "upright": 0.9, "turned": 0.3, "turned_ms": 100.0},
        {"page": "b", "rotation": 0, "upright": 0.7, "turned": 0.4, "turned_ms": 80.0},
        {"page": "c", "rotation": 0, "upright": 0.5, "turned": 0.65, "turned_ms": 60.0},  # read wrongly turned
        {"page": "a", "rotation": 180, "upright": 0.3, "turned": 0.9, "turned_ms": 100.0},
        {"page": "b", "rotation": 180, "upright": 0.72, "turned": 0.9, "turned_ms": 80.0},  # missed when sure at 0.7
        {"page": "c", "rotation": 180, "upright": 0.4, "turned": 0.45, "turned_ms": 60.0},  # too close to turn
    ]
    strict = decide(rows, 0.85)
    assert strict["upright_pages_checked"] == pytest.approx(2 / 3)
    assert strict["check_ms_per_upright_page"] == pytest.approx((80 + 60) / 3)
    assert strict["upright_pages_turned"] == 1 and strict["upside_down_pages_missed"] == 1
    loose = decide(rows, 0.7)
    assert loose["upright_pages_checked"] == pytest.approx(1 / 3) and loose["check_ms_per_upright_page"] == 20
    assert loose["upside_down_pages_missed"] == 2


def test_thin_annotations_scores_with_and_without_the_thin_boxes_and_the_ceiling(tmp_path: Path) -> None:
    from bench.thin_annotations import measure, thin_mask
    from PIL import Image

    from handocr.datasets.records import LineRecord, PageRecord

    image = tmp_path / "page.png"
    Image.new("RGB", (200, 160), "white").save(image)
    boxes = [(10, 10, 190, 40), (10, 50, 190, 80), (10, 90, 190, 120), (10, 138, 190, 144)]  # the last: a band
    record = PageRecord(image_path=image, width=200, height=160, lines=[LineRecord(box=b, text="x") for b in boxes])
    assert thin_mask(np.array(boxes, dtype=float), 0.5).tolist() == [False, False, False, True]

    class WholeLines:
        conf_threshold = 0.25

        def detect(self, rgb: np.ndarray, min_score: float = 0.0) -> list:
            from handocr.detection.base import Detection

            return [Detection(box, 0.9) for box in [*boxes[:3], (10, 126, 190, 156)]]  # the whole fourth line

    result = measure(WholeLines(), [BenchPage("set", record, "")], 0.5)
    assert (result["annotated"], result["thin"], result["missed"], result["thin_missed"]) == (4, 1, 1, 1)
    assert result["as_annotated"]["recall"] == 0.75 and result["as_annotated"]["precision"] == 0.75
    assert result["thin_ignored"]["recall"] == 1.0 and result["thin_ignored"]["precision"] == 1.0
    # the ceiling: the annotated boxes with the band grown to the median height (30) about its middle
    assert (result["ceiling_missed"], result["ceiling_thin_missed"]) == (1, 1)
    assert result["whole_line_ceiling"]["recall"] == 0.75 and result["whole_line_ceiling"]["precision"] == 0.75


SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.mark.skipif(not SHARED_REAL.is_dir(), reason="no shared data")
def test_latency_reads_with_the_chosen_models_and_options(tmp_path: Path) -> None:
    from bench.latency import main

    data = SHARED_REAL
    argv = ["--data", str(data), "--sets", "copiste", "--pages", "1", "--warmup", "0", "--threads", "1"]
    argv += ["--out", str(tmp_path), "--recognizer", "line-recognizer-crnn", "--min-line-height", "0.5"]
    assert main([*argv, "--sure-upright", "0.9", "--language", "any", "--tag", "t"]) == 0
    result = json.loads((tmp_path / "latency-t.json").read_text())
    config = result["config"]
    assert config["models"]["recognizer"]["name"] == "handocr-line-recognizer-crnn"
    assert config["models"]["detector"]["name"] == "handocr-line-detector"
    options = config["read_options"]
    assert options["min_line_height"] == 0.5 and options["sure_upright"] == 0.9 and options["language"] == "any"
    page = result["pages"][0]
    assert page["set"] == "copiste" and page["lines"] > 5
    assert 0 < page["recognize_ms"] < page["total_ms"]


def test_band_bodies_cut_each_page_into_jpeg_bands(tmp_path: Path) -> None:
    import io

    from bench.serving import band_bodies
    from PIL import Image

    page = tmp_path / "page.png"
    Image.new("RGB", (120, 301), "white").save(page)
    bands = band_bodies([page, page], 3)
    assert len(bands) == 6 and all(kind == "image/jpeg" for _, kind in bands)
    sizes = [Image.open(io.BytesIO(body)).size for body, _ in bands[:3]]
    assert [w for w, _ in sizes] == [120] * 3 and sum(h for _, h in sizes) == 301
    assert band_bodies([page], 1) == [(page.read_bytes(), "image/png")]
    with pytest.raises(ValueError):
        band_bodies([page], 0)


@pytest.mark.skipif(not SHARED_REAL.is_dir(), reason="no shared data")
def test_decode_threads_decodes_each_page_three_ways_to_the_same_text(tmp_path: Path) -> None:
    from bench.decode_threads import main

    argv = ["--data", str(SHARED_REAL), "--pages", "1", "--threads", "2", "--out", str(tmp_path)]
    main([*argv, "--recognizer", "line-recognizer-fast", "--tag", "t"])
    result = json.loads((tmp_path / "decode_threads-t.json").read_text())
    summary = result["summary"]
    assert result["config"]["threads"] == 2 and len(result["pages"]) == 2 and summary["lines"] > 20
    assert summary["differing_lines"] == {"callbacks": 0, "tables": 0, "threads": 0}
    assert all(page["ms"].keys() == {"callbacks", "tables", "threads"} for page in result["pages"])
    assert (tmp_path / "decode_threads-t.md").read_text().count("| threads ") == 1


@pytest.mark.skipif(not SHARED_REAL.is_dir(), reason="no shared data")
def test_decoder_bench_times_the_c_search_against_another_build_of_it(tmp_path: Path) -> None:
    import shutil

    from bench.decoder import load_native_build, main, native_search

    from handocr.recognition import beam

    if not beam.native_available():
        pytest.skip("the C beam search is not built")
    installed = beam._ctcbeam
    build = tmp_path / "_ctcbeam_base.so"
    shutil.copy(installed.__file__, build)
    other = load_native_build(build)
    assert other is not installed and other.__file__ == str(build)
    with native_search(other):
        assert beam._ctcbeam is other
    assert beam._ctcbeam is installed

    argv = ["--data", str(SHARED_REAL), "--pages", "1", "--threads", "1", "--out", str(tmp_path)]
    main([*argv, "--recognizer", "line-recognizer-fast", "--baseline", str(build), "--tag", "t"])
    result = json.loads((tmp_path / "decoder-t.json").read_text())
    summary = result["summary"]
    assert result["config"]["against"] == str(build) and summary["lines"] > 20 and summary["differing_texts"] == 0
    assert summary["ms_per_line"].keys() == {"c", "baseline"}
    assert "| baseline C " in (tmp_path / "decoder-t.md").read_text()
    with pytest.raises(SystemExit):
        main([*argv, "--baseline", str(tmp_path / "missing.so")])


def test_a_build_of_interface_2_gets_the_lm_tables_without_the_hash_indexes() -> None:
    from bench.decoder import LM_TABLES_OF_INTERFACE_2, Interface2Search

    calls = []

    class Build:
        ABI_VERSION = 2

        def search(self, *args):
            calls.append(args)
            return [1]

        def align(self, *args):
            return "aligned"

    shim = Interface2Search(Build())
    tables = tuple(range(13))
    assert shim.search("lp", -6.9, 8, 32, 16.0, tables, "symbols", 0.6, 1.5, None, -1, -3.0, "abc") == [1]
    assert calls[0][5] == tables[:LM_TABLES_OF_INTERFACE_2] and calls[0][:5] == ("lp", -6.9, 8, 32, 16.0)
    assert calls[0][6:] == ("symbols", 0.6, 1.5, None, -1, -3.0, "abc")
    shim.search("lp", -6.9, 8, 32, 16.0, None, None, 0.6, 1.5, None, -1, -3.0, "abc")
    assert calls[1][5] is None
    assert shim.align("lp", [1]) == "aligned"


@pytest.mark.skipif(not SHARED_REAL.is_dir(), reason="no shared data")
def test_preprocess_bench_times_two_ways_that_give_the_same_inputs(tmp_path: Path) -> None:
    from bench.preprocess import WAYS, main

    argv = ["--data", str(SHARED_REAL), "--pages", "1", "--threads", "2", "--out", str(tmp_path)]
    main([*argv, "--recognizers", "line-recognizer-fast", "--tag", "t"])
    result = json.loads((tmp_path / "preprocess-t.json").read_text())["results"]["line-recognizer-fast"]
    assert result["pages"] == 2 and result["lines"] > 20 and result["differing"] == 0
    assert result["summary"].keys() == set(WAYS) and all(s["n"] == 2 for s in result["summary"].values())
    assert (tmp_path / "preprocess-t.md").read_text().count("| line-recognizer-fast ") == 2


@pytest.mark.skipif(not SHARED_REAL.is_dir(), reason="no shared data")
def test_train_step_bench_takes_the_same_steps_with_both_graphs(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx2torch")
    pytest.importorskip("rapidocr")
    from bench.train_step import VARIANTS, main

    argv = ["--data", str(SHARED_REAL), "--pages", "1", "--steps", "2", "--batch", "2", "--rounds", "1"]
    main([*argv, "--threads", "1", "--out", str(tmp_path), "--tag", "t"])
    results = json.loads((tmp_path / "train_step-t.json").read_text())["results"]
    assert set(results) == set(VARIANTS)
    for result in results.values():
        assert result["step_ms"]["n"] == 2 and result["peak_rss_mib"] > 100
        assert result["max_loss_gap"] < 1e-3  # the same function, the same steps
    assert (tmp_path / "train_step-t.md").read_text().count("| simplified ") == 1


def _tiny_recognizer_graph(quantized_conv: bool):
    """Conv (4 channels, kernel 2x1 over 2 rows) -> (width, batch, 4) -> LSTM of 3 -> MatMul to 5."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    conv_weight = rng.normal(size=(4, 1, 2, 1)).astype(np.float32)
    nodes, initializers = [], []
    if quantized_conv:  # weights stored int8 and dequantized, as a QDQ graph stores them
        initializers += [
            numpy_helper.from_array(np.round(conv_weight * 50).astype(np.int8), "w_q"),
            numpy_helper.from_array(np.array(0.02, np.float32), "w_scale"),
            numpy_helper.from_array(np.array(0, np.int8), "w_zero"),
        ]
        nodes.append(helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"]))
    else:
        initializers.append(numpy_helper.from_array(conv_weight, "w"))
    initializers += [
        numpy_helper.from_array(np.array([2], np.int64), "axis2"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(rng.normal(size=(1, 12, 4)).astype(np.float32), "lstm_w"),
        numpy_helper.from_array(rng.normal(size=(1, 12, 3)).astype(np.float32), "lstm_r"),
        numpy_helper.from_array(rng.normal(size=(3, 5)).astype(np.float32), "proj"),
    ]
    nodes += [
        helper.make_node("Conv", ["images", "w"], ["features"]),
        helper.make_node("Squeeze", ["features", "axis2"], ["rows"]),
        helper.make_node("Transpose", ["rows"], ["sequence"], perm=[2, 0, 1]),
        helper.make_node("LSTM", ["sequence", "lstm_w", "lstm_r"], ["hidden"], hidden_size=3),
        helper.make_node("Squeeze", ["hidden", "axis1"], ["states"]),
        helper.make_node("MatMul", ["states", "proj"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 1, 2, "width"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("quantized_conv", [False, True])
def test_mac_counter_counts_convolutions_recurrences_and_products(tmp_path: Path, quantized_conv: bool) -> None:
    import onnx
    from bench.network_cost import MacCounter

    path = tmp_path / "tiny.onnx"
    onnx.save(_tiny_recognizer_graph(quantized_conv), str(path))
    counter = MacCounter(path)
    width, batch = 7, 3
    columns = width * batch  # every op runs once a column of a line
    macs = counter.batch(np.zeros((batch, 1, 2, width), np.float32))
    # conv: 4 outputs x 2 taps; LSTM: 4 gates x 3 units x (4 inputs + 3 states); product: 5 x 3
    assert macs == {"Conv": columns * 4 * 2, "LSTM": columns * 12 * 7, "MatMul": columns * 5 * 3}
    assert counter.line(2, 14) == {op: 2 * m // batch for op, m in macs.items()}  # linear in width
    assert counter.parameters == (8 if not quantized_conv else 8 + 2) + 2 + 48 + 36 + 15


@pytest.mark.skipif(not SHARED_REAL.is_dir(), reason="no shared data")
def test_network_cost_counts_and_times_the_batches_the_recognizer_reads(tmp_path: Path) -> None:
    from bench.network_cost import MacCounter, main

    from handocr.models import find_model, load_recognizer

    argv = [
        "--data",
        str(SHARED_REAL),
        "--pages",
        "1",
        "--threads",
        "1",
        "--rounds",
        "1",
        "--warmup",
        "0",
        "--out",
        str(tmp_path),
    ]
    main([*argv, "--recognizers", "line-recognizer-fast,line-recognizer-fast@onnxruntime", "--tag", "t"])
    results = json.loads((tmp_path / "network_cost-t.json").read_text())["results"]
    assert set(results) == {"line-recognizer-fast", "line-recognizer-fast@onnxruntime"}
    fast = results["line-recognizer-fast@onnxruntime"]
    assert fast["runtime"] == "onnxruntime" and fast["lines"] > 20 and fast["ms_per_line"]["n"] >= 2
    assert set(fast["gmacs_by_op"]) == {"Conv", "DynamicQuantizeLSTM", "MatMul"}  # int8 layers counted
    # one line alone costs what its own width costs: 32 rows, squeezed to 3/4 of its width, padded to 4
    recognizer = load_recognizer("line-recognizer-fast", threads=1, runtime="onnxruntime")
    crop = np.full((60, 400), 255, np.uint8)
    ((_, batch, _),) = recognizer.network_batches([crop])
    assert batch.shape == (1, 1, 32, math.ceil(recognizer.line_input(crop).shape[1] / 4) * 4)
    counted = MacCounter(find_model("line-recognizer-fast").onnx_path).batch(batch)
    assert 0.5e6 * batch.shape[3] < sum(counted.values()) < 2e6 * batch.shape[3]
    assert "5 ms a line of network time buys" in (tmp_path / "network_cost-t.md").read_text()


def test_the_page_language_bench_runs_another_checkouts_modules_beside_these(tmp_path: Path) -> None:
    from bench.page_language import guess, load_baseline

    import handocr.recognition.ctc as ctc
    import handocr.recognition.language as language
    from handocr.recognition.lexicon import Lexicon

    base = load_baseline(Path(__file__).resolve().parents[1] / "src")  # this checkout, as a baseline
    assert base["ctc"] is not ctc and base["lexicon"].Lexicon is not Lexicon
    characters = "abcdehlotu "
    words = {"fr": ["le", "chat", "du"], "en": ["the", "cat", "hello"]}
    rng = np.random.default_rng(0)
    log_probs = [ctc.log_softmax(rng.normal(0, 3, (int(rng.integers(5, 40)), len(characters) + 1))) for _ in range(6)]
    mine = guess(ctc, language, {k: Lexicon(v) for k, v in words.items()}, log_probs, characters)
    theirs = guess(
        base["ctc"], base["language"], {k: base["lexicon"].Lexicon(v) for k, v in words.items()}, log_probs, characters
    )
    assert [r.text for r in mine[0]] == [r.text for r in theirs[0]] and mine[1] == theirs[1]
    with pytest.raises(SystemExit, match="no "):
        load_baseline(tmp_path)


def test_the_handocr_detector_records_the_runtime_it_ran_on() -> None:
    from bench.detectors import HandocrDetector

    from handocr.runtime import describe_session

    detector = HandocrDetector("line-detector", threads=1)
    assert detector.config["runtime"] == describe_session(detector.detector.session)
    assert detector.config["runtime"].startswith(("onnxruntime", "openvino"))
    assert detector.config["version"] and detector.config["score_threshold"] == detector.operating_threshold
