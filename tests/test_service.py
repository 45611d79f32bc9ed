"""The REST service: reading, formats, input validation, batch, headers, metrics, audit, OpenAPI, web page."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fakes import fake_reader
from handocr.service import ServiceConfigError, Settings, create_app
from test_service_support import AUTH, KEY, client_for, noisy_png, png, settings

PROBLEM = "application/problem+json"


@pytest.fixture
def client():
    with client_for() as c:
        yield c


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:handocr:problem:")
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["instance"].endswith(body["request_id"])
    return body


def test_read_raw_body_returns_document(client):
    response = client.post("/v1/read", content=png(3), headers={**AUTH, "Content-Type": "image/png"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert document["pages"][0]["width"] == 400
    assert [line["text"] for line in document["pages"][0]["lines"]] == ["hello world"] * 3


def test_read_multipart_file_keeps_a_clean_file_name(client):
    files = {"file": ("../../etc/page one.png", png(2), "image/png")}
    response = client.post("/v1/read", files=files, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["source"] == "page one.png"
    assert len(response.json()["pages"][0]["lines"]) == 2


def test_format_text_uses_the_exporter(client):
    response = client.post("/v1/read?format=text", content=png(2), headers={**AUTH, "Content-Type": "image/png"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "hello world" in response.text


def test_unknown_format_is_422(client):
    response = client.post("/v1/read?format=docx", content=png(), headers={**AUTH, "Content-Type": "image/png"})
    assert "unknown format" in assert_problem(response, 422)["detail"]


def test_wrong_magic_bytes_is_415(client):
    response = client.post("/v1/read", content=b"GIF89a" + b"\0" * 100, headers={**AUTH, "Content-Type": "image/png"})
    assert_problem(response, 415)


def test_unsupported_content_type_is_415(client):
    response = client.post("/v1/read", content=b"hello", headers={**AUTH, "Content-Type": "text/plain"})
    assert_problem(response, 415)


def test_truncated_image_is_422(client):
    response = client.post("/v1/read", content=png()[:60], headers={**AUTH, "Content-Type": "image/png"})
    assert_problem(response, 422)


def test_empty_body_and_missing_field_are_422(client):
    assert_problem(client.post("/v1/read", content=b"", headers={**AUTH, "Content-Type": "image/png"}), 422)
    response = client.post("/v1/read", files={"other": ("a.png", png(), "image/png")}, headers=AUTH)
    assert "'file'" in assert_problem(response, 422)["detail"]


def test_too_many_bytes_is_413():
    with client_for(max_bytes=2000) as client:
        big = png(3, (1200, 900))
        assert len(big) > 2000
        assert_problem(client.post("/v1/read", content=big, headers={**AUTH, "Content-Type": "image/png"}), 413)
        assert_problem(client.post("/v1/read", files={"file": ("a.png", big, "image/png")}, headers=AUTH), 413)


def test_too_many_pixels_is_413():
    with client_for(max_pixels=10_000) as client:
        response = client.post("/v1/read", content=png(), headers={**AUTH, "Content-Type": "image/png"})
        assert "pixels" in assert_problem(response, 413)["detail"]


def test_batch_reports_each_item(client):
    files = [
        ("files", ("one.png", png(1), "image/png")),
        ("files", ("bad.txt", b"not an image at all", "text/plain")),
        ("files", ("broken.png", png()[:50], "image/png")),
        ("files", ("three.png", png(3), "image/png")),
    ]
    response = client.post("/v1/read:batch", files=files, headers=AUTH)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["status"] for item in items] == [200, 415, 422, 200]
    assert [item["index"] for item in items] == [0, 1, 2, 3]
    assert len(items[0]["result"]["pages"][0]["lines"]) == 1
    assert items[1]["problem"]["type"] == "urn:handocr:problem:unsupported-media-type"
    assert "result" not in items[1]


def test_batch_limits_file_count():
    with client_for(max_batch_files=3) as client:
        files = [("files", (f"{i}.png", png(1), "image/png")) for i in range(4)]
        assert (
            "more than 3 files"
            in assert_problem(client.post("/v1/read:batch", files=files, headers=AUTH), 422)["detail"]
        )


def test_method_not_allowed_lists_every_method(client):
    response = client.put("/v1/jobs/x", headers=AUTH)
    assert_problem(response, 405)
    assert response.headers["allow"] == "DELETE, GET"


def test_request_id_is_echoed_or_replaced(client):
    response = client.get("/livez", headers={"X-Request-ID": "abc-123.x"})
    assert response.headers["x-request-id"] == "abc-123.x"
    for bad in ["a" * 65, "has space", "semi;colon", "<script>"]:
        response = client.get("/livez", headers={"X-Request-ID": bad})
        assert response.headers["x-request-id"] != bad
        assert len(response.headers["x-request-id"]) == 32


def test_every_response_is_no_store(client):
    for response in [client.get("/livez"), client.get("/"), client.get("/nope"), client.post("/v1/read")]:
        assert response.headers["cache-control"] == "no-store"
    assert_problem(client.get("/nope"), 404)


def test_health_and_readiness(client):
    assert client.get("/livez").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"


def test_not_ready_until_models_are_loaded():
    app = create_app(fake_reader(), settings())
    client = TestClient(app)  # no lifespan: nothing has been loaded or warmed up
    response = client.get("/readyz")
    assert_problem(response, 503)
    assert response.headers["retry-after"]
    response = client.post("/v1/read", content=png(), headers={**AUTH, "Content-Type": "image/png"})
    assert_problem(response, 503)


def test_refuses_to_start_without_credentials(monkeypatch):
    for name in ["HANDOCR_API_KEYS", "HANDOCR_API_KEYS_FILE", "HANDOCR_JWT_SECRET", "HANDOCR_AUTH_DISABLED"]:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ServiceConfigError, match="HANDOCR_AUTH_DISABLED"):
        create_app(fake_reader(), Settings())
    with pytest.raises(ServiceConfigError, match="32 bytes"):
        create_app(fake_reader(), Settings(jwt_secret="short"))


def test_auth_disabled_on_purpose_lets_anyone_in():
    app = create_app(fake_reader(), Settings(auth_disabled=True))
    with TestClient(app) as client:
        response = client.post("/v1/read", content=png(), headers={"Content-Type": "image/png"})
        assert response.status_code == 200


def test_metrics_count_requests_pages_stages_and_rejects(client):
    client.post("/v1/read", content=png(), headers={**AUTH, "Content-Type": "image/png"})
    client.post("/v1/read", content=png(), headers={"X-API-Key": "wrong", "Content-Type": "image/png"})
    client.get("/v1/jobs/some-id-that-is-random", headers=AUTH)
    text = client.get("/metrics").text
    assert 'handocr_request_duration_seconds_count{method="POST",route="/v1/read",status="200"} 1.0' in text
    assert 'route="/v1/jobs/{job_id}"' in text  # route templates, not raw paths
    assert "some-id-that-is-random" not in text
    assert "handocr_pages_total 1.0" in text
    assert 'handocr_stage_duration_seconds_count{stage="recognize"} 1.0' in text
    assert 'handocr_rejects_total{reason="unauthorized"} 1.0' in text
    assert "handocr_requests_in_flight" in text
    assert "handocr_reads_in_flight 0.0" in text


def test_audit_line_has_no_secrets_image_or_text(client, caplog):
    image = png(2)
    with caplog.at_level(logging.INFO, logger="handocr.audit"):
        response = client.post("/v1/read?api_key=leaky", content=image, headers={**AUTH, "Content-Type": "image/png"})
    assert response.status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "handocr.audit"]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["client"] == "key:" + hashlib.sha256(KEY.encode()).hexdigest()[:12]
    assert record["sha256"] == [hashlib.sha256(image).hexdigest()]
    assert record["route"] == "/v1/read"
    assert record["status"] == 200
    assert record["bytes_in"] == len(image)
    assert record["request_id"] == response.headers["x-request-id"]
    assert record["latency_ms"] >= 0
    assert set(record) == {
        "time", "request_id", "client", "method", "route", "status", "bytes_in", "bytes_out", "sha256", "latency_ms"
    }  # fmt: skip
    for secret in [KEY, "leaky", "hello world"]:
        assert secret not in lines[0]


def test_openapi_documents_every_error_as_problem_json(client):
    schema = client.get("/openapi.json").json()
    expected = {
        ("/v1/read", "post"): {"401", "413", "415", "422", "429", "503"},
        ("/v1/read:batch", "post"): {"401", "413", "415", "422", "429", "503"},
        ("/v1/jobs", "post"): {"401", "413", "415", "422", "429", "503"},
        ("/v1/jobs/{job_id}", "get"): {"401", "404", "429"},
        ("/v1/jobs/{job_id}", "delete"): {"401", "404", "429"},
        ("/readyz", "get"): {"503"},
    }
    for (path, method), statuses in expected.items():
        responses = schema["paths"][path][method]["responses"]
        assert statuses <= set(responses), (path, method)
        for status in statuses:
            assert list(responses[status]["content"]) == [PROBLEM], (path, method, status)
    assert "Problem" in schema["components"]["schemas"]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(schema["components"]["securitySchemes"])


def test_web_page_is_served_without_external_resources(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "<canvas" in response.text
    script = client.get("/app.js")
    assert script.status_code == 200 and "v1/read" in script.text
    assert client.get("/app.css").status_code == 200
    for text in [response.text, script.text]:
        assert "http://" not in text and "https://" not in text


class _TempSpy:
    """Records every way the process could create a temporary file."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
        self.calls: list[str] = []
        monkeypatch.setattr(tempfile, "tempdir", str(directory))
        for name in ["mkstemp", "TemporaryFile", "NamedTemporaryFile"]:
            monkeypatch.setattr(tempfile, name, self._wrap(name, getattr(tempfile, name)))
        rollover = tempfile.SpooledTemporaryFile.rollover
        monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", self._wrap("rollover", rollover))

    def _wrap(self, name, function):
        def spy(*args, **kwargs):
            self.calls.append(name)
            return function(*args, **kwargs)

        return spy


def test_multipart_upload_over_1mb_never_touches_disk(monkeypatch, tmp_path):
    watched = tmp_path / "tmp"
    watched.mkdir()
    spy = _TempSpy(monkeypatch, watched)
    assert tempfile.gettempdir() == str(watched)
    seen_during_read: list[list[str]] = []
    reader = fake_reader()
    detect = reader.detector.detect

    def watching_detect(image):
        seen_during_read.append([p.name for p in watched.iterdir()])
        return detect(image)

    reader.detector.detect = watching_detect
    image = noisy_png((800, 600))
    assert len(image) > 1_100_000
    with client_for(reader) as client:
        seen_during_read.clear()  # forget the warm-up
        response = client.post("/v1/read", files={"file": ("big.png", image, "image/png")}, headers=AUTH)
        assert response.status_code == 200, response.text
        batch = client.post("/v1/read:batch", files=[("files", ("big.png", image, "image/png"))], headers=AUTH)
        assert batch.json()["items"][0]["status"] == 200
    assert len(seen_during_read) >= 2  # both reads ran (auto-rotate may look at a page twice)
    assert all(names == [] for names in seen_during_read)
    assert list(watched.iterdir()) == []
    assert spy.calls == []

    # Control: the spy does catch Starlette's own form parsing, which spools parts over 1 MB.
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def spooling(request):
        async with request.form() as form:
            return PlainTextResponse(str(len(await form["file"].read())))

    with TestClient(Starlette(routes=[Route("/", spooling, methods=["POST"])])) as control:
        assert control.post("/", files={"file": ("big.png", image, "image/png")}).text == str(len(image))
    assert "rollover" in spy.calls


def test_settings_read_comma_separated_keys_from_environment(monkeypatch):
    monkeypatch.setenv("HANDOCR_API_KEYS", " k1 , k2,,")
    monkeypatch.setenv("HANDOCR_RATE_LIMIT", "7")
    loaded = Settings()
    assert [k.get_secret_value() for k in loaded.api_keys] == ["k1", "k2"]
    assert loaded.rate_limit == 7
    assert "k1" not in repr(loaded)
