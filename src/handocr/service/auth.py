"""Authentication: API keys (``X-API-Key``) and JWT bearer tokens, resolved to a client id.

Keys are kept only as sha256 digests and compared with :func:`hmac.compare_digest` against every
known digest (no early exit). A client id is never a secret: ``key:<first 12 hex of the digest>``
for a key, ``jwt:<sub>`` for a token, ``anon:<address>`` when authentication is disabled.
Credentials are accepted in headers only, never in the query string.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import jwt

from handocr.service.problems import ApiError
from handocr.service.settings import Settings

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_SAFE_SUB = re.compile(r"[^A-Za-z0-9._@:|-]")
MAX_CREDENTIAL_LENGTH = 8192


@dataclass(frozen=True)
class Principal:
    """Who is calling: a stable, non-secret id used for rate limits, job ownership and the audit log."""

    client_id: str
    method: str  # "api_key", "jwt" or "none"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def load_key_digests(settings: Settings) -> list[str]:
    """The sha256 hex digests of every accepted API key (plain keys hashed, the file's lines as given)."""
    digests = [_digest(key.get_secret_value()) for key in settings.api_keys]
    if settings.api_keys_file:
        for number, raw in enumerate(settings.api_keys_file.read_text().splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if not _HEX64.match(line):
                raise ValueError(f"{settings.api_keys_file}:{number}: not a hex sha256 digest")
            digests.append(line.lower())
    return digests


class Authenticator:
    """Checks the credentials of a request against the configured keys and JWT settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.disabled = settings.auth_disabled and not (settings.keys_enabled or settings.jwt_enabled)
        self.key_digests = [bytes.fromhex(d) for d in load_key_digests(settings)]
        self.jwt_key: str | None = None
        self.jwt_algorithm = "HS256"
        if settings.jwt_secret:
            self.jwt_key = settings.jwt_secret.get_secret_value()
        elif settings.jwt_public_key:
            self.jwt_key, self.jwt_algorithm = settings.jwt_public_key.get_secret_value(), "RS256"
        elif settings.jwt_public_key_file:
            self.jwt_key, self.jwt_algorithm = settings.jwt_public_key_file.read_text(), "RS256"

    @property
    def challenge(self) -> str:
        """The WWW-Authenticate header value sent with 401 responses."""
        challenges = []
        if self.jwt_key:
            challenges.append('Bearer realm="handocr"')
        if self.key_digests:
            challenges.append('ApiKey realm="handocr", header="X-API-Key"')
        return ", ".join(challenges) or 'Bearer realm="handocr"'

    def _fail(self, detail: str, bearer_error: bool = False) -> ApiError:
        challenge = self.challenge
        if bearer_error and self.jwt_key:
            challenge = challenge.replace('Bearer realm="handocr"', 'Bearer realm="handocr", error="invalid_token"')
        return ApiError(401, detail, {"WWW-Authenticate": challenge})

    def authenticate(self, api_key: str | None, authorization: str | None, address: str) -> Principal:
        """The principal for the request's headers; raises a 401 :class:`ApiError` if they do not check out."""
        if self.disabled:
            return Principal(f"anon:{address}", "none")
        if api_key is not None:
            return self._check_key(api_key)
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise self._fail("unsupported Authorization scheme; use Bearer")
            return self._check_token(token.strip())
        raise self._fail("credentials required: an X-API-Key header or a Bearer token")

    def _check_key(self, api_key: str) -> Principal:
        if not self.key_digests or len(api_key) > MAX_CREDENTIAL_LENGTH:
            raise self._fail("invalid API key")
        candidate = hashlib.sha256(api_key.encode("utf-8", "surrogateescape")).digest()
        match = False
        for digest in self.key_digests:
            match |= hmac.compare_digest(candidate, digest)
        if not match:
            raise self._fail("invalid API key")
        return Principal(f"key:{candidate.hex()[:12]}", "api_key")

    def _check_token(self, token: str) -> Principal:
        if not self.jwt_key or len(token) > MAX_CREDENTIAL_LENGTH:
            raise self._fail("invalid bearer token", bearer_error=True)
        try:
            claims = jwt.decode(
                token,
                self.jwt_key,
                algorithms=[self.jwt_algorithm],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                leeway=self.settings.jwt_leeway_s,
                options={"require": ["exp", "sub"], "verify_aud": self.settings.jwt_audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise self._fail("bearer token expired", bearer_error=True) from None
        except jwt.PyJWTError:
            raise self._fail("invalid bearer token", bearer_error=True) from None
        subject = _SAFE_SUB.sub("_", str(claims["sub"]))[:128]
        if not subject:
            raise self._fail("invalid bearer token", bearer_error=True)
        return Principal(f"jwt:{subject}", "jwt")
