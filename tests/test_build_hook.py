"""hatch_build.py, the build hook that compiles the C beam search: it builds a module that imports,
marks the wheel as platform-specific, and falls back to the pure-Python search on a failed build.

hatchling lives only in pip's isolated build environment, so its hook interface is stubbed here;
the hook's own logic and setuptools' compiler run for real (a C compiler is needed: the tests skip
without one, except under CI=true).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
import types
from pathlib import Path

import pytest

from handocr.recognition.beam import NATIVE_ABI_VERSION

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path("src/handocr/recognition/_ctcbeam.c")


def _require_compiler() -> None:
    if shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]):
        return
    if os.environ.get("CI"):
        pytest.fail("no C compiler here (CI): the C beam search cannot be built")
    pytest.skip("no C compiler")


@pytest.fixture
def hook_module(monkeypatch):
    pytest.importorskip("setuptools")
    interface = types.ModuleType("hatchling.builders.hooks.plugin.interface")

    class BuildHookInterface:  # the attributes the hook reads
        root = ""
        target_name = ""
        app = None

    interface.BuildHookInterface = BuildHookInterface
    for name in ("hatchling", "hatchling.builders", "hatchling.builders.hooks", "hatchling.builders.hooks.plugin"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, interface.__name__, interface)
    spec = importlib.util.spec_from_file_location("hatch_build_under_test", ROOT / "hatch_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _App:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def display_warning(self, message: str) -> None:
        self.warnings.append(message)


def _hook(module, root: Path, target: str = "wheel"):
    hook = module.CustomBuildHook()
    hook.root, hook.target_name, hook.app = str(root), target, _App()
    return hook


def _project(tmp_path: Path, source: str | None = None) -> Path:
    root = tmp_path / "project"
    (root / SOURCE.parent).mkdir(parents=True)
    if source is None:
        shutil.copyfile(ROOT / SOURCE, root / SOURCE)
    else:
        (root / SOURCE).write_text(source)
    return root


def test_hook_builds_an_importable_module_into_the_wheel(hook_module, tmp_path):
    _require_compiler()
    root = _project(tmp_path)
    hook = _hook(hook_module, root)
    build_data: dict = {"force_include": {}}
    hook.initialize("standard", build_data)
    assert hook.app.warnings == []
    assert build_data["pure_python"] is False and build_data["infer_tag"] is True
    (built, target), *_ = build_data["force_include"].items()
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert target == f"handocr/recognition/_ctcbeam{suffix}" and Path(built).is_file()
    spec = importlib.util.spec_from_file_location("_ctcbeam", built)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.ABI_VERSION == NATIVE_ABI_VERSION  # the interface handocr.recognition.beam calls


def test_editable_build_leaves_the_module_beside_its_source_only(hook_module, tmp_path):
    _require_compiler()
    root = _project(tmp_path)
    build_data: dict = {"force_include": {}}
    _hook(hook_module, root).initialize("editable", build_data)
    assert build_data["force_include"] == {} and build_data["pure_python"] is False
    assert (root / SOURCE.parent / f"_ctcbeam{sysconfig.get_config_var('EXT_SUFFIX')}").is_file()


def test_a_failed_build_warns_and_leaves_a_pure_python_wheel(hook_module, tmp_path):
    root = _project(tmp_path, source="this is not C\n")
    hook = _hook(hook_module, root)
    build_data: dict = {"force_include": {}}
    hook.initialize("standard", build_data)
    assert build_data == {"force_include": {}}
    assert len(hook.app.warnings) == 1 and "Python one will be used" in hook.app.warnings[0]


def test_other_targets_are_left_alone(hook_module, tmp_path):
    build_data: dict = {"force_include": {}}
    _hook(hook_module, _project(tmp_path), target="sdist").initialize("standard", build_data)
    assert build_data == {"force_include": {}}
