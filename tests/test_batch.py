"""Bulk OCR (handocr.batch): file handling in-process, and one real local Ray run over three drawn pages."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
from pathlib import Path

import pytest

from conftest import draw_page
from fakes import fake_reader
from handocr.batch import PageWorker, StorageError, Store, output_names, run_batch
from handocr.batch.cli import add_batch_command, cmd_batch


def make_pages(folder: Path) -> list[str]:
    """Three small pages (two PNG, one JPEG in a sub-folder) and one corrupt file; their relative names."""
    (folder / "sub").mkdir(parents=True)
    draw_page(2, (200, 160)).save(folder / "a.png")
    draw_page(3, (240, 240)).save(folder / "b.png")
    draw_page(1, (200, 120)).save(folder / "sub" / "c.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "notes.txt").write_text("ignored")
    return ["a.png", "b.png", "broken.png", "sub/c.jpg"]


def test_store_lists_images_and_pdfs_recursively(tmp_path: Path) -> None:
    names = make_pages(tmp_path / "in")
    assert Store(str(tmp_path / "in")).list_inputs() == names
    assert Store((tmp_path / "in").as_uri()).list_inputs() == names


def test_store_missing_folder_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        Store(str(tmp_path / "nope")).list_inputs()


def test_output_names_keep_relative_folders() -> None:
    assert output_names("sub/c.jpg", ["json", "alto"]) == ["sub/c.json", "sub/c.alto.xml"]


def test_unknown_format_fails_before_any_work(tmp_path: Path) -> None:
    make_pages(tmp_path / "in")
    with pytest.raises(KeyError, match="unknown format"):
        run_batch(str(tmp_path / "in"), str(tmp_path / "out"), ["nope"], reader_factory=fake_reader, use_ray=False)
    assert not (tmp_path / "out").exists()


def test_local_run_writes_outputs_and_reports_failures(tmp_path: Path) -> None:
    make_pages(tmp_path / "in")
    out = tmp_path / "out"
    summary = run_batch(str(tmp_path / "in"), str(out), ["json", "alto"], reader_factory=fake_reader, use_ray=False)
    assert (summary.total, summary.ok) == (4, 3)
    assert [f.name for f in summary.failed] == ["broken.png"]
    assert summary.failed[0].reason.startswith("InvalidImage")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.alto.xml",
        "a.json",
        "b.alto.xml",
        "b.json",
        "sub/c.alto.xml",
        "sub/c.json",
    ]
    document = json.loads((out / "b.json").read_text())
    assert len(document["pages"][0]["lines"]) == 3
    assert b"<alto" in (out / "a.alto.xml").read_bytes()
    again = run_batch(str(tmp_path / "in"), str(out), ["json"], reader_factory=fake_reader, use_ray=False,
                      skip_existing=True)  # fmt: skip
    assert (again.ok, again.skipped, len(again.failed)) == (0, 3, 1)


def test_worker_turns_a_read_error_into_a_status_row(tmp_path: Path) -> None:
    worker = PageWorker(fake_reader, str(tmp_path), str(tmp_path / "out"), ["json"])
    row = worker({"name": "missing.png"})
    assert row["status"] == "failed" and row["error"].startswith("FileNotFoundError")


def test_cli_local_run_prints_summary_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_batch_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--format", "json,nope", "--local"])
    make_pages(tmp_path / "in")
    assert cmd_batch(args) == 2
    assert "unknown format" in capsys.readouterr().err
    args = parser.parse_args(["batch", str(tmp_path / "nope"), str(tmp_path / "out"), "--local"])
    assert cmd_batch(args) in (2, 3)  # 3 where the shipped models are absent: checked before the input


def test_missing_models_fail_fast_in_the_driver(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_pages(tmp_path / "in")
    parser = argparse.ArgumentParser()
    add_batch_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--detector", "no-such-model"])
    assert cmd_batch(args) == 3  # before Ray starts
    assert "cannot load models" in capsys.readouterr().err
    args = parser.parse_args(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--language", "de"])
    assert cmd_batch(args) == 2  # before Ray starts too
    assert "unknown language 'de'" in capsys.readouterr().err


def test_the_reader_factory_reads_in_its_language() -> None:
    from handocr.batch.runner import ModelReaderFactory

    assert ModelReaderFactory(language="fr")().options.language == "fr"
    assert ModelReaderFactory()().options.language == "auto"


def ray_expected() -> bool:
    """Ray must be present in CI (CI=true; it installs the batch extra) or where HANDOCR_REQUIRE_RAY=1."""
    flags = (os.environ.get("HANDOCR_REQUIRE_RAY", ""), os.environ.get("CI", ""))
    return any(flag.lower() in ("1", "true", "yes") for flag in flags)


@pytest.fixture(scope="module")
def local_ray():
    if importlib.util.find_spec("ray") is None:
        if ray_expected():
            pytest.fail("ray is required here (CI or HANDOCR_REQUIRE_RAY) but not installed: pip install 'ray[data]'")
        pytest.skip("ray is not installed (pip install 'ray[data]'); set HANDOCR_REQUIRE_RAY=1 to make this a failure")
    import ray
    from ray import cloudpickle

    import fakes

    cloudpickle.register_pickle_by_value(fakes)  # the actors cannot import tests/fakes.py by name
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        cloudpickle.unregister_pickle_by_value(fakes)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own deprecated settings
def test_ray_run_over_three_pages(tmp_path: Path, local_ray) -> None:
    make_pages(tmp_path / "in")
    out = tmp_path / "out"
    summary = run_batch(str(tmp_path / "in"), str(out), ("json", "alto"), actors=1, reader_factory=fake_reader)
    assert summary.to_dict()["ok"] == 3 and summary.total == 4
    assert [f.name for f in summary.failed] == ["broken.png"]
    assert len(summary.outputs) == 6
    for stem in ("a", "b", "sub/c"):
        assert json.loads((out / f"{stem}.json").read_text())["pages"][0]["lines"]
        assert (out / f"{stem}.alto.xml").is_file()
