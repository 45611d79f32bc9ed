"""Where batch inputs come from and outputs go: a local folder, or any URI pyarrow's filesystems know.

Local paths (and ``file://`` URIs) use :mod:`pathlib` only. Other schemes (``s3://``, ``gs://``,
``abfs://``, ``hdfs://``) go through :func:`pyarrow.fs.FileSystem.from_uri`, which Ray Data
installs; credentials come from the usual environment (instance role, ``AWS_*``, workload identity).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

INPUT_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".pdf"})


class StorageError(RuntimeError):
    """A URI cannot be listed, read or written (unknown scheme, missing filesystem support)."""


def is_local(uri: str) -> bool:
    """Whether ``uri`` is a plain path or a ``file://`` URI."""
    scheme = urlparse(uri).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and uri[1:3] in (":\\", ":/"))  # Windows drive letters


def _local_path(uri: str) -> Path:
    return Path(urlparse(uri).path) if uri.startswith("file://") else Path(uri)


@dataclass(frozen=True)
class Store:
    """A folder on one filesystem. ``relative`` names are POSIX paths below :attr:`root`."""

    uri: str

    @property
    def local(self) -> bool:
        """Whether the folder is on the local filesystem."""
        return is_local(self.uri)

    def _remote(self) -> tuple[Any, str]:
        try:
            from pyarrow import fs
        except ImportError as exc:  # pragma: no cover - pyarrow comes with ray[data]
            raise StorageError(f"{self.uri}: remote URIs need pyarrow (pip install 'ray[data]')") from exc
        try:
            filesystem, root = fs.FileSystem.from_uri(self.uri)
        except Exception as exc:  # pyarrow raises ArrowInvalid / ArrowNotImplementedError / OSError
            raise StorageError(f"{self.uri}: {exc}") from exc
        return filesystem, root.rstrip("/")

    def list_inputs(self, suffixes: frozenset[str] = INPUT_SUFFIXES) -> list[str]:
        """Relative names of the image and PDF files below the folder (recursive), sorted."""
        if self.local:
            root = _local_path(self.uri)
            if root.is_file():
                return [root.name] if root.suffix.lower() in suffixes else []
            if not root.is_dir():
                raise StorageError(f"{self.uri}: no such folder")
            found = (p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            return sorted(p.relative_to(root).as_posix() for p in found)
        from pyarrow import fs

        filesystem, root = self._remote()
        infos = filesystem.get_file_info(fs.FileSelector(root, recursive=True, allow_not_found=False))
        names = [
            info.path[len(root) :].lstrip("/")
            for info in infos
            if info.type == fs.FileType.File and PurePosixPath(info.path).suffix.lower() in suffixes
        ]
        return sorted(names)

    def read_bytes(self, relative: str) -> bytes:
        """The bytes of one file below the folder."""
        if self.local:
            root = _local_path(self.uri)
            return (root if root.is_file() else root / relative).read_bytes()
        filesystem, root = self._remote()
        with filesystem.open_input_stream(f"{root}/{relative}") as stream:
            return stream.read()

    def write_bytes(self, relative: str, data: bytes) -> str:
        """Write ``data`` to a file below the folder, creating parents; returns where it went."""
        if self.local:
            path = _local_path(self.uri) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)  # readers never see half a file
            return str(path)
        filesystem, root = self._remote()
        target = f"{root}/{relative}"
        filesystem.create_dir(str(PurePosixPath(target).parent), recursive=True)
        with filesystem.open_output_stream(target) as stream:
            stream.write(data)
        return target

    def exists(self, relative: str) -> bool:
        """Whether a file below the folder exists."""
        if self.local:
            return (_local_path(self.uri) / relative).is_file()
        from pyarrow import fs

        filesystem, root = self._remote()
        return filesystem.get_file_info(f"{root}/{relative}").type == fs.FileType.File
