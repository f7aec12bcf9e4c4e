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
    repo = "repo:example-org/ai-serving"
    # Previews and the drift check, then app deploys and pulumi up: both in the environment production, on main.
    assert provider["attributeCondition"] == (
        f"assertion.repository == 'example-org/ai-serving' && (assertion.sub == '{repo}:environment:pulumi-preview' || "
        f"assertion.sub == '{repo}:ref:refs/heads/main' || "
        f"(assertion.sub == '{repo}:environment:production' && assertion.ref == 'refs/heads/main'))"
    )
    app_binding = inputs(one(production, "gcp:serviceaccount/iAMMember:IAMMember", "gcp-deploy-wif-user"))
    assert app_binding["member"].endswith(f"/subject/{repo}:environment:production")


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_pulumi_up_from_ci_may_grant_every_project_role_the_stack_grants(stack: str, request: pytest.FixtureRequest) -> None:
    ev: ProgramEvaluation = request.getfixturevalue(stack)
    grants = [inputs(r) for r in of_type(ev, "gcp:projects/iAMMember:IAMMember")]
    (limit,) = [g["condition"]["expression"] for g in grants if g["role"] == "roles/resourcemanager.projectIamAdmin"]
    granted_by_the_stack = {g["role"] for g in grants if "-pulumi-" not in g["member"]}
    assert granted_by_the_stack
    for role in granted_by_the_stack:
        assert f"'{role}'" in limit, f"pulumi up from CI could not grant {role}"


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
    assert f"assertion.repository == '{raw_github['org']}/{raw_github['repo']}'" in provider["attributeCondition"]


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
