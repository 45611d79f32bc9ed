"""The REST service's defences: authentication, rate limits, body limits before reading, overload."""

from __future__ import annotations

import hashlib
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from fakes import fake_reader
from handocr.service import Settings, create_app
from handocr.service.ratelimit import MemoryRateLimiter, RedisRateLimiter
from test_service_support import AUTH, JWT_SECRET, KEY, OTHER_AUTH, asgi_call, client_for, png, settings

IMAGE_HEADERS = {"Content-Type": "image/png"}


def token(secret: str = JWT_SECRET, algorithm: str = "HS256", **claims) -> str:
    payload = {"sub": "alice", "exp": int(time.time()) + 300, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm=algorithm)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def assert_401(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"]
    assert response.headers["content-type"] == "application/problem+json"


@pytest.fixture
def client():
    with client_for() as c:
        yield c


def test_api_key_and_jwt_are_accepted(client):
    assert client.post("/v1/read", content=png(), headers={**AUTH, **IMAGE_HEADERS}).status_code == 200
    assert client.post("/v1/read", content=png(), headers={**bearer(token()), **IMAGE_HEADERS}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": ""},
        {"X-API-Key": "wrong-key"},
        {"X-API-Key": KEY + "x"},
        {"X-API-Key": KEY[:-1]},
        {"X-API-Key": "k" * 20000},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not.a.jwt"},
    ],
)
def test_bad_credentials_are_401(client, headers):
    response = client.post("/v1/read", content=png(), headers={**headers, **IMAGE_HEADERS})
    assert_401(response)
    assert 'realm="handocr"' in response.headers["www-authenticate"]


def test_key_in_query_string_is_not_accepted(client):
    assert_401(client.post(f"/v1/read?api_key={KEY}&X-API-Key={KEY}", content=png(), headers=IMAGE_HEADERS))
    assert_401(client.get(f"/v1/jobs/x?access_token={token()}"))


def test_jwt_bypass_attempts_are_401(client):
    unsigned = jwt.encode({"sub": "alice", "exp": int(time.time()) + 300}, None, algorithm="none")
    header_only_none = jwt.encode({"sub": "alice", "exp": int(time.time()) + 300}, JWT_SECRET, algorithm="HS256")
    head, body, _ = header_only_none.split(".")
    for bad in [
        unsigned,  # alg none
        f"{head}.{body}.",  # signature stripped
        token(exp=int(time.time()) - 3600),  # expired
        token(exp=None),  # no exp
        token(sub=None),  # no subject
        token(secret="another-secret-that-is-also-long-enough-0123"),  # wrong key
        token(algorithm="HS512"),  # algorithm not configured
        token(nbf=int(time.time()) + 3600),  # not valid yet
    ]:
        response = client.post("/v1/read", content=png(), headers={**bearer(bad), **IMAGE_HEADERS})
        assert_401(response)
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    expired = client.get("/v1/jobs/x", headers=bearer(token(exp=int(time.time()) - 3600)))
    assert expired.json()["detail"] == "bearer token expired"


def test_audience_and_issuer_when_configured():
    with client_for(jwt_audience="handocr-api", jwt_issuer="https://idp.example") as client:
        good = token(aud="handocr-api", iss="https://idp.example")
        assert client.get("/v1/jobs/x", headers=bearer(good)).status_code == 404
        for bad in [token(aud="other", iss="https://idp.example"), token(aud="handocr-api"), token()]:
            assert_401(client.get("/v1/jobs/x", headers=bearer(bad)))


def test_rs256_public_key_and_algorithm_confusion(tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key_file = tmp_path / "jwt.pub"
    key_file.write_text(pem)
    app = create_app(fake_reader(), Settings(jwt_public_key_file=key_file))
    with TestClient(app) as client:
        good = jwt.encode({"sub": "bob", "exp": int(time.time()) + 60}, private, algorithm="RS256")
        assert client.get("/v1/jobs/x", headers=bearer(good)).status_code == 404
        # An HS256 token "signed" with the public key must not pass as RS256.
        head = '{"alg":"HS256","typ":"JWT"}'
        import base64
        import hmac

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        body = b64(f'{{"sub":"eve","exp":{int(time.time()) + 60}}}'.encode())
        signing_input = f"{b64(head.encode())}.{body}"
        signature = b64(hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest())
        assert_401(client.get("/v1/jobs/x", headers=bearer(f"{signing_input}.{signature}")))
        assert_401(client.get("/v1/jobs/x", headers=AUTH))  # no keys configured here


def test_api_keys_file_holds_hashes(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"# handocr keys\n{hashlib.sha256(b'file-key').hexdigest()}  # ci\n\n")
    app = create_app(fake_reader(), Settings(api_keys_file=keys))
    with TestClient(app) as client:
        assert client.get("/v1/jobs/x", headers={"X-API-Key": "file-key"}).status_code == 404
        assert_401(client.get("/v1/jobs/x", headers={"X-API-Key": hashlib.sha256(b"file-key").hexdigest()}))


def test_101st_request_in_a_minute_is_429():
    with client_for(rate_limit=100) as client:
        for i in range(100):
            response = client.get("/v1/jobs/x", headers=AUTH)
            assert response.status_code == 404
            assert response.headers["ratelimit-remaining"] == str(99 - i)
        response = client.get("/v1/jobs/x", headers=AUTH)
        assert response.status_code == 429
        assert response.headers["content-type"] == "application/problem+json"
        assert 1 <= int(response.headers["retry-after"]) <= 60
        assert response.headers["ratelimit-limit"] == "100"
        assert response.headers["ratelimit-remaining"] == "0"
        assert 1 <= int(response.headers["ratelimit-reset"]) <= 60
        # Checked before the body is read: the app never asks for the upload.
        status, headers, _, asked = asgi_call(client, "POST", "/v1/read", {**AUTH, **IMAGE_HEADERS}, [png()])
        assert (status, asked) == (429, 0)
        assert "retry-after" in headers
        # Another client has its own budget.
        assert client.get("/v1/jobs/x", headers=OTHER_AUTH).status_code == 404
        assert client.get("/metrics").text.count('handocr_rejects_total{reason="rate_limited"} 2.0') == 1


def test_memory_limiter_window_slides():
    now = [0.0]
    limiter = MemoryRateLimiter(2, 60, clock=lambda: now[0])
    import asyncio

    hits = []
    for t in [0, 10, 20, 59.9, 60.0, 70.0, 71.0]:
        now[0] = t
        hits.append(asyncio.run(limiter.hit("c")).allowed)
    assert hits == [True, True, False, False, True, True, False]


def test_redis_limiter_counts_in_a_fixed_window():
    class FakePipeline:
        def __init__(self, store):
            self.store, self.ops = store, []

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            return False

        def incr(self, key):
            self.ops.append(("incr", key))

        def expire(self, key, seconds):
            self.ops.append(("expire", key, seconds))

        async def execute(self):
            out = []
            for op in self.ops:
                if op[0] == "incr":
                    self.store[op[1]] = self.store.get(op[1], 0) + 1
                    out.append(self.store[op[1]])
                else:
                    out.append(True)
            return out

    class FakeRedis:
        def __init__(self):
            self.store = {}

        def pipeline(self, transaction=True):
            return FakePipeline(self.store)

    import asyncio

    limiter = RedisRateLimiter(FakeRedis(), 3, 3600)
    decisions = [asyncio.run(limiter.hit("c")) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert "Retry-After" in decisions[-1].headers()


def test_unauthenticated_request_is_refused_before_reading_the_body(client):
    status, headers, _, asked = asgi_call(client, "POST", "/v1/read", IMAGE_HEADERS, [png()])
    assert (status, asked) == (401, 0)
    assert "www-authenticate" in headers


def test_declared_length_over_limit_is_413_without_reading():
    with client_for(max_bytes=10_000) as client:
        headers = {**AUTH, **IMAGE_HEADERS, "Content-Length": str(50 * 1024 * 1024)}
        status, response_headers, _body, asked = asgi_call(client, "POST", "/v1/read", headers, [b"x" * 1000] * 50)
        assert (status, asked) == (413, 0)
        assert response_headers["content-type"] == "application/problem+json"


def test_streamed_body_over_limit_stops_being_read():
    with client_for(max_bytes=10_000) as client:
        chunks = [png()[:8] + b"\0" * 992] + [b"\0" * 1000] * 99  # 100 kB, no Content-Length
        status, _, _, asked = asgi_call(client, "POST", "/v1/read", {**AUTH, **IMAGE_HEADERS}, chunks)
        assert status == 413
        assert asked <= 11
        headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=xyz"}
        multipart = [b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n', *chunks]
        status, _, _, asked = asgi_call(client, "POST", "/v1/read", headers, multipart)
        assert status == 413
        assert asked <= 80


def test_full_service_answers_503_fast():
    release, entered = threading.Event(), threading.Event()
    reader = fake_reader()
    recognize = reader.recognizer.recognize
    armed = [False]

    def blocking_recognize(crops, language="auto"):
        if armed[0]:
            entered.set()
            release.wait(10)
        return recognize(crops, language)

    reader.recognizer.recognize = blocking_recognize
    with client_for(reader, max_concurrent_reads=1, max_queued_reads=0, retry_after_s=3) as client:
        armed[0] = True
        results = {}
        worker = threading.Thread(
            target=lambda: results.setdefault(
                "first", client.post("/v1/read", content=png(), headers={**AUTH, **IMAGE_HEADERS})
            )
        )
        worker.start()
        try:
            assert entered.wait(10)
            started = time.perf_counter()
            response = client.post("/v1/read", content=png(), headers={**AUTH, **IMAGE_HEADERS})
            assert time.perf_counter() - started < 5  # answered at once, not after the blocked read
            assert response.status_code == 503
            assert response.headers["retry-after"] == "3"
            assert response.headers["content-type"] == "application/problem+json"
            assert client.get("/livez").status_code == 200  # the event loop is not blocked
            assert "handocr_reads_in_flight 1.0" in client.get("/metrics").text
        finally:
            release.set()
            worker.join(10)
        assert results["first"].status_code == 200
        assert client.post("/v1/read", content=png(), headers={**AUTH, **IMAGE_HEADERS}).status_code == 200


def test_unexpected_error_is_a_500_problem_without_details(caplog):
    reader = fake_reader()
    armed = [False]
    recognize = reader.recognizer.recognize

    def broken(crops, language="auto"):
        if armed[0]:
            raise RuntimeError("secret internal detail")
        return recognize(crops, language)

    reader.recognizer.recognize = broken
    with client_for(reader) as client:
        armed[0] = True
        response = client.post("/v1/read", content=png(), headers={**AUTH, **IMAGE_HEADERS})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    assert "secret internal detail" not in response.text
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_settings_in_defaults_are_the_documented_ones():
    defaults = settings()
    assert defaults.rate_limit == 100 and defaults.rate_window_s == 60
    assert defaults.max_bytes == 10 * 1024 * 1024
    assert defaults.max_batch_files == 16
