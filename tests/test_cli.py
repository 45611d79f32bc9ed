"""The ``handocr`` command: outputs, exit codes and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from handocr.cli import expand_inputs, main

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "copiste_0212.jpg"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "handocr.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    files = {
        "empty": tmp_path / "empty.jpg",
        "not_image": tmp_path / "notes.png",
        "truncated": tmp_path / "truncated.jpg",
    }
    files["empty"].write_bytes(b"")
    files["not_image"].write_text("this is text, not a picture")
    files["truncated"].write_bytes(EXAMPLE.read_bytes()[:5000])
    return files


def test_read_writes_json_text_and_overlay(tmp_path):
    out = tmp_path / "out"
    result = run_cli("read", str(EXAMPLE), "-o", str(out), "--format", "json,text,overlay", "--threads", "1")
    assert result.returncode == 0, result.stderr
    document = json.loads((out / "copiste_0212.json").read_text())
    assert document["schema_version"] and document["pages"][0]["lines"]
    assert (out / "copiste_0212.txt").read_text().strip()
    assert (out / "copiste_0212.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_inputs_get_one_line_errors_and_others_still_succeed(tmp_path, bad_inputs):
    out = tmp_path / "out"
    missing = tmp_path / "missing.jpg"
    paths = [str(p) for p in bad_inputs.values()] + [str(missing), str(EXAMPLE)]
    result = run_cli("read", *paths, "-o", str(out), "--format", "json", "--threads", "1", "-q")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("handocr: error:")]
    assert len(errors) == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert any("missing.jpg" in e and "no such file" in e for e in errors)
    assert any("truncated.jpg" in e for e in errors)
    assert (out / "copiste_0212.json").exists()


@pytest.mark.parametrize("name", ["empty", "not_image", "truncated"])
def test_single_bad_input_exits_non_zero(bad_inputs, name, capsys):
    assert main(["read", str(bad_inputs[name]), "--threads", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("handocr: error:")


def test_unknown_format_and_missing_model_are_usage_errors(tmp_path, capsys):
    assert main(["read", str(EXAMPLE), "--format", "docx"]) == 2
    assert main(["read", str(EXAMPLE), "--recognizer", str(tmp_path / "nope")]) == 3
    assert "not found" in capsys.readouterr().err


def test_expand_inputs_folders_and_globs(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.png").write_bytes(b"x")
    (tmp_path / "c.txt").write_text("x")
    assert expand_inputs([str(tmp_path)]) == [tmp_path / "a.jpg", tmp_path / "sub" / "b.png"]
    assert expand_inputs([str(tmp_path / "*.jpg")]) == [tmp_path / "a.jpg"]


def test_workers_resume_and_report(tmp_path, bad_inputs):
    out = tmp_path / "out"
    inputs = [str(EXAMPLE), str(EXAMPLE.with_name("copiste_0048.jpg")), str(bad_inputs["truncated"])]
    first = run_cli("read", *inputs, "-o", str(out), "--format", "json", "--workers", "2", "-q")
    assert first.returncode == 1
    assert "2 read, 0 skipped, 1 failed" in first.stderr and "truncated.jpg" in first.stderr
    written = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    assert set(written) == {"copiste_0212.json", "copiste_0048.json"}
    again = run_cli("read", *inputs, "-o", str(out), "--format", "json", "--skip-existing", "-q")
    assert "0 read, 2 skipped, 1 failed" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")} == written


def test_workers_with_a_missing_model_fail_fast(tmp_path):
    args = [str(EXAMPLE), str(EXAMPLE), "-o", str(tmp_path), "--workers", "2", "--detector", str(tmp_path / "none")]
    assert main(["read", *args]) == 3
