"""Property-based API tests from /openapi.json with schemathesis (skipped if it is not installed).

A longer run: ``HANDOCR_SCHEMATHESIS_EXAMPLES=100 pytest tests/test_service_schema.py``.
"""

from __future__ import annotations

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from fakes import fake_reader  # noqa: E402
from handocr.service import create_app  # noqa: E402
from test_service_support import AUTH  # noqa: E402
from test_service_support import settings as service_settings  # noqa: E402

app = create_app(fake_reader(), service_settings(rate_limit=0))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("HANDOCR_SCHEMATHESIS_EXAMPLES", "8")),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case):
    # Random bytes are schema-valid (`format: binary`) but are not images: 415/422 is the right answer,
    # so the "positive data is accepted" check does not apply; every other default check does.
    case.call_and_validate(headers=AUTH, excluded_checks=[schemathesis.checks.positive_data_acceptance])
