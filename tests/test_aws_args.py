"""The AWS platform's config → Args mapping (infra/args/aws.py); the node group specs are tested in test_node_groups."""

from typing import Any

from catalogs.github_subjects import GithubRepository
from components.aws.ci_state_access import StateBackend
from components.aws.eks_cluster import ADMIN_VIEW_POLICY, CLUSTER_ADMIN_POLICY, PREVIEW_GROUP
from components.aws.github_ci_identity import NewGithubProvider
from infra.args.aws import AwsStack, cluster_access, github_ci_identity_args, network_args, platform_tags
from infra.config import StackConfig, load_stack_config
from tests.harness import stack_config

BOUNDARY = "arn:aws:iam::123456789012:policy/ai-serving-staging-boundary"
STAGING = AwsStack("ai-serving", "staging", "us-west-2")
KMS_KEY = "arn:aws:kms:us-west-2:111122223333:key/0123abcd-0123-0123-0123-0123456789ab"


def _staging(cluster_name: str = "ai-serving-staging", **github: Any) -> StackConfig:
    raw = stack_config("staging")
    raw["cluster"] = {**raw["cluster"], "name": cluster_name}
    raw["github"] = {**raw["github"], **github}
    return load_stack_config(raw, "us-west-2")


def test_fixed_names_are_prefixed_with_project_and_stack() -> None:
    assert STAGING.name_prefix == "ai-serving-staging-"


def test_ci_identity_is_scoped_to_the_stack_and_its_cluster() -> None:
    args = github_ci_identity_args(_staging("gpu-cluster", ownerId=1234, repositoryId=98765), STAGING)
    assert args.repository == GithubRepository("example-org", "ai-serving", 1234, 98765)
    assert (args.stack, args.name_prefix, args.region) == ("staging", "ai-serving-staging-", "us-west-2")
    assert args.cluster_name == "gpu-cluster"
    assert list(args.deploy_name_prefixes) == ["ai-serving-staging-", "gpu-cluster-"]
    assert args.github_provider == NewGithubProvider()
    assert args.state_backend is None


def test_a_configured_state_backend_reaches_the_ci_identity() -> None:
    args = github_ci_identity_args(_staging(stateBackend={"bucket": "example-pulumi-state", "kmsKeyArns": [KMS_KEY]}), STAGING)
    assert args.state_backend == StateBackend("example-pulumi-state", (KMS_KEY,))


def test_cluster_access_lists_the_admins_then_the_ci_roles() -> None:
    access = cluster_access(_staging().cluster, "arn:deploy", "arn:preview")
    assert [(a.name, a.principal_arn, a.policy, a.kubernetes_groups) for a in access] == [
        ("admin-platform-admin", "arn:aws:iam::111122223333:role/platform-admin", CLUSTER_ADMIN_POLICY, ()),
        ("ci-deploy", "arn:deploy", CLUSTER_ADMIN_POLICY, ()),
        ("ci-preview", "arn:preview", ADMIN_VIEW_POLICY, (PREVIEW_GROUP,)),
    ]


def test_network_and_tags_come_from_the_cluster_section() -> None:
    cfg = _staging()
    args = network_args(cfg, STAGING, BOUNDARY)
    assert args.permissions_boundary == BOUNDARY
    assert args.cluster_name == "ai-serving-staging"
    assert args.availability_zones == list(cfg.network.availability_zones)
    assert args.nat_policy == cfg.network.nat_gateways
    assert platform_tags(cfg) == {"ai-serving/cluster": "ai-serving-staging", "ai-serving/tier": "staging"}
