"""ONNX Runtime session settings: thread count and spin-waiting."""

import pytest

from handocr.models import find_model
from handocr.runtime import available_cpus, default_threads, make_session, spin_wait

SPIN_KEY = "session.intra_op.allow_spinning"


def test_threads_come_from_the_environment_when_set(monkeypatch):
    monkeypatch.setenv("HANDOCR_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("HANDOCR_THREADS", "zero")  # not a count: the CPUs this process may use
    assert default_threads() == available_cpus()


@pytest.mark.parametrize(("env", "expected"), [(None, "0"), ("0", "0"), ("1", "1")])
def test_sessions_spin_wait_only_when_asked(monkeypatch, env, expected):
    if env is None:
        monkeypatch.delenv("HANDOCR_SPIN_WAIT", raising=False)
    else:
        monkeypatch.setenv("HANDOCR_SPIN_WAIT", env)
    assert spin_wait() is (expected == "1")
    session = make_session(find_model("line-recognizer-fast").onnx_path, threads=1)
    options = session.get_session_options()
    assert options.get_session_config_entry(SPIN_KEY) == expected
    assert options.intra_op_num_threads == 1
