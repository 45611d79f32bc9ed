"""Asynchronous read jobs, kept in memory: create, poll, cancel; results expire after a TTL.

A job belongs to the client that created it; to anyone else it does not exist (404). The image
bytes are dropped as soon as the job has run (or is cancelled). Jobs live in this process only.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from handocr.schema import Document
from handocr.service.problems import ApiError, Problem


class JobStatus(StrEnum):
    """Where a job is."""

    not_started = "notStarted"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class JobView(BaseModel):
    """A job as the API shows it."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    status: JobStatus
    created: datetime = Field(alias="createdDateTime")
    updated: datetime = Field(alias="lastUpdatedDateTime")
    result: Document | None = None
    error: Problem | None = None


@dataclass
class Job:
    """One job: owner, status, input (until run), result or error, timestamps (epoch seconds)."""

    id: str
    owner: str
    data: bytes | None
    source: str | None
    created: float
    updated: float
    expires: float
    status: JobStatus = JobStatus.not_started
    result: Document | None = None
    error: Problem | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def view(self) -> JobView:
        """The API representation."""
        return JobView(
            id=self.id,
            status=self.status,
            createdDateTime=datetime.fromtimestamp(self.created, UTC),
            lastUpdatedDateTime=datetime.fromtimestamp(self.updated, UTC),
            result=self.result,
            error=self.error,
        )

    @property
    def finished(self) -> bool:
        """Whether the job has succeeded or failed."""
        return self.status in (JobStatus.succeeded, JobStatus.failed)


class JobStore:
    """The jobs of this process, by id, expiring ``ttl_s`` seconds after creation or last update."""

    def __init__(self, ttl_s: float, max_jobs: int, retry_after_s: int, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self.max_jobs = max_jobs
        self.retry_after_s = retry_after_s
        self.clock = clock
        self._jobs: dict[str, Job] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    def purge(self) -> None:
        """Forget expired jobs (cancelling any still pending)."""
        now = self.clock()
        for job in [j for j in self._jobs.values() if j.expires <= now]:
            self._drop(job)

    def create(self, owner: str, data: bytes, source: str | None) -> Job:
        """A new job for ``owner``; 503 if the store is full."""
        self.purge()
        if len(self._jobs) >= self.max_jobs:
            raise ApiError(503, "too many jobs; retry later", {"Retry-After": str(self.retry_after_s)})
        now = self.clock()
        job = Job(secrets.token_urlsafe(16), owner, data, source, now, now, now + self.ttl_s)
        self._jobs[job.id] = job
        return job

    def get(self, job_id: str, owner: str) -> Job:
        """The job ``job_id`` if ``owner`` created it and it has not expired; else 404."""
        self.purge()
        job = self._jobs.get(job_id)
        if job is None or not secrets.compare_digest(job.owner, owner):
            raise ApiError(404, "no such job")
        return job

    def delete(self, job_id: str, owner: str) -> None:
        """Cancel and forget a job (404 as for :meth:`get`)."""
        self._drop(self.get(job_id, owner))

    def touch(self, job: Job, status: JobStatus) -> None:
        """Move ``job`` to ``status``; a finished job drops its input and lives ``ttl_s`` more."""
        job.status = status
        job.updated = self.clock()
        if job.finished:
            job.data = None
            job.expires = job.updated + self.ttl_s

    def _drop(self, job: Job) -> None:
        job.data = None
        if job.task is not None and not job.task.done():
            job.task.cancel()
        self._jobs.pop(job.id, None)

    def cancel_all(self) -> None:
        """Cancel every pending job (at shutdown)."""
        for job in list(self._jobs.values()):
            if job.task is not None and not job.task.done():
                job.task.cancel()
