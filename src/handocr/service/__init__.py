"""The handocr REST service: ``create_app()`` builds the FastAPI app, ``run(host, port)`` serves it.

Needs the ``serve`` extra. Configuration comes from ``HANDOCR_*`` environment variables
(:class:`~handocr.service.settings.Settings`); authentication must be configured or explicitly
disabled, else the app refuses to start.
"""

from __future__ import annotations

from handocr.service.app import create_app, run
from handocr.service.settings import ServiceConfigError, Settings

__all__ = ["ServiceConfigError", "Settings", "create_app", "run"]
