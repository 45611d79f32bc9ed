"""Hatch build hook: compiles the C beam search (``src/handocr/recognition/_ctcbeam.c``) into the wheel.

It is optional: with no C compiler or Python headers the build goes on with a warning and handocr
uses the pure-Python beam search, which gives the same text, about ten times slower. An editable
install (``pip install -e .``) puts the module beside its source, where the editable package is
imported from; a wheel carries it as ``handocr/recognition/_ctcbeam<suffix>`` and is tagged for
this interpreter and platform.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MODULE = "handocr.recognition._ctcbeam"
SOURCE = Path("src/handocr/recognition/_ctcbeam.c")


def compile_extension(root: Path, out_dir: Path) -> Path:
    """Compile the module with setuptools' build_ext into ``out_dir``; returns the built file."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    extension = Extension(MODULE, [str(root / SOURCE)], extra_compile_args=["-O3"])
    command = build_ext(Distribution({"name": "handocr", "ext_modules": [extension]}))
    command.build_lib = str(out_dir / "lib")
    command.build_temp = str(out_dir / "temp")
    command.ensure_finalized()
    command.run()
    return Path(command.get_ext_fullpath(MODULE))


class CustomBuildHook(BuildHookInterface):
    """Builds ``handocr.recognition._ctcbeam`` for wheels and editable installs."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        work = Path(tempfile.mkdtemp(prefix="handocr-build-"))
        try:
            built = compile_extension(root, work)
        except Exception as exc:
            self.app.display_warning(f"handocr: the C beam search was not built ({exc}); the Python one will be used")
            shutil.rmtree(work, ignore_errors=True)
            return
        in_source = root / SOURCE.parent / built.name  # _ctcbeam<this interpreter's extension suffix>
        shutil.copyfile(built, in_source)
        shutil.rmtree(work, ignore_errors=True)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(in_source)] = f"handocr/recognition/{built.name}"
