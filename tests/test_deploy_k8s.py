"""Kubernetes manifests: render base and overlays offline, validate every object, check the invariants.

kubernetes-validate is required where the deploy tools are expected (CI, or HANDOCR_REQUIRE_DEPLOY_TOOLS=1):
there a missing package fails instead of skipping.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.34.0"  # EKS and AKS both support 1.34; bump with the clusters
OVERLAYS = ["eks", "aks"]
TREES = ["base", *(f"overlays/{name}" for name in OVERLAYS)]
CRD_GROUPS = {"elbv2.k8s.aws"}  # custom resources: no schema in kubernetes-validate, checked by hand below


def tools_required() -> bool:
    """Whether missing deploy tools must fail the tests (CI sets CI=true)."""
    flags = (os.environ.get("HANDOCR_REQUIRE_DEPLOY_TOOLS", ""), os.environ.get("CI", ""))
    return any(flag.lower() in ("1", "true", "yes") for flag in flags)


def load_renderer() -> Any:
    spec = importlib.util.spec_from_file_location("handocr_k8s_render", K8S / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


render = load_renderer()


@pytest.fixture(scope="module")
def validator() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        if tools_required():
            pytest.fail(
                "kubernetes-validate is not installed but deploy tools are required (pip install kubernetes-validate)"
            )
        pytest.skip("kubernetes-validate is not installed (set HANDOCR_REQUIRE_DEPLOY_TOOLS=1 to make this a failure)")
    return kubernetes_validate


def rendered(tree: str) -> list[dict[str, Any]]:
    return render.render(K8S / tree)


def by_kind(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def api_deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    [deployment] = by_kind(objects, "Deployment", "handocr")
    return deployment


@pytest.mark.parametrize("tree", TREES)
def test_every_object_validates_against_the_pinned_kubernetes(tree: str, validator: Any) -> None:
    objects = rendered(tree)
    assert objects
    for obj in objects:
        if obj["apiVersion"].split("/")[0] in CRD_GROUPS:
            continue
        validator.validate(obj, KUBERNETES_VERSION, strict=True)  # raises ValidationError with the path


def test_the_validator_rejects_a_broken_object(validator: Any) -> None:
    deployment = api_deployment(rendered("base"))
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = {"not": "a quantity"}
    with pytest.raises(validator.ValidationError):
        validator.validate(deployment, KUBERNETES_VERSION, strict=True)
    deployment = api_deployment(rendered("base"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}  # typo: strict mode catches it
    with pytest.raises(validator.ValidationError):
        validator.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("tree", TREES)
def test_probes_and_guaranteed_resources(tree: str) -> None:
    objects = rendered(tree)
    for deployment in by_kind(objects, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            resources = container["resources"]
            assert resources["requests"] == resources["limits"], (deployment["metadata"]["name"], resources)
    container = api_deployment(objects)["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["cpu"] == "2"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/livez"
    assert "HANDOCR_THREADS" not in {env["name"] for env in container["env"]}  # taken from the cgroup CPU quota


@pytest.mark.parametrize("tree", TREES)
def test_pods_run_non_root_read_only_without_capabilities(tree: str) -> None:
    for deployment in by_kind(rendered(tree), "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("tree", TREES)
def test_scaling_and_disruption_objects(tree: str) -> None:
    objects = rendered(tree)
    [hpa] = by_kind(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "handocr"
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    [pdb] = by_kind(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] >= 1
    assert by_kind(objects, "NetworkPolicy", "default-deny")
    assert by_kind(objects, "Service", "handocr")
    assert all(o["metadata"].get("namespace") == "handocr" for o in objects if o["kind"] != "Namespace")


def test_base_has_redis_and_a_placeholder_secret() -> None:
    objects = rendered("base")
    assert by_kind(objects, "Deployment", "handocr-redis") and by_kind(objects, "Service", "handocr-redis")
    [secret] = by_kind(objects, "Secret", "handocr-secrets")
    assert secret["metadata"]["annotations"]["handocr.io/placeholder"] == "true"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_use_managed_redis_with_tls_and_never_ship_the_placeholder(overlay: str) -> None:
    objects = rendered(f"overlays/{overlay}")
    assert not by_kind(objects, "Secret")  # created from the cloud's secret store by the deploy workflow
    assert not by_kind(objects, "Deployment", "handocr-redis")
    container = api_deployment(objects)["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    assert env["HANDOCR_REDIS_URL"]["value"].startswith("rediss://")
    assert list(env).index("REDIS_PASSWORD") < list(env).index("HANDOCR_REDIS_URL")  # $(REDIS_PASSWORD) expands
    registry = {"eks": ".dkr.ecr.", "aks": "<ACR_LOGIN_SERVER>/"}[overlay]
    assert registry in container["image"] and container["image"].endswith(":0.1.0")


def test_eks_binds_the_terraform_target_group() -> None:
    [binding] = by_kind(rendered("overlays/eks"), "TargetGroupBinding")
    assert binding["spec"]["serviceRef"] == {"name": "handocr", "port": 80}
    assert binding["spec"]["targetType"] == "ip"


def test_aks_ingress_routes_to_the_service_with_tls() -> None:
    [ingress] = by_kind(rendered("overlays/aks"), "Ingress")
    assert ingress["spec"]["tls"]
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert {p["backend"]["service"]["name"] for p in paths} == {"handocr"}
    assert not [p for p in paths if p["path"] == "/" and p["pathType"] == "Prefix"]  # /metrics stays private
    assert {"/v1", "/"} <= {p["path"] for p in paths}


def test_renderer_merges_named_lists_and_deletes() -> None:
    base = [{"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"c": [{"name": "a", "x": 1}, {"name": "b"}]}}]
    patched = render.apply_patch(
        base, {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"c": [{"name": "a", "y": 2}]}}
    )
    assert patched[0]["spec"]["c"] == [{"name": "a", "x": 1, "y": 2}, {"name": "b"}]
    assert render.apply_patch(base, {"$patch": "delete", "kind": "Deployment", "metadata": {"name": "d"}}) == []
    with pytest.raises(render.RenderError):
        render.apply_patch(base, {"kind": "Deployment", "metadata": {"name": "missing"}})
    assert render._retag("handocr", {"name": "handocr", "newName": "r/handocr", "newTag": "1"}) == "r/handocr:1"
    assert render._retag("other:2", {"name": "handocr", "newTag": "1"}) == "other:2"
