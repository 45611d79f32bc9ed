"""Typed errors. The CLI and the service map them to exit codes and HTTP statuses in one place each."""

from __future__ import annotations


class HandocrError(Exception):
    """Base class of every error handocr raises on purpose."""


class InvalidImage(HandocrError):
    """The input is not an image we can decode (empty, truncated, unknown type)."""


class UnsupportedMediaType(InvalidImage):
    """The input's bytes are of a type handocr does not read."""


class ImageTooLarge(HandocrError):
    """The input exceeds the configured byte or pixel limit."""


class ModelNotFound(HandocrError):
    """A model file or model name could not be found."""


class RuntimeUnavailable(ModelNotFound):
    """A model cannot run on the runtime asked for: an unknown name, or OpenVINO not installed."""


class DatasetError(HandocrError):
    """A dataset file is missing or malformed."""


class UnknownLanguage(HandocrError, ValueError):
    """A language the recognizer has no decoder for was asked for."""
