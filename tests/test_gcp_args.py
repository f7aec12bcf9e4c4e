"""infra/args/gcp.py: the `gcp` and `github` config sections translated into the GCP components' Args."""

import copy
from ipaddress import IPv4Network
from typing import Any

from catalogs.gcp_machines import GpuShape
from catalogs.github_subjects import GithubRepository
from components.gcp.deploy_access import DeployAccess
from components.gcp.gpu_vm_args import AppSpec, DiskSpec, ManagedGroupSpec
from components.gcp.pulumi_ci_identity import pulumi_ci_contexts
from components.moved_children import MovedChildren
from infra.args.gcp import app_deploy_token_ref, gcp_network_args, github_workload_identity_args, gpu_vm_args, pulumi_ci_identity_args
from infra.config import StackConfig, load_stack_config
from infra.config.gcp import GcpConfig
from tests.harness import stack_config

REGION = {"staging": "us-west-2", "production": "us-east-1"}
DEPLOY = DeployAccess(member="serviceAccount:d@p.iam.gserviceaccount.com", posix_user="sa_1")


def _config(stack: str = "staging", **gcp_patch: Any) -> StackConfig:
    raw = copy.deepcopy(stack_config(stack))
    raw["gcpAppEnv"] = {"secure": "v1:c3RhbmQtaW4="}
    raw["gcp"] |= gcp_patch
    return load_stack_config(raw, REGION[stack])


def _gcp(cfg: StackConfig) -> GcpConfig:
    assert cfg.gcp is not None
    return cfg.gcp


def test_app_deploy_ref_defaults_to_the_main_branch_unless_an_environment_is_required() -> None:
    cfg = _config(deploy={})
    assert app_deploy_token_ref(_gcp(cfg), cfg.github) == f"refs/heads/{cfg.github.main_branch}"
    cfg = _config(deploy={"githubEnvironment": "staging"})
    assert app_deploy_token_ref(_gcp(cfg), cfg.github) is None
    cfg = _config(deploy={"ref": "refs/tags/release"})
    assert app_deploy_token_ref(_gcp(cfg), cfg.github) == "refs/tags/release"
    cfg = _config(deploy={"ref": "refs/tags/release", "githubEnvironment": "vms"})
    assert app_deploy_token_ref(_gcp(cfg), cfg.github) == "refs/tags/release"


def test_network_is_named_by_the_prefix_in_the_configured_region() -> None:
    args = gcp_network_args(_gcp(_config(network={"subnetCidr": "10.50.0.0/24"})), "p-1")
    assert (args.project, args.region, args.name_prefix, args.subnet_cidr) == (
        "p-1",
        "us-central1",
        "ai-serving-stg",
        IPv4Network("10.50.0.0/24"),
    )


def test_identity_names_derive_from_the_prefix_and_the_repository_from_the_github_section() -> None:
    cfg = _config("production")
    args = github_workload_identity_args(_gcp(cfg), cfg.github, project="p-1", stack="production", protect=True)
    assert (args.pool_id, args.app_deploy_account_id) == ("ai-serving-prod-github", "ai-serving-prod-deploy")
    assert args.repository == GithubRepository(cfg.github.org, cfg.github.repo, cfg.github.owner_id, cfg.github.repository_id)
    assert (args.app_deploy_environment, args.app_deploy_ref, args.protect) == ("production", "refs/heads/main", True)
    # The provider also admits the Pulumi CI accounts, which federate through the same pool.
    assert list(args.other_account_contexts) == pulumi_ci_contexts(args.repository, stack="production", main_branch=cfg.github.main_branch)


def test_pulumi_ci_accounts_are_named_by_the_prefix_and_use_the_given_pool() -> None:
    cfg = _config("production")
    ci = pulumi_ci_identity_args(
        _gcp(cfg), cfg.github, project="p-1", stack="production", pool_name="pool-name", vm_service_account_name="vm-account"
    )
    assert (ci.project, ci.pool_name, ci.stack, ci.main_branch, ci.preview_account_id, ci.deploy_account_id) == (
        "p-1",
        "pool-name",
        "production",
        cfg.github.main_branch,
        "ai-serving-prod-pulumi-preview",
        "ai-serving-prod-pulumi-deploy",
    )
    assert ci.repository == GithubRepository(cfg.github.org, cfg.github.repo, cfg.github.owner_id, cfg.github.repository_id)
    # pulumi up from CI may grant what the GPU VMs are granted on the project, nothing else.
    assert list(ci.grantable_project_roles) == [
        "roles/logging.logWriter",
        "roles/monitoring.metricWriter",
        "projects/p-1/roles/ai_serving_prod_deploy_ssh",
        "roles/compute.osLogin",
    ]
    # Its own IAM role is named by the prefix; it may act as the VMs' account only.
    assert ci.deploy_iam_role_id == "ai_serving_prod_pulumi_deploy_iam"
    assert ci.attached_service_accounts == {"vm": "vm-account"}


def test_pulumi_ci_resources_keep_their_state_from_under_the_github_deploy_identity() -> None:
    cfg = _config()
    ci = pulumi_ci_identity_args(_gcp(cfg), cfg.github, project="p-1", stack="staging", pool_name="pool-name", vm_service_account_name="vm")
    assert ci.moved_from == MovedChildren(
        old_parent_type="ai-serving:gcp:GithubDeployIdentity", old_parent_name="gcp-deploy", old_name_prefix="gcp-deploy-pulumi"
    )


def test_staging_vms_are_individual_spot_vms_with_a_data_disk() -> None:
    cfg = _config()
    args = gpu_vm_args(
        _gcp(cfg), project="p-1", tier="staging", network_self_link="net", subnet_self_link="sub", app_env="K=V", deploy=DEPLOY
    )
    assert args.managed_group is None and args.spot and args.spot_termination_action == "STOP" and args.count == 1
    assert args.shape == GpuShape("g2-standard-8", "nvidia-l4", 1)
    assert (args.boot_disk, args.data_disk) == (DiskSpec(150, "pd-balanced"), DiskSpec(200, "pd-balanced"))
    assert (args.region, args.zones, args.name_prefix) == ("us-central1", ["us-central1-a"], "ai-serving-stg")
    assert args.labels == {"team": "ml-platform", "cost-center": "cc-4711"}
    assert (args.network_self_link, args.subnet_self_link, args.app_env, args.deploy, args.tier) == ("net", "sub", "K=V", DEPLOY, "staging")


def test_group_settings_disks_app_and_labels_are_carried_over() -> None:
    cfg = _config(
        managedInstanceGroup={"enabled": True, "initialDelaySec": 900, "maxSurge": 0, "maxUnavailable": 1},
        zones=["us-central1-a"],
        vm={"provisioningModel": "STANDARD", "bootDisk": {"sizeGb": 300, "type": "pd-ssd"}},
        app={"image": "us-central1-docker.pkg.dev/shared-artifacts/serving/vllm-server:v2", "port": 9000, "args": ["--x", "1"]},
        labels={"team": "ml"},
    )
    args = gpu_vm_args(
        _gcp(cfg), project="p-1", tier="staging", network_self_link="net", subnet_self_link="sub", app_env="K=V", deploy=DEPLOY
    )
    assert args.managed_group == ManagedGroupSpec(initial_delay_sec=900, max_surge=0, max_unavailable=1)
    assert not args.spot and args.data_disk is None and args.zones == ["us-central1-a"]
    assert args.boot_disk == DiskSpec(300, "pd-ssd")
    assert args.app == AppSpec(
        "us-central1-docker.pkg.dev/shared-artifacts/serving/vllm-server:v2", 9000, "/health", 120, 1200, ("--x", "1")
    )
    assert args.labels == {"team": "ml"}
