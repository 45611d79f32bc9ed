"""Terraform for AWS and Azure: parse every .tf file and check the security settings that matter.

python-hcl2 is required where the deploy tools are expected (CI=true or HANDOCR_REQUIRE_DEPLOY_TOOLS=1).
`terraform fmt -check` and checkov run when their binaries are found (TERRAFORM / CHECKOV, or PATH);
neither installs cleanly into the project's environment, so they are skipped, not required.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
TERRAFORM = REPO / "deploy" / "terraform"
TLS13_ONLY = "ELBSecurityPolicy-TLS13-1-3-2021-06"  # AWS's TLS 1.3-only ALB policy
TLS13_POLICIES = {"ELBSecurityPolicy-TLS13-1-2-2021-06", TLS13_ONLY}
TLS13_POLICIES |= {"ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04"}


def tools_required() -> bool:
    """Whether missing deploy tools must fail the tests (CI sets CI=true)."""
    flags = (os.environ.get("HANDOCR_REQUIRE_DEPLOY_TOOLS", ""), os.environ.get("CI", ""))
    return any(flag.lower() in ("1", "true", "yes") for flag in flags)


def _clean(value: Any) -> Any:
    """python-hcl2 keeps string quotes and adds ``__is_block__`` markers: drop both."""
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("__"))}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _parse(cloud: str) -> list[dict[str, Any]]:
    """Every .tf file of one stack, parsed and cleaned."""
    try:
        import hcl2
    except ImportError:
        if tools_required():
            pytest.fail("python-hcl2 is not installed but deploy tools are required (pip install python-hcl2)")
        pytest.skip("python-hcl2 is not installed (set HANDOCR_REQUIRE_DEPLOY_TOOLS=1 to make this a failure)")
    parsed = []
    for path in sorted((TERRAFORM / cloud).glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            parsed.append(_clean(hcl2.load(handle)))
    return parsed


def load_stack(cloud: str) -> dict[str, dict[str, dict[str, Any]]]:
    """``{resource type: {name: body}}`` for every resource (and ``data.TYPE``) in one stack."""
    stack: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for parsed in _parse(cloud):
        for prefix, section in (("", "resource"), ("data.", "data")):
            for block in parsed.get(section, []):
                for rtype, named in block.items():
                    stack[prefix + rtype].update(named)
    return stack


def load_variables(cloud: str) -> dict[str, dict[str, Any]]:
    """``{variable name: body}`` for every input variable of one stack."""
    blocks = [block for parsed in _parse(cloud) for block in parsed.get("variable", [])]
    return {name: body for block in blocks for name, body in block.items()}


def resolve(value: Any, variables: dict[str, dict[str, Any]]) -> Any:
    """A bare ``${var.NAME}`` reference becomes that variable's default; anything else is returned as is."""
    found = re.fullmatch(r"\$\{var\.(\w+)\}", value) if isinstance(value, str) else None
    return variables[found.group(1)].get("default") if found else value


def first(block: Any) -> dict[str, Any]:
    """A nested block is a list of one dict in python-hcl2."""
    return block[0] if isinstance(block, list) else block


@pytest.fixture(scope="module")
def aws() -> dict[str, dict[str, dict[str, Any]]]:
    return load_stack("aws")


@pytest.fixture(scope="module")
def aws_variables() -> dict[str, dict[str, Any]]:
    return load_variables("aws")


@pytest.fixture(scope="module")
def azure() -> dict[str, dict[str, dict[str, Any]]]:
    return load_stack("azure")


def test_aws_alb_https_uses_a_tls13_policy_and_http_only_redirects(aws, aws_variables) -> None:
    listeners = aws["aws_lb_listener"]
    https = [body for body in listeners.values() if body["protocol"] == "HTTPS"]
    assert https and all(resolve(body["ssl_policy"], aws_variables) in TLS13_POLICIES for body in https)
    for body in listeners.values():
        if body["protocol"] == "HTTP":
            assert first(body["default_action"])["type"] == "redirect"
            assert first(first(body["default_action"])["redirect"])["protocol"] == "HTTPS"
    lb = aws["aws_lb"]["main"]
    assert lb["drop_invalid_header_fields"] is True
    assert aws["aws_wafv2_web_acl_association"]
    assert first(aws["aws_lb_target_group"]["handocr"]["health_check"])["path"] == "/readyz"
    hide = aws["aws_lb_listener_rule"]["hide_metrics"]  # /metrics is unauthenticated
    assert "/metrics" in first(first(hide["condition"])["path_pattern"])["values"]


def test_aws_alb_accepts_tls13_only_by_default_and_refuses_older_policies(aws, aws_variables) -> None:
    assert aws["aws_lb_listener"]["https"]["ssl_policy"] == "${var.alb_ssl_policy}"
    policy = aws_variables["alb_ssl_policy"]
    assert policy["default"] == TLS13_ONLY  # TLS 1.2 clients fail the handshake unless an operator opts in
    [validation] = policy["validation"]
    [pattern] = re.findall(r'regex\("([^"]+)", var\.alb_ssl_policy\)', validation["condition"])
    allowed = TLS13_POLICIES | {"ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"}
    refused = {"ELBSecurityPolicy-TLS13-1-0-2021-06", "ELBSecurityPolicy-TLS13-1-1-2021-06"}  # TLS 1.0 / 1.1
    refused |= {"ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-FS-1-2-Res-2020-10"}  # no TLS 1.3
    assert all(re.search(pattern, name) for name in allowed)
    assert not any(re.search(pattern, name) for name in refused)


def test_aws_redis_encrypted_in_transit_and_at_rest(aws) -> None:
    [redis] = aws["aws_elasticache_replication_group"].values()
    assert redis["transit_encryption_enabled"] is True
    assert redis["at_rest_encryption_enabled"] is True
    assert redis.get("auth_token")


def test_aws_buckets_are_encrypted_and_never_public(aws) -> None:
    buckets = set(aws["aws_s3_bucket"])
    assert {"models", "logs"} <= buckets
    blocks = {body["bucket"]: body for body in aws["aws_s3_bucket_public_access_block"].values()}
    encryption = {body["bucket"] for body in aws["aws_s3_bucket_server_side_encryption_configuration"].values()}
    for name in buckets:
        ref = f"${{aws_s3_bucket.{name}.id}}"
        assert ref in encryption, f"bucket {name} has no encryption configuration"
        block = blocks[ref]
        flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        assert all(block[flag] is True for flag in flags), name
    rule = first(aws["aws_s3_bucket_server_side_encryption_configuration"]["models"]["rule"])
    assert first(rule["apply_server_side_encryption_by_default"])["sse_algorithm"] == "aws:kms"
    assert "aws_s3_bucket_acl" not in aws  # no ACLs at all (BucketOwnerEnforced)


def test_aws_logs_alarms_secrets_and_oidc(aws) -> None:
    assert all(body.get("kms_key_id") for body in aws["aws_cloudwatch_log_group"].values())
    assert len(aws["aws_cloudwatch_metric_alarm"]) >= 3
    assert all(body.get("kms_key_id") for body in aws["aws_secretsmanager_secret"].values())
    assert aws["aws_kms_key"]["main"]["enable_key_rotation"] is True
    eks = aws["aws_eks_cluster"]["main"]
    assert first(eks["encryption_config"])["resources"] == ["secrets"]
    assert "0.0.0.0/0" not in str(first(eks["vpc_config"])["public_access_cidrs"])
    providers = {body["url"] for body in aws["aws_iam_openid_connect_provider"].values()}
    assert "https://token.actions.githubusercontent.com" in providers
    assert aws["aws_ecr_repository"]["handocr"]["image_tag_mutability"] == "IMMUTABLE"


def test_azure_stack_is_private_and_encrypted(azure) -> None:
    aks = azure["azurerm_kubernetes_cluster"]["main"]
    assert aks["local_account_disabled"] is True and aks["workload_identity_enabled"] is True
    assert first(aks["network_profile"])["network_policy"]
    assert first(aks["default_node_pool"])["host_encryption_enabled"] is True
    acr = azure["azurerm_container_registry"]["main"]
    assert acr["admin_enabled"] is False and first(acr["network_rule_set"])["default_action"] == "Deny"
    redis = azure["azurerm_redis_cache"]["main"]
    assert redis["non_ssl_port_enabled"] is False and redis["minimum_tls_version"] == "1.2"
    assert redis["public_network_access_enabled"] is False
    storage = azure["azurerm_storage_account"]["models"]
    assert storage["public_network_access_enabled"] is False
    assert storage["allow_nested_items_to_be_public"] is False
    assert storage["min_tls_version"] == "TLS1_2" and storage["shared_access_key_enabled"] is False
    assert azure["azurerm_storage_container"]["models"]["container_access_type"] == "private"
    vault = azure["azurerm_key_vault"]["main"]
    assert vault["purge_protection_enabled"] is True and first(vault["network_acls"])["default_action"] == "Deny"
    assert azure["azurerm_application_insights"]["main"]["workspace_id"]
    assert len(azure["azurerm_monitor_metric_alert"]) >= 2


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_every_checkov_skip_has_a_reason(cloud: str) -> None:
    for path in (TERRAFORM / cloud).glob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV\w+:\s*\S.{10,}", line), f"{path.name}: {line.strip()}"


def _binary(env: str, name: str) -> str | None:
    return os.environ.get(env) or shutil.which(name)


def test_terraform_fmt_is_clean() -> None:
    terraform = _binary("TERRAFORM", "terraform")
    if not terraform:
        pytest.skip("no terraform binary (set TERRAFORM=/path/to/terraform); PyPI and Debian do not ship one")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_nothing() -> None:
    checkov = _binary("CHECKOV", "checkov")
    if not checkov:
        pytest.skip("no checkov binary (set CHECKOV=/path/to/checkov; install it in its own venv)")
    result = subprocess.run(
        [checkov, "-d", str(TERRAFORM), "--quiet", "--compact", "--skip-download", "--framework", "terraform"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
