"""ECR pull-through cache: the reference mapping, the AWS resources it creates, the deploy role's rights, the config
rules, and that production's serving pods pull from the stack's ECR only."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from catalogs.image_registries import cached_repository, is_private_ecr, split_reference, upstream_of
from components.aws.ci_deploy_policy import deploy_policy
from components.aws.ci_preview_policy import cache_credentials_read_policy
from components.aws.pull_through_cache import FIRST_PULL_ACTIONS, creation_role_policy, first_pull_policy, scan_on_push_filters
from components.k8s.vllm_model import ContainerImage
from infra.config import ConfigError, load_stack_config
from infra.config.aws import DOCKER_HUB_CREDENTIALS_CONFIG_KEY
from infra.plan.standin_context import ACCOUNT_ID
from tests.harness import checked_in_plan, stack_config
from tests.test_ci_policies import _scope

REGISTRY = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ("vllm/vllm-openai", ("docker.io", "vllm/vllm-openai")),
        ("docker.io/vllm/vllm-openai", ("docker.io", "vllm/vllm-openai")),
        ("nginx", ("docker.io", "library/nginx")),
        ("quay.io/prometheus/prometheus", ("quay.io", "prometheus/prometheus")),
        ("localhost:5000/x/y", ("localhost:5000", "x/y")),
    ],
)
def test_references_split_as_docker_resolves_them(repository: str, expected: tuple[str, str]) -> None:
    assert split_reference(repository) == expected


def test_cached_repository_keeps_the_path_under_the_upstream_prefix() -> None:
    assert cached_repository(REGISTRY, "vllm/vllm-openai") == f"{REGISTRY}/docker-hub/vllm/vllm-openai"
    assert cached_repository(REGISTRY, "docker.io/library/redis") == f"{REGISTRY}/docker-hub/library/redis"
    assert cached_repository(REGISTRY, "registry.k8s.io/kube-state-metrics/kube-state-metrics").startswith(f"{REGISTRY}/registry-k8s/")
    with pytest.raises(ValueError, match="not on a registry ECR can cache"):
        cached_repository(REGISTRY, "nvcr.io/nvidia/k8s-device-plugin")
    assert upstream_of("nvcr.io/nvidia/k8s-device-plugin") is None
    assert is_private_ecr(f"{REGISTRY}/ai-serving/vllm-server") and not is_private_ecr("vllm/vllm-openai")


def test_cached_image_keeps_tag_and_digest_and_never_falls_back_to_the_upstream() -> None:
    digest = "sha256:" + "ab" * 32
    image = ContainerImage("vllm/vllm-openai", "v0.18.0", digest, size_gib=10, through_cache=True)
    with pytest.raises(ValueError, match="not resolved"):
        _ = image.pull_reference
    resolved = ContainerImage("vllm/vllm-openai", "v0.18.0", digest, size_gib=10, through_cache=True, registry=REGISTRY)
    assert resolved.pull_reference == f"{REGISTRY}/docker-hub/vllm/vllm-openai:v0.18.0@{digest}"
    assert resolved.reference == f"vllm/vllm-openai:v0.18.0@{digest}"


def test_nodes_may_create_and_import_only_under_the_cache_prefixes() -> None:
    [statement] = first_pull_policy("us-east-1", ACCOUNT_ID, ["docker-hub", "quay"])["Statement"]
    assert statement["Action"] == list(FIRST_PULL_ACTIONS) == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    assert statement["Resource"] == [
        f"arn:aws:ecr:us-east-1:{ACCOUNT_ID}:repository/docker-hub/*",
        f"arn:aws:ecr:us-east-1:{ACCOUNT_ID}:repository/quay/*",
    ]


def test_creation_role_creates_only_cached_repositories_and_grants_only_on_its_key() -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/k"
    by_sid = {s["Sid"]: s for s in creation_role_policy("us-east-1", ACCOUNT_ID, ["docker-hub"], key)["Statement"]}
    assert by_sid["CreateCachedRepositories"]["Resource"] == [f"arn:aws:ecr:us-east-1:{ACCOUNT_ID}:repository/docker-hub/*"]
    assert by_sid["EncryptCachedRepositories"] == {
        "Sid": "EncryptCachedRepositories",
        "Effect": "Allow",
        "Action": ["kms:CreateGrant", "kms:DescribeKey"],
        "Resource": key,
    }


def test_registry_scanning_keeps_the_serving_repository() -> None:
    assert scan_on_push_filters(["docker-hub"], "ai-serving/vllm-server") == ["ai-serving/vllm-server", "docker-hub/*"]


# --- the rendered plans ---------------------------------------------------------------------------------------


def _resources(stack: str, typ: str) -> list[dict[str, Any]]:
    return [r for r in checked_in_plan(stack).document["resources"] if r["type"] == typ]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_docker_hub_rule_template_secret_and_scanning_exist_with_the_required_settings(stack: str) -> None:
    upstreams = stack_config(stack)["ecr"]["pullThroughCache"]["upstreams"]
    rules = _resources(stack, "aws:ecr/pullThroughCacheRule:PullThroughCacheRule")
    assert sorted(r["inputs"]["ecrRepositoryPrefix"] for r in rules) == sorted(upstreams)
    [rule] = [r for r in rules if r["inputs"]["ecrRepositoryPrefix"] == "docker-hub"]
    assert rule["inputs"]["upstreamRegistryUrl"] == "registry-1.docker.io"
    [secret] = _resources(stack, "aws:secretsmanager/secret:Secret")
    # AWS requires the name prefix, and ECR reads pull-through credentials only under aws/secretsmanager.
    assert secret["inputs"]["name"] == f"ecr-pullthroughcache/ai-serving-{stack}-docker-hub"
    assert "kmsKeyId" not in secret["inputs"]
    assert rule["inputs"]["credentialArn"].startswith("arn:aws:secretsmanager:")
    assert any(dep.endswith("SecretVersion::ecr-cache-docker-hub-credentials") for dep in rule["dependencies"])
    [version] = _resources(stack, "aws:secretsmanager/secretVersion:SecretVersion")
    assert version["inputs"]["secretString"] == "[secret]"

    templates = _resources(stack, "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")
    assert sorted(t["inputs"]["prefix"] for t in templates) == sorted(upstreams)
    [template] = [t for t in templates if t["inputs"]["prefix"] == "docker-hub"]
    t = template["inputs"]
    assert t["prefix"] == "docker-hub" and t["appliedFors"] == ["PULL_THROUGH_CACHE"]
    assert t["imageTagMutability"] == "IMMUTABLE"
    [encryption] = t["encryptionConfigurations"]
    assert encryption["encryptionType"] == "KMS" and encryption["kmsKey"].startswith("arn:aws:kms:")
    # ECR creates KMS-encrypted repositories only as a role of the stack, which must carry the boundary.
    assert t["customRoleArn"].startswith("arn:aws:iam::")
    [role] = [r for r in _resources(stack, "aws:iam/role:Role") if r["name"] == "ecr-cache-creation-role"]
    assert json.loads(role["inputs"]["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "ecr.amazonaws.com"}
    assert role["inputs"]["permissionsBoundary"]
    rules = json.loads(t["lifecyclePolicy"])["rules"]
    assert {r["selection"]["countType"] for r in rules if r["selection"]["tagStatus"] == "tagged"} == {"imageCountMoreThan"}

    [scanning] = _resources(stack, "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration")
    [scan_rule] = scanning["inputs"]["rules"]
    assert scan_rule["scanFrequency"] == "SCAN_ON_PUSH"
    assert {*(f"{u}/*" for u in upstreams), "ai-serving/vllm-server"} == {f["filter"] for f in scan_rule["repositoryFilters"]}

    first_pull = [r for r in _resources(stack, "aws:iam/rolePolicy:RolePolicy") if r["name"].startswith("ecr-cache-first-pull")]
    assert len(first_pull) == 1
    assert json.loads(first_pull[0]["inputs"]["policy"])["Statement"][0]["Action"] == list(FIRST_PULL_ACTIONS)


def test_no_production_serving_pod_pulls_from_outside_the_stacks_ecr() -> None:
    plan = checked_in_plan("production")
    rollouts = [o for o in plan.objects if o["kind"] == "Rollout"]
    assert rollouts
    configured = {m["name"]: m["image"] for m in stack_config("production")["models"]}
    for rollout in rollouts:
        spec = rollout["spec"]["template"]["spec"]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            assert container["image"].startswith(f"{REGISTRY}/"), container["image"]
        # The same tag and digest as configured: ECR keeps the upstream manifest.
        image = configured[rollout["metadata"]["name"]]
        assert spec["containers"][0]["image"].endswith(f"/{image['repository']}:{image['tag']}@{image['digest']}")


def test_production_platform_images_on_cacheable_registries_come_from_the_stacks_ecr() -> None:
    # The endpoint picker (registry.k8s.io) and Fluent Bit (public.ecr.aws), with the stack's digests; the NVIDIA
    # device plugin stays on nvcr.io, which ECR cannot cache.
    plan = checked_in_plan("production")
    digests = stack_config("production")["platformImageDigests"]
    [picker] = [o for o in plan.objects if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-epp")]
    assert picker["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"{REGISTRY}/registry-k8s/gateway-api-inference-extension/epp:v1.0.2@{digests['endpoint-picker']}"
    )
    [fluent_bit] = [
        r for r in plan.document["resources"] if r["type"] == "kubernetes:helm.sh/v3:Release" and r["name"] == "logs-aws-for-fluent-bit"
    ]
    assert fluent_bit["inputs"]["values"]["image"] == {
        "repository": f"{REGISTRY}/ecr-public/aws-observability/aws-for-fluent-bit",
        "tag": f"3.2.1@{digests['fluent-bit']}",
        "pullPolicy": "IfNotPresent",
    }
    [plugin] = [o for o in plan.objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "nvidia-device-plugin"]
    assert plugin["spec"]["template"]["spec"]["containers"][0]["image"].startswith("nvcr.io/")


# --- config rules and the deploy role --------------------------------------------------------------------------


def _problems(raw: dict[str, Any], region: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_stack_config(raw, region)
    return [str(p) for p in err.value.problems]


def test_production_refuses_a_serving_image_outside_ecr() -> None:
    raw = copy.deepcopy(stack_config("production"))
    del raw["ecr"]["pullThroughCache"]
    [line] = [p for p in _problems(raw, "us-east-1") if "models[0].image.repository" in p]
    assert "in-region ECR only" in line and "docker-hub" in line


def test_docker_hub_upstream_requires_its_credentials_secret() -> None:
    raw = copy.deepcopy(stack_config("staging"))
    del raw[DOCKER_HUB_CREDENTIALS_CONFIG_KEY]
    [line] = [p for p in _problems(raw, "us-west-2") if DOCKER_HUB_CREDENTIALS_CONFIG_KEY in p]
    assert "pulumi config set --secret" in line


def test_staging_without_the_cache_pulls_from_docker_hub() -> None:
    raw = copy.deepcopy(stack_config("staging"))
    del raw["ecr"]["pullThroughCache"]
    cfg = load_stack_config(raw, "us-west-2")
    assert cfg.ecr.pull_through_cache is None


def test_deploy_role_manages_the_cache_only_when_configured_and_stays_inline_sized() -> None:
    without = deploy_policy(_scope())
    assert not any(s.get("Sid", "").startswith("PullThroughCache") for s in without["Statement"])
    policy = deploy_policy(_scope(pull_through_upstreams=("docker-hub",), name_prefixes=("ai-serving-staging-", "ai-serving-gpu-cluster-")))
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["PullThroughCache"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-west-2"}}
    assert "ecr:CreatePullThroughCacheRule" in by_sid["PullThroughCache"]["Action"]
    assert by_sid["PullThroughCacheRepositories"]["Resource"] == [f"arn:aws:ecr:us-west-2:{_scope().account_id}:repository/docker-hub/*"]
    for resource in by_sid["PullThroughCacheCredentials"]["Resource"]:
        assert ":secret:ecr-pullthroughcache/ai-serving-" in resource and resource.endswith("*")
    assert not any(a.endswith(":*") for s in policy["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    assert len(json.dumps(policy, separators=(",", ":"))) < 10_240


def test_preview_role_reads_only_the_stacks_cache_credentials() -> None:
    [statement] = cache_credentials_read_policy("us-west-2", ACCOUNT_ID, "ai-serving-staging-")["Statement"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert statement["Resource"] == f"arn:aws:secretsmanager:us-west-2:{ACCOUNT_ID}:secret:ecr-pullthroughcache/ai-serving-staging-*"
    [policy] = [r for r in _resources("staging", "aws:iam/rolePolicy:RolePolicy") if r["name"] == "ci-preview-cache-credentials"]
    assert policy["inputs"]["name"] == "pull-through-credentials-read"
