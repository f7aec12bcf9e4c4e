"""The GCP section of the stack program (build_gcp): which component gets whose outputs, and what it exports."""

import copy
import re
from typing import Any

import pytest

from infra.config import StackConfig, load_stack_config
from infra.plan.engine import ProgramEvaluation
from infra.program import build_gcp
from tests.harness import inputs, of_type, one, run, stack_config

REGION = {"staging": "us-west-2", "production": "us-east-1"}


def _config(stack: str, **gcp_patch: Any) -> StackConfig:
    raw = copy.deepcopy(stack_config(stack))
    raw["gcpAppEnv"] = {"secure": "v1:c3RhbmQtaW4="}
    raw["gcp"] |= gcp_patch
    return load_stack_config(raw, REGION[stack])


def _evaluate(cfg: StackConfig) -> ProgramEvaluation:
    return run(
        lambda: build_gcp(cfg),
        stack=cfg.tier,
        config={"gcp:project": "example-project", "ai-serving:gcpAppEnv": "K=V"},
        secret_keys=["ai-serving:gcpAppEnv"],
    )


@pytest.fixture(scope="module")
def staging() -> ProgramEvaluation:
    return _evaluate(_config("staging"))


@pytest.fixture(scope="module")
def production() -> ProgramEvaluation:
    return _evaluate(_config("production"))


def test_staging_runs_one_spot_vm_with_a_model_cache_disk(staging: ProgramEvaluation) -> None:
    vm = inputs(one(staging, "gcp:compute/instance:Instance"))
    assert (vm["name"], vm["zone"], vm["machineType"]) == ("ai-serving-stg-0", "us-central1-a", "g2-standard-8")
    assert vm["scheduling"]["provisioningModel"] == "SPOT"
    assert len(of_type(staging, "gcp:compute/disk:Disk")) == 1
    assert not of_type(staging, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")


def test_production_runs_an_on_demand_group_of_two_over_two_zones(production: ProgramEvaluation) -> None:
    group = inputs(one(production, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"))
    assert group["targetSize"] == 2 and group["distributionPolicyZones"] == ["us-central1-a", "us-central1-c"]
    template = inputs(one(production, "gcp:compute/instanceTemplate:InstanceTemplate"))
    assert template["scheduling"]["provisioningModel"] == "STANDARD" and template["machineType"] == "g2-standard-24"
    assert not of_type(production, "gcp:compute/instance:Instance")


def test_the_identities_are_two_components_the_pulumi_accounts_under_their_own(staging: ProgramEvaluation) -> None:
    workload_identity = one(staging, "ai-serving:gcp:GithubWorkloadIdentity", "gcp-deploy")
    pulumi_ci = one(staging, "ai-serving:gcp:PulumiCiIdentity", "gcp-pulumi-ci")
    accounts = {inputs(r)["accountId"]: r.parent for r in of_type(staging, "gcp:serviceaccount/account:Account")}
    assert accounts["ai-serving-stg-deploy"] == workload_identity.urn
    assert accounts["ai-serving-stg-pulumi-preview"] == accounts["ai-serving-stg-pulumi-deploy"] == pulumi_ci.urn
    assert one(staging, "gcp:iam/workloadIdentityPool:WorkloadIdentityPool").parent == workload_identity.urn


def test_production_protects_the_identity_pool_and_staging_does_not(staging: ProgramEvaluation, production: ProgramEvaluation) -> None:
    assert one(production, "gcp:iam/workloadIdentityPool:WorkloadIdentityPool").protect
    assert not one(staging, "gcp:iam/workloadIdentityPool:WorkloadIdentityPool").protect


def test_production_deploys_need_the_environment_and_main(production: ProgramEvaluation) -> None:
    provider = inputs(one(production, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"))
    github = stack_config("production")["github"]
    owner_id, repository_id = github["ownerId"], github["repositoryId"]
    repo = f"repo:example-org@{owner_id}/ai-serving@{repository_id}"
    # Previews and the drift check, then app deploys and pulumi up: both in the environment production, on main.
    assert provider["attributeCondition"] == (
        f"assertion.repository_owner_id == '{owner_id}' && assertion.repository_id == '{repository_id}' && "
        f"(assertion.sub == '{repo}:environment:pulumi-preview' || "
        f"assertion.sub == '{repo}:ref:refs/heads/main' || "
        f"(assertion.sub == '{repo}:environment:production' && assertion.ref == 'refs/heads/main'))"
    )
    app_binding = inputs(one(production, "gcp:serviceaccount/iAMMember:IAMMember", "gcp-deploy-wif-user"))
    assert app_binding["member"].endswith(f"/subject/{repo}:environment:production")


PULUMI_DEPLOY = "serviceAccount:ai-serving-{}-pulumi-deploy@example-project.iam.gserviceaccount.com"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
_LISTED_ROLE = re.compile(r"'([^']*)'")


def _deployer(stack: str) -> str:
    return PULUMI_DEPLOY.format("stg" if stack == "staging" else "prod")


def _grant_limit(ev: ProgramEvaluation, deployer: str) -> tuple[str, list[str]]:
    """The deploy account's one conditioned project grant: its role and the roles its condition allows."""
    (limited,) = [g for g in (inputs(r) for r in of_type(ev, PROJECT_MEMBER)) if g["member"] == deployer and g.get("condition")]
    expression = limited["condition"]["expression"]
    prefix = "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(["
    assert expression.startswith(prefix) and expression.endswith("])")
    return limited["role"], _LISTED_ROLE.findall(expression.removeprefix(prefix))


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_pulumi_up_from_ci_may_grant_exactly_the_project_roles_the_stack_grants(stack: str, request: pytest.FixtureRequest) -> None:
    ev: ProgramEvaluation = request.getfixturevalue(stack)
    grants = [inputs(r) for r in of_type(ev, PROJECT_MEMBER)]
    granted_by_the_stack = {g["role"] for g in grants if "-pulumi-" not in g["member"]}
    role, allowed = _grant_limit(ev, _deployer(stack))
    assert granted_by_the_stack and sorted(allowed) == sorted(granted_by_the_stack)
    # The limited role is the program's own custom role, the one that carries the project's setIamPolicy.
    (custom,) = [inputs(r) for r in of_type(ev, "gcp:projects/iAMCustomRole:IAMCustomRole") if r.name == "gcp-pulumi-ci-deploy-iam"]
    assert role == f"projects/example-project/roles/{custom['roleId']}" and role not in allowed
    assert "resourcemanager.projects.setIamPolicy" in custom["permissions"]
    assert not [p for p in custom["permissions"] if p.startswith("iam.roles.") and not p.endswith((".get", ".list"))]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_pulumi_up_from_ci_acts_as_the_vm_account_only_and_manages_no_identity_project_wide(
    stack: str, request: pytest.FixtureRequest
) -> None:
    ev: ProgramEvaluation = request.getfixturevalue(stack)
    deployer = _deployer(stack)
    project_roles = {g["role"] for g in (inputs(r) for r in of_type(ev, PROJECT_MEMBER)) if g["member"] == deployer}
    forbidden = {
        "roles/iam.serviceAccountUser",
        "roles/iam.serviceAccountAdmin",
        "roles/iam.roleAdmin",
        "roles/resourcemanager.projectIamAdmin",
    }
    assert project_roles and not project_roles & forbidden
    on_accounts = [inputs(r) for r in of_type(ev, SA_MEMBER) if inputs(r)["member"] == deployer]
    vm_account = inputs(one(ev, "gcp:serviceaccount/account:Account", "gcp-gpu-sa"))["accountId"]
    assert [(b["serviceAccountId"], b["role"]) for b in on_accounts] == [
        (f"projects/example-project/serviceAccounts/{vm_account}@example-project.iam.gserviceaccount.com", "roles/iam.serviceAccountUser")
    ]
    # And that is the account the VMs run as.
    vms = of_type(ev, "gcp:compute/instance:Instance") + of_type(ev, "gcp:compute/instanceTemplate:InstanceTemplate")
    assert vms and {inputs(v)["serviceAccount"]["email"] for v in vms} == {f"{vm_account}@example-project.iam.gserviceaccount.com"}


def test_outputs_name_the_provider_the_three_accounts_and_the_vms(staging: ProgramEvaluation, production: ProgramEvaluation) -> None:
    accounts = "iam.gserviceaccount.com"
    assert staging.outputs == {
        "gcpWorkloadIdentityProvider": (
            "projects/123456789012/locations/global/workloadIdentityPools/ai-serving-stg-github/providers/github-actions"
        ),
        "gcpDeployServiceAccount": f"ai-serving-stg-deploy@example-project.{accounts}",
        "gcpPulumiPreviewServiceAccount": f"ai-serving-stg-pulumi-preview@example-project.{accounts}",
        "gcpPulumiDeployServiceAccount": f"ai-serving-stg-pulumi-deploy@example-project.{accounts}",
        "gcpVmServiceAccount": f"ai-serving-stg-vm@example-project.{accounts}",
        # No group in staging: its output is unset (null), as in `ai-serving plan`.
        "gcpInstances": [{"name": "ai-serving-stg-0", "zone": "us-central1-a"}],
    }
    assert production.outputs["gcpInstances"] == []
    assert production.outputs["gcpInstanceGroup"] == (
        "https://www.googleapis.com/compute/v1/projects/example-project/regions/us-central1/instanceGroups/ai-serving-prod-group"
    )


def test_github_repository_comes_from_the_github_section() -> None:
    cfg = _config("staging")
    raw_github = stack_config("staging")["github"]
    provider = inputs(one(_evaluate(cfg), "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"))
    condition = provider["attributeCondition"]
    assert condition.startswith(f"assertion.repository_owner_id == '{raw_github['ownerId']}' && ")
    assert (
        f"assertion.sub == 'repo:{raw_github['org']}@{raw_github['ownerId']}/{raw_github['repo']}@{raw_github['repositoryId']}:"
        in condition
    )


def test_vms_live_in_the_gcp_network_and_admit_the_app_deploy_account(staging: ProgramEvaluation) -> None:
    links = "https://www.googleapis.com/compute/v1/projects/example-project"
    vm = inputs(one(staging, "gcp:compute/instance:Instance"))
    assert vm["networkInterfaces"] == [{"subnetwork": f"{links}/regions/us-central1/subnetworks/ai-serving-stg-us-central1"}]
    firewalls = [inputs(r)["network"] for r in of_type(staging, "gcp:compute/firewall:Firewall")]
    assert firewalls == [f"{links}/global/networks/ai-serving-stg-vpc"] * 2
    deployer = "serviceAccount:ai-serving-stg-deploy@example-project.iam.gserviceaccount.com"
    grants = [r for r in staging.resources if r.custom and "-deployer-" in r.name and r.type != "gcp:projects/iAMCustomRole:IAMCustomRole"]
    assert len(grants) == 4 and {inputs(r)["member"] for r in grants} == {deployer}
    # OS Login names the app deploy account's POSIX user after its numeric unique id.
    assert re.search(r"'sa_\d+ ALL=\(root\) NOPASSWD: /usr/local/sbin/ai-serving-deploy", vm["metadata"]["startup-script"])
