"""The mandatory policies, and applying them to a list of resources (what both runners share)."""

from __future__ import annotations

from collections.abc import Iterable

from . import rules_aws, rules_gcp, rules_k8s, rules_protection
from .model import Policy, PolicyResource, StackFacts, Violation

PACK_NAME = "ai-serving-invariants"

POLICIES: tuple[Policy, ...] = (
    Policy(
        "web-identity-trust-pins-audience-and-subject",
        "OIDC trusts (GitHub Actions, EKS IRSA) require StringEquals on aud and one exact sub",
        frozenset({rules_aws.IAM_ROLE}),
        rules_aws.web_identity_trust,
    ),
    Policy(
        "no-iam-wildcard-action",
        "No IAM statement allows Action '*' or uses NotAction with Allow",
        rules_aws.DOCUMENT_TYPES,
        rules_aws.no_wildcard_action,
    ),
    Policy(
        "roles-carry-permissions-boundary",
        "Every IAM role outside the administrator-created CI identity carries the stack's permissions boundary",
        frozenset({rules_aws.IAM_ROLE}),
        rules_aws.bounded_roles,
    ),
    Policy(
        "launch-templates-require-imdsv2",
        "Launch templates require IMDSv2 tokens with a hop limit of 1",
        frozenset({"aws:ec2/launchTemplate:LaunchTemplate"}),
        rules_aws.imdsv2_hop_limit_one,
    ),
    Policy(
        "ecr-immutable-scanned-kms",
        "ECR repositories (and creation templates) have immutable tags, KMS encryption and scan on push",
        frozenset({rules_aws.ECR_REPOSITORY, rules_aws.ECR_CREATION_TEMPLATE}),
        rules_aws.ecr_hardened,
    ),
    Policy(
        "eks-encrypted-logged-not-open",
        "EKS encrypts Secrets with KMS, logs all five control-plane types, and in production is not open to 0.0.0.0/0",
        rules_aws.EKS_CLUSTER_TYPES,
        rules_aws.eks_hardened,
        reads_tier=True,
    ),
    Policy(
        "gpu-node-groups-tainted",
        "GPU node groups carry the nvidia.com/gpu NoSchedule taint",
        frozenset({"aws:eks/nodeGroup:NodeGroup"}),
        rules_aws.gpu_node_groups_tainted,
    ),
    Policy(
        "workloads-restricted",
        "Workload containers run as non-root, read-only root filesystem, no privilege escalation, resources set",
        rules_k8s.WORKLOAD_TYPES,
        rules_k8s.restricted_containers,
    ),
    Policy(
        "production-images-pinned-by-digest",
        "Production workloads run images pinned by digest",
        rules_k8s.WORKLOAD_TYPES,
        rules_k8s.production_images_by_digest,
        reads_tier=True,
    ),
    Policy(
        "wif-provider-pins-repository",
        "Workload Identity Federation providers carry an attribute condition on the repository",
        frozenset({rules_gcp.WIF_PROVIDER}),
        rules_gcp.wif_pins_repository,
    ),
    Policy(
        "gce-private-with-dedicated-account",
        "GCE instances have no external IP and do not use the Compute Engine default service account",
        rules_gcp.COMPUTE_TYPES,
        rules_gcp.private_vm_with_own_account,
    ),
    Policy(
        "production-stateful-resources-protected",
        "In production, clusters, KMS keys, ECR repositories, buckets and log groups are protected",
        rules_protection.PROTECTED_TYPES,
        rules_protection.stateful_resources_protected,
        reads_tier=True,
    ),
)


def violations(resources: Iterable[PolicyResource], facts: StackFacts) -> list[Violation]:
    """Every mandatory violation among `resources`, in resource then policy order."""
    return [Violation(policy.name, r.urn, message) for r in resources for policy in POLICIES for message in policy.check(r, facts)]
