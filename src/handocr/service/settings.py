"""Service settings: one pydantic-settings model, read from ``HANDOCR_*`` environment variables.

Authentication is required by default. The service refuses to start (:class:`ServiceConfigError`)
unless at least one credential source is configured (``HANDOCR_API_KEYS``, ``HANDOCR_API_KEYS_FILE``,
``HANDOCR_JWT_SECRET``, ``HANDOCR_JWT_PUBLIC_KEY`` or ``HANDOCR_JWT_PUBLIC_KEY_FILE``) or
``HANDOCR_AUTH_DISABLED=true`` says, on purpose, that every caller is trusted (local use only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MB = 1024 * 1024


class ServiceConfigError(RuntimeError):
    """The service settings are inconsistent or unsafe; the message says what to set."""


class Settings(BaseSettings):
    """Everything the service can be configured with (environment variable = ``HANDOCR_`` + name upper-cased).

    Sizes are bytes, durations seconds, rates requests per window.
    """

    model_config = SettingsConfigDict(env_prefix="HANDOCR_", extra="ignore")

    # Authentication
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Comma-separated API keys accepted in the X-API-Key header."
    )
    api_keys_file: Path | None = Field(None, description="File of hex sha256 digests of API keys, one per line.")
    jwt_secret: SecretStr | None = Field(None, description="HS256 secret for JWT bearer tokens (32 bytes or more).")
    jwt_public_key: SecretStr | None = Field(None, description="RS256 public key (PEM text) for JWT bearer tokens.")
    jwt_public_key_file: Path | None = Field(None, description="File holding the RS256 public key (PEM).")
    jwt_audience: str | None = Field(None, description="Required `aud` claim, if set.")
    jwt_issuer: str | None = Field(None, description="Required `iss` claim, if set.")
    jwt_leeway_s: float = Field(30.0, ge=0, description="Clock skew allowed on `exp`/`nbf`.")
    auth_disabled: bool = Field(False, description="Trust every caller (no credentials). For local use only.")

    # Rate limiting
    rate_limit: int = Field(100, ge=0, description="Requests per client per window on /v1 routes (0: no limit).")
    rate_window_s: int = Field(60, ge=1, description="Rate-limit window.")
    redis_url: SecretStr | None = Field(None, description="Redis URL; shares rate-limit counters between workers.")

    # Input limits
    max_bytes: int = Field(10 * MB, ge=1, description="Largest image upload.")
    max_pixels: int = Field(40_000_000, ge=1, description="Largest page, in pixels.")
    max_pages: int = Field(20, ge=1, description="Most pages in one multi-page input (TIFF, PDF).")
    max_batch_files: int = Field(16, ge=1, description="Most files in one batch request.")
    max_batch_bytes: int = Field(64 * MB, ge=1, description="Largest batch request body.")

    # Virus scan (optional)
    clamd_url: str | None = Field(
        None,
        description="clamd to scan every upload with (tcp://host:port or unix:///path); unset: no scan. "
        "Fails closed: clamd unreachable or timing out answers 503.",
    )
    clamd_timeout_s: float = Field(10.0, gt=0, description="Time allowed for one scan (connect, send, reply).")

    # Concurrency and jobs
    max_concurrent_reads: int = Field(2, ge=1, description="Reads running at once (thread pool size).")
    max_queued_reads: int = Field(8, ge=0, description="Reads allowed to wait for a slot; more get 503.")
    retry_after_s: int = Field(2, ge=1, description="Retry-After sent with 503 responses and pending jobs.")
    job_ttl_s: int = Field(3600, ge=1, description="How long a job (and its result) is kept.")
    max_jobs: int = Field(256, ge=1, description="Most jobs kept at once; more get 503.")

    # Models
    detector: str | None = Field(None, description="Detector model name or folder (shipped default if unset).")
    recognizer: str | None = Field(None, description="Recognizer model name or folder (shipped default if unset).")
    threads: int | None = Field(None, ge=1, description="ONNX Runtime threads per model.")
    language: str = Field(
        "auto",
        description="Language of the pages: auto (guessed per page), any (the recognizer's general decoder) "
        "or a code the recognizer has a decoder for (its model.json 'languages').",
    )

    # Server
    tls_cert: Path | None = Field(
        None, description="PEM certificate (chain); with tls_key, serve HTTPS with TLS 1.3 as the minimum version."
    )
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert (unencrypted; keep it mode 0600).")
    graceful_shutdown_s: int = Field(30, ge=0, description="Seconds in-flight requests get on shutdown.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @property
    def jwt_enabled(self) -> bool:
        """Whether JWT bearer tokens are accepted."""
        return bool(self.jwt_secret or self.jwt_public_key or self.jwt_public_key_file)

    @property
    def keys_enabled(self) -> bool:
        """Whether API keys are accepted."""
        return bool(self.api_keys or self.api_keys_file)

    @property
    def tls_enabled(self) -> bool:
        """Whether the server speaks HTTPS itself (else plain HTTP, e.g. behind a TLS-terminating load balancer)."""
        return self.tls_cert is not None and self.tls_key is not None

    def check(self) -> None:
        """Raise :class:`ServiceConfigError` if the settings are unsafe or contradict each other."""
        if not (self.jwt_enabled or self.keys_enabled or self.auth_disabled):
            raise ServiceConfigError(
                "no credentials configured: set HANDOCR_API_KEYS, HANDOCR_API_KEYS_FILE, HANDOCR_JWT_SECRET "
                "or HANDOCR_JWT_PUBLIC_KEY(_FILE); or set HANDOCR_AUTH_DISABLED=true to trust every caller "
                "(local use only)"
            )
        if self.jwt_secret and (self.jwt_public_key or self.jwt_public_key_file):
            raise ServiceConfigError("set either HANDOCR_JWT_SECRET (HS256) or a public key (RS256), not both")
        if self.jwt_secret and len(self.jwt_secret.get_secret_value().encode()) < 32:
            raise ServiceConfigError("HANDOCR_JWT_SECRET must be at least 32 bytes long")
        if self.api_keys_file and not self.api_keys_file.is_file():
            raise ServiceConfigError(f"HANDOCR_API_KEYS_FILE {self.api_keys_file} is not a file")
        if self.jwt_public_key_file and not self.jwt_public_key_file.is_file():
            raise ServiceConfigError(f"HANDOCR_JWT_PUBLIC_KEY_FILE {self.jwt_public_key_file} is not a file")
        if self.clamd_url:
            from handocr.service.clamd import parse_clamd_url

            try:
                parse_clamd_url(self.clamd_url)
            except ValueError as exc:
                raise ServiceConfigError(f"HANDOCR_CLAMD_URL: {exc}") from None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ServiceConfigError("set both HANDOCR_TLS_CERT and HANDOCR_TLS_KEY to serve HTTPS, or neither")
        for name, path in (("HANDOCR_TLS_CERT", self.tls_cert), ("HANDOCR_TLS_KEY", self.tls_key)):
            if path is not None and not path.is_file():
                raise ServiceConfigError(f"{name} {path} is not a file")
