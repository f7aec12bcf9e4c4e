"""Config sections for the AWS GPU platform: network, EKS cluster, node groups, ECR, GitHub CI identity."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from catalogs.aws_cpu_instances import CPU_INSTANCES
from catalogs.aws_gpu_instances import GPU_INSTANCES
from catalogs.gpu_scheduling import SYSTEM_NODE_GROUP_NAME
from catalogs.naming import dns_label_pattern

from .base import ConfigProblem, StrictModel, key_path

# Cluster and GPU node group names prefix longer names (IAM roles "<cluster>-...", launch templates, node
# group and autoscaler tags), so they keep to 32 characters.
PlatformName = Annotated[str, Field(pattern=dns_label_pattern(32))]
IamPrincipalArn = Annotated[str, Field(pattern=r"^arn:aws:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")]
CapacityType = Literal["ON_DEMAND", "SPOT"]
GpuAmiType = Literal["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"]
# Kubernetes label syntax (an optional DNS-subdomain prefix, then a name of <= 63 characters; values <= 63): EKS
# rejects anything else only when `pulumi up` creates the node group.
LabelKey = Annotated[
    str,
    Field(pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"),
]
LabelValue = Annotated[str, Field(pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")]

# Node label prefixes the platform sets itself (scheduling labels, autoscaler GPU detection, EKS and Kubernetes).
RESERVED_LABEL_PREFIXES = ("ai-serving/", "nvidia.com/", "k8s.amazonaws.com/", "eks.amazonaws.com/", "kubernetes.io/", "k8s.io/")
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


def cloudwatch_retention(days: int) -> int:
    if days not in CLOUDWATCH_RETENTION_DAYS:
        raise ValueError(f"must be one of {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}")
    return days


class NetworkConfig(StrictModel):
    cidr: IPv4Network = IPv4Network("10.0.0.0/16")
    availability_zones: Annotated[list[Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")]], Field(min_length=2, max_length=6)]
    # "single": one NAT gateway for all private subnets (cheap, one AZ is a single point of failure).
    # "perAz": one per AZ so losing an AZ does not cut the others' egress.
    nat_gateways: Literal["single", "perAz"] = "perAz"
    # Retention of the VPC flow logs (CloudWatch group /aws/vpc/<cluster>/flow-logs); CloudWatch accepts only these values.
    flow_log_retention_days: int = 90

    @field_validator("cidr")
    @classmethod
    def _room_for_subnets(cls, v: IPv4Network) -> IPv4Network:
        if v.prefixlen > 20:
            raise ValueError("must be a /20 or larger (each AZ gets a private /19-style share and a public subnet)")
        return v

    @field_validator("flow_log_retention_days")
    @classmethod
    def _flow_log_cloudwatch_retention(cls, v: int) -> int:
        return cloudwatch_retention(v)

    @field_validator("availability_zones")
    @classmethod
    def _unique_azs(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("must list each availability zone once")
        return v


class ScalingConfig(StrictModel):
    min_size: Annotated[int, Field(ge=0, le=1000)]
    desired_size: Annotated[int, Field(ge=0, le=1000)]
    max_size: Annotated[int, Field(ge=1, le=1000)]

    @model_validator(mode="after")
    def _ordered(self) -> ScalingConfig:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"must satisfy minSize <= desiredSize <= maxSize (got {self.min_size} <= {self.desired_size} <= {self.max_size})"
            )
        return self


class SystemNodeGroupConfig(StrictModel):
    instance_types: Annotated[list[Annotated[str, Field(pattern=r"^[a-z0-9-]+\.[a-z0-9]+$")]], Field(min_length=1)]
    capacity_type: CapacityType = "ON_DEMAND"
    scaling: ScalingConfig
    disk_size_gib: Annotated[int, Field(ge=20, le=1000)] = 50

    @field_validator("instance_types")
    @classmethod
    def _not_gpu(cls, v: list[str]) -> list[str]:
        gpu = [t for t in v if t in GPU_INSTANCES]
        if gpu:
            raise ValueError(f"the system group runs CPU add-ons; GPU types {gpu} belong in gpuNodeGroups")
        unknown = [t for t in v if t not in CPU_INSTANCES]
        if unknown:
            families = sorted({t.split(".")[0] for t in CPU_INSTANCES})
            raise ValueError(
                f"{unknown} are not known x86_64 CPU instance types (catalogs/aws_cpu_instances.py); allowed families: {', '.join(families)}"
            )
        return v

    @field_validator("scaling")
    @classmethod
    def _never_empty(cls, v: ScalingConfig) -> ScalingConfig:
        # CoreDNS and the Cluster Autoscaler run here: at zero nodes nothing could scale the cluster back up.
        if v.min_size < 1:
            raise ValueError(f"minSize must be at least 1 for the system group (got {v.min_size}); the autoscaler itself runs there")
        return v


class GpuNodeGroupConfig(StrictModel):
    name: PlatformName
    instance_types: Annotated[list[str], Field(min_length=1)]
    capacity_type: CapacityType
    scaling: ScalingConfig
    disk_size_gib: Annotated[int, Field(ge=50, le=16384)] = 200
    ami_type: GpuAmiType = "AL2023_x86_64_NVIDIA"
    labels: dict[LabelKey, LabelValue] = {}

    @field_validator("name")
    @classmethod
    def _not_system(cls, v: str) -> str:
        if v == SYSTEM_NODE_GROUP_NAME:
            raise ValueError(f"'{SYSTEM_NODE_GROUP_NAME}' names the CPU system group; choose another GPU group name")
        return v

    @field_validator("labels")
    @classmethod
    def _no_reserved_labels(cls, v: dict[str, str]) -> dict[str, str]:
        reserved = sorted(k for k in v if k.startswith(RESERVED_LABEL_PREFIXES))
        if reserved:
            raise ValueError(
                f"label keys {reserved} are reserved (set by the platform for scheduling and the autoscaler); "
                f"keys may not start with {', '.join(RESERVED_LABEL_PREFIXES)}"
            )
        return v

    @field_validator("instance_types")
    @classmethod
    def _gpu_types_only(cls, v: list[str]) -> list[str]:
        unknown = [t for t in v if t not in GPU_INSTANCES]
        if unknown:
            families = sorted({t.split(".")[0] for t in GPU_INSTANCES})
            raise ValueError(f"{unknown} are not GPU instance types; allowed families: {', '.join(families)}")
        counts = {GPU_INSTANCES[t].gpus for t in v}
        if len(counts) > 1:
            raise ValueError(
                "all instance types of one group must carry the same number of GPUs (the autoscaler sizes the group from one template)"
            )
        return v

    @property
    def gpus_per_node(self) -> int:
        return GPU_INSTANCES[self.instance_types[0]].gpus

    @property
    def gpu_model(self) -> str:
        return GPU_INSTANCES[self.instance_types[0]].gpu_model


class ClusterConfig(StrictModel):
    name: PlatformName
    kubernetes_version: Literal["1.32", "1.33", "1.34", "1.35"]
    admin_principal_arns: Annotated[list[IamPrincipalArn], Field(min_length=1)]
    public_endpoint: bool = True
    public_access_cidrs: list[IPv4Network] = []
    # Documented escape hatch: production refuses 0.0.0.0/0 on the API endpoint unless this is true.
    allow_public_endpoint_from_anywhere: bool = False
    system_node_group: SystemNodeGroupConfig
    # Retention of the control-plane logs (CloudWatch group /aws/eks/<name>/cluster); CloudWatch accepts only these values.
    log_retention_days: int = 90
    # Retention of the pod and node logs (CloudWatch groups /aws/eks/<name>/pods and /aws/eks/<name>/nodes).
    workload_log_retention_days: int = 30

    @field_validator("log_retention_days", "workload_log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, v: int) -> int:
        return cloudwatch_retention(v)


# Secret config key: the Docker Hub credentials of the pull-through cache, as AWS expects them in the secret:
# {"username": "...", "accessToken": "..."} (a read-only Docker Hub access token).
DOCKER_HUB_CREDENTIALS_CONFIG_KEY = "dockerHubCredentials"
# Which secret config key holds the credentials of a credentialed upstream (catalogs.image_registries).
UPSTREAM_CREDENTIAL_KEYS = {"docker-hub": DOCKER_HUB_CREDENTIALS_CONFIG_KEY}


class PullThroughCacheConfig(StrictModel):
    # Upstream registries served through the stack's ECR (one rule each; names from catalogs/image_registries.py).
    upstreams: Annotated[list[Literal["docker-hub", "quay", "registry-k8s", "ecr-public"]], Field(min_length=1)]

    @field_validator("upstreams")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each upstream may be listed once")
        return v


class EcrConfig(StrictModel):
    repository_name: Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", max_length=256)]
    keep_tagged_images: Annotated[int, Field(ge=1, le=1000)] = 30
    untagged_expiry_days: Annotated[int, Field(ge=1, le=365)] = 7
    # None: images are pulled from their upstream registries directly.
    pull_through_cache: PullThroughCacheConfig | None = None


KmsKeyArn = Annotated[
    str,
    Field(
        pattern=r"^arn:aws:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
    ),
]


class PulumiStateBackendConfig(StrictModel):
    # `pulumi login s3://<bucket>`: CI reads and writes `.pulumi/*` in it.
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    # Key ARNs (not aliases: IAM matches key ARNs) of the `awskms://` secrets provider and of the bucket's
    # SSE-KMS encryption, if any. Preview may decrypt with them, deploy also encrypt.
    kms_key_arns: list[KmsKeyArn] = []


GithubOidcProviderArn = Annotated[str, Field(pattern=r"^arn:aws:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$")]

# How to find the account's provider, and why creating one is a deliberate choice; said by every error about it.
OIDC_PROVIDER_CHOICE = (
    "give oidcProvider: {arn: arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com} to reference the "
    "account's provider (`aws iam list-open-id-connect-providers`), or oidcProvider: {create: true} only if the account "
    "has none (there is one per account: creating a second fails with EntityAlreadyExists)"
)
REPOSITORY_IDS_HINT = "the numeric ids of the repository's owner and of the repository: gh api repos/ORG/REPO --jq '.owner.id, .id'"


class GithubOidcProviderConfig(StrictModel):
    """The account's token.actions.githubusercontent.com provider: referenced (the default) or created here."""

    arn: GithubOidcProviderArn | None = None
    create: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> GithubOidcProviderConfig:
        if (self.arn is not None) == self.create:
            raise ValueError(f"set exactly one of arn and create: true; {OIDC_PROVIDER_CHOICE}")
        return self


class GithubConfig(StrictModel):
    org: Annotated[str, Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")]
    repo: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")]
    main_branch: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,200}$")] = "main"
    # Required, so that creating the account-wide provider is never an accident (see OIDC_PROVIDER_CHOICE).
    oidc_provider: GithubOidcProviderConfig
    # Numeric ids for GitHub's immutable subjects (repo:ORG@ID/REPO@ID:...); production requires them.
    owner_id: Annotated[int, Field(gt=0)] | None = None
    repository_id: Annotated[int, Field(gt=0)] | None = None
    # Self-managed Pulumi backend the CI roles read (preview) and write (deploy); unset = Pulumi Cloud.
    state_backend: PulumiStateBackendConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _provider_key_present(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "oidcProviderArn" in data:
            raise ValueError(
                "oidcProviderArn was replaced by oidcProvider: write oidcProvider: {arn: <that ARN>}; "
                "where it was unset (the provider was created), write oidcProvider: {create: true} or reference the created provider's ARN"
            )
        # A missing key becomes an explicit null, so that the error below (with its explanation) names the key.
        return data if "oidcProvider" in data or "oidc_provider" in data else {**data, "oidcProvider": None}

    @field_validator("oidc_provider", mode="before")
    @classmethod
    def _provider_choice_is_explicit(cls, v: Any) -> Any:
        if v is None:
            raise ValueError(f"required: {OIDC_PROVIDER_CHOICE}")
        return v

    @field_validator("main_branch")
    @classmethod
    def _branch_name_only(cls, v: str) -> str:
        if v.startswith("refs/"):
            raise ValueError("give the branch name only (e.g. main); the role trusts ref:refs/heads/<mainBranch>")
        return v

    @model_validator(mode="after")
    def _ids_together(self) -> GithubConfig:
        if (self.owner_id is None) != (self.repository_id is None):
            raise ValueError(f"set both ownerId and repositoryId (the immutable subject needs both) or neither; {REPOSITORY_IDS_HINT}")
        return self

    @property
    def missing_repository_ids(self) -> list[str]:
        """The id keys that are unset: without them the CI trusts use the name form of the subjects, which a
        repository created or renamed since GitHub's switch to immutable subjects never emits."""
        return [key for key, value in (("ownerId", self.owner_id), ("repositoryId", self.repository_id)) if value is None]


def github_id_problems(tier: str, github: GithubConfig) -> list[ConfigProblem]:
    """Production refuses a repository without its numeric ids (name-form trusts can be claimed by a namesake and do
    not match immutable subjects); for staging the same lines are warnings (`github_id_warnings`)."""
    if tier != "production":
        return []
    return [_missing_id(key) for key in github.missing_repository_ids]


def github_id_warnings(tier: str, github: GithubConfig) -> list[str]:
    """What `ai-serving plan` prints for a staging stack without the ids (production refuses them instead)."""
    if tier == "production":
        return []
    return [str(_missing_id(key)) for key in github.missing_repository_ids]


def _missing_id(key: str) -> ConfigProblem:
    return ConfigProblem(
        key_path("github", key),
        None,
        f"required in production: {REPOSITORY_IDS_HINT}; the CI trusts then use GitHub's immutable subjects "
        "(repo:ORG@ID/REPO@ID:...), which the repository must emit (default for repositories created or renamed since "
        "mid-2026; an administrator can opt older ones in)",
    )
