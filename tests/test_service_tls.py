"""HTTPS: with HANDOCR_TLS_CERT and HANDOCR_TLS_KEY, ``handocr serve`` speaks TLS 1.3 and nothing older.

A self-signed certificate for 127.0.0.1 is made here with ``cryptography``; the real server runs on
the loopback interface and clients verify it against that certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from handocr.service import ServiceConfigError
from handocr.service.server import ServerConfig, check_tls_files, server_config
from test_service_support import HOST, KEY, ServeProcess, settings


def write_self_signed(folder: Path, name: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed EC P-256 certificate for 127.0.0.1 and localhost, valid one day; (cert, key) PEM paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def client_context(cafile: Path, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A verifying client context that trusts ``cafile``; ``maximum`` caps the protocol version it offers."""
    context = ssl.create_default_context(cafile=str(cafile))
    if maximum is not None:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.maximum_version = maximum
    return context


def handshake(port: int, context: ssl.SSLContext) -> str:
    """Connect to 127.0.0.1:``port`` and finish a TLS handshake; the negotiated version (raises on failure)."""
    with (
        socket.create_connection((HOST, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        return str(tls.version())


@pytest.fixture
def cert_pair(tmp_path: Path) -> tuple[Path, Path]:
    return write_self_signed(tmp_path)


def test_server_speaks_tls13_and_refuses_tls12(tmp_path: Path, cert_pair: tuple[Path, Path]):
    cert, key = cert_pair
    env = {"HANDOCR_API_KEYS": KEY, "HANDOCR_TLS_CERT": str(cert), "HANDOCR_TLS_KEY": str(key)}
    tls13 = client_context(cert)
    with ServeProcess(tmp_path / "serve.log", env, ready_path="/livez", ssl_context=tls13, timeout_s=60) as server:
        assert handshake(server.port, tls13) == "TLSv1.3"
        with pytest.raises(ssl.SSLError):
            handshake(server.port, client_context(cert, maximum=ssl.TLSVersion.TLSv1_2))
        assert server.status("/livez") == 200
        assert server.url.startswith("https://")
        # Authentication still applies over HTTPS.
        assert server.status("/v1/jobs/none") == 401
        assert server.status("/v1/jobs/none", {"X-API-Key": KEY}) == 404
        assert handshake(server.port, tls13) == "TLSv1.3"  # still serving after the refused handshake


def test_config_sets_tls13_minimum(cert_pair: tuple[Path, Path]):
    cert, key = cert_pair
    config = server_config(object(), settings(tls_cert=cert, tls_key=key), HOST, 0)
    assert isinstance(config, ServerConfig)
    config.load()
    assert config.ssl is not None
    assert config.ssl.minimum_version == ssl.TLSVersion.TLSv1_3
    assert config.ssl.maximum_version in (ssl.TLSVersion.MAXIMUM_SUPPORTED, ssl.TLSVersion.TLSv1_3)


def test_without_tls_the_server_speaks_plain_http():
    config = server_config(object(), settings(), HOST, 0)
    config.load()
    assert config.ssl is None


def test_cert_without_key_is_refused(cert_pair: tuple[Path, Path]):
    with pytest.raises(ServiceConfigError, match="both HANDOCR_TLS_CERT and HANDOCR_TLS_KEY"):
        settings(tls_cert=cert_pair[0]).check()


def test_missing_cert_file_is_refused(tmp_path: Path, cert_pair: tuple[Path, Path]):
    with pytest.raises(ServiceConfigError, match=r"HANDOCR_TLS_CERT .* is not a file"):
        settings(tls_cert=tmp_path / "nope.pem", tls_key=cert_pair[1]).check()


def test_key_of_another_certificate_is_refused(tmp_path: Path, cert_pair: tuple[Path, Path]):
    other = tmp_path / "other"
    other.mkdir()
    _, other_key = write_self_signed(other)
    with pytest.raises(ServiceConfigError, match="cannot load HANDOCR_TLS_CERT"):
        check_tls_files(settings(tls_cert=cert_pair[0], tls_key=other_key))


def test_encrypted_key_is_refused_without_a_prompt(tmp_path: Path, cert_pair: tuple[Path, Path]):
    key = serialization.load_pem_private_key(cert_pair[1].read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    with pytest.raises(ServiceConfigError, match="unencrypted private key"):
        check_tls_files(settings(tls_cert=cert_pair[0], tls_key=encrypted))
