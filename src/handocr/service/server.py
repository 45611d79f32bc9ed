"""The Uvicorn configuration of ``handocr serve``: plain HTTP, or HTTPS with TLS 1.3 as the minimum version.

With ``HANDOCR_TLS_CERT`` and ``HANDOCR_TLS_KEY`` set, the server speaks HTTPS itself and refuses
TLS 1.2 and older in the handshake. Without them it speaks plain HTTP, for a load balancer or an
ingress that terminates TLS in front of it (docs/deploy.md).
"""

from __future__ import annotations

import ssl
from typing import Any

import uvicorn

from handocr.service.settings import ServiceConfigError, Settings

MIN_TLS_VERSION = ssl.TLSVersion.TLSv1_3


class ServerConfig(uvicorn.Config):
    """Uvicorn's config, except that its SSL context (if any) accepts nothing older than TLS 1.3."""

    def load(self) -> None:
        """Load as Uvicorn does, then raise the SSL context's minimum protocol version."""
        super().load()
        if self.ssl is not None:
            self.ssl.minimum_version = MIN_TLS_VERSION


def check_tls_files(settings: Settings) -> None:
    """Raise :class:`ServiceConfigError` unless the TLS certificate and key load, and belong together.

    An encrypted key is refused here (no passphrase prompt): the key must be an unencrypted PEM file.
    """
    if not settings.tls_enabled:
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key), password=lambda: "")
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ServiceConfigError(
            f"cannot load HANDOCR_TLS_CERT {settings.tls_cert} with HANDOCR_TLS_KEY {settings.tls_key} "
            f"(PEM certificate chain and its unencrypted private key expected): {exc}"
        ) from None


def check_language(settings: Settings) -> None:
    """Raise :class:`ServiceConfigError` unless ``HANDOCR_LANGUAGE`` is one the recognizer reads (a
    recognizer that cannot be found is left to the model load, which answers 503 on /readyz)."""
    from handocr.errors import ModelNotFound, UnknownLanguage
    from handocr.models import DEFAULT_RECOGNIZER, check_recognizer_language

    try:
        check_recognizer_language(settings.recognizer or DEFAULT_RECOGNIZER, settings.language)
    except ModelNotFound:
        return
    except UnknownLanguage as exc:
        raise ServiceConfigError(f"HANDOCR_LANGUAGE: {exc}") from None


def check_runtime() -> None:
    """Raise :class:`ServiceConfigError` for a ``HANDOCR_RUNTIME`` that no model could run on: an
    unknown name, or ``openvino`` without OpenVINO installed (see :mod:`handocr.runtime`)."""
    from handocr.errors import RuntimeUnavailable
    from handocr.runtime import runtime_choice

    try:
        runtime_choice(None, None)
    except RuntimeUnavailable as exc:
        raise ServiceConfigError(f"HANDOCR_RUNTIME: {exc}") from None


def server_config(app: Any, settings: Settings, host: str, port: int) -> ServerConfig:
    """The Uvicorn config serving ``app`` on ``host:port``, over HTTPS (TLS 1.3+) when TLS is configured."""
    check_tls_files(settings)
    check_language(settings)
    check_runtime()
    tls: dict[str, Any] = {}
    if settings.tls_enabled:
        tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    return ServerConfig(
        app,
        host=host,
        port=port,
        log_level=settings.log_level,
        access_log=False,  # the audit log has one line per call
        server_header=False,
        timeout_graceful_shutdown=settings.graceful_shutdown_s,
        lifespan="on",
        **tls,
    )
