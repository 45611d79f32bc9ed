"""``handocr calibrate``: fit the character-confidence map of a recognizer and store it in model.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import write_generated_pages
from handocr.cli import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def generated_pages(tmp_path_factory) -> Path:
    """Two small generated pages with their line texts (a YOLO folder, split ``train``)."""
    return write_generated_pages(tmp_path_factory.mktemp("calib") / "pages", 2, seed=4, long_side=700)


def test_calibrate_reports_a_cross_fit_and_writes_the_map(generated_pages, tmp_path, capsys):
    from handocr.models import load_recognizer

    model = tmp_path / "rec"
    shutil.copytree(REPO / "models" / "line-recognizer", model)
    settings = json.loads((model / "model.json").read_text())
    settings.pop("char_calibration", None)
    (model / "model.json").write_text(json.dumps(settings))
    argv = ["calibrate", "--data", str(generated_pages), "--split", "train", "--recognizer", str(model)]
    argv += ["--threads", "1", "--out", str(tmp_path / "report.json"), "--write"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "two-fold cross-fit" in printed and "written to model.json" in printed
    assert "pages read with the decoder of: " in printed
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["pages"] == 2 and report["lines"] > 5 and report["decoder"] == settings.get("decoder", "greedy")
    languages = report["page_languages"]  # each page with the decoder the reader would pick for it
    assert sum(languages.values()) == 2 and set(languages) <= {"fr", "en", "any"}
    for level in ("char", "word", "line"):
        assert report["before"][level]["n"] == report["after"][level]["n"]
    stored = json.loads((model / "model.json").read_text())
    assert stored["char_calibration"] == report["char_calibration"] and "calibration_fit_on" in stored
    assert stored["lm"] == settings["lm"]  # the other settings are kept
    decoder = load_recognizer(model, threads=1).decoder
    assert decoder.char_calibration is not None and decoder.char_calibration.x == stored["char_calibration"]["x"]


def test_calibrate_refuses_an_empty_split(generated_pages, capsys):
    assert main(["calibrate", "--data", str(generated_pages), "--split", "val", "--threads", "1"]) == 2
    assert "split 'val'" in capsys.readouterr().err
    assert main(["calibrate", "--data", str(generated_pages), "--recognizer", "no-such-model"]) == 2
    assert "not found" in capsys.readouterr().err
