"""The REST service's background jobs: lifecycle, ownership, cancellation, expiry, input dropped."""

from __future__ import annotations

import threading
import time

from fakes import fake_reader
from handocr.service.jobs import JobStatus, JobStore
from handocr.service.problems import ApiError
from test_service_support import AUTH, OTHER_AUTH, client_for, png


def wait_for(client, location: str, headers: dict[str, str], timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(location, headers=headers).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"job did not finish: {body}")


def test_job_lifecycle():
    with client_for() as client:
        response = client.post("/v1/jobs", content=png(2), headers={**AUTH, "Content-Type": "image/png"})
        assert response.status_code == 202
        location = response.headers["operation-location"]
        assert location == f"/v1/jobs/{response.json()['id']}"
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["status"] in ("notStarted", "running")
        assert "createdDateTime" in response.json()

        body = wait_for(client, location, AUTH)
        assert body["status"] == "succeeded"
        assert len(body["result"]["pages"][0]["lines"]) == 2
        assert "error" not in body
        done = client.get(location, headers=AUTH)
        assert "retry-after" not in done.headers

        store = client.app.state.services.jobs
        job = store.get(body["id"], client.app.state.services.auth.authenticate(AUTH["X-API-Key"], None, "").client_id)
        assert job.data is None  # the image is gone once the job has run

        other = client.get(location, headers=OTHER_AUTH)
        assert other.status_code == 404
        assert client.delete(location, headers=OTHER_AUTH).status_code == 404

        assert client.delete(location, headers=AUTH).status_code == 204
        assert client.get(location, headers=AUTH).status_code == 404
        assert client.get("/v1/jobs/does-not-exist", headers=AUTH).status_code == 404


def test_job_multipart_and_failure():
    with client_for() as client:
        response = client.post("/v1/jobs", files={"file": ("p.png", png(1), "image/png")}, headers=AUTH)
        assert wait_for(client, response.headers["operation-location"], AUTH)["result"]["source"] == "p.png"

        broken = png()[:8] + b"\0" * 200  # right magic bytes, undecodable: accepted, then fails
        response = client.post("/v1/jobs", content=broken, headers={**AUTH, "Content-Type": "image/png"})
        assert response.status_code == 202
        body = wait_for(client, response.headers["operation-location"], AUTH)
        assert body["status"] == "failed"
        assert body["error"]["status"] == 422
        assert "result" not in body

        response = client.post("/v1/jobs", content=b"plain text", headers={**AUTH, "Content-Type": "image/png"})
        assert response.status_code == 415  # checked before a job is made


def test_cancel_a_running_job_drops_its_input():
    release, entered = threading.Event(), threading.Event()
    reader = fake_reader()
    recognize = reader.recognizer.recognize
    armed = [False]

    def blocking(crops, language="auto"):
        if armed[0]:
            entered.set()
            release.wait(10)
        return recognize(crops, language)

    reader.recognizer.recognize = blocking
    with client_for(reader) as client:
        armed[0] = True
        response = client.post("/v1/jobs", content=png(), headers={**AUTH, "Content-Type": "image/png"})
        location = response.headers["operation-location"]
        try:
            assert entered.wait(10)
            assert client.get(location, headers=AUTH).json()["status"] == "running"
            job_id = response.json()["id"]
            job = client.app.state.services.jobs._jobs[job_id]
            assert client.delete(location, headers=AUTH).status_code == 204
            assert job.data is None
            assert client.get(location, headers=AUTH).status_code == 404
        finally:
            release.set()


def test_store_expires_jobs_and_bounds_their_number():
    now = [1000.0]
    store = JobStore(ttl_s=60, max_jobs=2, retry_after_s=5, clock=lambda: now[0])
    first = store.create("alice", b"x", None)
    store.create("alice", b"y", None)
    try:
        store.create("alice", b"z", None)
        raise AssertionError("a full store must refuse")
    except ApiError as error:
        assert error.status == 503 and error.headers["Retry-After"] == "5"
    store.touch(first, JobStatus.succeeded)
    assert first.data is None
    now[0] += 61
    try:
        store.get(first.id, "alice")
        raise AssertionError("an expired job must be gone")
    except ApiError as error:
        assert error.status == 404
    assert len(store) == 0
    assert store.create("bob", b"w", None).owner == "bob"
