"""The policy pack (policy/): each policy rejects a violating resource and accepts a compliant one; both checked-in
stacks and the bootstrap program plan clean; the CrossGuard runner serves the same rules as the offline runner."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import EnforcementLevel, PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from infra import cli
from infra.plan.policy_check import plan_violations
from policy.crossguard import resource_policies
from policy.model import PolicyResource, StackFacts, Tier
from policy.pack import POLICIES
from tests.harness import PROJECT_DIR, checked_in_plan

GITHUB = "token.actions.githubusercontent.com"
GITHUB_PROVIDER = f"arn:aws:iam::111122223333:oidc-provider/{GITHUB}"
BOUNDARY = "arn:aws:iam::111122223333:policy/ai-serving-staging-boundary"
CI_IDENTITY = "urn:pulumi:staging::ai-serving::ai-serving:aws:GithubCiIdentity::ci"
DIGEST = "@sha256:" + "a" * 64


def _resource(type_: str, props: dict[str, Any], *, protect: bool = False, parent: str | None = None) -> PolicyResource:
    return PolicyResource(type_, "r", f"urn:pulumi:test::ai-serving::{type_}::r", props, protect, parent)


def _trust(condition: dict[str, Any], provider: str = GITHUB_PROVIDER) -> str:
    statement = {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _role(trust: str, **props: Any) -> PolicyResource:
    return _resource("aws:iam/role:Role", {"assumeRolePolicy": trust, "permissionsBoundary": BOUNDARY, **props})


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _container(**overrides: Any) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": "registry.example/app:v1" + DIGEST,
        "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}},
    }
    return {**container, **overrides}


def _deployment(
    container: dict[str, Any], annotations: dict[str, str] | None = None, type_: str = "kubernetes:apps/v1:Deployment"
) -> PolicyResource:
    pod = {"containers": [container]}
    spec = {"jobTemplate": {"spec": {"template": {"spec": pod}}}} if type_.endswith(":CronJob") else {"template": {"spec": pod}}
    return _resource(type_, {"metadata": {"name": "app", "annotations": annotations or {}}, "spec": spec})


def _eks(**props: Any) -> PolicyResource:
    base = {
        "encryptionConfigKeyArn": "arn:aws:kms:us-east-1:111122223333:key/k",
        "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["198.51.100.0/24"],
    }
    return _resource("eks:index:Cluster", {**base, **props}, protect=True)


EXACT = {"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": "repo:org@1/app@2:environment:production"}}
NVIDIA_GROUP = {"amiType": "AL2023_x86_64_NVIDIA", "instanceTypes": ["g6e.2xlarge"]}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
ECR = {
    "imageTagMutability": "IMMUTABLE",
    "imageScanningConfiguration": {"scanOnPush": True},
    "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": "arn:aws:kms:us-east-1:111122223333:key/k"}],
}
VM = {"networkInterfaces": [{"subnetwork": "s"}], "serviceAccount": {"email": "vm@p.iam.gserviceaccount.com", "scopes": []}}
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"

# (policy, tier, resource, a phrase of the expected message; None: compliant)
CASES: list[tuple[str, Tier, PolicyResource, str | None]] = [
    ("web-identity-trust-pins-audience-and-subject", "staging", _role(_trust(EXACT)), None),
    (
        "web-identity-trust-pins-audience-and-subject",
        "staging",
        _role(_trust({"StringLike": {f"{GITHUB}:sub": "repo:org/app:*"}, "StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com"}})),
        "must pin",
    ),
    (
        "web-identity-trust-pins-audience-and-subject",
        "staging",
        _role(_trust({"StringEquals": {f"{GITHUB}:sub": "repo:org/app:ref:refs/heads/main"}})),
        ":aud = sts.amazonaws.com",
    ),
    (
        "web-identity-trust-pins-audience-and-subject",
        "staging",
        _role(_trust({"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": "repo:org/app:*"}})),
        "not exact",
    ),
    (
        "no-iam-wildcard-action",
        "staging",
        _resource("aws:iam/rolePolicy:RolePolicy", {"policy": _document({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})}),
        None,
    ),
    (
        "no-iam-wildcard-action",
        "staging",
        _resource("aws:iam/policy:Policy", {"policy": _document({"Effect": "Allow", "Action": ["*"], "Resource": "*"})}),
        "Action '*'",
    ),
    (
        "no-iam-wildcard-action",
        "staging",
        _resource("aws:kms/key:Key", {"policy": _document({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})}),
        "NotAction",
    ),
    (
        "no-iam-wildcard-action",
        "staging",
        _resource("aws:iam/role:Role", {"inlinePolicies": [{"policy": _document({"Effect": "Allow", "Action": "*", "Resource": "*"})}]}),
        "inlinePolicies[0]",
    ),
    ("roles-carry-permissions-boundary", "staging", _role(_trust(EXACT)), None),
    (
        "roles-carry-permissions-boundary",
        "staging",
        _resource("aws:iam/role:Role", {"assumeRolePolicy": _trust(EXACT)}, parent=CI_IDENTITY),
        None,
    ),
    (
        "roles-carry-permissions-boundary",
        "staging",
        _resource("aws:iam/role:Role", {"assumeRolePolicy": _trust(EXACT)}),
        "permissionsBoundary is None",
    ),
    (
        "roles-carry-permissions-boundary",
        "staging",
        _role(_trust(EXACT), permissionsBoundary="arn:aws:iam::aws:policy/AdministratorAccess"),
        "boundary policy",
    ),
    (
        "launch-templates-require-imdsv2",
        "staging",
        _resource("aws:ec2/launchTemplate:LaunchTemplate", {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}}),
        None,
    ),
    (
        "launch-templates-require-imdsv2",
        "staging",
        _resource("aws:ec2/launchTemplate:LaunchTemplate", {"metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 1}}),
        "IMDSv2",
    ),
    (
        "launch-templates-require-imdsv2",
        "staging",
        _resource("aws:ec2/launchTemplate:LaunchTemplate", {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}}),
        "must be 1",
    ),
    ("ecr-immutable-scanned-kms", "staging", _resource("aws:ecr/repository:Repository", ECR), None),
    (
        "ecr-immutable-scanned-kms",
        "staging",
        _resource("aws:ecr/repository:Repository", {**ECR, "imageTagMutability": "MUTABLE"}),
        "IMMUTABLE",
    ),
    (
        "ecr-immutable-scanned-kms",
        "staging",
        _resource("aws:ecr/repository:Repository", {**ECR, "imageScanningConfiguration": {"scanOnPush": False}}),
        "scanOnPush",
    ),
    (
        "ecr-immutable-scanned-kms",
        "staging",
        _resource("aws:ecr/repository:Repository", {**ECR, "encryptionConfigurations": [{"encryptionType": "AES256"}]}),
        "KMS",
    ),
    (
        "ecr-immutable-scanned-kms",
        "staging",
        _resource(
            "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate",
            {
                "imageTagMutability": "IMMUTABLE",
                "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": "arn:aws:kms:us-east-1:1:key/k"}],
            },
        ),
        None,
    ),
    (
        "ecr-immutable-scanned-kms",
        "staging",
        _resource("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate", {"imageTagMutability": "MUTABLE"}),
        "IMMUTABLE",
    ),
    ("eks-encrypted-logged-not-open", "production", _eks(), None),
    ("eks-encrypted-logged-not-open", "staging", _eks(publicAccessCidrs=[]), None),
    ("eks-encrypted-logged-not-open", "production", _eks(publicAccessCidrs=["0.0.0.0/0"]), "0.0.0.0/0"),
    ("eks-encrypted-logged-not-open", "production", _eks(publicAccessCidrs=[]), "0.0.0.0/0"),
    ("eks-encrypted-logged-not-open", "staging", _eks(encryptionConfigKeyArn=None), "envelope-encrypted"),
    (
        "eks-encrypted-logged-not-open",
        "staging",
        _eks(enabledClusterLogTypes=["api", "audit"]),
        "authenticator, controllerManager, scheduler",
    ),
    (
        "eks-encrypted-logged-not-open",
        "production",
        _resource(
            "aws:eks/cluster:Cluster",
            {
                "encryptionConfig": {"provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}, "resources": ["secrets"]},
                "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
                "vpcConfig": {"endpointPublicAccess": False},
            },
        ),
        None,
    ),
    (
        "eks-encrypted-logged-not-open",
        "staging",
        _resource("aws:eks/cluster:Cluster", {"enabledClusterLogTypes": []}),
        "envelope-encrypted",
    ),
    ("gpu-node-groups-tainted", "staging", _resource("aws:eks/nodeGroup:NodeGroup", {**NVIDIA_GROUP, "taints": [GPU_TAINT]}), None),
    (
        "gpu-node-groups-tainted",
        "staging",
        _resource("aws:eks/nodeGroup:NodeGroup", {"amiType": "AL2023_x86_64_STANDARD", "instanceTypes": ["m7i.xlarge"]}),
        None,
    ),
    ("gpu-node-groups-tainted", "staging", _resource("aws:eks/nodeGroup:NodeGroup", NVIDIA_GROUP), "taint"),
    (
        "gpu-node-groups-tainted",
        "staging",
        _resource("aws:eks/nodeGroup:NodeGroup", {"amiType": "CUSTOM", "instanceTypes": ["g6.xlarge"]}),
        "taint",
    ),
    ("workloads-restricted", "staging", _deployment(_container()), None),
    ("workloads-restricted", "staging", _deployment(_container(), type_="kubernetes:batch/v1:CronJob"), None),
    (
        "workloads-restricted",
        "staging",
        _deployment(_container(securityContext={"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False})),
        "runAsNonRoot",
    ),
    (
        "workloads-restricted",
        "staging",
        _deployment(
            _container(securityContext={"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}),
            {"policy.ai-serving.dev/run-as-root": "owns a root-only host directory"},
        ),
        None,
    ),
    (
        "workloads-restricted",
        "staging",
        _deployment(
            _container(securityContext={"runAsNonRoot": True}), {"policy.ai-serving.dev/run-as-root": "the waiver covers root only"}
        ),
        "readOnlyRootFilesystem",
    ),
    (
        "workloads-restricted",
        "staging",
        _deployment(_container(resources={"limits": {"memory": "1Gi"}}), type_="kubernetes:argoproj.io/v1alpha1:Rollout"),
        "requests.cpu",
    ),
    (
        "workloads-restricted",
        "staging",
        _deployment(_container(securityContext={"runAsNonRoot": True, "readOnlyRootFilesystem": True})),
        "allowPrivilegeEscalation",
    ),
    ("production-images-pinned-by-digest", "production", _deployment(_container()), None),
    ("production-images-pinned-by-digest", "staging", _deployment(_container(image="registry.example/app:v1")), None),
    ("production-images-pinned-by-digest", "production", _deployment(_container(image="registry.example/app:v1")), "not pinned by digest"),
    (
        "production-images-pinned-by-digest",
        "production",
        _deployment(_container(image="registry.example/app:v1@sha256:" + "0" * 64)),
        "placeholder",
    ),
    (
        "wif-provider-pins-repository",
        "staging",
        _resource(
            "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
            {"attributeCondition": "assertion.repository_id == '812345678'"},
        ),
        None,
    ),
    (
        "wif-provider-pins-repository",
        "staging",
        _resource("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider", {}),
        "does not pin",
    ),
    (
        "wif-provider-pins-repository",
        "staging",
        _resource(
            "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
            {"attributeCondition": "assertion.repository_owner == 'org'"},
        ),
        "does not pin",
    ),
    ("gce-private-with-dedicated-account", "staging", _resource(TEMPLATE, VM), None),
    (
        "gce-private-with-dedicated-account",
        "staging",
        _resource(TEMPLATE, {**VM, "networkInterfaces": [{"accessConfigs": [{}]}]}),
        "external IP",
    ),
    (
        "gce-private-with-dedicated-account",
        "staging",
        _resource(
            "gcp:compute/instance:Instance", {**VM, "serviceAccount": {"email": "123456789012-compute@developer.gserviceaccount.com"}}
        ),
        "Compute Engine default",
    ),
    ("production-stateful-resources-protected", "production", _resource("aws:kms/key:Key", {}, protect=True), None),
    ("production-stateful-resources-protected", "staging", _resource("eks:index:Cluster", {}), None),
    ("production-stateful-resources-protected", "production", _resource("eks:index:Cluster", {}), "deletionProtection"),
    ("production-stateful-resources-protected", "production", _resource("eks:index:Cluster", {"deletionProtection": True}), None),
    ("production-stateful-resources-protected", "production", _resource("aws:eks/cluster:Cluster", {}), "must protect"),
    ("production-stateful-resources-protected", "production", _resource("aws:s3/bucket:Bucket", {}), "must protect"),
]
BY_NAME = {p.name: p for p in POLICIES}


@pytest.mark.parametrize(("policy", "tier", "resource", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_policy_rejects_the_violation_and_accepts_the_compliant_resource(
    policy: str, tier: Tier, resource: PolicyResource, expected: str | None
) -> None:
    messages = BY_NAME[policy].check(resource, StackFacts(tier))
    if expected is None:
        assert messages == []
    else:
        assert any(expected in m for m in messages), messages


def test_every_policy_has_a_violating_and_a_compliant_case() -> None:
    for policy in POLICIES:
        outcomes = {expected is None for name, _, _, expected in CASES if name == policy.name}
        assert outcomes == {True, False}, policy.name


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_checked_in_stacks_plan_clean(stack: str) -> None:
    assert checked_in_plan(stack).violations == []


def test_an_unprotected_production_cluster_fails_the_offline_runner() -> None:
    document = copy.deepcopy(checked_in_plan("production").document)
    cluster = next(r for r in document["resources"] if r["type"] == "eks:index:Cluster")
    cluster["inputs"]["deletionProtection"] = False
    violations = plan_violations(document, "production")
    assert [(v.policy, v.urn) for v in violations] == [("production-stateful-resources-protected", cluster["urn"])]


def test_the_offline_plan_tolerates_placeholder_digests_a_real_deploy_does_not() -> None:
    placeholder = _deployment(_container(image="registry.example/app:v1@sha256:" + "0" * 64))
    policy = BY_NAME["production-images-pinned-by-digest"]
    assert policy.check(placeholder, StackFacts("production", allow_placeholder_digests=True)) == []
    (served,) = [p for p in resource_policies() if p.name == policy.name]
    reported: list[str] = []
    served.validate(_args(placeholder, {"tier": "production"}), _collect(reported))
    assert reported and "placeholder" in reported[0]


def test_plan_exits_3_on_a_violation_after_writing_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra.plan import run

    real = plan_violations

    def with_unprotected_keys(document: dict[str, Any], tier: Tier) -> Any:
        unprotected = copy.deepcopy(document)
        for resource in unprotected["resources"]:
            resource["protect"] = False
        return real(unprotected, tier)

    monkeypatch.setattr(run, "plan_violations", with_unprotected_keys)
    assert cli.main(["plan", "--stack", "production", "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "POLICY VIOLATION production-stateful-resources-protected: urn:pulumi:production::ai-serving::" in err
    assert "Traceback" not in err
    assert (tmp_path / "plan.json").exists()


# --- the CrossGuard runner ---


def _args(resource: PolicyResource, config: dict[str, Any] | None = None) -> ResourceValidationArgs:
    opts = PolicyResourceOptions(resource.protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], resource.parent)
    return ResourceValidationArgs(resource.type, resource.props, resource.urn, resource.name, opts, None, config)


def _collect(reported: list[str]) -> Any:
    def report_violation(message: str, urn: str | None = None) -> None:
        reported.append(message)

    return report_violation


def test_crossguard_serves_every_policy_as_mandatory() -> None:
    served = resource_policies()
    assert [p.name for p in served] == [p.name for p in POLICIES]
    assert {p.enforcement_level for p in served} == {EnforcementLevel.MANDATORY}
    assert len({p.name for p in POLICIES}) == len(POLICIES)


@pytest.mark.parametrize(("policy", "tier", "resource", "expected"), CASES[::3])
def test_crossguard_reports_what_the_offline_runner_reports(
    policy: str, tier: Tier, resource: PolicyResource, expected: str | None
) -> None:
    (served,) = [p for p in resource_policies() if p.name == policy]
    reported: list[str] = []
    config = {"tier": tier} if BY_NAME[policy].reads_tier else None
    served.validate(_args(resource, config), _collect(reported))
    assert reported == BY_NAME[policy].check(resource, StackFacts(tier))


def test_crossguard_assumes_production_without_config() -> None:
    (served,) = [p for p in resource_policies() if p.name == "production-stateful-resources-protected"]
    reported: list[str] = []
    served.validate(_args(_resource("aws:kms/key:Key", {})), _collect(reported))
    assert reported and "must protect" in reported[0]


def test_a_value_unknown_during_preview_is_left_to_crossguard() -> None:
    # CrossGuard turns UnknownValueError into an advisory "can't run during preview"; the rules must not swallow it.
    props = unknown_checking_proxy({"assumeRolePolicy": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"})
    (served,) = [p for p in resource_policies() if p.name == "web-identity-trust-pins-audience-and-subject"]
    with pytest.raises(UnknownValueError):
        served.validate(_args(_resource("aws:iam/role:Role", props)), _collect([]))


def test_policy_config_files_set_the_tier_of_exactly_the_tier_policies() -> None:
    tiered = {p.name for p in POLICIES if p.reads_tier}
    for tier in ("staging", "production"):
        config = json.loads((PROJECT_DIR / "policy" / "config" / f"{tier}.json").read_text())
        assert config == {name: {"tier": tier} for name in tiered}


def test_the_pack_runs_in_the_projects_locked_environment() -> None:
    project = yaml.safe_load((PROJECT_DIR / "policy" / "PulumiPolicy.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": "../.venv"}}


def test_every_workflow_that_previews_or_deploys_applies_the_pack() -> None:
    for path in sorted((PROJECT_DIR / ".github" / "workflows").glob("*.yml")):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("pulumi/actions@") and step["with"]["command"] in ("preview", "up"):
                    assert step["with"]["policyPacks"] == "policy", path.name
                    assert step["with"]["policyPackConfigs"] == "policy/config/${{ steps.stack.outputs.tier }}.json", path.name


def test_the_bootstrap_program_plans_clean_as_production() -> None:
    # The state backend holds every stack's state: it is judged at the production tier whatever stack uses it.
    from bootstrap import program
    from infra.plan.engine import evaluate
    from infra.plan.render import plan_document
    from infra.plan.stackfile import read_stack_file
    from tests.test_state_backend import BOOTSTRAP_DIR, CTX

    stack_file = read_stack_file(BOOTSTRAP_DIR, "state")
    evaluation = evaluate(
        program.main, project=stack_file.project, stack="state", config=stack_file.config, secret_keys=stack_file.secret_keys, ctx=CTX
    )
    document = plan_document(stack_file.project, "state", evaluation)
    assert {"aws:s3/bucket:Bucket", "aws:kms/key:Key"} <= {r["type"] for r in document["resources"]}
    assert plan_violations(document, "production") == []
