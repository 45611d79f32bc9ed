"""GitHub Actions workflows: triggers, jobs, the test command, OIDC permissions and the deploy steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job["steps"]


def commands(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"].split("@")[0] for step in steps(job) if "uses" in step]


@pytest.mark.parametrize("name", ["ci.yml", "release.yml", "deploy-aws.yml", "deploy-azure.yml"])
def test_workflow_is_well_formed(name: str) -> None:
    workflow = load(name)
    assert workflow["name"] and workflow["on"] and workflow["jobs"]
    assert "permissions" in workflow  # least privilege, never the default token scope
    for job_name, job in workflow["jobs"].items():
        assert job["runs-on"].startswith("ubuntu-"), job_name
        assert job.get("timeout-minutes"), job_name
        for step in steps(job):
            assert ("uses" in step) != ("run" in step), step
            if "uses" in step:
                assert "@" in step["uses"], step["uses"]  # pinned to a version


def test_ci_runs_the_test_script_on_every_push() -> None:
    workflow = load("ci.yml")
    assert "push" in workflow["on"] and workflow["on"]["push"] is None  # every branch and tag
    assert "bash scripts/test.sh" in commands(workflow["jobs"]["test"])
    lint = commands(workflow["jobs"]["deploy-lint"])
    for tool in ("hadolint", "checkov", "terraform fmt -check", "kubectl kustomize"):
        assert tool in lint


def test_release_pushes_both_images_to_ghcr_on_tags() -> None:
    workflow = load("release.yml")
    assert workflow["on"]["push"]["tags"] == ["v*"]
    assert workflow["permissions"]["packages"] == "write"
    image = workflow["jobs"]["image"]
    assert image["needs"] == "test"
    dockerfiles = {entry["dockerfile"] for entry in image["strategy"]["matrix"]["include"]}
    assert dockerfiles == {"deploy/Dockerfile", "deploy/Dockerfile.cuda"}
    assert "docker/build-push-action" in uses(image)
    [login] = [step for step in steps(image) if step.get("uses", "").startswith("docker/login-action")]
    assert login["with"]["registry"] == "ghcr.io"


@pytest.mark.parametrize(
    ("name", "login", "overlay"),
    [
        ("deploy-aws.yml", "aws-actions/configure-aws-credentials", "deploy/k8s/overlays/eks"),
        ("deploy-azure.yml", "azure/login", "deploy/k8s/overlays/azure".replace("azure", "aks")),
    ],
)
def test_deploys_are_manual_oidc_terraform_then_kustomize(name: str, login: str, overlay: str) -> None:
    workflow = load(name)
    assert set(workflow["on"]) == {"workflow_dispatch"}
    assert workflow["on"]["workflow_dispatch"]["inputs"]["image_tag"]["required"] is True
    assert workflow["permissions"] == {"contents": "read", "id-token": "write"}  # OIDC, no stored cloud keys
    [job] = workflow["jobs"].values()
    assert job["environment"] == "production"
    assert login in uses(job)
    script = commands(job)
    order = [script.index(f'terraform -chdir="$TF_DIR" {verb}') for verb in ("init", "validate", "plan", "apply")]
    assert order == sorted(order)
    assert f"kubectl apply -k {overlay}" in script
    assert "rollout status" in script
    assert "${{" not in script  # inputs reach scripts through env, not pasted into the shell
    text = (WORKFLOWS / name).read_text()
    assert "secrets.AWS_SECRET_ACCESS_KEY" not in text and "AZURE_CLIENT_SECRET" not in text
