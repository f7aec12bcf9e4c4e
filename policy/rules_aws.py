"""AWS invariants: web-identity trusts, IAM wildcards, permissions boundaries, IMDSv2, ECR, EKS, GPU taints."""

from __future__ import annotations

import re
from collections.abc import Iterator

from catalogs.aws_gpu_instances import GPU_INSTANCES
from catalogs.gpu_scheduling import GPU_TAINT_EFFECT_EKS, GPU_TAINT_KEY

from .iam_documents import resource_documents, statements, values
from .model import PolicyResource, StackFacts, mapping, sequence, urn_type

IAM_ROLE = "aws:iam/role:Role"
# Every AWS type the program declares with a policy document among its inputs.
DOCUMENT_TYPES = frozenset(
    {
        IAM_ROLE,
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/policy:Policy",
        "aws:kms/key:Key",
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
        "aws:ecr/registryPolicy:RegistryPolicy",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:secretsmanager/secretPolicy:SecretPolicy",
    }
)
# An administrator creates the CI identity (github_ci_identity.py): the deploy role may not touch it, and the
# boundary would cap nothing the roles' own policies do not (docs/ci-identity.md).
CI_IDENTITY_COMPONENT = "ai-serving:aws:GithubCiIdentity"
BOUNDARY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:policy/.+-boundary$")

EKS_CLUSTER_TYPES = frozenset({"aws:eks/cluster:Cluster", "eks:index:Cluster"})
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_CREATION_TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
GITHUB_ISSUER = "token.actions.githubusercontent.com"


def web_identity_trust(resource: PolicyResource, _: StackFacts) -> Iterator[str]:
    """Every web-identity trust (GitHub Actions, EKS IRSA) pins its audience and one exact subject with StringEquals.

    StringLike on `sub`, a wildcard in it, or a missing `aud` would let other repositories, branches, pull requests
    or service accounts assume the role.
    """
    document = next((d for prop, d in resource_documents(resource) if prop == "assumeRolePolicy"), None)
    for i, statement in enumerate(statements(document or {})):
        federated = values(mapping(statement.get("Principal")).get("Federated"))
        if statement.get("Effect") != "Allow" or not federated:
            continue
        for provider in federated:
            issuer = str(provider).split(":oidc-provider/", 1)[-1]
            equals = mapping(mapping(statement.get("Condition")).get("StringEquals"))
            where = f"assumeRolePolicy statement {i} ({issuer})"
            if values(equals.get(f"{issuer}:aud")) != ["sts.amazonaws.com"]:
                yield f"{where}: must require StringEquals {issuer}:aud = sts.amazonaws.com"
            subjects = values(equals.get(f"{issuer}:sub"))
            if not subjects:
                yield f"{where}: must pin {issuer}:sub with StringEquals"
            for subject in subjects:
                if not isinstance(subject, str) or "*" in subject or "?" in subject:
                    yield f"{where}: subject {subject!r} is not exact (no wildcards)"
            for operator, condition in mapping(statement.get("Condition")).items():
                if operator != "StringEquals" and f"{issuer}:sub" in mapping(condition):
                    yield f"{where}: {issuer}:sub under {operator}; only StringEquals pins one subject"


def no_wildcard_action(resource: PolicyResource, _: StackFacts) -> Iterator[str]:
    """No statement allows every action (`Action: *`) or everything but some (`NotAction` with Allow)."""
    for where, document in resource_documents(resource):
        for i, statement in enumerate(statements(document)):
            if statement.get("Effect") != "Allow":
                continue
            if "*" in values(statement.get("Action")):
                yield f"{where} statement {i}: allows Action '*'"
            if "NotAction" in statement:
                yield f"{where} statement {i}: Allow with NotAction grants every other action"


def bounded_roles(resource: PolicyResource, _: StackFacts) -> Iterator[str]:
    """Every role the deploy role creates carries the stack's permissions boundary (all but the CI identity's own)."""
    if resource.parent is not None and urn_type(resource.parent) == CI_IDENTITY_COMPONENT:
        return
    boundary = resource.props.get("permissionsBoundary")
    if not isinstance(boundary, str) or not BOUNDARY_ARN.match(boundary):
        yield f"permissionsBoundary is {boundary!r}; every role outside the CI identity carries the stack's <prefix>-boundary policy"


def imdsv2_hop_limit_one(resource: PolicyResource, _: StackFacts) -> Iterator[str]:
    """IMDSv2 only, hop limit 1: a pod cannot reach the node role's credentials through the metadata service."""
    options = mapping(resource.props.get("metadataOptions"))
    if options.get("httpTokens") != "required":
        yield f"metadataOptions.httpTokens is {options.get('httpTokens')!r}; must be 'required' (IMDSv2)"
    if options.get("httpPutResponseHopLimit") != 1:
        yield f"metadataOptions.httpPutResponseHopLimit is {options.get('httpPutResponseHopLimit')!r}; must be 1"


def ecr_hardened(resource: PolicyResource, _: StackFacts) -> Iterator[str]:
    """Repositories (and the templates pull-through repositories are created from): immutable tags, KMS, scanned."""
    props = resource.props
    if props.get("imageTagMutability") != "IMMUTABLE":
        yield f"imageTagMutability is {props.get('imageTagMutability')!r}; must be 'IMMUTABLE'"
    # Both types take a list of encryption configurations (the provider's `encryptionConfigurations`).
    encryption = [mapping(e) for e in sequence(props.get("encryptionConfigurations"))]
    # A template has no scan setting: the registry's scanning configuration covers the repositories it creates.
    if resource.type == ECR_REPOSITORY and not mapping(props.get("imageScanningConfiguration")).get("scanOnPush"):
        yield "imageScanningConfiguration.scanOnPush must be true"
    if not any(e.get("encryptionType") == "KMS" and e.get("kmsKey") for e in encryption):
        yield "must be encrypted with a customer-managed KMS key (encryptionType KMS with kmsKey)"


def eks_hardened(resource: PolicyResource, facts: StackFacts) -> Iterator[str]:
    """Secrets envelope-encrypted, all five control-plane log types, and in production no API open to the world.

    Reads pulumi-eks's component inputs (offline plan) and the aws.eks.Cluster it creates (`pulumi preview`).
    """
    props = resource.props
    if resource.type == "eks:index:Cluster":
        encrypted = bool(props.get("encryptionConfigKeyArn"))
        public, cidrs = props.get("endpointPublicAccess", True), values(props.get("publicAccessCidrs"))
    else:
        config = props.get("encryptionConfig")
        configs = [mapping(c) for c in sequence(config)] or [mapping(config)]
        encrypted = any("secrets" in values(c.get("resources")) and mapping(c.get("provider")).get("keyArn") for c in configs)
        vpc = mapping(props.get("vpcConfig"))
        public, cidrs = vpc.get("endpointPublicAccess", True), values(vpc.get("publicAccessCidrs"))
    if not encrypted:
        yield "Kubernetes Secrets must be envelope-encrypted with a KMS key"
    missing = [t for t in CONTROL_PLANE_LOG_TYPES if t not in values(props.get("enabledClusterLogTypes"))]
    if missing:
        yield f"control-plane log types missing: {', '.join(missing)}"
    if facts.tier == "production" and public is not False and (not cidrs or "0.0.0.0/0" in cidrs):
        yield "production API endpoint is public to 0.0.0.0/0; list publicAccessCidrs or make it private"


def gpu_node_groups_tainted(resource: PolicyResource, _: StackFacts) -> Iterator[str]:
    """A GPU node group carries the GPU taint, so only pods that ask for GPUs land on its costly nodes."""
    props = resource.props
    gpu = "NVIDIA" in str(props.get("amiType", "")) or any(t in GPU_INSTANCES for t in values(props.get("instanceTypes")))
    if not gpu:
        return
    taints = [mapping(t) for t in sequence(props.get("taints"))]
    if not any(t.get("key") == GPU_TAINT_KEY and t.get("effect") == GPU_TAINT_EFFECT_EKS for t in taints):
        yield f"GPU node group without the {GPU_TAINT_KEY}:{GPU_TAINT_EFFECT_EKS} taint"
